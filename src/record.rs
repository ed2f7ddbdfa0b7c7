//! The common currency of the pipeline: one typed record per Zeek log kind.
//!
//! Both inputs (Zeek logs and packet captures) produce exactly these structs, with Zeek's
//! field meanings: `orig_bytes`/`resp_bytes` are payload bytes, `conn_state` is Zeek's summary
//! state, `uid` links the application records (dns, http, ssl) to their connection. Nothing here
//! knows about profiles, windows or Slips' key layout.

mod batch;
mod sym;
mod uid;

pub use batch::Batch;
pub use sym::{Sym, SymCache};
pub use uid::{Uid, UidText};

use compact_str::CompactString;
use std::fmt;
use std::net::IpAddr;

/// Transport protocol of a connection, as Zeek's `proto` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    /// `tcp`
    Tcp,
    /// `udp`
    Udp,
    /// `icmp` (Zeek also uses it for `ICMPv6`)
    Icmp,
    /// `unknown_transport`, or anything Zeek may add later
    Unknown,
}

impl Proto {
    /// Parses Zeek's lower-case name; anything unrecognised is `Unknown`.
    pub fn from_zeek(s: &str) -> Self {
        match s {
            "tcp" | "TCP" => Proto::Tcp,
            "udp" | "UDP" => Proto::Udp,
            "icmp" | "ICMP" | "icmp6" | "ipv6-icmp" => Proto::Icmp,
            _ => Proto::Unknown,
        }
    }

    /// Zeek's lower-case spelling, used in tuple keys (`8.8.8.8-53-udp`).
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
            Proto::Unknown => "unknown_transport",
        }
    }

    /// Slips' `proto.upper()`, used in aggregate field names (`DstPortsClientTCPEstablished`).
    pub fn upper(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
            Proto::Icmp => "ICMP",
            Proto::Unknown => "UNKNOWN_TRANSPORT",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Zeek's `conn_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum ConnState {
    S0,
    S1,
    SF,
    REJ,
    S2,
    S3,
    RSTO,
    RSTR,
    RSTOS0,
    RSTRH,
    SH,
    SHR,
    OTH,
    /// `-`, empty, or a value Zeek does not define.
    Unset,
}

impl ConnState {
    /// Parses Zeek's spelling; unknown values become `Unset` (Slips treats them as not established).
    pub fn from_zeek(s: &str) -> Self {
        match s {
            "S0" => ConnState::S0,
            "S1" => ConnState::S1,
            "SF" => ConnState::SF,
            "REJ" => ConnState::REJ,
            "S2" => ConnState::S2,
            "S3" => ConnState::S3,
            "RSTO" => ConnState::RSTO,
            "RSTR" => ConnState::RSTR,
            "RSTOS0" => ConnState::RSTOS0,
            "RSTRH" => ConnState::RSTRH,
            "SH" => ConnState::SH,
            "SHR" => ConnState::SHR,
            "OTH" => ConnState::OTH,
            _ => ConnState::Unset,
        }
    }

    /// The states of a connection whose originator's SYN got no SYN-ACK: unanswered (`S0`),
    /// rejected (`REJ`), given up (`RSTOS0`), or closed before any answer (`SH`).
    pub fn unanswered_syn(self) -> bool {
        matches!(
            self,
            ConnState::S0 | ConnState::REJ | ConnState::RSTOS0 | ConnState::SH
        )
    }

    /// Zeek's spelling (`-` for unset).
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::SF => "SF",
            ConnState::REJ => "REJ",
            ConnState::S2 => "S2",
            ConnState::S3 => "S3",
            ConnState::RSTO => "RSTO",
            ConnState::RSTR => "RSTR",
            ConnState::RSTOS0 => "RSTOS0",
            ConnState::RSTRH => "RSTRH",
            ConnState::SH => "SH",
            ConnState::SHR => "SHR",
            ConnState::OTH => "OTH",
            ConnState::Unset => "-",
        }
    }
}

