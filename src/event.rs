//! The messages from the pool to the collector: readers put tagged results on one queue,
//! one printer takes them off.

use std::time::{Duration, SystemTime};

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    /// The command exited with this code.
    Exited(i32),
    /// The command was killed by this signal.
    Signaled(i32),
    /// The command could not be started: exit status 127 (not found) or 126 (not
    /// executable), and a message naming it.
    NotStarted { code: i32, message: String },
}

impl JobStatus {
    pub fn succeeded(&self) -> bool {
        matches!(self, JobStatus::Exited(0))
    }
}

/// A finished job and everything it printed.
#[derive(Debug)]
pub struct JobResult {
    pub seq: u64,
    pub slot: usize,
    pub status: JobStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub start: SystemTime,
    pub runtime: Duration,
}

/// What the pool tells the collector.
#[derive(Debug)]
pub enum Event {
    /// A job finished (successfully or not).
    Finished(JobResult),
    /// Reading the input failed; no more jobs will come.
    InputError(String),
}
