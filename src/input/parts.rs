//! `--pipepart -a FILE`: the file cut into parts of whole records by seeking, not by
//! reading it through. Only the few kilobytes around each cut are read here; each job's
//! part goes from the file to the job's stdin inside the kernel (see
//! [`crate::exec::feed`]), never through pmap's memory.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use crate::input::Job;
use crate::input::blocks::{BlockSize, PipeConfig, header_length};
use crate::input::separator::Separator;

/// One job's part of the file, after the header every part starts with.
#[derive(Debug)]
pub struct FilePart {
    pub header: Arc<Vec<u8>>,
    pub file: Arc<File>,
    pub offset: u64,
    pub len: u64,
}

/// The jobs of `--pipepart`: one per part.
pub struct PartJobs {
    file: Arc<File>,
    header: Arc<Vec<u8>>,
    size: u64,
    pos: u64,
    block: u64,
    /// `--block -N`: parts end at the first boundary at or after the size, so that there are
    /// exactly as many as asked for; otherwise at the last one before it, as `--pipe` cuts.
    round_up: bool,
    separator: Separator,
    next_seq: u64,
    /// The note that a record is longer than the block, once, waiting to be taken.
    note: Option<String>,
    noted: bool,
}

/// How much is read around a cut at a time, at first.
const PEEK: usize = 64 * 1024;

impl PartJobs {
    /// Opens `path` for `--pipepart`: it must be a regular file (or a block device), whose
    /// size is known and which can be read at any offset.
    pub fn open(path: &Path, config: &PipeConfig) -> Result<Self> {
        let shown = path.display();
        // Checked before opening: opening a fifo would wait for a writer.
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read input file '{shown}'"))?;
        if !meta.is_file() {
            bail!(
                "--pipepart needs a regular file it can seek in; '{shown}' is not one (use --pipe)"
            );
        }
        let file = File::open(path).with_context(|| format!("cannot read input file '{shown}'"))?;
        let meta = file
            .metadata()
            .with_context(|| format!("cannot read input file '{shown}'"))?;
        if !meta.is_file() {
            bail!(
                "--pipepart needs a regular file it can seek in; '{shown}' is not one (use --pipe)"
            );
        }
        let size = meta.len();
        let header = match &config.header {
            None => Vec::new(),
            Some(spec) => read_header(&file, size, spec)
                .with_context(|| format!("cannot read input file '{shown}'"))?,
        };
        let body = size - header.len() as u64;
        let block = match config.block {
            BlockSize::Bytes(n) => n as u64,
            BlockSize::PerSlot(n) => {
                let parts = n.saturating_mul(config.slots as u64).max(1);
                body.div_ceil(parts)
            }
        };
        Ok(PartJobs {
            file: Arc::new(file),
            pos: header.len() as u64,
            header: Arc::new(header),
            size,
            block: block.max(1),
            round_up: matches!(config.block, BlockSize::PerSlot(_)),
            separator: config.separator.clone(),
            next_seq: 1,
            note: None,
            noted: false,
        })
    }

    /// The last record boundary at or before `target` (and after `self.pos`); for a record
    /// longer than the block, the first one after.
    fn cut_before(&mut self, target: u64) -> io::Result<u64> {
        if !self.separator.has_records() {
            return Ok(target);
        }
        let end = target
            .saturating_add(1 + self.separator.lookahead() as u64)
            .min(self.size);
        let mut span = PEEK as u64;
        loop {
            let start = target.saturating_sub(span).max(self.pos);
            let mut buf = vec![0; (end - start) as usize];
            self.file.read_exact_at(&mut buf, start)?;
            let last = self
                .separator
                .boundaries(&buf, 0)
                .map(|p| start + p as u64)
                .take_while(|&p| p <= target)
                .last();
            if let Some(p) = last {
                return Ok(p);
            }
            if start == self.pos {
                if !self.noted {
                    self.noted = true;
                    self.note = Some(format!(
                        "a record is longer than --block {} bytes: its part grows to hold it whole",
                        self.block
                    ));
                }
                return self.cut_at_or_after(target);
            }
            span = span.saturating_mul(4);
        }
    }

