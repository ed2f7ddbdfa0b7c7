//! Packet captures in: the packets of classic pcap and pcapng files (walked by
//! [`super::blocks`]) decoded into what the flow assembler takes.
//!
//! pcap-parser strips the link layer (Ethernet, Linux SLL/SLL2, raw IP, BSD loopback, …);
//! etherparse slices VLAN tags, IPv4/IPv6 and the transport header leniently, so a packet cut
//! by the snapshot length still counts. Packets become [`PacketMeta`] for the flow assembler;
//! ARP packets become activity records. One thread reads, the chunks are decoded in parallel.

use super::blocks::walk;
use super::decap;
use super::defrag::{self, Defrag};
use super::{FileReport, MAX_EXAMPLES, Position};
use crate::flow::{Capture, Encap, Packet, PacketMeta, TcpFlags, shard_of};
use crate::record::Batch;
use crate::record::{Activity, Detail, Fields, Proto, TunnelKind};
use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};
use pcap_parser::Linktype;
use pcap_parser::data::{PacketData, get_packetdata};
use std::net::IpAddr;
use std::path::Path;

/// What a packet turned out to be.
pub(super) enum Kind<'a> {
    /// An IP packet the assembler takes, with its captured transport payload.
    Ip(PacketMeta, &'a [u8]),
    /// A tunnel's packet: for VXLAN and Teredo first the outer UDP packet (a connection of its
    /// own), then the packets the tunnel carries, each with the tunnels around it.
    Tunnelled(Vec<Layer<'a>>),
    Arp(Option<crate::record::Activity>),
    /// Not IP, or an IP protocol without a transport header kalipso assembles (yet).
    Other,
    /// An IP fragment, for reassembly.
    Fragment(defrag::Fragment<'a>),
}

/// One packet of a tunnelled packet.
pub(super) struct Layer<'a> {
    /// Its header fields.
    pub meta: PacketMeta,
    /// Its captured transport payload.
    pub payload: &'a [u8],
    /// The tunnels around it, outermost first (none for the outer UDP packet of a tunnel).
    pub encap: Vec<Encap>,
    /// The tunnel this UDP packet carries, when it carries one.
    pub carries: Option<TunnelKind>,
}

/// How many tunnels deep a packet is followed (Zeek's `Tunnel::max_depth`).
const MAX_TUNNEL_DEPTH: usize = 4;

pub(super) fn decode<'a>(ts: f64, data: &PacketData<'a>) -> Result<Kind<'a>, String> {
    decode_at(ts, data, 0)
}

