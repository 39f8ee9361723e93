//! The worker threads behind both pools: up to `-j` of them, started as they are needed and
//! fed through a bounded channel. With `--pool thread` (the default) each job is a fresh
//! process ([`job::run`]); with `--pool process` each thread keeps one long-lived worker
//! process ([`process::Slot`]).

use std::io;
use std::sync::{Arc, Mutex};

use crate::collect::spool::MemoryBudget;
use crate::config::{Config, Pool};
use crate::event::{Event, Events};
use crate::halt::{Halt, Threshold};
use crate::input::Job;
use crate::pool::job::{self, Handback, JobEnv};
use crate::pool::queue::WorkQueue;
use crate::pool::spawn::{BaseEnv, Spawner};
use crate::pool::{Control, process};
use crate::remote::Remote;

/// How many items are read ahead of the running jobs when `--halt` has a percentage.
const PERCENT_READ_AHEAD: usize = 4096;

/// What the job reader hands the pool.
pub enum Work {
    Job(Job),
    /// Reading the input failed; nothing follows.
    ReadError(io::Error),
    /// The input has ended after this many jobs; nothing follows.
    End {
        total: u64,
    },
}

/// The handle the job reader submits work through. Dropping it means the input has ended;
/// the workers finish what is queued and exit.
pub struct ThreadPool {
    shared: Arc<Shared>,
    spawned: usize,
}

struct Shared {
    env: JobEnv,
    queue: Arc<WorkQueue<Work>>,
}

impl ThreadPool {
    pub fn new(
        config: Arc<Config>,
        control: Arc<Control>,
        events: Events,
        budget: Arc<MemoryBudget>,
        remote: Option<Arc<Remote>>,
    ) -> Self {
        // `--halt` percentages are of the total, known once the input has been read: read
        // further ahead for them, so that for inputs of up to a few thousand items the
        // total is known before the first job ends.
        let ahead = match config.control.halt {
            Some(Halt {
                threshold: Threshold::Percent(_),
                ..
            }) => PERCENT_READ_AHEAD,
            // Room to read ahead, so that the reader is woken once per many jobs.
            _ => (2 * config.jobs).clamp(64, 4096),
        };
        // With --sshlogin, a slot whose host is lost hands its job back for the others.
        let queue = Arc::new(WorkQueue::new(ahead, remote.is_some()));
        let waker = Arc::clone(&queue);
        control.on_stop(Box::new(move || waker.wake_all()));
        ThreadPool {
            shared: Arc::new(Shared {
                env: JobEnv {
                    budget,
                    config,
                    control,
                    events,
                    base_env: BaseEnv::capture(),
                    next_start: Mutex::new(None),
                    remote,
                },
                queue,
            }),
            spawned: 0,
        }
    }

    /// Queues `work`, starting another worker if every existing one is busy. Blocks while
    /// the queue is full. Returns false once the pool is stopping.
    pub fn submit(&mut self, work: Work) -> bool {
        if self.shared.env.control.is_stopping() {
            return false;
        }
        // With --sshlogin every slot gets its worker at once, so that jobs handed back by
        // a lost host always find the other hosts' workers.
        let eager = self.shared.env.remote.is_some();
        while self.spawned < self.shared.env.config.jobs {
            let (queued, idle) = self.shared.queue.load();
            if !eager && queued < idle {
                break;
            }
            if !self.spawn_worker() {
                return false;
            }
            if !eager {
                break;
            }
        }
        self.shared.queue.push(work, &self.shared.env.control)
    }

    /// The input has ended after `total` jobs. `--halt` percentages learn the total at
    /// once, not after the queued jobs have run.
    pub fn end(mut self, total: u64) {
        let env = &self.shared.env;
        env.control.input_ended(total, &env.events);
        self.submit(Work::End { total });
    }

    fn spawn_worker(&mut self) -> bool {
        self.spawned += 1;
        let slot = self.spawned;
        let shared = Arc::clone(&self.shared);
        shared.env.control.worker_started();
        let spawned = std::thread::Builder::new()
            .name(format!("pmap-slot-{slot}"))
            .stack_size(256 * 1024)
            .spawn(move || worker(&shared, slot));
        match spawned {
            Ok(_) => true,
            Err(e) => {
                self.shared.env.control.worker_exited();
                // Running with fewer workers than asked is better than not running at all.
                if slot == 1 {
                    let _ = self
                        .shared
                        .env
                        .events
                        .send(Event::Fatal(format!("cannot start a worker thread: {e}")));
                    return false;
                }
                self.spawned = self.shared.env.config.jobs;
                true
            }
        }
    }
}

