//! Output buffers with a memory bound: a [`Spool`] keeps bytes in memory while the shared
//! [`MemoryBudget`] allows, and moves them to an unlinked temporary file beyond it. So `-k`
//! behind one slow job, or jobs printing gigabytes, never exhausts memory.
//!
//! If a spill fails (`$TMPDIR` missing, unwritable or full), the budget remembers the first
//! failure and no spool tries again: a spool that would have to spill keeps what it holds
//! and drops the rest of what it is given until it is emptied, so memory stays bounded and
//! what it keeps is a prefix of what was pushed (batches on their way to the collector
//! excepted: see [`Spool::in_flight`]). The collector reports the failure once
//! ([`MemoryBudget::spill_failure`]) and the run exits 255.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How much of a spilled spool is read back at a time.
const SPILL_READ_CHUNK: usize = 1 << 20;

/// The total bytes all spools may hold in memory at once.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    used: AtomicUsize,
    /// Why spilling failed, the first time it did; no spill is tried after that.
    spill_failure: OnceLock<String>,
}

impl MemoryBudget {
    /// A budget for one run. It is leaked, so that every spool can hold a plain reference
    /// to it: a reference count shared by every thread, bumped for each spool (several per
    /// job, hundreds of thousands of jobs), cost more than the few bytes it leaks per run.
    pub fn new(limit: usize) -> &'static Self {
        Box::leak(Box::new(MemoryBudget {
            limit,
            used: AtomicUsize::new(0),
            spill_failure: OnceLock::new(),
        }))
    }

    /// Why output had to be dropped: the first spill that failed, if one did.
    pub fn spill_failure(&self) -> Option<&str> {
        self.spill_failure.get().map(String::as_str)
    }

    fn spill_failed(&self, what: &str, e: &io::Error) {
        self.spill_failure.get_or_init(|| {
            let dir = tempfile::env::temp_dir();
            format!("cannot {what} a temporary file in '{}': {e}", dir.display())
        });
    }

    fn try_take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used + bytes <= self.limit).then_some(used + bytes)
            })
            .is_ok()
    }

    /// Takes `bytes` whatever the limit (see [`Spool::in_flight`]).
    fn force_take(&self, bytes: usize) {
        self.used.fetch_add(bytes, Ordering::AcqRel);
    }

    fn give_back(&self, bytes: usize) {
        // Most spools never hold a byte: no need to touch the shared counter for them.
        if bytes > 0 {
            self.used.fetch_sub(bytes, Ordering::AcqRel);
        }
    }

    #[cfg(test)]
    fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// Copies what is left of `file` to `fd` with sendfile(2). False if the kernel cannot do
/// it for these descriptors before anything was copied (the caller copies instead).
fn send_file(file: &File, fd: RawFd, stop: &dyn Fn() -> bool) -> io::Result<bool> {
    let mut sent_any = false;
    loop {
        if stop() {
            return Err(io::Error::other("nothing is reading it"));
        }
        // SAFETY: both descriptors are open for the duration of the call; a null offset
        // means the file's own offset is used and advanced.
        let n = unsafe { libc::sendfile(fd, file.as_raw_fd(), std::ptr::null_mut(), 1 << 30) };
        match n {
            0 => return Ok(true),
            n if n > 0 => sent_any = true,
            _ => {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    // Only a signal pmap sends to end a blocked write interrupts it (every
                    // other handler restarts): the loop asks `stop`.
                    Some(libc::EINTR) => {}
                    Some(libc::EINVAL | libc::ENOSYS) if !sent_any => return Ok(false),
                    _ => return Err(e),
                }
            }
        }
    }
}

/// A growable byte buffer that spills to disk when the budget runs out.
#[derive(Debug)]
pub struct Spool {
    memory: Vec<u8>,
    file: Option<File>,
    len: u64,
    budget: &'static MemoryBudget,
    /// Bytes this spool may keep in memory even when the budget is spent.
    leeway: usize,
    /// A spill failed: what came after was dropped, and so is whatever comes next.
    dropping: bool,
}

/// See [`Spool::in_flight`].
const IN_FLIGHT_LEEWAY: usize = 1 << 20;

impl Spool {
    pub fn new(budget: &'static MemoryBudget) -> Self {
        Spool {
            memory: Vec::new(),
            file: None,
            len: 0,
            budget,
            leeway: 0,
            dropping: false,
        }
    }

