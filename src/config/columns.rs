//! How items are cut into columns, validated: `--colsep`, `--csv`, `--trim`, and
//! `--header` for items (column names), as GNU parallel combines them.

use anyhow::{Result, bail};
use regex::bytes::Regex;

use crate::cli::{Cli, PoolKind};
use crate::input::Trim;
use crate::input::columns::{Columns, Header};
use crate::input::csv_records::CsvFormat;

use super::pipe::wants_blocks;
use super::values::{self, Escapes, unescape};

/// The columns of items, the header that names them, and what is trimmed off them.
/// `delimiter` ends each item (`-d`, `-0`, or a newline), and so each CSV record.
pub(super) fn columns_config(cli: &Cli, delimiter: u8) -> Result<(Columns, Option<Header>, Trim)> {
    // With blocks, --header is the blocks' header (see `pipe`), and --colsep and --csv are
    // refused there.
    let header = match cli.header.as_deref() {
        Some(_) if wants_blocks(cli) => None,
        // GNU parallel's: no header item, but file sources named by their paths.
        Some("0") => Some(Header::FileNames),
        // Any other value (`:`, a number, a regex) means the first item, as in GNU parallel.
        Some(_) => Some(Header::FirstItem),
        None => None,
    };
    if header.is_some() && cli.pool == PoolKind::Process {
        bail!(
            "--header names columns for {{name}} in a command; a --pool process worker's \
             command takes no item"
        );
    }
    let columns = if cli.csv {
        Columns::Csv(CsvFormat {
            delimiter: csv_delimiter(cli.colsep.as_deref(), delimiter)?,
            terminator: delimiter,
        })
    } else if let Some(colsep) = cli.colsep.as_deref() {
        Columns::Split(values::parse_colsep(colsep)?)
    } else if header.is_some() {
        // GNU parallel splits at TABs when --header comes without --colsep.
        Columns::Split(Regex::new("\t")?)
    } else {
        Columns::Whole
    };
    let trim = match cli.trim.as_deref() {
        Some("l") => Trim::Left,
        Some("r") => Trim::Right,
        Some("lr" | "rl") => Trim::Both,
        Some(_) => Trim::None,
        // As GNU parallel: only a --colsep of the user's trims. CSV fields are not trimmed:
        // their quotes say where they start and end.
        None if cli.colsep.is_some() && !cli.csv => Trim::Both,
        None => Trim::None,
    };
    Ok((columns, header, trim))
}

/// `--csv`'s field delimiter: `--colsep`'s one character (`\t` and a regex's `\|` are
/// understood), or a comma.
fn csv_delimiter(colsep: Option<&str>, terminator: u8) -> Result<u8> {
    let Some(text) = colsep else {
        return Ok(b',');
    };
    let bytes = unescape(text.as_bytes(), Escapes::Basic)?;
    let byte = match bytes[..] {
        [b] => b,
        [b'\\', b] if b.is_ascii_punctuation() => b,
        _ => bail!(
            "--csv takes one character as --colsep (the field delimiter), not '{text}': CSV \
             fields are not cut at a regex"
        ),
    };
    if byte == b'"' || byte == terminator {
        bail!(
            "--csv: --colsep '{text}' cannot be the field delimiter: it is the quote or the \
             record terminator"
        );
    }
    Ok(byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_delimiter_is_one_character() {
        assert_eq!(csv_delimiter(None, b'\n').unwrap(), b',');
        assert_eq!(csv_delimiter(Some(";"), b'\n').unwrap(), b';');
        assert_eq!(csv_delimiter(Some("\\t"), b'\n').unwrap(), b'\t');
        assert_eq!(csv_delimiter(Some("\\|"), b'\n').unwrap(), b'|');
        for bad in [",+", "\\s+", "", "\""] {
            assert!(csv_delimiter(Some(bad), b'\n').is_err(), "{bad}");
        }
        assert!(csv_delimiter(Some(","), b',').is_err());
    }
}
