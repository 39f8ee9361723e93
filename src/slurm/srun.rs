//! Building `srun` command lines: the check at start, and each job's step.
//!
//! A job's step runs the ssh executor's wrapper ([`crate::remote::ssh`]) under `/bin/sh` on
//! its node, behind a two-line prefix: the first line of the step's stdout names the node
//! (`pmap-node NAME`, read and removed by the executor before any of the job's output), and
//! the node becomes the wrapper's host. The wrapper runs the job in a session of its own
//! with stdin on /dev/null and reads its own stdin, which srun forwards from a pipe pmap
//! holds: when pmap closes it (to end the job, or because pmap is gone) the wrapper sends
//! SIGTERM to the job's process group, and SIGKILL after the kill grace. srun runs with
//! `--quiet --quiet`, so that it adds no `srun: error: ... Exited with exit code N` line to
//! the job's stderr.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;
use std::time::Duration;

use crate::remote::ssh::{BLOCK_WRAPPER, WRAPPER};
use crate::slurm::SlurmConfig;

/// How the first line of a step's stdout starts; the node's name follows, then `\n`.
pub const HEADER: &[u8] = b"pmap-node ";

/// Run before the wrapper: says which node this is, and makes it the wrapper's `$1`.
const PREFIX: &str = "printf 'pmap-node %s\\n' \"$SLURMD_NODENAME\"
set -- \"$SLURMD_NODENAME\" \"$@\"
";

/// What a job's step needs to know.
pub struct StepPlace {
    pub seq: u64,
    pub slot: usize,
    pub grace: Duration,
    /// `--pipe`: its stdin brings a block first.
    pub reads_block: bool,
}

/// `srun` with the options every step gets: one task on one node with `--slurm-cpus` CPUs,
/// `--exclusive` inside an allocation (a step of its own CPUs), then `--slurm-args`.
fn base(config: &SlurmConfig, quiet: bool) -> Command {
    let mut c = Command::new("srun");
    if quiet {
        c.args(["--quiet", "--quiet"]);
    }
    c.args(["--nodes=1", "--ntasks=1"])
        .arg(format!("--cpus-per-task={}", config.cpus));
    if config.allocation.is_some() {
        c.arg("--exclusive");
    }
    c.args(&config.args);
    c
}

/// `srun --test-only ... true`: checks the options with the controller, submitting nothing.
pub fn test_command(config: &SlurmConfig) -> Command {
    let mut c = base(config, false);
    c.arg("--test-only").arg("true");
    c
}

/// The `srun` of one job whose command is the POSIX shell `line`.
pub fn job_command(config: &SlurmConfig, line: &[u8], place: &StepPlace) -> Command {
    let wrapper = if place.reads_block {
        BLOCK_WRAPPER
    } else {
        WRAPPER
    };
    // Once the job's process has exited, what is left of its process group is killed, as
    // Slurm's proctrack/cgroup ends a step (proctrack/linuxproc loses track of it).
    let wrapper = wrapper.replace("\nexit $s", "\nkill -KILL -$p 2>/dev/null\nexit $s");
    let mut c = base(config, true);
    c.args(["/bin/sh", "-c"])
        .arg(format!("{PREFIX}{wrapper}"))
        .arg("pmap-step")
        .arg(place.seq.to_string())
        .arg(place.slot.to_string())
        .arg(format!("{:.3}", place.grace.as_secs_f64()))
        .arg(OsStr::from_bytes(line));
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_one_task_with_the_wrapper_behind_the_options() {
        let config = SlurmConfig {
            cpus: 2,
            args: vec!["-p".into(), "short".into()],
            allocation: Some("7".into()),
        };
        let place = StepPlace {
            seq: 3,
            slot: 1,
            grace: Duration::from_millis(500),
            reads_block: false,
        };
        let c = job_command(&config, b"echo hi", &place);
        let args: Vec<_> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let start = [
            "--quiet",
            "--quiet",
            "--nodes=1",
            "--ntasks=1",
            "--cpus-per-task=2",
        ];
        assert_eq!(args[..5], start);
        assert_eq!(args[5..10], ["--exclusive", "-p", "short", "/bin/sh", "-c"]);
        assert!(args[10].starts_with(PREFIX), "{}", args[10]);
        assert!(args[10].ends_with("kill -KILL -$p 2>/dev/null\nexit $s"));
        assert_eq!(args[11..], ["pmap-step", "3", "1", "0.500", "echo hi"]);
        // The prefix and wrapper are a valid sh script.
        let status = Command::new("/bin/sh")
            .args(["-n", "-c", &args[10]])
            .status()
            .unwrap();
        assert!(status.success());
    }
}