/// Decodes a packet `depth` tunnels deep.
fn decode_at<'a>(ts: f64, data: &PacketData<'a>, depth: usize) -> Result<Kind<'a>, String> {
    let sliced = match data {
        // Cisco FabricPath (ethertype 0x8903): a 16-byte outer header before the inner frame
        PacketData::L2(d) if d.len() >= 16 && d[12..14] == [0x89, 0x03] => {
            LaxSlicedPacket::from_ethernet(&d[16..]).map_err(|e| format!("fabricpath: {e}"))?
        }
        PacketData::L2(d) => {
            LaxSlicedPacket::from_ethernet(d).map_err(|e| format!("ethernet: {e}"))?
        }
        PacketData::L3(ethertype, d) => {
            LaxSlicedPacket::from_ether_type(etherparse::EtherType(*ethertype), d)
        }
        PacketData::L4(..) | PacketData::Unsupported(_) => return Ok(Kind::Other),
    };
    let (src, dst, ip_len, ip_payload_len, fragmented, v6, ip_number) = match &sliced.net {
        Some(LaxNetSlice::Ipv4(ip)) => {
            let h = ip.header();
            let ihl = u32::from(h.ihl()) * 4;
            let total = u32::from(h.total_len());
            (
                IpAddr::from(h.source_addr()),
                IpAddr::from(h.destination_addr()),
                total,
                total.saturating_sub(ihl),
                ip.payload().fragmented,
                false,
                ip.payload().ip_number,
            )
        }
        Some(LaxNetSlice::Ipv6(ip)) => {
            let h = ip.header();
            let plen = u32::from(h.payload_length());
            let ext = u32::try_from(ip.extensions().slice().len()).unwrap_or(0);
            (
                IpAddr::from(h.source_addr()),
                IpAddr::from(h.destination_addr()),
                plen + 40,
                plen.saturating_sub(ext),
                ip.payload().fragmented,
                true,
                ip.payload().ip_number,
            )
        }
        Some(LaxNetSlice::Arp(arp)) => return Ok(Kind::Arp(arp_event(ts, &sliced, arp))),
        None => return Ok(Kind::Other),
    };
    if fragmented {
        // the fragment from its IP header on, for the reassembler
        let buf: &'a [u8] = match data {
            PacketData::L2(d) | PacketData::L3(_, d) => d,
            _ => &[],
        };
        let header = match &sliced.net {
            Some(LaxNetSlice::Ipv4(ip)) => ip.header().slice(),
            Some(LaxNetSlice::Ipv6(ip)) => ip.header().slice(),
            _ => &[],
        };
        let start = (header.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
        return Ok(buf
            .get(start..)
            .and_then(defrag::fragment)
            .map_or(Kind::Other, Kind::Fragment));
    }
    // GRE and IP in IP: the outer packet is no connection, only the one inside is
    if matches!(ip_number.0, 4 | 41 | 47) {
        let ip_payload = match &sliced.net {
            Some(LaxNetSlice::Ipv4(ip)) => ip.payload().payload,
            Some(LaxNetSlice::Ipv6(ip)) => ip.payload().payload,
            _ => &[],
        };
        let inner = if ip_number.0 == 47 {
            decap::gre(ip_payload)
        } else {
            Some(decap::Inner::Ip(ip_payload))
        };
        let Some(inner) = inner.filter(|_| depth < MAX_TUNNEL_DEPTH) else {
            return Ok(Kind::Other);
        };
        let level = Encap {
            kind: if ip_number.0 == 47 {
                TunnelKind::Gre
            } else {
                TunnelKind::Ip
            },
            src,
            dst,
            sport: 0,
            dport: 0,
        };
        return Ok(inside(ts, inner, level, depth, Vec::new()));
    }
    let base = PacketMeta::ip(ts, src, dst, ip_len, v6);
    let payload: &[u8] = match &sliced.transport {
        Some(TransportSlice::Tcp(t)) => t.payload(),
        Some(TransportSlice::Udp(u)) => u.payload(),
        _ => &[],
    };
    let meta = match &sliced.transport {
        Some(TransportSlice::Tcp(t)) => PacketMeta {
            proto: Proto::Tcp,
            sport: t.source_port(),
            dport: t.destination_port(),
            flags: TcpFlags {
                syn: t.syn(),
                ack: t.ack(),
                fin: t.fin(),
                rst: t.rst(),
            },
            seq: t.sequence_number(),
            window: t.window_size(),
            payload: ip_payload_len.saturating_sub(u32::from(t.data_offset()) * 4),
            ..base
        },
        Some(TransportSlice::Udp(u)) => PacketMeta {
            proto: Proto::Udp,
            sport: u.source_port(),
            dport: u.destination_port(),
            payload: u32::from(u.length()).saturating_sub(8),
            ..base
        },
        Some(TransportSlice::Icmpv4(i)) => PacketMeta {
            proto: Proto::Icmp,
            sport: u16::from(i.type_u8()),
            dport: u16::from(i.code_u8()),
            // Zeek: the ICMP payload after the 8-byte header
            payload: ip_payload_len.saturating_sub(8),
            ..base
        },
        Some(TransportSlice::Icmpv6(i)) => PacketMeta {
            proto: Proto::Icmp,
            sport: u16::from(i.type_u8()),
            dport: u16::from(i.code_u8()),
            // after IPv6 extension headers (MLD reports carry a hop-by-hop header), as Zeek
            payload: ip_payload_len.saturating_sub(8),
            ..base
        },
        // a transport header cut by the snapshot length is not another protocol; IPv6's "no
        // next header" (a Teredo bubble) carries nothing, and Zeek makes no connection of it
        _ if matches!(ip_number.0, 1 | 6 | 17 | 58 | 59) => return Ok(Kind::Other),
        // any other IP protocol is a connection too (Zeek's `unknown_transport`), keyed by the
        // protocol number in both port slots, logged with ports 0 and no payload bytes
        _ => PacketMeta {
            sport: u16::from(ip_number.0),
            dport: u16::from(ip_number.0),
            ..base
        },
    };
    if meta.proto == Proto::Udp && depth < MAX_TUNNEL_DEPTH {
        if let Some((kind, inner)) = udp_tunnel(&meta, payload) {
            let carrier = Layer {
                meta,
                payload,
                encap: Vec::new(),
                carries: Some(kind),
            };
            let level = Encap {
                kind,
                src,
                dst,
                sport: meta.sport,
                dport: meta.dport,
            };
            return Ok(inside(ts, inner, level, depth, vec![carrier]));
        }
    }
    Ok(Kind::Ip(meta, payload))
}

