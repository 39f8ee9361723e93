//! Helpers shared by the integration tests: run the real `pmap` binary with exact stdin
//! bytes and compare exact stdout bytes, stderr and exit code.

#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout};
use std::sync::mpsc;
use std::time::Duration;

use assert_cmd::Command;

/// The `pmap` binary under test, with a clean `PMAP_SHELL` and a safety timeout.
pub fn pmap() -> Command {
    let mut cmd = Command::cargo_bin("pmap").expect("the pmap binary is built");
    cmd.env_remove("PMAP_SHELL")
        .timeout(Duration::from_secs(60));
    cmd
}

/// The path of the `pmap` binary, for tests that need `std::process::Command`.
pub fn pmap_path() -> &'static str {
    env!("CARGO_BIN_EXE_pmap")
}

/// Whether the tests run under CI (`CI=true`, as `.ci/run` sets it). CI installs every
/// program the tests need, so there a missing one is a failure, never a skip.
pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| v == "true")
}

/// Where `program` is: itself if it contains a `/`, else the first match in `path` (a list
/// of directories, as `$PATH` is); `None` when there is no executable file there.
pub fn find_program_in(program: &str, path: &OsStr) -> Option<PathBuf> {
    let executable = |path: &Path| {
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let path = PathBuf::from(program);
        return executable(&path).then_some(path);
    }
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|path| executable(path))
}

/// Where `program` is, looked up in this process's `$PATH` (see [`find_program_in`]).
pub fn find_program(program: &str) -> Option<PathBuf> {
    find_program_in(program, &std::env::var_os("PATH").unwrap_or_default())
}

/// What a test that needs a program should do.
#[derive(Debug, PartialEq, Eq)]
pub enum Needed {
    /// The program is there.
    Found(PathBuf),
    /// It is missing and this is not CI: print this line to stderr and pass.
    Skip(String),
    /// It is missing under `CI=true`, where CI installs it: fail with this message.
    Fail(String),
}

/// Looks for `program` (from the Debian package `package`) in `path`, and says what the
/// test should do: run, skip, or (`under_ci`) fail. The messages are one line each.
pub fn check_program(program: &str, package: &str, path: &OsStr, under_ci: bool) -> Needed {
    if let Some(found) = find_program_in(program, path) {
        return Needed::Found(found);
    }
    let where_ = if program.contains('/') {
        ""
    } else {
        " on PATH"
    };
    let missing = format!("{program} not found{where_} (Debian package {package})");
    if under_ci {
        Needed::Fail(format!(
            "{missing}; with CI=true a missing test program fails the test instead of \
             skipping it (.ci/run installs it: see NEEDS there)"
        ))
    } else {
        Needed::Skip(format!("skipping: {missing}"))
    }
}

/// Finds `program` (from the Debian package `package`) in `$PATH` for the calling test.
/// When it is missing: under CI (`CI=true`) the test fails with one line naming the program
/// and its package (libtest shows it under the test's name); elsewhere it prints `skipping: <program> not found on PATH (Debian
/// package <package>)` to stderr (straight to the file descriptor, so that `cargo test`
/// shows it even for a test that passes) and returns `None`, and the test should return.
pub fn program_or_skip(program: &str, package: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    match check_program(program, package, &path, under_ci()) {
        Needed::Found(found) => Some(found),
        Needed::Skip(line) => {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
            None
        }
        Needed::Fail(message) => {
            // The test fails with this one line: `resume_unwind` unwinds without the panic
            // hook, so no `panicked at` line and no backtrace, even with RUST_BACKTRACE set.
            eprintln!("{message}");
            std::panic::resume_unwind(Box::new(message))
        }
    }
}

/// How one test of this test binary did when run again on its own ([`rerun_without_programs`]).
pub struct Rerun {
    pub passed: bool,
    /// Its stdout and stderr together (libtest prints a failed test's panic on stdout).
    pub output: String,
}

