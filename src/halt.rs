//! `--halt`: when to stop a run early, and how.

use std::sync::Mutex;

use anyhow::{Result, anyhow, bail};

/// How to stop once the condition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltMode {
    /// Start no more jobs; let running ones finish.
    Soon,
    /// Start no more jobs and end the running ones.
    Now,
}

/// Which jobs count toward the condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltCount {
    Fail,
    Success,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    Jobs(u64),
    Percent(f64),
}

/// A parsed `--halt` policy other than `never`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Halt {
    pub mode: HaltMode,
    pub count: HaltCount,
    pub threshold: Threshold,
}

/// Counts of finished jobs, for halt conditions.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub failed: u64,
    pub succeeded: u64,
}

impl Halt {
    /// Parses `never`, `now,COND` or `soon,COND`; `None` for `never`.
    pub fn parse(spec: &str) -> Result<Option<Halt>> {
        let bad = || {
            anyhow!(
                "invalid --halt '{spec}': expected never, now,COND or soon,COND with COND \
                 fail=N, success=N, done=N or N% (e.g. --halt now,fail=1 or soon,fail=10%)"
            )
        };
        if spec == "never" {
            return Ok(None);
        }
        let (mode, cond) = spec.split_once(',').ok_or_else(bad)?;
        let mode = match mode {
            "now" => HaltMode::Now,
            "soon" => HaltMode::Soon,
            _ => return Err(bad()),
        };
        let (count, value) = cond.split_once('=').ok_or_else(bad)?;
        let count = match count {
            "fail" => HaltCount::Fail,
            "success" => HaltCount::Success,
            "done" => HaltCount::Done,
            _ => return Err(bad()),
        };
        let threshold = match value.strip_suffix('%') {
            Some(p) => {
                let p: f64 = p.parse().map_err(|_| bad())?;
                if !(p > 0.0 && p <= 100.0) {
                    bail!("invalid --halt '{spec}': a percentage must be above 0 and at most 100");
                }
                Threshold::Percent(p)
            }
            None => match value.parse::<u64>() {
                Ok(0) | Err(_) => return Err(bad()),
                Ok(n) => Threshold::Jobs(n),
            },
        };
        Ok(Some(Halt {
            mode,
            count,
            threshold,
        }))
    }

    /// Whether the condition holds; percentages need the total number of jobs, known once
    /// the input has ended.
    pub fn triggered(&self, tally: Tally, total: Option<u64>) -> bool {
        let n = match self.count {
            HaltCount::Fail => tally.failed,
            HaltCount::Success => tally.succeeded,
            HaltCount::Done => tally.failed + tally.succeeded,
        };
        match self.threshold {
            Threshold::Jobs(t) => n >= t,
            Threshold::Percent(p) => match total {
                Some(total) if total > 0 => n as f64 * 100.0 >= p * total as f64,
                _ => false,
            },
        }
    }
}

/// The running count a pool keeps for `--halt`. Workers report each final result here
/// before they take the next job, so a triggered condition stops the pool before another
/// job can start in that slot.
pub struct HaltWatch {
    policy: Halt,
    state: Mutex<WatchState>,
}

#[derive(Default)]
struct WatchState {
    tally: Tally,
    total: Option<u64>,
    fired: bool,
}

impl HaltWatch {
    pub fn new(policy: Halt) -> Self {
        HaltWatch {
            policy,
            state: Mutex::new(WatchState::default()),
        }
    }

    /// Counts a job's final result. Returns how to stop and why, the first time the
    /// condition holds. A job ended by pmap itself counts as neither failed nor succeeded.
    pub fn job_finished(&self, succeeded: bool, interrupted: bool) -> Option<(HaltMode, String)> {
        self.update(|state| {
            if succeeded {
                state.tally.succeeded += 1;
            } else if !interrupted {
                state.tally.failed += 1;
            }
        })
    }

    /// The input has ended after `total` jobs, which percentages need.
    pub fn input_ended(&self, total: u64) -> Option<(HaltMode, String)> {
        self.update(|state| state.total = Some(total))
    }

    fn update(&self, change: impl FnOnce(&mut WatchState)) -> Option<(HaltMode, String)> {
        let mut state = crate::lock(&self.state);
        change(&mut state);
        if state.fired || !self.policy.triggered(state.tally, state.total) {
            return None;
        }
        state.fired = true;
        let what = format!(
            "{} failed, {} succeeded",
            state.tally.failed, state.tally.succeeded
        );
        Some((self.policy.mode, what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(Halt::parse("never").unwrap(), None);
        let h = Halt::parse("now,fail=2").unwrap().unwrap();
        assert_eq!(
            (h.mode, h.count, h.threshold),
            (HaltMode::Now, HaltCount::Fail, Threshold::Jobs(2))
        );
        let h = Halt::parse("soon,done=50%").unwrap().unwrap();
        assert_eq!(h.threshold, Threshold::Percent(50.0));
        for bad in [
            "",
            "now",
            "now,fail",
            "later,fail=1",
            "now,fail=0",
            "now,x=1",
            "now,fail=0%",
            "now,fail=101%",
        ] {
            assert!(Halt::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn conditions() {
        let h = Halt::parse("now,fail=2").unwrap().unwrap();
        assert!(!h.triggered(
            Tally {
                failed: 1,
                succeeded: 5
            },
            None
        ));
        assert!(h.triggered(
            Tally {
                failed: 2,
                succeeded: 0
            },
            None
        ));
        let h = Halt::parse("soon,success=50%").unwrap().unwrap();
        assert!(!h.triggered(
            Tally {
                failed: 0,
                succeeded: 5
            },
            None
        ));
        assert!(h.triggered(
            Tally {
                failed: 0,
                succeeded: 5
            },
            Some(10)
        ));
        assert!(!h.triggered(
            Tally {
                failed: 0,
                succeeded: 4
            },
            Some(10)
        ));
    }
}
