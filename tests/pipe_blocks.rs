//! `--pipe` and `--pipepart` (GNU parallel's semantics): the input is cut into blocks at
//! record boundaries, one job per block, the block on the job's stdin (or in a file or
//! fifo with `--cat`/`--fifo`). Blocks are compared with `cut`, a reference written here:
//! a block ends at the last record boundary at or before `--block` bytes from its start, or,
//! for a record longer than that, at the end of that record.

mod common;

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Out, pmap_path, wait_with_timeout};
use tempfile::TempDir;

/// A command that prints \x01 and then its block: `split_frames` reads the blocks back.
const FRAME: &[&str] = &["sh", "-c", r"printf '\001'; cat"];
const LIMIT: Duration = Duration::from_secs(60);

/// A fixed pseudo-random generator (xorshift64*): every run sees the same input.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn numbers(n: u64) -> Vec<u8> {
    let lines = (1..=n).map(|i| format!("{i}\n"));
    lines.collect::<String>().into_bytes()
}

/// `opts` split at spaces (`''` is an empty word), then the words of `cmd`.
fn words(opts: &str, cmd: &[&str]) -> Vec<String> {
    let opts = opts.split_whitespace();
    let opts = opts.map(|w| if w == "''" { "" } else { w });
    opts.chain(cmd.iter().copied()).map(str::to_owned).collect()
}

/// Runs pmap with `args`, `stdin` as its stdin (fed `input` on a thread when piped); kills
/// pmap and panics after `limit`, so that a pmap stuck with unread input fails the test.
fn run_in(args: &[String], stdin: Stdio, input: Vec<u8>, limit: Duration) -> Out {
    let mut child = Command::new(pmap_path())
        .args(args)
        .env_remove("PMAP_SHELL")
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pmap starts");
    if let Some(mut w) = child.stdin.take() {
        std::thread::spawn(move || w.write_all(&input));
    }
    let mut stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || common::read_all(stderr));
    let code = wait_with_timeout(&mut child, limit);
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    Out {
        stdout,
        stderr,
        code,
    }
}

fn run(opts: &str, cmd: &[&str], input: impl Into<Vec<u8>>) -> Out {
    run_in(&words(opts, cmd), Stdio::piped(), input.into(), LIMIT)
}

/// The blocks in the `-k` output of `FRAME`.
#[track_caller]
fn split_frames(out: &Out) -> Vec<Vec<u8>> {
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.first().is_none_or(|&b| b == 1), "{out:?}");
    let frames = out.stdout.split(|&b| b == 1).skip(1);
    frames.map(<[u8]>::to_vec).collect()
}

/// The blocks pmap gives its jobs with the options `opts`, and its stderr.
#[track_caller]
fn blocks(opts: &str, input: &[u8]) -> (Vec<Vec<u8>>, String) {
    let out = run(&format!("{opts} -k"), FRAME, input);
    (split_frames(&out), out.stderr)
}

/// Asserts, for each (options, input, blocks separated by `|`), that pmap cuts the input
/// into those blocks, quietly.
#[track_caller]
fn assert_blocks(cases: &[(&str, &str, &str)]) {
    for (opts, input, expected) in cases {
        let want: Vec<&[u8]> = expected.split('|').map(str::as_bytes).collect();
        let (got, err) = blocks(&format!("--pipe {opts}"), input.as_bytes());
        let shown: Vec<String> = got.iter().map(|b| common::show(b)).collect();
        assert!(got == want && err.is_empty(), "{opts}: {shown:?}, {err}");
    }
}

/// The reference: from each block's start, the last boundary at most `size` bytes on, or,
/// when there is none, the first one after (a long record). The input's end is a boundary.
fn cut(input: &[u8], size: usize, boundaries: Vec<usize>) -> Vec<Vec<u8>> {
    let mut ends = boundaries;
    ends.retain(|&b| b > 0 && b < input.len());
    ends.push(input.len());
    let (mut blocks, mut start, mut i) = (Vec::new(), 0, 0);
    while start < input.len() {
        let mut j = i;
        while j + 1 < ends.len() && ends[j + 1] - start <= size {
            j += 1;
        }
        blocks.push(input[start..ends[j]].to_vec());
        (start, i) = (ends[j], j + 1);
    }
    blocks
}

