//! The terminal side of pmap: the progress bar under a real pseudo-terminal (tmux), colour,
//! `-v` and help. tmux is installed by `.ci/run`; elsewhere, without tmux, the tests that
//! need it are skipped (under CI, with `CI=true`, they fail instead).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn pmap_bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("pmap")
}

/// A private tmux server running one shell command in a 120×40 terminal.
struct Tmux {
    tmux: PathBuf,
    socket: String,
}

impl Tmux {
    /// Starts the server, or returns `None` (the test is skipped) when tmux is missing.
    #[track_caller]
    fn start(command: &str) -> Option<Tmux> {
        let tmux = common::program_or_skip("tmux", "tmux")?;
        let socket = format!("pmap-test-{}-{}", std::process::id(), rand_suffix());
        let status = Command::new(&tmux)
            .args(["-L", &socket, "new-session", "-d", "-x", "120", "-y", "40"])
            .arg(command)
            .env_remove("TMUX")
            .status()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", tmux.display()));
        assert!(status.success(), "tmux new-session failed: {status}");
        Some(Tmux { tmux, socket })
    }

    fn screen(&self, escapes: bool) -> String {
        let mut cmd = Command::new(&self.tmux);
        cmd.args(["-L", &self.socket, "capture-pane", "-p"]);
        if escapes {
            cmd.arg("-e");
        }
        String::from_utf8_lossy(&cmd.output().expect("capture-pane").stdout).into_owned()
    }

