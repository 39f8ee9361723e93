//! One worker process of the process pool and its three pipes. Items go out through a
//! queue on the worker's stdin, written without blocking; answers are read from its stdout
//! only while pmap waits for one, each byte scanned once and handed straight to the item's
//! sink (so a huge answer is spooled like any job's output, never held whole); stderr is
//! passed on line by line. pmap never blocks writing while the worker could be blocked
//! writing to it: every wait is a `poll` on all three pipes.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::capture::sink::{JobSink, push_lines};
use crate::capture::spool::Spool;
use crate::event::{Event, JobStatus, Stream};
use crate::exec::supervise::timeout_of;
use crate::exec::{JobEnv, command_for, not_started};
use crate::template::JobContext;

/// An item written (or queued to be written) to a worker, not yet answered.
pub struct Sent {
    pub seq: u64,
    /// When it was queued for the worker.
    pub at: Instant,
    /// Its bytes, with the byte that ends it.
    pub len: usize,
}

/// Stdout a worker wrote beyond its answers.
#[derive(Default)]
pub struct Leftover {
    /// Lines, an unfinished last one included.
    pub lines: u64,
    /// The last byte seen did not end a line.
    pub unfinished: bool,
}

/// A running worker process.
pub struct Worker {
    pub pid: i32,
    stdin: Option<File>,
    stdout: Option<File>,
    stderr: Option<File>,
    /// Item bytes not yet written to stdin: `outbox[written..]`.
    outbox: Vec<u8>,
    written: usize,
    /// Close stdin once the outbox is written: no more items will come.
    closing: bool,
    /// Items sent and not yet answered, oldest first: the next answer line is the first's.
    pub sent: VecDeque<Sent>,
    /// Bytes of the items in `sent`.
    pub sent_bytes: usize,
    /// Bytes read from stdout that belong to later answers: `pending[taken..]`. At most
    /// one read's worth, since stdout is read only when the current answer needs more.
    pending: Vec<u8>,
    taken: usize,
    /// An unfinished stderr line.
    err_partial: Spool,
    /// Stderr held until the first answer (see `StartBreaker`).
    held_err: Option<Spool>,
    /// Drop the held stderr when the worker ends (it was shown for an earlier worker).
    pub quiet: bool,
    /// Items sent in all, and answered in all.
    pub tasks: u64,
    pub answered: u64,
    /// When stdout was last read: the answers in `pending` came then.
    read_at: Instant,
    /// Looks in a row that found it waiting for input while it owes answers.
    waiting_looks: u32,
    /// When the last answer was complete: the next item's clock starts there if it was
    /// sent before.
    pub last_answer: Option<Instant>,
}

impl Worker {
    /// Starts the worker command for `slot`.
    pub fn start(env: &JobEnv, slot: usize) -> Result<Worker, JobStatus> {
        let config = &env.config;
        let rendered = config.template.render(JobContext {
            values: &[],
            seq: 0,
            slot,
            host: ":",
        });
        let (mut command, name) = command_for(&rendered, config);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .env("PMAP_SLOT", slot.to_string())
            .env("PYTHONUNBUFFERED", "1");
        if let Some(dir) = &config.placement.tmpdir {
            command.env("TMPDIR", dir);
        }
        if let Some(crate::config::WorkDir::Dir(dir)) = &config.placement.workdir {
            command.current_dir(dir);
        }
        let mut child = command.spawn().map_err(|e| not_started(&name, &e))?;
        let pid = child.id() as i32;
        env.control.register(slot, pid, None, None);
        let file = |fd: Option<OwnedFd>| fd.map(File::from);
        let stdin = file(child.stdin.take().map(OwnedFd::from));
        if let Some(stdin) = &stdin {
            // Only pmap's end of the pipe: the worker's end stays blocking.
            let _ = fcntl(stdin, FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
        }
        Ok(Worker {
            pid,
            stdin,
            stdout: file(child.stdout.take().map(OwnedFd::from)),
            stderr: file(child.stderr.take().map(OwnedFd::from)),
            outbox: Vec::new(),
            written: 0,
            closing: false,
            sent: VecDeque::new(),
            sent_bytes: 0,
            pending: Vec::new(),
            taken: 0,
            err_partial: Spool::new(env.budget),
            held_err: Some(Spool::new(env.budget)),
            quiet: false,
            tasks: 0,
            answered: 0,
            last_answer: None,
            waiting_looks: 0,
            read_at: Instant::now(),
        })
    }

    /// Queues `item` (with the byte that ends it) for the worker; [`Worker::write_some`]
    /// writes it, with the other items queued meanwhile.
    pub fn queue(&mut self, seq: u64, item: &[u8], end: u8, now: Instant) {
        if self.written == self.outbox.len() {
            self.outbox.clear();
            self.written = 0;
        }
        self.outbox.extend_from_slice(item);
        self.outbox.push(end);
        let len = item.len() + 1;
        self.sent.push_back(Sent { seq, at: now, len });
        self.sent_bytes += len;
        self.tasks += 1;
    }

    /// No more items will be sent: stdin closes once the queued ones are written, so a
    /// worker that buffers its answers flushes them when it sees the end of its input.
    pub fn no_more_items(&mut self) {
        self.closing = true;
        self.write_some();
    }

    /// Closes stdin now, dropping what was not written.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
        self.outbox.clear();
        self.written = 0;
    }