/// The tunnel a UDP packet carries, if any: VXLAN on its port, Teredo on its port or found by
/// Zeek's test of the payload.
pub(super) fn udp_tunnel<'a>(
    meta: &PacketMeta,
    payload: &'a [u8],
) -> Option<(TunnelKind, decap::Inner<'a>)> {
    let on = |port: u16| meta.sport == port || meta.dport == port;
    if on(decap::VXLAN_PORT) {
        return decap::vxlan(payload).map(|f| (TunnelKind::Vxlan, decap::Inner::Ethernet(f)));
    }
    if on(decap::TEREDO_PORT) || decap::looks_like_teredo(payload) {
        return decap::teredo(payload).map(|p| (TunnelKind::Teredo, decap::Inner::Ip(p)));
    }
    None
}

/// Decodes what a tunnel carries and adds it, inside `level`, to `layers`. ARP, fragments and
/// other protocols inside a tunnel are not followed.
fn inside<'a>(
    ts: f64,
    inner: decap::Inner<'a>,
    level: Encap,
    depth: usize,
    mut layers: Vec<Layer<'a>>,
) -> Kind<'a> {
    let data = match inner {
        decap::Inner::Ip(b) => match b.first().map(|v| v >> 4) {
            Some(4) => Some(PacketData::L3(0x0800, b)),
            Some(6) => Some(PacketData::L3(0x86dd, b)),
            _ => None,
        },
        decap::Inner::Ethernet(f) => Some(PacketData::L2(f)),
    };
    match data.map(|d| decode_at(ts, &d, depth + 1)) {
        Some(Ok(Kind::Ip(meta, payload))) => layers.push(Layer {
            meta,
            payload,
            encap: vec![level],
            carries: None,
        }),
        Some(Ok(Kind::Tunnelled(inner))) => layers.extend(inner.into_iter().map(|mut l| {
            l.encap.insert(0, level);
            l
        })),
        _ => {}
    }
    if layers.is_empty() {
        Kind::Other
    } else {
        Kind::Tunnelled(layers)
    }
}

/// An IPv4 ARP packet as Slips' arp.log describes it (operation, addresses, MACs).
fn arp_event(
    ts: f64,
    sliced: &LaxSlicedPacket<'_>,
    arp: &etherparse::ArpPacketSlice<'_>,
) -> Option<crate::record::Activity> {
    use crate::record::{Arp, ArpOp, Detail, Mac};
    let ip4 = |b: &[u8]| -> Option<IpAddr> {
        let a: [u8; 4] = b.try_into().ok()?;
        Some(IpAddr::from(a))
    };
    let sender = ip4(arp.sender_protocol_addr())?;
    let target = ip4(arp.target_protocol_addr())?;
    let dst_mac = match &sliced.link {
        Some(etherparse::LinkSlice::Ethernet2(e)) => Some(Mac(e.destination())),
        _ => None,
    };
    let operation = match arp.operation().0 {
        1 => ArpOp::Request,
        2 => ArpOp::Reply,
        _ => return None,
    };
    Some(crate::record::Activity {
        ts,
        ip: sender,
        detail: Some(Detail::Arp(Arp {
            resp: Some(target),
            operation,
            dst_mac,
            target_hw: Mac::from_bytes(arp.target_hw_addr()),
        })),
    })
}

/// A record made from the capture, read as the detections read the same record from Zeek's
/// log: its time, source, and the fields they use.
fn fields_activity(ts: f64, ip: IpAddr, fields: Fields) -> Activity {
    Activity {
        ts,
        ip,
        detail: Some(Detail::Fields(Box::new(fields))),
    }
}

/// A dhcp.log row: its client, with the host name and MAC it sent.
fn dhcp_activity(d: &crate::record::Dhcp) -> Option<Activity> {
    let named = !d.host_name.is_empty() || !d.mac.is_empty();
    let mut a = fields_activity(
        d.ts,
        d.client_addr?,
        Fields {
            host_name: d.host_name.as_str().into(),
            mac: d.mac.as_str().into(),
            ..Fields::default()
        },
    );
    if !named {
        a.detail = None;
    }
    Some(a)
}

/// An smtp.log row: client, server and the last reply.
fn smtp_activity(s: &crate::record::Smtp) -> Activity {
    let fields = Fields {
        resp: Some(s.id.resp_h),
        last_reply: s.last_reply.as_str().into(),
        ..Fields::default()
    };
    fields_activity(s.id.ts, s.id.orig_h, fields)
}