    /// Waits until the screen contains `marker`; returns the screen.
    fn wait_for(&self, marker: &str, escapes: bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen(escapes);
            if screen.contains(marker) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out waiting for {marker:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new(&self.tmux)
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[test]
fn bar_never_tears_job_output_and_finishes() {
    let items: Vec<String> = (1..=30).map(|i| i.to_string()).collect();
    let command = format!(
        "{} --bar -j3 -k sh -c 'sleep 0.02; echo line $1 done' sh ::: {}; echo PMAP-EXIT $?; sleep 60",
        pmap_bin().display(),
        items.join(" ")
    );
    let Some(tmux) = Tmux::start(&command) else {
        return;
    };
    let screen = tmux.wait_for("PMAP-EXIT", false);
    let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
    for i in 1..=30 {
        let expected = format!("line {i} done");
        assert_eq!(
            lines.iter().filter(|l| **l == expected).count(),
            1,
            "{expected:?} is not intact exactly once; screen:\n{screen}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("30/30") && l.contains("ETA")),
        "no finished bar; screen:\n{screen}"
    );
    assert!(lines.contains(&"PMAP-EXIT 0"), "screen:\n{screen}");
}

#[test]
fn colour_follows_the_terminal_and_no_color() {
    let bin = pmap_bin();
    let Some(tmux) = Tmux::start(&format!(
        "{b} --tag echo ::: plain; NO_COLOR=1 {b} --tag echo ::: nocolor; \
         NO_COLOR=1 {b} --color always --tag echo ::: forced; echo DONE; sleep 60",
        b = bin.display()
    )) else {
        return;
    };
    let screen = tmux.wait_for("DONE", true);
    let line = |word: &str| {
        screen
            .lines()
            .find(|l| l.contains(word))
            .unwrap_or_else(|| panic!("no {word} line; screen:\n{screen}"))
            .to_string()
    };
    assert!(
        line("plain").contains("\x1b["),
        "auto on a terminal colours the tag"
    );
    assert!(
        !line("nocolor").contains("\x1b["),
        "NO_COLOR turns colour off"
    );
    assert!(
        line("forced").contains("\x1b["),
        "--color always beats NO_COLOR"
    );
}

#[test]
fn color_always_and_never_off_a_terminal() {
    let out = Command::new(pmap_bin())
        .args(["--color", "always", "--tag", "echo", ":::", "a"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"\x1b[36ma\x1b[0m\ta\n");
    let out = Command::new(pmap_bin())
        .args(["--color", "never", "--tag", "echo", ":::", "a"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"a\ta\n");
    let out = Command::new(pmap_bin())
        .args(["--color", "always", "nosuchcommand-xyz", ":::", "a"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "\x1b[1;31mpmap:\x1b[0m cannot run 'nosuchcommand-xyz': command not found\n"
    );
    let out = Command::new(pmap_bin())
        .args(["--color", "sometimes", "echo", ":::", "a"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255));
}

#[test]
fn bar_is_not_drawn_when_stderr_is_not_a_terminal() {
    let out = Command::new(pmap_bin())
        .args(["--bar", "-k", "echo", ":::", "a", "b"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"a\nb\n");
    assert_eq!(out.stderr, b"");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn trace_prints_each_command_on_stderr() {
    let out = Command::new(pmap_bin())
        .args(["-t", "-j1", "echo", "{}", ":::", "a b", "c"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"a b\nc\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "echo 'a b'\necho c\n");
}

#[test]
fn verbose_prints_each_command_on_stdout_before_its_output() {
    // As GNU parallel 20221122 prints `parallel -v -k echo ::: 'a b' c`.
    let out = Command::new(pmap_bin())
        .args(["-v", "-k", "echo", "{}", ":::", "a b", "c"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "echo 'a b'\na b\necho c\nc\n"
    );
    assert_eq!(out.stderr, b"");
    // Not in --json's stdout (the record has the command), nor in --results files.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(pmap_bin())
        .args(["-v", "--results"])
        .arg(dir.path())
        .args(["echo", ":::", "x"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"echo x\nx\n");
    let saved = std::fs::read(dir.path().join("1").join("stdout")).unwrap();
    assert_eq!(saved, b"x\n");
}

#[test]
fn help_has_examples_and_short_help_is_short() {
    let long = Command::new(pmap_bin()).arg("--help").output().unwrap();
    let long = String::from_utf8(long.stdout).unwrap();
    assert!(long.contains("EXAMPLES:"), "{long}");
    assert!(long.contains("EXIT STATUS:"), "{long}");
    assert!(long.contains("--keep-order"));
    let short = Command::new(pmap_bin()).arg("-h").output().unwrap();
    assert_eq!(short.status.code(), Some(0));
    let short = String::from_utf8(short.stdout).unwrap();
    assert!(!short.contains("EXAMPLES:"));
    assert!(short.lines().count() < long.lines().count());
}

#[test]
fn pipe_bar_counts_bytes_of_a_known_total_from_the_first_frame() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input");
    // 1,000 lines of 10 bytes: 10,000 bytes, which indicatif shows as 9.77 KiB.
    let text: String = (0..1000).map(|i| format!("{i:09}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let command = format!(
        "{} --pipepart -a {} --block 1000 --bar -j2 'sleep 0.2; cat >/dev/null'; echo PMAP-EXIT $?; sleep 60",
        pmap_bin().display(),
        file.display()
    );
    let Some(tmux) = Tmux::start(&command) else {
        return;
    };
    // While the blocks run (10 blocks, 2 at a time, 0.2 s each), the total is already known.
    let running = tmux.wait_for("/9.77 KiB", false);
    assert!(
        !running.contains("PMAP-EXIT"),
        "the run ended first:\n{running}"
    );
    let screen = tmux.wait_for("PMAP-EXIT", false);
    assert!(
        screen.contains("9.77 KiB/9.77 KiB"),
        "no finished bar; screen:\n{screen}"
    );
    assert!(screen.contains("PMAP-EXIT 0"), "screen:\n{screen}");
}

#[test]
fn total_jobs_gives_the_bar_its_total_before_the_input_ends() {
    // The items come from a pipe that stays open for a while: pmap cannot count them.
    let command = format!(
        "(seq 10; sleep 2) | {} --bar --total-jobs 10 -j2 'sleep 0.3; : {{}}'; echo PMAP-EXIT $?; sleep 60",
        pmap_bin().display()
    );
    let Some(tmux) = Tmux::start(&command) else {
        return;
    };
    // Jobs take 1.5 s in all; the input ends after 2 s. The total shows while they run.
    let running = tmux.wait_for("/10", false);
    assert!(
        !running.contains("10/10"),
        "the total came late:\n{running}"
    );
    let screen = tmux.wait_for("PMAP-EXIT", false);
    assert!(
        screen.contains("10/10"),
        "no finished bar; screen:\n{screen}"
    );
}

#[test]
fn progress_shows_gnu_parallels_counts_of_running_and_done_jobs() {
    let command = format!(
        "{} --progress -j2 'sleep 0.4; : {{}}' ::: 1 2 3 4; echo PMAP-EXIT $?; sleep 60",
        pmap_bin().display()
    );
    let Some(tmux) = Tmux::start(&command) else {
        return;
    };
    // Two jobs run at once while none is done yet.
    let running = tmux.wait_for("local:2/0/100%/0.0s", false);
    assert!(
        running.contains(
            "Computer:jobs running/jobs completed/%of started jobs/Average seconds to complete"
        ),
        "no heading:\n{running}"
    );
    assert!(running.contains("Max jobs to run"), "{running}");
    let screen = tmux.wait_for("PMAP-EXIT", false);
    assert!(
        screen.contains("local:0/4/100%/"),
        "no final counts:\n{screen}"
    );
    assert!(screen.contains("PMAP-EXIT 0"), "{screen}");
}

#[test]
fn the_program_check_searches_only_the_path_it_is_given() {
    use common::{Needed, check_program};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().as_os_str();
    let skip = "skipping: tmux not found on PATH (Debian package tmux)";
    assert_eq!(
        check_program("tmux", "tmux", path, false),
        Needed::Skip(skip.into())
    );
    match check_program("tmux", "tmux", path, true) {
        Needed::Fail(message) => assert!(
            message.starts_with("tmux not found on PATH (Debian package tmux); with CI=true")
                && !message.contains('\n'),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    // A file named tmux is found only once it is executable.
    let tmux = dir.path().join("tmux");
    std::fs::write(&tmux, "#!/bin/sh\n").unwrap();
    assert_eq!(
        check_program("tmux", "tmux", path, false),
        Needed::Skip(skip.into())
    );
    std::fs::set_permissions(&tmux, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert_eq!(
        check_program("tmux", "tmux", path, true),
        Needed::Found(tmux)
    );
    // A program named by its path is not looked up in PATH.
    assert_eq!(
        check_program("/nonexistent/sshd", "openssh-server", path, false),
        Needed::Skip(
            "skipping: /nonexistent/sshd not found (Debian package openssh-server)".into()
        )
    );
}

/// On a machine without tmux, a test that needs it prints one `skipping:` line and passes;
/// under `CI=true` it fails, with one line naming tmux and its package.
#[test]
fn without_tmux_a_terminal_test_skips_and_under_ci_fails() {
    let test = "bar_never_tears_job_output_and_finishes";
    let skipped = common::rerun_without_programs(test, false);
    let skip_lines: Vec<&str> = skipped
        .output
        .lines()
        .filter(|l| l.contains("skipping"))
        .collect();
    assert!(skipped.passed, "{}", skipped.output);
    assert_eq!(
        skip_lines,
        ["skipping: tmux not found on PATH (Debian package tmux)"],
        "{}",
        skipped.output
    );
    let failed = common::rerun_without_programs(test, true);
    assert!(!failed.passed, "{}", failed.output);
    assert!(
        failed.output.lines().any(|l| l.starts_with(
            "tmux not found on PATH (Debian package tmux); with CI=true a missing test program"
        )),
        "{}",
        failed.output
    );
    assert!(
        !failed.output.contains("stack backtrace"),
        "{}",
        failed.output
    );
}

#[test]
fn the_first_frame_of_the_bar_knows_the_total_of_a_list_and_the_eta_comes_early() {
    // `script` (util-linux) records every frame the bar draws in the terminal tmux gives it.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("frames");
    let items: Vec<String> = (1..=40).map(|i| i.to_string()).collect();
    let pmap_line = format!(
        "{} --bar -j2 'sleep 0.1; : {{}}' ::: {}",
        pmap_bin().display(),
        items.join(" ")
    );
    let command = format!(
        "script -qfc \"{pmap_line}\" {}; echo PMAP-EXIT $?; sleep 60",
        log.display()
    );
    let Some(tmux) = Tmux::start(&command) else {
        return;
    };
    tmux.wait_for("PMAP-EXIT", false);
    let recorded = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    // Frames are separated by carriage returns; the first line is script's own.
    let body = recorded.split_once('\n').map_or("", |(_, rest)| rest);
    let frames: Vec<&str> = body.split('\r').filter(|f| f.contains('[')).collect();
    let first = frames.first().expect("no frame drawn");
    assert!(first.contains(" 0/40 "), "first frame: {first:?}");
    let early_eta = frames.iter().any(|f| {
        let done: Option<u32> = f
            .split_whitespace()
            .find_map(|w| w.strip_suffix("/40").and_then(|d| d.parse().ok()));
        done.is_some_and(|d| (1..20).contains(&d))
            && f.split("ETA ")
                .nth(1)
                .is_some_and(|eta| eta.starts_with(|c: char| c.is_ascii_digit()))
    });
    assert!(
        early_eta,
        "no ETA before half the jobs were done: {frames:?}"
    );
}

#[test]
fn a_bar_over_a_stream_says_when_its_total_comes() {
    let command = format!(
        "(seq 3; sleep 2) | {} --bar -j2 'sleep 0.2; : {{}}'; echo PMAP-EXIT $?; sleep 60",
        pmap_bin().display()
    );
    let Some(tmux) = Tmux::start(&command) else {
        return;
    };
    tmux.wait_for("done", false);
    let running = tmux.wait_for("(total: when the input ends)", false);
    assert!(!running.contains("/3"), "{running}");
    let screen = tmux.wait_for("PMAP-EXIT", false);
    assert!(screen.contains("3/3"), "no finished bar; screen:\n{screen}");
}
