//! [`Control`]: what the rest of pmap holds to steer a running pool: stop starting jobs,
//! end the running ones (through the one [`Escalation`] ladder), and know which process
//! group each slot is running, so that a signal never reaches a reaped (and maybe reused)
//! process id.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::event::{Event, Events, JobStatus};
use crate::exec::escalate::Escalation;
use crate::exec::{spawn, supervise};
use crate::halt::{HaltMode, HaltWatch};
use crate::lock;
use crate::slurm::step::RunningStep;
use crate::template::Rendered;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Shared steering state of a pool: the stop flag and the process group of each slot's
/// running job.
pub struct Control {
    stopping: AtomicBool,
    stop_tx: Mutex<Option<Sender<()>>>,
    stop_rx: Receiver<()>,
    /// The job running in each slot. A job stays registered until it has exited but before
    /// it is reaped, so its id cannot have been reused by the time a signal is sent under
    /// this lock.
    running: Vec<Mutex<Running>>,
    /// Worker threads that have been started and not yet exited.
    live_workers: AtomicUsize,
    /// Running jobs are being ended: where the run is on the TERM → grace → KILL ladder.
    ladder: Mutex<Option<Escalation>>,
    /// Signalled whenever `ladder` is set or moved.
    kill_changed: Condvar,
    terminating: AtomicBool,
    /// The run is over (see [`Control::close`]).
    closed: AtomicBool,
    /// `--slurm`: the jobs are Slurm steps (see [`Control::jobs_are_slurm_steps`]).
    steps: AtomicBool,
    /// The signal that interrupted pmap (SIGINT or SIGTERM), 0 if none.
    interrupted_by: AtomicI32,
    /// `--halt`, if asked for.
    halt: Option<HaltWatch>,
    /// `--kill-grace`, for a `--halt now` that ends the running jobs.
    grace: Duration,
    /// SIGUSR1 asks the collector for a list of the running jobs (see
    /// [`Control::request_report`]).
    report_tx: Sender<()>,
    report_rx: Receiver<()>,
    /// Run by [`Control::stop`], to wake threads blocked elsewhere than on `stopped()`.
    stop_hooks: Mutex<Vec<StopHook>>,
    /// Run when the running jobs get SIGKILL at the end of the grace: the run is ending,
    /// and nothing may keep pmap waiting any more.
    kill_hooks: Mutex<Vec<StopHook>>,
}

type StopHook = Box<dyn Fn() + Send + Sync>;

impl Control {
    pub fn new(slots: usize, halt: Option<HaltWatch>, grace: Duration) -> Self {
        let (stop_tx, stop_rx) = crossbeam_channel::bounded(0);
        let (report_tx, report_rx) = crossbeam_channel::bounded(1);
        Control {
            stopping: AtomicBool::new(false),
            stop_tx: Mutex::new(Some(stop_tx)),
            stop_rx,
            running: (0..slots).map(|_| Mutex::new(Running::default())).collect(),
            live_workers: AtomicUsize::new(0),
            ladder: Mutex::new(None),
            kill_changed: Condvar::new(),
            terminating: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            steps: AtomicBool::new(false),
            interrupted_by: AtomicI32::new(0),
            halt,
            grace,
            stop_hooks: Mutex::new(Vec::new()),
            kill_hooks: Mutex::new(Vec::new()),
            report_tx,
            report_rx,
        }
    }

    /// `--slurm`: every job registered from now on is a Slurm step's `srun`, which is ended
    /// in its own way (see `Running::signal`).
    pub fn jobs_are_slurm_steps(&self) {
        self.steps.store(true, Ordering::SeqCst);
    }

    /// `--slurm`: the job `slot` is about to register runs as `step` (its header has been
    /// read), which is how it is ended from then on. The next [`Control::register`] of the
    /// slot takes it.
    pub(crate) fn step_started(&self, slot: usize, step: Arc<RunningStep>) {
        lock(&self.running[slot - 1]).slurm = Some(step);
    }