/// The positions of `byte` in `input`, plus `shift`.
fn positions(input: &[u8], byte: u8, shift: usize) -> Vec<usize> {
    let found = (0..input.len()).filter(|&i| input[i] == byte);
    found.map(|i| i + shift).collect()
}

/// `cut` with a record ending at each newline.
fn lines_cut(input: &[u8], size: usize) -> Vec<Vec<u8>> {
    cut(input, size, positions(input, b'\n', 1))
}

fn lens(blocks: &[Vec<u8>]) -> Vec<usize> {
    blocks.iter().map(Vec::len).collect()
}

fn text(out: &Out) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A temporary directory holding `input` in the file `in`, and that file's path.
fn file_with(input: &[u8]) -> (TempDir, String) {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("in");
    fs::write(&path, input).unwrap();
    (dir, path.to_str().unwrap().to_owned())
}

const FOUR: &str = "1234\n5678\n90ab\ncdef\n";

#[rustfmt::skip]
const NEWLINES: &[(&str, &str, &str)] = &[
    ("--block 12", FOUR, "1234\n5678\n|90ab\ncdef\n"),
    ("--block 10", FOUR, "1234\n5678\n|90ab\ncdef\n"), // a boundary exactly at --block
    ("--block 9", FOUR, "1234\n|5678\n|90ab\n|cdef\n"),
    ("--block-size 12", FOUR, "1234\n5678\n|90ab\ncdef\n"),
    ("", FOUR, FOUR), // 1M
    ("--block 3", "ab\ncd", "ab\n|cd"), // a last record without its newline
];

