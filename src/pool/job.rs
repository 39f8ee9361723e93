//! Running one job as a fresh process: build the command, spawn it as the leader of its own
//! process group with stdin on /dev/null, drain stdout and stderr together, reap it.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;

use crossbeam_channel::Sender;

use crate::collect::results::ResultFiles;
use crate::collect::sink::JobSink;
use crate::collect::spool::MemoryBudget;
use crate::config::Config;
use crate::event::{Event, JobResult, JobStatus, Stream};
use crate::input::Job;
use crate::pool::Control;
use crate::template::{JobContext, Rendered, display};

/// What every job run needs from its pool.
pub struct JobEnv {
    pub config: Arc<Config>,
    pub control: Arc<Control>,
    pub events: Sender<Event>,
    pub budget: Arc<MemoryBudget>,
}

/// Runs `job` in `slot` to completion and returns how it ended; its output goes through a
/// [`JobSink`]. `buf` is the worker's reusable read buffer.
pub fn run(job: Job, slot: usize, env: &JobEnv, buf: &mut [u8]) -> JobResult {
    let config = &env.config;
    let context = JobContext {
        values: &job.values,
        seq: job.seq,
        slot,
    };
    let rendered = config.template.render(context);
    let mut command_line = Vec::new();
    rendered.display_line_into(&mut command_line);
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

    let mut error = None;
    let results = config.output.results.as_deref().and_then(|dir| {
        ResultFiles::create(dir, job.seq)
            .map_err(|e| error = Some(format!("cannot write --results files: {e}")))
            .ok()
    });
    let mut sink = JobSink::new(&config.output, context, &env.events, &env.budget, results);

    let start = SystemTime::now();
    let clock = Instant::now();
    let status = match command.spawn() {
        Err(e) => not_started(name, &e),
        Ok(mut child) => {
            let pid = child.id() as i32;
            env.control.register(slot, pid);
            let pipes = [
                child.stdout.take().map(OwnedFd::from),
                child.stderr.take().map(OwnedFd::from),
            ];
            drain(pipes, buf, &mut sink);
            wait_for_exit(pid);
            env.control.unregister(slot);
            match child.wait() {
                Ok(status) => match status.signal() {
                    Some(sig) => JobStatus::Signaled(sig),
                    None => JobStatus::Exited(status.code().unwrap_or(-1)),
                },
                Err(e) => JobStatus::NotStarted {
                    code: 126,
                    message: format!("cannot wait for '{}': {e}", display(name)),
                },
            }
        }
    };
    let runtime = clock.elapsed();
    let (output, results, sink_error) = sink.finish();
    let mut result = JobResult {
        seq: job.seq,
        slot,
        values: job.values,
        command: command_line,
        status,
        output,
        start,
        runtime,
        attempts: 1,
        error: error.or(sink_error),
    };
    if let Some(results) = results {
        if let Err(e) = results.finish(&result) {
            result
                .error
                .get_or_insert(format!("cannot write --results files: {e}"));
        }
    }
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

const STREAMS: [Stream; 2] = [Stream::Stdout, Stream::Stderr];

/// Blocks until `pid` has exited, without reaping it, so that its process-group id stays
/// valid while it is still registered for signals.
fn wait_for_exit(pid: i32) {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
    while let Err(nix::errno::Errno::EINTR) = waitid(Id::Pid(Pid::from_raw(pid)), flags) {}
}

/// Reads both pipes until both are closed, without letting either fill up and block the
/// child, handing everything read to `sink`.
fn drain(pipes: [Option<OwnedFd>; 2], buf: &mut [u8], sink: &mut JobSink<'_>) {
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
            [None, None] => return,
        };
        for i in 0..2 {
            if !ready[i] {
                continue;
            }
            if let Some(file) = &mut open[i] {
                match file.read(buf) {
                    Ok(0) => open[i] = None,
                    Ok(n) => sink.push(STREAMS[i], &buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => open[i] = None,
                }
            }
        }
    }
}