    /// Registers `hook` to run whenever the pool is told to stop.
    pub(crate) fn on_stop(&self, hook: StopHook) {
        lock(&self.stop_hooks).push(hook);
    }

    /// Registers `hook` to run when the running jobs are killed at the end of the grace.
    pub fn on_kill(&self, hook: StopHook) {
        lock(&self.kill_hooks).push(hook);
    }

    /// Counts a job's final result toward `--halt`, stopping the pool if the condition now
    /// holds. Workers call it before they take another job.
    pub(crate) fn job_finished(&self, succeeded: bool, interrupted: bool, events: &Events) {
        if let Some(watch) = &self.halt {
            let verdict = watch.job_finished(succeeded, interrupted);
            self.halt_if(verdict, events);
        }
    }

    /// The input has ended after `total` jobs (percentages in `--halt` need it).
    pub(crate) fn input_ended(&self, total: u64, events: &Events) {
        if let Some(watch) = &self.halt {
            let verdict = watch.input_ended(total);
            self.halt_if(verdict, events);
        }
    }

    fn halt_if(&self, verdict: Option<(HaltMode, String)>, events: &Events) {
        let Some((mode, what)) = verdict else { return };
        if self.is_stopping() {
            return;
        }
        let notice = match mode {
            HaltMode::Soon => {
                self.stop();
                format!("--halt: {what}; starting no more jobs, waiting for the running ones")
            }
            HaltMode::Now => {
                self.terminate(self.grace);
                format!("--halt: {what}; ending the running jobs")
            }
        };
        let _ = events.send(Event::Notice(notice));
    }

    /// Start no more jobs. Idle workers wake up and exit.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        lock(&self.stop_tx).take();
        for hook in lock(&self.stop_hooks).iter() {
            hook();
        }
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// A channel that becomes disconnected once [`Control::stop`] is called.
    pub fn stopped(&self) -> &Receiver<()> {
        &self.stop_rx
    }

    /// Start no more jobs and end the running ones: SIGTERM to their process groups now,
    /// SIGKILL after `grace` (see [`Control::enforce_grace`]).
    pub fn terminate(&self, grace: Duration) {
        self.stop();
        self.terminating.store(true, Ordering::SeqCst);
        let due = {
            let mut ladder = lock(&self.ladder);
            let ladder = ladder.get_or_insert_with(|| Escalation::now(grace));
            self.kill_changed.notify_all();
            ladder.due(Instant::now())
        };
        if let Some(signal) = due {
            self.signal_running(signal);
        }
    }

    /// End the running jobs at once (SIGKILL).
    pub fn kill_now(&self) {
        self.stop();
        self.terminating.store(true, Ordering::SeqCst);
        lock(&self.ladder)
            .get_or_insert_with(|| Escalation::now(Duration::ZERO))
            .hurry();
        self.kill_changed.notify_all();
    }

