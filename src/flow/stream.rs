//! One direction of a TCP connection's bytes, handed on in sequence order as Zeek's TCP
//! reassembler hands them to its application analyzers: a segment that arrives in order is
//! delivered at once (one delivery per segment, because some analyzers read segment lengths),
//! a retransmission is dropped, an overlap delivers only its new tail, and a segment that
//! arrives early is held until the hole before it is filled. What is held is bounded: past
//! [`HELD_LIMIT`] bytes the stream gives up (Zeek's content gap), and stays given up.
//!
//! It knows nothing of what the bytes mean.

use std::collections::BTreeMap;

/// Bytes one direction may hold while waiting for a hole to be filled.
pub(crate) const HELD_LIMIT: usize = 64 << 10;

/// One direction's reassembly state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stream {
    /// The sequence number of the next byte to deliver; `None` before the first byte is known.
    next: Option<u32>,
    /// Segments that arrived before the bytes ahead of them, by sequence number.
    held: BTreeMap<u32, Vec<u8>>,
    held_bytes: usize,
    /// The stream gave up: too much was held, so a hole will never be filled.
    pub gap: bool,
}

/// `a` is before `b` in sequence space (RFC 1982 arithmetic).
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl Stream {
    /// A stream whose first byte has sequence number `first`.
    pub fn starting_at(first: u32) -> Stream {
        Stream {
            next: Some(first),
            ..Stream::default()
        }
    }

    /// A stream whose first byte is `first` when known, else the first byte that comes.
    pub fn first(first: Option<u32>) -> Stream {
        first.map(Stream::starting_at).unwrap_or_default()
    }

    /// Takes one segment's payload at `seq` and calls `deliver` with every piece that is now in
    /// order, in order. Returns false when the stream has given up.
    pub fn segment(&mut self, seq: u32, data: &[u8], deliver: &mut impl FnMut(&[u8])) -> bool {
        if self.gap || data.is_empty() {
            return !self.gap;
        }
        let next = *self.next.get_or_insert(seq);
        if before(next, seq) {
            // early: hold it until the hole is filled
            let slot = self.held.entry(seq).or_default();
            if slot.len() < data.len() {
                self.held_bytes += data.len() - slot.len();
                *slot = data.to_vec();
            }
            if self.held_bytes > HELD_LIMIT {
                self.give_up();
                return false;
            }
            return true;
        }
        self.deliver_from(seq, data, deliver);
        // the holes this segment filled
        while let Some((&s, _)) = self.held.first_key_value() {
            let next = self.next.unwrap_or(s);
            if before(next, s) {
                break;
            }
            let Some((s, d)) = self.held.pop_first() else {
                break;
            };
            self.held_bytes -= d.len();
            self.deliver_from(s, &d, deliver);
        }
        true
    }

    /// Delivers what of `data` (at `seq`, not after the next byte) is new.
    fn deliver_from(&mut self, seq: u32, data: &[u8], deliver: &mut impl FnMut(&[u8])) {
        let next = self.next.unwrap_or(seq);
        let skip = next.wrapping_sub(seq) as usize;
        if skip >= data.len() {
            return; // a retransmission of delivered bytes
        }
        deliver(&data[skip..]);
        self.next = Some(next.wrapping_add((data.len() - skip) as u32));
    }

    fn give_up(&mut self) {
        self.gap = true;
        self.held.clear();
        self.held_bytes = 0;
    }
}

/// Bytes a side's parser may leave unconsumed (a DNS message is at most 64 KiB).
pub(crate) const PENDING_LIMIT: usize = 128 << 10;

/// Both directions of a connection (client 0, server 1), with the in-order bytes each side's
/// parser has not consumed yet.
#[derive(Debug, Clone, Default)]
pub(crate) struct Streams {
    dirs: [Stream; 2],
    /// Each side's bytes waiting for the rest of a message.
    pub pending: [Vec<u8>; 2],
    /// When each side's pending bytes began (the time of a message is that of its first byte).
    pub since: [f64; 2],
}

impl Streams {
    /// Streams whose client and server bytes start at these sequence numbers (when known).
    pub fn new(client_first: Option<u32>, server_first: Option<u32>) -> Streams {
        Streams {
            dirs: [Stream::first(client_first), Stream::first(server_first)],
            ..Streams::default()
        }
    }

    /// Whether a side gave up: a hole that was never filled, or more unconsumed bytes than a
    /// message can take (Zeek's content gap).
    pub fn gave_up(&self) -> bool {
        self.dirs.iter().any(|d| d.gap)
    }

