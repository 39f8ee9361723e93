//! The process pool (`--pool process`): each slot keeps one long-lived worker process, like
//! a multiprocessing pool. An item goes to the worker's stdin as one line (NUL-terminated
//! with `-0`); the worker's next line on stdout is that item's output. Items are pipelined:
//! the slot lines up a few jobs ahead ([`Executor::line_up`]), which go to the worker before
//! their turn (as many as the [`window`] allows), and answers belong to items in the order
//! they were sent. A worker that dies holding an item fails it and is replaced, and the
//! items sent behind it go to the new worker without counting as attempts; `--max-tasks`
//! retires workers; `--timeout` replaces a worker that overruns an item. Worker stderr is
//! passed on line by line, tagged with the slot under `--tag`. [`process`] has the pipes.

mod breaker;
mod process;
pub mod window;

use std::borrow::Cow;
use std::ffi::OsStr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::capture::sink::JobSink;
use crate::event::{Event, JobStatus};
use crate::exec::escalate::Escalation;
use crate::exec::supervise::has_exited;
use crate::exec::{Attempt, Executor, Handback, JobEnv, finish_attempt};
use crate::input::Job;
use crate::template::JobContext;
use breaker::FAILED_STARTS;
pub use breaker::StartBreaker;
use process::{Leftover, Worker};
use window::Window;

/// One slot's worker process, started on first use and replaced when it dies.
pub struct PersistentWorker<'a> {
    env: &'a JobEnv,
    slot: usize,
    buf: Vec<u8>,
    worker: Option<Worker>,
    /// `slot N\t` under `--tag`, else empty.
    prefix: Vec<u8>,
    window: Window,
    /// The byte that ends items: NUL with `-0`, else newline.
    end: u8,
}

/// How often a worker that is silent while it owes answers is looked at, to see whether
/// it is waiting for input instead of working.
const LOOK_EVERY: Duration = Duration::from_millis(20);
const LOOK_OFTEN: Duration = Duration::from_millis(2);

/// How waiting for an item's answer ended.
enum Answer {
    Line,
    /// The worker closed stdout (exited, or crashed) first; whether it had written part
    /// of a line.
    Gone {
        said: bool,
    },
    TimedOut,
    /// The worker waits for more input before it answers: the window has grown, and the
    /// slot is to line up more items ([`Handback::Starved`]).
    Starved,
}

/// What an exchange with the worker came to: the item's status, whether it timed out,
/// and since when the worker was on it.
type Outcome = (JobStatus, bool, Instant);

impl<'a> PersistentWorker<'a> {
    pub fn new(env: &'a JobEnv, slot: usize) -> Self {
        let config = &env.config;
        let prefix = if config.output.tag.is_some() {
            format!("slot {slot}\t").into_bytes()
        } else {
            Vec::new()
        };
        // With --delay every item's start is paced, so items go one at a time.
        let fixed = if config.control.delay.is_some() {
            Some(1)
        } else {
            config.pool_window
        };
        PersistentWorker {
            env,
            slot,
            buf: vec![0; 64 * 1024],
            worker: None,
            prefix,
            window: Window::new(fixed),
            end: if config.input.delimiter == [0] {
                0
            } else {
                b'\n'
            },
        }
    }

