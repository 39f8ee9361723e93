//! The spellings GNU parallel and xargs users type without thinking: aliases, repeated
//! flags, values that begin with `-`, and accepted no-ops. Expected bytes are what GNU
//! parallel 20221122 prints for the same command line.

mod common;

use common::{expect_stdout as ok, pmap, run_args as run, run_cmd};

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

#[test]
fn end_marker_and_no_run_if_empty_shape_every_source() {
    // As GNU parallel 20221122: `parallel -k -E b echo ::: a b c` prints "a".
    ok(&["-k", "-E", "b", "echo", ":::", "a", "b", "c"], "", "a\n");
    ok(&["-k", "-E", "END", "echo"], "x\nEND\ny\n", "x\n");
    // `parallel -k -r echo x{}y ::: a '' ' ' b`
    ok(
        &["-k", "-r", "echo", "x{}y", ":::", "a", "", " ", "b"],
        "",
        "xay\nxby\n",
    );
    ok(&["-k", "--no-run-if-empty", "echo"], "\n \t\nz\n", "z\n");
    // Without -r, blank items are items.
    ok(&["-k", "echo", "x{}y", ":::", "a", ""], "", "xay\nxy\n");
}

#[test]
fn capital_n_is_items_per_job_and_zero_runs_the_command_bare() {
    // `printf 'a b\n\nc\n' | parallel -k -N0 echo foo`
    ok(
        &["-k", "-N0", "echo", "foo"],
        "a b\n\nc\n",
        "foo\nfoo\nfoo\n",
    );
    // `parallel -k -N2 echo ::: a b c d e` and `... echo {1}-{2} ::: a b c`
    ok(
        &["-k", "-N2", "echo", ":::", "a", "b", "c", "d", "e"],
        "",
        "a b\nc d\ne\n",
    );
    ok(
        &["-k", "-N2", "echo", "{1}-{2}", ":::", "a", "b", "c"],
        "",
        "a-b\nc-\n",
    );
    let out = run(&["-n", "2", "-N", "2", "echo", ":::", "a"], "");
    assert_eq!(out.code, 255, "{out:?}");
    assert!(out.stderr.starts_with("pmap: ") && out.stderr.lines().count() == 1);
}

