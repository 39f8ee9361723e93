//! The Slurm executor (`--slurm`): each job is a Slurm job step, started by a local `srun`
//! (see [`crate::slurm::srun`]) that pmap drains and reaps as it does a local job
//! ([`super::fresh::attempt_in_process`]).
//!
//! The step's first line of stdout names its node; it is read here, before the job's output
//! is, and becomes the job's host (the joblog's Host column). Until it arrives the step has
//! not started (outside an allocation, srun may wait in the queue): `--timeout` counts from
//! then, and a run that is ending meanwhile ends srun (which withdraws its request). A srun
//! that ends without that line could not start the step: the job fails as one that could
//! not start, with srun's status.
//!
//! pmap holds srun's stdin; ending the job closes it, and the step's wrapper sends SIGTERM to
//! the job, then SIGKILL after the grace; the KILL step of pmap's ladder is a SIGTERM to srun,
//! which kills the step at once (see `Control::jobs_are_slurm_steps`).

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::os::unix::process::CommandExt;

use crate::event::JobStatus;
use crate::exec::fresh::{Place, Spawned, attempt_in_process};
use crate::exec::spawn::Started;
use crate::exec::ssh::started_child;
use crate::exec::{Attempt, Executor, Handback, JobEnv};
use crate::input::Job;
use crate::remote::placed::RemotePlacement;
use crate::slurm::SlurmConfig;
use crate::slurm::srun::{self, HEADER, StepPlace};
use crate::template::Rendered;

/// A slot whose jobs are Slurm steps.
pub struct SlurmStep<'a> {
    env: &'a JobEnv,
    slurm: &'a SlurmConfig,
    slot: usize,
    buf: Vec<u8>,
    /// `--wd`, as every job of the slot gets it.
    placement: RemotePlacement,
}

impl<'a> SlurmStep<'a> {
    pub fn new(env: &'a JobEnv, slurm: &'a SlurmConfig, slot: usize) -> Self {
        SlurmStep {
            env,
            slurm,
            slot,
            buf: vec![0; 64 * 1024],
            // As given: a step starts in pmap's directory (srun's), so a relative `--wd`
            // (and `.`) is relative to it, as for a local job.
            placement: RemotePlacement {
                workdir: env.config.placement.workdir.clone(),
                env: Vec::new(),
            },
        }
    }

    /// Starts the `srun` of one job whose command is `rendered`, and waits for its step to
    /// start: the node it runs on goes to `node`.
    fn start(
        &self,
        job: &Job,
        rendered: &Rendered,
        vars: &[(&str, String)],
        node: &mut Option<Arc<str>>,
    ) -> Spawned {
        let bash_function = self.env.config.bash_function.is_some();
        let line = self.placement.job_line(rendered, bash_function);
        let place = StepPlace {
            seq: job.seq,
            slot: self.slot,
            grace: self.env.config.control.kill_grace,
            reads_block: job.block.is_some(),
        };
        let mut command = srun::job_command(self.slurm, &line, &place);
        command
            .envs(vars.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let spawned = command.spawn().and_then(started_child);
        if let Ok((started, _)) = &spawned {
            *node = self.wait_for_step(started);
        }
        (spawned, OsString::from("srun"))
    }

    /// Reads the first line of the step's stdout, which names its node; `None` if srun
    /// ends without one. If the run is ended meanwhile, srun gets SIGTERM (and SIGKILL if
    /// it is still there after the grace).
    fn wait_for_step(&self, started: &Started) -> Option<Arc<str>> {
        let control = &self.env.control;
        let mut pipe = File::from(started.stdout.try_clone().ok()?);
        let mut line = Vec::new();
        let mut ended_at: Option<Instant> = None;
        let grace = self.env.config.control.kill_grace + Duration::from_secs(1);
        loop {
            if ended_at.is_none() && control.is_terminating() {
                let _ = killpg(Pid::from_raw(started.pid), Signal::SIGTERM);
                ended_at = Some(Instant::now());
            }
            if ended_at.is_some_and(|at| at.elapsed() > grace) {
                let _ = killpg(Pid::from_raw(started.pid), Signal::SIGKILL);
                return None;
            }
            let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(100u8)) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Ok(_) => {}
                Err(_) => return None,
            }
            let mut byte = [0u8];
            match pipe.read(&mut byte) {
                Ok(0) | Err(_) => return None,
                Ok(_) if byte[0] == b'\n' => return node_name(&line),
                Ok(_) => line.push(byte[0]),
            }
        }
    }
}

/// The node's name from the step's first line (`pmap-node NAME`).
fn node_name(line: &[u8]) -> Option<Arc<str>> {
    let name = line.strip_prefix(HEADER)?;
    (!name.is_empty()).then(|| Arc::from(String::from_utf8_lossy(name).as_ref()))
}

impl Executor for SlurmStep<'_> {
    fn attempt(&mut self, job: &Job, started: &mut dyn FnMut()) -> Result<Attempt, Handback> {
        let env = self.env;
        let place = Place {
            slot: self.slot,
            host: None,
        };
        // The slot's previous result goes out now, not once this step has started: srun
        // may wait in the queue for long.
        started();
        let mut buf = std::mem::take(&mut self.buf);
        let mut node = None;
        let this = &*self;
        let start = |rendered: &Rendered, vars: &[(&str, String)], _: bool| {
            this.start(job, rendered, vars, &mut node)
        };
        let attempt = attempt_in_process(env, job, &place, &mut buf, &mut || {}, start, None);
        self.buf = buf;
        let (mut result, files) = attempt?;
        match node {
            Some(node) => result.host = Some(node),
            None if !env.control.is_stopping() => {
                if let JobStatus::Exited(code) | JobStatus::Signaled(code) = result.status {
                    let message = format!("srun could not start the job's step (status {code})");
                    result.status = JobStatus::NotStarted { code, message };
                }
            }
            None => {}
        }
        result.status = step_status(&result.status);
        Ok((result, files))
    }
}

/// How a step ended, as pmap reports a local job's end: srun exits with 128 + N when the
/// task was killed by signal N (so does the wrapper), which is taken for the signal.
fn step_status(status: &JobStatus) -> JobStatus {
    match *status {
        JobStatus::Exited(code) if (129..=128 + 64).contains(&code) => {
            JobStatus::Signaled(code - 128)
        }
        ref other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_names_the_node() {
        assert_eq!(node_name(b"pmap-node n1").as_deref(), Some("n1"));
        assert_eq!(node_name(b"pmap-node "), None);
        assert_eq!(node_name(b"other"), None);
    }

    #[test]
    fn a_status_above_128_is_the_signal_that_ended_the_task() {
        assert_eq!(
            step_status(&JobStatus::Exited(143)),
            JobStatus::Signaled(15)
        );
        assert_eq!(step_status(&JobStatus::Exited(3)), JobStatus::Exited(3));
        assert_eq!(step_status(&JobStatus::Exited(255)), JobStatus::Exited(255));
    }
}
