//! SPEC §4, `--pool process`: long-lived workers fed one item per line on stdin and
//! answering one line each on stdout. Ordering, crashes and their notice, `--retries`,
//! `--timeout`, `--max-tasks`, the worker's environment and `{%}`, worker stderr, `--json`,
//! `--joblog`, `--results`, `--tag`, `--halt`, `-0`, items holding the delimiter, usage
//! errors, and ending workers that ignore end of input. See docs/pools.md.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Out, assert_gone, pmap, run, run_cmd};
use tempfile::TempDir;

/// Doubles each number it reads.
const DOUBLE: &str = "\
import sys
for line in sys.stdin:
    print(int(line) * 2)
";

/// Doubles each number, but exits with status 3 when it reads 13.
const CRASH_ON_13: &str = "\
import sys
for line in sys.stdin:
    n = int(line)
    if n == 13:
        sys.exit(3)
    print(n * 2)
";

/// Doubles each number; the first time any worker sees 4 it leaves a marker file (argv[1])
/// and exits with status 9, so a second attempt succeeds.
const CRASH_ONCE_ON_4: &str = "\
import os, sys
marker = sys.argv[1]
for line in sys.stdin:
    n = int(line)
    if n == 4 and not os.path.exists(marker):
        open(marker, 'w').close()
        sys.exit(9)
    print(n * 2)
";

