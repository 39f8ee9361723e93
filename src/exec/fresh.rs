//! The fresh-process executor (`--pool thread`, the default): each job is a new process,
//! started with `posix_spawn` as the leader of its own process group with stdin on
//! /dev/null, supervised until its pipes close and it exits (see [`super::supervise`]), then
//! reaped. [`attempt_in_process`] is the part the ssh executor shares: everything but how the
//! process is started.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::WorkDir;
use crate::event::Event;
use crate::event::{JobResult, JobStatus};
use crate::exec::control::RunningJob;
use crate::exec::feed::Handover;
use crate::exec::spawn::{Spawner, Started};
use crate::exec::supervise::{JobIo, Limit, StreamFilter, supervise};
use crate::exec::{Attempt, Executor, Handback, JobEnv, argv_for, finish_attempt, not_started};
use crate::input::Job;
use crate::input::blocks::Delivery;
use crate::template::{JobContext, Rendered};

/// How an attempt's process came to be: started (with, for a remote job, the stdin pipe
/// pmap holds while it runs) or not, and the program's name for messages.
pub type Spawned = (io::Result<(Started, Option<OwnedFd>)>, OsString);

/// A slot that runs each job as a fresh process on this machine.
pub struct FreshProcess<'a> {
    env: &'a JobEnv,
    slot: usize,
    /// The host's name under `-S` with a `:` (this machine) slot: `PMAP_HOST` and `{host}`.
    host: Option<Arc<str>>,
    spawner: Spawner,
    buf: Vec<u8>,
}

impl<'a> FreshProcess<'a> {
    pub fn new(env: &'a JobEnv, slot: usize, host: Option<Arc<str>>) -> io::Result<Self> {
        Ok(FreshProcess {
            env,
            slot,
            host,
            spawner: Spawner::new()?,
            buf: vec![0; 64 * 1024],
        })
    }
}

impl Executor for FreshProcess<'_> {
    fn attempt(&mut self, job: &Job, started: &mut dyn FnMut()) -> Result<Attempt, Handback> {
        let (env, spawner) = (self.env, &mut self.spawner);
        let place = Place {
            slot: self.slot,
            host: self.host.as_ref(),
        };
        // `--wd ...`: removed when the attempt is over (its process reaped).
        let fresh_dir = match &env.config.placement.workdir {
            Some(WorkDir::Fresh) => match tempfile::Builder::new().prefix("pmap-wd-").tempdir() {
                Ok(dir) => Some(dir),
                Err(e) => {
                    let why = format!("cannot create a working directory for the job: {e}");
                    return Ok(not_started_because(job, &place, why));
                }
            },
            _ => None,
        };
        let workdir = match &env.config.placement.workdir {
            Some(WorkDir::Dir(dir)) => Some(dir.as_path()),
            _ => fresh_dir.as_ref().map(tempfile::TempDir::path),
        };
        let start = |rendered: &Rendered, vars: &[(&str, String)], stdin_pipe: bool| -> Spawned {
            let (program, args) = argv_for(rendered, &env.config);
            let name = args[0].to_os_string();
            let spawned = match workdir {
                None => spawner.spawn(program, &args, &env.base_env, vars, stdin_pipe),
                Some(dir) => {
                    let args = in_directory(dir, program, &args);
                    spawner.spawn(args[0], &args, &env.base_env, vars, stdin_pipe)
                }
            };
            (spawned.map(|s| (s, None)), name)
        };
        attempt_in_process(env, job, &place, &mut self.buf, started, start, None)
    }
}

/// `--wd`: the words that run `program` with `args` in `dir`, through `/bin/sh` (a
/// spawned process cannot be given a directory of its own otherwise). A relative program
/// is found from `dir`, as GNU parallel finds it.
fn in_directory<'a>(dir: &'a Path, program: &'a OsStr, args: &[&'a OsStr]) -> Vec<&'a OsStr> {
    let mut words = vec![
        OsStr::new("/bin/sh"),
        OsStr::new("-c"),
        OsStr::new(r#"cd -- "$0" && exec "$@""#),
        dir.as_os_str(),
        program,
    ];
    words.extend(&args[1..]);
    words
}

/// Where an attempt runs: its slot, and the host's name under `-S`.
pub struct Place<'a> {
    pub slot: usize,
    pub host: Option<&'a Arc<str>>,
}

