//! The fast lane for conn.log TSV lines: one pass over a line's bytes into a [`Conn`], for the
//! lines that need nothing the general row reader ([`super::build::conn`] over a
//! [`super::build::TsvRow`]) does beyond plain values.
//!
//! A conn.log is most of a Zeek directory's lines, and nearly all of them are plain: decimal
//! times and counts, dotted addresses, short words. The general reader splits every column into
//! a vector, compares each with the unset and empty markers through a trait object of typed
//! getters, unescapes every string and parses times with the standard float parser: about
//! 4,000 instructions a line. Here each wanted column is parsed where it lies, and a number
//! (time, port, count, dotted address) in the same pass that finds the column's end: a search
//! for the separator followed by a second walk over the digits was a fifth of the lane's time.
//!
//! Zeek's default layout (its columns in its order, `-` and `(empty)` as markers; nearly every
//! conn.log) is read by straight code, one call per column in that order
//! ([`default_layout`]); a line it does not take goes through the loop over the columns.
//!
//! It gives the same record as the general reader or declines: a line with an escape
//! (`\x..`), an `#empty_field` marker, a time in another notation (`1e9`, `+5`), a count with a
//! fraction, an error, or too few columns goes to the general reader, which also says what is
//! wrong with it. A property test holds the two readers equal.

use super::fields::{count_at, decimal, digits_at};
use crate::record::{Conn, ConnState, Proto, Sym, SymCache, Uid, ipv4_at, parse_ip};

/// What one column of the file is to a conn record: the position of the wanted field
/// (`build::CONN_WANTED`) it holds, or `None` when no wanted field is there.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Wanted field of each column, for the first `width` columns.
    columns: Vec<Option<u8>>,
    sep: u8,
    unset: Vec<u8>,
    empty: Vec<u8>,
    /// Whether a number can be read in the same pass that finds its column's end: neither
    /// marker looks like a number, so a column of digits is never a marker.
    numbers_fuse: bool,
    /// Whether the columns are Zeek's default ones, in its order, with its markers: then
    /// [`default_layout`] reads a line first.
    default_layout: bool,
}

/// Wanted-field positions, as in `build::CONN_WANTED`.
mod field {
    pub const TS: u8 = 0;
    pub const UID: u8 = 1;
    pub const ORIG_H: u8 = 2;
    pub const ORIG_P: u8 = 3;
    pub const RESP_H: u8 = 4;
    pub const RESP_P: u8 = 5;
    pub const PROTO: u8 = 6;
    pub const SERVICE: u8 = 7;
    pub const DURATION: u8 = 8;
    pub const ORIG_BYTES: u8 = 9;
    pub const RESP_BYTES: u8 = 10;
    pub const CONN_STATE: u8 = 11;
    pub const HISTORY: u8 = 12;
    pub const ORIG_PKTS: u8 = 13;
    pub const ORIG_IP_BYTES: u8 = 14;
    pub const RESP_PKTS: u8 = 15;
    pub const RESP_IP_BYTES: u8 = 16;
    pub const LOCAL_ORIG: u8 = 17;
    pub const LOCAL_RESP: u8 = 18;
    /// How many there are.
    pub const COUNT: usize = 19;
}

impl Plan {
    /// The plan for a header whose wanted field `i` is in column `map[i]`; `None` when the
    /// header does not have the shape this lane reads (the general reader then reads it all).
    pub(crate) fn new(
        map: &[Option<usize>],
        width: usize,
        sep: u8,
        unset: &str,
        empty: &str,
    ) -> Option<Plan> {
        // a separator that is not ASCII is split differently by the general reader
        if map.len() != field::COUNT || map[usize::from(field::TS)].is_none() || !sep.is_ascii() {
            return None;
        }
        let mut columns = vec![None; width];
        for (wanted, column) in map.iter().enumerate() {
            if let Some(c) = *column {
                *columns.get_mut(c)? = Some(u8::try_from(wanted).ok()?);
            }
        }
        let numeric = |m: &[u8]| m.iter().any(|&b| b.is_ascii_digit() || b == b'.');
        let default_columns = super::build::CONN_WANTED
            .iter()
            .enumerate()
            .all(|(wanted, name)| {
                map[wanted] == super::build::CONN_DEFAULT.iter().position(|c| c == name)
            });
        Some(Plan {
            default_layout: default_columns
                && width == DEFAULT_WIDTH
                && unset == "-"
                && empty == "(empty)",
            columns,
            sep,
            unset: unset.as_bytes().to_vec(),
            empty: empty.as_bytes().to_vec(),
            numbers_fuse: !numeric(unset.as_bytes())
                && !numeric(empty.as_bytes())
                && !numeric(&[sep]),
        })
    }
}

