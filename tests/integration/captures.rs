//! Self-contained capture tests: packets built with etherparse's `PacketBuilder`, written as
//! classic pcap (both byte orders, micro- and nanoseconds) and pcapng by the helpers below.

use etherparse::{LinuxSllPacketType, PacketBuilder, PacketBuilderStep, TcpHeader, VlanId};
use kalipso::flow::Timeouts;
use kalipso::record::{Conn, ConnState};

const LINKTYPE_ETHERNET: u32 = 1;
const LINKTYPE_RAW: u32 = 101;
const LINKTYPE_LINUX_SLL: u32 = 113;

/// Classic pcap in either byte order, with micro- or nanosecond stamps.
fn pcap_classic(
    linktype: u32,
    packets: &[(f64, Vec<u8>)],
    big_endian: bool,
    nanos: bool,
) -> Vec<u8> {
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u16b = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend(u32b(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    out.extend(u16b(2));
    out.extend(u16b(4));
    out.extend([0u8; 8]); // thiszone, sigfigs
    out.extend(u32b(65_535));
    out.extend(u32b(linktype));
    let ticks = if nanos { 1e9 } else { 1e6 };
    for (ts, data) in packets {
        let sec = ts.floor();
        out.extend(u32b(sec as u32));
        out.extend(u32b(((ts - sec) * ticks).round() as u32));
        out.extend(u32b(data.len() as u32));
        out.extend(u32b(data.len() as u32));
        out.extend(data);
    }
    out
}

/// Classic pcap, little endian, microseconds.
fn pcap_le_us(linktype: u32, packets: &[(f64, Vec<u8>)]) -> Vec<u8> {
    pcap_classic(linktype, packets, false, false)
}

/// Classic pcap, big endian, nanoseconds.
fn pcap_be_ns(linktype: u32, packets: &[(f64, Vec<u8>)]) -> Vec<u8> {
    pcap_classic(linktype, packets, true, true)
}

fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    while body.len() % 4 != 0 {
        body.push(0);
    }
    let len = (body.len() + 12) as u32;
    let mut out = Vec::new();
    out.extend(kind.to_le_bytes());
    out.extend(len.to_le_bytes());
    out.extend(body);
    out.extend(len.to_le_bytes());
    out
}

/// A pcapng section header block (little endian, version 1.0, unknown section length).
fn section_header() -> Vec<u8> {
    let mut shb = Vec::new();
    shb.extend(0x1a2b_3c4du32.to_le_bytes());
    shb.extend(1u16.to_le_bytes());
    shb.extend(0u16.to_le_bytes());
    shb.extend((-1i64).to_le_bytes());
    block(0x0a0d_0d0a, &shb)
}

/// A pcapng interface description block with its `if_tsresol` and, if given, `if_tsoffset`.
fn interface(linktype: u16, tsresol: u8, offset: Option<i64>) -> Vec<u8> {
    let mut idb = Vec::new();
    idb.extend(linktype.to_le_bytes());
    idb.extend(0u16.to_le_bytes());
    idb.extend(65_535u32.to_le_bytes());
    idb.extend(9u16.to_le_bytes()); // if_tsresol
    idb.extend(1u16.to_le_bytes());
    idb.extend([tsresol, 0, 0, 0]);
    if let Some(offset) = offset {
        idb.extend(14u16.to_le_bytes()); // if_tsoffset
        idb.extend(8u16.to_le_bytes());
        idb.extend(offset.to_le_bytes());
    }
    idb.extend([0u8; 4]); // opt_endofopt
    block(1, &idb)
}

/// A pcapng enhanced packet block of interface `iface` at `ticks` of its resolution.
fn enhanced_packet(iface: u32, ticks: u64, data: &[u8]) -> Vec<u8> {
    let mut epb = Vec::new();
    epb.extend(iface.to_le_bytes());
    epb.extend(((ticks >> 32) as u32).to_le_bytes());
    epb.extend((ticks as u32).to_le_bytes());
    epb.extend((data.len() as u32).to_le_bytes());
    epb.extend((data.len() as u32).to_le_bytes());
    epb.extend(data);
    block(6, &epb)
}

/// pcapng with interfaces `(linktype, tsresol)` and packets `(interface, ts, data)`.
fn pcapng(ifaces: &[(u16, u8)], packets: &[(u32, f64, Vec<u8>)]) -> Vec<u8> {
    let mut out = section_header();
    for &(linktype, tsresol) in ifaces {
        out.extend(interface(linktype, tsresol, None));
    }
    for (iface, ts, data) in packets {
        let ticks = (ts * 10f64.powi(i32::from(ifaces[*iface as usize].1))).round() as u64;
        out.extend(enhanced_packet(*iface, ticks, data));
    }
    out
}

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];
const T0: f64 = 1_700_000_000.25;

