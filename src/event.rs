//! The messages from the pool to the collector: readers put tagged results on one queue,
//! one printer takes them off.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::Thread;
use std::time::{Duration, SystemTime};

use crossbeam_channel::{Receiver, Sender};

use crate::capture::spool::Spool;

/// Which of a job's output streams bytes came from (or go to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

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

    /// The exit code, if the job was not killed by a signal.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            JobStatus::Exited(code) | JobStatus::NotStarted { code, .. } => Some(*code),
            JobStatus::Signaled(_) => None,
        }
    }

    pub fn signal(&self) -> Option<i32> {
        match self {
            JobStatus::Signaled(sig) => Some(*sig),
            _ => None,
        }
    }
}

/// What a finished job leaves for the collector to print.
#[derive(Debug)]
pub enum Captured {
    /// Its output already went out as [`Event::Output`] events.
    Streamed,
    /// Its whole output, formatted for printing (tagged, merged) or raw for `--json`.
    Buffered { stdout: Spool, stderr: Spool },
}

/// A finished job and what it printed.
#[derive(Debug)]
pub struct JobResult {
    pub seq: u64,
    pub slot: usize,
    /// The host it ran on, with `--sshlogin` (`:` for this machine).
    pub host: Option<std::sync::Arc<str>>,
    pub values: Vec<Vec<u8>>,
    /// The command as a pasteable shell line.
    pub command: Vec<u8>,
    pub status: JobStatus,
    pub output: Captured,
    pub start: SystemTime,
    pub runtime: Duration,
    pub attempts: u32,
    /// Bytes of output received (stdout and stderr).
    pub received: u64,
    /// `--pipe`: the bytes of input its block held (0 for a job of items).
    pub input_bytes: u64,
    /// It ran past `--timeout` and was ended.
    pub timed_out: bool,
    /// pmap ended it while stopping (`--halt now`, a signal, stdout closed downstream); it
    /// does not count as a failure.
    pub interrupted: bool,
    /// pmap could not buffer or save this job's output.
    pub error: Option<String>,
}

impl JobResult {
    /// One attempt's result as it starts out: begun at `start`, took no time, nothing
    /// received, no values, command or host recorded.
    pub fn new(
        seq: u64,
        slot: usize,
        status: JobStatus,
        output: Captured,
        start: SystemTime,
    ) -> Self {
        JobResult {
            seq,
            slot,
            host: None,
            values: Vec::new(),
            command: Vec::new(),
            status,
            output,
            start,
            runtime: Duration::ZERO,
            attempts: 1,
            received: 0,
            input_bytes: 0,
            timed_out: false,
            interrupted: false,
            error: None,
        }
    }

    pub fn succeeded(&self) -> bool {
        self.status.succeeded() && !self.timed_out
    }
}

/// What the pool tells the collector.
// A finished job travels by value, not boxed: the collector would free every box the slots
// allocated, and with glibc's malloc those frees contend with the slots' allocations for
// their arenas' locks (a process pool sends hundreds of thousands of them: 45,000 futex
// calls for 200,000 items boxed, 4,000 unboxed). The channel holds at most a few hundred
// events.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Event {
    /// Output of a running job, ready to print as it is: whole lines in `--line-buffer`
    /// mode, raw chunks in `--ungroup` mode.
    Output {
        seq: u64,
        stream: Stream,
        data: Spool,
    },
    /// A job finished (successfully or not). Its output events, if any, came before.
    Finished(JobResult),
    /// `-v`: a job is starting; its command line.
    Started { command: Vec<u8> },
    /// `--progress`: a job has started.
    Began,
    /// The number of jobs, counted ahead (see `input::count`).
    Counted { total: u64 },
    /// A job was skipped because `--resume` found it in the joblog.
    Skipped { seq: u64 },
    /// The input has ended after this many jobs.
    InputEnded { total: u64 },
    /// pmap itself failed (reading the input, starting a worker): exit 255. An empty
    /// message means the failure was already reported.
    Fatal(String),
    /// Something worth telling the user that is not a failure of pmap.
    Notice(String),
    /// Whole lines a `--pool process` worker wrote to stderr.
    WorkerStderr { data: Spool },
}

/// The pool's end of the event channel: a bounded channel, plus a way to cut short the
/// collector's nap (see `collect::run`) when events pile up during it.
#[derive(Clone)]
pub struct Events {
    tx: Sender<Event>,
    nap: Arc<Nap>,
}

/// The collector has gone: nothing will print what is sent.
#[derive(Debug)]
pub struct CollectorGone;

/// The collector's side of its naps: whether it is napping, and how to wake it.
pub struct Nap {
    napping: AtomicBool,
    collector: Thread,
    /// A nap ends early once this many events are waiting.
    wake_at: usize,
}

/// A bounded event channel of `capacity`, whose receiver is the current thread.
pub fn channel(capacity: usize) -> (Events, Receiver<Event>, Arc<Nap>) {
    let (tx, rx) = crossbeam_channel::bounded(capacity);
    let nap = Arc::new(Nap {
        napping: AtomicBool::new(false),
        collector: std::thread::current(),
        wake_at: (capacity / 2).max(1),
    });
    let events = Events {
        tx,
        nap: Arc::clone(&nap),
    };
    (events, rx, nap)
}

impl Events {
    /// Sends `event`, blocking while the channel is full; an error once the collector is
    /// gone (the event is dropped).
    pub fn send(&self, event: Event) -> Result<(), CollectorGone> {
        self.tx.send(event).map_err(|_| CollectorGone)?;
        let nap = &self.nap;
        if nap.napping.load(Ordering::SeqCst)
            && self.tx.len() >= nap.wake_at
            && nap.napping.swap(false, Ordering::SeqCst)
        {
            nap.collector.unpark();
        }
        Ok(())
    }
}

impl Nap {
    /// Sleeps for up to `length`, or until `waiting()` reaches the wake-up mark (checked
    /// here, and by every sender meanwhile). Only the collector's thread may call it.
    pub fn take(&self, length: Duration, waiting: impl Fn() -> usize) {
        self.napping.store(true, Ordering::SeqCst);
        if waiting() < self.wake_at {
            std::thread::park_timeout(length);
        }
        self.napping.store(false, Ordering::SeqCst);
    }
}
