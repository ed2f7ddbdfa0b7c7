//! IP fragment reassembly, as Zeek's `FragmentManager` does it: fragments are keyed by source,
//! destination and identification; the first fragment to arrive gives the header (for IPv6,
//! the headers before the fragment header, which is dropped); a datagram is whole when its
//! last fragment is in and its bytes are contiguous from 0, and is then handed on as one IP
//! packet at the time of the fragment that completed it. Datagrams that never complete give
//! nothing, as in Zeek.
//!
//! Against floods: a datagram whose fragments reach past 65,535 bytes is dropped, an
//! incomplete one is forgotten after Zeek's `frag_timeout` (5 min), and when the fragments held
//! exceed [`MAX_HELD_BYTES`] or [`MAX_DATAGRAMS`] the oldest datagrams are dropped. Every
//! dropped fragment is counted.

use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::net::IpAddr;

/// How long an incomplete datagram is kept (Zeek's `frag_timeout`).
const FRAG_TIMEOUT: f64 = 300.0;
/// The most fragment bytes held at once.
pub(super) const MAX_HELD_BYTES: usize = 32 << 20;
/// The most incomplete datagrams held at once.
pub(super) const MAX_DATAGRAMS: usize = 1 << 16;
/// The largest datagram (an IP payload length is 16 bits).
const MAX_DATAGRAM: usize = 65_535;

/// One fragment, as read from its packet.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fragment<'a> {
    key: (IpAddr, IpAddr, u32),
    /// The header to rebuild the datagram with (IPv4: the whole header; IPv6: the headers
    /// before the fragment header).
    header: &'a [u8],
    /// For IPv6, the offset in `header` of the byte that names the fragment header (to be
    /// made to name the protocol after it), and that protocol.
    v6_next: Option<(usize, u8)>,
    /// Offset of its data in the datagram, in bytes.
    offset: usize,
    /// Whether more fragments follow (MF).
    more: bool,
    /// Its data as captured.
    data: &'a [u8],
    /// Its data's length on the wire (more than `data` when the capture cut it).
    wire_len: usize,
}

/// The fragment an IP packet is, if it is one. `ip` starts at the IP header.
pub(super) fn fragment(ip: &[u8]) -> Option<Fragment<'_>> {
    match ip.first()? >> 4 {
        4 => {
            let header_len = usize::from(ip[0] & 0x0f) * 4;
            let header = ip.get(..header_len).filter(|_| header_len >= 20)?;
            let total = usize::from(u16::from_be_bytes([header[2], header[3]]));
            let more = header[6] & 0x20 != 0;
            let offset = usize::from(u16::from_be_bytes([header[6] & 0x1f, header[7]])) * 8;
            if !more && offset == 0 {
                return None;
            }
            let wire_len = total.checked_sub(header_len)?;
            let data = &ip[header_len..ip.len().min(total.max(header_len))];
            let addr = |at: usize| IpAddr::from([ip[at], ip[at + 1], ip[at + 2], ip[at + 3]]);
            let id = u32::from(u16::from_be_bytes([header[4], header[5]]));
            Some(Fragment {
                key: (addr(12), addr(16), id),
                header,
                v6_next: None,
                offset,
                more,
                data,
                wire_len,
            })
        }
        6 => {
            let base = ip.get(..40)?;
            let payload_len = usize::from(u16::from_be_bytes([base[4], base[5]]));
            // walk the extension headers before the fragment header
            let (mut next, mut names_next, mut at) = (base[6], 6usize, 40usize);
            while matches!(next, 0 | 43 | 60) {
                let len = (usize::from(*ip.get(at + 1)?) + 1) * 8;
                next = *ip.get(at)?;
                names_next = at;
                at += len;
            }
            if next != 44 {
                return None;
            }
            let frag = ip.get(at..at + 8)?;
            let field = u16::from_be_bytes([frag[2], frag[3]]);
            let (offset, more) = (usize::from(field >> 3) * 8, field & 1 != 0);
            if !more && offset == 0 {
                // an atomic fragment: a whole datagram with a fragment header
                return None;
            }
            let start = at + 8;
            let end = 40 + payload_len;
            let wire_len = end.checked_sub(start)?;
            let v16 = |from: usize| {
                let mut b = [0u8; 16];
                b.copy_from_slice(&ip[from..from + 16]);
                IpAddr::from(b)
            };
            Some(Fragment {
                key: (
                    v16(8),
                    v16(24),
                    u32::from_be_bytes([frag[4], frag[5], frag[6], frag[7]]),
                ),
                header: &ip[..at],
                v6_next: Some((names_next, frag[0])),
                offset,
                more,
                data: ip.get(start..ip.len().min(end)).unwrap_or_default(),
                wire_len,
            })
        }
        _ => None,
    }
}

/// A datagram being put together.
#[derive(Debug)]
struct Datagram {
    header: Vec<u8>,
    v6_next: Option<(usize, u8)>,
    /// Fragment data by offset (a later copy of the same bytes is ignored).
    blocks: Vec<(usize, Vec<u8>)>,
    /// The datagram's length, once its last fragment is in.
    size: Option<usize>,
    held: usize,
    /// Its number among the datagrams begun, to tell it from a later one with its key.
    serial: u64,
}

