//! The job reader (SPEC §1): input sources, delimiters, product and `--link`, `--colsep`
//! and `-n`, turned into a stream of [`Job`]s.
//!
//! Only the first source is streamed; the others of a product (or of `--link`) are read
//! into memory when the run starts, because every item of the first is paired with all of
//! them. So memory does not grow with the number of items of the first source, and the first
//! job starts before it ends.

pub mod blocks;
mod combine;
pub mod pack;
pub mod parts;
mod records;
pub mod separator;

use std::fs::File;
use std::io::{self, BufReader};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use regex::bytes::Regex;

use blocks::{BlockBytes, BlockJobs, BlockSize, Cutter, DealtJobs, PipeConfig};
use combine::{Link, Product};
use pack::{PackedJobs, Packing};
use parts::{FilePart, PartJobs};
pub use records::Records;

/// One unit of work: its sequence number (from 1) and its values, flattened over input
/// sources, `--colsep` columns and `-n` items. `{N}` is `values[N-1]`. With `--pipe`, its
/// block of input instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub seq: u64,
    pub values: Vec<Vec<u8>>,
    /// Attempts already made (`--retries`), when the job comes back for another.
    pub attempts: u32,
    /// With `--sshlogin`: the hosts (by index) on which it failed, so that a retry goes
    /// elsewhere if it can.
    pub failed_on: Vec<usize>,
    /// `--pipe`, `--pipepart`: what the job reads.
    pub block: Option<Block>,
}

impl Job {
    /// A job that reads `block` and has no values.
    pub fn with_block(seq: u64, block: Block) -> Self {
        Job {
            seq,
            values: Vec::new(),
            attempts: 0,
            failed_on: Vec::new(),
            block: Some(block),
        }
    }
}

/// The input of one `--pipe` job.
#[derive(Debug, Clone)]
pub enum Block {
    /// Bytes cut from a stream: the header, then whole records.
    Bytes(Arc<BlockBytes>),
    /// `--pipepart`: part of a file.
    Part(Arc<FilePart>),
    /// `--round-robin`: blocks as the reader deals them, until it closes the channel.
    Dealt(crossbeam_channel::Receiver<Arc<BlockBytes>>),
}

impl Block {
    /// The bytes of input it holds (none known for `--round-robin`'s).
    pub fn input_bytes(&self) -> u64 {
        match self {
            Block::Bytes(bytes) => bytes.len() as u64,
            Block::Part(part) => part.header.len() as u64 + part.len,
            Block::Dealt(_) => 0,
        }
    }
}

impl PartialEq for Block {
    /// The same block: the same bytes, part or channel (not merely equal contents).
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Block::Bytes(a), Block::Bytes(b)) => Arc::ptr_eq(a, b),
            (Block::Part(a), Block::Part(b)) => Arc::ptr_eq(a, b),
            (Block::Dealt(a), Block::Dealt(b)) => a.same_channel(b),
            _ => false,
        }
    }
}

impl Eq for Block {}

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

/// `--trim`: which ends of a value lose their white space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    None,
    Left,
    Right,
    Both,
}

impl Trim {
    /// `value` with white space trimmed off as asked.
    pub fn apply(self, value: &[u8]) -> &[u8] {
        match self {
            Trim::None => value,
            Trim::Left => value.trim_ascii_start(),
            Trim::Right => value.trim_ascii_end(),
            Trim::Both => value.trim_ascii(),
        }
    }
}

/// How the input is read and shaped into jobs.
#[derive(Debug, Clone)]
pub struct InputConfig {
    pub sources: Vec<SourceSpec>,
    pub delimiter: u8,
    pub link: bool,
    /// Per source: linked to the one before it (`:::+`, `::::+`).
    pub linked: Vec<bool>,
    pub colsep: Option<Regex>,
    pub max_args: usize,
    /// `-N0`: a job per item, with no values.
    pub no_values: bool,
    /// `-E STR`: each source ends at an item equal to STR.
    pub eof: Option<Vec<u8>>,
    /// `-r`: items that are empty or only white space are skipped.
    pub skip_blank: bool,
    /// `--trim`: white space trimmed off items, or with `--colsep` off each column.
    pub trim: Trim,
    /// `-L`: an item that ends in a blank is continued by the next one.
    pub join_continued: bool,
    /// `-X`, `-m`: as many items per job as fit on the command line.
    pub pack: Option<Packing>,
    /// `--shuf`: every job read first, then run in a random order.
    pub shuffle: bool,
    /// `--pipe`/`--pipepart`: blocks instead of items.
    pub pipe: Option<PipeConfig>,
}