/// A tunnel.log row: endpoints, kind and action.
fn tunnel_activity(t: &crate::record::Tunnel) -> Activity {
    let fields = Fields {
        resp: Some(t.resp_h),
        tunnel_type: t.kind.as_zeek().into(),
        action: t.action.as_zeek().into(),
        ..Fields::default()
    };
    fields_activity(t.ts, t.orig_h, fields)
}

/// Merges time-ordered `extra` into time-ordered `records` in place, from the back (a busy
/// LAN's capture has millions of ARP records: they are neither copied nor sorted again).
/// Records of equal time keep `records` first.
fn merge_sorted(records: &mut Vec<crate::record::Activity>, extra: Vec<crate::record::Activity>) {
    if extra.is_empty() {
        return;
    }
    let old = records.len();
    let mut extra = extra.into_iter().rev().peekable();
    // placeholders at the end, overwritten as the merge walks back
    records.resize_with(old + extra.len(), || crate::record::Activity {
        ts: 0.0,
        ip: std::net::IpAddr::from([0, 0, 0, 0]),
        detail: None,
    });
    let (mut i, mut to) = (old, records.len());
    while let Some(e) = extra.peek() {
        to -= 1;
        if i > 0 && records[i - 1].ts > e.ts {
            records.swap(i - 1, to);
            i -= 1;
        } else if let Some(e) = extra.next() {
            records[to] = e;
        }
    }
}

/// Capture statistics of one file.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct CaptureStats {
    /// Packets read.
    pub packets: u64,
    /// IP packets handed to the flow assembler.
    pub ip: u64,
    /// ARP packets.
    pub arp: u64,
    /// Packets that are neither (other link protocols, other IP protocols).
    pub other: u64,
    /// IP fragments.
    pub fragments: u64,
    /// Datagrams reassembled from them.
    pub reassembled: u64,
    /// Fragments dropped: their datagram never completed, was too large, or was dropped
    /// against a fragment flood (see `defrag`).
    pub fragments_dropped: u64,
    /// Connections whose application bytes were given up on: a hole that never filled, or
    /// more held or unconsumed bytes than the per-connection bounds allow (`flow::stream`).
    pub stream_gaps: u64,
    /// Packets inside tunnels (GRE, IP in IP, VXLAN, Teredo), counted once per outer packet.
    pub tunnelled: u64,
}

/// One packet as read from the file: its bytes are `data[at..at + caplen]` of its chunk.
#[derive(Debug, Clone, Copy)]
struct Raw {
    ts: f64,
    linktype: Linktype,
    at: u32,
    caplen: u32,
    /// Packet number in its file (from 1).
    number: u64,
}

/// Packets of one file, copied out of the reader's buffer so they can be decoded in parallel.
#[derive(Debug, Default)]
struct Chunk {
    file: usize,
    data: Vec<u8>,
    packets: Vec<Raw>,
}

/// The fewest bytes an ARP packet takes in a capture file: a classic record header and a
/// 42-byte Ethernet frame (a pcapng block takes more).
const SMALLEST_ARP: u64 = 16 + 42;

/// How many packet bytes a chunk collects before it is handed on. (8 MB and 16 MB were slower
/// on the realistic capture, and their decoded packets and records a larger part of the
/// peak; 2 MB was no faster than 4 MB.)
const CHUNK_BYTES: usize = 4 << 20;
/// How many packets a chunk collects at most: empty or tiny records (a capture of zero-length
/// packets) must not grow a chunk's packet list without bound while its bytes stay few.
const CHUNK_PACKETS: usize = 1 << 17;

enum Msg {
    Chunk(Chunk),
    /// A file is read to its end (or to its error): its reader-side report and notes.
    Done(usize, Box<FileReport>, Vec<(u64, String)>),
}

/// What the decoders found in a file.
#[derive(Debug, Default)]
struct Decoded {
    stats: CaptureStats,
    /// ARP packets, as arp.log records.
    arp: Vec<crate::record::Activity>,
    /// The most ARP records the file can hold (by its size), reserved at its first one.
    arp_bound: usize,
    skipped: u64,
    notes: Vec<(u64, String)>,
}

