//! SPEC §9, remote execution, against a real OpenSSH server on 127.0.0.1 reached as `alpha`
//! and `beta` (and `down`, a closed port): spreading over hosts, quoting for the remote
//! shell, PMAP_HOST, `{host}` tags, joblog and `--json` hosts, exit statuses, an unreachable
//! host, and `--timeout`, `--halt now` and SIGINT ending the remote command too. Every test
//! also checks that no ssh process of the run outlives pmap.

mod common;
#[path = "common/sshd.rs"]
mod sshd;

use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::{GONE_WITHIN, Out, pmap, pmap_path, run_cmd, wait_with_timeout};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sshd::{Sshd, sshd_or_skip};

/// Runs pmap against `sshd` with `args` (after `--ssh-command`), with its own TMPDIR.
fn run_remote(sshd: &Sshd, args: &[&str]) -> Out {
    run_remote_with(sshd, args, b"")
}

fn ps_args() -> Vec<String> {
    common::ps(&["-eo", "args"])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Processes with `marker` in their command line; a marker starting `sleep ` must start
/// it (so that pmap's and ssh's own command lines, which hold the remote one, do not count).
fn processes_with(marker: &str) -> usize {
    ps_args().iter().filter(|l| matches(l, marker)).count()
}

fn matches(line: &str, marker: &str) -> bool {
    if marker.starts_with("sleep ") {
        line.starts_with(marker)
    } else {
        line.contains(marker)
    }
}

/// Waits (up to [`GONE_WITHIN`]) until no process has `marker` in its command line.
#[track_caller]
fn assert_none_left(marker: &str) {
    let deadline = Instant::now() + GONE_WITHIN;
    loop {
        let left = processes_with(marker);
        if left == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{left} process(es) with '{marker}' outlived pmap: {:?}",
            ps_args()
                .iter()
                .filter(|l| matches(l, marker))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[track_caller]
fn wait_for_process(marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while processes_with(marker) == 0 {
        assert!(Instant::now() < deadline, "no process '{marker}' started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Nothing of the run is left: no ssh client or master using this server's config, and
/// the control-socket directory is gone from TMPDIR.
#[track_caller]
fn assert_clean(sshd: &Sshd, tmp: &Path) {
    assert_none_left(&sshd.config().display().to_string());
    let left: Vec<_> = std::fs::read_dir(tmp).unwrap().collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}

fn lines(out: &Out) -> Vec<String> {
    out.sorted_lines()
}

#[test]
fn jobs_spread_over_hosts_and_know_where_they_run() {
    let Some(sshd) = sshd_or_skip() else { return };
    // Four slots, round-robin alpha, beta, alpha, beta; four jobs that overlap.
    let out = run_remote(
        &sshd,
        &[
            "-S",
            "2/alpha,2/beta",
            "--tagstring",
            "{host}",
            "sleep 0.5; echo {%} $PMAP_SLOT $PMAP_HOST",
            ":::",
            "1",
            "2",
            "3",
            "4",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        lines(&out),
        [
            "alpha\t1 1 alpha",
            "alpha\t3 3 alpha",
            "beta\t2 2 beta",
            "beta\t4 4 beta"
        ],
        "{out:?}"
    );
}

#[test]
fn items_stay_data_in_the_remote_shell() {
    let Some(sshd) = sshd_or_skip() else { return };
    let items = [
        "a b",
        "it's",
        "$(echo no)",
        "; echo no",
        "\"q\"",
        "*",
        "back\\slash",
    ];
    let mut args = vec!["-S", "alpha", "-k", "printf", "[%s]\\n", "{}", ":::"];
    args.extend(items);
    let expected: String = items.iter().map(|i| format!("[{i}]\n")).collect();
    run_remote(&sshd, &args).ok(&expected);
    // Shell mode: the line runs remotely under sh, its items quoted.
    let mut args = vec!["-S", "beta", "-k", "echo {} | tr a-z A-Z", ":::"];
    args.extend(items);
    let expected: String = items
        .iter()
        .map(|i| format!("{}\n", i.to_uppercase()))
        .collect();
    run_remote(&sshd, &args).ok(&expected);
}

#[test]
fn exit_statuses_joblog_and_json_name_the_host() {
    let Some(sshd) = sshd_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let out = run_remote(
        &sshd,
        &[
            "-S",
            "1/alpha",
            "-k",
            "--joblog",
            log.to_str().unwrap(),
            "--json",
            "sh",
            "-c",
            "echo out; echo err >&2; exit $0",
            ":::",
            "0",
            "3",
        ],
    );
    assert_eq!(out.code, 1, "{out:?}");
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    for (record, code) in records.iter().zip([0, 3]) {
        assert_eq!(record["host"], "alpha");
        assert_eq!(record["exit_code"], code);
        assert_eq!(record["stdout"], "out\n");
        assert_eq!(record["stderr"], "err\n");
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    for (row, code) in rows.iter().zip(["0", "3"]) {
        assert_eq!(row[1], "alpha", "{text}");
        assert_eq!(row[6], code, "{text}");
    }
    assert_eq!(rows[1][8], "sh -c 'echo out; echo err >&2; exit $0' 3");
}

#[test]
fn local_slots_mix_with_remote_ones() {
    let Some(sshd) = sshd_or_skip() else { return };
    let out = run_remote(
        &sshd,
        &[
            "-S",
            "1/:,1/alpha",
            "--tag",
            "sleep 0.3; echo \"$PMAP_HOST\" {}",
            ":::",
            "x",
            "y",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let hosts: Vec<String> = lines(&out)
        .iter()
        .map(|l| l.split(['\t', ' ']).nth(1).unwrap().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(hosts, [":", "alpha"], "{out:?}");
}

#[test]
fn an_unreachable_host_is_reported_once_and_its_jobs_go_elsewhere() {
    let Some(sshd) = sshd_or_skip() else { return };
    let out = run_remote(
        &sshd,
        &[
            "-S",
            "2/down,1/alpha",
            "-k",
            "echo {} $PMAP_HOST",
            ":::",
            "1",
            "2",
            "3",
        ],
    );
    out.check(
        "1 alpha\n2 alpha\n3 alpha\n",
        &format!(
            "pmap: host 'down' cannot be reached: ssh: connect to host 127.0.0.1 port {}: \
             Connection refused; its jobs go to the other hosts\n",
            closed_port(&sshd)
        ),
        0,
    );
    // The same without connection sharing.
    let out = run_remote(
        &sshd,
        &[
            "--no-ssh-sharing",
            "-S",
            "down,beta",
            "echo {} $PMAP_HOST",
            ":::",
            "1",
        ],
    );
    assert_eq!(out.stdout, b"1 beta\n", "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(
        out.stderr.contains("host 'down' cannot be reached"),
        "{out:?}"
    );
}

#[test]
fn no_reachable_host_is_an_error() {
    let Some(sshd) = sshd_or_skip() else { return };
    let out = run_remote(&sshd, &["-S", "down", "echo", ":::", "1"]);
    out.check(
        "",
        &format!(
            "pmap: host 'down' cannot be reached: ssh: connect to host 127.0.0.1 port {}: \
             Connection refused; its jobs go to the other hosts\n\
             pmap: no host in --sshlogin can be reached\n",
            closed_port(&sshd)
        ),
        255,
    );
}

/// The port `down` points at, from the client config.
fn closed_port(sshd: &Sshd) -> String {
    let config = std::fs::read_to_string(sshd.config()).unwrap();
    let down = config.split("Host down").nth(1).unwrap();
    down.lines()
        .find_map(|l| l.trim().strip_prefix("Port "))
        .unwrap()
        .to_string()
}

#[test]
fn timeout_ends_the_remote_command() {
    let Some(sshd) = sshd_or_skip() else { return };
    let started = Instant::now();
    let out = run_remote(
        &sshd,
        &[
            "-S",
            "1/alpha,1/beta",
            "--timeout",
            "1",
            "--kill-grace",
            "1",
            "sleep 62.71; echo {}",
            ":::",
            "a",
            "b",
        ],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(8));
    assert_none_left("sleep 62.71");
}

#[test]
fn halt_now_ends_the_remote_commands() {
    let Some(sshd) = sshd_or_skip() else { return };
    let out = run_remote(
        &sshd,
        &[
            "-S",
            "1/alpha,1/beta",
            "--halt",
            "now,fail=1",
            ":::",
            "sleep 62.72",
            "sleep 1; exit 4",
        ],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("--halt"), "{out:?}");
    assert_none_left("sleep 62.72");
}

#[test]
fn sigint_ends_the_remote_commands_and_the_connections() {
    let Some(sshd) = sshd_or_skip() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut child = StdCommand::new(pmap_path())
        .env("TMPDIR", tmp.path())
        .arg("--ssh-command")
        .arg(sshd.ssh_command())
        .args(["-S", "1/alpha,1/beta", "sleep 62.73", ":::", "1", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_process("sleep 62.73");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(20)), 130);
    assert_none_left("sleep 62.73");
    assert_clean(&sshd, tmp.path());
}

#[test]
fn a_retry_goes_to_a_host_the_job_has_not_failed_on() {
    let Some(sshd) = sshd_or_skip() else { return };
    // Every job fails on alpha and succeeds on beta. With one slot on each and two jobs
    // running at once, one job starts on alpha; its retry must go to beta.
    let out = run_remote(
        &sshd,
        &[
            "-S",
            "1/alpha,1/beta",
            "-k",
            "--retries",
            "2",
            "--json",
            "test \"$PMAP_HOST\" = beta && echo {} on $PMAP_HOST",
            ":::",
            "1",
            "2",
            "3",
            "4",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let stdout: Vec<&str> = records
        .iter()
        .map(|r| r["stdout"].as_str().unwrap())
        .collect();
    assert_eq!(
        stdout,
        ["1 on beta\n", "2 on beta\n", "3 on beta\n", "4 on beta\n"]
    );
    assert!(
        records.iter().any(|r| r["attempts"] == 2),
        "no job was retried at all: {out:?}"
    );
    assert!(records.iter().all(|r| r["host"] == "beta"), "{out:?}");
}

#[test]
fn retries_and_keep_order_work_remotely() {
    let Some(sshd) = sshd_or_skip() else { return };
    let out = run_remote(
        &sshd,
        &[
            "-S",
            "2/alpha,2/beta",
            "-k",
            "--retries",
            "3",
            "--json",
            "sleep 0.$((5 - {})); echo {}; test {} != 3",
            ":::",
            "1",
            "2",
            "3",
            "4",
        ],
    );
    assert_eq!(out.code, 1, "{out:?}");
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(String, u64)> = records
        .iter()
        .map(|r| {
            (
                r["stdout"].as_str().unwrap().to_string(),
                r["attempts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("1\n".to_string(), 1),
            ("2\n".to_string(), 1),
            ("3\n".to_string(), 3),
            ("4\n".to_string(), 1)
        ]
    );
}

#[test]
fn bad_host_lists_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    for (args, expected) in [
        (
            vec!["-S", ""],
            "pmap: -S/--sshlogin is empty: give at least one host",
        ),
        (
            vec!["-S", "0/alpha"],
            "pmap: invalid host '0/alpha' in --sshlogin: a host needs at least 1 slot",
        ),
        (
            vec!["-S", "alpha:x"],
            "pmap: invalid host 'alpha:x' in --sshlogin: the port after ':' must be a number \
             from 1 to 65535",
        ),
        (
            vec!["--sshlogin=-oProxyCommand=x"],
            "pmap: invalid host '-oProxyCommand=x' in --sshlogin: a host name cannot start \
             with '-'",
        ),
        (
            vec!["-S", "a,a"],
            "pmap: host 'a' is given twice in --sshlogin; give it once, with N/ for more slots",
        ),
        (
            vec!["-S", "a", "--pool", "process", "cat"],
            "pmap: --sshlogin cannot be used with --pool process (yet); use --pool thread",
        ),
        (
            vec!["-S", "a", "--ssh-command", "ssh 'x"],
            "pmap: invalid --ssh-command 'ssh 'x': unbalanced quotes",
        ),
    ] {
        let mut args = args;
        if !args.contains(&"cat") {
            args.push("echo");
        }
        args.extend([":::", "1"]);
        let out = run_cmd(pmap().env_remove("PMAP_SSH").args(&args), "");
        assert_eq!(out.usage_error(), expected, "{args:?}");
    }
    let out = run_cmd(
        pmap().args([
            "--sshlogin-file",
            missing.to_str().unwrap(),
            "echo",
            ":::",
            "1",
        ]),
        "",
    );
    let line = out.usage_error();
    assert!(
        line.starts_with(&format!(
            "pmap: cannot read --sshlogin-file '{}': ",
            missing.display()
        )),
        "{line}"
    );
}

#[test]
fn a_sshlogin_file_lists_the_hosts() {
    let Some(sshd) = sshd_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hosts");
    std::fs::write(&file, "# test hosts\n1/alpha\n\n1/beta # second\n").unwrap();
    let out = run_remote(
        &sshd,
        &[
            "--sshlogin-file",
            file.to_str().unwrap(),
            "--tagstring",
            "{host}",
            "sleep 0.5; echo {}",
            ":::",
            "1",
            "2",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let hosts: std::collections::BTreeSet<String> = lines(&out)
        .iter()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    assert_eq!(hosts.into_iter().collect::<Vec<_>>(), ["alpha", "beta"]);
}

#[test]
fn a_host_lost_mid_run_is_reported_once_and_its_jobs_go_elsewhere() {
    let Some(sshd) = sshd_or_skip() else { return };
    let mut gamma = Sshd::start_as("gamma")
        .unwrap_or_else(|why| panic!("a second sshd could not be started: {why}"));
    // One client config for both servers.
    let config = sshd.dir_path().join("both_config");
    let text = std::fs::read_to_string(sshd.config()).unwrap()
        + &std::fs::read_to_string(gamma.config())
            .unwrap()
            .replace("Host down", "Host gamma-down");
    std::fs::write(&config, text).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let items: Vec<String> = (1..=8).map(|i| i.to_string()).collect();
    let mut child = StdCommand::new(pmap_path())
        .env("TMPDIR", tmp.path())
        .arg("--ssh-command")
        .arg(format!("ssh -F {}", config.display()))
        .args([
            "-S",
            "1/alpha,1/gamma",
            "sleep 0.2; echo {} $PMAP_HOST",
            ":::",
        ])
        .args(&items)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = common::LineReader::new(child.stdout.take().unwrap());
    let stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    // Once gamma has run a job, it goes away.
    while !seen.iter().any(|l: &String| l.ends_with(" gamma\n")) {
        let line = lines.next_line(Duration::from_secs(20)).expect("output");
        seen.push(String::from_utf8(line).unwrap());
    }
    gamma.kill_all();
    let rest = String::from_utf8(lines.rest(Duration::from_secs(20))).unwrap();
    let code = wait_with_timeout(&mut child, Duration::from_secs(20));
    let stderr = common::read_all(stderr);
    seen.extend(rest.lines().map(|l| format!("{l}\n")));
    assert_eq!(code, 0, "{stderr}\n{seen:?}");
    let mut done: Vec<u32> = seen
        .iter()
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    done.sort();
    assert_eq!(done, (1..=8).collect::<Vec<u32>>(), "{seen:?}");
    assert!(
        stderr.starts_with("pmap: host 'gamma' cannot be reached: ")
            && stderr.ends_with("; its jobs go to the other hosts\n")
            && stderr.lines().count() == 1,
        "{stderr}"
    );
    assert_clean(&sshd, tmp.path());
    assert_none_left(&config.display().to_string());
}

#[test]
fn a_bare_host_gets_j_slots() {
    let Some(sshd) = sshd_or_skip() else { return };
    // -j2 per host: four slots, all busy at once.
    let out = run_remote(
        &sshd,
        &[
            "-j2",
            "-S",
            "alpha,beta",
            "--tagstring",
            "{host}",
            "sleep 0.5; echo {%}",
            ":::",
            "1",
            "2",
            "3",
            "4",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        lines(&out),
        ["alpha\t1", "alpha\t3", "beta\t2", "beta\t4"],
        "{out:?}"
    );
}

#[test]
fn output_modes_work_as_locally() {
    let Some(sshd) = sshd_or_skip() else { return };
    let script = ": {}; echo out1; echo err1 >&2; sleep 0.2; printf out2";
    run_remote(&sshd, &["-S", "alpha", script, ":::", "x"]).check("out1\nout2", "err1\n", 0);
    run_remote(&sshd, &["-S", "alpha", "--lb", script, ":::", "x"]).check(
        "out1\nout2",
        "err1\n",
        0,
    );
    run_remote(&sshd, &["-S", "alpha", "-u", script, ":::", "x"]).check("out1\nout2", "err1\n", 0);
    run_remote(
        &sshd,
        &["-S", "alpha", "--merge-stderr", "--tag", script, ":::", "x"],
    )
    .ok("x\tout\tout1\nx\terr\terr1\nx\tout\tout2\n");
}

#[test]
fn sigint_while_connecting_ends_the_connections_and_cleans_up() {
    let Some(sshd) = sshd_or_skip() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut child = StdCommand::new(pmap_path())
        .env("TMPDIR", tmp.path())
        .arg("--ssh-command")
        .arg(sshd.ssh_command())
        .args(["-S", "alpha,slow", "echo", ":::", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_process("sleep 30.61");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(10)), 130);
    let stdout = common::read_all(child.stdout.take().unwrap());
    let stderr = common::read_all(child.stderr.take().unwrap());
    assert_eq!((stdout.as_str(), stderr.as_str()), ("", ""));
    assert_none_left("sleep 30.61");
    assert_clean(&sshd, tmp.path());
}

#[test]
fn more_slots_than_sessions_per_connection_all_run() {
    let Some(sshd) = sshd_or_skip() else { return };
    // sshd allows 10 sessions per connection by default (the fixture keeps that default);
    // 12 jobs at once on one host all run (pmap opens one connection per 8 slots).
    let items: Vec<String> = (1..=12).map(|i| i.to_string()).collect();
    let mut args = vec!["-S", "12/alpha", "sleep 1; echo {}", ":::"];
    args.extend(items.iter().map(String::as_str));
    let out = run_remote(&sshd, &args);
    assert_eq!(out.code, 0, "{out:?}");
    let mut got: Vec<u32> = lines(&out).iter().map(|l| l.parse().unwrap()).collect();
    got.sort();
    assert_eq!(got, (1..=12).collect::<Vec<u32>>());
}

/// [`run_remote`] with `stdin`.
fn run_remote_with(sshd: &Sshd, args: &[&str], stdin: &[u8]) -> Out {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_cmd(
        pmap()
            .env("TMPDIR", tmp.path())
            .env_remove("PMAP_SSH")
            .arg("--ssh-command")
            .arg(sshd.ssh_command())
            .args(args),
        stdin,
    );
    assert_clean(sshd, tmp.path());
    out
}

/// The remote side's fifo directories (`pmap-block.*` in the remote /tmp) left behind.
fn remote_block_dirs() -> Vec<std::path::PathBuf> {
    std::fs::read_dir("/tmp")
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("pmap-block."))
        })
        .collect()
}

#[test]
fn pipe_blocks_reach_remote_jobs_whole_and_in_order() {
    let Some(sshd) = sshd_or_skip() else { return };
    let mut input: Vec<u8> = (1..=300)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    input.extend_from_slice(b"bin\0ary \xff\n");
    let hosts = ["-S", "1/alpha,1/beta"];
    let out = run_remote_with(
        &sshd,
        &[&hosts[..], &["--pipe", "--block", "200", "-k", "cat"]].concat(),
        &input,
    );
    assert_eq!((out.code, &out.stdout), (0, &input), "{}", out.stderr);
    // Each job sees its block and nothing more: one line count per block, all lines once.
    let counts = ["--pipe", "--block", "200", "--tagstring", "{host}", "wc -l"];
    let out = run_remote_with(&sshd, &[&hosts[..], &counts].concat(), &input);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let total: usize = text
        .lines()
        .map(|l| {
            l.split('\t')
                .nth(1)
                .unwrap()
                .trim()
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    assert_eq!(total, 301, "{text}");
    assert!(
        text.contains("alpha\t") && text.contains("beta\t"),
        "{text}"
    );
    // --pipepart too; and a job that never reads its block ends normally.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input");
    std::fs::write(&file, &input).unwrap();
    let path = file.to_str().unwrap();
    let part = ["--pipepart", "-a", path, "--block", "500", "-k", "cat"];
    let out = run_remote_with(&sshd, &[&hosts[..], &part].concat(), b"");
    assert_eq!((out.code, &out.stdout), (0, &input), "{}", out.stderr);
    let ignore = ["--pipe", "--block", "200", "-k", "echo ignored"];
    let out = run_remote_with(&sshd, &[&hosts[..], &ignore].concat(), &input);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with(b"ignored\nignored\n"), "{out:?}");
    assert!(remote_block_dirs().is_empty(), "{:?}", remote_block_dirs());
}

/// On a machine without OpenSSH, a remote test prints one `skipping:` line and passes;
/// under `CI=true` it fails, with one line naming the missing program and its package.
#[test]
fn without_openssh_a_remote_test_skips_and_under_ci_fails() {
    // The rerun's PATH is empty; sshd is found by its full path if it is installed.
    let missing = if common::find_program("/usr/sbin/sshd").is_some() {
        "ssh not found on PATH (Debian package openssh-client)"
    } else {
        "/usr/sbin/sshd not found (Debian package openssh-server)"
    };
    let test = "jobs_spread_over_hosts_and_know_where_they_run";
    let skipped = common::rerun_without_programs(test, false);
    assert!(skipped.passed, "{}", skipped.output);
    let skip_lines: Vec<&str> = skipped
        .output
        .lines()
        .filter(|l| l.contains("skipping"))
        .collect();
    assert_eq!(
        skip_lines,
        [format!("skipping: {missing}")],
        "{}",
        skipped.output
    );
    let failed = common::rerun_without_programs(test, true);
    assert!(!failed.passed, "{}", failed.output);
    assert!(
        failed
            .output
            .lines()
            .any(|l| l.starts_with(&format!("{missing}; with CI=true"))),
        "{}",
        failed.output
    );
    assert!(!failed.output.contains("panicked at"), "{}", failed.output);
}