/// One attempt at `job` as a process of its own, started by `start` from the rendered
/// command and the job's variables: render, start, drain its output into the job's sink
/// (enforcing `--timeout`), reap it. `started` runs once the process has started (or
/// failed to). `filter`, if any, takes what is not the job's out of its output. If the
/// process cannot start for want of descriptors, processes or memory while other jobs
/// run, the job comes back ([`Handback::Crowded`]) to wait for them.
pub fn attempt_in_process(
    env: &JobEnv,
    job: &Job,
    place: &Place<'_>,
    buf: &mut [u8],
    started: &mut dyn FnMut(),
    mut start: impl FnMut(&Rendered, &[(&str, String)], bool) -> Spawned,
    filter: Option<&mut dyn StreamFilter>,
) -> Result<Attempt, Handback> {
    let config = &env.config;
    let slot = place.slot;
    let delivery = match Handover::prepare(job, config.block_delivery().unwrap_or(Delivery::Stdin))
    {
        Ok(delivery) => delivery,
        Err(e) => return Ok(block_not_delivered(job, place, &e)),
    };
    let context = JobContext {
        values: delivery.values(job),
        seq: job.seq,
        slot,
        host: place.host.map_or(":", |h| h),
    };
    let rendered = config.template.render(context);
    // The command as a shell would show it: for the joblog, --json, --results, -v, -t and
    // the notice of a --timeout only.
    let mut command_line = Vec::new();
    let shown = &config.output;
    let wanted = shown.verbose || shown.trace || shown.json || shown.results.is_some();
    if wanted || config.control.joblog.is_some() || config.control.timeout.is_some() {
        rendered.display_line_into(&mut command_line);
    }
    let vars = job_vars(job, place);
    let (mut sink, error) = env.sink(context);
    let limit = config.control.timeout.map(|timeout| Limit {
        timeout,
        grace: config.control.kill_grace,
    });
    let start_time = env.pace();
    if shown.trace {
        let _ = env.events.send(Event::Started {
            command: command_line.clone(),
        });
    }
    if shown.verbose {
        sink.announce(&command_line);
    }
    let clock = Instant::now();
    let stdin_pipe = delivery.wants_stdin_pipe();
    let (spawned, name) = start_with_room(env, slot, || start(&rendered, &vars, stdin_pipe))?;
    started();
    // After `started`, which sends the slot's previous job's (held) result: the display
    // never counts two jobs of one slot as running.
    if shown.counts_running_jobs() {
        let _ = env.events.send(Event::Began);
    }
    let (status, timed_out) = match spawned {
        Err(e) => (not_started(&name, &e), false),
        Ok((mut process, stdin)) => {
            let pid = process.pid;
            let feed = delivery.feed(process.stdin.take(), stdin.as_ref());
            // A remote job's stdin stays open until the job is ended or reaped.
            let running = RunningJob {
                seq: job.seq,
                since: clock,
                command: rendered,
            };
            env.control.register(slot, pid, stdin, Some(running));
            let pipes = [Some(process.stdout), Some(process.stderr)];
            let signal = |sig| env.control.signal_slot(slot, sig);
            let grace = config.control.kill_grace;
            let mut io = JobIo {
                sink: &mut sink,
                buf,
                feed,
                filter: filter.map(|f| f as &mut dyn StreamFilter),
            };
            let timed_out = supervise(pid, &signal, pipes, &mut io, limit.as_ref(), grace);
            if env.control.take_evicted(slot) {
                env.control.reap(slot, pid, &name);
                return Err(Handback::Evicted);
            }
            (env.control.reap(slot, pid, &name), timed_out)
        }
    };
    let timing = (start_time, clock.elapsed());
    let (mut result, results) =
        finish_attempt(sink, error, job.seq, slot, command_line, status, timing);
    result.timed_out = timed_out;
    result.host = place.host.cloned();
    result.input_bytes = job
        .block
        .as_ref()
        .map_or(0, crate::input::Block::input_bytes);
    Ok((result, results))
}

/// The variables a job gets: `PMAP_SEQ`, `PMAP_SLOT`, and under `-S` `PMAP_HOST`.
fn job_vars(job: &Job, place: &Place<'_>) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("PMAP_SEQ", job.seq.to_string()),
        ("PMAP_SLOT", place.slot.to_string()),
    ];
    if let Some(host) = place.host {
        vars.push(("PMAP_HOST", host.to_string()));
    }
    vars
}