/// A connection and whether Zeek marked its originator and responder local.
pub(crate) type Parsed = (Conn, [bool; 2]);

/// Reads one line (without its `\n`); `None` sends it to the general reader. `escaped` says
/// whether the line holds a backslash anywhere (its text columns are then searched for one).
pub(crate) fn parse(line: &str, escaped: bool, plan: &Plan, syms: &mut SymCache) -> Option<Parsed> {
    if plan.default_layout
        && !escaped
        && let Some(parsed) = default_layout(line, plan.sep, syms)
    {
        return Some(parsed);
    }
    let bytes = line.as_bytes();
    let mut c = Conn {
        ts: 0.0,
        duration: 0.0,
        uid: Uid::default(),
        orig_h: std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        orig_p: 0,
        resp_h: std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        resp_p: 0,
        proto: Proto::Unknown,
        service: Sym::default(),
        conn_state: ConnState::Unset,
        orig_bytes: 0,
        resp_bytes: 0,
        history: Sym::default(),
        orig_pkts: 0,
        orig_ip_bytes: 0,
        resp_pkts: 0,
        resp_ip_bytes: 0,
    };
    let mut local = [false; 2];
    // the addresses are required: both must have been read
    let mut addresses = 0u8;
    let last = plan.columns.len().checked_sub(1)?;
    let mut start = 0;
    for (n, wanted) in plan.columns.iter().enumerate() {
        if start > bytes.len() {
            return None; // fewer columns than the header's
        }
        let Some(wanted) = *wanted else {
            start = find(plan.sep, bytes, start) + 1;
            continue;
        };
        if plan.numbers_fuse
            && let Some(end) = number(wanted, bytes, start, plan.sep, &mut c, &mut addresses)
        {
            start = end + 1;
            continue;
        }
        let end = find(plan.sep, bytes, start);
        let mut value = &line[start..end];
        start = end + 1;
        if n == last {
            // the general reader strips a CR from the last column it reads
            value = value.strip_suffix('\r').unwrap_or(value);
        }
        let v = value.as_bytes();
        if is(v, &plan.empty) {
            return None;
        }
        let unset = is(v, &plan.unset);
        match wanted {
            field::TS => c.ts = if unset { return None } else { seconds(v)? },
            field::DURATION => c.duration = if unset { 0.0 } else { seconds(v)? },
            field::ORIG_H | field::RESP_H => {
                let ip = if unset { return None } else { parse_ip(value)? };
                if wanted == field::ORIG_H {
                    c.orig_h = ip;
                } else {
                    c.resp_h = ip;
                }
                addresses += 1;
            }
            field::ORIG_P => c.orig_p = if unset { 0 } else { port(v)? },
            field::RESP_P => c.resp_p = if unset { 0 } else { port(v)? },
            field::ORIG_BYTES => c.orig_bytes = if unset { 0 } else { decimal(v)? },
            field::RESP_BYTES => c.resp_bytes = if unset { 0 } else { decimal(v)? },
            field::ORIG_PKTS => c.orig_pkts = if unset { 0 } else { decimal(v)? },
            field::ORIG_IP_BYTES => c.orig_ip_bytes = if unset { 0 } else { decimal(v)? },
            field::RESP_PKTS => c.resp_pkts = if unset { 0 } else { decimal(v)? },
            field::RESP_IP_BYTES => c.resp_ip_bytes = if unset { 0 } else { decimal(v)? },
            field::LOCAL_ORIG => local[0] = !unset && v == b"T",
            field::LOCAL_RESP => local[1] = !unset && v == b"T",
            // the text fields: an escaped value goes to the general reader, which unescapes
            _ if unset => {}
            _ if escaped && v.contains(&b'\\') => return None,
            field::UID => c.uid = Uid::new(value),
            field::PROTO => c.proto = Proto::from_zeek(value),
            // Zeek's "-" is unset even where the file names another marker
            field::SERVICE if value != "-" => c.service = syms.get(value),
            field::CONN_STATE => c.conn_state = ConnState::from_zeek(value),
            field::HISTORY => c.history = syms.get(value),
            _ => {}
        }
    }
    (addresses == 2).then_some((c, local))
}

