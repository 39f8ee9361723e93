//! `--pipe`: standard input (or one file) cut into blocks of whole records, one job per
//! block, each block kept whole in memory until its job is done (a retry gets it again).
//!
//! A block is cut at the last record boundary at or before `--block` bytes, so blocks are
//! at most that big, except that a record longer than the block makes its block grow to
//! hold it whole (said once). If no record boundary has been seen at all after a good
//! look ahead, the input is taken to have no records, and plain `--block`-sized blocks are
//! cut until a boundary turns up (said once too).
//!
//! The reader holds one block being filled; the queue behind it holds one more; so with
//! `-j` jobs running, `-j + 2` blocks are in memory at most.

use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;

use regex::bytes::Regex;

use crate::input::separator::Separator;
use crate::input::{Block, Job};

/// How the input is cut into blocks and handed to jobs.
#[derive(Debug, Clone)]
pub struct PipeConfig {
    /// `--pipepart -a FILE`: the file jobs read their parts of; `None` for `--pipe`.
    pub part_of: Option<PathBuf>,
    pub block: BlockSize,
    pub separator: Separator,
    /// `--rrs`.
    pub remove_separators: bool,
    /// `-N`: records per block instead of a size.
    pub records_per_job: Option<usize>,
    pub header: Option<HeaderSpec>,
    /// `--round-robin`: `slots` jobs in all, fed blocks as they are ready for them.
    pub round_robin: bool,
    /// Job slots (`-j`), for `--block -N` and `--round-robin`.
    pub slots: usize,
    pub delivery: Delivery,
}

/// `--block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockSize {
    Bytes(usize),
    /// `--block -N`: N blocks per job slot, of an input whose size is known.
    PerSlot(u64),
}

/// `--header`.
#[derive(Debug, Clone)]
pub enum HeaderSpec {
    Lines(usize),
    /// Matched at the start of the input, up to the end of the line it ends on.
    Regex(Regex),
}

/// How a job gets its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// On its standard input.
    Stdin,
    /// `--cat`: in a temporary file named by `{}`.
    TempFile,
    /// `--fifo`: through a named pipe named by `{}`.
    Fifo,
}

/// A block's bytes. Once no job needs them, the buffer goes back to the reader to be filled
/// again: a fresh buffer for every block would cost a page fault per 4 KiB, as much as the
/// copy itself.
pub struct BlockBytes {
    data: Vec<u8>,
    home: crossbeam_channel::Sender<Vec<u8>>,
}

impl std::ops::Deref for BlockBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.data
    }
}

impl std::fmt::Debug for BlockBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlockBytes({} bytes)", self.data.len())
    }
}

impl Drop for BlockBytes {
    fn drop(&mut self) {
        // A full pool: this buffer is one too many, and is freed.
        let _ = self.home.try_send(std::mem::take(&mut self.data));
    }
}

/// How far ahead a block with no record boundary looks for one before the input is taken to
/// have no records: this much past the block size.
const LOOK_FOR_RECORDS: usize = 16 << 20;

/// Cuts a stream into blocks.
pub struct Cutter {
    reader: Box<dyn Read + Send>,
    /// The header, then bytes already cut off (up to `pos`), then bytes read but not yet cut
    /// off.
    buf: Vec<u8>,
    header: usize,
    pos: usize,
    eof: bool,
    size: usize,
    separator: Separator,
    records_per_job: Option<usize>,
    remove_separators: bool,
    /// `--block -N`: blocks end at the first boundary at or after the size, not the last
    /// one before it.
    round_up: bool,
    /// Whether a record boundary has been found anywhere yet.
    seen_records: bool,
    /// Notes for the user, said once each, waiting to be taken.
    notes: Vec<String>,
    noted_long: bool,
    noted_none: bool,
    /// The bytes the input holds, when known at the start.
    input_size: Option<u64>,
    /// Buffers of blocks done with, to be filled again, and where they are sent.
    spare: crossbeam_channel::Receiver<Vec<u8>>,
    home: crossbeam_channel::Sender<Vec<u8>>,
}

