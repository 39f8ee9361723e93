//! Items cut into columns (`--colsep`, `--csv`) and the header that names them
//! (`--header` without `--pipe`): the first item of each input source, cut the same way.

use std::io;

use regex::bytes::Regex;

use super::Trim;
use super::csv_records::{self, CsvFormat};

/// How each item is cut into the columns `{1}`, `{2}`, ….
#[derive(Debug, Clone)]
pub enum Columns {
    /// Not at all: an item is one value.
    Whole,
    /// At the matches of a regex (`--colsep`; a TAB for `--header` alone, as in GNU
    /// parallel).
    Split(Regex),
    /// As CSV records (`--csv`).
    Csv(CsvFormat),
}

/// `--header` for items: where the columns' names come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// The first item of each source, cut into columns: it is not a job.
    FirstItem,
    /// `--header 0` (GNU parallel's): no header item; each file source is named by its
    /// path as given (`{dir/file.txt}`).
    FileNames,
}

impl Columns {
    /// Whether items are cut at all.
    pub fn splits(&self) -> bool {
        !matches!(self, Columns::Whole)
    }

    /// `--csv`'s format, if that is how items are cut.
    pub fn csv(&self) -> Option<CsvFormat> {
        match self {
            Columns::Csv(format) => Some(*format),
            _ => None,
        }
    }

    /// Appends the columns of `item` to `out`, each trimmed as `trim` says.
    pub fn split_into(&self, item: Vec<u8>, trim: Trim, out: &mut Vec<Vec<u8>>) -> io::Result<()> {
        match self {
            Columns::Whole => out.push(item),
            Columns::Split(re) => out.extend(re.split(&item).map(|c| trim.apply(c).to_vec())),
            Columns::Csv(format) => out.extend(
                csv_records::fields(&item, *format)?
                    .into_iter()
                    .map(|c| trim.apply(&c).to_vec()),
            ),
        }
        Ok(())
    }

    /// The names in a header item: its columns. A `\r` at its end goes, as GNU parallel
    /// drops it (a CSV record has lost it already).
    pub fn names(&self, mut header: Vec<u8>, trim: Trim) -> io::Result<Vec<Vec<u8>>> {
        if header.last() == Some(&b'\r') {
            header.pop();
        }
        let mut names = Vec::new();
        self.split_into(header, trim, &mut names)?;
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_the_columns_of_the_first_item() {
        let tab = Columns::Split(Regex::new("\t").unwrap());
        assert_eq!(
            tab.names(b"name\tage\r".to_vec(), Trim::None).unwrap(),
            [b"name".to_vec(), b"age".to_vec()]
        );
        let csv = Columns::Csv(CsvFormat {
            delimiter: b';',
            terminator: b'\n',
        });
        assert_eq!(
            csv.names(b"\"a;b\"; c".to_vec(), Trim::Both).unwrap(),
            [b"a;b".to_vec(), b"c".to_vec()]
        );
    }
}
