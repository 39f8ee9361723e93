//! pmap: a parallel job runner in the family of `xargs -P` and GNU parallel.
//!
//! One pipeline, one module per stage, data flowing one way:
//! [`cli`] → [`config`] → [`input`] → [`exec`] → [`event`] → [`collect`], with [`capture`]
//! shared by the executors and the collector.

#![warn(clippy::too_many_lines)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod capture;
pub mod cli;
pub mod collect;
pub mod config;
pub mod duration;
pub mod event;
pub mod exec;
pub mod exit;
pub mod generate;
pub mod halt;
pub mod heap;
pub mod input;
pub mod remote;
pub mod setup;
pub mod signals;
pub mod slurm;
pub mod template;

use std::ffi::OsString;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use clap::Parser;
use clap::error::ErrorKind;

use capture::spool::MemoryBudget;
use cli::Cli;
use collect::joblog::JobLog;
use config::Config;
use exec::slots::{self, Work};
use exec::{Control, JobEnv};
use exit::Outcome;
use halt::HaltWatch;
use remote::Remote;
use setup::Setup;

/// Set by the panic hook: pmap failed in a way its own code did not expect.
static PANICKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Runs pmap with these command-line arguments (the first is the program name). A panic
/// anywhere in pmap (its message is printed) makes the outcome [`Outcome::Error`], never a
/// success or a count of failed jobs.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> Outcome {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICKED.store(true, Ordering::SeqCst);
        report(info);
    }));
    signals::reset_child_signal();
    heap::tune();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse_and_run(args)));
    match outcome {
        Ok(outcome) if !PANICKED.load(Ordering::SeqCst) => outcome,
        _ => Outcome::Error,
    }
}

/// `$PMAP_OPTS`: options that go before the command line's own (as GNU parallel's
/// `$PARALLEL`), split into words as a shell would.
fn with_default_options(args: impl IntoIterator<Item = OsString>) -> Result<Vec<OsString>, String> {
    let mut args = args.into_iter();
    let mut all: Vec<OsString> = args.next().into_iter().collect();
    if let Some(opts) = std::env::var_os("PMAP_OPTS") {
        let Some(text) = opts.to_str() else {
            return Err("$PMAP_OPTS is not valid UTF-8".into());
        };
        match shlex::split(text) {
            Some(words) => all.extend(words.into_iter().map(OsString::from)),
            None => return Err(format!("$PMAP_OPTS has an unclosed quote: {text}")),
        }
    }
    all.extend(args);
    Ok(all)
}

/// Parses, validates and runs.
fn parse_and_run(args: impl IntoIterator<Item = OsString>) -> Outcome {
    let args = match with_default_options(args) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("pmap: {e}");
            return Outcome::Error;
        }
    };
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    if let Some(kind) = cli.generate {
        return generate::print(kind);
    }
    let config = match Config::from_cli(cli) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("pmap: {e:#}");
            return Outcome::Error;
        }
    };
    run(config)
}

/// Sets up a validated configuration ([`setup`]) and runs it to completion.
pub fn run(config: Config) -> Outcome {
    // --slurm: srun, the controller and --slurm-args are checked before anything is
    // created or run.
    if let Some(slurm) = config.slurm.as_ref().filter(|_| !config.dry_run) {
        if let Err(e) = slurm::check(slurm) {
            eprintln!("pmap: {e:#}");
            return Outcome::Error;
        }
    }
    let Setup {
        mut config,
        jobs,
        joblog,
    } = match setup::prepare(config) {
        Ok(setup) => setup,
        Err(e) => {
            eprintln!("pmap: {e:#}");
            return Outcome::Error;
        }
    };
    if config.dry_run {
        return collect::dry_run::print(jobs, &config);
    }
    // With --sshlogin: connect the hosts; the reachable ones' slots are the pool's slots.
    // Connecting can take a while: SIGINT or SIGTERM meanwhile ends the masters started so
    // far and removes their directory, instead of killing pmap outright. A signal that
    // arrives after connecting is taken up by the run's own signal handling.
    let interrupted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    if config.remote.is_some() {
        for signal in [
            nix::sys::signal::Signal::SIGINT,
            nix::sys::signal::Signal::SIGTERM,
        ] {
            if signals::inherited_ignored(signal) {
                continue;
            }
            let signal = signal as i32;
            let flag = Arc::clone(&interrupted);
            if let Err(e) = signal_hook::flag::register_usize(signal, flag, signal as usize) {
                eprintln!("pmap: cannot install signal handlers: {e}");
                return Outcome::Error;
            }
        }
    }
    let remote = match &config.remote {
        Some(hosts) => match Remote::connect(hosts, config.jobs, &interrupted) {
            Ok(remote) => {
                config.jobs = remote.slots();
                setup::set_counts(&mut config);
                Some(Arc::new(remote))
            }
            Err(_) if interrupted.load(Ordering::SeqCst) != 0 => {
                return Outcome::Interrupted(interrupted.load(Ordering::SeqCst) as i32);
            }
            Err(e) => {
                eprintln!("pmap: {e:#}");
                return Outcome::Error;
            }
        },
        None => None,
    };
    let outcome = run_pool(config, jobs, joblog, remote.clone(), &interrupted);
    // The connection masters end with the run, whoever holds the last reference.
    if let Some(remote) = remote {
        remote.shutdown();
    }
    outcome
}

