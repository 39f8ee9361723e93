//! SPEC §4, `--pool process` with items pipelined (`--pool-window`): every per-item feature
//! with several items in flight per worker, a crash or a timeout in the middle of a window,
//! `--halt`, answers left over (a banner, two lines for one item), a worker that buffers its
//! answers, and a 300 MB answer going through the spool. See docs/pools.md.

mod common;

use std::fs;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{pmap_path, run, spawn_pmap, wait_with_timeout};
use tempfile::TempDir;

/// A worker that answers `r<item>` for each item.
const ECHO: &str = r#"while IFS= read -r n; do echo "r$n"; done"#;

fn numbers(n: u64) -> String {
    (1..=n).map(|i| format!("{i}\n")).collect()
}

fn json_records(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON record per line"))
        .collect()
}

#[test]
fn order_tags_and_joblog_rows_are_per_item_with_a_window() {
    let dir = TempDir::new().unwrap();
    let log = dir.path().join("log");
    let log = log.to_str().unwrap();
    let args = ["-k", "-j2", "--pool-window", "8", "--tag", "--joblog", log];
    let out = run(
        [&args[..], &["--pool", "process", "sh", "-c", ECHO]].concat(),
        numbers(40),
    );
    let expected: String = (1..=40).map(|i| format!("{i}\tr{i}\n")).collect();
    out.ok(expected);
    let rows: Vec<Vec<String>> = fs::read_to_string(log)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect();
    let mut seqs: Vec<u64> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
    for row in &rows {
        assert_eq!(row[8], row[0], "Command is the item: {row:?}");
        assert_eq!(row[6], "0", "{row:?}");
    }
}

#[test]
fn json_records_are_per_item_with_a_window() {
    let out = run(
        [
            "-k",
            "-j2",
            "--pool-window",
            "5",
            "--json",
            "--pool",
            "process",
        ]
        .into_iter()
        .chain(["sh", "-c", ECHO]),
        numbers(12),
    );
    assert_eq!(out.code, 0, "{out:?}");
    let records = json_records(&out.stdout);
    assert_eq!(records.len(), 12, "{out:?}");
    for (i, r) in records.iter().enumerate() {
        let n = i + 1;
        assert_eq!(r["seq"], n, "{r}");
        assert_eq!(r["command"], n.to_string(), "{r}");
        assert_eq!(r["stdout"], format!("r{n}\n"), "{r}");
        assert_eq!(r["attempts"], 1, "{r}");
    }
}

/// Exits 3 on item 5 the first time (it leaves a mark in $1), answers `ok <item>` else.
const CRASH_ONCE_ON_5: &str = r#"while IFS= read -r n; do
  if [ "$n" = 5 ] && [ ! -e "$1" ]; then : > "$1"; exit 3; fi
  echo "ok $n"
done"#;

#[test]
fn a_crash_mid_window_fails_one_item_and_the_items_behind_it_go_to_a_new_worker() {
    let dir = TempDir::new().unwrap();
    let mark = dir.path().join("crashed");
    let out = run(
        [
            "-k",
            "-j1",
            "--pool-window",
            "8",
            "--retries",
            "2",
            "--json",
        ]
        .into_iter()
        .chain(["--pool", "process", "sh", "-c", CRASH_ONCE_ON_5, "sh"])
        .chain([mark.to_str().unwrap()]),
        numbers(10),
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stderr,
        "pmap: worker in slot 1 exited with status 3 without answering item 5; starting another\n"
    );
    let records = json_records(&out.stdout);
    let got: Vec<(String, u64)> = records
        .iter()
        .map(|r| {
            let stdout = r["stdout"].as_str().unwrap().to_owned();
            (stdout, r["attempts"].as_u64().unwrap())
        })
        .collect();
    let expected: Vec<(String, u64)> = (1..=10)
        .map(|n| (format!("ok {n}\n"), if n == 5 { 2 } else { 1 }))
        .collect();
    assert_eq!(
        got, expected,
        "only the item the worker was on counts an attempt"
    );
}

#[test]
fn timeout_counts_from_when_the_worker_reached_the_item() {
    // Three items of 0.8 s each, all sent at once: the third is answered 2.4 s after it
    // was sent, but only 0.8 s after the worker reached it.
    let worker = r#"while IFS= read -r n; do sleep 0.8; echo "ok $n"; done"#;
    let args = ["-k", "-j1", "--pool-window", "4", "--timeout", "1.5"];
    run(
        [&args[..], &["--pool", "process", "sh", "-c", worker]].concat(),
        numbers(3),
    )
    .ok("ok 1\nok 2\nok 3\n");
}

