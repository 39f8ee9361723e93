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
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, poll};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::collect::sink::push_lines;
use crate::collect::spool::Spool;
use crate::event::{Event, JobStatus, Stream};
use crate::input::Job;
use crate::pool::job::{Attempt, JobEnv, command_for, finish_attempt, not_started};
use crate::pool::supervise::{has_exited, timeout_of};
use crate::template::JobContext;

/// One slot's worker process, started on first use and replaced when it dies.
pub struct Slot {
    slot: usize,
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
    tasks: u64,
}

/// How waiting for an answer ended.
enum Answer {
    Line(Vec<u8>),
    /// The worker closed stdout (exited, or crashed) first; what it had written of a line.
    Gone(Vec<u8>),
    TimedOut,
}

impl Slot {
    pub fn new(slot: usize, env: &JobEnv) -> Self {
        let prefix = if env.config.output.tag.is_some() {
            format!("slot {slot}\t").into_bytes()
        } else {
            Vec::new()
        };
        Slot {
            slot,
            worker: None,
            prefix,
        }
    }

    /// Hands `job` to this slot's worker and waits for its answer, with retries.
    pub fn run(&mut self, job: Job, env: &JobEnv, buf: &mut [u8]) -> crate::event::JobResult {
        let attempt = |job: &Job| Ok::<_, std::convert::Infallible>(self.attempt(job, env, buf));
        match crate::pool::job::with_retries(job, env, attempt, None) {
            Ok(result) => result,
            Err((_, never)) => match never {},
        }
    }

    #[allow(clippy::too_many_lines)]
    fn attempt(&mut self, job: &Job, env: &JobEnv, buf: &mut [u8]) -> Attempt {
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
        let mut timed_out = false;
        let status = if item.contains(&delimiter) {
            JobStatus::NotStarted {
                code: 1,
                message: format!(
                    "item {} contains a {}, which ends items for --pool process workers{}",
                    job.seq,
                    if delimiter == 0 {
                        "NUL byte"
                    } else {
                        "newline"
                    },
                    if delimiter == 0 {
                        ""
                    } else {
                        "; use -0 to send items that hold newlines"
                    }
                ),
            }
        } else {
            let mut answer = self.ask(&item, delimiter, env, buf);
            let mut ended = None;
            if matches!(&answer, Ok(Answer::Gone(partial)) if partial.is_empty()) {
                // A worker that ended cleanly without a word most likely stopped on its own
                // before it read this item (it serves a fixed number of items, say): the
                // item goes to a fresh worker, once.
                let status = self.retire(env, Duration::ZERO);
                if matches!(status, JobStatus::Exited(0)) {
                    answer = self.ask(&item, delimiter, env, buf);
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
                    status
                }
                Ok(Answer::Line(line)) => {
                    sink.push(Stream::Stdout, &line);
                    JobStatus::Exited(0)
                }
                Ok(Answer::Gone(partial)) => {
                    sink.push(Stream::Stdout, &partial);
                    let status = match ended {
                        Some(status) => status,
                        None => self.retire(env, Duration::ZERO),
                    };
                    let how = how_it_ended(&status);
                    env.events
                        .send(Event::Notice(format!(
                            "worker in slot {} {how} without answering item {}; starting another",
                            self.slot, job.seq
                        )))
                        .ok();
                    match status {
                        JobStatus::Exited(0) => JobStatus::Exited(1),
                        other => other,
                    }
                }
                Ok(Answer::TimedOut) => {
                    timed_out = true;
                    self.retire(env, Duration::ZERO)
                }
            }
        };
        let mut command = Vec::new();
        command.extend_from_slice(&item);
        let (mut result, results) = finish_attempt(
            sink,
            error,
            job.seq,
            self.slot,
            command,
            status,
            start,
            clock.elapsed(),
        );
        result.timed_out = timed_out;
        if let Some(worker) = &self.worker {
            if config.max_tasks.is_some_and(|max| worker.tasks >= max) {
                self.retire(env, config.control.kill_grace);
            }
        }
        (result, results)
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
            let status = self.retire(env, Duration::ZERO);
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
        env.control.register(self.slot, pid);
        Ok(Worker {
            pid,
            stdin: child.stdin.take().map(|p| File::from(OwnedFd::from(p))),
            stdout: child.stdout.take().map(|p| File::from(OwnedFd::from(p))),
            stderr: child.stderr.take().map(|p| File::from(OwnedFd::from(p))),
            pending: Vec::new(),
            err_partial: Spool::new(&env.budget),
            tasks: 0,
        })
    }

    /// Ends this slot's worker: closes its stdin, gives it `grace` to exit, then SIGTERM
    /// and, after the kill grace, SIGKILL to its process group. Returns how it ended.
    pub fn retire(&mut self, env: &JobEnv, grace: Duration) -> JobStatus {
        let Some(mut worker) = self.worker.take() else {
            return JobStatus::Exited(0);
        };
        worker.stdin = None;
        let mut buf = [0u8; 8192];
        let mut deadline = Instant::now() + grace;
        let mut stage = 0;
        loop {
            let open = worker.stdout.is_some() || worker.stderr.is_some();
            if !open && has_exited(worker.pid) {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                if stage == 2 {
                    break;
                }
                let signal = if stage == 0 {
                    Signal::SIGTERM
                } else {
                    Signal::SIGKILL
                };
                let _ = killpg(Pid::from_raw(worker.pid), signal);
                stage += 1;
                deadline = now + env.config.control.kill_grace;
            }
            let wait = deadline
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50));
            if open {
                read_some(&mut worker, &self.prefix, env, &mut buf, Some(wait));
                worker.pending.clear();
            } else {
                std::thread::sleep(wait);
            }
        }
        if !worker.err_partial.is_empty() {
            let mut line = Spool::in_flight(&env.budget);
            let _ = line.push(&self.prefix);
            let _ = worker.err_partial.drain_to(&mut line);
            if !self.prefix.is_empty() {
                let _ = line.push(b"\n");
            }
            let _ = env.events.send(Event::WorkerStderr { data: line });
        }
        if stage > 0 {
            let _ = killpg(Pid::from_raw(worker.pid), Signal::SIGKILL);
        }
        env.control
            .reap(self.slot, worker.pid, OsStr::new("the worker"))
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
                    if push_lines(prefix, &mut worker.err_partial, &buf[..n], &mut lines).is_ok()
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
