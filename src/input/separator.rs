//! Where records end in a stream cut into blocks (`--pipe`, `--pipepart`): between the
//! `--recend` string and the `--recstart` string, literal or (`--regexp`) as regexes, with
//! `-L N` making every N lines one record.
//!
//! A boundary is a position `p` in a buffer: the record before it ends with `--recend` and
//! the one after starts with `--recstart`. Literal separators are found with `memmem`, so
//! cutting the default newline-separated stream costs one backward search per block.

use memchr::memmem;
use regex::bytes::Regex;

/// How records are told apart.
#[derive(Debug, Clone)]
pub struct Separator {
    find: Find,
    /// `-L N`: a boundary only after every N-th line (N > 1); the count starts at each cut.
    lines: usize,
}

#[derive(Debug, Clone)]
enum Find {
    /// No separator at all (`--recend ''` alone): blocks are cut at their size.
    Nothing,
    /// `end` followed by `start` (`needle`), as bytes; the boundary lies between the two.
    Literal {
        end: Vec<u8>,
        start: Vec<u8>,
        needle: Vec<u8>,
    },
    /// `--regexp`: `(END)START` (`split`); the boundary is where the group ends. `end_at_end`
    /// and `start_at_start` are END and START anchored, for `--rrs`.
    Regex {
        split: Regex,
        end_at_end: Regex,
        start_at_start: Regex,
    },
}

impl Separator {
    /// Records that end with `end` and start with `start` (either may be empty).
    pub fn literal(end: Vec<u8>, start: Vec<u8>) -> Self {
        let find = if end.is_empty() && start.is_empty() {
            Find::Nothing
        } else {
            let needle = [&end[..], &start[..]].concat();
            Find::Literal { end, start, needle }
        };
        Separator { find, lines: 1 }
    }

    /// Records that end with a match of `end` and start with a match of `start`, both
    /// regexes (`--regexp`).
    pub fn regex(end: &str, start: &str) -> Result<Self, regex::Error> {
        if end.is_empty() && start.is_empty() {
            return Ok(Separator::literal(Vec::new(), Vec::new()));
        }
        Ok(Separator {
            find: Find::Regex {
                split: Regex::new(&format!("(?s)({end})(?:{start})"))?,
                end_at_end: Regex::new(&format!("(?s)(?:{end})\\z"))?,
                start_at_start: Regex::new(&format!("(?s)\\A(?:{start})"))?,
            },
            lines: 1,
        })
    }

    /// `-L N`: N lines make one record (newline-ended lines, whatever the separator).
    pub fn lines_per_record(n: usize) -> Self {
        Separator {
            lines: n.max(1),
            ..Separator::literal(b"\n".to_vec(), Vec::new())
        }
    }

    /// Whether there are records at all.
    pub fn has_records(&self) -> bool {
        !matches!(self.find, Find::Nothing)
    }

    /// How many bytes past a boundary must be seen to know it is one (`--recstart`).
    pub fn lookahead(&self) -> usize {
        match &self.find {
            Find::Literal { start, .. } => start.len(),
            // A regex may look arbitrarily far; a boundary is taken where it matched in
            // what has been read.
            Find::Nothing | Find::Regex { .. } => 0,
        }
    }