#[test]
fn a_timed_out_item_fails_alone_and_the_queued_ones_run() {
    let dir = TempDir::new().unwrap();
    let log = dir.path().join("log");
    let worker = r#"while IFS= read -r n; do [ "$n" = 2 ] && sleep 60; echo "ok $n"; done"#;
    let args = ["-k", "-j1", "--pool-window", "4", "--timeout", "1"];
    let out = run(
        [&args[..], &["--joblog", log.to_str().unwrap()]]
            .concat()
            .into_iter()
            .chain(["--pool", "process", "sh", "-c", worker]),
        numbers(4),
    );
    assert_eq!(out.stdout, b"ok 1\nok 3\nok 4\n", "{out:?}");
    assert_eq!(out.code, 1, "{out:?}");
    let exitvals: Vec<String> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            format!("{}:{}", f[0], f[6])
        })
        .collect();
    assert_eq!(exitvals, ["1:0", "2:-1", "3:0", "4:0"]);
}

#[test]
fn halt_soon_sends_no_more_items_after_a_failure() {
    let worker = r#"while IFS= read -r n; do [ "$n" = 3 ] && exit 7; echo "ok $n"; done"#;
    let args = ["-k", "-j1", "--pool-window", "4", "--halt", "soon,fail=1"];
    let out = run(
        [&args[..], &["--pool", "process", "sh", "-c", worker]].concat(),
        numbers(20),
    );
    assert_eq!(out.stdout, b"ok 1\nok 2\n", "{out:?}");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("without answering item 3"), "{out:?}");
}

#[test]
fn a_banner_fails_the_run_and_names_the_slot() {
    let worker = format!("echo ready; {ECHO}");
    let out = run(
        ["-k", "-j1", "--pool", "process", "sh", "-c", &worker],
        numbers(3),
    );
    out.check(
        "ready\nr1\nr2\n",
        "pmap: worker in slot 1 wrote 1 line more than the 3 items it was sent, so its \
         answers were out of step with its items (a banner, or more than one line for an \
         item?); a worker must write exactly one line per item\n",
        255,
    );
}

#[test]
fn two_lines_for_one_item_fail_the_run_with_a_window() {
    let worker = r#"while IFS= read -r n; do echo "a$n"; [ "$n" = 2 ] && echo extra; done"#;
    let args = ["-k", "-j1", "--pool-window", "3"];
    let out = run(
        [&args[..], &["--pool", "process", "sh", "-c", worker]].concat(),
        numbers(4),
    );
    assert_eq!(out.code, 255, "{out:?}");
    assert!(
        out.stderr
            .starts_with("pmap: worker in slot 1 wrote 1 line more than the 4 items"),
        "{out:?}"
    );
}

#[test]
fn a_worker_that_buffers_its_answers_gets_items_in_bulk() {
    // awk buffers its output when it is a pipe: it writes when its buffer is full, or when
    // its input ends. pmap sees it wait for input while it owes answers, and feeds it more.
    let out = run(
        ["-k", "-j2", "--pool", "process", "awk", "{ print $1 * 2 }"],
        numbers(3000),
    );
    let expected: String = (1..=3000).map(|i| format!("{}\n", i * 2)).collect();
    out.ok(expected);
}

#[test]
fn a_buffering_worker_behind_a_wrapper_is_fed_in_bulk_too() {
    // The worker command is a shell that waits for awk (`; exit` keeps it from exec'ing
    // awk): the process reading the items is the shell's child. Looking at the shell alone,
    // pmap never saw the worker wait for input, and both waited for ever.
    let dir = TempDir::new().unwrap();
    let items: Vec<String> = (1..=3000).map(|i| i.to_string()).collect();
    let worker = r#"awk '{ print $1 * 2 }'; exit $?"#;
    let args = ["-k", "-j2", "--pool", "process", "sh", "-c", worker, ":::"];
    let items: Vec<&str> = items.iter().map(String::as_str).collect();
    let mut child = spawn_pmap(dir.path(), &[&args[..], &items].concat());
    // Its 20 KB of output fit in the pipe: it can exit before they are read.
    let code = wait_with_timeout(&mut child, Duration::from_secs(60));
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let expected: String = (1..=3000).map(|i| format!("{}\n", i * 2)).collect();
    assert_eq!(String::from_utf8_lossy(&stdout), expected);
    assert_eq!(code, 0);
}

#[test]
fn a_buffering_worker_held_to_a_window_has_its_input_closed_with_a_notice() {
    let out = run(
        [
            "-k",
            "-j1",
            "--pool-window",
            "2",
            "--pool",
            "process",
            "awk",
            "{ print $1 * 2 }",
        ],
        numbers(6),
    );
    assert_eq!(out.stdout, b"2\n4\n6\n8\n10\n12\n", "{out:?}");
    assert_eq!(out.code, 0, "{out:?}");
    let notices: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(notices.len(), 1, "one notice per run: {out:?}");
    assert!(
        notices[0].starts_with(
            "pmap: worker in slot 1 waits for more input without having answered item 1: it \
             holds its answers back"
        ) && notices[0].contains("docs/pools.md"),
        "{out:?}"
    );
}

