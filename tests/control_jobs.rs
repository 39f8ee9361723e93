//! SPEC §6, job control: `--timeout` and `--kill-grace`, `--retries`, `--delay`, `--halt`,
//! `--joblog` with `--resume` and `--resume-failed`, bad control flags, and a joblog that
//! survives `kill -9`.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{assert_none_left, pmap, pmap_path, run, run_cmd, wait_with_timeout};

const HEADER: &str = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n";

// ---- helpers ----

/// Runs pmap in `dir` with `args` and an empty stdin.
fn run_in(dir: &Path, args: &[&str]) -> common::Out {
    run_cmd(pmap().current_dir(dir).args(args), "")
}

/// The lines of a file (empty if it does not exist).
fn lines_of(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn sorted_lines_of(path: &Path) -> Vec<String> {
    let mut l = lines_of(path);
    l.sort();
    l
}

/// One joblog row, split.
#[derive(Debug)]
struct Row {
    seq: u64,
    host: String,
    start: f64,
    runtime: f64,
    send: String,
    receive: String,
    exitval: i64,
    signal: i64,
    command: String,
}

/// Parses a joblog: checks the header and that every row is whole (9 fields, newline).
#[track_caller]
fn read_joblog(path: &Path) -> Vec<Row> {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.starts_with(HEADER), "bad joblog header:\n{text}");
    assert!(
        text.ends_with('\n'),
        "joblog does not end in a newline:\n{text}"
    );
    text[HEADER.len()..]
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 9, "not a whole joblog row: {line:?}");
            Row {
                seq: f[0].parse().unwrap_or_else(|_| panic!("Seq: {line:?}")),
                host: f[1].to_owned(),
                start: f[2]
                    .parse()
                    .unwrap_or_else(|_| panic!("Starttime: {line:?}")),
                runtime: f[3]
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("JobRuntime: {line:?}")),
                send: f[4].to_owned(),
                receive: f[5].to_owned(),
                exitval: f[6].parse().unwrap_or_else(|_| panic!("Exitval: {line:?}")),
                signal: f[7].parse().unwrap_or_else(|_| panic!("Signal: {line:?}")),
                command: f[8].to_owned(),
            }
        })
        .collect()
}

fn seqs(rows: &[Row]) -> Vec<u64> {
    let mut s: Vec<u64> = rows.iter().map(|r| r.seq).collect();
    s.sort();
    s
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

// ---- --timeout and --kill-grace ----

#[test]
fn timeout_fails_the_job_and_ends_its_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let started = Instant::now();
    let out = run_in(
        dir.path(),
        &[
            "--timeout",
            "0.5",
            "--joblog",
            log.to_str().unwrap(),
            "sh",
            "-c",
            "echo hi; sleep 31.4159 & sleep 31.4159; wait",
            "sh",
            ":::",
            "x",
        ],
    );
    let took = started.elapsed();
    out.check(
        "hi\n",
        "pmap: job 1 timed out after 0.5s and was ended (--timeout): sh -c 'echo hi; sleep \
         31.4159 & sleep 31.4159; wait' sh x\n",
        1,
    );
    assert!(
        took >= Duration::from_millis(450),
        "ended too early: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_none_left("sleep 31.4159");
    let rows = read_joblog(&log);
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].exitval, rows[0].signal), (-1, 15), "{rows:?}");
    assert!((0.45..5.0).contains(&rows[0].runtime), "{rows:?}");
}

#[test]
fn timeout_accepts_every_duration_form() {
    for timeout in ["500ms", "0.5s", "0.5"] {
        let started = Instant::now();
        let out = run(["--timeout", timeout, "sleep", ":::", "31.4160"], "");
        let notice = "pmap: job 1 timed out after 0.5s and was ended (--timeout): sleep 31.4160\n";
        out.check("", notice, 1);
        let took = started.elapsed();
        assert!(
            (Duration::from_millis(450)..Duration::from_secs(5)).contains(&took),
            "--timeout {timeout} took {took:?}"
        );
    }
    assert_none_left("sleep 31.4160");
}

#[test]
fn timeout_leaves_quick_jobs_alone() {
    run(
        [
            "-k",
            "--timeout",
            "5",
            "sh",
            "-c",
            "sleep 0.1; echo $1",
            "sh",
            ":::",
            "a",
            "b",
        ],
        "",
    )
    .ok("a\nb\n");
}

