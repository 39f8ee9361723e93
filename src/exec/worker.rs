//! The process pool (`--pool process`): each slot keeps one long-lived worker process, like
//! a multiprocessing pool. An item goes to the worker's stdin as one line (NUL-terminated
//! with `-0`); the worker's next line on stdout is that item's output. A worker that dies
//! holding an item fails it and is replaced; `--max-tasks` retires workers; `--timeout`
//! replaces a worker that overruns. Worker stderr is passed on line by line, tagged with the
//! slot under `--tag`.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, poll};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::capture::sink::{JobSink, push_lines};
use crate::capture::spool::Spool;
use crate::event::{Event, JobStatus, Stream};
use crate::exec::escalate::Escalation;
use crate::exec::supervise::{has_exited, timeout_of};
use crate::exec::{Attempt, Executor, Handback, JobEnv, command_for, finish_attempt, not_started};
use crate::input::Job;
use crate::template::JobContext;

/// One slot's worker process, started on first use and replaced when it dies.
pub struct PersistentWorker<'a> {
    env: &'a JobEnv,
    slot: usize,
    buf: Vec<u8>,
    worker: Option<Worker>,
    /// `slot N\t` under `--tag`, else empty.
    prefix: Vec<u8>,
}

struct Worker {
    pid: i32,
    stdin: Option<File>,
    stdout: Option<File>,
    stderr: Option<File>,
    /// Bytes read from stdout beyond the last answer.
    pending: Vec<u8>,
    /// An unfinished stderr line.
    err_partial: Spool,
    /// Items sent, and items answered.
    tasks: u64,
    answered: u64,
    /// Stderr held until the first answer: a worker that cannot start prints the same
    /// complaint every time, and it is shown once (see [`StartBreaker`]).
    held_err: Option<Spool>,
    /// Drop the held stderr when the worker ends (it was shown for an earlier worker).
    quiet: bool,
}

/// How many workers in a row exited before they answered their first item stops the run.
const FAILED_STARTS: u32 = 3;

/// The process pool's start-up breaker: a worker command that cannot start (a typo in a
/// script's name) would otherwise fail every item, each with a fresh worker and the same
/// complaint. After [`FAILED_STARTS`] workers in a row exit before their first answer,
/// the run stops (exit 255); their stderr is shown once.
#[derive(Default)]
pub struct StartBreaker {
    in_a_row: AtomicU32,
    shown: AtomicBool,
}

impl StartBreaker {
    /// A worker answered: the command can start.
    fn answered(&self) {
        self.in_a_row.store(0, Ordering::SeqCst);
        self.shown.store(false, Ordering::SeqCst);
    }

    /// A worker exited before its first answer: whether its stderr was shown already for
    /// another one, and how many in a row.
    fn failed(&self) -> (bool, u32) {
        let shown = self.shown.swap(true, Ordering::SeqCst);
        (shown, self.in_a_row.fetch_add(1, Ordering::SeqCst) + 1)
    }
}

/// How waiting for an answer ended.
enum Answer {
    Line(Vec<u8>),
    /// The worker closed stdout (exited, or crashed) first; what it had written of a line.
    Gone(Vec<u8>),
    TimedOut,
}

impl<'a> PersistentWorker<'a> {
    pub fn new(env: &'a JobEnv, slot: usize) -> Self {
        let prefix = if env.config.output.tag.is_some() {
            format!("slot {slot}\t").into_bytes()
        } else {
            Vec::new()
        };
        PersistentWorker {
            env,
            slot,
            buf: vec![0; 64 * 1024],
            worker: None,
            prefix,
        }
    }

