//! The spellings GNU parallel and xargs users type without thinking: aliases, repeated
//! flags, values that begin with `-`, and accepted no-ops. Expected bytes are what GNU
//! parallel 20221122 prints for the same command line.

mod common;

use common::{Out, pmap, run_cmd};

fn run(args: &[&str], stdin: &str) -> Out {
    run_cmd(pmap().args(args), stdin)
}

#[track_caller]
fn ok(args: &[&str], stdin: &str, expected: &str) {
    let out = run(args, stdin);
    assert_eq!(
        (String::from_utf8_lossy(&out.stdout).as_ref(), out.code),
        (expected, 0),
        "pmap {args:?}: {}",
        out.stderr
    );
}

#[test]
fn aliases_mean_what_they_do_in_gnu_parallel() {
    // -P is -j: one slot runs the items in order.
    ok(&["-P", "1", "echo"], "a\nb\n", "a\nb\n");
    ok(&["-P1", "sh", "-c", "echo $PMAP_SLOT"], "a\nb\n", "1\n1\n");
    // --xapply is --link.
    ok(
        &["-k", "--xapply", "echo", ":::", "a", "b", ":::", "1", "2"],
        "",
        "a 1\nb 2\n",
    );
    // --dr is --dry-run.
    ok(&["--dr", "echo", ":::", "x"], "", "echo x\n");
    // --jl is --joblog.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    ok(&["--jl", log.to_str().unwrap(), "true", ":::", "x"], "", "");
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    // --slf is --sshlogin-file, --ssh is --ssh-command (':' is this machine: no ssh runs).
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, ":\n").unwrap();
    let args = [
        "--slf",
        hosts.to_str().unwrap(),
        "--ssh",
        "false",
        "-k",
        "echo",
        ":::",
        "y",
    ];
    ok(&args, "", "y\n");
}

#[test]
fn will_cite_and_citation_are_accepted_and_do_nothing() {
    ok(&["--will-cite", "-k", "echo", ":::", "a"], "", "a\n");
    ok(&["--citation", "-k", "echo", ":::", "a"], "", "a\n");
}

#[test]
fn a_flag_given_twice_is_not_an_error_and_the_last_value_wins() {
    ok(&["-k", "-k", "echo", ":::", "a", "b"], "", "a\nb\n");
    ok(
        &["-j", "4", "-j", "1", "sh", "-c", "echo $PMAP_SLOT"],
        "a\nb\n",
        "1\n1\n",
    );
    let out = run(
        &["--tagstring", "x", "--tagstring", "y", "echo", ":::", "a"],
        "",
    );
    assert_eq!(out.stdout, b"y\ta\n");
}

#[test]
fn option_values_may_begin_with_a_dash() {
    ok(&["--tagstring", "-{}-", "echo", ":::", "x"], "", "-x-\tx\n");
    ok(&["-I", "-x-", "echo", "<-x->", ":::", "y"], "", "<y>\n");
    ok(
        &["-k", "--colsep", "-", "echo", "{2}"],
        "a-b\nc-d\n",
        "b\nd\n",
    );
    ok(&["-k", "-d", "-", "echo"], "a-b-", "a\nb\n");
}
