//! SPEC §5, the limits: a 100 MB line through `--line-buffer`, a job that fills its stderr
//! pipe before printing anything on stdout, `-k` behind a slow job while others print
//! 900 MB (spilled to disk, pmap's memory stays bounded), a spill that fails (`$TMPDIR`
//! missing: reported once, exit 255, no retry per write), and stdout closed downstream.

mod common;

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::{pmap, pmap_path, show, wait_with_timeout};

const TIME: &str = "/usr/bin/time";

/// Spawns pmap (under `/usr/bin/time -f %M -o rss_file` when that exists) with stdin on
/// /dev/null, stdout piped and stderr piped.
fn spawn_pmap(args: &[&str], rss_file: Option<&Path>) -> Child {
    let mut cmd = match rss_file {
        Some(rss) => {
            let mut c = StdCommand::new(TIME);
            c.args(["-f", "%M", "-o"]).arg(rss).arg(pmap_path());
            c
        }
        None => StdCommand::new(pmap_path()),
    };
    cmd.args(args)
        .env_remove("PMAP_SHELL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pmap starts")
}

/// Reads `child`'s stderr on a thread.
fn collect_stderr(child: &mut Child) -> std::thread::JoinHandle<Vec<u8>> {
    let mut err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    })
}

/// Polls `/proc/<pid>/status` for VmHWM (peak resident set, in kB) until the process is
/// gone; returns the last value seen.
fn poll_peak_rss(pid: u32) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            match hwm {
                Some(kb) => peak = peak.max(kb),
                None => break, // a zombie: it has exited
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        peak
    })
}

/// Splits a stream into lines without holding long ones: a line longer than `keep` bytes is
/// only measured, and checked to consist of the bytes of `fills` only.
struct LineScanner {
    keep: usize,
    current: Vec<u8>,
    current_len: usize,
    current_all_fill: bool,
    /// Short lines (without newline), and long lines as `None` with their length.
    lines: Vec<(Option<Vec<u8>>, usize, bool)>,
}

impl LineScanner {
    fn new(keep: usize) -> Self {
        LineScanner {
            keep,
            current: Vec::new(),
            current_len: 0,
            current_all_fill: true,
            lines: Vec::new(),
        }
    }

    fn feed(&mut self, mut chunk: &[u8], fills: &[u8]) {
        while !chunk.is_empty() {
            let (part, rest, ends) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (&chunk[..i], &chunk[i + 1..], true),
                None => (chunk, &chunk[chunk.len()..], false),
            };
            self.current_len += part.len();
            self.current_all_fill &= part == &fills[..part.len()];
            if self.current.len() <= self.keep {
                let room = self.keep + 1 - self.current.len();
                self.current
                    .extend_from_slice(&part[..part.len().min(room)]);
            }
            if ends {
                self.end_line();
            }
            chunk = rest;
        }
    }

    fn end_line(&mut self) {
        let line = std::mem::take(&mut self.current);
        let kept = (self.current_len <= self.keep).then_some(line);
        self.lines
            .push((kept, self.current_len, self.current_all_fill));
        self.current_len = 0;
        self.current_all_fill = true;
    }
}

// ---- a 100 MB line ----

#[test]
fn a_100_mb_line_through_line_buffer_stays_one_whole_line() {
    const LEN: usize = 100_000_000;
    let script = format!(
        "case $1 in
           big) head -c {LEN} /dev/zero | tr '\\0' x; echo;;
           small) i=1; while [ $i -le 50 ]; do echo short-$i; i=$((i+1)); sleep 0.01; done;;
         esac"
    );
    let mut child = spawn_pmap(
        &[
            "--lb", "-j2", "sh", "-c", &script, "sh", ":::", "big", "small",
        ],
        None,
    );
    let stderr = collect_stderr(&mut child);
    let mut stdout = child.stdout.take().unwrap();
    let fills = vec![b'x'; 1 << 20];
    let mut scanner = LineScanner::new(1000);
    let mut buf = vec![0u8; 1 << 20];
    let started = Instant::now();
    let mut total = 0usize;
    loop {
        let n = stdout.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n;
        scanner.feed(&buf[..n], &fills);
    }
    assert_eq!(scanner.current_len, 0, "output does not end in a newline");
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(60)), 0);
    assert_eq!(show(&stderr.join().unwrap()), "");
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "took {:?}",
        started.elapsed()
    );

    let long: Vec<_> = scanner.lines.iter().filter(|l| l.0.is_none()).collect();
    assert_eq!(long.len(), 1, "expected exactly one long line");
    assert_eq!(long[0].1, LEN, "the long line has the wrong length");
    assert!(long[0].2, "the long line holds bytes other than 'x'");
    let short: Vec<String> = scanner
        .lines
        .iter()
        .filter_map(|l| l.0.as_ref())
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    let expected: Vec<String> = (1..=50).map(|i| format!("short-{i}")).collect();
    assert_eq!(
        short, expected,
        "the other job's lines are not whole and separate"
    );
    assert_eq!(
        total,
        LEN + 1 + expected.iter().map(|l| l.len() + 1).sum::<usize>()
    );
}

