//! Named columns (`--header` for items: `{name}`) and `--csv`. Expected bytes are what GNU
//! parallel 20221122 prints for the same command line (with Text::CSV for `--csv`), except
//! where a comment says why pmap differs.

mod common;

use std::path::Path;

use common::{Out, expect_stdout as ok, pmap, run_args as run, run_cmd};

fn run_in(dir: &Path, args: &[&str], stdin: &str) -> Out {
    run_cmd(pmap().current_dir(dir).args(args), stdin)
}

#[test]
fn the_first_item_of_each_source_names_it() {
    ok(
        &[
            "-k", "--header", ":", "echo", "{a}", "{b}", ":::", "a", "1", "2", ":::", "b", "x", "y",
        ],
        "",
        "1 x\n1 y\n2 x\n2 y\n",
    );
    // Any value of --header means the first item (GNU parallel's meaning for items).
    ok(
        &["-k", "--header", "2", "echo", "{a}", ":::", "a", "b", "1"],
        "",
        "b\n1\n",
    );
    ok(
        &[
            "-k", "--header", "z+", "--link", "echo", "{a}", "{b}", ":::", "a", "1", "2", "3",
        ]
        .into_iter()
        .chain([":::", "b", "x", "y"])
        .collect::<Vec<_>>(),
        "",
        "1 x\n2 y\n3 x\n",
    );
}

#[test]
fn colsep_columns_are_named_by_the_header_line() {
    let people = "name,age\nalice,30\nbob,25\n";
    ok(
        &[
            "-k",
            "--header",
            ":",
            "--colsep",
            ",",
            "echo",
            "{name} is {age}",
        ],
        people,
        "alice is 30\nbob is 25\n",
    );
    // {1} still works, and the header line never runs as a job.
    ok(
        &["-k", "--header", ":", "--colsep", ",", "echo", "{2}/{1}"],
        people,
        "30/alice\n25/bob\n",
    );
    ok(
        &["-k", "--header", ":", "--colsep", ",", "echo"],
        people,
        "alice 30\nbob 25\n",
    );
    // Without --colsep, columns are TAB-separated, and not trimmed.
    ok(
        &["-k", "--header", ":", "echo", "[{name}] is [{age}]"],
        "name\tage\n alice\t30\n",
        "[ alice] is [30]\n",
    );
}

#[test]
fn file_sources_have_headers_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.txt"), "f\none\ntwo\n").unwrap();
    std::fs::write(dir.path().join("g.txt"), "g\n1\n2\n").unwrap();
    let product = "one 1\none 2\ntwo 1\ntwo 2\n";
    for args in [
        &[
            "-k", "--header", ":", "echo", "{f}", "{g}", "::::", "f.txt", "g.txt",
        ][..],
        &[
            "-k", "--header", ":", "-a", "f.txt", "-a", "g.txt", "echo", "{f}", "{g}",
        ],
        &[
            "-k", "--header", ":", "-a", "f.txt", "echo", "{f}", "{g}", ":::", "g", "1", "2",
        ],
    ] {
        run_in(dir.path(), args, "").ok(product);
    }
    // --header 0: no header item; a file source is named by its path, as given.
    run_in(
        dir.path(),
        &[
            "-k",
            "--header",
            "0",
            "echo",
            "{f.txt}",
            "{g.txt/.}",
            "::::",
            "f.txt",
            "g.txt",
        ],
        "",
    )
    .ok("f g\nf 1\nf 2\none g\none 1\none 2\ntwo g\ntwo 1\ntwo 2\n");
}

#[test]
fn path_forms_of_names_and_unknown_names() {
    ok(
        &[
            "-k", "--header", ":", "echo", "{a.}", "{a/}", "{a//}", "{a/.}",
        ]
        .into_iter()
        .chain([":::", "a", "dir/f.tar.gz", "x.y"])
        .collect::<Vec<_>>(),
        "",
        "dir/f.tar f.tar.gz dir f.tar\nx x.y . x\n",
    );
    // An unknown {foo} is text; --plus's forms are not given to names (as in GNU parallel),
    // so `{a..}` is text too, and with no replacement string left the value is appended.
    ok(
        &["--header", ":", "echo", "{foo}", "{a}", ":::", "a", "1"],
        "",
        "{foo} 1\n",
    );
    ok(
        &[
            "--header", ":", "--plus", "echo", "{a..}", ":::", "a", "x.tar.gz",
        ],
        "",
        "{a..} x.tar.gz\n",
    );
    // A name with a space in it.
    ok(
        &["-k", "--header", ":", "--colsep", ",", "echo", "{col name}"],
        "col name,x\n1,2\n",
        "1\n",
    );
}

#[test]
fn names_in_tagstring_shell_lines_and_dry_run() {
    ok(
        &[
            "-k",
            "--header",
            ":",
            "--tagstring",
            "{a}-{b}",
            "echo",
            "{b}",
        ]
        .into_iter()
        .chain([":::", "a", "1", "2", ":::", "b", "x"])
        .collect::<Vec<_>>(),
        "",
        "1-x\tx\n2-x\tx\n",
    );
    ok(
        &[
            "-k",
            "--header",
            ":",
            "echo {a} | tr a-z A-Z",
            ":::",
            "a",
            "hello",
            "it's",
        ],
        "",
        "HELLO\nIT'S\n",
    );
    ok(
        &[
            "--dry-run",
            "--header",
            ":",
            "echo",
            "{a}",
            ":::",
            "a",
            "1",
            "x y",
        ],
        "",
        "echo 1\necho 'x y'\n",
    );
    // The program itself may be a named column.
    ok(
        &[
            "-k", "--header", ":", "{cmd}", "x", ":::", "cmd", "echo", "printf",
        ],
        "",
        "x\nx",
    );
}

