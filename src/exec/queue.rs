//! The bounded queue between the input reader and the worker threads.
//!
//! A plain bounded channel wakes the blocked reader every time a worker takes an item, so
//! with fast jobs the reader and the workers take turns sleeping: several context switches
//! per job. This queue lets the reader run ahead by up to its capacity and wakes it only
//! once the queue has drained to half, and wakes a worker only when one is waiting.
//!
//! A slot that cannot run its job (its ssh host is lost, the system has no room for another
//! process) hands it back to the front of the queue; workers then leave only once nothing
//! can come back any more: the input has ended, nothing is queued and no other worker holds
//! a job.
//!
//! A worker may pass over a handed-back item (a retry prefers a host it has not failed on).
//! Once nothing can come back any more, such an item goes to a worker that does not want it
//! only after every live worker has passed it over: a worker that is between two items is
//! still live, so a retry is not taken by the wrong host in the moment its right host is
//! finishing its last job.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::exec::Control;

pub struct WorkQueue<T> {
    state: Mutex<State<T>>,
    /// Workers wait here for items.
    filled: Condvar,
    /// The producer waits here for room.
    drained: Condvar,
    capacity: usize,
}

struct State<T> {
    items: VecDeque<T>,
    /// No more items will come.
    closed: bool,
    /// Workers waiting for an item.
    idle: usize,
    producer_waiting: bool,
    /// Items taken and not yet reported [`WorkQueue::finished`] or handed back.
    busy: usize,
    /// Workers between [`WorkQueue::join`] and [`WorkQueue::leave`].
    workers: usize,
    /// Bumped whenever the queued items change, so that passing over them is counted
    /// afresh.
    round: u64,
    /// Workers that passed over every queued item in this round while nothing could come
    /// back any more.
    passed_over: usize,
}

impl<T> WorkQueue<T> {
    pub fn new(capacity: usize) -> Self {
        WorkQueue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
                idle: 0,
                producer_waiting: false,
                busy: 0,
                workers: 0,
                round: 0,
                passed_over: 0,
            }),
            filled: Condvar::new(),
            drained: Condvar::new(),
            capacity: capacity.max(1),
        }
    }

    /// The queue's state once it has room, waiting while it is full; `None` once `control`
    /// is stopping.
    fn lock_with_room(&self, control: &Control) -> Option<MutexGuard<'_, State<T>>> {
        let mut state = self.lock();
        while state.items.len() >= self.capacity {
            if control.is_stopping() {
                return None;
            }
            state.producer_waiting = true;
            state = self.drained.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        state.producer_waiting = false;
        (!control.is_stopping()).then_some(state)
    }

    /// Blocks while the queue is full. Returns false once `control` is stopping.
    pub fn wait_for_room(&self, control: &Control) -> bool {
        self.lock_with_room(control).is_some()
    }

    /// Adds `item`, blocking while the queue is full. Returns false, dropping the item, once
    /// `control` is stopping.
    pub fn push(&self, item: T, control: &Control) -> bool {
        let Some(mut state) = self.lock_with_room(control) else {
            return false;
        };
        state.items.push_back(item);
        state.new_round();
        if state.idle > 0 {
            self.filled.notify_one();
        }
        true
    }

    /// Takes the next item that `accept` takes (the first one, for every item
    /// [`WorkQueue::push`]ed: only handed-back items are ever passed over), blocking while
    /// there is none. `None` once the queue is closed and empty, or `control` is stopping.
    /// Once nothing can come back, an item no live worker takes goes to anyone.
    pub fn pop(&self, control: &Control, accept: &dyn Fn(&T) -> bool) -> Option<T> {
        let mut state = self.lock();
        let mut passed_in = None;
        loop {
            if control.is_stopping() {
                return None;
            }
            if let Some(item) = self.take(&mut state, accept) {
                return Some(item);
            }
            if state.closed && state.busy == 0 {
                if state.items.is_empty() {
                    return None;
                }
                if passed_in != Some(state.round) {
                    passed_in = Some(state.round);
                    state.passed_over += 1;
                    self.filled.notify_all();
                }
                if state.passed_over >= state.workers {
                    return self.take(&mut state, &|_| true);
                }
            }
            state.idle += 1;
            state = self.filled.wait(state).unwrap_or_else(|p| p.into_inner());
            state.idle -= 1;
        }
    }

    /// Takes the next item `accept` takes, if one is queued, without waiting.
    pub fn try_pop(&self, control: &Control, accept: &dyn Fn(&T) -> bool) -> Option<T> {
        if control.is_stopping() {
            return None;
        }
        self.take(&mut self.lock(), accept)
    }

    fn take(&self, state: &mut State<T>, accept: &dyn Fn(&T) -> bool) -> Option<T> {
        let at = state.items.iter().position(accept)?;
        let item = state.items.remove(at)?;
        state.busy += 1;
        state.new_round();
        if state.producer_waiting && state.items.len() <= self.capacity / 2 {
            state.producer_waiting = false;
            self.drained.notify_one();
        }
        Some(item)
    }

    /// The item last taken by the caller is done with (workers wait for that before
    /// leaving, since it might have come back).
    pub fn finished(&self) {
        let mut state = self.lock();
        state.busy -= 1;
        if state.busy == 0 && state.closed {
            self.filled.notify_all();
        }
    }

    /// Puts the item the caller took back at the front, for another worker.
    pub fn hand_back(&self, item: T) {
        let mut state = self.lock();
        state.items.push_front(item);
        state.busy = state.busy.saturating_sub(1);
        state.new_round();
        self.filled.notify_all();
    }

    /// A worker starts taking items; until it [`WorkQueue::leave`]s, an item it passes
    /// over waits for it to decide.
    pub fn join(&self) {
        self.lock().workers += 1;
    }

    /// A worker takes no more items.
    pub fn leave(&self) {
        let mut state = self.lock();
        state.workers = state.workers.saturating_sub(1);
        self.filled.notify_all();
    }

    /// No more items will be pushed; workers drain what is queued and then get `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.filled.notify_all();
    }

    /// Wakes everything blocked on the queue so that it sees that the pool is stopping.
    /// Taking the lock first means no waiter can miss it between its check and its wait.
    pub fn wake_all(&self) {
        let _state = self.lock();
        self.filled.notify_all();
        self.drained.notify_all();
    }

    /// Whether no more items will come: the queue is closed and empty (a handed-back item
    /// may still come back).
    pub fn drained(&self) -> bool {
        let state = self.lock();
        state.closed && state.items.is_empty()
    }

    /// Items queued and workers waiting, for deciding whether to start another worker.
    pub fn load(&self) -> (usize, usize) {
        let state = self.lock();
        (state.items.len(), state.idle)
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        crate::lock(&self.state)
    }
}