#[test]
fn kill_grace_sigkills_a_job_that_ignores_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let started = Instant::now();
    let out = run_in(
        dir.path(),
        &[
            "--timeout",
            "0.3",
            "--kill-grace",
            "1",
            "--joblog",
            log.to_str().unwrap(),
            "sh",
            "-c",
            "trap '' TERM; echo ready; sleep 32.1718 & wait",
            "sh",
            ":::",
            "x",
        ],
    );
    let took = started.elapsed();
    out.check(
        "ready\n",
        "pmap: job 1 timed out after 0.3s and was ended (--timeout): sh -c \"trap '' TERM; \
         echo ready; sleep 32.1718 & wait\" sh x\n",
        1,
    );
    assert!(
        took >= Duration::from_millis(1200),
        "SIGKILL came before the grace was over: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_none_left("sleep 32.1718");
    let rows = read_joblog(&log);
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].exitval, rows[0].signal), (-1, 9), "{rows:?}");
}

#[test]
fn kill_grace_defaults_to_two_seconds() {
    let started = Instant::now();
    let out = run(
        [
            "--timeout",
            "0.2",
            "sh",
            "-c",
            "trap '' TERM; sleep 32.2718 & wait",
            ":::",
            "x",
        ],
        "",
    );
    let took = started.elapsed();
    out.check(
        "",
        "pmap: job 1 timed out after 0.2s and was ended (--timeout): sh -c \"trap '' TERM; \
         sleep 32.2718 & wait\" x\n",
        1,
    );
    assert!(
        (Duration::from_millis(2100)..Duration::from_secs(6)).contains(&took),
        "took {took:?}"
    );
    assert_none_left("sleep 32.2718");
}

// ---- --retries ----

#[test]
fn retries_runs_a_failing_job_three_times_and_prints_the_last_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(
        dir.path(),
        &[
            "--retries",
            "3",
            "sh",
            "-c",
            "echo x >> attempts; n=$(wc -l < attempts); echo out $n; echo err $n >&2; exit 1",
            ":::",
            "a",
        ],
    );
    out.check("out 3\n", "err 3\n", 1);
    assert_eq!(lines_of(&dir.path().join("attempts")).len(), 3);
}

#[test]
fn retries_stops_at_the_first_success() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(
        dir.path(),
        &[
            "--retries",
            "5",
            "--json",
            "sh",
            "-c",
            "echo x >> attempts; n=$(wc -l < attempts); echo out $n; [ $n -ge 2 ]",
            ":::",
            "a",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stderr, "");
    let rec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rec["attempts"], 2, "{rec}");
    assert_eq!(rec["stdout"], "out 2\n", "{rec}");
    assert_eq!(rec["exit_code"], 0, "{rec}");
    assert_eq!(lines_of(&dir.path().join("attempts")).len(), 2);
}

#[test]
fn retries_are_per_job() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(
        dir.path(),
        &[
            "-k",
            "--retries",
            "2",
            "sh",
            "-c",
            "echo $1 >> attempts; echo $1; [ $1 != bad ]",
            "sh",
            ":::",
            "ok",
            "bad",
        ],
    );
    out.check("ok\nbad\n", "", 1);
    assert_eq!(
        sorted_lines_of(&dir.path().join("attempts")),
        ["bad", "bad", "ok"]
    );
}

// ---- --delay ----

#[test]
fn delay_spaces_job_starts() {
    let dir = tempfile::tempdir().unwrap();
    for delay in ["0.2", "200ms"] {
        // pmap's own record of when it started each job: the joblog's Starttime.
        let log = dir.path().join(format!("log-{delay}"));
        let started = Instant::now();
        let out = run_in(
            dir.path(),
            &[
                "--delay",
                delay,
                "-j3",
                "--joblog",
                log.to_str().unwrap(),
                "true",
                ":::",
                "1",
                "2",
                "3",
            ],
        );
        let took = started.elapsed();
        out.ok("");
        assert!(
            took >= Duration::from_millis(400),
            "--delay {delay}: three jobs took only {took:?}"
        );
        assert!(
            took < Duration::from_secs(5),
            "--delay {delay}: took {took:?}"
        );
        let mut times: Vec<f64> = read_joblog(&log).iter().map(|r| r.start).collect();
        times.sort_by(f64::total_cmp);
        assert_eq!(times.len(), 3);
        for w in times.windows(2) {
            // Starttime has millisecond precision.
            assert!(
                w[1] - w[0] >= 0.198,
                "--delay {delay}: jobs started {:.3} s apart",
                w[1] - w[0]
            );
        }
    }
}