    /// Adds one segment of `side` (at `seq`, arriving at `ts`) and hands the side's in-order
    /// bytes to `parse`, with the time of their first byte; it returns how many it consumed,
    /// and the rest waits for the next segment. Bytes are copied only when a message spans
    /// segments. False when the side has a gap that will not be filled (or its parser left
    /// too much unconsumed): nothing more comes from it.
    pub fn feed(
        &mut self,
        side: usize,
        seq: u32,
        data: &[u8],
        ts: f64,
        parse: &mut impl FnMut(&[u8], f64) -> usize,
    ) -> bool {
        let Streams {
            dirs,
            pending,
            since,
        } = self;
        let (Some(dir), Some(pending), Some(since)) = (
            dirs.get_mut(side),
            pending.get_mut(side),
            since.get_mut(side),
        ) else {
            return false;
        };
        let ok = dir.segment(seq, data, &mut |piece| {
            if pending.is_empty() {
                let n = parse(piece, ts).min(piece.len());
                if n < piece.len() {
                    pending.extend_from_slice(&piece[n..]);
                    *since = ts;
                }
            } else {
                pending.extend_from_slice(piece);
                let n = parse(pending, *since).min(pending.len());
                if n > 0 {
                    pending.drain(..n);
                    *since = ts;
                }
            }
        });
        if pending.is_empty() && pending.capacity() > 4096 {
            *pending = Vec::new(); // a long-lived connection does not keep its largest message
        }
        if pending.len() > PENDING_LIMIT {
            dir.give_up();
            *pending = Vec::new();
            return false;
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(stream: &mut Stream, segments: &[(u32, &[u8])]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for &(seq, data) in segments {
            stream.segment(seq, data, &mut |d| out.push(d.to_vec()));
        }
        out
    }

    #[test]
    fn in_order_segments_are_delivered_one_by_one() {
        let mut s = Stream::starting_at(100);
        let out = run(&mut s, &[(100, b"abc"), (103, b"de")]);
        assert_eq!(out, vec![b"abc".to_vec(), b"de".to_vec()]);
    }

    #[test]
    fn retransmissions_are_dropped_and_overlaps_give_their_new_tail() {
        let mut s = Stream::starting_at(0);
        let out = run(
            &mut s,
            &[(0, b"abcd"), (0, b"abcd"), (2, b"cdef"), (1, b"b")],
        );
        assert_eq!(out, vec![b"abcd".to_vec(), b"ef".to_vec()]);
    }

    #[test]
    fn early_segments_wait_for_the_hole() {
        let mut s = Stream::starting_at(u32::MAX - 1);
        // sequence numbers wrap between the segments
        let out = run(
            &mut s,
            &[(0, b"cd"), (2, b"ef"), (u32::MAX - 1, b"ab"), (4, b"g")],
        );
        assert_eq!(
            out,
            vec![
                b"ab".to_vec(),
                b"cd".to_vec(),
                b"ef".to_vec(),
                b"g".to_vec()
            ]
        );
    }

    #[test]
    fn too_much_held_gives_up_for_good() {
        let mut s = Stream::starting_at(0);
        let big = vec![0u8; HELD_LIMIT];
        assert!(s.segment(10, &big, &mut |_| {}));
        assert!(!s.segment(10 + HELD_LIMIT as u32, b"x", &mut |_| {}));
        assert!(s.gap);
        let out = run(&mut s, &[(0, b"0123456789")]);
        assert!(out.is_empty());
    }

    #[test]
    fn both_sides_keep_what_their_parser_left_and_its_start() {
        // a parser of 3-byte messages
        let mut got: Vec<(Vec<u8>, f64)> = Vec::new();
        let mut parse = |b: &[u8], at: f64| {
            let whole = b.len() / 3 * 3;
            for m in b[..whole].chunks(3) {
                got.push((m.to_vec(), at));
            }
            whole
        };
        let mut s = Streams::new(Some(10), Some(500));
        assert!(s.feed(0, 10, b"ab", 1.0, &mut parse));
        assert!(s.feed(1, 500, b"xyz", 2.0, &mut parse));
        assert!(s.feed(0, 12, b"cdefg", 3.0, &mut parse));
        assert_eq!(s.pending[0], b"g");
        assert!(s.pending[1].is_empty());
        let messages: Vec<(&[u8], f64)> = got.iter().map(|(m, t)| (&m[..], *t)).collect();
        assert_eq!(
            messages,
            [(&b"xyz"[..], 2.0), (&b"abc"[..], 1.0), (&b"def"[..], 1.0)],
            "a message's time is its first byte's"
        );
        // a parser that never consumes overflows its side
        let big = vec![0u8; PENDING_LIMIT + 1];
        assert!(!s.feed(1, 503, &big, 4.0, &mut |_, _| 0));
        assert!(!s.feed(1, 503 + big.len() as u32, b"z", 5.0, &mut |_, _| 0));
    }

    proptest! {
        /// Any arrival order of a stream's segments, with duplicates, delivers the stream's
        /// bytes exactly once and in order (when nothing is lost and the held bytes fit).
        #[test]
        fn any_arrival_order_delivers_the_stream(
            data in proptest::collection::vec(any::<u8>(), 1..2000),
            cuts in proptest::collection::vec(1usize..200, 1..40),
            order in proptest::collection::vec(any::<u32>(), 1..80),
            start: u32,
        ) {
            let mut segments = Vec::new();
            let mut at = 0;
            for c in cuts.iter().cycle() {
                if at >= data.len() { break; }
                let end = (at + c).min(data.len());
                segments.push((at, end));
                at = end;
            }
            // shuffle, with duplicates
            let mut sent: Vec<(usize, usize)> = segments.clone();
            for (i, o) in order.iter().enumerate() {
                let a = i % sent.len();
                let b = *o as usize % sent.len();
                sent.swap(a, b);
                if o % 5 == 0 {
                    sent.push(segments[*o as usize % segments.len()]);
                }
            }
            let mut s = Stream::starting_at(start);
            let mut got = Vec::new();
            for (a, b) in sent {
                s.segment(start.wrapping_add(a as u32), &data[a..b], &mut |d| got.extend_from_slice(d));
            }
            prop_assert_eq!(got, data);
        }

        #[test]
        fn random_segments_never_panic(segs in proptest::collection::vec((any::<u32>(), proptest::collection::vec(any::<u8>(), 0..100)), 0..50)) {
            let mut s = Stream::default();
            for (seq, d) in segs {
                s.segment(seq, &d, &mut |_| {});
            }
        }
    }
}
