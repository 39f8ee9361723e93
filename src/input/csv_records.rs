//! `--csv`: input read as CSV records. A record may hold the record terminator (a newline)
//! inside a quoted field, so a source is cut into records by following the quotes, and each
//! record is then split into its fields by the `csv` crate.
//!
//! The cutting follows the states of the `csv` crate's parser: a quote opens a quoted field
//! only at the start of a field; inside one, `""` is a quote; after the closing quote, the
//! rest of the field is plain text, where quotes are literal. So the cut and the parse
//! always agree on where a record ends.

use std::io::{self, BufRead};

/// How CSV records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvFormat {
    /// Between fields: `--colsep`'s character, `,` by default.
    pub delimiter: u8,
    /// Between records: a newline (a `\r` before it is dropped), or `-d`/`-0`'s byte.
    pub terminator: u8,
}

/// Where a scan stands in a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field: a quote here opens a quoted field.
    FieldStart,
    /// In a field that is not quoted (or whose quotes have closed): quotes are text.
    Plain,
    /// Inside quotes: delimiters and terminators are text.
    Quoted,
    /// Just after a quote inside quotes: a second quote is an escaped one; anything else
    /// means the quotes have closed.
    QuoteSeen,
}

impl State {
    /// The state after `byte`, and whether `byte` ends the record.
    fn next(self, byte: u8, format: CsvFormat) -> (State, bool) {
        match self {
            State::Quoted if byte == b'"' => (State::QuoteSeen, false),
            State::Quoted => (State::Quoted, false),
            State::QuoteSeen if byte == b'"' => (State::Quoted, false),
            State::FieldStart if byte == b'"' => (State::Quoted, false),
            _ if byte == format.terminator => (State::FieldStart, true),
            _ if byte == format.delimiter => (State::FieldStart, false),
            _ => (State::Plain, false),
        }
    }
}

/// The records of a CSV stream, each as its raw bytes without the terminator: an item, to be
/// split into fields by [`fields`]. A record left open at the end of the input (an
/// unterminated quote) is still returned; [`fields`] refuses it.
pub struct CsvRecords {
    reader: Box<dyn BufRead + Send>,
    format: CsvFormat,
}

impl CsvRecords {
    pub fn new(reader: Box<dyn BufRead + Send>, format: CsvFormat) -> Self {
        CsvRecords { reader, format }
    }

    /// Reads one record into `record`; false at the end of the input.
    fn read_record(&mut self, record: &mut Vec<u8>) -> io::Result<bool> {
        let mut state = State::FieldStart;
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                return Ok(!record.is_empty());
            }
            for (i, &byte) in buf.iter().enumerate() {
                let (next, ends) = state.next(byte, self.format);
                if ends {
                    record.extend_from_slice(&buf[..i]);
                    self.reader.consume(i + 1);
                    if self.format.terminator == b'\n' && record.last() == Some(&b'\r') {
                        record.pop();
                    }
                    return Ok(true);
                }
                state = next;
            }
            let len = buf.len();
            record.extend_from_slice(buf);
            self.reader.consume(len);
        }
    }
}

impl Iterator for CsvRecords {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut record = Vec::new();
        match self.read_record(&mut record) {
            Ok(true) => Some(Ok(record)),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// The fields of one record, unquoted by the `csv` crate. An empty record is one empty
/// field. A record whose quotes never close is an error: read on, the quote would have
/// swallowed the rest of the input into one field.
pub fn fields(record: &[u8], format: CsvFormat) -> io::Result<Vec<Vec<u8>>> {
    let end = record
        .iter()
        .fold(State::FieldStart, |state, &byte| state.next(byte, format).0);
    if end == State::Quoted {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "--csv: a quoted field is not closed by the end of its record: '{}'",
                preview(record)
            ),
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(format.delimiter)
        .terminator(csv::Terminator::Any(format.terminator))
        .from_reader(record);
    let mut out = Vec::new();
    let mut fields = csv::ByteRecord::new();
    // An item given on the command line (`:::`) may hold an unquoted terminator: its
    // records' fields are taken together, as one record's.
    while reader
        .read_byte_record(&mut fields)
        .map_err(io::Error::other)?
    {
        out.extend(fields.iter().map(<[u8]>::to_vec));
    }
    if out.is_empty() {
        out.push(Vec::new());
    }
    Ok(out)
}

/// The start of a record, for a message.
fn preview(record: &[u8]) -> String {
    let text = String::from_utf8_lossy(&record[..record.len().min(40)]).into_owned();
    let text = text.replace('\n', "\\n");
    if record.len() > 40 {
        format!("{text}...")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMA: CsvFormat = CsvFormat {
        delimiter: b',',
        terminator: b'\n',
    };

    fn records(input: &'static [u8]) -> Vec<String> {
        CsvRecords::new(Box::new(input), COMMA)
            .map(|r| String::from_utf8(r.unwrap()).unwrap())
            .collect()
    }

    fn split(record: &str) -> Vec<String> {
        fields(record.as_bytes(), COMMA)
            .unwrap()
            .into_iter()
            .map(|f| String::from_utf8(f).unwrap())
            .collect()
    }

    #[test]
    fn records_end_at_newlines_outside_quotes() {
        assert_eq!(
            records(b"a,\"b\nc\",d\r\ne,f\n\n\"x\"\"\ny\"\nlast"),
            ["a,\"b\nc\",d", "e,f", "", "\"x\"\"\ny\"", "last"]
        );
        // After a closing quote, quotes are text: the newline ends the record.
        assert_eq!(records(b"\"x\"y\"z\nw\n"), ["\"x\"y\"z", "w"]);
        assert_eq!(records(b"a\"b\nc"), ["a\"b", "c"]);
        assert_eq!(records(b""), Vec::<String>::new());
    }

    #[test]
    fn fields_are_unquoted_and_unescaped() {
        assert_eq!(
            split("\"1 big, 2 small\",\"2\"\"x4\"\" plank\",12.34"),
            ["1 big, 2 small", "2\"x4\" plank", "12.34"]
        );
        assert_eq!(split("a,\"b\nc\",,"), ["a", "b\nc", "", ""]);
        assert_eq!(split(""), [""]);
        assert_eq!(split("\"x\"y\"z"), ["xy\"z"]);
        assert_eq!(split(" \"a\" ,b"), [" \"a\" ", "b"]);
    }

    #[test]
    fn an_unclosed_quote_is_an_error() {
        let e = fields(b"a,\"b\nc", COMMA).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--csv: a quoted field is not closed by the end of its record: 'a,\"b\\nc'"
        );
        // A quote that opens no field is text.
        assert!(fields(b"a,b\"c", COMMA).is_ok());
    }
}
