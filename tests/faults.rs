//! Faults a careful user meets (the faults issue): descendants that escape the job's
//! process group, signals pmap inherited as ignored, jobs pmap itself interrupted and
//! `--resume`, numbers at the edge. Hang tests carry their own time limits.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{pmap_path, processes_with, run, spawn_pmap, wait_with_timeout};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Starts `sh -c LINE` in `dir` (LINE runs pmap, as `$PMAP`), stdout piped.
fn shell(dir: &Path, line: &str) -> Child {
    Command::new("sh")
        .args(["-c", line])
        .env("PMAP", pmap_path())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh starts")
}

/// Ends every process whose command line has `marker` (the test's own escaped sleeps).
fn end_all(marker: &str) {
    let _ = Command::new("pkill").args(["-KILL", "-f", marker]).status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while processes_with(marker) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn output(child: Child) -> (String, String) {
    let out = child.wait_with_output().expect("output");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_descendant_that_escapes_the_process_group_does_not_keep_pmap_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let marker = "sleep 600.4141";
    let line = format!(
        r#""$PMAP" -k -j2 --kill-grace 0.5 sh -c 'setsid {marker} & echo "$1"' sh ::: a b"#
    );
    let clock = Instant::now();
    let mut child = shell(dir.path(), &line);
    let code = wait_with_timeout(&mut child, Duration::from_secs(20));
    let took = clock.elapsed();
    end_all(marker);
    assert_eq!(code, 0);
    assert_eq!(output(child), ("a\nb\n".into(), String::new()));
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn a_timeout_ends_pmap_within_the_grace_even_if_a_descendant_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let marker = "sleep 600.4142";
    let line = format!(
        r#""$PMAP" -j2 --timeout 1 --kill-grace 1 sh -c 'setsid {marker} & sleep 601.4142' ::: a b"#
    );
    let clock = Instant::now();
    let mut child = shell(dir.path(), &line);
    let code = wait_with_timeout(&mut child, Duration::from_secs(20));
    let took = clock.elapsed();
    end_all(marker);
    assert_eq!(code, 2, "both jobs timed out");
    assert!(
        took < Duration::from_secs(4),
        "timeout 1 + grace 1 + 1 s, took {took:?}"
    );
    assert_eq!(processes_with("sleep 601.4142"), 0);
}

#[test]
fn sigint_ends_pmap_within_the_grace_even_if_a_descendant_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let marker = "sleep 600.4143";
    let job = format!("setsid {marker} & sleep 601.4143");
    let args = [
        "-j2",
        "--kill-grace",
        "1",
        "sh",
        "-c",
        &job,
        ":::",
        "a",
        "b",
    ];
    let mut child = pmap_with_jobs_running(dir.path(), &args, "sleep 601.4143", 2);
    let sent = Instant::now();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let code = wait_with_timeout(&mut child, Duration::from_secs(20));
    let took = sent.elapsed();
    end_all(marker);
    assert_eq!(code, 130);
    assert!(
        took < Duration::from_secs(3),
        "grace 1 + 1 s, took {took:?}"
    );
}

#[test]
fn jobs_pmap_interrupted_are_not_logged_and_resume_runs_them_again() {
    let dir = tempfile::tempdir().unwrap();
    let job = r#"case $1 in slow) sleep 30.4144;; esac; echo "$1""#;
    let args = [
        "-j2", "--joblog", "log", "sh", "-c", job, "sh", ":::", "quick", "slow",
    ];
    let mut child = spawn_pmap(dir.path(), &args);
    let log = dir.path().join("log");
    let deadline = Instant::now() + Duration::from_secs(10);
    while (fs::read_to_string(&log).unwrap_or_default().lines().count() < 2
        || processes_with("sleep 30.4144") == 0)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(10)), 143);
    let rows = fs::read_to_string(&log).unwrap();
    assert_eq!(
        rows.lines().count(),
        2,
        "the header and the quick job only:\n{rows}"
    );
    assert!(rows.lines().nth(1).unwrap().ends_with(" quick"), "{rows}");

    let job = r#"echo "$1""#;
    let mut again = common::pmap();
    again.current_dir(dir.path()).args([
        "--resume", "--joblog", "log", "sh", "-c", job, "sh", ":::", "quick", "slow",
    ]);
    common::run_cmd(&mut again, "").ok("slow\n");
}

#[test]
fn a_sighup_pmap_inherited_as_ignored_stays_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let line = r#"trap '' HUP; "$PMAP" -k -j1 sh -c 'sleep 0.3; echo "$1"' sh ::: 1 2 3 4 & p=$!
sleep 0.2; kill -HUP $p; wait $p"#;
    let mut child = shell(dir.path(), line);
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(20)), 0);
    assert_eq!(output(child), ("1\n2\n3\n4\n".into(), String::new()));
}