    /// One item: sends it to this slot's worker (starting one if needed), and takes the
    /// answer, the worker's end or the timeout as the item's outcome.
    fn run_item(&mut self, job: &Job) -> Attempt {
        let env = self.env;
        let config = &env.config;
        let context = JobContext {
            values: &job.values,
            seq: job.seq,
            slot: self.slot,
            host: ":",
        };
        let delimiter = if config.input.delimiter == 0 {
            0
        } else {
            b'\n'
        };
        let item = job.values.join(&b' ');
        let (mut sink, error) = env.sink(context);
        if config.output.verbose {
            let _ = env.events.send(Event::Started {
                command: item.clone(),
            });
        }
        let start = env.pace();
        let clock = Instant::now();
        let (status, timed_out) = if item.contains(&delimiter) {
            (unsendable(job.seq, delimiter), false)
        } else {
            let mut buf = std::mem::take(&mut self.buf);
            let outcome = self.exchange(job.seq, &item, delimiter, &mut sink, &mut buf);
            self.buf = buf;
            outcome
        };
        let timing = (start, clock.elapsed());
        let (mut result, results) =
            finish_attempt(sink, error, job.seq, self.slot, item, status, timing);
        result.timed_out = timed_out;
        if let Some(worker) = &self.worker {
            if config.max_tasks.is_some_and(|max| worker.tasks >= max) {
                self.retire_worker(config.control.kill_grace);
            }
        }
        (result, results)
    }

