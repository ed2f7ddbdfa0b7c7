//! DNS messages as dns.log records: header, first question, answers with name compression
//! (loops refused), and the record types Zeek shows in `answers`; Zeek's names for query
//! types, classes and response codes, and decoded `NetBIOS` names. Hand-written because no
//! crate accepts every query type Zeek logs.
//!
//! It keeps no connection state.

use super::text::HEX;
use std::net::{IpAddr, Ipv6Addr};

/// One resource record of an answer section.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Record type.
    pub rtype: u16,
    /// Time to live, seconds.
    pub ttl: u32,
    /// As Zeek shows it in `answers` (`None` for types Zeek leaves out).
    pub text: Option<String>,
}

/// A well-formed name inside a message, built into text only when asked: most names a
/// message carries are never shown (a response repeats its query's question, and its first
/// answer's owner is shown only when it has no question), and building them was most of the
/// capture path's DNS time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NameAt<'a> {
    message: &'a [u8],
    at: usize,
}

impl NameAt<'_> {
    /// The name as Zeek logs it (lower case, odd bytes escaped).
    pub fn text(&self) -> String {
        // checked when the message was parsed, so it reads the same way again
        name(self.message, self.at, &mut Vec::new())
            .map(|(text, _)| text)
            .unwrap_or_default()
    }
}

/// A parsed DNS message; its names are read from the message's bytes when asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Message<'a> {
    /// Transaction id.
    pub id: u16,
    /// True for a response.
    pub response: bool,
    /// Response code.
    pub rcode: u8,
    /// First question: (name, type, class).
    pub question: Option<(NameAt<'a>, u16, u16)>,
    /// The first answer's owner name (a response without a question is logged under it).
    pub owner: Option<NameAt<'a>>,
    /// Answer section.
    pub answers: Vec<Answer>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// Walks a (possibly compressed) name at `at`, handing each label to `label`; returns the
/// offset after the name. `None` when it is malformed: out of the message, a pointer that does
/// not go backwards, a reserved label type, or more than 128 steps.
fn walk_name(b: &[u8], mut at: usize, mut label: impl FnMut(&[u8])) -> Option<usize> {
    let mut end = None;
    for _ in 0..128 {
        let len = *b.get(at)?;
        match len {
            0 => return Some(end.unwrap_or(at + 1)),
            l if l & 0xc0 == 0xc0 => {
                let target = usize::from(u16_at(b, at)? & 0x3fff);
                end.get_or_insert(at + 2);
                if target >= at {
                    return None; // pointers must go backwards: no loops
                }
                at = target;
            }
            l if l & 0xc0 == 0 => {
                label(b.get(at + 1..at + 1 + usize::from(l))?);
                at += 1 + usize::from(l);
            }
            _ => return None,
        }
    }
    None
}

/// Reads a (possibly compressed) name at `at`; returns it and the offset after it. It is
/// built in `scratch` (a message's names share it) and copied out at its exact size.
fn name(b: &[u8], at: usize, scratch: &mut Vec<u8>) -> Option<(String, usize)> {
    // built as bytes, all ASCII (names are the capture path's most frequent text: pushing
    // them a character at a time was a sixth of its instructions)
    scratch.clear();
    let out = scratch;
    let next = walk_name(b, at, |label| {
        if !out.is_empty() {
            out.push(b'.');
        }
        let plain = |c: &u8| c.is_ascii_graphic() && *c != b'\\';
        if label.iter().all(plain) {
            // Zeek logs names in lower case
            out.extend(label.iter().map(u8::to_ascii_lowercase));
            return;
        }
        for &c in label {
            if plain(&c) {
                out.push(c.to_ascii_lowercase());
            } else {
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX[usize::from(c >> 4)],
                    HEX[usize::from(c & 15)],
                ]);
            }
        }
    })?;
    Some((std::str::from_utf8(out).ok()?.to_owned(), next))
}

/// Checks a name at `at` as [`name`] does, without building it; returns the offset after it.
fn skip_name(b: &[u8], at: usize) -> Option<usize> {
    walk_name(b, at, |_| {})
}

