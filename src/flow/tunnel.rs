//! Tunnels as Zeek tracks them: which tunnel a packet came through, the tunnels a connection
//! was carried by (conn.log's `tunnel_parents`), and tunnel.log's rows.
//!
//! A tunnel over UDP (VXLAN, Teredo) is its outer connection and has its uid; an IP-level
//! tunnel (GRE, IP in IP) is no connection: it is the pair of outer addresses, with a uid of its
//! own from its first packet until it has been idle for Zeek's `ip_tunnel_timeout`. The
//! assembler records, per connection, the innermost tunnel of every encapsulation change and
//! when it happened; the uids are joined in at the end of the capture, when every outer
//! connection is known.

use super::Encap;
use super::key::{FiveTuple, FlowKey, uid};
use super::service::Service;
use crate::record::{Proto, Tunnel, TunnelAction, TunnelKind};
use compact_str::CompactString;
use rustc_hash::FxHashMap;
use std::net::IpAddr;

/// An IP tunnel idle this long is forgotten; its next packet starts a new one with a new uid
/// (Zeek's `ip_tunnel_timeout`, 24 h).
const IP_TUNNEL_TIMEOUT: f64 = 86_400.0;

/// How many times a connection's tunnels may change before Zeek stops following the changes
/// and marks its history `X` (`Tunnel::max_changes_per_connection`).
const MAX_CHANGES: u8 = 5;

/// Which tunnel an encapsulation level is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum TunnelId {
    /// An IP-level tunnel: its address pair, lower first (Zeek keys them so, whatever the kind).
    Ip(IpAddr, IpAddr),
    /// A tunnel over UDP: its outer connection.
    Udp(FlowKey),
}

impl Encap {
    fn id(&self) -> TunnelId {
        if self.kind.over_udp() {
            TunnelId::Udp(
                FiveTuple {
                    proto: Proto::Udp,
                    orig: (self.src, self.sport),
                    resp: (self.dst, self.dport),
                }
                .key(),
            )
        } else if self.src <= self.dst {
            TunnelId::Ip(self.src, self.dst)
        } else {
            TunnelId::Ip(self.dst, self.src)
        }
    }
}

/// One IP tunnel from its first packet to its last.
#[derive(Debug, Clone)]
struct IpTunnel {
    first_packet: Encap,
    uid: CompactString,
    first: f64,
    last: f64,
}

/// The tunnels packets came through, fed in capture order.
#[derive(Debug, Default)]
pub(crate) struct Tunnels {
    /// The live tunnel of each address pair: its index in `all`.
    live: FxHashMap<TunnelId, usize>,
    all: Vec<IpTunnel>,
    /// The times packets came through each tunnel over UDP, leaving out those within a
    /// second of the one before: the outer connections end only after longer silences, so
    /// the first packet through each of them is here.
    over_udp: FxHashMap<TunnelId, Vec<f64>>,
}

impl Tunnels {
    /// A packet (the `seq`-th of the capture) came through tunnel `e`.
    pub fn seen(&mut self, e: &Encap, ts: f64, seq: u64) {
        let id = e.id();
        if e.kind.over_udp() {
            let times = self.over_udp.entry(id).or_default();
            if times.last().is_none_or(|&t| ts - t > 1.0) {
                times.push(ts);
            }
            return;
        }
        if let Some(&i) = self.live.get(&id) {
            let t = &mut self.all[i];
            if ts - t.last <= IP_TUNNEL_TIMEOUT {
                t.last = t.last.max(ts);
                return;
            }
        }
        let tuple = FiveTuple {
            proto: Proto::Unknown,
            orig: (e.src, 0),
            resp: (e.dst, 0),
        };
        self.live.insert(id, self.all.len());
        self.all.push(IpTunnel {
            first_packet: *e,
            uid: uid(&tuple, ts, seq),
            first: ts,
            last: ts,
        });
    }
}

/// A connection's tunnels while it lives (Zeek's `encapsulation` and `tunnel_changes`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Tunnelled {
    current: Vec<Encap>,
    changes: u8,
    /// The innermost tunnel after the start and after each change Zeek reported, and when.
    pub parents: Vec<(Encap, f64)>,
}

