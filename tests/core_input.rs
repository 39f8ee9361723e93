//! SPEC §1: the job reader — sources, delimiters, product and `--link`, `--colsep`, `-n`,
//! bytes, errors, streaming.

mod common;

use std::fs;
use std::io::Write;
use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use common::{LineReader, os, pmap, pmap_path, run, run_cmd, wait_with_timeout};

/// A command that prints each of its arguments as `[arg]` on its own line.
const BRACKETS: [&str; 4] = ["sh", "-c", "for a; do printf '[%s]\\n' \"$a\"; done", "sh"];

fn with_brackets<'a>(before: &[&'a str], after: &[&'a str]) -> Vec<&'a str> {
    let mut args: Vec<&str> = before.to_vec();
    args.extend(BRACKETS);
    args.extend(after);
    args
}

// ---- standard input, one item per line ----

#[test]
fn stdin_gives_one_item_per_line() {
    run(["-k", "echo"], "a\nb\nc\n").ok("a\nb\nc\n");
}

#[test]
fn stdin_items_keep_spaces_tabs_quotes_and_carriage_returns() {
    run(
        with_brackets(&["-k"], &[]),
        "  a  b  \n\tx\t\r\n'q' \"d\" \\z\n",
    )
    .ok("[  a  b  ]\n[\tx\t\r]\n['q' \"d\" \\z]\n");
}

#[test]
fn empty_line_is_an_empty_item() {
    run(["-k", "echo"], "a\n\nb\n").ok("a\n\nb\n");
    run(with_brackets(&["-k"], &[]), "a\n\nb\n").ok("[a]\n[]\n[b]\n");
}

#[test]
fn a_lone_newline_is_one_empty_item() {
    run(with_brackets(&["-k"], &[]), "\n").ok("[]\n");
}

#[test]
fn last_item_without_trailing_newline_is_still_an_item() {
    run(["-k", "echo"], "a\nb").ok("a\nb\n");
    run(with_brackets(&["-k"], &[]), "only").ok("[only]\n");
}

// ---- delimiters ----

#[test]
fn null_delimiter_short_and_long() {
    for flag in ["-0", "--null"] {
        run(with_brackets(&["-k", flag], &[]), "a b\0c\nd\0last").ok("[a b]\n[c\nd]\n[last]\n");
    }
}

#[test]
fn delimiter_single_byte() {
    run(with_brackets(&["-k", "-d", ","], &[]), "a,b c,,d\n").ok("[a]\n[b c]\n[]\n[d\n]\n");
}

#[test]
fn delimiter_escapes() {
    run(with_brackets(&["-k", "-d", "\\t"], &[]), "a\tb c\t").ok("[a]\n[b c]\n");
    run(with_brackets(&["-k", "-d", "\\0"], &[]), "a\0b\nc\0").ok("[a]\n[b\nc]\n");
    run(with_brackets(&["-k", "-d", "\\\\"], &[]), "a\\b\\c").ok("[a]\n[b]\n[c]\n");
    run(with_brackets(&["-k", "-d", "\\n"], &[]), "a\tb\nc\n").ok("[a\tb]\n[c]\n");
}

#[test]
fn delimiter_applies_to_arg_files_too() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("items");
    fs::write(&f, "x;y z;w").unwrap();
    run(
        with_brackets(&["-k", "-d", ";", "-a", f.to_str().unwrap()], &[]),
        "",
    )
    .ok("[x]\n[y z]\n[w]\n");
}

#[test]
fn a_delimiter_may_have_several_bytes_but_not_none() {
    run(["-k", "-d", "ab", "echo"], "xaby\n").ok("x\ny\n\n");
    let line = run(["-d", "", "echo"], "x").usage_error().to_owned();
    assert!(line.contains("delimiter"), "{line}");
}

#[test]
fn empty_delimiter_is_a_usage_error() {
    run(["-d", "", "echo"], "x\n").usage_error();
}

// ---- input sources ----