// ---- --halt ----
//
// Each scenario runs a few times: which jobs run must not depend on timing.

const RUNS: usize = 3;

/// A job that records its item in `ran`, then acts on it: `slow*` sleeps for the second
/// value, `late*` waits 0.3 s (so that a slow job started with it has surely recorded
/// itself) and `late-f*` then fails, `f*` fails at once, the rest succeed at once.
const HALT_JOB: &str = "echo $1 >> ran; case $1 in
    slow*) sleep $2;;
    late-f*) sleep 0.3; exit 1;;
    late*) sleep 0.3;;
    f*) exit 1;;
  esac";

fn halt_run(dir: &Path, halt: &str, jobs: &str, items: &[&str], sleep: &str) -> common::Out {
    let _ = fs::remove_file(dir.join("ran"));
    let mut args = vec![
        "--halt", halt, "-j", jobs, "sh", "-c", HALT_JOB, "sh", ":::",
    ];
    args.extend_from_slice(items);
    args.extend([":::", sleep]);
    run_in(dir, &args)
}

#[test]
fn halt_now_fail_1_runs_no_more_jobs() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..RUNS {
        let out = halt_run(
            dir.path(),
            "now,fail=1",
            "1",
            &["ok1", "ok2", "f3", "ok4", "ok5", "ok6"],
            "0",
        );
        out.check(
            "",
            "pmap: --halt: 1 failed, 2 succeeded; ending the running jobs\n",
            1,
        );
        assert_eq!(lines_of(&dir.path().join("ran")), ["ok1", "ok2", "f3"]);
    }
}

#[test]
fn halt_now_fail_1_after_a_failure_with_much_output_runs_no_more_jobs() {
    // The failing job's output takes the collector a moment to print; no job may start
    // meanwhile.
    let dir = tempfile::tempdir().unwrap();
    let job = "echo $1 >> ran; case $1 in f*) head -c 4000000 /dev/zero; exit 1;; esac";
    for _ in 0..RUNS {
        let _ = fs::remove_file(dir.path().join("ran"));
        let out = run_in(
            dir.path(),
            &[
                "--halt",
                "now,fail=1",
                "-j1",
                "sh",
                "-c",
                job,
                "sh",
                ":::",
                "ok1",
                "f2",
                "ok3",
                "ok4",
                "ok5",
            ],
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert_eq!(
            out.stderr,
            "pmap: --halt: 1 failed, 1 succeeded; ending the running jobs\n"
        );
        assert!(out.stdout.len() == 4_000_000 && out.stdout.iter().all(|&b| b == 0));
        assert_eq!(lines_of(&dir.path().join("ran")), ["ok1", "f2"]);
    }
}

#[test]
fn halt_now_fail_1_ends_running_jobs() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..RUNS {
        let started = Instant::now();
        let out = halt_run(
            dir.path(),
            "now,fail=1",
            "2",
            &["slow", "late-f", "ok1", "ok2", "ok3"],
            "33.3141",
        );
        let took = started.elapsed();
        out.check(
            "",
            "pmap: --halt: 1 failed, 0 succeeded; ending the running jobs\n",
            1,
        );
        assert!(took < Duration::from_secs(5), "took {took:?}");
        assert_eq!(sorted_lines_of(&dir.path().join("ran")), ["late-f", "slow"]);
        assert_none_left("sleep 33.3141");
    }
}

#[test]
fn halt_soon_fail_1_lets_running_jobs_finish() {
    let dir = tempfile::tempdir().unwrap();
    let job = "echo $1 >> ran; case $1 in f) exit 1;; slow) sleep 0.5; echo slow done;; esac";
    for _ in 0..RUNS {
        let _ = fs::remove_file(dir.path().join("ran"));
        let out = run_in(
            dir.path(),
            &[
                "--halt",
                "soon,fail=1",
                "-j2",
                "sh",
                "-c",
                job,
                "sh",
                ":::",
                "slow",
                "f",
                "ok1",
                "ok2",
                "ok3",
            ],
        );
        out.check(
            "slow done\n",
            "pmap: --halt: 1 failed, 0 succeeded; starting no more jobs, waiting for the running ones\n",
            1,
        );
        assert_eq!(sorted_lines_of(&dir.path().join("ran")), ["f", "slow"]);
    }
}

