//! Unit tests of the process-pool executor, driving it alone.

use super::*;
use crate::exec::testing::{env, job, output};

const ECHO_WORKER: &str =
    r#"echo "started $PMAP_SLOT" >&2; while read -r l; do echo "<$l $$>"; done"#;

#[test]
fn one_worker_answers_item_after_item_and_is_retired() {
    let (env, events) = env(&[
        "-j3",
        "--pool",
        "process",
        "sh",
        "-c",
        ECHO_WORKER,
        ":::",
        "x",
    ]);
    let mut executor = PersistentWorker::new(&env, 3);
    let (mut first, _) = executor.attempt(&job(1, "a"), &mut || {}).unwrap();
    let (mut second, _) = executor.attempt(&job(2, "b"), &mut || {}).unwrap();
    assert_eq!(first.status, JobStatus::Exited(0));
    let (first, second) = (output(&mut first).0, output(&mut second).0);
    let pid = |answer: &str| {
        answer
            .trim_end_matches(">\n")
            .rsplit(' ')
            .next()
            .map(String::from)
    };
    assert!(
        first.starts_with("<a ") && second.starts_with("<b "),
        "{first}{second}"
    );
    assert_eq!(
        pid(&first),
        pid(&second),
        "the same worker answers both items"
    );
    executor.retire();
    let stderr: Vec<u8> = events
        .try_iter()
        .filter_map(|event| match event {
            Event::WorkerStderr { mut data } => data.take_bytes().ok(),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(stderr, b"started 3\n");
}

#[test]
fn a_worker_that_dies_fails_its_item_and_the_next_gets_a_fresh_one() {
    let script = r#"read -r l; [ "$l" = die ] && exit 4; echo "ok $l""#;
    let (env, _events) = env(&["--pool", "process", "sh", "-c", script, ":::", "x"]);
    let mut executor = PersistentWorker::new(&env, 1);
    let (died, _) = executor.attempt(&job(1, "die"), &mut || {}).unwrap();
    assert_eq!(died.status, JobStatus::Exited(4));
    let (mut next, _) = executor.attempt(&job(2, "b"), &mut || {}).unwrap();
    assert_eq!(output(&mut next).0, "ok b\n");
    executor.retire();
}