#[test]
fn inline_items() {
    run(["-k", "echo", ":::", "a", "b c", "d"], "").ok("a\nb c\nd\n");
}

#[test]
fn arg_file_is_a_source_and_stdin_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("items");
    fs::write(&f, "one\ntwo\n").unwrap();
    run(["-k", "-a", f.to_str().unwrap(), "echo"], "not\nused\n").ok("one\ntwo\n");
    run(
        ["-k", "--arg-file", f.to_str().unwrap(), "echo"],
        "not\nused\n",
    )
    .ok("one\ntwo\n");
}

#[test]
fn repeated_arg_files_are_separate_sources_in_a_product() {
    let dir = tempfile::tempdir().unwrap();
    let f1 = dir.path().join("letters");
    let f2 = dir.path().join("digits");
    fs::write(&f1, "a\nb\n").unwrap();
    fs::write(&f2, "1\n2\n3").unwrap();
    run(
        [
            "-k",
            "-a",
            f1.to_str().unwrap(),
            "-a",
            f2.to_str().unwrap(),
            "echo",
        ],
        "",
    )
    .ok("a 1\na 2\na 3\nb 1\nb 2\nb 3\n");
}

#[test]
fn quad_colon_files_each_file_a_source() {
    let dir = tempfile::tempdir().unwrap();
    let f1 = dir.path().join("f1");
    let f2 = dir.path().join("f2");
    fs::write(&f1, "a\nb\n").unwrap();
    fs::write(&f2, "1\n2\n").unwrap();
    run(["-k", "echo", "::::", f1.to_str().unwrap()], "").ok("a\nb\n");
    run(
        [
            "-k",
            "echo",
            "::::",
            f1.to_str().unwrap(),
            f2.to_str().unwrap(),
        ],
        "",
    )
    .ok("a 1\na 2\nb 1\nb 2\n");
}

#[test]
fn quad_colon_dash_is_stdin() {
    run(["-k", "echo", "::::", "-"], "x\ny\n").ok("x\ny\n");
    run(["-k", "echo", "::::", "-", ":::", "p", "q"], "1\n2\n").ok("1 p\n1 q\n2 p\n2 q\n");
    run(["-k", "echo", ":::", "p", "q", "::::", "-"], "1\n2\n").ok("p 1\np 2\nq 1\nq 2\n");
}

#[test]
fn arg_file_dash_is_stdin() {
    run(["-k", "-a", "-", "echo", ":::", "p"], "1\n2\n").ok("1 p\n2 p\n");
}

#[test]
fn product_varies_the_last_source_fastest() {
    run(["-k", "echo", ":::", "a", "b", ":::", "1", "2"], "").ok("a 1\na 2\nb 1\nb 2\n");
    run(
        [
            "-k", "echo", ":::", "a", "b", ":::", "1", "2", ":::", "x", "y",
        ],
        "",
    )
    .ok("a 1 x\na 1 y\na 2 x\na 2 y\nb 1 x\nb 1 y\nb 2 x\nb 2 y\n");
}

#[test]
fn arg_file_sources_come_before_inline_sources() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("items");
    fs::write(&f, "a\nb\n").unwrap();
    run(
        ["-k", "-a", f.to_str().unwrap(), "echo", ":::", "1", "2"],
        "",
    )
    .ok("a 1\na 2\nb 1\nb 2\n");
    // Also ahead of `::::` sources.
    let g = dir.path().join("more");
    fs::write(&g, "X\n").unwrap();
    run(
        [
            "-k",
            "-a",
            f.to_str().unwrap(),
            "echo",
            "::::",
            g.to_str().unwrap(),
        ],
        "",
    )
    .ok("a X\nb X\n");
}

#[test]
fn link_zips_and_wraps_the_shorter_second_source() {
    run(
        [
            "-k", "--link", "echo", ":::", "a", "b", "c", ":::", "1", "2",
        ],
        "",
    )
    .ok("a 1\nb 2\nc 1\n");
}