/// One TCP segment between the client's port 40000 and `port`; `link` adds the layers below IP.
fn tcp_packet(
    link: &dyn Fn(bool) -> PacketBuilderStep<etherparse::IpHeaders>,
    port: u16,
    from_client: bool,
    flags: &str,
    seq: u32,
    ack: u32,
    data: &[u8],
) -> Vec<u8> {
    let (sp, dp) = if from_client {
        (40_000, port)
    } else {
        (port, 40_000)
    };
    let mut tcp = TcpHeader::new(sp, dp, seq, 64_000);
    tcp.syn = flags.contains('S');
    tcp.fin = flags.contains('F');
    tcp.rst = flags.contains('R');
    if flags.contains('A') {
        tcp.ack = true;
        tcp.acknowledgment_number = ack;
    }
    let mut out = Vec::new();
    link(from_client)
        .tcp_header(tcp)
        .write(&mut out, data)
        .unwrap_or_default();
    out
}

/// One segment of the handshake scenario (port 80, `payload` bytes of `a`).
fn segment(
    link: &dyn Fn(bool) -> PacketBuilderStep<etherparse::IpHeaders>,
    from_client: bool,
    flags: &str,
    seq: u32,
    ack: u32,
    payload: usize,
) -> Vec<u8> {
    tcp_packet(link, 80, from_client, flags, seq, ack, &vec![0x61; payload])
}

/// A complete connection: handshake, 100 bytes up, 200 down, FIN/FIN, last ACK.
fn handshake(
    link: &dyn Fn(bool) -> PacketBuilderStep<etherparse::IpHeaders>,
) -> Vec<(f64, Vec<u8>)> {
    let p = |i: u32, c, f, s, a, n| (T0 + f64::from(i) * 0.01, segment(link, c, f, s, a, n));
    vec![
        p(0, true, "S", 1000, 0, 0),
        p(1, false, "SA", 5000, 1001, 0),
        p(2, true, "A", 1001, 5001, 0),
        p(3, true, "A", 1001, 5001, 100),
        p(4, false, "A", 5001, 1101, 200),
        p(5, true, "FA", 1101, 5201, 0),
        p(6, false, "FA", 5201, 1102, 0),
        p(7, true, "A", 1102, 5202, 0),
    ]
}

fn ipv4_eth(from_client: bool) -> PacketBuilderStep<etherparse::IpHeaders> {
    let (s, d) = if from_client {
        (CLIENT, SERVER)
    } else {
        (SERVER, CLIENT)
    };
    PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(s, d, 64)
}

fn analyze_bytes(bytes: &[u8], name: &str) -> (Vec<Conn>, kalipso::input::FileReport) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
    let input = kalipso::input::read_with(&[path], Timeouts::default());
    (input.batch.conns, input.summary.files[0].clone())
}

fn assert_sf(conns: &[Conn], what: &str) {
    assert_eq!(conns.len(), 1, "{what}: one connection");
    let c = &conns[0];
    assert_eq!(c.conn_state, ConnState::SF, "{what}");
    assert_eq!(
        (c.orig_bytes, c.resp_bytes),
        (100, 200),
        "{what}: payload bytes from sequence numbers"
    );
    assert_eq!((c.orig_pkts, c.resp_pkts), (5, 3), "{what}");
    assert_eq!((c.orig_p, c.resp_p), (40_000, 80), "{what}");
    assert!((c.ts - T0).abs() < 1e-6, "{what}: ts {}", c.ts);
    assert!(
        (c.duration - 0.06).abs() < 1e-6,
        "{what}: the ACK after both FINs does not extend it"
    );
}

