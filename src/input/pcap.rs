//! Packet captures in: classic pcap (either byte order, micro- or nanosecond) and pcapng
//! (several interfaces, each with its link type and time resolution), plain or gzip.
//!
//! pcap-parser streams the blocks and strips the link layer (Ethernet, Linux SLL/SLL2, raw IP,
//! BSD loopback, …); etherparse slices VLAN tags, IPv4/IPv6 and the transport header leniently,
//! so a packet cut by the snapshot length still counts. Packets become [`PacketMeta`] for the
//! flow assembler. A truncated file keeps everything before the cut and reports the packet
//! number; a file that is not a capture is reported, never a panic.

use super::fields::MAX_SECONDS;
use super::{FileReport, MAX_EXAMPLES, Position, Problem};
use crate::flow::{Capture, Packet, PacketMeta, TcpFlags, shard_of};
use crate::record::Batch;
use crate::record::{LogKind, Proto};
use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};
use pcap_parser::data::{PacketData, get_packetdata};
use pcap_parser::pcapng::Block;
use pcap_parser::{Linktype, PcapBlockOwned, PcapError};
use std::net::IpAddr;
use std::path::Path;

/// Whether a file is a pcap or pcapng capture (plain or gzip), by its first four bytes; when
/// it is not, why (cannot be opened, empty or too short, or the magic number it has).
pub(crate) fn sniff_capture(path: &Path) -> Result<(), Problem> {
    use std::io::Read;
    let r = super::zeek::open_head(path).map_err(|e| Problem::Open(e.to_string()))?;
    let mut magic = Vec::with_capacity(4);
    r.take(4)
        .read_to_end(&mut magic)
        .map_err(|e| Problem::Read(e.to_string()))?;
    let Ok(magic) = <[u8; 4]>::try_from(magic.as_slice()) else {
        return Err(Problem::NotACapture(if magic.is_empty() {
            "the file is empty".into()
        } else {
            format!("only {} byte(s) long", magic.len())
        }));
    };
    let m = u32::from_le_bytes(magic);
    if matches!(
        m,
        0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 | 0x0a0d_0d0a
    ) {
        Ok(())
    } else {
        Err(Problem::NotACapture(format!(
            "unknown magic number {:02x} {:02x} {:02x} {:02x}",
            magic[0], magic[1], magic[2], magic[3]
        )))
    }
}

/// Per-interface decoding parameters.
#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: Linktype,
    /// Ticks per second; `None` for a resolution no 64-bit counter can hold.
    resolution: Option<u64>,
    /// `if_tsoffset`: seconds added to every time (may be negative).
    offset: i64,
    /// The raw `if_tsresol`, for messages.
    tsresol: u8,
}

/// Ticks per second of a pcapng `if_tsresol`: 10^n, or 2^n when the high bit is set
/// (pcap-parser 0.17 takes the binary form for an error and the caller would fall back to
/// microseconds, dating a 2022 capture in 1970).
fn ticks_per_second(tsresol: u8) -> Option<u64> {
    let n = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(n)
    } else {
        1u64.checked_shl(n).filter(|_| n < 64)
    }
}

/// A pcapng time in seconds: the 64-bit tick count over the resolution, plus the offset (in
/// f64 throughout, so a large offset does not wrap as a 32-bit second count would).
fn pcapng_time(high: u32, low: u32, ticks: u64, offset: i64) -> f64 {
    let t = (u64::from(high) << 32) | u64::from(low);
    offset as f64 + (t / ticks) as f64 + (t % ticks) as f64 / ticks as f64
}

/// What a packet turned out to be.
enum Kind<'a> {
    /// An IP packet the assembler takes, with its captured transport payload.
    Ip(PacketMeta, &'a [u8]),
    Arp(Option<crate::record::Activity>),
    /// Not IP, or an IP protocol without a transport header kalipso assembles (yet).
    Other,
    /// A non-first IP fragment.
    Fragment,
}

