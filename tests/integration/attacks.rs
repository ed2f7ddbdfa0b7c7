//! kalipso's attack rules (#13): inbound probes from outside, login brute force from
//! connection patterns, persistent unanswered attempts, and the victims' aggregate. Each test
//! builds its own records, so each rule's edges are pinned (what counts, what does not).

use kalipso::detect::{DetectConfig, Detections};
use kalipso::profile::ProfileConfig;
use kalipso::record::{Batch, Conn, ConnState, Proto, Sym};
use std::net::IpAddr;

const HOME: [u8; 4] = [192, 168, 1, 10];

fn ip(a: [u8; 4]) -> IpAddr {
    IpAddr::from(a)
}

/// A TCP connection attempt `src → dst:port` with Zeek's `state` and `history`.
fn tcp(ts: f64, src: [u8; 4], dst: [u8; 4], port: u16, state: ConnState, history: &str) -> Conn {
    let answered = !matches!(state, ConnState::S0 | ConnState::REJ | ConnState::RSTOS0);
    Conn {
        ts,
        duration: if answered { 2.0 } else { 0.0 },
        uid: format!("C{ts}-{}", src[3]).into(),
        orig_h: ip(src),
        orig_p: 51_000,
        resp_h: ip(dst),
        resp_p: port,
        proto: Proto::Tcp,
        service: Sym::default(),
        conn_state: state,
        orig_bytes: if answered { 300 } else { 0 },
        resp_bytes: if answered { 500 } else { 0 },
        history: Sym::new(history),
        orig_pkts: if answered { 8 } else { 1 },
        orig_ip_bytes: 0,
        resp_pkts: if answered { 8 } else { 0 },
        resp_ip_bytes: 0,
    }
}

fn detect_with(conns: Vec<Conn>, cfg: &DetectConfig) -> Detections {
    let batch = Batch {
        conns,
        ..Batch::default()
    };
    let store = kalipso::Store::build(batch, 0.0, ProfileConfig::default());
    kalipso::detect::run(&store, cfg)
}

fn detect(conns: Vec<Conn>) -> Detections {
    detect_with(conns, &DetectConfig::default())
}

fn of_kind<'a>(d: &'a Detections, kind: &str) -> Vec<&'a kalipso::detect::Evidence> {
    d.evidence.iter().filter(|e| e.kind == kind).collect()
}

#[test]
fn one_unanswered_syn_from_outside_is_a_probe_that_alerts_its_source() {
    let scanner = [203, 0, 113, 7];
    let d = detect(vec![tcp(10.0, scanner, HOME, 445, ConnState::S0, "S")]);
    let probes = of_kind(&d, "InboundProbe");
    assert_eq!(probes.len(), 1, "{:?}", d.evidence);
    let p = probes[0];
    assert_eq!(p.profile, ip(scanner));
    assert!(p.profile_is_attacker());
    assert_eq!(
        p.description(),
        "1 unsolicited connection attempt(s) from outside the home network to 192.168.1.10 on 445/tcp, none answered."
    );
    assert_eq!(d.alerts.len(), 1, "the probe alerts alone");
    assert_eq!(d.alerts[0].profile, ip(scanner));
    // with --no-attack-alerts it only counts toward Slips' threshold, which it does not reach
    let quiet = detect_with(
        vec![tcp(10.0, scanner, HOME, 445, ConnState::S0, "S")],
        &DetectConfig {
            attack_alerts: false,
            ..DetectConfig::default()
        },
    );
    assert_eq!(of_kind(&quiet, "InboundProbe").len(), 1);
    assert!(quiet.alerts.is_empty());
}

#[test]
fn replies_backscatter_and_home_hosts_are_not_probes() {
    let remote = [203, 0, 113, 8];
    let d = detect(vec![
        // Zeek flipped it: the home host was the client
        tcp(1.0, remote, HOME, 50_000, ConnState::S0, "^hA"),
        // a SYN-ACK with no SYN (backscatter of a spoofed scan)
        tcp(2.0, remote, HOME, 50_001, ConnState::OTH, "H"),
        // a FIN answered by the host is the end of a connection, not a FIN scan
        tcp(2.5, remote, HOME, 50_002, ConnState::OTH, "Fr"),
        // an answered connection to a port that is not a login service: the host serves it
        tcp(3.0, remote, HOME, 8443, ConnState::SF, "ShADadFf"),
        // home to home is not from outside
        tcp(4.0, [192, 168, 1, 20], HOME, 445, ConnState::S0, "S"),
        // home to outside is not inbound
        tcp(5.0, HOME, remote, 445, ConnState::S0, "S"),
    ]);
    assert!(of_kind(&d, "InboundProbe").is_empty(), "{:?}", d.evidence);
    // a lone FIN that gets nothing back is a FIN-scan probe
    let mut fin = tcp(5.5, remote, HOME, 22, ConnState::OTH, "F");
    (fin.orig_pkts, fin.resp_pkts, fin.duration) = (1, 0, 0.0);
    let d = detect(vec![fin]);
    assert_eq!(of_kind(&d, "InboundProbe").len(), 1, "{:?}", d.evidence);
    // a late UDP answer from a service port is not a probe either; a UDP probe of one is
    let mut late = tcp(6.0, remote, HOME, 40_000, ConnState::S0, "D");
    late.proto = Proto::Udp;
    late.orig_p = 53;
    let mut sip = tcp(7.0, remote, HOME, 5060, ConnState::S0, "D");
    sip.proto = Proto::Udp;
    let d = detect(vec![late, sip]);
    let probes = of_kind(&d, "InboundProbe");
    assert_eq!(probes.len(), 1, "{:?}", d.evidence);
    assert!(probes[0].description().contains("on 5060/udp"));
}

