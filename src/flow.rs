//! Flow assembly: packets → Zeek conn.log connections.
//!
//! Follows Zeek's conn.log semantics as validated against real Zeek on the corpus
//! (`shared/tools/tshark_conn.py`): 5-tuple connections; the originator is the first sender,
//! except that a first-seen SYN-ACK flips it and a first packet *from* a well-known server port
//! to a non-server port does too (Zeek's `likely_server_ports`); inactivity timeouts (TCP 5 min,
//! UDP and ICMP 1 min, configurable), plus Zeek's lazily fired 10 s DNS session timer; a fresh
//! SYN after a closed (FIN/FIN or RST) connection starts a new one; payload bytes from TCP
//! sequence numbers (FIN not counted), IP bytes and packets per side; packets after both FINs
//! do not extend the duration; `conn_state` from approximated endpoint states, as Zeek's
//! `Conn::conn_state()`. ICMP connections pair a request type with its reply type.
//! Connections are emitted when they end, as Zeek writes conn.log; the ones still open at the
//! end of the input follow, by start time. uids are derived from the connection, not random.

pub mod app;
pub mod tls;

use crate::record::{Conn, ConnState, Dns, Endpoints, Http, Proto, Ssl, Sym};
use compact_str::CompactString;
use rustc_hash::FxHashMap;
use std::collections::BinaryHeap;
use std::net::IpAddr;

/// Inactivity timeouts, seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    /// TCP (Zeek `tcp_inactivity_timeout`, 5 min).
    pub tcp: f64,
    /// UDP (1 min).
    pub udp: f64,
    /// ICMP (1 min).
    pub icmp: f64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            tcp: 300.0,
            udp: 60.0,
            icmp: 60.0,
        }
    }
}

/// What the assembler needs of one packet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PacketMeta {
    /// Capture time, unix seconds.
    pub ts: f64,
    /// IP source.
    pub src: IpAddr,
    /// IP destination.
    pub dst: IpAddr,
    /// TCP, UDP or ICMP (v4 and v6).
    pub proto: Proto,
    /// Source port (ICMP: type).
    pub sport: u16,
    /// Destination port (ICMP: code).
    pub dport: u16,
    /// TCP flags.
    pub flags: TcpFlags,
    /// TCP sequence number.
    pub seq: u32,
    /// Transport payload length from the IP and transport headers (not the captured length).
    pub payload: u32,
    /// IP total length (IPv6: payload length + 40).
    pub ip_len: u32,
    /// True for `ICMPv6`.
    pub icmp6: bool,
    /// TCP window size.
    pub window: u16,
}

/// The TCP flags the assembler uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(clippy::struct_excessive_bools)]
pub struct TcpFlags {
    /// SYN
    pub syn: bool,
    /// ACK
    pub ack: bool,
    /// FIN
    pub fin: bool,
    /// RST
    pub rst: bool,
}

/// Ports Zeek's base analyzers register: a first packet from one of these to a port that is not
/// one is taken as the server's answer.
const LIKELY_SERVER_PORTS: &[u16] = &[
    21, 22, 25, 53, 67, 79, 80, 81, 88, 123, 135, 137, 139, 143, 161, 162, 443, 445, 465, 502, 514,
    563, 585, 587, 614, 631, 636, 989, 990, 992, 993, 995, 1080, 1434, 1812, 1883, 2123, 2152,
    2811, 3128, 3306, 3389, 3544, 4011, 4754, 5060, 5072, 5222, 5223, 5269, 5353, 5355, 6379, 6666,
    6667, 6668, 6669, 8000, 8080, 8888, 20000,
];
const DNS_PORTS: &[u16] = &[53, 137, 5353, 5355];

fn icmp_pair(t: u16, code: u16, v6: bool) -> u16 {
    let pairs: &[(u16, u16)] = if v6 {
        &[
            (128, 129),
            (129, 128),
            (133, 134),
            (134, 133),
            (135, 136),
            (136, 135),
        ]
    } else {
        &[
            (8, 0),
            (0, 8),
            (13, 14),
            (14, 13),
            (15, 16),
            (16, 15),
            (17, 18),
            (18, 17),
            (10, 9),
            (9, 10),
        ]
    };
    pairs.iter().find(|p| p.0 == t).map_or(code, |p| p.1)
}

type Key = (Proto, IpAddr, u16, IpAddr, u16);

/// One side of a connection.
#[derive(Debug, Clone, Copy, Default)]
struct Side {
    pkts: u64,
    ip_bytes: u64,
    payload: u64,
    flags: TcpFlags,
    /// First sequence number (after the SYN), the highest end seen, and the FIN's position.
    seq: Option<u32>,
    seq_max: u32,
    fin_end: Option<u32>,
}

/// The start of a TLS connection: each side's first bytes until its hello is complete.
#[derive(Debug, Clone, Default)]
struct TlsState {
    bufs: [Vec<u8>; 2],
    client: Option<(f64, tls::ClientHello)>,
    server: Option<tls::ServerHello>,
    /// Subject and issuer of the server's certificate, when sent in clear.
    cert: Option<(String, String)>,
    /// Nothing more to read from the server (certificate seen, TLS 1.3, or buffer full).
    server_done: bool,
}

/// How much of each side kalipso keeps while waiting for a hello.
const TLS_BUFFER: usize = 16 << 10;

/// A DNS query waiting for its response.
#[derive(Debug, Clone)]
struct Pending {
    id: u16,
    ts: f64,
    question: Option<(String, u16, u16)>,
}