type Items = Box<dyn Iterator<Item = io::Result<Vec<u8>>> + Send>;

/// Opens every source (so an unreadable file fails before any job runs) and returns the
/// stream of jobs.
pub fn open(config: &InputConfig) -> Result<JobReader> {
    match &config.pipe {
        Some(pipe) => open_blocks(config, pipe),
        None if config.shuffle => {
            let mut inner = open(&InputConfig {
                shuffle: false,
                ..config.clone()
            })?;
            Ok(JobReader::Buffered(shuffled(&mut inner)))
        }
        None => {
            let records = open_records(config)?;
            Ok(match &config.pack {
                Some(packing) => JobReader::Packed(PackedJobs::new(records, packing.clone())),
                None => JobReader::Items(ItemJobs {
                    records,
                    colsep: config.colsep.clone(),
                    trim: config.trim,
                    max_args: config.max_args.max(1),
                    no_values: config.no_values,
                    next_seq: 1,
                    failed: false,
                }),
            })
        }
    }
}

/// The jobs of `--pipe` (one per block, or `--round-robin`'s) and `--pipepart`.
fn open_blocks(config: &InputConfig, pipe: &PipeConfig) -> Result<JobReader> {
    if let Some(path) = &pipe.part_of {
        return Ok(JobReader::Parts(PartJobs::open(path, pipe)?));
    }
    let source = config.sources.first().context("no input source")?;
    let (reader, size): (Box<dyn io::Read + Send>, Option<u64>) = match source {
        SourceSpec::Stdin => (Box::new(io::stdin()), stdin_size()),
        SourceSpec::File(path) => {
            let (file, meta) = open_file(path)?;
            let size = meta.filter(|m| m.is_file()).map(|m| m.len());
            (Box::new(file), size)
        }
        SourceSpec::Inline(_) => bail!("--pipe reads standard input or one -a FILE, not ::: items"),
    };
    let block = match pipe.block {
        BlockSize::Bytes(n) => n,
        BlockSize::PerSlot(n) => {
            let Some(size) = size else {
                bail!(
                    "--block -{n} needs the input's size: use --pipepart -a FILE, or redirect a file to stdin"
                );
            };
            let parts = n.saturating_mul(pipe.slots as u64).max(1);
            usize::try_from(size.div_ceil(parts))
                .unwrap_or(usize::MAX)
                .max(1)
        }
    };
    let cutter = Cutter::new(reader, block, pipe, size).context("cannot read input")?;
    Ok(if pipe.round_robin {
        JobReader::Dealt(DealtJobs::new(cutter, pipe.slots))
    } else {
        JobReader::Blocks(BlockJobs::new(cutter))
    })
}

/// The bytes left to read on standard input, when it is a regular file.
fn stdin_size() -> Option<u64> {
    use std::os::fd::AsFd;
    let stdin = io::stdin();
    let meta = nix::sys::stat::fstat(stdin.as_fd()).ok()?;
    if meta.st_mode & libc::S_IFMT != libc::S_IFREG {
        return None;
    }
    let at = nix::unistd::lseek(stdin.as_fd(), 0, nix::unistd::Whence::SeekCur).ok()?;
    Some((meta.st_size - at).max(0) as u64)
}

/// `--shuf`: all of `jobs`, shuffled and numbered from 1 in their new order (as GNU
/// parallel numbers them); a read error comes after them.
fn shuffled(jobs: &mut JobReader) -> std::collections::VecDeque<io::Result<Job>> {
    let (mut all, error) = read_all(jobs);
    fastrand::shuffle(&mut all);
    for (i, job) in all.iter_mut().enumerate() {
        job.seq = i as u64 + 1;
    }
    let mut queue: std::collections::VecDeque<io::Result<Job>> = all.into_iter().map(Ok).collect();
    queue.extend(error.map(Err));
    queue
}

/// Every job of `jobs`, and the read error that ended them, if one did.
fn read_all(jobs: &mut JobReader) -> (Vec<Job>, Option<io::Error>) {
    let mut all = Vec::new();
    for job in jobs {
        match job {
            Ok(job) => all.push(job),
            Err(e) => return (all, Some(e)),
        }
    }
    (all, None)
}

