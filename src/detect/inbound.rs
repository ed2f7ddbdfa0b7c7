//! Attacks on home hosts from outside (kalipso's rules; Slips has none for them):
//! - **inbound probes**: unsolicited connection attempts from an address outside the home
//!   network to home hosts, counted per source and window — unanswered TCP SYNs (S0, REJ,
//!   RSTOS0…), answered ones to a login or commonly attacked port, lone unanswered FINs,
//!   unanswered UDP (a closed port), and ICMP echo, timestamp and address-mask requests. A source with a few such flows
//!   is an Internet scanner or an attacker trying its luck; Slips' accounting never alerts
//!   on it (its few flows weigh far below a window's threshold), so this evidence alerts alone.
//! - **login brute force** from connection patterns: many short, completed connections from
//!   one source to one login service (SSH, Telnet, RDP, SMB, FTP, VNC, databases) in a window,
//!   with no ssh.log needed.
//!
//! What is unsolicited is judged from the flow itself, never from labels or addresses: a TCP
//! flow counts only when its originator sent the first SYN and Zeek did not flip it; a UDP
//! flow only when it comes from a non-service port and goes to a port below the ephemeral
//! range (a late answer to the home host comes from a service port, or lands on an ephemeral
//! one); ICMP only for request types.

use super::context::{Ctx, Finding, room};
use super::evidence::{EvidenceKind, FlowRef, Party, Payload, ThreatLevel};
use super::victims::Probe;
use crate::profile::Window;
use crate::record::{Conn, Established, Proto};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Ports whose services are logged into or commonly exploited from the Internet: an answered
/// unsolicited connection to one of them counts as an attempt, not as use of a service.
const ATTACKED_PORTS: &[(u16, Proto)] = &[
    (21, Proto::Tcp),    // FTP
    (22, Proto::Tcp),    // SSH
    (23, Proto::Tcp),    // Telnet
    (25, Proto::Tcp),    // SMTP relay probing
    (135, Proto::Tcp),   // MS RPC
    (139, Proto::Tcp),   // NetBIOS session
    (445, Proto::Tcp),   // SMB
    (1433, Proto::Tcp),  // MS SQL
    (1900, Proto::Udp),  // SSDP reflection
    (2000, Proto::Tcp),  // Cisco SCCP / MikroTik bandwidth test
    (2323, Proto::Tcp),  // Telnet (IoT)
    (2375, Proto::Tcp),  // Docker API
    (3306, Proto::Tcp),  // MySQL
    (3389, Proto::Tcp),  // RDP
    (5060, Proto::Tcp),  // SIP
    (5060, Proto::Udp),  // SIP
    (5432, Proto::Tcp),  // PostgreSQL
    (5555, Proto::Tcp),  // Android debug bridge
    (5900, Proto::Tcp),  // VNC
    (5985, Proto::Tcp),  // WinRM
    (6379, Proto::Tcp),  // Redis
    (7547, Proto::Tcp),  // TR-069
    (8008, Proto::Tcp),  // alternative HTTP (routers, IoT)
    (8291, Proto::Tcp),  // MikroTik Winbox
    (9200, Proto::Tcp),  // Elasticsearch
    (11211, Proto::Udp), // memcached reflection
    (27017, Proto::Tcp), // MongoDB
];

/// Login services whose brute force shows as many short completed connections.
const LOGIN_PORTS: &[(u16, &str)] = &[
    (21, "FTP"),
    (22, "SSH"),
    (23, "Telnet"),
    (139, "SMB"),
    (445, "SMB"),
    (1433, "MS SQL"),
    (2323, "Telnet"),
    (3306, "MySQL"),
    (3389, "RDP"),
    (5432, "PostgreSQL"),
    (5900, "VNC"),
];

/// Completed connections to one login service in one window that make a brute force.
pub(crate) const BRUTE_FORCE_ATTEMPTS: usize = 20;
/// Longest connection that still counts as one login attempt, seconds (a session lasts longer).
const ATTEMPT_SECONDS: f64 = 30.0;
/// Ports below this are service ports (IANA's well-known range).
const SERVICE_PORTS: u16 = 1024;
/// The start of the ephemeral port range (Linux: 32768–60999; Windows: from 49152).
const EPHEMERAL_PORTS: u16 = 32_768;
/// ICMP types that ask the host something: echo, timestamp and address-mask requests (IPv4),
/// echo request (IPv6).
const ICMP_REQUESTS: &[u16] = &[8, 13, 17, 128];

