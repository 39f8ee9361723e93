//! SPEC §5: the output modes. Grouped output (byte-exact, stdout then stderr, whole),
//! `--line-buffer`/`--lb`, `-u/--ungroup`, `--tag`, `--tagstring`, `--merge-stderr`,
//! `--json`, `--results DIR`, and `-k` in every mode.

mod common;

use std::fs::{self, File};
use std::process::{Command as StdCommand, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use common::{LineReader, pmap, pmap_path, run, show, wait_with_timeout};

// ---- helpers ----

/// Runs pmap with `args` and an empty stdin; raw stdout and stderr bytes.
fn run_raw<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    pmap()
        .args(args)
        .write_stdin(Vec::new())
        .output()
        .expect("pmap runs")
}

/// Shows bytes escaped, cut short if long.
fn brief(bytes: &[u8]) -> String {
    if bytes.len() <= 600 {
        show(bytes)
    } else {
        format!("{}... ({} bytes)", show(&bytes[..600]), bytes.len())
    }
}

/// Asserts exact stdout bytes, stderr bytes and exit code.
#[track_caller]
fn assert_raw(out: &Output, stdout: &[u8], stderr: &[u8], code: i32) {
    assert!(
        out.stdout == stdout && out.stderr == stderr && out.status.code() == Some(code),
        "expected exit {code}\n--- stdout ---\n{}\n--- stderr ---\n{}\n\
         ======== but got exit {:?} ========\n--- stdout ---\n{}\n--- stderr ---\n{}",
        brief(stdout),
        brief(stderr),
        out.status.code(),
        brief(&out.stdout),
        brief(&out.stderr),
    );
}

/// Runs pmap with its stdout and stderr going to the same file, so their relative order is
/// visible; returns what was written and the exit code.
fn run_merged_fds(args: &[&str]) -> (Vec<u8>, i32) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("both");
    let file = File::create(&path).unwrap();
    let mut child = StdCommand::new(pmap_path())
        .args(args)
        .env_remove("PMAP_SHELL")
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let code = wait_with_timeout(&mut child, Duration::from_secs(30));
    (fs::read(&path).unwrap(), code)
}

/// Every byte value, then a few invalid UTF-8 sequences and NULs.
fn binary_blob() -> Vec<u8> {
    let mut data: Vec<u8> = (0..=255u8).cycle().take(256 * 8).collect();
    data.extend_from_slice(b"\xff\xfe\x00\x00\xc3\x28\xa0\xa1\xe2\x82\n\x00");
    data
}

/// The script of a job that prints 200 long lines, each written in three pieces, pausing
/// in the middle of every tenth line: without line buffering, lines of two such jobs mix.
const LONG_LINES: &str = r#"p=$(printf "%0300d" 0 | tr 0 "$1")
i=0
while [ $i -lt 200 ]; do
  printf '%s:%03d:' "$1" $i
  printf '%s' "$p"
  case $i in *5) sleep 0.01;; esac
  printf '%s\n' "$p"
  i=$((i+1))
done"#;

fn long_line(job: &str, i: usize) -> String {
    format!("{job}:{i:03}:{}", job.repeat(600))
}