/// A shell worker that doubles each number; on 3 it writes its PID to $1 and hangs in a
/// `sleep` child whose PID goes to $2. (sh, not Python: its start-up is quick enough not to
/// eat into the first item's time on a loaded machine.)
const HANG_ON_3: &str = "\
while IFS= read -r n; do
    if [ \"$n\" = 3 ]; then echo $$ > \"$1\"; sleep 60 & echo $! > \"$2\"; wait; fi
    echo $((n * 2))
done
";

/// Answers each item with the item and the worker's PID.
const PID: &str = "\
import os, sys
for line in sys.stdin:
    print(line.rstrip('\\n'), os.getpid())
";

/// Answers with the item, its first argument, PMAP_SLOT and PYTHONUNBUFFERED. No flush:
/// the answer only arrives because PYTHONUNBUFFERED=1 is set.
const ENV: &str = "\
import os, sys
for line in sys.stdin:
    print(line.rstrip('\\n'), sys.argv[1], os.environ.get('PMAP_SLOT'),
          os.environ.get('PYTHONUNBUFFERED'))
";

/// Doubles each number and warns on stderr about 2.
const WARN_ON_2: &str = "\
import sys
for line in sys.stdin:
    n = int(line)
    if n == 2:
        print('warning: two', file=sys.stderr)
    print(n * 2)
";

/// Reads NUL-terminated items byte by byte and answers each with its repr(), so a newline
/// inside an item shows as `\\n`. It never answers an item that ends with a newline instead.
const NUL_ITEMS: &str = "\
import sys
buf = b''
while True:
    c = sys.stdin.buffer.read(1)
    if not c:
        break
    if c == b'\\0':
        print(repr(buf.decode()))
        buf = b''
    else:
        buf += c
";

/// Answers each item, and at end of input sleeps a little, then leaves `done.<slot>` in the
/// directory argv[1]: the file exists after pmap exits only if pmap closed the worker's stdin
/// and waited for it.
const EOF_MARKER: &str = "\
import os, sys, time
for line in sys.stdin:
    print('ok', line.rstrip('\\n'))
time.sleep(0.3)
open(os.path.join(sys.argv[1], 'done.' + os.environ['PMAP_SLOT']), 'w').close()
";

/// A shell worker that answers each line, then, at end of input, ignores SIGTERM and never
/// exits. It writes its PID to $1 and that of its `sleep` child (which inherits the ignored
/// SIGTERM) to $2.
const STUBBORN: &str = "\
echo $$ > \"$1\"
trap '' TERM
while IFS= read -r line; do echo \"got $line\"; done
sleep 1000 & echo $! > \"$2\"
while :; do wait; done
";

/// Writes `body` to `name` in `dir`; returns its path as a string.
fn script(dir: &TempDir, name: &str, body: &str) -> String {
    let path = dir.path().join(name);
    fs::write(&path, body).expect("write the worker script");
    path.to_str().expect("a UTF-8 temp path").to_owned()
}

/// `1\n2\n…n\n`.
fn numbers(n: u64) -> Vec<u8> {
    (1..=n)
        .map(|i| format!("{i}\n"))
        .collect::<String>()
        .into_bytes()
}

/// The doubled numbers of `items`, one per line.
fn doubled(items: impl IntoIterator<Item = u64>) -> Vec<u8> {
    items
        .into_iter()
        .map(|i| format!("{}\n", i * 2))
        .collect::<String>()
        .into_bytes()
}

fn stdout_lines(out: &Out) -> Vec<String> {
    String::from_utf8(out.stdout.clone())
        .expect("UTF-8 output")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn read_pid(path: &Path) -> i32 {
    fs::read_to_string(path)
        .expect("the worker wrote its PID")
        .trim()
        .parse()
        .expect("a PID")
}

#[test]
fn keep_order_10000_items_exact_bytes() {
    let dir = TempDir::new().unwrap();
    let worker = script(&dir, "double.py", DOUBLE);
    run(
        ["-k", "-j2", "--pool", "process", "python3", &worker],
        numbers(10_000),
    )
    .ok(doubled(1..=10_000));
}

#[test]
fn unordered_10000_items_each_answer_exactly_once() {
    let dir = TempDir::new().unwrap();
    let worker = script(&dir, "double.py", DOUBLE);
    let out = run(
        ["-j2", "--pool", "process", "python3", &worker],
        numbers(10_000),
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:?}");
    let mut expected: Vec<String> = (1..=10_000u64).map(|i| (i * 2).to_string()).collect();
    expected.sort();
    assert_eq!(out.sorted_lines(), expected);
    assert_eq!(out.stdout.last(), Some(&b'\n'));
}

#[test]
fn worker_crash_fails_only_its_item_with_one_notice() {
    let dir = TempDir::new().unwrap();
    let worker = script(&dir, "crash.py", CRASH_ON_13);
    // -j1: the slot is known, so stderr is exact.
    run(
        ["-k", "-j1", "--pool", "process", "python3", &worker],
        numbers(20),
    )
    .check(
        doubled((1..=20).filter(|&i| i != 13)),
        "pmap: worker in slot 1 exited with status 3 without answering item 13; \
         starting another\n",
        1,
    );
    // -j2: either slot may hold item 13.
    let out = run(
        ["-k", "-j2", "--pool", "process", "python3", &worker],
        numbers(20),
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.stdout,
        doubled((1..=20).filter(|&i| i != 13)),
        "{out:?}"
    );
    let notice = |slot| {
        format!(
            "pmap: worker in slot {slot} exited with status 3 without answering item 13; \
             starting another\n"
        )
    };
    assert!(
        out.stderr == notice(1) || out.stderr == notice(2),
        "expected one crash notice, got {out:?}"
    );
}

#[test]
fn worker_that_stops_cleanly_after_some_items_loses_no_item() {
    let dir = TempDir::new().unwrap();
    // Serves two items, then exits 0: pmap must not blame the next item on it.
    let worker = script(
        &dir,
        "two.py",
        "import sys\nfor n, line in enumerate(sys.stdin):\n    print(int(line) * 2, flush=True)\n    if n == 1:\n        break\n",
    );
    run(
        ["-k", "-j1", "--pool", "process", "python3", &worker],
        numbers(9),
    )
    .check(doubled(1..=9), "", 0);
}

#[test]
fn worker_that_exits_cleanly_without_ever_answering_fails_the_item_once() {
    let dir = TempDir::new().unwrap();
    let worker = script(&dir, "mute.sh", "read -r line; exit 0\n");
    run(["-k", "-j1", "--pool", "process", "sh", &worker], "1\n").check(
        "",
        "pmap: worker in slot 1 exited with status 0 without answering item 1; \
         starting another\n",
        1,
    );
}

#[test]
fn crashed_worker_is_replaced_by_a_new_process() {
    let dir = TempDir::new().unwrap();
    let worker = script(
        &dir,
        "pid_crash.py",
        "import os, sys\n\
         for line in sys.stdin:\n    \
             if int(line) == 3:\n        \
                 os.kill(os.getpid(), 9)\n    \
             print(line.rstrip('\\n'), os.getpid())\n",
    );
    let out = run(
        ["-k", "-j1", "--pool", "process", "python3", &worker],
        numbers(5),
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.stderr,
        "pmap: worker in slot 1 was killed by signal 9 without answering item 3; \
         starting another\n"
    );
    let lines = stdout_lines(&out);
    let items: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(items, ["1", "2", "4", "5"], "{out:?}");
    let pid = |i: usize| lines[i].split(' ').nth(1).unwrap().to_owned();
    assert_eq!(pid(0), pid(1), "one worker answers items 1 and 2: {out:?}");
    assert_eq!(pid(2), pid(3), "one worker answers items 4 and 5: {out:?}");
    assert_ne!(pid(1), pid(2), "a new worker after the crash: {out:?}");
}

#[test]
fn every_item_failing_counts_in_the_exit_status() {
    // A worker that exits at once: each item fails, each time a new worker is started
    // (two items: a third failed start in a row would stop the run, see the next test).
    let out = run(
        ["-k", "-j1", "--pool", "process", "sh", "-c", "exit 5"],
        numbers(2),
    );
    out.check(
        "",
        "pmap: worker in slot 1 exited with status 5 without answering item 1; starting another\n\
         pmap: worker in slot 1 exited with status 5 without answering item 2; starting another\n",
        2,
    );
}

#[test]
fn three_failed_starts_in_a_row_stop_the_run() {
    let out = run(
        ["-k", "-j1", "--pool", "process", "sh", "-c", "exit 5"],
        numbers(5),
    );
    out.check(
        "",
        "pmap: worker in slot 1 exited with status 5 without answering item 1; starting another\n\
         pmap: worker in slot 1 exited with status 5 without answering item 2; starting another\n\
         pmap: the worker command exited before answering its first item 3 times in a row; \
         stopping\n\
         pmap: worker in slot 1 exited with status 5 without answering item 3; starting another\n",
        255,
    );
}

#[test]
fn retries_rerun_a_crashed_item_on_a_fresh_worker() {
    let dir = TempDir::new().unwrap();
    let worker = script(&dir, "once.py", CRASH_ONCE_ON_4);
    let marker = dir.path().join("marker");
    let out = run(
        [
            "-k",
            "-j2",
            "--retries",
            "2",
            "--pool",
            "process",
            "python3",
            &worker,
            marker.to_str().unwrap(),
        ],
        numbers(6),
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, doubled(1..=6), "{out:?}");
    assert!(marker.exists(), "the first attempt did crash");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(
        out.stderr
            .ends_with(" exited with status 9 without answering item 4; starting another\n"),
        "{out:?}"
    );

    // --json records the second attempt.
    fs::remove_file(&marker).unwrap();
    let out = run(
        [
            "-k",
            "-j1",
            "--json",
            "--retries",
            "2",
            "--pool",
            "process",
            "python3",
            &worker,
            marker.to_str().unwrap(),
        ],
        numbers(6),
    );
    assert_eq!(out.code, 0, "{out:?}");
    let records: Vec<serde_json::Value> = stdout_lines(&out)
        .iter()
        .map(|l| serde_json::from_str(l).expect("valid JSON"))
        .collect();
    assert_eq!(records.len(), 6, "{out:?}");
    assert_eq!(records[3]["seq"], 4);
    assert_eq!(records[3]["attempts"], 2);
    assert_eq!(records[3]["exit_code"], 0);
    assert_eq!(records[3]["stdout"], "8\n");
    assert_eq!(records[2]["attempts"], 1);
}

#[test]
fn timeout_fails_the_item_and_replaces_the_worker() {
    let dir = TempDir::new().unwrap();
    let worker = script(&dir, "hang.sh", HANG_ON_3);
    let pid_file = dir.path().join("hung.pid");
    let sleep_pid_file = dir.path().join("sleep.pid");
    let joblog = dir.path().join("joblog");
    let started = Instant::now();
    // The clock of a worker's first item includes the worker's own start-up (pmap cannot
    // tell the two apart), so the limit leaves room for a loaded machine.
    let out = run(
        [
            "-k",
            "-j2",
            "--timeout",
            "2",
            "--joblog",
            joblog.to_str().unwrap(),
            "--pool",
            "process",
            "sh",
            &worker,
            pid_file.to_str().unwrap(),
            sleep_pid_file.to_str().unwrap(),
        ],
        numbers(6),
    );
    let elapsed = started.elapsed();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, doubled([1, 2, 4, 5, 6]), "{out:?}");
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    assert_gone(read_pid(&pid_file), "the worker that overran");
    assert_gone(
        read_pid(&sleep_pid_file),
        "the sleep in that worker's process group",
    );
    let log = fs::read_to_string(&joblog).unwrap();
    let exitvals: Vec<(String, String)> = log
        .lines()
        .skip(1)
        .map(|row| {
            let cols: Vec<&str> = row.split('\t').collect();
            (cols[0].to_owned(), cols[6].to_owned())
        })
        .collect();
    assert_eq!(exitvals.len(), 6, "{log}");
    for (seq, exitval) in exitvals {
        let expected = if seq == "3" { "-1" } else { "0" };
        assert_eq!(exitval, expected, "job {seq} in\n{log}");
    }
}

#[test]
fn max_tasks_replaces_each_worker_after_n_items() {
    let dir = TempDir::new().unwrap();
    let worker = script(&dir, "pid.py", PID);
    let out = run(
        [
            "-k",
            "-j1",
            "--max-tasks",
            "2",
            "--pool",
            "process",
            "python3",
            &worker,
        ],
        numbers(6),
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:?}");
    let lines = stdout_lines(&out);
    let items: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(items, ["1", "2", "3", "4", "5", "6"], "{out:?}");
    let pids: Vec<&str> = lines.iter().map(|l| l.split(' ').nth(1).unwrap()).collect();
    let mut distinct = pids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "three workers for 6 items: {out:?}");
    assert_eq!(pids[0], pids[1], "{out:?}");
    assert_eq!(pids[2], pids[3], "{out:?}");
    assert_eq!(pids[4], pids[5], "{out:?}");
}