/// The two summarised states of Slips (spec §1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Established {
    /// The connection exchanged data both ways (or is ICMP/OTH).
    Established,
    /// Attempt, rejection or one-sided traffic.
    NotEstablished,
}

impl Established {
    /// Spelling in aggregate field names: no space (Kalipso's spelling, spec §0 fact 1).
    pub fn field(self) -> &'static str {
        match self {
            Established::Established => "Established",
            Established::NotEstablished => "NotEstablished",
        }
    }

    /// Spelling in flows and timeline entries (`Not Established`, with the space Slips uses there).
    pub fn human(self) -> &'static str {
        match self {
            Established::Established => "Established",
            Established::NotEstablished => "Not Established",
        }
    }
}

/// Slips v1.0.0 `getFinalStateFromFlags` for Zeek states (spec §1.7 table).
pub fn established(state: ConnState, pkts: u64) -> Established {
    use ConnState as C;
    match state {
        C::S1 | C::SF | C::S2 | C::S3 | C::RSTO | C::OTH => Established::Established,
        // RSTR matches none of Slips' Zeek lists and falls through to the `RST` rule.
        C::RSTR if pkts > 3 => Established::Established,
        C::RSTR | C::S0 | C::REJ | C::RSTOS0 | C::RSTRH | C::SH | C::SHR | C::Unset => {
            Established::NotEstablished
        }
    }
}

/// One conn.log record.
///
/// Laid out by hand in two cache lines (128 bytes, aligned to 64): the rules and the letters
/// read connections gathered from all over the record vector, and at 136 bytes every one of
/// them spanned three lines. A test holds the size.
#[derive(Debug, Clone, PartialEq)]
#[repr(C, align(64))]
pub struct Conn {
    /// Start time, unix seconds.
    pub ts: f64,
    /// Originator address.
    pub orig_h: IpAddr,
    /// Responder address.
    pub resp_h: IpAddr,
    /// Originator port (ICMP: the type).
    pub orig_p: u16,
    /// Responder port (ICMP: the code).
    pub resp_p: u16,
    /// Transport protocol.
    pub proto: Proto,
    /// Zeek's `conn_state`.
    pub conn_state: ConnState,
    /// Zeek's `service` (empty when unset), e.g. `dns`, `http`, `ssl,quic`.
    pub service: Sym,
    /// Zeek's `history` letters (empty when unset).
    pub history: Sym,
    /// Duration in seconds; 0 when Zeek left it unset.
    pub duration: f64,
    /// Zeek's connection uid.
    pub uid: Uid,
    /// Payload bytes sent by the originator (0 when unset).
    pub orig_bytes: u64,
    /// Payload bytes sent by the responder (0 when unset).
    pub resp_bytes: u64,
    /// Packets sent by the originator.
    pub orig_pkts: u64,
    /// IP-level bytes sent by the originator.
    pub orig_ip_bytes: u64,
    /// Packets sent by the responder.
    pub resp_pkts: u64,
    /// IP-level bytes sent by the responder.
    pub resp_ip_bytes: u64,
}

impl Conn {
    /// Starts loading both of its cache lines, without waiting for them: for the gathers of a
    /// window's connections from all over the record vector, which no hardware prefetcher
    /// foresees.
    pub(crate) fn prefetch(&self) {
        crate::prefetch::prefetch(self);
        // (the last field is on the second line)
        crate::prefetch::prefetch(&self.resp_ip_bytes);
    }
}

#[cfg(test)]
impl Conn {
    /// A TCP connection from 10.0.0.1:1 to 10.0.0.2:2 of one packet, for tests to change.
    pub(crate) fn for_tests() -> Conn {
        Conn {
            ts: 0.0,
            orig_h: IpAddr::from([10, 0, 0, 1]),
            resp_h: IpAddr::from([10, 0, 0, 2]),
            orig_p: 1,
            resp_p: 2,
            proto: Proto::Tcp,
            conn_state: ConnState::SF,
            service: Sym::default(),
            history: Sym::default(),
            duration: 0.0,
            uid: Uid::default(),
            orig_bytes: 0,
            resp_bytes: 0,
            orig_pkts: 1,
            orig_ip_bytes: 40,
            resp_pkts: 0,
            resp_ip_bytes: 0,
        }
    }
}

