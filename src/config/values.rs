//! Parsers of single flag values: `-j`, `-d`, `--colsep`, and the trailing words split into
//! the command and its `:::`/`::::` input sources.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use regex::bytes::Regex;

use crate::input::SourceSpec;

/// The most jobs pmap runs at once. Each running job holds a thread and two pipes, so far
/// fewer fit under the usual limits; past this, a larger `-j` only costs memory.
pub const MAX_JOBS: usize = 32_768;

/// `-j`, if given; one job per CPU otherwise. A `-j` above [`MAX_JOBS`] runs at most that
/// many, with a note.
/// `base`: what `-j` counts from instead of this machine's CPUs (`--slurm` inside an
/// allocation: the steps it runs at once).
pub(super) fn jobs(spec: Option<&str>, base: Option<usize>) -> Result<usize> {
    let cpus = base.unwrap_or_else(cpus);
    let jobs = match spec {
        None => cpus,
        Some(spec) => parse_jobs(spec, cpus, max_jobs_for_zero())?,
    };
    if jobs > MAX_JOBS {
        eprintln!("pmap: -j {jobs} is more than pmap runs at once; running at most {MAX_JOBS}");
    }
    Ok(jobs.min(MAX_JOBS))
}

/// The CPUs this process may run on.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Compiles `--colsep`.
pub(super) fn parse_colsep(re: &str) -> Result<Regex> {
    Regex::new(re).map_err(|e| {
        // The regex crate explains syntax errors over several lines; the last one says what
        // is wrong.
        let why = e.to_string();
        let why = why.lines().last().unwrap_or_default();
        anyhow!(
            "invalid --colsep regex '{re}': {}",
            why.trim().trim_start_matches("error: ")
        )
    })
}

/// `-a FILE` or `:::: FILE`, where `-` is standard input.
pub(super) fn file_source(path: PathBuf) -> SourceSpec {
    if path.as_os_str() == "-" {
        SourceSpec::Stdin
    } else {
        SourceSpec::File(path)
    }
}

/// Splits the trailing words into the command and its `:::`/`::::` input sources.
/// `seps`: what starts a list of items and a list of files (`:::` and `::::`, or
/// `--arg-sep` and `--arg-file-sep`); either with a `+` after it (`:::+`) starts a source
/// linked to the one before. Returns the command, the sources, and per source whether it is
/// so linked.
pub(super) fn split_command(
    words: Vec<OsString>,
    seps: (&[u8], &[u8]),
) -> (Vec<OsString>, Vec<SourceSpec>, Vec<bool>) {
    enum Mode {
        Command,
        Items,
        Files,
    }
    let mut mode = Mode::Command;
    let mut command = Vec::new();
    let mut sources: Vec<SourceSpec> = Vec::new();
    let mut linked: Vec<bool> = Vec::new();
    // `::::+`: the next file is linked to the source before it.
    let mut link_next = false;
    let plus = |w: &[u8], sep: &[u8]| w.strip_suffix(b"+") == Some(sep);
    for word in words {
        match word.as_bytes() {
            w if w == seps.0 || plus(w, seps.0) => {
                sources.push(SourceSpec::Inline(Vec::new()));
                linked.push(w != seps.0);
                mode = Mode::Items;
            }
            w if w == seps.1 || plus(w, seps.1) => {
                link_next = w != seps.1;
                mode = Mode::Files;
            }
            _ => match mode {
                Mode::Command => command.push(word),
                Mode::Items => {
                    if let Some(SourceSpec::Inline(items)) = sources.last_mut() {
                        items.push(word.into_vec());
                    }
                }
                Mode::Files => {
                    sources.push(file_source(PathBuf::from(word)));
                    linked.push(std::mem::take(&mut link_next));
                }
            },
        }
    }
    (command, sources, linked)
}

/// Which backslash escapes a value understands; any other backslash stays as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Escapes {
    /// `\n`, `\t`, `\0` and `\\` (`-d`, `--tagstring`).
    Basic,
    /// Those, `\r` and `\xHH` (`--recend`, `--recstart`).
    Separator,
}

/// `text` with its backslash escapes replaced; an error only for a `\x` without two hex
/// digits.
pub(super) fn unescape(text: &[u8], escapes: Escapes) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] != b'\\' || i + 1 == text.len() {
            out.push(text[i]);
            i += 1;
            continue;
        }
        let full = escapes == Escapes::Separator;
        let (byte, used) = match text[i + 1] {
            b'n' => (b'\n', 2),
            b't' => (b'\t', 2),
            b'0' => (0, 2),
            b'\\' => (b'\\', 2),
            b'r' if full => (b'\r', 2),
            b'x' if full => {
                let hex = text
                    .get(i + 2..i + 4)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.map(|h| u8::from_str_radix(h, 16)) {
                    Some(Ok(b)) => (b, 4),
                    _ => bail!(
                        "'{}': \\x needs two hex digits",
                        String::from_utf8_lossy(text)
                    ),
                }
            }
            other => {
                out.push(b'\\');
                (other, 2)
            }
        };
        out.push(byte);
        i += used;
    }
    Ok(out)
}

