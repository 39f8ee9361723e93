//! Executors: they start jobs, read their pipes, enforce timeouts and send
//! [`crate::event::Event`]s. They never print.
//!
//! One [`Executor`] per way of running a job, each in its own file:
//! - [`fresh::FreshProcess`]: a fresh process per job (`--pool thread`, the default);
//! - [`worker::PersistentWorker`]: one long-lived worker process per slot, fed one item per
//!   line (`--pool process`);
//! - [`ssh::RemoteSlot`]: a job slot on an ssh host (`-S`);
//! - [`slurm::SlurmStep`]: a slot whose jobs are Slurm job steps (`--slurm`).
//!
//! The slot loop in [`slots`] is written once for all of them: it takes work from the
//! [`queue`], applies `--retries`, `--delay` and `--halt`, and reports results. The slots are
//! the threads of a rayon pool, joined at the end of the run. [`Control`] is what the rest
//! of pmap holds to steer a running pool; [`escalate`] is the one TERM → grace → KILL
//! ladder; [`spawn`] starts processes with `posix_spawn`; [`supervise`] drains a process's
//! pipes until it ends.
//!
//! Adding an executor means adding a file with a type that implements [`Executor`] and one
//! arm in the `match` of the slots' `run_executor`.

pub mod control;
pub mod escalate;
pub mod feed;
pub mod fresh;
pub mod machine;
pub mod queue;
pub mod slots;
pub mod slurm;
pub mod spawn;
pub mod ssh;
pub mod supervise;
#[cfg(test)]
mod testing;
pub mod worker;

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use crate::capture::results::ResultFiles;
use crate::capture::sink::JobSink;
use crate::capture::spool::MemoryBudget;
use crate::config::Config;
use crate::event::{Events, JobResult, JobStatus};
use crate::input::Job;
use crate::remote::Remote;
use crate::template::{JobContext, Rendered, display};

pub use control::Control;

/// One way of running jobs in one slot. The slot loop ([`slots`]) owns one executor per
/// slot for the whole run and calls it for one attempt at a time.
pub trait Executor {
    /// Makes one attempt at `job` and returns how it ended. `started` is to be called as
    /// soon as the job is under way (its process started, or failed to), so that the slot
    /// loop can hand on the previous job's result meanwhile.
    fn attempt(&mut self, job: &Job, started: &mut dyn FnMut()) -> Result<Attempt, Handback>;

    /// Whether a failed attempt that `--retries` allows again goes back to the queue, for
    /// another slot (on another host), instead of running again here.
    fn retries_elsewhere(&self) -> bool {
        false
    }

    /// Whether this slot should take `job` (one that failed elsewhere may prefer another
    /// host).
    fn accepts(&self, _job: &Job) -> bool {
        true
    }

    /// Notes on `job` that an attempt at it failed in this slot, before it goes back to the
    /// queue for another slot.
    fn failed_here(&self, _job: &mut Job) {}

    /// How many jobs the slot should hold for this executor at once, counting the next one
    /// to attempt (pipelining: see [`Executor::line_up`]). 1 for one job at a time.
    fn window(&self) -> usize {
        1
    }

    /// The jobs the slot holds, in the order it will attempt them, after the first
    /// [`Executor::lined_up`] ones; an executor that pipelines may start them ahead of
    /// their turn. `more`: whether more jobs may come to this slot.
    fn line_up(&mut self, _jobs: &mut dyn Iterator<Item = &Job>, _more: bool) {}

    /// How many of the jobs first in the slot's hand are lined up already: under way here,
    /// ahead of their turn, so that they are still attempted, and reported, when the run
    /// stops without ending running jobs.
    fn lined_up(&self) -> usize {
        0
    }

    /// The slot's loop is over: end whatever the executor keeps running between jobs.
    fn retire(&mut self) {}
}

