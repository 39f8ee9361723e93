//! Splits one input stream into items at a delimiter byte, streaming.

use std::io::{self, BufRead};

/// An iterator over the delimited items of a reader. The delimiter is removed and nothing
/// else is; a last item without a delimiter is still an item.
pub struct Records {
    reader: Box<dyn BufRead + Send>,
    delimiter: u8,
}

impl Records {
    pub fn new(reader: Box<dyn BufRead + Send>, delimiter: u8) -> Self {
        Records { reader, delimiter }
    }
}

impl Iterator for Records {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut item = Vec::new();
        match self.reader.read_until(self.delimiter, &mut item) {
            Ok(0) => None,
            Ok(_) => {
                if item.last() == Some(&self.delimiter) {
                    item.pop();
                }
                Some(Ok(item))
            }
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(input: &'static [u8], delimiter: u8) -> Vec<Vec<u8>> {
        Records::new(Box::new(input), delimiter)
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn keeps_empty_items_and_an_unterminated_last_item() {
        assert_eq!(split(b"a\n\nb", b'\n'), [&b"a"[..], b"", b"b"]);
        assert_eq!(split(b"a\n", b'\n'), [b"a"]);
        assert_eq!(split(b"", b'\n'), Vec::<Vec<u8>>::new());
        assert_eq!(split(b"\n", b'\n'), [b""]);
        assert_eq!(split(b" a \r\n", b'\n'), [b" a \r"]);
        assert_eq!(split(b"x\0y\0", 0), [b"x", b"y"]);
    }
}
