//! The process pool's watch over worker start-ups and buffering, shared by all slots.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// How many workers in a row exited before they answered their first item stops the run.
pub(super) const FAILED_STARTS: u32 = 3;

/// The process pool's start-up breaker: a worker command that cannot start (a typo in a
/// script's name) would otherwise fail every item, each with a fresh worker and the same
/// complaint. After [`FAILED_STARTS`] workers in a row exit before their first answer,
/// the run stops (exit 255); their stderr is shown once.
#[derive(Default)]
pub struct StartBreaker {
    in_a_row: AtomicU32,
    shown: AtomicBool,
    /// Workers that hold their answers back have been told about (once per run).
    pub(super) noted_held_answers: AtomicBool,
}

impl StartBreaker {
    /// Whether a worker was seen to hold its answers back (and the user told).
    pub(super) fn held_answers_noted(&self) -> bool {
        self.noted_held_answers.load(Ordering::Relaxed)
    }

    /// A worker answered: the command can start.
    pub(super) fn answered(&self) {
        self.in_a_row.store(0, Ordering::SeqCst);
        self.shown.store(false, Ordering::SeqCst);
    }

    /// A worker exited before its first answer: whether its stderr was shown already for
    /// another one, and how many in a row.
    pub(super) fn failed(&self) -> (bool, u32) {
        let shown = self.shown.swap(true, Ordering::SeqCst);
        (shown, self.in_a_row.fetch_add(1, Ordering::SeqCst) + 1)
    }
}