#[test]
fn every_format_and_link_layer_gives_the_same_connection() {
    let eth = handshake(&ipv4_eth);
    assert_sf(
        &analyze_bytes(&pcap_le_us(LINKTYPE_ETHERNET, &eth), "le.pcap").0,
        "pcap LE µs",
    );
    assert_sf(
        &analyze_bytes(&pcap_be_ns(LINKTYPE_ETHERNET, &eth), "be.pcap").0,
        "pcap BE ns",
    );
    let vlan = handshake(&|c| {
        let (s, d) = if c {
            (CLIENT, SERVER)
        } else {
            (SERVER, CLIENT)
        };
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .single_vlan(VlanId::try_new(10).unwrap_or_default())
            .ipv4(s, d, 64)
    });
    assert_sf(
        &analyze_bytes(&pcap_le_us(LINKTYPE_ETHERNET, &vlan), "vlan.pcap").0,
        "802.1Q",
    );
    let qinq = handshake(&|c| {
        let (s, d) = if c {
            (CLIENT, SERVER)
        } else {
            (SERVER, CLIENT)
        };
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .double_vlan(
                VlanId::try_new(10).unwrap_or_default(),
                VlanId::try_new(20).unwrap_or_default(),
            )
            .ipv4(s, d, 64)
    });
    assert_sf(
        &analyze_bytes(&pcap_le_us(LINKTYPE_ETHERNET, &qinq), "qinq.pcap").0,
        "QinQ",
    );
    let sll = handshake(&|c| {
        let (s, d) = if c {
            (CLIENT, SERVER)
        } else {
            (SERVER, CLIENT)
        };
        PacketBuilder::linux_sll(LinuxSllPacketType::OUTGOING, 6, [1; 8]).ipv4(s, d, 64)
    });
    assert_sf(
        &analyze_bytes(&pcap_le_us(LINKTYPE_LINUX_SLL, &sll), "sll.pcap").0,
        "Linux SLL",
    );
    let raw = handshake(&|c| {
        let (s, d) = if c {
            (CLIENT, SERVER)
        } else {
            (SERVER, CLIENT)
        };
        PacketBuilder::ipv4(s, d, 64)
    });
    assert_sf(
        &analyze_bytes(&pcap_le_us(LINKTYPE_RAW, &raw), "raw.pcap").0,
        "raw IPv4",
    );
    let v6 = handshake(&|c| {
        let (a, b) = (
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        );
        let (s, d) = if c { (a, b) } else { (b, a) };
        PacketBuilder::ethernet2([1; 6], [2; 6]).ipv6(s, d, 64)
    });
    let (conns, _) = analyze_bytes(&pcap_le_us(LINKTYPE_ETHERNET, &v6), "v6.pcap");
    assert_sf(&conns, "IPv6");
    assert!(conns[0].orig_h.is_ipv6());
    // pcapng: the client's packets on an Ethernet interface with µs stamps, the server's on a
    // raw-IP interface with ns stamps; one connection across both.
    let mut ng = Vec::new();
    for (i, (ts, eth_pkt)) in eth.iter().enumerate() {
        let from_client = matches!(i, 0 | 2 | 3 | 5 | 7);
        if from_client {
            ng.push((0, *ts, eth_pkt.clone()));
        } else {
            ng.push((1, *ts, raw[i].1.clone()));
        }
    }
    let (conns, report) = analyze_bytes(&pcapng(&[(1, 6), (101, 9)], &ng), "two-ifaces.pcapng");
    assert_sf(&conns, "pcapng, two interfaces");
    assert_eq!(report.capture.map(|c| c.packets), Some(8));
}

#[test]
fn a_truncated_capture_keeps_what_was_read() {
    let bytes = pcap_le_us(LINKTYPE_ETHERNET, &handshake(&ipv4_eth));
    let cut = &bytes[..bytes.len() - 30]; // the last packet is cut in the middle
    let (conns, report) = analyze_bytes(cut, "cut.pcap");
    assert_eq!(
        conns.len(),
        1,
        "the connection of the first 7 packets is kept"
    );
    assert_eq!(conns[0].conn_state, ConnState::SF);
    let err = report
        .error
        .map(|e| e.problem.to_string())
        .unwrap_or_default();
    let at = bytes.len() - 30;
    assert!(
        err.contains(&format!(
            "the data ends at byte {at}, inside the block after packet 7"
        )),
        "{err}"
    );
    // the cut packet is counted as skipped, with what is left of it
    assert_eq!((report.data_lines, report.skipped), (8, 1));
    let note = report.examples[0].to_string();
    assert!(note.contains("packet 8: cut: only"), "{note}");
}

#[test]
fn garbage_after_the_header_and_unknown_link_types_are_reported() {
    let mut bytes = pcap_le_us(LINKTYPE_ETHERNET, &handshake(&ipv4_eth)[..2]);
    bytes.extend([0xff; 64]);
    let (conns, report) = analyze_bytes(&bytes, "garbage.pcap");
    assert_eq!(
        conns.len(),
        1,
        "the two good packets still make their connection"
    );
    assert!(report.error.is_some(), "garbage is reported");

    let unknown = pcap_le_us(4242, &handshake(&ipv4_eth));
    let (conns, report) = analyze_bytes(&unknown, "unknown.pcap");
    assert!(conns.is_empty());
    assert_eq!(report.skipped, 8);
    assert!(
        report.examples[0]
            .to_string()
            .contains("packet 1: unsupported link type '4242'"),
        "{:?}",
        report.examples
    );
}

#[test]
fn random_bytes_after_a_capture_header_never_panic() {
    use proptest::prelude::*;
    let header = pcap_le_us(LINKTYPE_ETHERNET, &[]);
    let ng_header = pcapng(&[(1, 6)], &[]);
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 128,
        ..Default::default()
    });
    let result = runner.run(
        &(
            proptest::collection::vec(any::<u8>(), 0..3000),
            any::<bool>(),
        ),
        |(tail, ng)| {
            let mut bytes = if ng {
                ng_header.clone()
            } else {
                header.clone()
            };
            bytes.extend(tail);
            let (_, report) = analyze_bytes(&bytes, "fuzz.pcap");
            prop_assert!(report.capture.is_some() || report.error.is_some());
            Ok(())
        },
    );
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn a_connection_continues_across_capture_files() {
    let packets = handshake(&ipv4_eth);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("b-first.pcap"),
        pcap_le_us(LINKTYPE_ETHERNET, &packets[..4]),
    )
    .unwrap_or_default();
    std::fs::write(
        dir.path().join("a-second.pcap"),
        pcap_le_us(LINKTYPE_ETHERNET, &packets[4..]),
    )
    .unwrap_or_default();
    let input = kalipso::input::read_with(&[dir.path().to_path_buf()], Timeouts::default());
    // the file with the later packets sorts first by name: files are read by first packet time
    assert_sf(&input.batch.conns, "split over two files");
}