    /// One item: sends it to this slot's worker if it is not there yet (starting one if
    /// needed), and takes the answer, the worker's end or the timeout as its outcome.
    fn run_item(&mut self, job: &Job) -> Result<Attempt, Handback> {
        let env = self.env;
        let context = JobContext {
            values: &job.values,
            seq: job.seq,
            slot: self.slot,
            host: ":",
        };
        let item = item_line(job);
        let (mut sink, error) = env.sink(context);
        let shown = &env.config.output;
        if shown.trace {
            let _ = env.events.send(Event::Started {
                command: item.to_vec(),
            });
        }
        if shown.verbose {
            sink.announce(&item);
        }
        if shown.counts_running_jobs() {
            let _ = env.events.send(Event::Began);
        }
        let (status, timed_out, since) = if item.contains(&self.end) {
            (unsendable(job.seq, self.end), false, Instant::now())
        } else {
            self.exchange(job.seq, &item, &mut sink)
                .ok_or(Handback::Starved)?
        };
        let runtime = self
            .worker
            .as_ref()
            .and_then(|w| w.last_answer)
            .filter(|&at| at >= since && status == JobStatus::Exited(0))
            .map_or_else(|| since.elapsed(), |at| at - since);
        let start = SystemTime::now()
            .checked_sub(runtime)
            .unwrap_or_else(SystemTime::now);
        // The item is the command: for the joblog, --json, --results, -v and -t only.
        let wanted = shown.verbose || shown.trace || shown.json || shown.results.is_some();
        let control = &env.config.control;
        let command = if wanted || control.joblog.is_some() || control.timeout.is_some() {
            item.into_owned()
        } else {
            Vec::new()
        };
        let (mut result, results) = finish_attempt(
            sink,
            error,
            job.seq,
            self.slot,
            command,
            status,
            (start, runtime),
        );
        result.timed_out = timed_out;
        let max_tasks = env.config.max_tasks;
        if let Some(worker) = &self.worker {
            if worker.sent.is_empty() && max_tasks.is_some_and(|max| worker.tasks >= max) {
                self.retire_worker(env.config.control.kill_grace);
            }
        }
        Ok((result, results))
    }

    /// Gets `item`'s answer and turns what came back into the item's outcome; the answer
    /// goes to `sink`. `None`: the worker needs more items first ([`Answer::Starved`]).
    fn exchange(&mut self, seq: u64, item: &[u8], sink: &mut JobSink<'_>) -> Option<Outcome> {
        let env = self.env;
        let mut answer = self.answer(seq, item, sink);
        let failed_start = matches!(answer, Ok((Answer::Gone { .. }, _)))
            && self.worker.as_ref().is_some_and(|w| w.answered == 0);
        if failed_start {
            self.failed_start();
        }
        let mut ended = None;
        if matches!(answer, Ok((Answer::Gone { said: false }, _))) {
            // A worker that ended cleanly without a word most likely stopped on its own
            // before it read this item (it serves a fixed number of items, say): the item
            // goes to a fresh worker, once.
            let status = self.retire_worker(Duration::ZERO);
            if matches!(status, JobStatus::Exited(0)) {
                answer = self.answer(seq, item, sink);
            } else {
                ended = Some(status);
            }
        }
        let (answer, since) = match answer {
            Ok(answered) => answered,
            Err(status) => {
                // Every item would fail the same way: stop here, and exit 255. The item's
                // own notice names the command.
                let _ = env.events.send(Event::Fatal(String::new()));
                env.control.stop();
                return Some((status, false, Instant::now()));
            }
        };
        Some(match answer {
            Answer::Starved => return None,
            Answer::Line => (JobStatus::Exited(0), false, since),
            Answer::Gone { .. } => {
                let status = ended.unwrap_or_else(|| self.retire_worker(Duration::ZERO));
                // Not when pmap itself ended it (a signal, --halt now): nothing failed.
                if !env.control.is_terminating() {
                    let how = how_it_ended(&status);
                    let slot = self.slot;
                    let _ = env.events.send(Event::Notice(format!(
                        "worker in slot {slot} {how} without answering item {seq}; starting another"
                    )));
                }
                match status {
                    JobStatus::Exited(0) => (JobStatus::Exited(1), false, since),
                    other => (other, false, since),
                }
            }
            Answer::TimedOut => (self.retire_worker(Duration::ZERO), true, since),
        })
    }

    /// This slot's worker exited before its first answer: it stays quiet if another
    /// worker's stderr was shown for the same failure, and the run stops after
    /// [`FAILED_STARTS`] such workers in a row.
    fn failed_start(&mut self) {
        let env = self.env;
        let (shown, in_a_row) = env.worker_starts.failed();
        if let Some(worker) = self.worker.as_mut() {
            worker.quiet = shown;
        }
        if in_a_row == FAILED_STARTS {
            let _ = env.events.send(Event::Fatal(format!(
                "the worker command exited before answering its first item {in_a_row} times \
                 in a row; stopping"
            )));
            env.control.stop();
        }
    }