impl Cutter {
    /// Reads the header (if any) off `reader` and gets ready to cut blocks of `size` bytes.
    pub fn new(
        mut reader: Box<dyn Read + Send>,
        size: usize,
        config: &PipeConfig,
        input_size: Option<u64>,
    ) -> io::Result<Self> {
        let mut buf = Vec::new();
        let header = match &config.header {
            None => 0,
            Some(spec) => read_header(&mut reader, spec, &mut buf)?,
        };
        // Every block in memory (-j running, one waiting, one being filled) can come back.
        let (home, spare) = crossbeam_channel::bounded(config.slots + 2);
        Ok(Cutter {
            input_size,
            spare,
            home,
            reader,
            buf,
            header,
            pos: header,
            eof: false,
            size: size.max(1),
            separator: config.separator.clone(),
            records_per_job: config.records_per_job,
            remove_separators: config.remove_separators,
            round_up: matches!(config.block, BlockSize::PerSlot(_)),
            seen_records: false,
            notes: Vec::new(),
            noted_long: false,
            noted_none: false,
        })
    }

    /// A block's bytes, which come back here once no job needs them.
    pub fn bytes(&self, block: Vec<u8>) -> BlockBytes {
        BlockBytes {
            data: block,
            home: self.home.clone(),
        }
    }

    /// An empty buffer with room for `capacity` bytes, a spare one if there is one.
    fn buffer(&self, capacity: usize) -> Vec<u8> {
        match self.spare.try_recv() {
            Ok(mut buf) => {
                buf.clear();
                buf.reserve(capacity);
                buf
            }
            Err(_) => Vec::with_capacity(capacity),
        }
    }

    /// Notes gathered since the last call.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// Reads until the buffer holds `want` bytes not yet cut off, or the input ends.
    fn fill_to(&mut self, want: usize) -> io::Result<()> {
        let target = self.pos.saturating_add(want);
        while !self.eof && self.buf.len() < target {
            let need = (target - self.buf.len()) as u64;
            self.buf.reserve(need as usize);
            let got = (&mut self.reader).take(need).read_to_end(&mut self.buf)?;
            if got == 0 {
                self.eof = true;
            }
        }
        Ok(())
    }

    /// The next block (the header, then whole records), or `None` at the end of the input.
    pub fn next_block(&mut self) -> io::Result<Option<Vec<u8>>> {
        let cut = match self.records_per_job {
            Some(n) => self.cut_records(n)?,
            None => self.cut_size()?,
        };
        if cut == self.pos {
            return Ok(None);
        }
        let mut block = self.take_block(cut);
        if self.remove_separators {
            let stripped = self.separator.remove_separators(&block[self.header..]);
            block.truncate(self.header);
            block.extend_from_slice(&stripped);
        }
        Ok(Some(block))
    }

    /// The header and the bytes from `pos` to `cut`, as a block of their own. Whichever is
    /// shorter is copied: the block, or what follows it (which then starts a new buffer,
    /// and the old one becomes the block).
    fn take_block(&mut self, cut: usize) -> Vec<u8> {
        let h = self.header;
        if self.pos == h && self.buf.len() - cut <= cut - self.pos {
            // Room for the next block as `cut_size` reads it, without growing.
            let room = h + self.buf.len() - cut + self.size + 1 + self.separator.lookahead();
            let mut buf = self.buffer(room);
            buf.extend_from_slice(&self.buf[..h]);
            buf.extend_from_slice(&self.buf[cut..]);
            self.buf.truncate(cut);
            return std::mem::replace(&mut self.buf, buf);
        }
        let mut block = self.buffer(h + cut - self.pos);
        block.extend_from_slice(&self.buf[..h]);
        block.extend_from_slice(&self.buf[self.pos..cut]);
        self.pos = cut;
        if self.pos - h >= (self.buf.len() - h) / 2 {
            self.buf.drain(h..self.pos);
            self.pos = h;
        }
        block
    }

    /// Where the next block of about `size` bytes ends.
    fn cut_size(&mut self) -> io::Result<usize> {
        let (from, size) = (self.pos, self.size);
        // A little more than the block: a boundary right at its end may need to see it.
        self.fill_to(size.saturating_add(1 + self.separator.lookahead()))?;
        if self.eof && self.buf.len() - from <= size {
            return Ok(self.buf.len());
        }
        if !self.separator.has_records() {
            return Ok(from + size);
        }
        if self.round_up {
            return self.cut_after(from + size);
        }
        if let Some(p) = self.separator.last_within(&self.buf, from, size) {
            self.seen_records = true;
            return Ok(p);
        }
        // No boundary in the block: the record is longer than the block, or there are none.
        let mut looked = size;
        loop {
            if let Some(p) = self.separator.first_from(&self.buf, from, from + size) {
                self.seen_records = true;
                self.note_long();
                return Ok(p);
            }
            if self.eof && self.seen_records {
                self.note_long();
                return Ok(self.buf.len());
            }
            if !self.seen_records && (self.eof || looked >= size.saturating_add(LOOK_FOR_RECORDS)) {
                self.note_none();
                return Ok(from + size);
            }
            looked = looked.saturating_mul(2);
            self.fill_to(looked)?;
        }
    }