impl Conn {
    /// Packets both ways (Slips' `pkts`).
    pub fn pkts(&self) -> u64 {
        self.orig_pkts.saturating_add(self.resp_pkts)
    }

    /// Payload bytes both ways (Slips' `allbytes`; payload, not IP bytes).
    pub fn bytes(&self) -> u64 {
        self.orig_bytes.saturating_add(self.resp_bytes)
    }

    /// Slips' summarised state of this connection.
    pub fn established(&self) -> Established {
        established(self.conn_state, self.pkts())
    }
}

/// The endpoints shared by every application record.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoints {
    /// Start time, unix seconds.
    pub ts: f64,
    /// The uid of the connection this record belongs to (empty if the log has none).
    pub uid: CompactString,
    /// Originator address.
    pub orig_h: IpAddr,
    /// Originator port.
    pub orig_p: u16,
    /// Responder address.
    pub resp_h: IpAddr,
    /// Responder port.
    pub resp_p: u16,
}

/// One dns.log record.
#[derive(Debug, Clone, PartialEq)]
pub struct Dns {
    /// Addresses, ports, time and uid.
    pub id: Endpoints,
    /// The queried name (empty when unset).
    pub query: String,
    /// `qclass_name`, e.g. `C_INTERNET`.
    pub qclass_name: CompactString,
    /// `qtype_name`, e.g. `A`, `AAAA`, `PTR`.
    pub qtype_name: CompactString,
    /// `rcode_name`, e.g. `NOERROR`, `NXDOMAIN`.
    pub rcode_name: CompactString,
    /// Answers: addresses, CNAMEs, TXT records…
    pub answers: Vec<String>,
    /// TTLs of the answers, seconds.
    pub ttls: Vec<f64>,
}

/// One http.log record (one request/response pair).
#[derive(Debug, Clone, PartialEq)]
pub struct Http {
    /// Addresses, ports, time and uid.
    pub id: Endpoints,
    /// Request method.
    pub method: CompactString,
    /// `Host` header.
    pub host: String,
    /// Request URI.
    pub uri: String,
    /// HTTP version, e.g. `1.1`.
    pub version: CompactString,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Request body length, bytes.
    pub request_body_len: u64,
    /// Response body length, bytes.
    pub response_body_len: u64,
    /// Status code, if a response was seen.
    pub status_code: Option<u16>,
    /// Status message.
    pub status_msg: String,
    /// File ids of the response bodies.
    pub resp_fuids: Vec<String>,
    /// MIME types of the response bodies.
    pub resp_mime_types: Vec<String>,
}

/// One ssl.log record (one TLS handshake).
#[derive(Debug, Clone, PartialEq)]
pub struct Ssl {
    /// Addresses, ports, time and uid.
    pub id: Endpoints,
    /// Protocol version, e.g. `TLSv12`.
    pub version: CompactString,
    /// Negotiated cipher.
    pub cipher: String,
    /// Elliptic curve.
    pub curve: CompactString,
    /// Server Name Indication.
    pub server_name: String,
    /// Whether the session was resumed.
    pub resumed: bool,
    /// Whether the handshake completed.
    pub established: bool,
    /// Certificate subject.
    pub subject: String,
    /// Certificate issuer.
    pub issuer: String,
    /// Zeek's certificate validation result, e.g. `ok`.
    pub validation_status: String,
    /// JA3 client fingerprint (Slips' Zeek scripts add it).
    pub ja3: CompactString,
    /// JA3S server fingerprint.
    pub ja3s: CompactString,
}

