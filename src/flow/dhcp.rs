//! One DHCP (BOOTP) message as Zeek's DHCP analyzer reads it: the fixed header (transaction
//! id, addresses, the client's hardware address) and the options dhcp.log uses (message type,
//! host name, client FQDN, domain, requested address, lease, message, client identifier).
//!
//! It never panics on any bytes; a message without the DHCP magic cookie is not DHCP.

use super::text::{HEX, utf8};
use compact_str::CompactString;
use std::net::{IpAddr, Ipv4Addr};

/// The options dhcp.log reads, as the message carried them (short texts: inline, so a message
/// costs no allocation for its names).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Options {
    pub msg_type: Option<u8>,
    pub host_name: Option<CompactString>,
    pub client_fqdn: Option<CompactString>,
    pub domain_name: Option<CompactString>,
    pub requested_addr: Option<IpAddr>,
    pub lease: Option<u32>,
    pub message: Option<CompactString>,
    /// The client identifier's hardware address, when its type is Ethernet (1).
    pub client_mac: Option<CompactString>,
}

/// One DHCP message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    pub xid: u32,
    /// The client's hardware address field (`chaddr`, 16 bytes; see [`Message::chaddr`]).
    pub chaddr: [u8; 16],
    /// The address the server hands out (`yiaddr`).
    pub yiaddr: Ipv4Addr,
    pub options: Options,
}

impl Message {
    /// The client's hardware address as Zeek formats it (formatted when a row needs it).
    pub fn chaddr(&self) -> CompactString {
        fmt_mac(&self.chaddr)
    }
}

/// Zeek's names of the message types.
pub(crate) fn message_type_name(t: u8) -> &'static str {
    match t {
        1 => "DISCOVER",
        2 => "OFFER",
        3 => "REQUEST",
        4 => "DECLINE",
        5 => "ACK",
        6 => "NAK",
        7 => "RELEASE",
        8 => "INFORM",
        9 => "FORCERENEW",
        10 => "LEASEQUERY",
        11 => "LEASEUNASSIGNED",
        12 => "LEASEUNKNOWN",
        13 => "LEASEACTIVE",
        14 => "BULKLEASEQUERY",
        15 => "LEASEQUERYDONE",
        16 => "ACTIVELEASEQUERY",
        17 => "LEASEQUERYSTATUS",
        18 => "TLS",
        _ => "-",
    }
}

/// Zeek's `fmt_mac`: six bytes, or eight when the seventh and eighth are not zero.
pub(crate) fn fmt_mac(b: &[u8]) -> CompactString {
    let n = match b.len() {
        6 => 6,
        l if l >= 8 && b[6] == 0 && b[7] == 0 => 6,
        l if l >= 8 => 8,
        _ => return CompactString::default(),
    };
    // written by hand into a buffer (at most 23 bytes, so the result is inline): every DHCP
    // message of a LAN capture formats one or two of these
    let mut out = [b':'; 23];
    for (i, x) in b[..n].iter().enumerate() {
        out[3 * i] = HEX[usize::from(x >> 4)];
        out[3 * i + 1] = HEX[usize::from(x & 15)];
    }
    text(&out[..3 * n - 1])
}

/// Network text as a short string (`CompactString`'s own lossy conversion pushes it a
/// character at a time).
fn text(b: &[u8]) -> CompactString {
    CompactString::from(utf8(b))
}

/// Text up to its last non-NUL byte (Zeek trims trailing NULs of names).
fn trimmed(b: &[u8]) -> CompactString {
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    text(&b[..end])
}

fn ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    let a: [u8; 4] = b.get(..4)?.try_into().ok()?;
    Some(Ipv4Addr::from(a))
}

