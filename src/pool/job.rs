//! Running one job as a fresh process: build the command, spawn it as the leader of its own
//! process group with stdin on /dev/null, drain stdout and stderr together, reap it.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;

use crate::config::Config;
use crate::event::{JobResult, JobStatus};
use crate::input::Job;
use crate::pool::Control;
use crate::template::{JobContext, Rendered, display};

/// Runs `job` in `slot` to completion and returns what it printed and how it ended.
/// `buf` is the worker's reusable read buffer.
pub fn run(
    job: &Job,
    slot: usize,
    config: &Config,
    control: &Control,
    buf: &mut [u8],
) -> JobResult {
    let rendered = config.template.render(JobContext {
        values: &job.values,
        seq: job.seq,
        slot,
    });
    let (mut command, name) = match &rendered {
        Rendered::Argv(argv) => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            (c, argv[0].as_os_str())
        }
        Rendered::ShellLine(line) => {
            let mut c = Command::new(&config.shell);
            c.arg("-c").arg(OsStr::from_bytes(line));
            (c, config.shell.as_os_str())
        }
    };
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .env("PMAP_SEQ", job.seq.to_string())
        .env("PMAP_SLOT", slot.to_string());

    let start = SystemTime::now();
    let clock = Instant::now();
    let mut result = JobResult {
        seq: job.seq,
        slot,
        status: JobStatus::Exited(0),
        stdout: Vec::new(),
        stderr: Vec::new(),
        start,
        runtime: Default::default(),
    };
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            result.status = not_started(name, &e);
            return result;
        }
    };
    let pid = child.id() as i32;
    control.register(slot, pid);
    let pipes = [
        child.stdout.take().map(OwnedFd::from),
        child.stderr.take().map(OwnedFd::from),
    ];
    let [stdout, stderr] = drain(pipes, buf);
    result.stdout = stdout;
    result.stderr = stderr;
    wait_for_exit(pid);
    control.unregister(slot);
    result.status = match child.wait() {
        Ok(status) => match status.signal() {
            Some(sig) => JobStatus::Signaled(sig),
            None => JobStatus::Exited(status.code().unwrap_or(-1)),
        },
        Err(e) => JobStatus::NotStarted {
            code: 126,
            message: format!("cannot wait for '{}': {e}", display(name)),
        },
    };
    result.runtime = clock.elapsed();
    result
}

fn not_started(name: &OsStr, e: &io::Error) -> JobStatus {
    let name = display(name);
    let (code, why) = match e.kind() {
        io::ErrorKind::NotFound => (127, "command not found".to_string()),
        io::ErrorKind::PermissionDenied => (126, "permission denied".to_string()),
        io::ErrorKind::InvalidInput => (126, "an argument contains a NUL byte".to_string()),
        _ => (126, e.to_string()),
    };
    JobStatus::NotStarted {
        code,
        message: format!("cannot run '{name}': {why}"),
    }
}

/// Blocks until `pid` has exited, without reaping it, so that its process-group id stays
/// valid while it is still registered for signals.
fn wait_for_exit(pid: i32) {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
    while let Err(nix::errno::Errno::EINTR) = waitid(Id::Pid(Pid::from_raw(pid)), flags) {}
}

/// Reads both pipes until both are closed, without letting either fill up and block the
/// child. Returns everything read from each.
fn drain(pipes: [Option<OwnedFd>; 2], buf: &mut [u8]) -> [Vec<u8>; 2] {
    let mut out = [Vec::new(), Vec::new()];
    let mut open: [Option<File>; 2] = pipes.map(|p| p.map(File::from));
    loop {
        let ready = match &open {
            [Some(a), Some(b)] => {
                let mut fds = [
                    PollFd::new(a.as_fd(), PollFlags::POLLIN),
                    PollFd::new(b.as_fd(), PollFlags::POLLIN),
                ];
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) => [fds[0].any().unwrap_or(true), fds[1].any().unwrap_or(true)],
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => [true, true],
                }
            }
            // With one pipe left, a blocking read is all it takes.
            [Some(_), None] => [true, false],
            [None, Some(_)] => [false, true],
            [None, None] => return out,
        };
        for i in 0..2 {
            if !ready[i] {
                continue;
            }
            if let Some(file) = &mut open[i] {
                match file.read(buf) {
                    Ok(0) => open[i] = None,
                    Ok(n) => out[i].extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => open[i] = None,
                }
            }
        }
    }
}