/// Runs the jobs of a validated, connected configuration.
fn run_pool(
    config: Config,
    jobs: input::JobReader,
    joblog: Option<JobLog>,
    remote: Option<Arc<Remote>>,
    interrupted: &std::sync::atomic::AtomicUsize,
) -> Outcome {
    let config = Arc::new(config);
    let control = Arc::new(Control::new(
        config.jobs,
        config.control.halt.map(HaltWatch::new),
        config.control.kill_grace,
    ));
    if config.slurm.is_some() {
        control.jobs_are_slurm_steps();
    }
    if let Err(e) = signals::install(Arc::clone(&control), config.control.kill_grace) {
        eprintln!("pmap: {e:#}");
        return Outcome::Error;
    }
    // Interrupted between connecting the hosts and installing the handlers above.
    match interrupted.load(Ordering::SeqCst) {
        0 => {}
        signal => {
            control.set_interrupted(signal as i32);
            control.terminate(config.control.kill_grace);
        }
    }
    // Once the jobs are killed, a reader that stopped reading no longer keeps pmap waiting.
    control.on_kill(Box::new(collect::stdout::give_up));
    let grace_keeper = Arc::clone(&control);
    let grace = std::thread::Builder::new()
        .name("pmap-grace".into())
        .stack_size(64 * 1024)
        .spawn(move || grace_keeper.enforce_grace());
    let grace = match grace {
        Ok(grace) => grace,
        Err(e) => {
            eprintln!("pmap: cannot start the kill-grace thread: {e}");
            return Outcome::Error;
        }
    };
    let memory_watch = match start_memory_watch(&config, &control) {
        Ok(watch) => watch,
        Err(e) => {
            eprintln!("pmap: cannot start the --memfree watch: {e}");
            control.close();
            let _ = grace.join();
            return Outcome::Error;
        }
    };
    let outcome = run_slots(&config, &control, jobs, joblog, remote);
    control.close();
    let _ = grace.join();
    if let Some(watch) = memory_watch {
        let _ = watch.join();
    }
    outcome
}

/// `--memfree`: the thread that ends the youngest job when memory runs short.
fn start_memory_watch(
    config: &Config,
    control: &Arc<Control>,
) -> std::io::Result<Option<std::thread::JoinHandle<()>>> {
    let Some(need) = config.placement.memfree else {
        return Ok(None);
    };
    let control = Arc::clone(control);
    let grace = config.control.kill_grace;
    std::thread::Builder::new()
        .name("pmap-memfree".into())
        .stack_size(64 * 1024)
        .spawn(move || exec::machine::watch_memory(&control, need, grace))
        .map(Some)
}

