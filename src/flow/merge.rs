//! The shard merge: every assembler tags the records it emits with where in the capture's
//! sequence of events they were made, and the records of all shards are merged by tag into one
//! order that does not depend on how packets were split among shards or threads.

/// Where a record was emitted in the capture's sequence of events, so the records of all
/// shards merge into one order that does not depend on how packets were split among them:
/// the packet (or sweep point) that caused it and the phase (sweep, timers, the packet itself,
/// end of capture) packed in `at`, then the connection's start and id for records emitted for
/// several connections at once. Records of one shard with equal tags keep their order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Tag {
    pub at: u64,
    pub ts: f64,
    pub id: u64,
}

impl Tag {
    /// The tag of packet (or sweep point) `seq` in `phase`.
    pub fn new(seq: u64, phase: u8) -> Tag {
        Tag {
            at: seq << 2 | u64::from(phase),
            ts: 0.0,
            id: 0,
        }
    }

    /// The phase it was emitted in.
    pub fn phase(self) -> u8 {
        (self.at & 3) as u8
    }

    fn order(&self, o: &Tag) -> std::cmp::Ordering {
        self.at
            .cmp(&o.at)
            .then(self.ts.total_cmp(&o.ts))
            .then(self.id.cmp(&o.id))
    }
}

pub(crate) const PHASE_SWEEP: u8 = 0;
pub(crate) const PHASE_TIMER: u8 = 1;
pub(crate) const PHASE_PACKET: u8 = 2;
pub(crate) const PHASE_END: u8 = 3;
/// Records are kept in blocks of this many, so merging frees memory as it goes.
const BLOCK: usize = 4096;

/// Records of one kind with the tag of each, in blocks.
#[derive(Debug)]
pub(crate) struct Out<T> {
    blocks: Vec<(Vec<Tag>, Vec<T>)>,
    /// The room the first block is made with: about what the last chunk emitted.
    first_block: usize,
}

impl<T> Default for Out<T> {
    fn default() -> Self {
        Out {
            blocks: Vec::new(),
            first_block: 0,
        }
    }
}

impl<T> Out<T> {
    /// Takes the records so far, leaving an empty output whose first block is made with room
    /// for about as many records as were taken.
    pub fn take(&mut self) -> Out<T> {
        let emitted: usize = self.blocks.iter().map(|b| b.1.len()).sum();
        let next = Out {
            blocks: Vec::new(),
            first_block: (emitted + emitted / 8).min(BLOCK),
        };
        std::mem::replace(self, next)
    }

    /// Adds a record emitted at `tag` (tags arrive in order).
    pub fn push(&mut self, tag: Tag, item: T) {
        if self.blocks.last().is_none_or(|b| b.1.len() == BLOCK) {
            // a shard emits few records of the rare kinds in a chunk, and many of the common
            // ones: the first block is made with room for what the last chunk emitted (and
            // grows past that if it must); later blocks are made whole at once
            let capacity = if self.blocks.is_empty() {
                self.first_block
            } else {
                BLOCK
            };
            self.blocks
                .push((Vec::with_capacity(capacity), Vec::with_capacity(capacity)));
        }
        if let Some(b) = self.blocks.last_mut() {
            b.0.push(tag);
            b.1.push(item);
        }
    }

    /// Merges the outputs of all shards by tag (each shard's output is already in tag order;
    /// ties go to the lower shard). Blocks are freed as they are consumed, so the merge needs
    /// little more memory than the records.
    pub fn merge_into(parts: Vec<Out<T>>, out: &mut Vec<T>) {
        struct Cursor<T> {
            blocks: std::vec::IntoIter<(Vec<Tag>, Vec<T>)>,
            tags: std::vec::IntoIter<Tag>,
            items: std::vec::IntoIter<T>,
        }
        impl<T> Cursor<T> {
            /// The tag of the next record, moving on to the next block at a block's end;
            /// `None` once the part is exhausted.
            fn next_tag(&mut self) -> Option<Tag> {
                loop {
                    if let Some(t) = self.tags.next() {
                        return Some(t);
                    }
                    let (tags, items) = self.blocks.next()?;
                    self.tags = tags.into_iter();
                    self.items = items.into_iter();
                }
            }
        }
        out.reserve(
            parts
                .iter()
                .flat_map(|p| &p.blocks)
                .map(|b| b.1.len())
                .sum(),
        );
        let mut cursors: Vec<Cursor<T>> = parts
            .into_iter()
            .map(|p| Cursor {
                blocks: p.blocks.into_iter(),
                tags: Vec::new().into_iter(),
                items: Vec::new().into_iter(),
            })
            .collect();
        // A tournament of the parts' next records (a loser tree): each record taken costs a
        // comparison for each level of the tree, 4 for the 16 shards, where a scan of all the
        // parts cost 16.
        let mut tree = Tournament::new(cursors.iter_mut().map(Cursor::next_tag).collect());
        while let Some(b) = tree.winner() {
            let c = &mut cursors[b];
            if let Some(item) = c.items.next() {
                out.push(item);
            }
            tree.replace_winner(c.next_tag());
        }
    }
}