#[test]
fn halt_now_success_1_ends_the_others() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..RUNS {
        let started = Instant::now();
        let out = halt_run(
            dir.path(),
            "now,success=1",
            "2",
            &["slow", "late", "ok2", "ok3"],
            "33.4141",
        );
        let took = started.elapsed();
        out.check(
            "",
            "pmap: --halt: 0 failed, 1 succeeded; ending the running jobs\n",
            0,
        );
        assert!(took < Duration::from_secs(5), "took {took:?}");
        assert_eq!(sorted_lines_of(&dir.path().join("ran")), ["late", "slow"]);
        assert_none_left("sleep 33.4141");
    }
}

#[test]
fn halt_soon_done_2_runs_two_jobs() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..RUNS {
        let out = halt_run(
            dir.path(),
            "soon,done=2",
            "1",
            &["a", "fb", "c", "d", "e"],
            "0",
        );
        out.check(
            "",
            "pmap: --halt: 1 failed, 1 succeeded; starting no more jobs, waiting for the running ones\n",
            1,
        );
        assert_eq!(lines_of(&dir.path().join("ran")), ["a", "fb"]);
    }
}

#[test]
fn halt_now_fail_percent() {
    // Four jobs; after the first two fail, 50% have failed.
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..RUNS {
        let out = halt_run(
            dir.path(),
            "now,fail=50%",
            "1",
            &["f1", "f2", "ok3", "ok4"],
            "0",
        );
        out.check(
            "",
            "pmap: --halt: 2 failed, 0 succeeded; ending the running jobs\n",
            2,
        );
        assert_eq!(lines_of(&dir.path().join("ran")), ["f1", "f2"]);
    }
}

#[test]
fn halt_never_runs_everything() {
    let dir = tempfile::tempdir().unwrap();
    let out = halt_run(dir.path(), "never", "1", &["f1", "f2", "ok3"], "0");
    out.check("", "", 2);
    assert_eq!(lines_of(&dir.path().join("ran")), ["f1", "f2", "ok3"]);
}

// ---- --joblog ----

#[test]
fn joblog_has_the_header_and_one_exact_row_per_job() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let before = now_secs();
    let script =
        "case $1 in ok) printf hello;; bad) echo err >&2; exit 3;; kill) kill -9 $$;; esac";
    let out = run_in(
        dir.path(),
        &[
            "-k",
            "--joblog",
            log.to_str().unwrap(),
            "sh",
            "-c",
            script,
            "sh",
            ":::",
            "ok",
            "bad",
            "kill",
        ],
    );
    let after = now_secs();
    out.check("hello", "err\n", 2);
    let text = fs::read_to_string(&log).unwrap();
    assert!(text.starts_with(HEADER), "{text}");
    let mut rows = read_joblog(&log);
    rows.sort_by_key(|r| r.seq);
    assert_eq!(rows.len(), 3, "{text}");
    let expected = [("ok", 0, 0), ("bad", 3, 0), ("kill", 0, 9)];
    for (i, (row, (item, exitval, signal))) in rows.iter().zip(expected).enumerate() {
        assert_eq!(row.seq, i as u64 + 1, "{text}");
        assert_eq!(row.host, ":", "{text}");
        assert!(
            row.start >= before - 1.0 && row.start <= after + 1.0,
            "Starttime {} is not now: {text}",
            row.start
        );
        assert!((0.0..5.0).contains(&row.runtime), "{text}");
        assert_eq!(row.send, "0", "{text}");
        assert!(row.receive.parse::<u64>().is_ok(), "{text}");
        assert_eq!(
            (row.exitval, row.signal),
            (exitval, signal),
            "{item}: {text}"
        );
        assert_eq!(row.command, format!("sh -c '{script}' sh {item}"), "{text}");
    }
}

