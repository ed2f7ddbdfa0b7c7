//! Slips' per-window aggregate fields (spec §1.4–§1.6), computed from a window's flows.
//!
//! `DstIPsClient<P><S>` and `SrcIPsServer<P><S>` are IP aggregates; the four `…Ports…` fields are
//! port aggregates with an inner map of peer IPs. Keys keep first-seen order (Slips' Python
//! dicts); flows are the counting unit. The server-side inner map is keyed by the client IP
//! (Slips v1.0.x keyed it by the profile's own IP, a bug, spec §10.4).
//!
//! Nothing is stored per window: fields are computed when asked.

use crate::record::{Conn, Established, Proto};
use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// An insertion-ordered map with a fast hasher.
pub type OrderedMap<K, V> = IndexMap<K, V, FxBuildHasher>;

/// The six aggregate families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// Client role, keyed by destination IP.
    DstIPsClient,
    /// Client role, keyed by destination port; peers are destination IPs.
    DstPortsClient,
    /// Client role, keyed by source port; peers are destination IPs.
    SrcPortsClient,
    /// Server role, keyed by client IP.
    SrcIPsServer,
    /// Server role, keyed by client source port; peers are client IPs.
    SrcPortsServer,
    /// Server role, keyed by the profile's service port; peers are client IPs.
    DstPortsServer,
}

impl Family {
    /// All families, client role first.
    pub const ALL: [Family; 6] = [
        Family::DstIPsClient,
        Family::DstPortsClient,
        Family::SrcPortsClient,
        Family::SrcIPsServer,
        Family::SrcPortsServer,
        Family::DstPortsServer,
    ];

    /// The field-name prefix.
    pub fn name(self) -> &'static str {
        match self {
            Family::DstIPsClient => "DstIPsClient",
            Family::DstPortsClient => "DstPortsClient",
            Family::SrcPortsClient => "SrcPortsClient",
            Family::SrcIPsServer => "SrcIPsServer",
            Family::SrcPortsServer => "SrcPortsServer",
            Family::DstPortsServer => "DstPortsServer",
        }
    }

    /// Whether the family reads the window's server-side flows.
    pub fn is_server(self) -> bool {
        matches!(
            self,
            Family::SrcIPsServer | Family::SrcPortsServer | Family::DstPortsServer
        )
    }

    /// Whether the family is keyed by IP (else by port).
    pub fn by_ip(self) -> bool {
        matches!(self, Family::DstIPsClient | Family::SrcIPsServer)
    }

    /// The full field name, e.g. `DstPortsClientTCPNotEstablished`.
    pub fn field(self, proto: Proto, state: Established) -> String {
        format!("{}{}{}", self.name(), proto.upper(), state.field())
    }

    /// Parses a full field name back into its parts.
    pub fn parse_field(field: &str) -> Option<(Family, Proto, Established)> {
        for fam in Family::ALL {
            let Some(rest) = field.strip_prefix(fam.name()) else {
                continue;
            };
            for proto in [Proto::Tcp, Proto::Udp, Proto::Icmp, Proto::Unknown] {
                let Some(state) = rest.strip_prefix(proto.upper()) else {
                    continue;
                };
                for st in [Established::Established, Established::NotEstablished] {
                    if state == st.field() {
                        return Some((fam, proto, st));
                    }
                }
            }
        }
        None
    }
}

/// One entry of an IP aggregate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IpEntry {
    /// Flows.
    pub flows: u64,
    /// Packets both ways.
    pub pkts: u64,
    /// Payload bytes both ways.
    pub bytes: u64,
    /// Time of the first flow.
    pub first_ts: f64,
    /// The flows (indices into `Store::conns`), in time order.
    pub uids: Vec<u32>,
    /// Originator packets per destination port.
    pub dstports: OrderedMap<u16, u64>,
}

/// One peer of a port-aggregate entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Peer {
    /// Packets both ways.
    pub pkts: u64,
    /// Originator packets.
    pub spkts: u64,
    /// Time of the first flow.
    pub first_ts: f64,
    /// The flows, in time order.
    pub uids: Vec<u32>,
}