/// A TCP segment over Ethernet/IPv4 with a given payload.
fn tcp_to(port: u16, from_client: bool, flags: &str, seq: u32, ack: u32, data: &[u8]) -> Vec<u8> {
    tcp_packet(&ipv4_eth, port, from_client, flags, seq, ack, data)
}

/// Every Zeek `conn_state`, each from the packets its definition describes (Zeek's conn.log
/// documentation): `c`/`s` is who sends, then the flags.
#[test]
fn every_conn_state_from_its_packets() {
    type Case<'a> = (&'a str, &'a [(bool, &'a str)], ConnState);
    let cases: &[Case] = &[
        ("S0", &[(true, "S")], ConnState::S0),
        (
            "S1",
            &[(true, "S"), (false, "SA"), (true, "A")],
            ConnState::S1,
        ),
        (
            "SF",
            &[
                (true, "S"),
                (false, "SA"),
                (true, "A"),
                (true, "FA"),
                (false, "FA"),
            ],
            ConnState::SF,
        ),
        ("REJ", &[(true, "S"), (false, "RA")], ConnState::REJ),
        (
            "S2",
            &[(true, "S"), (false, "SA"), (true, "A"), (true, "FA")],
            ConnState::S2,
        ),
        (
            "S3",
            &[(true, "S"), (false, "SA"), (true, "A"), (false, "FA")],
            ConnState::S3,
        ),
        (
            "RSTO",
            &[(true, "S"), (false, "SA"), (true, "A"), (true, "RA")],
            ConnState::RSTO,
        ),
        (
            "RSTR",
            &[(true, "S"), (false, "SA"), (true, "A"), (false, "RA")],
            ConnState::RSTR,
        ),
        ("RSTOS0", &[(true, "S"), (true, "R")], ConnState::RSTOS0),
        ("RSTRH", &[(false, "SA"), (false, "R")], ConnState::RSTRH),
        ("SH", &[(true, "S"), (true, "F")], ConnState::SH),
        ("SHR", &[(false, "SA"), (false, "FA")], ConnState::SHR),
        ("OTH", &[(true, "A"), (false, "A")], ConnState::OTH),
    ];
    for (name, packets, want) in cases {
        let (mut cs, mut ss) = (1000u32, 5000u32);
        let pkts: Vec<(f64, Vec<u8>)> = packets
            .iter()
            .enumerate()
            .map(|(i, (client, flags))| {
                let p = tcp_to(6000, *client, flags, if *client { cs } else { ss }, 0, &[]);
                let syn_or_fin = u32::from(flags.contains('S') || flags.contains('F'));
                if *client {
                    cs += syn_or_fin;
                } else {
                    ss += syn_or_fin;
                }
                (T0 + i as f64 * 0.01, p)
            })
            .collect();
        let (conns, _) = analyze_bytes(&pcap_le_us(LINKTYPE_ETHERNET, &pkts), "states.pcap");
        assert_eq!(conns.len(), 1, "{name}");
        assert_eq!(conns[0].conn_state, *want, "{name}");
        assert_eq!(
            (conns[0].orig_h, conns[0].orig_p),
            (std::net::IpAddr::from(CLIENT), 40_000),
            "{name}: the client is the originator"
        );
    }
}