/// How many columns of Zeek's default layout are read: all but the last, `tunnel_parents`.
const DEFAULT_WIDTH: usize = 20;

/// Reads a line of Zeek's default layout with its markers (`-` unset, `(empty)` empty) in
/// one straight pass, each column by the code for its field; `None` for anything it does not
/// take (an IPv6 address, a marker where a value is required, a `\r`, too few columns, ...),
/// which [`parse`]'s column loop then reads or declines.
///
/// The loop looks each column's field up and jumps to its code twice, to a target that changes
/// from column to column: cachegrind's simulated predictor missed 25 of those jumps a line,
/// and timed, a line took about 16 % longer than here (best rounds of a single-thread loop over
/// the realistic 1 M-line log: 244–250 ns against 211–214 ns), where the order is in the code.
fn default_layout(line: &str, sep: u8, syms: &mut SymCache) -> Option<Parsed> {
    let b = line.as_bytes();
    let (ts, at) = value(b, sep, 0, seconds_at(b, 0), None)?;
    let (uid, at) = text(line, sep, at)?;
    let (orig_h, at) = value(b, sep, at, ipv4_at(b, at), None)?;
    let (orig_p, at) = value(b, sep, at, port_at(b, at), Some(0))?;
    let (resp_h, at) = value(b, sep, at, ipv4_at(b, at), None)?;
    let (resp_p, at) = value(b, sep, at, port_at(b, at), Some(0))?;
    let (proto, at) = text(line, sep, at)?;
    let (service, at) = text(line, sep, at)?;
    let (duration, at) = value(b, sep, at, seconds_at(b, at), Some(0.0))?;
    let (orig_bytes, at) = value(b, sep, at, count_at(b, at), Some(0))?;
    let (resp_bytes, at) = value(b, sep, at, count_at(b, at), Some(0))?;
    let (conn_state, at) = text(line, sep, at)?;
    let (local_orig, at) = text(line, sep, at)?;
    let (local_resp, at) = text(line, sep, at)?;
    // missed_bytes is not read
    let (_, at) = text(line, sep, at)?;
    let (history, at) = text(line, sep, at)?;
    let (orig_pkts, at) = value(b, sep, at, count_at(b, at), Some(0))?;
    let (orig_ip_bytes, at) = value(b, sep, at, count_at(b, at), Some(0))?;
    let (resp_pkts, at) = value(b, sep, at, count_at(b, at), Some(0))?;
    // the last column read: a `\r` after it is left to the loop, which strips it
    let (resp_ip_bytes, _) = value(b, sep, at, count_at(b, at), Some(0))?;
    let flag = |v: &str| match v {
        "T" => Some(true),
        "F" | "-" => Some(false),
        _ => None,
    };
    let local = [flag(local_orig)?, flag(local_resp)?];
    let mut sym = |v: &str| {
        if v == "-" {
            Sym::default()
        } else {
            syms.get(v)
        }
    };
    let conn = Conn {
        ts,
        duration,
        uid: if uid == "-" {
            Uid::default()
        } else {
            Uid::new(uid)
        },
        orig_h,
        orig_p,
        resp_h,
        resp_p,
        proto: Proto::from_zeek(proto),
        service: sym(service),
        conn_state: ConnState::from_zeek(conn_state),
        orig_bytes,
        resp_bytes,
        history: sym(history),
        orig_pkts,
        orig_ip_bytes,
        resp_pkts,
        resp_ip_bytes,
    };
    Some((conn, local))
}

/// A value read from the column at `at` (`read`, with where it ended) when the column ends
/// there, or `if_unset` when the column is the unset marker `-`; with where the next column
/// starts.
#[inline]
fn value<T>(
    b: &[u8],
    sep: u8,
    at: usize,
    read: Option<(T, usize)>,
    if_unset: Option<T>,
) -> Option<(T, usize)> {
    let ends = |end: usize| b.get(end).is_none_or(|&e| e == sep);
    match read {
        Some((v, end)) if ends(end) => Some((v, end + 1)),
        _ if b.get(at) == Some(&b'-') && ends(at + 1) => Some((if_unset?, at + 2)),
        _ => None,
    }
}

