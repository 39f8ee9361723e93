//! Running one job as fresh processes: build the command, spawn it as the leader of its own
//! process group with stdin on /dev/null, supervise it (see [`super::supervise`]), reap it,
//! and retry it under `--retries`.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use crate::collect::results::ResultFiles;
use crate::collect::sink::JobSink;
use crate::collect::spool::MemoryBudget;
use crate::config::Config;

use crate::event::{Event, Events, JobResult, JobStatus};
use crate::input::Job;
use crate::pool::Control;
use crate::pool::spawn::{self, BaseEnv, Spawner};
use crate::pool::supervise::{Limit, supervise};
use crate::remote::Remote;
use crate::remote::ssh::JobPlace;
use crate::template::{JobContext, Rendered, display};

/// What every job run needs from its pool.
pub struct JobEnv {
    pub config: Arc<Config>,
    pub control: Arc<Control>,
    pub events: Events,
    pub budget: Arc<MemoryBudget>,
    /// The environment every job inherits, built once.
    pub base_env: BaseEnv,
    /// `--delay`: the earliest moment the next job may start.
    pub next_start: Mutex<Option<Instant>>,
    /// `--sshlogin`: the hosts, and which slot runs where.
    pub remote: Option<Arc<Remote>>,
}

impl JobEnv {
    /// A sink for one attempt's output, with its `--results` files if asked for; and the
    /// error if those could not be created.
    pub fn sink(&self, context: JobContext<'_>) -> (JobSink<'_>, Option<String>) {
        let mut error = None;
        let results = self.config.output.results.as_deref().and_then(|dir| {
            ResultFiles::create(dir, context.seq)
                .map_err(|e| error = Some(format!("cannot write --results files: {e}")))
                .ok()
        });
        let sink = JobSink::new(
            &self.config.output,
            context,
            &self.events,
            &self.budget,
            results,
        );
        (sink, error)
    }

    /// Sleeps until `--delay` allows another start, and returns the start time. The next
    /// start is booked from the moment this one is taken, under the lock, so recorded
    /// starts are never closer than the delay even when a thread wakes late.
    pub fn pace(&self) -> SystemTime {
        let Some(delay) = self.config.control.delay else {
            return SystemTime::now();
        };
        let mut next = crate::lock(&self.next_start);
        if let Some(at) = *next {
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
        }
        *next = Some(Instant::now() + delay);
        SystemTime::now()
    }
}

/// Runs `job` in `slot` as a fresh process, retrying it under `--retries`, and returns how
/// its last attempt ended. `buf` is the worker's reusable read buffer; `started` runs as
/// soon as the first process has started. With `--sshlogin`, the job comes back as `Err`
/// if the slot's host was found unreachable: it is to run elsewhere.
pub fn run(
    job: Job,
    slot: usize,
    env: &JobEnv,
    buf: &mut [u8],
    spawner: &mut Spawner,
    started: &mut dyn FnMut(),
) -> Result<JobResult, (Job, Handback)> {
    // A remote job's retry goes back to the queue, to run on a host it has not failed on
    // if there is one.
    let elsewhere = env
        .remote
        .as_ref()
        .filter(|r| r.hosts_left() > 1)
        .map(|_| Handback::Retry);
    with_retries(
        job,
        env,
        |job| run_once(job, slot, env, buf, spawner, started),
        elsewhere,
    )
    .map_err(|(mut job, why)| {
        if let (Handback::Retry, Some(remote)) = (&why, &env.remote) {
            let host = remote.host_index(slot);
            if !job.failed_on.contains(&host) {
                job.failed_on.push(host);
            }
        }
        (job, why)
    })
}

/// Why a job comes back from [`run`] unfinished.
pub enum Handback {
    /// The slot's host cannot be reached (any more): the job is to run elsewhere and this
    /// slot takes no more.
    HostLost,
    /// The attempt failed and `--retries` allows another, which should go to another host.
    Retry,
}

/// One attempt at a job: how it ended, and its `--results` files to finish.
pub type Attempt = (JobResult, Option<ResultFiles>);