impl Drop for ThreadPool {
    /// The input has ended (or the reader gave up): workers finish what is queued.
    fn drop(&mut self) {
        self.shared.queue.close();
    }
}

/// Hands a job back for another slot; if no host is left, pmap stops with an error.
fn hand_back(shared: &Shared, job: Job) {
    shared.queue.hand_back(Work::Job(job));
    if shared
        .env
        .remote
        .as_ref()
        .is_some_and(|r| !r.any_host_left())
    {
        let _ = shared.env.events.send(Event::Fatal(
            "no host in --sshlogin can be reached any more; the remaining jobs did not run".into(),
        ));
        shared.env.control.stop();
    }
}

#[allow(clippy::too_many_lines)]
fn worker(shared: &Shared, slot: usize) {
    let control = &shared.env.control;
    // Signals are for pmap's other threads (signal-hook's handler runs on any of them).
    // Blocked here, they are blocked in every job's child from the start, with no system
    // call per job (see `pool::child`). Not where jobs are started with
    // `std::process::Command` (process-pool workers, ssh clients): they would inherit the
    // mask.
    if shared.env.config.pool == Pool::Thread && shared.env.remote.is_none() {
        crate::pool::child::block_all_signals();
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut persistent = (shared.env.config.pool == Pool::Process)
        .then(|| process::Slot::new(slot, &shared.env));
    let mut spawner = match Spawner::new() {
        Ok(spawner) => spawner,
        Err(e) => {
            let _ = shared
                .env
                .events
                .send(Event::Fatal(format!("cannot open /dev/null: {e}")));
            control.stop();
            control.worker_exited();
            return;
        }
    };
    let config = &shared.env.config;
    // A finished job's event waits until this worker has started its next job, so that
    // waking the collector is not in the way between one job and the next. Not with
    // `--halt` (its notice must follow the job that met the condition), `-v` (the next
    // command line would come before this job's output) or `--delay` (the next start
    // waits).
    let defer =
        config.control.halt.is_none() && !config.output.verbose && config.control.delay.is_none();
    let mut held = Held {
        events: &shared.env.events,
        event: None,
        gone: false,
    };
    // A job that failed on some hosts goes preferably to another (`--retries` with -S).
    let accept = |work: &Work| match (work, &shared.env.remote) {
        (Work::Job(job), Some(remote)) if !job.failed_on.is_empty() => {
            remote.should_take(slot, &job.failed_on)
        }
        _ => true,
    };
    loop {
        let work = match shared.queue.try_pop(control, &accept) {
            Some(work) => work,
            None => {
                held.send();
                match shared.queue.pop(control, &accept) {
                    Some(work) => work,
                    None => break,
                }
            }
        };
        let events = &shared.env.events;
        let sent = match work {
            Work::Job(job) if config.control.skip.contains(&job.seq) => {
                held.send();
                events.send(Event::Skipped { seq: job.seq })
            }
            Work::Job(job) => {
                let result = match &mut persistent {
                    Some(worker) => {
                        held.send();
                        Ok(worker.run(job, &shared.env, &mut buf))
                    }
                    None => job::run(job, slot, &shared.env, &mut buf, &mut spawner, &mut || {
                        held.send()
                    }),
                };
                held.send();
                let result = match result {
                    Ok(result) => result,
                    Err((job, Handback::Retry)) => {
                        // Another attempt, preferably on another host.
                        shared.queue.hand_back(Work::Job(job));
                        continue;
                    }
                    Err((job, Handback::HostLost)) => {
                        // This slot's host was lost: its job goes to another slot, and this
                        // worker leaves.
                        hand_back(shared, job);
                        break;
                    }
                };
                let (succeeded, interrupted) = (result.succeeded(), result.interrupted);
                held.event = Some(Event::Finished(Box::new(result)));
                if !defer {
                    held.send();
                }
                control.job_finished(succeeded, interrupted, events);
                Ok(())
            }
            Work::ReadError(e) => {
                held.send();
                events.send(Event::Fatal(format!("cannot read input: {e}")))
            }
            Work::End { total } => {
                held.send();
                events.send(Event::InputEnded { total })
            }
        };
        shared.queue.finished();
        if sent.is_err() || held.gone {
            break;
        }
    }
    held.send();
    if let Some(mut worker) = persistent {
        worker.retire(&shared.env, shared.env.config.control.kill_grace);
    }
    control.worker_exited();
}

/// A finished job's event that a worker holds back for a moment (see `worker`).
struct Held<'a> {
    events: &'a Events,
    event: Option<Event>,
    /// The collector is gone.
    gone: bool,
}

impl Held<'_> {
    fn send(&mut self) {
        if let Some(event) = self.event.take() {
            self.gone |= self.events.send(event).is_err();
        }
    }
}
