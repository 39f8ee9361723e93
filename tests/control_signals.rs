//! SPEC §6, signals: SIGINT and SIGTERM end the running jobs' process groups and pmap exits
//! 130 or 143, printing what was already captured; a job ignoring SIGTERM is killed after
//! the grace; a second SIGINT kills at once; SIGHUP lets running jobs finish and starts no
//! new ones; no child, grandchild or zombie is left behind.

mod common;

use std::fs;
use std::io::Read;
use std::process::Child;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use common::{
    GONE_WITHIN, alive, assert_none_left, show, spawn_pmap, wait_for_processes, wait_with_timeout,
};

// ---- helpers ----

/// Reads a child's stdout and stderr on threads; join after it exited.
fn capture(child: &mut Child) -> impl FnOnce() -> (Vec<u8>, Vec<u8>) + use<> {
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    move || (out.join().unwrap(), err.join().unwrap())
}

fn signal(child: &Child, sig: Signal) {
    kill(Pid::from_raw(child.id() as i32), sig).expect("signal pmap");
}

/// (pid, ppid, state) of every process.
fn ps_table() -> Vec<(i32, i32, String)> {
    common::ps(&["-eo", "pid=,ppid=,stat="])
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((
                f.next()?.parse().ok()?,
                f.next()?.parse().ok()?,
                f.next()?.to_owned(),
            ))
        })
        .collect()
}

/// The pids of `pid`'s descendants, with their states.
fn descendants(pid: i32) -> Vec<(i32, String)> {
    let table = ps_table();
    let mut found: Vec<(i32, String)> = Vec::new();
    let mut parents = vec![pid];
    while let Some(parent) = parents.pop() {
        for (p, pp, stat) in &table {
            if *pp == parent {
                found.push((*p, stat.clone()));
                parents.push(*p);
            }
        }
    }
    found
}

/// `pid`'s descendants once none of them is a zombie (waiting up to [`GONE_WITHIN`] for
/// pmap to reap the ones that finished).
#[track_caller]
fn descendants_without_zombies(pid: i32) -> Vec<(i32, String)> {
    let deadline = Instant::now() + GONE_WITHIN;
    loop {
        let family = descendants(pid);
        let zombies: Vec<_> = family.iter().filter(|(_, s)| s.starts_with('Z')).collect();
        if zombies.is_empty() {
            return family;
        }
        assert!(
            Instant::now() < deadline,
            "pmap left zombie children for {GONE_WITHIN:?}: {zombies:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---- SIGINT and SIGTERM ----

fn interrupt_running_jobs(sig: Signal, marker: &str, code: i32) {
    let dir = tempfile::tempdir().unwrap();
    let script = format!("sleep {marker} & sleep {marker}; wait");
    let mut child = spawn_pmap(dir.path(), &["-j2", "sh", "-c", &script, ":::", "1", "2"]);
    let output = capture(&mut child);
    wait_for_processes(&format!("sleep {marker}"), 4);
    std::thread::sleep(Duration::from_millis(200));
    let sent = Instant::now();
    signal(&child, sig);
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(5)), code);
    assert!(sent.elapsed() < Duration::from_secs(5));
    let (out, err) = output();
    assert_eq!(show(&out), "");
    assert_eq!(show(&err), "");
    assert_none_left(&format!("sleep {marker}"));
}

#[test]
fn sigint_ends_the_jobs_and_exits_130() {
    interrupt_running_jobs(Signal::SIGINT, "61.23", 130);
}

#[test]
fn sigterm_ends_the_jobs_and_exits_143() {
    interrupt_running_jobs(Signal::SIGTERM, "61.24", 143);
}

#[test]
fn output_captured_before_the_interrupt_is_printed() {
    let dir = tempfile::tempdir().unwrap();
    for (mode, sig, code) in [
        ("--group", Signal::SIGINT, 130),
        ("--lb", Signal::SIGINT, 130),
        ("--group", Signal::SIGTERM, 143),
    ] {
        let mut child = spawn_pmap(
            dir.path(),
            &[
                mode,
                "sh",
                "-c",
                "echo started-$0; echo err-$0 >&2; sleep 61.25",
                ":::",
                "a",
            ],
        );
        let output = capture(&mut child);
        wait_for_processes("sleep 61.25", 1);
        std::thread::sleep(Duration::from_millis(200));
        signal(&child, sig);
        assert_eq!(
            wait_with_timeout(&mut child, Duration::from_secs(5)),
            code,
            "{mode}"
        );
        let (out, err) = output();
        assert_eq!(show(&out), "started-a\\n", "{mode}");
        assert_eq!(show(&err), "err-a\\n", "{mode}");
        assert_none_left("sleep 61.25");
    }
}

#[test]
fn keep_order_prints_held_output_on_interrupt() {
    // Job 2 finishes at once but waits behind job 1 under -k; the interrupt ends job 1, and
    // both outputs are printed, in order.
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_pmap(
        dir.path(),
        &[
            "-k",
            "-j2",
            "sh",
            "-c",
            "case $1 in slow) echo slow-started; sleep 61.29;; quick) echo quick-done;; esac",
            "sh",
            ":::",
            "slow",
            "quick",
        ],
    );
    let output = capture(&mut child);
    wait_for_processes("sleep 61.29", 1);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, Signal::SIGINT);
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(5)), 130);
    let (out, err) = output();
    assert_eq!(show(&out), "slow-started\\nquick-done\\n");
    assert_eq!(show(&err), "");
    assert_none_left("sleep 61.29");
}