/// Makes attempts at `job` until one succeeds, `--retries` runs out or pmap stops; the last
/// attempt is the job's result.
/// An attempt that fails with `E` gives the job back, unrun, with that error.
/// With `elsewhere`, a failed attempt that may be retried gives the job back instead, with
/// that error, for another slot to retry.
pub fn with_retries<E>(
    mut job: Job,
    env: &JobEnv,
    mut attempt_once: impl FnMut(&Job) -> Result<Attempt, E>,
    elsewhere: Option<E>,
) -> Result<JobResult, (Job, E)> {
    let attempts = env.config.control.retries + 1;
    let mut attempt = job.attempts + 1;
    let mut elsewhere = elsewhere;
    loop {
        let (mut result, results) = match attempt_once(&job) {
            Ok(attempt) => attempt,
            Err(e) => return Err((job, e)),
        };
        result.attempts = attempt;
        let stop = env.control.is_stopping();
        if result.succeeded() || attempt == attempts || stop {
            result.interrupted = stop && env.control.is_terminating() && !result.succeeded();
            result.values = job.values;
            if let Some(results) = results {
                if let Err(e) = results.finish(&result) {
                    result
                        .error
                        .get_or_insert(format!("cannot write --results files: {e}"));
                }
            }
            return Ok(result);
        }
        if let Some(e) = elsewhere.take() {
            job.attempts = attempt;
            return Err((job, e));
        }
        attempt += 1;
    }
}

/// `started` runs as soon as the process has started (or failed to).
#[allow(clippy::too_many_lines)]
fn run_once(
    job: &Job,
    slot: usize,
    env: &JobEnv,
    buf: &mut [u8],
    spawner: &mut Spawner,
    started: &mut dyn FnMut(),
) -> Result<Attempt, Handback> {
    let config = &env.config;
    if env.remote.as_ref().is_some_and(|r| r.is_lost(slot)) {
        return Err(Handback::HostLost);
    }
    let host = env.remote.as_ref().map(|r| r.host(slot));
    let context = JobContext {
        values: &job.values,
        seq: job.seq,
        slot,
        host: host.map_or(":", |h| &h.name),
    };
    let rendered = config.template.render(context);
    // The command as a shell would show it: for the joblog, --json and -v only.
    let mut command_line = Vec::new();
    let shown = &config.output;
    if shown.verbose || shown.json || config.control.joblog.is_some() {
        rendered.display_line_into(&mut command_line);
    }
    // A remote job is an ssh client; its stdin is a pipe pmap holds until the job is over,
    // whose end tells the remote side to end the command (see `remote::ssh`).
    let remote = env.remote.as_ref().and_then(|r| {
        let line = match &rendered {
            Rendered::Argv(argv) => crate::remote::ssh::exec_line(argv),
            Rendered::ShellLine(line) => line.clone(),
        };
        let place = JobPlace {
            host: context.host,
            seq: job.seq,
            slot,
            grace: config.control.kill_grace,
        };
        r.job_command(slot, &line, &place)
            .map(|c| (c, r.ssh_program().clone()))
    });
    let is_remote = remote.is_some();
    let mut job_env = vec![
        ("PMAP_SEQ", job.seq.to_string()),
        ("PMAP_SLOT", slot.to_string()),
    ];
    if host.is_some() {
        job_env.push(("PMAP_HOST", context.host.to_string()));
    }

    let (mut sink, error) = env.sink(context);
    if config.output.verbose {
        let _ = env.events.send(Event::Started {
            command: command_line.clone(),
        });
    }
    let limit = config.control.timeout.map(|timeout| Limit {
        timeout,
        grace: config.control.kill_grace,
    });

    let start = env.pace();
    let clock = Instant::now();
    let mut timed_out = false;
    let (spawned, name) = match remote {
        Some((mut command, name)) => {
            command
                .envs(job_env.iter().map(|(name, value)| (name, value)))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0);
            (command.spawn().and_then(started_child), name)
        }
        None => {
            let (program, args) = argv_for(&rendered, config);
            let name = args[0].to_os_string();
            let spawned = spawner.spawn(program, &args, &env.base_env, &job_env);
            (spawned.map(|s| (s, None)), name)
        }
    };
    started();
    let status = match spawned {
        Err(e) => not_started(&name, &e),
        Ok((started, stdin)) => {
            let pid = started.pid;
            // A remote job's stdin stays open until the job is ended or reaped.
            env.control.register_remote(slot, pid, stdin);
            let pipes = [Some(started.stdout), Some(started.stderr)];
            let signal = |sig| env.control.signal_slot(slot, sig);
            timed_out = supervise(pid, &signal, pipes, &mut sink, buf, limit.as_ref());
            let status = env.control.reap(slot, pid, &name);
            // A local job's 127 may be its child's failure to exec.
            match spawner.exec_error() {
                Some(e) if !is_remote && status == JobStatus::Exited(127) => not_started(&name, &e),
                _ => status,
            }
        }
    };
    let runtime = clock.elapsed();
    let mut attempt = finish_attempt(
        sink,
        error,
        job.seq,
        slot,
        command_line,
        status,
        start,
        runtime,
    );
    attempt.0.timed_out = timed_out;
    attempt.0.host = host.map(|h| Arc::clone(&h.name));
    // ssh's 255: the command's own status, or the host is gone. Ask the host.
    if let (true, Some(remote)) = (is_remote, &env.remote) {
        if attempt.0.status == JobStatus::Exited(255) && !timed_out && !env.control.is_stopping() {
            if let Some(report) = remote.check_after_255(slot) {
                if let Some(message) = report {
                    let _ = env.events.send(Event::Notice(message));
                }
                return Err(Handback::HostLost);
            }
        }
    }
    Ok(attempt)
}