/// The result of an attempt whose block could not be made ready (`--cat`, `--fifo`): the job
/// fails without starting, as one whose program cannot run.
fn block_not_delivered(job: &Job, place: &Place<'_>, e: &io::Error) -> Attempt {
    let why = format!("cannot write the block to a temporary file or fifo: {e}");
    not_started_because(job, place, why)
}

/// The result of an attempt that could not start for `message`: the job fails, as one
/// whose program cannot run (126).
fn not_started_because(job: &Job, place: &Place<'_>, message: String) -> Attempt {
    let status = JobStatus::NotStarted { code: 126, message };
    let result = JobResult {
        host: place.host.cloned(),
        ..JobResult::new(
            job.seq,
            place.slot,
            status,
            crate::event::Captured::Streamed,
            std::time::SystemTime::now(),
        )
    };
    (result, None)
}

/// How often, and how long apart, a start that failed for want of resources is tried
/// again while no other job runs (other slots may be between jobs, holding descriptors).
const ROOM_TRIES: u32 = 10;
const ROOM_WAIT: Duration = Duration::from_millis(20);

/// Starts the process with `start`. If that fails for want of resources while other jobs
/// run or other slots are open, the job is given back for them ([`Handback::Crowded`]);
/// in the last slot, with nothing else running, it is tried again a few times before the
/// failure stands.
fn start_with_room(
    env: &JobEnv,
    slot: usize,
    mut start: impl FnMut() -> Spawned,
) -> Result<Spawned, Handback> {
    let mut tries = 0;
    loop {
        let (spawned, name) = start();
        let Err(e) = &spawned else {
            return Ok((spawned, name));
        };
        if !out_of_resources(e) {
            return Ok((spawned, name));
        }
        // Another slot can take the job: this one leaves, and its thread with it (threads
        // count against the process limit too).
        if env.control.others_running(slot) || env.control.live_slots() > 1 {
            return Err(Handback::Crowded(e.to_string()));
        }
        if tries == ROOM_TRIES || env.control.is_stopping() {
            return Ok((spawned, name));
        }
        tries += 1;
        std::thread::sleep(ROOM_WAIT);
    }
}

/// Whether starting a process failed for want of descriptors, processes or memory, which
/// a job that ends gives back: not the job's fault.
fn out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::EAGAIN | libc::ENOMEM)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::JobStatus;
    use crate::exec::testing::{env, job, output};

    #[test]
    fn runs_a_job_as_its_own_process_and_captures_both_streams() {
        let script = r#"echo "$PMAP_SEQ $PMAP_SLOT $1"; echo oops >&2; exit 3"#;
        let (env, _events) = env(&["-j2", "sh", "-c", script, "sh", "{}", ":::", "x"]);
        let mut executor = FreshProcess::new(&env, 2, None).unwrap();
        let mut started = 0;
        let (mut result, _) = executor
            .attempt(&job(7, "a b"), &mut || started += 1)
            .unwrap();
        assert_eq!(started, 1);
        assert_eq!(result.status, JobStatus::Exited(3));
        assert_eq!((result.seq, result.slot), (7, 2));
        assert_eq!(output(&mut result), ("7 2 a b\n".into(), "oops\n".into()));
    }

    #[test]
    fn a_program_that_cannot_be_found_is_127_with_a_message() {
        let (env, _events) = env(&["pmap-surely-missing-program", ":::", "x"]);
        let mut executor = FreshProcess::new(&env, 1, None).unwrap();
        let (result, _) = executor.attempt(&job(1, "x"), &mut || {}).unwrap();
        assert_eq!(
            result.status,
            JobStatus::NotStarted {
                code: 127,
                message: "cannot run 'pmap-surely-missing-program': command not found".into()
            }
        );
    }

    #[test]
    fn a_timeout_ends_the_job_with_sigterm() {
        let (env, _events) = env(&["--timeout", "0.2", "sleep", "{}", ":::", "x"]);
        let mut executor = FreshProcess::new(&env, 1, None).unwrap();
        let clock = Instant::now();
        let (result, _) = executor.attempt(&job(1, "30"), &mut || {}).unwrap();
        assert!(result.timed_out);
        assert_eq!(result.status, JobStatus::Signaled(15));
        assert!(clock.elapsed() < std::time::Duration::from_secs(10));
    }
}