/// What reassembly dropped or made.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct DefragStats {
    /// Datagrams made whole.
    pub reassembled: u64,
    /// Fragments dropped: too large, timed out, or over the limits.
    pub dropped: u64,
}

/// The fragments of a capture (or several, in order), fed in capture order.
#[derive(Debug, Default)]
pub(super) struct Defrag {
    pending: FxHashMap<(IpAddr, IpAddr, u32), Datagram>,
    /// Datagrams by arrival of their first fragment: time, key, serial (entries of finished
    /// datagrams go stale).
    order: VecDeque<(f64, (IpAddr, IpAddr, u32), u64)>,
    held: usize,
    begun: u64,
    pub stats: DefragStats,
}

impl Defrag {
    /// Adds a fragment that arrived at `ts`; returns the whole datagram (an IP packet) when
    /// this fragment completed it.
    pub fn add(&mut self, ts: f64, f: &Fragment<'_>) -> Option<Vec<u8>> {
        self.expire(ts);
        let end = f.offset + f.wire_len;
        if end > MAX_DATAGRAM {
            self.stats.dropped += 1;
            return None;
        }
        let mut data = f.data.to_vec();
        // bytes the capture cut are zeros
        data.resize(f.wire_len, 0);
        self.held += data.len();
        let d = match self.pending.entry(f.key) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                self.begun += 1;
                self.order.push_back((ts, f.key, self.begun));
                self.held += f.header.len();
                v.insert(Datagram {
                    header: f.header.to_vec(),
                    v6_next: f.v6_next,
                    blocks: Vec::new(),
                    size: None,
                    held: f.header.len(),
                    serial: self.begun,
                })
            }
        };
        if !f.more {
            d.size = Some(d.size.map_or(end, |s| s.max(end)));
        }
        if f.offset == 0 {
            if let (Some((at, _)), Some((_, next))) = (d.v6_next, f.v6_next) {
                // the first fragment names the protocol after the fragment header
                d.v6_next = Some((at, next));
            }
        }
        d.held += data.len();
        d.blocks.push((f.offset, data));
        if let Some(packet) = whole(d) {
            if let Some(d) = self.pending.remove(&f.key) {
                self.held = self.held.saturating_sub(d.held);
            }
            self.stats.reassembled += 1;
            return Some(packet);
        }
        self.limit();
        None
    }

    /// The fragments of datagrams still incomplete (at the end of the captures, dropped).
    pub fn incomplete(&self) -> u64 {
        self.pending.values().map(|d| d.blocks.len() as u64).sum()
    }

    /// Forgets datagrams older than the timeout.
    fn expire(&mut self, now: f64) {
        while let Some(&(first, key, serial)) = self.order.front() {
            if now - first <= FRAG_TIMEOUT {
                break;
            }
            self.order.pop_front();
            self.drop_datagram(key, serial);
        }
    }

    /// Drops the oldest datagrams while over the limits.
    fn limit(&mut self) {
        while self.held > MAX_HELD_BYTES || self.pending.len() > MAX_DATAGRAMS {
            let Some((_, key, serial)) = self.order.pop_front() else {
                break;
            };
            self.drop_datagram(key, serial);
        }
    }

    fn drop_datagram(&mut self, key: (IpAddr, IpAddr, u32), serial: u64) {
        // a stale entry (the datagram finished, or the key was reused since) drops nothing
        if self.pending.get(&key).is_some_and(|d| d.serial == serial) {
            if let Some(d) = self.pending.remove(&key) {
                self.held = self.held.saturating_sub(d.held);
                self.stats.dropped += d.blocks.len() as u64;
            }
        }
    }
}