    /// Whether the worker is waiting for more input while it owes answers: everything sent
    /// has been written, and it (or a process it started, see [`reads_as_stdin`]) is
    /// blocked reading the pipe pmap feeds it, with nothing
    /// written to stdout meanwhile; seen so on two looks in a row, or on one if it has
    /// been `known` to do so. A worker that works on an item, or writes, is not.
    pub fn holds_answers_back(&mut self, known: bool) -> bool {
        let waiting = self.waits_for_input();
        self.waiting_looks = if waiting { self.waiting_looks + 1 } else { 0 };
        self.waiting_looks >= if known { 1 } else { 2 }
    }

    fn waits_for_input(&self) -> bool {
        let Some(stdin) = &self.stdin else {
            return false;
        };
        if self.sent.is_empty() || self.written < self.outbox.len() {
            return false;
        }
        let Ok(ours) = nix::sys::stat::fstat(stdin).map(|st| format!("pipe:[{}]", st.st_ino))
        else {
            return false;
        };
        if !reads_as_stdin(self.pid, &ours) {
            return false;
        }
        // Whatever it wrote before it began to wait is in the pipe by now: an answer
        // waiting to be read means it does not hold it back.
        let Some(stdout) = &self.stdout else {
            return false;
        };
        let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::POLLIN)];
        matches!(poll(&mut fds, PollTimeout::ZERO), Ok(0))
    }

    /// Whether its stdin is closed, or to be closed: it takes no more items.
    pub fn input_closed(&self) -> bool {
        self.stdin.is_none() || self.closing
    }

    pub fn stdout_open(&self) -> bool {
        self.stdout.is_some()
    }

    pub fn pipes_open(&self) -> bool {
        self.stdout.is_some() || self.stderr.is_some()
    }

    /// Whether the worker has nothing of ours unread: no answer bytes waiting.
    pub fn nothing_pending(&self) -> bool {
        self.taken == self.pending.len()
    }

    /// Writes as much of the queued items as the pipe takes without blocking.
    pub fn write_some(&mut self) {
        while let Some(stdin) = self.stdin.as_mut() {
            if self.written == self.outbox.len() {
                if self.closing {
                    self.stdin = None;
                }
                return;
            }
            match stdin.write(&self.outbox[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // The worker is gone (EPIPE): its answers, or its end, tell the rest.
                Err(_) => self.close_stdin(),
            }
        }
    }

    /// Moves what has been read of the oldest item's answer into `sink`. Returns true once
    /// its newline is there: the item is answered.
    pub fn take_answer(&mut self, sink: &mut JobSink<'_>, env: &JobEnv) -> bool {
        let rest = &self.pending[self.taken..];
        let Some(i) = memchr::memchr(b'\n', rest) else {
            if !rest.is_empty() {
                sink.push(Stream::Stdout, rest);
            }
            self.pending.clear();
            self.taken = 0;
            return false;
        };
        sink.push(Stream::Stdout, &rest[..=i]);
        self.taken += i + 1;
        if let Some(item) = self.sent.pop_front() {
            self.sent_bytes -= item.len;
        }
        self.answered += 1;
        self.last_answer = Some(self.read_at);
        if let Some(held) = self.held_err.take() {
            env.worker_starts.answered();
            if !held.is_empty() {
                let _ = env.events.send(Event::WorkerStderr { data: held });
            }
        }
        true
    }

    /// Drops what was read of stdout beyond the last answer, counting it into `leftover`.
    pub fn drop_pending(&mut self, leftover: &mut Leftover) {
        let rest = &self.pending[self.taken..];
        if let Some(&last) = rest.last() {
            let newlines = memchr::memchr_iter(b'\n', rest).count() as u64;
            // An unfinished line counts once, when it starts.
            let starts = newlines + u64::from(last != b'\n') - u64::from(leftover.unfinished);
            leftover.lines += starts;
            leftover.unfinished = last != b'\n';
        }
        self.pending.clear();
        self.taken = 0;
    }

    /// Waits up to `wait` (for ever with `None`) for any pipe to be ready, then writes what
    /// stdin takes, reads stdout into `pending` if the current answer needs more, and
    /// passes stderr on as whole lines.
    pub fn pump(&mut self, prefix: &[u8], env: &JobEnv, buf: &mut [u8], wait: Option<Duration>) {
        let want_out = self.taken == self.pending.len();
        let want_in = self.written < self.outbox.len();
        let [out_ready, err_ready, in_ready] = {
            let mut fds = Vec::with_capacity(3);
            let mut slots = [None; 3];
            let pipes = [
                (self.stdout.as_ref().filter(|_| want_out), PollFlags::POLLIN),
                (self.stderr.as_ref(), PollFlags::POLLIN),
                (self.stdin.as_ref().filter(|_| want_in), PollFlags::POLLOUT),
            ];
            for (i, (pipe, flags)) in pipes.into_iter().enumerate() {
                if let Some(pipe) = pipe {
                    slots[i] = Some(fds.len());
                    fds.push(PollFd::new(pipe.as_fd(), flags));
                }
            }
            if fds.is_empty() {
                if let Some(wait) = wait {
                    std::thread::sleep(wait);
                }
                return;
            }
            match poll(&mut fds, timeout_of(wait)) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            slots.map(|s| s.is_some_and(|i| fds[i].any().unwrap_or(true)))
        };
        if in_ready {
            self.write_some();
        }
        if out_ready {
            self.read_stdout(buf);
        }
        if err_ready {
            self.read_stderr(prefix, env, buf);
        }
    }

    fn read_stdout(&mut self, buf: &mut [u8]) {
        let Some(f) = &mut self.stdout else { return };
        match f.read(buf) {
            Ok(0) => self.stdout = None,
            Ok(n) => {
                self.pending.clear();
                self.taken = 0;
                self.pending.extend_from_slice(&buf[..n]);
                self.read_at = Instant::now();
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => self.stdout = None,
        }
    }

    fn read_stderr(&mut self, prefix: &[u8], env: &JobEnv, buf: &mut [u8]) {
        let Some(f) = &mut self.stderr else { return };
        match f.read(buf) {
            Ok(0) => self.stderr = None,
            Ok(n) => {
                let mut lines = Spool::in_flight(env.budget);
                let out = self.held_err.as_mut().unwrap_or(&mut lines);
                if push_lines(prefix, &mut self.err_partial, &buf[..n], out).is_ok()
                    && !lines.is_empty()
                {
                    let _ = env.events.send(Event::WorkerStderr { data: lines });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => self.stderr = None,
        }
    }

    /// What the worker held of its stderr, and its unfinished last line, passed on as a
    /// line of its own; dropped if the same complaint was shown for an earlier worker.
    pub fn pass_on_last_stderr(&mut self, prefix: &[u8], env: &JobEnv) {
        if let Some(held) = self.held_err.take() {
            if !self.quiet && !held.is_empty() {
                let _ = env.events.send(Event::WorkerStderr { data: held });
            }
        }
        if self.err_partial.is_empty() || self.quiet {
            return;
        }
        let mut line = Spool::in_flight(env.budget);
        let _ = line.push(prefix);
        let _ = self.err_partial.drain_to(&mut line);
        if !prefix.is_empty() {
            let _ = line.push(b"\n");
        }
        let _ = env.events.send(Event::WorkerStderr { data: line });
    }
}

/// How many of a worker's processes are looked at, at most, to find the one reading its
/// input.
const MOST_PROCESSES: usize = 64;

/// Whether the process `pid`, or one of its descendants, is blocked reading `pipe` (as
/// `/proc/PID/fd/0` names it) as its stdin: Linux's `/proc/PID/syscall` shows `read` on
/// descriptor 0. The descendants count because a worker command is often a wrapper that
/// waits for the program that does the reading (`timeout 60 python3 w.py`, `time ...`, a
/// shell script): looking at the wrapper alone, pmap would never see that the worker waits
/// for input, and both would wait for ever.
fn reads_as_stdin(pid: i32, pipe: &str) -> bool {
    let mut todo = vec![pid];
    let mut looked = 0;
    while let Some(pid) = todo.pop() {
        looked += 1;
        if looked > MOST_PROCESSES {
            return false;
        }
        let proc = format!("/proc/{pid}");
        if blocked_reading_stdin(&proc)
            && std::fs::read_link(format!("{proc}/fd/0")).is_ok_and(|fd0| fd0.as_os_str() == pipe)
        {
            return true;
        }
        // Children are listed per thread, as the thread that started them.
        let Ok(tasks) = std::fs::read_dir(format!("{proc}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            if let Ok(children) = std::fs::read_to_string(task.path().join("children")) {
                todo.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<i32>().ok()),
                );
            }
        }
    }
    false
}

/// Whether the process at `proc` (`/proc/PID`) is in a `read` of descriptor 0.
fn blocked_reading_stdin(proc: &str) -> bool {
    let Ok(call) = std::fs::read_to_string(format!("{proc}/syscall")) else {
        return false;
    };
    let mut fields = call.split_whitespace();
    let reading = fields.next().and_then(|nr| nr.parse().ok()) == Some(libc::SYS_read);
    reading && fields.next() == Some("0x0")
}
