//! What a run sets up before any job starts: the file-system and `$PATH` work that
//! [`Config::from_cli`] leaves out, so that a usage error leaves nothing behind.
//!
//! Everything that only reads comes first — the joblog to resume from, the
//! `--sshlogin-file`s, the `$PATH` lookups, the input sources — and what writes comes last:
//! the `--results` directory, then the joblog, which a fresh run truncates. So a run that
//! cannot start for any of the earlier reasons changes no file. `--dry-run` writes nothing.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::collect::joblog::{self, JobLog};
use crate::collect::progress::ProgressUnit;
use crate::config::{Config, ControlConfig, Pool, Resume, path_candidates};
use crate::input::{self, JobReader};
use crate::remote::{RemoteConfig, hosts};
use crate::template::ColumnNames;

/// A run, ready to start.
pub struct Setup {
    /// The configuration, with the fields setup fills in filled in.
    pub config: Config,
    /// The input sources, opened.
    pub jobs: JobReader,
    /// The open `--joblog` (none with `--dry-run`).
    pub joblog: Option<JobLog>,
}

/// Reads and creates what `config` names, and fills in the fields of `config` that need
/// the file system: [`ControlConfig::skip`], the hosts of the `--sshlogin-file`s,
/// [`Config::program`] and [`Config::shell`], and the column names of `--header`, which
/// the input's first items give. Call it once per run.
pub fn prepare(mut config: Config) -> Result<Setup> {
    if let Some(dir) = &config.placement.tmpdir {
        // Once per process: a second run in the same process keeps the first's directory.
        let _ = tempfile::env::override_temp_dir(dir);
    }
    config.control.skip = jobs_to_skip(&config.control)?;
    if let Some(remote) = &mut config.remote {
        read_host_files(remote)?;
    }
    let (mut jobs, headers) = input::open_with_headers(&config.input)?;
    if config.input.header.is_some() {
        name_columns(&mut config, &headers)?;
    }
    find_programs(&mut config)?;
    check_memfree(&config)?;
    if needs_total(&config) && config.output.total_jobs.is_none() {
        let (read, total) = jobs.read_ahead();
        jobs = read;
        config.output.total_jobs = Some(total);
    }
    if config.output.progress.is_some() && config.output.total_jobs.is_none() {
        config.output.total_jobs = count_quickly(&config, &jobs);
    }
    set_counts(&mut config);
    if let ProgressUnit::Bytes { total } = &mut config.output.progress_unit {
        *total = jobs.input_size();
    }
    let joblog = if config.dry_run {
        None
    } else {
        create_outputs(&config)?
    };
    Ok(Setup {
        config,
        jobs,
        joblog,
    })
}

/// `--header`: the command and the tag parsed again, `{name}` now standing for the column
/// the header names (before the program is looked up: `{name}` may be the program).
fn name_columns(config: &mut Config, headers: &input::Headers) -> Result<()> {
    let names = ColumnNames::new(headers);
    config.template.resolve_names(&names)?;
    if let Some(tag) = &mut config.output.tag {
        tag.resolve_names(&names)?;
    }
    Ok(())
}

/// Whether the command or the tag uses `{##}` or `{0#}`: then the jobs are counted
/// first, unless `--total-jobs` gives their number.
fn needs_total(config: &Config) -> bool {
    config.template.needs_total() || config.output.tag.as_ref().is_some_and(|t| t.needs_total())
}

/// The number of jobs for the progress display's first frame, when it comes cheaply: the
/// jobs `--shuf` has read already, or a count of input that can be read twice that takes
/// at most [`QUICK_COUNT`] (else a thread counts on while the jobs run, see `lib.rs`).
fn count_quickly(config: &Config, jobs: &JobReader) -> Option<u64> {
    if let Some(total) = jobs.buffered_total() {
        return Some(total);
    }
    if !input::count::countable(&config.input) {
        return None;
    }
    let never = std::sync::atomic::AtomicBool::new(false);
    input::count::count_jobs(&config.input, QUICK_COUNT, &never)
}

/// How long counting may hold back the first job.
const QUICK_COUNT: std::time::Duration = std::time::Duration::from_millis(200);

/// Fills in `{##}`, `{0#}` and `{0%}` (again once the hosts' slots are known).
pub fn set_counts(config: &mut Config) {
    let total = config.output.total_jobs.unwrap_or(0);
    config.template.set_counts(total, config.jobs);
    if let Some(tag) = &mut config.output.tag {
        tag.set_counts(total, config.jobs);
    }
}