impl Decoded {
    /// Adds what another part of the file's packets decoded to.
    fn add(&mut self, d: Decoded) {
        self.stats.ip += d.stats.ip;
        self.stats.arp += d.stats.arp;
        self.stats.other += d.stats.other;
        self.stats.fragments += d.stats.fragments;
        self.stats.tunnelled += d.stats.tunnelled;
        if self.arp.capacity() == 0 && !d.arp.is_empty() {
            // A LAN capture has millions of ARP records: grown by doubling, the vector was
            // copied into fresh pages again and again, on the one thread that joins the
            // decoders' parts. Reserved up front it is virtual memory, whose pages are touched
            // only as records are written; a bound the system refuses is halved until granted,
            // as for the capture's connections.
            crate::flow::reserve_up_to(&mut self.arp, self.arp_bound);
        }
        self.arp.extend(d.arp);
        self.skipped += d.skipped;
        if self.notes.len() < MAX_EXAMPLES {
            self.notes.extend(d.notes);
        }
    }
}

/// A packet of a chunk for the assembler: `payload` lies in the chunk's bytes, which start at
/// `base`.
fn packet_at(meta: PacketMeta, payload: &[u8], base: usize) -> Packet {
    Packet {
        meta,
        at: if payload.is_empty() {
            0
        } else {
            (payload.as_ptr() as usize).wrapping_sub(base) as u32
        },
        len: payload.len() as u32,
        shard: shard_of(&meta),
        carries: None,
        encap: 0,
    }
}

/// A fragment of a chunk: where its datagram goes among the chunk's packets (if it completes),
/// its time, and the fragment.
type Placed<'a> = (usize, f64, defrag::Fragment<'a>);

/// A part of a chunk's packets, their tunnel stacks and fragments.
type PartPackets<'a> = (Vec<Packet>, Vec<Vec<Encap>>, Vec<Placed<'a>>);

/// What a part of a chunk decoded to: packets, tunnel stacks, fragments, the rest.
type Part<'a> = (Vec<Packet>, Vec<Vec<Encap>>, Vec<Placed<'a>>, Decoded);

/// Puts what one packet decoded to where it belongs: IP packets (and the layers of a tunnelled
/// one, with their tunnel stacks numbered from 1 in `stacks`) to `out`, ARP records and counts
/// to `d`, fragments to `frags`.
fn place<'a>(
    kind: Kind<'a>,
    ts: f64,
    base: usize,
    out: &mut Vec<Packet>,
    stacks: &mut Vec<Vec<Encap>>,
    frags: &mut Vec<Placed<'a>>,
    d: &mut Decoded,
) {
    match kind {
        Kind::Ip(meta, payload) => {
            d.stats.ip += 1;
            out.push(packet_at(meta, payload, base));
        }
        Kind::Tunnelled(layers) => {
            d.stats.ip += 1;
            d.stats.tunnelled += 1;
            for l in layers {
                let mut p = packet_at(l.meta, l.payload, base);
                p.carries = l.carries;
                if !l.encap.is_empty() {
                    stacks.push(l.encap);
                    p.encap = stacks.len() as u32;
                }
                out.push(p);
            }
        }
        Kind::Arp(event) => {
            d.stats.arp += 1;
            d.arp.extend(event);
        }
        Kind::Other => d.stats.other += 1,
        Kind::Fragment(f) => {
            d.stats.fragments += 1;
            frags.push((out.len(), ts, f));
        }
    }
}