    /// `--block -N`: where the first record ending at or after `at` ends, so that the input
    /// falls into the number of blocks asked for.
    fn cut_after(&mut self, at: usize) -> io::Result<usize> {
        let mut want = self.buf.len() - self.pos;
        loop {
            if let Some(p) = self.separator.first_from(&self.buf, self.pos, at) {
                return Ok(p);
            }
            if self.eof {
                return Ok(self.buf.len());
            }
            want = want.saturating_mul(2);
            self.fill_to(want)?;
        }
    }

    /// Where the block of the next `n` records ends (`-N`).
    fn cut_records(&mut self, n: usize) -> io::Result<usize> {
        let from = self.pos;
        let mut want = 64 * 1024;
        loop {
            self.fill_to(want)?;
            if let Some(p) = self.separator.nth(&self.buf, from, n) {
                return Ok(p);
            }
            if self.eof {
                return Ok(self.buf.len());
            }
            want = want.saturating_mul(2);
        }
    }

    fn note_long(&mut self) {
        if !self.noted_long {
            self.noted_long = true;
            self.notes.push(format!(
                "a record is longer than --block {} bytes: its block grows to hold it whole",
                self.size
            ));
        }
    }

    fn note_none(&mut self) {
        if !self.noted_none {
            self.noted_none = true;
            self.notes.push(format!(
                "no record separator in the first {} bytes: cutting blocks of --block {} bytes \
                 regardless of records until one is found",
                self.buf.len() - self.pos,
                self.size
            ));
        }
    }
}

/// Reads the header off `reader` into `buf` (which then starts with it, followed by what
/// was read past it) and returns its length.
fn read_header(reader: &mut dyn Read, spec: &HeaderSpec, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut chunk = 64 * 1024;
    loop {
        let before = buf.len();
        let got = reader.take(chunk as u64).read_to_end(buf)?;
        let eof = got == 0 || buf.len() - before < chunk;
        if let Some(len) = header_length(buf, spec, eof) {
            return Ok(len);
        }
        if eof {
            return Ok(buf.len());
        }
        chunk = chunk.saturating_mul(2);
    }
}

/// The header's length in `buf`, if `buf` holds all of it (`eof`: nothing more comes).
pub fn header_length(buf: &[u8], spec: &HeaderSpec, eof: bool) -> Option<usize> {
    let line_end = |from: usize| memchr::memchr(b'\n', &buf[from..]).map(|i| from + i + 1);
    match spec {
        HeaderSpec::Lines(n) => {
            let mut at = 0;
            for _ in 0..*n {
                at = match line_end(at) {
                    Some(p) => p,
                    None if eof => return Some(buf.len()),
                    None => return None,
                };
            }
            Some(at)
        }
        HeaderSpec::Regex(re) => match re.find(buf) {
            Some(m) if m.start() == 0 => {
                if m.end() > 0 && buf[m.end() - 1] == b'\n' {
                    return Some(m.end());
                }
                line_end(m.end()).or(eof.then_some(buf.len()))
            }
            _ if eof => Some(0),
            _ => None,
        },
    }
}

/// The jobs of `--pipe`: one per block.
pub struct BlockJobs {
    cutter: Cutter,
    next_seq: u64,
}

impl BlockJobs {
    pub fn new(cutter: Cutter) -> Self {
        BlockJobs {
            cutter,
            next_seq: 1,
        }
    }

    pub fn take_notes(&mut self) -> Vec<String> {
        self.cutter.take_notes()
    }

    /// The bytes the input holds, when known at the start.
    pub fn input_size(&self) -> Option<u64> {
        self.cutter.input_size
    }
}

impl Iterator for BlockJobs {
    type Item = io::Result<Job>;

