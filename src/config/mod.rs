//! Turns parsed flags into a validated [`Config`]. Bad usage fails here, before any job
//! starts; everything after this stage takes `&Config`, never clap types.
//!
//! Validation touches no file: reading the files the flags name, creating the result
//! directory and looking programs up in `$PATH` is [`crate::setup`]'s job, so that a usage
//! error leaves nothing behind. The few fields setup fills in say so.

mod columns;
mod pipe;
mod placement;
mod values;

use std::collections::HashSet;
use std::ffi::OsString;
use std::io::{self, IsTerminal};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::cli::{Cli, ColorWhen, PoolKind};
use crate::collect::progress::{ProgressKind, ProgressUnit};
use crate::halt::Halt;
use crate::input::pack::Packing;
use crate::input::{InputConfig, SourceSpec};
use crate::remote::{RemoteConfig, hosts};
use crate::slurm::SlurmConfig;
use crate::template::{TagTemplate, Template};

pub use placement::{Placement, WorkDir};
pub use values::{parse_delimiter, parse_jobs};

/// Everything a run needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// At most this many jobs at once (always at least 1).
    pub jobs: usize,
    pub input: InputConfig,
    pub template: Template,
    /// The shell for shell-mode commands: `$PMAP_SHELL` or `/bin/sh`, as given; filled in
    /// by [`crate::setup`] with where `$PATH` finds it, if it does.
    pub shell: OsString,
    /// The program every job runs (name as given, and where `$PATH` finds it), looked up
    /// once, so that each spawn is a single exec instead of a walk along `$PATH`. `None`
    /// until [`crate::setup`] fills it in, and for a program `$PATH` does not find.
    pub program: Option<(OsString, PathBuf)>,
    /// The bash that runs a command of words whose program is an exported bash function
    /// (`export -f`); filled in by [`crate::setup`].
    pub bash_function: Option<OsString>,
    pub output: OutputConfig,
    pub control: ControlConfig,
    pub pool: Pool,
    /// `--max-tasks`: items a process-pool worker handles before it is replaced.
    pub max_tasks: Option<u64>,
    /// `--pool-window`: items sent to a process-pool worker ahead of their answers; `None`
    /// for the automatic window.
    pub pool_window: Option<usize>,
    pub dry_run: bool,
    /// `-S`/`--sshlogin-file`: the hosts jobs run on, if any.
    pub remote: Option<RemoteConfig>,
    /// `--slurm`: jobs run as Slurm job steps.
    pub slurm: Option<SlurmConfig>,
    /// `--wd`, `--tmpdir`, `--memfree`, `--load`, `--env`.
    pub placement: Placement,
}

/// Job control (SPEC §6).
#[derive(Debug, Clone)]
pub struct ControlConfig {
    pub timeout: Option<Duration>,
    pub kill_grace: Duration,
    pub retries: u32,
    /// `--nice N`: the nice value jobs run at.
    pub nice: Option<i32>,
    pub delay: Option<Duration>,
    pub halt: Option<Halt>,
    pub joblog: Option<PathBuf>,
    /// `--resume`/`--resume-failed`: append to the joblog instead of starting it afresh,
    /// and skip the jobs it says need not run again.
    pub resume: Option<Resume>,
    /// Jobs the joblog says need not run again: empty until [`crate::setup`] reads the
    /// joblog for [`Self::resume`].
    pub skip: HashSet<u64>,
}

/// Which of the jobs an existing joblog holds are not run again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// `--resume`: every job it logs.
    All,
    /// `--resume-failed`: the ones that succeeded; the failed ones run again.
    Failed,
}

/// How local jobs run (`--pool`): pmap's own enum, so that no stage past this one sees clap's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    /// A fresh process per job.
    Thread,
    /// Long-lived worker processes fed one item per line.
    Process,
}

impl From<PoolKind> for Pool {
    fn from(kind: PoolKind) -> Self {
        match kind {
            PoolKind::Thread => Pool::Thread,
            PoolKind::Process => Pool::Process,
        }
    }
}

