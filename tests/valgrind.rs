//! pmap under valgrind (memcheck), one small run per local executor: a fresh process per
//! job, the process pool (`--pool process`), and the output paths of line buffering, tags
//! and a `--timeout` kill. Valgrind watches pmap only (`--trace-children=no`: the jobs run
//! natively) and writes its report to a log file, so each run checks pmap's exact stdout,
//! stderr and exit code, and an empty report.
//!
//! valgrind is installed by `.ci/run`; elsewhere, without it, these tests are skipped (under
//! CI, with `CI=true`, they fail instead).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Out, assert_none_left, show};

/// Valgrind's exit code when it found errors: one that pmap never uses (src/exit.rs: 0–101,
/// 129–254, 255), so that an expected failure of pmap (exit 1) cannot hide one.
const VALGRIND_ERRORS: i32 = 123;

/// The one warning valgrind may print about a run: valgrind 3.19 (Debian 12) does not know
/// the pidfd_open system call (434), which pmap uses to wait for a job under `--timeout`;
/// it fails with ENOSYS there, and pmap falls back to polling. The warning is
/// `WARNING: unhandled <arch>-linux syscall: 434` and these lines, each after valgrind's
/// `--PID-- ` prefix.
const PIDFD_OPEN_WARNING: [&str; 4] = [
    "You may be able to write your own handler.",
    "Read the file README_MISSING_SYSCALL_OR_IOCTL.",
    "Nevertheless we consider this a bug.  Please report",
    "it at http://valgrind.org/support/bug_reports.html.",
];

/// What a run of pmap under valgrind produced.
struct Grind {
    out: Out,
    /// Valgrind's report (without the warning about pidfd_open): empty when it found
    /// nothing.
    log: String,
}

/// Runs pmap with `args` (and no stdin) under valgrind, or returns `None` when valgrind is
/// missing (see [`common::program_or_skip`]).
#[track_caller]
fn grind(args: &[&str]) -> Option<Grind> {
    let valgrind = common::program_or_skip("valgrind", "valgrind")?;
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("valgrind.log");
    let mut cmd = assert_cmd::Command::new(valgrind);
    cmd.args([
        "-q",
        "--trace-children=no",
        "--leak-check=no",
        &format!("--error-exitcode={VALGRIND_ERRORS}"),
        &format!("--log-file={}", log.display()),
        common::pmap_path(),
    ])
    .args(args)
    .env_remove("PMAP_SHELL")
    .timeout(Duration::from_secs(300));
    let out = common::run_cmd(&mut cmd, "");
    Some(Grind {
        out,
        log: read_log(&log),
    })
}

/// Valgrind's report in `path`, without its warning about pidfd_open.
fn read_log(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_else(|e| format!("(no valgrind log: {e})"));
    log.lines()
        .filter(|line| !is_pidfd_open_warning(line))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// Whether `line` is a line of valgrind's warning about pidfd_open.
fn is_pidfd_open_warning(line: &str) -> bool {
    let Some((pid, message)) = line
        .strip_prefix("--")
        .and_then(|rest| rest.split_once("-- "))
    else {
        return false;
    };
    let first =
        message.starts_with("WARNING: unhandled ") && message.ends_with("-linux syscall: 434");
    pid.bytes().all(|b| b.is_ascii_digit()) && (first || PIDFD_OPEN_WARNING.contains(&message))
}

impl Grind {
    /// Asserts pmap's exact stdout, stderr and exit code, and that valgrind reported
    /// nothing.
    #[track_caller]
    fn check(&self, stdout: &[u8], stderr: &str, code: i32) {
        let out = &self.out;
        assert!(
            out.stdout == stdout && out.stderr == stderr && out.code == code && self.log.is_empty(),
            "expected exit {code} (valgrind exits {VALGRIND_ERRORS} on errors it finds)\n\
             --- stdout ---\n{}\n--- stderr ---\n{stderr}\n--- valgrind log ---\n(empty)\n\
             ======== but got ========\n{out:?}\n--- valgrind log ---\n{}",
            show(stdout),
            self.log
        );
    }
}

#[test]
fn fresh_process_per_job_under_valgrind() {
    let Some(run) = grind(&["-j2", "-k", "echo", ":::", "a", "b", "c"]) else {
        return;
    };
    run.check(b"a\nb\nc\n", "", 0);
}

#[test]
fn process_pool_under_valgrind() {
    let worker = r#"while read -r l; do echo "<$l>"; done"#;
    let Some(run) = grind(&[
        "--pool", "process", "-j2", "-k", "sh", "-c", worker, ":::", "a", "b", "c",
    ]) else {
        return;
    };
    run.check(b"<a>\n<b>\n<c>\n", "", 0);
}

/// `slow` prints a line, then outlives `--timeout` and is killed (with the `sleep` in its
/// process group); `a` and `b` write a line to each stream. `b` starts only when `a` is
/// done (`slow` holds the other slot), so the stderr lines come in order too.
#[test]
fn line_buffer_tags_and_a_timeout_kill_under_valgrind() {
    let job =
        r#"case $1 in slow) echo started; sleep 61.93;; *) echo "$1"; echo "$1 err" >&2;; esac"#;
    let Some(run) = grind(&[
        "-j2",
        "-k",
        "--line-buffer",
        "--tag",
        "--timeout",
        "5",
        "sh",
        "-c",
        job,
        "sh",
        ":::",
        "a",
        "slow",
        "b",
    ]) else {
        return;
    };
    let stderr = "a\ta err\n\
        pmap: job 2 timed out after 5s and was ended (--timeout): sh -c 'case $1 in slow) \
        echo started; sleep 61.93;; *) echo ...\n\
        b\tb err\n";
    run.check(b"a\ta\nslow\tstarted\nb\tb\n", stderr, 1);
    assert_none_left("sleep 61.93");
}
