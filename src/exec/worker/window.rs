//! How many items a process-pool worker holds at once (`--pool-window`).
//!
//! Lock-step (one item, then its answer, then the next) costs every item a round trip
//! through the scheduler for pmap and for the worker. Several items in flight let the
//! worker read them in one go and write answers as they come. But items queued at one
//! worker cannot go to another one that is idle, so when items are slow the window stays
//! small: by default it holds about [`QUEUED_WORK`] of work, judged from how long the
//! worker took per item so far, between 1 and [`AUTO_MAX`] items.

use std::time::Duration;

/// How much work, by the worker's own pace, may wait at one worker.
const QUEUED_WORK: Duration = Duration::from_millis(20);

/// Workers slower than this per item are read as their answers come.
const NAP_BELOW: Duration = Duration::from_micros(100);

/// The longest and the shortest nap between reads of a fast worker's answers.
const MAX_NAP: Duration = Duration::from_millis(1);
const MIN_NAP: Duration = Duration::from_micros(20);

/// The largest automatic window, in items. [`QUEUED_WORK`] is what bounds the window of
/// all but the fastest workers; this cap matters for items that take microseconds, where a
/// deep window keeps the worker busy while pmap hands the answers it read to the collector
/// (with 256, 200,000 items through a Python doubler took 0.60 s on 2 CPUs, against 0.51 s).
pub const AUTO_MAX: usize = 4096;

/// The most item bytes in flight to one worker (at least one item always goes).
pub const MAX_BYTES: usize = 64 * 1024;

/// The window, in items and in bytes, of a worker that holds its answers back, when it
/// first grows (see [`Window::grow`]), and the most it grows to: a worker that needs more
/// than that before it writes (one that answers only at the end of its input, like
/// `sort`) has its input closed instead.
pub const GROWN: usize = 4096;
const GROWN_BYTES: usize = 1 << 20;
const MOST_GROWN: u32 = 8;

pub struct Window {
    /// `--pool-window N`.
    fixed: Option<usize>,
    /// How many times the window grew: the worker waits for more input before it
    /// answers (its output is buffered).
    grown: u32,
    /// How long the worker took per item, a moving average; `None` until one is known.
    per_item: Option<Duration>,
    /// The automatic size for `per_item`, worked out when it changes (the slot asks for
    /// every job).
    paced: usize,
}

impl Window {
    pub fn new(fixed: Option<usize>) -> Self {
        Window {
            fixed,
            grown: 0,
            per_item: None,
            paced: 1,
        }
    }

    /// Items the worker may hold now, counting the one it is working on.
    pub fn size(&self) -> usize {
        if let Some(fixed) = self.fixed {
            return fixed;
        }
        if self.grown > 0 {
            return GROWN << (self.grown - 1);
        }
        self.paced
    }

    /// The most item bytes in flight (at least one item always goes).
    pub fn max_bytes(&self) -> usize {
        match self.grown {
            0 => MAX_BYTES,
            n => GROWN_BYTES << (n - 1),
        }
    }

    /// The worker waits for more input before it answers: its output is buffered, and it
    /// writes only when its buffer is full (or its input ends). It gets items by the
    /// thousand from now on (it is idle while it waits, so it hoards nothing), twice as
    /// many each time it waits again, up to 2^([`MOST_GROWN`] - 1) times [`GROWN`].
    /// Returns false, the window staying as it is, once it is that large, or if
    /// `--pool-window` set it.
    pub fn grow(&mut self) -> bool {
        let grows = self.fixed.is_none() && self.grown < MOST_GROWN;
        self.grown += u32::from(grows);
        grows
    }

    /// Whether the worker has been seen to hold its answers back.
    pub fn is_grown(&self) -> bool {
        self.grown > 0
    }

    /// How long to let answers gather before looking for the next one, with `in_flight`
    /// items sent: for a fast worker, a fraction of the time it needs for them, so that
    /// pmap reads many answers per wake-up instead of waking for each (the collector naps
    /// for the same reason). `None` when the worker is slow enough that waking per answer
    /// costs nothing worth saving.
    pub fn nap(&self, in_flight: usize) -> Option<Duration> {
        let per_item = self.per_item.filter(|&t| t < NAP_BELOW)?;
        let nap = (per_item * u32::try_from(in_flight).unwrap_or(u32::MAX) / 2).min(MAX_NAP);
        (nap >= MIN_NAP).then_some(nap)
    }

    /// The worker answered an item it had been working on for `took`.
    pub fn answered(&mut self, took: Duration) {
        let per_item = match self.per_item {
            None => took,
            Some(avg) => (avg * 7 + took) / 8,
        };
        self.per_item = Some(per_item);
        self.paced = match per_item.as_nanos() {
            0 => AUTO_MAX,
            t => (QUEUED_WORK.as_nanos() / t).clamp(1, AUTO_MAX as u128) as usize,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_items_open_the_window_and_slow_ones_close_it() {
        let mut window = Window::new(None);
        assert_eq!(window.size(), 1);
        for _ in 0..50 {
            window.answered(Duration::from_micros(2));
        }
        assert_eq!(window.size(), AUTO_MAX);
        for _ in 0..50 {
            window.answered(Duration::from_secs(1));
        }
        assert_eq!(window.size(), 1);
        window.answered(Duration::from_millis(2));
        assert!(window.size() < 10, "{}", window.size());
    }

    #[test]
    fn only_fast_workers_are_napped_on() {
        let mut window = Window::new(None);
        assert_eq!(window.nap(100), None);
        window.answered(Duration::from_micros(4));
        assert_eq!(window.nap(100), Some(Duration::from_micros(200)));
        assert_eq!(window.nap(1), None);
        assert_eq!(window.nap(100_000), Some(MAX_NAP));
        window.answered(Duration::from_millis(50));
        assert_eq!(window.nap(100), None);
    }

    #[test]
    fn a_fixed_window_stays() {
        let mut window = Window::new(Some(7));
        window.answered(Duration::from_secs(3));
        assert_eq!(window.size(), 7);
        assert!(!window.grow());
        assert_eq!((window.size(), window.max_bytes()), (7, MAX_BYTES));
    }

    #[test]
    fn a_window_grows_once_for_a_worker_that_holds_answers_back() {
        let mut window = Window::new(None);
        assert!(window.grow());
        window.answered(Duration::from_secs(1));
        assert_eq!((window.size(), window.max_bytes()), (GROWN, GROWN_BYTES));
        assert!(window.grow());
        assert_eq!(
            (window.size(), window.max_bytes()),
            (2 * GROWN, 2 * GROWN_BYTES)
        );
        while window.grow() {}
        assert_eq!(window.size(), GROWN << (MOST_GROWN - 1));
    }
}