#[test]
fn blocks_end_at_the_last_newline_at_or_before_the_block_size() {
    assert_blocks(NEWLINES);
    let alias = blocks("--spreadstdin --block 12", FOUR.as_bytes());
    assert_eq!(alias, blocks("--pipe --block 12", FOUR.as_bytes()));
    let (_dir, file) = file_with(FOUR.as_bytes());
    let from_file = blocks(&format!("--pipe -a {file} --block 12"), b"");
    assert_eq!(from_file, alias, "the single -a FILE is the input");
    // {#} and PMAP_SEQ are the block number; nothing is appended to the command.
    let script = ["sh", "-c", r#"echo "{#} $PMAP_SEQ $#"; cat"#];
    run("--pipe --block 12 -k", &script, FOUR).ok("1 1 0\n1234\n5678\n2 2 0\n90ab\ncdef\n");
}

#[rustfmt::skip]
const SUFFIXES: &[(&str, &[usize])] = &[
    ("1k", &[1000; 10]),
    ("1K", &[1020, 1020, 1020, 1020, 1020, 1020, 1020, 1020, 1020, 820]),
    ("1.5k", &[1500, 1500, 1500, 1500, 1500, 1500, 1000]),
    ("2.5K", &[2560, 2560, 2560, 2320]),
    ("3000", &[3000, 3000, 3000, 1000]),
    ("1g", &[10_000]),
    ("1G", &[10_000]),
];

#[rustfmt::skip]
const MEGA: &[(&str, &[usize])] = &[
    ("", &[1_048_570, 151_430]),
    ("--block 1M", &[1_048_570, 151_430]),
    ("--block 1m", &[1_000_000, 200_000]),
    ("--block 0.5M", &[524_280, 524_280, 151_440]),
];

#[test]
fn block_size_suffixes_are_1024_based_in_capitals_1000_based_in_lower_case() {
    let lines = |n: usize| {
        let lines = (0..n).map(|i| format!("{i:09}\n"));
        lines.collect::<String>().into_bytes()
    };
    let small = lines(1000); // 10 000 bytes in records of 10
    for (size, expected) in SUFFIXES {
        let (got, err) = blocks(&format!("--pipe --block {size}"), &small);
        assert_eq!((lens(&got), err), (expected.to_vec(), String::new()));
    }
    let big = lines(120_000); // 1 200 000 bytes
    for (opts, expected) in MEGA {
        let (got, _) = blocks(&format!("--pipe {opts}"), &big);
        assert_eq!(lens(&got), expected.to_vec(), "{opts}");
        assert!(got.concat() == big, "{opts}");
    }
}

#[test]
fn a_record_longer_than_the_block_gets_a_block_of_its_own_and_a_note() {
    let input = format!("ab\n{}\ncd\n", "x".repeat(30));
    let (got, err) = blocks("--pipe --block 10", input.as_bytes());
    assert_eq!(lens(&got), [3, 31, 3]);
    assert_eq!(got, lines_cut(input.as_bytes(), 10));
    let one_line = err.lines().count() == 1;
    assert!(err.starts_with("pmap: ") && one_line, "{err}");
}

#[rustfmt::skip]
const RECORDS: &[(&str, &str, &str)] = &[
    ("--recend ; --block 4", "a;b;c;", "a;b;|c;"),
    ("--recstart > --block 9", ">a\nx\n>b\n>c\nyy\n", ">a\nx\n>b\n|>c\nyy\n"),
    // Both: a boundary is where recend is immediately followed by recstart.
    (r"--recend \n --recstart > -N1", "x>y\n>c\nd\n>e>f\n", "x>y\n|>c\nd\n|>e>f\n"),
    // No records: blocks of exactly --block bytes.
    ("--recend '' --block 10", "aa\nbb\ncc\ndd\nee\nff\n", "aa\nbb\ncc\nd|d\nee\nff\n"),
    (r"--recend \x2c -N1", "a,b,c,", "a,|b,|c,"),
    (r"--recend \t -N1", "a\tb\t", "a\t|b\t"),
    (r"--recend \\ -N1", r"a\b\", r"a\|b\"),
    (r"--recend \0 -N1", "a\0b\0", "a\0|b\0"),
    (r"--recend \r\n -N1", "a\r\nb\nc\r\n", "a\r\n|b\nc\r\n"),
    (r"--regexp --recend \n\n+ -N1", "a\nb\n\nc\n\n\nd\n", "a\nb\n\n|c\n\n\n|d\n"),
    ("--regexp --recstart >[0-9] -N1", ">1a\n>x\n>2b\n", ">1a\n>x\n|>2b\n"),
    // -N: records per job; -L: lines per record.
    ("-N3", "1\n2\n3\n4\n5\n6\n7\n", "1\n2\n3\n|4\n5\n6\n|7\n"),
    ("-N2 --recend ;", "a;b;c;", "a;b;|c;"),
    ("--block 7", "a\nb\nc\nd\ne\n", "a\nb\nc\n|d\ne\n"),
    ("-L2 --block 7", "a\nb\nc\nd\ne\n", "a\nb\n|c\nd\ne\n"),
    ("-L2 -N1", "a\nb\nc\nd\ne\n", "a\nb\n|c\nd\n|e\n"),
    // --header: taken off the input, put before every block.
    ("--header 2 -N1", "h1\nh2\n1\n2\n", "h1\nh2\n1\n|h1\nh2\n2\n"),
    ("--header i[a-z] -N1", "id,x\n1,a\n2,b\n", "id,x\n1,a\n|id,x\n2,b\n"),
    (r"--header #[^\n]*\n# -N1", "# 1\n# 2\nx\ny\n", "# 1\n# 2\nx\n|# 1\n# 2\ny\n"),
];

#[test]
fn recend_recstart_regexp_n_l_and_header_set_the_blocks() {
    assert_blocks(RECORDS);
    for header in ["1", ":"] {
        let opts = format!("--pipe --header {header} -N1 -k");
        run(&opts, &["echo ==; cat"], "h\n1\n2\n3\n").ok("==\nh\n1\n==\nh\n2\n==\nh\n3\n");
    }
}

#[test]
fn rrs_removes_the_record_separators() {
    run("--pipe --rrs", &["cat"], "a\nb\nc\n").ok("abc");
    run("--pipe --recstart > --rrs -N1 -k", &["cat"], ">a\n>b\n").ok("a\nb\n");
    let both = "--pipe --recend ; --recstart < --rrs -k";
    run(both, &["cat"], "<a;<b;").ok("ab");
    let regexp = "--pipe --regexp --recend [;,] --rrs -k";
    run(regexp, &["cat"], "a;b,c;").ok("abc");
}

#[test]
fn round_robin_starts_exactly_j_jobs_and_every_record_arrives_once() {
    let dir = TempDir::new().unwrap();
    let input = numbers(20_000);
    let d = dir.path().to_str().unwrap();
    let save = ["sh", "-c", r#"cat > "$0/{#}-$PMAP_SEQ""#, d];
    run("--pipe --round-robin --block 1k -j3", &save, &input[..]).ok("");
    let names = fs::read_dir(dir.path()).unwrap();
    let names = names.map(|e| e.unwrap().file_name().into_string().unwrap());
    let mut names: Vec<String> = names.collect();
    names.sort();
    assert_eq!(names, ["1-1", "2-2", "3-3"]);
    let all = names.iter().map(|n| fs::read(dir.path().join(n)).unwrap());
    let all: Vec<u8> = all.collect::<Vec<_>>().concat();
    let mut got: Vec<&[u8]> = all.split_inclusive(|&b| b == b'\n').collect();
    let mut want: Vec<&[u8]> = input.split_inclusive(|&b| b == b'\n').collect();
    got.sort();
    want.sort();
    assert!(got == want, "the records the jobs got are not the input's");
    // Fewer blocks than -j: still exactly -j jobs, some of which see EOF at once.
    let count = ["sh", "-c", r#"echo "$PMAP_SEQ $(wc -l)""#];
    let out = run("--pipe --round -j4", &count, "a\nb\n");
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:?}");
    let rows = out.sorted_lines();
    let rows = rows.iter().map(|l| l.split_once(' ').unwrap());
    let (seqs, counts): (Vec<&str>, Vec<&str>) = rows.unzip();
    assert_eq!(seqs, ["1", "2", "3", "4"], "{out:?}");
    let total: u32 = counts.iter().flat_map(|n| n.parse::<u32>()).sum();
    assert_eq!(total, 2, "{out:?}");
}

#[test]
fn pipepart_cuts_the_file_as_pipe_does_and_reproduces_it() {
    let input = numbers(50_000);
    let (_dir, file) = file_with(&input);
    let opts = format!("--pipepart -a {file} --block 10k -j4 -k");
    run(&opts, &["cat"], "").ok(&input);
    let (got, err) = blocks(&format!("--pipepart -a {file} --block 10k"), b"");
    assert_eq!(err, "");
    assert!(got == lines_cut(&input, 10_000), "{:?}", lens(&got));
}

#[test]
fn negative_block_gives_n_parts_per_job_slot_when_the_size_is_known() {
    let input = numbers(50_000);
    let (_dir, file) = file_with(&input);
    let opts = format!("--pipepart -a {file} --block -2 -j3 -k");
    let part = run(&opts, FRAME, "");
    let args = words("--pipe --block -2 -j3 -k", FRAME);
    let stdin = File::open(&file).unwrap().into();
    let redirected = run_in(&args, stdin, vec![], LIMIT);
    for (how, out) in [("--pipepart", part), ("stdin", redirected)] {
        let got = split_frames(&out);
        assert_eq!(got.len(), 6, "{how}: 2 per slot, 3 slots: {:?}", lens(&got));
        let whole = got.iter().all(|b| b.ends_with(b"\n"));
        assert!(whole && got.concat() == input, "{:?}", lens(&got));
    }
}

#[test]
fn cat_gives_each_block_as_a_file_removed_after_the_job() {
    let script = "wc -c < {}; test -f {} && echo exists; echo {}";
    let out = run("--pipe --cat -N1 -k", &[script], "1\n22\n333\n");
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:?}");
    let stdout = text(&out);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 9, "{out:?}");
    for (job, size) in lines.chunks(3).zip(["2", "3", "4"]) {
        assert_eq!(job[..2], [size, "exists"], "{out:?}");
        assert!(!Path::new(job[2]).exists(), "{} is left", job[2]);
    }
    // --cat implies --pipe; {} is appended to a command without a replacement string.
    let out = run("--cat -N1 -k", &["wc", "-c"], "1\n22\n");
    let stdout = text(&out);
    let rows: Vec<(&str, &str)> = stdout.lines().flat_map(|l| l.split_once(' ')).collect();
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), ["2", "3"]);
    assert!(rows.iter().all(|r| !Path::new(r.1).exists()), "{out:?}");
}