#[test]
fn separators_of_item_lists_can_be_renamed() {
    ok(
        &["-k", "--arg-sep", ",,", "echo", ",,", "a", "b"],
        "",
        "a\nb\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("items");
    std::fs::write(&file, "x\ny\n").unwrap();
    let path = file.to_str().unwrap();
    ok(
        &["-k", "--arg-file-sep", "//", "echo", "//", path],
        "",
        "x\ny\n",
    );
    // With the list separator renamed, ::: is an ordinary word.
    ok(
        &["--arg-sep", ",,", "echo", ":::", ",,", "a"],
        "",
        "::: a\n",
    );
    let out = run(&["--arg-sep", "x", "--arg-file-sep", "x", "echo"], "");
    assert_eq!(out.code, 255, "{out:?}");
}

#[test]
fn quote_runs_a_lone_word_as_a_program_not_a_shell_line() {
    // Without -q, a lone word with shell syntax is a shell line.
    ok(&["echo a;echo b"], "x\n", "a\nb x\n");
    // With -q it is the name of a program, which does not exist.
    let out = run(&["-q", "echo a;echo b"], "x\n");
    assert_eq!((out.stdout.as_slice(), out.code), (&b""[..], 1), "{out:?}");
    assert!(
        out.stderr.contains("cannot run 'echo a;echo b'"),
        "{}",
        out.stderr
    );
    let out = run(&["-q", "--shell", "echo"], "x\n");
    assert_eq!(out.code, 255, "{out:?}");
}

#[test]
fn x_and_m_pack_as_many_items_as_fit() {
    // As GNU parallel 20221122: `seq 10 | parallel -k -j1 -s 20 -X echo`.
    let ten: String = (1..=10).map(|i| format!("{i}\n")).collect();
    ok(
        &["-k", "-j1", "-s", "20", "-X", "echo"],
        &ten,
        "1 2 3 4 5 6 7\n8 9 10\n",
    );
    // `seq 5 | parallel -k -j1 -s 30 -X echo pre{}post`: the word is repeated per item.
    let five = "1\n2\n3\n4\n5\n";
    let expected = "pre1post pre2post\npre3post pre4post\npre5post\n";
    ok(
        &["-k", "-j1", "-s", "30", "-X", "echo", "pre{}post"],
        five,
        expected,
    );
    // `-m` (and `--xargs`) put all items in place of {}, joined in a longer word.
    ok(
        &["-k", "-j1", "-m", "echo", "pre{}post"],
        five,
        "pre1 2 3 4 5post\n",
    );
    ok(&["-k", "-j1", "--xargs", "echo"], five, "1 2 3 4 5\n");
    // The end of the input is shared among the slots: 10 items, -j4, all of them fit.
    ok(
        &["-k", "-j4", "-X", "echo"],
        &ten,
        "1 2 3\n4 5 6\n7 8\n9 10\n",
    );
    // -n still caps a job.
    ok(
        &["-k", "-j1", "-n", "4", "-X", "echo"],
        &ten,
        "1 2 3 4\n5 6 7 8\n9 10\n",
    );
}

#[test]
fn find_print0_into_x_rm_runs_a_handful_of_commands() {
    let dir = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for i in 0..10_000 {
        let path = dir.path().join(format!("file-{i:05}.tmp"));
        std::fs::write(&path, "").unwrap();
        names.extend_from_slice(path.as_os_str().as_encoded_bytes());
        names.push(0);
    }
    let out = run_cmd(pmap().args(["-0", "-X", "-t", "rm"]), names);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let commands = out.stderr.lines().count();
    assert!((1..10).contains(&commands), "{commands} rm commands");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn packing_refuses_what_it_cannot_do() {
    for args in [
        &["-X", "echo a{}b"][..],         // one shell line: no words to repeat
        &["-s", "100", "echo"],           // -s without -X or -m
        &["-X", "--pipe", "cat"],         // blocks, not items
        &["-X", "--colsep", ",", "echo"], // columns split items
        &["-X", "-m", "echo"],            // one or the other
    ] {
        let out = run(args, "a\n");
        assert_eq!(out.code, 255, "{args:?}: {out:?}");
        assert!(
            out.stderr.starts_with("pmap: ") && out.stderr.lines().count() == 1,
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn plus_separators_link_a_source_to_the_one_before() {
    // GNU parallel's own example: `parallel echo ::: a b c :::+ 1 2 3 ::: X Y :::+ 11 22`.
    let args = [
        "-k", "echo", ":::", "a", "b", "c", ":::+", "1", "2", "3", ":::", "X", "Y", ":::+", "11",
        "22",
    ];
    let expected = "a 1 X 11\na 1 Y 22\nb 2 X 11\nb 2 Y 22\nc 3 X 11\nc 3 Y 22\n";
    ok(&args, "", expected);
    // Unlike --link, the shortest source sets the length: no wrapping.
    ok(
        &["-k", "echo", ":::", "a", "b", "c", ":::+", "1", "2"],
        "",
        "a 1\nb 2\n",
    );
    ok(
        &[
            "-k", "--link", "echo", ":::", "a", "b", "c", ":::", "1", "2",
        ],
        "",
        "a 1\nb 2\nc 1\n",
    );
    // ::::+ links a file; with --arg-sep the plus goes after the new separator.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("n");
    std::fs::write(&file, "1\n2\n").unwrap();
    let path = file.to_str().unwrap();
    ok(
        &["-k", "echo", ":::", "a", "b", "::::+", path, ":::", "x"],
        "",
        "a 1 x\nb 2 x\n",
    );
    ok(
        &[
            "-k",
            "--arg-sep",
            ",,",
            "echo",
            ",,",
            "a",
            "b",
            ",,+",
            "1",
            "2",
        ],
        "",
        "a 1\nb 2\n",
    );
}

#[test]
fn retries_counts_attempts_in_all_as_gnu_parallel() {
    // `parallel --retries N` makes N attempts in all (checked by hand with 20221122).
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("count");
    let script = format!("echo x >> {}; exit 1", count.display());
    for (n, attempts) in [("0", 1), ("1", 1), ("2", 2), ("3", 3)] {
        let _ = std::fs::remove_file(&count);
        let out = run(&["--retries", n, &script, ":::", "a"], "");
        assert_eq!(out.code, 1, "{out:?}");
        let made = std::fs::read_to_string(&count).unwrap().lines().count();
        assert_eq!(made, attempts, "--retries {n}");
    }
}

#[test]
fn delimiter_splits_command_line_items_and_escapes_work_in_tags() {
    // `parallel -k -d , echo ::: 'a,' 'b,,c'`
    ok(
        &["-k", "-d", ",", "echo", ":::", "a,", "b,,c"],
        "",
        "a\n\nb\n\nc\n",
    );
    // `parallel -k --tagstring 'a\tb' echo ::: x`
    ok(
        &["-k", "--tagstring", "a\\tb", "echo", ":::", "x"],
        "",
        "a\tb\tx\n",
    );
    ok(&["-k", "-d", "\\t", "echo"], "a\tb\t", "a\nb\n");
}

#[test]
fn colsep_trims_columns_and_trim_chooses_the_ends() {
    // As GNU parallel 20221122 prints each of these.
    ok(&["echo", "x{}x", ":::", " a "], "", "x a x\n");
    ok(&["--trim", "lr", "echo", "x{}x", ":::", " a "], "", "xax\n");
    ok(&["--trim", "l", "echo", "x{}x", ":::", " a "], "", "xa x\n");
    ok(
        &["--colsep", ",", "echo", "x{1}x{2}x", ":::", " a , b "],
        "",
        "xaxbx\n",
    );
    let right = [
        "--colsep",
        ",",
        "--trim",
        "r",
        "echo",
        "x{1}x{2}x",
        ":::",
        " a , b ",
    ];
    ok(&right, "", "x ax bx\n");
    ok(
        &[
            "--colsep", ",", "--trim", "n", "echo", "x{2}x", ":::", "a, b ",
        ],
        "",
        "x b x\n",
    );
}

#[test]
fn capital_l_and_n_repeat_a_word_per_item_as_gnu_parallel() {
    let input = "a b\nc\nd\n\ne \nf\n";
    // `parallel -k -L2 echo x{}x`: two lines per job; "e " ends in a blank, so "f" continues
    // it; a word with {} in it is repeated per item.
    ok(
        &["-k", "-L2", "echo", "x{}x"],
        input,
        "xa bx xcx\nxdx xx\nxe fx\n",
    );
    // `parallel -k -N2 echo x{}x`: no continuation.
    ok(
        &["-k", "-N2", "echo", "x{}x"],
        input,
        "xa bx xcx\nxdx xx\nxe x xfx\n",
    );
    // `parallel -k -n2 echo x{}x`: the values share the word.
    ok(
        &["-k", "-n2", "echo", "x{}x"],
        input,
        "xa b cx\nxd x\nxe  fx\n",
    );
    let out = run(&["-L", "2", "-n", "2", "echo"], "a\n");
    assert_eq!(out.code, 255, "{out:?}");
}

#[test]
fn pmap_opts_holds_default_options() {
    let out = run_cmd(
        pmap()
            .env("PMAP_OPTS", "-k --tagstring 't {}'")
            .args(["echo", ":::", "a", "b"]),
        "",
    );
    assert_eq!(
        (out.stdout.as_slice(), out.code),
        (&b"t a\ta\nt b\tb\n"[..], 0),
        "{out:?}"
    );
    // The command line's own options come after, so they win.
    let out = run_cmd(
        pmap()
            .env("PMAP_OPTS", "--tagstring x")
            .args(["--tagstring", "y", "echo", ":::", "a"]),
        "",
    );
    assert_eq!(out.stdout, b"y\ta\n");
    let out = run_cmd(
        pmap().env("PMAP_OPTS", "-k '").args(["echo", ":::", "a"]),
        "",
    );
    assert_eq!(out.code, 255, "{out:?}");
    assert!(out.stderr.starts_with("pmap: $PMAP_OPTS"), "{}", out.stderr);
}

#[test]
fn an_exported_bash_function_runs_as_the_command() {
    // What `doit() { echo "did $1"; }; export -f doit` puts in the environment.
    let function = "() {  echo \"did $1\"\n}";
    let with = |args: &[&str]| run_cmd(pmap().env("BASH_FUNC_doit%%", function).args(args), "");
    let out = with(&["-k", "doit", ":::", "a", "b c"]);
    assert_eq!(
        (out.stdout.as_slice(), out.code),
        (&b"did a\ndid b c\n"[..], 0),
        "{out:?}"
    );
    // In a shell line too: the line then runs under bash.
    let out = with(&["-k", "doit {} | tr a-z A-Z", ":::", "x"]);
    assert_eq!(out.stdout, b"DID X\n", "{out:?}");
    // Without the function, the name is just a missing program.
    let out = run(&["doit", ":::", "a"], "");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("cannot run 'doit'"), "{}", out.stderr);
}

#[test]
fn nice_runs_the_jobs_at_that_priority() {
    ok(
        &["-k", "--nice", "7", "ps -o ni= -p $$ | tr -d ' '; : {}"],
        "a\n",
        "7\n",
    );
    let worker = [
        "--nice",
        "5",
        "--pool",
        "process",
        "sh",
        "-c",
        "read x; ps -o ni= -p $$ | tr -d ' '",
    ];
    ok(&worker, "1\n", "5\n");
    let out = run(&["--nice", "30", "echo"], "a\n");
    assert_eq!(out.code, 255, "{out:?}");
}

#[test]
fn shuf_runs_every_job_once_in_a_random_order_numbered_as_run() {
    let items = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let mut orders = std::collections::HashSet::new();
    for _ in 0..5 {
        let args: Vec<&str> = ["--shuf", "-k", "echo", "{#}", "{}", ":::"]
            .into_iter()
            .chain(items)
            .collect();
        let out = run(&args, "");
        assert_eq!(out.code, 0, "{out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let mut seen: Vec<&str> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let (seq, item) = line.split_once(' ').unwrap();
            assert_eq!(seq, (i + 1).to_string(), "numbered in run order: {text}");
            seen.push(item);
        }
        orders.insert(seen.join(""));
        seen.sort_unstable();
        assert_eq!(seen, items, "every item once");
    }
    // Five shuffles of eight items all in one order: about one chance in 10^18.
    assert!(orders.len() > 1, "{orders:?}");
}

#[test]
fn perl_substitutions_and_user_replacement_strings() {
    // `parallel echo '{= s/\.gz$// =}' ::: b.tar.gz` and friends, as GNU parallel prints.
    ok(
        &["echo", r"{= s/\.gz$// =}", ":::", "b.tar.gz"],
        "",
        "b.tar\n",
    );
    ok(
        &["echo", "{=2 s/a/x/g =}", ":::", "1", ":::", "banana"],
        "",
        "bxnxnx\n",
    );
    ok(
        &[r"echo {= s/(\w+)-(\w+)/$2-$1/ =}", ":::", "ab-cd"],
        "",
        "cd-ab\n",
    );
    // Values stay data: a substitution's result is quoted like any value.
    ok(&["echo {= s/x/;echo/ =}", ":::", "x hi"], "", ";echo hi\n");
    let rpl = [
        "--rpl",
        r"{..} s/\.[^.]*$//",
        "echo",
        "{..}",
        ":::",
        "a.tar.gz",
    ];
    ok(&rpl, "", "a.tar\n");
    for bad in [
        &["echo", "{= $_ .= 1 =}", ":::", "x"][..],
        &["--rpl", "bad", "echo"],
    ] {
        let out = run(bad, "");
        assert_eq!(out.code, 255, "{bad:?}: {out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    }
    let out = run(&["echo", "{= tr/a/b/ =}", ":::", "x"], "");
    assert!(
        out.stderr.contains("supports only s/REGEX/REPLACEMENT/"),
        "{}",
        out.stderr
    );
}

#[test]
fn plus_replacement_strings_match_gnu_parallel() {
    // Each expected value is what `parallel --plus echo STRING ::: dir/sub/a.b.c.d` prints.
    for (string, expected) in [
        ("{..}", "dir/sub/a.b"),
        ("{...}", "dir/sub/a"),
        ("{/..}", "a.b"),
        ("{/...}", "a"),
        ("{+/}", "dir/sub"),
        ("{+.}", "d"),
        ("{+..}", "c.d"),
        ("{+...}", "b.c.d"),
    ] {
        let out = run(&["--plus", "echo", string, ":::", "dir/sub/a.b.c.d"], "");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{expected}\n"),
            "{string}"
        );
    }
    ok(
        &["--plus", "-k", "echo", "{:-none}", ":::", "", "x"],
        "",
        "none\nx\n",
    );
    // Without --plus they are not replacement strings: the value is appended.
    ok(&["echo", "{..}", ":::", "a.b.c"], "", "{..} a.b.c\n");
}
