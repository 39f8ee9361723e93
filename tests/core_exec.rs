//! SPEC §3 (and the grouped output of §5): direct and shell execution, hostile items,
//! `--shell`, `$PMAP_SHELL`, the job's stdin and process group, `--dry-run`, no command,
//! `-j`, concurrency, grouping and `-k`.

mod common;

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::{LineReader, os, pmap, pmap_path, run, run_cmd, wait_with_timeout};

/// Items that would do damage, or come out changed, if a shell or pmap ever interpreted
/// them. The ones that would create a file are checked by listing the working directory.
const HOSTILE: &[&[u8]] = &[
    b"a b",
    b"  lead and trail  ",
    b"it's",
    b"say \"hi\"",
    b"$(touch pwned1)",
    b"`touch pwned2`",
    b"; touch pwned3",
    b"; rm -rf ./decoy",
    b"' ; touch pwned4 ; '",
    b"\" ; touch pwned5 ; \"",
    b"| touch pwned6",
    b"&& touch pwned7 &",
    b"> pwned8",
    b"*",
    b"?ecoy",
    b"[d]ecoy",
    b"-n",
    b"-e",
    b"--help",
    b"{}",
    b"{1}",
    b"{#}",
    b"{.}",
    b"a\\b\\n",
    b"$HOME",
    b"~",
    b"~root",
    b"$((1+1))",
    b"!x",
    b"#comment",
    b"a\tb",
    b"line1\nline2",
    b"",
    b"\xff\xfe",
    b"caf\xc3\xa9",
];

fn expected_brackets(items: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        out.push(b'<');
        out.extend_from_slice(item);
        out.extend_from_slice(b">\n");
    }
    out
}

/// Runs pmap in a fresh directory holding only the file `decoy`, with `command` and the
/// hostile items as one `:::` source; checks the output and that the directory is intact.
fn run_hostile(command: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("decoy"), "").unwrap();
    let mut cmd = pmap();
    cmd.current_dir(dir.path())
        .arg("-k")
        .args(command)
        .arg(":::");
    for item in HOSTILE {
        cmd.arg(os(item));
    }
    let out = run_cmd(&mut cmd, "");
    out.ok(expected_brackets(HOSTILE));
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["decoy"], "an item was executed as shell code");
}

// ---- direct execution ----

#[test]
fn direct_mode_an_item_is_exactly_one_argument() {
    run(
        [
            "-k", "sh", "-c", "echo $#", "sh", "{}", ":::", "a b c", "", "*",
        ],
        "",
    )
    .ok("1\n1\n1\n");
}

#[test]
fn direct_mode_one_plain_word_appends_the_item_as_one_argument() {
    run(["-k", "echo", ":::", "a   b", "-x"], "").ok("a   b\n-x\n");
}

#[test]
fn direct_mode_hostile_items_are_byte_exact() {
    run_hostile(&["sh", "-c", "printf '<%s>\\n' \"$1\"", "sh", "{}"]);
}

#[test]
fn direct_mode_hostile_items_appended_are_byte_exact() {
    run_hostile(&["sh", "-c", "printf '<%s>\\n' \"$1\"", "sh"]);
}

#[test]
fn direct_mode_hostile_items_inside_a_longer_word() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = pmap();
    cmd.current_dir(dir.path()).args([
        "-k",
        "sh",
        "-c",
        "printf '%s\\n' \"$1\"",
        "sh",
        "<{}>",
        ":::",
    ]);
    for item in HOSTILE {
        cmd.arg(os(item));
    }
    run_cmd(&mut cmd, "").ok(expected_brackets(HOSTILE));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

// ---- shell mode ----

#[test]
fn shell_mode_hostile_items_are_byte_exact() {
    run_hostile(&["printf '<%s>\\n' {}"]);
}

#[test]
fn shell_mode_hostile_items_appended_are_byte_exact() {
    run_hostile(&["printf '<%s>\\n'"]);
}

#[test]
fn shell_mode_hostile_items_inside_a_longer_word() {
    run_hostile(&["printf '%s\\n' '<'{}'>'"]);
}

#[test]
fn shell_mode_hostile_items_with_transforms() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_cmd(
        pmap().current_dir(dir.path()).args([
            "-k",
            "printf '<%s>\\n' {/} {//} {.}",
            ":::",
            "$(touch x)/`touch y`; touch z.e'f",
        ]),
        "",
    );
    out.ok("<`touch y`; touch z.e'f>\n<$(touch x)>\n<$(touch x)/`touch y`; touch z>\n");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn one_word_with_shell_syntax_runs_in_the_shell() {
    run(["-k", "echo {} | tr a-z A-Z", ":::", "ab", "cd"], "").ok("AB\nCD\n");
    run(["echo {}>/dev/null; echo done", ":::", "x"], "").ok("done\n");
    run(["-k", "echo $((1+{}))", ":::", "1", "2"], "").ok("2\n3\n");
}

