//! The collector: the single consumer of pool events and the only code that writes job
//! output to stdout and stderr.
//!
//! Grouped mode (the default): each job's stdout, then its stderr, printed whole when it
//! finishes; with `-k`, in input order. Stdout is written through one large buffer that is
//! flushed whenever no event is waiting, and always before anything goes to stderr.

pub mod dry_run;
pub mod json;
pub mod printer;
pub mod results;
pub mod sink;
pub mod spool;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};
use nix::sys::signal::Signal;

use crate::config::Config;
use crate::event::Event;
use crate::exit::Outcome;
use crate::pool::Control;
use printer::Printer;
use spool::MemoryBudget;

/// How long jobs get to exit after SIGTERM when pmap stops early, before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Consumes events until the pool is done, printing as it goes, and returns the outcome.
pub fn run(
    events: Receiver<Event>,
    config: &Config,
    control: &Control,
    budget: Arc<MemoryBudget>,
) -> Outcome {
    let mut printer = Printer::new(&config.output, budget);
    let mut stopped_at: Option<Instant> = None;
    let mut killed = false;
    loop {
        let event = match events.try_recv() {
            Ok(event) => event,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                // Nothing waiting: a good moment to hand the batch so far to the OS.
                printer.flush();
                if printer.is_closed() && stopped_at.is_none() {
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
        match event {
            Event::Output { seq, stream, data } => printer.output(seq, stream, data),
            Event::Finished(result) => printer.finished(result),
            Event::InputError(message) => {
                printer.notice(&message);
                printer.set_error();
            }
        }
    }
    printer.finish()
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
