//! `--plus`'s counts (`{##}`, `{0#}`, `{0%}`) and bash-like forms, and xargs' `-i` and `-l`.
//! Expected bytes are what GNU parallel 20221122 prints for the same command line, except
//! where a comment says why pmap differs.

mod common;

use common::{expect_stdout as ok, run_args as run};

#[test]
fn total_and_zero_padded_numbers_need_no_total_jobs_flag() {
    let items: Vec<String> = (1..=10).map(|i| i.to_string()).collect();
    let mut args = vec!["--plus", "-k", "echo", "{0#}/{##}", ":::"];
    args.extend(items.iter().map(String::as_str));
    let expected: String = (1..=10).map(|i| format!("{i:02}/10\n")).collect();
    ok(&args, "", &expected);
    // From a pipe too: the jobs are counted before the first starts.
    ok(
        &["--plus", "-k", "--tagstring", "{0#}", "echo", "{##}"],
        "a\nb\nc\n",
        "1\t3\n2\t3\n3\t3\n",
    );
    // --total-jobs gives the number without reading ahead.
    ok(
        &["--plus", "-k", "--total-jobs", "100", "echo", "{0#}"],
        "a\nb\n",
        "001\n002\n",
    );
    let out = run(&["--plus", "-j12", "echo", "{0%}", ":::", "x"], "");
    assert!(
        matches!(out.stdout.as_slice(), [b'0'..=b'1', b'0'..=b'9', b'\n']),
        "{out:?}"
    );
    let out = run(&["--plus", "-j9", "echo", "{0%}", ":::", "x"], "");
    assert!(
        matches!(out.stdout.as_slice(), [b'1'..=b'9', b'\n']),
        "{out:?}"
    );
    // Without --plus, {##} is not a replacement string.
    ok(&["echo", "{##}", ":::", "x"], "", "{##} x\n");
}

#[test]
fn bash_like_forms_edit_the_value() {
    ok(
        &[
            "--plus", "echo", "{:2}", "{:1:3}", "{#a*b}", "{##a*b}", "{%.*z}", "{%%.*z}", "{/b/X}",
            "{^aa}", "{^^b}", ":::", "aabbabzz",
        ],
        "",
        "bbabzz abb babzz babzz aabbabz  aaXbabzz AAbbabzz aaBBaBzz\n",
    );
    ok(
        &[
            "--plus",
            "echo",
            "{//\\./_}",
            "{/\\./_}",
            ":::",
            "my.file.tar.GZ",
        ],
        "",
        "my_file_tar_GZ my_file.tar.GZ\n",
    );
    ok(
        &[
            "--plus",
            "echo",
            "{,,A}",
            "{,A}",
            "{1:-none}",
            ":::",
            "ABCA",
        ],
        "",
        "aBCa aBCA ABCA\n",
    );
    ok(
        &[
            "--plus",
            "--tagstring",
            "{%.txt}",
            "echo",
            "{/a/b}",
            ":::",
            "a.txt",
        ],
        "",
        "a\tb.txt\n",
    );
    let out = run(&["--plus", "echo", "{/(/x}", ":::", "a"], "");
    assert_eq!(out.code, 255);
    assert_eq!(
        out.stderr,
        "pmap: '{/(/x}': invalid regex: unclosed group\n"
    );
}

#[test]
fn xargs_i_and_l_are_capital_i_braces_and_capital_l_one() {
    // xargs' -i takes its replacement string only as -i=STR (GNU parallel's -i would take
    // the next word, the command, as the string).
    ok(&["-k", "-i", "echo", "x{}y"], "a\nb\n", "xay\nxby\n");
    ok(
        &["-k", "--replace=Z", "echo", "xZy"],
        "a\nb\n",
        "xay\nxby\n",
    );
    // A line ending in a blank goes on to the next, as xargs -L and GNU parallel -l.
    ok(&["-k", "-l", "echo"], "a b \nc\nd\n", "a b c\nd\n");
    ok(&["-k", "-l=2", "echo"], "a\nb\nc\n", "a b\nc\n");
}

#[test]
fn plus_path_forms_leave_a_name_with_too_few_extensions_whole() {
    // What `parallel --plus echo {..} {...} {/..} {+..} {+...} ::: VALUE` prints.
    for (value, expected) in [
        ("x.y", "x.y x.y x.y  \n"),
        ("a.b.c", "a a.b.c a b.c \n"),
        ("dir/a.b.c.d", "dir/a.b dir/a a.b c.d b.c.d\n"),
    ] {
        ok(
            &[
                "--plus", "echo", "{..}", "{...}", "{/..}", "{+..}", "{+...}", ":::", value,
            ],
            "",
            expected,
        );
    }
}
