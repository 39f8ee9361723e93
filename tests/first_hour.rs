//! What a new user meets in the first hour: Windows line ends, typos in flag names.

mod common;

use common::run_args as run;

#[test]
fn windows_line_ends_get_one_warning_and_split_with_a_two_byte_delimiter() {
    let crlf = "a\r\nb\r\nc\r\n";
    let out = run(&["-k", "printf", "[%s]\\n"], crlf);
    out.check(
        "[a\r]\n[b\r]\n[c\r]\n",
        "pmap: most input lines end in a carriage return (\\r), which stays in the items: \
         for Windows line ends, split with -d '\\r\\n'\n",
        0,
    );
    run(&["-k", "-d", "\\r\\n", "printf", "[%s]\\n"], crlf).ok("[a]\n[b]\n[c]\n");
    // A lone newline is part of an item under -d '\r\n'; a delimiter splits ::: items too.
    run(&["-k", "-d", "\\r\\n", "printf", "[%s]\\n"], "a\nb\r\nc").ok("[a\nb]\n[c]\n");
    run(&["-k", "-d", "::", "echo", ":::", "a::b:c"], "").ok("a\nb:c\n");
    // A few carriage returns among many lines are data, not line ends.
    let mostly_unix = "a\r\nb\nc\nd\n";
    run(&["-k", "-j1", "printf", "%s"], mostly_unix).ok("a\rbcd");
}

#[test]
fn a_mistyped_flag_keeps_claps_suggestion_on_one_line() {
    let out = run(&["--keep-ordr", "echo"], "");
    assert_eq!(
        out.usage_error(),
        "pmap: unexpected argument '--keep-ordr' found; a similar argument exists: \
         '--keep-order' (see 'pmap --help')"
    );
    let out = run(&["--pool", "fork", "echo"], "");
    assert_eq!(
        out.usage_error(),
        "pmap: invalid value 'fork' for '--pool <KIND>'; possible values: thread, process \
         (see 'pmap --help')"
    );
}

#[test]
fn a_job_ended_by_timeout_is_named_on_stderr() {
    let out = run(
        &[
            "-k",
            "--timeout",
            "0.5",
            "sleep {}; echo done {}",
            ":::",
            "0",
            "20",
        ],
        "",
    );
    out.check(
        "done 0\n",
        "pmap: job 2 timed out after 0.5s and was ended (--timeout): sleep 20; echo done 20\n",
        1,
    );
}

#[test]
fn results_meta_json_names_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("out");
    let out = run(
        &[
            "--results",
            results.to_str().unwrap(),
            "echo",
            "{}",
            ":::",
            "it's",
        ],
        "",
    );
    out.ok("it's\n");
    let meta = std::fs::read_to_string(results.join("1").join("meta.json")).unwrap();
    assert!(meta.contains(r#""command":"echo \"it's\"""#), "{meta}");
}

#[test]
fn keep_order_gives_way_to_ungroup() {
    let out = run(
        &["-k", "-u", "-j2", "sleep {}; echo {}", ":::", "1", "0.1"],
        "",
    );
    out.ok("0.1\n1\n");
}