#[test]
fn worker_sees_pmap_slot_slot_template_and_unbuffered_python() {
    let dir = TempDir::new().unwrap();
    let worker = script(&dir, "env.py", ENV);
    run(
        [
            "-k", "-j1", "--pool", "process", "python3", &worker, "slot{%}",
        ],
        "a\nb\n",
    )
    .ok("a slot1 1 1\nb slot1 1 1\n");

    // -j2: each answer names the slot that gave it, in both ways, and only slots 1 and 2.
    let out = run(
        [
            "-k", "-j2", "--pool", "process", "python3", &worker, "slot{%}",
        ],
        numbers(8),
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:?}");
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 8, "{out:?}");
    for (i, line) in lines.iter().enumerate() {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 4, "{line}");
        assert_eq!(f[0], (i + 1).to_string(), "{out:?}");
        assert!(f[2] == "1" || f[2] == "2", "{line}");
        assert_eq!(f[1], format!("slot{}", f[2]), "{line}");
        assert_eq!(f[3], "1", "PYTHONUNBUFFERED: {line}");
    }
}

#[test]
fn shell_worker_reads_lines_and_sees_its_slot() {
    // One word with shell syntax: run by /bin/sh -c, started once, `{%}` rendered.
    run(
        [
            "-k",
            "-j1",
            "--pool",
            "process",
            r#"while IFS= read -r line; do echo "$PMAP_SLOT" {%} "[$line]"; done"#,
        ],
        "a b\n  c  \n\n",
    )
    .ok("1 1 [a b]\n1 1 [  c  ]\n1 1 []\n");
}

