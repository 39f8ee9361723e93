//! The one way pmap ends a job: SIGTERM, then SIGKILL once the kill grace is over. Every
//! executor and every reason to end a job (`--timeout`, retiring a process-pool worker,
//! SIGINT/SIGTERM to pmap, `--halt now`, a downstream reader gone) goes through
//! [`Escalation`], so the ladder and its timing are written once.
//!
//! An escalation does not sleep and does not send anything itself: the caller's own wait
//! (a `poll` on the job's pipes, a condition variable) runs until [`Escalation::deadline`],
//! then asks [`Escalation::due`] which signal to send now. That lets a job's output be read
//! while it is being ended.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

/// Where a job is on the TERM → grace → KILL ladder.
#[derive(Debug, Clone)]
pub struct Escalation {
    grace: Duration,
    /// The next signal and when it is due; `None` once SIGKILL has been sent.
    next: Option<(Instant, Signal)>,
}

impl Escalation {
    /// SIGTERM at `at`, SIGKILL `grace` after it is sent.
    pub fn at(at: Instant, grace: Duration) -> Self {
        Escalation {
            grace,
            next: Some((at, Signal::SIGTERM)),
        }
    }

    /// SIGTERM now, SIGKILL `grace` later.
    pub fn now(grace: Duration) -> Self {
        Self::at(Instant::now(), grace)
    }

    /// SIGTERM once `after` has passed from now; `None` (never) if that moment lies beyond
    /// what the clock can hold.
    pub fn after(after: Duration, grace: Duration) -> Option<Self> {
        Instant::now()
            .checked_add(after)
            .map(|at| Self::at(at, grace))
    }

    /// The signal to send by `now`, if one is due, moving on to the next rung: SIGTERM
    /// first, then SIGKILL `grace` after SIGTERM was due.
    pub fn due(&mut self, now: Instant) -> Option<Signal> {
        let (at, signal) = self.next?;
        if now < at {
            return None;
        }
        self.next = match signal {
            Signal::SIGTERM => Some((now.checked_add(self.grace).unwrap_or(now), Signal::SIGKILL)),
            _ => None,
        };
        Some(signal)
    }

    /// Sends SIGKILL next, at once (a second SIGINT, say).
    pub fn hurry(&mut self) {
        self.next = Some((Instant::now(), Signal::SIGKILL));
    }

    /// When the next signal is due; `None` once SIGKILL has been sent.
    pub fn deadline(&self) -> Option<Instant> {
        self.next.map(|(at, _)| at)
    }

    /// How long from `now` until the next signal is due; `None` once there is none.
    pub fn wait(&self, now: Instant) -> Option<Duration> {
        self.deadline().map(|at| at.saturating_duration_since(now))
    }

    /// Whether SIGTERM has been sent (the job is being ended).
    pub fn started(&self) -> bool {
        !matches!(self.next, Some((_, Signal::SIGTERM)))
    }

    /// Whether SIGKILL has been sent.
    pub fn killed(&self) -> bool {
        self.next.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_then_kills_after_the_grace() {
        let start = Instant::now();
        let grace = Duration::from_secs(2);
        let mut e = Escalation::at(start + Duration::from_secs(1), grace);
        assert_eq!(e.due(start), None);
        assert!(!e.started());
        let term_at = start + Duration::from_secs(1);
        assert_eq!(e.due(term_at), Some(Signal::SIGTERM));
        assert!(e.started() && !e.killed());
        assert_eq!(e.deadline(), Some(term_at + grace));
        assert_eq!(e.due(term_at + Duration::from_secs(1)), None);
        assert_eq!(e.due(term_at + grace), Some(Signal::SIGKILL));
        assert!(e.killed());
        assert_eq!(e.due(term_at + grace * 10), None);
        assert_eq!(e.deadline(), None);
    }

    #[test]
    fn hurry_kills_at_once_and_huge_delays_never_fire() {
        let mut e = Escalation::now(Duration::from_secs(100));
        assert_eq!(e.due(Instant::now()), Some(Signal::SIGTERM));
        e.hurry();
        assert_eq!(e.due(Instant::now()), Some(Signal::SIGKILL));
        assert!(Escalation::after(Duration::MAX, Duration::ZERO).is_none());
    }
}