fn attacked(port: u16, proto: Proto) -> bool {
    ATTACKED_PORTS.contains(&(port, proto))
}

/// The login service on a TCP port, if it is one of [`LOGIN_PORTS`].
fn login_service(port: u16) -> Option<&'static str> {
    LOGIN_PORTS
        .iter()
        .find(|(p, _)| *p == port)
        .map(|(_, s)| *s)
}

/// Whether the home host answered an attempt: a completed handshake (TCP), any reply
/// packet (UDP, ICMP). The rule and the victims' aggregate count "answered" alike.
pub(super) fn answered(c: &Conn) -> bool {
    match c.proto {
        Proto::Tcp => c.established() == Established::Established,
        _ => c.resp_pkts > 0,
    }
}

/// Whether `c` is an unsolicited connection attempt by its originator, and whether it was
/// answered (`Some(answered)`), or `None` when it is not one.
fn probe(cx: &Ctx<'_>, c: &Conn) -> Option<bool> {
    match c.proto {
        Proto::Tcp => {
            let history = cx.sym(c.history);
            if history.flipped {
                return None;
            }
            let established = answered(c);
            // a log without history: the connection state says whether a SYN went unanswered
            let syn_first = history.syn_first
                || (history.empty && !established && c.conn_state.unanswered_syn());
            if !syn_first {
                // a lone FIN that got nothing back is a FIN-scan probe; anything else without
                // the SYN is backscatter or a connection seen midstream
                let fin_probe = history.fin_first && c.orig_pkts <= 2 && c.resp_pkts == 0;
                return fin_probe.then_some(false);
            }
            if !established {
                Some(false)
            } else if attacked(c.resp_p, c.proto) && c.duration <= ATTEMPT_SECONDS {
                Some(true)
            } else {
                None // an inbound connection to a service the host offers
            }
        }
        Proto::Udp => {
            // A late answer to the home host comes from a service port, or lands on one of
            // its ephemeral ports after Zeek's UDP timeout: neither is a probe.
            let from_service = c.orig_p < SERVICE_PORTS && c.orig_p != c.resp_p;
            if from_service || c.resp_p >= EPHEMERAL_PORTS {
                return None;
            }
            // Unanswered, the port is closed (a P2P peer or a served port answers); answered,
            // it counts only on an attacked service.
            let answered = answered(c);
            (!answered || attacked(c.resp_p, c.proto)).then_some(answered)
        }
        Proto::Icmp => ICMP_REQUESTS.contains(&c.orig_p).then_some(answered(c)),
        Proto::Unknown => None,
    }
}

/// What one source tried on the home network in one window.
#[derive(Default)]
struct Probes {
    // hashed while counting (an Internet scanner tries thousands), sorted when reported
    victims: HashSet<IpAddr>,
    ports: HashSet<(u16, Proto)>,
    answered: u32,
    attacked_port: bool,
    first_ts: f64,
    /// Its attempts: the evidence's flows, and the victims' aggregate's rows.
    rows: Vec<Probe>,
}