#[test]
fn link_zips_and_wraps_the_shorter_first_source() {
    run(
        [
            "-k", "--link", "echo", ":::", "a", "b", ":::", "1", "2", "3",
        ],
        "",
    )
    .ok("a 1\nb 2\na 3\n");
    run(
        ["-k", "--link", "echo", ":::", "a", ":::", "1", "2", "3"],
        "",
    )
    .ok("a 1\na 2\na 3\n");
}

#[test]
fn link_with_equal_lengths_and_three_sources() {
    run(
        [
            "-k", "--link", "echo", ":::", "a", "b", ":::", "1", "2", ":::", "x", "y",
        ],
        "",
    )
    .ok("a 1 x\nb 2 y\n");
}

#[test]
fn link_with_stdin_as_the_first_source() {
    run(
        ["-k", "--link", "echo", "::::", "-", ":::", "1", "2"],
        "a\nb\nc\n",
    )
    .ok("a 1\nb 2\nc 1\n");
    run(
        ["-k", "--link", "echo", "::::", "-", ":::", "1", "2", "3"],
        "a\n",
    )
    .ok("a 1\na 2\na 3\n");
}

// ---- --colsep ----

#[test]
fn colsep_splits_items_into_columns() {
    run(["-k", "--colsep", ",", "echo", "{2}", "{1}"], "a,b\nc,d\n").ok("b a\nd c\n");
}

#[test]
fn colsep_is_a_regex() {
    run(
        ["-k", "--colsep", "[,;]+", "echo", "{3}-{2}-{1}"],
        "a,;b;c\n",
    )
    .ok("c-b-a\n");
}

#[test]
fn colsep_missing_column_renders_empty() {
    run(
        with_brackets(&["-k", "--colsep", ","], &["{1}", "{3}"]),
        "a,b\n",
    )
    .ok("[a]\n[]\n");
}

#[test]
fn colsep_columns_are_numbered_across_sources() {
    run(
        [
            "-k", "--colsep", ",", "echo", "{4}", "{3}", "{2}", "{1}", ":::", "a,b", ":::", "c,d",
        ],
        "",
    )
    .ok("d c b a\n");
}

#[test]
fn colsep_all_columns_are_separate_arguments_of_whole_word_braces() {
    run(with_brackets(&["-k", "--colsep", ","], &["{}"]), "a b,c\n").ok("[a b]\n[c]\n");
}

// ---- -n / --max-args ----

#[test]
fn max_args_groups_items_into_jobs() {
    run(["-k", "-n", "2", "echo", ":::", "a", "b", "c"], "").ok("a b\nc\n");
    run(
        [
            "-k",
            "--max-args",
            "3",
            "echo",
            ":::",
            "1",
            "2",
            "3",
            "4",
            "5",
            "6",
        ],
        "",
    )
    .ok("1 2 3\n4 5 6\n");
}

#[test]
fn max_args_braces_are_all_items_as_separate_arguments() {
    run(
        [
            "-k",
            "-n",
            "2",
            "sh",
            "-c",
            "echo \"$# $*\"",
            "sh",
            "{}",
            ":::",
            "a",
            "b c",
            "d",
        ],
        "",
    )
    .ok("2 a b c\n1 d\n");
}

#[test]
fn max_args_numbered_values_and_a_short_last_job() {
    run(
        ["-k", "-n", "2", "echo", "{2}-{1}", ":::", "a", "b", "c"],
        "",
    )
    .ok("b-a\n-c\n");
}

#[test]
fn max_args_with_stdin() {
    run(["-k", "-n", "2", "echo"], "1\n2\n3\n4\n5\n").ok("1 2\n3 4\n5\n");
}

// ---- bytes ----

#[test]
fn non_utf8_stdin_items_pass_through_byte_exact() {
    run(["-k", "echo"], &b"\xff\xfe\nok\n\x80a\xc3\n"[..]).ok(&b"\xff\xfe\nok\n\x80a\xc3\n"[..]);
}