/// The datagram as one IP packet, if its bytes are all in.
fn whole(d: &mut Datagram) -> Option<Vec<u8>> {
    let size = d.size?;
    d.blocks.sort_by_key(|b| b.0);
    let mut covered = 0;
    for (offset, data) in &d.blocks {
        if *offset > covered {
            return None;
        }
        covered = covered.max(offset + data.len());
    }
    if covered < size {
        return None;
    }
    let mut packet = d.header.clone();
    let header_len = packet.len();
    packet.resize(header_len + size, 0);
    // earlier blocks win where fragments overlap: later copies only fill what is left
    let mut filled = vec![false; size];
    for (offset, data) in &d.blocks {
        for (i, b) in data.iter().enumerate() {
            let at = offset + i;
            if at < size && !filled[at] {
                filled[at] = true;
                packet[header_len + at] = *b;
            }
        }
    }
    match d.v6_next {
        None => {
            let total = u16::try_from(header_len + size).ok()?;
            packet[2..4].copy_from_slice(&total.to_be_bytes());
            // no longer a fragment
            packet[6] &= 0x40;
            packet[7] = 0;
        }
        Some((names_next, next)) => {
            let payload = u16::try_from(header_len - 40 + size).ok()?;
            packet[4..6].copy_from_slice(&payload.to_be_bytes());
            *packet.get_mut(names_next)? = next;
        }
    }
    Some(packet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The IPv4 fragments of a UDP datagram with `payload`, cut every `step` bytes (a
    /// multiple of 8).
    fn v4_fragments(payload: &[u8], step: usize, id: u16) -> Vec<Vec<u8>> {
        let mut udp = vec![0x30, 0x39, 0x00, 0x35];
        udp.extend_from_slice(&((payload.len() + 8) as u16).to_be_bytes());
        udp.extend_from_slice(&[0, 0]);
        udp.extend_from_slice(payload);
        udp.chunks(step)
            .enumerate()
            .map(|(i, part)| {
                let offset = (i * step / 8) as u16;
                let more = (i + 1) * step < udp.len();
                let mut h = vec![0x45, 0];
                h.extend_from_slice(&((20 + part.len()) as u16).to_be_bytes());
                h.extend_from_slice(&id.to_be_bytes());
                h.extend_from_slice(&(offset | if more { 0x2000 } else { 0 }).to_be_bytes());
                h.extend_from_slice(&[64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
                h.extend_from_slice(part);
                h
            })
            .collect()
    }

    fn feed(d: &mut Defrag, packets: &[Vec<u8>], ts: f64) -> Vec<Vec<u8>> {
        packets
            .iter()
            .filter_map(|p| d.add(ts, &fragment(p)?))
            .collect()
    }

    #[test]
    fn ipv4_fragments_in_any_order_make_the_datagram() {
        let payload: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        let mut frags = v4_fragments(&payload, 1480, 7);
        frags.reverse();
        let mut d = Defrag::default();
        let out = feed(&mut d, &frags, 1.0);
        assert_eq!(out.len(), 1);
        let p = &out[0];
        assert_eq!(usize::from(u16::from_be_bytes([p[2], p[3]])), 20 + 8 + 3000);
        assert_eq!(&p[28..], &payload[..]);
        assert_eq!(p[6] & 0x3f, 0, "no longer a fragment");
        assert!(fragment(p).is_none());
        assert_eq!(d.pending.len(), 0);
        assert_eq!(d.held, 0);
    }

    #[test]
    fn an_incomplete_datagram_times_out_and_floods_are_bounded() {
        let payload = vec![1u8; 3000];
        let frags = v4_fragments(&payload, 1480, 9);
        let mut d = Defrag::default();
        assert!(feed(&mut d, &frags[..2], 1.0).is_empty());
        // its tail comes too late
        assert!(feed(&mut d, &frags[2..], 1.0 + FRAG_TIMEOUT + 1.0).is_empty());
        assert_eq!(d.stats.dropped, 2);
        // many datagrams that never complete: held bytes stay under the limit
        let mut d = Defrag::default();
        for id in 0..40_000u16 {
            let frags = v4_fragments(&payload, 1480, id);
            feed(&mut d, &frags[..1], 2.0);
        }
        assert!(d.held <= MAX_HELD_BYTES);
        assert!(d.stats.dropped > 0);
        // a fragment past 64 KiB is dropped
        let mut big = v4_fragments(&payload, 1480, 1).remove(1);
        big[6] = 0x3f;
        big[7] = 0xff;
        let mut d = Defrag::default();
        assert!(feed(&mut d, &[big], 3.0).is_empty());
        assert_eq!(d.stats.dropped, 1);
    }

    #[test]
    fn ipv6_fragments_lose_their_fragment_header() {
        let data: Vec<u8> = (0..100u8).collect();
        let make = |offset: u16, more: bool, part: &[u8]| {
            let mut p = vec![0x60, 0, 0, 0];
            p.extend_from_slice(&((8 + part.len()) as u16).to_be_bytes());
            p.extend_from_slice(&[44, 64]);
            p.extend_from_slice(&[0x20; 16]);
            p.extend_from_slice(&[0x30; 16]);
            p.extend_from_slice(&[17, 0]);
            p.extend_from_slice(&((offset / 8) << 3 | u16::from(more)).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, 5]);
            p.extend_from_slice(part);
            p
        };
        let frags = [make(0, true, &data[..48]), make(48, false, &data[48..])];
        let mut d = Defrag::default();
        let out = feed(&mut d, &frags, 1.0);
        assert_eq!(out.len(), 1);
        let p = &out[0];
        assert_eq!(p[6], 17, "the next header is the fragment header's");
        assert_eq!(u16::from_be_bytes([p[4], p[5]]), 100);
        assert_eq!(&p[40..], &data[..]);
    }

    proptest! {
        #[test]
        fn reassembly_never_panics(packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 0..12)) {
            let mut d = Defrag::default();
            for (i, p) in packets.iter().enumerate() {
                if let Some(f) = fragment(p) {
                    let _ = d.add(i as f64, &f);
                }
            }
        }

        #[test]
        fn fragments_cut_anywhere_never_panic(cut in 0usize..60, step in 1usize..6) {
            let frags = v4_fragments(&[7u8; 100], step * 8, 3);
            let mut d = Defrag::default();
            for f in &frags {
                if let Some(f) = fragment(&f[..cut.min(f.len())]) {
                    let _ = d.add(1.0, &f);
                }
            }
        }
    }
}
