//! The worker threads behind both pools: up to `-j` of them, started as they are needed and
//! fed through a bounded channel. With `--pool thread` (the default) each job is a fresh
//! process ([`job::run`]); with `--pool process` each thread keeps one long-lived worker
//! process ([`process::Slot`]).

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender, select};

use crate::cli::PoolKind;
use crate::collect::spool::MemoryBudget;
use crate::config::Config;
use crate::event::Event;
use crate::halt::{Halt, Threshold};
use crate::input::Job;
use crate::pool::job::{self, JobEnv};
use crate::pool::requeue::Requeue;
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
    work_tx: Sender<Work>,
    spawned: usize,
}

struct Shared {
    env: JobEnv,
    work_rx: Receiver<Work>,
    /// Workers waiting for work.
    idle: AtomicUsize,
    /// With `--sshlogin`: jobs handed back by slots whose host was lost.
    requeue: Option<Requeue>,
}

impl ThreadPool {
    pub fn new(
        config: Arc<Config>,
        control: Arc<Control>,
        events: Sender<Event>,
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
            _ => config.jobs.clamp(1, 1024),
        };
        let (work_tx, work_rx) = crossbeam_channel::bounded(ahead);
        ThreadPool {
            shared: Arc::new(Shared {
                env: JobEnv {
                    budget,
                    config,
                    control,
                    events,
                    next_start: Mutex::new(None),
                    remote: remote.clone(),
                },
                work_rx,
                idle: AtomicUsize::new(0),
                requeue: remote.is_some().then(Requeue::default),
            }),
            work_tx,
            spawned: 0,
        }
    }

    /// Queues `work`, starting another worker if every existing one is busy. Blocks while
    /// the queue is full. Returns false once the pool is stopping.
    pub fn submit(&mut self, work: Work) -> bool {
        if self.shared.env.control.is_stopping() {
            return false;
        }
        let waiting = self.work_tx.len() + 1;
        // With --sshlogin every slot gets its worker at once, so that jobs handed back by
        // a lost host always find the other hosts' workers.
        let eager = self.shared.requeue.is_some();
        while self.spawned < self.shared.env.config.jobs
            && (eager || waiting > self.shared.idle.load(Ordering::SeqCst))
        {
            if !self.spawn_worker() {
                return false;
            }
            if !eager {
                break;
            }
        }
        select! {
            send(self.work_tx, work) -> sent => sent.is_ok(),
            recv(self.shared.env.control.stopped()) -> _ => false,
        }
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
        if let Some(requeue) = &shared.requeue {
            requeue.worker_started();
        }
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

/// The next work for a worker: a job handed back by a lost host first, then the input; once
/// the input has ended (`input_done`), only jobs handed back. `None`: leave.
fn next_work(shared: &Shared, input_done: &mut bool) -> Option<Work> {
    let stopped = shared.env.control.stopped();
    let Some(requeue) = &shared.requeue else {
        return select! {
            recv(shared.work_rx) -> work => work.ok(),
            recv(stopped) -> _ => None,
        };
    };
    loop {
        if *input_done {
            return requeue.next_after_input(stopped).map(Work::Job);
        }
        if let Some(job) = requeue.take() {
            return Some(Work::Job(job));
        }
        select! {
            recv(shared.work_rx) -> work => match work {
                Ok(work) => return Some(work),
                Err(_) => {
                    *input_done = true;
                    requeue.input_done();
                }
            },
            recv(requeue.doorbell()) -> _ => {}
            recv(stopped) -> _ => return None,
        }
    }
}

/// Hands a job back for another slot; if no host is left, pmap stops with an error.
fn hand_back(shared: &Shared, job: Job) {
    let (Some(requeue), Some(remote)) = (&shared.requeue, &shared.env.remote) else {
        return;
    };
    requeue.give_back(job);
    if !remote.any_host_left() {
        let _ = shared.env.events.send(Event::Fatal(
            "no host in --sshlogin can be reached any more; the remaining jobs did not run".into(),
        ));
        shared.env.control.stop();
    }
}

fn worker(shared: &Shared, slot: usize) {
    let control = &shared.env.control;
    let mut buf = vec![0u8; 64 * 1024];
    let mut persistent = (shared.env.config.pool == PoolKind::Process)
        .then(|| process::Slot::new(slot, &shared.env));
    let mut input_done = false;
    loop {
        shared.idle.fetch_add(1, Ordering::SeqCst);
        let work = next_work(shared, &mut input_done);
        shared.idle.fetch_sub(1, Ordering::SeqCst);
        let Some(work) = work else { break };
        if control.is_stopping() {
            break;
        }
        let events = &shared.env.events;
        let sent = match work {
            Work::Job(job) if shared.env.config.control.skip.contains(&job.seq) => {
                events.send(Event::Skipped { seq: job.seq })
            }
            Work::Job(job) => {
                let result = match &mut persistent {
                    Some(worker) => Ok(worker.run(job, &shared.env, &mut buf)),
                    None => job::run(job, slot, &shared.env, &mut buf),
                };
                let result = match result {
                    Ok(result) => result,
                    Err(job) => {
                        // This slot's host was lost: its job goes to another slot, and this
                        // worker leaves.
                        hand_back(shared, job);
                        break;
                    }
                };
                if input_done {
                    if let Some(requeue) = &shared.requeue {
                        requeue.done();
                    }
                }
                let (succeeded, interrupted) = (result.succeeded(), result.interrupted);
                let sent = events.send(Event::Finished(Box::new(result)));
                control.job_finished(succeeded, interrupted, events);
                sent
            }
            Work::ReadError(e) => events.send(Event::Fatal(format!("cannot read input: {e}"))),
            Work::End { total } => events.send(Event::InputEnded { total }),
        };
        if sent.is_err() {
            break;
        }
    }
    if let Some(mut worker) = persistent {
        worker.retire(&shared.env, shared.env.config.control.kill_grace);
    }
    control.worker_exited();
}
