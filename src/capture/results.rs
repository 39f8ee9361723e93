//! `--results DIR`: each job's raw output in `DIR/<seq>/stdout` and `DIR/<seq>/stderr`, and
//! its record in `DIR/<seq>/meta.json`. Written by the job's worker as the output arrives,
//! so saving results costs the collector nothing.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::capture::json;
use crate::event::{JobResult, Stream};

/// The open result files of one job.
pub struct ResultFiles {
    dir: PathBuf,
    stdout: BufWriter<File>,
    stderr: BufWriter<File>,
}

impl ResultFiles {
    /// Creates (or truncates) `root/<seq>/stdout` and `stderr`.
    pub fn create(root: &Path, seq: u64) -> io::Result<Self> {
        let dir = root.join(seq.to_string());
        fs::create_dir_all(&dir)?;
        Ok(ResultFiles {
            stdout: BufWriter::new(File::create(dir.join("stdout"))?),
            stderr: BufWriter::new(File::create(dir.join("stderr"))?),
            dir,
        })
    }

    pub fn write(&mut self, stream: Stream, bytes: &[u8]) -> io::Result<()> {
        match stream {
            Stream::Stdout => self.stdout.write_all(bytes),
            Stream::Stderr => self.stderr.write_all(bytes),
        }
    }

    /// Flushes the output files and writes `meta.json`.
    pub fn finish(mut self, result: &JobResult) -> io::Result<()> {
        self.stdout.flush()?;
        self.stderr.flush()?;
        let mut meta = json::record(result, None);
        meta.push(b'\n');
        fs::write(self.dir.join("meta.json"), meta)
    }
}
