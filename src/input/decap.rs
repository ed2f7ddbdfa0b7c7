//! Tunnel headers, read as Zeek's packet analyzers read them: GRE (versions 0 and 1, the
//! latter PPTP's), VXLAN and Teredo. Each takes the outer packet's payload and gives what it
//! carries, or `None` when the bytes are not that tunnel; the caller decodes the inner packet.
//! IP in IP needs no header of its own: the inner packet is the payload.
//!
//! Only bytes are read here; which packets are tunnels, and what becomes of the inner ones, is
//! the decoder's ([`super::pcap`]).

/// What a tunnel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Inner<'a> {
    /// An IP packet (v4 or v6: the version nibble tells).
    Ip(&'a [u8]),
    /// An Ethernet frame.
    Ethernet(&'a [u8]),
}

/// VXLAN's UDP port (Zeek's `PacketAnalyzer::VXLAN::vxlan_ports`).
pub(super) const VXLAN_PORT: u16 = 4789;
/// Teredo's UDP port (`PacketAnalyzer::TEREDO::teredo_ports`); Teredo on other ports is found
/// by [`looks_like_teredo`].
pub(super) const TEREDO_PORT: u16 = 3544;

/// Whether a UDP packet may carry a tunnel (the general decoder then reads it).
pub(super) fn may_carry(sport: u16, dport: u16, payload: &[u8]) -> bool {
    [sport, dport]
        .iter()
        .any(|&p| p == VXLAN_PORT || p == TEREDO_PORT)
        || looks_like_teredo(payload)
}

/// The length of a GRE header with these flags (Zeek's `gre_header_len`: checksum, key,
/// sequence and acknowledgement fields when their flags are set).
fn gre_header_len(flags: u16) -> usize {
    4 + [0x8000u16, 0x2000, 0x1000, 0x0080]
        .iter()
        .filter(|&&f| flags & f != 0)
        .count()
        * 4
}

/// The packet inside a GRE payload: version 0 carrying IPv4, IPv6 or Ethernet (transparent
/// bridging), or version 1 (PPTP) carrying IP in PPP. Routing fields, reserved flags, ERSPAN
/// and other payload types are not decapsulated (Zeek reports them as weirds).
pub(super) fn gre(payload: &[u8]) -> Option<Inner<'_>> {
    let flags = u16::from_be_bytes([*payload.first()?, *payload.get(1)?]);
    let proto = u16::from_be_bytes([*payload.get(2)?, *payload.get(3)?]);
    let version = flags & 0x0007;
    if flags & 0x4000 != 0 || flags & 0x0078 != 0 {
        return None;
    }
    let header = gre_header_len(flags);
    match version {
        0 => {
            let rest = payload.get(header..)?;
            match proto {
                0x0800 | 0x86dd => Some(Inner::Ip(rest)),
                // Zeek wants more than an Ethernet header
                0x6558 if rest.len() > 14 => Some(Inner::Ethernet(rest)),
                _ => None,
            }
        }
        1 if proto == 0x880b => {
            // a 4-byte PPP header: address, control, protocol
            let ppp = payload.get(header..header + 4)?;
            match u16::from_be_bytes([ppp[2], ppp[3]]) {
                0x0021 | 0x0057 => Some(Inner::Ip(payload.get(header + 4..)?)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The Ethernet frame inside a VXLAN payload: an 8-byte header whose `I` flag is set, then a
/// frame that is not empty.
pub(super) fn vxlan(payload: &[u8]) -> Option<&[u8]> {
    if payload.first()? & 0x08 == 0 {
        return None;
    }
    payload.get(8..).filter(|f| !f.is_empty())
}

/// Zeek's test for Teredo on a port that is not Teredo's: a 40-byte IPv6 header whose source
/// or destination is a Teredo address (`2001:0::/32`), or one after an origin indication
/// (optionally after an authentication header).
pub(super) fn looks_like_teredo(data: &[u8]) -> bool {
    const TEREDO_PREFIX: [u8; 4] = [0x20, 0x01, 0x00, 0x00];
    let len = data.len();
    if len < 40 || (data[0] >> 4 != 6 && (data[0] != 0 || (data[1] != 0 && data[1] != 1))) {
        return false;
    }
    if data[0] >> 4 == 6 && (data[8..12] == TEREDO_PREFIX || data[24..28] == TEREDO_PREFIX) {
        return true;
    }
    let mut data = data;
    let mut tag = u16::from(data[1]);
    if tag == 1 {
        // authentication: client id and authentication value, a nonce and a confirmation byte
        let skip = 13 + usize::from(data[2]) + usize::from(data[3]);
        let Some(rest) = data.get(skip..).filter(|r| r.len() >= 40) else {
            return false;
        };
        data = rest;
        tag = u16::from_be_bytes([data[0], data[1]]);
    }
    tag == 0
        && data
            .get(8..)
            .is_some_and(|r| r.len() >= 40 && r[0] >> 4 == 6)
}

/// The IPv6 packet inside a Teredo payload: after an optional authentication header and an
/// optional origin indication, an IPv6 header whose payload length accounts for every byte
/// that follows (a bubble, with no next header and no payload, may be followed by more).
pub(super) fn teredo(payload: &[u8]) -> Option<&[u8]> {
    let mut data = payload;
    let (mut origin, mut auth) = (false, false);
    loop {
        let tag = u16::from_be_bytes([*data.first()?, *data.get(1)?]);
        if tag == 0 && !origin {
            data = data.get(8..)?;
            origin = true;
        } else if tag == 1 && !origin && !auth {
            let skip = 4 + usize::from(*data.get(2)?) + usize::from(*data.get(3)?) + 8 + 1;
            data = data.get(skip..)?;
            auth = true;
        } else if tag >> 12 == 6 {
            break;
        } else {
            return None;
        }
    }
    let header = data.get(..40)?;
    let payload_len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let whole = 40 + payload_len;
    let bubble = header[6] == 59 && payload_len == 0;
    if data.len() < whole || (data.len() > whole && !bubble) {
        return None;
    }
    Some(&data[..whole])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ipv6(payload_len: u16, next: u8, src_teredo: bool) -> Vec<u8> {
        let mut h = vec![0x60, 0, 0, 0];
        h.extend_from_slice(&payload_len.to_be_bytes());
        h.extend_from_slice(&[next, 64]);
        let mut src = [0u8; 16];
        if src_teredo {
            src[..4].copy_from_slice(&[0x20, 0x01, 0, 0]);
        }
        h.extend_from_slice(&src);
        h.extend_from_slice(&[0xfe; 16]);
        h.extend(std::iter::repeat_n(0xab, usize::from(payload_len)));
        h
    }

    #[test]
    fn gre_versions_and_payload_types() {
        let ip = [0x45u8, 0, 0, 20];
        let mut v0 = vec![0x00, 0x00, 0x08, 0x00];
        v0.extend_from_slice(&ip);
        assert_eq!(gre(&v0), Some(Inner::Ip(&ip[..])));
        // key and sequence fields are skipped
        let mut keyed = vec![0x30, 0x00, 0x86, 0xdd, 1, 2, 3, 4, 5, 6, 7, 8];
        keyed.extend_from_slice(&ip);
        assert_eq!(gre(&keyed), Some(Inner::Ip(&ip[..])));
        // PPTP: version 1, key and sequence, PPP carrying IPv4
        let mut pptp = vec![
            0x30, 0x01, 0x88, 0x0b, 0, 4, 0, 1, 0, 0, 0, 9, 0xff, 0x03, 0x00, 0x21,
        ];
        pptp.extend_from_slice(&ip);
        assert_eq!(gre(&pptp), Some(Inner::Ip(&ip[..])));
        // routing present, reserved flags, an unknown version, a payload that is not IP
        assert_eq!(gre(&[0x40, 0x00, 0x08, 0x00, 0x45]), None);
        assert_eq!(gre(&[0x00, 0x08, 0x08, 0x00, 0x45]), None);
        assert_eq!(gre(&[0x00, 0x02, 0x08, 0x00, 0x45]), None);
        assert_eq!(gre(&[0x00, 0x00, 0x88, 0xbe, 0x45]), None);
    }

    #[test]
    fn vxlan_needs_its_flag_and_a_frame() {
        let frame = [0xaa; 20];
        let mut p = vec![0x08, 0, 0, 0, 0, 0, 123, 0];
        p.extend_from_slice(&frame);
        assert_eq!(vxlan(&p), Some(&frame[..]));
        p[0] = 0;
        assert_eq!(vxlan(&p), None);
        assert_eq!(vxlan(&[0x08, 0, 0, 0, 0, 0, 123, 0]), None);
    }

    #[test]
    fn teredo_packets_bubbles_and_indications() {
        let v6 = ipv6(8, 58, true);
        assert_eq!(teredo(&v6), Some(&v6[..]));
        assert!(looks_like_teredo(&v6));
        // the payload length must account for every byte, except after a bubble
        let mut long = v6.clone();
        long.push(0);
        assert_eq!(teredo(&long), None);
        let mut bubble = ipv6(0, 59, true);
        bubble.extend_from_slice(&[0; 4]);
        assert_eq!(teredo(&bubble).map(<[u8]>::len), Some(40));
        assert_eq!(teredo(&v6[..44]), None);
        // an origin indication before it, and an authentication header before that
        let mut origin = vec![0, 0, 0xff, 0xff, 1, 2, 3, 4];
        let plain = ipv6(8, 58, false);
        assert!(
            !looks_like_teredo(&plain),
            "no Teredo address, no indication"
        );
        origin.extend_from_slice(&plain);
        assert_eq!(teredo(&origin), Some(&plain[..]));
        assert!(looks_like_teredo(&origin));
        let mut auth = vec![0, 1, 2, 1, 0xc1, 0xc2, 0xa1];
        auth.extend_from_slice(&[0; 9]);
        auth.extend_from_slice(&origin);
        assert_eq!(teredo(&auth), Some(&plain[..]));
        assert!(looks_like_teredo(&auth));
        // two origin indications, or an authentication header after one
        let mut twice = vec![0, 0, 0, 0, 0, 0, 0, 0];
        twice.extend_from_slice(&origin);
        assert_eq!(teredo(&twice), None);
        let dns = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        assert!(!looks_like_teredo(&dns) && teredo(&dns).is_none());
    }

    proptest! {
        #[test]
        fn tunnel_headers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = gre(&bytes);
            let _ = vxlan(&bytes);
            let _ = teredo(&bytes);
            let _ = looks_like_teredo(&bytes);
        }

        #[test]
        fn a_cut_teredo_packet_is_no_teredo_packet(cut in 0usize..48) {
            let v6 = ipv6(8, 58, true);
            prop_assert_eq!(teredo(&v6[..cut]), None);
        }
    }
}
