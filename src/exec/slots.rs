//! The job slots: up to `-j` threads, one per slot, each running the slot loop
//! ([`slot_loop`]) with the executor its slot needs ([`run_slot`]). The loop is written once
//! for every executor: it takes work from the queue, applies `--retries`, `--delay` and
//! `--halt`, and reports results to the collector.
//!
//! The slot threads are scoped threads of one thread of their own ([`Slots::join`]), so
//! every one is joined when the run ends, and a slot loop that panics is reported (exit
//! 255) instead of leaving its job unreported. Slots open one at a time, as the input needs
//! them (as GNU parallel fills the lowest free slot): the reader opens slot N once it has
//! more queued work than idle slots, and only then is slot N's thread started. (Not a
//! rayon pool: its threads all start at once and search each other for work while idle,
//! which cost 0.3 s before the first job at `-j500` and 10 s at `-j4096`; see
//! docs/decisions.md.)

use std::collections::VecDeque;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender};

use crate::config::Pool;
use crate::event::{Event, Events, JobResult};
use crate::exec::fresh::FreshProcess;
use crate::exec::queue::WorkQueue;
use crate::exec::slurm::SlurmStep;
use crate::exec::ssh::RemoteSlot;
use crate::exec::worker::{PersistentWorker, window};
use crate::exec::{Executor, Handback, JobEnv};
use crate::halt::{Halt, Threshold};
use crate::input::Job;
use crate::lock;

/// How many items are read ahead of the running jobs when `--halt` has a percentage.
const PERCENT_READ_AHEAD: usize = 4096;

/// The stack of a slot thread: the slot loop and its executor need little.
const SLOT_STACK: usize = 256 * 1024;

/// What the job reader hands the slots.
pub enum Work {
    Job(Job),
    /// Reading the input failed; nothing follows.
    ReadError(io::Error),
    /// The input has ended after this many jobs; nothing follows.
    End {
        total: u64,
    },
}

/// What the slot threads share.
struct Shared {
    env: JobEnv,
    queue: WorkQueue<Work>,
    /// Opens a slot: its number goes to the pool's thread, which spawns its loop. Dropped
    /// when no more slots will open (the input has ended, or the run stops).
    opener: Mutex<Option<Sender<usize>>>,
    /// A slot has left for want of system resources (said once per run).
    crowded: AtomicBool,
}

/// The handle the job reader submits work through. Dropping it means the input has ended:
/// the slots finish what is queued and leave.
pub struct Submitter {
    shared: Arc<Shared>,
    opened: usize,
}

/// The running slot threads.
pub struct Slots(std::thread::JoinHandle<()>);

/// Starts `env.config.jobs` slot threads; they take work once it is submitted.
pub fn start(env: JobEnv) -> io::Result<(Submitter, Slots)> {
    let config = &env.config;
    // `--halt` percentages are of the total, known once the input has been read: read
    // further ahead for them, so that for inputs of up to a few thousand items the total
    // is known before the first job ends. Otherwise: room to read ahead, so that the reader
    // is woken once per many jobs.
    let ahead = match config.control.halt {
        // `--pipe` blocks wait in memory: one waits here, one more in the reader.
        _ if config
            .input
            .pipe
            .as_ref()
            .is_some_and(|p| p.part_of.is_none()) =>
        {
            1
        }
        Some(Halt {
            threshold: Threshold::Percent(_),
            ..
        }) => PERCENT_READ_AHEAD,
        // Process-pool workers hold up to a window of items each.
        _ if config.pool == Pool::Process => {
            let window = config.pool_window.unwrap_or(window::AUTO_MAX);
            (2 * config.jobs).saturating_mul(window).clamp(64, 16384)
        }
        _ => (2 * config.jobs).clamp(64, 4096),
    };
    let slots = config.jobs;
    // With --sshlogin, a slot whose host is lost hands its job back for the others, and
    // every slot opens at once, so that a job handed back always finds another host.
    let remote = env.remote.is_some();
    let (opener, opened) = crossbeam_channel::unbounded();
    let shared = Arc::new(Shared {
        queue: WorkQueue::new(ahead),
        opener: Mutex::new(Some(opener)),
        crowded: AtomicBool::new(false),
        env,
    });
    // Weak: the slots' shared state (and with it the event channel's sender) must go
    // away with the slots, so that the collector sees the channel close.
    let waker = Arc::downgrade(&shared);
    shared.env.control.on_stop(Box::new(move || {
        if let Some(shared) = waker.upgrade() {
            shared.queue.wake_all();
            lock(&shared.opener).take();
        }
    }));
    let runner = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("pmap-slots".into())
        .spawn(move || run_pool(&runner, &opened))?;
    let mut submitter = Submitter { shared, opened: 0 };
    if remote {
        while submitter.opened < slots {
            submitter.open_next();
        }
    }
    Ok((submitter, Slots(thread)))
}

