//! Test helpers for the executors: a [`JobEnv`] built from a command line, as a run builds
//! it, so that each executor can be driven on its own, without the slot loop or the
//! collector.

use std::sync::{Arc, Mutex};

use clap::Parser;
use crossbeam_channel::Receiver;

use crate::capture::spool::MemoryBudget;
use crate::cli::Cli;
use crate::config::Config;
use crate::event::{Captured, Event, JobResult};
use crate::exec::spawn::BaseEnv;
use crate::exec::{Control, JobEnv};
use crate::input::Job;

/// The environment of a run of `pmap ARGS` (which must not read stdin), and the receiving
/// end of its event channel.
pub fn env(args: &[&str]) -> (JobEnv, Receiver<Event>) {
    let cli = Cli::try_parse_from(std::iter::once("pmap").chain(args.iter().copied()))
        .expect("test arguments parse");
    let config = Config::from_cli(cli).expect("test arguments are valid");
    let config = Arc::new(crate::setup::prepare(config).expect("set up").config);
    let control = Arc::new(Control::new(config.jobs, None, config.control.kill_grace));
    let (events, received, _nap) = crate::event::channel(64);
    let env = JobEnv {
        budget: MemoryBudget::new(1 << 20),
        base_env: BaseEnv::capture(None).expect("/dev/null opens"),
        next_start: Mutex::new(None),
        remote: None,
        worker_starts: crate::exec::worker::StartBreaker::default(),
        config,
        control,
        events,
    };
    (env, received)
}

/// Job `seq` with one value.
pub fn job(seq: u64, value: &str) -> Job {
    Job {
        seq,
        values: vec![value.as_bytes().to_vec()],
        attempts: 0,
        failed_on: Vec::new(),
        block: None,
    }
}

/// What a grouped job printed on stdout and stderr.
pub fn output(result: &mut JobResult) -> (String, String) {
    match &mut result.output {
        Captured::Buffered { stdout, stderr } => {
            let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("UTF-8 output");
            (
                text(stdout.take_bytes().expect("stdout readable")),
                text(stderr.take_bytes().expect("stderr readable")),
            )
        }
        Captured::Streamed => panic!("output was streamed, not buffered"),
    }
}
