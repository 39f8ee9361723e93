//! Printing what the pool reports, in every output mode: grouped results, streamed lines
//! and chunks, `--json` records, `-k` ordering, and pmap's notices about failed jobs (and,
//! once per run, about output dropped because a spill to disk failed).
//!
//! With `-k`, the job whose turn it is prints live; output of later jobs is held (in spools,
//! so it may spill to disk) until every earlier job has finished and printed. A job's
//! `--joblog` row is written only once its output has been flushed to stdout.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Read, Write};

use crate::capture::json;
use crate::capture::spool::{MemoryBudget, Spool};
use crate::collect::joblog::JobLog;
use crate::collect::progress::Progress;
use crate::collect::stdout::{self, RawStdout};
use crate::config::OutputConfig;
use crate::event::{Captured, JobResult, JobStatus, Stream};
use crate::exit::Outcome;
use crate::halt::Tally;

/// A later job's output, waiting for its turn under `-k`.
#[derive(Default)]
struct Held {
    /// Stdout that came before any stderr: plain bytes, replayed in one piece (and from a
    /// spill file by sendfile).
    stdout: Option<Spool>,
    /// Streamed output after that, as frames: stream byte, length (u64 LE), bytes.
    frames: Option<Spool>,
    result: Option<JobResult>,
    skipped: bool,
}

/// Stdout's batch size: small outputs of many jobs are gathered into one write; a piece at
/// least this large goes to the file descriptor as it is, without a copy.
const OUT_BUFFER: usize = 32 * 1024;

/// Held output is replayed this much at a time.
const REPLAY_CHUNK: usize = 256 * 1024;

pub struct Printer<'a> {
    out: BufWriter<RawStdout>,
    config: &'a OutputConfig,
    budget: &'static MemoryBudget,
    /// Under `-k`: the job whose output prints now.
    next: u64,
    held: BTreeMap<u64, Held>,
    tally: Tally,
    /// pmap itself failed (input, output or buffering error): exit 255.
    error: bool,
    /// Stdout is gone (closed downstream or unwritable): print nothing more.
    closed: bool,
    /// The budget's spill failure has been reported.
    spill_reported: bool,
    progress: Option<Progress>,
    /// `--joblog`: a job's row is written once its output has been (see `complete`).
    joblog: Option<JobLog>,
}

impl<'a> Printer<'a> {
    pub fn new(
        config: &'a OutputConfig,
        budget: &'static MemoryBudget,
        joblog: Option<JobLog>,
    ) -> Self {
        Printer {
            out: BufWriter::with_capacity(OUT_BUFFER, RawStdout::new()),
            config,
            budget,
            next: 1,
            held: BTreeMap::new(),
            tally: Tally::default(),
            error: false,
            closed: false,
            spill_reported: false,
            progress: config.progress.and_then(|kind| {
                let (slots, jobs) = (config.progress_slots, config.total_jobs);
                Progress::new(kind, config.progress_unit, slots, jobs)
            }),
            joblog,
        }
    }

    /// `--progress`: a job has started.
    pub fn began(&mut self) {
        if let Some(progress) = &mut self.progress {
            progress.job_began();
        }
    }

    /// Whether stdout was closed downstream (or failed): the run should stop.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Output of a running job.
    pub fn output(&mut self, seq: u64, stream: Stream, mut data: Spool) {
        if !self.config.keep_order || seq == self.next {
            self.write(stream, &mut data);
            return;
        }
        let held = self.held.entry(seq).or_default();
        let written = if stream == Stream::Stdout && held.frames.is_none() {
            let stdout = held.stdout.get_or_insert_with(|| Spool::new(self.budget));
            data.drain_to(stdout)
        } else {
            let frames = held.frames.get_or_insert_with(|| Spool::new(self.budget));
            let tag = [u8::from(stream == Stream::Stderr)];
            frames
                .push(&tag)
                .and_then(|()| frames.push(&data.len().to_le_bytes()))
                .and_then(|()| data.drain_to(frames))
        };
        if let Err(e) = written {
            self.notice(&format!("cannot buffer output: {e}"));
            self.error = true;
        }
    }

    /// A finished job.
    pub fn finished(&mut self, result: JobResult) {
        if result.succeeded() {
            self.tally.succeeded += 1;
        } else if !result.interrupted {
            self.tally.failed += 1;
        }
        if let Some(progress) = &mut self.progress {
            progress.job_done(result.succeeded(), result.input_bytes);
        }
        if !self.config.keep_order {
            self.complete(result);
        } else if result.seq == self.next {
            self.complete(result);
            self.advance();
        } else {
            let seq = result.seq;
            self.held.entry(seq).or_default().result = Some(result);
        }
    }

