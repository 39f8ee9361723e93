//! Watching one started process to its end: drain stdout and stderr together (so neither
//! pipe fills up and blocks the child), enforce `--timeout` with SIGTERM then SIGKILL to
//! the whole process group, give up on pipes that outlive the process by more than the
//! kill grace, and wait for the exit without reaping, so that the process group id stays
//! valid while pmap may still signal it.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;

use crate::capture::sink::JobSink;
use crate::event::Stream;
use crate::exec::escalate::Escalation;
use crate::exec::feed::{self, Fed, Feed};

const STREAMS: [Stream; 2] = [Stream::Stdout, Stream::Stderr];

/// When to end the job, if it runs too long.
pub struct Limit {
    pub timeout: Duration,
    pub grace: Duration,
}

/// Drains `pipes` into `sink` until they close and `pid` has exited (not reaped).
/// `signal` ends the job (its process group), on the [`Escalation`] ladder once `limit`'s
/// timeout has passed. Once the process has exited, its pipes are read for at most
/// `pipe_grace` more: a descendant that left the job's process group (`setsid`) and holds
/// them open does not keep pmap waiting. Returns whether the job overran its limit and was
/// signalled.
pub fn supervise(
    pid: i32,
    signal: &dyn Fn(Signal),
    pipes: [Option<OwnedFd>; 2],
    io: &mut JobIo<'_, '_>,
    limit: Option<&Limit>,
    pipe_grace: Duration,
) -> bool {
    let mut open: [Option<File>; 2] = pipes.map(|p| p.map(File::from));
    let mut ladder = limit.and_then(|l| Escalation::after(l.timeout, l.grace));
    // With a timeout, a pidfd (readable once the process has exited) lets the wait end at
    // the exit or the deadline. Without one, the exit is looked at now and then while the
    // pipes stay open, which costs a job that closes them on exit nothing at all.
    let pidfd = ladder.as_ref().and_then(|_| pidfd_open(pid));
    let mut look_at = Instant::now().checked_add(LOOK_EVERY);
    let mut exited = false;
    let mut pipes_until: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if let Some(sig) = ladder.as_mut().and_then(|l| l.due(now)) {
            signal(sig);
            continue;
        }
        if exited {
            // Nobody is left to read the rest of the job's input.
            io.feed = None;
            if open.iter().all(Option::is_none) {
                break;
            }
            let until =
                *pipes_until.get_or_insert_with(|| now.checked_add(pipe_grace).unwrap_or(now));
            if now >= until {
                break;
            }
        }
        let look = look_at.filter(|_| pidfd.is_none() && !exited);
        let next = [
            ladder.as_ref().and_then(Escalation::deadline),
            pipes_until,
            look,
        ]
        .into_iter()
        .flatten()
        .min();
        let mut wait = next.map(|at| at.saturating_duration_since(now));
        if ladder.is_some() && pidfd.is_none() {
            wait = Some(wait.map_or(POLL_EXIT, |w| w.min(POLL_EXIT)));
        }
        if open.iter().any(Option::is_some) || io.feed.is_some() {
            let exit_fd = pidfd.as_ref().filter(|_| !exited);
            exited |= drain(&mut open, io, wait, exit_fd);
            if look.is_some_and(|at| Instant::now() >= at) {
                exited = has_exited(pid);
                look_at = Instant::now().checked_add(LOOK_EVERY);
            }
        } else if ladder.is_none() || exited || has_exited(pid) {
            // The exit itself is waited for when the job is reaped (`Control::reap`).
            break;
        } else {
            wait_for_exit_fd(pidfd.as_ref(), wait);
            exited = has_exited(pid);
        }
    }
    for (pipe, stream) in open.iter_mut().zip(STREAMS) {
        if pipe.is_some() {
            io.close(pipe, stream);
        }
    }
    let timed_out = ladder.is_some_and(|l| l.started());
    if timed_out {
        // Whatever is left of the group (grandchildren that ignored SIGTERM) dies too.
        signal(Signal::SIGKILL);
    }
    timed_out
}

