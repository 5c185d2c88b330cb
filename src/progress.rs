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
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Output {
    pub quiet: bool,
    pub no_progress: bool,
    pub json: bool,
}

impl Output {
    /// Informational message on stderr (silenced by --quiet).
    pub fn note(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }
}

impl Progress {
    pub fn new(out: &Output, label: &str, total: Option<u64>) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let bar = (tty && !out.quiet && !out.no_progress).then(|| {
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
            plain: !tty && !out.quiet && !out.no_progress,
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