/// The records of items (one value per source): sources, product or link.
fn open_records(config: &InputConfig) -> Result<RecordStream> {
    let mut streams: Vec<Items> = Vec::new();
    for spec in &config.sources {
        streams.push(shaped(open_source(spec, config.delimiter)?, config));
    }
    let mut streams = streams.into_iter();
    let first = streams.next().context("no input source")?;
    let rest = streams
        .map(|s| s.collect::<io::Result<Vec<_>>>())
        .collect::<io::Result<Vec<_>>>()
        .context("cannot read input")?;
    // Groups of sources linked together (`--link`: all; `:::+`: with the one before), the
    // first group streamed with the first source, multiplied as wholes.
    let linked = |i: usize| config.link || config.linked.get(i).copied().unwrap_or(false);
    let mut groups: Vec<Vec<Vec<Vec<u8>>>> = Vec::new();
    let mut first_group = Vec::new();
    for (k, items) in rest.into_iter().enumerate() {
        let i = k + 1;
        match groups.last_mut() {
            None if linked(i) => first_group.push(items),
            Some(group) if linked(i) => group.push(items),
            _ => groups.push(vec![items]),
        }
    }
    // `--link` wraps shorter sources around; `:::+` stops at the shortest (as GNU parallel).
    let wrap = config.link;
    let first: RecordStream = if first_group.is_empty() {
        Box::new(first.map(|item| item.map(|v| vec![v])))
    } else if wrap {
        Box::new(Link::new(first, first_group))
    } else {
        Box::new(zip_shortest(first, first_group))
    };
    let rest: Vec<Vec<Vec<Vec<u8>>>> = groups
        .into_iter()
        .map(|mut group| {
            let first: Items = Box::new(group.remove(0).into_iter().map(Ok));
            if wrap {
                Link::new(first, group).filter_map(Result::ok).collect()
            } else {
                zip_shortest(first, group).filter_map(Result::ok).collect()
            }
        })
        .collect();
    Ok(Box::new(Product::new(first, rest)))
}

/// `:::+`: the i-th record takes the i-th value of every source, as long as all have one.
fn zip_shortest(
    first: Items,
    rest: Vec<Vec<Vec<u8>>>,
) -> impl Iterator<Item = io::Result<Vec<Vec<u8>>>> + Send {
    let shortest = rest.iter().map(Vec::len).min().unwrap_or(usize::MAX);
    first.zip(0..shortest).map(move |(item, i)| {
        item.map(|v| {
            let mut record = Vec::with_capacity(rest.len() + 1);
            record.push(v);
            record.extend(rest.iter().map(|source| source[i].clone()));
            record
        })
    })
}

type RecordStream = Box<dyn Iterator<Item = io::Result<Vec<Vec<u8>>>> + Send>;

/// `-L`: lines, each one that ends in a space or a tab joined with the line after it (as
/// xargs' `-L` reads them).
struct Continued {
    items: Items,
}

impl Iterator for Continued {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut line = match self.items.next()? {
            Ok(line) => line,
            Err(e) => return Some(Err(e)),
        };
        while matches!(line.last(), Some(b' ' | b'\t')) {
            match self.items.next() {
                Some(Ok(more)) => line.extend_from_slice(&more),
                Some(Err(e)) => return Some(Err(e)),
                None => break,
            }
        }
        Some(Ok(line))
    }
}

/// One source's items as `-E` and `-r` shape them: up to the end marker, without blank ones.
fn shaped(items: Items, config: &InputConfig) -> Items {
    let items: Items = match config.eof.clone() {
        Some(eof) => {
            Box::new(items.take_while(move |item| item.as_ref().map_or(true, |v| *v != eof)))
        }
        None => items,
    };
    let items: Items = if config.join_continued {
        Box::new(Continued { items })
    } else {
        items
    };
    let items: Items = if config.skip_blank {
        let blank = |v: &[u8]| v.iter().all(u8::is_ascii_whitespace);
        Box::new(items.filter(move |item| item.as_ref().map_or(true, |v| !blank(v))))
    } else {
        items
    };
    // With --colsep, the columns are trimmed instead (`ItemJobs::split_columns`).
    match config.trim {
        Trim::None => items,
        _ if config.colsep.is_some() => items,
        trim => Box::new(items.map(move |item| item.map(|v| trim.apply(&v).to_vec()))),
    }
}

/// An input file opened for reading, and what is known of it; a directory is an error.
fn open_file(path: &std::path::Path) -> Result<(File, Option<std::fs::Metadata>)> {
    let file =
        File::open(path).with_context(|| format!("cannot read input file '{}'", path.display()))?;
    let meta = file.metadata().ok();
    if meta.as_ref().is_some_and(std::fs::Metadata::is_dir) {
        bail!(
            "cannot read input file '{}': it is a directory",
            path.display()
        );
    }
    Ok((file, meta))
}