    /// The first record boundary at or after `target` (and after `self.pos`), or the end of
    /// the file.
    fn cut_at_or_after(&self, target: u64) -> io::Result<u64> {
        if !self.separator.has_records() {
            return Ok(target);
        }
        let start = target.saturating_sub(PEEK as u64).max(self.pos);
        let mut len = 4 * PEEK;
        loop {
            let want = len.min((self.size - start) as usize);
            let mut buf = vec![0; want];
            self.file.read_exact_at(&mut buf, start)?;
            let at = (target - start) as usize;
            if let Some(p) = self.separator.first_from(&buf, 0, at) {
                return Ok(start + p as u64);
            }
            if start + want as u64 >= self.size {
                return Ok(self.size);
            }
            len = len.saturating_mul(2);
        }
    }
}

impl PartJobs {
    /// The bytes of the file, header included.
    pub fn input_size(&self) -> u64 {
        self.size
    }

    /// The note gathered since the last call, if any.
    pub fn take_notes(&mut self) -> Vec<String> {
        self.note.take().into_iter().collect()
    }
}

impl Iterator for PartJobs {
    type Item = io::Result<Job>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.size {
            return None;
        }
        let target = self.pos.saturating_add(self.block);
        let end = if target >= self.size {
            self.size
        } else {
            let cut = if self.round_up {
                self.cut_at_or_after(target)
            } else {
                self.cut_before(target)
            };
            match cut {
                Ok(end) => end,
                Err(e) => return Some(Err(e)),
            }
        };
        let part = FilePart {
            header: Arc::clone(&self.header),
            file: Arc::clone(&self.file),
            offset: self.pos,
            len: end - self.pos,
        };
        self.pos = end;
        let seq = self.next_seq;
        self.next_seq += 1;
        Some(Ok(Job::with_block(
            seq,
            crate::input::Block::Part(Arc::new(part)),
        )))
    }
}

/// The header at the start of `file`.
fn read_header(
    file: &File,
    size: u64,
    spec: &crate::input::blocks::HeaderSpec,
) -> io::Result<Vec<u8>> {
    let mut len = PEEK;
    loop {
        let want = (len as u64).min(size) as usize;
        let mut buf = vec![0; want];
        file.read_exact_at(&mut buf, 0)?;
        let eof = want as u64 == size;
        if let Some(n) = header_length(&buf, spec, eof) {
            buf.truncate(n);
            return Ok(buf);
        }
        len = len.saturating_mul(2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Block;
    use crate::input::blocks::Delivery;
    use std::io::Write;

    #[test]
    fn parts_cover_the_file_and_end_on_record_boundaries() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let text: String = (1..=1000).map(|i| format!("{i}\n")).collect();
        file.write_all(text.as_bytes()).unwrap();
        let config = PipeConfig {
            part_of: Some(file.path().to_path_buf()),
            block: BlockSize::PerSlot(2),
            separator: Separator::literal(b"\n".to_vec(), Vec::new()),
            remove_separators: false,
            records_per_job: None,
            header: None,
            round_robin: false,
            slots: 3,
            delivery: Delivery::Stdin,
        };
        let parts: Vec<(u64, u64)> = PartJobs::open(file.path(), &config)
            .unwrap()
            .map(|job| match job.unwrap().block {
                Some(Block::Part(p)) => (p.offset, p.len),
                _ => panic!("not a part"),
            })
            .collect();
        assert_eq!(parts.len(), 6);
        let mut at = 0;
        for (offset, len) in parts {
            assert_eq!(offset, at);
            at += len;
            assert_eq!(text.as_bytes()[at as usize - 1], b'\n');
        }
        assert_eq!(at, text.len() as u64);
    }
}