impl Slots {
    /// Waits for every slot thread to end.
    pub fn join(self) {
        // A panic in a slot loop is caught and reported where it happens (see `run_slot`).
        let _ = self.0.join();
    }
}

/// Starts a scoped thread for each slot opened, running its slot loop; returns once no
/// more slots will open and every slot thread has been joined.
fn run_pool(shared: &Arc<Shared>, opened: &Receiver<usize>) {
    std::thread::scope(|scope| {
        for slot in opened {
            let started = std::thread::Builder::new()
                .name(format!("pmap-slot-{slot}"))
                .stack_size(SLOT_STACK)
                .spawn_scoped(scope, move || run_slot(shared, slot));
            if let Err(e) = started {
                let control = &shared.env.control;
                control.worker_exited();
                // Running with fewer slots than asked is better than not running at all.
                if slot == 1 {
                    let message = format!("cannot start a job slot thread: {e}");
                    let _ = shared.env.events.send(Event::Fatal(message));
                    control.stop();
                } else {
                    crowded(shared, &e.to_string());
                }
                lock(&shared.opener).take();
            }
        }
    });
}

impl Submitter {
    /// Queues `work`, opening another slot if every open one is busy. Blocks while the
    /// queue is full. Returns false once the run is stopping.
    pub fn submit(&mut self, work: Work) -> bool {
        let shared = Arc::clone(&self.shared);
        if shared.env.control.is_stopping() {
            return false;
        }
        if self.opened < shared.env.config.jobs {
            let (queued, idle) = shared.queue.load();
            if queued >= idle {
                self.open_next();
            }
        }
        shared.queue.push(work, &shared.env.control)
    }

    /// Waits until the queue has room for another job, so that the next one is read only
    /// then (`--pipe`: a block read early is one more block in memory). False once the run
    /// is stopping.
    pub fn wait_for_room(&self) -> bool {
        self.shared.queue.wait_for_room(&self.shared.env.control)
    }

    /// Says something to the user (through the collector, like every message of the run).
    pub fn notice(&self, message: String) {
        let _ = self.shared.env.events.send(Event::Notice(message));
    }

    /// Opens the next slot: its loop starts on a thread of the pool.
    fn open_next(&mut self) {
        if let Some(opener) = lock(&self.shared.opener).as_ref() {
            self.opened += 1;
            self.shared.env.control.worker_started();
            if opener.send(self.opened).is_err() {
                self.shared.env.control.worker_exited();
            }
        }
    }

    /// The input has ended after `total` jobs. `--halt` percentages learn the total at
    /// once, not after the queued jobs have run.
    pub fn end(mut self, total: u64) {
        let env = &self.shared.env;
        env.control.input_ended(total, &env.events);
        self.submit(Work::End { total });
    }
}

impl Drop for Submitter {
    /// The input has ended (or the reader gave up): slots finish what is queued, and the
    /// ones never opened leave.
    fn drop(&mut self) {
        self.shared.queue.close();
        lock(&self.shared.opener).take();
    }
}

