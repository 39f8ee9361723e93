//! A bounded fuzz test of the command line: a few thousand argument lists built from
//! options and awkward values (huge numbers, empty strings, bytes that are not UTF-8,
//! unclosed braces), each run with a time limit. Whatever pmap answers, it never panics,
//! aborts or hangs. The generator is seeded, so a failure names a list that can be rerun.

mod common;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::pmap_path;

/// Argument lists per run of the test.
const CASES: usize = 2400;
/// Threads running them.
const THREADS: usize = 4;
/// The longest one run may take.
const LIMIT: Duration = Duration::from_secs(20);

/// Options, with how many values each takes.
const OPTIONS: &[(&str, usize)] = &[
    ("-j", 1),
    ("--jobs", 1),
    ("-n", 1),
    ("-d", 1),
    ("-0", 0),
    ("-k", 0),
    ("--tag", 0),
    ("--tagstring", 1),
    ("--timeout", 1),
    ("--kill-grace", 1),
    ("--delay", 1),
    ("--retries", 1),
    ("--halt", 1),
    ("--joblog", 1),
    ("--results", 1),
    ("--colsep", 1),
    ("--pool", 1),
    ("--max-tasks", 1),
    ("-I", 1),
    ("--dry-run", 0),
    ("-v", 0),
    ("--json", 0),
    ("--lb", 0),
    ("-u", 0),
    ("--merge-stderr", 0),
    ("--shell", 0),
    ("--color", 1),
    ("--resume", 0),
    ("--resume-failed", 0),
    ("--link", 0),
    ("-a", 1),
    (":::", 0),
    ("::::", 0),
];

/// Values: numbers at and past every edge, empty and odd strings, template fragments.
/// (No valid duration long enough to make a run sleep past the limit.)
const VALUES: &[&[u8]] = &[
    b"18446744073709551615",
    b"18446744073709551616",
    b"99999999999999999999999",
    b"1000000001",
    b"4294967295",
    b"4294967296",
    b"-1",
    b"0",
    b"1",
    b"2",
    b"",
    b" ",
    b"1e400",
    b"nan",
    b"inf",
    b"0.05",
    b"1.5s",
    b"50%",
    b"+18446744073709551615",
    b"-18446744073709551615",
    b"18446744073709551615%",
    b"%",
    b"{",
    b"}",
    b"{}",
    b"{=",
    b"{= s/a/b/ =}",
    b"{1",
    b"{99999999999999999999}",
    b"{0}",
    b"{.}",
    b"{#}",
    b"{%}",
    b"{}{}{",
    b"now,fail=1",
    b"soon,fail=100%",
    b"now,fail=18446744073709551615",
    b"never",
    b"thread",
    b"process",
    b"always",
    b"\\n",
    b"\\0",
    b"\n",
    b"\t",
    b"\xff\xfe",
    b"caf\xc3",
    b"log",
    b"results",
    b"-",
    b"--",
    b"a b",
    b"'",
    b"\"",
    b"\\",
];

/// xorshift64*: small, seeded, good enough to pick from lists.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }

    fn value(&mut self) -> OsString {
        OsString::from_vec(VALUES[self.below(VALUES.len())].to_vec())
    }
}

/// Case `case`'s argument list: some options, then `echo` and a few values as its
/// arguments, then up to three items.
fn arguments(case: usize) -> Vec<OsString> {
    let mut rng =
        Rng(0x9e37_79b9_7f4a_7c15 ^ (case as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9));
    let mut args = Vec::new();
    for _ in 0..rng.below(7) {
        let (option, values) = OPTIONS[rng.below(OPTIONS.len())];
        args.push(OsString::from(option));
        for _ in 0..values {
            args.push(rng.value());
        }
    }
    args.push("echo".into());
    for _ in 0..rng.below(3) {
        args.push(rng.value());
    }
    args.push(":::".into());
    for _ in 0..rng.below(4) {
        args.push(rng.value());
    }
    args
}

/// Runs case `case`; `Err` says what went wrong.
fn run_case(case: usize, dir: &std::path::Path) -> Result<(), String> {
    let args = arguments(case);
    let mut child = Command::new(pmap_path())
        .args(&args)
        .current_dir(dir)
        .env_remove("PMAP_SHELL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("case {case}: cannot start pmap: {e}"))?;
    let stderr = child.stderr.take().expect("stderr piped");
    let reader = std::thread::spawn(move || common::read_all(stderr));
    let deadline = std::time::Instant::now() + LIMIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let err = reader.join().unwrap_or_default();
    let code = status.and_then(|s| s.code()).unwrap_or(-1);
    let verdict = if status.is_none() {
        Some("hung")
    } else if code == -1 {
        Some("died of a signal")
    } else if err.contains("panicked") || code == 101 || code == 134 {
        Some("panicked or aborted")
    } else {
        None
    };
    match verdict {
        Some(what) => Err(format!(
            "case {case}: {what} (exit {code}): {args:?}\n{err}"
        )),
        None => Ok(()),
    }
}

#[test]
fn no_argument_list_makes_pmap_panic_abort_or_hang() {
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                scope.spawn(move || {
                    let dir = tempfile::tempdir().expect("a temporary directory");
                    (t..CASES)
                        .step_by(THREADS)
                        .filter_map(|case| run_case(case, dir.path()).err())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("fuzz thread"))
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
