//! Giving a `--pipe` job its block while it runs: written to its stdin pipe (or its
//! `--fifo`) without ever blocking, from the same poll loop that drains its output (see
//! [`super::supervise`]), so that a job that writes much before it reads cannot deadlock
//! with pmap. `--pipepart` parts go from the file to the pipe with `splice`, inside the
//! kernel. A job that stops reading (it closed its stdin, or exited) simply ends the feed.
//!
//! `--cat` needs no feed: the block is written to a temporary file before the job starts
//! ([`write_block_file`]).

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, SpliceFFlags, fcntl, splice};
use nix::sys::stat::Mode;

use crate::input::Block;
use crate::input::blocks::BlockBytes;
use crate::input::parts::FilePart;

/// How long to wait before looking again at a feed that waits for something poll cannot
/// watch: a `--fifo` reader to appear, or `--round-robin`'s next block.
pub const RETRY: Duration = Duration::from_millis(5);

/// At most this much in one write: a big pipe takes it in one go, and a small one takes
/// what fits.
const CHUNK: usize = 1 << 20;

/// What one poll round did to a feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fed {
    /// Everything is written, or the job stopped reading: the feed is over.
    Done,
    /// The pipe is full: wait until it is writable.
    Full,
    /// Waiting for a reader of the fifo or for the next block: look again after [`RETRY`].
    Waiting,
}

/// One job's block on its way to the job.
pub struct Feed {
    /// Written before the block: its length, for a remote job.
    preamble: Vec<u8>,
    preamble_pos: usize,
    source: Source,
    target: Target,
}

enum Source {
    Bytes {
        data: Arc<BlockBytes>,
        pos: usize,
    },
    Part {
        part: Arc<FilePart>,
        header_pos: usize,
        done: u64,
    },
    Dealt {
        hand: crossbeam_channel::Receiver<Arc<BlockBytes>>,
        current: Option<(Arc<BlockBytes>, usize)>,
    },
}

enum Target {
    Pipe(OwnedFd),
    /// A named pipe, opened once the job has opened it for reading.
    Fifo {
        path: PathBuf,
        fd: Option<OwnedFd>,
    },
    Closed,
}

impl Feed {
    /// A feed of `block` into the write end of the job's stdin pipe.
    pub fn into_pipe(block: &Block, pipe: OwnedFd) -> io::Result<Self> {
        fcntl(&pipe, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
        // A bigger pipe wakes the job less often; the system's limit may say no.
        let _ = fcntl(&pipe, FcntlArg::F_SETPIPE_SZ(CHUNK as i32));
        Ok(Feed {
            preamble: Vec::new(),
            preamble_pos: 0,
            source: Source::of(block),
            target: Target::Pipe(pipe),
        })
    }

    /// The same, with a line giving the block's length in bytes first (a remote job).
    pub fn with_length_line(mut self, block: &Block) -> Self {
        self.preamble = format!("{}\n", block.input_bytes()).into_bytes();
        self
    }

    /// A feed of `block` into the named pipe at `path`, once the job opens it.
    pub fn into_fifo(block: &Block, path: PathBuf) -> Self {
        Feed {
            preamble: Vec::new(),
            preamble_pos: 0,
            source: Source::of(block),
            target: Target::Fifo { path, fd: None },
        }
    }

    /// The descriptor to wait on for room, while there is one.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.target {
            Target::Pipe(fd) => Some(fd.as_fd()),
            Target::Fifo { fd: Some(fd), .. } => Some(fd.as_fd()),
            _ => None,
        }
    }

    /// Writes what can be written now.
    pub fn step(&mut self) -> Fed {
        if let Target::Fifo {
            path,
            fd: fd @ None,
        } = &mut self.target
        {
            let flags = OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
            // ENXIO: nobody has opened it for reading yet.
            *fd = nix::fcntl::open(path.as_path(), flags, Mode::empty()).ok();
        }
        let fd = match &self.target {
            Target::Pipe(fd) | Target::Fifo { fd: Some(fd), .. } => fd.as_fd(),
            Target::Fifo { fd: None, .. } => return Fed::Waiting,
            Target::Closed => return Fed::Done,
        };
        // An error means the job closed its end: it wants no more.
        let fed = match write_bytes(fd, &self.preamble, &mut self.preamble_pos) {
            Ok(Fed::Done) => self.source.write_to(fd).unwrap_or(Fed::Done),
            Ok(fed) => fed,
            Err(_) => Fed::Done,
        };
        if fed == Fed::Done {
            self.target = Target::Closed;
        }
        fed
    }
}