#[test]
fn worker_stderr_reaches_pmap_stderr_tagged_by_slot() {
    let dir = TempDir::new().unwrap();
    let worker = script(&dir, "warn.py", WARN_ON_2);
    run(
        ["-k", "-j1", "--pool", "process", "python3", &worker],
        numbers(3),
    )
    .check("2\n4\n6\n", "warning: two\n", 0);
    run(
        [
            "-k", "-j1", "--tag", "--pool", "process", "python3", &worker,
        ],
        numbers(3),
    )
    .check("1\t2\n2\t4\n3\t6\n", "slot 1\twarning: two\n", 0);
}

#[test]
fn tag_prefixes_item_outputs_and_values_are_joined_by_spaces() {
    run(
        [
            "-k",
            "-j2",
            "--tag",
            "--pool",
            "process",
            r#"while IFS= read -r line; do echo "<$line>"; done"#,
            ":::",
            "a",
            "b",
            ":::",
            "1",
            "2",
        ],
        "",
    )
    .ok("a 1\t<a 1>\na 2\t<a 2>\nb 1\t<b 1>\nb 2\t<b 2>\n");
}

#[test]
fn json_has_one_record_per_item_with_the_item_as_command() {
    let dir = TempDir::new().unwrap();
    let worker = script(&dir, "crash.py", CRASH_ON_13);
    let out = run(
        [
            "-k", "-j1", "--json", "--pool", "process", "python3", &worker,
        ],
        "12\n13\n14\n",
    );
    assert_eq!(out.code, 1, "{out:?}");
    let records: Vec<serde_json::Value> = stdout_lines(&out)
        .iter()
        .map(|l| serde_json::from_str(l).expect("valid JSON"))
        .collect();
    assert_eq!(records.len(), 3, "{out:?}");
    for (i, (item, code, stdout)) in [("12", 0, "24\n"), ("13", 3, ""), ("14", 0, "28\n")]
        .into_iter()
        .enumerate()
    {
        let r = &records[i];
        assert_eq!(r["seq"], i as u64 + 1, "{r}");
        assert_eq!(r["slot"], 1, "{r}");
        assert_eq!(r["command"], item, "{r}");
        assert_eq!(r["args"], serde_json::json!([item]), "{r}");
        assert_eq!(r["exit_code"], code, "{r}");
        assert_eq!(r["signal"], serde_json::Value::Null, "{r}");
        assert_eq!(r["attempts"], 1, "{r}");
        assert_eq!(r["stdout"], stdout, "{r}");
        assert_eq!(r["stderr"], "", "{r}");
    }
}