    /// Sends `item` and turns what comes back into the item's status (and whether it timed
    /// out); its answer goes to `sink`.
    fn exchange(
        &mut self,
        seq: u64,
        item: &[u8],
        delimiter: u8,
        sink: &mut JobSink<'_>,
        buf: &mut [u8],
    ) -> (JobStatus, bool) {
        let env = self.env;
        let mut answer = self.ask(item, delimiter, env, buf);
        let failed_start = matches!(answer, Ok(Answer::Gone(_)))
            && self.worker.as_ref().is_some_and(|w| w.answered == 0);
        if failed_start {
            self.failed_start();
        }
        let mut ended = None;
        if matches!(&answer, Ok(Answer::Gone(partial)) if partial.is_empty()) {
            // A worker that ended cleanly without a word most likely stopped on its own
            // before it read this item (it serves a fixed number of items, say): the item
            // goes to a fresh worker, once.
            let status = self.retire_worker(Duration::ZERO);
            if matches!(status, JobStatus::Exited(0)) {
                answer = self.ask(item, delimiter, env, buf);
            } else {
                ended = Some(status);
            }
        }
        match answer {
            Err(status) => {
                // Every item would fail the same way: stop here, and exit 255. The item's
                // own notice names the command.
                let _ = env.events.send(Event::Fatal(String::new()));
                env.control.stop();
                (status, false)
            }
            Ok(Answer::Line(line)) => {
                sink.push(Stream::Stdout, &line);
                (JobStatus::Exited(0), false)
            }
            Ok(Answer::Gone(partial)) => {
                sink.push(Stream::Stdout, &partial);
                let status = ended.unwrap_or_else(|| self.retire_worker(Duration::ZERO));
                let how = how_it_ended(&status);
                env.events
                    .send(Event::Notice(format!(
                        "worker in slot {} {how} without answering item {seq}; starting another",
                        self.slot
                    )))
                    .ok();
                match status {
                    JobStatus::Exited(0) => (JobStatus::Exited(1), false),
                    other => (other, false),
                }
            }
            Ok(Answer::TimedOut) => (self.retire_worker(Duration::ZERO), true),
        }
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

    /// Sends one item and reads the answer. `Err` means no worker could be started.
    fn ask(
        &mut self,
        item: &[u8],
        delimiter: u8,
        env: &JobEnv,
        buf: &mut [u8],
    ) -> Result<Answer, JobStatus> {
        let ended_between_items = self
            .worker
            .as_ref()
            .is_some_and(|w| w.pending.is_empty() && has_exited(w.pid));
        if ended_between_items {
            // A worker may stop on its own after an answer (e.g. it serves a fixed number
            // of items): that is no fault of the next item, which goes to a fresh worker.
            let status = self.retire_worker(Duration::ZERO);
            if !matches!(status, JobStatus::Exited(0)) {
                let how = how_it_ended(&status);
                env.events
                    .send(Event::Notice(format!(
                        "worker in slot {} {how} between items; starting another",
                        self.slot
                    )))
                    .ok();
            }
        }
        if self.worker.is_none() {
            self.worker = Some(self.start(env)?);
        }
        let Some(worker) = self.worker.as_mut() else {
            return Err(JobStatus::Exited(1));
        };
        worker.tasks += 1;
        let sent = match worker.stdin.as_mut() {
            Some(stdin) => stdin
                .write_all(item)
                .and_then(|()| stdin.write_all(&[delimiter])),
            None => Err(io::ErrorKind::BrokenPipe.into()),
        };
        let deadline = env.config.control.timeout.map(|t| Instant::now() + t);
        if sent.is_err() {
            // It is gone already; collect whatever it said and how it ended.
            return Ok(Answer::Gone(Vec::new()));
        }
        loop {
            if let Some(i) = memchr::memchr(b'\n', &worker.pending) {
                let rest = worker.pending.split_off(i + 1);
                let line = std::mem::replace(&mut worker.pending, rest);
                worker.answered += 1;
                if let Some(held) = worker.held_err.take() {
                    env.worker_starts.answered();
                    if !held.is_empty() {
                        let _ = env.events.send(Event::WorkerStderr { data: held });
                    }
                }
                return Ok(Answer::Line(line));
            }
            if worker.stdout.is_none() {
                return Ok(Answer::Gone(std::mem::take(&mut worker.pending)));
            }
            let wait = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(Answer::TimedOut);
                    }
                    Some(left)
                }
                None => None,
            };
            read_some(worker, &self.prefix, env, buf, wait);
        }
    }

    fn start(&self, env: &JobEnv) -> Result<Worker, JobStatus> {
        let config = &env.config;
        let rendered = config.template.render(JobContext {
            values: &[],
            seq: 0,
            slot: self.slot,
            host: ":",
        });
        let (mut command, name) = command_for(&rendered, config);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .env("PMAP_SLOT", self.slot.to_string())
            .env("PYTHONUNBUFFERED", "1");
        let mut child = command.spawn().map_err(|e| not_started(&name, &e))?;
        let pid = child.id() as i32;
        env.control.register(self.slot, pid, None, None);
        Ok(Worker {
            pid,
            stdin: child.stdin.take().map(|p| File::from(OwnedFd::from(p))),
            stdout: child.stdout.take().map(|p| File::from(OwnedFd::from(p))),
            stderr: child.stderr.take().map(|p| File::from(OwnedFd::from(p))),
            pending: Vec::new(),
            err_partial: Spool::new(&env.budget),
            tasks: 0,
            answered: 0,
            held_err: Some(Spool::new(&env.budget)),
            quiet: false,
        })
    }

    /// Ends this slot's worker: closes its stdin, gives it `grace` to exit, then SIGTERM
    /// and, after the kill grace, SIGKILL to its process group ([`Escalation`]). Returns how
    /// it ended.
    fn retire_worker(&mut self, grace: Duration) -> JobStatus {
        let env = self.env;
        let Some(mut worker) = self.worker.take() else {
            return JobStatus::Exited(0);
        };
        worker.stdin = None;
        let kill_grace = env.config.control.kill_grace;
        let mut ladder = Escalation::after(grace, kill_grace);
        // Once SIGKILL has been sent, pipes a stray descendant holds open are given up on
        // after another kill grace.
        let mut give_up_at = None;
        let mut buf = [0u8; 8192];
        loop {
            let open = worker.stdout.is_some() || worker.stderr.is_some();
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
            if open {
                read_some(&mut worker, &self.prefix, env, &mut buf, Some(wait));
                worker.pending.clear();
            } else {
                std::thread::sleep(wait);
            }
        }
        self.pass_on_last_stderr(&mut worker);
        if ladder.is_some_and(|l| l.started()) {
            let _ = killpg(Pid::from_raw(worker.pid), Signal::SIGKILL);
        }
        env.control
            .reap(self.slot, worker.pid, OsStr::new("the worker"))
    }

    /// What a worker held of its stderr, and its unfinished last line, passed on as a line
    /// of its own; dropped if the same complaint was shown for an earlier worker.
    fn pass_on_last_stderr(&self, worker: &mut Worker) {
        if let Some(held) = worker.held_err.take() {
            if !worker.quiet && !held.is_empty() {
                let _ = self.env.events.send(Event::WorkerStderr { data: held });
            }
        }
        if worker.err_partial.is_empty() || worker.quiet {
            return;
        }
        let mut line = Spool::in_flight(&self.env.budget);
        let _ = line.push(&self.prefix);
        let _ = worker.err_partial.drain_to(&mut line);
        if !self.prefix.is_empty() {
            let _ = line.push(b"\n");
        }
        let _ = self.env.events.send(Event::WorkerStderr { data: line });
    }
}

