//! `-X`, `-m`, `--xargs`: as many items per job as fit on one command line, as xargs packs
//! them. The limit is the system's (`ARG_MAX` less the environment and xargs' 2 KiB of
//! headroom; a shell line, being one argument, at most 128 KiB) or `-s`. Items are packed
//! as they stream in; once the input ends, what is left is shared evenly among the job
//! slots, so that a short input still keeps every slot busy (as GNU parallel does).

use std::collections::VecDeque;
use std::io;

use crate::input::Job;
use crate::template::Template;

/// How items are packed into jobs.
#[derive(Debug, Clone)]
pub struct Packing {
    /// The command, to measure each job's command line with.
    pub template: Template,
    /// Bytes a job's command line may take.
    pub limit: usize,
    /// Job slots, to share the end of the input among.
    pub slots: usize,
    /// `-n`: at most this many items per job, fitting or not.
    pub max_items: usize,
    /// Whether argument pointers count (the system's limit), or not (`-s`, as xargs).
    pub pointers: bool,
}

/// The longest argument Linux takes (`MAX_ARG_STRLEN`): a shell line is one argument.
const MAX_ARG: usize = 32 * 4096;

/// xargs' headroom below `ARG_MAX`.
const HEADROOM: usize = 2048;

/// The default limit for `template`: what the system allows a command, less the environment
/// every job gets.
pub fn system_limit(template: &Template) -> usize {
    let arg_max = nix::unistd::sysconf(nix::unistd::SysconfVar::ARG_MAX)
        .ok()
        .flatten()
        .map_or(MAX_ARG, |n| usize::try_from(n).unwrap_or(MAX_ARG));
    let environment: usize = std::env::vars_os()
        .map(|(k, v)| k.len() + v.len() + 2 + std::mem::size_of::<usize>())
        .sum();
    // PMAP_SEQ, PMAP_SLOT and PMAP_HOST, set per job.
    let own = 3 * (32 + std::mem::size_of::<usize>());
    let limit = arg_max.saturating_sub(environment + own + HEADROOM);
    if template.is_shell() {
        limit.min(MAX_ARG - 1)
    } else {
        limit
    }
}

type Records = Box<dyn Iterator<Item = io::Result<Vec<Vec<u8>>>> + Send>;

/// The jobs of `-X`/`-m`: records (one value per source) packed by size.
pub struct PackedJobs {
    records: Records,
    packing: Packing,
    /// The command line's size without values.
    base: usize,
    /// A record read that did not fit in the last job: it starts the next.
    carried: Option<Vec<Vec<u8>>>,
    /// The end of the input, shared out, waiting to be taken.
    shared: VecDeque<Vec<Vec<u8>>>,
    ended: bool,
    next_seq: u64,
}

impl PackedJobs {
    pub fn new(records: Records, packing: Packing) -> Self {
        let base = packing.template.exec_size(&[], packing.pointers);
        PackedJobs {
            records,
            packing,
            base,
            carried: None,
            shared: VecDeque::new(),
            ended: false,
            next_seq: 1,
        }
    }

    /// What a record adds to the command line: per value, what one more value like it
    /// adds (an argument, a word repeated for it, or it and a space in a shared word).
    fn cost(&self, record: &[Vec<u8>]) -> usize {
        let size = |values: &[Vec<u8>]| {
            self.packing
                .template
                .exec_size(values, self.packing.pointers)
        };
        record
            .iter()
            .map(|v| size(&[v.clone(), v.clone()]).saturating_sub(size(std::slice::from_ref(v))))
            .sum()
    }

    fn job(&mut self, values: Vec<Vec<u8>>) -> Job {
        let seq = self.next_seq;
        self.next_seq += 1;
        Job {
            seq,
            values,
            attempts: 0,
            failed_on: Vec::new(),
            block: None,
        }
    }

    /// Shares `records`, the end of the input, evenly among the slots.
    fn share_out(&mut self, mut records: Vec<Vec<Vec<u8>>>) {
        let parts = self.packing.slots.clamp(1, records.len().max(1));
        let (each, extra) = (records.len() / parts, records.len() % parts);
        for part in 0..parts {
            let take = each + usize::from(part < extra);
            let rest = records.split_off(take);
            self.shared.push_back(records.concat());
            records = rest;
        }
    }
}

impl Iterator for PackedJobs {
    type Item = io::Result<Job>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(values) = self.shared.pop_front() {
            return Some(Ok(self.job(values)));
        }
        if self.ended {
            return None;
        }
        let mut taken: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut size = self.base;
        if let Some(record) = self.carried.take() {
            size += self.cost(&record);
            taken.push(record);
        }
        loop {
            match self.records.next() {
                Some(Ok(record)) => {
                    let cost = self.cost(&record);
                    let full =
                        size + cost > self.packing.limit || taken.len() >= self.packing.max_items;
                    if full && !taken.is_empty() {
                        self.carried = Some(record);
                        return Some(Ok(self.job(taken.concat())));
                    }
                    size += cost;
                    taken.push(record);
                }
                Some(Err(e)) => {
                    self.ended = true;
                    return Some(Err(e));
                }
                None => {
                    self.ended = true;
                    if taken.is_empty() {
                        return None;
                    }
                    self.share_out(taken);
                    let values = self.shared.pop_front()?;
                    return Some(Ok(self.job(values)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn packed(items: usize, limit: usize, slots: usize) -> Vec<usize> {
        let words: Vec<OsString> = ["echo"].iter().map(OsString::from).collect();
        let template = Template::parse(&words, None, false).unwrap();
        let records: Records =
            Box::new((0..items).map(|i| Ok(vec![format!("{i:04}").into_bytes()])));
        let packing = Packing {
            template,
            limit,
            slots,
            max_items: usize::MAX,
            pointers: true,
        };
        PackedJobs::new(records, packing)
            .map(|job| job.unwrap().values.len())
            .collect()
    }

    #[test]
    fn full_jobs_stream_and_the_end_is_shared_among_the_slots() {
        // "echo" costs 13 bytes (with its NUL and pointer), each 4-digit item 13.
        assert_eq!(packed(10, 13 + 13 * 4, 3), [4, 4, 1, 1]);
        assert_eq!(packed(10, 10_000, 4), [3, 3, 2, 2]);
        assert_eq!(packed(2, 10_000, 4), [1, 1]);
        assert_eq!(packed(0, 10_000, 4), Vec::<usize>::new());
        // An item too big on its own still makes a job.
        assert_eq!(packed(3, 1, 1), [1, 1, 1]);
    }
}