#[test]
fn fifo_gives_each_block_through_a_named_pipe() {
    let input = numbers(20_000);
    let opts = "--pipe --fifo --block 10k -k";
    run(opts, &["cat {}"], &input[..]).ok(&input);
    // --fifo implies --pipe; {} is appended.
    run("--fifo -k", &["cat"], "a\nb\n").ok("a\nb\n");
}

#[test]
fn a_job_that_never_opens_its_fifo_does_not_hang_pmap() {
    let input = numbers(20_000);
    let n = lines_cut(&input, 10_000).len();
    let args = words("--pipe --fifo --block 10k -k", &["echo", "{}"]);
    let out = run_in(&args, Stdio::piped(), input, LIMIT / 2);
    assert_eq!(out.code, 0, "{out:?}");
    let stdout = text(&out);
    assert_eq!(stdout.lines().count(), n, "{out:?}");
    let gone = stdout.lines().all(|p| !Path::new(p).exists());
    assert!(gone, "a fifo is left: {out:?}");
}

#[test]
fn output_modes_are_per_block() {
    let dir = TempDir::new().unwrap();
    let d = dir.path().to_str().unwrap();
    let abc = "a\nb\nc\n";
    let tagstring = "--pipe -N1 -k --tagstring b{#}";
    run(tagstring, &["cat"], abc).ok("b1\ta\nb2\tb\nb3\tc\n");
    let tagged = run("--pipe -N1 -k --tag", &["cat"], abc);
    let stdout = text(&tagged);
    let untagged = stdout.lines().map(|l| l.split_once('\t').map(|t| t.1));
    let untagged: Vec<Option<&str>> = untagged.collect();
    assert_eq!(untagged, [Some("a"), Some("b"), Some("c")], "{tagged:?}");
    run(&format!("--pipe -N1 -k --joblog {d}/log"), &["cat"], abc).ok(abc);
    let log = fs::read_to_string(dir.path().join("log")).unwrap();
    let rows: Vec<Vec<&str>> = log.lines().map(|l| l.split('\t').collect()).collect();
    let seq_exit: Vec<_> = rows[1..].iter().map(|r| (r[0], r[6])).collect();
    assert_eq!(seq_exit, [("1", "0"), ("2", "0"), ("3", "0")]);
    let json = run("--pipe -N1 -k --json", &["cat"], abc);
    let records = String::from_utf8_lossy(&json.stdout);
    let records = records.lines().map(|l| serde_json::from_str(l).unwrap());
    let records: Vec<serde_json::Value> = records.collect();
    assert_eq!(records.len(), 3, "{json:?}");
    for (i, (r, block)) in records.iter().zip(["a\n", "b\n", "c\n"]).enumerate() {
        let fields = (&r["seq"], &r["stdout"], &r["exit_code"]);
        assert_eq!(fields, (&(i + 1).into(), &block.into(), &0.into()));
    }
    run(&format!("--pipe -N1 -k --results {d}/res"), &["cat"], abc).ok(abc);
    for (seq, block) in [(1, "a\n"), (2, "b\n"), (3, "c\n")] {
        let path = dir.path().join(format!("res/{seq}/stdout"));
        assert_eq!(fs::read_to_string(path).unwrap(), block);
    }
}

