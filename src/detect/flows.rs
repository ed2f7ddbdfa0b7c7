//! Rules on a window's client connections, one flow at a time: long connections, port 0,
//! unknown destination ports, reconnection attempts, several unknown ports to one host, SSH
//! logins by size, non-HTTP on 80 and non-TLS on 443, and connections to addresses no DNS
//! answer named. Large uploads are in [`super::upload`], blacklists in [`super::blacklists`].

use super::context::{Ctx, Finding, entry_sized, ignored, insert_sized, multicast};
use super::evidence::{EvidenceKind, FlowRef, Party, Payload, ThreatLevel};
use super::scans::scanner_since;
use crate::profile::Window;
use crate::record::{ConnState, Established, Proto};
use crate::store::{FlowSet, ports};
use rayon::prelude::*;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::BTreeSet;
use std::net::IpAddr;

/// Hosts with a recognised HTTP or TLS connection, and when (for the port 80 / 443 checks).
#[derive(Default)]
struct Recognised {
    http: HashMap<IpAddr, Vec<f64>>,
    ssl: HashMap<IpAddr, Vec<f64>>,
}

impl Recognised {
    /// The HTTP and TLS connections of a window's client flows.
    fn of(cx: &Ctx<'_>, w: &Window) -> Self {
        let mut r = Recognised::default();
        for &i in &w.out_flows {
            let c = &cx.store.conns[i as usize];
            let f = cx.sym(c.service);
            if f.http {
                r.http.entry(c.resp_h).or_default().push(c.ts);
            } else if f.ssl {
                r.ssl.entry(c.resp_h).or_default().push(c.ts);
            }
        }
        r
    }
}

/// Whether `ip` had such a connection within 5 minutes of `t`.
fn near(m: &HashMap<IpAddr, Vec<f64>>, ip: IpAddr, t: f64) -> bool {
    m.get(&ip)
        .is_some_and(|v| v.iter().any(|x| (x - t).abs() <= 300.0))
}

/// Whether a connection is of the kind Slips may take for P2P: UDP to a port above 30000.
/// Only these can be in the P2P set, so the rules ask the set about no other (a look-up there
/// misses the cache: the set has a bit for every connection of the input).
fn p2p_candidate(c: &crate::record::Conn) -> bool {
    c.proto == Proto::Udp && c.resp_p > 30000
}

/// The UDP flows to ports above 30000 that Slips takes for P2P when it sees them: by then the
/// capture has had at least 6 such flows to that destination, or 5 destinations with that many.
/// Slips counts them over the whole input, in order, not per host or window.
///
/// The candidates are found on every core, in runs of a fixed length kept in order; only the
/// count, which must see them in order, runs on one. (The whole pass on one core was the
/// longest part of the store's build on a conn.log: that part took 65–77 ms at 5 M lines, and
/// 43–51 ms so.)
pub(crate) fn p2p_flows(conns: &[crate::record::Conn]) -> FlowSet {
    const RUN: usize = 1 << 16;
    let candidates: Vec<Vec<u32>> = conns
        .par_chunks(RUN)
        .enumerate()
        .map(|(k, run)| {
            run.iter()
                .enumerate()
                .filter(|(_, c)| p2p_candidate(c))
                .map(|(j, _)| (k * RUN + j) as u32)
                .collect()
        })
        .collect();
    let mut flows_to: HashMap<IpAddr, u32> = HashMap::default();
    let mut busy = 0usize;
    let mut p2p = FlowSet::with_room(conns.len());
    for i in candidates.into_iter().flatten() {
        let c = &conns[i as usize];
        let n = flows_to.entry(c.resp_h).or_default();
        *n += 1;
        if *n == 6 {
            busy += 1;
        }
        if *n >= 6 || busy >= 5 {
            p2p.insert(i);
        }
    }
    p2p
}

/// How long after a connection a DNS answer for its destination still counts as its
/// resolution: Zeek writes a connection when it ends, and Slips re-checks a connection 15 s
/// after it saw it.
const DNS_GRACE: f64 = 15.0;
/// How old a DNS answer may be and still count (Slips: 24 h).
const DNS_MEMORY: f64 = 86_400.0;

/// Whether a DNS answer of the capture (any client's, as Slips' `DNSresolution`) named `ip`
/// between 24 h before `t` and shortly after it. An answer that comes only later in the day
/// does not excuse an earlier connection.
fn resolved_around(store: &crate::Store, ip: IpAddr, t: f64) -> bool {
    store
        .dns_resolution
        .get(&ip)
        .is_some_and(|r| r.first_ts <= t + DNS_GRACE && r.ts >= t - DNS_MEMORY)
}