/// One smtp.log record made from a capture: a mail transaction, with Zeek's columns (text
/// columns empty when unset; sets in the order first seen).
#[derive(Debug, Clone, PartialEq)]
pub struct Smtp {
    /// When the transaction began (`ts`), its connection and endpoints.
    pub id: Endpoints,
    /// Its number on the connection, from 1.
    pub trans_depth: u32,
    /// The client's HELO/EHLO argument.
    pub helo: String,
    /// The `MAIL FROM` address.
    pub mailfrom: String,
    /// The `RCPT TO` addresses.
    pub rcptto: Vec<String>,
    /// The message's `Date` header.
    pub date: String,
    /// `From` header.
    pub from: String,
    /// `To` addresses.
    pub to: Vec<String>,
    /// `Cc` addresses.
    pub cc: Vec<String>,
    /// `Reply-To` header.
    pub reply_to: String,
    /// `Message-ID` header.
    pub msg_id: String,
    /// `In-Reply-To` header.
    pub in_reply_to: String,
    /// `Subject` header.
    pub subject: String,
    /// The first address in `X-Originating-IP`.
    pub x_originating_ip: Option<IpAddr>,
    /// The last `Received` header.
    pub first_received: String,
    /// The one before it.
    pub second_received: String,
    /// The server's last reply, `code text` (Slips' bad-login rule reads it).
    pub last_reply: String,
    /// The hosts the message passed: responder, originator, then the `Received` headers'.
    pub path: Vec<IpAddr>,
    /// `X-Mailer`, `User-Agent` or `X-User-Agent`.
    pub user_agent: String,
    /// Whether the session switched to TLS (`STARTTLS`).
    pub tls: bool,
}

/// One ssh.log record, with Zeek's columns (text columns empty when unset).
#[derive(Debug, Clone, PartialEq)]
pub struct Ssh {
    /// Addresses, ports, uid, and the time of the first version line.
    pub id: Endpoints,
    /// The SSH major version both sides speak (1 or 2), when Zeek can tell.
    pub version: Option<u8>,
    /// Zeek's inference from the sizes of the encrypted server packets, when it made one.
    pub auth_success: Option<bool>,
    /// Authentication attempts Zeek counted.
    pub auth_attempts: u32,
    /// `INBOUND` or `OUTBOUND` when exactly one side is local, else empty.
    pub direction: &'static str,
    /// The client's version line, e.g. `SSH-2.0-OpenSSH_9.6`.
    pub client: String,
    /// The server's version line.
    pub server: String,
    /// Negotiated cipher.
    pub cipher_alg: String,
    /// Negotiated MAC.
    pub mac_alg: String,
    /// Negotiated compression.
    pub compression_alg: String,
    /// Negotiated key exchange.
    pub kex_alg: String,
    /// Negotiated host key algorithm.
    pub host_key_alg: String,
    /// Zeek's fingerprint of the server's host key (`SHA256:` and 32 characters).
    pub host_key_fingerprint: String,
    /// When Zeek writes the row: at a successful login, else when the connection ends. A failed
    /// login counts for password guessing at this time.
    pub logged: f64,
}

/// A kind of tunnel, as tunnel.log's `tunnel_type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TunnelKind {
    /// IP in IP (IPv4 or IPv6 inside IPv4 or IPv6).
    Ip,
    /// GRE.
    Gre,
    /// VXLAN (Ethernet in UDP).
    Vxlan,
    /// Teredo (IPv6 in UDP).
    Teredo,
}

impl TunnelKind {
    /// tunnel.log's `tunnel_type`.
    pub fn as_zeek(self) -> &'static str {
        match self {
            TunnelKind::Ip => "Tunnel::IP",
            TunnelKind::Gre => "Tunnel::GRE",
            TunnelKind::Vxlan => "Tunnel::VXLAN",
            TunnelKind::Teredo => "Tunnel::TEREDO",
        }
    }

    /// A tunnel over UDP is a connection of its own; an IP-level one (GRE, IP in IP) is not.
    pub fn over_udp(self) -> bool {
        matches!(self, TunnelKind::Vxlan | TunnelKind::Teredo)
    }
}

