//! The job reader (SPEC §1): input sources, delimiters, product and `--link`, `--colsep`
//! and `-n`, turned into a stream of [`Job`]s.
//!
//! Only the first source is streamed; the others of a product (or of `--link`) are read
//! into memory when the run starts, because every item of the first is paired with all of
//! them. So memory does not grow with the number of items of the first source, and the first
//! job starts before it ends.

mod combine;
mod records;

use std::fs::File;
use std::io::{self, BufReader};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use regex::bytes::Regex;

use combine::{Link, Product};
pub use records::Records;

/// One unit of work: its sequence number (from 1) and its values, flattened over input
/// sources, `--colsep` columns and `-n` items. `{N}` is `values[N-1]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub seq: u64,
    pub values: Vec<Vec<u8>>,
    /// Attempts already made (`--retries`), when the job comes back for another.
    pub attempts: u32,
    /// With `--sshlogin`: the hosts (by index) on which it failed, so that a retry goes
    /// elsewhere if it can.
    pub failed_on: Vec<usize>,
}

/// Where one input source's items come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// Standard input.
    Stdin,
    /// A file (`-a FILE`, `:::: FILE`).
    File(PathBuf),
    /// Items given on the command line (`::: ITEM...`).
    Inline(Vec<Vec<u8>>),
}

/// How the input is read and shaped into jobs.
#[derive(Debug, Clone)]
pub struct InputConfig {
    pub sources: Vec<SourceSpec>,
    pub delimiter: u8,
    pub link: bool,
    pub colsep: Option<Regex>,
    pub max_args: usize,
}

type Items = Box<dyn Iterator<Item = io::Result<Vec<u8>>> + Send>;

/// Opens every source (so an unreadable file fails before any job runs) and returns the
/// stream of jobs.
pub fn open(config: &InputConfig) -> Result<JobReader> {
    let mut streams: Vec<Items> = Vec::new();
    for spec in &config.sources {
        streams.push(open_source(spec, config.delimiter)?);
    }
    let mut streams = streams.into_iter();
    let first = streams.next().context("no input source")?;
    let rest = streams
        .map(|s| s.collect::<io::Result<Vec<_>>>())
        .collect::<io::Result<Vec<_>>>()
        .context("cannot read input")?;
    let records: Box<dyn Iterator<Item = io::Result<Vec<Vec<u8>>>> + Send> = if config.link {
        Box::new(Link::new(first, rest))
    } else {
        Box::new(Product::new(first, rest))
    };
    Ok(JobReader {
        records,
        colsep: config.colsep.clone(),
        max_args: config.max_args.max(1),
        next_seq: 1,
        failed: false,
    })
}

fn open_source(spec: &SourceSpec, delimiter: u8) -> Result<Items> {
    Ok(match spec {
        SourceSpec::Stdin => Box::new(Records::new(
            Box::new(BufReader::with_capacity(64 * 1024, io::stdin())),
            delimiter,
        )),
        SourceSpec::File(path) => {
            let file = File::open(path)
                .with_context(|| format!("cannot read input file '{}'", path.display()))?;
            if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
                bail!(
                    "cannot read input file '{}': it is a directory",
                    path.display()
                );
            }
            Box::new(Records::new(
                Box::new(BufReader::with_capacity(64 * 1024, file)),
                delimiter,
            ))
        }
        SourceSpec::Inline(items) => Box::new(items.clone().into_iter().map(Ok)),
    })
}

/// The stream of jobs, in input order, numbered from 1. After a read error it ends.
pub struct JobReader {
    records: Box<dyn Iterator<Item = io::Result<Vec<Vec<u8>>>> + Send>,
    colsep: Option<Regex>,
    max_args: usize,
    next_seq: u64,
    failed: bool,
}

impl JobReader {
    fn split_columns(&self, record: Vec<Vec<u8>>, values: &mut Vec<Vec<u8>>) {
        match &self.colsep {
            None => values.extend(record),
            Some(re) => {
                for value in record {
                    values.extend(re.split(&value).map(<[u8]>::to_vec));
                }
            }
        }
    }
}

impl Iterator for JobReader {
    type Item = io::Result<Job>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let mut values = Vec::new();
        for _ in 0..self.max_args {
            match self.records.next() {
                Some(Ok(record)) => self.split_columns(record, &mut values),
                Some(Err(e)) => {
                    self.failed = true;
                    return Some(Err(e));
                }
                None => break,
            }
        }
        if values.is_empty() {
            return None;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        Some(Ok(Job {
            seq,
            values,
            attempts: 0,
            failed_on: Vec::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inline(items: &[&str]) -> SourceSpec {
        SourceSpec::Inline(items.iter().map(|s| s.as_bytes().to_vec()).collect())
    }

    fn jobs(config: InputConfig) -> Vec<Vec<String>> {
        open(&config)
            .unwrap()
            .map(|j| {
                j.unwrap()
                    .values
                    .iter()
                    .map(|v| String::from_utf8(v.clone()).unwrap())
                    .collect()
            })
            .collect()
    }

    fn config(sources: Vec<SourceSpec>) -> InputConfig {
        InputConfig {
            sources,
            delimiter: b'\n',
            link: false,
            colsep: None,
            max_args: 1,
        }
    }

    #[test]
    fn colsep_and_max_args_flatten_values() {
        let mut c = config(vec![inline(&["a,b", "c", "d,e,f"])]);
        c.colsep = Some(Regex::new(",").unwrap());
        c.max_args = 2;
        assert_eq!(jobs(c), [vec!["a", "b", "c"], vec!["d", "e", "f"]]);
    }

    #[test]
    fn sequence_numbers_start_at_one() {
        let seqs: Vec<u64> = open(&config(vec![inline(&["x", "y"])]))
            .unwrap()
            .map(|j| j.unwrap().seq)
            .collect();
        assert_eq!(seqs, [1, 2]);
    }
}