#[test]
fn a_sigchld_inherited_as_ignored_does_not_fail_the_jobs() {
    // bash, not sh: dash's `trap '' CHLD` leaves SIGCHLD at its default.
    let line = r#"trap '' CHLD; exec "$PMAP" -k sh -c 'echo "$1"; exit $1' sh ::: 0 3"#;
    let child = Command::new("bash")
        .args(["-c", line])
        .env("PMAP", pmap_path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash starts");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        (&out.stdout[..], &out.stderr[..]),
        (&b"0\n3\n"[..], &b""[..])
    );
}

#[test]
fn huge_numbers_are_usage_errors_or_clamped_never_a_panic() {
    for (args, code) in [
        (vec!["-j", "18446744073709551615", "echo", ":::", "a"], 0),
        (vec!["-j", "1000000000", "echo", ":::", "a"], 0),
        (vec!["-j", "+18446744073709551615", "echo", ":::", "a"], 0),
        (vec!["-j", "18446744073709551615%", "echo", ":::", "a"], 0),
        (
            vec!["--timeout", "10000000000000000000", "echo", ":::", "a"],
            255,
        ),
        (vec!["--kill-grace", "99999999999", "echo", ":::", "a"], 255),
        (
            vec!["--delay", "10000000000000000000s", "echo", ":::", "a"],
            255,
        ),
    ] {
        let out = run(&args, "");
        assert_eq!(out.code, code, "{args:?}: {out:?}");
        if code == 0 {
            assert_eq!(out.stdout, b"a\n", "{args:?}: {out:?}");
            assert!(
                out.stderr.is_empty() || out.stderr.ends_with("running at most 32768\n"),
                "{args:?}: {out:?}"
            );
        } else {
            assert!(
                out.stderr.starts_with("pmap: invalid "),
                "{args:?}: {out:?}"
            );
            assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {out:?}");
        }
    }
}

/// Starts pmap with `args` in `dir` and waits until `n` processes have `marker` in their
/// command line.
fn pmap_with_jobs_running(dir: &Path, args: &[&str], marker: &str, n: usize) -> Child {
    let child = spawn_pmap(dir, args);
    common::wait_for_processes(marker, n);
    child
}

#[test]
fn sigusr1_lists_the_running_jobs_and_the_run_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["-j2", "-k", "sleep", "{}", ":::", "2.41451", "2.41452"];
    let mut child = pmap_with_jobs_running(dir.path(), &args, "sleep 2.4145", 2);
    let mut stderr = child.stderr.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let seen = std::sync::Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = std::io::Read::read(&mut stderr, &mut buf) {
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    // A job is listed once its slot has registered it, just after it starts: ask until
    // both are listed.
    let both = |text: &str| text.contains("pmap: job 1 (") && text.contains("pmap: job 2 (");
    let deadline = Instant::now() + Duration::from_secs(2);
    while !both(&seen.lock().unwrap()) && Instant::now() < deadline {
        kill(Pid::from_raw(child.id() as i32), Signal::SIGUSR1).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(20)), 0);
    reader.join().unwrap();
    let err = seen.lock().unwrap().clone();
    // The last report: both jobs, one line each, in slot order (slots race for jobs).
    let mut last: Vec<&str> = err.lines().rev().take(2).collect();
    last.sort_by_key(|line| line.get(..11).map(String::from));
    for (line, (seq, arg)) in last.iter().zip([(1, "2.41451"), (2, "2.41452")]) {
        assert!(
            line.starts_with(&format!("pmap: job {seq} (slot ")),
            "{err}"
        );
        assert!(line.contains(") running for "), "{err}");
        assert!(line.ends_with(&format!(" s: sleep {arg}")), "{err}");
    }
    assert!(err.lines().all(|l| l.starts_with("pmap: job ")), "{err}");
    assert_eq!(output(child), (String::new(), String::new()));
}