/// Runs the test named `test` of the calling test binary again, alone, in a child process
/// whose `$PATH` is an empty directory, with `CI=true` if `ci`, else without `CI`, and with
/// `RUST_BACKTRACE=1`: how a test behaves on a machine that lacks the programs it needs.
pub fn rerun_without_programs(test: &str, ci: bool) -> Rerun {
    let empty = tempfile::tempdir().expect("a temp dir for an empty PATH");
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = std::process::Command::new(&exe);
    cmd.args([test, "--exact", "--test-threads=1"])
        .env("PATH", empty.path())
        .env("RUST_BACKTRACE", "1");
    if ci {
        cmd.env("CI", "true");
    } else {
        cmd.env_remove("CI");
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
    Rerun {
        passed: out.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// What one run of pmap produced.
pub struct Out {
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub code: i32,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code,
            show(&self.stdout),
            self.stderr
        )
    }
}

/// Shows bytes with everything non-printable escaped, for assertion messages.
pub fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// Turns raw bytes into one command-line argument.
pub fn os(bytes: &[u8]) -> OsString {
    OsStr::from_bytes(bytes).to_os_string()
}

/// Runs `cmd` with exactly `stdin` on its standard input.
pub fn run_cmd(cmd: &mut Command, stdin: impl Into<Vec<u8>>) -> Out {
    let output = cmd.write_stdin(stdin).output().expect("pmap runs");
    Out {
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        code: output.status.code().unwrap_or(-1),
    }
}

/// Runs pmap with `args` and exactly `stdin` on its standard input.
pub fn run<I, S>(args: I, stdin: impl Into<Vec<u8>>) -> Out
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_cmd(pmap().args(args), stdin)
}

/// [`run`] for a list of words, as most tests write their arguments.
pub fn run_args(args: &[&str], stdin: &str) -> Out {
    run(args, stdin)
}

/// Runs pmap with `args` and `stdin`, and asserts that it printed exactly `expected` on
/// stdout and exited 0 (stderr is shown if not).
#[track_caller]
pub fn expect_stdout(args: &[&str], stdin: &str, expected: &str) {
    let out = run_args(args, stdin);
    assert_eq!(
        (String::from_utf8_lossy(&out.stdout).as_ref(), out.code),
        (expected, 0),
        "pmap {args:?}: {}",
        out.stderr
    );
}

/// What two jobs of `pmap -k --wd ... 'touch f; ls; pwd' ::: 1 2` printed: asserts that the
/// run succeeded and that each job saw a directory of its own holding only its own file,
/// and returns the two directories.
#[track_caller]
pub fn fresh_work_dirs(out: &Out) -> [String; 2] {
    assert_eq!(out.code, 0, "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{out:?}");
    assert_eq!((lines[0], lines[2]), ("f", "f"), "{out:?}");
    assert_ne!(lines[1], lines[3], "each job has a directory of its own");
    [lines[1].to_string(), lines[3].to_string()]
}

impl Out {
    /// Asserts the exact stdout bytes and exit code, and an empty stderr.
    #[track_caller]
    pub fn ok(&self, stdout: impl AsRef<[u8]>) -> &Self {
        self.check(stdout, "", 0)
    }

    /// Asserts the exact stdout bytes, stderr text and exit code.
    #[track_caller]
    pub fn check(&self, stdout: impl AsRef<[u8]>, stderr: &str, code: i32) -> &Self {
        let stdout = stdout.as_ref();
        assert!(
            self.stdout == stdout && self.stderr == stderr && self.code == code,
            "expected exit {code}\n--- stdout ---\n{}\n--- stderr ---\n{stderr}\n\
             ======== but got ========\n{self:?}",
            show(stdout)
        );
        self
    }

    /// Asserts that pmap refused to run: exit 255, nothing on stdout, and exactly one line
    /// on stderr, starting `pmap: `. Returns that line.
    #[track_caller]
    pub fn usage_error(&self) -> &str {
        assert_eq!(self.code, 255, "{self:?}");
        assert!(self.stdout.is_empty(), "{self:?}");
        assert!(
            self.stderr.starts_with("pmap: ")
                && self.stderr.ends_with('\n')
                && self.stderr.matches('\n').count() == 1,
            "expected one stderr line starting 'pmap: ', got {self:?}"
        );
        self.stderr.trim_end()
    }

