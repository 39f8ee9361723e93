//! `--results DIR`: each job's raw output in `DIR/<seq>/stdout` and `DIR/<seq>/stderr`, and
//! its record in `DIR/<seq>/meta.json`. Written by the job's worker as the output arrives,
//! so saving results costs the collector nothing.
//!
//! Nothing is written through a symbolic link planted inside `DIR`: `DIR/<seq>` is made with
//! `mkdirat` and opened with `O_NOFOLLOW`, and the files are opened relative to it with
//! `O_NOFOLLOW`. A symbolic link is an error naming it; a previous run's regular files are
//! truncated and rewritten.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, mkdirat};

use crate::capture::json;
use crate::event::{JobResult, Stream};

/// The open result files of one job.
pub struct ResultFiles {
    /// `DIR/<seq>` as the user named it, for messages.
    path: PathBuf,
    /// `DIR/<seq>`, opened without following a symbolic link.
    dir: OwnedFd,
    stdout: BufWriter<File>,
    stderr: BufWriter<File>,
}

/// The error for a symbolic link where pmap would write.
fn symlink_error(path: &Path) -> io::Error {
    io::Error::other(format!(
        "{} is a symbolic link; not following it",
        path.display()
    ))
}

/// Opens `name` in `dir` (at `path`) with `flags` and `O_NOFOLLOW`; a symbolic link there
/// is an error naming it.
fn open_in(dir: &OwnedFd, name: &str, path: &Path, flags: OFlag) -> io::Result<OwnedFd> {
    let flags = flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match openat(dir, name, flags, Mode::from_bits_truncate(0o666)) {
        Ok(fd) => Ok(fd),
        // ELOOP: the last component is a symbolic link. With O_DIRECTORY, some kernels say
        // ENOTDIR instead; lstat tells.
        Err(Errno::ELOOP | Errno::ENOTDIR)
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) =>
        {
            Err(symlink_error(path))
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates (or truncates) the regular file `name` in `dir`.
fn create_in(dir: &OwnedFd, name: &str, path: &Path) -> io::Result<File> {
    let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC;
    open_in(dir, name, &path.join(name), flags).map(File::from)
}

impl ResultFiles {
    /// Creates (or truncates) `root/<seq>/stdout` and `stderr`.
    pub fn create(root: &Path, seq: u64) -> io::Result<Self> {
        let name = seq.to_string();
        let path = root.join(&name);
        // The root is the user's choice, a symbolic link to it included.
        let root_dir = OwnedFd::from(File::open(root)?);
        match mkdirat(&root_dir, name.as_str(), Mode::from_bits_truncate(0o777)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e.into()),
        }
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY;
        let dir = open_in(&root_dir, &name, &path, flags)?;
        Ok(ResultFiles {
            stdout: BufWriter::new(create_in(&dir, "stdout", &path)?),
            stderr: BufWriter::new(create_in(&dir, "stderr", &path)?),
            dir,
            path,
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
        create_in(&self.dir, "meta.json", &self.path)?.write_all(&meta)
    }
}
