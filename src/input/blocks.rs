//! The blocks of a capture file: classic pcap or pcapng, plain or gzip, walked packet by
//! packet with each interface's link type and clock, and an exact account of why the walk
//! stopped early (where, and what the bytes there say).
//!
//! pcap-parser frames the blocks. Its errors are not fit for a user ("Buffer is too small",
//! or a nom error with the whole buffer in it), so a stop is described here from the bytes
//! of the block that failed.

use super::fields::MAX_SECONDS;
use super::{FileReport, MAX_EXAMPLES, Problem};
use crate::record::LogKind;
use pcap_parser::pcapng::Block;
use pcap_parser::{Linktype, PcapBlockOwned, PcapError};
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The largest block read (a packet with its header). Real links stop at 256 KiB (the largest
/// snapshot length tcpdump and Wireshark write); buffering a corrupt header's claim of
/// gigabytes would let 16 bytes cost that much memory.
pub(crate) const MAX_BLOCK: usize = 64 << 20;

/// Whether a file is a pcap or pcapng capture (plain or gzip), by its first four bytes; when
/// it is not, why (cannot be opened, empty or too short, or the magic number it has).
pub(crate) fn sniff_capture(path: &Path) -> Result<(), Problem> {
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

/// Called with each packet: time, link type, bytes, captured length, packet number; false stops.
pub(crate) type PacketFn<'a> = dyn FnMut(f64, Linktype, &[u8], usize, u64) -> bool + 'a;

/// How the blocks are framed (learnt from the file or section header).
#[derive(Debug, Clone, Copy, Default)]
struct Framing {
    ng: bool,
    big_endian: bool,
}

impl Framing {
    fn u32_at(self, b: &[u8], at: usize) -> Option<u32> {
        let bytes: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        })
    }

    /// The whole length the block at the start of `next` claims, header included.
    fn claimed(self, next: &[u8]) -> Option<u64> {
        if self.ng {
            self.u32_at(next, 4).map(u64::from)
        } else {
            self.u32_at(next, 8).map(|caplen| u64::from(caplen) + 16)
        }
    }

    /// What is wrong with the block at the start of `next`, when its header shows it.
    fn fault(self, next: &[u8]) -> Option<String> {
        let claimed = self.claimed(next)?;
        if self.ng && (claimed < 12 || claimed % 4 != 0) {
            return Some(format!(
                "block length {claimed} is impossible (at least 12 and a multiple of 4)"
            ));
        }
        if claimed > MAX_BLOCK as u64 {
            return Some(too_large(self, claimed));
        }
        let trailing = usize::try_from(claimed - 4)
            .ok()
            .and_then(|at| self.u32_at(next, at));
        match trailing {
            Some(t) if self.ng && u64::from(t) != claimed => Some(format!(
                "the block's trailing length {t} differs from its leading length {claimed}"
            )),
            _ => None,
        }
    }
}

fn too_large(framing: Framing, claimed: u64) -> String {
    if framing.ng {
        format!(
            "a block claims {claimed} bytes, more than the {} MiB any block may have",
            MAX_BLOCK >> 20
        )
    } else {
        format!(
            "a packet claims {} captured bytes, more than the {} MiB any packet may have",
            claimed - 16,
            MAX_BLOCK >> 20
        )
    }
}

/// A reader that keeps its last I/O error: pcap-parser reports only "read error".
struct Noting<R> {
    inner: R,
    error: Arc<Mutex<Option<String>>>,
}

impl<R: Read> Read for Noting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let r = self.inner.read(buf);
        if let Err(e) = &r {
            if let Ok(mut last) = self.error.lock() {
                *last = Some(e.to_string());
            }
        }
        r
    }
}

fn last_error(cell: &Mutex<Option<String>>) -> Option<String> {
    cell.lock().ok().and_then(|e| e.clone())
}

/// Why pcap-parser stopped, without its borrowed buffer.
enum Stop {
    /// More bytes are needed than the buffer holds now.
    NeedMore,
    /// More bytes are needed than the buffer can ever hold.
    TooSmall,
    /// The file ends inside a block, or reading it failed (a cut .gz).
    Cut,
    /// The block does not parse.
    Unparsable(String),
}