#[test]
fn joblog_has_one_row_per_item() {
    let dir = TempDir::new().unwrap();
    let joblog = dir.path().join("joblog");
    let out = run(
        [
            "-k",
            "-j1",
            "--joblog",
            joblog.to_str().unwrap(),
            "--pool",
            "process",
            r#"while IFS= read -r line; do [ "$line" = "b c" ] && kill -9 $$; echo "<$line>"; done"#,
        ],
        "a\nb c\nd\n",
    );
    assert_eq!(out.stdout, b"<a>\n<d>\n", "{out:?}");
    assert_eq!(out.code, 1, "{out:?}");
    let log = fs::read_to_string(&joblog).unwrap();
    let mut lines = log.lines();
    assert_eq!(
        lines.next(),
        Some("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand")
    );
    let mut rows: Vec<Vec<String>> = lines
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect();
    rows.sort_by_key(|r| r[0].parse::<u64>().unwrap());
    assert_eq!(rows.len(), 3, "{log}");
    for (row, (seq, receive, exitval, signal, command)) in rows.iter().zip([
        ("1", "4", "0", "0", "a"),
        ("2", "0", "0", "9", "b c"),
        ("3", "4", "0", "0", "d"),
    ]) {
        assert_eq!(row.len(), 9, "{log}");
        assert_eq!(
            (
                row[0].as_str(),
                row[1].as_str(),
                row[5].as_str(),
                row[6].as_str(),
                row[7].as_str(),
                row[8].as_str()
            ),
            (seq, ":", receive, exitval, signal, command),
            "{log}"
        );
    }
}

#[test]
fn results_are_kept_per_item() {
    let dir = TempDir::new().unwrap();
    let worker = script(&dir, "warn.py", WARN_ON_2);
    let results = dir.path().join("res");
    run(
        [
            "-k",
            "-j1",
            "--results",
            results.to_str().unwrap(),
            "--pool",
            "process",
            "python3",
            &worker,
        ],
        "1\n3\n",
    )
    .ok("2\n6\n");
    assert_eq!(fs::read(results.join("1/stdout")).unwrap(), b"2\n");
    assert_eq!(fs::read(results.join("2/stdout")).unwrap(), b"6\n");
    let meta: serde_json::Value =
        serde_json::from_slice(&fs::read(results.join("2/meta.json")).unwrap()).unwrap();
    assert_eq!(meta["command"], "3", "{meta}");
    assert_eq!(meta["exit_code"], 0, "{meta}");
}

#[test]
fn halt_soon_stops_feeding_items_after_a_failure() {
    let dir = TempDir::new().unwrap();
    let worker = script(&dir, "crash.py", CRASH_ON_13);
    let out = run(
        [
            "-k",
            "-j1",
            "--halt",
            "soon,fail=1",
            "--pool",
            "process",
            "python3",
            &worker,
        ],
        numbers(100),
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.starts_with(&doubled(1..=12)), "{out:?}");
    // At most the item already taken when the failure was counted runs after it.
    assert!(stdout_lines(&out).len() <= 14, "{out:?}");
    assert!(out.stderr.contains("pmap: --halt: 1 failed"), "{out:?}");
}

#[test]
fn item_holding_a_newline_fails_with_a_notice() {
    // `-d ,` makes "b\nc" one item; it cannot be sent as one line.
    run(
        [
            "-k",
            "-j1",
            "-d",
            ",",
            "--pool",
            "process",
            r#"while IFS= read -r line; do echo "<$line>"; done"#,
        ],
        "a,b\nc,d",
    )
    .check(
        "<a>\n<d>\n",
        "pmap: item 2 contains a newline, which ends items for --pool process workers; \
         use -0 to send items that hold newlines\n",
        1,
    );
}