impl Tunnelled {
    /// A packet inside `stack` (empty when not tunnelled) reached the connection; `new` when it
    /// started the connection. True when the change limit was passed (history `X`).
    pub fn packet(&mut self, stack: &[Encap], ts: f64, new: bool) -> bool {
        // the same tunnels whichever way the packet went (Zeek's `EncapsulatingConn` equality)
        let same = self.current.len() == stack.len()
            && self
                .current
                .iter()
                .zip(stack)
                .all(|(a, b)| a.kind == b.kind && a.id() == b.id());
        if !new && same {
            return false;
        }
        self.current = stack.to_vec();
        if !new {
            if self.changes >= MAX_CHANGES {
                return true;
            }
            self.changes += 1;
        }
        if let Some(inner) = stack.last() {
            self.parents.push((*inner, ts));
        }
        false
    }
}

/// The tunnel over UDP that a connection carries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Carrier {
    pub kind: TunnelKind,
    /// Its first packet that carried one.
    pub first: f64,
    /// Whether each side (orig, resp) sent a packet that carried one.
    pub valid: [bool; 2],
}

impl Carrier {
    /// Zeek's service for the connection, once confirmed: at the first VXLAN packet, and for
    /// Teredo once both sides sent one (`Tunnel::delay_teredo_confirmation`).
    pub fn service(&self) -> Option<Service> {
        match self.kind {
            TunnelKind::Vxlan => Some(Service::Vxlan),
            TunnelKind::Teredo if self.valid == [true, true] => Some(Service::Teredo),
            _ => None,
        }
    }

    /// tunnel.log's rows of the connection: found at its first tunnelled packet, closed when
    /// it ended.
    pub fn rows(
        &self,
        uid: &CompactString,
        orig: (IpAddr, u16),
        resp: (IpAddr, u16),
        end: f64,
    ) -> [Tunnel; 2] {
        let row = |ts, action| Tunnel {
            ts,
            uid: uid.clone(),
            orig_h: orig.0,
            orig_p: orig.1,
            resp_h: resp.0,
            resp_p: resp.1,
            kind: self.kind,
            action,
        };
        [
            row(self.first, TunnelAction::Discover),
            row(end, TunnelAction::Close),
        ]
    }
}

