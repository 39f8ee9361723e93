//! The collector: the single consumer of pool events and the only code that writes job
//! output to stdout and stderr.
//!
//! Grouped mode (the default): each job's stdout, then its stderr, printed whole when it
//! finishes; with `-k`, in input order. Stdout is written through one large buffer that is
//! flushed whenever no event is waiting, and always before anything goes to stderr.

pub mod dry_run;
pub mod joblog;
pub mod printer;
pub mod progress;
pub mod stdout;

use std::io;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError, select};

use crate::capture::spool::MemoryBudget;
use crate::config::Config;
use crate::event::{Event, Nap, Stream};
use crate::exec::Control;
use crate::exit::Outcome;
use joblog::JobLog;
use printer::Printer;

/// How long the collector sleeps between batches while events arrive faster than one per
/// [`BUSY`]: the most a job's output waits before it is printed (less when the workers fill
/// half the channel meanwhile: see [`Nap`]). Without it, every finished job of a fast run
/// wakes the collector on its own, a futex wake in the worker and a context switch in the
/// collector: about a quarter of pmap's own CPU per job.
const NAP: Duration = Duration::from_millis(2);

/// A wait for the next event shorter than this means the run is busy: nap from then on,
/// until a nap finds no event.
const BUSY: Duration = Duration::from_millis(5);

/// Consumes events until the pool is done, printing as it goes, and returns the outcome.
/// `joblog` was opened before any job started, so a bad path failed early.
pub fn run(
    events: Receiver<Event>,
    nap: &Nap,
    config: &Config,
    control: &Control,
    budget: &'static MemoryBudget,
    joblog: Option<JobLog>,
) -> Outcome {
    let mut collector = Collector {
        printer: Printer::new(&config.output, budget, joblog),
    };
    let mut napping = false;
    loop {
        if control.report_requests().try_recv().is_ok() {
            collector.report_running(control);
        }
        let event = match events.try_recv() {
            Ok(event) => event,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                // Nothing waiting: a good moment to hand the batch so far to the OS.
                collector.printer.flush();
                if collector.printer.is_closed() && !control.is_terminating() {
                    control.terminate(config.control.kill_grace);
                }
                if napping && !control.is_stopping() {
                    // Events come thick and fast: let a few gather. A worker sending one
                    // meanwhile finds nobody to wake, which saves both threads a wake-up.
                    nap.take(NAP, || events.len());
                    napping = !events.is_empty();
                    continue;
                }
                if !control.is_stopping() {
                    // A stop wakes the loop too: the input reader may be blocked on a
                    // terminal, keeping the channel open after the workers have gone.
                    let blocked = Instant::now();
                    let event = select! {
                        recv(events) -> event => match event {
                            Ok(event) => event,
                            Err(_) => break,
                        },
                        recv(control.stopped()) -> _ => continue,
                        recv(control.report_requests()) -> _ => {
                            collector.report_running(control);
                            continue;
                        }
                    };
                    napping = blocked.elapsed() < BUSY;
                    event
                } else {
                    // Stopping: keep an eye on the workers leaving.
                    match events.recv_timeout(Duration::from_millis(20)) {
                        Ok(event) => event,
                        Err(RecvTimeoutError::Disconnected) => break,
                        Err(RecvTimeoutError::Timeout) => {
                            if !control.has_live_workers() {
                                for event in events.try_iter() {
                                    collector.handle(event);
                                }
                                break;
                            }
                            continue;
                        }
                    }
                }
            }
        };
        collector.handle(event);
    }
    let outcome = collector.printer.finish();
    match control.interrupted_by() {
        Some(signal) => Outcome::Interrupted(signal),
        None => outcome,
    }
}

struct Collector<'a> {
    printer: Printer<'a>,
}

impl Collector<'_> {
    /// SIGUSR1: one line per running job on stderr; the run carries on.
    fn report_running(&mut self, control: &Control) {
        let lines = control.running_report();
        if lines.is_empty() {
            self.printer.notice("no job is running");
        }
        for line in lines {
            self.printer.notice(&line);
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Output { seq, stream, data } => self.printer.output(seq, stream, data),
            Event::Finished(result) => self.printer.finished(result),
            Event::Skipped { seq } => self.printer.skipped(seq),
            Event::InputEnded { total } => self.printer.set_total(total),
            Event::Fatal(message) => {
                if !message.is_empty() {
                    self.printer.notice(&message);
                }
                self.printer.set_error();
            }
            Event::Notice(message) => self.printer.notice(&message),
            Event::Started { mut command } => {
                command.push(b'\n');
                self.printer.write_stderr(&command);
            }
            Event::WorkerStderr { mut data } => self.printer.write(Stream::Stderr, &mut data),
            Event::Began => self.printer.began(),
            Event::Counted { total } => self.printer.set_total(total),
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
