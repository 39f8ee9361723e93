//! Splits one input stream into items at a delimiter (one byte, or several: `-d '\r\n'`),
//! streaming; and notices input with Windows line ends read as lines.

use std::io::{self, BufRead};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once when most of the first lines read end in `\r` (see [`take_crlf_notice`]).
static CRLF_SEEN: AtomicBool = AtomicBool::new(false);

/// How many lines the `\r` count looks at.
const CRLF_SAMPLE: usize = 100;

/// The note for input with Windows line ends, once per run: `None` if there is none (yet).
pub fn take_crlf_notice() -> Option<String> {
    CRLF_SEEN.swap(false, Ordering::SeqCst).then(|| {
        "most input lines end in a carriage return (\\r), which stays in the items: for \
         Windows line ends, split with -d '\\r\\n'"
            .to_string()
    })
}

/// An iterator over the delimited items of a reader. The delimiter is removed and nothing
/// else is; a last item without a delimiter is still an item.
pub struct Records {
    reader: Box<dyn BufRead + Send>,
    /// The delimiter's last byte, and the bytes before it (none for a one-byte delimiter).
    last: u8,
    lead: Vec<u8>,
    /// Lines read, and how many of them ended in `\r`, while a plain newline splits them.
    sampled: usize,
    crlf: usize,
}

impl Records {
    /// Items of `reader` ended by `delimiter` (not empty).
    pub fn new(reader: Box<dyn BufRead + Send>, delimiter: &[u8]) -> Self {
        let (&last, lead) = delimiter.split_last().unwrap_or((&b'\n', &[]));
        // Only plain lines are sampled for `\r`: with any other delimiter it is data.
        let sampled = if delimiter == b"\n" { 0 } else { CRLF_SAMPLE };
        Records {
            reader,
            last,
            lead: lead.to_vec(),
            sampled,
            crlf: 0,
        }
    }

    /// Counts `item` (a line) towards the `\r` sample; at its end, notes Windows line ends.
    fn sample(&mut self, item: Option<&[u8]>) {
        if self.sampled >= CRLF_SAMPLE {
            return;
        }
        if let Some(line) = item {
            self.sampled += 1;
            self.crlf += usize::from(line.last() == Some(&b'\r'));
        }
        let sample_done = item.is_none() || self.sampled == CRLF_SAMPLE;
        if sample_done {
            if self.crlf * 2 > self.sampled {
                CRLF_SEEN.store(true, Ordering::SeqCst);
            }
            self.sampled = CRLF_SAMPLE;
        }
    }

    /// Reads up to and including the next delimiter into `item`; false at end of input.
    fn read_item(&mut self, item: &mut Vec<u8>) -> io::Result<bool> {
        loop {
            if self.reader.read_until(self.last, item)? == 0 {
                return Ok(!item.is_empty());
            }
            if item.last() != Some(&self.last) {
                return Ok(true);
            }
            let body = &item[..item.len() - 1];
            if body.ends_with(&self.lead) {
                item.truncate(item.len() - 1 - self.lead.len());
                return Ok(true);
            }
            // The last byte alone (a lone `\n` under `-d '\r\n'`) is part of the item.
        }
    }
}

impl Iterator for Records {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut item = Vec::new();
        match self.read_item(&mut item) {
            Ok(false) => {
                self.sample(None);
                None
            }
            Ok(true) => {
                self.sample(Some(&item));
                Some(Ok(item))
            }
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(input: &'static [u8], delimiter: &[u8]) -> Vec<Vec<u8>> {
        Records::new(Box::new(input), delimiter)
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn keeps_empty_items_and_an_unterminated_last_item() {
        assert_eq!(split(b"a\n\nb", b"\n"), [&b"a"[..], b"", b"b"]);
        assert_eq!(split(b"a\n", b"\n"), [b"a"]);
        assert_eq!(split(b"", b"\n"), Vec::<Vec<u8>>::new());
        assert_eq!(split(b"\n", b"\n"), [b""]);
        assert_eq!(split(b" a \r\n", b"\n"), [b" a \r"]);
        assert_eq!(split(b"x\0y\0", b"\0"), [b"x", b"y"]);
    }

    #[test]
    fn a_delimiter_of_several_bytes_ends_items_only_whole() {
        assert_eq!(split(b"a\r\nb\nc\r\n", b"\r\n"), [&b"a"[..], b"b\nc"]);
        assert_eq!(split(b"a\r\n\r\nb", b"\r\n"), [&b"a"[..], b"", b"b"]);
        assert_eq!(split(b"a::b:c::", b"::"), [&b"a"[..], b"b:c"]);
    }
}