    /// Blocks until the running jobs are to be killed (the grace given to
    /// [`Control::terminate`] is over, or [`Control::kill_now`]), then SIGKILLs them, or
    /// until [`Control::close`]. Run it on a thread of its own for the whole run; jobs
    /// registered after the kill are killed as they register.
    pub fn enforce_grace(&self) {
        loop {
            let mut ladder = lock(&self.ladder);
            if self.closed.load(Ordering::SeqCst) {
                return;
            }
            let now = Instant::now();
            let (due, wait) = match ladder.as_mut() {
                Some(l) => (l.due(now), l.wait(now)),
                None => (None, None),
            };
            if let Some(signal) = due {
                // Slot locks are taken after this one elsewhere: never while holding it.
                drop(ladder);
                self.signal_running(signal);
                if signal == Signal::SIGKILL {
                    for hook in lock(&self.kill_hooks).iter() {
                        hook();
                    }
                    return;
                }
                continue;
            }
            let _unlocked = match wait {
                Some(wait) => {
                    self.kill_changed
                        .wait_timeout(ladder, wait)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
                None => self
                    .kill_changed
                    .wait(ladder)
                    .unwrap_or_else(|p| p.into_inner()),
            };
        }
    }

    /// Whether the run is over ([`Control::close`]).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// `--memfree`: sends SIGTERM to the youngest running job, if another job runs too,
    /// and marks it evicted (see [`Control::take_evicted`]). Returns its slot and process
    /// group.
    pub(crate) fn evict_youngest(&self) -> Option<(usize, i32)> {
        let mut youngest: Option<(Instant, usize, i32)> = None;
        let mut running = 0;
        for (i, slot) in self.running.iter().enumerate() {
            let entry = lock(slot);
            if let Some(job) = entry.job.as_ref().filter(|_| entry.pgid > 0) {
                running += 1;
                if youngest.is_none_or(|(since, _, _)| job.since > since) {
                    youngest = Some((job.since, i + 1, entry.pgid));
                }
            }
        }
        let (_, slot, pgid) = youngest.filter(|_| running > 1)?;
        let mut entry = lock(&self.running[slot - 1]);
        if entry.pgid != pgid {
            return None;
        }
        entry.evicted = true;
        entry.signal(Signal::SIGTERM);
        Some((slot, pgid))
    }

    /// Sends `signal` to `slot`'s job if it is still the process group `pgid`.
    pub(crate) fn signal_if_still(&self, slot: usize, pgid: i32, signal: Signal) {
        let mut entry = lock(&self.running[slot - 1]);
        if entry.pgid == pgid {
            entry.signal(signal);
        }
    }

    /// Whether `slot`'s job was ended by [`Control::evict_youngest`]; call it before the
    /// job is reaped.
    pub(crate) fn take_evicted(&self, slot: usize) -> bool {
        std::mem::take(&mut lock(&self.running[slot - 1]).evicted)
    }

    /// The run is over: [`Control::enforce_grace`] returns.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ladder = lock(&self.ladder);
        self.kill_changed.notify_all();
    }

    pub fn is_terminating(&self) -> bool {
        self.terminating.load(Ordering::SeqCst)
    }