impl Executor for PersistentWorker<'_> {
    fn attempt(&mut self, job: &Job, started: &mut dyn FnMut()) -> Result<Attempt, Handback> {
        started();
        Ok(self.run_item(job))
    }

    fn retire(&mut self) {
        self.retire_worker(self.env.config.control.kill_grace);
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

/// Reads what the worker has written (waiting up to `wait`, or until something comes):
/// stdout into `pending`, stderr passed on as whole lines.
fn read_some(
    worker: &mut Worker,
    prefix: &[u8],
    env: &JobEnv,
    buf: &mut [u8],
    wait: Option<Duration>,
) {
    let (out_ready, err_ready) = {
        let mut fds = Vec::with_capacity(2);
        if let Some(f) = &worker.stdout {
            fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
        }
        if let Some(f) = &worker.stderr {
            fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
        }
        if fds.is_empty() {
            return;
        }
        match poll(&mut fds, timeout_of(wait)) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut ready = fds.iter().map(|f| f.any().unwrap_or(true));
        let out = if worker.stdout.is_some() {
            ready.next().unwrap_or(false)
        } else {
            false
        };
        let err = if worker.stderr.is_some() {
            ready.next().unwrap_or(false)
        } else {
            false
        };
        (out, err)
    };
    if out_ready {
        if let Some(f) = &mut worker.stdout {
            match f.read(buf) {
                Ok(0) | Err(_) => worker.stdout = None,
                Ok(n) => worker.pending.extend_from_slice(&buf[..n]),
            }
        }
    }
    if err_ready {
        if let Some(f) = &mut worker.stderr {
            match f.read(buf) {
                Ok(0) | Err(_) => worker.stderr = None,
                Ok(n) => {
                    let mut lines = Spool::in_flight(&env.budget);
                    let out = worker.held_err.as_mut().unwrap_or(&mut lines);
                    if push_lines(prefix, &mut worker.err_partial, &buf[..n], out).is_ok()
                        && !lines.is_empty()
                    {
                        let _ = env.events.send(Event::WorkerStderr { data: lines });
                    }
                }
            }
        }
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
mod tests {
    use super::*;
    use crate::exec::testing::{env, job, output};

    const ECHO_WORKER: &str =
        r#"echo "started $PMAP_SLOT" >&2; while read -r l; do echo "<$l $$>"; done"#;

    #[test]
    fn one_worker_answers_item_after_item_and_is_retired() {
        let (env, events) = env(&[
            "-j3",
            "--pool",
            "process",
            "sh",
            "-c",
            ECHO_WORKER,
            ":::",
            "x",
        ]);
        let mut executor = PersistentWorker::new(&env, 3);
        let (mut first, _) = executor.attempt(&job(1, "a"), &mut || {}).unwrap();
        let (mut second, _) = executor.attempt(&job(2, "b"), &mut || {}).unwrap();
        assert_eq!(first.status, JobStatus::Exited(0));
        let (first, second) = (output(&mut first).0, output(&mut second).0);
        let pid = |answer: &str| {
            answer
                .trim_end_matches(">\n")
                .rsplit(' ')
                .next()
                .map(String::from)
        };
        assert!(
            first.starts_with("<a ") && second.starts_with("<b "),
            "{first}{second}"
        );
        assert_eq!(
            pid(&first),
            pid(&second),
            "the same worker answers both items"
        );
        executor.retire();
        let stderr: Vec<u8> = events
            .try_iter()
            .filter_map(|event| match event {
                Event::WorkerStderr { mut data } => data.take_bytes().ok(),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(stderr, b"started 3\n");
    }

    #[test]
    fn a_worker_that_dies_fails_its_item_and_the_next_gets_a_fresh_one() {
        let script = r#"read -r l; [ "$l" = die ] && exit 4; echo "ok $l""#;
        let (env, _events) = env(&["--pool", "process", "sh", "-c", script, ":::", "x"]);
        let mut executor = PersistentWorker::new(&env, 1);
        let (died, _) = executor.attempt(&job(1, "die"), &mut || {}).unwrap();
        assert_eq!(died.status, JobStatus::Exited(4));
        let (mut next, _) = executor.attempt(&job(2, "b"), &mut || {}).unwrap();
        assert_eq!(output(&mut next).0, "ok b\n");
        executor.retire();
    }
}