/// Checks that `stdout` is exactly the 200 lines of job A and of job B (as printed by
/// [`LONG_LINES`]), each line whole, each job's lines in order.
#[track_caller]
fn assert_whole_long_lines(stdout: &[u8]) {
    let text = String::from_utf8(stdout.to_vec()).expect("UTF-8 output");
    assert!(text.ends_with('\n'), "output does not end in a newline");
    let (mut next_a, mut next_b) = (0, 0);
    for (n, line) in text.lines().enumerate() {
        if next_a < 200 && line == long_line("A", next_a) {
            next_a += 1;
        } else if next_b < 200 && line == long_line("B", next_b) {
            next_b += 1;
        } else {
            panic!(
                "output line {} is not the next whole line of either job \
                 (A is at {next_a}, B at {next_b}): {:?}",
                n + 1,
                &line[..line.len().min(80)]
            );
        }
    }
    assert_eq!((next_a, next_b), (200, 200), "lines missing");
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Parses each stdout line as one JSON object.
#[track_caller]
fn json_lines(stdout: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(stdout).expect("--json output is UTF-8");
    assert!(
        text.ends_with('\n'),
        "--json output ends in a newline: {text:?}"
    );
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
    k.sort();
    k
}

fn sorted(keys: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
    k.sort();
    k
}

const META_KEYS: &[&str] = &[
    "seq",
    "slot",
    "args",
    "command",
    "exit_code",
    "signal",
    "start",
    "runtime",
    "attempts",
];

// ---- grouped (the default) ----

#[test]
fn group_prints_stdout_then_stderr_whole_per_job() {
    let (both, code) = run_merged_fds(&[
        "-k",
        "-j3",
        "sh",
        "-c",
        "echo e1-$1 >&2; echo o1-$1; sleep 0.1; echo e2-$1 >&2; echo o2-$1",
        "sh",
        ":::",
        "a",
        "b",
        "c",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        show(&both),
        show(b"o1-a\no2-a\ne1-a\ne2-a\no1-b\no2-b\ne1-b\ne2-b\no1-c\no2-c\ne1-c\ne2-c\n")
    );
}

#[test]
fn group_without_keep_order_keeps_each_job_whole() {
    let (both, code) = run_merged_fds(&[
        "-j3",
        "sh",
        "-c",
        "echo e1-$1 >&2; echo o1-$1; sleep 0.1; echo e2-$1 >&2; echo o2-$1",
        "sh",
        ":::",
        "a",
        "b",
        "c",
    ]);
    assert_eq!(code, 0);
    let text = String::from_utf8(both).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 12, "{text}");
    let mut units: Vec<String> = lines.chunks(4).map(|c| c.join("\n")).collect();
    units.sort();
    let expected: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|j| format!("o1-{j}\no2-{j}\ne1-{j}\ne2-{j}"))
        .collect();
    assert_eq!(
        units, expected,
        "jobs' output was not printed as whole units:\n{text}"
    );
}

#[test]
fn group_binary_output_is_byte_exact_on_stdout_and_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let blob = binary_blob();
    let file = dir.path().join("blob");
    fs::write(&file, &blob).unwrap();
    let path = file.to_str().unwrap();

    // Through head -c, directly.
    let out = run_raw(["head", "-c", &blob.len().to_string(), ":::", path]);
    assert_raw(&out, &blob, b"", 0);

    // Through printf with NULs and invalid UTF-8 on stdout, the blob on stderr.
    let out = run_raw([
        "-k",
        "-j2",
        "sh",
        "-c",
        r"printf '\000\377\376x\000'; head -c 5000 $1 >&2; printf '\200'",
        "sh",
        ":::",
        path,
        path,
    ]);
    let one: &[u8] = b"\x00\xff\xfex\x00\x80";
    let mut err = blob.clone();
    err.extend_from_slice(&blob);
    assert_raw(&out, &[one, one].concat(), &err, 0);
}

#[test]
fn group_output_without_final_newline_is_unchanged() {
    let out = run_raw(["-k", "printf", "%s", ":::", "no", "newline"]);
    assert_raw(&out, b"nonewline", b"", 0);
}

// ---- --line-buffer / --lb ----

