//! SPEC §2: replacement strings, `-I`, appending, several values, the job environment, and
//! bad templates.

mod common;

use std::fs;

use common::run;

/// A command that prints each of its arguments as `[arg]` on its own line.
const BRACKETS: [&str; 4] = ["sh", "-c", "for a; do printf '[%s]\\n' \"$a\"; done", "sh"];

fn args<'a>(parts: &[&[&'a str]]) -> Vec<&'a str> {
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}

#[test]
fn braces_are_the_item() {
    run(["-k", "echo", "<{}>", ":::", "a b", "c"], "").ok("<a b>\n<c>\n");
}

#[test]
fn dot_removes_the_last_extension_of_the_basename() {
    run(
        [
            "-k",
            "echo",
            "{.}",
            ":::",
            "file.txt",
            "dir/x.tar.gz",
            "a.d/b",
            ".bashrc",
            "dir/.bashrc",
            "noext",
            "/abs/p.q",
        ],
        "",
    )
    .ok("file\ndir/x.tar\na.d/b\n.bashrc\ndir/.bashrc\nnoext\n/abs/p\n");
}

#[test]
fn slash_is_the_basename() {
    run(
        [
            "-k",
            "echo",
            "{/}",
            ":::",
            "dir/x.tar.gz",
            "a/b/c",
            "noslash",
            ".bashrc",
        ],
        "",
    )
    .ok("x.tar.gz\nc\nnoslash\n.bashrc\n");
}

#[test]
fn double_slash_is_the_dirname_or_dot() {
    run(
        [
            "-k",
            "echo",
            "{//}",
            ":::",
            "dir/x.tar.gz",
            "a/b/c",
            "noslash",
            "/x",
        ],
        "",
    )
    .ok("dir\na/b\n.\n/\n");
}

#[test]
fn slash_dot_is_the_basename_without_extension() {
    run(
        [
            "-k",
            "echo",
            "{/.}",
            ":::",
            "dir/x.tar.gz",
            "a.d/b",
            ".bashrc",
            "d/.bashrc",
            "f.c",
        ],
        "",
    )
    .ok("x.tar\nb\n.bashrc\n.bashrc\nf\n");
}

#[test]
fn several_replacement_strings_in_one_word() {
    run(["-k", "echo", "{/.}:{//}:{.}:{}", ":::", "d/e/f.x"], "").ok("f:d/e:d/e/f:d/e/f.x\n");
}

#[test]
fn hash_is_the_job_number_from_one() {
    run(["-k", "-j1", "echo", "{#}", "{}", ":::", "a", "b", "c"], "").ok("1 a\n2 b\n3 c\n");
    run(["-k", "-j4", "echo", "{#}-{}", ":::", "a", "b", "c"], "").ok("1-a\n2-b\n3-c\n");
}

#[test]
fn hash_counts_jobs_not_items() {
    run(
        ["-k", "-n", "2", "echo", "{#}", "{}", ":::", "a", "b", "c"],
        "",
    )
    .ok("1 a b\n2 c\n");
}

#[test]
fn hash_alone_is_a_replacement_string_so_nothing_is_appended() {
    // SPEC §2 lists {#} and {%} as replacement strings, and values are appended only when
    // the command contains none (GNU parallel: `parallel echo {#} ::: A B C` prints 1 2 3).
    run(["-k", "echo", "{#}", ":::", "a", "b", "c"], "").ok("1\n2\n3\n");
    run(["-k", "-j1", "echo", "{%}", ":::", "a", "b"], "").ok("1\n1\n");
}

#[test]
fn percent_with_one_job_is_always_one() {
    run(["-k", "-j1", "echo", "{%}", "{}", ":::", "a", "b", "c"], "").ok("1 a\n1 b\n1 c\n");
}

#[test]
fn percent_is_within_one_to_jobs() {
    let out = run(
        [
            "-k", "-j3", "echo", "{%}", "{}", ":::", "a", "b", "c", "d", "e", "f", "g",
        ],
        "",
    );
    assert_eq!(out.code, 0, "{out:?}");
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let items: Vec<&str> = text.lines().map(|l| l.split(' ').nth(1).unwrap()).collect();
    assert_eq!(items, ["a", "b", "c", "d", "e", "f", "g"], "{out:?}");
    for line in text.lines() {
        let slot: usize = line.split(' ').next().unwrap().parse().unwrap();
        assert!((1..=3).contains(&slot), "slot out of range: {line}");
    }
}

#[test]
fn percent_of_concurrent_jobs_differ() {
    // Both jobs run at the same time (each sleeps), so they must hold different slots.
    let out = run(
        [
            "-j2",
            "sh",
            "-c",
            "sleep 0.2; echo \"$1\"",
            "sh",
            "{%}",
            ":::",
            "a",
            "b",
        ],
        "",
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.sorted_lines(), ["1", "2"], "{out:?}");
}

#[test]
fn numbered_sources() {
    run(
        ["-k", "echo", "{2}", "{1}", ":::", "a", "b", ":::", "1", "2"],
        "",
    )
    .ok("1 a\n2 a\n1 b\n2 b\n");
}

