//! The job reader (SPEC §1): input sources, delimiters, product and `--link`, `--colsep`
//! and `-n`, turned into a stream of [`Job`]s.
//!
//! Only the first source is streamed; the others of a product (or of `--link`) are read
//! into memory when the run starts, because every item of the first is paired with all of
//! them. So memory does not grow with the number of items of the first source, and the first
//! job starts before it ends.

pub mod blocks;
pub mod columns;
mod combine;
pub mod count;
pub mod csv_records;
pub mod pack;
pub mod parts;
mod records;
pub mod separator;
mod sources;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use blocks::{BlockBytes, BlockJobs, BlockSize, Cutter, DealtJobs, PipeConfig};
use columns::{Columns, Header};
use pack::{PackedJobs, Packing};
use parts::{FilePart, PartJobs};
pub use records::Records;
pub use sources::Headers;
use sources::open_file;

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
    /// What ends an item: one byte, or several (`-d '\r\n'`).
    pub delimiter: Vec<u8>,
    pub link: bool,
    /// Per source: linked to the one before it (`:::+`, `::::+`).
    pub linked: Vec<bool>,
    /// `--colsep`, `--csv`: how items are cut into columns.
    pub columns: Columns,
    /// `--header` without `--pipe`: each source's first item names its columns.
    pub header: Option<Header>,
    pub max_args: usize,
    /// `-N0`: a job per item, with no values.
    pub no_values: bool,
    /// `-E STR`: each source ends at an item equal to STR.
    pub eof: Option<Vec<u8>>,
    /// `-r`: items that are empty or only white space are skipped.
    pub skip_blank: bool,
    /// `--trim`: white space trimmed off items, or with columns off each column.
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
type RecordStream = Box<dyn Iterator<Item = io::Result<Vec<Vec<u8>>>> + Send>;

/// Opens every source (so an unreadable file fails before any job runs) and returns the
/// stream of jobs.
pub fn open(config: &InputConfig) -> Result<JobReader> {
    open_with_headers(config).map(|(jobs, _)| jobs)
}

/// [`open`], and with `--header` each source's column names, read before any job.
pub fn open_with_headers(config: &InputConfig) -> Result<(JobReader, Headers)> {
    match &config.pipe {
        Some(pipe) => Ok((open_blocks(config, pipe)?, Vec::new())),
        None if config.shuffle => {
            let (mut inner, headers) = open_with_headers(&InputConfig {
                shuffle: false,
                ..config.clone()
            })?;
            Ok((JobReader::Buffered(shuffled(&mut inner)), headers))
        }
        None => {
            let (records, headers) = sources::open_records(config)?;
            let jobs = match &config.pack {
                Some(packing) => JobReader::Packed(PackedJobs::new(records, packing.clone())),
                None => JobReader::Items(ItemJobs {
                    records,
                    columns: config.columns.clone(),
                    trim: config.trim,
                    max_args: config.max_args.max(1),
                    no_values: config.no_values,
                    next_seq: 1,
                    failed: false,
                }),
            };
            Ok((jobs, headers))
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
        if let Some(total) = jobs.buffered_total() {
            return (jobs, total);
        }
        let (all, error) = read_all(&mut jobs);
        let total = all.len() as u64;
        let mut queue: std::collections::VecDeque<io::Result<Job>> =
            all.into_iter().map(Ok).collect();
        queue.extend(error.map(Err));
        (JobReader::Buffered(queue), total)
    }

    /// The number of jobs, when they have all been read already (`--shuf`, [`read_ahead`]):
    /// those read before any read error.
    ///
    /// [`read_ahead`]: JobReader::read_ahead
    pub fn buffered_total(&self) -> Option<u64> {
        match self {
            JobReader::Buffered(queue) => {
                Some(queue.iter().filter(|job| job.is_ok()).count() as u64)
            }
            _ => None,
        }
    }

    /// Notes for the user that reading gathered since the last call (said once each).
    pub fn take_notes(&mut self) -> Vec<String> {
        match self {
            JobReader::Blocks(jobs) => jobs.take_notes(),
            JobReader::Dealt(jobs) => jobs.take_notes(),
            JobReader::Parts(jobs) => jobs.take_notes(),
            JobReader::Items(_) | JobReader::Packed(_) | JobReader::Buffered(_) => {
                records::take_crlf_notice().into_iter().collect()
            }
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
    columns: Columns,
    trim: Trim,
    max_args: usize,
    /// `-N0`: the values are dropped; each item still makes a job.
    no_values: bool,
    next_seq: u64,
    failed: bool,
}

impl ItemJobs {
    fn split_columns(&self, record: Vec<Vec<u8>>, values: &mut Vec<Vec<u8>>) -> io::Result<()> {
        for value in record {
            self.columns.split_into(value, self.trim, values)?;
        }
        Ok(())
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
                Some(Ok(record)) => {
                    if let Err(e) = self.split_columns(record, &mut values) {
                        self.failed = true;
                        return Some(Err(e));
                    }
                }
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
            delimiter: vec![b'\n'],
            link: false,
            linked: Vec::new(),
            columns: Columns::Whole,
            header: None,
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
        c.columns = Columns::Split(regex::bytes::Regex::new(",").unwrap());
        c.max_args = 2;
        assert_eq!(jobs(c), [vec!["a", "b", "c"], vec!["d", "e", "f"]]);
    }

    #[test]
    fn a_header_item_names_columns_and_is_no_job() {
        let mut c = config(vec![inline(&["a\tb", "1\t2"]), inline(&["c", "x", "y"])]);
        c.header = Some(Header::FirstItem);
        c.columns = Columns::Split(regex::bytes::Regex::new("\t").unwrap());
        let (jobs, headers) = open_with_headers(&c).unwrap();
        let names: Vec<Vec<&[u8]>> = headers
            .iter()
            .map(|h| h.iter().map(Vec::as_slice).collect())
            .collect();
        assert_eq!(names, [vec![&b"a"[..], b"b"], vec![b"c"]]);
        let values: Vec<Vec<Vec<u8>>> = jobs.map(|j| j.unwrap().values).collect();
        assert_eq!(values, [[b"1", b"2", b"x"], [b"1", b"2", b"y"]]);
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