#[test]
fn line_buffer_never_mixes_lines_of_concurrent_jobs() {
    let out = run_raw([
        "--line-buffer",
        "-j2",
        "sh",
        "-c",
        LONG_LINES,
        "sh",
        ":::",
        "A",
        "B",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", show(&out.stderr));
    assert_whole_long_lines(&out.stdout);
}

#[test]
fn lb_alias_never_mixes_lines_of_concurrent_jobs() {
    let out = run_raw(["--lb", "-j2", "sh", "-c", LONG_LINES, "sh", ":::", "A", "B"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out.stderr));
    assert_whole_long_lines(&out.stdout);
}

#[test]
fn line_buffer_never_mixes_stderr_lines_either() {
    let script = format!("{{ {LONG_LINES}\n}} >&2");
    let out = run_raw(["--lb", "-j2", "sh", "-c", &script, "sh", ":::", "A", "B"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty(), "{}", show(&out.stdout));
    assert_whole_long_lines(&out.stderr);
}

#[test]
fn line_buffer_prints_a_final_line_without_newline_at_job_end() {
    let out = run_raw([
        "--lb",
        "sh",
        "-c",
        r"printf 'x\ny'; printf 'e\nf' >&2",
        ":::",
        "1",
    ]);
    assert_raw(&out, b"x\ny", b"e\nf", 0);
}

#[test]
fn line_buffer_prints_lines_while_the_job_runs() {
    let mut child = StdCommand::new(pmap_path())
        .args([
            "--lb",
            "sh",
            "-c",
            "echo first; sleep 1; echo second",
            ":::",
            "x",
        ])
        .env_remove("PMAP_SHELL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = LineReader::new(child.stdout.take().unwrap());
    assert_eq!(
        lines.next_line(Duration::from_secs(10)).as_deref(),
        Some(&b"first\n"[..])
    );
    let first_at = Instant::now();
    assert_eq!(
        lines.next_line(Duration::from_secs(10)).as_deref(),
        Some(&b"second\n"[..])
    );
    assert!(
        first_at.elapsed() >= Duration::from_millis(600),
        "the first line was held back until the job ended"
    );
    assert_eq!(lines.next_line(Duration::from_secs(10)), None);
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(10)), 0);
}

// ---- -u / --ungroup ----

#[test]
fn ungroup_passes_every_byte_through() {
    // Two jobs each printing 100 000 bytes in many writes: chunks may mix, bytes may not
    // be lost or added.
    let script =
        r#"i=0; while [ $i -lt 100 ]; do head -c 1000 /dev/zero | tr '\0' "$1"; i=$((i+1)); done"#;
    for flag in ["-u", "--ungroup"] {
        let out = run_raw([flag, "-j2", "sh", "-c", script, "sh", ":::", "a", "b"]);
        assert_eq!(out.status.code(), Some(0));
        assert!(out.stderr.is_empty(), "{}", show(&out.stderr));
        assert_eq!(out.stdout.len(), 200_000);
        let a = out.stdout.iter().filter(|&&b| b == b'a').count();
        let b = out.stdout.iter().filter(|&&b| b == b'b').count();
        assert_eq!((a, b), (100_000, 100_000));
    }
}

#[test]
fn ungroup_binary_output_is_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let blob = binary_blob();
    let file = dir.path().join("blob");
    fs::write(&file, &blob).unwrap();
    let out = run_raw([
        "-u",
        "sh",
        "-c",
        "cat $1; cat $1 >&2",
        "sh",
        ":::",
        file.to_str().unwrap(),
    ]);
    assert_raw(&out, &blob, &blob, 0);
}

// ---- --tag / --tagstring ----

const TAG_JOB: &str = r"printf 'o1\no2'; printf 'e1\ne2' >&2";

#[test]
fn tag_in_group_mode_tags_every_line_and_ends_the_last() {
    let out = run_raw(["-k", "--tag", "sh", "-c", TAG_JOB, ":::", "x", "y"]);
    assert_raw(
        &out,
        b"x\to1\nx\to2\ny\to1\ny\to2\n",
        b"x\te1\nx\te2\ny\te1\ny\te2\n",
        0,
    );
}

#[test]
fn tag_in_line_buffer_mode() {
    let out = run_raw(["-k", "--tag", "--lb", "sh", "-c", TAG_JOB, ":::", "x", "y"]);
    assert_raw(
        &out,
        b"x\to1\nx\to2\ny\to1\ny\to2\n",
        b"x\te1\nx\te2\ny\te1\ny\te2\n",
        0,
    );
}

#[test]
fn tag_in_ungroup_mode() {
    let out = run_raw(["-j1", "--tag", "-u", "sh", "-c", TAG_JOB, ":::", "x", "y"]);
    assert_raw(
        &out,
        b"x\to1\nx\to2\ny\to1\ny\to2\n",
        b"x\te1\nx\te2\ny\te1\ny\te2\n",
        0,
    );
}

#[test]
fn tag_with_lines_written_in_pieces() {
    let out = run_raw([
        "--tag",
        "sh",
        "-c",
        r"printf 'ab'; sleep 0.05; printf 'c\nd'; sleep 0.05; printf '\n\n'",
        ":::",
        "t",
    ]);
    assert_raw(&out, b"t\tabc\nt\td\nt\t\n", b"", 0);
}

#[test]
fn tag_with_several_sources_joins_the_values_with_a_space() {
    let out = run_raw(["-k", "--tag", "echo", ":::", "a", "b", ":::", "1", "2"]);
    assert_raw(&out, b"a 1\ta 1\na 2\ta 2\nb 1\tb 1\nb 2\tb 2\n", b"", 0);
}

#[test]
fn tag_with_an_item_containing_spaces_and_bytes() {
    let out = run(
        [
            common::os(b"-k"),
            common::os(b"--tag"),
            common::os(b"echo"),
            common::os(b":::"),
            common::os(b"a b"),
            common::os(b"\xff"),
        ],
        "",
    );
    out.ok(&b"a b\ta b\n\xff\t\xff\n"[..]);
}

#[test]
fn tagstring_with_templates() {
    let out = run_raw([
        "-k",
        "--tagstring",
        "{#}-{}",
        "sh",
        "-c",
        "echo out $1; echo err $1 >&2",
        "sh",
        ":::",
        "a",
        "b",
    ]);
    assert_raw(
        &out,
        b"1-a\tout a\n2-b\tout b\n",
        b"1-a\terr a\n2-b\terr b\n",
        0,
    );

    let out = run_raw([
        "-k",
        "--tagstring",
        "[{/.}|{//}]",
        "echo",
        "x",
        ":::",
        "dir/f.txt",
        "g.tar.gz",
    ]);
    assert_raw(
        &out,
        b"[f|dir]\tx dir/f.txt\n[g.tar|.]\tx g.tar.gz\n",
        b"",
        0,
    );
}

#[test]
fn tagstring_in_line_buffer_mode() {
    let out = run_raw([
        "--lb",
        "--tagstring",
        "<{}>",
        "sh",
        "-c",
        TAG_JOB,
        ":::",
        "z",
    ]);
    assert_raw(&out, b"<z>\to1\n<z>\to2\n", b"<z>\te1\n<z>\te2\n", 0);
}

// ---- --merge-stderr ----

const MERGE_JOB: &str =
    r"echo o1; sleep 0.15; echo e1 >&2; sleep 0.15; echo o2; sleep 0.15; printf e2 >&2";

#[test]
fn merge_stderr_joins_stderr_lines_to_stdout_in_order() {
    for mode in ["--group", "--lb"] {
        let out = run_raw([mode, "--merge-stderr", "sh", "-c", MERGE_JOB, ":::", "x"]);
        assert_raw(&out, b"o1\ne1\no2\ne2", b"", 0);
    }
}

#[test]
fn merge_stderr_with_tag_names_the_stream() {
    for mode in ["--group", "--lb"] {
        let out = run_raw([
            mode,
            "--merge-stderr",
            "--tag",
            "sh",
            "-c",
            MERGE_JOB,
            ":::",
            "x",
        ]);
        assert_raw(
            &out,
            b"x\tout\to1\nx\terr\te1\nx\tout\to2\nx\terr\te2\n",
            b"",
            0,
        );
    }
}

#[test]
fn merge_stderr_with_keep_order_and_several_jobs() {
    let out = run_raw([
        "-k",
        "-j2",
        "--merge-stderr",
        "--tag",
        "sh",
        "-c",
        "sleep $1; echo o$1; sleep 0.1; echo e$1 >&2",
        "sh",
        ":::",
        "0.2",
        "0",
    ]);
    assert_raw(
        &out,
        b"0.2\tout\to0.2\n0.2\terr\te0.2\n0\tout\to0\n0\terr\te0\n",
        b"",
        0,
    );
}

// ---- --json ----

#[test]
fn json_has_every_field() {
    let before = now_secs();
    let out = run_raw([
        "--json",
        "-k",
        "-j2",
        "sh",
        "-c",
        "echo out-$1; echo err-$1 >&2; sleep 0.3; exit $2",
        "sh",
        ":::",
        "a",
        "b",
        ":::",
        "0",
        "3",
    ]);
    let after = now_secs();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", show(&out.stderr));
    let records = json_lines(&out.stdout);
    assert_eq!(records.len(), 4);
    let items = [("a", "0"), ("a", "3"), ("b", "0"), ("b", "3")];
    for (i, (rec, (item, code))) in records.iter().zip(items).enumerate() {
        let mut expected_keys = META_KEYS.to_vec();
        expected_keys.extend(["stdout", "stderr"]);
        assert_eq!(keys(rec), sorted(&expected_keys), "{rec}");
        assert_eq!(rec["seq"], i as u64 + 1, "{rec}");
        let slot = rec["slot"].as_u64().expect("slot is a number");
        assert!((1..=2).contains(&slot), "{rec}");
        assert_eq!(rec["args"], serde_json::json!([item, code]), "{rec}");
        assert_eq!(
            rec["command"],
            format!("sh -c 'echo out-$1; echo err-$1 >&2; sleep 0.3; exit $2' sh {item} {code}"),
            "{rec}"
        );
        assert_eq!(rec["exit_code"], code.parse::<i64>().unwrap(), "{rec}");
        assert!(rec["signal"].is_null(), "{rec}");
        let start = rec["start"].as_f64().expect("start is a number");
        assert!(rec["start"].is_f64(), "start is a float: {rec}");
        assert!(start >= before - 1.0 && start <= after + 1.0, "{rec}");
        let runtime = rec["runtime"].as_f64().expect("runtime is a number");
        assert!(rec["runtime"].is_f64(), "runtime is a float: {rec}");
        assert!((0.3..5.0).contains(&runtime), "{rec}");
        assert_eq!(rec["attempts"], 1, "{rec}");
        assert_eq!(rec["stdout"], format!("out-{item}\n"), "{rec}");
        assert_eq!(rec["stderr"], format!("err-{item}\n"), "{rec}");
    }
}

#[test]
fn json_killed_job_has_null_exit_code_and_its_signal() {
    let out = run_raw(["--json", "sh", "-c", "echo before; kill -9 $$", ":::", "k"]);
    assert_eq!(out.status.code(), Some(1));
    let records = json_lines(&out.stdout);
    assert_eq!(records.len(), 1);
    let rec = &records[0];
    assert!(rec["exit_code"].is_null(), "{rec}");
    assert_eq!(rec["signal"], 9, "{rec}");
    assert_eq!(rec["stdout"], "before\n", "{rec}");
    assert_eq!(rec["args"], serde_json::json!(["k"]), "{rec}");
}

#[test]
fn json_non_utf8_output_goes_to_base64_fields() {
    let out = run_raw([
        "--json",
        "-k",
        "sh",
        "-c",
        r#"case $1 in
            out) printf '\377\000a\n'; echo fine >&2;;
            err) echo fine; printf '\300\000' >&2;;
           esac"#,
        "sh",
        ":::",
        "out",
        "err",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out.stderr));
    let records = json_lines(&out.stdout);
    assert_eq!(records.len(), 2);

    let rec = &records[0];
    let mut k = META_KEYS.to_vec();
    k.extend(["stdout_base64", "stderr"]);
    assert_eq!(keys(rec), sorted(&k), "{rec}");
    let bytes = BASE64
        .decode(rec["stdout_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes, b"\xff\x00a\n");
    assert_eq!(rec["stderr"], "fine\n");

    let rec = &records[1];
    let mut k = META_KEYS.to_vec();
    k.extend(["stdout", "stderr_base64"]);
    assert_eq!(keys(rec), sorted(&k), "{rec}");
    let bytes = BASE64
        .decode(rec["stderr_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes, b"\xc0\x00");
    assert_eq!(rec["stdout"], "fine\n");
}

#[test]
fn json_text_with_nul_and_control_bytes_round_trips() {
    let out = run_raw([
        "--json",
        "sh",
        "-c",
        r#"printf 'a\000b\t"\\\n'"#,
        ":::",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let rec = &json_lines(&out.stdout)[0];
    assert_eq!(rec["stdout"], "a\u{0}b\t\"\\\n", "{rec}");
}

#[test]
fn json_with_keep_order_is_ordered_by_seq() {
    let out = run_raw([
        "--json",
        "-k",
        "-j3",
        "sh",
        "-c",
        "sleep $1; echo $1",
        "sh",
        ":::",
        "0.3",
        "0.2",
        "0.1",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let records = json_lines(&out.stdout);
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3]);
    let outs: Vec<&str> = records
        .iter()
        .map(|r| r["stdout"].as_str().unwrap())
        .collect();
    assert_eq!(outs, ["0.3\n", "0.2\n", "0.1\n"]);
}

#[test]
fn json_conflicts_are_usage_errors() {
    for flag in [
        &["--lb"][..],
        &["--line-buffer"],
        &["-u"],
        &["--ungroup"],
        &["--tag"],
        &["--tagstring", "x"],
    ] {
        let mut args = vec!["--json"];
        args.extend_from_slice(flag);
        args.extend(["echo", ":::", "a"]);
        let out = run(&args, "");
        out.usage_error();
    }
}

// ---- --results ----

#[test]
fn results_dir_keeps_exact_output_and_meta() {
    let dir = tempfile::tempdir().unwrap();
    let blob = binary_blob();
    let file = dir.path().join("blob");
    fs::write(&file, &blob).unwrap();
    let results = dir.path().join("res");
    let out = run_raw([
        "-k",
        "-j1",
        "--results",
        results.to_str().unwrap(),
        "sh",
        "-c",
        r#"case $1 in
            bin) cat "$2"; printf 'e\377' >&2;;
            text) echo hello; exit 4;;
           esac"#,
        "sh",
        ":::",
        "bin",
        "text",
        ":::",
        file.to_str().unwrap(),
    ]);
    // The output is printed as usual, too.
    assert_raw(&out, &[&blob[..], b"hello\n"].concat(), b"e\xff", 1);

    assert_eq!(fs::read(results.join("1/stdout")).unwrap(), blob);
    assert_eq!(fs::read(results.join("1/stderr")).unwrap(), b"e\xff");
    assert_eq!(fs::read(results.join("2/stdout")).unwrap(), b"hello\n");
    assert_eq!(fs::read(results.join("2/stderr")).unwrap(), b"");
    for (seq, item, code) in [(1, "bin", 0), (2, "text", 4)] {
        let meta = fs::read_to_string(results.join(format!("{seq}/meta.json"))).unwrap();
        let rec: Value = serde_json::from_str(&meta).unwrap();
        assert_eq!(keys(&rec), sorted(META_KEYS), "{meta}");
        assert_eq!(rec["seq"], seq, "{meta}");
        assert_eq!(
            rec["args"],
            serde_json::json!([item, file.to_str().unwrap()]),
            "{meta}"
        );
        assert_eq!(rec["exit_code"], code, "{meta}");
        assert!(rec["signal"].is_null(), "{meta}");
        assert!(rec["start"].is_f64() && rec["runtime"].is_f64(), "{meta}");
        assert_eq!(rec["attempts"], 1, "{meta}");
        assert_eq!(rec["slot"], 1, "{meta}");
    }
    let mut entries: Vec<String> = fs::read_dir(&results)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    entries.sort();
    assert_eq!(entries, ["1", "2"]);
}

// ---- -k in every mode ----

fn reverse_finish(mode: &[&str]) -> Output {
    let mut args = mode.to_vec();
    args.extend([
        "-k",
        "-j3",
        "sh",
        "-c",
        "sleep $1; echo $1",
        "sh",
        ":::",
        "0.3",
        "0.2",
        "0.1",
    ]);
    run_raw(args)
}

#[test]
fn keep_order_in_group_mode() {
    assert_raw(&reverse_finish(&[]), b"0.3\n0.2\n0.1\n", b"", 0);
}

#[test]
fn keep_order_in_line_buffer_mode() {
    assert_raw(&reverse_finish(&["--lb"]), b"0.3\n0.2\n0.1\n", b"", 0);
}

#[test]
fn keep_order_is_ignored_in_ungroup_mode_as_in_gnu_parallel() {
    // -u passes output through as it comes: the first job to finish prints first.
    assert_raw(&reverse_finish(&["-u"]), b"0.1\n0.2\n0.3\n", b"", 0);
}

#[test]
fn keep_order_with_tag_in_every_mode() {
    for mode in [&[][..], &["--lb"]] {
        let mut args = mode.to_vec();
        args.push("--tag");
        assert_raw(
            &reverse_finish(&args),
            b"0.3\t0.3\n0.2\t0.2\n0.1\t0.1\n",
            b"",
            0,
        );
    }
}

#[test]
fn without_keep_order_output_follows_completion() {
    let mut args = vec!["--lb", "-j3", "sh", "-c", "sleep $1; echo $1", "sh", ":::"];
    args.extend(["0.6", "0.3", "0"]);
    assert_raw(&run_raw(args), b"0\n0.3\n0.6\n", b"", 0);
}

#[test]
fn keep_order_line_buffer_streams_the_first_job_live() {
    keep_order_streams_the_first_job_live(&["--lb"]);
}

#[test]
fn keep_order_group_streams_the_first_job_live() {
    keep_order_streams_the_first_job_live(&["--group"]);
}

/// Job 1 prints a line, sleeps, prints another; job 2 prints at once. Under -k the first
/// job's first line must appear while it is still running, and job 2's line only after job
/// 1 is done.
fn keep_order_streams_the_first_job_live(mode: &[&str]) {
    let mut child = StdCommand::new(pmap_path())
        .args(mode)
        .args([
            "-k",
            "-j2",
            "sh",
            "-c",
            "case $1 in 1) echo first; sleep 1; echo second;; 2) echo other;; esac",
            "sh",
            ":::",
            "1",
            "2",
        ])
        .env_remove("PMAP_SHELL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = LineReader::new(child.stdout.take().unwrap());
    assert_eq!(
        lines.next_line(Duration::from_secs(10)).as_deref(),
        Some(&b"first\n"[..])
    );
    let first_at = Instant::now();
    assert_eq!(
        lines.next_line(Duration::from_secs(10)).as_deref(),
        Some(&b"second\n"[..])
    );
    let gap = first_at.elapsed();
    assert!(
        gap >= Duration::from_millis(600),
        "job 1's first line came only {gap:?} before its second: it was not streamed live"
    );
    assert_eq!(
        lines.next_line(Duration::from_secs(10)).as_deref(),
        Some(&b"other\n"[..])
    );
    assert_eq!(lines.next_line(Duration::from_secs(10)), None);
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(10)), 0);
    let err = common::read_all(child.stderr.take().unwrap());
    assert_eq!(err, "");
}

#[test]
fn keep_order_group_holds_stderr_with_its_job() {
    let (both, code) = run_merged_fds(&[
        "-k",
        "-j3",
        "sh",
        "-c",
        "sleep $1; echo o$1; echo e$1 >&2",
        "sh",
        ":::",
        "0.3",
        "0.2",
        "0.1",
    ]);
    assert_eq!(code, 0);
    assert_eq!(show(&both), show(b"o0.3\ne0.3\no0.2\ne0.2\no0.1\ne0.1\n"));
}