#[derive(Debug, Clone)]
struct Flow {
    key: Key,
    id: u64,
    uid: CompactString,
    service: Option<&'static str>,
    /// Whether each side (orig, resp) has sent payload yet.
    spoke: [bool; 2],
    dns_pending: Vec<Pending>,
    /// Zeek's history letters so far.
    history: CompactString,
    http_pending: std::collections::VecDeque<app::HttpRequest>,
    tls: Option<Box<TlsState>>,
    ts: f64,
    last: f64,
    orig: (IpAddr, u16),
    resp: (IpAddr, u16),
    o: Side,
    r: Side,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ep {
    Reset,
    Closed,
    Inactive,
    Established,
    SynSent,
    Partial,
}

fn ep_state(p: &Side, q: &Side) -> Ep {
    // `syn` is any SYN (Zeek's S also matches SA), so SYN_ACK_SENT is never reached.
    if p.flags.rst {
        Ep::Reset
    } else if p.flags.fin {
        Ep::Closed
    } else if p.pkts == 0 {
        Ep::Inactive
    } else if (p.flags.syn && q.syn_ack()) || (p.syn_ack() && q.flags.syn) {
        if p.pkts > 1 || p.syn_ack() {
            Ep::Established
        } else {
            Ep::SynSent
        }
    } else if p.flags.syn {
        Ep::SynSent
    } else {
        Ep::Partial
    }
}

impl Side {
    fn syn_ack(&self) -> bool {
        self.flags.syn && self.flags.ack
    }

    fn bytes(&self, tcp: bool) -> u64 {
        match (tcp, self.seq) {
            (true, Some(first)) => {
                let mut top = self.seq_max;
                if let Some(fe) = self.fin_end {
                    if top.wrapping_sub(fe) < 1 << 31 {
                        top = fe;
                    }
                }
                u64::from(top.wrapping_sub(first))
            }
            _ => self.payload,
        }
    }
}

impl Flow {
    fn state(&self) -> ConnState {
        use ConnState as C;
        let (o, r) = (&self.o, &self.r);
        match self.key.0 {
            Proto::Udp => {
                return match (o.pkts > 0, r.pkts > 0) {
                    (true, true) => C::SF,
                    (true, false) => C::S0,
                    (false, true) => C::SHR,
                    (false, false) => C::OTH,
                };
            }
            Proto::Tcp => {}
            _ => return C::OTH,
        }
        let (os, rs) = (ep_state(o, r), ep_state(r, o));
        let o_in = matches!(os, Ep::Inactive | Ep::Partial);
        let r_in = matches!(rs, Ep::Inactive | Ep::Partial);
        if rs == Ep::Reset {
            if os == Ep::SynSent || (os == Ep::Reset && o.bytes(true) == 0 && r.bytes(true) == 0) {
                return C::REJ;
            }
            return if o_in { C::RSTRH } else { C::RSTR };
        }
        if os == Ep::Reset {
            if r_in {
                return if o.flags.syn && r.pkts == 0 {
                    C::RSTOS0
                } else {
                    C::OTH
                };
            }
            return C::RSTO;
        }
        match (os, rs) {
            (Ep::Closed, Ep::Closed) => C::SF,
            (Ep::Closed, _) => {
                if r_in {
                    C::SH
                } else {
                    C::S2
                }
            }
            (_, Ep::Closed) => {
                if o_in {
                    C::SHR
                } else {
                    C::S3
                }
            }
            (Ep::SynSent, Ep::Inactive) => C::S0,
            (Ep::Established, Ep::Established) => C::S1,
            _ => C::OTH,
        }
    }

    /// The endpoints and uid an application record of this connection carries.
    fn endpoints(&self, ts: f64) -> Endpoints {
        Endpoints {
            ts,
            uid: self.uid.clone(),
            orig_h: self.orig.0,
            orig_p: self.orig.1,
            resp_h: self.resp.0,
            resp_p: self.resp.1,
        }
    }

    fn closed(&self) -> bool {
        self.key.0 == Proto::Tcp
            && ((self.o.flags.fin && self.r.flags.fin) || self.o.flags.rst || self.r.flags.rst)
    }