#[test]
fn own_replacement_strings_win_over_column_names() {
    // GNU parallel rewrites {1} and {#} to the columns named "1" and "#" ("x x 1"); in pmap
    // {1} is always the first column and {#} the job's number.
    ok(
        &[
            "-k", "--header", ":", "echo", "{1}", "{#}", ":::", "#", "a", "b", ":::", "1", "x",
        ],
        "",
        "a 1\nb 2\n",
    );
    // Where two columns have the same name, the first counts (as in GNU parallel).
    ok(
        &[
            "--header", ":", "echo", "{a}", ":::", "a", "1", ":::", "a", "2",
        ],
        "",
        "1\n",
    );
}

#[test]
fn a_source_with_only_a_header_runs_nothing() {
    ok(&["--header", ":", "echo", "{a}", ":::", "a"], "", "");
    ok(&["--header", ":", "echo", "{a}"], "a\n", "");
    ok(&["--header", ":", "echo", "{a}"], "", "");
    ok(
        &[
            "-k", "--header", ":", "-n", "2", "echo", "{a}", "{b}", ":::", "a", "1", "2",
        ]
        .into_iter()
        .chain([":::", "b", "x", "y"])
        .collect::<Vec<_>>(),
        "",
        "1 x\n2 x\n",
    );
}

#[test]
fn csv_fields_may_hold_separators_quotes_and_newlines() {
    // The examples of GNU parallel's man page.
    ok(
        &["--csv", "echo", "{1}", "of", "{2}", "at", "{3}"],
        "\"1 big, 2 small\",\"2\"\"x4\"\" plank\",12.34\n",
        "1 big, 2 small of 2\"x4\" plank at 12.34\n",
    );
    ok(
        &[
            "--csv",
            "--colsep",
            ";",
            "echo",
            "Field 1: {1} Field 2: {2}",
        ],
        "\"Start of field 1 with newline\nLine 2 in field 1\";value 2\n",
        "Field 1: Start of field 1 with newline\nLine 2 in field 1 Field 2: value 2\n",
    );
    // With --header, the first record names the fields. pmap does not trim CSV fields,
    // even with --colsep (GNU parallel does then: "[bob]").
    let people = "name,age\n\"smith, j\",30\n\" bob \",25\n";
    for colsep in [&[][..], &["--colsep", ","]] {
        let args: Vec<&str> = ["-k", "--csv", "--header", ":"]
            .into_iter()
            .chain(colsep.iter().copied())
            .chain(["echo", "[{name}] is [{age}]"])
            .collect();
        ok(&args, people, "[smith, j] is [30]\n[ bob ] is [25]\n");
    }
    // Records may end in CRLF (GNU parallel refuses the record), or in NUL with -0.
    ok(
        &["-k", "--csv", "--header", ":", "echo", "{h2}{h1}"],
        "h1,h2\r\nx,y\r\n",
        "yx\n",
    );
    ok(
        &["-0", "-k", "--csv", "--header", ":", "echo", "{h2}", "{h1}"],
        "h1,h2\0\"x\ny\",z\0w,\"v\"\0",
        "z x\ny\nv w\n",
    );
}

#[test]
fn csv_from_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.csv"), "n,v\n\"a\nb\",1\nc,2\n").unwrap();
    let expected = "[a\nb]=1\n[c]=2\n";
    let cmd = ["echo", "[{n}]={v}"];
    let args: Vec<&str> = ["-k", "--csv", "--header", ":"]
        .into_iter()
        .chain(cmd)
        .chain(["::::", "c.csv"])
        .collect();
    run_in(dir.path(), &args, "").ok(expected);
    let args: Vec<&str> = ["-k", "--csv", "--header", ":", "-a", "c.csv"]
        .into_iter()
        .chain(cmd)
        .collect();
    run_in(dir.path(), &args, "").ok(expected);
}

#[test]
fn an_unclosed_csv_quote_is_an_error() {
    // GNU parallel also stops, with exit 255 ("CSV has unexpected format").
    let out = run(&["--csv", "echo", "[{1}]", "[{2}]"], "a,\"b\n");
    out.check(
        "",
        "pmap: cannot read input: --csv: a quoted field is not closed by the end of its \
         record: 'a,\"b\\n'\n",
        255,
    );
    let out = run(&["--csv", "--header", ":", "echo", "{a}"], "\"a\n");
    out.check(
        "",
        "pmap: cannot read input: --csv: a quoted field is not closed by the end of its \
         record: '\"a\\n'\n",
        255,
    );
}

#[test]
fn invalid_combinations_are_usage_errors() {
    // (the arguments, words of the message)
    for (args, names) in [
        (&["--csv", "--pipe", "cat"][..], "--csv shapes items"),
        (
            &["--csv", "--colsep", ",+", "echo"],
            "one character as --colsep",
        ),
        (
            &["--csv", "--colsep", "\\s+", "echo"],
            "one character as --colsep",
        ),
        (
            &["--csv", "--colsep", "\"", "echo"],
            "cannot be the field delimiter",
        ),
        (
            &["--header", ":", "--pool", "process", "cat"],
            "--pool process",
        ),
        (&["--header", ":", "-X", "echo"], "-X packs whole items"),
        (&["--csv", "-m", "echo"], "-m packs whole items"),
    ] {
        let out = run(args, "a\n");
        let line = out.usage_error();
        assert!(line.contains(names), "{args:?}: {line}");
    }
}
