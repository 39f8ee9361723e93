//! Slurm (`--slurm`, SPEC §9): every job is a Slurm job step started by `srun`. This module
//! holds what the run decides once: the flags validated ([`SlurmConfig`]), how many steps
//! the allocation runs at once ([`allocation_capacity`]), and the check at start that
//! `srun` is there, the controller answers and `--slurm-args` are accepted ([`check`]).
//! [`srun`] builds each job's `srun` command, [`step`] ends a running step; the executor is
//! [`crate::exec::slurm`].

pub mod srun;
pub mod step;

use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

/// `--slurm`, `--slurm-cpus` and `--slurm-args`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmConfig {
    /// `--slurm-cpus`: CPUs per job's task.
    pub cpus: u32,
    /// `--slurm-args` split into words.
    pub args: Vec<OsString>,
    /// The allocation pmap runs in (`SLURM_JOB_ID`), if any: jobs are its steps.
    pub allocation: Option<String>,
}

impl SlurmConfig {
    /// The Slurm flags of a command line; `None` without `--slurm`. `job_id` is
    /// `$SLURM_JOB_ID`.
    pub fn from_flags(
        slurm: bool,
        cpus: Option<u32>,
        args: Option<&str>,
        job_id: Option<String>,
    ) -> Result<Option<SlurmConfig>> {
        if !slurm {
            if cpus.is_some() || args.is_some() {
                bail!("--slurm-cpus and --slurm-args need --slurm");
            }
            return Ok(None);
        }
        let cpus = cpus.unwrap_or(1);
        if cpus == 0 {
            bail!("--slurm-cpus must be at least 1");
        }
        let args = match args.map(shlex::split) {
            None => Vec::new(),
            Some(Some(words)) => words.into_iter().map(OsString::from).collect(),
            Some(None) => bail!(
                "invalid --slurm-args '{}': unbalanced quotes",
                args.unwrap_or("")
            ),
        };
        Ok(Some(SlurmConfig {
            cpus,
            args,
            allocation: job_id.filter(|id| !id.trim().is_empty()),
        }))
    }
}

/// How many steps of `cpus` CPUs each the allocation described by `var` (a lookup of
/// `SLURM_*` variables) runs at once: its CPUs (`SLURM_JOB_CPUS_PER_NODE`, as `2(x3),4`)
/// divided by `cpus`; without that variable `SLURM_NTASKS`; at least 1.
pub fn allocation_capacity(var: impl Fn(&str) -> Option<String>, cpus: u32) -> usize {
    let cpus = cpus.max(1) as usize;
    if let Some(total) = var("SLURM_JOB_CPUS_PER_NODE").and_then(|v| cpus_per_node(&v)) {
        return (total / cpus).max(1);
    }
    var("SLURM_NTASKS")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(1)
        .max(1)
}

/// The total of a `SLURM_JOB_CPUS_PER_NODE` value: `2(x3),4` is 2 × 3 + 4.
fn cpus_per_node(value: &str) -> Option<usize> {
    let mut total = 0usize;
    for part in value.split(',') {
        let (count, times) = match part.split_once("(x") {
            Some((count, rest)) => (count, rest.strip_suffix(')')?.parse::<usize>().ok()?),
            None => (part, 1),
        };
        total = total.checked_add(count.trim().parse::<usize>().ok()?.checked_mul(times)?)?;
    }
    (total > 0).then_some(total)
}

/// How long the check at start waits for `scontrol` and `srun --test-only`.
const CHECK_DEADLINE: Duration = Duration::from_secs(30);

/// Checks, before any job starts, that `srun` can be run, that the controller answers
/// (`scontrol ping`), and that srun accepts `--slurm-args` (`srun --test-only`, which
/// submits nothing). The error is one line for the user.
pub fn check(config: &SlurmConfig) -> Result<()> {
    let mut ping = Command::new("scontrol");
    ping.arg("ping");
    match run_quietly(&mut ping) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => bail!("cannot run 'scontrol ping': {e}"),
        // With a backup controller, one that answers is enough.
        Ok((ok, text)) if ok || text.contains(" is UP") => {}
        Ok((_, text)) => bail!(
            "the Slurm controller does not answer ({}); is slurmctld running, and SLURM_CONF right?",
            first_line(&text, "scontrol ping failed")
        ),
    }
    let mut test = srun::test_command(config);
    match run_quietly(&mut test) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("--slurm needs srun, which is not on PATH (install Slurm's client, slurm-client)")
        }
        Err(e) => bail!("cannot run 'srun': {e}"),
        Ok((true, _)) => Ok(()),
        Ok((false, text)) => bail!(
            "srun refuses the job steps{}: {}",
            if config.args.is_empty() {
                ""
            } else {
                " with these --slurm-args"
            },
            first_line(&text, "srun --test-only failed")
        ),
    }
}

/// Runs `command` with no input, its stdout and stderr read together, for at most
/// [`CHECK_DEADLINE`]: whether it succeeded, and what it said.
fn run_quietly(command: &mut Command) -> std::io::Result<(bool, String)> {
    let file = tempfile::tempfile()?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file.try_clone()?)
        .spawn()?;
    let clock = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if clock.elapsed() > CHECK_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut text = String::new();
    let mut file = file;
    use std::io::{Read, Seek};
    let _ = file.rewind();
    let _ = file.read_to_string(&mut text);
    match status {
        Some(status) => Ok((status.success(), text)),
        None => Ok((
            false,
            format!("no answer in {} s", CHECK_DEADLINE.as_secs()),
        )),
    }
}

/// The first line of `text` that says something (not empty, not a row of `*`), without
/// srun's `srun: error: ` prefix; or `default`.
fn first_line(text: &str, default: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('*'))
        .map(|l| {
            l.trim_start_matches("srun: ")
                .trim_start_matches("error: ")
                .to_string()
        })
        .unwrap_or_else(|| default.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_string())
        }
    }

    #[test]
    fn the_allocation_runs_its_cpus_divided_by_the_cpus_per_step() {
        let alloc = [
            ("SLURM_JOB_CPUS_PER_NODE", "2(x3),4"),
            ("SLURM_NTASKS", "2"),
        ];
        assert_eq!(allocation_capacity(vars(&alloc), 1), 10);
        assert_eq!(allocation_capacity(vars(&alloc), 3), 3);
        assert_eq!(allocation_capacity(vars(&alloc), 20), 1);
        assert_eq!(allocation_capacity(vars(&[("SLURM_NTASKS", "5")]), 1), 5);
        assert_eq!(allocation_capacity(vars(&[]), 1), 1);
        assert_eq!(cpus_per_node("x"), None);
    }

    #[test]
    fn the_flags_are_checked() {
        let config = SlurmConfig::from_flags(true, Some(2), Some("-p 'a b'"), Some("7".into()));
        let config = config.unwrap().unwrap();
        assert_eq!(config.args, [OsString::from("-p"), OsString::from("a b")]);
        assert_eq!((config.cpus, config.allocation.as_deref()), (2, Some("7")));
        assert!(SlurmConfig::from_flags(false, Some(2), None, None).is_err());
        assert!(SlurmConfig::from_flags(true, Some(0), None, None).is_err());
        assert!(SlurmConfig::from_flags(true, None, Some("'x"), None).is_err());
        assert_eq!(first_line("\n***\nsrun: error: bad\nx\n", "d"), "bad");
    }
}