    /// Waits for the answer to item `seq` (sending it first if the worker does not hold
    /// it), and says since when the worker was on it: from when the item was sent or the
    /// item before it was answered, whichever came later. `Err`: no worker could start.
    fn answer(
        &mut self,
        seq: u64,
        item: &[u8],
        sink: &mut JobSink<'_>,
    ) -> Result<(Answer, Instant), JobStatus> {
        let env = self.env;
        self.put_in_front(seq, item)?;
        let PersistentWorker {
            worker: Some(worker),
            prefix,
            buf,
            window,
            slot,
            ..
        } = self
        else {
            return Err(JobStatus::Exited(1));
        };
        let sent_at = worker.sent.front().map_or_else(Instant::now, |s| s.at);
        let since = worker
            .last_answer
            .filter(|&t| t > sent_at)
            .unwrap_or(sent_at);
        let deadline = env.config.control.timeout.map(|t| since + t);
        // Set once the answer has to be waited for: most are there already.
        let mut looked = None;
        loop {
            if worker.take_answer(sink, env) {
                if let Some(at) = worker.last_answer.filter(|_| worker.answered > 1) {
                    // (A worker's first answer includes its start-up.)
                    window.answered(at.saturating_duration_since(since));
                }
                return Ok((Answer::Line, since));
            }
            if !worker.stdout_open() {
                return Ok((
                    Answer::Gone {
                        said: sink.received > 0,
                    },
                    since,
                ));
            }
            let wait = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok((Answer::TimedOut, since));
                    }
                    Some(left)
                }
                None => None,
            };
            if let Some(nap) = window.nap(worker.sent.len()) {
                std::thread::sleep(wait.map_or(nap, |w| w.min(nap)));
            }
            // A worker known to hold answers back is looked at more often: it is idle
            // while nobody looks.
            let known = window.is_grown() || env.worker_starts.held_answers_noted();
            let every = if known { LOOK_OFTEN } else { LOOK_EVERY };
            let look = wait.map_or(every, |w| w.min(every));
            worker.pump(prefix, env, buf, Some(look));
            let now = Instant::now();
            if now.duration_since(*looked.get_or_insert(now)) >= every {
                looked = Some(now);
                if worker.holds_answers_back(known) {
                    // Unless it has begun to answer (or -v/-t showed the item already, or
                    // its window is full and cannot grow, or the run stops), it gets more
                    // items: its buffer fills and it writes, or the input ends and its
                    // stdin closes. Else its input closes now (quietly when stopping).
                    let stopping = env.control.is_stopping();
                    let full = worker.sent.len() >= window.size();
                    let more = !stopping && (!full || window.grow());
                    let shown = &env.config.output;
                    if sink.received == 0 && !(shown.verbose || shown.trace) && more {
                        return Ok((Answer::Starved, since));
                    }
                    if !stopping {
                        answers_held_back(env, *slot, seq);
                    }
                    worker.no_more_items();
                }
            }
        }
    }

    /// Makes item `seq` the oldest one the worker holds: sends it if it was not sent
    /// ahead (starting a worker if needed).
    fn put_in_front(&mut self, seq: u64, item: &[u8]) -> Result<(), JobStatus> {
        if let Some(worker) = &self.worker {
            match worker.sent.front() {
                Some(sent) if sent.seq == seq => return Ok(()),
                // Out of step with the slot (it never skips a job it lined up): start over.
                Some(_) => {
                    self.retire_worker(Duration::ZERO);
                }
                None => {}
            }
        }
        let env = self.env;
        let end = self.end;
        let worker = self.ready_worker()?;
        if env.config.control.delay.is_some() {
            env.pace();
        }
        worker.queue(seq, item, end, Instant::now());
        worker.write_some();
        Ok(())
    }

    /// This slot's worker, started if there is none. One that has exited since its last
    /// answer is replaced: a worker may stop on its own after an answer (it serves a fixed
    /// number of items, say), and that is no fault of the next item.
    fn ready_worker(&mut self) -> Result<&mut Worker, JobStatus> {
        let ended_between_items = self
            .worker
            .as_ref()
            .is_some_and(|w| w.sent.is_empty() && w.nothing_pending() && has_exited(w.pid));
        if self
            .worker
            .as_ref()
            .is_some_and(|w| w.input_closed() && w.sent.is_empty())
        {
            // Its input was closed (it held its answers back): it ends on its own.
            self.retire_worker(self.env.config.control.kill_grace);
        } else if ended_between_items {
            let status = self.retire_worker(Duration::ZERO);
            if !matches!(status, JobStatus::Exited(0)) {
                let how = how_it_ended(&status);
                self.env
                    .events
                    .send(Event::Notice(format!(
                        "worker in slot {} {how} between items; starting another",
                        self.slot
                    )))
                    .ok();
            }
        }
        match &mut self.worker {
            Some(worker) => Ok(worker),
            none => Ok(none.insert(Worker::start(self.env, self.slot)?)),
        }
    }

    /// Ends this slot's worker: closes its stdin, gives it `grace` to exit, then SIGTERM
    /// and, after the kill grace, SIGKILL to its process group ([`Escalation`]). Returns how
    /// it ended. A worker that had answered every item it was sent must have nothing left
    /// to say on stdout: lines left over mean its answers were out of step with its items,
    /// and the run fails.
    fn retire_worker(&mut self, grace: Duration) -> JobStatus {
        let env = self.env;
        let Some(mut worker) = self.worker.take() else {
            return JobStatus::Exited(0);
        };
        worker.close_stdin();
        let in_step = worker.sent.is_empty();
        let mut leftover = Leftover::default();
        let kill_grace = env.config.control.kill_grace;
        let mut ladder = Escalation::after(grace, kill_grace);
        // Once SIGKILL has been sent, pipes a stray descendant holds open are given up on
        // after another kill grace.
        let mut give_up_at = None;
        loop {
            worker.drop_pending(&mut leftover);
            let open = worker.pipes_open();
            if !open && has_exited(worker.pid) {
                break;
            }
            let now = Instant::now();
            if let Some(signal) = ladder.as_mut().and_then(|l| l.due(now)) {
                let _ = killpg(Pid::from_raw(worker.pid), signal);
                if signal == Signal::SIGKILL {
                    give_up_at = now.checked_add(kill_grace);
                }
            }
            if give_up_at.is_some_and(|at| now >= at) {
                break;
            }
            let next = ladder.as_ref().and_then(|l| l.deadline()).or(give_up_at);
            let wait = next.map_or(Duration::from_millis(50), |at| {
                at.saturating_duration_since(now)
                    .min(Duration::from_millis(50))
            });
            worker.pump(&self.prefix, env, &mut self.buf, Some(wait));
        }
        worker.pass_on_last_stderr(&self.prefix, env);
        if ladder.is_some_and(|l| l.started()) {
            let _ = killpg(Pid::from_raw(worker.pid), Signal::SIGKILL);
        }
        if in_step && leftover.lines > 0 && !env.control.is_stopping() {
            self.out_of_step(&leftover, worker.answered);
        }
        env.control
            .reap(self.slot, worker.pid, OsStr::new("the worker"))
    }

    /// The worker wrote more lines than it had items: the run fails, naming the slot.
    fn out_of_step(&self, leftover: &Leftover, answered: u64) {
        let env = self.env;
        let (n, items) = (leftover.lines, answered);
        let _ = env.events.send(Event::Fatal(format!(
            "worker in slot {} wrote {n} line{} more than the {items} item{} it was sent, so \
             its answers were out of step with its items (a banner, or more than one line \
             for an item?); a worker must write exactly one line per item",
            self.slot,
            if n == 1 { "" } else { "s" },
            if items == 1 { "" } else { "s" },
        )));
        env.control.stop();
    }
}