fn open_source(spec: &SourceSpec, delimiter: u8) -> Result<Items> {
    Ok(match spec {
        SourceSpec::Stdin => Box::new(Records::new(
            Box::new(BufReader::with_capacity(64 * 1024, io::stdin())),
            delimiter,
        )),
        SourceSpec::File(path) => Box::new(Records::new(
            Box::new(BufReader::with_capacity(64 * 1024, open_file(path)?.0)),
            delimiter,
        )),
        SourceSpec::Inline(items) => Box::new(items.clone().into_iter().map(Ok)),
    })
}

/// The stream of jobs, in input order, numbered from 1. After a read error it ends.
pub enum JobReader {
    Items(ItemJobs),
    /// Every job, read ahead: `--shuf`'s in a random order, numbered in that order.
    Buffered(std::collections::VecDeque<io::Result<Job>>),
    Packed(PackedJobs),
    Blocks(BlockJobs),
    Dealt(DealtJobs),
    Parts(PartJobs),
}

impl JobReader {
    /// Reads every job ahead, for what needs their number before the first starts
    /// (`{##}`); the number is that of the jobs read before any read error.
    pub fn read_ahead(self) -> (JobReader, u64) {
        let mut jobs = self;
        if let JobReader::Buffered(queue) = &jobs {
            let total = queue.iter().filter(|job| job.is_ok()).count();
            return (jobs, total as u64);
        }
        let (all, error) = read_all(&mut jobs);
        let total = all.len() as u64;
        let mut queue: std::collections::VecDeque<io::Result<Job>> =
            all.into_iter().map(Ok).collect();
        queue.extend(error.map(Err));
        (JobReader::Buffered(queue), total)
    }

    /// Notes for the user that reading gathered since the last call (said once each).
    pub fn take_notes(&mut self) -> Vec<String> {
        match self {
            JobReader::Blocks(jobs) => jobs.take_notes(),
            JobReader::Dealt(jobs) => jobs.take_notes(),
            JobReader::Parts(jobs) => jobs.take_notes(),
            JobReader::Items(_) | JobReader::Packed(_) | JobReader::Buffered(_) => Vec::new(),
        }
    }

    /// `--pipe`, `--pipepart`: the bytes of input to cut into blocks, when known at the start
    /// (a file; not a pipe, nor `--round-robin`, whose jobs do not end block by block).
    pub fn input_size(&self) -> Option<u64> {
        match self {
            JobReader::Blocks(jobs) => jobs.input_size(),
            JobReader::Parts(jobs) => Some(jobs.input_size()),
            JobReader::Items(_)
            | JobReader::Packed(_)
            | JobReader::Buffered(_)
            | JobReader::Dealt(_) => None,
        }
    }

    /// Whether the jobs read blocks that are all in memory as they wait (`--pipe`): then
    /// only a few may wait.
    pub fn holds_blocks(&self) -> bool {
        matches!(self, JobReader::Blocks(_))
    }
}

impl Iterator for JobReader {
    type Item = io::Result<Job>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            JobReader::Items(jobs) => jobs.next(),
            JobReader::Buffered(jobs) => jobs.pop_front(),
            JobReader::Packed(jobs) => jobs.next(),
            JobReader::Blocks(jobs) => jobs.next(),
            JobReader::Dealt(jobs) => jobs.next(),
            JobReader::Parts(jobs) => jobs.next(),
        }
    }
}

/// Items shaped into jobs.
pub struct ItemJobs {
    records: RecordStream,
    colsep: Option<Regex>,
    trim: Trim,
    max_args: usize,
    /// `-N0`: the values are dropped; each item still makes a job.
    no_values: bool,
    next_seq: u64,
    failed: bool,
}

impl ItemJobs {
    fn split_columns(&self, record: Vec<Vec<u8>>, values: &mut Vec<Vec<u8>>) {
        match &self.colsep {
            None => values.extend(record),
            Some(re) => {
                let trim = self.trim;
                for value in record {
                    values.extend(re.split(&value).map(|c| trim.apply(c).to_vec()));
                }
            }
        }
    }
}

impl Iterator for ItemJobs {
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
        if self.no_values {
            values.clear();
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        Some(Ok(Job {
            seq,
            values,
            attempts: 0,
            failed_on: Vec::new(),
            block: None,
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
            linked: Vec::new(),
            colsep: None,
            max_args: 1,
            no_values: false,
            eof: None,
            skip_blank: false,
            trim: Trim::None,
            join_continued: false,
            pack: None,
            shuffle: false,
            pipe: None,
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