#[test]
fn halt_and_timeout_are_per_block() {
    let fail3 = ["sh", "-c", r#"n=$(cat); echo "$n"; [ "$n" != 3 ]"#];
    let out = run("--pipe -N1 -j1 -k --halt now,fail=1", &fail3, numbers(10));
    assert_eq!((text(&out), out.code), ("1\n2\n3\n".into(), 1), "{out:?}");
    let halt = "pmap: --halt: 1 failed, 2 succeeded";
    assert!(out.stderr.starts_with(halt), "{out:?}");
    let slow2 = ["sh", "-c", r#"n=$(cat); [ $n = 2 ] && sleep 30; echo $n"#];
    let out = run("--pipe -N1 -j2 -k --timeout 1", &slow2, numbers(3));
    assert_eq!((text(&out), out.code), ("1\n3\n".into(), 1), "{out:?}");
}

/// Saves the block of each attempt in $0/try<attempt>.<seq>; fails the first attempt.
const FAIL_ONCE: &str = r#"d=$0; s=$PMAP_SEQ
if [ -e "$d/mark.$s" ]; then cat > "$d/try2.$s"; cat "$d/try2.$s"
else : > "$d/mark.$s"; cat > "$d/try1.$s"; exit 1; fi"#;

#[test]
fn a_retried_job_gets_the_same_block_again() {
    let dir = TempDir::new().unwrap();
    let input = numbers(3000);
    let cmd = ["sh", "-c", FAIL_ONCE, dir.path().to_str().unwrap()];
    run("--pipe --block 2k -j2 -k --retries 2", &cmd, &input[..]).ok(&input);
    let n = lines_cut(&input, 2000).len();
    for seq in 1..=n {
        let first = fs::read(dir.path().join(format!("try1.{seq}"))).unwrap();
        let second = fs::read(dir.path().join(format!("try2.{seq}"))).unwrap();
        assert!(!first.is_empty() && first == second, "block {seq}");
    }
    let files = fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(files, 3 * n, "{n} blocks: a mark and 2 attempts each");
}

#[test]
fn binary_input_with_nul_records_is_byte_exact() {
    let mut rng = Rng(0x5eed);
    let byte = |r: u64| if r < 256 { 0 } else { r as u8 }; // 1 in 4 is a NUL
    let input: Vec<u8> = (0..64_000).map(|_| byte(rng.below(1024))).collect();
    let (_dir, file) = file_with(&input);
    let nul = r"--recend \0 --block 1k -k";
    run(&format!("--pipe {nul}"), &["cat"], &input[..]).ok(&input);
    run(&format!("--pipepart -a {file} {nul}"), &["cat"], "").ok(&input);
    let sizes = run(&format!("--pipe {nul}"), &["wc", "-c"], &input[..]);
    let sizes = text(&sizes);
    let got: Vec<usize> = sizes.lines().map(|l| l.trim().parse().unwrap()).collect();
    let expected = cut(&input, 1000, positions(&input, 0, 1));
    assert_eq!(got, lens(&expected));
}

#[test]
fn fasta_records_are_never_split() {
    let mut rng = Rng(42);
    let mut input = Vec::new();
    for i in 0..100 {
        input.extend(format!(">seq{i} sample\n").bytes());
        let mut left = rng.below(2500);
        while left > 0 {
            let n = left.min(60);
            input.extend((0..n).map(|_| b"ACGT"[rng.below(4) as usize]));
            input.push(b'\n');
            left -= n;
        }
    }
    let (_dir, file) = file_with(&input);
    let expected = cut(&input, 1000, positions(&input, b'>', 0));
    assert!(expected.iter().any(|b| b.len() > 1000), "no long record");
    for src in ["--pipe".to_owned(), format!("--pipepart -a {file}")] {
        let (got, err) = blocks(&format!("{src} --recstart > --block 1k"), &input);
        assert!(got == expected, "{src}: blocks of {:?}", lens(&got));
        let notes = err.lines().all(|l| l.starts_with("pmap: "));
        assert!(notes && !err.is_empty(), "{err}");
    }
    // A job that reads only the start of its block: one '>' per block.
    let head = "--pipe --recstart > --block 1k -k";
    let out = run(head, &["head", "-c1"], &input[..]);
    assert_eq!((out.stdout, out.code), (vec![b'>'; expected.len()], 0));
}

#[test]
fn a_large_stream_comes_back_byte_exact_with_and_without_records() {
    let input = numbers(200_000);
    let opts = "--pipe --block 10k -j4";
    run(&format!("{opts} -k"), &["cat"], &input[..]).ok(&input);
    let no_records = format!("{opts} -k --recend ''");
    run(&no_records, &["cat"], &input[..]).ok(&input);
    let (got, _) = blocks(opts, &input);
    assert!(lens(&got) == lens(&lines_cut(&input, 10_000)));
    let (got, _) = blocks(&format!("{opts} --recend ''"), &input);
    assert!(got.iter().map(Vec::as_slice).eq(input.chunks(10_000)));
}

#[rustfmt::skip]
const USAGE_ERRORS: &[(&str, &[&str], &str)] = &[
    // (options, command, a word the message names)
    ("--pipe", &["cat", ":::", "a"], ""),
    ("--pipe --block 0", &["cat"], "--block"),
    ("--pipe --block abc", &["cat"], "--block"),
    ("--pipe --block -2", &["cat"], "--block"), // stdin is a pipe: its size is unknown
    ("--pipe --round-robin --cat", &["cat"], ""),
    ("--pipe --cat -S 1/a,1/b", &["cat"], "-S"),
    ("--pipe -n 2", &["cat"], "-n"),
    ("--pipe --colsep ,", &["cat"], "--colsep"),
    ("--pipe --pool process", &["cat"], "--pool"),
    ("--pipe --csv", &["cat"], "--csv"),
    ("--pipepart", &["cat"], "-a"),
];

#[test]
fn usage_errors() {
    let mut wrong = Vec::new();
    for (opts, cmd, names) in USAGE_ERRORS {
        let args = words(opts, cmd);
        let out = run_in(&args, Stdio::piped(), b"a\n".into(), LIMIT / 3);
        let err = &out.stderr;
        let one_line = err.starts_with("pmap: ") && err.lines().count() == 1;
        let named = err.ends_with('\n') && err.contains(names);
        if !(out.code == 255 && out.stdout.is_empty() && one_line && named) {
            wrong.push(format!("{opts}: {out:?}"));
        }
    }
    assert!(wrong.is_empty(), "not usage errors:\n{}", wrong.join("\n"));
}

#[test]
fn pipepart_refuses_a_named_pipe() {
    let dir = TempDir::new().unwrap();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let args = words(&format!("--pipepart -a {}", fifo.display()), &["cat"]);
    let out = run_in(&args, Stdio::null(), vec![], LIMIT / 3);
    out.usage_error();
}

#[test]
fn memory_stays_bounded_while_200_mb_stream_through() {
    let Some(time) = common::program_or_skip("/usr/bin/time", "time") else {
        return;
    };
    let dir = TempDir::new().unwrap();
    let rss = dir.path().join("rss");
    let mut child = Command::new(time)
        .args(["-f", "%M", "-o", rss.to_str().unwrap(), pmap_path()])
        .args(["--pipe", "--block", "1M", "-j2", "wc", "-l"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/time runs pmap");
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        let chunk = b"0123456789abcdefghi\n".repeat(50_000); // 1 MB, 50 000 lines
        (0..200).try_for_each(|_| stdin.write_all(&chunk))
    });
    let mut stdout = child.stdout.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let stderr = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || common::read_all(stderr));
    let code = wait_with_timeout(&mut child, LIMIT);
    assert_eq!(code, 0, "{}", err.join().unwrap());
    let counts = out.join().unwrap();
    let counts = counts.lines().map(|l| l.trim().parse::<u64>().unwrap());
    assert_eq!(counts.sum::<u64>(), 10_000_000, "the jobs' line counts");
    let peak_kb: u64 = fs::read_to_string(&rss).unwrap().trim().parse().unwrap();
    assert!(peak_kb < 40_000, "peak RSS {peak_kb} kB, --block 1M -j2");
}