#[test]
fn joblog_rows_are_written_as_jobs_finish() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let mut child = StdCommand::new(pmap_path())
        .args([
            "--joblog",
            log.to_str().unwrap(),
            "-j2",
            "sleep",
            ":::",
            "0",
            "2",
        ])
        .env_remove("PMAP_SHELL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let early = fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(10)), 0);
    assert!(
        early.starts_with(HEADER) && early.lines().count() == 2,
        "the first job's row was not in the log while the second ran:\n{early}"
    );
    assert!(
        early.lines().nth(1).unwrap().ends_with("\tsleep 0"),
        "{early}"
    );
    assert_eq!(seqs(&read_joblog(&log)), [1, 2]);
}

#[test]
fn joblog_is_truncated_by_a_new_run() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    fs::write(&log, "old stuff\n").unwrap();
    run_in(dir.path(), &["--joblog", "log", "true", ":::", "a"]).ok("");
    let rows = read_joblog(&log);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].command, "true a");
}

const RESUME_JOB: &str = "echo $1 >> ran; echo $1; [ $1 != b ]";

fn resume_run(dir: &Path, extra: &[&str], items: &[&str]) -> common::Out {
    let _ = fs::remove_file(dir.join("ran"));
    let mut args = vec!["-k", "-j1", "--joblog", "log"];
    args.extend_from_slice(extra);
    args.extend(["sh", "-c", RESUME_JOB, "sh", ":::"]);
    args.extend_from_slice(items);
    run_in(dir, &args)
}

#[test]
fn resume_skips_logged_jobs_and_appends() {
    let dir = tempfile::tempdir().unwrap();
    resume_run(dir.path(), &[], &["a", "b", "c"]).check("a\nb\nc\n", "", 1);
    let out = resume_run(dir.path(), &["--resume"], &["a", "b", "c", "d", "e"]);
    out.check("d\ne\n", "", 0);
    assert_eq!(lines_of(&dir.path().join("ran")), ["d", "e"]);
    let text = fs::read_to_string(dir.path().join("log")).unwrap();
    assert_eq!(text.matches("Seq\t").count(), 1, "header repeated:\n{text}");
    let rows = read_joblog(&dir.path().join("log"));
    let got: Vec<(u64, i64)> = rows.iter().map(|r| (r.seq, r.exitval)).collect();
    assert_eq!(got, [(1, 0), (2, 1), (3, 0), (4, 0), (5, 0)], "{text}");

    // Nothing left to do.
    let out = resume_run(dir.path(), &["--resume"], &["a", "b", "c", "d", "e"]);
    out.ok("");
    assert!(lines_of(&dir.path().join("ran")).is_empty());
    assert_eq!(read_joblog(&dir.path().join("log")).len(), 5);
}

#[test]
fn resume_failed_reruns_only_failures_and_appends() {
    let dir = tempfile::tempdir().unwrap();
    resume_run(dir.path(), &[], &["a", "b", "c"]).check("a\nb\nc\n", "", 1);
    let out = resume_run(dir.path(), &["--resume-failed"], &["a", "b", "c", "d"]);
    out.check("b\nd\n", "", 1);
    assert_eq!(lines_of(&dir.path().join("ran")), ["b", "d"]);
    let rows = read_joblog(&dir.path().join("log"));
    let got: Vec<(u64, i64)> = rows.iter().map(|r| (r.seq, r.exitval)).collect();
    assert_eq!(got, [(1, 0), (2, 1), (3, 0), (2, 1), (4, 0)]);
}

#[test]
fn resume_with_a_missing_log_runs_everything() {
    let dir = tempfile::tempdir().unwrap();
    let out = resume_run(dir.path(), &["--resume"], &["a", "c"]);
    out.ok("a\nc\n");
    assert_eq!(seqs(&read_joblog(&dir.path().join("log"))), [1, 2]);
}

#[test]
fn resume_needs_a_joblog() {
    let dir = tempfile::tempdir().unwrap();
    for flag in ["--resume", "--resume-failed"] {
        let out = run_in(dir.path(), &[flag, "sh", "-c", "echo x >> ran", ":::", "a"]);
        assert!(out.usage_error().contains("--joblog"), "{out:?}");
        assert!(!dir.path().join("ran").exists());
    }
}

// ---- bad control flags ----

