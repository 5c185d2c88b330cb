//! Progress reporting: an indicatif bar on a terminal, periodic plain lines
//! otherwise, nothing with `--quiet`. Everything goes to stderr; stdout is
//! reserved for results (summary, `--json`).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Progress {
    bar: Option<ProgressBar>,
    callback: Option<ProgressFn>,
    phase: String,
    collection: String,
    plain: bool,
    label: String,
    total: Option<u64>,
    done: u64,
    started: Instant,
    last_line: Instant,
    log_json: bool,
}

/// Where one task (an export, import, validate or diff of one collection)
/// stands: what a progress callback receives.
#[derive(Clone, Debug, Serialize)]
pub struct ProgressUpdate {
    /// `export`, `import`, `validate` or `diff`.
    pub phase: String,
    /// The snapshot collection (export, diff) or the VelesDB collection (import, validate).
    pub collection: String,
    /// Rows done so far (a resumed export counts the rows of the chunks an
    /// earlier run committed from the start).
    pub done: u64,
    /// Rows expected, when known (a source's count may be an estimate).
    pub total: Option<u64>,
    pub elapsed: Duration,
    /// True once, for the last update of the task.
    pub finished: bool,
}

/// A progress callback: called from the thread doing the work, at the start
/// of each task, after each page, chunk or batch, and once when the task
/// ends. Keep it cheap (hand the update to a channel or an atomic).
pub type ProgressFn = Arc<dyn Fn(&ProgressUpdate) + Send + Sync>;

/// Where notes and progress go. The CLI builds one from its flags; a library
/// caller sets `quiet` (and `no_progress`) and gets progress through `callback`.
#[derive(Clone, Default)]
pub struct Output {
    pub quiet: bool,
    pub no_progress: bool,
    pub json: bool,
    /// `--log-format json`: notes and progress as JSON lines on stderr.
    pub log_json: bool,
    /// Called with every progress update, whatever `quiet` says.
    pub callback: Option<ProgressFn>,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("quiet", &self.quiet)
            .field("no_progress", &self.no_progress)
            .field("json", &self.json)
            .field("log_json", &self.log_json)
            .field("callback", &self.callback.is_some())
            .finish()
    }
}

impl Output {
    /// The same output without progress bars, lines or callbacks (notes kept unless quiet).
    pub fn without_progress(&self) -> Output {
        Output { no_progress: true, json: false, callback: None, ..self.clone() }
    }

    /// Informational message on stderr (silenced by --quiet).
    pub fn note(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            if self.log_json {
                log_line("info", "note", serde_json::json!({ "message": msg.as_ref() }));
            } else {
                eprintln!("{}", msg.as_ref());
            }
        }
    }
}

/// One structured log line on stderr: `{"ts", "level", "event", …fields}`.
pub fn log_line(level: &str, event: &str, fields: serde_json::Value) {
    let mut line = serde_json::json!({ "ts": crate::snapshot::fsutil::now_rfc3339(), "level": level, "event": event });
    if let (Some(l), serde_json::Value::Object(f)) = (line.as_object_mut(), fields) {
        l.extend(f);
    }
    eprintln!("{line}");
}

impl Progress {
    /// A task: `phase` (`export`, `import`, …) of `collection`.
    pub fn new(out: &Output, phase: &str, collection: &str, total: Option<u64>) -> Progress {
        let label = format!("{phase} {collection}");
        let label = label.as_str();
        let tty = std::io::stderr().is_terminal();
        let bar = (tty && !out.quiet && !out.no_progress && !out.log_json).then(|| {
            let b = match total {
                Some(t) => ProgressBar::new(t),
                None => ProgressBar::new_spinner(),
            };
            b.set_draw_target(ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template("{msg} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} rows ({per_sec}, ETA {eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.set_message(label.to_owned());
            b
        });
        let p = Progress {
            bar,
            callback: out.callback.clone(),
            phase: phase.to_owned(),
            collection: collection.to_owned(),
            plain: (!tty || out.log_json) && !out.quiet && !out.no_progress,
            log_json: out.log_json,
            label: label.to_owned(),
            total,
            done: 0,
            started: Instant::now(),
            last_line: Instant::now(),
        };
        p.call(false);
        p
    }

    fn call(&self, finished: bool) {
        if let Some(f) = &self.callback {
            f(&ProgressUpdate {
                phase: self.phase.clone(),
                collection: self.collection.clone(),
                done: self.done,
                total: self.total,
                elapsed: self.started.elapsed(),
                finished,
            });
        }
    }

    pub fn inc(&mut self, rows: u64) {
        self.done += rows;
        self.call(false);
        if let Some(b) = &self.bar {
            b.inc(rows);
        } else if self.plain && self.last_line.elapsed() >= Duration::from_secs(5) {
            self.last_line = Instant::now();
            let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            if self.log_json {
                log_line("info", "progress", serde_json::json!({ "task": self.label, "rows": self.done, "total": self.total, "rows_per_second": rate.round() }));
                return;
            }
            match self.total {
                Some(t) => eprintln!("{}: {}/{} rows ({rate:.0} rows/s)", self.label, self.done, t),
                None => eprintln!("{}: {} rows ({rate:.0} rows/s)", self.label, self.done),
            }
        }
    }

    pub fn finish(&self) {
        self.call(true);
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
