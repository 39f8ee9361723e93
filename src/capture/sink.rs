//! A running job's output as its worker reads it: cut into lines, tagged and merged as the
//! output mode asks, then either kept in [`Spool`]s until the job finishes (grouped mode,
//! `--json`) or sent on to the collector at once (`--line-buffer`, `--ungroup`).
//!
//! This runs on the worker threads, so the per-line work is spread over all of them and the
//! collector only copies finished bytes.

use crate::capture::results::ResultFiles;
use crate::capture::spool::{MemoryBudget, Spool};
use crate::config::{OutputConfig, OutputMode};
use crate::event::{Captured, Event, Events, Stream};
use crate::template::JobContext;

/// Where one job's output goes while it runs.
pub struct JobSink<'a> {
    config: &'a OutputConfig,
    seq: u64,
    events: &'a Events,
    budget: &'static MemoryBudget,
    /// What starts each line of each stream (tag, TAB, and with --merge-stderr the stream's
    /// name); empty without tags.
    prefix: [Vec<u8>; 2],
    /// The unfinished last line of each stream, when output is cut into lines.
    partial: [Spool; 2],
    /// `--ungroup` with tags: whether the next byte of each stream starts a line.
    at_line_start: [bool; 2],
    /// Grouped mode: everything printed so far, per stream.
    buffered: [Spool; 2],
    results: Option<ResultFiles>,
    /// Bytes received from the job.
    pub received: u64,
    /// The first failure to buffer or save output.
    pub error: Option<String>,
}

fn index(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

impl<'a> JobSink<'a> {
    pub fn new(
        config: &'a OutputConfig,
        job: JobContext<'_>,
        events: &'a Events,
        budget: &'static MemoryBudget,
        results: Option<ResultFiles>,
    ) -> Self {
        let prefix = match &config.tag {
            None => [Vec::new(), Vec::new()],
            Some(tag) => {
                let mut text = Vec::new();
                tag.render_into(job, &mut text);
                let colored = |on: bool| {
                    if on {
                        [&b"\x1b[36m"[..], &text, b"\x1b[0m\t"].concat()
                    } else {
                        [&text[..], b"\t"].concat()
                    }
                };
                if config.merge_stderr {
                    let p = colored(config.color_stdout);
                    [[&p[..], b"out\t"].concat(), [&p[..], b"err\t"].concat()]
                } else {
                    [colored(config.color_stdout), colored(config.color_stderr)]
                }
            }
        };
        JobSink {
            config,
            seq: job.seq,
            events,
            budget,
            prefix,
            partial: [Spool::new(budget), Spool::new(budget)],
            at_line_start: [true, true],
            buffered: [Spool::new(budget), Spool::new(budget)],
            results,
            received: 0,
            error: None,
        }
    }

    /// Where a stream's output is printed.
    fn target(&self, stream: Stream) -> Stream {
        if self.config.merge_stderr {
            Stream::Stdout
        } else {
            stream
        }
    }

    fn grouped(&self) -> bool {
        self.config.mode == OutputMode::Group
    }

    /// Whether output bound for `target` is held here until the job ends: both streams in
    /// grouped mode, except stdout under [`OutputConfig::stream_turn`], which the collector
    /// prints at once while the job has the `-k` turn and holds otherwise. Stderr still
    /// follows the job's stdout.
    fn holds(&self, target: Stream) -> bool {
        self.grouped() && !(target == Stream::Stdout && self.config.stream_turn)
    }

    /// Takes bytes the job just wrote to `stream`.
    pub fn push(&mut self, stream: Stream, bytes: &[u8]) {
        self.received += bytes.len() as u64;
        if let Some(results) = &mut self.results {
            if let Err(e) = results.write(stream, bytes) {
                self.fail(format!("cannot write --results files: {e}"));
            }
        }
        let target = self.target(stream);
        let s = index(stream);
        let mut batch = Spool::in_flight(self.budget);
        let out = if self.holds(target) {
            &mut self.buffered[index(target)]
        } else {
            &mut batch
        };
        let written = if self.config.mode == OutputMode::Ungroup {
            push_raw(&self.prefix[s], &mut self.at_line_start[s], bytes, out)
        } else if self.config.by_lines() {
            push_lines(&self.prefix[s], &mut self.partial[s], bytes, out)
        } else {
            out.push(bytes)
        };
        if let Err(e) = written {
            self.fail(format!("cannot buffer output: {e}"));
        }
        self.send(target, batch);
    }

    /// `-v`: the job's command, as the first line of its stdout. It is not the job's own
    /// output: not counted, not in its `--results` files, and not given with `--json`
    /// (whose record has the command).
    pub fn announce(&mut self, command: &[u8]) {
        if self.config.json {
            return;
        }
        let mut line = Vec::with_capacity(command.len() + 1);
        line.extend_from_slice(command);
        line.push(b'\n');
        let results = self.results.take();
        let received = self.received;
        self.push(Stream::Stdout, &line);
        self.results = results;
        self.received = received;
    }

    /// The job has closed its output: flush unfinished lines and hand over what is held.
    pub fn finish(mut self) -> (Captured, Option<ResultFiles>, Option<String>) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let s = index(stream);
            let target = self.target(stream);
            let mut batch = Spool::in_flight(self.budget);
            let tagged = !self.prefix[s].is_empty();
            let out = if self.holds(target) {
                &mut self.buffered[index(target)]
            } else {
                &mut batch
            };
            let written = if self.config.mode == OutputMode::Ungroup {
                if tagged && !self.at_line_start[s] {
                    out.push(b"\n")
                } else {
                    Ok(())
                }
            } else if self.partial[s].is_empty() {
                Ok(())
            } else {
                // Tagged lines always end in a newline; untagged bytes stay exact.
                out.push(&self.prefix[s])
                    .and_then(|()| self.partial[s].drain_to(out))
                    .and_then(|()| if tagged { out.push(b"\n") } else { Ok(()) })
            };
            if let Err(e) = written {
                self.fail(format!("cannot buffer output: {e}"));
            }
            self.send(target, batch);
        }
        let captured = if self.grouped() {
            let [stdout, stderr] = std::mem::replace(
                &mut self.buffered,
                [Spool::new(self.budget), Spool::new(self.budget)],
            );
            Captured::Buffered { stdout, stderr }
        } else {
            Captured::Streamed
        };
        (captured, self.results.take(), self.error.take())
    }

    fn send(&self, stream: Stream, data: Spool) {
        if !data.is_empty() {
            // The collector outlives the workers; if it is gone, so is stdout.
            let _ = self.events.send(Event::Output {
                seq: self.seq,
                stream,
                data,
            });
        }
    }

    fn fail(&mut self, message: String) {
        self.error.get_or_insert(message);
    }
}