#[test]
fn numbered_sources_with_transforms() {
    run(
        [
            "-k",
            "echo",
            "{1.}",
            "{2/}",
            "{1//}",
            "{1/.}",
            "{2.}",
            "{2//}",
            "{2/.}",
            "{1/}",
            ":::",
            "d/x.tar.gz",
            ":::",
            "e/f/y.txt",
        ],
        "",
    )
    .ok("d/x.tar y.txt d x.tar e/f/y e/f y x.tar.gz\n");
}

#[test]
fn dash_i_renames_the_braces() {
    run(["-I", "%", "echo", "%.bak", ":::", "f"], "").ok("f.bak\n");
}

#[test]
fn dash_i_makes_plain_braces_literal() {
    run(["-I", "%", "echo", "%", "{}", ":::", "f"], "").ok("f {}\n");
    run(["-k", "-I", "XX", "echo", "aXXb", ":::", "1", "2"], "").ok("a1b\na2b\n");
}

#[test]
fn values_are_appended_when_there_is_no_replacement_string() {
    run(["-k", "echo", "x", ":::", "a", "b"], "").ok("x a\nx b\n");
    run(args(&[&BRACKETS, &[":::", "a b", ":::", "c"]]), "").ok("[a b]\n[c]\n");
}

#[test]
fn whole_word_braces_with_several_sources_are_separate_arguments() {
    run(
        args(&[&["-k"], &BRACKETS, &["{}", ":::", "a b", ":::", "c"]]),
        "",
    )
    .ok("[a b]\n[c]\n");
}

#[test]
fn braces_inside_a_longer_word_join_values_with_spaces() {
    run(
        args(&[&["-k"], &BRACKETS, &["x{}y", ":::", "a b", ":::", "c"]]),
        "",
    )
    .ok("[xa b cy]\n");
}

#[test]
fn transformed_whole_word_braces_are_separate_arguments_too() {
    run(
        args(&[&["-k"], &BRACKETS, &["{/}", ":::", "d/a.x", ":::", "e/b.y"]]),
        "",
    )
    .ok("[a.x]\n[b.y]\n");
}

#[test]
fn job_environment_has_seq_and_slot() {
    run(
        [
            "-k",
            "-j1",
            "sh",
            "-c",
            "echo $PMAP_SEQ $PMAP_SLOT",
            ":::",
            "a",
            "b",
        ],
        "",
    )
    .ok("1 1\n2 1\n");
}

#[test]
fn job_environment_in_shell_mode() {
    run(
        ["-k", "-j1", "echo $PMAP_SEQ:$PMAP_SLOT:{}", ":::", "a", "b"],
        "",
    )
    .ok("1:1:a\n2:1:b\n");
}

#[test]
fn shell_mode_replacement_strings() {
    run(["-k", "echo {#}:{}:{.}:{1/}", ":::", "d/a.b", "c"], "").ok("1:d/a.b:d/a:a.b\n2:c:c:c\n");
}

// ---- bad templates ----

fn assert_template_rejected(command: &[&str], sources: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let marker = marker.to_str().unwrap();
    let mut argv: Vec<&str> = vec!["sh", "-c", "touch \"$0\"", marker];
    argv.extend(command);
    argv.extend(sources);
    let out = run(&argv, "");
    out.usage_error();
    assert!(
        !std::path::Path::new(marker).exists(),
        "a job ran for {command:?}"
    );
}

#[test]
fn unclosed_brace_is_a_usage_error() {
    assert_template_rejected(&["{"], &[":::", "a"]);
    assert_template_rejected(&["{1"], &[":::", "a"]);
    assert_template_rejected(&["x{/."], &[":::", "a"]);
    run(["echo", "{", ":::", "a"], "").usage_error();
    run(["echo", "{1", ":::", "a"], "").usage_error();
}

#[test]
fn unclosed_brace_in_shell_mode_is_a_usage_error() {
    run(["echo {1", ":::", "a"], "").usage_error();
    run(["echo {", ":::", "a"], "").usage_error();
}

#[test]
fn index_zero_is_a_usage_error() {
    assert_template_rejected(&["{0}"], &[":::", "a"]);
    run(["echo", "{0}", ":::", "a"], "").usage_error();
    run(["echo", "{0.}", ":::", "a"], "").usage_error();
}

#[test]
fn index_beyond_the_sources_without_colsep_is_a_usage_error() {
    assert_template_rejected(&["{3}"], &[":::", "a", ":::", "b"]);
    run(["echo", "{3}", ":::", "a", ":::", "b"], "").usage_error();
    run(["echo", "{2}", ":::", "a"], "").usage_error();
}

#[test]
fn index_beyond_the_sources_is_fine_with_colsep_or_max_args() {
    run(["--colsep", ",", "echo", "{3}", ":::", "a,b,c"], "").ok("c\n");
    run(["-k", "-n", "2", "echo", "{2}", ":::", "a", "b"], "").ok("b\n");
}

