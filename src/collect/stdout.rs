//! Standard output as the collector writes it: file descriptor 1 directly, and a way out
//! when nothing reads it any more.
//!
//! A reader that stops reading (a stalled pager, a hung consumer) leaves the collector
//! blocked in `write(1)`; SIGINT or SIGTERM must still end pmap. Once the run's kill grace
//! is over ([`give_up`], called when the running jobs get SIGKILL), the collector's thread
//! is interrupted out of a blocked write (SIGURG, whose handler does nothing and does not
//! restart the call), and from then on a write waits at most [`LAST_WAIT`] for the reader:
//! a reader that keeps reading gets everything, a stalled one makes the write fail, and the
//! collector drops the rest of the output and finishes.

use std::fs::File;
use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd, FromRawFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::pthread::{Pthread, pthread_kill, pthread_self};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// After [`give_up`], how long one write waits for the reader to make room.
const LAST_WAIT: Duration = Duration::from_millis(100);

/// At most this much goes in one write after [`give_up`], so that a write the poll allowed
/// cannot block (a pipe with room takes this much at once).
const PIPE_BUF: usize = libc::PIPE_BUF;

/// The run's kill grace is over: writes to stdout no longer block.
static GIVEN_UP: AtomicBool = AtomicBool::new(false);

/// The collector's thread, to interrupt out of a blocked write.
static COLLECTOR: OnceLock<Pthread> = OnceLock::new();

/// File descriptor 1 written directly. `std::io::Stdout` is line-buffered: it would scan
/// every batch for its last newline and copy partial lines, for bytes pmap has already
/// gathered into large batches.
pub struct RawStdout(ManuallyDrop<File>);

impl RawStdout {
    /// Stdout, written from the calling thread (the collector's), which [`give_up`] may
    /// interrupt.
    pub(crate) fn new() -> Self {
        let _ = COLLECTOR.set(pthread_self());
        let wake = SigAction::new(
            SigHandler::Handler(wake_up),
            SaFlags::empty(),
            SigSet::empty(),
        );
        // SAFETY: the handler does nothing (it is async-signal-safe), and SIGURG's default
        // is to be ignored, so nothing in pmap relies on its disposition.
        let _ = unsafe { sigaction(Signal::SIGURG, &wake) };
        // SAFETY: fd 1 stays open for the life of the process; ManuallyDrop never closes it.
        RawStdout(ManuallyDrop::new(unsafe { File::from_raw_fd(1) }))
    }
}

extern "C" fn wake_up(_: libc::c_int) {}

/// Interrupts a write the collector is blocked in, and keeps later writes from blocking for
/// more than [`LAST_WAIT`]: the run is ending and the jobs have been killed.
pub fn give_up() {
    GIVEN_UP.store(true, Ordering::SeqCst);
    if let Some(collector) = COLLECTOR.get() {
        let _ = pthread_kill(*collector, Signal::SIGURG);
    }
}

/// Whether stdout writes no longer block ([`give_up`]).
pub fn given_up() -> bool {
    GIVEN_UP.load(Ordering::SeqCst)
}

/// The error of a write that found nobody reading.
fn stalled() -> io::Error {
    io::Error::other("nothing is reading it")
}

impl Write for RawStdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            let piece = if given_up() {
                let mut fds = [PollFd::new(self.0.as_fd(), PollFlags::POLLOUT)];
                let wait = PollTimeout::try_from(LAST_WAIT).unwrap_or(PollTimeout::ZERO);
                if !matches!(poll(&mut fds, wait), Ok(n) if n > 0) {
                    return Err(stalled());
                }
                &buf[..buf.len().min(PIPE_BUF)]
            } else {
                buf
            };
            match self.0.write(piece) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                written => return written,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
