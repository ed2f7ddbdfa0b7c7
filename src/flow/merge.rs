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
            head: Option<Tag>,
        }
        impl<T> Cursor<T> {
            fn advance(&mut self) {
                loop {
                    if let Some(t) = self.tags.next() {
                        self.head = Some(t);
                        return;
                    }
                    if let Some((tags, items)) = self.blocks.next() {
                        self.tags = tags.into_iter();
                        self.items = items.into_iter();
                    } else {
                        self.head = None;
                        return;
                    }
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
            .map(|p| {
                let mut c = Cursor {
                    blocks: p.blocks.into_iter(),
                    tags: Vec::new().into_iter(),
                    items: Vec::new().into_iter(),
                    head: None,
                };
                c.advance();
                c
            })
            .collect();
        loop {
            let mut best: Option<(usize, Tag)> = None;
            for (i, c) in cursors.iter().enumerate() {
                if let Some(t) = c.head {
                    if best.is_none_or(|(_, b)| t.order(&b).is_lt()) {
                        best = Some((i, t));
                    }
                }
            }
            let Some((b, _)) = best else { break };
            let c = &mut cursors[b];
            if let Some(item) = c.items.next() {
                out.push(item);
            }
            c.advance();
        }
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