/// Starts the job slots and the input reader, and collects until the jobs are done.
fn run_slots(
    config: &Arc<Config>,
    control: &Arc<Control>,
    jobs: input::JobReader,
    joblog: Option<JobLog>,
    remote: Option<Arc<Remote>>,
) -> Outcome {
    // Process-pool workers answer many items per wake-up: room for their answers to
    // gather while the collector naps.
    let capacity = match config.pool {
        config::Pool::Process => (128 * config.jobs).clamp(256, 1024),
        config::Pool::Thread => (2 * config.jobs).clamp(16, 256),
    };
    let (events_tx, events_rx, nap) = event::channel(capacity);
    let counter_events = events_tx.clone();
    let budget = MemoryBudget::new(config.output.memory_limit);
    let base_env = match exec::spawn::BaseEnv::capture(config.placement.tmpdir.as_deref()) {
        Ok(base_env) => base_env,
        Err(e) => {
            eprintln!("pmap: cannot open /dev/null: {e}");
            return Outcome::Error;
        }
    };
    let env = JobEnv {
        config: Arc::clone(config),
        control: Arc::clone(control),
        events: events_tx,
        budget,
        base_env,
        next_start: std::sync::Mutex::new(None),
        remote,
        worker_starts: exec::worker::StartBreaker::default(),
    };
    let (submitter, slots) = match slots::start(env) {
        Ok(started) => started,
        Err(e) => {
            eprintln!("pmap: cannot start the job slots: {e}");
            return Outcome::Error;
        }
    };
    // The reader is never joined: if the run is stopped while it waits for input, the
    // process simply exits around it.
    let input_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let counter = start_counter(config, &counter_events, &input_done);
    drop(counter_events);
    let done = InputDone(Arc::clone(&input_done));
    let reader = std::thread::Builder::new()
        .name("pmap-input".into())
        .spawn(move || read_input(jobs, submitter, done));
    if let Err(e) = reader {
        eprintln!("pmap: cannot start the input thread: {e}");
        control.stop();
        slots.join();
        return Outcome::Error;
    }
    let outcome = collect::run(events_rx, &nap, config, control, budget, joblog);
    slots.join();
    if let Some(counter) = counter {
        let _ = counter.join();
    }
    outcome
}

/// Set when the input reader is done, however it ends.
struct InputDone(Arc<std::sync::atomic::AtomicBool>);

impl Drop for InputDone {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// With a progress display and input that can be read twice: a thread that counts the
/// jobs ahead and sends their number, so that the total shows from the start. It stops
/// when the input reader is done (the real count is then known), holding the event
/// channel no longer than the reader does.
fn start_counter(
    config: &Config,
    events: &event::Events,
    input_done: &Arc<std::sync::atomic::AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    let wanted = config.output.progress.is_some() && config.output.total_jobs.is_none();
    if !wanted || !input::count::countable(&config.input) {
        return None;
    }
    let (input, events, done) = (config.input.clone(), events.clone(), Arc::clone(input_done));
    std::thread::Builder::new()
        .name("pmap-count".into())
        .spawn(move || {
            let limit = input::count::COUNT_FOR_AT_MOST;
            if let Some(total) = input::count::count_jobs(&input, limit, &done) {
                let _ = events.send(event::Event::Counted { total });
            }
        })
        .ok()
}

/// The input reader: every job (or the read error) to the slots, then the total.
fn read_input(mut jobs: input::JobReader, mut submitter: slots::Submitter, _done: InputDone) {
    let mut total = 0;
    let wait_first = jobs.holds_blocks();
    loop {
        if wait_first && !submitter.wait_for_room() {
            return;
        }
        let Some(job) = jobs.next() else { break };
        for note in jobs.take_notes() {
            submitter.notice(note);
        }
        let work = match job {
            Ok(job) => {
                total += 1;
                Work::Job(job)
            }
            Err(e) => Work::ReadError(e),
        };
        if !submitter.submit(work) {
            return;
        }
    }
    // What reading learnt at the end of the input.
    for note in jobs.take_notes() {
        submitter.notice(note);
    }
    submitter.end(total);
}

/// clap's errors are several lines; pmap prints one.
fn usage_error(e: clap::Error) -> Outcome {
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return Outcome::Success;
    }
    let rendered = e.render().to_string();
    let mut lines = rendered.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("invalid usage");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // "the following required arguments were not provided:" names them on the next lines.
    let mut message = first.to_string();
    let rest: Vec<&str> = lines.collect();
    if first.ends_with(':') {
        let named: Vec<&str> = rest
            .iter()
            .take_while(|l| l.starts_with("  "))
            .map(|l| l.trim())
            .collect();
        message = format!("{} {}", message, named.join(", "));
    }
    // clap's tips ("a similar argument exists: '--keep-order'") and the possible values
    // are what makes the error useful: they stay, on the same line.
    for line in &rest {
        let line = line.trim();
        // (Not clap's "to pass '--x' as a value, use '-- --x'": pmap's command never
        // starts with a dash.)
        let tip = line
            .strip_prefix("tip: ")
            .filter(|tip| !tip.starts_with("to pass"));
        let values = line
            .strip_prefix('[')
            .and_then(|l| l.strip_suffix(']'))
            .filter(|l| l.starts_with("possible values: "));
        let extra = tip.or(values);
        if let Some(extra) = extra {
            message.push_str("; ");
            message.push_str(extra);
        }
    }
    eprintln!("pmap: {message} (see 'pmap --help')");
    Outcome::Error
}

/// Locks `m`, carrying on with the data if a panicking thread poisoned it: every lock in
/// pmap guards plain state that stays consistent between statements.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