    /// The stdout lines, sorted (for runs without `-k`).
    pub fn sorted_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = String::from_utf8_lossy(&self.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    }
}

/// Reads a child's stdout line by line on a thread, so a test can wait for the next line
/// with a timeout.
pub struct LineReader {
    rx: mpsc::Receiver<Option<Vec<u8>>>,
}

impl LineReader {
    pub fn new(stdout: ChildStdout) -> Self {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(None);
                        return;
                    }
                    Ok(_) => {
                        if tx.send(Some(line)).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        LineReader { rx }
    }

    /// The next line (with its newline), `None` at end of output; panics after `timeout`.
    #[track_caller]
    pub fn next_line(&self, timeout: Duration) -> Option<Vec<u8>> {
        self.rx
            .recv_timeout(timeout)
            .unwrap_or_else(|_| panic!("no output line from pmap within {timeout:?}"))
    }

    /// Everything until end of output.
    pub fn rest(&self, timeout: Duration) -> Vec<u8> {
        let mut all = Vec::new();
        while let Some(line) = self.next_line(timeout) {
            all.extend(line);
        }
        all
    }
}

/// Starts pmap with `args` in `dir`, stdin on /dev/null, stdout and stderr piped.
pub fn spawn_pmap(dir: &Path, args: &[&str]) -> Child {
    std::process::Command::new(pmap_path())
        .args(args)
        .current_dir(dir)
        .env_remove("PMAP_SHELL")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("pmap starts")
}

/// Waits for a child, killing it if it takes longer than `timeout`; returns its exit code.
#[track_caller]
pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> i32 {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait for pmap") {
            return status.code().unwrap_or(-1);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pmap did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads all of a child's stderr.
pub fn read_all(mut r: impl Read) -> String {
    let mut s = Vec::new();
    let _ = r.read_to_end(&mut s);
    String::from_utf8_lossy(&s).into_owned()
}

/// The output of `ps args`; panics, saying so, when ps cannot run (procps is missing).
#[track_caller]
pub fn ps(args: &[&str]) -> String {
    let out = std::process::Command::new("ps")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run ps: {e} (the tests need it: apt-get install procps)")
        });
    assert!(
        out.status.success(),
        "ps {} failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// How many processes have `marker` in their command line.
pub fn processes_with(marker: &str) -> usize {
    ps(&["-eo", "args"])
        .lines()
        .filter(|l| l.contains(marker))
        .count()
}

/// Waits (up to 10 s) until `n` processes have `marker` in their command line: the jobs
/// a test is about to signal have started.
#[track_caller]
pub fn wait_for_processes(marker: &str, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while processes_with(marker) < n {
        assert!(
            std::time::Instant::now() < deadline,
            "the jobs never started ('{marker}')"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts that no process with `marker` in its command line is left, allowing
/// [`GONE_WITHIN`] for a SIGKILL to land.
#[track_caller]
pub fn assert_none_left(marker: &str) {
    let deadline = std::time::Instant::now() + GONE_WITHIN;
    loop {
        let left = processes_with(marker);
        if left == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{left} process(es) running '{marker}' outlived their job or pmap"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How long a process pmap ended (or should have ended) may take to disappear: a SIGKILL
/// lands at once, but a loaded machine may take a while to schedule the exit.
pub const GONE_WITHIN: Duration = Duration::from_secs(5);

/// Waits (up to [`GONE_WITHIN`], checking every 50 ms) until `pid` is no longer alive;
/// returns whether it went.
pub fn wait_until_gone(pid: i32) -> bool {
    let deadline = std::time::Instant::now() + GONE_WITHIN;
    while alive(pid) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// Asserts that `pid` (described as `what`) is gone, or goes within [`GONE_WITHIN`].
#[track_caller]
pub fn assert_gone(pid: i32, what: &str) {
    assert!(
        wait_until_gone(pid),
        "still alive {GONE_WITHIN:?} after pmap exited: {what} (pid {pid}, stat {:?})",
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
    );
}

/// Whether `pid` is alive (exists and is not a zombie).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            // The state follows the parenthesised command name.
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
    }
}