/// `--memfree SIZE` beyond the machine's memory would hold every job back for ever.
fn check_memfree(config: &Config) -> Result<()> {
    let Some(need) = config.placement.memfree else {
        return Ok(());
    };
    match crate::exec::machine::total_memory() {
        Some(total) if need > total => bail!(
            "--memfree asks for {} MiB free, more than this machine's {} MiB of memory",
            need >> 20,
            total >> 20
        ),
        _ => Ok(()),
    }
}

/// `--resume` / `--resume-failed`: the jobs the existing joblog says need not run again.
fn jobs_to_skip(control: &ControlConfig) -> Result<HashSet<u64>> {
    let (Some(path), Some(resume)) = (&control.joblog, control.resume) else {
        return Ok(HashSet::new());
    };
    Ok(joblog::read(path)?
        .into_iter()
        .filter(|&(_, succeeded)| resume == Resume::All || succeeded)
        .map(|(seq, _)| seq)
        .collect())
}

/// Adds the hosts of each `--sshlogin-file` to those of `-S`; a host may still be given
/// only once in all of them.
fn read_host_files(remote: &mut RemoteConfig) -> Result<()> {
    for path in &remote.host_files {
        remote.hosts.extend(hosts::read_file(path)?);
    }
    hosts::check_unique(&remote.hosts)
}

/// Finds the program and the shell in `$PATH` once, so that each spawn is a single exec.
/// With `--pool process`, a worker that cannot start fails the run here.
fn find_programs(config: &mut Config) -> Result<()> {
    let name: Option<OsString> = config
        .template
        .literal_program()
        .map(|name| OsStr::from_bytes(name).to_os_string());
    config.program = name
        .as_ref()
        .and_then(|name| find_in_path(name).map(|path| (name.clone(), path)));
    if config.program.is_none() {
        use_bash_for_a_function(config)?;
    }
    let name = name.filter(|_| config.bash_function.is_none());
    if let (Pool::Process, Some(name)) = (config.pool, name.as_deref()) {
        // One command serves every item: if it cannot start, say so once, up front.
        let found = if name.as_bytes().contains(&b'/') {
            is_executable(Path::new(name))
        } else {
            config.program.is_some()
        };
        if !found {
            bail!("cannot run '{}': command not found", name.to_string_lossy());
        }
    }
    if let Some(path) = find_in_path(&config.shell) {
        config.shell = path.into_os_string();
    }
    Ok(())
}

/// `export -f doit; pmap doit ::: a`: when the command's first word is no program in
/// `$PATH` but the environment exports a bash function of that name, the jobs run through
/// bash, which defines the function from the environment.
fn use_bash_for_a_function(config: &mut Config) -> Result<()> {
    let Some(name) = config.template.first_word() else {
        return Ok(());
    };
    if name.contains(&b'/') {
        return Ok(());
    }
    let mut variable = b"BASH_FUNC_".to_vec();
    variable.extend_from_slice(name);
    variable.extend_from_slice(b"%%");
    if std::env::var_os(OsStr::from_bytes(&variable)).is_none() {
        return Ok(());
    }
    let Some(bash) = find_in_path(OsStr::new("bash")) else {
        bail!(
            "'{}' is an exported bash function, but there is no bash in $PATH to run it",
            String::from_utf8_lossy(name)
        );
    };
    if config.template.is_shell() {
        config.shell = bash.into_os_string();
    } else {
        config.bash_function = Some(bash.into_os_string());
    }
    Ok(())
}

/// Creates the `--results` directory and opens the joblog: for a fresh run, a new one.
fn create_outputs(config: &Config) -> Result<Option<JobLog>> {
    if let Some(dir) = &config.output.results {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create --results directory '{}'", dir.display()))?;
    }
    let control = &config.control;
    control
        .joblog
        .as_deref()
        .map(|path| JobLog::open(path, control.resume.is_some()))
        .transpose()
}

/// Where `execvp` would find `name`: the first executable regular file among its
/// [`path_candidates`]. `None` for a name with a slash (used as it is) or one not found (the
/// spawn then reports it).
fn find_in_path(name: &OsStr) -> Option<PathBuf> {
    if name.as_bytes().contains(&b'/') {
        return None;
    }
    path_candidates(name.as_bytes())
        .into_iter()
        .map(|candidate| PathBuf::from(OsString::from_vec(candidate)))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    path.is_file() && nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).is_ok()
}