#[test]
fn non_utf8_inline_and_file_items_pass_through_byte_exact() {
    let out = run_cmd(
        pmap().args([
            os(b"-k"),
            os(b"echo"),
            os(b"<{}>"),
            os(b":::"),
            os(b"\xff\xfe"),
        ]),
        "",
    );
    out.ok(&b"<\xff\xfe>\n"[..]);

    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bytes");
    fs::write(&f, b"\xfe\xff\x01\n").unwrap();
    run(["-k", "-a", f.to_str().unwrap(), "echo", "{}"], "").ok(&b"\xfe\xff\x01\n"[..]);
}

// ---- errors ----

/// A command that leaves a marker file if it ever runs.
fn marker_command(marker: &std::path::Path) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        "touch \"$0\"; echo ran".into(),
        marker.to_str().unwrap().into(),
    ]
}

#[test]
fn missing_arg_file_is_exit_255_and_no_job_runs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let missing = dir.path().join("missing");
    let mut args = vec!["-a".to_string(), missing.to_str().unwrap().into()];
    args.extend(marker_command(&marker));
    args.extend([":::".into(), "x".into()]);
    let out = run(&args, "");
    let line = out.usage_error();
    assert!(line.starts_with("pmap: cannot read input file"), "{line}");
    assert!(
        line.contains("missing"),
        "the message names the file: {line}"
    );
    assert!(!marker.exists(), "a job ran");
}

#[test]
fn missing_quad_colon_file_is_exit_255_and_no_job_runs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let missing = dir.path().join("missing");
    let mut args = marker_command(&marker);
    args.extend([
        ":::".into(),
        "x".into(),
        "::::".into(),
        missing.to_str().unwrap().into(),
    ]);
    let out = run(&args, "");
    let line = out.usage_error();
    assert!(line.starts_with("pmap: cannot read input file"), "{line}");
    assert!(!marker.exists(), "a job ran");
}

#[test]
fn missing_first_source_file_is_exit_255_and_no_job_runs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let missing = dir.path().join("missing");
    let mut args = marker_command(&marker);
    args.extend([
        "::::".into(),
        missing.to_str().unwrap().into(),
        ":::".into(),
        "x".into(),
    ]);
    let out = run(&args, "");
    assert!(
        out.usage_error()
            .starts_with("pmap: cannot read input file"),
        "{out:?}"
    );
    assert!(!marker.exists(), "a job ran");
}

#[test]
fn directory_as_arg_file_is_exit_255() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let mut args = vec!["-a".to_string(), dir.path().to_str().unwrap().into()];
    args.extend(marker_command(&marker));
    let out = run(&args, "");
    assert!(
        out.usage_error()
            .starts_with("pmap: cannot read input file"),
        "{out:?}"
    );
    assert!(!marker.exists(), "a job ran");
}

// ---- no items ----

#[test]
fn empty_stdin_runs_no_job() {
    run(["echo", "ran"], "").ok("");
}

#[test]
fn inline_marker_without_items_runs_no_job() {
    run(["echo", "ran", ":::"], "").ok("");
}

#[test]
fn empty_arg_file_runs_no_job() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("empty");
    fs::write(&f, "").unwrap();
    run(["-a", f.to_str().unwrap(), "echo", "ran"], "").ok("");
}

#[test]
fn product_with_an_empty_source_runs_no_job() {
    run(["echo", "ran", ":::", "a", "b", ":::"], "").ok("");
}

// ---- streaming ----

#[test]
fn first_job_runs_before_input_ends() {
    let mut child = StdCommand::new(pmap_path())
        .args(["-j2", "echo", "got"])
        .env_remove("PMAP_SHELL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let lines = LineReader::new(child.stdout.take().unwrap());
    stdin.write_all(b"first\n").unwrap();
    stdin.flush().unwrap();
    let first = lines.next_line(Duration::from_secs(5));
    assert_eq!(first.as_deref(), Some(&b"got first\n"[..]));
    stdin.write_all(b"second\n").unwrap();
    drop(stdin);
    let rest = lines.rest(Duration::from_secs(10));
    assert_eq!(rest, b"got second\n");
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(10)), 0);
}