#[test]
fn bad_inputs_are_usage_errors_and_run_nothing() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("notalog"), "hello\nworld\n").unwrap();
    let cases: &[&[&str]] = &[
        &["-a", "/nonexistent-dir/items"],
        &["--joblog", "/nonexistent-dir/x"],
        &["--joblog", "notalog", "--resume"],
        &["--joblog", "notalog", "--resume-failed"],
        &["--timeout", "5x"],
        &["--timeout", "0"],
        &["--kill-grace", "soon"],
        &["--delay", "abc"],
        &["--halt", "later,fail=1"],
        &["--halt", "now,fail=0"],
        &["--halt", "now,fail=150%"],
        &["--halt", "now"],
        &["--retries", "-1"],
        &["--retries", "x"],
    ];
    for case in cases {
        let mut args = case.to_vec();
        args.extend(["sh", "-c", "echo x >> ran", ":::", "a"]);
        let out = run_in(dir.path(), &args);
        let line = out.usage_error().to_owned();
        assert!(
            !dir.path().join("ran").exists(),
            "{case:?} ran a job ({line})"
        );
    }
    // A log that is not a joblog is left alone.
    assert_eq!(
        fs::read_to_string(dir.path().join("notalog")).unwrap(),
        "hello\nworld\n"
    );
}

#[test]
fn bad_input_messages_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let msg = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["true", ":::", "a"]);
        run_in(dir.path(), &a).usage_error().to_owned()
    };
    assert!(msg(&["--timeout", "5x"]).contains("5x"));
    assert!(msg(&["--delay", "abc"]).contains("abc"));
    assert!(msg(&["--halt", "later,fail=1"]).contains("later,fail=1"));
    assert!(msg(&["--joblog", "/nonexistent-dir/x"]).contains("/nonexistent-dir/x"));
    assert!(msg(&["-a", "/nonexistent-dir/items"]).contains("/nonexistent-dir/items"));
}

// ---- crash safety ----

#[test]
fn joblog_survives_kill_9_and_resume_completes_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let items: Vec<String> = (1..=40).map(|i| i.to_string()).collect();
    let mut args = vec![
        "--joblog".to_owned(),
        "log".to_owned(),
        "-j2".to_owned(),
        "sh".to_owned(),
        "-c".to_owned(),
        "echo $1 >> ran1; sleep 0.05".to_owned(),
        "sh".to_owned(),
        ":::".to_owned(),
    ];
    args.extend(items.iter().cloned());
    let mut child = StdCommand::new(pmap_path())
        .args(&args)
        .current_dir(dir.path())
        .env_remove("PMAP_SHELL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for some rows, then kill -9 mid-run.
    let deadline = Instant::now() + Duration::from_secs(10);
    while lines_of(&log).len() < 8 {
        assert!(Instant::now() < deadline, "no joblog rows appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Let the orphaned jobs of the killed run finish.
    std::thread::sleep(Duration::from_millis(300));

    let before = read_joblog(&log);
    let logged: BTreeSet<u64> = before.iter().map(|r| r.seq).collect();
    assert_eq!(logged.len(), before.len(), "a job was logged twice");
    assert!(
        !logged.is_empty() && logged.len() < 40,
        "the run was not cut short: {} rows",
        logged.len()
    );

    let mut args2 = vec![
        "--joblog",
        "log",
        "--resume",
        "-j2",
        "sh",
        "-c",
        "echo $1 >> ran2",
        "sh",
        ":::",
    ];
    args2.extend(items.iter().map(String::as_str));
    run_in(dir.path(), &args2).ok("");

    let ran2: Vec<u64> = lines_of(&dir.path().join("ran2"))
        .iter()
        .map(|l| l.parse().unwrap())
        .collect();
    let ran2_set: BTreeSet<u64> = ran2.iter().copied().collect();
    assert_eq!(
        ran2.len(),
        ran2_set.len(),
        "a job ran twice in the resumed run"
    );
    let again: Vec<_> = logged.intersection(&ran2_set).collect();
    assert!(again.is_empty(), "logged jobs ran again: {again:?}");
    let union: BTreeSet<u64> = logged.union(&ran2_set).copied().collect();
    assert_eq!(union, (1..=40).collect(), "some jobs never ran");

    let after = read_joblog(&log);
    assert_eq!(
        after.len(),
        40,
        "the resumed log does not hold every job once"
    );
    assert_eq!(seqs(&after), (1..=40).collect::<Vec<u64>>());
    let text = fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("Seq\t").count(), 1, "header repeated");
}
