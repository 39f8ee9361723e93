//! With `--sshlogin`: jobs handed back by a slot whose host was lost, for the other slots to
//! run. A worker leaves only when nothing can be handed back any more: the input has ended,
//! no job is queued here, and no other worker is still running one (which might come
//! back).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, select};

use crate::input::Job;

/// How often a worker that has run out of input looks for jobs handed back.
const TAIL_POLL: Duration = Duration::from_millis(50);

pub struct Requeue {
    state: Mutex<State>,
    doorbell_tx: Sender<()>,
    doorbell_rx: Receiver<()>,
}

struct State {
    jobs: VecDeque<Job>,
    /// Workers that may still hand a job back: those reading input, and those running a
    /// job handed back.
    active: usize,
}

impl Default for Requeue {
    fn default() -> Self {
        let (doorbell_tx, doorbell_rx) = crossbeam_channel::unbounded();
        Requeue {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                active: 0,
            }),
            doorbell_tx,
            doorbell_rx,
        }
    }
}

impl Requeue {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A worker starts (reading input).
    pub fn worker_started(&self) {
        self.lock().active += 1;
    }

    /// A job handed back, for a worker that is reading input.
    pub fn take(&self) -> Option<Job> {
        self.lock().jobs.pop_front()
    }

    /// Rings when a job is handed back.
    pub fn doorbell(&self) -> &Receiver<()> {
        &self.doorbell_rx
    }

    /// Hands `job` back; the calling worker leaves.
    pub fn give_back(&self, job: Job) {
        let mut state = self.lock();
        state.jobs.push_back(job);
        state.active -= 1;
        drop(state);
        let _ = self.doorbell_tx.send(());
    }

    /// The calling worker found the input ended.
    pub fn input_done(&self) {
        self.lock().active -= 1;
    }

    /// After the input ended: the next job handed back (the worker is then active until
    /// [`Requeue::done`]), or `None` when none can come any more or pmap stops.
    pub fn next_after_input(&self, stopped: &Receiver<()>) -> Option<Job> {
        loop {
            {
                let mut state = self.lock();
                if let Some(job) = state.jobs.pop_front() {
                    state.active += 1;
                    return Some(job);
                }
                if state.active == 0 {
                    return None;
                }
            }
            select! {
                recv(self.doorbell_rx) -> _ => {}
                recv(stopped) -> _ => return None,
                default(TAIL_POLL) => {}
            }
        }
    }

    /// A job taken after the input ended has finished.
    pub fn done(&self) {
        self.lock().active -= 1;
    }
}