    fn into_conn(self) -> Conn {
        let tcp = self.key.0 == Proto::Tcp;
        let conn_state = self.state();
        let duration = self.last - self.ts;
        // Zeek leaves bytes unset for a connection without duration.
        let (ob, rb) = if duration > 0.0 {
            (self.o.bytes(tcp), self.r.bytes(tcp))
        } else {
            (0, 0)
        };
        Conn {
            ts: self.ts,
            duration: duration.max(0.0),
            uid: self.uid,
            orig_h: self.orig.0,
            orig_p: self.orig.1,
            resp_h: self.resp.0,
            resp_p: self.resp.1,
            proto: self.key.0,
            service: self.service.map_or_else(Sym::default, Sym::new),
            conn_state,
            orig_bytes: ob,
            resp_bytes: rb,
            history: if self.history.is_empty() {
                Sym::default()
            } else {
                Sym::new(&self.history)
            },
            orig_pkts: self.o.pkts,
            orig_ip_bytes: self.o.ip_bytes,
            resp_pkts: self.r.pkts,
            resp_ip_bytes: self.r.ip_bytes,
        }
    }
}

/// Adds the history letters of one packet (Zeek's `history`: upper case for the originator,
/// each letter once per direction; ICMP connections have none).
fn record_history(
    history: &mut CompactString,
    p: &PacketMeta,
    is_orig: bool,
    retransmission: bool,
) {
    let mut add = |c: char| {
        let c = if is_orig { c } else { c.to_ascii_lowercase() };
        if !history.contains(c) {
            history.push(c);
        }
    };
    match p.proto {
        Proto::Tcp => {
            let f = p.flags;
            if f.syn && (f.fin || f.rst) {
                add('Q');
            } else if f.syn {
                add(if f.ack { 'H' } else { 'S' });
            }
            if f.fin && f.rst {
                add('I');
            }
            if f.fin {
                add('F');
            }
            if f.rst {
                add('R');
            }
            if p.payload > 0 {
                add('D');
                if retransmission {
                    add('T');
                }
            } else if f.ack && !f.syn && !f.fin && !f.rst {
                add('A');
            }
            if p.window == 0 && !f.rst && !f.syn {
                add('W');
            }
        }
        // Zeek marks every UDP packet as data, even an empty one
        Proto::Udp => add('D'),
        _ => {}
    }
}

/// An ssl.log row from the hellos of a connection.
fn ssl_row(
    f: &Flow,
    ts: f64,
    ch: tls::ClientHello,
    sh: Option<tls::ServerHello>,
    cert: Option<(String, String)>,
) -> Ssl {
    let (subject, issuer) = cert.unwrap_or_default();
    let resumed = sh
        .as_ref()
        .is_some_and(|s| !ch.session_id.is_empty() && s.session_id == ch.session_id);
    Ssl {
        id: f.endpoints(ts),
        version: sh
            .as_ref()
            .map(|s| s.version.as_str())
            .unwrap_or_default()
            .into(),
        cipher: sh
            .as_ref()
            .map(|s| format!("0x{:04x}", s.cipher))
            .unwrap_or_default(),
        curve: CompactString::default(),
        server_name: ch.sni,
        resumed,
        established: sh.is_some(),
        subject,
        issuer,
        validation_status: String::new(),
        ja3: ch.ja3.into(),
        ja3s: sh.map(|s| s.ja3s).unwrap_or_default().into(),
    }
}

/// An http.log row for a request (and its response, if any).
fn http_row(f: &Flow, req: app::HttpRequest, res: Option<&app::HttpResponse>) -> Http {
    Http {
        id: f.endpoints(req.ts),
        method: req.method.into(),
        host: req.host,
        uri: req.uri,
        version: res
            .as_ref()
            .map_or(req.version, |r| r.version.clone())
            .into(),
        user_agent: req.user_agent,
        request_body_len: req.body_len,
        response_body_len: res.and_then(|r| r.body_len).unwrap_or(0),
        status_code: res.map(|r| r.code),
        status_msg: res.map(|r| r.message.clone()).unwrap_or_default(),
        resp_fuids: Vec::new(),
        resp_mime_types: res
            .as_ref()
            .and_then(|r| r.mime)
            .map(|m| vec![m.to_string()])
            .unwrap_or_default(),
    }
}

/// A dns.log row for a query (and its response, if any).
fn dns_row(
    f: &Flow,
    ts: f64,
    question: Option<&(String, u16, u16)>,
    response: Option<&app::Message>,
) -> Dns {
    let answers: Vec<&app::Answer> = response
        .map(|m| m.answers.iter().filter(|a| a.text.is_some()).collect())
        .unwrap_or_default();
    // A response without a question (mDNS announcements) is logged under its first answer's name.
    let query = match question {
        Some(q) => q.0.clone(),
        None => response
            .and_then(|m| m.answers.first())
            .map(|a| a.name.clone())
            .unwrap_or_default(),
    };
    // NetBIOS name service (port 137) encodes names; Zeek logs them decoded.
    let query = if f.orig.1 == 137 || f.resp.1 == 137 {
        app::netbios_name(&query)
    } else {
        query
    };
    Dns {
        id: f.endpoints(ts),
        query,
        qclass_name: question
            .map(|q| app::qclass_name(q.2).into())
            .unwrap_or_default(),
        qtype_name: question
            .map(|q| app::qtype_name(q.1).into())
            .unwrap_or_default(),
        rcode_name: response
            .map(|m| app::rcode_name(m.rcode).into())
            .unwrap_or_default(),
        answers: answers.iter().filter_map(|a| a.text.clone()).collect(),
        ttls: answers.iter().map(|a| f64::from(a.ttl)).collect(),
    }
}

const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A Zeek-shaped uid (`C` + 17 base-62 characters) derived from the connection.
fn uid(key: &Key, ts: f64, id: u64) -> CompactString {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |v: u64| {
        h ^= v;
        h = h.wrapping_mul(0x0100_0000_01b3).rotate_left(29) ^ (h >> 17);
    };
    let ip = |a: &IpAddr| match a {
        IpAddr::V4(v) => u128::from(u32::from(*v)),
        IpAddr::V6(v) => u128::from(*v),
    };
    for part in [ip(&key.1), ip(&key.3)] {
        mix(part as u64);
        mix((part >> 64) as u64);
    }
    mix(u64::from(key.2) << 16 | u64::from(key.4));
    mix(key.0 as u64);
    mix(ts.to_bits());
    mix(id);
    let mut out = CompactString::from("C");
    let mut x =
        u128::from(h) << 64 | u128::from(h.rotate_left(31).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    for _ in 0..17 {
        out.push(B62[(x % 62) as usize] as char);
        x /= 62;
    }
    out
}

/// A pending DNS session timer (earliest first in the heap).
#[derive(Debug, PartialEq)]
struct Timer {
    at: f64,
    id: u64,
    key: Key,
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Timer {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        o.at.total_cmp(&self.at).then(o.id.cmp(&self.id))
    }
}

/// Where a record was emitted in the capture's sequence of events, so the records of all
/// shards merge into one order that does not depend on how packets were split among them:
/// the packet (or sweep point) that caused it and the phase (sweep, timers, the packet itself,
/// end of capture) packed in `at`, then the connection's start and id for records emitted for
/// several connections at once. Records of one shard with equal tags keep their order.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tag {
    at: u64,
    ts: f64,
    id: u64,
}

impl Tag {
    fn new(seq: u64, phase: u8) -> Tag {
        Tag {
            at: seq << 2 | u64::from(phase),
            ts: 0.0,
            id: 0,
        }
    }

    fn phase(self) -> u8 {
        (self.at & 3) as u8
    }

