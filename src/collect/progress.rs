//! `--bar` and `--eta` (indicatif) on stderr, drawn only when stderr is a terminal. The
//! collector draws it from its own thread and clears it around every write of job output,
//! so output always appears above the bar, never torn by it.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressKind {
    Bar,
    Eta,
}

/// A visible progress display.
pub struct Progress {
    bar: ProgressBar,
    kind: ProgressKind,
    failed: u64,
}

impl Progress {
    /// A progress display on stderr, or `None` when stderr is not a terminal.
    pub fn new(kind: ProgressKind) -> Option<Self> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let progress = Progress {
            bar,
            kind,
            failed: 0,
        };
        progress.restyle(false);
        Some(progress)
    }

    fn restyle(&self, total_known: bool) {
        let template = match (self.kind, total_known) {
            (ProgressKind::Bar, false) => "{spinner} {pos} done{msg} [{elapsed_precise}] {per_sec}",
            (ProgressKind::Bar, true) => {
                "[{elapsed_precise}] {wide_bar} {pos}/{len}{msg} {per_sec} ETA {eta}"
            }
            (ProgressKind::Eta, false) => "ETA unknown until the input ends ({pos} done{msg})",
            (ProgressKind::Eta, true) => "ETA {eta} ({pos}/{len} done{msg})",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.bar.set_style(style.progress_chars("=> "));
        }
    }

    /// The input has ended: now the total is known.
    pub fn set_total(&self, total: u64) {
        self.bar.set_length(total);
        self.restyle(true);
    }

    /// A job finished.
    pub fn job_done(&mut self, succeeded: bool) {
        if !succeeded {
            self.failed += 1;
            self.bar.set_message(format!(", {} failed", self.failed));
        }
        self.bar.inc(1);
    }

    /// Runs `f` (which writes to the terminal) with the bar cleared, then redraws it.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// Leaves the final state on screen.
    pub fn finish(&self) {
        self.bar.finish();
    }
}