#[test]
fn shell_mode_uses_bin_sh_by_default() {
    run(["echo $0 {}", ":::", "x"], "").ok("/bin/sh x\n");
}

#[test]
fn large_item_direct_mode() {
    // Linux limits one argument to 128 KiB (MAX_ARG_STRLEN), so this is the largest item
    // any command can receive; it must arrive byte-exact.
    let item = large_item(100_000);
    let mut input = item.clone();
    input.push(0);
    run_cmd(
        pmap().args(["-0", "sh", "-c", "printf %s \"$1\"", "sh"]),
        input,
    )
    .ok(&item);
    let mut input = b"x".repeat(100_000);
    input.push(b'\n');
    run_cmd(
        pmap().args(["sh", "-c", "printf %s \"$1\" | wc -c", "sh"]),
        input,
    )
    .ok("100000\n");
}

#[test]
fn large_item_shell_mode() {
    let item = large_item(100_000);
    let mut input = item.clone();
    input.push(0);
    run_cmd(pmap().args(["-0", "printf %s {}"]), input).ok(&item);
    let mut input = b"x".repeat(100_000);
    input.push(b'\n');
    run_cmd(pmap().args(["printf %s {} | wc -c"]), input).ok("100000\n");
}

#[test]
fn item_too_large_for_exec_is_a_failed_job_with_one_message() {
    // 1 MB in one argument is beyond what execve accepts; the job fails cleanly.
    let mut input = b"x".repeat(1 << 20);
    input.push(b'\n');
    let out = run_cmd(pmap().args(["sh", "-c", "printf %s \"$1\"", "sh"]), input);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(
        out.stderr.starts_with("pmap: cannot run 'sh': ") && out.stderr.lines().count() == 1,
        "{out:?}"
    );
}

/// `len` bytes cycling through every byte value but NUL and newline.
fn large_item(len: usize) -> Vec<u8> {
    (1..=255u8)
        .filter(|&b| b != b'\n')
        .cycle()
        .take(len)
        .collect()
}

// ---- --shell and $PMAP_SHELL ----

#[test]
fn shell_flag_forces_the_shell_for_several_words() {
    run(
        [
            "--shell", "echo", "{}", "|", "tr", "a-z", "A-Z", ":::", "ab",
        ],
        "",
    )
    .ok("AB\n");
}

#[test]
fn shell_flag_still_quotes_items() {
    let dir = tempfile::tempdir().unwrap();
    run_cmd(
        pmap().current_dir(dir.path()).args([
            "-k",
            "--shell",
            "printf",
            "'<%s>\\n'",
            "{}",
            ":::",
            "$(touch x); touch y",
            "it's",
        ]),
        "",
    )
    .ok("<$(touch x); touch y>\n<it's>\n");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn shell_flag_with_one_plain_word() {
    run(["--shell", "echo", ":::", "a;b"], "").ok("a;b\n");
}

fn logging_shell(dir: &Path) -> (String, std::path::PathBuf) {
    let log = dir.join("log");
    let script = dir.join("myshell");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s|' \"$@\" >> '{}'\nprintf '\\n' >> '{}'\nexec /bin/sh \"$@\"\n",
            log.display(),
            log.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    (script.to_str().unwrap().to_owned(), log)
}

#[test]
fn pmap_shell_replaces_bin_sh() {
    let dir = tempfile::tempdir().unwrap();
    let (shell, log) = logging_shell(dir.path());
    run_cmd(
        pmap()
            .env("PMAP_SHELL", &shell)
            .args(["-k", "-j1", "echo {}", ":::", "a", "b c"]),
        "",
    )
    .ok("a\nb c\n");
    assert_eq!(
        fs::read_to_string(&log).unwrap(),
        "-c|echo a|\n-c|echo 'b c'|\n"
    );
}

#[test]
fn pmap_shell_is_used_by_the_shell_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (shell, log) = logging_shell(dir.path());
    run_cmd(
        pmap()
            .env("PMAP_SHELL", &shell)
            .args(["--shell", "echo", "{}", ":::", "x"]),
        "",
    )
    .ok("x\n");
    assert_eq!(fs::read_to_string(&log).unwrap(), "-c|echo x|\n");
}