impl Executor for PersistentWorker<'_> {
    fn attempt(&mut self, job: &Job, started: &mut dyn FnMut()) -> Result<Attempt, Handback> {
        started();
        self.run_item(job)
    }

    fn window(&self) -> usize {
        self.window.size()
    }

    /// Sends the jobs the slot holds to the worker ahead of their turn, as far as the
    /// window, `--max-tasks` and [`window::MAX_BYTES`] allow. Once the slot will get no
    /// more, the worker's stdin closes after the last, so that a worker that buffers its
    /// answers writes them out.
    fn line_up(&mut self, jobs: &mut dyn Iterator<Item = &Job>, more: bool) {
        if self.env.config.control.delay.is_some() {
            return;
        }
        let (size, max_bytes) = (self.window.size(), self.window.max_bytes());
        let (end, max_tasks) = (self.end, self.env.config.max_tasks);
        let mut jobs = jobs.peekable();
        if jobs.peek().is_none() {
            // Nothing to send: no worker is started for it (the slot's last call, once
            // the input has ended, comes with no job), and one that is there learns that
            // nothing more will come.
            if let Some(worker) = self.worker.as_mut().filter(|_| !more) {
                worker.no_more_items();
            }
            return;
        }
        let Ok(worker) = self.ready_worker() else {
            // The attempt at the first job reports it.
            return;
        };
        if worker.input_closed() {
            // It is writing out what it held, and ends; the next worker gets the rest.
            return;
        }
        let mut room = size.saturating_sub(worker.sent.len());
        if let Some(max) = max_tasks {
            room = room.min(
                max.saturating_sub(worker.tasks)
                    .try_into()
                    .unwrap_or(usize::MAX),
            );
        }
        let mut all_sent = true;
        let now = Instant::now();
        for job in jobs {
            let full = worker.sent_bytes >= max_bytes && !worker.sent.is_empty();
            let item = item_line(job);
            // An item that cannot be sent waits for its turn, which reports it.
            if room == 0 || full || item.contains(&end) {
                all_sent = false;
                break;
            }
            worker.queue(job.seq, &item, end, now);
            room -= 1;
        }
        if !more && all_sent {
            worker.no_more_items();
        } else {
            worker.write_some();
        }
    }

    fn lined_up(&self) -> usize {
        self.worker.as_ref().map_or(0, |w| w.sent.len())
    }

    fn retire(&mut self) {
        self.retire_worker(self.env.config.control.kill_grace);
    }
}