/// The end of a capture: tunnel.log (the IP tunnels' discoveries and the rows of the
/// connections that carried tunnels, `carried`) in time order, and the `tunnel_parents` of
/// the tunnelled connections (`inner`: uid and parents as [`Tunnelled::parents`]), by uid.
/// A connection that carried no IP packet (a VXLAN flow of ARP only) has no tunnel.log rows,
/// and one is found when the first packet came through it.
pub(crate) fn finish(
    ip: Tunnels,
    mut carried: Vec<Tunnel>,
    mut inner: Vec<(CompactString, Vec<(Encap, f64)>)>,
) -> (Vec<Tunnel>, Vec<(CompactString, CompactString)>) {
    let udp_id = |r: &Tunnel| {
        Encap {
            kind: r.kind,
            src: r.orig_h,
            dst: r.resp_h,
            sport: r.orig_p,
            dport: r.resp_p,
        }
        .id()
    };
    let ends: FxHashMap<CompactString, f64> = carried
        .iter()
        .filter(|r| r.action == TunnelAction::Close)
        .map(|r| (r.uid.clone(), r.ts))
        .collect();
    let mut first_inside: FxHashMap<CompactString, f64> = FxHashMap::default();
    for r in carried
        .iter()
        .filter(|r| r.action == TunnelAction::Discover)
    {
        let end = ends.get(&r.uid).copied().unwrap_or(r.ts);
        let first = ip
            .over_udp
            .get(&udp_id(r))
            .and_then(|times| times.iter().copied().find(|&t| r.ts <= t && t <= end));
        if let Some(t) = first {
            first_inside.insert(r.uid.clone(), t);
        }
    }
    carried.retain_mut(|r| match first_inside.get(&r.uid) {
        Some(&t) => {
            if r.action == TunnelAction::Discover {
                r.ts = t;
            }
            true
        }
        None => false,
    });
    // the life of every tunnel, by id: (from, to, uid)
    let mut lives: FxHashMap<TunnelId, Vec<(f64, f64, CompactString)>> = FxHashMap::default();
    for t in &ip.all {
        lives
            .entry(t.first_packet.id())
            .or_default()
            .push((t.first, t.last, t.uid.clone()));
    }
    let mut found: FxHashMap<&str, f64> = FxHashMap::default();
    for r in carried
        .iter()
        .filter(|r| r.action == TunnelAction::Discover)
    {
        found.insert(&r.uid, r.ts);
    }
    for r in carried.iter().filter(|r| r.action == TunnelAction::Close) {
        let from = found.get(r.uid.as_str()).copied().unwrap_or(r.ts);
        lives
            .entry(udp_id(r))
            .or_default()
            .push((from, r.ts, r.uid.clone()));
    }
    inner.sort_by(|a, b| a.0.cmp(&b.0));
    let parents = inner
        .into_iter()
        .filter_map(|(uid, seen)| {
            let mut uids: Vec<&str> = Vec::new();
            for (e, ts) in &seen {
                let life = lives
                    .get(&e.id())
                    .and_then(|l| l.iter().find(|(from, to, _)| *from <= *ts && *ts <= *to));
                if let Some((_, _, u)) = life {
                    if !uids.contains(&u.as_str()) {
                        uids.push(u);
                    }
                }
            }
            (!uids.is_empty()).then(|| (uid, uids.join(",").into()))
        })
        .collect();
    let mut rows: Vec<Tunnel> = ip
        .all
        .into_iter()
        .map(|t| Tunnel {
            ts: t.first,
            uid: t.uid,
            orig_h: t.first_packet.src,
            orig_p: 0,
            resp_h: t.first_packet.dst,
            resp_p: 0,
            kind: t.first_packet.kind,
            action: TunnelAction::Discover,
        })
        .chain(carried)
        .collect();
    rows.sort_by(|a, b| {
        a.ts.total_cmp(&b.ts)
            .then_with(|| a.action.cmp(&b.action))
            .then_with(|| a.uid.cmp(&b.uid))
    });
    (rows, parents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gre(src: [u8; 4], dst: [u8; 4]) -> Encap {
        Encap {
            kind: TunnelKind::Gre,
            src: src.into(),
            dst: dst.into(),
            sport: 0,
            dport: 0,
        }
    }

    #[test]
    fn changes_count_after_the_start_and_stop_at_the_limit() {
        let (a, b) = (
            gre([1, 1, 1, 1], [2, 2, 2, 2]),
            gre([3, 3, 3, 3], [4, 4, 4, 4]),
        );
        let mut t = Tunnelled::default();
        assert!(!t.packet(&[a], 1.0, true));
        assert!(!t.packet(&[a], 2.0, false), "the same tunnel is no change");
        let mut x = Vec::new();
        for i in 0..8 {
            let stack = if i % 2 == 0 { [b] } else { [a] };
            x.push(t.packet(&stack, 3.0 + f64::from(i), false));
        }
        assert_eq!(x, [false, false, false, false, false, true, true, true]);
        assert_eq!(
            t.parents.len(),
            6,
            "the start and the five changes Zeek reports"
        );
        // leaving the tunnel is a change too, with no parent
        let mut t = Tunnelled::default();
        t.packet(&[a], 1.0, true);
        t.packet(&[], 2.0, false);
        assert_eq!(t.parents.len(), 1);
    }

    #[test]
    fn an_ip_tunnel_is_its_address_pair_until_a_day_idle() {
        let mut ip = Tunnels::default();
        let (ab, ba) = (
            gre([1, 1, 1, 1], [2, 2, 2, 2]),
            gre([2, 2, 2, 2], [1, 1, 1, 1]),
        );
        ip.seen(&ab, 10.0, 1);
        ip.seen(&ba, 20.0, 2);
        ip.seen(&ab, 20.0 + IP_TUNNEL_TIMEOUT + 1.0, 3);
        let inner = vec![
            (CompactString::from("Cinner"), vec![(ba, 15.0)]),
            (
                CompactString::from("Clater"),
                vec![(ab, 21.0 + IP_TUNNEL_TIMEOUT)],
            ),
        ];
        let (rows, parents) = finish(ip, Vec::new(), inner);
        assert_eq!(rows.len(), 2, "one discovery per tunnel life");
        assert_eq!(rows[0].orig_h, IpAddr::from([1, 1, 1, 1]), "as first seen");
        assert_ne!(rows[0].uid, rows[1].uid);
        assert_eq!(parents[0], ("Cinner".into(), rows[0].uid.clone()));
        assert_eq!(parents[1], ("Clater".into(), rows[1].uid.clone()));
    }
}