/// One open slot's whole life: the slot loop with the executor this slot needs.
fn run_slot(shared: &Shared, slot: usize) {
    if let Some(nice) = shared.env.config.control.nice {
        if let Err(e) = crate::exec::spawn::lower_thread_priority(nice) {
            // Every slot fails alike: the first one to fail says so.
            if !shared.env.control.is_stopping() {
                let message = format!("cannot set --nice {nice}: {e}");
                let _ = shared.env.events.send(Event::Fatal(message));
            }
            shared.env.control.stop();
        }
    }
    guarded(&shared.env, slot, || run_executor(shared, slot));
    shared.env.control.worker_exited();
}

/// Runs `body`, the life of `slot`; a panic in it is caught and reported as pmap's own
/// failure (exit 255), and the run stops.
fn guarded(env: &JobEnv, slot: usize, body: impl FnOnce()) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(body)) {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        let _ = env.events.send(Event::Fatal(format!(
            "internal error in job slot {slot}: {what}; its job's result is lost"
        )));
        env.control.stop();
    }
}

/// Runs the slot loop with the executor for `slot`: one arm per way of running a job.
fn run_executor(shared: &Shared, slot: usize) {
    let env = &shared.env;
    let remote = env.remote.as_deref();
    if let Some(slurm) = &env.config.slurm {
        slot_loop(shared, SlurmStep::new(env, slurm, slot));
        return;
    }
    match remote {
        Some(remote) if !remote.is_local(slot) => {
            slot_loop(shared, RemoteSlot::new(env, remote, slot));
        }
        _ if env.config.pool == Pool::Process => {
            slot_loop(shared, PersistentWorker::new(env, slot));
        }
        _ => {
            let host = remote.map(|r| Arc::clone(&r.host(slot).name));
            match FreshProcess::new(env, slot, host) {
                Ok(executor) => slot_loop(shared, executor),
                Err(e) => {
                    let message = format!("cannot set up job slot {slot}: {e}");
                    let _ = env.events.send(Event::Fatal(message));
                    env.control.stop();
                }
            }
        }
    }
}

/// The slot loop: takes work until there is none or the run stops, runs each job with
/// `executor` (with its retries), and reports it. Lets `executor` retire at the end.
fn slot_loop<E: Executor>(shared: &Shared, mut executor: E) {
    let _member = Member::join(&shared.queue);
    let env = &shared.env;
    let (config, control) = (&env.config, &env.control);
    // A finished job's event waits until this slot has started its next job, so that
    // waking the collector is not in the way between one job and the next. Not with
    // `--halt` (its notice must follow the job that met the condition), `-t` (the next
    // command line would come before this job's output) or `--delay` (the next start
    // waits).
    let defer =
        config.control.halt.is_none() && !config.output.trace && config.control.delay.is_none();
    let mut held = Held {
        events: &env.events,
        event: None,
        gone: false,
    };
    let mut hand = VecDeque::new();
    let mut starved = false;
    while let Some(work) = next_work(shared, &mut executor, &mut hand, &mut held, starved) {
        starved = false;
        let sent = match work {
            Work::Job(job) => {
                let result = run_job(job, &mut executor, env, &mut || held.send());
                held.send();
                let result = match result {
                    Ok(result) => result,
                    Err((job, why)) => match take_back(shared, &mut hand, job, why) {
                        AfterHandback::Again { starved: s } => {
                            starved = s;
                            continue;
                        }
                        AfterHandback::Leave => break,
                    },
                };
                let (succeeded, interrupted) = (result.succeeded(), result.interrupted);
                held.event = Some(Event::Finished(result));
                if !defer {
                    held.send();
                }
                control.job_finished(succeeded, interrupted, &env.events);
                Ok(())
            }
            Work::ReadError(e) => {
                held.send();
                env.events
                    .send(Event::Fatal(format!("cannot read input: {e}")))
            }
            Work::End { total } => {
                held.send();
                env.events.send(Event::InputEnded { total })
            }
        };
        shared.queue.finished();
        if sent.is_err() || held.gone {
            break;
        }
    }
    // A slot that leaves early gives back what it still holds, for the others.
    while let Some(work) = hand.pop_back() {
        shared.queue.hand_back(work);
    }
    held.send();
    executor.retire();
}

