//! A running step as pmap knows it once it has started: its node and its id, read from the
//! step's header line ([`RunningStep::from_header`]), and how pmap ends it.
//!
//! Ending a step, on pmap's TERM → grace → KILL ladder ([`RunningStep::end`]):
//! - TERM is `scancel --signal=TERM JOBID.STEPID`, which Slurm delivers to every process of
//!   the step, so the job can end gracefully. SIGTERM to srun would not do: srun answers it
//!   by killing the step with SIGKILL at once. scancel is started and left to run (it talks
//!   to the controller for some tens of ms); the slot's thread reaps it once the job is over
//!   ([`RunningStep::reap_scancels`]), so no thread that supervises other jobs waits on it.
//! - KILL is SIGTERM to srun: srun kills the step with SIGKILL and exits. A SIGKILL would end
//!   srun alone and leave the step running.
//! - Without a step id (a header without one), TERM is SIGTERM to srun as well.
//!
//! Slurm tells the step's stderr that it was ended: `slurmstepd-NODE: error: *** STEP
//! JOBID.STEPID ON NODE CANCELLED AT TIME ***`. That line is Slurm's, not the job's:
//! the executor takes it out of the job's stderr once pmap has ended the step
//! (`crate::exec::slurm::CancelNotice`).

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::os::unix::process::CommandExt;

use crate::lock;
use crate::slurm::srun::HEADER;

/// A step that has started on its node.
#[derive(Debug)]
pub struct RunningStep {
    /// The node it runs on (`$SLURMD_NODENAME`): the job's host.
    pub node: Arc<str>,
    /// `JOBID.STEPID`, if the header carried one.
    id: Option<String>,
    /// pmap has started to end it (TERM or KILL sent).
    ended: AtomicBool,
    /// The `scancel`s started to signal it, to reap.
    scancels: Mutex<Vec<Child>>,
}

/// How long the slot waits for a `scancel` at the end of its job before killing it (a
/// controller that does not answer makes scancel retry for long).
const SCANCEL_WAIT: Duration = Duration::from_secs(10);

impl RunningStep {
    /// The step described by the header line `pmap-node NODE JOBID.STEPID` (without its
    /// `\n`); `None` if the line is not one.
    pub fn from_header(line: &[u8]) -> Option<RunningStep> {
        let rest = std::str::from_utf8(line.strip_prefix(HEADER)?).ok()?;
        let (node, id) = rest.split_once(' ').unwrap_or((rest, ""));
        if node.is_empty() {
            return None;
        }
        let valid = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        let id = id
            .split_once('.')
            .filter(|(job, step)| valid(job) && valid(step))
            .map(|_| id.to_string());
        Some(RunningStep {
            node: Arc::from(node),
            id,
            ended: AtomicBool::new(false),
            scancels: Mutex::new(Vec::new()),
        })
    }

    /// `JOBID.STEPID`, if known.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Whether pmap has started to end the step.
    pub fn is_ended(&self) -> bool {
        self.ended.load(Ordering::SeqCst)
    }

    /// Records that pmap has started to end the step.
    pub(crate) fn mark_ended(&self) {
        self.ended.store(true, Ordering::SeqCst);
    }

    /// Sends `signal` (pmap's SIGTERM or SIGKILL) to the step, whose srun leads the process
    /// group `srun` (see the module doc). Called with the slot's lock held, so srun has not
    /// been reaped.
    pub fn end(&self, signal: Signal, srun: i32) {
        let srun = Pid::from_raw(srun);
        match (signal, &self.id) {
            (Signal::SIGTERM, Some(id)) => {
                self.mark_ended();
                self.scancel(id);
            }
            (Signal::SIGTERM | Signal::SIGKILL, _) => {
                self.mark_ended();
                let _ = killpg(srun, Signal::SIGTERM);
            }
            (other, _) => {
                let _ = killpg(srun, other);
            }
        }
    }

    /// Starts `scancel --signal=TERM ID`, in a process group of its own (a Ctrl-C at the
    /// terminal is pmap's to handle), and keeps it to reap. If it cannot start, srun gets
    /// SIGTERM instead at the KILL step.
    fn scancel(&self, id: &str) {
        let child = Command::new("scancel")
            .args(["--quiet", "--signal=TERM", id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        if let Ok(child) = child {
            lock(&self.scancels).push(child);
        }
    }

    /// Waits for the `scancel`s started for this step (at most [`SCANCEL_WAIT`], then kills
    /// them) and reaps them. The slot's thread calls it once the job is over.
    pub fn reap_scancels(&self) {
        let children = std::mem::take(&mut *lock(&self.scancels));
        let deadline = Instant::now() + SCANCEL_WAIT;
        for mut child in children {
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_names_the_node_and_the_step() {
        let step = RunningStep::from_header(b"pmap-node n1 12.3").unwrap();
        assert_eq!((&*step.node, step.id()), ("n1", Some("12.3")));
        let step = RunningStep::from_header(b"pmap-node n2 .").unwrap();
        assert_eq!((&*step.node, step.id()), ("n2", None));
        assert!(RunningStep::from_header(b"pmap-node ").is_none());
        assert!(RunningStep::from_header(b"other").is_none());
    }
}