/// Appends the complete lines of `bytes` (after what `partial` held) to `out`, each behind
/// `prefix`, and keeps the unfinished rest in `partial`.
pub(crate) fn push_lines(
    prefix: &[u8],
    partial: &mut Spool,
    bytes: &[u8],
    out: &mut Spool,
) -> std::io::Result<()> {
    let Some(last) = memchr::memrchr(b'\n', bytes) else {
        return partial.push(bytes);
    };
    let (complete, rest) = bytes.split_at(last + 1);
    if prefix.is_empty() {
        partial.drain_to(out)?;
        out.push(complete)?;
    } else {
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', complete) {
            out.push(prefix)?;
            if start == 0 {
                partial.drain_to(out)?;
            }
            out.push(&complete[start..=end])?;
            start = end + 1;
        }
    }
    partial.push(rest)
}

/// `--ungroup`: passes `bytes` through, putting `prefix` at the start of every line.
fn push_raw(
    prefix: &[u8],
    at_line_start: &mut bool,
    bytes: &[u8],
    out: &mut Spool,
) -> std::io::Result<()> {
    if prefix.is_empty() || bytes.is_empty() {
        return out.push(bytes);
    }
    let mut start = 0;
    while start < bytes.len() {
        if *at_line_start {
            out.push(prefix)?;
        }
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i + 1);
        out.push(&bytes[start..end])?;
        *at_line_start = bytes[end - 1] == b'\n';
        start = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(prefix: &[u8], chunks: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
        let budget = MemoryBudget::new(1 << 20);
        let mut partial = Spool::new(budget);
        let mut out = Spool::new(budget);
        for chunk in chunks {
            push_lines(prefix, &mut partial, chunk, &mut out).unwrap();
        }
        (out.take_bytes().unwrap(), partial.take_bytes().unwrap())
    }

    #[test]
    fn lines_are_emitted_whole_and_tagged_once() {
        assert_eq!(
            lines(b"T\t", &[b"ab", b"c\nd", b"\n\nxy"]),
            (b"T\tabc\nT\td\nT\t\n".to_vec(), b"xy".to_vec())
        );
        assert_eq!(
            lines(b"", &[b"ab", b"c\nd", b"\n\nxy"]),
            (b"abc\nd\n\n".to_vec(), b"xy".to_vec())
        );
    }

    #[test]
    fn raw_tagging_marks_line_starts_across_chunks() {
        let budget = MemoryBudget::new(1 << 20);
        let mut out = Spool::new(budget);
        let mut start = true;
        for chunk in [&b"a\nb"[..], b"c\n", b"d"] {
            push_raw(b"T\t", &mut start, chunk, &mut out).unwrap();
        }
        assert_eq!(out.take_bytes().unwrap(), b"T\ta\nT\tbc\nT\td");
        assert!(!start);
    }
}
