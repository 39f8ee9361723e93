//! Where and when jobs may start: `--wd`, `--tmpdir`, `--memfree`, `--load`, and the
//! variables `--env` sends to remote hosts.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::cli::Cli;

/// `--wd`: the directory jobs run in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkDir {
    /// A directory, as given (a remote job's relative one is relative to its login dir).
    Dir(PathBuf),
    /// `...`: a fresh temporary directory per job, removed after it.
    Fresh,
}

/// The placement settings.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    pub workdir: Option<WorkDir>,
    /// `--tmpdir`: pmap's temporary files go there, and jobs get it as `TMPDIR`.
    pub tmpdir: Option<PathBuf>,
    /// `--memfree`: bytes of available memory needed to start a job.
    pub memfree: Option<u64>,
    /// `--load`: the highest 1-minute load average at which a job may start.
    pub load: Option<f64>,
    /// `--env`: each variable or exported bash function as `NAME` and its value here
    /// (a function's name is `BASH_FUNC_NAME%%`, its value `() { ... }`).
    pub remote_env: Vec<(OsString, OsString)>,
}

impl Placement {
    /// Whether a job must wait for the machine before it starts.
    pub fn gates_starts(&self) -> bool {
        self.memfree.is_some() || self.load.is_some()
    }
}

/// Reads and checks the placement flags. `remote`: jobs may run on other hosts, so `--wd`
/// need not exist here.
pub fn placement(cli: &Cli, remote: bool) -> Result<Placement> {
    let workdir = match &cli.wd {
        None => None,
        Some(dir) if dir.as_os_str() == "..." => Some(WorkDir::Fresh),
        Some(dir) => {
            if !remote && !dir.is_dir() {
                bail!("--wd '{}': no such directory", dir.display());
            }
            Some(WorkDir::Dir(dir.clone()))
        }
    };
    // Absolute: jobs get it as TMPDIR, and may run elsewhere (`--wd`).
    let tmpdir = match &cli.tmpdir {
        Some(dir) => {
            check_writable_dir(dir)?;
            Some(std::path::absolute(dir)?)
        }
        None => None,
    };
    let memfree = cli
        .memfree
        .as_deref()
        .map(|text| super::values::parse_size("--memfree", text))
        .transpose()?;
    let load = cli.load.as_deref().map(parse_load).transpose()?;
    if cli.pool == crate::cli::PoolKind::Process {
        if workdir == Some(WorkDir::Fresh) {
            bail!(
                "--wd ... gives each job a directory of its own; --pool process workers serve many items each"
            );
        }
        if memfree.is_some() || load.is_some() {
            bail!(
                "--memfree and --load hold back the start of jobs; --pool process starts its workers once"
            );
        }
    }
    if !cli.env.is_empty() && !remote {
        bail!("--env sends variables to remote hosts: it needs -S or --sshlogin-file");
    }
    Ok(Placement {
        workdir,
        tmpdir,
        memfree,
        load,
        remote_env: remote_env(&cli.env)?,
    })
}

/// `--tmpdir DIR` must be a directory pmap can write to.
fn check_writable_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        bail!("--tmpdir '{}': no such directory", dir.display());
    }
    if !dir.is_dir() {
        bail!("--tmpdir '{}' is not a directory", dir.display());
    }
    if let Err(e) = tempfile::tempfile_in(dir) {
        bail!("--tmpdir '{}' is not writable: {e}", dir.display());
    }
    Ok(())
}

/// `--load MAX`: a number, or `N%` of the CPUs.
fn parse_load(text: &str) -> Result<f64> {
    let bad = || anyhow::anyhow!("--load '{text}': expected a load average such as 2, 1.5 or 80%");
    let (number, percent) = match text.strip_suffix('%') {
        Some(number) => (number, true),
        None => (text, false),
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    if !value.is_finite() || value < 0.0 {
        return Err(bad());
    }
    Ok(if percent {
        value / 100.0 * super::values::cpus() as f64
    } else {
        value
    })
}

/// `--env NAME...`: each name's variable, or else its exported bash function; a name
/// that is neither is a usage error (GNU parallel sends nothing for it, silently).
fn remote_env(names: &[String]) -> Result<Vec<(OsString, OsString)>> {
    let mut found = Vec::new();
    for name in names {
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if name == "_" {
            bail!(
                "--env _ (GNU parallel's 'every variable but the ignored ones') is not built: name the variables"
            );
        }
        if !valid {
            bail!("--env '{name}': not a variable or function name");
        }
        let function = format!("BASH_FUNC_{name}%%");
        if let Some(value) = std::env::var_os(name) {
            found.push((OsString::from(name), value));
        } else if let Some(body) = std::env::var_os(&function) {
            found.push((OsString::from(function), body));
        } else {
            bail!("--env '{name}': no such variable or exported function (export it first)");
        }
    }
    Ok(found)
}