/// What a tunnel.log row says happened to a tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TunnelAction {
    /// First seen carrying a connection.
    Discover,
    /// Its outer connection ended.
    Close,
}

impl TunnelAction {
    /// tunnel.log's `action`.
    pub fn as_zeek(self) -> &'static str {
        match self {
            TunnelAction::Discover => "Tunnel::DISCOVER",
            TunnelAction::Close => "Tunnel::CLOSE",
        }
    }
}

/// One tunnel.log record made from a capture.
#[derive(Debug, Clone, PartialEq)]
pub struct Tunnel {
    /// When it happened, unix seconds.
    pub ts: f64,
    /// The tunnel's uid: its outer connection's for a tunnel over UDP, its own for GRE and IP
    /// in IP (which have no connection).
    pub uid: CompactString,
    /// The outer addresses and ports (ports 0 for GRE and IP in IP).
    pub orig_h: IpAddr,
    /// Outer originator port.
    pub orig_p: u16,
    /// Outer responder address.
    pub resp_h: IpAddr,
    /// Outer responder port.
    pub resp_p: u16,
    /// Its kind.
    pub kind: TunnelKind,
    /// What happened.
    pub action: TunnelAction,
}

/// One dhcp.log record: a DHCP transaction (one `xid`), possibly over several connections,
/// with Zeek's columns (text columns empty when unset).
#[derive(Debug, Clone, PartialEq)]
pub struct Dhcp {
    /// Time of the transaction's first message.
    pub ts: f64,
    /// The uids of the connections its messages came in.
    pub uids: Vec<CompactString>,
    /// The client's address, when known.
    pub client_addr: Option<IpAddr>,
    /// The server that handed out an address.
    pub server_addr: Option<IpAddr>,
    /// The client's hardware address.
    pub mac: String,
    /// The host name the client sent.
    pub host_name: String,
    /// The client's FQDN option.
    pub client_fqdn: String,
    /// The domain the server gave.
    pub domain: String,
    /// The address the client asked for.
    pub requested_addr: Option<IpAddr>,
    /// The address the server assigned.
    pub assigned_addr: Option<IpAddr>,
    /// Lease, seconds.
    pub lease_time: Option<f64>,
    /// The client's message option.
    pub client_message: String,
    /// The server's message option.
    pub server_message: String,
    /// Message types in the order they came (`DISCOVER`, `OFFER`, …).
    pub msg_types: Vec<&'static str>,
    /// From the first message to the last, seconds.
    pub duration: f64,
}

/// Parses an address exactly as `str::parse::<IpAddr>` does, dotted IPv4 (the common case:
/// every address of every record, every DNS answer) without the general parser.
///
/// Anything but a plain dotted quad (IPv6, a leading zero, an octet over 255) is handed to the
/// standard parser where the dotted-quad reader stops, rather than found by a search before;
/// without a colon it cannot be IPv6, so it is no address (DNS answers are often names, and
/// the standard parser tried each as both families).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    match ipv4_at(s.as_bytes(), 0) {
        Some((ip, end)) if end == s.len() => Some(ip),
        _ if !s.as_bytes().contains(&b':') => None,
        _ => s.parse().ok(),
    }
}

/// A dotted IPv4 address from `at` on (four octets of 1 to 3 digits, none over 255, no
/// leading zero: what the standard parser takes), and where it ends. `None` for anything
/// else, IPv6 among it, which the caller gives to the general parser.
#[inline]
pub(crate) fn ipv4_at(b: &[u8], at: usize) -> Option<(IpAddr, usize)> {
    let mut octets = [0u8; 4];
    let mut i = at;
    for (k, octet) in octets.iter_mut().enumerate() {
        if k > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut v = 0u32;
        while i - start < 3
            && let Some(&d) = b.get(i)
            && d.is_ascii_digit()
        {
            v = v * 10 + u32::from(d - b'0');
            i += 1;
        }
        let len = i - start;
        if len == 0 || v > 255 || (len > 1 && b.get(start) == Some(&b'0')) {
            return None;
        }
        *octet = v as u8;
    }
    Some((IpAddr::from(octets), i))
}