/// One entry of a port aggregate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PortEntry {
    /// Flows.
    pub flows: u64,
    /// Packets both ways.
    pub pkts: u64,
    /// Payload bytes both ways.
    pub bytes: u64,
    /// Peers (destination IPs for client families, client IPs for server families).
    pub peers: OrderedMap<IpAddr, Peer>,
}

/// One aggregate field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregate {
    /// Keyed by IP.
    Ips(OrderedMap<IpAddr, IpEntry>),
    /// Keyed by port.
    Ports(OrderedMap<u16, PortEntry>),
}

impl Aggregate {
    /// Number of keys.
    pub fn len(&self) -> usize {
        match self {
            Aggregate::Ips(m) => m.len(),
            Aggregate::Ports(m) => m.len(),
        }
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(key, flows, pkts, bytes)` per key, in first-seen order.
    pub fn totals(&self) -> Vec<(String, u64, u64, u64)> {
        match self {
            Aggregate::Ips(m) => m
                .iter()
                .map(|(k, e)| (k.to_string(), e.flows, e.pkts, e.bytes))
                .collect(),
            Aggregate::Ports(m) => m
                .iter()
                .map(|(k, e)| (k.to_string(), e.flows, e.pkts, e.bytes))
                .collect(),
        }
    }
}

/// All fields of one family for a window, by (protocol, state); only non-empty ones.
pub fn family(
    conns: &[Conn],
    flows: &[u32],
    fam: Family,
) -> BTreeMap<(Proto, Established), Aggregate> {
    let mut out: BTreeMap<(Proto, Established), Aggregate> = BTreeMap::new();
    for &i in flows {
        let c = &conns[i as usize];
        let slot = (c.proto, c.established());
        let agg = out.entry(slot).or_insert_with(|| {
            if fam.by_ip() {
                Aggregate::Ips(OrderedMap::default())
            } else {
                Aggregate::Ports(OrderedMap::default())
            }
        });
        let pkts = c.pkts();
        let bytes = c.bytes();
        match agg {
            Aggregate::Ips(m) => {
                let key = if fam == Family::DstIPsClient {
                    c.resp_h
                } else {
                    c.orig_h
                };
                let e = m.entry(key).or_insert_with(|| IpEntry {
                    first_ts: c.ts,
                    ..IpEntry::default()
                });
                e.flows += 1;
                e.pkts += pkts;
                e.bytes += bytes;
                e.uids.push(i);
                *e.dstports.entry(c.resp_p).or_default() += c.orig_pkts;
            }
            Aggregate::Ports(m) => {
                let (port, peer) = match fam {
                    Family::DstPortsClient => (c.resp_p, c.resp_h),
                    Family::SrcPortsClient => (c.orig_p, c.resp_h),
                    Family::SrcPortsServer => (c.orig_p, c.orig_h),
                    _ => (c.resp_p, c.orig_h),
                };
                let e = m.entry(port).or_default();
                e.flows += 1;
                e.pkts += pkts;
                e.bytes += bytes;
                let p = e.peers.entry(peer).or_insert_with(|| Peer {
                    first_ts: c.ts,
                    ..Peer::default()
                });
                p.pkts += pkts;
                p.spkts += c.orig_pkts;
                p.uids.push(i);
            }
        }
    }
    out
}

/// `DstIPs` (client role) or `SrcIPs` (server role): flows per other IP, first-seen order.
pub fn ip_counts(conns: &[Conn], flows: &[u32], server: bool) -> OrderedMap<IpAddr, u64> {
    let mut m: OrderedMap<IpAddr, u64> = OrderedMap::default();
    for &i in flows {
        let c = &conns[i as usize];
        *m.entry(if server { c.orig_h } else { c.resp_h })
            .or_default() += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_round_trip() {
        for fam in Family::ALL {
            for proto in [Proto::Tcp, Proto::Udp, Proto::Icmp] {
                for st in [Established::Established, Established::NotEstablished] {
                    let f = fam.field(proto, st);
                    assert_eq!(Family::parse_field(&f), Some((fam, proto, st)), "{f}");
                }
            }
        }
        assert_eq!(
            Family::DstPortsClient.field(Proto::Tcp, Established::NotEstablished),
            "DstPortsClientTCPNotEstablished"
        );
        assert_eq!(
            Family::parse_field("DstPortsClientTCPNot Established"),
            None
        );
    }
}
