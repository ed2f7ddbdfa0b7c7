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

/// How a classic pcap file frames its records: the record parser pcap-parser's own reader
/// picks for the file's header.
#[derive(Debug, Clone, Copy)]
enum LegacyFrames {
    Little,
    Big,
    /// The "modified" format (Kuznetzov's patches): 8 more bytes in each record header.
    Modified,
}

impl LegacyFrames {
    fn of(h: &pcap_parser::PcapHeader) -> Self {
        if h.is_modified_format() {
            LegacyFrames::Modified
        } else if h.is_bigendian() {
            LegacyFrames::Big
        } else {
            LegacyFrames::Little
        }
    }

    /// The record at the start of `data`, when it is whole and parses.
    fn parse(self, data: &[u8]) -> Option<(&[u8], pcap_parser::LegacyPcapBlock<'_>)> {
        match self {
            LegacyFrames::Little => pcap_parser::parse_pcap_frame(data),
            LegacyFrames::Big => pcap_parser::parse_pcap_frame_be(data),
            LegacyFrames::Modified => pcap_parser::parse_pcap_frame_modified(data),
        }
        .ok()
    }
}

/// A classic pcap record's time in seconds, its fraction in `ticks` a second.
fn legacy_time(b: &pcap_parser::LegacyPcapBlock<'_>, ticks: f64) -> f64 {
    f64::from(b.ts_sec) + f64::from(b.ts_usec) / ticks
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
/// each (time, link type, bytes, captured length, packet number) until it returns false.
/// Returns the file's report (packets, errors) and the first notes.
pub(crate) fn walk(
    path: &Path,
    peek: bool,
    each: &mut impl FnMut(f64, Linktype, &[u8], usize, u64) -> bool,
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
    // classic pcap's record framing, once its header is read
    let mut frames: Option<LegacyFrames> = None;
    let mut stalled = 0;
    loop {
        // The common case of classic pcap, a whole record in the buffer, is parsed here:
        // the reader's `next` builds its general block type for each record, which cost
        // more than the parse. Anything else (a cut record, the file's end, pcapng) is its.
        if let Some(frames) = frames {
            let data = reader.data();
            if let Some((rest, b)) = frames.parse(data) {
                let offset = data.len() - rest.len();
                let caplen = (b.caplen as usize).min(b.data.len());
                let ts = legacy_time(&b, legacy_ticks);
                if !each(ts, legacy_linktype, b.data, caplen, packets + 1) {
                    break;
                }
                packets += 1;
                stalled = 0;
                reader.consume_noshift(offset);
                continue;
            }
        }
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
                        frames = Some(LegacyFrames::of(&h));
                        legacy_ticks = if h.is_nanosecond_precision() {
                            1e9
                        } else {
                            1e6
                        };
                        None
                    }
                    PcapBlockOwned::Legacy(b) => Some((
                        legacy_time(&b, legacy_ticks),
                        legacy_linktype,
                        b.data,
                        b.caplen as usize,
                    )),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic pcap file of `packets` (time in ticks, bytes), in the framing `magic` names
    /// (written in the byte order the magic is read in), with `extra` bytes of each record
    /// header after the usual 16 (8 in the "modified" format).
    fn legacy(magic: u32, big: bool, extra: usize, packets: &[(u64, Vec<u8>)]) -> Vec<u8> {
        // as the file's byte order writes them: a 32-bit word, and the 16-bit version
        let word = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let version: [u8; 4] = if big { [0, 2, 0, 4] } else { [2, 0, 4, 0] };
        let mut out = Vec::new();
        out.extend(word(magic));
        out.extend(version);
        // time zone, accuracy, snapshot length, link type (Ethernet)
        for v in [0, 0, 262_144, 1] {
            out.extend(word(v));
        }
        let ticks_per_s = if magic == 0xa1b2_3c4d {
            1_000_000_000
        } else {
            1_000_000
        };
        for (ticks, bytes) in packets {
            out.extend(word((ticks / ticks_per_s) as u32));
            out.extend(word((ticks % ticks_per_s) as u32));
            out.extend(word(bytes.len() as u32));
            out.extend(word(bytes.len() as u32 + 4));
            out.extend(std::iter::repeat_n(0u8, extra));
            out.extend(bytes);
        }
        out
    }

    /// What pcap-parser's own reader gives for `bytes`: each record's time fields and bytes,
    /// up to the first record it cannot read.
    fn by_the_reader(bytes: &[u8]) -> Vec<(u32, u32, Vec<u8>)> {
        let mut out = Vec::new();
        let Ok(mut reader) = pcap_parser::create_reader(1 << 20, bytes) else {
            return out;
        };
        loop {
            match reader.next() {
                Ok((offset, block)) => {
                    if let PcapBlockOwned::Legacy(b) = block {
                        out.push((b.ts_sec, b.ts_usec, b.data.to_vec()));
                    }
                    reader.consume(offset);
                }
                Err(PcapError::Incomplete(_)) => {
                    if reader.refill().is_err() {
                        return out;
                    }
                }
                Err(_) => return out,
            }
        }
    }

    #[test]
    fn records_read_past_the_reader_are_those_it_reads() {
        // sizes from empty to jumbo, enough of them that the file crosses the 1 MiB buffer
        // many times and records straddle its refills
        let packets: Vec<(u64, Vec<u8>)> = (0..2_000u64)
            .map(|i| {
                let len = [0, 1, 60, 1514, 9000][(i % 5) as usize] + (i as usize * 7) % 41;
                let bytes = (0..len).map(|b| (b as u64 ^ i) as u8).collect();
                (1_700_000_000_000_000 + i * 1_234_567, bytes)
            })
            .collect();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let formats = [
            ("little-endian µs", 0xa1b2_c3d4, false, 0),
            ("big-endian µs", 0xa1b2_c3d4, true, 0),
            ("nanoseconds", 0xa1b2_3c4d, false, 0),
            ("modified", 0xa1b2_cd34, false, 8),
        ];
        for (name, magic, big, extra) in formats {
            let whole = legacy(magic, big, extra, &packets);
            let ticks = if magic == 0xa1b2_3c4d { 1e9 } else { 1e6 };
            // the whole file, a file cut inside a late record, and one cut inside a header
            for cut in [whole.len(), whole.len() - 100, whole.len() / 2 + 5] {
                let bytes = &whole[..cut];
                let path = dir.path().join("f.pcap");
                std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
                let mut seen: Vec<(f64, Vec<u8>, u64)> = Vec::new();
                let (report, _) = walk(&path, false, &mut |ts, linktype, data, caplen, n| {
                    assert_eq!(linktype, Linktype::ETHERNET);
                    seen.push((ts, data[..caplen].to_vec(), n));
                    true
                });
                let expected = by_the_reader(bytes);
                assert_eq!(seen.len(), expected.len(), "{name}, cut at {cut}");
                for (i, ((ts, data, n), (sec, frac, bytes))) in
                    seen.iter().zip(&expected).enumerate()
                {
                    assert_eq!(*n, i as u64 + 1, "{name}: packet numbers");
                    assert_eq!(data, bytes, "{name}: packet {n}");
                    // the same arithmetic gives the same bits
                    let want = f64::from(*sec) + f64::from(*frac) / ticks;
                    assert_eq!(ts.to_bits(), want.to_bits(), "{name}: packet {n}");
                }
                if cut == whole.len() {
                    assert_eq!(seen.len(), packets.len(), "{name}: every record");
                    assert!(report.error.is_none(), "{name}: {:?}", report.error);
                } else {
                    // the cut record is counted and skipped, and the cut is reported
                    assert_eq!(report.data_lines, seen.len() as u64 + 1, "{name}");
                    assert_eq!(report.skipped, 1, "{name}");
                    assert!(report.error.is_some(), "{name}: a cut file is an error");
                }
            }
        }
    }
}
