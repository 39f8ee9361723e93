//! The remote executor (`-S`): a job slot on an ssh host. Each job is a local `ssh` client
//! (sharing the host's connection master) whose remote side runs the job's shell line in a
//! wrapper that ends the job when its stdin closes (see [`crate::remote::ssh`]); pmap holds
//! that stdin for as long as the job runs, and drains and reaps the client as it does a
//! local job ([`super::fresh::attempt_in_process`]).
//!
//! A job that ends with ssh's 255 may have lost its host: the host is checked, and if it is
//! gone the job goes back to the queue for a slot on another host, and this slot retires.

use std::os::fd::OwnedFd;
use std::process::{Child, Stdio};
use std::sync::Arc;

use std::os::unix::process::CommandExt;

use crate::event::{Event, JobStatus};
use crate::exec::fresh::{Place, Spawned, attempt_in_process};
use crate::exec::spawn::Started;
use crate::exec::{Attempt, Executor, Handback, JobEnv};
use crate::input::Job;
use crate::remote::Remote;
use crate::remote::placed::RemotePlacement;
use crate::remote::ssh::JobPlace;
use crate::template::Rendered;

/// A slot on an ssh host.
pub struct RemoteSlot<'a> {
    env: &'a JobEnv,
    remote: &'a Remote,
    slot: usize,
    buf: Vec<u8>,
    /// `--wd` and `--env`, as every job of the slot gets them.
    placement: RemotePlacement,
}

impl<'a> RemoteSlot<'a> {
    pub fn new(env: &'a JobEnv, remote: &'a Remote, slot: usize) -> Self {
        RemoteSlot {
            env,
            remote,
            slot,
            buf: vec![0; 64 * 1024],
            placement: RemotePlacement::new(
                env.config.placement.workdir.as_ref(),
                &env.config.placement.remote_env,
            ),
        }
    }

    /// Starts the ssh client for one job whose command is `rendered`.
    fn start(&self, job: &Job, rendered: &Rendered, vars: &[(&str, String)]) -> Spawned {
        let bash_function = self.env.config.bash_function.is_some();
        let line = self.placement.job_line(rendered, bash_function);
        let host = self.remote.host(self.slot);
        let place = JobPlace {
            host: &host.name,
            seq: job.seq,
            slot: self.slot,
            grace: self.env.config.control.kill_grace,
            reads_block: job.block.is_some(),
        };
        let name = self.remote.ssh_program().clone();
        let Some(mut command) = self.remote.job_command(self.slot, &line, &place) else {
            let e = std::io::Error::other("this slot's host is not an ssh host");
            return (Err(e), name);
        };
        command
            .envs(vars.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        (command.spawn().and_then(started_child), name)
    }
}

impl Executor for RemoteSlot<'_> {
    fn attempt(&mut self, job: &Job, started: &mut dyn FnMut()) -> Result<Attempt, Handback> {
        let (env, remote, slot) = (self.env, self.remote, self.slot);
        if remote.is_lost(slot) {
            return Err(Handback::HostLost);
        }
        let host = Arc::clone(&remote.host(slot).name);
        let place = Place {
            slot,
            host: Some(&host),
        };
        let mut buf = std::mem::take(&mut self.buf);
        let this = &*self;
        // The ssh client's stdin is always a pipe pmap holds; a block goes first on it.
        let start =
            |rendered: &Rendered, vars: &[(&str, String)], _: bool| this.start(job, rendered, vars);
        let attempt = attempt_in_process(env, job, &place, &mut buf, started, start, None);
        self.buf = buf;
        let attempt = attempt?;
        // ssh's 255: the command's own status, or the host is gone. Ask the host.
        let result = &attempt.0;
        let maybe_lost = result.status == JobStatus::Exited(255)
            && !result.timed_out
            && !env.control.is_stopping();
        if maybe_lost {
            if let Some(report) = remote.check_after_255(slot) {
                if let Some(message) = report {
                    let _ = env.events.send(Event::Notice(message));
                }
                return Err(Handback::HostLost);
            }
        }
        Ok(attempt)
    }

    /// A remote job's retry goes back to the queue, to run on a host it has not failed on,
    /// if another host is left.
    fn retries_elsewhere(&self) -> bool {
        self.remote.hosts_left() > 1
    }

    /// A job that failed on some hosts goes preferably to another (`--retries` with -S).
    fn accepts(&self, job: &Job) -> bool {
        job.failed_on.is_empty() || self.remote.should_take(self.slot, &job.failed_on)
    }

    fn failed_here(&self, job: &mut Job) {
        let host = self.remote.host_index(self.slot);
        if !job.failed_on.contains(&host) {
            job.failed_on.push(host);
        }
    }
}

/// A remote job's ssh process, started with `std::process::Command`, in the shape of a
/// [`Started`] plus its stdin.
pub(crate) fn started_child(mut child: Child) -> std::io::Result<(Started, Option<OwnedFd>)> {
    let missing = || std::io::Error::other("a pipe to the ssh client is missing");
    let stdout = child.stdout.take().ok_or_else(missing)?;
    let stderr = child.stderr.take().ok_or_else(missing)?;
    let started = Started {
        pid: child.id() as i32,
        stdout: OwnedFd::from(stdout),
        stderr: OwnedFd::from(stderr),
        stdin: None,
    };
    Ok((started, child.stdin.take().map(OwnedFd::from)))
}