/// A worker that waits for more input while it owes answers holds them back (its output is
/// buffered, most likely): its input is closed, so that it writes them out and ends, and
/// the next items go to a new worker. Said once per run, since every worker does the same.
fn answers_held_back(env: &JobEnv, slot: usize, seq: u64) {
    if !env
        .worker_starts
        .noted_held_answers
        .swap(true, Ordering::SeqCst)
    {
        let _ = env.events.send(Event::Notice(format!(
            "worker in slot {slot} waits for more input without having answered item {seq}: \
             it holds its answers back (buffered output?); closing its input so that it \
             writes them, and starting new workers for the next items. Make the worker \
             flush each answer (see docs/pools.md)"
        )));
    }
}

/// The line a job's item is sent as: its values, joined by spaces.
fn item_line(job: &Job) -> Cow<'_, [u8]> {
    match job.values.as_slice() {
        [one] => Cow::Borrowed(one),
        values => Cow::Owned(values.join(&b' ')),
    }
}

/// The status of an item that cannot be sent: it holds the byte that ends items.
fn unsendable(seq: u64, delimiter: u8) -> JobStatus {
    let (byte, hint) = if delimiter == 0 {
        ("NUL byte", "")
    } else {
        ("newline", "; use -0 to send items that hold newlines")
    };
    JobStatus::NotStarted {
        code: 1,
        message: format!(
            "item {seq} contains a {byte}, which ends items for --pool process workers{hint}"
        ),
    }
}

/// How a worker ended, for notices: "exited with status 3", "was killed by signal 9".
fn how_it_ended(status: &JobStatus) -> String {
    match status {
        JobStatus::Signaled(sig) => format!("was killed by signal {sig}"),
        JobStatus::Exited(code) => format!("exited with status {code}"),
        JobStatus::NotStarted { message, .. } => message.clone(),
    }
}

#[cfg(test)]
mod tests;