/// A remote job's ssh process, started with `std::process::Command`, in the shape of a
/// [`spawn::Started`] plus its stdin.
fn started_child(mut child: Child) -> io::Result<(spawn::Started, Option<OwnedFd>)> {
    let missing = || io::Error::other("a pipe to the ssh client is missing");
    let stdout = child.stdout.take().ok_or_else(missing)?;
    let stderr = child.stderr.take().ok_or_else(missing)?;
    let started = spawn::Started {
        pid: child.id() as i32,
        stdout: OwnedFd::from(stdout),
        stderr: OwnedFd::from(stderr),
    };
    Ok((started, child.stdin.take().map(OwnedFd::from)))
}

/// Assembles an attempt's result once its output is complete.
#[allow(clippy::too_many_arguments)]
pub fn finish_attempt(
    sink: JobSink<'_>,
    error: Option<String>,
    seq: u64,
    slot: usize,
    command: Vec<u8>,
    status: JobStatus,
    start: SystemTime,
    runtime: std::time::Duration,
) -> Attempt {
    let received = sink.received;
    let (output, results, sink_error) = sink.finish();
    let result = JobResult {
        seq,
        slot,
        host: None,
        values: Vec::new(),
        command,
        status,
        output,
        start,
        runtime,
        attempts: 1,
        received,
        timed_out: false,
        interrupted: false,
        error: error.or(sink_error),
    };
    (result, results)
}

/// The program to start for a rendered command and its arguments (the first is the name
/// it sees): the argv itself, with the program where `$PATH` found it once per run, or the
/// shell with `-c LINE`.
pub fn argv_for<'a>(rendered: &'a Rendered, config: &'a Config) -> (&'a OsStr, Vec<&'a OsStr>) {
    match rendered {
        Rendered::Argv(argv) => {
            let program = match &config.program {
                Some((name, path)) if *name == argv[0] => path.as_os_str(),
                _ => argv[0].as_os_str(),
            };
            (program, argv.iter().map(OsString::as_os_str).collect())
        }
        Rendered::ShellLine(line) => {
            let shell = config.shell.as_os_str();
            (
                shell,
                vec![shell, OsStr::new("-c"), OsStr::from_bytes(line)],
            )
        }
    }
}

/// [`argv_for`] as a `Command`, for long-lived processes (the process pool's workers).
/// Also returns the program's name, for messages.
pub fn command_for(rendered: &Rendered, config: &Config) -> (Command, OsString) {
    let (program, args) = argv_for(rendered, config);
    let mut command = Command::new(program);
    command.arg0(args[0]).args(&args[1..]);
    (command, args[0].to_os_string())
}

pub fn not_started(name: &OsStr, e: &io::Error) -> JobStatus {
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