/// A DNS message: one A question for `name`, and with `answer` one A record.
fn dns_message(id: u16, name: &str, answer: Option<[u8; 4]>) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend(if answer.is_some() {
        [0x81, 0x80]
    } else {
        [0x01, 0x00]
    });
    m.extend([0, 1, 0, u8::from(answer.is_some()), 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend(label.as_bytes());
    }
    m.extend([0, 0, 1, 0, 1]);
    if let Some(a) = answer {
        m.extend([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        m.extend(a);
    }
    m
}

/// DNS over TCP (messages with their 2-byte length) and HTTP pipelining (two requests in one
/// segment, two responses in one segment) give their dns.log and http.log rows.
#[test]
fn dns_over_tcp_and_pipelined_http_give_their_records() {
    let framed = |m: Vec<u8>| {
        let mut f = (m.len() as u16).to_be_bytes().to_vec();
        f.extend(m);
        f
    };
    let query = framed(dns_message(7, "example.com", None));
    let reply = framed(dns_message(7, "example.com", Some([93, 184, 216, 34])));
    let requests =
        b"GET /one HTTP/1.1\r\nHost: a.example\r\n\r\nGET /two HTTP/1.1\r\nHost: a.example\r\n\r\n";
    let responses = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    let mut pkts = Vec::new();
    for (port, up, down) in [
        (53u16, &query[..], &reply[..]),
        (80, &requests[..], &responses[..]),
    ] {
        let t = T0 + f64::from(port);
        let (c, s) = (1000u32, 5000u32);
        let up_len = up.len() as u32;
        pkts.extend([
            (t, tcp_to(port, true, "S", c, 0, &[])),
            (t + 0.01, tcp_to(port, false, "SA", s, c + 1, &[])),
            (t + 0.02, tcp_to(port, true, "A", c + 1, s + 1, up)),
            (
                t + 0.03,
                tcp_to(port, false, "A", s + 1, c + 1 + up_len, down),
            ),
        ]);
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("apps.pcap");
    std::fs::write(&path, pcap_le_us(LINKTYPE_ETHERNET, &pkts)).unwrap_or_else(|e| panic!("{e}"));
    let input = kalipso::input::read_with(&[path], Timeouts::default());
    let services: Vec<(u16, &str)> = input
        .batch
        .conns
        .iter()
        .map(|c| (c.resp_p, c.service.as_str()))
        .collect();
    assert_eq!(services, [(53, "dns"), (80, "http")]);
    assert_eq!(input.batch.dns.len(), 1);
    let d = &input.batch.dns[0];
    assert_eq!(
        (
            d.query.as_str(),
            d.qtype_name.as_str(),
            d.rcode_name.as_str()
        ),
        ("example.com", "A", "NOERROR")
    );
    assert_eq!(d.answers, ["93.184.216.34"]);
    let http: Vec<(&str, Option<u16>)> = input
        .batch
        .http
        .iter()
        .map(|h| (h.uri.as_str(), h.status_code))
        .collect();
    assert_eq!(http, [("/one", Some(200)), ("/two", Some(404))]);
    assert!(
        input
            .batch
            .http
            .iter()
            .all(|h| input.batch.conns[1].uid == h.id.uid.as_str()),
        "both carry their connection's uid"
    );
}

/// pcapng with one Ethernet interface whose `if_tsresol` and `if_tsoffset` are given, and
/// packets given by raw tick counts.
fn pcapng_ticks(tsresol: u8, offset: i64, packets: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = section_header();
    out.extend(interface(1, tsresol, Some(offset)));
    for (ticks, data) in packets {
        out.extend(enhanced_packet(0, *ticks, data));
    }
    out
}

/// pcapng times: a binary resolution (high bit: 2^-n s), an offset past 2^32 s, and a
/// resolution no counter can hold (its packets are skipped and said so, not dated in 1970).
// See: #10
#[test]
fn r10_pcapng_binary_resolutions_and_large_offsets() {
    let packets = handshake(&ipv4_eth);
    let binary: Vec<(u64, Vec<u8>)> = packets
        .iter()
        .map(|(ts, p)| ((ts * 1024.0).round() as u64, p.clone()))
        .collect();
    let (conns, report) = analyze_bytes(&pcapng_ticks(0x8a, 0, &binary), "binary.pcapng");
    assert_eq!(report.skipped, 0, "{:?}", report.examples);
    assert_eq!(conns.len(), 1);
    assert!(
        (conns[0].ts - T0).abs() < 1e-3,
        "2^-10 s ticks: {}",
        conns[0].ts
    );

    let offset = (1i64 << 32) + 1_000;
    let shifted: Vec<(u64, Vec<u8>)> = packets
        .iter()
        .map(|(ts, p)| (((ts - T0) * 1e6).round() as u64, p.clone()))
        .collect();
    let (conns, _) = analyze_bytes(&pcapng_ticks(6, offset, &shifted), "offset.pcapng");
    assert_eq!(conns.len(), 1);
    assert!(
        (conns[0].ts - offset as f64).abs() < 1e-3,
        "no 32-bit wrap: {}",
        conns[0].ts
    );

    let (conns, report) = analyze_bytes(&pcapng_ticks(20, 0, &binary), "tiny.pcapng");
    assert!(conns.is_empty());
    assert_eq!(report.skipped, 8);
    assert!(
        report.examples[0]
            .to_string()
            .contains("unsupported time resolution 0x14"),
        "{:?}",
        report.examples
    );
}

/// A capture cut inside its file header says so, instead of pcap-parser's "Incomplete read".
// See: #10
#[test]
fn r10_a_cut_file_header_is_named() {
    let whole = pcap_le_us(LINKTYPE_ETHERNET, &handshake(&ipv4_eth));
    let (conns, report) = analyze_bytes(&whole[..10], "cut-header.pcap");
    assert!(conns.is_empty());
    let error = report.error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        error.contains("the capture ends inside its file header (10 bytes)"),
        "{error}"
    );
}

/// A zero-length packet is called empty, not an unsupported link type.
// See: #10
#[test]
fn r10_empty_packets_are_named_empty() {
    let bytes = pcap_le_us(LINKTYPE_ETHERNET, &[(T0, Vec::new())]);
    let (_, report) = analyze_bytes(&bytes, "empty-packet.pcap");
    assert_eq!(report.skipped, 1);
    assert!(
        report.examples[0]
            .to_string()
            .contains("packet 1: empty packet (0 bytes captured)"),
        "{:?}",
        report.examples
    );
}

/// Cut and flipped copies of real captures (pcap, pcapng, gzipped) never panic, and every
/// packet is either read or counted as skipped.
// See: #10
#[test]
fn r10_cut_and_flipped_captures_never_panic() {
    use proptest::prelude::*;
    let packets = handshake(&ipv4_eth);
    let ng: Vec<(u32, f64, Vec<u8>)> = packets.iter().map(|(t, p)| (0, *t, p.clone())).collect();
    let originals = [
        pcap_le_us(LINKTYPE_ETHERNET, &packets),
        pcapng(&[(1, 6)], &ng),
    ];
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 128,
        ..Default::default()
    });
    let result = runner.run(
        &(
            0..2usize,
            any::<prop::sample::Index>(),
            proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
            any::<bool>(),
        ),
        |(which, cut, flips, gzipped)| {
            let mut bytes = originals[which].clone();
            for (at, xor) in flips {
                let i = at.index(bytes.len());
                bytes[i] ^= xor;
            }
            bytes.truncate(cut.index(bytes.len() + 1));
            if gzipped {
                let mut gz =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                std::io::Write::write_all(&mut gz, &bytes).unwrap_or_else(|e| panic!("{e}"));
                bytes = gz.finish().unwrap_or_else(|e| panic!("{e}"));
            }
            let (_, report) = analyze_bytes(&bytes, "mutant.pcap");
            prop_assert_eq!(report.records + report.skipped, report.data_lines);
            Ok(())
        },
    );
    assert!(result.is_ok(), "{result:?}");
}