/// Decodes the packets of a chunk (in parallel) into what the flow assembler takes; the
/// tunnels around tunnelled packets go to `stacks` (a packet's `encap` is its stack's number
/// there, from 1), and IP fragments, with where they go among the packets, are returned for
/// reassembly.
fn decode_chunk<'a>(
    chunk: &'a Chunk,
    found: &mut Decoded,
    stacks: &mut Vec<Vec<Encap>>,
    mut packets: Vec<Packet>,
) -> (Vec<Packet>, Vec<Placed<'a>>) {
    use rayon::prelude::*;
    let base = chunk.data.as_ptr() as usize;
    let parts: Vec<Part<'a>> = chunk
        .packets
        .par_chunks(4096)
        .map(|raws| {
            let mut out = Vec::with_capacity(raws.len());
            let mut stacks: Vec<Vec<Encap>> = Vec::new();
            let mut frags = Vec::new();
            let mut d = Decoded::default();
            for r in raws {
                let at = r.at as usize;
                let data = chunk
                    .data
                    .get(at..at + r.caplen as usize)
                    .unwrap_or_default();
                if r.linktype == Linktype::ETHERNET {
                    if let Some((meta, payload)) = super::fast_decode::ethernet_ipv4(r.ts, data) {
                        d.stats.ip += 1;
                        out.push(packet_at(meta, payload, base));
                        continue;
                    }
                    if let Some(event) = super::fast_decode::ethernet_arp(r.ts, data) {
                        d.stats.arp += 1;
                        d.arp.extend(event);
                        continue;
                    }
                }
                let fail = |d: &mut Decoded, reason: String| {
                    d.skipped += 1;
                    if d.notes.len() < MAX_EXAMPLES {
                        d.notes.push((r.number, reason));
                    }
                };
                match get_packetdata(data, r.linktype, data.len()) {
                    // pcap-parser cannot tell an empty or cut frame from an unknown link type
                    None if data.is_empty() => {
                        fail(&mut d, "empty packet (0 bytes captured)".into());
                    }
                    None => fail(
                        &mut d,
                        format!(
                            "packet too short for link type '{}' ({} bytes captured)",
                            r.linktype.0,
                            data.len()
                        ),
                    ),
                    Some(PacketData::Unsupported(_)) => {
                        fail(&mut d, format!("unsupported link type '{}'", r.linktype.0));
                    }
                    Some(pd) => match decode(r.ts, &pd) {
                        Ok(kind) => {
                            place(kind, r.ts, base, &mut out, &mut stacks, &mut frags, &mut d);
                        }
                        Err(e) => fail(&mut d, e),
                    },
                }
            }
            (out, stacks, frags, d)
        })
        .collect();
    // The parts are joined on one thread, which left the other core idle for a quarter of
    // the decoding: their packets are copied on one core while their ARP records (millions
    // on a LAN, written into the file's vector for the first time) are added on the other.
    let (parts, decoded): (Vec<_>, Vec<Decoded>) =
        parts.into_iter().map(|(p, s, f, d)| ((p, s, f), d)).unzip();
    let ((), fragments) = rayon::join(
        || {
            for d in decoded {
                found.add(d);
            }
        },
        || join_packets(parts, &mut packets, stacks),
    );
    (packets, fragments)
}

/// Puts the decoded parts' packets into `packets` in order, their tunnel stacks into
/// `stacks`; returns their fragments, placed among the chunk's packets.
fn join_packets<'a>(
    parts: Vec<PartPackets<'a>>,
    packets: &mut Vec<Packet>,
    stacks: &mut Vec<Vec<Encap>>,
) -> Vec<Placed<'a>> {
    packets.clear();
    packets.reserve(parts.iter().map(|p| p.0.len()).sum());
    let mut fragments = Vec::new();
    for (p, part_stacks, part_frags) in parts {
        // a part numbers its tunnel stacks from 1 and places its fragments among its own
        // packets; the chunk's lists hold all parts'
        let offset = stacks.len() as u32;
        fragments.extend(
            part_frags
                .into_iter()
                .map(|(at, ts, f)| (at + packets.len(), ts, f)),
        );
        if part_stacks.is_empty() || offset == 0 {
            // nothing to renumber: one plain copy
            packets.extend(p);
        } else {
            packets.extend(p.into_iter().map(|mut p| {
                if p.encap != 0 {
                    p.encap += offset;
                }
                p
            }));
        }
        stacks.extend(part_stacks);
    }
    fragments
}

/// Reassembles a chunk's fragments: the datagrams they complete are appended to the chunk's
/// bytes, decoded, and put among `packets` where their last fragment was.
fn reassemble(
    chunk: &mut Chunk,
    packets: Vec<Packet>,
    whole: Vec<(usize, f64, Vec<u8>)>,
    stacks: &mut Vec<Vec<Encap>>,
    found: &mut Decoded,
) -> Vec<Packet> {
    let mut spans = Vec::with_capacity(whole.len());
    for (at, ts, bytes) in whole {
        spans.push((at, ts, chunk.data.len(), bytes.len()));
        chunk.data.extend_from_slice(&bytes);
    }
    let base = chunk.data.as_ptr() as usize;
    let mut out = Vec::with_capacity(packets.len() + spans.len());
    let mut rest = packets.into_iter().enumerate().peekable();
    let mut d = Decoded::default();
    for (at, ts, start, len) in spans {
        while let Some((_, p)) = rest.next_if(|(i, _)| *i < at) {
            out.push(p);
        }
        let ip = &chunk.data[start..start + len];
        let ethertype = if ip.first().is_some_and(|v| v >> 4 == 6) {
            0x86dd
        } else {
            0x0800
        };
        // a datagram made of fragments is no fragment: the list stays empty
        let mut none = Vec::new();
        if let Ok(kind) = decode(ts, &PacketData::L3(ethertype, ip)) {
            place(kind, ts, base, &mut out, stacks, &mut none, &mut d);
        }
    }
    out.extend(rest.map(|(_, p)| p));
    found.add(d);
    out
}