#[test]
fn a_job_ignoring_sigterm_is_killed_after_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_pmap(
        dir.path(),
        &[
            "--kill-grace",
            "0.5",
            "sh",
            "-c",
            "trap '' TERM; sleep 61.26 & wait",
            ":::",
            "x",
        ],
    );
    let output = capture(&mut child);
    wait_for_processes("sleep 61.26", 1);
    std::thread::sleep(Duration::from_millis(200));
    let sent = Instant::now();
    signal(&child, Signal::SIGINT);
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(5)), 130);
    let took = sent.elapsed();
    assert!(
        took >= Duration::from_millis(400),
        "the job was killed before its grace was over ({took:?})"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let (out, err) = output();
    assert_eq!(show(&out), "");
    assert_eq!(show(&err), "");
    assert_none_left("sleep 61.26");
}

#[test]
fn a_second_sigint_kills_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_pmap(
        dir.path(),
        &[
            "--kill-grace",
            "30",
            "sh",
            "-c",
            "trap '' TERM; sleep 61.27 & wait",
            ":::",
            "x",
        ],
    );
    let output = capture(&mut child);
    wait_for_processes("sleep 61.27", 1);
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, Signal::SIGINT);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "pmap exited before the grace was over"
    );
    let sent = Instant::now();
    signal(&child, Signal::SIGINT);
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(5)), 130);
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "the second SIGINT did not kill at once ({:?})",
        sent.elapsed()
    );
    let (out, err) = output();
    assert_eq!(show(&out), "");
    assert_eq!(show(&err), "");
    assert_none_left("sleep 61.27");
}

#[test]
fn sigint_starts_no_new_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_pmap(
        dir.path(),
        &[
            "-j1",
            "sh",
            "-c",
            "echo $1 >> started; sleep 61.31",
            "sh",
            ":::",
            "1",
            "2",
            "3",
        ],
    );
    let output = capture(&mut child);
    wait_for_processes("sleep 61.31", 1);
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, Signal::SIGINT);
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(5)), 130);
    let (out, err) = output();
    assert_eq!(show(&out), "");
    assert_eq!(show(&err), "");
    assert_eq!(
        fs::read_to_string(dir.path().join("started")).unwrap(),
        "1\n"
    );
    assert_none_left("sleep 61.31");
}

// ---- SIGHUP ----

#[test]
fn sighup_lets_running_jobs_finish_and_starts_no_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_pmap(
        dir.path(),
        &[
            "-j1",
            "sh",
            "-c",
            "echo $1 >> started; sleep 0.5; echo done $1",
            "sh",
            ":::",
            "1",
            "2",
            "3",
            "4",
            "5",
        ],
    );
    let output = capture(&mut child);
    let started = dir.path().join("started");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !fs::read_to_string(&started)
        .unwrap_or_default()
        .ends_with('\n')
    {
        assert!(Instant::now() < deadline, "the first job never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    let sent = Instant::now();
    signal(&child, Signal::SIGHUP);
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(5)), 0);
    assert!(sent.elapsed() < Duration::from_secs(5));
    let (out, err) = output();
    assert_eq!(show(&out), "done 1\\n");
    assert_eq!(show(&err), "");
    assert_eq!(fs::read_to_string(&started).unwrap(), "1\n");
}

// ---- no zombies, no leftovers ----

#[test]
fn no_zombie_children_and_no_descendants_outlive_pmap() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_pmap(
        dir.path(),
        &[
            "-j3",
            "sh",
            "-c",
            "case $1 in quick) echo quick;; *) sleep 61.28 & sleep 61.28; wait;; esac",
            "sh",
            ":::",
            "quick",
            "slow1",
            "slow2",
        ],
    );
    let output = capture(&mut child);
    wait_for_processes("sleep 61.28", 4);
    // The quick job has finished: pmap must reap it (the zombie goes) while the others run.
    let pid = child.id() as i32;
    let family = descendants_without_zombies(pid);
    assert!(
        family.len() >= 6,
        "expected two shells and four sleeps under pmap: {family:?}"
    );

    signal(&child, Signal::SIGINT);
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(5)), 130);
    let (out, _) = output();
    assert_eq!(show(&out), "quick\\n");
    // Nothing pmap started is still running, and nothing still has pmap as its parent.
    let deadline = Instant::now() + GONE_WITHIN;
    loop {
        let living: Vec<i32> = family
            .iter()
            .map(|(p, _)| *p)
            .filter(|&p| alive(p))
            .collect();
        let orphans: Vec<i32> = ps_table()
            .iter()
            .filter(|(_, pp, _)| *pp == pid)
            .map(|(p, _, _)| *p)
            .collect();
        if living.is_empty() && orphans.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "processes outlived pmap: {living:?}, children of pmap: {orphans:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_none_left("sleep 61.28");
}
