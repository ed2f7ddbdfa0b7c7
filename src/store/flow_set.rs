//! A set of connections, named by their place in [`crate::Store::conns`]: one bit each.
//!
//! The flow rules ask such a set about one connection after another, in no order the cache
//! can follow. A hash set of a million indices missed the cache at nearly every question (a
//! quarter of the flow rule's own time at 5 M lines); its bits, an eighth of a byte a
//! connection, mostly stay in the cache.

/// A set of connection indices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowSet {
    /// Bit `i % 64` of word `i / 64` is set when connection `i` is in the set.
    words: Vec<u64>,
}

impl FlowSet {
    /// An empty set with room for the indices below `flows` (it grows past them when asked).
    pub fn with_room(flows: usize) -> Self {
        FlowSet {
            words: Vec::with_capacity(flows.div_ceil(64)),
        }
    }

    /// Adds connection `i`; whether it was not in the set yet.
    pub fn insert(&mut self, i: u32) -> bool {
        let (word, bit) = place(i);
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let new = self.words[word] & bit == 0;
        self.words[word] |= bit;
        new
    }

    /// Whether connection `i` is in the set.
    pub fn contains(&self, i: u32) -> bool {
        let (word, bit) = place(i);
        self.words.get(word).is_some_and(|w| w & bit != 0)
    }

    /// How many connections are in the set.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// The connections in the set, in index order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0u32..).zip(&self.words).flat_map(|(k, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros();
                    rest &= rest - 1;
                    k * 64 + bit
                })
            })
        })
    }
}

/// The word and the bit of connection `i`.
fn place(i: u32) -> (usize, u64) {
    ((i / 64) as usize, 1 << (i % 64))
}

#[cfg(test)]
mod tests {
    use super::FlowSet;
    use std::collections::BTreeSet;

    #[test]
    fn holds_what_a_tree_set_holds() {
        let mut random = crate::rng::Rng::new(11);
        let mut bits = FlowSet::with_room(1_000);
        let mut tree = BTreeSet::new();
        // past the room asked for, at word borders, and repeated
        let mut inserts: Vec<u32> = vec![0, 63, 64, 127, 128, 999, 1_000, 5_000, 63];
        inserts.extend((0..3_000).map(|_| (random.next() % 10_000) as u32));
        for i in inserts {
            assert_eq!(bits.insert(i), tree.insert(i), "insert {i}");
        }
        assert_eq!(bits.len(), tree.len());
        assert!(!bits.is_empty());
        assert_eq!(
            bits.iter().collect::<Vec<_>>(),
            tree.iter().copied().collect::<Vec<_>>()
        );
        for i in 0..12_000 {
            assert_eq!(bits.contains(i), tree.contains(&i), "contains {i}");
        }
        assert!(!bits.contains(u32::MAX));
        let empty = FlowSet::default();
        assert!(empty.is_empty() && !empty.contains(0) && empty.iter().next().is_none());
    }
}
