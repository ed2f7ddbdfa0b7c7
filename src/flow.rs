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
//!
//! Files, one job each: `key` (5-tuple, direction-free key, shard, uid), `state` (one
//! connection's endpoints, history and `conn_state`), `assemble` (the table of live
//! connections, timeouts, payloads to their parsers), `merge` (the order-preserving merge
//! of the shards), `capture` (the shards in parallel), `records` (Zeek's application log
//! rows; `dhcp_log` joins DHCP transactions); payload parsers: `service`, `dns`, `dhcp`, `http`,
//! `tls`, `ssh`, `smtp` (network bytes made text by `text`; on the in-order bytes of
//! `stream`, with Zeek's local addresses from `site`); `tunnel` (which tunnels carried a
//! connection, tunnel.log). Configured by the caller
//! ([`Timeouts`]); it knows nothing of files or of `input`.

mod assemble;
mod capture;
mod deadlines;
mod dhcp;
mod dhcp_log;
pub(crate) mod dns;
mod history;
pub(crate) mod http;
mod http_decode;
mod http_stream;
mod key;
mod merge;
mod records;
pub(crate) mod service;
mod site;
mod smtp;
mod ssh;
mod ssh_events;
mod state;
mod stream;
mod text;
pub(crate) mod tls;
mod tunnel;

pub(crate) use capture::{Capture, Packet, Spent, reserve_up_to};
pub(crate) use key::shard_of;
pub use ssh_events::{PASSWORD_GUESSES_LIMIT, ssh_activity};

use crate::record::{Proto, TunnelKind};
use std::net::IpAddr;

/// Inactivity timeouts, seconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
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
pub(crate) struct PacketMeta {
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

impl PacketMeta {
    /// An IP packet of `ip_len` bytes before its transport header is read: no protocol, ports,
    /// flags or payload yet.
    pub fn ip(ts: f64, src: IpAddr, dst: IpAddr, ip_len: u32, icmp6: bool) -> PacketMeta {
        PacketMeta {
            ts,
            src,
            dst,
            proto: Proto::Unknown,
            sport: 0,
            dport: 0,
            flags: TcpFlags::default(),
            seq: 0,
            payload: 0,
            ip_len,
            icmp6,
            window: 0,
        }
    }
}

/// One level of a packet's encapsulation, as Zeek's `EncapsulatingConn`: the tunnel's kind
/// and the outer packet's addresses, and for a tunnel over UDP its ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Encap {
    /// GRE, IP in IP, VXLAN or Teredo.
    pub kind: TunnelKind,
    /// Outer source address.
    pub src: IpAddr,
    /// Outer destination address.
    pub dst: IpAddr,
    /// Outer UDP source port (0 for GRE and IP in IP).
    pub sport: u16,
    /// Outer UDP destination port.
    pub dport: u16,
}

/// The TCP flags the assembler uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(clippy::struct_excessive_bools)]
pub(crate) struct TcpFlags {
    /// SYN
    pub syn: bool,
    /// ACK
    pub ack: bool,
    /// FIN
    pub fin: bool,
    /// RST
    pub rst: bool,
}