    /// A spool for one batch of output on its way from a worker to the collector. Up to
    /// 1 MiB of it stays in memory even when the budget is spent: such batches are few (the
    /// event channel is bounded) and short-lived, and a temporary file for every read from
    /// a job's pipe would cost more than the memory. Larger batches (a long line drained
    /// at once) still spill; if spilling has failed, they stay in memory all the same.
    pub fn in_flight(budget: &'static MemoryBudget) -> Self {
        let mut spool = Spool::new(budget);
        spool.leeway = IN_FLIGHT_LEEWAY;
        spool
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `bytes`, in memory if the budget allows, else on disk. If they can go to
    /// neither because a spill failed (now, or earlier in the run), they are dropped, and
    /// so is everything pushed after them: the budget keeps the reason for the collector
    /// to report. So this never fails; it returns a `Result` to fit `Write`.
    pub fn push(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() || self.dropping {
            return Ok(());
        }
        let kept = match &mut self.file {
            Some(file) => match file.write_all(bytes) {
                Ok(()) => true,
                Err(e) => {
                    // Back to the bytes counted, so what is read back is exactly a prefix.
                    let _ = file.set_len(self.len);
                    let _ = file.seek(SeekFrom::End(0));
                    self.budget.spill_failed("write to", &e);
                    false
                }
            },
            None => {
                self.push_in_memory(bytes, false)
                    || (self.budget.spill_failure().is_none() && self.spill(bytes))
                    // A batch on its way to the collector (a long line let go at once)
                    // is printed next, and what it came from is empty by then.
                    || (self.leeway > 0 && self.push_in_memory(bytes, true))
            }
        };
        if kept {
            self.len += bytes.len() as u64;
        } else {
            self.dropping = true;
        }
        Ok(())
    }

    /// Appends `bytes` in memory if the budget (or the leeway, or `force`) allows.
    fn push_in_memory(&mut self, bytes: &[u8], force: bool) -> bool {
        let needed = self.memory.len() + bytes.len();
        if needed <= self.memory.capacity() {
            self.memory.extend_from_slice(bytes);
            return true;
        }
        // Grow by doubling, and account for capacity, since that is what is resident. The
        // first push gets just what it needs: most jobs' output is one short push (a
        // process-pool answer is a few bytes, and there are hundreds of thousands).
        let floor = if self.memory.capacity() == 0 { 0 } else { 4096 };
        let new_capacity = needed.max(self.memory.capacity() * 2).max(floor);
        let growth = new_capacity - self.memory.capacity();
        let taken = self.budget.try_take(growth);
        if !taken && new_capacity > self.leeway && !force {
            return false;
        }
        if !taken {
            // Counted all the same, so that giving it back balances.
            self.budget.force_take(growth);
        }
        self.memory.reserve_exact(new_capacity - self.memory.len());
        self.memory.extend_from_slice(bytes);
        true
    }

    /// Moves what memory holds, and `bytes`, to a new temporary file. If that fails, the
    /// budget records why and memory keeps what it held.
    fn spill(&mut self, bytes: &[u8]) -> bool {
        let mut file = match tempfile::tempfile() {
            Ok(file) => file,
            Err(e) => {
                self.budget.spill_failed("create", &e);
                return false;
            }
        };
        let written = file
            .write_all(&self.memory)
            .and_then(|()| file.write_all(bytes));
        if let Err(e) = written {
            self.budget.spill_failed("write to", &e);
            return false;
        }
        self.release_memory();
        self.file = Some(file);
        true
    }

    /// Whether output was dropped because a spill failed (until the spool is emptied).
    pub fn dropped(&self) -> bool {
        self.dropping
    }

    /// Writes everything held to `out`, and empties the spool.
    pub fn drain_to(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.drain_to_fd(out, None, &|| false)
    }

    /// [`Spool::drain_to`], where `out` writes to `fd`: the part on disk then goes from the
    /// file to `fd` inside the kernel (`sendfile`), after `out` is flushed.
    pub fn drain_to_fd(
        &mut self,
        out: &mut dyn Write,
        fd: Option<RawFd>,
        stop: &dyn Fn() -> bool,
    ) -> io::Result<()> {
        out.write_all(&self.memory)?;
        if let Some(mut file) = self.file.take() {
            file.seek(SeekFrom::Start(0))?;
            if let Some(fd) = fd {
                out.flush()?;
                if send_file(&file, fd, stop)? {
                    self.clear();
                    return Ok(());
                }
            }
            // Large reads: `io::copy` into a `dyn Write` would go 8 KiB at a time.
            let mut chunk = vec![0u8; SPILL_READ_CHUNK];
            loop {
                match file.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => out.write_all(&chunk[..n])?,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        self.clear();
        Ok(())
    }

    /// Everything held, as one vector (for `--json`).
    pub fn take_bytes(&mut self) -> io::Result<Vec<u8>> {
        let mut bytes = std::mem::take(&mut self.memory);
        self.budget.give_back(bytes.capacity());
        if let Some(mut file) = self.file.take() {
            file.seek(SeekFrom::Start(0))?;
            file.read_to_end(&mut bytes)?;
        }
        self.len = 0;
        self.dropping = false;
        Ok(bytes)
    }

    /// Reads everything held, from the start; the spool is left empty.
    pub fn take_reader(&mut self) -> io::Result<Box<dyn Read + Send>> {
        let memory = io::Cursor::new(std::mem::take(&mut self.memory));
        self.budget.give_back(memory.get_ref().capacity());
        self.len = 0;
        self.dropping = false;
        Ok(match self.file.take() {
            Some(mut file) => {
                file.seek(SeekFrom::Start(0))?;
                Box::new(memory.chain(file))
            }
            None => Box::new(memory),
        })
    }

    pub fn clear(&mut self) {
        self.release_memory();
        self.file = None;
        self.len = 0;
        self.dropping = false;
    }

    fn release_memory(&mut self) {
        self.budget.give_back(self.memory.capacity());
        self.memory = Vec::new();
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.push(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.push(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        self.budget.give_back(self.memory.capacity());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_batches_stay_in_memory_within_their_leeway() {
        let budget = MemoryBudget::new(1000);
        let mut held = Spool::new(budget);
        held.push(&[1; 1000]).unwrap();
        let mut batch = Spool::in_flight(budget);
        batch.push(&[2; 64 * 1024]).unwrap();
        assert!(batch.file.is_none());
        let mut big = Spool::in_flight(budget);
        big.push(&vec![3; 2 * IN_FLIGHT_LEEWAY]).unwrap();
        assert!(big.file.is_some());
        drop((held, batch, big));
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn after_a_failed_spill_output_beyond_the_budget_is_dropped_without_retrying() {
        let budget = MemoryBudget::new(10_000);
        budget.spill_failure.set("it failed".to_owned()).unwrap();
        let mut a = Spool::new(budget);
        let mut b = Spool::new(budget);
        let chunk: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        for _ in 0..5 {
            a.push(&chunk).unwrap();
        }
        assert!(a.file.is_none() && a.dropped());
        assert!(budget.used() <= 10_000);
        // What was kept is a prefix of what was pushed, and its length is exact.
        let kept = a.len();
        assert!(kept > 0 && kept < 15_000);
        assert_eq!(a.take_bytes().unwrap(), chunk.repeat(5)[..kept as usize]);
        // An emptied spool holds again what the budget allows.
        assert!(!a.dropped());
        b.push(&chunk).unwrap();
        assert_eq!(b.take_bytes().unwrap(), chunk);
        assert_eq!(budget.spill_failure(), Some("it failed"));
        // A batch on its way to the collector keeps everything, in memory.
        let mut batch = Spool::in_flight(budget);
        batch.push(&vec![7; 2 * IN_FLIGHT_LEEWAY]).unwrap();
        assert!(batch.file.is_none() && !batch.dropped());
        assert_eq!(batch.len(), 2 * IN_FLIGHT_LEEWAY as u64);
        drop((a, b, batch));
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn spills_beyond_the_budget_and_keeps_every_byte() {
        let budget = MemoryBudget::new(10_000);
        let mut a = Spool::new(budget);
        let mut b = Spool::new(budget);
        let chunk: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        for _ in 0..5 {
            a.push(&chunk).unwrap();
            b.push(&chunk).unwrap();
        }
        assert!(budget.used() <= 10_000);
        assert!(a.file.is_some() || b.file.is_some());
        let mut out = Vec::new();
        a.drain_to(&mut out).unwrap();
        assert_eq!(out, chunk.repeat(5));
        assert_eq!(b.take_bytes().unwrap(), chunk.repeat(5));
        drop(a);
        drop(b);
        assert_eq!(budget.used(), 0);
    }
}