#[test]
fn a_real_time_signal_ends_the_jobs_before_pmap_exits() {
    let dir = tempfile::tempdir().unwrap();
    let marker = "sleep 60.4160";
    let args = ["-j2", "sh", "-c", marker, ":::", "a", "b"];
    let mut child = pmap_with_jobs_running(dir.path(), &args, marker, 2);
    let rtmin_plus_1 = Command::new("kill")
        .args(["-s", "RTMIN+1", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(rtmin_plus_1.success());
    // SIGRTMIN is 34 under glibc.
    assert_eq!(
        wait_with_timeout(&mut child, Duration::from_secs(20)),
        128 + 35
    );
    common::assert_none_left(marker);
}

#[test]
fn other_ending_signals_end_the_jobs_before_pmap_exits() {
    for (signal, code) in [
        (Signal::SIGUSR2, 140),
        (Signal::SIGALRM, 142),
        (Signal::SIGQUIT, 131),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let marker = format!("sleep 60.{}", 4146 + code);
        let args = ["-j2", "sh", "-c", &marker, ":::", "a", "b"];
        let mut child = pmap_with_jobs_running(dir.path(), &args, &marker, 2);
        let sent = Instant::now();
        kill(Pid::from_raw(child.id() as i32), signal).unwrap();
        assert_eq!(
            wait_with_timeout(&mut child, Duration::from_secs(20)),
            code,
            "{signal}"
        );
        assert!(
            sent.elapsed() < Duration::from_secs(4),
            "{signal}: {:?}",
            sent.elapsed()
        );
        common::assert_none_left(&marker);
    }
}

#[test]
fn a_joblog_row_means_the_output_was_delivered_even_after_kill_9() {
    // With -k, nineteen jobs finish behind one slow job: their output is held, so none of
    // them may be in the joblog when pmap is killed; --resume then runs them all again.
    let dir = tempfile::tempdir().unwrap();
    let job = r#"if [ "$1" = 1 ] && [ ! -e resumed ]; then sleep 30.4149; fi; echo "$1"; touch "done.$1""#;
    let items: Vec<String> = (1..=20).map(|i| i.to_string()).collect();
    let mut args = vec!["-k", "-j4", "--joblog", "log", "sh", "-c", job, "sh", ":::"];
    args.extend(items.iter().map(String::as_str));
    let mut child = spawn_pmap(dir.path(), &args);
    let deadline = Instant::now() + Duration::from_secs(20);
    while (2..=20).any(|i| !dir.path().join(format!("done.{i}")).exists()) {
        assert!(Instant::now() < deadline, "the quick jobs never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    end_all("sleep 30.4149");
    let log = fs::read_to_string(dir.path().join("log")).unwrap();
    assert_eq!(log.lines().count(), 1, "only the header: {log}");

    fs::write(dir.path().join("resumed"), "").unwrap();
    args.insert(0, "--resume");
    let mut again = common::pmap();
    again.current_dir(dir.path()).args(&args);
    let expected: String = (1..=20).map(|i| format!("{i}\n")).collect();
    common::run_cmd(&mut again, "").ok(expected);
}

#[test]
fn out_of_descriptors_pmap_runs_fewer_jobs_at_once_instead_of_failing_them() {
    let dir = tempfile::tempdir().unwrap();
    let line =
        r#"ulimit -n 64; exec "$PMAP" -j 100 sh -c 'sleep 0.1; echo "$1"' sh ::: $(seq 200)"#;
    let mut child = shell(dir.path(), line);
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(60)), 0);
    let (out, err) = output(child);
    let mut lines: Vec<u32> = out.lines().map(|l| l.parse().unwrap()).collect();
    lines.sort_unstable();
    assert_eq!(lines, (1..=200).collect::<Vec<_>>());
    assert_eq!(
        err,
        "pmap: cannot start another job (Too many open files (os error 24)); \
         running fewer jobs at once from now on\n"
    );
}

#[test]
fn a_reader_that_stops_reading_does_not_keep_pmap_from_ending_on_a_signal() {
    for (signals, bound) in [(1, Duration::from_secs(3)), (2, Duration::from_secs(2))] {
        let dir = tempfile::tempdir().unwrap();
        let marker = format!("sleep 60.415{signals}");
        let job = format!("head -c 5000000 /dev/zero; {marker}");
        // stdout is a pipe nobody reads: pmap fills it and blocks in write(1).
        let args = [
            "--kill-grace",
            "1",
            "-j2",
            "sh",
            "-c",
            &job,
            ":::",
            "a",
            "b",
        ];
        let mut child = pmap_with_jobs_running(dir.path(), &args, &marker, 2);
        let sent = Instant::now();
        for _ in 0..signals {
            kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
            std::thread::sleep(Duration::from_millis(50));
        }
        let code = wait_with_timeout(&mut child, Duration::from_secs(20));
        let took = sent.elapsed();
        end_all(&marker);
        assert_eq!(code, 130, "{signals} SIGINT");
        assert!(took < bound, "{signals} SIGINT: took {took:?}");
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(err, "pmap: cannot write output: nothing is reading it\n");
        assert_eq!(processes_with(&marker), 0);
    }
}

#[test]
fn out_of_processes_pmap_runs_fewer_jobs_at_once_instead_of_failing_them() {
    // RLIMIT_NPROC does not bind root: the run goes to user nobody (setpriv), with a copy of
    // pmap that nobody may run.
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user.
    if fs::metadata("/proc/self").unwrap().uid() != 0 {
        assert!(!common::under_ci(), "CI runs the tests as root");
        eprintln!("SKIPPED: the process-limit test needs root, to run pmap as nobody");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.path().join("pmap");
    fs::copy(pmap_path(), &copy).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    let line = r#"ulimit -u 12; cd /; exec "$PMAP" -j 20 sleep ::: $(yes 0.05 | head -100)"#;
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "bash",
            "-c",
            line,
        ])
        .env("PMAP", &copy)
        .stdin(Stdio::null())
        .output()
        .expect("setpriv (util-linux) runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "pmap: cannot start another job (Resource temporarily unavailable (os error 11)); \
         running fewer jobs at once from now on\n"
    );
}
