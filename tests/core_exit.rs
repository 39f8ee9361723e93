//! SPEC §7: exit status — success, the number of failed jobs, commands that cannot start,
//! killed jobs, and pmap's own errors.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::{pmap, run, run_cmd};

fn failing_jobs(n: usize) -> Vec<String> {
    let mut argv: Vec<String> = ["-j", "8", "sh", "-c", "exit 1", ":::"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    argv.extend((1..=n).map(|i| i.to_string()));
    argv
}

#[test]
fn all_jobs_succeed_exit_zero() {
    run(["-k", "true", ":::", "a", "b", "c"], "").ok("");
    run(["-k", "sh", "-c", "echo $0; exit 0", ":::", "a", "b"], "").ok("a\nb\n");
}

#[test]
fn exit_status_is_the_number_of_failed_jobs() {
    run(["sh", "-c", "exit $1", "sh", ":::", "0", "1", "0", "2"], "").check("", "", 2);
    run(["sh", "-c", "exit 7", ":::", "a"], "").check("", "", 1);
    run(["sh", "-c", "exit 255", ":::", "a", "b", "c"], "").check("", "", 3);
}

#[test]
fn one_hundred_failed_jobs_exit_100() {
    run(failing_jobs(100), "").check("", "", 100);
}

#[test]
fn one_hundred_and_one_failed_jobs_exit_101() {
    run(failing_jobs(101), "").check("", "", 101);
}

#[test]
fn more_than_one_hundred_failed_jobs_exit_101() {
    run(failing_jobs(150), "").check("", "", 101);
}

#[test]
fn missing_command_fails_each_job_with_one_line() {
    let line = "pmap: cannot run 'nosuchcmd-pmap-test': command not found\n";
    run(
        ["-k", "nosuchcmd-pmap-test", "{}", ":::", "a", "b", "c"],
        "",
    )
    .check("", &line.repeat(3), 3);
}

#[test]
fn missing_command_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = dir.path().join("absent");
    let cmd = cmd.to_str().unwrap();
    run([cmd, ":::", "a"], "").check(
        "",
        &format!("pmap: cannot run '{cmd}': command not found\n"),
        1,
    );
}

#[test]
fn non_executable_file_fails_with_permission_denied() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script");
    fs::write(&script, "#!/bin/sh\necho should not run\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).unwrap();
    let script = script.to_str().unwrap();
    run(["-k", script, ":::", "a", "b"], "").check(
        "",
        &format!("pmap: cannot run '{script}': permission denied\n").repeat(2),
        2,
    );
}

#[test]
fn missing_shell_fails_each_job_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let shell = dir.path().join("nosh");
    let shell = shell.to_str().unwrap();
    run_cmd(
        pmap()
            .env("PMAP_SHELL", shell)
            .args(["echo {} | cat", ":::", "a"]),
        "",
    )
    .check(
        "",
        &format!("pmap: cannot run '{shell}': command not found\n"),
        1,
    );
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let line = run(["--frobnicate", "echo", ":::", "a"], "")
        .usage_error()
        .to_owned();
    assert!(line.contains("--frobnicate"), "{line}");
}

#[test]
fn max_args_zero_is_a_usage_error() {
    run(["-n", "0", "echo", ":::", "a"], "").usage_error();
}

#[test]
fn max_args_not_a_number_is_a_usage_error() {
    run(["-n", "two", "echo", ":::", "a"], "").usage_error();
}

#[test]
fn bad_colsep_regex_is_a_usage_error() {
    // One line, like every other usage error (SPEC §7: pmap's messages are prefixed).
    let line = run(["--colsep", "(", "echo", ":::", "a"], "")
        .usage_error()
        .to_owned();
    assert!(line.contains("colsep"), "{line}");
}

#[test]
fn usage_errors_run_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let marker = marker.to_str().unwrap();
    for flags in [
        &["--frobnicate"][..],
        &["-n", "0"],
        &["--colsep", "("],
        &["-j", "x"],
        &["-d", ""],
    ] {
        let mut argv: Vec<&str> = flags.to_vec();
        argv.extend(["sh", "-c", "touch \"$0\"", marker, ":::", "a"]);
        let out = run(&argv, "");
        assert!(
            out.code == 255 && out.stdout.is_empty() && out.stderr.starts_with("pmap: "),
            "{flags:?}: {out:?}"
        );
        assert!(
            !std::path::Path::new(marker).exists(),
            "{flags:?} ran a job"
        );
    }
}

#[test]
fn killed_job_counts_as_failed() {
    run(["sh", "-c", "kill -9 $$", ":::", "a"], "").check("", "", 1);
    run(
        [
            "-k",
            "sh",
            "-c",
            "echo $0; [ $0 = k ] && kill -TERM $$; exit 0",
            ":::",
            "a",
            "k",
            "b",
        ],
        "",
    )
    .check("a\nk\nb\n", "", 1);
}

#[test]
fn output_of_failing_jobs_is_still_printed() {
    run(
        [
            "-k",
            "sh",
            "-c",
            "echo out $1; echo err $1 >&2; exit $1",
            "sh",
            ":::",
            "0",
            "3",
            "0",
        ],
        "",
    )
    .check("out 0\nout 3\nout 0\n", "err 0\nerr 3\nerr 0\n", 1);
}

#[test]
fn missing_command_messages_without_keep_order() {
    let out = run(
        ["-j4", "nosuchcmd-pmap-test", ":::", "a", "b", "c", "d", "e"],
        "",
    );
    assert_eq!(out.code, 5, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_eq!(
        out.stderr,
        "pmap: cannot run 'nosuchcmd-pmap-test': command not found\n".repeat(5),
        "{out:?}"
    );
}

#[test]
fn no_jobs_is_success() {
    run(["sh", "-c", "exit 1"], "").ok("");
}
