//! The Slurm executor (`--slurm`): each job is a Slurm job step, started by a local `srun`
//! (see [`crate::slurm::srun`]) that pmap drains and reaps as it does a local job
//! ([`super::fresh::attempt_in_process`]).
//!
//! The step's first line of stdout names its node and its id; it is read here, before the
//! job's output is: the node becomes the job's host (the joblog's Host column), the id is how
//! pmap ends the step ([`crate::slurm::step`], registered with the slot's
//! [`crate::exec::control::Control`]). Until the line arrives the step has not started
//! (outside an allocation, srun may wait in the queue): `--timeout` counts from then, and a
//! run that is ending meanwhile ends srun (which withdraws its request). A srun that ends
//! without that line could not start the step: the job fails as one that could not start,
//! with srun's status. Slurm's note that pmap cancelled the step is taken out of the job's
//! stderr ([`CancelNotice`]).
//!
//! srun is started with `PR_SET_PDEATHSIG` = SIGTERM: if pmap dies (even by SIGKILL), srun
//! gets SIGTERM, kills the step and exits (or withdraws its request), so no step outlives
//! pmap. The parent-death signal follows the thread that started srun: the slot's thread,
//! which reaps that srun before it takes another job or exits.

use std::cell::RefCell;
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

use crate::event::{JobStatus, Stream};
use crate::exec::fresh::{Place, Spawned, attempt_in_process};
use crate::exec::spawn::Started;
use crate::exec::ssh::started_child;
use crate::exec::supervise::StreamFilter;
use crate::exec::{Attempt, Executor, Handback, JobEnv};
use crate::input::Job;
use crate::remote::placed::RemotePlacement;
use crate::slurm::SlurmConfig;
use crate::slurm::srun::{self, StepPlace};
use crate::slurm::step::RunningStep;
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

    /// Starts the `srun` of one job whose command is `rendered` (with its stdin a pipe for
    /// the block, with `stdin_pipe`), and waits for its step to start: the step goes to
    /// `step`, and to the slot's entry in [`crate::exec::control::Control`].
    fn start(
        &self,
        job: &Job,
        rendered: &Rendered,
        stdin_pipe: bool,
        step: &RefCell<Option<Arc<RunningStep>>>,
    ) -> Spawned {
        let bash_function = self.env.config.bash_function.is_some();
        let line = self.placement.job_line(rendered, bash_function);
        let place = StepPlace {
            seq: job.seq,
            slot: self.slot,
            reads_block: stdin_pipe,
        };
        let mut command = srun::job_command(self.slurm, &line, &place);
        let stdin = if stdin_pipe {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        let pmap = std::process::id();
        command
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: the closure runs in the forked child before exec, and only makes two
        // async-signal-safe system calls (prctl, getppid); it allocates nothing.
        unsafe {
            command.pre_exec(move || end_with_pmap(pmap));
        }
        let spawned = command
            .spawn()
            .and_then(started_child)
            .map(|(mut started, stdin)| {
                // The block goes to srun's stdin, and ends with it.
                started.stdin = stdin;
                (started, None)
            });
        if let Ok((started, _)) = &spawned {
            if let Some(found) = self.wait_for_step(started) {
                let found = Arc::new(found);
                self.env.control.step_started(self.slot, Arc::clone(&found));
                *step.borrow_mut() = Some(found);
            }
        }
        (spawned, "srun".into())
    }

    /// Reads the first line of the step's stdout, which names its node and its id; `None`
    /// if srun ends without one. If the run is ended meanwhile, srun gets SIGTERM (and
    /// SIGKILL if it is still there after the grace).
    fn wait_for_step(&self, started: &Started) -> Option<RunningStep> {
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
                Ok(_) if byte[0] == b'\n' => return RunningStep::from_header(&line),
                Ok(_) => line.push(byte[0]),
            }
        }
    }
}

/// In srun's process, before it execs: SIGTERM when the thread that started it (pmap's
/// slot thread) ends, however pmap ends. If pmap has already gone by then (`pmap` is no
/// longer the parent), srun is not run at all.
fn end_with_pmap(pmap: u32) -> std::io::Result<()> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)?;
    if nix::unistd::getppid().as_raw() as u32 != pmap {
        return Err(std::io::Error::other("pmap has exited"));
    }
    Ok(())
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
        let step = RefCell::new(None);
        let this = &*self;
        let start = |rendered: &Rendered, _: &[(&str, String)], stdin_pipe: bool| {
            this.start(job, rendered, stdin_pipe, &step)
        };
        let mut notice = CancelNotice::new(&step);
        let attempt = attempt_in_process(
            env,
            job,
            &place,
            &mut buf,
            &mut || {},
            start,
            Some(&mut notice),
        );
        self.buf = buf;
        let step = step.into_inner();
        if let Some(step) = &step {
            step.reap_scancels();
        }
        let (mut result, files) = attempt?;
        match step {
            Some(step) => result.host = Some(Arc::clone(&step.node)),
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
/// task was killed by signal N, which is taken for the signal.
fn step_status(status: &JobStatus) -> JobStatus {
    match *status {
        JobStatus::Exited(code) if (129..=128 + 64).contains(&code) => {
            JobStatus::Signaled(code - 128)
        }
        ref other => other.clone(),
    }
}

/// Takes Slurm's `*** STEP ... CANCELLED AT ... ***` line out of a step's stderr once pmap
/// has ended the step; everything else passes unchanged. Bytes that may be the start of
/// that line are held back until the line is whole or turns out to be something else.
pub struct CancelNotice<'a> {
    step: &'a RefCell<Option<Arc<RunningStep>>>,
    /// `slurmstepd-NODE: error: *** STEP ID ON NODE CANCELLED AT `, once the step is known.
    needle: Option<Vec<u8>>,
    held: Vec<u8>,
}

