//! Progress reporting: an indicatif bar on a terminal, periodic plain lines
//! otherwise, nothing with `--quiet`. Everything goes to stderr; stdout is
//! reserved for results (summary, `--json`).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    label: String,
    total: Option<u64>,
    done: u64,
    started: Instant,
    last_line: Instant,
    log_json: bool,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Output {
    pub quiet: bool,
    pub no_progress: bool,
    pub json: bool,
    /// `--log-format json`: notes and progress as JSON lines on stderr.
    pub log_json: bool,
}

impl Output {
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
    pub fn new(out: &Output, label: &str, total: Option<u64>) -> Progress {
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
        Progress {
            bar,
            plain: (!tty || out.log_json) && !out.quiet && !out.no_progress,
            log_json: out.log_json,
            label: label.to_owned(),
            total,
            done: 0,
            started: Instant::now(),
            last_line: Instant::now(),
        }
    }

    pub fn inc(&mut self, rows: u64) {
        self.done += rows;
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
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