/// The rules of this file on one window of one profile.
pub(crate) fn run(cx: &mut Ctx<'_>, w: &Window) {
    let from_outside = !cx.home.contains(cx.profile);
    let mut probes = Probes {
        first_ts: f64::INFINITY,
        ..Probes::default()
    };
    let mut logins: HashMap<(IpAddr, u16), Vec<u32>> = HashMap::default();
    // A home host's window needs a pass over its flows only when one of its tuples has enough
    // flows to a login port for a brute force (most windows have none, and each pass over a
    // busy host's flows costs a cache miss per flow).
    let brute_force_possible = w.out_tuples.iter().any(|t| {
        t.proto == Proto::Tcp
            && t.flows as usize >= BRUTE_FORCE_ATTEMPTS
            && login_service(t.port).is_some()
    });
    if !from_outside && !brute_force_possible {
        return;
    }
    // the cheap tests on each flow come first
    for &i in &w.out_flows {
        let c = &cx.store.conns[i as usize];
        if from_outside {
            if let Some(replied) = probe(cx, c).filter(|_| cx.home.contains(c.resp_h)) {
                if probes.victims.capacity() == 0 {
                    let n = room(w.out_flows.len());
                    probes.victims.reserve(n);
                    probes.ports.reserve(n);
                    probes.rows.reserve(n);
                }
                probes.victims.insert(c.resp_h);
                probes.ports.insert((c.resp_p, c.proto));
                probes.answered += u32::from(replied);
                probes.attacked_port |= attacked(c.resp_p, c.proto);
                probes.first_ts = probes.first_ts.min(c.ts);
                probes.rows.push(Probe {
                    conn: i,
                    victim: c.resp_h,
                    attacker: cx.profile_number,
                    ts: c.ts,
                    port: c.resp_p,
                    proto: c.proto,
                    // (the aggregate's own test: a lone FIN probe counts as unanswered
                    // above, whatever its state says)
                    answered: answered(c),
                });
            }
        }
        let login = c.proto == Proto::Tcp
            && c.duration <= ATTEMPT_SECONDS
            && login_service(c.resp_p).is_some()
            && c.established() == Established::Established
            && !cx.sym(c.history).flipped
            // Windows hosts open many short SMB connections to their servers every hour
            && !(is_smb(c.resp_p) && !from_outside && cx.home.contains(c.resp_h));
        if login {
            logins.entry((c.resp_h, c.resp_p)).or_default().push(i);
        }
    }
    if !probes.rows.is_empty() {
        report_probes(cx, probes);
    }
    // in destination order, so the evidence does not depend on the map's order
    let logins: BTreeMap<(IpAddr, u16), Vec<u32>> = logins.into_iter().collect();
    for ((dst, port), flows) in logins {
        if flows.len() >= BRUTE_FORCE_ATTEMPTS {
            report_brute_force(cx, dst, port, &flows);
        }
    }
}

fn is_smb(port: u16) -> bool {
    port == 445 || port == 139
}

fn report_probes(cx: &mut Ctx<'_>, p: Probes) {
    // A scan of several ports or hosts, or a try at a login or exploited service, is high; a
    // lone unanswered attempt at another port is medium. More attempts, more confidence.
    let level = if p.attacked_port || p.ports.len() >= 5 || p.victims.len() >= 5 {
        ThreatLevel::High
    } else {
        ThreatLevel::Medium
    };
    let attempts = p.rows.len() as u32;
    let confidence = (0.5 + 0.1 * f64::from(attempts)).min(1.0);
    let first = p.victims.iter().min().copied();
    let victim = first.filter(|_| p.victims.len() == 1).map(Party::Ip);
    let first_victim = first.unwrap_or(cx.profile);
    let mut ports: thin_vec::ThinVec<(u16, Proto)> = p.ports.into_iter().collect();
    ports.sort_unstable();
    let kept = cx.add(Finding {
        kind: EvidenceKind::InboundProbe,
        attacker: cx.me(),
        victim,
        level: Some(level),
        confidence,
        payload: Payload::InboundProbe {
            victim: first_victim,
            victims: p.victims.len() as u32,
            ports,
            attempts,
            answered: p.answered,
        },
        ts: p.first_ts,
        flows: p.rows.iter().map(|r| FlowRef::Conn(r.conn)).collect(),
    });
    if kept {
        cx.probes.extend(p.rows);
    }
}

fn report_brute_force(cx: &mut Ctx<'_>, dst: IpAddr, port: u16, flows: &[u32]) {
    let service = login_service(port).unwrap_or("login");
    let last = flows.last().map_or(0.0, |&i| cx.store.conns[i as usize].ts);
    cx.add(Finding {
        kind: EvidenceKind::LoginBruteforce,
        attacker: cx.me(),
        victim: Some(Party::Ip(dst)),
        level: None,
        confidence: (flows.len() as f64 / (2 * BRUTE_FORCE_ATTEMPTS) as f64).min(1.0),
        payload: Payload::LoginBruteforce {
            dst,
            port,
            service,
            attempts: flows.len() as u32,
        },
        ts: last,
        flows: flows.iter().map(|&i| FlowRef::Conn(i)).collect(),
    });
}