/// What a slot does once its executor has handed a job back.
enum AfterHandback {
    /// It takes its next work; `starved`: the executor needs more jobs lined up first.
    Again { starved: bool },
    /// It leaves the run.
    Leave,
}

/// Puts a job the executor handed back (`why`) where it is to go next: at the front of
/// the slot's hand, or back in the queue for any slot.
fn take_back(shared: &Shared, hand: &mut VecDeque<Work>, job: Job, why: Handback) -> AfterHandback {
    match why {
        Handback::Starved => {
            hand.push_front(Work::Job(job));
            return AfterHandback::Again { starved: true };
        }
        Handback::Evicted => {
            let _ = shared.env.events.send(Event::Notice(format!(
                "job {} was ended to free memory (--memfree); it will run again",
                job.seq
            )));
            shared.queue.hand_back(Work::Job(job));
        }
        // Another attempt, preferably on another host.
        Handback::Retry => shared.queue.hand_back(Work::Job(job)),
        Handback::HostLost => {
            // This slot's host was lost: its job goes to another slot, and this slot
            // leaves.
            hand_back(shared, job);
            return AfterHandback::Leave;
        }
        Handback::Crowded(why) => {
            // The system has no room for another job: it waits for a running one to
            // end, and this slot leaves for the rest of the run.
            shared.queue.hand_back(Work::Job(job));
            crowded(shared, &why);
            return AfterHandback::Leave;
        }
    }
    AfterHandback::Again { starved: false }
}

/// The next work for this slot. The slot holds up to the executor's window of work taken
/// from the queue (`hand`), topped up once half of it has gone, and lines its jobs up with
/// the executor; the held event goes out before waiting. Once the run stops, only jobs the
/// executor already has under way are still attempted. `starved`: the executor needs more
/// jobs lined up before the next one can finish, so the hand is topped up to the full
/// window at once.
fn next_work<E: Executor>(
    shared: &Shared,
    executor: &mut E,
    hand: &mut VecDeque<Work>,
    held: &mut Held<'_>,
    starved: bool,
) -> Option<Work> {
    let control = &shared.env.control;
    if control.is_stopping() {
        // The first jobs of the hand are the ones lined up, in order.
        return match hand.pop_front() {
            Some(Work::Job(job)) if executor.lined_up() > 0 => Some(Work::Job(job)),
            _ => {
                hand.clear();
                None
            }
        };
    }
    let window = executor.window().max(1);
    let mut topped_up = false;
    {
        let accept = |work: &Work| match work {
            Work::Job(job) => executor.accepts(job),
            _ => true,
        };
        if hand.len() <= window / 2 || starved {
            while hand.len() < window && !ends_input(hand.back()) {
                match shared.queue.try_pop(control, &accept) {
                    Some(work) => topped_up |= into_hand(shared, hand, work),
                    None => break,
                }
            }
        }
        while hand.is_empty() {
            held.send();
            let work = shared.queue.pop(control, &accept)?;
            topped_up |= into_hand(shared, hand, work);
        }
    }
    // Lined up again only when the hand has grown, or when no more will come (the last
    // jobs, and closing the worker's input, may be waiting for that); only the jobs not
    // lined up yet are gone over, since the hand may hold thousands.
    if window > 1 && (topped_up || starved || hand.len() <= window / 2) {
        let more = !ends_input(hand.back()) && !shared.queue.drained();
        if more && !topped_up && !starved {
            return hand.pop_front();
        }
        let lined_up = executor.lined_up().min(hand.len());
        let mut jobs = hand.range(lined_up..).map_while(|work| match work {
            Work::Job(job) => Some(job),
            _ => None,
        });
        executor.line_up(&mut jobs, more);
    }
    hand.pop_front()
}