/// Without a timeout, how often a job whose pipes are open is looked at, to notice that it
/// exited while a descendant holds them.
const LOOK_EVERY: Duration = Duration::from_millis(250);

/// How often a process is looked at when there is no pidfd to wait on.
const POLL_EXIT: Duration = Duration::from_millis(50);

/// Waits up to `wait` (forever: `None`) for `pidfd` to become readable, or sleeps for
/// `wait` without one.
fn wait_for_exit_fd(pidfd: Option<&OwnedFd>, wait: Option<Duration>) {
    match pidfd {
        Some(fd) => {
            let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, timeout_of(wait));
        }
        None => std::thread::sleep(wait.unwrap_or(POLL_EXIT)),
    }
}

pub(crate) fn timeout_of(wait: Option<Duration>) -> PollTimeout {
    match wait {
        None => PollTimeout::NONE,
        Some(w) => PollTimeout::try_from(w.as_millis().min(i32::MAX as u128) as i32 + 1)
            .unwrap_or(PollTimeout::MAX),
    }
}

/// Reads whatever is ready and feeds the job's stdin as far as it takes it (blocking up to
/// `wait`, or until both pipes close and the feed is over when `wait` is `None`). With
/// `exit_fd`, also returns early, with true, when the process exits.
fn drain(
    open: &mut [Option<File>; 2],
    io: &mut JobIo<'_, '_>,
    wait: Option<Duration>,
    exit_fd: Option<&OwnedFd>,
) -> bool {
    loop {
        let mut watch = Watch::default();
        for (i, file) in open.iter().enumerate() {
            if let Some(file) = file {
                watch.add(file.as_raw_fd(), libc::POLLIN, Role::Pipe(i));
            }
        }
        let mut wait = wait;
        if let Some(feed) = io.feed.as_ref() {
            match feed.fd() {
                Some(fd) => watch.add(fd.as_raw_fd(), libc::POLLOUT, Role::Feed),
                // Nothing to poll on: look again soon.
                None => wait = Some(wait.map_or(feed::RETRY, |w| w.min(feed::RETRY))),
            }
        }
        if watch.len == 0 && io.feed.is_none() {
            return false;
        }
        if let Some(fd) = exit_fd {
            watch.add(fd.as_raw_fd(), libc::POLLIN, Role::Exit);
        }
        let only_one_pipe = watch.len == 1 && matches!(watch.roles[0], Role::Pipe(_));
        let ready = if only_one_pipe && wait.is_none() {
            // One pipe and nothing else to watch: a blocking read is all it takes.
            [Some(true), None, None, None]
        } else {
            match watch.poll(wait) {
                Some(ready) => ready,
                None => continue,
            }
        };
        let mut exited = false;
        for (k, is_ready) in ready.iter().enumerate().take(watch.len) {
            match (watch.roles[k], is_ready) {
                (_, None) => {}
                (Role::Pipe(i), Some(false)) => open[i] = None,
                (Role::Pipe(i), Some(true)) => read_pipe(&mut open[i], STREAMS[i], io),
                (Role::Feed, Some(_)) => io.step_feed(),
                (Role::Exit, Some(_)) => exited = true,
            }
        }
        // A feed waiting for something poll cannot see is looked at every round.
        if io.feed.as_ref().is_some_and(|f| f.fd().is_none()) {
            io.step_feed();
        }
        if exited {
            return true;
        }
        if wait.is_some() {
            return false;
        }
    }
}

/// Reads once from a ready pipe into the sink; closes it at its end.
fn read_pipe(pipe: &mut Option<File>, stream: Stream, io: &mut JobIo<'_, '_>) {
    if let Some(file) = pipe {
        match file.read(io.buf) {
            Ok(0) => io.close(pipe, stream),
            Ok(n) => match io.filter.as_mut() {
                Some(filter) => filter.pass(stream, &io.buf[..n], &mut |b| io.sink.push(stream, b)),
                None => io.sink.push(stream, &io.buf[..n]),
            },
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => io.close(pipe, stream),
        }
    }
}

