//! The command-line definition (clap derive), and nothing else.
//!
//! Every flag's `///` doc is its help text. Turning these raw values into a validated
//! [`crate::config::Config`] is `config.rs`'s job; no other module sees clap types.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// When to colour output (`--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// The executor behind `--pool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PoolKind {
    /// A fresh process per job
    Thread,
    /// Long-lived worker processes fed items on stdin
    Process,
}

/// Run a command once per input item, many at a time.
///
/// Items come from standard input (one per line), from `::: ITEM...` lists, from `:::: FILE...`
/// or from `-a FILE`. Each job's output is printed whole when it finishes, never mixed with
/// another job's.
#[derive(Debug, Parser)]
#[command(
    name = "pmap",
    version,
    about,
    override_usage = "pmap [OPTIONS] [--] [COMMAND [ARG]...] [::: ITEM... | :::: FILE...]...",
    after_help = "Replacement strings: {} {.} {/} {//} {/.} {#} {%} {N} {N.} {N/} {N//} {N/.}",
    after_long_help = AFTER_LONG_HELP,
    // GNU parallel and xargs users repeat flags (an alias, a wrapper script): the last wins.
    args_override_self = true
)]
pub struct Cli {
    /// Run at most N jobs at once: N, N% of the CPUs, +N or -N relative to the CPUs, or 0 for
    /// as many as the input allows [default: number of CPUs]
    #[arg(
        short = 'j',
        visible_short_alias = 'P',
        long = "jobs",
        value_name = "N",
        allow_hyphen_values = true,
        help_heading = "Running jobs"
    )]
    pub jobs: Option<String>,

    /// Input items end with NUL instead of newline
    #[arg(
        short = '0',
        long = "null",
        conflicts_with = "delimiter",
        help_heading = "Input"
    )]
    pub null: bool,

    /// Input items end with DELIM: one byte or several (`-d '\r\n'` for Windows lines), with
    /// the escapes `\n`, `\t`, `\r`, `\0`, `\\` and `\xHH`
    #[arg(
        short = 'd',
        long = "delimiter",
        value_name = "DELIM",
        allow_hyphen_values = true,
        help_heading = "Input"
    )]
    pub delimiter: Option<OsString>,

    /// Read items from FILE (repeatable; each file is one input source)
    #[arg(
        short = 'a',
        long = "arg-file",
        value_name = "FILE",
        help_heading = "Input"
    )]
    pub arg_file: Vec<PathBuf>,

    /// Combine several input sources pairwise instead of as a cartesian product; shorter
    /// sources wrap around
    #[arg(long = "link", visible_alias = "xapply", help_heading = "Input")]
    pub link: bool,

    /// Trim white space off items (or, with --colsep, off each column): n (none), l, r, or
    /// lr [default: lr with --colsep, else n]
    #[arg(long = "trim", value_name = "n|l|r|lr", value_parser = ["n", "l", "r", "lr", "rl"], help_heading = "Input")]
    pub trim: Option<String>,

    /// Split each item into columns {1}, {2}, ... at matches of REGEX
    #[arg(
        long = "colsep",
        value_name = "REGEX",
        allow_hyphen_values = true,
        help_heading = "Input"
    )]
    pub colsep: Option<String>,

    /// Read items as CSV records: quoted fields may hold the delimiter, newlines and `""`
    /// quotes; the fields are the columns {1}, {2}, ... (the delimiter is --colsep's one
    /// character, else `,`)
    #[arg(long = "csv", help_heading = "Input")]
    pub csv: bool,

    /// Give each job up to N items
    #[arg(
        short = 'n',
        long = "max-args",
        value_name = "N",
        help_heading = "Items per job"
    )]
    pub max_args: Option<usize>,

    /// As many items per job as fit on the command line, the word around {} repeated for
    /// each (`rm -X` style: `-X mv -t dir {}`, `-X echo pre{}post`)
    #[arg(short = 'X', conflicts_with = "many", help_heading = "Items per job")]
    pub context: bool,

    /// As many items per job as fit on the command line, all in place of {}
    #[arg(short = 'm', long = "xargs", help_heading = "Items per job")]
    pub many: bool,

    /// With -X or -m: at most N bytes of command line per job [default: what the system
    /// allows, less the environment, as xargs computes it]
    #[arg(
        short = 's',
        long = "max-chars",
        value_name = "N",
        help_heading = "Items per job"
    )]
    pub max_chars: Option<usize>,

    /// Read every job first, then run them in a random order (numbered in that order)
    #[arg(long = "shuf", help_heading = "Input")]
    pub shuf: bool,

    /// Stop reading each input source at an item equal to STR (xargs' -E)
    #[arg(
        short = 'E',
        value_name = "STR",
        allow_hyphen_values = true,
        help_heading = "Input"
    )]
    pub eof: Option<OsString>,

    /// Skip items that are empty or only white space (xargs' -r)
    #[arg(short = 'r', long = "no-run-if-empty", help_heading = "Input")]
    pub no_run_if_empty: bool,

    /// Use SEP instead of ::: to start a list of items
    #[arg(
        long = "arg-sep",
        value_name = "SEP",
        allow_hyphen_values = true,
        help_heading = "Input"
    )]
    pub arg_sep: Option<OsString>,

    /// Use SEP instead of :::: to start a list of files of items
    #[arg(
        long = "arg-file-sep",
        value_name = "SEP",
        allow_hyphen_values = true,
        help_heading = "Input"
    )]
    pub arg_file_sep: Option<OsString>,

    /// Cut standard input (or the one -a FILE) into blocks of whole records and give each
    /// job one block on its stdin, instead of running a job per item
    #[arg(
        long = "pipe",
        visible_alias = "spreadstdin",
        help_heading = "Blocks of input (--pipe)"
    )]
    pub pipe: bool,

    /// Like --pipe, for the file of -a FILE: pmap finds the cuts by seeking, and each job's
    /// part goes from the file to the job without passing through pmap's memory
    #[arg(
        long = "pipepart",
        visible_alias = "pipe-part",
        help_heading = "Blocks of input (--pipe)"
    )]
    pub pipepart: bool,

    /// With --pipe: blocks of at most SIZE bytes (K, M, G, T: ×1024; k, m, g, t: ×1000;
    /// a record longer than SIZE makes its block grow); -N: N blocks per job slot, for input
    /// of known size [default: 1M]
    #[arg(
        long = "block",
        visible_alias = "block-size",
        value_name = "SIZE",
        allow_hyphen_values = true,
        help_heading = "Blocks of input (--pipe)"
    )]
    pub block: Option<String>,

    /// With --pipe: records end with STR (`\n`, `\t`, `\r`, `\0`, `\\`, `\xHH`
    /// escapes) [default: \n, or nothing if --recstart is given]
    #[arg(
        long = "recend",
        value_name = "STR",
        allow_hyphen_values = true,
        help_heading = "Blocks of input (--pipe)"
    )]
    pub recend: Option<String>,

    /// With --pipe: records start with STR (escapes as for --recend)
    #[arg(
        long = "recstart",
        value_name = "STR",
        allow_hyphen_values = true,
        help_heading = "Blocks of input (--pipe)"
    )]
    pub recstart: Option<String>,

    /// With --pipe: --recend and --recstart are regular expressions
    #[arg(long = "regexp", help_heading = "Blocks of input (--pipe)")]
    pub regexp: bool,

    /// With --pipe: remove the --recend and --recstart text of every record before the job
    /// gets its block
    #[arg(long = "rrs", visible_aliases = ["remove-rec-sep", "removerecsep"], help_heading = "Blocks of input (--pipe)")]
    pub rrs: bool,

    /// N items per job, {1}..{N} empty where the input ran out; 0: run the command with no
    /// item, once per item (GNU parallel's -N). With --pipe: N records per job
    #[arg(short = 'N', value_name = "N", help_heading = "Items per job")]
    pub max_records: Option<usize>,

    /// N lines per job, a line ending in a blank continued by the next (xargs' -L); with
    /// --pipe: N lines make one record (a block never splits a group of N lines)
    #[arg(
        short = 'L',
        long = "max-lines",
        value_name = "N",
        help_heading = "Items per job"
    )]
    pub max_lines: Option<usize>,

    /// The same as -L 1 (xargs' -l; `-l=N` for -L N)
    #[arg(
        short = 'l',
        value_name = "N",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "1",
        help_heading = "Items per job"
    )]
    pub max_lines_xargs: Option<usize>,

    /// Items: the first item of each input source names its columns (cut as --colsep or
    /// --csv cut items; at TABs without them), usable as {name}, {name.}, {name/}, {name//},
    /// {name/.} in the command and --tagstring; it is not run (`0`: no header item, a file
    /// source is named by its path). With --pipe: the first N lines (`:` for one, or the
    /// lines a regex matches at the start) are the header, given at the start of every block
    #[arg(
        long = "header",
        value_name = "N|:|REGEX",
        allow_hyphen_values = true,
        help_heading = "Input"
    )]
    pub header: Option<String>,

    /// With --pipe: start exactly -j jobs and give each block to whichever is ready, instead
    /// of a job per block
    #[arg(
        long = "round-robin",
        visible_alias = "round",
        help_heading = "Blocks of input (--pipe)"
    )]
    pub round_robin: bool,

    /// With --pipe: give each job its block in a temporary file named by {} instead of on
    /// stdin (implies --pipe)
    #[arg(
        long = "cat",
        conflicts_with = "fifo",
        help_heading = "Blocks of input (--pipe)"
    )]
    pub cat: bool,

    /// With --pipe: give each job its block through a named pipe named by {} (implies
    /// --pipe)
    #[arg(long = "fifo", help_heading = "Blocks of input (--pipe)")]
    pub fifo: bool,

    /// Define a replacement string: TAG stands for {= EXPRESSION =}, e.g.
    /// --rpl '{..} s/\.[^.]*$//' (repeatable)
    #[arg(
        long = "rpl",
        value_name = "'TAG EXPRESSION'",
        allow_hyphen_values = true,
        help_heading = "Commands"
    )]
    pub rpl: Vec<String>,

    /// More replacement strings: {..} {...} {/..} {/...} (two or three extensions off),
    /// {+/} {+.} {+..} {+...} (the parts those take off), {##} (the number of jobs), {0#}
    /// {0%} (zero-padded {#} {%}), and bash-like {:-TEXT} {:N} {:N:M} {#RE} {##RE} {%RE}
    /// {%%RE} {/RE/TEXT} {^RE} {^^RE} {,RE} {,,RE}
    #[arg(long = "plus", help_heading = "Commands")]
    pub plus: bool,

    /// Use STR instead of {} as the replacement string for the items
    #[arg(
        short = 'I',
        value_name = "STR",
        allow_hyphen_values = true,
        help_heading = "Commands"
    )]
    pub replace: Option<String>,

    /// The same as -I {} (xargs' -i; `--replace=STR` for -I STR)
    #[arg(
        short = 'i',
        long = "replace",
        value_name = "STR",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "{}",
        help_heading = "Commands"
    )]
    pub replace_xargs: Option<String>,

    /// Never run the command through a shell: run its words as they are, even a lone word
    /// with shell syntax in it (GNU parallel's -q)
    #[arg(
        short = 'q',
        long = "quote",
        conflicts_with = "shell",
        help_heading = "Commands"
    )]
    pub quote: bool,

    /// Always run the command through the shell ($PMAP_SHELL or /bin/sh)
    #[arg(long = "shell", help_heading = "Commands")]
    pub shell: bool,

    /// Print each command as it would run, in input order, and run nothing
    #[arg(long = "dry-run", visible_alias = "dr", help_heading = "Commands")]
    pub dry_run: bool,

    /// Print output in input order, whatever order the jobs finish in (not with -u, whose
    /// output passes through as it comes)
    #[arg(short = 'k', long = "keep-order", help_heading = "Output")]
    pub keep_order: bool,

    /// Print each job's output whole when it finishes: stdout, then stderr (the default)
    #[arg(long = "group", overrides_with_all = ["line_buffer", "ungroup"], help_heading = "Output")]
    pub group: bool,

    /// Print output lines as soon as they are complete; a line never mixes with another's
    #[arg(long = "line-buffer", visible_alias = "lb", overrides_with_all = ["group", "ungroup"], help_heading = "Output")]
    pub line_buffer: bool,

    /// Pass output through as it arrives (fastest; chunks of different jobs may mix)
    #[arg(short = 'u', long = "ungroup", overrides_with_all = ["group", "line_buffer"], help_heading = "Output")]
    pub ungroup: bool,

    /// Start every output line with the job's items and a TAB
    #[arg(long = "tag", help_heading = "Output")]
    pub tag: bool,

    /// Start every output line with STR (replacement strings allowed, and {host} for the
    /// host that ran the job) and a TAB
    #[arg(
        long = "tagstring",
        value_name = "STR",
        allow_hyphen_values = true,
        help_heading = "Output"
    )]
    pub tagstring: Option<OsString>,

    /// Send each job's stderr lines to stdout, joined with its stdout lines in arrival order
    #[arg(long = "merge-stderr", help_heading = "Output")]
    pub merge_stderr: bool,

    /// Print one JSON object per finished job instead of its raw output
    #[arg(long = "json", conflicts_with_all = ["line_buffer", "ungroup", "tag", "tagstring"], help_heading = "Output")]
    pub json: bool,

    /// Also keep each job's output in DIR/<seq>/stdout, stderr and meta.json
    #[arg(long = "results", value_name = "DIR", help_heading = "Output")]
    pub results: Option<PathBuf>,

    /// How jobs run: a fresh process per job (thread), or long-lived workers that read one
    /// item per line on stdin and answer one line each (process)
    #[arg(long = "pool", value_name = "KIND", value_enum, default_value_t = PoolKind::Thread, help_heading = "Process pool")]
    pub pool: PoolKind,

    /// With --pool process: replace each worker after it has handled N items
    #[arg(long = "max-tasks", value_name = "N", help_heading = "Process pool")]
    pub max_tasks: Option<u64>,

    /// With --pool process: send each worker up to N items ahead of their answers (default:
    /// automatic, from 1 for slow items up to 4096 for fast ones)
    #[arg(long = "pool-window", value_name = "N", help_heading = "Process pool")]
    pub pool_window: Option<usize>,

    /// End a job that runs longer than DURATION (30, 1.5s, 500ms, 2m, 1h): SIGTERM to its
    /// process group, then SIGKILL after the kill grace; the job fails, and a line on stderr
    /// names it
    #[arg(
        long = "timeout",
        value_name = "DURATION",
        help_heading = "Running jobs"
    )]
    pub timeout: Option<String>,

    /// How long a job gets between SIGTERM and SIGKILL [default: 2s]
    #[arg(
        long = "kill-grace",
        value_name = "DURATION",
        help_heading = "Running jobs"
    )]
    pub kill_grace: Option<String>,

    /// Try a failed job up to N times in all (GNU parallel's meaning; 0 and 1: no retry);
    /// only its last attempt's output is printed
    #[arg(long = "retries", value_name = "N", help_heading = "Running jobs")]
    pub retries: Option<u32>,

    /// Run the jobs at nice value N (-20..19; below 0 needs privilege)
    #[arg(
        long = "nice",
        value_name = "N",
        allow_hyphen_values = true,
        value_parser = clap::value_parser!(i32).range(-20..=19),
        help_heading = "Running jobs"
    )]
    pub nice: Option<i32>,

    /// Run each job in DIR (`...`: a fresh temporary directory per job, removed after it;
    /// on a remote host, a relative DIR is relative to the login directory, and `.` is this
    /// directory's path relative to $HOME)
    #[arg(
        long = "wd",
        visible_alias = "workdir",
        value_name = "DIR",
        help_heading = "Job placement"
    )]
    pub wd: Option<PathBuf>,

    /// Keep pmap's temporary files (spilled output, --cat blocks, --fifo pipes) in DIR, and
    /// give jobs TMPDIR=DIR [default: $TMPDIR, else /tmp]
    #[arg(
        long = "tmpdir",
        visible_alias = "tempdir",
        value_name = "DIR",
        help_heading = "Job placement"
    )]
    pub tmpdir: Option<PathBuf>,

    /// Start no job while less than SIZE of memory is available (K, M, G, T: ×1024; k, m,
    /// g, t: ×1000); below half of SIZE, end the youngest job and run it again later
    #[arg(long = "memfree", value_name = "SIZE", help_heading = "Job placement")]
    pub memfree: Option<String>,

    /// Start no job while the 1-minute load average is above MAX (a number, or N% of the
    /// CPUs)
    #[arg(long = "load", value_name = "MAX", help_heading = "Job placement")]
    pub load: Option<String>,

    /// With -S: give remote jobs the variable or exported bash function NAME from here
    /// (repeatable)
    #[arg(long = "env", value_name = "NAME", help_heading = "Remote hosts")]
    pub env: Vec<String>,

    /// Wait at least DURATION between job starts
    #[arg(long = "delay", value_name = "DURATION", help_heading = "Running jobs")]
    pub delay: Option<String>,

    /// When to stop early: never, or now,COND / soon,COND with COND fail=N, success=N,
    /// done=N or the same with N% (e.g. --halt now,fail=1)
    #[arg(long = "halt", value_name = "WHEN", help_heading = "Running jobs")]
    pub halt: Option<String>,

    /// Log each finished job to FILE, in GNU parallel's joblog format
    #[arg(
        long = "joblog",
        visible_alias = "jl",
        value_name = "FILE",
        help_heading = "Running jobs"
    )]
    pub joblog: Option<PathBuf>,

    /// Skip jobs already in the --joblog file; append to it
    #[arg(
        long = "resume",
        requires = "joblog",
        conflicts_with = "resume_failed",
        help_heading = "Running jobs"
    )]
    pub resume: bool,

    /// Re-run jobs the --joblog file records as failed, skip its successes; append to it
    #[arg(
        long = "resume-failed",
        requires = "joblog",
        help_heading = "Running jobs"
    )]
    pub resume_failed: bool,

    /// Show a progress bar on stderr (when it is a terminal): done/total, failures, rate, ETA;
    /// the total shows from the start for ::: lists and files (input from a pipe: see
    /// --total-jobs)
    #[arg(long = "bar", help_heading = "Output")]
    pub bar: bool,

    /// With --bar, --eta or --progress: the number of jobs, when pmap cannot know it before
    /// the input ends (input from a pipe), so that the total and the ETA show from the
    /// start; also {##}'s number
    #[arg(
        long = "total-jobs",
        visible_alias = "total",
        value_name = "N",
        help_heading = "Output"
    )]
    pub total_jobs: Option<u64>,

    /// Show the estimated time left on stderr (when it is a terminal)
    #[arg(long = "eta", conflicts_with = "bar", help_heading = "Output")]
    pub eta: bool,

    /// Show GNU parallel's progress line on stderr (when it is a terminal): jobs running,
    /// jobs done, and the average seconds per job
    #[arg(long = "progress", conflicts_with_all = ["bar", "eta"], help_heading = "Output")]
    pub progress: bool,

    /// Print each command on stdout, just before its output (GNU parallel's -v)
    #[arg(short = 'v', long = "verbose", help_heading = "Output")]
    pub verbose: bool,

    /// Print each command on stderr as it starts (GNU parallel's and xargs' -t)
    #[arg(short = 't', help_heading = "Output")]
    pub trace: bool,

    /// Run jobs on these hosts through ssh: comma-separated, `N/host` gives N slots (else
    /// -j), `:` is this machine, `user@host` and `host:port` accepted (repeatable)
    #[arg(
        short = 'S',
        long = "sshlogin",
        value_name = "HOSTS",
        help_heading = "Remote hosts"
    )]
    pub sshlogin: Vec<String>,

    /// Read hosts for --sshlogin from FILE: one per line, `#` starts a comment (repeatable)
    #[arg(
        long = "sshlogin-file",
        visible_alias = "slf",
        value_name = "FILE",
        help_heading = "Remote hosts"
    )]
    pub sshlogin_file: Vec<PathBuf>,

    /// The ssh command to reach the hosts with, split into words like a shell would
    /// (e.g. 'ssh -F ./config') [default: ssh]
    #[arg(
        long = "ssh-command",
        visible_alias = "ssh",
        value_name = "CMD",
        env = "PMAP_SSH",
        hide_env_values = true,
        help_heading = "Remote hosts"
    )]
    pub ssh_command: Option<String>,

    /// Open a new ssh connection for every job instead of sharing one per host (slower; for
    /// servers that refuse connection sharing)
    #[arg(long = "no-ssh-sharing", help_heading = "Remote hosts")]
    pub no_ssh_sharing: bool,

    /// Run each job as a Slurm job step through srun: inside an allocation (SLURM_JOB_ID
    /// set) a step of it, outside one a one-task allocation of its own; -j defaults to what
    /// the allocation runs at once
    #[arg(long = "slurm", help_heading = "Slurm")]
    pub slurm: bool,

    /// CPUs for each job's step (srun --cpus-per-task) [default: 1]
    #[arg(long = "slurm-cpus", value_name = "N", help_heading = "Slurm")]
    pub slurm_cpus: Option<u32>,

    /// More srun options for every job (partition, account, time limit, ...), split into
    /// words like a shell would, e.g. '-p short -t 10'; checked once at start
    #[arg(
        long = "slurm-args",
        value_name = "ARGS",
        allow_hyphen_values = true,
        help_heading = "Slurm"
    )]
    pub slurm_args: Option<String>,

    /// Colour tags and pmap's failure notices: auto (when the output is a terminal and
    /// NO_COLOR is unset), always or never
    #[arg(long = "color", value_name = "WHEN", value_enum, default_value_t = ColorWhen::Auto, help_heading = "Output")]
    pub color: ColorWhen,

    /// Accepted for GNU parallel's sake; pmap asks for no citation
    #[arg(
        long = "will-cite",
        visible_alias = "citation",
        help_heading = "Compatibility"
    )]
    pub will_cite: bool,

    /// Print a shell completion script or the man page on stdout, and exit; needs no command
    /// and reads no input
    #[arg(
        long = "generate",
        value_name = "KIND",
        value_enum,
        help_heading = "Setup"
    )]
    pub generate: Option<crate::generate::Kind>,

    /// The command, its arguments, and any `:::`/`::::` input sources
    #[arg(value_name = "COMMAND", trailing_var_arg = true)]
    pub command: Vec<OsString>,
}

const AFTER_LONG_HELP: &str = "\
REPLACEMENT STRINGS:
  {}      the item (all of the job's values)     {#}   the job number, from 1
  {.}     without its last extension             {%}   the slot number, 1..jobs
  {/}     basename                               {N}   column or input source N
  {//}    dirname                                {N.} {N/} {N//} {N/.}  the same, of N
  {/.}    basename without extension
  Without any replacement string, the values are appended as extra arguments.

EXAMPLES:
  cat urls.txt | pmap -j8 curl -sO
  find . -name '*.png' | pmap 'convert {} {.}.webp'
  pmap -k echo ::: a b ::: 1 2
  pmap --colsep , 'echo {2} {1}' :::: pairs.csv
  pmap -S 4/host1,4/host2,: --tagstring '{host}' 'echo {} on $(hostname)' ::: a b c

EXIT STATUS:
  0 all jobs succeeded; 1-100 the number of failed jobs; 101 more than 100 failed;
  130/143 interrupted by SIGINT/SIGTERM; 255 pmap itself could not run (bad usage,
  unreadable input, unwritable joblog).";