/// The text column at `at`, unless it is missing or the empty marker `(empty)`; with where the
/// next column starts.
#[inline]
fn text(line: &str, sep: u8, at: usize) -> Option<(&str, usize)> {
    let end = find(sep, line.as_bytes(), at);
    let v = line.get(at..end)?;
    (v != "(empty)").then_some((v, end + 1))
}

/// Reads a numeric column (time, interval, port, count, dotted IPv4 address) starting at `at`
/// in the pass that finds its end, and returns that end (the separator's position or the
/// line's length). `None` when the column is not a plain number ending at a separator: the
/// caller then reads it as any other column, which also decides what it is.
#[inline]
fn number(
    wanted: u8,
    b: &[u8],
    at: usize,
    sep: u8,
    c: &mut Conn,
    addresses: &mut u8,
) -> Option<usize> {
    let ends = |i: usize| b.get(i).is_none_or(|&e| e == sep);
    match wanted {
        field::TS => put(seconds_at(b, at), ends, &mut c.ts),
        field::DURATION => put(seconds_at(b, at), ends, &mut c.duration),
        field::ORIG_H | field::RESP_H => {
            let slot = if wanted == field::ORIG_H {
                &mut c.orig_h
            } else {
                &mut c.resp_h
            };
            let end = put(ipv4_at(b, at), ends, slot)?;
            *addresses += 1;
            Some(end)
        }
        field::ORIG_P => put(port_at(b, at), ends, &mut c.orig_p),
        field::RESP_P => put(port_at(b, at), ends, &mut c.resp_p),
        field::ORIG_BYTES => put(count_at(b, at), ends, &mut c.orig_bytes),
        field::RESP_BYTES => put(count_at(b, at), ends, &mut c.resp_bytes),
        field::ORIG_PKTS => put(count_at(b, at), ends, &mut c.orig_pkts),
        field::ORIG_IP_BYTES => put(count_at(b, at), ends, &mut c.orig_ip_bytes),
        field::RESP_PKTS => put(count_at(b, at), ends, &mut c.resp_pkts),
        field::RESP_IP_BYTES => put(count_at(b, at), ends, &mut c.resp_ip_bytes),
        _ => None,
    }
}

/// Stores a value read from a column in `slot` when the column ends where the value does;
/// returns that end.
#[inline]
fn put<T>(read: Option<(T, usize)>, ends: impl Fn(usize) -> bool, slot: &mut T) -> Option<usize> {
    let (value, end) = read.filter(|&(_, end)| ends(end))?;
    *slot = value;
    Some(end)
}

/// A time or interval written `digits[.digits]` from `at` on, as the standard parser reads
/// it, and where it ends.
///
/// When the digits without the point make an integer below 2^53 and there are at most 15
/// after the point, both it and the power of ten are exact doubles, and IEEE division rounds
/// their quotient correctly: the result is the correctly rounded value of the decimal, which
/// is what `str::parse::<f64>` returns (Clinger's fast path). Anything else declines.
#[inline]
fn seconds_at(b: &[u8], at: usize) -> Option<(f64, usize)> {
    let (int, int_len) = digits_at(b, at);
    let mut end = at + int_len;
    let (mut m, mut frac_len) = (int, 0);
    if b.get(end) == Some(&b'.') {
        let (frac, len) = digits_at(b, end + 1);
        if len == 0 {
            return None; // "1." is for the general reader
        }
        m = int.wrapping_mul(*POW10_INT.get(len)?).wrapping_add(frac);
        frac_len = len;
        end += 1 + len;
    }
    if int_len == 0 || int_len + frac_len > 17 || m > 1 << 53 {
        return None;
    }
    let value = m as f64 / POW10.get(frac_len)?;
    (value < super::fields::MAX_SECONDS).then_some((value, end))
}