// ---- literal braces ----

#[test]
fn unknown_braces_stay_literal() {
    run(["echo", "{foo}", "{}", ":::", "a"], "").ok("{foo} a\n");
    run(["echo", "{foo}", ":::", "a"], "").ok("{foo} a\n");
    run(["echo", "a{b", ":::", "x"], "").ok("a{b x\n");
    run(["echo", "}", "{.x}", ":::", "x"], "").ok("} {.x} x\n");
}

#[test]
fn awk_program_braces_stay_literal() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("data");
    fs::write(&f, "hello\nworld\n").unwrap();
    run(
        ["awk", "{print \"<\" $0 \">\"}", ":::", f.to_str().unwrap()],
        "",
    )
    .ok("<hello>\n<world>\n");
}

#[test]
fn shell_braces_stay_literal_in_shell_mode() {
    run(
        ["i=1; echo ${i}{}${i}; f() { echo in-f; }; f", ":::", "a"],
        "",
    )
    .ok("1a1\nin-f\n");
}

// ---- values inside the template's own quotes ----

#[test]
fn values_inside_quotes_of_the_template_are_exactly_the_item() {
    let items = ["a  b", "it's", "$HOME"];
    let expected = "[a  b]\n[it's]\n[$HOME]\n";
    for command in [r#"printf "[%s]\n" "{}""#, r"printf '[%s]\n' '{}'"] {
        let mut argv = vec!["-k", command, ":::"];
        argv.extend(items);
        run(&argv, "").ok(expected);
    }
}

/// Items that run code, expand or break the line if a shell reads them as anything but data.
const HOSTILE: &[&str] = &[
    "$(touch pwned)",
    "`touch pwned`",
    "\"; touch pwned; \"",
    "'; touch pwned; '",
    "\\",
    "\\\"",
    "$HOME",
    "${HOME}",
    "!",
    "a\ntouch pwned\nb",
    "it's",
    "'\"$(touch pwned)\"'",
    "\\$(touch pwned)",
    "\\`touch pwned\\`",
    "; touch pwned",
    "| touch pwned",
    "&& touch pwned &",
    "> pwned",
    "*",
    "a  b",
    "'",
    "\"",
    "$'\\x41'",
    "# not a comment",
    "\"'\"'\"",
];

/// Runs each template form with `print` as the command in `shell` (`None`: pmap's default,
/// `/bin/sh`) over [`HOSTILE`], in a fresh directory, and returns what went wrong.
fn hostile_failures(print: &str, shell: Option<&std::path::Path>) -> Vec<String> {
    // (template, what stands before and after the item in the output)
    let forms = [
        ("{p} {}", "", ""),
        (r#"{p} "{}""#, "", ""),
        ("{p} '{}'", "", ""),
        (r#"{p} "a{}b""#, "a", "b"),
        ("{p} 'a{}b'", "a", "b"),
        (r#"{p} "x" {} 'y'"#, "x ", " y"),
    ];
    let stdin = HOSTILE.join(",");
    let mut failures = Vec::new();
    for (form, before, after) in forms {
        let command = form.replace("{p}", print);
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = common::pmap();
        cmd.current_dir(dir.path())
            .args(["-k", "-d", ",", &command]);
        if let Some(shell) = shell {
            cmd.env("PMAP_SHELL", shell);
        }
        let out = common::run_cmd(&mut cmd, stdin.clone());
        let expected: String = HOSTILE
            .iter()
            .map(|item| format!("{before}{item}{after}\n"))
            .collect();
        if out.stdout != expected.as_bytes() || out.code != 0 || !out.stderr.is_empty() {
            failures.push(format!("{command}: {out:?}"));
        }
        if dir.path().join("pwned").exists() {
            failures.push(format!("{command}: an item ran code (pwned exists)"));
        }
    }
    failures
}

#[test]
fn hostile_items_are_data_whatever_quotes_surround_them() {
    // dash's echo (the default /bin/sh) reads backslashes in its arguments, so there the
    // command is an echo made of printf; bash's echo prints its arguments as they are.
    let mut failures = hostile_failures(r#"e() { printf '%s\n' "$*"; }; e"#, None);
    if let Some(bash) = common::program_or_skip("bash", "bash") {
        failures.extend(hostile_failures("echo", Some(&bash)));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn dry_run_shows_values_quoted_for_the_quotes_they_stand_in() {
    run(
        [
            "-k",
            "--dry-run",
            r#"printf "[%s]\n" "{}" '{}'"#,
            ":::",
            "it's $HOME",
        ],
        "",
    )
    .ok("printf \"[%s]\\n\" \"it's \\$HOME\" '''it'\\''s $HOME'''\n");
}

#[test]
fn substitutions_inside_double_quotes_quote_values_afresh() {
    run(
        [
            "-k",
            r#"echo "$(printf '%s' {})" "`printf '%s' "{}"`""#,
            ":::",
            "a; b",
            "$x",
        ],
        "",
    )
    .ok("a; b a; b\n$x $x\n");
}
