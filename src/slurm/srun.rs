//! Building `srun` command lines: the check at start, and each job's step.
//!
//! A job's step is one `/bin/sh -c` on its node that runs a three-line prefix and then the
//! job's own line, in the same shell: no wrapper, no watcher, no second shell. The prefix
//! prints one header line on the step's stdout, `pmap-node NODE JOBID.STEPID` (read and
//! removed by the executor before any of the job's output: the node becomes the job's host,
//! the step id is what pmap cancels), sets `PMAP_HOST` (the node), `PMAP_SEQ` and `PMAP_SLOT`,
//! and gives a job without a block /dev/null as stdin, as a local job has. The job's line
//! `exec`s a directly run command, so a step costs two execs on the node: `sh`, then the
//! command. A `--pipe` job reads its block from srun's stdin, which pmap writes and closes;
//! srun forwards it to the task.
//!
//! Ending a step is pmap's business, not the step's ([`crate::slurm::step`]): `scancel
//! --signal=TERM JOBID.STEPID` first, then SIGTERM to srun (which kills the step with
//! SIGKILL). srun runs with `--quiet --quiet`, so that it adds no `srun: error: ... Exited
//! with exit code N` line to the job's stderr.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

use crate::slurm::SlurmConfig;

/// How the first line of a step's stdout starts; the node's name and the step's id follow,
/// then `\n`.
pub const HEADER: &[u8] = b"pmap-node ";

/// What a job's step needs to know.
pub struct StepPlace {
    pub seq: u64,
    pub slot: usize,
    /// `--pipe`: its stdin brings a block (srun forwards its own stdin).
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

/// The shell text a step runs: the prefix (header line, variables, stdin), then `line`.
pub fn step_script(line: &[u8], place: &StepPlace) -> Vec<u8> {
    let mut script = format!(
        "printf 'pmap-node %s %s.%s\\n' \"$SLURMD_NODENAME\" \"$SLURM_JOB_ID\" \"$SLURM_STEP_ID\"\n\
         PMAP_HOST=$SLURMD_NODENAME PMAP_SEQ={} PMAP_SLOT={}; export PMAP_HOST PMAP_SEQ PMAP_SLOT\n",
        place.seq, place.slot
    )
    .into_bytes();
    if !place.reads_block {
        script.extend_from_slice(b"exec </dev/null\n");
    }
    script.extend_from_slice(line);
    script
}

/// The `srun` of one job whose command is the POSIX shell `line`. A job without a block
/// gets no input from srun (`--input=none`).
pub fn job_command(config: &SlurmConfig, line: &[u8], place: &StepPlace) -> Command {
    let mut c = base(config, true);
    if !place.reads_block {
        c.arg("--input=none");
    }
    c.args(["/bin/sh", "-c"])
        .arg(OsStr::from_bytes(&step_script(line, place)));
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(c: &Command) -> Vec<String> {
        c.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn a_step_is_one_task_running_the_prefix_and_the_line_in_one_shell() {
        let config = SlurmConfig {
            cpus: 2,
            args: vec!["-p".into(), "short".into()],
            allocation: Some("7".into()),
        };
        let place = StepPlace {
            seq: 3,
            slot: 1,
            reads_block: false,
        };
        let args = args(&job_command(&config, b"exec 'echo' 'hi'", &place));
        let start = [
            "--quiet",
            "--quiet",
            "--nodes=1",
            "--ntasks=1",
            "--cpus-per-task=2",
        ];
        assert_eq!(args[..5], start);
        assert_eq!(
            args[5..10],
            ["--exclusive", "-p", "short", "--input=none", "/bin/sh"]
        );
        assert_eq!(args[10], "-c");
        assert_eq!(args.len(), 12);
        // Run here as the node would run it: the header, the variables, then the job.
        let out = Command::new("/bin/sh")
            .args(["-c", &args[11]])
            .env("SLURMD_NODENAME", "n7")
            .env("SLURM_JOB_ID", "12")
            .env("SLURM_STEP_ID", "4")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "pmap-node n7 12.4\nhi\n"
        );
        let script = step_script(b"echo $PMAP_HOST $PMAP_SEQ $PMAP_SLOT; cat", &place);
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(OsStr::from_bytes(&script))
            .env("SLURMD_NODENAME", "n7")
            .stdin(std::process::Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "pmap-node n7 .\nn7 3 1\n"
        );
    }

    #[test]
    fn a_block_job_keeps_srun_s_stdin() {
        let config = SlurmConfig {
            cpus: 1,
            args: Vec::new(),
            allocation: None,
        };
        let place = StepPlace {
            seq: 1,
            slot: 1,
            reads_block: true,
        };
        let args = args(&job_command(&config, b"exec 'wc' '-l'", &place));
        assert!(!args.iter().any(|a| a.starts_with("--input")), "{args:?}");
        assert!(!args[args.len() - 1].contains("</dev/null"));
    }
}