/// The default time between SIGTERM and SIGKILL.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(2);

/// How job output reaches pmap's stdout and stderr (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Each job's output whole, when it finishes.
    Group,
    /// Whole lines as soon as they are complete.
    Line,
    /// Raw chunks as they arrive.
    Ungroup,
}

/// The collector's settings.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub mode: OutputMode,
    pub keep_order: bool,
    pub tag: Option<TagTemplate>,
    pub merge_stderr: bool,
    pub json: bool,
    pub results: Option<PathBuf>,
    /// Bytes of job output held in memory, in all buffers together, before spilling to disk.
    pub memory_limit: usize,
    /// `--bar` / `--eta`.
    pub progress: Option<ProgressKind>,
    /// `--total-jobs`: the total the progress display starts with.
    pub total_jobs: Option<u64>,
    /// `--timeout`, for the notice of a job it ends.
    pub timeout: Option<Duration>,
    /// What the progress display counts: jobs, or with `--pipe` bytes of input (whose total
    /// [`crate::setup`] fills in when the input's size is known).
    pub progress_unit: ProgressUnit,
    /// `--progress`: the jobs run at once on this machine, for its heading; `None` with
    /// `-S`, whose slots are known only once the hosts are connected.
    pub progress_slots: Option<usize>,
    /// `-v`: print each command on stdout, just before its output (not with `--json`,
    /// whose record holds the command).
    pub verbose: bool,
    /// `-t`: print each command on stderr as it starts.
    pub trace: bool,
    /// Colour tags on stdout / on stderr and pmap's notices.
    pub color_stdout: bool,
    pub color_stderr: bool,
    /// Grouped mode with `-k`: pass stdout on as it comes, so the job with the `-k` turn
    /// streams (not with `--json`, which needs the whole output, nor with `--retries`, which
    /// prints only the last attempt).
    pub stream_turn: bool,
}

/// The default bound on buffered output in memory.
pub const DEFAULT_MEMORY_LIMIT: usize = 64 * 1024 * 1024;

impl OutputConfig {
    /// Whether a job's output must be cut into lines (to tag, merge or line-buffer it).
    pub fn by_lines(&self) -> bool {
        self.mode == OutputMode::Line || self.tag.is_some() || self.merge_stderr
    }

    /// Whether the collector counts running jobs (`--progress`): then each job says when
    /// it starts.
    pub fn counts_running_jobs(&self) -> bool {
        self.progress == Some(ProgressKind::Progress)
    }
}

impl Config {
    /// `--pipe`: how jobs get their blocks; `None` without blocks.
    pub fn block_delivery(&self) -> Option<crate::input::blocks::Delivery> {
        self.input.pipe.as_ref().map(|pipe| pipe.delivery)
    }