// ---- a full stderr pipe before any stdout ----

#[test]
fn ten_mb_of_stderr_before_stdout_does_not_deadlock() {
    const LEN: usize = 10_000_000;
    let script = format!("head -c {LEN} /dev/zero >&2; echo done-$1");
    for mode in [&[][..], &["-k"], &["--lb"], &["-u"], &["--merge-stderr"]] {
        let mut args: Vec<&str> = mode.to_vec();
        args.extend(["-j2", "sh", "-c", &script, "sh", ":::", "a"]);
        let started = Instant::now();
        let out = pmap()
            .args(&args)
            .timeout(Duration::from_secs(30))
            .write_stdin(Vec::new())
            .output()
            .unwrap_or_else(|e| panic!("pmap {args:?} did not finish: {e}"));
        assert!(started.elapsed() < Duration::from_secs(20), "{args:?}");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        if mode == ["--merge-stderr"] {
            assert_eq!(out.stderr.len(), 0, "{args:?}");
            // Whole lines: the stdout line is complete at once, the unterminated stderr
            // "line" only when the job ends.
            assert_eq!(out.stdout.len(), LEN + "done-a\n".len(), "{args:?}");
            assert_eq!(show(&out.stdout[..7]), "done-a\\n", "{args:?}");
            assert!(out.stdout[7..].iter().all(|&b| b == 0), "{args:?}");
        } else {
            assert_eq!(show(&out.stdout), "done-a\\n", "{args:?}");
            assert_eq!(out.stderr.len(), LEN, "{args:?}");
            assert!(out.stderr.iter().all(|&b| b == 0), "{args:?}");
        }
    }
}

#[test]
fn ten_mb_on_both_streams_of_several_jobs() {
    // Each job alternates big writes to stdout and stderr.
    let script = "for i in 1 2 3 4 5; do head -c 1000000 /dev/zero | tr '\\0' o; \
                  head -c 1000000 /dev/zero | tr '\\0' e >&2; done";
    let out = pmap()
        .args(["-k", "-j3", "sh", "-c", script, "sh", ":::", "1", "2", "3"])
        .timeout(Duration::from_secs(30))
        .write_stdin(Vec::new())
        .output()
        .expect("pmap finishes");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout.len(), 15_000_000);
    assert_eq!(out.stderr.len(), 15_000_000);
    assert!(out.stdout.iter().all(|&b| b == b'o'));
    assert!(out.stderr.iter().all(|&b| b == b'e'));
}

// ---- -k behind a slow job while others print 900 MB ----

#[test]
fn keep_order_spills_to_disk_and_memory_stays_bounded() {
    const EACH: u64 = 300_000_000;
    let script =
        format!("if [ $1 = 1 ]; then sleep 2; echo first; else head -c {EACH} /dev/zero; fi");
    let dir = tempfile::tempdir().unwrap();
    let rss_file = dir.path().join("rss");
    let have_time = Path::new(TIME).exists();
    let args = [
        "-k", "-j4", "sh", "-c", &script, "sh", ":::", "1", "2", "3", "4",
    ];
    let mut child = spawn_pmap(&args, have_time.then_some(rss_file.as_path()));
    let poller = (!have_time).then(|| {
        eprintln!("note: {TIME} is missing; measuring pmap's peak RSS by polling VmHWM");
        poll_peak_rss(child.id())
    });
    let stderr = collect_stderr(&mut child);
    let mut stdout = child.stdout.take().unwrap();

    let started = Instant::now();
    let mut first = [0u8; 6];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(
        show(&first),
        "first\\n",
        "output does not start with job 1's line"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "job 1's line came before job 1 could have printed it"
    );
    let zeros = vec![0u8; 1 << 20];
    let mut buf = vec![0u8; 1 << 20];
    let mut count: u64 = 0;
    loop {
        let n = stdout.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert!(
            buf[..n] == zeros[..n],
            "a non-zero byte after offset {count}"
        );
        count += n as u64;
    }
    assert_eq!(
        count,
        3 * EACH,
        "wrong number of bytes after the first line"
    );
    assert_eq!(wait_with_timeout(&mut child, Duration::from_secs(120)), 0);
    assert_eq!(show(&stderr.join().unwrap()), "");

    let peak_kb = match poller {
        Some(p) => p.join().unwrap(),
        None => fs::read_to_string(&rss_file)
            .unwrap()
            .trim()
            .parse::<u64>()
            .expect("time -f %M prints kilobytes"),
    };
    assert!(peak_kb > 0, "could not measure pmap's peak RSS");
    assert!(
        peak_kb < 100 * 1024,
        "pmap's peak RSS was {peak_kb} kB, more than 100 MB"
    );
}

// ---- a spill that fails ----