/// An address as `IpAddr::to_string` (and Python's `str`) writes it; IPv4, nearly every address
/// of every flow and every A record, digit by digit (the formatting machinery costs several
/// times more).
pub fn ip_text(ip: IpAddr) -> String {
    let mut s = String::with_capacity(15);
    push_ip(&mut s, ip);
    s
}

/// Appends [`ip_text`] of `ip` (Slips' JSON names every flow's addresses, several times).
pub fn push_ip(s: &mut String, ip: IpAddr) {
    let IpAddr::V4(v4) = ip else {
        // writing into a String cannot fail
        let _ = std::fmt::Write::write_fmt(s, format_args!("{ip}"));
        return;
    };
    for (i, o) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        if o >= 100 {
            s.push(char::from(b'0' + o / 100));
        }
        if o >= 10 {
            s.push(char::from(b'0' + o / 10 % 10));
        }
        s.push(char::from(b'0' + o % 10));
    }
}

/// `Some("private")` for private, loopback and link-local addresses, `Some("reserved")` for
/// multicast, broadcast, unspecified and documentation ones; `None` for a public address.
pub fn special_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v) => {
            if v.is_private() || v.is_loopback() || v.is_link_local() {
                Some("private")
            } else if v.is_multicast()
                || v.is_broadcast()
                || v.is_unspecified()
                || v.is_documentation()
            {
                Some("reserved")
            } else {
                None
            }
        }
        IpAddr::V6(v) => {
            let s = v.segments()[0];
            if v.is_loopback() || (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80 {
                Some("private")
            } else if v.is_multicast() || v.is_unspecified() {
                Some("reserved")
            } else {
                None
            }
        }
    }
}

/// A record of another Zeek log (dhcp, smtp, notice…), reduced to what the profiler needs (who
/// was active when) and, for the logs the detections read, the fields they use.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// Record time, unix seconds.
    pub ts: f64,
    /// The source address.
    pub ip: IpAddr,
    /// The fields of arp, notice, smtp, software and ssh records.
    pub detail: Option<Detail>,
}

/// What the detections read from a record of another log.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    /// An ARP packet or arp.log record, kept in 32 bytes: a busy LAN's capture has millions.
    Arp(Arp),
    /// A notice, smtp, software or ssh record.
    Fields(Box<Fields>),
}

impl Detail {
    /// The other side (`id.resp_h`, or the address an ARP packet asks about).
    pub fn resp(&self) -> Option<IpAddr> {
        match self {
            Detail::Arp(a) => a.resp,
            Detail::Fields(f) => f.resp,
        }
    }

    /// The ARP record, if it is one.
    pub fn arp(&self) -> Option<&Arp> {
        match self {
            Detail::Arp(a) => Some(a),
            Detail::Fields(_) => None,
        }
    }
}

/// An ARP packet as arp.log describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arp {
    /// The address asked about or answered for (arp's `resp_h`).
    pub resp: Option<IpAddr>,
    /// Request or reply.
    pub operation: ArpOp,
    /// The Ethernet destination (`dst_mac`); `None` when absent or not a MAC.
    pub dst_mac: Option<Mac>,
    /// The ARP target hardware address (`resp_hw`; zeros in a request).
    pub target_hw: Option<Mac>,
}

/// An ARP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpOp {
    /// Who has … (1).
    Request,
    /// … is at (2).
    Reply,
}

impl ArpOp {
    /// arp.log's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            ArpOp::Request => "request",
            ArpOp::Reply => "reply",
        }
    }

    /// From arp.log's `operation`.
    pub fn parse(s: &str) -> Option<ArpOp> {
        match s {
            "request" => Some(ArpOp::Request),
            "reply" => Some(ArpOp::Reply),
            _ => None,
        }
    }
}