fn decode<'a>(ts: f64, data: &PacketData<'a>) -> Result<Kind<'a>, String> {
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
    let base = PacketMeta {
        ts,
        src,
        dst,
        proto: Proto::Unknown,
        sport: 0,
        dport: 0,
        flags: TcpFlags::default(),
        seq: 0,
        payload: 0,
        ip_len,
        icmp6: v6,
        window: 0,
    };
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
        _ if fragmented => return Ok(Kind::Fragment),
        // a transport header cut by the snapshot length is not another protocol
        _ if matches!(ip_number.0, 1 | 6 | 17 | 58) => return Ok(Kind::Other),
        // any other IP protocol is a connection too (Zeek's `unknown_transport`), keyed by the
        // protocol number in both port slots, logged with ports 0 and no payload bytes
        _ => PacketMeta {
            sport: u16::from(ip_number.0),
            dport: u16::from(ip_number.0),
            ..base
        },
    };
    Ok(Kind::Ip(meta, payload))
}

fn mac(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// An IPv4 ARP packet as Slips' arp.log describes it (operation, addresses, MACs).
fn arp_event(
    ts: f64,
    sliced: &LaxSlicedPacket<'_>,
    arp: &etherparse::ArpPacketSlice<'_>,
) -> Option<crate::record::Activity> {
    let ip4 = |b: &[u8]| -> Option<IpAddr> {
        let a: [u8; 4] = b.try_into().ok()?;
        Some(IpAddr::from(a))
    };
    let sender = ip4(arp.sender_protocol_addr())?;
    let target = ip4(arp.target_protocol_addr())?;
    let dst_mac = match &sliced.link {
        Some(etherparse::LinkSlice::Ethernet2(e)) => mac(&e.destination()),
        _ => String::new(),
    };
    let operation = match arp.operation().0 {
        1 => "request",
        2 => "reply",
        _ => return None,
    };
    Some(crate::record::Activity {
        ts,
        ip: sender,
        detail: Some(Box::new(crate::record::Detail {
            resp: Some(target),
            operation: operation.into(),
            dst_mac,
            target_hw: mac(arp.target_hw_addr()),
            ..crate::record::Detail::default()
        })),
    })
}

/// Capture statistics of one file.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct CaptureStats {
    /// Packets read.
    pub packets: u64,
    /// IP packets handed to the flow assembler.
    pub ip: u64,
    /// ARP packets.
    pub arp: u64,
    /// Packets that are neither (other link protocols, other IP protocols).
    pub other: u64,
    /// IP fragments after the first (not reassembled yet).
    pub fragments: u64,
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

/// How many packet bytes a chunk collects before it is handed on.
const CHUNK_BYTES: usize = 8 << 20;
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
    skipped: u64,
    notes: Vec<(u64, String)>,
}

/// Called with each packet: time, link type, bytes, captured length, packet number; false stops.
type PacketFn<'a> = dyn FnMut(f64, Linktype, &[u8], usize, u64) -> bool + 'a;