impl Source {
    fn of(block: &Block) -> Self {
        match block {
            Block::Bytes(data) => Source::Bytes {
                data: Arc::clone(data),
                pos: 0,
            },
            Block::Part(part) => Source::Part {
                part: Arc::clone(part),
                header_pos: 0,
                done: 0,
            },
            Block::Dealt(hand) => Source::Dealt {
                hand: hand.clone(),
                current: None,
            },
        }
    }

    /// Writes into `fd` until it is full or everything is written. An error means the
    /// reader is gone.
    fn write_to(&mut self, fd: BorrowedFd<'_>) -> io::Result<Fed> {
        match self {
            Source::Bytes { data, pos } => write_bytes(fd, data, pos),
            Source::Part {
                part,
                header_pos,
                done,
            } => {
                if write_bytes(fd, &part.header, header_pos)? == Fed::Full {
                    return Ok(Fed::Full);
                }
                splice_part(fd, part, done)
            }
            Source::Dealt { hand, current } => loop {
                if current.is_none() {
                    *current = match hand.try_recv() {
                        Ok(block) => Some((block, 0)),
                        Err(crossbeam_channel::TryRecvError::Empty) => return Ok(Fed::Waiting),
                        Err(crossbeam_channel::TryRecvError::Disconnected) => {
                            return Ok(Fed::Done);
                        }
                    };
                }
                if let Some((block, pos)) = current {
                    if write_bytes(fd, block, pos)? == Fed::Full {
                        return Ok(Fed::Full);
                    }
                }
                *current = None;
            },
        }
    }
}

/// Writes `data[*pos..]` into `fd`; `Done` once all of it is written.
fn write_bytes(fd: BorrowedFd<'_>, data: &[u8], pos: &mut usize) -> io::Result<Fed> {
    while *pos < data.len() {
        let end = data.len().min(*pos + CHUNK);
        match nix::unistd::write(fd, &data[*pos..end]) {
            Ok(n) => *pos += n,
            Err(Errno::EAGAIN) => return Ok(Fed::Full),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Fed::Done)
}

/// Moves the rest of `part` from its file into the pipe `fd`.
fn splice_part(fd: BorrowedFd<'_>, part: &FilePart, done: &mut u64) -> io::Result<Fed> {
    while *done < part.len {
        let mut offset = (part.offset + *done) as libc::loff_t;
        let want = (part.len - *done).min(CHUNK as u64) as usize;
        let flags = SpliceFFlags::SPLICE_F_NONBLOCK | SpliceFFlags::SPLICE_F_MOVE;
        match splice(part.file.as_fd(), Some(&mut offset), fd, None, want, flags) {
            // The file is shorter than it was: what is gone is gone.
            Ok(0) => return Ok(Fed::Done),
            Ok(n) => *done += n as u64,
            Err(Errno::EAGAIN) => return Ok(Fed::Full),
            Err(Errno::EINTR) => {}
            Err(Errno::EINVAL) => return copy_part(fd, part, done),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Fed::Done)
}

/// [`splice_part`] for files the kernel cannot splice from: read and write.
fn copy_part(fd: BorrowedFd<'_>, part: &FilePart, done: &mut u64) -> io::Result<Fed> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0; CHUNK.min((part.len - *done) as usize)];
    while *done < part.len {
        let want = buf.len().min((part.len - *done) as usize);
        let n = part.file.read_at(&mut buf[..want], part.offset + *done)?;
        if n == 0 {
            return Ok(Fed::Done);
        }
        let mut pos = 0;
        if write_bytes(fd, &buf[..n], &mut pos)? == Fed::Full {
            *done += pos as u64;
            return Ok(Fed::Full);
        }
        *done += n as u64;
    }
    Ok(Fed::Done)
}

/// `--cat`: writes `block` to a new temporary file (removed when the returned handle is
/// dropped) and returns it.
pub fn write_block_file(block: &Block) -> io::Result<tempfile::TempPath> {
    let mut file = tempfile::Builder::new().prefix("pmap-block-").tempfile()?;
    match block {
        Block::Bytes(data) => file.write_all(data)?,
        Block::Part(part) => {
            file.write_all(&part.header)?;
            copy_range(&part.file, part.offset, part.len, file.as_file_mut())?;
        }
        Block::Dealt(_) => return Err(io::Error::other("--cat does not take dealt blocks")),
    }
    file.flush()?;
    Ok(file.into_temp_path())
}

/// Copies `len` bytes at `offset` of `from` to the end of `to`.
fn copy_range(from: &File, offset: u64, len: u64, to: &mut File) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0; CHUNK.min(len as usize)];
    let mut done = 0;
    while done < len {
        let want = buf.len().min((len - done) as usize);
        let n = from.read_at(&mut buf[..want], offset + done)?;
        if n == 0 {
            break;
        }
        to.write_all(&buf[..n])?;
        done += n as u64;
    }
    Ok(())
}

