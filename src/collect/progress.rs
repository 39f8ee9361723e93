//! `--bar`, `--eta` and `--progress` (indicatif) on stderr, drawn only when stderr is a terminal. The
//! collector draws it from its own thread and clears it around every write of job output,
//! so output always appears above the bar, never torn by it.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressKind {
    Bar,
    Eta,
    /// GNU parallel's `--progress`: jobs running, jobs done, seconds per job.
    Progress,
}

/// What progress counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressUnit {
    Jobs,
    /// `--pipe`: bytes of input whose blocks are done, of `total` when the input's size is
    /// known at the start.
    Bytes {
        total: Option<u64>,
    },
}

/// A visible progress display.
pub struct Progress {
    bar: ProgressBar,
    kind: ProgressKind,
    unit: ProgressUnit,
    failed: u64,
    /// `--progress`: jobs started and not yet done.
    running: u64,
    done: u64,
    since: std::time::Instant,
}

impl Progress {
    /// A progress display on stderr, or `None` when stderr is not a terminal. `slots`:
    /// the jobs run at once on this machine, for `--progress`'s heading (none with `-S`).
    /// `jobs`: the number of jobs, when known at the start.
    pub fn new(
        kind: ProgressKind,
        unit: ProgressUnit,
        slots: Option<usize>,
        jobs: Option<u64>,
    ) -> Option<Self> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        // Hidden until styled and sized: indicatif draws at every change.
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        let progress = Progress {
            bar,
            kind,
            unit,
            failed: 0,
            running: 0,
            done: 0,
            since: std::time::Instant::now(),
        };
        // The total before the first frame is drawn, so that it shows from the start.
        let total = match unit {
            ProgressUnit::Bytes { total } => total,
            ProgressUnit::Jobs => jobs,
        };
        match total {
            Some(total) => {
                progress.bar.set_length(total);
                progress.restyle(true);
            }
            None => progress.restyle(false),
        }
        progress.bar.set_draw_target(ProgressDrawTarget::stderr());
        progress.bar.tick();
        if kind == ProgressKind::Progress {
            progress.bar.println(progress_heading(slots));
            progress.show_counts();
        }
        Some(progress)
    }

    fn restyle(&self, total_known: bool) {
        let template = match (self.kind, total_known, self.unit) {
            (ProgressKind::Progress, ..) => "{msg}",
            (ProgressKind::Bar, false, ProgressUnit::Bytes { .. }) => {
                "{spinner} {bytes} done{msg} [{elapsed_precise}] {binary_bytes_per_sec} (total: when the input ends)"
            }
            (ProgressKind::Bar, true, ProgressUnit::Bytes { .. }) => {
                "[{elapsed_precise}] {wide_bar} {bytes}/{total_bytes}{msg} {binary_bytes_per_sec} ETA {eta}"
            }
            (ProgressKind::Eta, false, ProgressUnit::Bytes { .. }) => {
                "ETA unknown until the input ends ({bytes} done{msg})"
            }
            (ProgressKind::Eta, true, ProgressUnit::Bytes { .. }) => {
                "ETA {eta} ({bytes}/{total_bytes} done{msg})"
            }
            (kind, known, ProgressUnit::Jobs) => Self::job_template(kind, known),
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.bar.set_style(style.progress_chars("=> "));
        }
    }

    fn job_template(kind: ProgressKind, total_known: bool) -> &'static str {
        match (kind, total_known) {
            (ProgressKind::Bar, false) => {
                "{spinner} {pos} done{msg} [{elapsed_precise}] {per_sec} (total: when the input ends)"
            }
            (ProgressKind::Bar, true) => {
                "[{elapsed_precise}] {wide_bar} {pos}/{len}{msg} {per_sec} ETA {eta}"
            }
            (ProgressKind::Eta, false) => "ETA unknown until the input ends ({pos} done{msg})",
            (ProgressKind::Eta, true) => "ETA {eta} ({pos}/{len} done{msg})",
            (ProgressKind::Progress, _) => "{msg}",
        }
    }

    /// The input has ended after `total` jobs: now the total is known (of bytes, it was
    /// known from the start or is the count reached).
    pub fn set_total(&self, total: u64) {
        if self.unit == ProgressUnit::Jobs {
            self.bar.set_length(total);
            self.restyle(true);
        }
    }

    /// `--progress`: a job has started.
    pub fn job_began(&mut self) {
        self.running += 1;
        self.show_counts();
    }

    /// `--progress`'s line, as GNU parallel draws it: `local:RUNNING/DONE/100%/AVGs`, the
    /// average being the seconds of the run so far per job done.
    fn show_counts(&self) {
        let average = match self.done {
            0 => 0.0,
            done => self.since.elapsed().as_secs_f64() / done as f64,
        };
        let failed = match self.failed {
            0 => String::new(),
            n => format!(" ({n} failed)"),
        };
        self.bar.set_message(format!(
            "local:{}/{}/100%/{average:.1}s{failed}",
            self.running, self.done
        ));
    }

    /// A job finished; with `--pipe`, its block held `bytes` of input.
    pub fn job_done(&mut self, succeeded: bool, bytes: u64) {
        if self.kind == ProgressKind::Progress {
            self.running = self.running.saturating_sub(1);
            self.done += 1;
            self.failed += u64::from(!succeeded);
            self.show_counts();
            return;
        }
        if !succeeded {
            self.failed += 1;
            self.bar.set_message(format!(", {} failed", self.failed));
        }
        match self.unit {
            ProgressUnit::Jobs => self.bar.inc(1),
            ProgressUnit::Bytes { .. } => self.bar.inc(bytes),
        }
    }
}

/// `--progress`'s heading, as GNU parallel prints it.
fn progress_heading(slots: Option<usize>) -> String {
    let machine = match slots {
        Some(slots) => format!(
            "Computers / CPU cores / Max jobs to run\n1:local / {} / {slots}\n\n",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        ),
        None => String::new(),
    };
    format!(
        "{machine}Computer:jobs running/jobs completed/%of started jobs/Average seconds to complete"
    )
}

impl Progress {
    /// Runs `f` (which writes to the terminal) with the bar cleared, then redraws it.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// Leaves the final state on screen.
    pub fn finish(&self) {
        self.bar.finish();
    }
}