/// A packet header claiming more bytes than any packet has, and pcapng blocks with impossible
/// or disagreeing lengths, are named with their byte position, not as pcap-parser's "Buffer is
/// too small" or a nom error carrying the whole buffer; the packets before them are kept.
// See: #10
#[test]
fn r10_broken_framing_is_named_with_its_position() {
    let packets = handshake(&ipv4_eth);
    let good = pcap_le_us(LINKTYPE_ETHERNET, &packets[..2]);
    let mut huge = good.clone();
    huge.extend(pcap_le_us(LINKTYPE_ETHERNET, &packets[2..3])[24..].to_vec());
    let at = good.len();
    huge[at + 8..at + 12].copy_from_slice(&0x2000_0000u32.to_le_bytes()); // caplen 512 MiB

    let ng: Vec<(u32, f64, Vec<u8>)> = packets[..2]
        .iter()
        .map(|(t, p)| (0, *t, p.clone()))
        .collect();
    let ng_good = pcapng(&[(1, 6)], &ng);
    let next = enhanced_packet(0, 0, &packets[2].1);
    let with_length = |lead: u32, trail: u32| {
        let mut bytes = ng_good.clone();
        let mut block = next.clone();
        let n = block.len();
        block[4..8].copy_from_slice(&lead.to_le_bytes());
        block[n - 4..].copy_from_slice(&trail.to_le_bytes());
        bytes.extend(block);
        bytes
    };
    let n = next.len() as u32;
    let cases = [
        (
            huge,
            "huge.pcap",
            "a packet claims 536870912 captured bytes, more than the 64 MiB any packet may have",
        ),
        (
            with_length(7, 7),
            "odd.pcapng",
            "block length 7 is impossible (at least 12 and a multiple of 4)",
        ),
        (
            with_length(n, n + 4),
            "disagree.pcapng",
            "the block's trailing length",
        ),
        (
            with_length(0x7fff_fff0, n),
            "vast.pcapng",
            "a block claims 2147483632 bytes, more than the 64 MiB any block may have",
        ),
    ];
    for (bytes, name, says) in cases {
        let start = if name == "huge.pcap" {
            at
        } else {
            ng_good.len()
        };
        let (_, report) = analyze_bytes(&bytes, name);
        let err = report.error.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err.contains(&format!("corrupt at byte {start}, after packet 2: {says}")),
            "{name}: {err}"
        );
        assert!(err.len() < 300, "{name}: one short line: {err}");
        assert_eq!(report.data_lines, 2, "{name}: the packets before are kept");
    }
}

