//! SPEC §3, how a job's process starts (src/exec/spawn.rs, src/signals.rs): the
//! signals it starts with, and the `$PATH` search for a program named by a template.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{pmap, run_cmd};

/// `pmap` with `PATH` set to `dirs`, then the system's directories.
fn pmap_with_path(dirs: &[&Path]) -> assert_cmd::Command {
    let mut path: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    path.push("/usr/local/bin:/usr/bin:/bin".into());
    let mut cmd = pmap();
    cmd.env("PATH", path.join(":"));
    cmd
}

fn script(dir: &Path, name: &str, body: &str, mode: u32) {
    let file = dir.join(name);
    fs::write(&file, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn jobs_start_with_no_blocked_signals_and_default_pipe_int_hup_term() {
    // pmap ignores SIGPIPE and handles INT, HUP and TERM; its jobs get the defaults (bits
    // 1, 2, 13 and 15 of SigIgn), and no signal blocked, whatever pmap's threads block.
    let check = r#": {}
ign=$(awk '/^SigIgn/ {print $2}' /proc/$$/status)
blk=$(awk '/^SigBlk/ {print $2}' /proc/$$/status)
echo "ignored $(( 0x$ign & 0x5003 )) blocked $(( 0x$blk ))""#;
    let out = run_cmd(pmap().args(["-j2", check, ":::", "1", "2", "3"]), "");
    out.ok(b"ignored 0 blocked 0\n".repeat(3));
}

#[test]
fn signals_pmap_inherited_as_ignored_stay_ignored_for_its_jobs() {
    // As under xargs: `trap '' …` then `exec pmap` hands pmap INT, HUP and PIPE ignored
    // (SIGPIPE too, though Rust's runtime ignores it before main either way); the jobs
    // get them ignored (bits 1, 2 and 13 of SigIgn), TERM still at its default.
    let check = r#"awk '/^SigIgn/ {print $2}' /proc/$$/status"#;
    let line = format!(
        r#"trap '' INT HUP PIPE; exec '{}' -j2 sh -c "$1" sh ::: 1 2"#,
        common::pmap_path()
    );
    let ignored = |out: &[u8]| -> Vec<u64> {
        String::from_utf8_lossy(out)
            .lines()
            .map(|l| u64::from_str_radix(l.trim(), 16).unwrap() & 0x5003)
            .collect()
    };
    let mut sh = assert_cmd::Command::new("sh");
    let out = run_cmd(sh.args(["-c", &line, "sh", check]), "");
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:?}");
    assert_eq!(ignored(&out.stdout), [0x1003, 0x1003], "{out:?}");
}

#[test]
fn a_job_writing_to_a_closed_pipe_dies_of_sigpipe() {
    // `yes | head -1` ends only because `yes` gets SIGPIPE; ignored, it would spin on
    // EPIPE errors instead (coreutils' yes then exits 1 with a message).
    let out = run_cmd(pmap().args(["sh", "-c", "yes | head -1", ":::", "1"]), "");
    out.ok(b"y\n");
}

#[test]
fn a_program_named_by_the_item_is_looked_up_in_path_for_each_job() {
    let dir = tempfile::tempdir().unwrap();
    script(dir.path(), "pmap-hello", "echo hello \"$@\"", 0o755);
    let out = run_cmd(
        pmap_with_path(&[dir.path()]).args(["-k", "{}", "x", ":::", "pmap-hello", "echo"]),
        "",
    );
    out.ok(b"hello x\nx\n");
}

#[test]
fn path_search_skips_a_file_that_may_not_be_run_for_a_later_one_that_may() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    script(first.path(), "pmap-twice", "echo first", 0o644);
    script(second.path(), "pmap-twice", "echo second", 0o755);
    for command in [&["pmap-twice"][..], &["{}"]] {
        eprintln!("command: {command:?}"); // shown if the check below fails
        let out = run_cmd(
            pmap_with_path(&[first.path(), second.path()])
                .args(command)
                .args([":::", "pmap-twice"]),
            "",
        );
        out.ok(b"second\n");
    }
}

#[test]
fn path_search_finding_only_files_that_may_not_be_run_is_permission_denied() {
    let dir = tempfile::tempdir().unwrap();
    script(dir.path(), "pmap-denied", "echo ran", 0o644);
    let out = run_cmd(
        pmap_with_path(&[dir.path()]).args(["{}", ":::", "pmap-denied"]),
        "",
    );
    out.check(
        b"",
        "pmap: cannot run 'pmap-denied': permission denied\n",
        1,
    );
}

#[test]
fn a_program_named_by_the_item_and_found_nowhere_is_not_found() {
    let out = run_cmd(pmap().args(["-k", "{}", ":::", "pmap-nowhere", "true"]), "");
    out.check(
        b"",
        "pmap: cannot run 'pmap-nowhere': command not found\n",
        1,
    );
}

#[test]
fn a_directory_is_not_a_program() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let out = run_cmd(pmap().args([path, ":::", "1"]), "");
    out.check(
        b"",
        &format!("pmap: cannot run '{path}': permission denied\n"),
        1,
    );
}

#[test]
fn many_short_jobs_all_run_and_are_all_reaped() {
    // The spawn path's fast exits: every job is started, waited for and counted once.
    let items: String = (1..=2000).map(|i| format!("{i}\n")).collect();
    let out = run_cmd(
        pmap().args(["-j4", "sh", "-c", "exit $(( $1 % 7 == 0 ))", "sh"]),
        items,
    );
    // 285 multiples of 7 up to 2000 fail: more than 100, so exit 101.
    out.check("", "", 101);
}

#[test]
fn process_pool_workers_start_with_no_blocked_signals() {
    // The worker threads block every signal; what they start through the standard library
    // must not inherit that.
    let worker =
        r#"while read -r x; do echo "$x $(awk '/^SigBlk/ {print $2}' /proc/$$/status)"; done"#;
    let out = run_cmd(
        pmap().args(["--pool", "process", "-k", "-j2", worker, ":::", "a", "b"]),
        "",
    );
    out.ok(b"a 0000000000000000\nb 0000000000000000\n");
}