#[test]
fn null_sends_nul_terminated_items() {
    let dir = TempDir::new().unwrap();
    let worker = script(&dir, "nul.py", NUL_ITEMS);
    // --timeout: if items were sent newline-terminated, the worker would never answer.
    run(
        [
            "-0",
            "-k",
            "-j1",
            "--timeout",
            "5",
            "--pool",
            "process",
            "python3",
            &worker,
        ],
        &b"a b\0line1\nline2\0last"[..],
    )
    .ok("'a b'\n'line1\\nline2'\n'last'\n");
}

#[test]
fn end_of_input_closes_stdin_and_waits_for_workers() {
    let dir = TempDir::new().unwrap();
    let worker = script(&dir, "eof.py", EOF_MARKER);
    let out_dir = dir.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    run(
        [
            "-k",
            "-j2",
            "--pool",
            "process",
            "python3",
            &worker,
            out_dir.to_str().unwrap(),
        ],
        numbers(4),
    )
    .ok("ok 1\nok 2\nok 3\nok 4\n");
    let mut done: Vec<String> = fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    done.sort();
    assert!(
        done == ["done.1", "done.2"] || done == ["done.1"],
        "every started worker saw end of input and was waited for: {done:?}"
    );
}

#[test]
fn worker_ignoring_end_of_input_is_killed_after_the_grace() {
    let dir = TempDir::new().unwrap();
    let worker = script(&dir, "stubborn.sh", STUBBORN);
    let pid_file: PathBuf = dir.path().join("worker.pid");
    let sleep_pid_file: PathBuf = dir.path().join("sleep.pid");
    let started = Instant::now();
    run(
        [
            "-k",
            "-j1",
            "--kill-grace",
            "0.5",
            "--pool",
            "process",
            "sh",
            &worker,
            pid_file.to_str().unwrap(),
            sleep_pid_file.to_str().unwrap(),
        ],
        numbers(3),
    )
    .ok("got 1\ngot 2\ngot 3\n");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    assert_gone(read_pid(&pid_file), "the worker");
    assert_gone(
        read_pid(&sleep_pid_file),
        "the worker's sleep child, which ignored SIGTERM too",
    );
}

#[test]
fn worker_that_cannot_start_exits_255() {
    run_cmd(
        pmap().args(["-j1", "--pool", "process", "pmap-no-such-worker"]),
        numbers(3),
    )
    .check(
        "",
        "pmap: cannot run 'pmap-no-such-worker': command not found\n",
        255,
    );
}

#[test]
fn worker_that_cannot_start_is_reported_once_with_several_slots() {
    let out = run(
        ["-j4", "--pool", "process", "pmap-no-such-worker"],
        numbers(10),
    );
    assert_eq!(
        out.usage_error(),
        "pmap: cannot run 'pmap-no-such-worker': command not found"
    );
}

#[test]
fn item_templates_in_the_worker_command_are_usage_errors() {
    for template in ["{}", "{1}", "{.}", "{#}"] {
        let line = run(["--pool", "process", "echo", template], "a\n")
            .usage_error()
            .to_owned();
        assert!(line.contains("{%}"), "{template}: {line}");
    }
}

#[test]
fn max_tasks_needs_the_process_pool() {
    run(["--max-tasks", "2", "echo"], "a\n").usage_error();
    run(["--pool", "thread", "--max-tasks", "2", "echo"], "a\n").usage_error();
    run(["--pool", "process", "--max-tasks", "0", "cat"], "a\n").usage_error();
}

#[test]
fn a_worker_command_that_cannot_start_stops_the_run_with_its_complaint_once() {
    // A typo in the worker's script name: every worker exits at once, complaining.
    let worker = r#"echo "cannot open worker.py" >&2; exit 2"#;
    let items: String = (1..=500).map(|i| format!("{i}\n")).collect();
    let start = std::time::Instant::now();
    let out = run(["--pool", "process", "-j2", "sh", "-c", worker], items);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(10),
        "{out:?}"
    );
    assert_eq!(out.code, 255, "{out:?}");
    assert_eq!(out.stdout, b"");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines
            .iter()
            .filter(|l| **l == "cannot open worker.py")
            .count(),
        1,
        "{out:?}"
    );
    assert!(
        lines.contains(
            &"pmap: the worker command exited before answering its first item 3 times in a \
              row; stopping"
        ),
        "{out:?}"
    );
    assert!(lines.len() <= 8, "{out:?}");
}