/// Messages split across segments, some arriving out of order or twice, are read whole: a DNS
/// reply over TCP whose answer is in its third segment (the second segment arrives after the
/// third, and the first is retransmitted), and an HTTP request whose `Host` and `User-Agent`
/// are in its second segment with its response head cut mid-line. Read segment by segment,
/// the answer, the host, the agent and the response would be lost.
#[test]
fn messages_split_over_segments_and_out_of_order_are_read_whole() {
    let framed = |m: Vec<u8>| {
        let mut f = (m.len() as u16).to_be_bytes().to_vec();
        f.extend(m);
        f
    };
    let query = framed(dns_message(9, "split.example", None));
    let reply = framed(dns_message(9, "split.example", Some([192, 0, 2, 7])));
    let request = b"GET /x HTTP/1.1\r\nHost: split.example\r\nUser-Agent: agent/1\r\n\r\n";
    let response = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody";
    let (c, s) = (1000u32, 5000u32);
    let mut pkts = Vec::new();
    // DNS over TCP: the reply in three pieces, arriving 1, 3, 2, then 1 again
    let t = T0;
    let (r1, r2) = (reply.len() / 3, 2 * reply.len() / 3);
    let up = query.len() as u32;
    let down = |at: usize, end: usize| {
        tcp_to(
            53,
            false,
            "A",
            s + 1 + at as u32,
            c + 1 + up,
            &reply[at..end],
        )
    };
    pkts.extend([
        (t, tcp_to(53, true, "S", c, 0, &[])),
        (t + 0.01, tcp_to(53, false, "SA", s, c + 1, &[])),
        (t + 0.02, tcp_to(53, true, "A", c + 1, s + 1, &query)),
        (t + 0.03, down(0, r1)),
        (t + 0.04, down(r2, reply.len())),
        (t + 0.05, down(r1, r2)),
        (t + 0.06, down(0, r1)),
    ]);
    // HTTP: the request head cut before its Host line, the response head mid-line
    let t = T0 + 10.0;
    let cut = 17; // after "GET /x HTTP/1.1\r\n"
    let up = request.len() as u32;
    pkts.extend([
        (t, tcp_to(80, true, "S", c, 0, &[])),
        (t + 0.01, tcp_to(80, false, "SA", s, c + 1, &[])),
        (
            t + 0.02,
            tcp_to(80, true, "A", c + 1, s + 1, &request[..cut]),
        ),
        (
            t + 0.03,
            tcp_to(80, true, "A", c + 1 + cut as u32, s + 1, &request[cut..]),
        ),
        (
            t + 0.04,
            tcp_to(80, false, "A", s + 1, c + 1 + up, &response[..10]),
        ),
        (
            t + 0.05,
            tcp_to(80, false, "A", s + 11, c + 1 + up, &response[10..]),
        ),
    ]);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("split.pcap");
    std::fs::write(&path, pcap_le_us(LINKTYPE_ETHERNET, &pkts)).unwrap_or_else(|e| panic!("{e}"));
    let input = kalipso::input::read_with(&[path], Timeouts::default());
    assert_eq!(input.batch.dns.len(), 1, "one query, one row");
    assert_eq!(input.batch.dns[0].answers, ["192.0.2.7"]);
    assert_eq!(input.batch.http.len(), 1);
    let h = &input.batch.http[0];
    assert_eq!(
        (
            h.host.as_str(),
            h.user_agent.as_str(),
            h.status_code,
            h.response_body_len
        ),
        ("split.example", "agent/1", Some(200), 4)
    );
}

/// Ethernet frames of the IPv4 fragments of a UDP datagram from `src`:`sport` to `dst`:`dport`
/// carrying `payload`, cut every `step` bytes (a multiple of 8), with IP id `id`.
fn udp_fragments(
    src: [u8; 4],
    dst: [u8; 4],
    (sport, dport): (u16, u16),
    payload: &[u8],
    step: usize,
    id: u16,
) -> Vec<Vec<u8>> {
    let mut udp = sport.to_be_bytes().to_vec();
    udp.extend(dport.to_be_bytes());
    udp.extend(((payload.len() + 8) as u16).to_be_bytes());
    udp.extend([0, 0]);
    udp.extend(payload);
    udp.chunks(step)
        .enumerate()
        .map(|(i, part)| {
            let more = (i + 1) * step < udp.len();
            let field = (i * step / 8) as u16 | if more { 0x2000 } else { 0 };
            let mut f = vec![2u8; 6];
            f.extend([1u8; 6]);
            f.extend([0x08, 0x00, 0x45, 0]);
            f.extend(((20 + part.len()) as u16).to_be_bytes());
            f.extend(id.to_be_bytes());
            f.extend(field.to_be_bytes());
            f.extend([64, 17, 0, 0]);
            f.extend(src);
            f.extend(dst);
            f.extend(part);
            f
        })
        .collect()
}

/// A DNS answer in three IPv4 fragments that arrive out of order, one of them twice, is read
/// as one datagram: the query is answered, and the connection counts one reply packet of the
/// whole datagram's size. A datagram whose head never comes gives nothing.
#[test]
fn ipv4_fragments_out_of_order_are_reassembled() {
    let query = dns_message(9, "fragmented.example", None);
    let reply = dns_message(9, "fragmented.example", Some([192, 0, 2, 7]));
    let reply_len = reply.len();
    let mut frames = vec![(T0, {
        let mut q = udp_fragments(CLIENT, SERVER, (40_000, 53), &query, 4096, 1);
        q.remove(0)
    })];
    let mut frags = udp_fragments(SERVER, CLIENT, (53, 40_000), &reply, 24, 2);
    assert_eq!(frags.len(), 3);
    frags.swap(0, 2);
    let again = frags[1].clone();
    frags.insert(1, again);
    for (i, f) in frags.into_iter().enumerate() {
        frames.push((T0 + 0.01 + 0.001 * i as f64, f));
    }
    // a lone tail of another datagram
    let mut lone = udp_fragments(SERVER, CLIENT, (53, 40_000), &[0; 40], 24, 3);
    frames.push((T0 + 0.1, lone.remove(1)));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("fragments.pcap");
    std::fs::write(&path, pcap_le_us(LINKTYPE_ETHERNET, &frames)).unwrap_or_else(|e| panic!("{e}"));
    let input = kalipso::input::read_with(&[path], Timeouts::default());
    assert_eq!(input.batch.dns.len(), 1);
    assert_eq!(input.batch.dns[0].answers, ["192.0.2.7"]);
    assert_eq!(input.batch.conns.len(), 1);
    let c = &input.batch.conns[0];
    assert_eq!((c.orig_pkts, c.resp_pkts), (1, 1));
    assert_eq!(c.resp_ip_bytes, (20 + 8 + reply_len) as u64);
    assert_eq!(c.resp_bytes, reply_len as u64);
    let stats = input.summary.files[0].capture.unwrap_or_default();
    assert_eq!(
        (stats.fragments, stats.reassembled, stats.fragments_dropped),
        (5, 1, 1),
        "the lone tail is dropped at the end: {stats:?}"
    );
}