/// Walks the packets of one capture, calling `each(ts, linktype, data, caplen, number)` for
/// each until it returns false. Returns the file's report (packets, errors) and the first notes.
pub(crate) fn walk(
    path: &Path,
    peek: bool,
    each: &mut PacketFn<'_>,
) -> (FileReport, Vec<(u64, String)>) {
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
    let io_error = Arc::new(Mutex::new(None));
    if let Err(e) = (&mut input).take(1 << 16).read_to_end(&mut head) {
        if head.is_empty() {
            report.fail(Problem::Read(e.to_string()));
            return (report, notes);
        }
        if let Ok(mut last) = io_error.lock() {
            *last = Some(e.to_string());
        }
        input = Box::new(std::io::empty());
    }
    let head_len = head.len();
    let input = Noting {
        inner: std::io::Cursor::new(head).chain(input),
        error: Arc::clone(&io_error),
    };
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
    let mut framing = Framing::default();
    // classic pcap: one link type and µs or ns times for the whole file
    let mut legacy_linktype = Linktype::ETHERNET;
    let mut legacy_ticks = 1e6;
    let mut stalled = 0;
    loop {
        let stop = match reader.next() {
            Ok((offset, block)) => {
                stalled = 0;
                let packet = match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        framing = Framing {
                            ng: false,
                            big_endian: h.is_bigendian(),
                        };
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
                    PcapBlockOwned::NG(Block::SectionHeader(shb)) => {
                        framing = Framing {
                            ng: true,
                            big_endian: shb.big_endian(),
                        };
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
                // not shifted now: `refill` moves the unread rest to the front, when only a
                // part of one block is left (a shift at each consume moved every byte once)
                reader.consume_noshift(offset);
                continue;
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => Stop::NeedMore,
            Err(PcapError::BufferTooSmall) => Stop::TooSmall,
            // a failing read is a cut too: a cut .gz fails to read where its data ends
            Err(PcapError::UnexpectedEof | PcapError::ReadError) => Stop::Cut,
            Err(PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind)) => {
                Stop::Unparsable(format!("the block does not parse ({kind:?})"))
            }
            Err(e) => Stop::Unparsable(e.to_string()),
        };
        // the unread rest starts with the block that stopped the walk
        let next = reader.data();
        let byte = reader.consumed() as u64;
        match stop {
            Stop::NeedMore if stalled < 2 => {}
            Stop::NeedMore | Stop::TooSmall => {
                // the buffer is full and still too small for one block: grow it, up to a bound
                let claimed = framing.claimed(next).unwrap_or(0);
                if claimed > MAX_BLOCK as u64 {
                    report.fail(Problem::Corrupt {
                        packet: packets,
                        byte,
                        reason: too_large(framing, claimed),
                    });
                    break;
                }
                let size = (reader.data().len().max(1 << 20) * 2).max(claimed as usize + 16);
                if !reader.grow(size.min(MAX_BLOCK + (1 << 20))) {
                    report.fail(Problem::Corrupt {
                        packet: packets,
                        byte,
                        reason: too_large(framing, claimed),
                    });
                    break;
                }
            }
            Stop::Cut => {
                let have = next.len() as u64;
                let whole = packets;
                if have > 0 {
                    // the cut block is counted as a skipped packet
                    packets += 1;
                    report.skipped += 1;
                    if notes.len() < MAX_EXAMPLES {
                        let claimed = framing
                            .claimed(next)
                            .map_or(String::new(), |c| format!(" of the {c} its header gives"));
                        notes.push((
                            packets,
                            format!("cut: only {have} bytes{claimed} are in the file"),
                        ));
                    }
                }
                report.fail(Problem::Truncated {
                    packets: whole,
                    byte: byte + have,
                    reason: last_error(&io_error),
                });
                break;
            }
            Stop::Unparsable(reason) => {
                report.fail(Problem::Corrupt {
                    packet: packets,
                    byte,
                    reason: framing.fault(next).unwrap_or(reason),
                });
                break;
            }
        }
        stalled += 1;
        if reader.refill().is_err() {
            report.fail(Problem::ReadAfterPacket {
                packets,
                reason: last_error(&io_error).unwrap_or_else(|| "read error".into()),
            });
            break;
        }
    }
    if report.error.is_none() {
        // a .gz cut in its first 64 kB: its decoded head was read, then the read failed
        if let Some(reason) = last_error(&io_error) {
            report.fail(Problem::ReadAfterPacket { packets, reason });
        }
    }
    report.data_lines = packets;
    (report, notes)
}