#[test]
fn pmap_shell_bash_runs_bash_constructs() {
    if !Path::new("/bin/bash").exists() {
        eprintln!("skipped: no /bin/bash");
        return;
    }
    run_cmd(
        pmap().env("PMAP_SHELL", "/bin/bash").args([
            "-k",
            "[[ {} == a* ]] && echo yes-{} || echo no-{}; echo ${BASH_VERSION:+bash}",
            ":::",
            "abc",
            "xyz",
        ]),
        "",
    )
    .ok("yes-abc\nbash\nno-xyz\nbash\n");
}

#[test]
fn pmap_shell_is_not_used_in_direct_mode() {
    run_cmd(
        pmap()
            .env("PMAP_SHELL", "/nonexistent/shell")
            .args(["-k", "echo", "{}", ":::", "a"]),
        "",
    )
    .ok("a\n");
}

// ---- the job's stdin and process group ----

#[test]
fn job_stdin_is_dev_null() {
    run(
        ["sh", "-c", "cat; echo done", ":::", "x"],
        "pmap's own stdin must not reach the job\n",
    )
    .ok("done\n");
    run(["sh", "-c", "readlink /proc/$$/fd/0", ":::", "x"], "").ok("/dev/null\n");
}

#[test]
fn jobs_do_not_steal_the_input_stream() {
    run(["-k", "-j1", "sh", "-c", "cat; echo \"$0\""], "a\nb\nc\n").ok("a\nb\nc\n");
}

#[test]
fn each_job_leads_its_own_process_group() {
    let out = run(
        [
            "-k",
            "sh",
            "-c",
            "echo $(ps -o pgid= -p $$) $$",
            ":::",
            "a",
            "b",
        ],
        "",
    );
    assert_eq!(out.code, 0, "{out:?}");
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    let own_pgid = test_process_group();
    for line in lines {
        let parts: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(parts.len(), 2, "{line}");
        assert_eq!(parts[0], parts[1], "pgid differs from pid: {line}");
        assert_ne!(parts[0], own_pgid, "job is in the test's process group");
    }
}

fn test_process_group() -> String {
    common::ps(&["-o", "pgid=", "-p", &std::process::id().to_string()])
        .trim()
        .to_owned()
}

// ---- --dry-run ----

#[test]
fn dry_run_prints_each_command_quoted_in_input_order() {
    run(["--dry-run", "echo", "{}", ":::", "a b", "it's", "x"], "")
        .ok("echo 'a b'\necho \"it's\"\necho x\n");
    run(
        [
            "--dry-run",
            "echo",
            "{}",
            ":::",
            "a b",
            ":::",
            "it's",
            ":::",
            "x",
        ],
        "",
    )
    .ok("echo 'a b' \"it's\" x\n");
}

#[test]
fn dry_run_order_with_many_jobs() {
    let items: Vec<String> = (1..=50).map(|i| i.to_string()).collect();
    let mut argv = vec!["-j8", "--dry-run", "echo", ":::"];
    argv.extend(items.iter().map(String::as_str));
    let expected: String = items.iter().map(|i| format!("echo {i}\n")).collect();
    run(argv, "").ok(expected);
}

#[test]
fn dry_run_shell_mode_prints_the_shell_line() {
    run(["--dry-run", "echo {} | wc -c", ":::", "a b", "$(x)"], "")
        .ok("echo 'a b' | wc -c\necho '$(x)' | wc -c\n");
}

#[test]
fn dry_run_quotes_empty_and_special_arguments() {
    run(
        ["--dry-run", "printf", "%s\\n", "{}", ":::", "", "-n", "a\"b", "{}"],
        "",
    )
    .ok("printf \"%s\\\\n\" ''\nprintf \"%s\\\\n\" -n\nprintf \"%s\\\\n\" 'a\"b'\nprintf \"%s\\\\n\" '{}'\n");
}

#[test]
fn dry_run_output_pastes_into_a_shell_with_the_same_result() {
    let items = [
        "a b",
        "it's",
        "say \"hi\"",
        "$(echo pwned)",
        "`echo pwned`",
        "; echo pwned",
        "*",
        "-n",
        "",
        "back\\slash",
    ];
    let mut argv = vec!["-k", "printf", "<%s>\\n", "{}", ":::"];
    argv.extend(items);
    let real = run(&argv, "");
    let mut dry_argv = vec!["--dry-run"];
    dry_argv.extend(&argv);
    let dry = run(&dry_argv, "");
    assert_eq!(dry.code, 0, "{dry:?}");
    let dir = tempfile::tempdir().unwrap();
    let pasted = StdCommand::new("/bin/sh")
        .arg("-c")
        .arg(std::ffi::OsStr::new(
            std::str::from_utf8(&dry.stdout).unwrap(),
        ))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let expected: String = items.iter().map(|i| format!("<{i}>\n")).collect();
    real.ok(&expected);
    assert_eq!(
        String::from_utf8_lossy(&pasted.stdout),
        expected,
        "pasting the --dry-run lines into sh gave something else; dry run was:\n{}",
        String::from_utf8_lossy(&dry.stdout)
    );
}

