//! SPEC §9, `--slurm`, against a real throwaway Slurm cluster (two nodes, `n1` and `n2`, on
//! 127.0.0.1; see `common/slurm.rs`), one per test: spreading over nodes (the joblog's Host
//! column), exact `-k` output and stderr, exit codes, `--timeout` and SIGINT ending steps
//! (nothing left in `squeue`, no process left; TERM first, through `scancel`), pmap killed
//! outright (its sruns end their steps), `--retries`, steps inside an allocation (and
//! `-j` from it), `--pipe` blocks and `--json`, and each bad input failing at start with one
//! `pmap:` line and exit 255.

mod common;
#[path = "common/slurm.rs"]
mod slurm;

use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use common::{Out, pmap, pmap_path, run_cmd, wait_with_timeout};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use slurm::{Cluster, cluster_or_skip, wait_for};

/// pmap pointed at `cluster` (see [`Cluster::env`]).
fn pmap_on(cluster: &Cluster) -> assert_cmd::Command {
    let mut std = StdCommand::new(pmap_path());
    cluster.env(&mut std);
    let mut cmd = pmap();
    for (name, value) in std.get_envs() {
        match value {
            Some(value) => cmd.env(name, value),
            None => cmd.env_remove(name),
        };
    }
    cmd
}

/// pmap started on `cluster` with `args`, its stdio on /dev/null, for tests that signal it.
fn spawn_on(cluster: &Cluster, args: &[&str]) -> std::process::Child {
    let mut command = StdCommand::new(pmap_path());
    cluster.env(&mut command);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pmap starts")
}

/// Waits until two jobs run `marker` (one on each node) and a job waits in the queue.
fn wait_for_two_running_steps_and_a_queued_one(cluster: &Cluster, marker: &str) {
    let running = wait_for(
        "two running steps, and a queued one",
        Duration::from_secs(20),
        || processes_running(marker) == 2 && cluster.queue().contains("PENDING"),
    );
    assert!(running.is_ok(), "queue: {}", cluster.queue());
}

fn run_on(cluster: &Cluster, args: &[&str]) -> Out {
    run_cmd(pmap_on(cluster).args(args), "")
}

/// The joblog's rows as (Host, Exitval, Signal), in Seq order.
fn joblog_rows(path: &std::path::Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(path).expect("the joblog");
    let mut rows: Vec<(u64, (String, String, String))> = text
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let seq = f[0].parse().expect("a Seq");
            (seq, (f[1].into(), f[6].into(), f[7].into()))
        })
        .collect();
    rows.sort_by_key(|(seq, _)| *seq);
    rows.into_iter().map(|(_, row)| row).collect()
}

/// Processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    common::ps(&["-eo", "args"])
        .lines()
        .filter(|l| l.contains(marker) && !l.contains("ps -eo"))
        .map(str::to_owned)
        .collect()
}

/// How many processes run exactly the command line `args` (not a shell whose script
/// contains it).
fn processes_running(args: &str) -> usize {
    common::ps(&["-eo", "args"])
        .lines()
        .filter(|l| l.trim() == args)
        .count()
}

fn assert_nothing_left(cluster: &Cluster, marker: &str) {
    let queue = cluster.wait_for_empty_queue(Duration::from_secs(15));
    assert_eq!(queue.trim(), "", "steps left in the queue");
    let gone = wait_for(
        "the job's processes to end",
        Duration::from_secs(10),
        || processes_with(marker).is_empty(),
    );
    assert!(gone.is_ok(), "left running: {:?}", processes_with(marker));
}

#[test]
fn jobs_spread_over_both_nodes_with_their_output_in_order() {
    let Some(cluster) = cluster_or_skip() else {
        return;
    };
    let log = cluster.dir().join("joblog");
    // Two CPUs a job: each takes a whole node, so two at once run on n1 and n2.
    let script = "sleep 0.3; echo \"$1 $PMAP_SEQ\"; echo \"e$1\" >&2; printf 'no newline'";
    let args = [
        "--slurm",
        "--slurm-cpus",
        "2",
        "-j2",
        "-k",
        "--joblog",
        log.to_str().unwrap(),
        "sh",
        "-c",
        script,
        "sh",
        ":::",
        "a",
        "b",
        "c",
        "d",
    ];
    let out = run_on(&cluster, &args);
    assert_eq!(out.code, 0, "{out:?}");
    let expected = "a 1\nno newlineb 2\nno newlinec 3\nno newlined 4\nno newline";
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    assert_eq!(out.stderr, "ea\neb\nec\ned\n");
    let rows = joblog_rows(&log);
    let hosts: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(hosts.into_iter().collect::<Vec<_>>(), ["n1", "n2"]);
    assert_nothing_left(&cluster, "no newline");
}