/// Parses a DHCP message (a UDP payload).
pub(crate) fn parse(p: &[u8]) -> Option<Message> {
    if p.get(236..240)? != [0x63, 0x82, 0x53, 0x63] {
        return None;
    }
    let xid = u32::from_be_bytes(p.get(4..8)?.try_into().ok()?);
    let yiaddr = ipv4(p.get(16..20)?)?;
    let chaddr: [u8; 16] = p.get(28..44)?.try_into().ok()?;
    let mut options = Options::default();
    let mut at = 240;
    while let Some(&code) = p.get(at) {
        match code {
            0 => {
                at += 1;
                continue;
            }
            255 => break,
            _ => {}
        }
        let Some(&len) = p.get(at + 1) else { break };
        let Some(v) = p.get(at + 2..at + 2 + usize::from(len)) else {
            break;
        };
        match code {
            53 => options.msg_type = v.first().copied(),
            12 => options.host_name = Some(text(v)),
            15 => options.domain_name = Some(trimmed(v)),
            50 => options.requested_addr = ipv4(v).map(IpAddr::V4),
            51 => {
                options.lease = v
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_be_bytes);
            }
            56 => options.message = Some(text(v)),
            61 if v.first() == Some(&1) => options.client_mac = Some(fmt_mac(&v[1..])),
            81 if v.len() >= 3 => {
                options.client_fqdn = Some(text(&v[3..]));
            }
            _ => {}
        }
        at += 2 + usize::from(len);
    }
    Some(Message {
        xid,
        chaddr,
        yiaddr,
        options,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A DHCP message of type `kind` with transaction `xid` and extra options.
    pub(crate) fn message(kind: u8, xid: u32, yiaddr: [u8; 4], extra: &[(u8, &[u8])]) -> Vec<u8> {
        let mut p = vec![0u8; 240];
        p[0] = if matches!(kind, 2 | 5 | 6) { 2 } else { 1 };
        p[1] = 1;
        p[2] = 6;
        p[4..8].copy_from_slice(&xid.to_be_bytes());
        p[16..20].copy_from_slice(&yiaddr);
        p[28..34].copy_from_slice(&[0x90, 0xb1, 0x1c, 0x99, 0x49, 0x29]);
        p[236..240].copy_from_slice(&[0x63, 0x82, 0x53, 0x63]);
        p.extend([53, 1, kind]);
        for (code, v) in extra {
            p.push(*code);
            p.push(v.len() as u8);
            p.extend_from_slice(v);
        }
        p.push(255);
        p
    }

    #[test]
    fn a_message_gives_the_fields_dhcp_log_reads() {
        let m = parse(&message(
            5,
            0xabcd,
            [10, 0, 0, 9],
            &[
                (12, b"laptop"),
                (15, b"example.org\0"),
                (51, &900u32.to_be_bytes()),
                (61, &[1, 1, 2, 3, 4, 5, 6]),
                (81, b"\x00\x00\x00laptop.example.org"),
            ],
        ))
        .unwrap();
        assert_eq!(m.xid, 0xabcd);
        assert_eq!(m.chaddr(), "90:b1:1c:99:49:29");
        assert_eq!(m.yiaddr, Ipv4Addr::new(10, 0, 0, 9));
        assert_eq!(message_type_name(m.options.msg_type.unwrap()), "ACK");
        assert_eq!(m.options.host_name.as_deref(), Some("laptop"));
        assert_eq!(m.options.domain_name.as_deref(), Some("example.org"));
        assert_eq!(m.options.lease, Some(900));
        assert_eq!(m.options.client_mac.as_deref(), Some("01:02:03:04:05:06"));
        assert_eq!(m.options.client_fqdn.as_deref(), Some("laptop.example.org"));
        assert_eq!(parse(&[0; 300]), None, "no magic cookie");
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(mut p in proptest::collection::vec(any::<u8>(), 0..400), cookie: bool) {
            if cookie && p.len() >= 240 {
                p[236..240].copy_from_slice(&[0x63, 0x82, 0x53, 0x63]);
            }
            let _ = parse(&p);
        }

        #[test]
        fn cut_messages_never_panic(cut in 0usize..400) {
            let m = message(3, 1, [0; 4], &[(12, b"host"), (50, &[10, 0, 0, 1]), (81, b"\x01")]);
            let _ = parse(&m[..cut.min(m.len())]);
        }
    }
}
