//! The input sources of items, opened and combined into records (one value per source):
//! each source read item by item (by its delimiter, or as CSV records), its header taken
//! off (`--header`), its items shaped by `-E`, `-L`, `-r` and `--trim`, and the sources
//! multiplied or linked.

use std::fs::File;
use std::io::{self, BufReader};

use anyhow::{Context, Result, bail};

use super::columns::Header;
use super::combine::{Link, Product, zip_shortest};
use super::csv_records::CsvRecords;
use super::{InputConfig, Items, RecordStream, Records, SourceSpec, Trim};

/// Each source's header, cut into its column names (`--header`; empty without it).
pub type Headers = Vec<Vec<Vec<u8>>>;

/// The records of items (one value per source): sources, product or link; and with
/// `--header`, each source's column names.
pub(super) fn open_records(config: &InputConfig) -> Result<(RecordStream, Headers)> {
    let mut streams: Vec<Items> = Vec::new();
    let mut headers = Vec::new();
    for spec in &config.sources {
        let mut items = open_source(spec, config)?;
        if let Some(header) = config.header {
            headers.push(read_header(header, spec, &mut items, config)?);
        }
        streams.push(shaped(items, config));
    }
    let mut streams = streams.into_iter();
    let first = streams.next().context("no input source")?;
    let rest = streams
        .map(|s| s.collect::<io::Result<Vec<_>>>())
        .collect::<io::Result<Vec<_>>>()
        .context("cannot read input")?;
    Ok((combined(first, rest, config), headers))
}

/// The names a source gives its columns: its first item's columns (taken off the
/// source), or with `--header 0` a file source's path.
fn read_header(
    header: Header,
    spec: &SourceSpec,
    items: &mut Items,
    config: &InputConfig,
) -> Result<Vec<Vec<u8>>> {
    use std::os::unix::ffi::OsStrExt;
    match header {
        Header::FileNames => Ok(match spec {
            SourceSpec::File(path) => vec![path.as_os_str().as_bytes().to_vec()],
            SourceSpec::Stdin | SourceSpec::Inline(_) => vec![Vec::new()],
        }),
        Header::FirstItem => match items.next().transpose().context("cannot read input")? {
            // An empty source names nothing; it makes no job either.
            None => Ok(Vec::new()),
            Some(item) => Ok(config
                .columns
                .names(item, config.trim)
                .context("cannot read input")?),
        },
    }
}

/// The sources combined: groups of sources linked together (`--link`: all; `:::+`: with
/// the one before), the first group streamed with the first source, multiplied as wholes.
fn combined(first: Items, rest: Vec<Vec<Vec<u8>>>, config: &InputConfig) -> RecordStream {
    let linked = |i: usize| config.link || config.linked.get(i).copied().unwrap_or(false);
    let mut groups: Vec<Vec<Vec<Vec<u8>>>> = Vec::new();
    let mut first_group = Vec::new();
    for (k, items) in rest.into_iter().enumerate() {
        let i = k + 1;
        match groups.last_mut() {
            None if linked(i) => first_group.push(items),
            Some(group) if linked(i) => group.push(items),
            _ => groups.push(vec![items]),
        }
    }
    // `--link` wraps shorter sources around; `:::+` stops at the shortest (as GNU parallel).
    let wrap = config.link;
    let first: RecordStream = if first_group.is_empty() {
        Box::new(first.map(|item| item.map(|v| vec![v])))
    } else if wrap {
        Box::new(Link::new(first, first_group))
    } else {
        Box::new(zip_shortest(first, first_group))
    };
    let rest: Vec<Vec<Vec<Vec<u8>>>> = groups
        .into_iter()
        .map(|mut group| {
            let first: Items = Box::new(group.remove(0).into_iter().map(Ok));
            if wrap {
                Link::new(first, group).filter_map(Result::ok).collect()
            } else {
                zip_shortest(first, group).filter_map(Result::ok).collect()
            }
        })
        .collect();
    Box::new(Product::new(first, rest))
}

/// `-L`: lines, each one that ends in a space or a tab joined with the line after it (as
/// xargs' `-L` reads them).
struct Continued {
    items: Items,
}

impl Iterator for Continued {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut line = match self.items.next()? {
            Ok(line) => line,
            Err(e) => return Some(Err(e)),
        };
        while matches!(line.last(), Some(b' ' | b'\t')) {
            match self.items.next() {
                Some(Ok(more)) => line.extend_from_slice(&more),
                Some(Err(e)) => return Some(Err(e)),
                None => break,
            }
        }
        Some(Ok(line))
    }
}

/// One source's items as `-E` and `-r` shape them: up to the end marker, without blank ones.
fn shaped(items: Items, config: &InputConfig) -> Items {
    let items: Items = match config.eof.clone() {
        Some(eof) => {
            Box::new(items.take_while(move |item| item.as_ref().map_or(true, |v| *v != eof)))
        }
        None => items,
    };
    let items: Items = if config.join_continued {
        Box::new(Continued { items })
    } else {
        items
    };
    let items: Items = if config.skip_blank {
        let blank = |v: &[u8]| v.iter().all(u8::is_ascii_whitespace);
        Box::new(items.filter(move |item| item.as_ref().map_or(true, |v| !blank(v))))
    } else {
        items
    };
    // With columns, the columns are trimmed instead (`ItemJobs::split_columns`).
    match config.trim {
        Trim::None => items,
        _ if config.columns.splits() => items,
        trim => Box::new(items.map(move |item| item.map(|v| trim.apply(&v).to_vec()))),
    }
}

/// An input file opened for reading, and what is known of it; a directory is an error.
pub(super) fn open_file(path: &std::path::Path) -> Result<(File, Option<std::fs::Metadata>)> {
    let file =
        File::open(path).with_context(|| format!("cannot read input file '{}'", path.display()))?;
    let meta = file.metadata().ok();
    if meta.as_ref().is_some_and(std::fs::Metadata::is_dir) {
        bail!(
            "cannot read input file '{}': it is a directory",
            path.display()
        );
    }
    Ok((file, meta))
}

/// One source's items: lines (or items ended by the delimiter), or with `--csv` records.
fn open_source(spec: &SourceSpec, config: &InputConfig) -> Result<Items> {
    let reader: Box<dyn io::BufRead + Send> = match spec {
        SourceSpec::Stdin => Box::new(BufReader::with_capacity(64 * 1024, io::stdin())),
        SourceSpec::File(path) => Box::new(BufReader::with_capacity(64 * 1024, open_file(path)?.0)),
        SourceSpec::Inline(items) => return Ok(Box::new(items.clone().into_iter().map(Ok))),
    };
    Ok(match config.columns.csv() {
        Some(format) => Box::new(CsvRecords::new(reader, format)),
        None => Box::new(Records::new(reader, &config.delimiter)),
    })
}