/// A 48-bit MAC address, shown as Zeek writes it (`aa:bb:cc:dd:ee:ff`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// The broadcast address.
    pub const BROADCAST: Mac = Mac([0xff; 6]);
    /// The all-zero address (the target of an ARP request).
    pub const ZERO: Mac = Mac([0; 6]);

    /// From six bytes (`None` for any other length).
    pub fn from_bytes(b: &[u8]) -> Option<Mac> {
        b.try_into().ok().map(Mac)
    }

    /// From Zeek's text (`aa:bb:cc:dd:ee:ff`).
    pub fn parse(s: &str) -> Option<Mac> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for b in &mut out {
            let p = parts.next()?;
            if p.len() != 2 {
                return None;
            }
            *b = u8::from_str_radix(p, 16).ok()?;
        }
        parts.next().is_none().then_some(Mac(out))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// The detection fields of a notice, smtp, software, ssh or dhcp record (empty when absent).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fields {
    /// The other side (`id.resp_h`).
    pub resp: Option<IpAddr>,
    /// notice: `note`, e.g. `Scan::Port_Scan`.
    pub note: CompactString,
    /// notice: `msg`.
    pub msg: CompactString,
    /// smtp: `last_reply`.
    pub last_reply: CompactString,
    /// software: `software_type`, e.g. `SSH::CLIENT`.
    pub software_type: CompactString,
    /// software: `unparsed_version`.
    pub version: CompactString,
    /// ssh: `auth_success`, when set.
    pub auth_success: Option<bool>,
    /// ssh: the connection's `uid` (a login Zeek saw succeed is not also reported by size).
    pub uid: CompactString,
    /// dhcp: the host name the client sent.
    pub host_name: CompactString,
    /// dhcp: the client's MAC.
    pub mac: CompactString,
    /// tunnel: `tunnel_type`, e.g. `Tunnel::GRE`.
    pub tunnel_type: CompactString,
    /// tunnel: `action`, e.g. `Tunnel::DISCOVER`.
    pub action: CompactString,
}

/// The Zeek log kinds kalipso knows by name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LogKind {
    /// conn.log: connections (typed).
    Conn,
    /// dns.log (typed).
    Dns,
    /// http.log (typed).
    Http,
    /// ssl.log (typed).
    Ssl,
    /// Any other Zeek log: counted, and its source IPs and times kept as [`Activity`].
    Other,
}

impl LogKind {
    /// Name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            LogKind::Conn => "conn",
            LogKind::Dns => "dns",
            LogKind::Http => "http",
            LogKind::Ssl => "ssl",
            LogKind::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::strategy::Strategy;

    /// Dotted quads whose octets are near 255, whose last octet may have 4 digits and whose
    /// second may have a leading zero: what a reader of addresses gets wrong first.
    fn near_quads() -> impl Strategy<Value = String> {
        (0u16..300, 0u16..300, 0u16..300, 0u16..1100, "0?")
            .prop_map(|(a, b, c, d, zero)| format!("{a}.{zero}{b}.{c}.{d}"))
    }

    proptest::proptest! {
        #[test]
        fn parse_ip_is_the_standard_parser(s in "[0-9.:a-f]{0,18}") {
            proptest::prop_assert_eq!(parse_ip(&s), s.parse::<IpAddr>().ok(), "{}", s);
        }

        #[test]
        fn an_address_inside_a_line_is_what_the_standard_parser_reads(
            s in proptest::prop_oneof!["[0-9.]{0,18}", near_quads()],
            rest in "(\t[0-9a-z.]{0,4})?",
        ) {
            // the reader stops at the first byte no address can go on with; the column is
            // an address when that byte ends it
            let line = format!("{s}{rest}");
            let column = line.split('\t').next().unwrap_or_default();
            let want = column.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4);
            let got = ipv4_at(line.as_bytes(), 0).filter(|&(_, end)| end == column.len());
            proptest::prop_assert_eq!(got.map(|(ip, _)| ip), want, "{:?}", line);
        }