/// The time of a capture's first packet (`None` if it has none or cannot be read).
fn first_timestamp(path: &Path) -> Option<f64> {
    let mut first = None;
    walk(path, true, &mut |ts, _, _, _, _| {
        first = Some(ts);
        false
    });
    first
}

/// Reads captures into one flow assembly, ordered by their first packet, so a connection
/// continues across files (ties keep path order). One thread reads and copies packets into
/// chunks; the chunks are decoded in parallel and their flows assembled by shard in parallel.
pub(crate) fn read_captures(
    paths: &[std::path::PathBuf],
    timeouts: crate::flow::Timeouts,
) -> (Batch, Vec<FileReport>) {
    use std::sync::mpsc::{channel, sync_channel};
    crate::allocator::working_on(crate::allocator::Workload::Packets);
    // several captures are read in the order of their first packets (one needs no peek)
    let mut ordered: Vec<(f64, &std::path::PathBuf)> = paths
        .iter()
        .map(|p| {
            let first = if paths.len() > 1 {
                first_timestamp(p)
            } else {
                None
            };
            (first.unwrap_or(f64::INFINITY), p)
        })
        .collect();
    ordered.sort_by(|a, b| a.0.total_cmp(&b.0));
    let ordered: Vec<&std::path::PathBuf> = ordered.into_iter().map(|(_, p)| p).collect();
    // the files' sizes bound the records they can hold (0 where the size is unknown, a pipe)
    let sizes: Vec<u64> = ordered
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .collect();
    let mut capture = Capture::new(timeouts);
    capture.expect_bytes(sizes.iter().sum());
    let mut defrag = Defrag::default();
    let mut reports: Vec<Option<FileReport>> = vec![None; ordered.len()];
    let mut found: Vec<Decoded> = sizes
        .iter()
        .map(|size| Decoded {
            arp_bound: usize::try_from(size / SMALLEST_ARP).unwrap_or(usize::MAX),
            ..Decoded::default()
        })
        .collect();
    let mut arp: Vec<crate::record::Activity> = Vec::new();
    let (tx, rx) = sync_channel::<Msg>(2);
    let mut spent = crate::flow::Spent::default();
    // a chunk's two buffers come back to the reader once the chunk is assembled (its packet
    // list was made afresh for every chunk, and the reader thread took a seventh of the run's
    // page faults)
    let (back, spare) = channel::<(Vec<u8>, Vec<Raw>)>();
    std::thread::scope(|s| {
        s.spawn(|| {
            let (spare, tx) = (spare, tx);
            let fresh = |file: usize| {
                let (mut data, mut packets) = spare
                    .try_recv()
                    .unwrap_or_else(|_| (Vec::with_capacity(CHUNK_BYTES + (1 << 16)), Vec::new()));
                data.clear();
                packets.clear();
                Chunk {
                    file,
                    data,
                    packets,
                }
            };
            for (file, path) in ordered.iter().enumerate() {
                let mut chunk = fresh(file);
                let mut open = true;
                let (report, notes) =
                    walk(path, false, &mut |ts, linktype, data, caplen, number| {
                        chunk.packets.push(Raw {
                            ts,
                            linktype,
                            at: chunk.data.len() as u32,
                            caplen: caplen as u32,
                            number,
                        });
                        chunk.data.extend_from_slice(&data[..caplen]);
                        if chunk.data.len() >= CHUNK_BYTES || chunk.packets.len() >= CHUNK_PACKETS {
                            let mut next = fresh(file);
                            next.packets.reserve(chunk.packets.len());
                            open = tx
                                .send(Msg::Chunk(std::mem::replace(&mut chunk, next)))
                                .is_ok();
                        }
                        open
                    });
                if !chunk.packets.is_empty() && tx.send(Msg::Chunk(chunk)).is_err() {
                    return;
                }
                if tx.send(Msg::Done(file, Box::new(report), notes)).is_err() {
                    return;
                }
            }
        });
        let mut waited = std::time::Instant::now();
        // one chunk's decoded packets, kept for the next chunk: a fresh vector of this size
        // each time was a fifth of the capture's page faults
        let mut spare: Vec<Packet> = Vec::new();
        for msg in rx {
            spent.wait += waited.elapsed();
            match msg {
                Msg::Chunk(mut chunk) => {
                    let Some(f) = found.get_mut(chunk.file) else {
                        continue;
                    };
                    let t = std::time::Instant::now();
                    let mut stacks = Vec::new();
                    let (packets, fragments) =
                        decode_chunk(&chunk, f, &mut stacks, std::mem::take(&mut spare));
                    let dropped = defrag.stats.dropped;
                    let whole: Vec<(usize, f64, Vec<u8>)> = fragments
                        .iter()
                        .filter_map(|(at, ts, fr)| Some((*at, *ts, defrag.add(*ts, fr)?)))
                        .collect();
                    f.stats.reassembled += whole.len() as u64;
                    f.stats.fragments_dropped += defrag.stats.dropped - dropped;
                    let packets = if whole.is_empty() {
                        packets
                    } else {
                        reassemble(&mut chunk, packets, whole, &mut stacks, f)
                    };
                    spent.decode += t.elapsed();
                    capture.feed(&packets, &chunk.data, &stacks, &mut spent);
                    let _ = back.send((chunk.data, chunk.packets));
                    spare = packets;
                }
                Msg::Done(file, mut report, mut notes) => {
                    let mut f = std::mem::take(&mut found[file]);
                    if arp.is_empty() {
                        // moved, not copied: a LAN capture has millions of ARP records, and
                        // the vector's spare room takes the SSH and DHCP activity at the end
                        arp = std::mem::take(&mut f.arp);
                    } else {
                        arp.append(&mut f.arp);
                    }
                    report.skipped += f.skipped;
                    report.records = report.data_lines - report.skipped;
                    notes.extend(f.notes);
                    notes.sort_by_key(|n| n.0);
                    for (n, reason) in notes.into_iter().take(MAX_EXAMPLES) {
                        report.note_skip(Position::Packet(n), &reason);
                    }
                    report.capture = Some(CaptureStats {
                        packets: report.data_lines,
                        ..f.stats
                    });
                    reports[file] = Some(*report);
                }
            }
            waited = std::time::Instant::now();
        }
    });
    let t = std::time::Instant::now();
    let (mut batch, stream_gaps) = capture.finish();
    // datagrams never completed are dropped, and streams given up on end with their
    // connections: the last file's report counts them
    if let Some(stats) = reports
        .iter_mut()
        .rev()
        .flatten()
        .find_map(|r| r.capture.as_mut())
    {
        stats.fragments_dropped += defrag.incomplete();
        stats.stream_gaps += stream_gaps;
    }
    if std::env::var_os("KALIPSO_TIMINGS").is_some() {
        eprintln!(
            "timing: capture: waiting for the reader {:?}, decoding {:?}, assembling {:?}, merging {:?}, finishing {:?}",
            spent.wait,
            spent.decode,
            spent.assemble,
            spent.merge,
            t.elapsed()
        );
    }
    // what Zeek's scripts log from SSH sessions (software, password guessing), the DHCP,
    // SMTP and tunnel rows join the ARP records as activity, in time order
    let first_packet = batch
        .conns
        .iter()
        .map(|c| c.ts)
        .fold(f64::INFINITY, f64::min);
    let mut extra = crate::flow::ssh_activity(
        &batch.ssh,
        first_packet,
        crate::flow::PASSWORD_GUESSES_LIMIT,
    );
    extra.extend(batch.dhcp.iter().filter_map(dhcp_activity));
    extra.extend(batch.tunnels.iter().map(tunnel_activity));
    extra.extend(batch.smtp.iter().map(smtp_activity));
    extra.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    merge_sorted(&mut arp, extra);
    batch.activity = arp;
    (batch, reports.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::merge_sorted;
    use crate::record::Activity;
    use proptest::prelude::*;

    fn at(ts: f64, tag: u8) -> Activity {
        Activity {
            ts,
            ip: std::net::IpAddr::from([10, 0, 0, tag]),
            detail: None,
        }
    }

    proptest! {
        /// The in-place merge gives what a stable sort of both gives.
        #[test]
        fn merging_in_place_equals_a_stable_sort(
            mut a in proptest::collection::vec(0u8..20, 0..60),
            mut b in proptest::collection::vec(0u8..20, 0..20),
        ) {
            a.sort_unstable();
            b.sort_unstable();
            let mut records: Vec<Activity> = a.iter().map(|&t| at(f64::from(t), 1)).collect();
            let extra: Vec<Activity> = b.iter().map(|&t| at(f64::from(t), 2)).collect();
            let mut want: Vec<Activity> = records.iter().chain(&extra).cloned().collect();
            want.sort_by(|x, y| x.ts.total_cmp(&y.ts));
            merge_sorted(&mut records, extra);
            prop_assert_eq!(records, want);
        }
    }
}