/// The text Zeek shows for a record's data: `None` when the data is malformed, `Some(None)`
/// for types Zeek leaves out of `answers`.
#[allow(clippy::option_option)]
fn rdata_text(
    b: &[u8],
    rtype: u16,
    start: usize,
    len: usize,
    scratch: &mut Vec<u8>,
) -> Option<Option<String>> {
    let data = b.get(start..start + len)?;
    Some(match rtype {
        1 if len == 4 => Some(crate::record::ip_text(std::net::IpAddr::from([
            data[0], data[1], data[2], data[3],
        ]))),
        28 if len == 16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(data);
            Some(IpAddr::from(Ipv6Addr::from(a)).to_string())
        }
        2 | 5 | 12 => Some(name(b, start, scratch)?.0),
        15 => Some(name(b, start + 2, scratch)?.0),
        33 => Some(name(b, start + 6, scratch)?.0),
        16 => {
            // Zeek: "TXT <length> <text>" per string
            let mut parts = Vec::new();
            let mut i = 0;
            while i < data.len() {
                let l = usize::from(data[i]);
                let s = data.get(i + 1..i + 1 + l)?;
                parts.push(format!("TXT {l} {}", String::from_utf8_lossy(s)));
                i += 1 + l;
            }
            Some(parts.join(" "))
        }
        _ => None,
    })
}

/// The whole DNS-over-TCP messages at the start of `bytes` (each after its 2-byte length),
/// and the bytes they take; a message still arriving is left.
pub fn tcp_messages(bytes: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut out = Vec::new();
    let mut used = 0;
    while let Some(n) = bytes
        .get(used..used + 2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .filter(|n| bytes.len() >= used + 2 + n)
    {
        out.push(&bytes[used + 2..used + 2 + n]);
        used += 2 + n;
    }
    (out, used)
}

/// A DNS header's id, flags and question and answer counts; `None` when the bytes cannot
/// start a DNS message (too short, or an implausible opcode or count).
fn header(b: &[u8]) -> Option<(u16, u16, u16, u16)> {
    if b.len() < 12 {
        return None;
    }
    let (id, flags) = (u16_at(b, 0)?, u16_at(b, 2)?);
    let (qd, an) = (u16_at(b, 4)?, u16_at(b, 6)?);
    if qd > 512 || an > 4096 || (flags >> 11) & 0xf > 6 {
        return None;
    }
    Some((id, flags, qd, an))
}

/// Whether [`parse`] reads `b` as a DNS message, without reading its names (which end its
/// sections when malformed, but never refuse the message).
pub fn is_message(b: &[u8]) -> bool {
    header(b).is_some()
}

/// Parses a DNS message; `None` when it is not one.
pub fn parse(b: &[u8]) -> Option<Message<'_>> {
    let (id, flags, qd, an) = header(b)?;
    // (only the answers' data names are built here; it allocates when the first one is)
    let mut scratch = Vec::new();
    // Like Zeek, keep what parses: a malformed record ends the sections, not the message.
    let mut at = 12;
    let mut question = None;
    let mut owner = None;
    let mut answers = Vec::new();
    let mut ok = true;
    for i in 0..qd {
        let parsed =
            skip_name(b, at).and_then(|next| Some((next, u16_at(b, next)?, u16_at(b, next + 2)?)));
        let Some((next, qtype, qclass)) = parsed else {
            ok = false;
            break;
        };
        if i == 0 {
            question = Some((NameAt { message: b, at }, qtype, qclass & 0x7fff));
        }
        at = next + 4;
    }
    for _ in 0..if ok { an } else { 0 } {
        let parsed = skip_name(b, at).and_then(|next| {
            let (rtype, ttl, len) = (
                u16_at(b, next)?,
                u32_at(b, next + 4)?,
                usize::from(u16_at(b, next + 8)?),
            );
            Some((
                next,
                rtype,
                ttl,
                len,
                rdata_text(b, rtype, next + 10, len, &mut scratch)?,
            ))
        });
        let Some((next, rtype, ttl, len, text)) = parsed else {
            break;
        };
        if answers.is_empty() {
            owner = Some(NameAt { message: b, at });
        }
        answers.push(Answer { rtype, ttl, text });
        at = next + 10 + len;
    }
    Some(Message {
        id,
        response: flags & 0x8000 != 0,
        rcode: (flags & 0xf) as u8,
        question,
        owner,
        answers,
    })
}

