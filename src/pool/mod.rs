//! Executors: they start jobs, read their pipes and send [`crate::event::Event`]s. They
//! never print.
//!
//! [`Control`] is what the rest of pmap holds to steer a running pool: stop starting jobs,
//! and signal the process groups of the jobs that are running.

pub mod job;
pub mod thread;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crossbeam_channel::{Receiver, Sender};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Shared steering state of a pool: the stop flag and the process group of each slot's
/// running job.
pub struct Control {
    stopping: AtomicBool,
    stop_tx: Mutex<Option<Sender<()>>>,
    stop_rx: Receiver<()>,
    /// The process-group id (= pid) of the job running in each slot, 0 if none. A job stays
    /// registered until it has exited but before it is reaped, so its id cannot have been
    /// reused by the time a signal is sent under this lock.
    running: Vec<Mutex<i32>>,
    /// Worker threads that have been started and not yet exited.
    live_workers: AtomicUsize,
}

impl Control {
    pub fn new(slots: usize) -> Self {
        let (stop_tx, stop_rx) = crossbeam_channel::bounded(0);
        Control {
            stopping: AtomicBool::new(false),
            stop_tx: Mutex::new(Some(stop_tx)),
            stop_rx,
            running: (0..slots).map(|_| Mutex::new(0)).collect(),
            live_workers: AtomicUsize::new(0),
        }
    }

    /// Start no more jobs. Idle workers wake up and exit.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        lock(&self.stop_tx).take();
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// A channel that becomes disconnected once [`Control::stop`] is called.
    pub fn stopped(&self) -> &Receiver<()> {
        &self.stop_rx
    }

    /// Whether any worker thread (and so possibly a job) is still alive.
    pub fn has_live_workers(&self) -> bool {
        self.live_workers.load(Ordering::SeqCst) > 0
    }

    pub(crate) fn worker_started(&self) {
        self.live_workers.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn worker_exited(&self) {
        self.live_workers.fetch_sub(1, Ordering::SeqCst);
    }

    /// Sends `signal` to the process group of every running job.
    pub fn signal_running(&self, signal: Signal) {
        for slot in &self.running {
            let pgid = lock(slot);
            if *pgid > 0 {
                let _ = killpg(Pid::from_raw(*pgid), signal);
            }
        }
    }

    /// Records that `slot` (1-based) runs the job whose process group is `pgid`. If the pool
    /// was stopped meanwhile, the job is ended at once.
    pub(crate) fn register(&self, slot: usize, pgid: i32) {
        let mut entry = lock(&self.running[slot - 1]);
        *entry = pgid;
        if self.is_stopping() {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
        }
    }

    /// Forgets `slot`'s job; call after it exited and before it is reaped.
    pub(crate) fn unregister(&self, slot: usize) {
        *lock(&self.running[slot - 1]) = 0;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