        #[test]
        fn parse_ip_agrees_on_dotted_quads(s in near_quads()) {
            proptest::prop_assert_eq!(parse_ip(&s), s.parse::<IpAddr>().ok(), "{}", s);
        }
    }

    #[test]
    fn parse_ip_hands_what_starts_like_a_quad_to_the_standard_parser() {
        // IPv6 that begins with digits, a leading zero or an octet over 255 before a colon
        for s in [
            "1234::1",
            "0::1",
            "2001:db8::1",
            "1:2:3:4:5:6:7:8",
            "::ffff:1.2.3.4",
            "10::",
            "256::",
            "01::",
            "10.0.0.1:80",
            "1.2.3.4",
            "01.2.3.4",
            "1.2.3.256",
            "1.2.3",
            "",
            "fe80::1",
        ] {
            assert_eq!(parse_ip(s), s.parse::<IpAddr>().ok(), "{s}");
        }
    }

    #[test]
    fn a_mac_reads_and_writes_as_zeek_and_an_arp_record_stays_small() {
        let m = Mac::parse("00:1b:aa:ff:09:10");
        assert_eq!(m, Some(Mac([0, 0x1b, 0xaa, 0xff, 9, 0x10])));
        assert_eq!(
            m.map(|m| m.to_string()).as_deref(),
            Some("00:1b:aa:ff:09:10")
        );
        for bad in [
            "",
            "-",
            "00:1b:aa:ff:09",
            "00:1b:aa:ff:09:10:11",
            "0:1b:aa:ff:09:10",
            "zz:1b:aa:ff:09:10",
        ] {
            assert_eq!(Mac::parse(bad), None, "{bad}");
        }
        assert!(
            std::mem::size_of::<Activity>() <= 64,
            "{}",
            std::mem::size_of::<Activity>()
        );
    }

    #[test]
    fn addresses_are_written_as_the_standard_library_writes_them() {
        for x in (0..=u32::MAX)
            .step_by(9_973_331)
            .chain([0, u32::MAX, 0x0a00_0964])
        {
            let ip = IpAddr::from(x.to_be_bytes());
            assert_eq!(ip_text(ip), ip.to_string());
        }
        for o in 0..=255u16 {
            let ip = IpAddr::from([0, 0, 0, 0, 0, 0xffff, o, 0]);
            assert_eq!(ip_text(ip), ip.to_string());
        }
    }

    #[test]
    fn a_connection_is_two_cache_lines() {
        // millions of them, read in window order from all over the record vector
        assert_eq!(std::mem::size_of::<Conn>(), 128);
        assert_eq!(std::mem::align_of::<Conn>(), 64);
        let c = Conn::for_tests();
        // the fields a window's first pass reads share the first line
        let at = |f: *const u8| f as usize - std::ptr::from_ref(&c) as usize;
        assert!(at(std::ptr::from_ref(&c.duration).cast()) < 64);
        assert!(at(std::ptr::from_ref(&c.history).cast()) < 64);
    }

    #[test]
    fn every_zeek_state_summarises_as_the_spec_table() {
        use ConnState as C;
        use Established::{Established as E, NotEstablished as N};
        let table = [
            (C::S0, N),
            (C::S1, E),
            (C::SF, E),
            (C::REJ, N),
            (C::S2, E),
            (C::S3, E),
            (C::RSTO, E),
            (C::RSTOS0, N),
            (C::RSTRH, N),
            (C::SH, N),
            (C::SHR, N),
            (C::OTH, E),
            (C::Unset, N),
        ];
        for (state, want) in table {
            assert_eq!(established(state, 10), want, "{state:?}");
            assert_eq!(ConnState::from_zeek(state.as_str()), state);
        }
        assert_eq!(established(C::RSTR, 4), E);
        assert_eq!(established(C::RSTR, 3), N);
    }

    #[test]
    fn proto_spellings_round_trip() {
        for p in [Proto::Tcp, Proto::Udp, Proto::Icmp, Proto::Unknown] {
            assert_eq!(Proto::from_zeek(p.as_str()), p);
        }
        assert_eq!(Proto::Icmp.upper(), "ICMP");
    }
}
