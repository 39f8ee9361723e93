//! Signals, on a dedicated thread (signal-hook): SIGINT and SIGTERM stop new jobs and end
//! the running ones (SIGTERM to their process groups, SIGKILL after the grace); a second
//! SIGINT or SIGTERM kills them at once. SIGHUP only stops new jobs and lets running ones
//! finish. SIGUSR1 lists the running jobs on stderr. Every other signal whose default would
//! end pmap ([`ENDING`]) ends the jobs as SIGTERM does. The collector notices and exits
//! 128 + the signal's number (130 for SIGINT, 143 for SIGTERM) once the jobs are gone.
//!
//! A signal pmap inherited as ignored (`nohup pmap …`, a shell's background job) stays
//! ignored, for pmap and for its jobs, as under xargs: pmap installs no handler for it and
//! the jobs start with it ignored. Every other signal a job could find changed starts at
//! its default ([`job_defaults`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, Signal};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;

use crate::exec::Control;

/// The signals whose inherited disposition pmap looks at: those it handles, and SIGPIPE,
/// which Rust's runtime ignores in pmap itself.
const WATCHED: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGPIPE,
];

/// Bit `n` set: signal `n` was ignored when pmap started. Written once, before `main`.
static INHERITED_IGNORED: AtomicU64 = AtomicU64::new(0);

/// Notes which [`WATCHED`] signals pmap inherited as ignored. `main.rs` has the loader run
/// it before `main`, because Rust's runtime sets SIGPIPE to ignored before `main` starts.
pub extern "C" fn note_inherited() {
    let mut bits = 0;
    for signal in WATCHED {
        if is_ignored(signal as i32) {
            bits |= 1 << signal as i32;
        }
    }
    INHERITED_IGNORED.store(bits, Ordering::SeqCst);
}

/// Whether pmap inherited `signal` as ignored.
pub fn inherited_ignored(signal: Signal) -> bool {
    INHERITED_IGNORED.load(Ordering::SeqCst) & (1 << signal as i32) != 0
}

/// The signals every job starts with at their default disposition: those pmap handles or
/// ignores itself (handlers are reset by `execve` anyway; an ignored signal would stay
/// ignored), unless pmap inherited them as ignored.
pub fn job_defaults() -> SigSet {
    WATCHED
        .into_iter()
        .filter(|s| !inherited_ignored(*s))
        .collect()
}

/// Puts SIGCHLD back to its default if pmap inherited it ignored: then the kernel would reap
/// every job itself, and pmap could not learn how any of them ended.
pub fn reset_child_signal() {
    if is_ignored(libc::SIGCHLD) {
        // SAFETY: SIG_DFL installs no handler, so no code can run on the signal; nothing in
        // pmap relies on SIGCHLD being ignored.
        let _ = unsafe {
            nix::sys::signal::signal(Signal::SIGCHLD, nix::sys::signal::SigHandler::SigDfl)
        };
    }
}

fn is_ignored(signal: libc::c_int) -> bool {
    // SAFETY: a zeroed sigaction is a valid value to be overwritten; with a null new action
    // sigaction only reads the current one into `old`, which is read only if it succeeded.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

/// Signals whose default action ends a process, besides INT, TERM and HUP (and the
/// real-time signals, added at run time): pmap ends its jobs on them as on SIGTERM before it
/// exits, so that no job outlives it. (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS and
/// SIGABRT report faults in pmap itself and are not caught.)
const ENDING: [i32; 10] = [
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGQUIT,
    libc::SIGVTALRM,
    libc::SIGPROF,
    libc::SIGIO,
    libc::SIGPWR,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGSTKFLT,
];

/// Starts the signal thread for a run.
pub fn install(control: Arc<Control>, grace: Duration) -> Result<()> {
    // Signals pmap inherited as ignored stay ignored: pmap is not yet handling any of
    // these, so what is ignored now was ignored when pmap started.
    let handled = [SIGINT, SIGTERM, SIGHUP, SIGUSR1]
        .into_iter()
        .chain(ENDING)
        .chain(libc::SIGRTMIN()..=libc::SIGRTMAX())
        .filter(|&s| !is_ignored(s));
    let mut signals = Signals::new(handled).context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("pmap-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                match signal {
                    SIGHUP => control.stop(),
                    // The collector lists the running jobs on stderr, as GNU parallel does.
                    SIGUSR1 => control.request_report(),
                    _ if control.interrupted_by().is_some() => control.kill_now(),
                    _ => {
                        control.set_interrupted(signal);
                        control.terminate(grace);
                    }
                }
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}