/// The most a notice holds after its start before the time and ` ***\n` (the time is about
/// 20 bytes): a longer line is the job's.
const NOTICE_TAIL: usize = 64;

impl<'a> CancelNotice<'a> {
    /// A filter for the step that `step` will name once it has started.
    pub fn new(step: &'a RefCell<Option<Arc<RunningStep>>>) -> Self {
        CancelNotice {
            step,
            needle: None,
            held: Vec::new(),
        }
    }

    fn needle(&mut self) -> Option<(&[u8], Arc<RunningStep>)> {
        let step = self.step.borrow().clone()?;
        let id = step.id()?;
        let needle = self.needle.get_or_insert_with(|| {
            let node = &step.node;
            format!("slurmstepd-{node}: error: *** STEP {id} ON {node} CANCELLED AT ").into_bytes()
        });
        Some((needle.as_slice(), step))
    }
}

impl StreamFilter for CancelNotice<'_> {
    fn pass(&mut self, stream: Stream, bytes: &[u8], out: &mut dyn FnMut(&[u8])) {
        if stream != Stream::Stderr {
            return out(bytes);
        }
        let mut held = std::mem::take(&mut self.held);
        let Some((needle, step)) = self.needle() else {
            out(&held);
            return out(bytes);
        };
        held.extend_from_slice(bytes);
        let mut from = 0;
        let keep = loop {
            let rest = &held[from..];
            let Some(at) = memchr::memmem::find(rest, needle) else {
                out(&rest[..rest.len() - partial_start(rest, needle)]);
                break rest.len() - partial_start(rest, needle) + from;
            };
            out(&rest[..at]);
            let tail = &rest[at + needle.len()..];
            match memchr::memchr(b'\n', tail) {
                Some(nl) => {
                    let line = &rest[at..at + needle.len() + nl + 1];
                    if !(line.ends_with(b" ***\n") && step.is_ended()) {
                        out(line);
                    }
                    from += at + line.len();
                }
                None if tail.len() > NOTICE_TAIL => {
                    out(&rest[at..]);
                    break held.len();
                }
                None => break from + at,
            }
        };
        held.drain(..keep);
        self.held = held;
    }

    fn flush(&mut self, stream: Stream, out: &mut dyn FnMut(&[u8])) {
        if stream == Stream::Stderr && !self.held.is_empty() {
            out(&std::mem::take(&mut self.held));
        }
    }
}

/// How many bytes at the end of `bytes` are the start of `needle` (fewer than all of it).
fn partial_start(bytes: &[u8], needle: &[u8]) -> usize {
    (1..needle.len().min(bytes.len() + 1))
        .rev()
        .find(|&k| bytes.ends_with(&needle[..k]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_above_128_is_the_signal_that_ended_the_task() {
        assert_eq!(
            step_status(&JobStatus::Exited(143)),
            JobStatus::Signaled(15)
        );
        assert_eq!(step_status(&JobStatus::Exited(3)), JobStatus::Exited(3));
        assert_eq!(step_status(&JobStatus::Exited(255)), JobStatus::Exited(255));
    }

    fn filtered(chunks: &[&[u8]], ended: bool) -> String {
        let step = RunningStep::from_header(b"pmap-node n1 12.3").unwrap();
        if ended {
            step.mark_ended();
        }
        let cell = RefCell::new(Some(Arc::new(step)));
        let mut filter = CancelNotice::new(&cell);
        let mut out = Vec::new();
        for chunk in chunks {
            filter.pass(Stream::Stderr, chunk, &mut |b| out.extend_from_slice(b));
        }
        filter.flush(Stream::Stderr, &mut |b| out.extend_from_slice(b));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn slurm_s_cancel_line_is_taken_out_of_stderr_once_pmap_ended_the_step() {
        let notice: &[u8] =
            b"slurmstepd-n1: error: *** STEP 12.3 ON n1 CANCELLED AT 2026-12-02T16:37:09 ***\n";
        let mut chunks = vec![b"a\npart".as_slice(), notice, b"b\n"];
        assert_eq!(filtered(&chunks, true), "a\npartb\n");
        assert_eq!(
            filtered(&chunks, false),
            String::from_utf8_lossy(&chunks.concat())
        );
        // Split anywhere.
        let whole = [b"x\n".as_slice(), notice, b"y"].concat();
        for cut in 1..whole.len() {
            chunks = vec![&whole[..cut], &whole[cut..]];
            assert_eq!(filtered(&chunks, true), "x\ny", "cut at {cut}");
        }
        // Another step's line, a started line that never ends, and a lookalike stay.
        let other = "slurmstepd-n1: error: *** STEP 12.4 ON n1 CANCELLED AT t ***\n";
        assert_eq!(filtered(&[other.as_bytes()], true), other);
        let open = "slurmstepd-n1: error: *** STEP 12.3 ON n1 CANCELLED AT t";
        assert_eq!(filtered(&[open.as_bytes()], true), open);
        let odd = "slurmstepd-n1: error: *** STEP 12.3 ON n1 CANCELLED AT t\n";
        assert_eq!(filtered(&[odd.as_bytes()], true), odd);
        assert_eq!(filtered(&[b"slurm", b"std\n"], true), "slurmstd\n");
    }
}
