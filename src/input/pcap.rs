//! Packet captures in: classic pcap (either byte order, micro- or nanosecond) and pcapng
//! (several interfaces, each with its link type and time resolution), plain or gzip.
//!
//! pcap-parser streams the blocks and strips the link layer (Ethernet, Linux SLL/SLL2, raw IP,
//! BSD loopback, …); etherparse slices VLAN tags, IPv4/IPv6 and the transport header leniently,
//! so a packet cut by the snapshot length still counts. Packets become [`PacketMeta`] for the
//! flow assembler. A truncated file keeps everything before the cut and reports the packet
//! number; a file that is not a capture is reported, never a panic.

use super::{Batch, FileReport, MAX_EXAMPLES};
use crate::flow::{Assembler, PacketMeta, TcpFlags};
use crate::record::{LogKind, Proto};
use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};
use pcap_parser::data::{PacketData, get_packetdata};
use pcap_parser::pcapng::Block;
use pcap_parser::{Linktype, PcapBlockOwned, PcapError};
use std::net::IpAddr;
use std::path::Path;

/// Whether the file starts like a capture (pcap or pcapng, possibly gzipped).
pub(crate) fn is_capture(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let Ok(mut r) = super::zeek::open_log(path) else {
        return false;
    };
    if r.read_exact(&mut magic).is_err() {
        return false;
    }
    matches!(
        u32::from_le_bytes(magic),
        0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 | 0x0a0d_0d0a
    )
}

/// Per-interface decoding parameters.
#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: Linktype,
    /// Ticks per second.
    resolution: u64,
    offset: u64,
}

/// What a packet turned out to be.
enum Decoded<'a> {
    /// An IP packet the assembler takes, with its captured transport payload.
    Ip(PacketMeta, &'a [u8]),
    Arp,
    /// Not IP, or an IP protocol without a transport header kalipso assembles (yet).
    Other,
    /// A non-first IP fragment.
    Fragment,
}

fn decode<'a>(ts: f64, data: &PacketData<'a>) -> Result<Decoded<'a>, String> {
    let sliced = match data {
        PacketData::L2(d) => {
            LaxSlicedPacket::from_ethernet(d).map_err(|e| format!("ethernet: {e}"))?
        }
        PacketData::L3(ethertype, d) => {
            LaxSlicedPacket::from_ether_type(etherparse::EtherType(*ethertype), d)
        }
        PacketData::L4(..) | PacketData::Unsupported(_) => return Ok(Decoded::Other),
    };
    let (src, dst, ip_len, ip_payload_len, fragmented, v6) = match &sliced.net {
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
            )
        }
        Some(LaxNetSlice::Arp(_)) => return Ok(Decoded::Arp),
        None => return Ok(Decoded::Other),
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
        _ if fragmented => return Ok(Decoded::Fragment),
        _ => return Ok(Decoded::Other),
    };
    Ok(Decoded::Ip(meta, payload))
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

/// Reads one capture into `asm`; returns its report.
pub(crate) fn read_capture(path: &Path, asm: &mut Assembler) -> FileReport {
    read_capture_with(path, asm, &mut |_| true)
}