    /// A job that `--resume` skipped: nothing to print, but `-k` moves past it.
    pub fn skipped(&mut self, seq: u64) {
        if self.config.keep_order {
            if seq == self.next {
                self.advance();
            } else {
                self.held.entry(seq).or_default().skipped = true;
            }
        }
    }

    /// Jobs finished so far.
    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// The input has ended after `total` jobs.
    pub fn set_total(&self, total: u64) {
        if let Some(progress) = &self.progress {
            progress.set_total(total);
        }
    }

    /// pmap's own message, never mixed into job output.
    pub fn notice(&mut self, message: &str) {
        let line = if self.config.color_stderr {
            format!("\x1b[1;31mpmap:\x1b[0m {message}\n")
        } else {
            format!("pmap: {message}\n")
        };
        self.write_stderr(line.as_bytes());
    }

    /// Writes bytes to stderr, after what stdout holds, below any job output so far.
    pub fn write_stderr(&mut self, bytes: &[u8]) {
        self.flush();
        self.above_progress(|_| {
            let _ = io::stderr().lock().write_all(bytes);
        });
    }

    /// Runs a write to the terminal with the progress display cleared around it.
    fn above_progress(&mut self, f: impl FnOnce(&mut Self)) {
        match self.progress.take() {
            Some(progress) => {
                progress.suspend(|| f(self));
                self.progress = Some(progress);
            }
            None => f(self),
        }
    }

    pub fn set_error(&mut self) {
        self.error = true;
    }

    /// Moves the `-k` turn on past finished jobs, replaying what they held.
    fn advance(&mut self) {
        loop {
            self.next += 1;
            let Some(mut held) = self.held.remove(&self.next) else {
                return;
            };
            self.replay(&mut held);
            match held.result {
                Some(result) => self.complete(result),
                None if held.skipped => {}
                None => return,
            }
        }
    }

    /// Prints what a job held, in the order it came.
    fn replay(&mut self, held: &mut Held) {
        if let Some(mut stdout) = held.stdout.take() {
            self.write(Stream::Stdout, &mut stdout);
        }
        if let Some(frames) = held.frames.take() {
            self.replay_frames(frames);
        }
    }

    fn replay_frames(&mut self, mut frames: Spool) {
        // A spill failed while these frames were held: the last one may be cut short.
        let cut_short = frames.dropped();
        let mut reader = match frames.take_reader() {
            Ok(reader) => reader,
            Err(e) => return self.notice(&format!("cannot read buffered output: {e}")),
        };
        let mut header = [0u8; 9];
        // Frames go out in large pieces, straight from where they were held.
        let mut chunk = vec![0u8; REPLAY_CHUNK];
        while reader.read_exact(&mut header).is_ok() {
            let stream = if header[0] == 1 {
                Stream::Stderr
            } else {
                Stream::Stdout
            };
            let mut left = u64::from_le_bytes(header[1..].try_into().unwrap_or_default());
            while left > 0 {
                let piece = &mut chunk[..left.min(REPLAY_CHUNK as u64) as usize];
                if let Err(e) = reader.read_exact(piece) {
                    if cut_short {
                        return;
                    }
                    return self.notice(&format!("cannot read buffered output: {e}"));
                }
                match stream {
                    Stream::Stdout => self.write_stdout(piece),
                    Stream::Stderr => self.write_stderr(piece),
                }
                left -= piece.len() as u64;
            }
        }
    }

    /// Prints a finished job's held output, its JSON record, and notices about it.
    fn complete(&mut self, result: JobResult) {
        if let Some(message) = &result.error {
            self.notice(&format!("job {}: {message}", result.seq));
            self.error = true;
        }
        let mut result = result;
        let captured = std::mem::replace(&mut result.output, Captured::Streamed);
        if let Captured::Buffered {
            mut stdout,
            mut stderr,
        } = captured
        {
            if self.config.json {
                let record = match (stdout.take_bytes(), stderr.take_bytes()) {
                    (Ok(out), Ok(err)) => json::record(&result, Some((&out, &err))),
                    (Err(e), _) | (_, Err(e)) => {
                        self.notice(&format!("cannot read buffered output: {e}"));
                        json::record(&result, Some((b"", b"")))
                    }
                };
                self.write_stdout(&record);
                self.write_stdout(b"\n");
            } else {
                self.write(Stream::Stdout, &mut stdout);
                self.write(Stream::Stderr, &mut stderr);
            }
        }
        if let JobStatus::NotStarted { message, .. } = &result.status {
            self.notice(message);
        }
        if result.timed_out {
            self.notice(&timed_out_notice(&result, self.config.timeout));
        }
        self.report_spill_failure();
        self.log(&result);
    }

