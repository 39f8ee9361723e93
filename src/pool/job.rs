//! Running one job as fresh processes: build the command, spawn it as the leader of its own
//! process group with stdin on /dev/null, supervise it (see [`super::supervise`]), reap it,
//! and retry it under `--retries`.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use crossbeam_channel::Sender;

use crate::collect::results::ResultFiles;
use crate::collect::sink::JobSink;
use crate::collect::spool::MemoryBudget;
use crate::config::Config;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::event::{Event, JobResult, JobStatus};
use crate::input::Job;
use crate::pool::Control;
use crate::pool::spawn::{self, BaseEnv, Spawner};
use crate::pool::supervise::{Limit, supervise};
use crate::template::{JobContext, Rendered, display};

/// What every job run needs from its pool.
pub struct JobEnv {
    pub config: Arc<Config>,
    pub control: Arc<Control>,
    pub events: Sender<Event>,
    pub budget: Arc<MemoryBudget>,
    /// The environment every job inherits, built once.
    pub base_env: BaseEnv,
    /// `--delay`: the earliest moment the next job may start.
    pub next_start: Mutex<Option<Instant>>,
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
        let mut next = self.next_start.lock().unwrap_or_else(|p| p.into_inner());
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
/// soon as the first process has started.
pub fn run(
    job: Job,
    slot: usize,
    env: &JobEnv,
    buf: &mut [u8],
    spawner: &mut Spawner,
    started: &mut dyn FnMut(),
) -> JobResult {
    with_retries(job, env, |job| {
        run_once(job, slot, env, buf, spawner, started)
    })
}

/// One attempt at a job: how it ended, and its `--results` files to finish.
pub type Attempt = (JobResult, Option<ResultFiles>);

/// Makes attempts at `job` until one succeeds, `--retries` runs out or pmap stops; the last
/// attempt is the job's result.
pub fn with_retries(
    job: Job,
    env: &JobEnv,
    mut attempt_once: impl FnMut(&Job) -> Attempt,
) -> JobResult {
    let attempts = env.config.control.retries + 1;
    let mut attempt = 1;
    loop {
        let (mut result, results) = attempt_once(&job);
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
            return result;
        }
        attempt += 1;
    }
}

/// `started` runs as soon as the process has started (or failed to).
fn run_once(
    job: &Job,
    slot: usize,
    env: &JobEnv,
    buf: &mut [u8],
    spawner: &mut Spawner,
    started: &mut dyn FnMut(),
) -> Attempt {
    let config = &env.config;
    let context = JobContext {
        values: &job.values,
        seq: job.seq,
        slot,
    };
    let rendered = config.template.render(context);
    // The command as a shell would show it: for the joblog, --json and -v only.
    let mut command_line = Vec::new();
    let shown = &config.output;
    if shown.verbose || shown.json || config.control.joblog.is_some() {
        rendered.display_line_into(&mut command_line);
    }
    let (program, args) = argv_for(&rendered, config);
    let name = args[0].to_os_string();
    let job_env = [
        format!("PMAP_SEQ={}", job.seq).into_bytes(),
        format!("PMAP_SLOT={slot}").into_bytes(),
    ];

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
    let spawned = spawner.spawn(program, &args, &env.base_env, &job_env);
    started();
    let status = match spawned {
        Err(e) => not_started(&name, &e),
        Ok(started) => {
            let pid = started.pid;
            env.control.register(slot, pid);
            let pipes = [Some(started.stdout), Some(started.stderr)];
            timed_out = supervise(pid, pipes, &mut sink, buf, limit.as_ref());
            if env.control.is_terminating() {
                // pmap is stopping: what is left of the group (grandchildren) ends too.
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            env.control.unregister(slot);
            spawn::reap(pid, &name)
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
    attempt
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

/// Reaps an exited child and says how it ended.
pub fn reap(child: &mut Child, name: &OsStr) -> JobStatus {
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