/// Puts `work` in the slot's hand, unless it is a job `--resume` skips: that one is
/// reported at once, so that the hand holds only jobs to run (and the input's end).
/// Returns whether the hand grew.
fn into_hand(shared: &Shared, hand: &mut VecDeque<Work>, work: Work) -> bool {
    let env = &shared.env;
    match work {
        Work::Job(job) if env.config.control.skip.contains(&job.seq) => {
            let _ = env.events.send(Event::Skipped { seq: job.seq });
            shared.queue.finished();
            false
        }
        work => {
            hand.push_back(work);
            true
        }
    }
}

/// Whether `work` is the last the input gives.
fn ends_input(work: Option<&Work>) -> bool {
    matches!(work, Some(Work::End { .. } | Work::ReadError(_)))
}

/// Makes attempts at `job` until one succeeds, `--retries` runs out or pmap stops; the last
/// attempt is the job's result. An executor that retries elsewhere gives a failed job
/// back instead, for another slot; one whose attempt cannot run gives it back unrun.
fn run_job<E: Executor>(
    mut job: Job,
    executor: &mut E,
    env: &JobEnv,
    started: &mut dyn FnMut(),
) -> Result<JobResult, (Job, Handback)> {
    let attempts = env.config.control.retries.saturating_add(1);
    let mut attempt = job.attempts.saturating_add(1);
    loop {
        let (mut result, results) = match executor.attempt(&job, started) {
            Ok(attempt) => attempt,
            Err(why) => return Err((job, why)),
        };
        result.attempts = attempt;
        let stop = env.control.is_stopping();
        if result.succeeded() || attempt >= attempts || stop {
            result.interrupted = stop && env.control.is_terminating() && !result.succeeded();
            // Only --json and --results print them; dropped here otherwise, on the slot's
            // thread, and not on the collector's, which does every job's work one at a
            // time.
            let shown = &env.config.output;
            if shown.json || shown.results.is_some() {
                result.values = job.values;
            }
            if let Some(results) = results {
                if let Err(e) = results.finish(&result) {
                    result
                        .error
                        .get_or_insert(format!("cannot write --results files: {e}"));
                }
            }
            return Ok(result);
        }
        if executor.retries_elsewhere() {
            job.attempts = attempt;
            executor.failed_here(&mut job);
            return Err((job, Handback::Retry));
        }
        attempt += 1;
    }
}

/// Says once per run that pmap runs fewer jobs at once than asked, and why.
fn crowded(shared: &Shared, why: &str) {
    if !shared.crowded.swap(true, Ordering::SeqCst) {
        let _ = shared.env.events.send(Event::Notice(format!(
            "cannot start another job ({why}); running fewer jobs at once from now on"
        )));
    }
}

/// Hands a job back for another slot; if no host is left, pmap stops with an error.
fn hand_back(shared: &Shared, job: Job) {
    shared.queue.hand_back(Work::Job(job));
    let env = &shared.env;
    if env.remote.as_ref().is_some_and(|r| !r.any_host_left()) {
        let _ = env.events.send(Event::Fatal(
            "no host in --sshlogin can be reached any more; the remaining jobs did not run".into(),
        ));
        env.control.stop();
    }
}

/// A slot's membership of the queue's live workers, ended even if the slot panics (a
/// handed-back job would otherwise wait for it for ever).
struct Member<'a>(&'a WorkQueue<Work>);

impl<'a> Member<'a> {
    fn join(queue: &'a WorkQueue<Work>) -> Self {
        queue.join();
        Member(queue)
    }
}

impl Drop for Member<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

/// A finished job's event that a slot holds back for a moment (see `slot_loop`).
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

#[cfg(test)]
#[path = "slots_tests.rs"]
mod tests;