#[test]
fn a_300_mb_answer_goes_through_the_spool_with_bounded_memory() {
    let dir = TempDir::new().unwrap();
    let rss = dir.path().join("rss");
    let worker = r"while IFS= read -r n; do head -c 300000000 /dev/zero | tr '\0' x; echo; done";
    let mut child = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&rss)
        .arg(pmap_path())
        .args(["-j1", "--pool", "process", "sh", "-c", worker, ":::", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/time runs pmap");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut total, mut all_x, mut last) = (0usize, true, 0u8);
        let mut buf = vec![0; 1 << 20];
        loop {
            let n = stdout.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            all_x &= buf[..n].iter().all(|&b| b == b'x' || b == b'\n');
            (total, last) = (total + n, buf[n - 1]);
        }
        (total, all_x, last)
    });
    // The old code took over a minute here: bounded, so that a regression fails.
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(60)), 0);
    let read = reader.join().unwrap();
    assert_eq!(read, (300_000_001, true, b'\n'));
    let peak_kb: u64 = fs::read_to_string(&rss).unwrap().trim().parse().unwrap();
    assert!(
        peak_kb < 150_000,
        "peak RSS {peak_kb} kB for a 300 MB answer"
    );
}

#[test]
fn max_tasks_holds_with_a_window() {
    let worker = r#"while IFS= read -r n; do echo "$n $$"; done"#;
    let out = run(
        ["-k", "-j1", "--pool-window", "8", "--max-tasks", "2"]
            .into_iter()
            .chain(["--pool", "process", "sh", "-c", worker]),
        numbers(6),
    );
    assert_eq!(out.code, 0, "{out:?}");
    let pids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap().to_owned())
        .collect();
    assert_eq!(pids.len(), 6, "{out:?}");
    for pair in pids.chunks(2) {
        assert_eq!(pair[0], pair[1], "two items per worker: {pids:?}");
    }
    assert!(
        pids[0] != pids[2] && pids[2] != pids[4] && pids[0] != pids[4],
        "a new worker every two items: {pids:?}"
    );
}

#[test]
fn no_worker_starts_once_the_items_are_all_sent() {
    // Each worker says on stderr that it started. Before the fix, the slot's last look
    // at the input (which brings no item) replaced the worker whose input had just been
    // closed with a fresh one, which then had nothing to do.
    let worker = r#"echo started >&2; while IFS= read -r n; do echo "r$n"; done"#;
    for jobs in ["-j1", "-j4"] {
        let out = run(
            ["-k", jobs, "--pool", "process", "sh", "-c", worker],
            numbers(1),
        );
        out.check("r1\n", "started\n", 0);
    }
    let out = run(
        ["-k", "-j1", "--pool", "process", "sh", "-c", worker],
        numbers(300),
    );
    let expected: String = (1..=300).map(|i| format!("r{i}\n")).collect();
    out.check(expected, "started\n", 0);
}

#[test]
fn resume_skips_logged_items_and_sends_them_to_no_worker() {
    let dir = TempDir::new().unwrap();
    let log = dir.path().join("log");
    let seen = dir.path().join("seen");
    let worker = r#"while IFS= read -r n; do echo "$n" >> "$1"; echo "r$n"; done"#;
    let pool = ["--pool", "process", "sh", "-c", worker, "sh"];
    let first = run(
        ["-k", "-j1", "--joblog", log.to_str().unwrap()]
            .into_iter()
            .chain(pool)
            .chain([seen.to_str().unwrap()]),
        numbers(3),
    );
    first.ok("r1\nr2\nr3\n");
    let again = run(
        [
            "-k",
            "-j1",
            "--pool-window",
            "4",
            "--resume",
            "--joblog",
            log.to_str().unwrap(),
        ]
        .into_iter()
        .chain(pool)
        .chain([seen.to_str().unwrap()]),
        numbers(6),
    );
    again.ok("r4\nr5\nr6\n");
    assert_eq!(fs::read_to_string(&seen).unwrap(), numbers(6));
}

#[test]
fn sigterm_ends_workers_holding_items_quietly() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let dir = TempDir::new().unwrap();
    let items: Vec<String> = (1..=40).map(|n| n.to_string()).collect();
    let worker = r#"while read -r n; do sleep 0.3; echo "$n"; done"#;
    let pool = [
        "-j2",
        "--pool-window",
        "8",
        "--pool",
        "process",
        "sh",
        "-c",
        worker,
        ":::",
    ];
    let args: Vec<&str> = pool
        .into_iter()
        .chain(items.iter().map(String::as_str))
        .collect();
    let mut child = spawn_pmap(dir.path(), &args);
    // Both workers hold items once the first answers are out.
    let mut first = [0u8; 2];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || common::read_all(stderr));
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(20)), 143);
    let stderr = stderr.join().unwrap();
    assert_eq!(stderr, "", "no worker 'failed': pmap ended it");
}

#[test]
fn pool_window_usage_errors() {
    run(["--pool-window", "2", "echo", ":::", "a"], "").check(
        "",
        "pmap: --pool-window needs --pool process\n",
        255,
    );
    run(
        ["--pool", "process", "--pool-window", "0", "cat", ":::", "a"],
        "",
    )
    .check("", "pmap: --pool-window must be at least 1\n", 255);
}