/// SMTP in a capture: a client whose messages the server refuses with `bad smtp-auth user`
/// three times within 10 s gives smtp.log rows with that last reply, and from them Slips'
/// bad-login and login-bruteforce evidence, as from Zeek's smtp.log.
#[test]
fn refused_smtp_logins_in_a_capture_are_slips_evidence() {
    let server: &[&str] = &[
        "220 mx.example ESMTP",
        "250 mx.example",
        "250 OK",
        "250 OK",
        "354 go ahead",
        "554 5.7.1 bad smtp-auth user",
    ];
    let client: &[&str] = &[
        "EHLO [0.0.0.0]",
        "MAIL FROM:<a@example.com>",
        "RCPT TO:<b@example.net>",
        "DATA",
        "Subject: hi\r\n\r\nbody\r\n.",
    ];
    let (mut c, mut s) = (1000u32, 5000u32);
    let mut pkts = vec![
        (T0, tcp_to(25, true, "S", c, 0, &[])),
        (T0 + 0.01, tcp_to(25, false, "SA", s, c + 1, &[])),
    ];
    c += 1;
    s += 1;
    let mut t = T0 + 0.02;
    let mut send = |from_client: bool, text: &str, c: &mut u32, s: &mut u32| {
        let data = format!("{text}\r\n").into_bytes();
        let (seq, ack) = if from_client { (*c, *s) } else { (*s, *c) };
        pkts.push((t, tcp_to(25, from_client, "A", seq, ack, &data)));
        t += 0.1;
        if from_client {
            *c += data.len() as u32;
        } else {
            *s += data.len() as u32;
        }
    };
    send(false, server[0], &mut c, &mut s);
    send(true, client[0], &mut c, &mut s);
    send(false, server[1], &mut c, &mut s);
    for _ in 0..3 {
        for (i, line) in client[1..].iter().enumerate() {
            send(true, line, &mut c, &mut s);
            send(false, server[i + 2], &mut c, &mut s);
        }
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("smtp.pcap");
    std::fs::write(&path, pcap_le_us(LINKTYPE_ETHERNET, &pkts)).unwrap_or_else(|e| panic!("{e}"));
    let input = kalipso::input::read_with(std::slice::from_ref(&path), Timeouts::default());
    assert_eq!(input.batch.conns[0].service.as_str(), "smtp");
    let replies: Vec<&str> = input
        .batch
        .smtp
        .iter()
        .map(|r| r.last_reply.as_str())
        .collect();
    assert_eq!(replies, ["554 5.7.1 bad smtp-auth user"; 3]);
    let store = kalipso::analyze(&kalipso::Options::new([path]));
    let found: Vec<String> = store
        .detections
        .evidence
        .iter()
        .map(kalipso::detect::Evidence::description)
        .collect();
    let server_ip = "10.0.0.2";
    assert!(
        found
            .iter()
            .any(|d| d == &format!("doing bad SMTP login to {server_ip}")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|d| d.starts_with(&format!(
            "doing SMTP login bruteforce to {server_ip}. 3 logins in 10 seconds"
        ))),
        "{found:?}"
    );
}

/// A connection's buffers are bounded: a hole that is never filled, with more than the held
/// limit (64 KiB) of data after it, makes the stream give up, and the capture's report counts
/// it.
#[test]
fn a_stream_given_up_is_counted() {
    let (c, s) = (1000u32, 5000u32);
    let request = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut pkts = vec![
        (T0, tcp_to(80, true, "S", c, 0, &[])),
        (T0 + 0.01, tcp_to(80, false, "SA", s, c + 1, &[])),
        (T0 + 0.02, tcp_to(80, true, "A", c + 1, s + 1, request)),
    ];
    // the server's first byte never comes; 50 segments of 1400 bytes follow it
    let body = vec![b'x'; 1400];
    for i in 0..50u32 {
        let seq = s + 2 + i * 1400;
        pkts.push((
            T0 + 0.03 + f64::from(i) * 0.001,
            tcp_to(80, false, "A", seq, c + 1 + request.len() as u32, &body),
        ));
    }
    let (conns, report) = analyze_bytes(&pcap_le_us(LINKTYPE_ETHERNET, &pkts), "gap.pcap");
    assert_eq!(conns.len(), 1);
    let stats = report.capture.unwrap_or_default();
    assert_eq!(stats.stream_gaps, 1, "{stats:?}");
}