    fn next(&mut self) -> Option<Self::Item> {
        let block = match self.cutter.next_block() {
            Ok(Some(block)) => block,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let bytes = self.cutter.bytes(block);
        Some(Ok(Job::with_block(seq, Block::Bytes(Arc::new(bytes)))))
    }
}

/// The jobs of `--round-robin`: `slots` jobs first, each fed from one shared channel, then
/// (on the reader's thread, as the jobs run) the blocks into that channel.
pub struct DealtJobs {
    cutter: Cutter,
    slots: u64,
    next_seq: u64,
    deal: Option<crossbeam_channel::Sender<Arc<BlockBytes>>>,
    hand: crossbeam_channel::Receiver<Arc<BlockBytes>>,
}

impl DealtJobs {
    pub fn new(cutter: Cutter, slots: usize) -> Self {
        let (deal, hand) = crossbeam_channel::bounded(1);
        DealtJobs {
            cutter,
            slots: slots as u64,
            next_seq: 1,
            deal: Some(deal),
            hand,
        }
    }

    pub fn take_notes(&mut self) -> Vec<String> {
        self.cutter.take_notes()
    }
}

impl Iterator for DealtJobs {
    type Item = io::Result<Job>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next_seq <= self.slots {
            let seq = self.next_seq;
            self.next_seq += 1;
            let block = Block::Dealt(self.hand.clone());
            return Some(Ok(Job::with_block(seq, block)));
        }
        // Every job is started: deal the blocks until the input ends, then close the
        // channel, which ends each job's input.
        let deal = self.deal.take()?;
        loop {
            match self.cutter.next_block() {
                Ok(Some(block)) => {
                    if deal.send(Arc::new(self.cutter.bytes(block))).is_err() {
                        return None;
                    }
                }
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(separator: Separator) -> PipeConfig {
        PipeConfig {
            part_of: None,
            block: BlockSize::Bytes(4),
            separator,
            remove_separators: false,
            records_per_job: None,
            header: None,
            round_robin: false,
            slots: 2,
            delivery: Delivery::Stdin,
        }
    }

    fn blocks(input: &'static [u8], size: usize, config: &PipeConfig) -> Vec<String> {
        let mut cutter = Cutter::new(Box::new(input), size, config, None).unwrap();
        let mut out = Vec::new();
        while let Some(block) = cutter.next_block().unwrap() {
            out.push(String::from_utf8(block).unwrap());
        }
        out
    }

    fn newline() -> Separator {
        Separator::literal(b"\n".to_vec(), Vec::new())
    }

    #[test]
    fn blocks_end_at_the_last_record_end_that_fits() {
        let c = config(newline());
        assert_eq!(blocks(b"a\nb\nc\ndd\n", 4, &c), ["a\nb\n", "c\n", "dd\n"]);
        assert_eq!(blocks(b"a\nb\nc", 4, &c), ["a\nb\n", "c"]);
        assert_eq!(blocks(b"", 4, &c), Vec::<String>::new());
    }

    #[test]
    fn a_long_record_grows_its_block_and_says_so() {
        let c = config(newline());
        let mut cutter = Cutter::new(Box::new(&b"a\nlonglong\nb\n"[..]), 4, &c, None).unwrap();
        assert_eq!(cutter.next_block().unwrap().unwrap(), b"a\n");
        assert_eq!(cutter.next_block().unwrap().unwrap(), b"longlong\n");
        assert_eq!(cutter.take_notes().len(), 1);
        assert_eq!(cutter.next_block().unwrap().unwrap(), b"b\n");
    }

    #[test]
    fn no_separator_cuts_plain_blocks() {
        let c = config(Separator::literal(Vec::new(), Vec::new()));
        assert_eq!(blocks(b"abcdefghij", 4, &c), ["abcd", "efgh", "ij"]);
    }

    #[test]
    fn the_header_starts_every_block_and_records_are_counted() {
        let mut c = config(newline());
        c.header = Some(HeaderSpec::Lines(1));
        c.records_per_job = Some(2);
        assert_eq!(blocks(b"h\n1\n2\n3\n", 100, &c), ["h\n1\n2\n", "h\n3\n"]);
        c.header = Some(HeaderSpec::Regex(Regex::new("h").unwrap()));
        assert_eq!(blocks(b"hh\n1\n", 100, &c), ["hh\n1\n"]);
    }

    #[test]
    fn rrs_strips_the_separators_of_each_block() {
        let mut c = config(newline());
        c.remove_separators = true;
        assert_eq!(blocks(b"a\nb\nc\n", 4, &c), ["ab", "c"]);
    }
}