    /// The boundaries in `buf[from..]` (positions in `buf`, after `from`, in order), as
    /// far as `buf` shows them. With `-L`, `from` must be the start of a record.
    pub fn boundaries<'a>(
        &'a self,
        buf: &'a [u8],
        from: usize,
    ) -> Box<dyn Iterator<Item = usize> + 'a> {
        let raw: Box<dyn Iterator<Item = usize> + 'a> = match &self.find {
            Find::Nothing => Box::new(std::iter::empty()),
            Find::Literal { end, needle, .. } => {
                let end_len = end.len();
                Box::new(memmem::find_iter(&buf[from..], needle).map(move |m| from + m + end_len))
            }
            Find::Regex { split, .. } => Box::new(
                split
                    .captures_iter(&buf[from..])
                    .filter_map(|c| c.get(1))
                    .map(move |g| from + g.end()),
            ),
        };
        let raw: Box<dyn Iterator<Item = usize> + 'a> = Box::new(raw.filter(move |&p| p > from));
        if self.lines > 1 {
            let n = self.lines;
            Box::new(
                raw.enumerate()
                    .filter(move |(i, _)| (i + 1) % n == 0)
                    .map(|(_, p)| p),
            )
        } else {
            raw
        }
    }

    /// The last boundary in `buf[from..]` at or before `limit` bytes from `from`, if any.
    pub fn last_within(&self, buf: &[u8], from: usize, limit: usize) -> Option<usize> {
        let upto = from.saturating_add(limit).min(buf.len());
        match &self.find {
            Find::Literal { end, start, needle } if self.lines == 1 => {
                // Room for the start string after a boundary at `upto`.
                let seen = upto.saturating_add(start.len()).min(buf.len());
                let mut hay = &buf[from..seen];
                while let Some(m) = memmem::rfind(hay, needle) {
                    let p = from + m + end.len();
                    if p > from && p <= upto {
                        return Some(p);
                    }
                    hay = &hay[..m + needle.len() - 1];
                }
                None
            }
            _ => {
                let seen = upto.saturating_add(self.lookahead()).min(buf.len());
                self.boundaries(&buf[..seen], from)
                    .take_while(|&p| p <= upto)
                    .last()
            }
        }
    }

    /// The first boundary in `buf[from..]` at or after `at`, as far as `buf` shows.
    pub fn first_from(&self, buf: &[u8], from: usize, at: usize) -> Option<usize> {
        self.boundaries(buf, from).find(|&p| p >= at)
    }

    /// The `n`-th boundary in `buf[from..]` (`-N`), if `buf` holds that many.
    pub fn nth(&self, buf: &[u8], from: usize, n: usize) -> Option<usize> {
        self.boundaries(buf, from).nth(n.saturating_sub(1))
    }

    /// `--rrs`: `block` without the separators at its records' ends and starts (a leading
    /// `--recstart` and a trailing `--recend` included).
    pub fn remove_separators(&self, block: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(block.len());
        let mut cuts = vec![0];
        cuts.extend(self.boundaries(block, 0));
        if cuts.last() != Some(&block.len()) {
            cuts.push(block.len());
        }
        for pair in cuts.windows(2) {
            let record = &block[pair[0]..pair[1]];
            out.extend_from_slice(self.strip_record(record));
        }
        out
    }

    /// One record without its leading start and trailing end separator.
    fn strip_record<'r>(&self, mut record: &'r [u8]) -> &'r [u8] {
        match &self.find {
            Find::Nothing => record,
            Find::Literal { end, start, .. } => {
                if let Some(rest) = record.strip_prefix(&start[..]) {
                    record = rest;
                }
                record.strip_suffix(&end[..]).unwrap_or(record)
            }
            Find::Regex {
                end_at_end,
                start_at_start,
                ..
            } => {
                if let Some(m) = start_at_start.find(record) {
                    record = &record[m.end()..];
                }
                if let Some(m) = end_at_end.find(record) {
                    record = &record[..m.start()];
                }
                record
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn newline() -> Separator {
        Separator::literal(b"\n".to_vec(), Vec::new())
    }

    #[test]
    fn the_last_newline_within_the_limit_ends_the_block() {
        let s = newline();
        assert_eq!(s.last_within(b"ab\ncd\nef", 0, 6), Some(6));
        assert_eq!(s.last_within(b"ab\ncd\nef", 0, 5), Some(3));
        assert_eq!(s.last_within(b"abcdef\n", 0, 5), None);
        assert_eq!(s.first_from(b"abcdef\nx\n", 0, 5), Some(7));
    }

    #[test]
    fn a_start_string_splits_before_itself_but_never_at_the_first_byte() {
        let s = Separator::literal(Vec::new(), b">".to_vec());
        let buf = b">a\nAC\n>b\nG\n>c";
        assert_eq!(s.boundaries(buf, 0).collect::<Vec<_>>(), [6, 11]);
        assert_eq!(s.last_within(buf, 0, 10), Some(6));
        assert_eq!(s.last_within(buf, 0, 5), None);
    }

    #[test]
    fn end_and_start_together_must_both_match() {
        let s = Separator::literal(b"\n".to_vec(), b">".to_vec());
        assert_eq!(s.boundaries(b"a>b\n>c\nd", 0).collect::<Vec<_>>(), [4]);
    }

    #[test]
    fn lines_per_record_counts_from_the_cut() {
        let s = Separator::lines_per_record(2);
        let buf = b"1\n2\n3\n4\n5\n";
        assert_eq!(s.boundaries(buf, 0).collect::<Vec<_>>(), [4, 8]);
        assert_eq!(s.last_within(buf, 0, 7), Some(4));
        assert_eq!(s.nth(buf, 4, 1), Some(8));
    }

    #[test]
    fn regex_separators_cut_where_the_end_group_ends() {
        let s = Separator::regex("\\n", "[0-9]").unwrap();
        assert_eq!(s.boundaries(b"a\n1\nb\n2", 0).collect::<Vec<_>>(), [2, 6]);
    }

    #[test]
    fn rrs_removes_every_records_separators() {
        assert_eq!(newline().remove_separators(b"a\nb\nc\n"), b"abc");
        let fasta = Separator::literal(Vec::new(), b">".to_vec());
        assert_eq!(fasta.remove_separators(b">a\n>b\n"), b"a\nb\n");
        let re = Separator::regex("\\n+", "").unwrap();
        assert_eq!(re.remove_separators(b"a\n\nb\n"), b"ab");
    }
}
