//! Unit tests of the slot loop, with a fake executor.

use super::*;
use crate::capture::results::ResultFiles;
use crate::event::{Captured, JobStatus};
use crate::exec::testing::{env, job};

/// An executor whose attempts fail until the `succeed_at`th.
struct Flaky {
    succeed_at: u32,
    attempts: u32,
    elsewhere: bool,
    marked: u32,
}

impl Executor for Flaky {
    fn attempt(
        &mut self,
        job: &Job,
        started: &mut dyn FnMut(),
    ) -> Result<(JobResult, Option<ResultFiles>), Handback> {
        started();
        self.attempts += 1;
        let code = i32::from(self.attempts < self.succeed_at);
        let result = JobResult::new(
            job.seq,
            1,
            JobStatus::Exited(code),
            Captured::Streamed,
            std::time::SystemTime::now(),
        );
        Ok((result, None))
    }

    fn retries_elsewhere(&self) -> bool {
        self.elsewhere
    }

    fn failed_here(&self, job: &mut Job) {
        job.failed_on.push(self.marked as usize);
    }
}

fn flaky(succeed_at: u32, elsewhere: bool) -> Flaky {
    Flaky {
        succeed_at,
        attempts: 0,
        elsewhere,
        marked: 9,
    }
}

#[test]
fn a_panicking_slot_is_reported_as_pmaps_failure_and_stops_the_run() {
    let (env, events) = env(&["true", ":::", "x"]);
    guarded(&env, 2, || panic!("boom"));
    assert!(env.control.is_stopping());
    match events.try_recv() {
        Ok(Event::Fatal(message)) => assert_eq!(
            message,
            "internal error in job slot 2: boom; its job's result is lost"
        ),
        other => panic!("expected a Fatal event, got {other:?}"),
    }
}

#[test]
fn retries_run_until_an_attempt_succeeds() {
    let (json_env, _events) = env(&["--retries", "5", "--json", "true", ":::", "x"]);
    let mut executor = flaky(3, false);
    let result = run_job(job(4, "v"), &mut executor, &json_env, &mut || {}).unwrap();
    assert_eq!((result.attempts, result.status), (3, JobStatus::Exited(0)));
    assert_eq!(result.values, vec![b"v".to_vec()], "--json prints them");
    let (plain_env, _events) = env(&["true", ":::", "x"]);
    let result = run_job(job(4, "v"), &mut flaky(1, false), &plain_env, &mut || {}).unwrap();
    assert!(result.values.is_empty(), "nothing else needs them");
}

#[test]
fn retries_stop_when_they_run_out_and_the_last_attempt_is_the_result() {
    let (env, _events) = env(&["--retries", "3", "true", ":::", "x"]);
    let mut executor = flaky(10, false);
    let result = run_job(job(1, "v"), &mut executor, &env, &mut || {}).unwrap();
    assert_eq!((result.attempts, result.status), (3, JobStatus::Exited(1)));
    assert_eq!(executor.attempts, 3);
}

#[test]
fn an_executor_that_retries_elsewhere_gets_the_job_back_marked() {
    let (env, _events) = env(&["--retries", "2", "true", ":::", "x"]);
    let mut executor = flaky(10, true);
    let Err((job, why)) = run_job(job(1, "v"), &mut executor, &env, &mut || {}) else {
        panic!("the failed job should come back");
    };
    assert_eq!(why, Handback::Retry);
    assert_eq!((job.attempts, job.failed_on), (1, vec![9]));
}