#[test]
fn probes_are_counted_per_source_and_summed_per_victim() {
    let mut conns = Vec::new();
    // three scanners, one of them answered on SSH (an attacked port)
    for (k, port) in [(1u8, 23u16), (2, 3389), (3, 22)] {
        let state = if port == 22 {
            ConnState::SF
        } else {
            ConnState::S0
        };
        let history = if port == 22 { "ShADadFf" } else { "S" };
        conns.push(tcp(
            f64::from(k),
            [198, 51, 100, k],
            HOME,
            port,
            state,
            history,
        ));
        conns.push(tcp(
            f64::from(k) + 10.0,
            [198, 51, 100, k],
            HOME,
            445,
            ConnState::REJ,
            "Sr",
        ));
    }
    let d = detect(conns);
    let probes = of_kind(&d, "InboundProbe");
    assert_eq!(probes.len(), 3, "one per source and window");
    assert!(
        probes
            .iter()
            .all(|p| p.description().starts_with("2 unsolicited"))
    );
    assert_eq!(d.victims.len(), 1);
    let v = &d.victims[0];
    assert_eq!(
        (v.ip, v.attackers, v.attempts, v.answered),
        (ip(HOME), 3, 6, 1)
    );
    assert_eq!(v.ports[0], (445, "tcp", 3), "most tried first");
    assert_eq!(
        v.summary(2),
        "probed by 3 outside host(s) (6 attempts) on 445/tcp, 22/tcp and 2 more ports — 1 answered"
    );
}

#[test]
fn many_short_logins_to_one_service_are_a_brute_force() {
    let attacker = [203, 0, 113, 50];
    let logins = |n: usize, port: u16, src: [u8; 4]| -> Vec<Conn> {
        (0..n)
            .map(|k| tcp(k as f64 * 5.0, src, HOME, port, ConnState::SF, "ShADadFf"))
            .collect()
    };
    let d = detect(logins(19, 22, attacker));
    assert!(
        of_kind(&d, "LoginBruteforce").is_empty(),
        "19 is below the bar"
    );
    let d = detect(logins(25, 22, attacker));
    let bf = of_kind(&d, "LoginBruteforce");
    assert_eq!(bf.len(), 1, "{:?}", d.evidence);
    assert_eq!(
        bf[0].description(),
        "SSH brute force: 25 short completed connections from 203.0.113.50 to 192.168.1.10:22 in this time window."
    );
    assert!(d.alerts.iter().any(|a| a.profile == ip(attacker)));
    // long sessions are not login attempts
    let mut long = logins(25, 3389, attacker);
    for c in &mut long {
        c.duration = 600.0;
    }
    assert!(of_kind(&detect(long), "LoginBruteforce").is_empty());
    // Windows hosts of the home network talk SMB to their servers in many short connections
    let d = detect(logins(40, 445, [192, 168, 1, 30]));
    assert!(
        of_kind(&d, "LoginBruteforce").is_empty(),
        "{:?}",
        d.evidence
    );
    // …but not from outside
    let d = detect(logins(40, 445, attacker));
    assert_eq!(of_kind(&d, "LoginBruteforce").len(), 1);
}

#[test]
fn hundreds_of_unanswered_calls_to_one_outside_port_are_a_dead_c2() {
    // a public address (documentation ranges are never a remote party)
    let c2 = [41, 108, 179, 197];
    let calls = |n: usize, every: f64, port: u16| -> Vec<Conn> {
        (0..n)
            .map(|k| tcp(k as f64 * every, HOME, c2, port, ConnState::S0, "S"))
            .collect()
    };
    let d = detect(calls(60, 15.0, 1177));
    let found = of_kind(&d, "UnansweredAttempts");
    assert_eq!(found.len(), 1, "{:?}", d.evidence);
    assert_eq!(
        found[0].description(),
        "60 unanswered connection attempts from 192.168.1.10 to 41.108.179.197:1177/tcp over 14 minutes: a command-and-control server that is down or blocked?"
    );
    assert!(d.alerts.iter().any(|a| a.profile == ip(HOME)));
    // a burst of retries in one minute is not persistent
    assert!(of_kind(&detect(calls(60, 1.0, 1177)), "UnansweredAttempts").is_empty());
    // a known service that is down (HTTPS) is not a C2 port
    assert!(of_kind(&detect(calls(60, 15.0, 443)), "UnansweredAttempts").is_empty());
}

#[test]
fn a_victims_worst_window_is_numbered_on_its_own_grid() {
    // with one grid per profile, a scanner's first probe is its window 1, but the overview
    // jumps to the victim's window that holds the probes
    let mut conns = vec![tcp(0.0, HOME, [8, 8, 8, 8], 443, ConnState::SF, "ShADadFf")];
    for k in 1..=3u8 {
        conns.push(tcp(
            7_300.0 + f64::from(k),
            [198, 51, 100, k],
            HOME,
            23,
            ConnState::S0,
            "S",
        ));
    }
    let batch = Batch {
        conns,
        ..Batch::default()
    };
    let config = ProfileConfig {
        anchor: kalipso::profile::window::Anchor::Profile,
        ..ProfileConfig::default()
    };
    let store = kalipso::Store::build(batch, 0.0, config);
    let d = kalipso::detect::run(&store, &DetectConfig::default());
    assert_eq!(d.victims.len(), 1, "{:?}", d.evidence);
    assert_eq!(
        d.victims[0].worst_window,
        store.window_number(ip(HOME), 7_301.0)
    );
    assert_eq!(d.victims[0].worst_window, 3);
}