/// Why an attempt gives its job back unfinished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handback {
    /// The job's process could not start for want of descriptors, processes or memory
    /// (this error) while other jobs run: the job waits in the queue for one of them to
    /// end, and this slot leaves, so that fewer jobs run at once from now on.
    Crowded(String),
    /// The slot's host cannot be reached (any more): the job is to run elsewhere and this
    /// slot takes no more.
    HostLost,
    /// The attempt failed and `--retries` allows another, which should go to another host.
    Retry,
    /// The job cannot finish before more of the slot's jobs are lined up behind it (a
    /// process-pool worker waits for more input before it answers): the job stays first in
    /// the slot's hand, and the slot tops its hand up to the executor's grown window and
    /// tries again. No attempt is counted.
    Starved,
    /// `--memfree` ended the job to free memory: it goes back to the queue to run again
    /// later, and no attempt is counted.
    Evicted,
}

/// One attempt at a job: how it ended, and its `--results` files to finish.
pub type Attempt = (JobResult, Option<ResultFiles>);

/// What every executor needs from the run.
pub struct JobEnv {
    pub config: Arc<Config>,
    pub control: Arc<Control>,
    pub events: Events,
    pub budget: &'static MemoryBudget,
    /// The environment every job inherits, built once.
    pub base_env: spawn::BaseEnv,
    /// `--delay`: the earliest moment the next job may start.
    pub next_start: Mutex<Option<Instant>>,
    /// `--sshlogin`: the hosts, and which slot runs where.
    pub remote: Option<Arc<Remote>>,
    /// `--pool process`: workers that exit before their first answer, in a row.
    pub worker_starts: worker::StartBreaker,
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
            self.budget,
            results,
        );
        (sink, error)
    }

    /// Sleeps until `--delay` allows another start, and returns the start time. The next
    /// start is booked from the moment this one is taken, under the lock, so recorded
    /// starts are never closer than the delay even when a thread wakes late.
    pub fn pace(&self) -> SystemTime {
        self.wait_for_room();
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
        *next = Instant::now().checked_add(delay);
        SystemTime::now()
    }
}

impl JobEnv {
    /// `--load`, `--memfree`: waits until the machine has room for another job, or the
    /// run stops.
    fn wait_for_room(&self) {
        let placement = &self.config.placement;
        if !placement.gates_starts() {
            return;
        }
        while !machine::room_to_start(placement) && !self.control.is_stopping() {
            std::thread::sleep(machine::POLL);
        }
    }
}

/// Assembles an attempt's result once its output is complete.
pub fn finish_attempt(
    sink: JobSink<'_>,
    error: Option<String>,
    seq: u64,
    slot: usize,
    command: Vec<u8>,
    status: JobStatus,
    timing: (SystemTime, std::time::Duration),
) -> Attempt {
    let received = sink.received;
    let (output, results, sink_error) = sink.finish();
    let (start, runtime) = timing;
    let result = JobResult {
        command,
        runtime,
        received,
        error: error.or(sink_error),
        ..JobResult::new(seq, slot, status, output, start)
    };
    (result, results)
}

/// The program to start for a rendered command and its arguments (the first is the name
/// it sees): the argv itself, with the program where `$PATH` found it once per run, or the
/// shell with `-c LINE`.
pub fn argv_for<'a>(rendered: &'a Rendered, config: &'a Config) -> (&'a OsStr, Vec<&'a OsStr>) {
    match rendered {
        // An exported bash function: `bash -c '"$@"' NAME ARGV...` calls it with the words.
        Rendered::Argv(argv) if config.bash_function.is_some() => {
            let bash = config
                .bash_function
                .as_deref()
                .unwrap_or(OsStr::new("bash"));
            let mut args = vec![bash, OsStr::new("-c"), OsStr::new("\"$@\""), &argv[0]];
            args.extend(argv.iter().map(OsString::as_os_str));
            (bash, args)
        }
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

/// The status of a job whose process could not be started: 127 if the program was not
/// found, else 126, as a shell reports them.
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