    /// Validates the parsed command line. Reads no file: see [`crate::setup`].
    pub fn from_cli(mut cli: Cli) -> Result<Self> {
        // xargs' spellings of -I {} and -L 1.
        if let Some(replace) = cli.replace_xargs.take() {
            cli.replace.get_or_insert(replace);
        }
        if let Some(lines) = cli.max_lines_xargs.take() {
            cli.max_lines.get_or_insert(lines);
        }
        let control = control_config(&cli)?;
        let remote = remote_config(&cli)?;
        let slurm = slurm_config(&cli, remote.is_some())?;
        let base = slurm
            .as_ref()
            .filter(|s| s.allocation.is_some())
            .map(|s| crate::slurm::allocation_capacity(|name| std::env::var(name).ok(), s.cpus));
        let jobs = values::jobs(cli.jobs.as_deref(), base)?;
        let seps = (
            cli.arg_sep.as_ref().map_or(&b":::"[..], |s| s.as_bytes()),
            cli.arg_file_sep
                .as_ref()
                .map_or(&b"::::"[..], |s| s.as_bytes()),
        );
        if seps.0 == seps.1 {
            bail!("--arg-sep and --arg-file-sep must differ");
        }
        let (command, sources, linked) =
            values::split_command(std::mem::take(&mut cli.command), seps);
        let mut input = input_config(&cli, sources, linked)?;
        input.pipe = pipe::pipe_config(&cli, jobs, &input.sources)?;
        let mut template = template_config(&cli, &command, &input)?;
        // GNU parallel's -N and -L repeat a word with {} in it per item, as -X does (for a
        // command of words; a shell line has none to repeat).
        if input.pipe.is_none()
            && (cli.max_records.is_some_and(|n| n > 0) || cli.max_lines.is_some())
        {
            template.repeat_words_per_value();
        }
        input.pack = packing(&cli, &mut template, jobs, &input)?;
        let mut output = output_config(&cli, control.retries)?;
        output.progress_slots = (remote.is_none() && slurm.is_none()).then_some(jobs);
        output.timeout = control.timeout;
        check_pool(&cli, &template, &command, remote.is_some())?;
        Ok(Config {
            program: None,
            bash_function: None,
            jobs,
            input,
            template,
            shell: std::env::var_os("PMAP_SHELL")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| OsString::from("/bin/sh")),
            output,
            control,
            pool: cli.pool.into(),
            max_tasks: cli.max_tasks,
            pool_window: cli.pool_window,
            dry_run: cli.dry_run,
            placement: placement::placement(&cli, remote.is_some())?,
            remote,
            slurm,
        })
    }
}

/// `--slurm`, `--slurm-cpus` and `--slurm-args` (the allocation from `$SLURM_JOB_ID`).
/// Slurm places the jobs itself: not with `-S`; and a step per job, so not with
/// `--pool process`.
fn slurm_config(cli: &Cli, remote: bool) -> Result<Option<SlurmConfig>> {
    let job_id = std::env::var("SLURM_JOB_ID").ok();
    let slurm =
        SlurmConfig::from_flags(cli.slurm, cli.slurm_cpus, cli.slurm_args.as_deref(), job_id)?;
    if slurm.is_some() && remote {
        bail!("--slurm cannot be used with -S/--sshlogin: Slurm places the jobs on its nodes");
    }
    if slurm.is_some() && cli.pool == PoolKind::Process {
        bail!("--slurm cannot be used with --pool process: each job is a Slurm step of its own");
    }
    Ok(slurm)
}

/// The input sources (`-a` files first, then those after the command; standard input if
/// none), `-d`/`-0`, columns and `--header`, `-n` and `--link`.
fn input_config(
    cli: &Cli,
    command_sources: Vec<SourceSpec>,
    command_linked: Vec<bool>,
) -> Result<InputConfig> {
    let delimiter = match (&cli.delimiter, cli.null) {
        (Some(d), _) => parse_delimiter(d.as_bytes())?,
        (None, true) => vec![0],
        (None, false) => vec![b'\n'],
    };
    let mut sources: Vec<SourceSpec> = cli
        .arg_file
        .iter()
        .cloned()
        .map(values::file_source)
        .collect();
    let mut linked = vec![false; sources.len()];
    linked.extend(command_linked);
    // GNU parallel's -d splits `:::` items too (not -0: an argument cannot hold a NUL).
    let command_sources = command_sources.into_iter().map(|source| match source {
        SourceSpec::Inline(items) if cli.delimiter.is_some() => SourceSpec::Inline(
            items
                .iter()
                .flat_map(|item| values::split_at(item, &delimiter))
                .collect(),
        ),
        other => other,
    });
    sources.extend(command_sources);
    if sources.is_empty() {
        sources.push(SourceSpec::Stdin);
    }
    if sources.iter().filter(|s| **s == SourceSpec::Stdin).count() > 1 {
        bail!("standard input ('-') can be only one input source");
    }
    // A CSV record ends at the delimiter's last byte (a CR before it is the csv crate's).
    let last = *delimiter.last().unwrap_or(&b'\n');
    let (columns, header, trim) = columns::columns_config(cli, last)?;
    let blocks = pipe::wants_blocks(cli);
    // GNU parallel's -N, for items: -n, except that -N0 gives the command no item at all.
    // -L N, for items: N lines per job, a line that ends in a blank continued by the next.
    let lines = cli.max_lines.filter(|_| !blocks);
    if lines == Some(0) {
        bail!("-L must be at least 1");
    }
    let given = [cli.max_args, cli.max_records.filter(|_| !blocks), lines];
    if given.iter().flatten().count() > 1 {
        bail!("-n, -N and -L each say how many items a job gets: give one");
    }
    let per_job = given.into_iter().flatten().next();
    let (max_args, no_values) = match (per_job, cli.max_args.is_some()) {
        (Some(0), true) => bail!("-n/--max-args must be at least 1"),
        (Some(0), false) => (1, true),
        (Some(n), _) => (n, false),
        (None, _) => (1, false),
    };
    Ok(InputConfig {
        sources,
        delimiter,
        link: cli.link,
        linked,
        columns,
        header,
        max_args,
        no_values,
        eof: cli.eof.as_ref().map(|s| s.as_bytes().to_vec()),
        skip_blank: cli.no_run_if_empty,
        join_continued: lines.is_some(),
        shuffle: cli.shuf,
        trim,
        pack: None,
        pipe: None,
    })
}

