//! `--results DIR` never writes through a symbolic link planted inside `DIR`: neither a job
//! directory (`DIR/1 -> elsewhere`) nor a file (`DIR/2/stdout -> victim`,
//! `DIR/3/meta.json -> victim`). The job's result gets an error naming the link, and pmap
//! exits 255 as for any unwritable results; a previous run's regular files are rewritten.

mod common;

use std::fs;
use std::os::unix::fs::symlink;

use common::run;

#[test]
fn symbolic_links_in_the_results_dir_are_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let res = tmp.path().join("res");
    let other = tmp.path().join("other");
    let victim = tmp.path().join("victim");
    let victim_meta = tmp.path().join("victim_meta");
    fs::create_dir_all(res.join("2")).unwrap();
    fs::create_dir_all(res.join("3")).unwrap();
    fs::create_dir(&other).unwrap();
    fs::write(&victim, "keep me\n").unwrap();
    fs::write(&victim_meta, "keep me too\n").unwrap();
    symlink(&other, res.join("1")).unwrap();
    symlink(&victim, res.join("2/stdout")).unwrap();
    symlink(&victim_meta, res.join("3/meta.json")).unwrap();

    let dir = res.to_str().unwrap();
    let out = run(["-k", "--results", dir, "echo", ":::", "a", "b", "c"], "");
    let stderr = format!(
        "pmap: job 1: cannot write --results files: {dir}/1 is a symbolic link; not following it\n\
         pmap: job 2: cannot write --results files: {dir}/2/stdout is a symbolic link; not following it\n\
         pmap: job 3: cannot write --results files: {dir}/3/meta.json is a symbolic link; not following it\n"
    );
    // The jobs run and print as usual.
    out.check("a\nb\nc\n", &stderr, 255);

    assert_eq!(
        fs::read_dir(&other).unwrap().count(),
        0,
        "other_dir was written"
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me\n");
    assert_eq!(fs::read_to_string(&victim_meta).unwrap(), "keep me too\n");
    assert!(fs::symlink_metadata(res.join("1")).unwrap().is_symlink());
    assert!(
        fs::symlink_metadata(res.join("2/stdout"))
            .unwrap()
            .is_symlink()
    );
    // Job 3's output files are real files, and were written.
    assert_eq!(fs::read_to_string(res.join("3/stdout")).unwrap(), "c\n");
}

#[test]
fn a_previous_runs_files_are_rewritten() {
    let tmp = tempfile::tempdir().unwrap();
    let res = tmp.path().join("res");
    let dir = res.to_str().unwrap();
    run(["--results", dir, "echo", ":::", "a-long-first-value"], "").ok("a-long-first-value\n");
    run(["--results", dir, "echo", ":::", "b"], "").ok("b\n");
    assert_eq!(fs::read_to_string(res.join("1/stdout")).unwrap(), "b\n");
    assert_eq!(fs::read_to_string(res.join("1/stderr")).unwrap(), "");
    let meta = fs::read_to_string(res.join("1/meta.json")).unwrap();
    assert!(meta.contains(r#""args":["b"]"#), "{meta}");
}

#[test]
fn a_job_dir_that_is_a_regular_file_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let res = tmp.path().join("res");
    fs::create_dir(&res).unwrap();
    fs::write(res.join("1"), "a file\n").unwrap();
    let dir = res.to_str().unwrap();
    let out = run(["--results", dir, "echo", ":::", "a"], "");
    out.check(
        "a\n",
        "pmap: job 1: cannot write --results files: Not a directory (os error 20)\n",
        255,
    );
    assert_eq!(fs::read_to_string(res.join("1")).unwrap(), "a file\n");
}
