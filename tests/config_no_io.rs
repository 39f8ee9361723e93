//! A run that cannot start leaves the file system as it was: validating the flags touches
//! no file, and what a run creates (the `--results` directory, the joblog) is created only
//! once everything it reads has been read. `--dry-run` creates nothing at all.

mod common;

use std::path::Path;

use common::{pmap, run_cmd};

/// Runs pmap in `dir` with `args`, expecting it to refuse with one `pmap: ` line.
fn refused(dir: &Path, args: &[&str]) -> String {
    run_cmd(pmap().current_dir(dir).args(args), "")
        .usage_error()
        .to_owned()
}

#[test]
fn a_usage_error_creates_no_results_dir() {
    let dir = tempfile::tempdir().unwrap();
    for flags in [
        &["--max-tasks", "0"][..],
        &["--pool", "process", "--max-tasks", "0"],
        &["-j", "x"],
        &["-n", "0"],
        &["--colsep", "("],
        &["-d", ""],
        &["--timeout", "0"],
    ] {
        let mut args = vec!["--results", "out"];
        args.extend(flags);
        args.extend(["echo", ":::", "a"]);
        let line = refused(dir.path(), &args);
        assert!(
            !dir.path().join("out").exists(),
            "{flags:?} ({line}) created the --results directory"
        );
    }
}

#[test]
fn a_run_that_cannot_start_creates_neither_results_nor_joblog() {
    let dir = tempfile::tempdir().unwrap();
    let outputs = ["--results", "out", "--joblog", "log"];
    for tail in [
        &["--pool", "process", "pmap-no-such-worker"][..],
        &["--sshlogin-file", "no-such-hosts", "echo", ":::", "a"],
        &["echo", "::::", "no-such-input"],
    ] {
        let args: Vec<&str> = outputs.iter().chain(tail).copied().collect();
        let line = refused(dir.path(), &args);
        for made in ["out", "log"] {
            assert!(
                !dir.path().join(made).exists(),
                "{tail:?} ({line}) created '{made}'"
            );
        }
    }
}

#[test]
fn dry_run_creates_neither_results_nor_joblog() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--dry-run",
        "--results",
        "out",
        "--joblog",
        "log",
        "echo",
        ":::",
        "a",
    ];
    run_cmd(pmap().current_dir(dir.path()).args(args), "").ok("echo a\n");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