/// Walks the packets of one capture, calling `each(ts, linktype, data, caplen, number)` for
/// each until it returns false. Returns the file's report (packets, errors) and the first notes.
fn walk(path: &Path, peek: bool, each: &mut PacketFn<'_>) -> (FileReport, Vec<(u64, String)>) {
    let mut report = FileReport::new(path, LogKind::Conn);
    let mut notes = Vec::new();
    let mut packets = 0u64;
    // a peek reads a stream's kept first bytes only, leaving the stream for the real read
    let opened = if peek {
        super::zeek::open_head(path)
    } else {
        super::zeek::open_log(path)
    };
    let mut input = match opened {
        Ok(r) => r,
        Err(e) => {
            report.fail(Problem::Open(e.to_string()));
            return (report, notes);
        }
    };
    // pcap-parser decides the format from its first read: give it a full first buffer.
    let mut head = Vec::with_capacity(1 << 16);
    // a read error here (a .gz cut in its first 64 kB) still leaves what was decoded before it
    let mut cut = false;
    if let Err(e) =
        std::io::Read::read_to_end(&mut std::io::Read::take(&mut input, 1 << 16), &mut head)
    {
        if head.is_empty() {
            report.fail(Problem::Read(e.to_string()));
            return (report, notes);
        }
        cut = true;
        input = Box::new(std::io::empty());
    }
    let head_len = head.len();
    let input = std::io::Read::chain(std::io::Cursor::new(head), input);
    let mut reader = match pcap_parser::create_reader(1 << 20, input) {
        Ok(r) => r,
        // the magic was right (sniffed before), so a short file is a cut header; pcap-parser
        // would only say "Incomplete read: 2"
        Err(PcapError::Incomplete(_)) if head_len < 28 => {
            report.fail(Problem::CutHeader(head_len));
            return (report, notes);
        }
        Err(e) => {
            report.fail(Problem::NotACapture(e.to_string()));
            return (report, notes);
        }
    };
    let mut ifaces: Vec<Iface> = Vec::new();
    // classic pcap: one link type and µs or ns times for the whole file
    let mut legacy_linktype = Linktype::ETHERNET;
    let mut legacy_ticks = 1e6;
    let mut stalled = 0;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                stalled = 0;
                let packet = match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy_linktype = h.network;
                        legacy_ticks = if h.is_nanosecond_precision() {
                            1e9
                        } else {
                            1e6
                        };
                        None
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let ts = f64::from(b.ts_sec) + f64::from(b.ts_usec) / legacy_ticks;
                        Some((ts, legacy_linktype, b.data, b.caplen as usize))
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                        ifaces.clear(); // interface ids are per section
                        None
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        ifaces.push(Iface {
                            linktype: idb.linktype,
                            resolution: ticks_per_second(idb.if_tsresol),
                            offset: idb.if_tsoffset,
                            tsresol: idb.if_tsresol,
                        });
                        None
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let iface = ifaces.get(epb.if_id as usize);
                        let time = iface.and_then(|i| {
                            let ticks = i.resolution?;
                            Some(pcapng_time(epb.ts_high, epb.ts_low, ticks, i.offset))
                        });
                        match (iface, time) {
                            (Some(i), Some(ts)) if ts.abs() < MAX_SECONDS => {
                                Some((ts, i.linktype, epb.data, epb.caplen as usize))
                            }
                            _ => {
                                packets += 1;
                                report.skipped += 1;
                                if notes.len() < MAX_EXAMPLES {
                                    let why = match (iface, time) {
                                        (None, _) => format!("unknown interface {}", epb.if_id),
                                        (Some(i), None) => format!(
                                            "interface {}: unsupported time resolution 0x{:02x}",
                                            epb.if_id, i.tsresol
                                        ),
                                        (Some(_), Some(ts)) => {
                                            format!("time out of range ({ts:e} s)")
                                        }
                                    };
                                    notes.push((packets, why));
                                }
                                None
                            }
                        }
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => ifaces.first().map(|i| {
                        let len = (spb.origlen as usize).min(spb.data.len());
                        (0.0, i.linktype, spb.data, len)
                    }),
                    PcapBlockOwned::NG(_) => None,
                };
                if let Some((ts, linktype, data, caplen)) = packet {
                    if !each(ts, linktype, data, caplen.min(data.len()), packets + 1) {
                        break;
                    }
                    packets += 1;
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                stalled += 1;
                if stalled > 2 {
                    // the buffer is full and still too small for one block: grow it
                    let size = reader.data().len().max(1 << 20) * 2;
                    if size > 1 << 28 || !reader.grow(size) {
                        report.fail(Problem::BlockTooLarge(packets + 1));
                        break;
                    }
                }
                if reader.refill().is_err() {
                    report.fail(Problem::ReadAfterPacket(packets));
                    break;
                }
            }
            Err(PcapError::UnexpectedEof) => {
                report.fail(Problem::Truncated(packets));
                break;
            }
            Err(e) => {
                report.fail(Problem::Corrupt {
                    packet: packets,
                    reason: e.to_string(),
                });
                break;
            }
        }
    }
    if cut && report.error.is_none() {
        report.fail(Problem::ReadAfterPacket(packets));
    }
    report.data_lines = packets;
    (report, notes)
}