/// Runs pmap under `TMPDIR=/nonexistent` with stdout counted and stderr in a file, where
/// three jobs print 100 MB each, more than the 64 MiB bound; returns the bytes printed,
/// stderr, exit code and time taken.
fn run_without_tmpdir(mode: &[&str]) -> (u64, String, i32, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let err_path = dir.path().join("stderr");
    let mut args = mode.to_vec();
    args.extend(["-j2", "sh", "-c", "head -c 100000000 /dev/zero"]);
    args.extend([":::", "1", "2", "3"]);
    let started = Instant::now();
    let mut child = StdCommand::new(pmap_path())
        .args(&args)
        .env_remove("PMAP_SHELL")
        .env("TMPDIR", "/nonexistent")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("pmap starts");
    let mut stdout = child.stdout.take().unwrap();
    let counter = std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let code = wait_with_timeout(&mut child, Duration::from_secs(20));
    let elapsed = started.elapsed();
    let printed = counter.join().unwrap().unwrap();
    (
        printed,
        fs::read_to_string(&err_path).unwrap(),
        code,
        elapsed,
    )
}

#[test]
fn a_failed_spill_is_reported_once_and_not_retried() {
    let message = "pmap: cannot buffer output: cannot create a temporary file in \
                   '/nonexistent': No such file or directory (os error 2)\n";
    // (Not -u: it passes output through, and buffers none.)
    for mode in [&["-k"][..], &[], &["--lb"]] {
        let (printed, stderr, code, elapsed) = run_without_tmpdir(mode);
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            stderr == message,
            "{mode:?}: expected one line {message:?}, got {} lines, the first {first:?}",
            stderr.lines().count()
        );
        assert_eq!(code, 255, "{mode:?}");
        assert!(
            elapsed < Duration::from_secs(20),
            "{mode:?} took {elapsed:?}"
        );
        // What could not be held is dropped, never more than that.
        assert!(printed <= 300_000_000, "{mode:?} printed {printed} bytes");
        if mode.contains(&"-k") {
            // The job with the turn streams, and needs no buffer.
            assert!(printed >= 100_000_000, "{mode:?} printed {printed} bytes");
        }
    }
}

// ---- stdout closed downstream ----

/// Runs `script` under sh with `$PMAP` set, captures its stdout and stderr, and returns them
/// with the time taken.
fn run_pipeline(script: &str, dir: &Path) -> (Vec<u8>, String, Duration) {
    let started = Instant::now();
    let mut child = StdCommand::new("sh")
        .args(["-c", script])
        .env("PMAP", pmap_path())
        .env_remove("PMAP_SHELL")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = collect_stderr(&mut child);
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    wait_with_timeout(&mut child, Duration::from_secs(60));
    let err = String::from_utf8_lossy(&stderr.join().unwrap()).into_owned();
    (out, err, started.elapsed())
}

#[test]
fn closed_stdout_stops_quietly() {
    let dir = tempfile::tempdir().unwrap();
    // (-u with -j1: -k gives way to -u, and one slot keeps the order.)
    for mode in ["-k", "-k --lb", "-j1 -u", "-k --json"] {
        let script = format!(
            "{{ seq 100000 | \"$PMAP\" {mode} sh -c 'echo $1; echo $1 >> ran' sh; \
               echo $? > status; }} | head -1"
        );
        let _ = fs::remove_file(dir.path().join("ran"));
        let (out, err, took) = run_pipeline(&script, dir.path());
        let expected: &[u8] = if mode.contains("json") {
            b"{\"seq\":1,"
        } else {
            b"1\n"
        };
        assert!(out.starts_with(expected), "{mode}: {}", show(&out));
        if !mode.contains("json") {
            assert_eq!(show(&out), "1\\n", "{mode}");
        }
        assert_eq!(err, "", "{mode}: pmap printed on stderr");
        assert!(took < Duration::from_secs(10), "{mode}: took {took:?}");
        let status: i32 = fs::read_to_string(dir.path().join("status"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // A closed pipe downstream is a normal end, not a failure (and not death by SIGPIPE).
        assert_eq!(status, 0, "{mode}: pmap's exit status");
        let ran = fs::read_to_string(dir.path().join("ran")).unwrap_or_default();
        assert!(
            ran.lines().count() < 10_000,
            "{mode}: pmap went on starting jobs ({} ran)",
            ran.lines().count()
        );
    }
}

#[test]
fn closed_stdout_ends_the_running_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = "closed-stdout-marker-7719";
    let script = format!(
        "printf '1\\n2\\n3\\n' | \"$PMAP\" -j3 --lb sh -c \
         'while :; do echo $1; sleep 0.1; done # {marker}' sh | head -1"
    );
    let (out, err, took) = run_pipeline(&script, dir.path());
    assert_eq!(out.len(), 2, "{}", show(&out));
    assert_eq!(err, "");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // Nothing of the jobs is left.
    common::assert_none_left(marker);
}
