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
}

impl<T> Default for Out<T> {
    fn default() -> Self {
        Out { blocks: Vec::new() }
    }
}

impl<T> Out<T> {
    /// Adds a record emitted at `tag` (tags arrive in order).
    pub fn push(&mut self, tag: Tag, item: T) {
        if self.blocks.last().is_none_or(|b| b.1.len() == BLOCK) {
            // the first block grows as records come (a shard emits few records of the rare
            // kinds in a chunk); once one is full, the next is made whole at once
            let capacity = if self.blocks.is_empty() { 0 } else { BLOCK };
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