    fn order(&self, o: &Tag) -> std::cmp::Ordering {
        self.at
            .cmp(&o.at)
            .then(self.ts.total_cmp(&o.ts))
            .then(self.id.cmp(&o.id))
    }
}

const PHASE_SWEEP: u8 = 0;
const PHASE_TIMER: u8 = 1;
const PHASE_PACKET: u8 = 2;
const PHASE_END: u8 = 3;
/// Records are kept in blocks of this many, so merging frees memory as it goes.
const BLOCK: usize = 4096;

/// Records of one kind with the tag of each, in blocks.
#[derive(Debug)]
struct Out<T> {
    blocks: Vec<(Vec<Tag>, Vec<T>)>,
}

impl<T> Default for Out<T> {
    fn default() -> Self {
        Out { blocks: Vec::new() }
    }
}

impl<T> Out<T> {
    fn push(&mut self, tag: Tag, item: T) {
        if self.blocks.last().is_none_or(|b| b.1.len() == BLOCK) {
            self.blocks
                .push((Vec::with_capacity(BLOCK), Vec::with_capacity(BLOCK)));
        }
        if let Some(b) = self.blocks.last_mut() {
            b.0.push(tag);
            b.1.push(item);
        }
    }

    /// Merges the outputs of all shards by tag (each shard's output is already in tag order;
    /// ties go to the lower shard). Blocks are freed as they are consumed, so the merge needs
    /// little more memory than the records.
    fn merge_into(parts: Vec<Out<T>>, out: &mut Vec<T>) {
        struct Cursor<T> {
            blocks: std::vec::IntoIter<(Vec<Tag>, Vec<T>)>,
            tags: std::vec::IntoIter<Tag>,
            items: std::vec::IntoIter<T>,
            head: Option<Tag>,
        }
        impl<T> Cursor<T> {
            fn advance(&mut self) {
                loop {
                    if let Some(t) = self.tags.next() {
                        self.head = Some(t);
                        return;
                    }
                    if let Some((tags, items)) = self.blocks.next() {
                        self.tags = tags.into_iter();
                        self.items = items.into_iter();
                    } else {
                        self.head = None;
                        return;
                    }
                }
            }
        }
        out.reserve(
            parts
                .iter()
                .flat_map(|p| &p.blocks)
                .map(|b| b.1.len())
                .sum(),
        );
        let mut cursors: Vec<Cursor<T>> = parts
            .into_iter()
            .map(|p| {
                let mut c = Cursor {
                    blocks: p.blocks.into_iter(),
                    tags: Vec::new().into_iter(),
                    items: Vec::new().into_iter(),
                    head: None,
                };
                c.advance();
                c
            })
            .collect();
        loop {
            let mut best: Option<(usize, Tag)> = None;
            for (i, c) in cursors.iter().enumerate() {
                if let Some(t) = c.head {
                    if best.is_none_or(|(_, b)| t.order(&b).is_lt()) {
                        best = Some((i, t));
                    }
                }
            }
            let Some((b, _)) = best else { break };
            let c = &mut cursors[b];
            if let Some(item) = c.items.next() {
                out.push(item);
            }
            c.advance();
        }
    }
}

/// Builds the connections of one shard of the capture's flows. Packets arrive in capture order
/// with their global sequence number; sweep points are the same for every shard.
#[derive(Debug, Default)]
pub struct Assembler {
    timeouts: Timeouts,
    active: FxHashMap<Key, Flow>,
    timers: BinaryHeap<Timer>,
    /// The tag of the records emitted now.
    tag: Tag,
    /// Finished connections, in the order they ended.
    done: Out<Conn>,
    /// dns.log records, in the order Zeek writes them (at the response, or when the
    /// connection ends for unanswered queries).
    dns: Out<Dns>,
    /// http.log records (at the response, or at the end for unanswered requests).
    http: Out<Http>,
    /// ssl.log records (when the connection ends).
    ssl: Out<Ssl>,
}

impl Default for Tag {
    fn default() -> Self {
        Tag::new(0, PHASE_PACKET)
    }
}

/// Zeek's `tcp_close_delay` / `tcp_reset_delay`: a closed or reset TCP connection is retired
/// this long after its last packet.
const CLOSE_DELAY: f64 = 5.0;
/// How often (in capture time) expired connections are retired, so memory follows the live
/// connections, not the size of the capture.
const SWEEP_EVERY: f64 = 1.0;
/// Flows are split among this many assemblers by a hash of their 5-tuple; a fixed number, so
/// the result is the same on any number of threads.
pub const SHARDS: usize = 16;

/// The shard of a packet's connection (the same for both directions).
pub fn shard_of(p: &PacketMeta) -> u16 {
    let (sp, dp) = if p.proto == Proto::Icmp {
        (p.sport, icmp_pair(p.sport, p.dport, p.icmp6))
    } else {
        (p.sport, p.dport)
    };
    let ep = |a: IpAddr, port: u16| -> u64 {
        let v = match a {
            IpAddr::V4(v) => u64::from(u32::from(v)),
            IpAddr::V6(v) => {
                let x = u128::from(v);
                (x as u64) ^ ((x >> 64) as u64).rotate_left(17)
            }
        };
        (v << 16 | u64::from(port)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    };
    // symmetric: the sum does not depend on the direction
    let h = ep(p.src, sp)
        .wrapping_add(ep(p.dst, dp))
        .wrapping_add(p.proto as u64);
    let h = (h ^ (h >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    ((h >> 40) % SHARDS as u64) as u16
}

/// One decoded packet of a chunk: what the assembler needs, where its captured payload is in
/// the chunk's bytes, and its shard.
#[derive(Debug, Clone, Copy)]
pub struct Packet {
    /// Header fields.
    pub meta: PacketMeta,
    /// Offset of the captured transport payload in the chunk.
    pub at: u32,
    /// Its captured length.
    pub len: u32,
    /// [`shard_of`] the packet.
    pub shard: u16,
}

/// The flows of a whole capture (or several, in order), assembled by [`SHARDS`] assemblers in
/// parallel.
#[derive(Debug)]
pub struct Capture {
    shards: Vec<Assembler>,
    /// The records so far, merged after every [`Capture::feed`].
    out: crate::record::Batch,
    seq: u64,
    last_sweep: f64,
}

impl Capture {
    /// An empty capture.
    pub fn new(timeouts: Timeouts) -> Self {
        Capture {
            shards: (0..SHARDS).map(|_| Assembler::new(timeouts)).collect(),
            out: crate::record::Batch::default(),
            seq: 0,
            last_sweep: f64::NEG_INFINITY,
        }
    }

    /// Adds the next packets (in capture order); their payloads are in `data`.
    pub fn feed(&mut self, packets: &[Packet], data: &[u8]) {
        use rayon::prelude::*;
        let first = self.seq;
        // sweep points: before the first packet at least SWEEP_EVERY after the last sweep
        let mut sweeps: Vec<(u64, f64)> = Vec::new();
        let mut own: Vec<Vec<u32>> = vec![Vec::new(); SHARDS];
        for (i, p) in packets.iter().enumerate() {
            if p.meta.ts - self.last_sweep >= SWEEP_EVERY {
                if self.last_sweep.is_finite() {
                    sweeps.push((first + i as u64, p.meta.ts));
                }
                self.last_sweep = p.meta.ts;
            }
            if let Some(v) = own.get_mut(usize::from(p.shard)) {
                v.push(i as u32);
            }
        }
        self.seq += packets.len() as u64;
        self.shards
            .par_iter_mut()
            .zip(own.par_iter())
            .for_each(|(asm, mine)| {
                let mut sw = sweeps.iter().peekable();
                for &i in mine {
                    let seq = first + u64::from(i);
                    while let Some(&&(s, ts)) = sw.peek() {
                        if s > seq {
                            break;
                        }
                        asm.tick(s, ts);
                        sw.next();
                    }
                    let p = &packets[i as usize];
                    let at = p.at as usize;
                    let payload = data.get(at..at + p.len as usize).unwrap_or_default();
                    asm.packet(seq, &p.meta, payload);
                }
                for &(s, ts) in sw {
                    asm.tick(s, ts);
                }
            });
        self.collect();
    }

    /// Moves the records the shards emitted so far to the merged output; every record still
    /// to come has a later tag.
    fn collect(&mut self) {
        let mut conns = Vec::with_capacity(SHARDS);
        let mut dns = Vec::with_capacity(SHARDS);
        let mut http = Vec::with_capacity(SHARDS);
        let mut ssl = Vec::with_capacity(SHARDS);
        for a in &mut self.shards {
            conns.push(std::mem::take(&mut a.done));
            dns.push(std::mem::take(&mut a.dns));
            http.push(std::mem::take(&mut a.http));
            ssl.push(std::mem::take(&mut a.ssl));
        }
        Out::merge_into(conns, &mut self.out.conns);
        Out::merge_into(dns, &mut self.out.dns);
        Out::merge_into(http, &mut self.out.http);
        Out::merge_into(ssl, &mut self.out.ssl);
    }

    /// Ends the capture: the records of all shards, in one order.
    pub fn finish(mut self) -> crate::record::Batch {
        for a in &mut self.shards {
            a.finish_all();
        }
        self.collect();
        self.out
    }
}

impl Assembler {
    /// A new assembler.
    pub fn new(timeouts: Timeouts) -> Self {
        Assembler {
            timeouts,
            ..Assembler::default()
        }
    }

    fn timeout(&self, p: Proto) -> f64 {
        match p {
            Proto::Tcp => self.timeouts.tcp,
            Proto::Udp => self.timeouts.udp,
            _ => self.timeouts.icmp,
        }
    }

    /// Retires a connection; in the sweep and timer phases its records are ordered by its start.
    fn finish(&mut self, key: &Key) {
        if let Some(mut f) = self.active.remove(key) {
            if self.tag.phase() != PHASE_PACKET {
                self.tag.ts = f.ts;
                self.tag.id = f.id;
            }
            self.unanswered(&mut f);
            let tag = self.tag;
            self.done.push(tag, f.into_conn());
        }
    }

    /// Logs the queries of a connection that never got a response.
    fn unanswered(&mut self, f: &mut Flow) {
        for q in std::mem::take(&mut f.dns_pending) {
            let row = dns_row(f, q.ts, q.question.as_ref(), None);
            let tag = self.tag;
            self.dns.push(tag, row);
        }
        for r in std::mem::take(&mut f.http_pending) {
            let tag = self.tag;
            self.http.push(tag, http_row(f, r, None));
        }
        if let Some(t) = f.tls.take() {
            if let Some((ts, ch)) = t.client {
                let tag = self.tag;
                self.ssl.push(tag, ssl_row(f, ts, ch, t.server, t.cert));
            }
        }
    }

    /// Handles one DNS message of a connection.
    fn dns_message(&mut self, key: &Key, ts: f64, m: app::Message) {
        let Some(f) = self.active.get_mut(key) else {
            return;
        };
        if !m.response {
            f.dns_pending.push(Pending {
                id: m.id,
                ts,
                question: m.question,
            });
            return;
        }
        let (ts, question) = match f.dns_pending.iter().position(|q| q.id == m.id) {
            Some(i) => {
                let q = f.dns_pending.remove(i);
                (q.ts, q.question.or(m.question.clone()))
            }
            None => (ts, m.question.clone()),
        };
        let row = dns_row(f, ts, question.as_ref(), Some(&m));
        let tag = self.tag;
        self.dns.push(tag, row);
    }

    /// A sweep point (the same for every shard): retires the connections that are idle past
    /// their timeout, or closed and idle past the close delay, in the order they started (ties
    /// by creation), then fires the due timers.
    fn tick(&mut self, seq: u64, now: f64) {
        self.tag = Tag::new(seq, PHASE_SWEEP);
        let mut expired: Vec<(f64, u64, Key)> = self
            .active
            .iter()
            .filter(|(_, f)| {
                let idle = now - f.last;
                idle > self.timeout(f.key.0) || (f.closed() && idle > CLOSE_DELAY)
            })
            .map(|(k, f)| (f.ts, f.id, *k))
            .collect();
        expired.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (_, _, k) in expired {
            self.finish(&k);
        }
        self.timers_due(seq, now);
    }

    /// Zeek's DNS analyzer timer fires lazily at the first packet at or after its time: it
    /// expires the connection after 9 s without packets, else re-arms for 10 s. (Here: at the
    /// first packet of the same shard or sweep point.)
    fn timers_due(&mut self, seq: u64, now: f64) {
        self.tag = Tag::new(seq, PHASE_TIMER);
        while self.timers.peek().is_some_and(|t| t.at <= now) {
            let Some(t) = self.timers.pop() else { break };
            let idle = match self.active.get(&t.key) {
                Some(f) if f.id == t.id => now - f.last,
                _ => continue,
            };
            if idle >= 9.0 {
                self.finish(&t.key);
            } else {
                self.timers.push(Timer {
                    at: now + 10.0,
                    ..t
                });
            }
        }
    }

    /// Adds one packet (number `seq` of the capture); `payload` is its captured transport
    /// payload.
    pub fn packet(&mut self, seq: u64, p: &PacketMeta, payload: &[u8]) {
        self.timers_due(seq, p.ts);
        self.tag = Tag::new(seq, PHASE_PACKET);
        let (sp, dp) = if p.proto == Proto::Icmp {
            (p.sport, icmp_pair(p.sport, p.dport, p.icmp6))
        } else {
            (p.sport, p.dport)
        };
        let k1: Key = (p.proto, p.src, sp, p.dst, dp);
        let k2: Key = (p.proto, p.dst, dp, p.src, sp);
        let mut key = if self.active.contains_key(&k1) {
            Some(k1)
        } else if self.active.contains_key(&k2) {
            Some(k2)
        } else {
            None
        };
        if let Some(k) = key {
            if let Some(f) = self.active.get(&k) {
                let fresh_syn = f.closed() && p.flags.syn && !p.flags.ack;
                if p.ts - f.last > self.timeout(p.proto) || fresh_syn {
                    self.finish(&k);
                    key = None;
                }
            }
        }
        let key = match key {
            Some(k) => k,
            None => self.open(seq, p, k1, k2),
        };
        let Some(f) = self.active.get_mut(&key) else {
            return;
        };
        let is_orig = if matches!(p.proto, Proto::Icmp | Proto::Unknown) {
            p.src == f.orig.0
        } else {
            p.src == f.orig.0 && sp == f.orig.1 && p.dst == f.resp.0
        };
        let both_fin = p.proto == Proto::Tcp && f.o.flags.fin && f.r.flags.fin;
        let retransmission = p.proto == Proto::Tcp && {
            let s = if is_orig { &f.o } else { &f.r };
            p.payload > 0
                && s.seq.is_some()
                && s.seq_max.wrapping_sub(p.seq.wrapping_add(p.payload)) < 1 << 31
        };
        record_history(&mut f.history, p, is_orig, retransmission);
        let side = if is_orig { &mut f.o } else { &mut f.r };
        side.pkts += 1;
        side.ip_bytes += u64::from(p.ip_len);
        side.payload += u64::from(p.payload);
        if p.proto == Proto::Tcp {
            side.flags.syn |= p.flags.syn;
            side.flags.ack |= p.flags.syn && p.flags.ack; // only a SYN-ACK marks "SA"
            side.flags.fin |= p.flags.fin;
            side.flags.rst |= p.flags.rst;
            let syn = u32::from(p.flags.syn);
            if side.seq.is_none() {
                side.seq = Some(p.seq.wrapping_add(syn));
                side.seq_max = p.seq.wrapping_add(syn);
            }
            let end = p.seq.wrapping_add(syn).wrapping_add(p.payload);
            if end.wrapping_sub(side.seq_max) < 1 << 31 {
                side.seq_max = end;
            }
            if p.flags.fin && side.fin_end.is_none() {
                side.fin_end = Some(end);
            }
        }
        // Packets after both FINs are counted but do not extend the duration.
        if !both_fin {
            f.last = p.ts;
        }
        if payload.is_empty() || !matches!(p.proto, Proto::Tcp | Proto::Udp) {
            return;
        }
        let udp = p.proto == Proto::Udp;
        // Zeek's application analyzers only see TCP connections whose SYN they saw; a
        // connection picked up mid-stream gets no service.
        if !udp && !f.o.flags.syn {
            return;
        }
        let side = usize::from(!is_orig);
        if !f.spoke[side] {
            f.spoke[side] = true;
            if f.service.is_none() {
                f.service = app::detect_service(payload, udp, (f.orig.1, f.resp.1));
            }
        }
        if f.service == Some("ssl") && !udp {
            let t = f.tls.get_or_insert_with(Box::default);
            let done = if is_orig {
                t.client.is_some() || t.bufs[0].len() >= TLS_BUFFER
            } else {
                t.server_done
            };
            let buf = &mut t.bufs[side];
            if !done {
                buf.extend_from_slice(&payload[..payload.len().min(TLS_BUFFER - buf.len())]);
                if is_orig {
                    t.client = tls::client_hello(buf).map(|ch| (p.ts, ch));
                    if t.client.is_some() {
                        t.bufs[side] = Vec::new();
                    }
                } else {
                    if t.server.is_none() {
                        t.server = tls::server_hello(buf);
                    }
                    // the certificate follows the ServerHello in clear up to TLS 1.2
                    if t.server.as_ref().is_some_and(|s| s.version != "TLSv13") {
                        t.cert = tls::certificate(buf);
                    }
                    t.server_done = t.cert.is_some()
                        || t.server.as_ref().is_some_and(|s| s.version == "TLSv13")
                        || buf.len() >= TLS_BUFFER;
                    if t.server_done {
                        t.bufs[side] = Vec::new();
                    }
                }
            }
            return;
        }
        if f.service == Some("http") && !udp {
            if is_orig {
                f.http_pending.extend(app::http_requests(p.ts, payload));
            } else {
                // 1xx interim responses do not answer the request
                for res in app::http_responses(payload)
                    .iter()
                    .filter(|r| r.code >= 200)
                {
                    if let Some(req) = f.http_pending.pop_front() {
                        let row = http_row(f, req, Some(res));
                        let tag = self.tag;
                        self.http.push(tag, row);
                    }
                }
            }
            return;
        }
        if f.service == Some("dns") {
            let msg = if udp {
                payload
            } else {
                payload.get(2..).unwrap_or_default()
            };
            if let Some(m) = app::parse(msg) {
                self.dns_message(&key, p.ts, m);
            }
        }
    }

    fn open(&mut self, seq: u64, p: &PacketMeta, k1: Key, k2: Key) -> Key {
        let syn_only = p.proto == Proto::Tcp && p.flags.syn && !p.flags.ack;
        let orig_is_src = if p.proto == Proto::Tcp && p.flags.syn && p.flags.ack {
            false
        } else {
            // a first packet from a well-known server port to another port is the answer
            let from_server = matches!(p.proto, Proto::Tcp | Proto::Udp)
                && !syn_only
                && LIKELY_SERVER_PORTS.contains(&p.sport)
                && !LIKELY_SERVER_PORTS.contains(&p.dport);
            !from_server
        };
        let key = if orig_is_src { k1 } else { k2 };
        let flow = Flow {
            key,
            id: seq,
            uid: uid(&key, p.ts, seq),
            service: None,
            spoke: [false; 2],
            dns_pending: Vec::new(),
            history: if orig_is_src {
                CompactString::default()
            } else {
                CompactString::from("^")
            },
            http_pending: std::collections::VecDeque::new(),
            tls: None,
            ts: p.ts,
            last: p.ts,
            // unknown transports carry their protocol number in the key's ports
            orig: (key.1, if key.0 == Proto::Unknown { 0 } else { key.2 }),
            resp: (key.3, if key.0 == Proto::Unknown { 0 } else { key.4 }),
            o: Side::default(),
            r: Side::default(),
        };
        if p.proto == Proto::Udp && (DNS_PORTS.contains(&key.2) || DNS_PORTS.contains(&key.4)) {
            self.timers.push(Timer {
                at: p.ts + 10.0,
                id: seq,
                key,
            });
        }
        self.active.insert(key, flow);
        key
    }

    /// Ends the capture: the connections still open are emitted by start time.
    fn finish_all(&mut self) {
        let mut open: Vec<Flow> = self.active.drain().map(|(_, f)| f).collect();
        open.sort_by(|a, b| a.ts.total_cmp(&b.ts).then(a.id.cmp(&b.id)));
        for mut f in open {
            self.tag = Tag {
                ts: f.ts,
                id: f.id,
                ..Tag::new(u64::MAX >> 2, PHASE_END)
            };
            self.unanswered(&mut f);
            let tag = self.tag;
            self.done.push(tag, f.into_conn());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::too_many_arguments)]
    fn tcp(
        ts: f64,
        src: [u8; 4],
        sport: u16,
        dst: [u8; 4],
        dport: u16,
        flags: &str,
        seq: u32,
        payload: u32,
    ) -> PacketMeta {
        PacketMeta {
            ts,
            src: src.into(),
            dst: dst.into(),
            proto: Proto::Tcp,
            sport,
            dport,
            flags: TcpFlags {
                syn: flags.contains('S'),
                ack: flags.contains('A'),
                fin: flags.contains('F'),
                rst: flags.contains('R'),
            },
            seq,
            payload,
            ip_len: 40 + payload,
            icmp6: false,
            window: 64_000,
        }
    }

    const C: [u8; 4] = [10, 0, 0, 1];
    const S: [u8; 4] = [10, 0, 0, 2];

    /// Feeds packets with payloads the way the capture reader does.
    fn feed(c: &mut Capture, packets: &[(PacketMeta, &[u8])]) {
        let mut data = Vec::new();
        let packets: Vec<Packet> = packets
            .iter()
            .map(|(meta, payload)| {
                let at = data.len() as u32;
                data.extend_from_slice(payload);
                Packet {
                    meta: *meta,
                    at,
                    len: payload.len() as u32,
                    shard: shard_of(meta),
                }
            })
            .collect();
        c.feed(&packets, &data);
    }

    fn run(packets: &[PacketMeta]) -> Vec<Conn> {
        let mut c = Capture::new(Timeouts::default());
        let with: Vec<(PacketMeta, &[u8])> = packets.iter().map(|p| (*p, &[][..])).collect();
        feed(&mut c, &with);
        c.finish().conns
    }

    #[test]
    fn full_handshake_data_and_fins_is_sf_with_payload_bytes() {
        let c = run(&[
            tcp(1.0, C, 5000, S, 80, "S", 100, 0),
            tcp(1.1, S, 80, C, 5000, "SA", 900, 0),
            tcp(1.2, C, 5000, S, 80, "A", 101, 0),
            tcp(1.3, C, 5000, S, 80, "A", 101, 50),
            tcp(1.4, S, 80, C, 5000, "A", 901, 300),
            tcp(1.5, C, 5000, S, 80, "FA", 151, 0),
            tcp(1.6, S, 80, C, 5000, "FA", 1201, 0),
            tcp(1.7, C, 5000, S, 80, "A", 152, 0),
        ]);
        assert_eq!(c.len(), 1);
        let c = &c[0];
        assert_eq!(
            (
                c.conn_state,
                c.orig_bytes,
                c.resp_bytes,
                c.orig_pkts,
                c.resp_pkts
            ),
            (ConnState::SF, 50, 300, 5, 3)
        );
        assert!(
            (c.duration - 0.6).abs() < 1e-9,
            "the last ACK after both FINs does not extend it"
        );
        assert!(c.uid.starts_with('C') && c.uid.len() == 18);
        assert_eq!(
            c.history.as_str(),
            "ShADdFf",
            "Zeek's history letters (the server never sends a pure ACK)"
        );
    }

    #[test]
    fn states_for_attempts_rejections_and_resets() {
        let one = |p: &[PacketMeta]| run(p)[0].conn_state;
        assert_eq!(one(&[tcp(1.0, C, 5000, S, 22, "S", 1, 0)]), ConnState::S0);
        assert_eq!(
            one(&[
                tcp(1.0, C, 5000, S, 22, "S", 1, 0),
                tcp(1.1, S, 22, C, 5000, "RA", 0, 0)
            ]),
            ConnState::REJ
        );
        assert_eq!(
            one(&[
                tcp(1.0, C, 5000, S, 22, "S", 1, 0),
                tcp(1.1, S, 22, C, 5000, "SA", 9, 0),
                tcp(1.2, C, 5000, S, 22, "A", 2, 0)
            ]),
            ConnState::S1
        );
        assert_eq!(
            one(&[
                tcp(1.0, C, 5000, S, 22, "S", 1, 0),
                tcp(1.1, S, 22, C, 5000, "SA", 9, 0),
                tcp(1.2, C, 5000, S, 22, "RA", 2, 0)
            ]),
            ConnState::RSTO
        );
        assert_eq!(one(&[tcp(1.0, C, 5000, S, 22, "A", 1, 10)]), ConnState::OTH);
    }

    #[test]
    fn tls_hellos_become_an_ssl_record() {
        let mut c = Capture::new(Timeouts::default());
        let hello = tls::tests::client_hello_bytes();
        // the hello arrives in two segments
        let (first, second) = hello.split_at(20);
        let n = |b: &[u8]| b.len() as u32;
        feed(
            &mut c,
            &[
                (tcp(1.0, C, 5000, S, 443, "S", 1, 0), &[]),
                (tcp(1.1, S, 443, C, 5000, "SA", 9, 0), &[]),
                (tcp(1.2, C, 5000, S, 443, "A", 2, n(first)), first),
                (
                    tcp(1.3, C, 5000, S, 443, "A", 2 + n(first), n(second)),
                    second,
                ),
            ],
        );
        let batch = c.finish();
        assert_eq!(batch.conns[0].service.as_str(), "ssl");
        assert!(batch.ssl[0].subject.is_empty(), "no certificate was seen");
        assert_eq!(batch.ssl.len(), 1);
        let s = &batch.ssl[0];
        assert_eq!(s.server_name, "example.com");
        assert_eq!(s.ja3.len(), 32);
        assert_eq!(
            s.id.uid, batch.conns[0].uid,
            "the record carries its connection's uid"
        );
        assert!(!s.established, "no ServerHello was seen");
    }

    #[test]
    fn the_server_certificate_gives_subject_and_issuer() {
        let mut c = Capture::new(Timeouts::default());
        let hello = tls::tests::client_hello_bytes();
        let flight = tls::tests::server_flight();
        // the server's flight arrives in three segments
        let (first, rest) = flight.split_at(60);
        let (second, third) = rest.split_at(200);
        let n = |x: &[u8]| x.len() as u32;
        feed(
            &mut c,
            &[
                (tcp(1.0, C, 5000, S, 443, "S", 1, 0), &[]),
                (tcp(1.1, S, 443, C, 5000, "SA", 9, 0), &[]),
                (tcp(1.2, C, 5000, S, 443, "A", 2, n(&hello)), &hello),
                (tcp(1.3, S, 443, C, 5000, "A", 10, n(first)), first),
                (
                    tcp(1.4, S, 443, C, 5000, "A", 10 + n(first), n(second)),
                    second,
                ),
                (
                    tcp(
                        1.5,
                        S,
                        443,
                        C,
                        5000,
                        "A",
                        10 + n(first) + n(second),
                        n(third),
                    ),
                    third,
                ),
            ],
        );
        let batch = c.finish();
        assert_eq!(batch.ssl.len(), 1);
        let s = &batch.ssl[0];
        assert!(s.established);
        assert_eq!(s.version, "TLSv12");
        assert_eq!(s.subject, "CN=c2.example.net,O=Kalipso Test\\, Inc.,C=US");
        assert_eq!(s.issuer, s.subject);
    }

    #[test]
    fn syn_ack_first_flips_the_originator_and_timeouts_split() {
        let c = run(&[tcp(1.0, S, 80, C, 5000, "SA", 1, 0)]);
        assert_eq!((c[0].orig_h, c[0].orig_p), (IpAddr::from(C), 5000));
        let c = run(&[
            tcp(1.0, C, 5000, S, 80, "A", 1, 10),
            tcp(400.0, C, 5000, S, 80, "A", 11, 10),
        ]);
        assert_eq!(c.len(), 2, "5 minutes of silence end a TCP connection");
        let c = run(&[
            tcp(1.0, C, 5000, S, 80, "S", 1, 0),
            tcp(1.1, S, 80, C, 5000, "RA", 0, 0),
            tcp(2.0, C, 5000, S, 80, "S", 50, 0),
        ]);
        assert_eq!(
            c.len(),
            2,
            "a fresh SYN after a reset starts a new connection"
        );
        assert_ne!(c[0].uid, c[1].uid);
    }
}