/// Zeek's `qtype_name` (its `DNS::query_types` table).
pub fn qtype_name(t: u16) -> String {
    const NAMES: &[(u16, &str)] = &[
        (1, "A"),
        (2, "NS"),
        (3, "MD"),
        (4, "MF"),
        (5, "CNAME"),
        (6, "SOA"),
        (7, "MB"),
        (8, "MG"),
        (9, "MR"),
        (10, "NULL"),
        (11, "WKS"),
        (12, "PTR"),
        (13, "HINFO"),
        (14, "MINFO"),
        (15, "MX"),
        (16, "TXT"),
        (17, "RP"),
        (18, "AFSDB"),
        (19, "X25"),
        (20, "ISDN"),
        (21, "RT"),
        (22, "NSAP"),
        (23, "NSAP-PTR"),
        (24, "SIG"),
        (25, "KEY"),
        (26, "PX"),
        (27, "GPOS"),
        (28, "AAAA"),
        (29, "LOC"),
        (30, "NXT"),
        (31, "EID"),
        (32, "NIMLOC"),
        (33, "SRV"),
        (34, "ATMA"),
        (35, "NAPTR"),
        (36, "KX"),
        (37, "CERT"),
        (38, "A6"),
        (39, "DNAME"),
        (40, "SINK"),
        (41, "OPT"),
        (42, "APL"),
        (43, "DS"),
        (44, "SSHFP"),
        (45, "IPSECKEY"),
        (46, "RRSIG"),
        (47, "NSEC"),
        (48, "DNSKEY"),
        (49, "DHCID"),
        (50, "NSEC3"),
        (51, "NSEC3PARAM"),
        (52, "TLSA"),
        (55, "HIP"),
        (59, "CDS"),
        (60, "CDNSKEY"),
        (61, "OPENPGPKEY"),
        (62, "CSYNC"),
        (64, "SVCB"),
        (65, "HTTPS"),
        (99, "SPF"),
        (100, "UINFO"),
        (101, "UID"),
        (102, "GID"),
        (103, "UNSPEC"),
        (249, "TKEY"),
        (250, "TSIG"),
        (251, "IXFR"),
        (252, "AXFR"),
        (253, "MAILB"),
        (254, "MAILA"),
        (255, "*"),
        (256, "URI"),
        (257, "CAA"),
        (32768, "TA"),
        (32769, "DLV"),
    ];
    NAMES
        .iter()
        .find(|(n, _)| *n == t)
        .map_or_else(|| format!("query-{t}"), |(_, s)| (*s).to_string())
}

/// Decodes a `NetBIOS` name (32 letters `a`–`p`, two per byte, as Zeek lowercased them): the 15
/// name bytes without trailing spaces; the 16th byte is the service suffix. Other names are
/// returned unchanged.
pub fn netbios_name(name: &str) -> String {
    let b = name.as_bytes();
    if b.len() != 32 || !b.iter().all(|c| (b'a'..=b'p').contains(c)) {
        return name.to_string();
    }
    let bytes: Vec<u8> = b
        .chunks(2)
        .map(|p| ((p[0] - b'a') << 4) | (p[1] - b'a'))
        .collect();
    let decoded: String = bytes[..15].iter().map(|&c| c as char).collect();
    decoded.trim_end_matches([' ', '\0']).to_string()
}

/// Zeek's `qclass_name`.
pub fn qclass_name(c: u16) -> String {
    match c {
        1 => "C_INTERNET".into(),
        3 => "C_CHAOS".into(),
        4 => "C_HESIOD".into(),
        254 => "C_NONE".into(),
        255 => "C_ANY".into(),
        other => format!("qclass-{other}"),
    }
}