/// `-X`, `-m`: how items are packed into jobs by command-line size; `None` without them.
fn packing(
    cli: &Cli,
    template: &mut Template,
    slots: usize,
    input: &InputConfig,
) -> Result<Option<Packing>> {
    if !cli.context && !cli.many {
        if cli.max_chars.is_some() {
            bail!("-s/--max-chars works with -X or -m, which pack items by size");
        }
        return Ok(None);
    }
    let flag = if cli.context { "-X" } else { "-m" };
    if input.pipe.is_some() {
        bail!("{flag} packs items; with --pipe a job gets a block");
    }
    if cli.pool == PoolKind::Process {
        bail!("{flag} packs items into commands; --pool process workers read one item per line");
    }
    if input.columns.splits() || input.no_values {
        bail!("{flag} packs whole items: it does not go with --colsep, --csv, --header or -N0");
    }
    if cli.context && !template.repeat_words_per_value() {
        bail!(
            "-X repeats the word around {{}} for each item, which needs a command of separate \
             words, not one shell line; use -m"
        );
    }
    let limit = match cli.max_chars {
        Some(0) => bail!("-s/--max-chars must be at least 1"),
        Some(n) => n,
        None => crate::input::pack::system_limit(template),
    };
    Ok(Some(Packing {
        template: template.clone(),
        limit,
        slots,
        pointers: cli.max_chars.is_none(),
        max_items: if cli.max_args.is_some() || cli.max_records.is_some() {
            input.max_args
        } else {
            usize::MAX
        },
    }))
}

/// `--rpl 'TAG s/RE/REPL/'`: every TAG in the command becomes `{= s/RE/REPL/ =}`.
fn with_user_replacements(cli: &Cli, command: &[OsString]) -> Result<Vec<OsString>> {
    let mut words: Vec<Vec<u8>> = command.iter().map(|w| w.as_bytes().to_vec()).collect();
    for rpl in &cli.rpl {
        let Some((tag, expression)) = rpl.trim_start().split_once(char::is_whitespace) else {
            bail!(
                "--rpl '{rpl}': expected a tag, a space and an expression, e.g. '{{..}} s/\\.[^.]*$//'"
            );
        };
        let with = format!("{{={expression}=}}").into_bytes();
        for word in &mut words {
            *word = replace_all(word, tag.as_bytes(), &with);
        }
    }
    Ok(words
        .into_iter()
        .map(std::os::unix::ffi::OsStringExt::from_vec)
        .collect())
}

fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(i) = memchr::memmem::find(rest, needle) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(with);
        rest = &rest[i + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// Parses the command (with `-I` and `--shell`) into the jobs' [`Template`].
fn template_config(cli: &Cli, command: &[OsString], input: &InputConfig) -> Result<Template> {
    let replace = cli.replace.as_deref().map(str::as_bytes);
    let command = with_user_replacements(cli, command)?;
    let template = Template::parse_as(&command, replace, cli.shell, cli.quote, cli.plus)?;
    // Without columns, a job has a known number of values; {N} beyond it is a mistake.
    let available = input.sources.len().saturating_mul(input.max_args);
    if !input.columns.splits() && template.max_index() > available {
        bail!(
            "{{{}}} refers to value {} but each job has at most {} \
             (one per input source{}); use --colsep to split items into columns",
            template.max_index(),
            template.max_index(),
            available,
            if input.max_args > 1 { ", times -n" } else { "" }
        );
    }
    Ok(template)
}

/// The collector's settings: output mode, `-k`, tags, `--json`, `--results`, progress,
/// `-v` and colour. `retries` is `--retries`, which decides whether `-k` can stream.
fn output_config(cli: &Cli, retries: u32) -> Result<OutputConfig> {
    let replace = cli.replace.as_deref().map(str::as_bytes);
    let tag = match (&cli.tagstring, cli.tag) {
        // `\t`, `\n`, `\0` and `\\` as in GNU parallel (no replacement string has a backslash).
        (Some(s), _) => {
            let text = values::unescape(s.as_bytes(), values::Escapes::Basic)?;
            Some(TagTemplate::parse(&text, replace, cli.plus)?)
        }
        (None, true) => Some(TagTemplate::values()),
        (None, false) => None,
    };
    let mode = if cli.line_buffer {
        OutputMode::Line
    } else if cli.ungroup {
        OutputMode::Ungroup
    } else {
        OutputMode::Group
    };
    let progress = if cli.bar {
        Some(ProgressKind::Bar)
    } else if cli.eta {
        Some(ProgressKind::Eta)
    } else if cli.progress {
        Some(ProgressKind::Progress)
    } else {
        None
    };
    Ok(OutputConfig {
        mode,
        // -u passes output through as it comes: there is nothing to put in order, and
        // holding later jobs back would only slow them (GNU parallel ignores -k there too).
        keep_order: cli.keep_order && !cli.ungroup,
        tag,
        merge_stderr: cli.merge_stderr,
        json: cli.json,
        results: cli.results.clone(),
        memory_limit: DEFAULT_MEMORY_LIMIT,
        progress,
        total_jobs: cli.total_jobs,
        // --round-robin's jobs end only with the input: they are counted as jobs.
        progress_unit: if pipe::wants_blocks(cli) && !cli.round_robin {
            ProgressUnit::Bytes { total: None }
        } else {
            ProgressUnit::Jobs
        },
        progress_slots: None,
        timeout: None,
        verbose: cli.verbose,
        trace: cli.trace,
        color_stdout: use_color(cli.color, io::stdout().is_terminal()),
        color_stderr: use_color(cli.color, io::stderr().is_terminal()),
        stream_turn: mode == OutputMode::Group && cli.keep_order && !cli.json && retries == 0,
    })
}

/// `--pool process` and `--max-tasks`: a worker is started once and reads its items on
/// stdin, so its command cannot take an item's values, and there is no one command per
/// job to print (`--dry-run`) or to run over ssh.
fn check_pool(cli: &Cli, template: &Template, command: &[OsString], remote: bool) -> Result<()> {
    if cli.pool == PoolKind::Process {
        if template.uses_job_values() {
            bail!(
                "--pool process starts each worker once, so only {{%}} can be used in its \
                 command; items reach the worker on its stdin"
            );
        }
        if command.is_empty() {
            bail!("--pool process needs a worker command");
        }
        if cli.dry_run {
            bail!("--dry-run cannot be used with --pool process");
        }
    } else if cli.max_tasks.is_some() {
        bail!("--max-tasks needs --pool process");
    } else if cli.pool_window.is_some() {
        bail!("--pool-window needs --pool process");
    }
    if cli.max_tasks == Some(0) {
        bail!("--max-tasks must be at least 1");
    }
    if cli.pool_window == Some(0) {
        bail!("--pool-window must be at least 1");
    }
    if remote && cli.pool == PoolKind::Process {
        bail!("--sshlogin cannot be used with --pool process (yet); use --pool thread");
    }
    Ok(())
}

/// `-S`, `--sshlogin-file`, `--ssh-command`/`PMAP_SSH` and `--no-ssh-sharing`.
fn remote_config(cli: &Cli) -> Result<Option<RemoteConfig>> {
    let ssh_flags_without_hosts = cli.sshlogin.is_empty() && cli.sshlogin_file.is_empty();
    if ssh_flags_without_hosts {
        if cli.no_ssh_sharing {
            bail!("--no-ssh-sharing needs hosts: give -S/--sshlogin or --sshlogin-file");
        }
        return Ok(None);
    }
    let mut hosts = Vec::new();
    for list in &cli.sshlogin {
        hosts.extend(hosts::parse_list(list)?);
    }
    hosts::check_unique(&hosts)?;
    let command = cli
        .ssh_command
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or("ssh");
    let ssh: Vec<OsString> = match shlex::split(command) {
        Some(words) if !words.is_empty() => words.into_iter().map(OsString::from).collect(),
        _ => bail!("invalid --ssh-command '{command}': unbalanced quotes"),
    };
    Ok(Some(RemoteConfig {
        hosts,
        host_files: cli.sshlogin_file.clone(),
        ssh,
        share: !cli.no_ssh_sharing,
    }))
}

/// `--color`: `auto` colours a terminal unless NO_COLOR is set (https://no-color.org);
/// `always` and `never` say it outright.
fn use_color(when: ColorWhen, is_terminal: bool) -> bool {
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// Job control: `--timeout`, `--kill-grace`, `--retries`, `--delay`, `--halt`, `--joblog`
/// and `--resume`/`--resume-failed`.
fn control_config(cli: &Cli) -> Result<ControlConfig> {
    let duration = |flag: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|v| crate::duration::parse(flag, v))
            .transpose()
    };
    let timeout = duration("--timeout", &cli.timeout)?;
    if timeout == Some(Duration::ZERO) {
        bail!("--timeout must be more than 0");
    }
    let resume = if cli.resume {
        Some(Resume::All)
    } else if cli.resume_failed {
        Some(Resume::Failed)
    } else {
        None
    };
    Ok(ControlConfig {
        timeout,
        kill_grace: duration("--kill-grace", &cli.kill_grace)?.unwrap_or(DEFAULT_KILL_GRACE),
        // `--retries N` is N attempts in all, as in GNU parallel; pmap counts the ones after
        // the first.
        retries: cli.retries.map_or(0, |n| n.saturating_sub(1)),
        nice: cli.nice,
        delay: duration("--delay", &cli.delay)?,
        halt: cli.halt.as_deref().map(Halt::parse).transpose()?.flatten(),
        joblog: cli.joblog.clone(),
        resume,
        skip: HashSet::new(),
    })
}

/// Each `$PATH` directory joined to `name`, in the order `execvp` tries them: an empty
/// entry is the current directory, and no `$PATH` means `/bin:/usr/bin`. None for an empty
/// name.
pub(crate) fn path_candidates(name: &[u8]) -> Vec<Vec<u8>> {
    if name.is_empty() {
        return Vec::new();
    }
    let path = std::env::var_os("PATH");
    let path = path
        .as_ref()
        .map_or(&b"/bin:/usr/bin"[..], |p| p.as_bytes());
    path.split(|&b| b == b':')
        .map(|dir| {
            let dir = if dir.is_empty() { b"." } else { dir };
            [dir, b"/", name].concat()
        })
        .collect()
}