#[test]
fn a_failing_step_reports_its_exit_code_and_only_its_own_stderr() {
    let Some(cluster) = cluster_or_skip() else {
        return;
    };
    let log = cluster.dir().join("joblog");
    let args = [
        "--slurm",
        "--joblog",
        log.to_str().unwrap(),
        "-k",
        "echo out{}; echo oops{} >&2; exit {}",
        ":::",
        "0",
        "3",
        "42",
    ];
    let out = run_on(&cluster, &args);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out0\nout3\nout42\n");
    assert_eq!(out.stderr, "oops0\noops3\noops42\n");
    let codes: Vec<(String, String)> = joblog_rows(&log)
        .into_iter()
        .map(|(_, code, signal)| (code, signal))
        .collect();
    let expected = [("0", "0"), ("3", "0"), ("42", "0")].map(|(a, b)| (a.into(), b.into()));
    assert_eq!(codes, expected);
}

#[test]
fn a_timeout_ends_the_step_with_sigterm_first() {
    let Some(cluster) = cluster_or_skip() else {
        return;
    };
    let script = "true {}; trap 'echo got TERM; exit 7' TERM; sleep 60.417 & wait";
    let out = run_on(&cluster, &["--slurm", "--timeout", "1", script, ":::", "x"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got TERM\n");
    assert!(out.stderr.contains("timed out after 1s"), "{out:?}");
    // Slurm's `*** STEP ... CANCELLED AT ... ***` is not the job's stderr.
    assert!(!out.stderr.contains("slurmstepd"), "{out:?}");
    assert_nothing_left(&cluster, "sleep 60.417");
}

#[test]
fn sigint_ends_every_step_and_withdraws_the_queued_ones() {
    let Some(cluster) = cluster_or_skip() else {
        return;
    };
    // Each running job notes that TERM reached it (and not SIGKILL at once).
    let marks = cluster.dir().join("marks");
    std::fs::create_dir(&marks).unwrap();
    let script = format!(
        "true {{}}; trap 'touch {}/$PMAP_SEQ; exit 3' TERM; sleep 60.533 & wait",
        marks.display()
    );
    // A whole node per job: two run (n1, n2), two wait in the queue.
    let args = ["--slurm", "--slurm-cpus", "2", "-j4", &script];
    let mut child = spawn_on(
        &cluster,
        &[&args[..], &[":::", "1", "2", "3", "4"]].concat(),
    );
    // Each job's `sleep` runs once its trap is set.
    wait_for_two_running_steps_and_a_queued_one(&cluster, "sleep 60.533");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let code = wait_with_timeout(&mut child, Duration::from_secs(20));
    assert_eq!(code, 130);
    let marked = std::fs::read_dir(&marks).unwrap().count();
    assert_eq!(marked, 2, "the running jobs got TERM");
    assert_nothing_left(&cluster, "sleep 60.533");
}

#[test]
fn pmap_killed_outright_leaves_no_step() {
    let Some(cluster) = cluster_or_skip() else {
        return;
    };
    // One runs on each node, a third waits in the queue.
    let script = "true {}; sleep 60.647";
    let args = [
        "--slurm",
        "--slurm-cpus",
        "2",
        "-j3",
        script,
        ":::",
        "1",
        "2",
        "3",
    ];
    let mut child = spawn_on(&cluster, &args);
    wait_for_two_running_steps_and_a_queued_one(&cluster, "sleep 60.647");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    let _ = child.wait();
    assert_nothing_left(&cluster, "sleep 60.647");
}

#[test]
fn a_failed_step_is_retried() {
    let Some(cluster) = cluster_or_skip() else {
        return;
    };
    let flag = cluster.dir().join("tried");
    let script = format!(
        "true {{}}; if [ -e {f} ]; then echo second try; else touch {f}; echo first >&2; exit 1; fi",
        f = flag.display()
    );
    let out = run_on(
        &cluster,
        &["--slurm", "--retries", "2", &script, ":::", "x"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "second try\n");
}

#[test]
fn inside_an_allocation_jobs_are_its_steps() {
    let Some(cluster) = cluster_or_skip() else {
        return;
    };
    let mut command = StdCommand::new("salloc");
    cluster.env(&mut command);
    let script = "echo \"$PMAP_SEQ $SLURM_JOB_ID $SLURM_STEP_ID $PMAP_SLOT\"";
    let out = command
        .args([
            "-Q",
            "-n2",
            pmap_path(),
            "--slurm",
            "-k",
            "--joblog",
            "/dev/stderr",
        ])
        .args([script, ":::", "a", "b", "c"])
        .stdin(Stdio::null())
        .output()
        .expect("salloc runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Vec<&str>> = stdout.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    // One allocation, three steps of it.
    assert!(lines.iter().all(|l| l[1] == lines[0][1]), "{stdout}");
    let seqs: Vec<&str> = lines.iter().map(|l| l[0]).collect();
    assert_eq!(seqs, ["1", "2", "3"]);
    let mut steps: Vec<&str> = lines.iter().map(|l| l[2]).collect();
    steps.sort_unstable();
    steps.dedup();
    assert_eq!(steps.len(), 3, "{stdout}");
    // -j defaults to what the allocation runs at once: 2 CPUs, 2 slots.
    assert!(lines.iter().all(|l| l[3] == "1" || l[3] == "2"), "{stdout}");
}

#[test]
fn blocks_json_and_wd_work_through_steps() {
    let Some(cluster) = cluster_or_skip() else {
        return;
    };
    let input: String = (1..=10).map(|i| format!("{i}\n")).collect();
    let out = run_cmd(
        pmap_on(&cluster).args(["--slurm", "--pipe", "-N3", "-k", "wc", "-l"]),
        input,
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\n3\n3\n1\n");
    let script = "echo \"$0 $PMAP_HOST $PMAP_SEQ $PMAP_SLOT\"; readlink /proc/$$/fd/0";
    let args = ["--slurm", "--json", "sh", "-c", script, ":::", "a"];
    let out = run_on(&cluster, &args);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    let host = json["host"].as_str().unwrap_or_default();
    assert!(host == "n1" || host == "n2", "{out:?}");
    // The node is PMAP_HOST; a job without a block reads /dev/null, as a local one does.
    let stdout = json["stdout"].as_str().unwrap_or_default();
    let slot = stdout
        .strip_prefix(&format!("a {host} 1 "))
        .unwrap_or_default();
    assert!(
        ["1\n/dev/null\n", "2\n/dev/null\n"].contains(&slot),
        "{out:?}"
    );
    // A step starts in pmap's directory; `--wd .` is that one too.
    let sub = cluster.dir().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let mut cmd = pmap_on(&cluster);
    cmd.current_dir(cluster.dir())
        .args(["--slurm", "--wd", "sub", "sh", "-c", "pwd", ":::", "a"]);
    let out = run_cmd(&mut cmd, "");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n", sub.display())
    );
    let mut cmd = pmap_on(&cluster);
    cmd.current_dir(&sub)
        .args(["--slurm", "--wd", ".", "sh", "-c", "pwd", ":::", "a"]);
    let out = run_cmd(&mut cmd, "");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n", sub.display())
    );
}

#[test]
fn bad_input_fails_at_start_with_one_line() {
    let Some(cluster) = cluster_or_skip() else {
        return;
    };
    let marker = cluster.dir().join("ran");
    let job = format!("touch {}", marker.display());
    let check = |out: Out, says: &str| {
        assert_eq!(out.code, 255, "{out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        assert!(
            out.stderr.starts_with("pmap: ") && out.stderr.contains(says),
            "{out:?}"
        );
        assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
        assert!(!marker.exists());
    };
    // srun refuses the options.
    let args = ["--slurm", "--slurm-args", "-p nosuch", &job, ":::", "x"];
    check(run_on(&cluster, &args), "partition");
    let args = [
        "--slurm",
        "--slurm-args",
        "--no-such-option",
        &job,
        ":::",
        "x",
    ];
    check(run_on(&cluster, &args), "unrecognized option");
    // No srun on PATH.
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = pmap_on(&cluster);
    cmd.env("PATH", empty.path())
        .args(["--slurm", &job, ":::", "x"]);
    check(run_cmd(&mut cmd, ""), "srun, which is not on PATH");
    // A controller that does not answer.
    let conf = cluster.dir().join("down.conf");
    let d = cluster.dir().join("down");
    let text = slurm::config_text(&d, slurm::free_port(), [1, 2]);
    std::fs::write(
        &conf,
        text.replace(
            &format!("{}/munge", d.display()),
            &format!("{}/munge", cluster.dir().display()),
        ),
    )
    .unwrap();
    let mut cmd = pmap_on(&cluster);
    cmd.env("SLURM_CONF", &conf)
        .args(["--slurm", &job, ":::", "x"]);
    check(run_cmd(&mut cmd, ""), "controller does not answer");
    // Usage errors.
    check(
        run_on(&cluster, &["--slurm", "-S", ":", "true", ":::", "x"]),
        "--slurm cannot be used with -S",
    );
    let args = ["--slurm", "--pool", "process", "cat"];
    check(run_on(&cluster, &args), "--pool process");
    check(
        run_on(&cluster, &["--slurm-cpus", "2", "true", ":::", "x"]),
        "need --slurm",
    );
}