/// `--fifo`: a new named pipe in a temporary directory of its own (removed, pipe and all,
/// when the returned handle is dropped), and its path.
pub fn make_fifo() -> io::Result<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::Builder::new().prefix("pmap-fifo-").tempdir()?;
    let path = dir.path().join("block");
    nix::unistd::mkfifo(Path::new(&path), Mode::S_IRUSR | Mode::S_IWUSR)?;
    Ok((dir, path))
}

/// How one attempt gets its job's block: the value `{}` stands for (`--cat`, `--fifo`), the
/// temporary file or fifo to remove after the attempt, and the feed to start with the job.
pub struct Handover {
    block: Option<Block>,
    /// `{}`: the temporary file or fifo.
    values: Option<Vec<Vec<u8>>>,
    /// `--cat`: the file, removed when the attempt is over and this is dropped.
    file: Option<tempfile::TempPath>,
    fifo: Option<(tempfile::TempDir, PathBuf)>,
}

impl Handover {
    /// Gets `job`'s block ready for one attempt: written to a temporary file for `--cat`, a
    /// fifo made for `--fifo`. Nothing for a job without a block.
    pub fn prepare(
        job: &crate::input::Job,
        how: crate::input::blocks::Delivery,
    ) -> io::Result<Self> {
        use crate::input::blocks::Delivery as How;
        use std::os::unix::ffi::OsStrExt;
        let mut delivery = Handover {
            block: job.block.clone(),
            values: None,
            file: None,
            fifo: None,
        };
        let Some(block) = &job.block else {
            return Ok(delivery);
        };
        let named = |path: &Path| vec![path.as_os_str().as_bytes().to_vec()];
        match how {
            How::Stdin => {}
            How::TempFile => {
                let file = write_block_file(block)?;
                delivery.values = Some(named(&file));
                delivery.file = Some(file);
            }
            How::Fifo => {
                let (dir, path) = make_fifo()?;
                delivery.values = Some(named(&path));
                delivery.fifo = Some((dir, path));
            }
        }
        Ok(delivery)
    }

    /// Whether the job is to be started with a pipe on its stdin, for its block.
    pub fn wants_stdin_pipe(&self) -> bool {
        self.block.is_some() && self.fifo.is_none() && self.file.is_none()
    }

    /// The job's values for this attempt.
    pub fn values<'a>(&'a self, job: &'a crate::input::Job) -> &'a [Vec<u8>] {
        self.values.as_deref().unwrap_or(&job.values)
    }

    /// The feed that gives the started job its block: into its fifo, into `stdin` (the pipe
    /// it was started with), or, for a remote job, first on its `lifeline` (the stdin pmap
    /// holds while it runs; see `crate::remote::ssh`), behind a line with its length.
    pub fn feed(&self, stdin: Option<OwnedFd>, lifeline: Option<&OwnedFd>) -> Option<Feed> {
        let block = self.block.as_ref()?;
        if let Some((_, path)) = &self.fifo {
            return Some(Feed::into_fifo(block, path.clone()));
        }
        match (stdin, lifeline) {
            (Some(pipe), _) => Feed::into_pipe(block, pipe).ok(),
            (None, Some(lifeline)) => {
                let pipe = lifeline.try_clone().ok()?;
                Some(Feed::into_pipe(block, pipe).ok()?.with_length_line(block))
            }
            (None, None) => None,
        }
    }
}