    /// Writes `result`'s joblog row, once its output is out of pmap: flushed to stdout, so
    /// that a row in the log means the job is done and delivered, even if pmap is killed
    /// right after. A job pmap itself ended while stopping did not finish, and a job whose
    /// output could not be delivered (stdout closed) was not delivered: neither gets a row,
    /// so `--resume` runs them again.
    fn log(&mut self, result: &JobResult) {
        if self.joblog.is_none() || result.interrupted {
            return;
        }
        self.flush();
        if self.closed {
            return;
        }
        if let Some(Err(e)) = self.joblog.as_mut().map(|log| log.record(result)) {
            self.notice(&format!("cannot write --joblog: {e}; no longer logging"));
            self.error = true;
            self.joblog = None;
        }
    }

    /// Says, once per run and between jobs' output, that output was dropped because a
    /// spill to disk failed (see [`MemoryBudget::spill_failure`]); the run exits 255.
    fn report_spill_failure(&mut self) {
        if self.spill_reported {
            return;
        }
        let Some(why) = self.budget.spill_failure().map(str::to_owned) else {
            return;
        };
        self.spill_reported = true;
        self.error = true;
        self.notice(&format!("cannot buffer output: {why}"));
    }

    fn write_stdout(&mut self, bytes: &[u8]) {
        if self.closed {
            return;
        }
        let shown = self.progress.is_some();
        self.above_progress(|p| {
            let written = p.out.write_all(bytes);
            if let Err(e) = written.and_then(|()| if shown { p.out.flush() } else { Ok(()) }) {
                p.output_failed(e);
            }
        });
    }

    pub fn write(&mut self, stream: Stream, data: &mut Spool) {
        if data.is_empty() || self.closed {
            return;
        }
        let shown = self.progress.is_some();
        match stream {
            Stream::Stdout => self.above_progress(|p| {
                let written = data.drain_to_fd(&mut p.out, Some(1), &stdout::given_up);
                if let Err(e) = written.and_then(|()| if shown { p.out.flush() } else { Ok(()) }) {
                    p.output_failed(e);
                }
            }),
            Stream::Stderr => {
                // Stdout first, so a terminal showing both sees them in the order they came.
                self.flush();
                self.above_progress(|_| {
                    let _ = data.drain_to(&mut io::stderr().lock());
                });
            }
        }
    }

    pub fn flush(&mut self) {
        if !self.closed {
            if let Err(e) = self.out.flush() {
                self.output_failed(e);
            }
        }
    }

    fn output_failed(&mut self, e: io::Error) {
        self.closed = true;
        if super::write_failed(e) == Outcome::Error {
            self.error = true;
        }
    }

    /// Prints what is still held (jobs whose predecessors never ran because the run was
    /// stopped early) and returns the outcome.
    pub fn finish(mut self) -> Outcome {
        let held = std::mem::take(&mut self.held);
        for (_, mut held) in held {
            self.replay(&mut held);
            if let Some(result) = held.result {
                self.complete(result);
            }
        }
        self.report_spill_failure();
        self.flush();
        if let Some(progress) = &self.progress {
            progress.finish();
        }
        if self.error {
            Outcome::Error
        } else {
            Outcome::from_failures(self.tally.failed)
        }
    }
}

/// The one line that says a job was ended by `--timeout`: its number, the limit, and its
/// command, shortened to fit a line.
fn timed_out_notice(result: &JobResult, limit: Option<std::time::Duration>) -> String {
    const SHOWN: usize = 60;
    let command = String::from_utf8_lossy(&result.command);
    let command = match command.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}...", &command[..cut]),
        None => command.into_owned(),
    };
    let limit = limit.map_or(String::new(), |limit| {
        format!(" after {}s", limit.as_secs_f64())
    });
    format!(
        "job {} timed out{limit} and was ended (--timeout): {command}",
        result.seq
    )
}