/// Decodes the packets of a chunk (in parallel) into what the flow assembler takes.
fn decode_chunk(chunk: &Chunk, found: &mut Decoded) -> Vec<Packet> {
    use rayon::prelude::*;
    let base = chunk.data.as_ptr() as usize;
    let parts: Vec<(Vec<Packet>, Decoded)> = chunk
        .packets
        .par_chunks(4096)
        .map(|raws| {
            let mut out = Vec::with_capacity(raws.len());
            let mut d = Decoded::default();
            for r in raws {
                let at = r.at as usize;
                let data = chunk
                    .data
                    .get(at..at + r.caplen as usize)
                    .unwrap_or_default();
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
                        Ok(Kind::Ip(meta, payload)) => {
                            d.stats.ip += 1;
                            out.push(Packet {
                                meta,
                                at: if payload.is_empty() {
                                    0
                                } else {
                                    (payload.as_ptr() as usize).wrapping_sub(base) as u32
                                },
                                len: payload.len() as u32,
                                shard: shard_of(&meta),
                            });
                        }
                        Ok(Kind::Arp(event)) => {
                            d.stats.arp += 1;
                            d.arp.extend(event);
                        }
                        Ok(Kind::Other) => d.stats.other += 1,
                        Ok(Kind::Fragment) => d.stats.fragments += 1,
                        Err(e) => fail(&mut d, e),
                    },
                }
            }
            (out, d)
        })
        .collect();
    let mut packets = Vec::with_capacity(chunk.packets.len());
    for (p, d) in parts {
        packets.extend(p);
        found.stats.ip += d.stats.ip;
        found.stats.arp += d.stats.arp;
        found.stats.other += d.stats.other;
        found.stats.fragments += d.stats.fragments;
        found.arp.extend(d.arp);
        found.skipped += d.skipped;
        if found.notes.len() < MAX_EXAMPLES {
            found.notes.extend(d.notes);
        }
    }
    packets
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
    let mut capture = Capture::new(timeouts);
    let mut reports: Vec<Option<FileReport>> = vec![None; ordered.len()];
    let mut found: Vec<Decoded> = (0..ordered.len()).map(|_| Decoded::default()).collect();
    let mut arp: Vec<crate::record::Activity> = Vec::new();
    let (tx, rx) = sync_channel::<Msg>(2);
    let (back, spare) = channel::<Vec<u8>>();
    std::thread::scope(|s| {
        s.spawn(|| {
            let (spare, tx) = (spare, tx);
            let fresh = |spare: &std::sync::mpsc::Receiver<Vec<u8>>| {
                let mut data = spare
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(CHUNK_BYTES + (1 << 16)));
                data.clear();
                data
            };
            for (file, path) in ordered.iter().enumerate() {
                let mut chunk = Chunk {
                    file,
                    data: fresh(&spare),
                    packets: Vec::new(),
                };
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
                            let next = Chunk {
                                file,
                                data: fresh(&spare),
                                packets: Vec::with_capacity(chunk.packets.len()),
                            };
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
        for msg in rx {
            match msg {
                Msg::Chunk(chunk) => {
                    let Some(f) = found.get_mut(chunk.file) else {
                        continue;
                    };
                    let packets = decode_chunk(&chunk, f);
                    capture.feed(&packets, &chunk.data);
                    let _ = back.send(chunk.data);
                }
                Msg::Done(file, mut report, mut notes) => {
                    let mut f = std::mem::take(&mut found[file]);
                    arp.append(&mut f.arp);
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
        }
    });
    let mut batch = capture.finish();
    batch.activity = arp;
    (batch, reports.into_iter().flatten().collect())
}