/// A size for `flag`: a number (decimals allowed) with an optional unit, K M G T P
/// (powers of 1024) or k m g t p (powers of 1000), as GNU parallel reads them.
pub fn parse_size(flag: &str, text: &str) -> Result<u64> {
    let bad = || anyhow!("{flag} '{text}': expected a size such as 1M, 500k or 65536");
    let (number, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], Some(c)),
        _ => (text, None),
    };
    let power = match unit.map(|c| c.to_ascii_lowercase()) {
        None => 0,
        Some('k') => 1,
        Some('m') => 2,
        Some('g') => 3,
        Some('t') => 4,
        Some('p') => 5,
        Some(_) => return Err(bad()),
    };
    let base: f64 = if unit.is_some_and(|c| c.is_ascii_uppercase()) {
        1024.0
    } else {
        1000.0
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    let bytes = value * base.powi(power);
    if !bytes.is_finite() || bytes < 0.0 {
        return Err(bad());
    }
    if bytes >= u64::MAX as f64 {
        bail!("{flag} '{text}' is too big");
    }
    Ok(bytes as u64)
}

/// Parses `-j`: `N`, `N%`, `+N`, `-N`, or `0` (as many as the input allows, bounded by
/// what the process may open).
pub fn parse_jobs(spec: &str, cpus: usize, zero_limit: usize) -> Result<usize> {
    let bad = || {
        anyhow!("invalid -j/--jobs value '{spec}': expected N, N%, +N, -N or 0 (e.g. -j4, -j50%)")
    };
    let number = |s: &str| s.parse::<usize>().map_err(|_| bad());
    let jobs = if let Some(pct) = spec.strip_suffix('%') {
        (cpus.saturating_mul(number(pct)?) / 100).max(1)
    } else if let Some(n) = spec.strip_prefix('+') {
        cpus.saturating_add(number(n)?)
    } else if let Some(n) = spec.strip_prefix('-') {
        cpus.saturating_sub(number(n)?).max(1)
    } else {
        match number(spec)? {
            0 => zero_limit,
            n => n,
        }
    };
    Ok(jobs)
}

/// `-j 0`: each running job holds two pipes, so the open-file limit bounds concurrency.
fn max_jobs_for_zero() -> usize {
    let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(1024);
    let by_files = (soft.min(1 << 20) as usize).saturating_sub(32) / 4;
    by_files.clamp(1, 4096)
}

/// Parses `-d`: bytes (not none), with the escapes `\n`, `\t`, `\r`, `\0`, `\\` and
/// `\xHH`; `-d '\r\n'` splits Windows lines.
pub fn parse_delimiter(d: &[u8]) -> Result<Vec<u8>> {
    let delimiter = unescape(d, Escapes::Separator)?;
    if delimiter.is_empty() {
        bail!("-d/--delimiter needs at least one byte (e.g. -d , or -d '\\r\\n')");
    }
    Ok(delimiter)
}

/// `item` split at every `delimiter` (not empty).
pub(super) fn split_at(item: &[u8], delimiter: &[u8]) -> Vec<Vec<u8>> {
    let mut parts = Vec::new();
    let mut rest = item;
    while let Some(at) = memchr::memmem::find(rest, delimiter) {
        parts.push(rest[..at].to_vec());
        rest = &rest[at + delimiter.len()..];
    }
    parts.push(rest.to_vec());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_accepts_every_documented_form() {
        assert_eq!(parse_jobs("3", 2, 100).unwrap(), 3);
        assert_eq!(parse_jobs("50%", 4, 100).unwrap(), 2);
        assert_eq!(parse_jobs("10%", 2, 100).unwrap(), 1);
        assert_eq!(parse_jobs("+2", 2, 100).unwrap(), 4);
        assert_eq!(parse_jobs("-1", 2, 100).unwrap(), 1);
        assert_eq!(parse_jobs("-5", 2, 100).unwrap(), 1);
        assert_eq!(parse_jobs("0", 2, 100).unwrap(), 100);
        for bad in ["", "x", "1.5", "%", "+", "-x", "2x"] {
            assert!(parse_jobs(bad, 2, 100).is_err(), "{bad}");
        }
    }

    #[test]
    fn delimiter_escapes() {
        assert_eq!(parse_delimiter(b",").unwrap(), b",");
        assert_eq!(parse_delimiter(b"\\t").unwrap(), b"\t");
        assert_eq!(parse_delimiter(b"\\0").unwrap(), b"\0");
        assert_eq!(parse_delimiter(b"\\\\").unwrap(), b"\\");
        assert_eq!(parse_delimiter(b"\\r\\n").unwrap(), b"\r\n");
        assert_eq!(parse_delimiter(b"ab").unwrap(), b"ab");
        assert!(parse_delimiter(b"").is_err());
        assert_eq!(split_at(b"a::b:c::", b"::"), [&b"a"[..], b"b:c", b""]);
    }

    #[test]
    fn command_words_and_sources_split_at_markers() {
        let words: Vec<OsString> = ["echo", "{}", ":::", "a", "b", "::::", "f", "-", ":::"]
            .iter()
            .map(OsString::from)
            .collect();
        let (cmd, sources, _) = split_command(words, (b":::", b"::::"));
        assert_eq!(cmd, ["echo", "{}"]);
        assert_eq!(
            sources,
            [
                SourceSpec::Inline(vec![b"a".to_vec(), b"b".to_vec()]),
                SourceSpec::File("f".into()),
                SourceSpec::Stdin,
                SourceSpec::Inline(vec![]),
            ]
        );
    }
}
