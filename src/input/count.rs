//! Counting the jobs ahead, for a progress display that knows its total from the first
//! frame: when every input source can be read twice (`:::` items, regular files), a second
//! reader counts the jobs while the first feeds them, bounded in time and holding one job
//! at a time. Standard input and fifos are read once, so their count comes when they end.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{InputConfig, SourceSpec};

/// How long counting may take before it gives up (the total then comes when the input
/// ends, as for a stream).
pub const COUNT_FOR_AT_MOST: Duration = Duration::from_secs(10);

/// Whether the jobs of `config` can be counted by reading the input a second time.
pub fn countable(config: &InputConfig) -> bool {
    config.pipe.is_none()
        && config.sources.iter().all(|source| match source {
            SourceSpec::Inline(_) => true,
            SourceSpec::Stdin => false,
            SourceSpec::File(path) => std::fs::metadata(path).is_ok_and(|m| m.is_file()),
        })
}

/// The number of jobs of `config`, or `None` if reading fails, takes longer than `limit`,
/// or `stop` is set meanwhile.
pub fn count_jobs(config: &InputConfig, limit: Duration, stop: &AtomicBool) -> Option<u64> {
    let deadline = Instant::now() + limit;
    let mut jobs = super::open(config).ok()?;
    let mut total = 0u64;
    for job in &mut jobs {
        job.ok()?;
        total += 1;
        // The clock is read every so many jobs: reading it costs more than a job here.
        if total % 1024 == 0 && (Instant::now() > deadline || stop.load(Ordering::Relaxed)) {
            return None;
        }
    }
    Some(total)
}
