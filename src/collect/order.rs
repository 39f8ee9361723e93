//! `-k`: holding finished jobs back until every earlier job has been printed.

use std::collections::BTreeMap;

/// Releases items in sequence order (from 1), whatever order they arrive in.
pub struct Reorder<T> {
    next: u64,
    held: BTreeMap<u64, T>,
}

impl<T> Default for Reorder<T> {
    fn default() -> Self {
        Reorder {
            next: 1,
            held: BTreeMap::new(),
        }
    }
}

impl<T> Reorder<T> {
    pub fn push(&mut self, seq: u64, item: T) {
        self.held.insert(seq, item);
    }

    /// The next item in order, if it has arrived.
    pub fn pop_ready(&mut self) -> Option<T> {
        let item = self.held.remove(&self.next)?;
        self.next += 1;
        Some(item)
    }

    /// Items still held back (their predecessors never arrived).
    pub fn drain_held(&mut self) -> impl Iterator<Item = T> + '_ {
        std::mem::take(&mut self.held).into_values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_in_order() {
        let mut r = Reorder::default();
        r.push(2, "b");
        assert_eq!(r.pop_ready(), None);
        r.push(1, "a");
        assert_eq!(r.pop_ready(), Some("a"));
        assert_eq!(r.pop_ready(), Some("b"));
        assert_eq!(r.pop_ready(), None);
        r.push(4, "d");
        assert_eq!(r.drain_held().collect::<Vec<_>>(), ["d"]);
    }
}
