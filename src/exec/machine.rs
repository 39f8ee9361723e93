//! The machine's state that `--load` and `--memfree` wait on: the 1-minute load average
//! (`/proc/loadavg`) and the memory available to new processes (`MemAvailable` in
//! `/proc/meminfo`), and the watch that ends the youngest job when memory runs short.
//!
//! The tests point pmap at files of their own with `PMAP_TEST_LOADAVG` and
//! `PMAP_TEST_MEMINFO` (same formats), to make the machine busy or short of memory on cue.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::config::Placement;
use crate::exec::control::Control;

/// How often a job waiting to start looks at the machine again, and how often the memory
/// watch looks.
pub const POLL: Duration = Duration::from_millis(100);

/// After ending a job for memory, how long the watch waits for the memory to come back
/// before it ends another.
const SETTLE: Duration = Duration::from_secs(1);

fn source(test_variable: &str, real: &str) -> PathBuf {
    std::env::var_os(test_variable).map_or_else(|| PathBuf::from(real), PathBuf::from)
}

/// The 1-minute load average, if it can be read.
pub fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string(source("PMAP_TEST_LOADAVG", "/proc/loadavg")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The bytes of memory available for new processes, if they can be read.
pub fn available_memory() -> Option<u64> {
    meminfo("MemAvailable:")
}

/// The machine's memory in bytes, if it can be read.
pub fn total_memory() -> Option<u64> {
    meminfo("MemTotal:")
}

/// A field of `/proc/meminfo`, in bytes.
fn meminfo(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(source("PMAP_TEST_MEMINFO", "/proc/meminfo")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let mut words = line.split_whitespace().skip(1);
    let kib: u64 = words.next()?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// Whether `placement` lets a job start now: the load is at most `--load`'s and the
/// available memory at least `--memfree`'s. What cannot be read does not hold jobs back.
pub fn room_to_start(placement: &Placement) -> bool {
    let load_ok = placement
        .load
        .is_none_or(|max| load_average().is_none_or(|load| load <= max));
    let memory_ok = placement
        .memfree
        .is_none_or(|need| available_memory().is_none_or(|free| free >= need));
    load_ok && memory_ok
}

/// `--memfree`: until the run stops, ends the youngest running job (TERM, then KILL after
/// `grace`) whenever the available memory falls below half of `need`, so that it runs
/// again later. A job running alone is never ended: that would only start it again.
pub fn watch_memory(control: &Control, need: u64, grace: Duration) {
    let mut last_eviction: Option<Instant> = None;
    let mut to_kill: Vec<(Instant, usize, i32)> = Vec::new();
    while !stopped_within(control, POLL) {
        let now = Instant::now();
        to_kill.retain(|&(at, slot, pgid)| {
            let due = at <= now;
            if due {
                control.signal_if_still(slot, pgid, Signal::SIGKILL);
            }
            !due
        });
        if last_eviction.is_some_and(|at| now.duration_since(at) < SETTLE) {
            continue;
        }
        if available_memory().is_some_and(|free| free < need / 2)
            && let Some((slot, pgid)) = control.evict_youngest()
        {
            last_eviction = Some(now);
            to_kill.push((now + grace, slot, pgid));
        }
    }
}

/// Waits up to `wait` for the run to stop or end: true if it did.
fn stopped_within(control: &Control, wait: Duration) -> bool {
    let stopped = matches!(
        control.stopped().recv_timeout(wait),
        Ok(()) | Err(crossbeam_channel::RecvTimeoutError::Disconnected)
    );
    stopped || control.is_closed()
}