    /// Records that pmap was interrupted by `signal` (first one wins).
    pub fn set_interrupted(&self, signal: i32) {
        let _ = self
            .interrupted_by
            .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// The signal that interrupted pmap, if any.
    pub fn interrupted_by(&self) -> Option<i32> {
        match self.interrupted_by.load(Ordering::SeqCst) {
            0 => None,
            sig => Some(sig),
        }
    }

    /// Whether any worker thread (and so possibly a job) is still alive.
    pub fn has_live_workers(&self) -> bool {
        self.live_workers.load(Ordering::SeqCst) > 0
    }

    /// How many slots are open (their threads running).
    pub(crate) fn live_slots(&self) -> usize {
        self.live_workers.load(Ordering::SeqCst)
    }

    pub(crate) fn worker_started(&self) {
        self.live_workers.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn worker_exited(&self) {
        self.live_workers.fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether a job runs in any slot but `slot`.
    pub(crate) fn others_running(&self, slot: usize) -> bool {
        self.running
            .iter()
            .enumerate()
            .any(|(i, running)| i + 1 != slot && lock(running).pgid > 0)
    }

    /// Asks the collector to list the running jobs (SIGUSR1); a request already waiting
    /// covers this one.
    pub fn request_report(&self) {
        let _ = self.report_tx.try_send(());
    }

    /// Requests for a list of the running jobs, for the collector to wait on.
    pub fn report_requests(&self) -> &Receiver<()> {
        &self.report_rx
    }

    /// One line per running job, in slot order, for SIGUSR1: its number, slot, how long it
    /// has run, and its command.
    pub fn running_report(&self) -> Vec<String> {
        let now = Instant::now();
        let mut lines = Vec::new();
        for (i, slot) in self.running.iter().enumerate() {
            if let Some(job) = &lock(slot).job {
                let mut command = Vec::new();
                job.command.display_line_into(&mut command);
                lines.push(format!(
                    "job {} (slot {}) running for {:.1} s: {}",
                    job.seq,
                    i + 1,
                    now.duration_since(job.since).as_secs_f64(),
                    String::from_utf8_lossy(&command)
                ));
            }
        }
        lines
    }

    /// Sends `signal` to the process group of every running job (after hanging up the
    /// remote ones).
    pub fn signal_running(&self, signal: Signal) {
        for slot in &self.running {
            lock(slot).signal(signal);
        }
    }

    /// Ends `slot`'s job with `signal`: hangs up its stdin if it is a remote job, and
    /// signals its process group.
    pub(crate) fn signal_slot(&self, slot: usize, signal: Signal) {
        lock(&self.running[slot - 1]).signal(signal);
    }

    /// Records that `slot` (1-based) runs the job whose process group is `pgid`; `stdin`
    /// is, for a remote job, the pipe to its ssh client that pmap closes to end the remote
    /// command (see [`crate::remote::ssh`]); `job` is what SIGUSR1 reports about it. If the
    /// pool is being ended meanwhile, the job
    /// is ended at once.
    pub(crate) fn register(
        &self,
        slot: usize,
        pgid: i32,
        stdin: Option<OwnedFd>,
        job: Option<RunningJob>,
    ) {
        let step = self.steps.load(Ordering::SeqCst);
        let mut entry = lock(&self.running[slot - 1]);
        let slurm = entry.slurm.take();
        *entry = Running {
            pgid,
            stdin,
            job,
            evicted: false,
            step,
            slurm,
        };
        if self.is_terminating() {
            let killed = lock(&self.ladder).as_ref().is_none_or(Escalation::killed);
            entry.signal(if killed {
                Signal::SIGKILL
            } else {
                Signal::SIGTERM
            });
        }
    }

    /// Waits for `slot`'s job, the leader of process group `pid`, to exit, reaps it and
    /// forgets it (closing a remote job's stdin). The job is reaped under its slot's lock,
    /// so no signal can be sent to its group id once it may be reused. If pmap is stopping,
    /// what is left of the group (grandchildren) is killed before the leader is reaped.
    pub(crate) fn reap(&self, slot: usize, pid: i32, name: &OsStr) -> JobStatus {
        let mut exited = false;
        loop {
            if self.is_terminating() {
                if !exited {
                    supervise::wait_for_exit(pid);
                }
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            {
                let mut entry = lock(&self.running[slot - 1]);
                if let Some(status) = spawn::try_reap(pid, name) {
                    *entry = Running::default();
                    return status;
                }
            }
            // Its pipes have closed but it is still running: wait outside the lock.
            supervise::wait_for_exit(pid);
            exited = true;
        }
    }
}

/// The job running in a slot: its process group (0 if none), for a remote job the write end
/// of its ssh client's stdin, and what SIGUSR1 reports about it.
#[derive(Default)]
struct Running {
    pgid: i32,
    stdin: Option<OwnedFd>,
    job: Option<RunningJob>,
    /// Ended by `--memfree` to run again later.
    evicted: bool,
    /// An `srun`: SIGTERM to it kills its step with SIGKILL at once, SIGKILL to it would
    /// leave the step running.
    step: bool,
    /// The srun's step, once started: ended through Slurm (see `crate::slurm::step`).
    slurm: Option<Arc<RunningStep>>,
}

/// A running job as SIGUSR1 reports it.
pub struct RunningJob {
    pub seq: u64,
    pub since: Instant,
    pub command: Rendered,
}

impl Running {
    fn signal(&mut self, signal: Signal) {
        self.stdin.take();
        // The spawn returns only once the job leads its own process group (posix_spawn's
        // SETPGROUP, std's process_group), so the group exists whenever pgid is set.
        if self.pgid <= 0 {
            return;
        }
        if let Some(step) = &self.slurm {
            // TERM through `scancel`, KILL as SIGTERM to srun.
            step.end(signal, self.pgid);
            return;
        }
        let signal = match signal {
            // An srun without a step (it ended before its step started): SIGTERM, as a
            // SIGKILL would leave a step it started running.
            Signal::SIGKILL if self.step => Signal::SIGTERM,
            signal => signal,
        };
        let _ = killpg(Pid::from_raw(self.pgid), signal);
    }
}