/// Takes bytes that are not the job's out of its output before they reach the sink (a Slurm
/// step's notice that it was cancelled: see `crate::exec::slurm`).
pub trait StreamFilter {
    /// Passes `bytes` of `stream` on to `out`, holding back what may still turn out to be
    /// taken out.
    fn pass(&mut self, stream: Stream, bytes: &[u8], out: &mut dyn FnMut(&[u8]));
    /// `stream` has ended, or is given up on: what was held back goes out.
    fn flush(&mut self, stream: Stream, out: &mut dyn FnMut(&[u8]));
}

/// Where a job's output goes and where its input comes from, while it runs.
pub struct JobIo<'s, 'b> {
    pub sink: &'s mut JobSink<'b>,
    pub buf: &'s mut [u8],
    /// `--pipe`: the block still on its way to the job.
    pub feed: Option<Feed>,
    /// What takes bytes that are not the job's out of its output, if anything.
    pub filter: Option<&'s mut dyn StreamFilter>,
}

impl JobIo<'_, '_> {
    /// Stops reading `pipe` (at its end, or giving up on it); the filter lets go of what
    /// it held back.
    fn close(&mut self, pipe: &mut Option<File>, stream: Stream) {
        *pipe = None;
        if let Some(filter) = self.filter.as_mut() {
            filter.flush(stream, &mut |b| self.sink.push(stream, b));
        }
    }

    fn step_feed(&mut self) {
        if let Some(feed) = &mut self.feed {
            if feed.step() == Fed::Done {
                // Closes the job's stdin: it sees the end of its input.
                self.feed = None;
            }
        }
    }
}

/// What a polled descriptor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Pipe(usize),
    Feed,
    Exit,
}

/// The descriptors of one poll: up to two pipes, the feed and the exit.
struct Watch {
    fds: [libc::pollfd; 4],
    roles: [Role; 4],
    len: usize,
}

impl Default for Watch {
    fn default() -> Self {
        let unused = libc::pollfd {
            fd: -1,
            events: 0,
            revents: 0,
        };
        Watch {
            fds: [unused; 4],
            roles: [Role::Exit; 4],
            len: 0,
        }
    }
}

impl Watch {
    fn add(&mut self, fd: i32, events: i16, role: Role) {
        self.fds[self.len] = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        self.roles[self.len] = role;
        self.len += 1;
    }

    /// Polls; per descriptor, Some(true) when ready, Some(false) when hung up with nothing
    /// to read (no read is needed to see the end), None when not ready. `None` in all when
    /// interrupted by a signal, to poll again.
    fn poll(&mut self, wait: Option<Duration>) -> Option<[Option<bool>; 4]> {
        let timeout = i32::from(timeout_of(wait));
        // SAFETY: `fds` holds `len` initialised entries for descriptors that stay open for
        // the duration of the call.
        let n = unsafe { libc::poll(self.fds.as_mut_ptr(), self.len as libc::nfds_t, timeout) };
        let mut ready = [None; 4];
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                return None;
            }
            // Let the reads and writes themselves say what is wrong.
            return Some([Some(true); 4]);
        }
        for (k, fd) in self.fds[..self.len].iter().enumerate() {
            ready[k] = match fd.revents {
                0 => None,
                r if r & (libc::POLLIN | libc::POLLOUT) != 0 => Some(true),
                _ if self.roles[k] == Role::Feed => Some(true),
                _ => Some(false),
            };
        }
        Some(ready)
    }
}

/// A pidfd for `pid` (Linux 5.3+), readable once the process exits.
pub(crate) fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a non-negative result is a freshly opened fd that nothing else owns.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

pub(crate) fn has_exited(pid: i32) -> bool {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT | WaitPidFlag::WNOHANG;
    loop {
        match waitid(Id::Pid(Pid::from_raw(pid)), flags) {
            Ok(WaitStatus::StillAlive) => return false,
            Err(nix::errno::Errno::EINTR) => continue,
            _ => return true,
        }
    }
}

/// Blocks until `pid` has exited, without reaping it.
pub(crate) fn wait_for_exit(pid: i32) {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
    while let Err(nix::errno::Errno::EINTR) = waitid(Id::Pid(Pid::from_raw(pid)), flags) {}
}
