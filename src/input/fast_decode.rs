//! The common packets decoded by hand: an Ethernet II frame carrying a whole, unfragmented
//! IPv4 packet with a TCP or UDP header, or an ARP packet for IPv4. Most packets of real captures are such, and the general
//! decoder (etherparse's lax slicing, then picking fields out of its slices) cost about as much
//! per packet as assembling the connection. Anything else — VLAN tags, IPv6, ICMP, ARP,
//! tunnels, fragments, options that do not add up, a packet cut by the snapshot length — returns `None`
//! and goes to the general decoder, so this file only has to be right for the clean case; a
//! property test checks it gives exactly the general decoder's result there.

use crate::flow::{PacketMeta, TcpFlags};
use crate::record::Proto;
use std::net::{IpAddr, Ipv4Addr};

const ETHERNET_HEADER: usize = 14;
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];
const TCP: u8 = 6;
const UDP: u8 = 17;

/// The packet's header fields and its captured transport payload, when `frame` (an Ethernet
/// frame) is the clean case.
pub(super) fn ethernet_ipv4(ts: f64, frame: &[u8]) -> Option<(PacketMeta, &[u8])> {
    if frame.get(12..14)? != ETHERTYPE_IPV4 {
        return None;
    }
    let ip = frame.get(ETHERNET_HEADER..)?;
    let version_ihl = *ip.first()?;
    let header_len = usize::from(version_ihl & 0x0f) * 4;
    if version_ihl >> 4 != 4 || header_len < 20 || ip.len() < header_len {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    // Ethernet pads short frames: the IP total length says where the packet ends; a packet
    // longer than what was captured is the general decoder's (lax) case
    if total < header_len || total > ip.len() {
        return None;
    }
    let more_fragments = ip[6] & 0x20 != 0;
    let offset = u16::from_be_bytes([ip[6] & 0x1f, ip[7]]);
    if more_fragments || offset != 0 {
        return None;
    }
    let src = IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]));
    let transport = &ip[header_len..total];
    let base = PacketMeta::ip(ts, src, dst, total as u32, false);
    let port = |at: usize| u16::from_be_bytes([transport[at], transport[at + 1]]);
    match ip[9] {
        TCP => {
            let data_offset = usize::from(*transport.get(12)? >> 4) * 4;
            if data_offset < 20 || transport.len() < data_offset {
                return None;
            }
            let flags = transport[13];
            let meta = PacketMeta {
                proto: Proto::Tcp,
                sport: port(0),
                dport: port(2),
                flags: TcpFlags {
                    fin: flags & 0x01 != 0,
                    syn: flags & 0x02 != 0,
                    rst: flags & 0x04 != 0,
                    ack: flags & 0x10 != 0,
                },
                seq: u32::from_be_bytes([transport[4], transport[5], transport[6], transport[7]]),
                window: port(14),
                payload: (transport.len() - data_offset) as u32,
                ..base
            };
            Some((meta, &transport[data_offset..]))
        }
        UDP => {
            if transport.len() < 8 {
                return None;
            }
            let length = usize::from(port(4));
            if length < 8 || length > transport.len() {
                return None;
            }
            if super::decap::may_carry(port(0), port(2), &transport[8..length]) {
                return None;
            }
            let meta = PacketMeta {
                proto: Proto::Udp,
                sport: port(0),
                dport: port(2),
                payload: (length - 8) as u32,
                ..base
            };
            Some((meta, &transport[8..length]))
        }
        _ => None,
    }
}

/// An Ethernet frame's ARP packet with Ethernet and IPv4 addresses (six- and four-byte), as
/// the general decoder's `arp_event` describes it: `Some(event)`, where the event is `None`
/// for an operation other than request or reply. `None` for any other frame.
#[allow(clippy::option_option)] // the general decoder's `Kind::Arp(Option<Activity>)`, or not ARP
pub(super) fn ethernet_arp(ts: f64, frame: &[u8]) -> Option<Option<crate::record::Activity>> {
    use crate::record::{Activity, Arp, ArpOp, Detail, Mac};
    if frame.get(12..14)? != ETHERTYPE_ARP {
        return None;
    }
    let arp = frame.get(ETHERNET_HEADER..)?;
    if arp.get(4..6)? != [6, 4] || arp.len() < 28 {
        return None;
    }
    let ip = |at: usize| {
        IpAddr::V4(Ipv4Addr::new(
            arp[at],
            arp[at + 1],
            arp[at + 2],
            arp[at + 3],
        ))
    };
    let operation = match u16::from_be_bytes([arp[6], arp[7]]) {
        1 => ArpOp::Request,
        2 => ArpOp::Reply,
        _ => return Some(None),
    };
    Some(Some(Activity {
        ts,
        ip: ip(14),
        detail: Some(Detail::Arp(Arp {
            resp: Some(ip(24)),
            operation,
            dst_mac: Mac::from_bytes(&frame[0..6]),
            target_hw: Mac::from_bytes(&arp[18..24]),
        })),
    }))
}

