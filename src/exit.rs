//! pmap's exit statuses (SPEC §7), in one place.

use std::process::ExitCode;

/// How a whole pmap run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every job succeeded (or there were none).
    Success,
    /// This many jobs failed (exit 1–100, or 101 for more than 100).
    JobsFailed(u64),
    /// Interrupted by this signal (SIGINT: exit 130, SIGTERM: exit 143).
    Interrupted(i32),
    /// pmap itself could not run: bad usage, unreadable input, or an internal error (a
    /// panic, whose message is on stderr) (exit 255).
    Error,
}

impl Outcome {
    /// The outcome of a run in which `failed` jobs failed.
    pub fn from_failures(failed: u64) -> Self {
        if failed == 0 {
            Outcome::Success
        } else {
            Outcome::JobsFailed(failed)
        }
    }

    /// The process exit status for this outcome.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::JobsFailed(n) => n.min(101) as u8,
            Outcome::Interrupted(signal) => (128 + signal).clamp(129, 254) as u8,
            Outcome::Error => 255,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(outcome.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_to_counts_capped_at_101() {
        assert_eq!(Outcome::from_failures(0).code(), 0);
        assert_eq!(Outcome::from_failures(1).code(), 1);
        assert_eq!(Outcome::from_failures(100).code(), 100);
        assert_eq!(Outcome::from_failures(101).code(), 101);
        assert_eq!(Outcome::from_failures(150).code(), 101);
        assert_eq!(Outcome::Error.code(), 255);
        assert_eq!(Outcome::Interrupted(2).code(), 130);
        assert_eq!(Outcome::Interrupted(15).code(), 143);
    }
}