/// The smallest of several parts' next tags, found again after each one taken by replaying
/// only the taken part's path to the root. Ties go to the lower part, as a scan in part order
/// would give them.
struct Tournament {
    /// Each part's next tag (`None` once it is exhausted); padded with `None` to a power of two.
    heads: Vec<Option<Tag>>,
    /// `losers[node]` is the part that lost the match at `node` (nodes 1 and up, children of
    /// `node` at `2 node` and `2 node + 1`, part `i` at leaf `len + i`); `losers[0]` is the
    /// overall winner.
    losers: Vec<usize>,
}

impl Tournament {
    fn new(mut heads: Vec<Option<Tag>>) -> Tournament {
        let len = heads.len().next_power_of_two();
        heads.resize(len, None);
        let mut t = Tournament {
            heads,
            losers: vec![0; len],
        };
        // the winner of each subtree, leaves first
        let mut winners = vec![0; 2 * len];
        for (i, w) in winners[len..].iter_mut().enumerate() {
            *w = i;
        }
        for node in (1..len).rev() {
            let (a, b) = (winners[2 * node], winners[2 * node + 1]);
            let (win, lose) = if t.beats(a, b) { (a, b) } else { (b, a) };
            winners[node] = win;
            t.losers[node] = lose;
        }
        t.losers[0] = winners.get(1).copied().unwrap_or(0);
        t
    }

    /// Whether part `a`'s next record comes before part `b`'s.
    fn beats(&self, a: usize, b: usize) -> bool {
        match (self.heads[a], self.heads[b]) {
            (Some(x), Some(y)) => x.order(&y).then(a.cmp(&b)).is_lt(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => a < b,
        }
    }

    /// The part whose next record comes first, or `None` when every part is exhausted.
    fn winner(&self) -> Option<usize> {
        let w = self.losers[0];
        self.heads[w].is_some().then_some(w)
    }

    /// Gives the winner its next tag and finds the new winner.
    fn replace_winner(&mut self, head: Option<Tag>) {
        let len = self.heads.len();
        let mut w = self.losers[0];
        self.heads[w] = head;
        // the winner's leaf is `len + w`; replay the matches from its parent up
        let leaf = len + w;
        let mut node = leaf / 2;
        while node > 0 {
            let other = self.losers[node];
            if self.beats(other, w) {
                self.losers[node] = w;
                w = other;
            }
            node /= 2;
        }
        self.losers[0] = w;
    }
}

impl Default for Tag {
    fn default() -> Self {
        Tag::new(0, PHASE_PACKET)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn the_merge_is_a_stable_sort_by_tag_then_part(
            parts in proptest::collection::vec(
                proptest::collection::vec((0u64..40, 0u8..3, 0u64..3), 0..60),
                0..20,
            ),
        ) {
            // each part's records in tag order, with equal tags within and across parts
            let mut outs = Vec::new();
            let mut all = Vec::new();
            for (p, records) in parts.iter().enumerate() {
                let mut tags: Vec<Tag> = records
                    .iter()
                    .map(|&(at, ts, id)| Tag { at, ts: f64::from(ts), id })
                    .collect();
                tags.sort_by(Tag::order);
                let mut out = Out::default();
                for (k, &t) in tags.iter().enumerate() {
                    out.push(t, (p, k));
                    all.push((t, p, k));
                }
                outs.push(out);
            }
            all.sort_by(|a, b| a.0.order(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
            let mut merged = Vec::new();
            Out::merge_into(outs, &mut merged);
            let expected: Vec<(usize, usize)> = all.iter().map(|&(_, p, k)| (p, k)).collect();
            proptest::prop_assert_eq!(merged, expected);
        }
    }

    #[test]
    fn taking_the_records_keeps_their_order_and_sizes_the_next_first_block() {
        let mut out: Out<u32> = Out::default();
        for i in 0..100 {
            out.push(Tag::new(i, PHASE_PACKET), i as u32);
        }
        let taken = out.take();
        let mut merged = Vec::new();
        Out::merge_into(vec![taken], &mut merged);
        assert_eq!(merged, (0..100).collect::<Vec<u32>>());
        assert!(out.blocks.is_empty(), "nothing left behind");
        out.push(Tag::new(100, PHASE_PACKET), 100);
        assert!(
            out.blocks[0].1.capacity() >= 100,
            "made for about the last chunk's records, not regrown from nothing"
        );
        assert!(Out::<u32>::default().first_block == 0 && BLOCK >= 100);
    }
}
