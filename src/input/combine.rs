//! Combining several input sources into records (one value per source): the cartesian
//! product (last source varying fastest) and `--link` (zip, shorter sources wrapping).

use std::io;

type Items = Box<dyn Iterator<Item = io::Result<Vec<u8>>> + Send>;
type Record = Vec<Vec<u8>>;

/// The cartesian product of a streamed first group of sources and the held rest (each a
/// group's records), each record the concatenation of one record of every group.
pub struct Product {
    first: Records,
    rest: Vec<Vec<Record>>,
    current: Option<Record>,
    odometer: Vec<usize>,
}

/// Records as they stream.
pub type Records = Box<dyn Iterator<Item = io::Result<Record>> + Send>;

impl Product {
    pub fn new(first: Records, rest: Vec<Vec<Record>>) -> Self {
        let odometer = vec![0; rest.len()];
        Product {
            first,
            rest,
            current: None,
            odometer,
        }
    }

    /// Moves the odometer one step; true when it wrapped back to all zeros.
    fn advance(&mut self) -> bool {
        for (i, pos) in self.odometer.iter_mut().enumerate().rev() {
            *pos += 1;
            if *pos < self.rest[i].len() {
                return false;
            }
            *pos = 0;
        }
        true
    }
}

impl Iterator for Product {
    type Item = io::Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.iter().any(Vec::is_empty) {
            return None;
        }
        if self.rest.is_empty() {
            return self.first.next();
        }
        if self.current.is_none() {
            match self.first.next()? {
                Ok(record) => self.current = Some(record),
                Err(e) => return Some(Err(e)),
            }
        }
        let mut record = self.current.clone().unwrap_or_default();
        for (group, &pos) in self.rest.iter().zip(&self.odometer) {
            record.extend(group[pos].iter().cloned());
        }
        if self.advance() {
            self.current = None;
        }
        Some(Ok(record))
    }
}

/// `--link`: the i-th record takes the i-th value of every source; a source shorter than the
/// longest wraps around. The first source streams; its values are kept only while some held
/// source is still longer, in case it must wrap.
pub struct Link {
    first: Items,
    rest: Vec<Vec<Vec<u8>>>,
    kept_first: Vec<Vec<u8>>,
    longest_rest: usize,
    index: usize,
    first_done: bool,
}

impl Link {
    pub fn new(first: Items, rest: Vec<Vec<Vec<u8>>>) -> Self {
        let longest_rest = rest.iter().map(Vec::len).max().unwrap_or(0);
        Link {
            first,
            rest,
            kept_first: Vec::new(),
            longest_rest,
            index: 0,
            first_done: false,
        }
    }

    fn record(&self, first: Vec<u8>) -> Record {
        let mut record = Vec::with_capacity(self.rest.len() + 1);
        record.push(first);
        for source in &self.rest {
            record.push(source[self.index % source.len()].clone());
        }
        record
    }
}

impl Iterator for Link {
    type Item = io::Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.iter().any(Vec::is_empty) {
            return None;
        }
        let first = if self.first_done {
            if self.index >= self.longest_rest || self.kept_first.is_empty() {
                return None;
            }
            self.kept_first[self.index % self.kept_first.len()].clone()
        } else {
            match self.first.next() {
                Some(Ok(v)) => {
                    if self.index < self.longest_rest {
                        self.kept_first.push(v.clone());
                    }
                    v
                }
                Some(Err(e)) => return Some(Err(e)),
                None => {
                    self.first_done = true;
                    return self.next();
                }
            }
        };
        let record = self.record(first);
        self.index += 1;
        Some(Ok(record))
    }
}

/// `:::+`: the i-th record takes the i-th value of every source, as long as all have one.
pub fn zip_shortest(
    first: Items,
    rest: Vec<Vec<Vec<u8>>>,
) -> impl Iterator<Item = io::Result<Record>> + Send {
    let shortest = rest.iter().map(Vec::len).min().unwrap_or(usize::MAX);
    first.zip(0..shortest).map(move |(item, i)| {
        item.map(|v| {
            let mut record = Vec::with_capacity(rest.len() + 1);
            record.push(v);
            record.extend(rest.iter().map(|source| source[i].clone()));
            record
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(xs: &[&str]) -> Items {
        let v: Vec<io::Result<Vec<u8>>> = xs.iter().map(|s| Ok(s.as_bytes().to_vec())).collect();
        Box::new(v.into_iter())
    }

    fn held(xs: &[&str]) -> Vec<Vec<u8>> {
        xs.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn strings(it: impl Iterator<Item = io::Result<Record>>) -> Vec<String> {
        it.map(|r| {
            r.unwrap()
                .iter()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
    }

    #[test]
    fn product_varies_the_last_source_fastest() {
        let single =
            |xs: &[&str]| -> Vec<Record> { held(xs).into_iter().map(|v| vec![v]).collect() };
        let first = |xs: &[&str]| -> Records { Box::new(items(xs).map(|i| i.map(|v| vec![v]))) };
        let p = Product::new(
            first(&["a", "b"]),
            vec![single(&["1", "2"]), single(&["x"])],
        );
        assert_eq!(strings(p), ["a 1 x", "a 2 x", "b 1 x", "b 2 x"]);
        let empty = Product::new(first(&["a"]), vec![single(&[])]);
        assert_eq!(strings(empty).len(), 0);
    }

    #[test]
    fn groups_of_linked_sources_multiply_as_wholes() {
        let first: Records = Box::new(Link::new(items(&["a", "b"]), vec![held(&["1", "2"])]));
        let second = vec![held(&["x"]), held(&["y"])];
        let p = Product::new(first, vec![second]);
        assert_eq!(strings(p), ["a 1 x", "a 1 y", "b 2 x", "b 2 y"]);
    }

    #[test]
    fn link_wraps_shorter_sources_whichever_is_longest() {
        let l = Link::new(items(&["a", "b", "c"]), vec![held(&["1", "2"])]);
        assert_eq!(strings(l), ["a 1", "b 2", "c 1"]);
        let l = Link::new(items(&["a"]), vec![held(&["1", "2", "3"])]);
        assert_eq!(strings(l), ["a 1", "a 2", "a 3"]);
        let l = Link::new(items(&[]), vec![held(&["1"])]);
        assert_eq!(strings(l).len(), 0);
    }
}
