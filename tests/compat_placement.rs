//! Where and when jobs start, as GNU parallel users place them: `--wd`, `--tmpdir`,
//! `--load` and `--memfree`. The machine's load and memory are faked through files in
//! `/proc`'s formats (`PMAP_TEST_LOADAVG`, `PMAP_TEST_MEMINFO`), changed while pmap runs.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{fresh_work_dirs, pmap, pmap_path, read_all, run_cmd, wait_with_timeout};

/// Polls until `done` holds, for at most 20 s.
#[track_caller]
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn wd_runs_jobs_in_a_directory_and_finds_a_relative_program_there() {
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().canonicalize().unwrap();
    let script = dir_path.join("hello.sh");
    std::fs::write(&script, "#!/bin/sh\necho \"hello $1 from $(pwd)\"\n").unwrap();
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&script, mode).unwrap();
    let wd = dir_path.to_str().unwrap();
    let out = run_cmd(
        pmap().args(["-k", "--wd", wd, "./hello.sh", ":::", "a", "b"]),
        "",
    );
    out.ok(format!("hello a from {wd}\nhello b from {wd}\n"));
    // Shell lines too.
    run_cmd(pmap().args(["--wd", wd, "pwd; : {}", ":::", "x"]), "").ok(format!("{wd}\n"));
    let out = run_cmd(
        pmap().args(["--wd", "/surely/not/here", "pwd", ":::", "x"]),
        "",
    );
    assert_eq!(
        out.usage_error(),
        "pmap: --wd '/surely/not/here': no such directory"
    );
}

#[test]
fn wd_dots_gives_each_job_a_fresh_directory_removed_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let tmp_path = tmp.path().canonicalize().unwrap();
    let out = run_cmd(
        pmap().env("TMPDIR", &tmp_path).args([
            "-k",
            "--wd",
            "...",
            "touch f; ls; pwd",
            ":::",
            "1",
            "2",
        ]),
        "",
    );
    for dir in fresh_work_dirs(&out) {
        assert!(
            Path::new(&dir).starts_with(&tmp_path) && dir.contains("pmap-wd-"),
            "{dir}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(&tmp_path).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn tmpdir_holds_pmaps_temporary_files_and_is_the_jobs_tmpdir() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    run_cmd(
        pmap().args(["--tmpdir", dir, "echo $TMPDIR {}", ":::", "x"]),
        "",
    )
    .ok(format!("{dir} x\n"));
    // --cat's block files go there.
    run_cmd(
        pmap().args(["--tmpdir", dir, "--pipe", "--cat", "dirname {}"]),
        "a\n",
    )
    .ok(format!("{dir}\n"));
    let out = run_cmd(
        pmap().args(["--tmpdir", "/surely/not/here", "echo", ":::", "x"]),
        "",
    );
    assert_eq!(
        out.usage_error(),
        "pmap: --tmpdir '/surely/not/here': no such directory"
    );
}

/// Starts pmap with `args` and `var` pointing at `file`.
fn spawn_with(var: &str, file: &Path, dir: &Path, args: &[&str]) -> std::process::Child {
    Command::new(pmap_path())
        .env(var, file)
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn load_holds_jobs_back_while_the_load_is_above_max() {
    let tmp = tempfile::tempdir().unwrap();
    let loadavg = tmp.path().join("loadavg");
    std::fs::write(&loadavg, "7.50 3.00 1.00 2/300 12345\n").unwrap();
    let marker = tmp.path().join("ran");
    let mut child = spawn_with(
        "PMAP_TEST_LOADAVG",
        &loadavg,
        tmp.path(),
        &["--load", "2", "touch ran; echo {}", ":::", "job"],
    );
    std::thread::sleep(Duration::from_millis(700));
    assert!(!marker.exists(), "a job started while the load was 7.5");
    std::fs::write(&loadavg, "1.50 3.00 1.00 2/300 12345\n").unwrap();
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(20)), 0);
    assert_eq!(read_all(child.stdout.take().unwrap()), "job\n");
    assert!(marker.exists());
    let out = run_cmd(pmap().args(["--load", "lots", "echo", ":::", "x"]), "");
    assert_eq!(
        out.usage_error(),
        "pmap: --load 'lots': expected a load average such as 2, 1.5 or 80%"
    );
}

fn meminfo(available_kib: u64) -> String {
    format!("MemTotal:       16000000 kB\nMemFree:  1 kB\nMemAvailable:   {available_kib} kB\n")
}

#[test]
fn memfree_waits_for_memory_then_ends_the_youngest_job_when_it_runs_short() {
    let tmp = tempfile::tempdir().unwrap();
    let info = tmp.path().join("meminfo");
    let log = tmp.path().join("log");
    // 500 MB available, 1 GiB needed: nothing starts.
    std::fs::write(&info, meminfo(500_000)).unwrap();
    let mut child = spawn_with(
        "PMAP_TEST_MEMINFO",
        &info,
        tmp.path(),
        &[
            "-k",
            "-j2",
            "--delay",
            "0.3",
            "--memfree",
            "1G",
            "--joblog",
            "jobs.log",
            "echo {} >> log; sleep 2; echo done {}",
            ":::",
            "a",
            "b",
        ],
    );
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(read(&log), "", "a job started without the memory");
    std::fs::write(&info, meminfo(4_000_000)).unwrap();
    wait_until("both jobs to start", || read(&log).lines().count() == 2);
    // Which slot wakes first to the memory is not fixed: the second to start is the
    // younger.
    let started = read(&log);
    let younger = started.lines().nth(1).unwrap().to_string();
    // Below half of 1 GiB: the younger job is ended, and waits for memory to run again.
    std::fs::write(&info, meminfo(300_000)).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    std::fs::write(&info, meminfo(4_000_000)).unwrap();
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(30)), 0);
    assert_eq!(read_all(child.stdout.take().unwrap()), "done a\ndone b\n");
    let seq = if younger == "a" { 1 } else { 2 };
    assert_eq!(
        read_all(child.stderr.take().unwrap()),
        format!("pmap: job {seq} was ended to free memory (--memfree); it will run again\n")
    );
    assert_eq!(
        read(&log),
        format!("{started}{younger}\n"),
        "the younger job ran again, the older was left alone"
    );
    // The joblog has one row per job: the ended attempt is not one.
    assert_eq!(read(&tmp.path().join("jobs.log")).lines().count(), 3);
    let out = run_cmd(pmap().args(["--memfree", "100P", "echo", ":::", "x"]), "");
    assert!(
        out.usage_error()
            .starts_with("pmap: --memfree asks for 107374182400 MiB free, more than"),
        "{out:?}"
    );
}

#[test]
fn the_process_pool_refuses_what_it_cannot_honour() {
    for args in [&["--wd", "..."][..], &["--memfree", "1M"], &["--load", "1"]] {
        let mut all = vec!["--pool", "process"];
        all.extend(args);
        all.extend(["cat", ":::", "x"]);
        run_cmd(pmap().args(&all), "").usage_error();
    }
}