#[test]
fn dry_run_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("f");
    let target_str = target.to_str().unwrap();
    assert!(
        target_str
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b)),
        "temp path needs quoting: {target_str}"
    );
    run(
        [
            "--dry-run",
            "touch",
            &format!("{target_str}{{}}"),
            ":::",
            "a",
            "b",
        ],
        "",
    )
    .ok(format!("touch {target_str}a\ntouch {target_str}b\n"));
    run(
        ["--dry-run", &format!("touch {target_str}{{}}"), ":::", "c"],
        "",
    )
    .ok(format!("touch {target_str}c\n"));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "a job ran");
}

#[test]
fn dry_run_without_command_prints_the_items() {
    run(["--dry-run", ":::", "echo a", "echo b"], "").ok("echo a\necho b\n");
}

// ---- no command ----

#[test]
fn no_command_runs_each_item_as_a_shell_line() {
    run(["-k", ":::", "echo a", "echo b"], "").ok("a\nb\n");
    run(["-k"], "echo x; echo y\necho z | tr z Z\n").ok("x\ny\nZ\n");
}

#[test]
fn no_command_joins_several_sources_with_spaces() {
    run(["-k", ":::", "echo", "printf '<%s>'", ":::", "hi"], "").ok("hi\n<hi>");
}

// ---- -j ----