/// Reads one capture into `asm`, calling `more(ts)` before each packet; stops when it says no.
fn read_capture_with(
    path: &Path,
    asm: &mut Assembler,
    more: &mut dyn FnMut(f64) -> bool,
) -> FileReport {
    let mut report = FileReport::new(path, LogKind::Conn);
    let mut stats = CaptureStats::default();
    let mut input = match super::zeek::open_log(path) {
        Ok(r) => r,
        Err(e) => {
            report.error = Some(format!("cannot open: {e}"));
            return report;
        }
    };
    // pcap-parser decides the format from its first read: give it a full first buffer.
    let mut head = Vec::with_capacity(1 << 16);
    if let Err(e) =
        std::io::Read::read_to_end(&mut std::io::Read::take(&mut input, 1 << 16), &mut head)
    {
        report.error = Some(format!("cannot read: {e}"));
        return report;
    }
    let input = std::io::Read::chain(std::io::Cursor::new(head), input);
    let mut reader = match pcap_parser::create_reader(1 << 20, input) {
        Ok(r) => r,
        Err(e) => {
            report.error = Some(format!("not a pcap or pcapng capture: {e}"));
            return report;
        }
    };
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut legacy = Iface {
        linktype: Linktype::ETHERNET,
        resolution: 1_000_000,
        offset: 0,
    };
    let mut stalled = 0;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                stalled = 0;
                let packet = match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy.linktype = h.network;
                        legacy.resolution = if h.is_nanosecond_precision() {
                            1_000_000_000
                        } else {
                            1_000_000
                        };
                        None
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let ts =
                            f64::from(b.ts_sec) + f64::from(b.ts_usec) / legacy.resolution as f64;
                        Some((ts, legacy.linktype, b.data, b.caplen as usize))
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                        ifaces.clear(); // interface ids are per section
                        None
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        ifaces.push(Iface {
                            linktype: idb.linktype,
                            resolution: idb.ts_resolution().unwrap_or(1_000_000),
                            offset: u64::try_from(idb.if_tsoffset).unwrap_or(0),
                        });
                        None
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        if let Some(i) = ifaces.get(epb.if_id as usize) {
                            Some((
                                epb.decode_ts_f64(i.offset, i.resolution),
                                i.linktype,
                                epb.data,
                                epb.caplen as usize,
                            ))
                        } else {
                            stats.packets += 1;
                            report.skipped += 1;
                            note(
                                &mut report,
                                stats.packets,
                                &format!("unknown interface {}", epb.if_id),
                            );
                            None
                        }
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => ifaces.first().map(|i| {
                        let len = (spb.origlen as usize).min(spb.data.len());
                        (0.0, i.linktype, spb.data, len)
                    }),
                    PcapBlockOwned::NG(_) => None,
                };
                if let Some((ts, linktype, data, caplen)) = packet {
                    if !more(ts) {
                        break;
                    }
                    stats.packets += 1;
                    let caplen = caplen.min(data.len());
                    match get_packetdata(data, linktype, caplen) {
                        None | Some(PacketData::Unsupported(_)) => {
                            report.skipped += 1;
                            note(
                                &mut report,
                                stats.packets,
                                &format!("unsupported link type '{}'", linktype.0),
                            );
                        }
                        Some(pd) => match decode(ts, &pd) {
                            Ok(Decoded::Ip(meta, payload)) => {
                                stats.ip += 1;
                                asm.packet(&meta, payload);
                            }
                            Ok(Decoded::Arp) => stats.arp += 1,
                            Ok(Decoded::Other) => stats.other += 1,
                            Ok(Decoded::Fragment) => stats.fragments += 1,
                            Err(e) => {
                                report.skipped += 1;
                                note(&mut report, stats.packets, &e);
                            }
                        },
                    }
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
                        report.error = Some(format!(
                            "packet {}: block larger than 256 MB",
                            stats.packets + 1
                        ));
                        break;
                    }
                }
                if reader.refill().is_err() {
                    report.error = Some(format!("read error after packet {}", stats.packets));
                    break;
                }
            }
            Err(PcapError::UnexpectedEof) => {
                report.error = Some(format!(
                    "truncated after packet {} (the rest of the file is cut mid-packet)",
                    stats.packets
                ));
                break;
            }
            Err(e) => {
                report.error = Some(format!(
                    "corrupt capture after packet {}: {e}",
                    stats.packets
                ));
                break;
            }
        }
    }
    report.data_lines = stats.packets;
    report.records = stats.packets - report.skipped;
    report.capture = Some(stats);
    report
}

fn note(report: &mut FileReport, packet: u64, reason: &str) {
    if report.examples.len() < MAX_EXAMPLES {
        report
            .examples
            .push(format!("{}: packet {packet}: {reason}", report.path));
    }
}

/// The time of a capture's first packet (`None` if it has none or cannot be read).
fn first_timestamp(path: &Path) -> Option<f64> {
    let mut asm = Assembler::new(crate::flow::Timeouts::default());
    let mut first = None;
    read_capture_with(path, &mut asm, &mut |ts| {
        first = Some(ts);
        false
    });
    first
}

/// Reads captures into one flow assembler, ordered by their first packet, so a connection
/// continues across files (ties keep path order).
pub(crate) fn read_captures(
    paths: &[std::path::PathBuf],
    timeouts: crate::flow::Timeouts,
) -> (Batch, Vec<FileReport>) {
    let mut asm = Assembler::new(timeouts);
    let mut ordered: Vec<(f64, &std::path::PathBuf)> = paths
        .iter()
        .map(|p| (first_timestamp(p).unwrap_or(f64::INFINITY), p))
        .collect();
    ordered.sort_by(|a, b| a.0.total_cmp(&b.0));
    let reports: Vec<FileReport> = ordered
        .into_iter()
        .map(|(_, p)| read_capture(p, &mut asm))
        .collect();
    let batch = asm.finish_all();
    (batch, reports)
}