#[allow(clippy::too_many_lines)] // one block per rule, sharing the window's state
pub(crate) fn run(cx: &mut Ctx<'_>, w: &Window) {
    let store = cx.store;
    let scanner = scanner_since(cx);
    let mut unknown_seen: HashSet<(IpAddr, u16, Proto)> = HashSet::default();
    let mut rej: HashMap<(IpAddr, u16), Vec<u32>> = HashMap::default();
    let mut multi_ports: HashMap<IpAddr, BTreeSet<u16>> = HashMap::default();
    let mut multi_reported: HashMap<IpAddr, usize> = HashMap::default();
    let mut no_dns_seen: HashSet<IpAddr> = HashSet::default();
    // made when a connection on 80 or 443 first needs it: most windows have none
    let mut recognised: Option<Recognised> = None;
    for &i in &w.out_flows {
        let c = &store.conns[i as usize];
        let dst = c.resp_h;
        let tcp_udp = matches!(c.proto, Proto::Tcp | Proto::Udp);
        let est = c.established() == Established::Established;
        let svc = cx.sym(c.service);
        // `level`: `None` for the kind's default
        let add = |cx: &mut Ctx<'_>, kind, level, confidence, payload| {
            cx.add(Finding {
                kind,
                attacker: cx.me(),
                // (made here, not once per flow: most flows add nothing)
                victim: Some(Party::Ip(dst)),
                level,
                confidence,
                payload,
                ts: c.ts,
                flows: FlowRef::Conn(i).into(),
            });
        };
        if c.duration > 1500.0 && !multicast(dst) {
            add(
                cx,
                EvidenceKind::LongConnection,
                None,
                (c.duration / 86400.0 * 100.0).round() / 100.0,
                Payload::LongConnection {
                    dst,
                    minutes: (c.duration / 60.0) as u64,
                },
            );
        }
        if tcp_udp && (c.orig_p == 0 || c.resp_p == 0) && !multicast(dst) {
            add(
                cx,
                EvidenceKind::Port0Connection,
                None,
                0.8,
                Payload::Port0 {
                    orig_port: c.orig_p,
                    dst,
                    dst_port: c.resp_p,
                },
            );
        }
        // unknown destination port (once per destination, port and protocol); a service Zeek
        // recognised on an unusual port is still an unknown port to Slips (5060/udp `sip`)
        // (the cheap tests first: most flows go to a known port, and the P2P set is large)
        if tcp_udp
            && c.ts <= scanner
            && !ports::known(c.resp_p, c.proto)
            && !(p2p_candidate(c) && cx.p2p.contains(i))
            && insert_sized(
                &mut unknown_seen,
                (dst, c.resp_p, c.proto),
                w.out_flows.len(),
            )
        {
            // Slips today: high when established, medium otherwise
            let level = if est {
                ThreatLevel::High
            } else {
                ThreatLevel::Medium
            };
            add(
                cx,
                EvidenceKind::UnknownPort,
                Some(level),
                1.0,
                Payload::UnknownPort {
                    port: c.resp_p,
                    proto: c.proto,
                    dst,
                },
            );
        }
        // multiple reconnection attempts: every 5 rejected connections to one port
        if c.conn_state == ConnState::REJ {
            let r = entry_sized(&mut rej, (dst, c.resp_p), w.out_flows.len()).or_default();
            r.push(i);
            if r.len() >= 5 {
                let attempts = r.len() as u32;
                let flows = std::mem::take(r).into_iter().map(FlowRef::Conn).collect();
                cx.add(Finding {
                    kind: EvidenceKind::MultipleReconnectionAttempts,
                    attacker: cx.me(),
                    victim: Some(Party::Ip(dst)),
                    level: None,
                    confidence: 0.5,
                    payload: Payload::Reconnections { dst, attempts },
                    ts: c.ts,
                    flows,
                });
            }
        }
        // several unknown-service ports to one established destination
        if c.proto == Proto::Tcp && est && c.service.is_empty() && !ports::known(c.resp_p, c.proto)
        {
            // (sized at the first: on a busy host most flows to unknown ports land here, and
            // growing from nothing rehashed the map at every doubling)
            let set = entry_sized(&mut multi_ports, dst, w.out_flows.len()).or_default();
            set.insert(c.resp_p);
            let n = set.len();
            if n > 1 && multi_reported.get(&dst).copied().unwrap_or(0) < n {
                multi_reported.insert(dst, n);
                let ports = set.iter().copied().collect();
                add(
                    cx,
                    EvidenceKind::ConnectionToMultiplePorts,
                    None,
                    0.5,
                    Payload::MultiplePorts { dst, ports },
                );
            }
        }
        // a successful SSH login, by size (Slips: more than 4290 bytes in an ssh connection),
        // unless its ssh record already says so (Slips reports one or the other)
        if svc.ssh
            && c.orig_bytes + c.resp_bytes > 4290
            && !cx.ssh_logged_in.contains(&*c.uid.text())
        {
            add(
                cx,
                EvidenceKind::SshSuccessful,
                None,
                0.8,
                Payload::SshSuccessfulBySize {
                    dst,
                    bytes: c.orig_bytes + c.resp_bytes,
                },
            );
        }
        // non-HTTP on 80 / non-TLS on 443, unless the host spoke it within 5 minutes. When
        // Zeek did not see the connection's handshake and payload whole (picked up midstream,
        // no SYN-ACK, bad checksums or gaps), it had nothing to recognise a protocol in and
        // the missing service says nothing: the evidence is kept, as Slips makes it, but as
        // information that adds nothing to the alert sum (#13: it made the false alerts of
        // the CTU days). A log without history is judged as Slips does.
        if c.proto == Proto::Tcp && est && c.orig_bytes + c.resp_bytes > 0 {
            let history = cx.sym(c.history);
            let level = (!history.readable && !history.empty).then_some(ThreatLevel::Info);
            let port_80 = c.resp_p == 80 && !svc.http;
            let port_443 = c.resp_p == 443 && !svc.ssl;
            if port_80 || port_443 {
                let r = recognised.get_or_insert_with(|| Recognised::of(cx, w));
                if port_80 && !near(&r.http, dst, c.ts) {
                    add(
                        cx,
                        EvidenceKind::NonHttpPort80Connection,
                        level,
                        0.8,
                        Payload::NonHttpPort80 { dst },
                    );
                }
                if port_443 && !near(&r.ssl, dst, c.ts) {
                    add(
                        cx,
                        EvidenceKind::NonSslPort443Connection,
                        level,
                        0.8,
                        Payload::NonSslPort443 { dst },
                    );
                }
            }
        }
        // connection without a DNS resolution of the destination (once per destination: a
        // destination already reported needs no look-up in the capture's resolutions)
        if !store.dns.is_empty()
            && tcp_udp
            && !svc.dns
            && !no_dns_seen.contains(&dst)
            && !ignored(dst)
            && !resolved_around(store, dst, c.ts)
            && insert_sized(&mut no_dns_seen, dst, w.out_flows.len())
        {
            add(
                cx,
                EvidenceKind::ConnectionWithoutDns,
                None,
                0.8,
                Payload::ConnectionWithoutDns { dst },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Conn;

    #[test]
    fn p2p_flows_found_in_runs_are_those_counted_in_one_pass() {
        // more connections than two runs; a few UDP destinations above port 30000 among TCP
        // and low ports, so the counts cross the runs' borders
        let mut random = crate::rng::Rng::new(3);
        let conns: Vec<Conn> = (0..150_000)
            .map(|_| {
                let x = random.next();
                Conn {
                    resp_h: IpAddr::from([10, 1, 0, (x % 200) as u8]),
                    resp_p: [53, 30000, 30001, 40000][(x >> 8) as usize % 4],
                    proto: if (x >> 16) % 3 == 0 {
                        Proto::Tcp
                    } else {
                        Proto::Udp
                    },
                    ..Conn::for_tests()
                }
            })
            .collect();
        let mut flows_to: HashMap<IpAddr, u32> = HashMap::default();
        let mut busy = 0usize;
        let mut one_pass = std::collections::BTreeSet::new();
        for (i, c) in conns.iter().enumerate() {
            if c.proto == Proto::Udp && c.resp_p > 30000 {
                let n = flows_to.entry(c.resp_h).or_default();
                *n += 1;
                busy += usize::from(*n == 6);
                if *n >= 6 || busy >= 5 {
                    one_pass.insert(i as u32);
                }
            }
        }
        let found = p2p_flows(&conns);
        assert_eq!(
            found.iter().collect::<Vec<_>>(),
            one_pass.iter().copied().collect::<Vec<_>>()
        );
        assert_eq!(found.len(), one_pass.len());
        // the flow rule asks the set only about candidates
        assert!(found.iter().all(|i| p2p_candidate(&conns[i as usize])));
        // most candidates (a third of the connections) are P2P once 5 destinations are busy,
        // but not the first one
        let first = conns
            .iter()
            .position(|c| c.proto == Proto::Udp && c.resp_p > 30000)
            .unwrap_or_default();
        assert!(found.len() > 40_000 && !found.contains(first as u32));
    }
}