#[test]
fn jobs_forms_all_run_correctly() {
    let forms: &[&[&str]] = &[
        &["-j1"],
        &["-j", "1"],
        &["-j", "3"],
        &["-j3"],
        &["--jobs", "2"],
        &["--jobs=2"],
        &["-j", "50%"],
        &["-j", "200%"],
        &["-j", "+1"],
        &["-j+1"],
        &["-j-1"],
        &["--jobs=-1"],
        &["-j", "0"],
        &["-j0"],
    ];
    let mut failures = Vec::new();
    for form in forms {
        let mut argv: Vec<&str> = form.to_vec();
        argv.extend(["-k", "echo", ":::", "a", "b", "c", "d"]);
        let out = run(&argv, "");
        if !(out.stdout == b"a\nb\nc\nd\n" && out.code == 0 && out.stderr.is_empty()) {
            failures.push(format!("{form:?}: {out:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn jobs_minus_n_as_a_separate_argument() {
    // `-j -1` (SPEC §3: `-N` relative to the CPUs) must not be mistaken for a flag.
    for form in [["-j", "-1"], ["--jobs", "-1"]] {
        let mut argv: Vec<&str> = form.to_vec();
        argv.extend(["-k", "echo", ":::", "a", "b"]);
        run(&argv, "").ok("a\nb\n");
    }
}

#[test]
fn bad_jobs_values_are_usage_errors() {
    let mut failures = Vec::new();
    for bad in ["x", "1.5", "", "%", "-x", "2x", "+"] {
        let out = run(["-j", bad, "echo", ":::", "a"], "");
        if !(out.code == 255
            && out.stdout.is_empty()
            && out.stderr.starts_with("pmap: ")
            && out.stderr.lines().count() == 1)
        {
            failures.push(format!("-j {bad:?}: {out:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---- concurrency ----

#[test]
fn j2_runs_two_jobs_at_once() {
    let start = Instant::now();
    run(
        ["-j2", "sh", "-c", "sleep 0.3", ":::", "a", "b", "c", "d"],
        "",
    )
    .ok("");
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(1000),
        "four 0.3 s jobs with -j2 took {took:?}"
    );
    assert!(took >= Duration::from_millis(550), "too fast: {took:?}");
}

#[test]
fn j1_runs_one_job_at_a_time() {
    let start = Instant::now();
    run(["-j1", "sh", "-c", "sleep 0.3", ":::", "a", "b"], "").ok("");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(550),
        "two 0.3 s jobs with -j1 took only {took:?}"
    );
}

#[test]
fn j0_runs_all_jobs_at_once() {
    let start = Instant::now();
    run(
        [
            "-j0",
            "sh",
            "-c",
            "sleep 0.3",
            ":::",
            "1",
            "2",
            "3",
            "4",
            "5",
            "6",
            "7",
            "8",
        ],
        "",
    )
    .ok("");
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(1000),
        "eight 0.3 s jobs with -j0 took {took:?}"
    );
}

// ---- grouped output ----

#[test]
fn output_bytes_are_exact() {
    run(["-k", "printf", "%s", ":::", "a", "b"], "").ok("ab");
    run(
        ["sh", "-c", "printf '\\000\\377\\r\\n\\001'", ":::", "x"],
        "",
    )
    .ok(&b"\x00\xff\r\n\x01"[..]);
}

#[test]
fn job_stderr_goes_to_stderr() {
    run(
        [
            "-k",
            "sh",
            "-c",
            "echo out-$0; echo err-$0 >&2",
            ":::",
            "a",
            "b",
        ],
        "",
    )
    .check("out-a\nout-b\n", "err-a\nerr-b\n", 0);
}

#[test]
fn a_job_prints_its_stdout_then_its_stderr_whole() {
    // stdout and stderr of pmap are the same file here, so their order is visible.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("both");
    let file = File::create(&path).unwrap();
    let status = StdCommand::new(pmap_path())
        .args([
            "-k",
            "sh",
            "-c",
            "echo o1-$0; echo e1-$0 >&2; sleep 0.05; echo o2-$0; echo e2-$0 >&2",
            ":::",
            "A",
            "B",
        ])
        .env_remove("PMAP_SHELL")
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "o1-A\no2-A\ne1-A\ne2-A\no1-B\no2-B\ne1-B\ne2-B\n"
    );
}

#[test]
fn concurrent_jobs_never_interleave_lines() {
    let out = run(
        [
            "-j2",
            "sh",
            "-c",
            "for i in 1 2 3 4 5; do echo \"$0 $i\"; sleep 0.03; done",
            ":::",
            "A",
            "B",
        ],
        "",
    );
    let a = "A 1\nA 2\nA 3\nA 4\nA 5\n";
    let b = "B 1\nB 2\nB 3\nB 4\nB 5\n";
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        out.code == 0 && (text == format!("{a}{b}") || text == format!("{b}{a}")),
        "{out:?}"
    );
}

// ---- -k ----

#[test]
fn keep_order_restores_input_order() {
    run(
        [
            "-k",
            "-j3",
            "sh",
            "-c",
            "sleep $1; echo $1",
            "sh",
            ":::",
            "0.3",
            "0.1",
            "0.2",
        ],
        "",
    )
    .ok("0.3\n0.1\n0.2\n");
}

#[test]
fn keep_order_long_form_and_without_it_all_output_arrives() {
    run(
        [
            "--keep-order",
            "-j3",
            "sh",
            "-c",
            "sleep $1; echo $1",
            "sh",
            ":::",
            "0.2",
            "0",
            "0.1",
        ],
        "",
    )
    .ok("0.2\n0\n0.1\n");
    let out = run(
        [
            "-j3",
            "sh",
            "-c",
            "sleep $1; echo $1",
            "sh",
            ":::",
            "0.2",
            "0",
            "0.1",
        ],
        "",
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.sorted_lines(), ["0", "0.1", "0.2"], "{out:?}");
}

#[test]
fn keep_order_with_jobs_that_print_nothing() {
    run(
        [
            "-k",
            "-j3",
            "sh",
            "-c",
            "case $0 in b) sleep 0.1;; d) echo d;; *) ;; esac",
            ":::",
            "a",
            "b",
            "c",
            "d",
            "e",
        ],
        "",
    )
    .ok("d\n");
}

#[test]
fn keep_order_prints_as_soon_as_earlier_jobs_are_done() {
    // Job 1 prints nothing, job 2 prints at once, job 3 waits until the test lets it go:
    // job 2's line must appear while job 3 is still running.
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let script = format!(
        "case $0 in 1) ;; 2) echo two;; 3) while [ ! -e '{}' ]; do sleep 0.02; done; echo three;; esac",
        go.display()
    );
    let mut child = StdCommand::new(pmap_path())
        .args(["-k", "-j3", "sh", "-c", &script, ":::", "1", "2", "3"])
        .env_remove("PMAP_SHELL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = LineReader::new(child.stdout.take().unwrap());
    let first = lines.next_line(Duration::from_secs(5));
    File::create(&go).unwrap();
    assert_eq!(first.as_deref(), Some(&b"two\n"[..]));
    assert_eq!(lines.rest(Duration::from_secs(10)), b"three\n");
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(10)), 0);
}