#[cfg(test)]
mod tests {
    use super::super::pcap::{Kind, decode};
    use super::*;
    use pcap_parser::data::PacketData;
    use proptest::prelude::*;

    /// An Ethernet frame whose headers are built from `h` and whose fields are then free to
    /// be anything: lengths that do not add up, fragments, cut frames, padding.
    fn frame(h: &Headers) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f[..6].copy_from_slice(&h.dst_mac);
        f.extend_from_slice(&h.ethertype);
        if h.ethertype == ETHERTYPE_ARP {
            // sizes 6 and 4 mostly, anything sometimes; operation 0–3
            let (hw, pr) = if h.ihl < 12 {
                (6, 4)
            } else {
                (h.data_offset, h.flags % 8)
            };
            f.extend_from_slice(&[0, 1, 8, 0, hw, pr, 0, h.flags % 4]);
            f.extend_from_slice(&h.dst_mac);
            f.extend_from_slice(&h.src);
            f.extend_from_slice(&h.seq);
            f.extend_from_slice(&h.window);
            f.extend_from_slice(&h.dst);
            f.extend_from_slice(&h.padding);
            f.truncate(h.cut.min(f.len()));
            return f;
        }
        let mut ip = vec![
            0x40 | h.ihl,
            0,
            0,
            0,
            0,
            0,
            h.frag_hi,
            h.frag_lo,
            64,
            h.proto,
            0,
            0,
        ];
        ip.extend_from_slice(&h.src);
        ip.extend_from_slice(&h.dst);
        ip.resize(usize::from(h.ihl) * 4, 0);
        let mut t = vec![0u8; 20];
        t[..4].copy_from_slice(&h.ports);
        t[4..8].copy_from_slice(&h.seq);
        t[12] = h.data_offset << 4;
        t[13] = h.flags;
        t[14..16].copy_from_slice(&h.window);
        if h.proto == UDP {
            t[4..6].copy_from_slice(&h.udp_len.to_be_bytes());
        }
        t.resize(usize::from(h.data_offset).max(5) * 4, 0);
        t.extend_from_slice(&h.payload);
        ip.extend_from_slice(&t);
        let total = if h.exact_total {
            ip.len() as u16
        } else {
            h.total
        };
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&h.padding);
        f.truncate(h.cut.min(f.len()));
        f
    }

    #[derive(Debug, Clone)]
    struct Headers {
        dst_mac: [u8; 6],
        ethertype: [u8; 2],
        ihl: u8,
        frag_hi: u8,
        frag_lo: u8,
        proto: u8,
        src: [u8; 4],
        dst: [u8; 4],
        ports: [u8; 4],
        seq: [u8; 4],
        data_offset: u8,
        flags: u8,
        window: [u8; 2],
        udp_len: u16,
        payload: Vec<u8>,
        exact_total: bool,
        total: u16,
        padding: Vec<u8>,
        cut: usize,
    }

    fn headers() -> impl Strategy<Value = Headers> {
        let ethertype = prop_oneof![
            4 => Just([0x08, 0x00]),
            1 => Just([0x08, 0x06]),
            1 => any::<[u8; 2]>(),
        ];
        let proto = prop_oneof![3 => Just(TCP), 3 => Just(UDP), 1 => any::<u8>()];
        let frag = prop_oneof![3 => Just((0x40u8, 0u8)), 1 => any::<(u8, u8)>()];
        (
            (any::<[u8; 6]>(), ethertype, 0u8..16, frag, proto),
            (
                any::<[u8; 4]>(),
                any::<[u8; 4]>(),
                any::<[u8; 4]>(),
                any::<[u8; 4]>(),
            ),
            (0u8..16, any::<u8>(), any::<[u8; 2]>(), 0u16..120),
            (
                proptest::collection::vec(any::<u8>(), 0..80),
                prop_oneof![3 => Just(true), 1 => Just(false)],
                0u16..200,
                proptest::collection::vec(any::<u8>(), 0..20),
                prop_oneof![3 => Just(usize::MAX), 1 => 0usize..200],
            ),
        )
            .prop_map(
                |(
                    (dst_mac, ethertype, ihl, (frag_hi, frag_lo), proto),
                    (src, dst, ports, seq),
                    (data_offset, flags, window, udp_len),
                    (payload, exact_total, total, padding, cut),
                )| Headers {
                    dst_mac,
                    ethertype,
                    ihl,
                    frag_hi,
                    frag_lo,
                    proto,
                    src,
                    dst,
                    ports,
                    seq,
                    data_offset,
                    flags,
                    window,
                    udp_len,
                    payload,
                    exact_total,
                    total,
                    padding,
                    cut,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Where the hand decoder answers, the general decoder gives exactly that.
        #[test]
        fn the_fast_path_agrees_with_the_general_decoder(h in headers()) {
            let f = frame(&h);
            if let Some((meta, payload)) = ethernet_ipv4(1.5, &f) {
                match decode(1.5, &PacketData::L2(&f)) {
                    Ok(Kind::Ip(want, want_payload)) => {
                        prop_assert_eq!(meta, want);
                        prop_assert_eq!(payload.as_ptr(), want_payload.as_ptr());
                        prop_assert_eq!(payload.len(), want_payload.len());
                    }
                    _ => prop_assert!(false, "the general decoder did not see an IP packet"),
                }
            }
            if let Some(event) = ethernet_arp(1.5, &f) {
                match decode(1.5, &PacketData::L2(&f)) {
                    Ok(Kind::Arp(want)) => prop_assert_eq!(event, want),
                    _ => prop_assert!(false, "the general decoder did not see ARP"),
                }
            }
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = ethernet_ipv4(0.0, &bytes);
            let _ = ethernet_arp(0.0, &bytes);
        }
    }

    #[test]
    fn the_generated_frames_often_take_each_fast_path() {
        // so the agreement property is tested on the clean cases, not only on fall-backs
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let (mut tcp, mut udp, mut arp) = (0, 0, 0);
        for _ in 0..2000 {
            let h = headers()
                .new_tree(&mut runner)
                .unwrap_or_else(|e| panic!("{e}"))
                .current();
            let f = frame(&h);
            match ethernet_ipv4(0.0, &f).map(|(m, _)| m.proto) {
                Some(Proto::Tcp) => tcp += 1,
                Some(Proto::Udp) => udp += 1,
                _ => {}
            }
            arp += usize::from(ethernet_arp(0.0, &f).is_some());
        }
        assert!(tcp > 100 && udp > 50 && arp > 20, "{tcp} {udp} {arp}");
    }

    #[test]
    fn a_clean_tcp_frame_takes_the_fast_path() {
        let h = Headers {
            dst_mac: [1; 6],
            ethertype: [0x08, 0x00],
            ihl: 5,
            frag_hi: 0x40,
            frag_lo: 0,
            proto: TCP,
            src: [10, 0, 0, 1],
            dst: [10, 0, 0, 2],
            ports: [0xc3, 0x50, 0x01, 0xbb],
            seq: [0, 0, 1, 0],
            data_offset: 5,
            flags: 0x18,
            window: [0xff, 0xff],
            udp_len: 0,
            payload: b"hello".to_vec(),
            exact_total: true,
            total: 0,
            padding: vec![0; 6],
            cut: usize::MAX,
        };
        let f = frame(&h);
        let (meta, payload) = ethernet_ipv4(2.0, &f).unwrap_or_else(|| panic!("not fast"));
        assert_eq!((meta.sport, meta.dport, meta.seq), (50_000, 443, 256));
        assert_eq!((meta.payload, meta.ip_len), (5, 45));
        assert!(meta.flags.ack && !meta.flags.syn);
        assert_eq!(payload, b"hello", "the Ethernet padding is not payload");
    }
}
