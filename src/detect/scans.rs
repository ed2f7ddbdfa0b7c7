//! Horizontal and vertical port scans (Slips' current rule): not-established TCP/UDP client
//! flows, flipped connections ignored; evidence at 10, 100, 1000… distinct targets. Also ICMP
//! sweeps (echo, timestamp and address-mask requests to many hosts).
//!
//! Zeek's own scan notices are read in `events`, not here.

use super::context::{Ctx, Finding, confidence_from_packets, room};
use super::evidence::{EvidenceKind, FlowRef, Party, Payload};
use crate::profile::Window;
use crate::record::{Established, Proto};
use crate::store::ports;
use rustc_hash::{FxBuildHasher, FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Distinct targets, packets sent to them, and the last power of ten reported.
#[derive(Default)]
struct Targets {
    distinct: usize,
    packets: u64,
    reported: u32,
}

/// Whether `n` distinct targets reached a power of ten not reported yet (10, 100, 1000…).
fn next_decade(n: usize, reported: &mut u32) -> bool {
    if n < 10 {
        return false;
    }
    let decade = n.ilog10();
    if decade > *reported {
        *reported = decade;
        return true;
    }
    false
}

/// The flows a scan is counted from: not-established TCP or UDP, not flipped.
fn probe_like(cx: &Ctx<'_>, c: &crate::record::Conn) -> bool {
    matches!(c.proto, Proto::Tcp | Proto::Udp)
        && c.established() == Established::NotEstablished
        && !cx.sym(c.history).flipped
}

pub(crate) fn run(cx: &mut Ctx<'_>, w: &Window) {
    let conns = &cx.store.conns;
    // Fewer than 10 such flows cannot reach 10 distinct targets: most windows stop here,
    // before any set is built.
    let mut candidates = w
        .out_flows
        .iter()
        .map(|&i| probe_like(cx, &conns[i as usize]));
    if candidates.by_ref().filter(|&p| p).take(10).count() < 10 {
        return;
    }
    // the sets are sized for every candidate (see `room`)
    let room = room(10 + candidates.filter(|&p| p).count());
    // One set of (protocol, port, destination) serves both counts: a triple seen for the first
    // time is a new destination for its port and a new port for its destination. (A set per
    // port and per destination cost an allocation per destination on busy hosts.)
    let mut seen: HashSet<(Proto, u16, IpAddr)> =
        HashSet::with_capacity_and_hasher(room, FxBuildHasher);
    let mut horizontal: HashMap<(Proto, u16), Targets> =
        HashMap::with_capacity_and_hasher(room, FxBuildHasher);
    let mut vertical: HashMap<(Proto, IpAddr), Targets> =
        HashMap::with_capacity_and_hasher(room, FxBuildHasher);
    for &i in &w.out_flows {
        let c = &conns[i as usize];
        if !probe_like(cx, c) {
            continue;
        }
        let new = seen.insert((c.proto, c.resp_p, c.resp_h));
        let h = horizontal.entry((c.proto, c.resp_p)).or_default();
        h.distinct += usize::from(new);
        h.packets += c.orig_pkts;
        // the count moves only for a new target: a repeated flow cannot reach a new decade
        if new && next_decade(h.distinct, &mut h.reported) {
            let confidence = confidence_from_packets(h.packets);
            let payload = Payload::HorizontalScan {
                service: ports::service_name(c.resp_p, c.proto),
                port: c.resp_p,
                proto: c.proto,
                targets: h.distinct,
                packets: h.packets,
            };
            cx.add(Finding {
                kind: EvidenceKind::HorizontalPortscan,
                attacker: cx.me(),
                victim: None,
                level: None,
                confidence,
                payload,
                ts: c.ts,
                flows: FlowRef::Conn(i).into(),
            });
        }
        let v = vertical.entry((c.proto, c.resp_h)).or_default();
        v.distinct += usize::from(new);
        v.packets += c.orig_pkts;
        if new && next_decade(v.distinct, &mut v.reported) {
            let confidence = confidence_from_packets(v.packets);
            let payload = Payload::VerticalScan {
                target: c.resp_h,
                proto: c.proto,
                ports: v.distinct,
                packets: v.packets,
            };
            cx.add(Finding {
                kind: EvidenceKind::VerticalPortscan,
                attacker: cx.me(),
                victim: Some(Party::Ip(c.resp_h)),
                level: None,
                confidence,
                payload,
                ts: c.ts,
                flows: FlowRef::Conn(i).into(),
            });
        }
    }
}

/// When the profile became a port scanner in this window (later unknown-port evidence is left
/// out, as Slips does today).
pub(crate) fn scanner_since(cx: &Ctx<'_>) -> f64 {
    cx.found()
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EvidenceKind::HorizontalPortscan | EvidenceKind::VerticalPortscan
            )
        })
        .map(|e| e.ts)
        .fold(f64::INFINITY, f64::min)
}

/// ICMP sweeps: distinct hosts probed with echo, timestamp or address-mask requests; evidence
/// at every multiple of 5 hosts (as Slips' Zeek script).
pub(crate) fn icmp_sweeps(cx: &mut Ctx<'_>, w: &Window) {
    let mut seen: BTreeMap<&'static str, (HashSet<IpAddr>, u64)> = BTreeMap::new();
    for &i in &w.out_flows {
        let c = &cx.store.conns[i as usize];
        if c.proto != Proto::Icmp {
            continue;
        }
        // the ICMP type travels in Zeek's orig_p
        let scan = match c.orig_p {
            8 => "address",
            13 | 14 => "timestamp",
            17 | 18 => "address mask",
            _ => continue,
        };
        let s = seen.entry(scan).or_default();
        s.1 += c.orig_pkts;
        if s.0.insert(c.resp_h) && s.0.len() % 5 == 0 {
            let hosts = s.0.len();
            cx.add(Finding {
                kind: EvidenceKind::IcmpSweep,
                attacker: cx.me(),
                victim: None,
                level: None,
                confidence: (hosts as f64 / 255.0)
                    .min(1.0)
                    .max(confidence_from_packets(s.1) / 10.0),
                payload: Payload::IcmpSweep { scan, hosts },
                ts: c.ts,
                flows: FlowRef::Conn(i).into(),
            });
        }
    }
}
