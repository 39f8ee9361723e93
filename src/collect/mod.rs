//! The collector: the single consumer of pool events and the only code that writes job
//! output to stdout and stderr.
//!
//! Grouped mode (the default): each job's stdout, then its stderr, printed whole when it
//! finishes; with `-k`, in input order. Stdout is written through one large buffer that is
//! flushed whenever no event is waiting, and always before anything goes to stderr.

pub mod dry_run;
mod order;

use std::io::{self, BufWriter, StdoutLock, Write};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};
use nix::sys::signal::Signal;

use crate::config::Config;
use crate::event::{Event, JobResult, JobStatus};
use crate::exit::Outcome;
use crate::pool::Control;
use order::Reorder;

/// How long jobs get to exit after SIGTERM when pmap stops early, before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Consumes events until the pool is done, printing as it goes, and returns the outcome.
pub fn run(events: Receiver<Event>, config: &Config, control: &Control) -> Outcome {
    let mut collector = Collector {
        out: BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
        keep_order: config.keep_order,
        reorder: Reorder::default(),
        failed: 0,
        error: false,
        closed: false,
    };
    let mut stopped_at: Option<Instant> = None;
    let mut killed = false;
    loop {
        let event = match events.try_recv() {
            Ok(event) => event,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                collector.flush();
                if collector.closed && stopped_at.is_none() {
                    stopped_at = Some(Instant::now());
                    control.stop();
                    control.signal_running(Signal::SIGTERM);
                }
                match stopped_at {
                    None => match events.recv() {
                        Ok(event) => event,
                        Err(_) => break,
                    },
                    Some(at) => match events.recv_timeout(Duration::from_millis(20)) {
                        Ok(event) => event,
                        Err(RecvTimeoutError::Disconnected) => break,
                        Err(RecvTimeoutError::Timeout) => {
                            if !control.has_live_workers() {
                                break;
                            }
                            if !killed && at.elapsed() >= STOP_GRACE {
                                killed = true;
                                control.signal_running(Signal::SIGKILL);
                            }
                            continue;
                        }
                    },
                }
            }
        };
        collector.handle(event);
    }
    collector.finish()
}

struct Collector {
    out: BufWriter<StdoutLock<'static>>,
    keep_order: bool,
    reorder: Reorder<JobResult>,
    failed: u64,
    /// pmap itself failed (input or output error): exit 255.
    error: bool,
    /// Stdout is gone (closed downstream or unwritable): print nothing more.
    closed: bool,
}

impl Collector {
    fn handle(&mut self, event: Event) {
        match event {
            Event::Finished(result) => {
                if !result.status.succeeded() {
                    self.failed += 1;
                }
                if self.keep_order {
                    self.reorder.push(result.seq, result);
                    while let Some(result) = self.reorder.pop_ready() {
                        self.print(result);
                    }
                } else {
                    self.print(result);
                }
            }
            Event::InputError(message) => {
                self.flush();
                eprintln!("pmap: {message}");
                self.error = true;
            }
        }
    }

    fn print(&mut self, result: JobResult) {
        if self.closed {
            return;
        }
        if let Err(e) = self.out.write_all(&result.stdout) {
            self.output_failed(e);
            return;
        }
        let notice = match &result.status {
            JobStatus::NotStarted { message, .. } => Some(message),
            _ => None,
        };
        if !result.stderr.is_empty() || notice.is_some() {
            self.flush();
            let mut err = io::stderr().lock();
            let _ = err.write_all(&result.stderr);
            if let Some(message) = notice {
                let _ = writeln!(err, "pmap: {message}");
            }
        }
    }

    fn flush(&mut self) {
        if !self.closed {
            if let Err(e) = self.out.flush() {
                self.output_failed(e);
            }
        }
    }

    fn output_failed(&mut self, e: io::Error) {
        self.closed = true;
        if write_failed(e) == Outcome::Error {
            self.error = true;
        }
    }

    fn finish(mut self) -> Outcome {
        // Jobs held back by -k whose predecessors never ran (the run was stopped early).
        let held: Vec<JobResult> = self.reorder.drain_held().collect();
        for result in held {
            self.print(result);
        }
        self.flush();
        if self.error {
            Outcome::Error
        } else {
            Outcome::from_failures(self.failed)
        }
    }
}

/// A failed write to stdout: a closed pipe downstream is a quiet, normal end; anything else
/// is reported, and pmap exits 255.
pub(crate) fn write_failed(e: io::Error) -> Outcome {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Outcome::Success
    } else {
        eprintln!("pmap: cannot write output: {e}");
        Outcome::Error
    }
}