/// Zeek's `rcode_name`.
pub fn rcode_name(r: u8) -> String {
    [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
        "NXRRSET", "NOTAUTH", "NOTZONE",
    ]
    .get(usize::from(r))
    .map_or_else(|| format!("rcode-{r}"), |s| (*s).to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A response for example.com: question, a CNAME and an A record (compressed names).
    pub(crate) fn response() -> Vec<u8> {
        let mut b = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        b.extend(b"\x03www\x07example\x03com\x00");
        b.extend([0, 1, 0, 1]);
        b.extend([0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 16]); // CNAME -> example.com
        b.extend([0xc0, 16, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 93, 184, 216, 34]);
        b
    }

    #[test]
    fn parses_questions_answers_and_compressed_names() {
        let bytes = response();
        let m = parse(&bytes).unwrap_or_else(|| panic!("parse"));
        assert_eq!(m.id, 0x1234);
        assert!(m.response);
        assert_eq!(
            m.question.map(|(name, t, c)| (name.text(), t, c)),
            Some(("www.example.com".to_string(), 1, 1))
        );
        let mut upper = response();
        upper[13] = b'W';
        assert_eq!(
            parse(&upper)
                .and_then(|m| m.question)
                .map(|q| q.0.text())
                .as_deref(),
            Some("www.example.com"),
            "lower case"
        );
        let texts: Vec<_> = m
            .answers
            .iter()
            .map(|a| a.text.clone().unwrap_or_default())
            .collect();
        assert_eq!(texts, ["example.com", "93.184.216.34"]);
        assert_eq!(m.answers[1].ttl, 300);
        assert_eq!(
            (qtype_name(1), qclass_name(1), rcode_name(3)),
            (
                "A".to_string(),
                "C_INTERNET".to_string(),
                "NXDOMAIN".to_string()
            )
        );
    }

    #[test]
    fn netbios_names_are_decoded() {
        assert_eq!(
            netbios_name("ecfcfheddaedecdddiddeedbegdedcaa"),
            "BRWC0CB383D1F42"
        );
        assert_eq!(
            netbios_name("fhepfcelehfcepfffacacacacacacabn"),
            "WORKGROUP"
        );
        assert_eq!(netbios_name("www.example.com"), "www.example.com");
        assert_eq!(qtype_name(32), "NIMLOC");
        assert_eq!(qtype_name(4242), "query-4242");
    }

    #[test]
    fn loops_and_truncation_are_refused() {
        let mut looped = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        looped.extend([0xc0, 12, 0, 1, 0, 1]); // a pointer to itself
        assert_eq!(parse(&looped).and_then(|m| m.question), None);
        let r = response();
        for cut in 0..r.len() {
            let _ = parse(&r[..cut]); // never panics
        }
        // a cut answer is dropped, the rest of the message is kept
        let cut = parse(&r[..r.len() - 1]).unwrap_or_else(|| panic!("header"));
        assert_eq!(cut.answers.len(), 1);
        assert_eq!(parse(&r[..11]), None, "shorter than a header");
    }

    #[test]
    fn a_message_is_recognised_exactly_when_it_parses() {
        let r = response();
        for cut in 0..r.len() {
            assert_eq!(is_message(&r[..cut]), parse(&r[..cut]).is_some());
        }
        let mut odd = r.clone();
        odd[2] = 0x78; // opcode 15
        assert!(!is_message(&odd) && parse(&odd).is_none());
    }

    #[test]
    fn later_owners_are_checked_and_odd_bytes_are_escaped() {
        let bytes = response();
        let m = parse(&bytes).unwrap_or_else(|| panic!("parse"));
        assert_eq!(
            m.owner.map(|o| o.text()).as_deref(),
            Some("www.example.com"),
            "the first answer's owner, which a row may show"
        );
        // a second owner that points forward ends the answers there, as when it was read
        let mut bad = response();
        let second = bad.len() - 16;
        bad[second + 1] = 200;
        let m = parse(&bad).unwrap_or_else(|| panic!("header"));
        assert_eq!(m.answers.len(), 1);
        // a label with a space and a backslash, then one with a byte above ASCII
        let mut odd = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        odd.extend(b"\x04a b\\\x01\xe9\x00");
        odd.extend([0, 12, 0, 1]);
        let q = parse(&odd).and_then(|m| m.question).map(|q| q.0.text());
        assert_eq!(q.as_deref(), Some(r"a\x20b\x5c.\xe9"), "{q:?}");
    }

    proptest! {
        #[test]
        fn any_message_never_panics(msg in proptest::collection::vec(any::<u8>(), 0..600)) {
            proptest::prop_assert_eq!(is_message(&msg), parse(&msg).is_some());
            // names checked at parse time are read again only when asked for
            if let Some(m) = parse(&msg) {
                let _ = (m.question.map(|q| q.0.text()), m.owner.map(|o| o.text()));
            }
        }

        #[test]
        fn any_name_never_panics(name in "\\PC{0,40}") {
            let _ = netbios_name(&name);
        }
    }
}