impl<T> State<T> {
    fn new_round(&mut self) {
        self.round += 1;
        self.passed_over = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn control() -> Arc<Control> {
        Arc::new(Control::new(1, None, Duration::ZERO))
    }

    #[test]
    fn delivers_in_order_across_threads_and_ends_when_closed() {
        let queue = Arc::new(WorkQueue::new(4));
        let control = control();
        let consumer = {
            let (queue, control) = (Arc::clone(&queue), Arc::clone(&control));
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while let Some(n) = queue.pop(&control, &|_| true) {
                    got.push(n);
                    queue.finished();
                }
                got
            })
        };
        for n in 0..1000 {
            assert!(queue.push(n, &control));
        }
        queue.close();
        assert_eq!(consumer.join().unwrap(), (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn with_hand_backs_workers_wait_for_what_may_come_back() {
        let queue = Arc::new(WorkQueue::new(4));
        let control = control();
        assert!(queue.push(1, &control));
        queue.close();
        assert_eq!(queue.pop(&control, &|_| true), Some(1));
        let other = {
            let (queue, control) = (Arc::clone(&queue), Arc::clone(&control));
            std::thread::spawn(move || {
                let got = queue.pop(&control, &|_| true);
                if got.is_some() {
                    queue.finished();
                }
                (got, queue.pop(&control, &|_| true))
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        queue.hand_back(1);
        assert_eq!(other.join().unwrap(), (Some(1), None));
    }

    #[test]
    fn a_passed_over_item_waits_for_a_live_worker_between_two_items() {
        // Worker A passes over item 1 (a retry that failed on its host); worker B is
        // finishing item 2. The moment B finishes, nothing can come back any more, but
        // item 1 is still B's to take: A must not take it while B is live.
        let queue = Arc::new(WorkQueue::new(4));
        let control = control();
        queue.join();
        queue.join();
        assert!(queue.push(1, &control));
        assert!(queue.push(2, &control));
        queue.close();
        assert_eq!(queue.pop(&control, &|_| true), Some(1));
        assert_eq!(queue.pop(&control, &|_| true), Some(2));
        queue.hand_back(1);
        let a = {
            let (queue, control) = (Arc::clone(&queue), Arc::clone(&control));
            std::thread::spawn(move || {
                let got = queue.pop(&control, &|&n| n != 1);
                queue.leave();
                got
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        queue.finished();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(queue.try_pop(&control, &|_| true), Some(1));
        queue.finished();
        assert_eq!(a.join().unwrap(), None);
    }

    #[test]
    fn an_item_every_live_worker_passes_over_goes_to_one_of_them() {
        let queue = Arc::new(WorkQueue::new(4));
        let control = control();
        let workers: Vec<_> = (0..3)
            .map(|_| {
                queue.join();
                let (queue, control) = (Arc::clone(&queue), Arc::clone(&control));
                std::thread::spawn(move || {
                    let got = queue.pop(&control, &|_| false);
                    if got.is_some() {
                        queue.finished();
                    }
                    let rest = queue.pop(&control, &|_| false);
                    queue.leave();
                    (got, rest)
                })
            })
            .collect();
        assert!(queue.push(7, &control));
        queue.close();
        let got: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        assert_eq!(got.iter().filter(|g| g.0 == Some(7)).count(), 1, "{got:?}");
        assert!(got.iter().all(|g| g.1.is_none()), "{got:?}");
    }

    #[test]
    fn a_stop_releases_a_blocked_producer_and_waiting_workers() {
        let queue = Arc::new(WorkQueue::new(1));
        let control = control();
        assert!(queue.push(1, &control));
        let producer = {
            let (queue, control) = (Arc::clone(&queue), Arc::clone(&control));
            std::thread::spawn(move || queue.push(2, &control))
        };
        std::thread::sleep(Duration::from_millis(50));
        control.stop();
        queue.wake_all();
        assert!(!producer.join().unwrap());
        assert_eq!(queue.pop(&control, &|_| true), None);
    }
}