/// Exact powers of ten, as `f64`.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Powers of ten as integers, up to the 17 digits a time may have.
const POW10_INT: [u64; 18] = {
    let mut p = [1u64; 18];
    let mut i = 1;
    while i < 18 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

/// Whether a column is a marker (`-`, `(empty)`): compared in line, these are a byte or a few,
/// too short for a call to the library's `memcmp`.
fn is(v: &[u8], marker: &[u8]) -> bool {
    v.len() == marker.len() && v.iter().zip(marker).all(|(a, b)| a == b)
}

/// The position of the first `needle` in `hay` from `from` on, or `hay.len()`.
///
/// Columns are a few bytes long, too short for a SIMD search to pay for its setup: this looks
/// at eight bytes at a time in a register (a byte equal to the needle becomes zero, and the
/// classic zero-byte test marks it; the lowest mark is exact).
fn find(needle: u8, hay: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let pattern = ONES * u64::from(needle);
    let mut at = from;
    while let Some(word) = hay.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        let x = u64::from_le_bytes(*word) ^ pattern;
        let marks = x.wrapping_sub(ONES) & !x & HIGHS;
        if marks != 0 {
            return at + (marks.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    hay.get(at..)
        .and_then(|rest| rest.iter().position(|&b| b == needle))
        .map_or(hay.len(), |p| at + p)
}

/// A column that is wholly a port ([`port_at`] over all of it).
fn port(v: &[u8]) -> Option<u16> {
    port_at(v, 0).and_then(|(p, end)| (end == v.len()).then_some(p))
}

/// A port from `at` on: plain decimal digits up to 65535 (a float or a sign goes to the
/// general reader), and where it ends.
#[inline]
fn port_at(b: &[u8], at: usize) -> Option<(u16, usize)> {
    count_at(b, at).and_then(|(n, end)| Some((u16::try_from(n).ok()?, end)))
}

/// A column that is wholly a time or interval `digits[.digits]` ([`seconds_at`] over all of it).
fn seconds(v: &[u8]) -> Option<f64> {
    seconds_at(v, 0).and_then(|(value, end)| (end == v.len()).then_some(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Batch;

    #[test]
    fn the_field_positions_are_those_of_the_wanted_list() {
        // a list that moved would make every line decline (slow, not wrong): hold them together
        let wanted = crate::input::build::CONN_WANTED;
        assert_eq!(wanted.len(), field::COUNT);
        for (at, name) in [
            (field::TS, "ts"),
            (field::UID, "uid"),
            (field::ORIG_H, "id.orig_h"),
            (field::ORIG_P, "id.orig_p"),
            (field::RESP_H, "id.resp_h"),
            (field::RESP_P, "id.resp_p"),
            (field::PROTO, "proto"),
            (field::SERVICE, "service"),
            (field::DURATION, "duration"),
            (field::ORIG_BYTES, "orig_bytes"),
            (field::RESP_BYTES, "resp_bytes"),
            (field::CONN_STATE, "conn_state"),
            (field::HISTORY, "history"),
            (field::ORIG_PKTS, "orig_pkts"),
            (field::ORIG_IP_BYTES, "orig_ip_bytes"),
            (field::RESP_PKTS, "resp_pkts"),
            (field::RESP_IP_BYTES, "resp_ip_bytes"),
            (field::LOCAL_ORIG, "local_orig"),
            (field::LOCAL_RESP, "local_resp"),
        ] {
            assert_eq!(wanted[usize::from(at)], name);
        }
    }

    #[test]
    fn the_word_search_finds_what_a_byte_search_finds() {
        let hay: Vec<u8> = (0..200u32)
            .map(|i| [b'a', b'\t', 0x89, 0x09 | 0x80][(i * i % 7 % 4) as usize])
            .collect();
        for from in 0..=hay.len() {
            for needle in [b'\t', b'a', 0x89, 0x89 ^ 0x80, b'z'] {
                let naive = hay[from..]
                    .iter()
                    .position(|&b| b == needle)
                    .map_or(hay.len(), |p| from + p);
                assert_eq!(find(needle, &hay, from), naive, "{from} {needle}");
            }
        }
        assert_eq!(find(b'\t', b"", 0), 0);
        assert_eq!(find(b'\t', b"ab", 3), 2);
    }

    #[test]
    fn times_read_as_the_standard_parser_reads_them() {
        for s in [
            "1704099600.284173",
            "0.000001",
            "0",
            "12",
            "1.5",
            "9007199254.740992",
            "99999999999.999",
            "0.10000000000000001",
            "1234567890.12345678",
        ] {
            let ours = seconds(s.as_bytes());
            let std = s
                .parse::<f64>()
                .ok()
                .filter(|v| *v < super::super::fields::MAX_SECONDS);
            assert!(ours.is_none() || ours == std, "{s}: {ours:?} vs {std:?}");
        }
        // microsecond times from 1970 to 2255, as Zeek writes them, all in the lane
        let mut x = 1_704_099_600_000_000u64;
        for _ in 0..200_000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let us = x % 9_000_000_000_000_000;
            let s = format!("{}.{:06}", us / 1_000_000, us % 1_000_000);
            assert_eq!(seconds(s.as_bytes()), s.parse::<f64>().ok(), "{s}");
        }
        for bad in [
            "", ".", "1.", ".5", "1e5", "+1", "-1", "1.2.3", "nan", "inf", "1 ",
        ] {
            assert_eq!(seconds(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn a_marker_that_looks_like_a_number_is_still_a_marker() {
        // with "0" as the unset marker, a time of "0" is unset (the line is declined), not 0.0
        let columns = crate::input::build::CONN_DEFAULT;
        let map: Vec<Option<usize>> = crate::input::build::CONN_WANTED
            .iter()
            .map(|w| columns.iter().position(|c| c == w))
            .collect();
        let width = map.iter().flatten().max().map_or(0, |m| m + 1);
        let line =
            "0\tC1\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t-\t1.5\t1\t2\tSF\tF\tT\t0\tS\t1\t2\t3\t4\t-";
        let mut syms = SymCache::default();
        for (unset, read) in [("-", true), ("0", false)] {
            let plan =
                Plan::new(&map, width, b'\t', unset, "(empty)").unwrap_or_else(|| panic!("plan"));
            assert_eq!(plan.numbers_fuse, read, "{unset}");
            let parsed = parse(line, false, &plan, &mut syms);
            assert_eq!(parsed.is_some(), read, "{unset}");
        }
    }

    #[test]
    fn the_lane_and_the_general_reader_agree_on_every_line() {
        // lines built from plain and awkward values: the lane either declines or gives
        // exactly what the general reader gives
        let values: [&[&str]; 21] = [
            &[
                "1704099600.284173",
                "-",
                "(empty)",
                "1e9",
                "1.",
                "0",
                "99999999999999",
                "x",
            ],
            &["CAbc", "-", "(empty)", "C\\x41b", ""],
            &[
                "10.0.0.1",
                "2001:db8::1",
                "-",
                "256.1.1.1",
                "01.2.3.4",
                "x",
                "::ffff:1.2.3.4",
                "1.2.3.4.5",
                "1234.1.1.1",
                "0.0.0.0",
                "255.255.255.255",
                "1.2.3",
                "1.2.3.4x",
                "1.02.3.4",
            ],
            &["80", "-", "65536", "0", "1.0", "+1", ""],
            &[
                "192.168.1.1",
                "fe80::1%eth0",
                "-",
                "1.2.3",
                "10.0.0.256",
                "10.0.0.0\r",
            ],
            &["443", "-", "70000", "00443", "65535", "443x"],
            &["tcp", "udp", "icmp", "-", "T\\x43P"],
            &["-", "dns", "ssl,quic", "(empty)", "h\\x74tp"],
            &[
                "0.5",
                "-",
                "0",
                "1e3",
                "-1.5",
                "12345678901.5",
                "00012.5",
                "1.2.3",
                "0.123456789012345678",
            ],
            &[
                "0",
                "-",
                "18446744073709551615",
                "1.0",
                "x",
                "0000000000000000000001",
                "12x",
            ],
            &["12", "-", "99999999999999999999"],
            &["SF", "REJ", "-", "OTH", "S\\x30"],
            &["F", "T", "-", "(empty)"],
            &["T", "F", "-", "true"],
            &["0", "-"],
            &["ShADadFf", "-", "^d", "S\\x68"],
            &["1", "-", "2"],
            &["40", "-"],
            &["1", "-"],
            &["40", "-", "40\r"],
            &["-", "(empty)", "a,b"],
        ];
        let columns = crate::input::build::CONN_DEFAULT;
        assert_eq!(columns.len(), values.len());
        let map: Vec<Option<usize>> = crate::input::build::CONN_WANTED
            .iter()
            .map(|w| columns.iter().position(|c| c == w))
            .collect();
        let width = map.iter().flatten().max().map_or(0, |m| m + 1);
        let plan = Plan::new(&map, width, b'\t', "-", "(empty)").unwrap_or_else(|| panic!("plan"));
        let mut rng = crate::rng::Rng::new(0x2545_f491_4f6c_dd1d);
        let mut pick = |n: usize| rng.below(n as u64) as usize;
        assert!(plan.default_layout);
        let column_loop = Plan {
            default_layout: false,
            ..plan.clone()
        };
        let (mut lanes, mut straight_lines) = (0, 0);
        for round in 0..20_000 {
            let mut cols: Vec<&str> = values
                .iter()
                .map(|v| if pick(3) == 0 { v[pick(v.len())] } else { v[0] })
                .collect();
            if round % 50 == 0 {
                cols.truncate(pick(cols.len()));
            }
            let line = cols.join("\t");
            let mut syms = SymCache::default();
            let escaped = line.contains('\\');
            let ours = parse(&line, escaped, &plan, &mut syms);
            let mut split: Vec<&str> = line.split('\t').take(width).collect();
            // as `zeek::parse_record` does before it builds the record
            if let Some(last) = split.last_mut() {
                *last = last.strip_suffix('\r').unwrap_or(last);
            }
            let row = crate::input::build::TsvRow {
                cols: &split,
                map: &map,
                names: crate::input::build::CONN_WANTED,
                unset: "-",
                empty: "(empty)",
                set_sep: b',',
            };
            let general = if split.len() < width {
                None
            } else {
                crate::input::build::conn(&row, &mut syms).ok().map(|c| {
                    let mut batch = Batch::default();
                    crate::input::build::local_addresses(&row, &c, &mut batch.local_hosts);
                    (c, batch.local_hosts)
                })
            };
            // the straight reader of the default layout gives what the column loop gives,
            // or declines
            if !escaped && let Some(straight) = default_layout(&line, b'\t', &mut syms) {
                straight_lines += 1;
                let by_loop = parse(&line, escaped, &column_loop, &mut syms);
                assert_eq!(
                    format!("{:?}", Some(straight)),
                    format!("{by_loop:?}"),
                    "{line:?}"
                );
            }
            if let Some((c, local)) = ours {
                lanes += 1;
                let mut hosts = rustc_hash::FxHashSet::default();
                crate::input::build::mark_local(local, &c, &mut hosts);
                let (g, g_hosts) = general.unwrap_or_else(|| panic!("general refused {line:?}"));
                assert_eq!(format!("{c:?}"), format!("{g:?}"), "{line:?}");
                assert_eq!(hosts, g_hosts, "{line:?}");
            }
        }
        assert!(lanes > 1_000, "the lane took only {lanes} lines");
        assert!(
            straight_lines > 1_000,
            "the straight reader took only {straight_lines} lines"
        );
    }

    #[test]
    fn only_zeeks_default_layout_is_read_straight() {
        let plan_of = |columns: &[&str], unset: &str| {
            let map: Vec<Option<usize>> = crate::input::build::CONN_WANTED
                .iter()
                .map(|w| columns.iter().position(|c| c == w))
                .collect();
            let width = map.iter().flatten().max().map_or(0, |m| m + 1);
            Plan::new(&map, width, b'\t', unset, "(empty)").unwrap_or_else(|| panic!("plan"))
        };
        let default = crate::input::build::CONN_DEFAULT;
        assert!(plan_of(default, "-").default_layout);
        // later columns (newer Zeeks add some) change nothing before them
        let longer: Vec<&str> = default.iter().copied().chain(["ip_proto"]).collect();
        assert!(plan_of(&longer, "-").default_layout);
        // another marker, or two columns swapped, go to the column loop
        assert!(!plan_of(default, "NA").default_layout);
        let mut swapped = default.to_vec();
        swapped.swap(2, 4);
        assert!(!plan_of(&swapped, "-").default_layout);
        let without_history: Vec<&str> = default
            .iter()
            .copied()
            .filter(|c| *c != "history")
            .collect();
        assert!(!plan_of(&without_history, "-").default_layout);
    }
}
