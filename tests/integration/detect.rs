//! Detections: each scenario just below and at its threshold (records built here), the
//! evidence strings of Slips' integration tests (spec §9), the real Slips runs in
//! `slips-oracle/`, alert accounting, outputs and determinism.

use crate::{corpus, fixtures};
use kalipso::Options;
use kalipso::detect::{DetectConfig, Detections, ThreatLevel};
use kalipso::profile::ProfileConfig;
use kalipso::record::Batch;
use kalipso::record::{Conn, ConnState, Dns, Endpoints, Proto, Sym};
use std::net::IpAddr;

const ME: [u8; 4] = [10, 0, 0, 5];

fn ip(a: [u8; 4]) -> IpAddr {
    IpAddr::from(a)
}

#[allow(clippy::too_many_arguments)]
fn conn(
    ts: f64,
    dst: [u8; 4],
    dport: u16,
    proto: Proto,
    state: ConnState,
    dur: f64,
    sent: u64,
    pkts: u64,
) -> Conn {
    Conn {
        ts,
        duration: dur,
        uid: format!("C{ts}").into(),
        orig_h: ip(ME),
        orig_p: 40_000,
        resp_h: ip(dst),
        resp_p: dport,
        proto,
        service: Sym::default(),
        conn_state: state,
        orig_bytes: sent,
        resp_bytes: if state == ConnState::SF { 100 } else { 0 },
        history: Sym::default(),
        orig_pkts: pkts,
        orig_ip_bytes: sent + 40 * pkts,
        resp_pkts: u64::from(state == ConnState::SF) * 2,
        resp_ip_bytes: 0,
    }
}

/// The store of records built here.
fn store_of(batch: Batch) -> kalipso::Store {
    kalipso::Store::build(batch, 0.0, ProfileConfig::default())
}

/// The detections, with default settings, on records built here.
fn detect_batch(batch: Batch) -> Detections {
    kalipso::detect::run(&store_of(batch), &DetectConfig::default())
}

fn detect(conns: Vec<Conn>, dns: Vec<Dns>) -> Detections {
    detect_batch(Batch {
        conns,
        dns,
        ..Batch::default()
    })
}

/// A victim as text (empty when there is none).
fn party(p: Option<kalipso::detect::PartyRef>) -> String {
    p.map(|p| p.to_string()).unwrap_or_default()
}

fn kinds(d: &Detections) -> Vec<&'static str> {
    d.evidence.iter().map(|e| e.kind.name()).collect()
}

fn count(d: &Detections, kind: &str) -> usize {
    d.evidence.iter().filter(|e| e.kind == kind).count()
}

#[test]
fn port_scans_fire_at_ten_targets() {
    let s0 = |i: u8, port: u16, dst: [u8; 4]| {
        conn(
            f64::from(i),
            dst,
            port,
            Proto::Tcp,
            ConnState::S0,
            0.0,
            0,
            1,
        )
    };
    let h = |n: u8| {
        (1..=n)
            .map(|i| s0(i, 23, [45, 0, 0, i]))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        count(&detect(h(9), vec![]), "HorizontalPortscan"),
        0,
        "9 hosts"
    );
    let d = detect(h(10), vec![]);
    assert_eq!(
        count(&d, "HorizontalPortscan"),
        1,
        "10 hosts: {:?}",
        kinds(&d)
    );
    let e = d
        .evidence
        .iter()
        .find(|e| e.kind == "HorizontalPortscan")
        .unwrap_or_else(|| panic!("scan"));
    assert!(
        e.description()
            .starts_with("Horizontal port scan to port telnet 23/tcp. From 10.0.0.5 to 10 unique destination IPs."),
        "{}",
        e.description()
    );
    assert!(
        (e.confidence - 1.0).abs() < 1e-9,
        "10 probes of 1 packet: confidence 1"
    );
    let v = |n: u16| {
        (1..=n)
            .map(|p| s0(p as u8, 1000 + p, [45, 0, 0, 1]))
            .collect::<Vec<_>>()
    };
    assert_eq!(count(&detect(v(9), vec![]), "VerticalPortscan"), 0);
    let d = detect(v(10), vec![]);
    assert_eq!(count(&d, "VerticalPortscan"), 1);
    assert!(
        d.evidence.iter().any(|e| e.description().starts_with(
            "new vertical port scan to IP 45.0.0.1 from 10.0.0.5. Total 10 TCP ports"
        ))
    );
}

#[test]
fn long_connections_rejections_port_zero_and_uploads() {
    let one = |c: Conn| detect(vec![c], vec![]);
    let long = |dur: f64| {
        conn(
            1.0,
            [8, 8, 4, 4],
            443,
            Proto::Tcp,
            ConnState::SF,
            dur,
            10,
            5,
        )
    };
    assert_eq!(count(&one(long(1500.0)), "LongConnection"), 0);
    assert_eq!(count(&one(long(1500.5)), "LongConnection"), 1);
    let rej = |n: u8| {
        (0..n)
            .map(|i| {
                conn(
                    f64::from(i),
                    [8, 8, 4, 4],
                    22,
                    Proto::Tcp,
                    ConnState::REJ,
                    0.0,
                    0,
                    1,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        count(&detect(rej(4), vec![]), "MultipleReconnectionAttempts"),
        0
    );
    assert_eq!(
        count(&detect(rej(5), vec![]), "MultipleReconnectionAttempts"),
        1
    );
    let zero = conn(1.0, [8, 8, 4, 4], 0, Proto::Tcp, ConnState::S0, 0.0, 0, 1);
    assert_eq!(count(&one(zero), "Port0Connection"), 1);
    let up = |b: u64| {
        conn(
            1.0,
            [93, 1, 1, 1],
            443,
            Proto::Tcp,
            ConnState::SF,
            10.0,
            b,
            5,
        )
    };
    assert_eq!(count(&one(up(99_999_999)), "DataUpload"), 0);
    assert_eq!(count(&one(up(100_000_000)), "DataUpload"), 1);
    // the window sum: six flows of 90 MB to one host (Slips v1.0.0 forgot to sum)
    let many: Vec<Conn> = (0..6)
        .map(|i| {
            conn(
                f64::from(i),
                [93, 1, 1, 1],
                443,
                Proto::Tcp,
                ConnState::SF,
                10.0,
                90_000_000,
                5,
            )
        })
        .collect();
    assert_eq!(count(&detect(many.clone(), vec![]), "DataUploadWindow"), 1);
    // its flows are those to that host only, in the window's order, and the sum is in MB; a
    // flow to another host between them is not counted
    let mut mixed = many;
    mixed.insert(
        3,
        conn(
            2.5,
            [93, 1, 1, 2],
            443,
            Proto::Tcp,
            ConnState::SF,
            10.0,
            90_000_000,
            5,
        ),
    );
    let d = detect(mixed, vec![]);
    let window_sum: Vec<_> = d
        .evidence
        .iter()
        .filter(|e| e.kind == "DataUploadWindow")
        .collect();
    assert_eq!(window_sum.len(), 1, "{:?}", kinds(&d));
    let flows: Vec<u32> = window_sum[0]
        .flows
        .iter()
        .map(|f| match f {
            kalipso::detect::FlowRef::Conn(i) => *i,
            other => panic!("not a connection: {other:?}"),
        })
        .collect();
    assert_eq!(flows, [0, 1, 2, 4, 5, 6]);
    assert!(
        window_sum[0].description().contains("540"),
        "{}",
        window_sum[0].description()
    );
    let unknown = conn(
        1.0,
        [93, 1, 1, 1],
        4444,
        Proto::Tcp,
        ConnState::SF,
        1.0,
        10,
        5,
    );
    assert_eq!(count(&one(unknown.clone()), "UnknownPort"), 1);
    // #13: a service Zeek recognised on an unknown port does not make the port known (Slips)
    let with_service = Conn {
        service: Sym::new("http"),
        ..unknown.clone()
    };
    assert_eq!(count(&one(with_service), "UnknownPort"), 1);
    // #13: P2P-like UDP is counted over the whole input, in order: the first five flows to a
    // destination's high ports are unknown ports, the sixth (from another host) is P2P
    let udp = |ts: f64, src: [u8; 4], port: u16| Conn {
        orig_h: ip(src),
        ..conn(
            ts,
            [93, 1, 1, 7],
            port,
            Proto::Udp,
            ConnState::SF,
            1.0,
            10,
            5,
        )
    };
    let mut flows: Vec<Conn> = (0..5u16)
        .map(|k| udp(f64::from(k), [10, 0, 0, 8], 40_000 + k))
        .collect();
    flows.push(udp(10.0, [10, 0, 0, 9], 40_100));
    let d = detect(flows, vec![]);
    let unknown_from = |d: &Detections, src: [u8; 4]| {
        d.evidence
            .iter()
            .filter(|e| e.kind == "UnknownPort" && e.profile == ip(src))
            .count()
    };
    assert_eq!(unknown_from(&d, [10, 0, 0, 8]), 5);
    assert_eq!(
        unknown_from(&d, [10, 0, 0, 9]),
        0,
        "the sixth flow to the destination is P2P, though it is the host's only one"
    );
    let known = Conn {
        resp_p: 22,
        ..unknown.clone()
    };
    assert_eq!(
        count(&one(known), "UnknownPort"),
        0,
        "22/tcp is in Slips' port table"
    );
    let not_est = Conn {
        conn_state: ConnState::S0,
        ..unknown
    };
    let d = one(not_est);
    assert_eq!(
        d.evidence
            .iter()
            .find(|e| e.kind == "UnknownPort")
            .map(|e| e.threat_level),
        Some(ThreatLevel::Medium),
        "a not-established attempt is medium (Slips today)"
    );
    let mut plain80 = conn(
        1.0,
        [93, 1, 1, 1],
        80,
        Proto::Tcp,
        ConnState::SF,
        1.0,
        10,
        5,
    );
    assert_eq!(count(&one(plain80.clone()), "NonHttpPort80Connection"), 1);
    plain80.service = Sym::new("http");
    assert_eq!(count(&one(plain80), "NonHttpPort80Connection"), 0);
}

#[test]
fn icmp_sweeps_and_dns_based_detections() {
    let echo = |i: u8| Conn {
        orig_p: 8,
        resp_p: 0,
        ..conn(
            f64::from(i),
            [192, 168, 9, i],
            0,
            Proto::Icmp,
            ConnState::OTH,
            0.0,
            8,
            1,
        )
    };
    assert_eq!(
        count(&detect((1..=4).map(echo).collect(), vec![]), "ICMPSweep"),
        0
    );
    let d = detect((1..=5).map(echo).collect(), vec![]);
    assert!(
        d.evidence
            .iter()
            .any(|e| e.description() == "10.0.0.5 performed ICMP address scan on 5 hosts")
    );
    let nx = |i: u32| Dns {
        id: Endpoints {
            ts: f64::from(i),
            uid: format!("D{i}").into(),
            orig_h: ip(ME),
            orig_p: 5000,
            resp_h: ip([8, 8, 8, 8]),
            resp_p: 53,
        },
        query: format!("q{i}xkcd.example"),
        qclass_name: "C_INTERNET".into(),
        qtype_name: "A".into(),
        rcode_name: "NXDOMAIN".into(),
        answers: vec![],
        ttls: vec![],
    };
    let base = vec![conn(
        0.0,
        [8, 8, 8, 8],
        53,
        Proto::Udp,
        ConnState::SF,
        0.1,
        30,
        1,
    )];
    assert_eq!(
        count(&detect(base.clone(), (0..9).map(nx).collect()), "DGA"),
        0
    );
    let d = detect(base, (0..10).map(nx).collect());
    assert_eq!(count(&d, "DGA"), 1);
    assert_eq!(
        d.evidence
            .iter()
            .find(|e| e.kind == "DGA")
            .map(|e| e.threat_level),
        Some(ThreatLevel::High)
    );
}

#[test]
fn alerts_turn_windows_red_and_are_written_in_slips_formats() {
    // 10 unknown-port flows to different hosts: 10 × high (0.8) × 1 ≥ 6 → one alert
    let conns: Vec<Conn> = (1..=10)
        .map(|i| {
            conn(
                f64::from(i),
                [93, 1, 1, i],
                4444,
                Proto::Tcp,
                ConnState::SF,
                1.0,
                10,
                5,
            )
        })
        .collect();
    let d = detect(conns.clone(), vec![]);
    assert_eq!(count(&d, "UnknownPort"), 10);
    assert_eq!(d.alerts.len(), 1, "{:?}", d.alerts);
    assert_eq!(d.alerts[0].evidence.len(), 8, "0.8 × 8 = 6.4 ≥ 6");
    assert!(d.alerted().contains(&(ip(ME), 1)));
    let store = store_of(Batch {
        conns,
        ..Batch::default()
    });
    let detections = kalipso::detect::run(&store, &DetectConfig::default());
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    kalipso::export::alerts::write(&store, &detections, dir.path())
        .unwrap_or_else(|e| panic!("{e}"));
    let log = std::fs::read_to_string(dir.path().join("alerts.log")).unwrap_or_default();
    assert!(log.lines().next().is_some_and(|l| l.contains(": Src IP 10.0.0.5                  . Detected Connection to unknown destination port 4444/TCP")), "{log}");
    assert!(
        log.contains("Generated an alert given enough evidence on timewindow 1."),
        "{log}"
    );
    let json = std::fs::read_to_string(dir.path().join("alerts.json")).unwrap_or_default();
    assert_eq!(json.lines().count(), 10);
    for l in json.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
        assert_eq!(v["Format"], "IDEA0");
    }
    // a higher threshold: no alert
    let strict = DetectConfig {
        alert_threshold: 1.0,
        ..DetectConfig::default()
    };
    assert!(kalipso::detect::run(&store, &strict).alerts.is_empty());
}

/// The evidence strings Slips' integration tests expect (spec §9) for the inputs in the corpus,
/// compared case-insensitively where Slips' versions differ only in case. Not produced (and
/// why): v1.0.0's `port  23` double space is
/// its bug (an empty service name). ARP evidence from a capture comes from its ARP packets (as
/// Slips' own Zeek script logs them).
#[test]
fn slips_integration_test_strings() {
    let cases: &[(&str, &[&str])] = &[
        (
            "slips/zeek/port-scans-horizontal",
            &["Horizontal port scan to port http 80/tcp. From 10.0.2.112"],
        ),
        (
            "slips/zeek/port-scans-vertical",
            &["vertical port scan to IP 45.33.32.156 from 192.168.1.9."],
        ),
        (
            "slips/zeek/test9-mixed-zeek-dir/conn.log",
            &["non-HTTP established connection to port 80. destination IP: 194.132.197.198"],
        ),
        (
            "slips/zeek/test10-mixed-zeek-dir/conn.log",
            &["non-SSL established connection"],
        ),
        (
            "slips/zeek/test9-mixed-zeek-dir",
            &[
                "multiple empty HTTP connections to bing.com",
                "Incompatible certificate CN",
                "Malicious JA3: 6734f37431670b3ab4292b8f60f29984",
                "suspicious user-agent",
                "bad SMTP login to 80.75.42.226",
                "SMTP login bruteforce to 80.75.42.226. 3 logins in 10 seconds",
                "Possible SSH bruteforce",
                "sending ARP packet to a destination address outside of local network",
                "broadcasting unsolicited ARP",
            ],
        ),
        (
            "slips/zeek/test14-malicious-zeek-dir",
            &[
                "Multiple empty HTTP connections to google.com",
                "Suspicious user-agent:",
                "Download of an executable",
                "GRE tunnel",
            ],
        ),
        (
            "slips/zeek/test15-malicious-zeek-dir",
            &[
                "Incompatible certificate CN to IP: 52.0.131.132 domain: netflix.com. The certificate is claiming to belong to Google",
                "Detected Malicious JA3: 6734f37431670b3ab4292b8f60f29984 from source address 10.0.2.15 to 22.33.22.33. description: Trickbot Malware.",
                "SSH client version changing",
            ],
        ),
        (
            "slips/pcap/test8-malicious.pcap",
            &["performing an arp scan"],
        ),
        // v1.0.0 expects `horizontal port scan to port  23` (its empty service name)
        (
            "slips/pcap/test7-malicious.pcap",
            &["horizontal port scan to port telnet 23/tcp"],
        ),
        (
            "slips/zeek/test10-mixed-zeek-dir",
            &["horizontal port scan"],
        ),
        (
            "slips/zeek/test16-malicious-zeek-dir",
            &[
                "sending ARP packet to a destination address outside of local network",
                "broadcasting unsolicited ARP",
            ],
        ),
    ];
    let Some(ti) = corpus::path("slips/ti/own_malicious_JA3.csv") else {
        return;
    };
    for (rel, wanted) in cases {
        let Some(path) = corpus::path(rel) else {
            continue;
        };
        let store = kalipso::analyze(&Options::new([path]).detect(DetectConfig {
            ti: kalipso::detect::ti::ThreatIntel::load(std::slice::from_ref(&ti)),
            ..DetectConfig::default()
        }));
        let lines: Vec<String> = store
            .detections
            .evidence
            .iter()
            .map(|e| format!("Detected {}", e.description()).to_lowercase())
            .collect();
        for w in *wanted {
            let w = w.to_lowercase();
            assert!(
                lines.iter().any(|l| l.contains(&w)),
                "{rel}: '{w}' not among:\n{}",
                lines.join("\n")
            );
        }
    }
}

/// Slips' description → kalipso's evidence type, for the detections kalipso implements.
fn kind_of(desc: &str) -> Option<&'static str> {
    let d = desc.to_lowercase();
    let table: &[(&str, &str)] = &[
        ("connection to unknown destination port", "UnknownPort"),
        ("horizontal port scan", "HorizontalPortscan"),
        ("vertical port scan", "VerticalPortscan"),
        (
            "non-http established connection to port 80",
            "NonHttpPort80Connection",
        ),
        ("non-ssl established connection", "NonSslPort443Connection"),
        ("suspicious user-agent", "SuspiciousUserAgent"),
        ("multiple empty http connections", "EmptyConnections"),
        ("incompatible certificate cn", "IncompatibleCN"),
        ("malicious ja3s", "MaliciousJA3s"),
        ("malicious ja3:", "MaliciousJA3"),
        ("executable", "DOSExecutableDownload"),
        ("long connection", "LongConnection"),
        ("resolved with no connection", "DNSWithoutConnection"),
        ("connection without dns resolution", "ConnectionWithoutDNS"),
        ("performed icmp", "ICMPSweep"),
        ("smtp login bruteforce", "SMTPLoginBruteforce"),
        ("bad smtp login", "BadSMTPLogin"),
        ("multiple ssh versions", "MultipleSSHVersions"),
        ("unsolicited arp", "UnsolicitedARP"),
        ("outside of local network", "ARPOutsideLocalNetwork"),
    ];
    table.iter().find(|(k, _)| d.contains(k)).map(|(_, v)| *v)
}

/// Against the real Slips runs (v1.0.0 and 1.1.21): every (evidence type, attacker) pair that
/// Slips reported for a detection kalipso implements is found by kalipso, except:
/// - `DNSWithoutConnection` on test9 (v1.0.0): every answer of those queries *was* contacted
///   by the same host; Slips flagged them because its 40 s re-check raced its own profiler;
/// - `ConnectionWithoutDNS` on the port-scan directories (1.1.21): they have no dns.log, and
///   the check is off without DNS data (Slips' own rule for a single conn.log);
/// - 1.1.21's twin non-HTTP/non-SSL evidence with the *server* as attacker (`… from IP: <client>`):
///   kalipso reports the client side only.
#[test]
fn kalipso_finds_what_slips_found() {
    for ds in [
        "port-scans-horizontal",
        "port-scans-vertical",
        "test9-mixed-zeek-dir",
    ] {
        let Some(input) = corpus::path(&format!("slips/zeek/{ds}")) else {
            return;
        };
        let ti = corpus::path("slips/ti/own_malicious_JA3.csv");
        let store = kalipso::analyze(&Options::new([input]).detect(DetectConfig {
            ti: kalipso::detect::ti::ThreatIntel::load(&ti.into_iter().collect::<Vec<_>>()),
            ..DetectConfig::default()
        }));
        let ours: std::collections::BTreeSet<(String, String)> = store
            .detections
            .evidence
            .iter()
            .flat_map(|e| {
                // Slips v1.0.0 logs the profile, 1.1.x the attacker (the server for JA3S)
                [
                    (e.kind.to_string(), e.profile.to_string()),
                    (e.kind.to_string(), e.attacker().to_string()),
                ]
            })
            .collect();
        for version in ["slips-1.0.0", "slips-1.1.21"] {
            let Some(log) = corpus::path(&format!("slips-oracle/{ds}/{version}/alerts.log")) else {
                continue;
            };
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let mut checked = 0;
            for line in text.lines() {
                let Some((_, rest)) = line.split_once("Src IP ") else {
                    continue;
                };
                let Some((who, desc)) = rest.split_once(". Detected ") else {
                    continue;
                };
                let who = who.trim().split(' ').next().unwrap_or_default().to_string();
                let Some(kind) = kind_of(desc) else { continue };
                let excused = (kind == "DNSWithoutConnection" && ds == "test9-mixed-zeek-dir")
                    || (kind == "ConnectionWithoutDNS" && ds.starts_with("port-scans"))
                    || (desc.contains("from IP:") && kind.starts_with("Non"));
                if excused {
                    continue;
                }
                checked += 1;
                assert!(
                    ours.contains(&(kind.to_string(), who.clone())),
                    "{ds} {version}: Slips found {kind} by {who} ({desc}); kalipso found {ours:?}"
                );
            }
            assert!(
                checked > 0 || version == "slips-1.0.0",
                "{ds} {version}: nothing compared"
            );
        }
    }
}

#[test]
fn evidence_is_the_same_on_any_thread_count() {
    let inputs = [
        Some(fixtures::path("pcap/office-mix.pcap")),
        corpus::path("slips/zeek/test9-mixed-zeek-dir"),
        // #13's attack rules and the victims' aggregate: thousands of outside probers
        corpus::path("stratosphere-security-datasets/008-zeek-mixed/data"),
    ];
    for input in inputs.into_iter().flatten() {
        let store = kalipso::analyze(&Options::new([&input])).store;
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
            pool.install(|| kalipso::detect::run(&store, &DetectConfig::default()))
        };
        let (a, b) = (run(1), run(2));
        assert_eq!(a.evidence, b.evidence, "{}", input.display());
        assert_eq!(a.alerts, b.alerts, "{}", input.display());
        assert_eq!(a.victims, b.victims, "{}", input.display());
        assert_eq!(a.ranking, b.ranking, "{}", input.display());
        // tallied as the windows ran, as summed from the evidence kept
        let summed = kalipso::detect::rank::rank(&a.evidence, &a.alerts);
        assert_eq!(a.ranking, summed, "{}", input.display());
        assert!(!a.evidence.is_empty(), "{}", input.display());
    }
}

#[test]
fn the_shipped_capture_has_its_beacons_detected_and_nothing_else_periodic() {
    let store = kalipso::analyze(&Options::new([fixtures::path("pcap/office-mix.pcap")]));
    let beacons: std::collections::BTreeSet<(String, String)> = store
        .detections
        .evidence
        .iter()
        .filter(|e| e.kind == "Beacon")
        .map(|e| (e.profile.to_string(), party(e.victim())))
        .collect();
    let want: std::collections::BTreeSet<(String, String)> = [
        ("10.0.1.1", "198.51.100.10"),
        ("10.0.51.1", "198.51.100.11"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
    .collect();
    assert_eq!(
        beacons, want,
        "the generator's two beacon hosts, nothing else"
    );
}

#[test]
fn other_logs_smtp_bruteforce_and_ssh_versions() {
    use kalipso::record::{Activity, Detail, Fields};
    let smtp = |ts: f64| Activity {
        ts,
        ip: ip(ME),
        detail: Some(Detail::Fields(Box::new(Fields {
            resp: Some(ip([80, 75, 42, 226])),
            last_reply: "554 5.7.1 bad smtp-auth user".into(),
            ..Fields::default()
        }))),
    };
    let ssh = |ts: f64, v: &str| Activity {
        ts,
        ip: ip(ME),
        detail: Some(Detail::Fields(Box::new(Fields {
            software_type: "SSH::CLIENT".into(),
            version: v.into(),
            ..Fields::default()
        }))),
    };
    let run = |activity: Vec<Activity>| {
        let batch = Batch {
            conns: vec![conn(
                0.5,
                [80, 75, 42, 226],
                25,
                Proto::Tcp,
                ConnState::SF,
                1.0,
                10,
                3,
            )],
            activity,
            ..Batch::default()
        };
        detect_batch(batch)
    };
    let two = run(vec![smtp(1.0), smtp(5.0), smtp(20.0)]);
    assert_eq!(count(&two, "BadSMTPLogin"), 3);
    assert_eq!(count(&two, "SMTPLoginBruteforce"), 0, "never 3 within 10 s");
    let three = run(vec![smtp(1.0), smtp(5.0), smtp(9.0)]);
    assert!(three.evidence.iter().any(|e| e.description()
        == "doing SMTP login bruteforce to 80.75.42.226. 3 logins in 10 seconds."));
    let same = run(vec![ssh(1.0, "OpenSSH_8.1"), ssh(2.0, "OpenSSH_8.1")]);
    assert_eq!(count(&same, "MultipleSSHVersions"), 0);
    let changed = run(vec![ssh(1.0, "OpenSSH_8.1"), ssh(2.0, "OpenSSH_9.1")]);
    assert_eq!(count(&changed, "MultipleSSHVersions"), 1);
}

#[test]
fn threat_intelligence_and_whitelists_from_files() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ti = dir.path().join("own_malicious_iocs.csv");
    std::fs::write(
        &ti,
        "# IP/domain/ip range, Threat level, Description\n203.0.113.7,high,Test C2\nexample.com,medium,Test domain\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let input = fixtures::path("zeek/home-office-tsv");
    let store = kalipso::analyze(&Options::new([input])).store;
    let cfg = DetectConfig {
        ti: kalipso::detect::ti::ThreatIntel::load(std::slice::from_ref(&ti)),
        ..DetectConfig::default()
    };
    let detections = kalipso::detect::run(&store, &cfg);
    let d = &detections;
    assert!(
        d.evidence
            .iter()
            .any(|e| e.kind == "ThreatIntelligenceBlacklistIP"
                && e.attacker() == "203.0.113.7"
                && e.description().contains("Test C2")),
        "{:?}",
        kinds(d)
    );
    assert!(
        d.evidence
            .iter()
            .any(|e| e.kind == "ThreatIntelligenceBlacklistDomain" && e.attacker() == "example.com")
    );
    assert_eq!(
        d.ti_hits.get("203.0.113.7").map(String::as_str),
        Some("Test C2"),
        "for the IP box"
    );
    // a whitelisted destination hides its evidence
    let wl = dir.path().join("whitelist.conf");
    std::fs::write(&wl, "ip,203.0.113.7,both,alerts\n").unwrap_or_else(|e| panic!("{e}"));
    let whitelisted = kalipso::detect::run(
        &store,
        &DetectConfig {
            whitelist: kalipso::detect::ti::Whitelist::load(&[wl]).unwrap_or_default(),
            ..cfg
        },
    );
    assert!(
        whitelisted
            .evidence
            .iter()
            .all(|e| e.attacker() != "203.0.113.7"
                && e.victim().is_none_or(|v| v != "203.0.113.7")),
        "{:?}",
        kinds(&whitelisted)
    );
}

/// The DNS, HTTP and TLS detections, each below and at its threshold.
#[test]
#[allow(clippy::too_many_lines)]
fn dns_http_and_tls_scenarios() {
    use kalipso::record::{Http, Ssl};
    let ep = |ts: f64, dst: [u8; 4], port: u16| Endpoints {
        ts,
        uid: format!("X{ts}").into(),
        orig_h: ip(ME),
        orig_p: 5000,
        resp_h: ip(dst),
        resp_p: port,
    };
    let dns = |ts: f64, q: &str, answers: &[&str]| Dns {
        id: ep(ts, [8, 8, 8, 8], 53),
        query: q.into(),
        qclass_name: "C_INTERNET".into(),
        qtype_name: "A".into(),
        rcode_name: "NOERROR".into(),
        answers: answers.iter().map(|a| (*a).to_string()).collect(),
        ttls: vec![60.0; answers.len()],
    };
    let run = |conns: Vec<Conn>, dns: Vec<Dns>, http: Vec<Http>, ssl: Vec<Ssl>| {
        detect_batch(Batch {
            conns,
            dns,
            http,
            ssl,
            ..Batch::default()
        })
    };
    let web = |ts: f64, dst: [u8; 4]| conn(ts, dst, 443, Proto::Tcp, ConnState::SF, 1.0, 100, 5);
    // connection without DNS: the resolved host is fine, the other is not
    let d = run(
        vec![web(2.0, [93, 1, 1, 1]), web(3.0, [93, 1, 1, 2])],
        vec![dns(1.0, "ok.example", &["93.1.1.1"])],
        vec![],
        vec![],
    );
    let unresolved = |d: &Detections| -> Vec<String> {
        d.evidence
            .iter()
            .filter(|e| e.kind == "ConnectionWithoutDNS")
            .map(|e| party(e.victim()))
            .collect()
    };
    let no_dns = unresolved(&d);
    assert_eq!(no_dns, ["93.1.1.2"]);
    // #13: an answer counts for the connections around and after it, not for those long
    // before it (an answer late in the day used to excuse every earlier connection)
    let d = run(
        vec![web(2.0, [93, 1, 1, 3]), web(90.0, [93, 1, 1, 4])],
        vec![
            dns(100.0, "late.example", &["93.1.1.3"]),
            dns(104.0, "soon.example", &["93.1.1.4"]),
        ],
        vec![],
        vec![],
    );
    let no_dns = unresolved(&d);
    assert_eq!(
        no_dns,
        ["93.1.1.3"],
        "the answer 14 s after a connection still counts"
    );
    // DNS answer without connection
    let d = run(
        vec![web(2.0, [93, 1, 1, 1])],
        vec![
            dns(1.0, "used.example", &["93.1.1.1"]),
            dns(1.5, "unused.example", &["93.1.1.9"]),
        ],
        vec![],
        vec![],
    );
    let unused_names = |d: &Detections| -> Vec<String> {
        d.evidence
            .iter()
            .filter(|e| e.kind == "DNSWithoutConnection")
            .map(|e| e.attacker().to_string())
            .collect()
    };
    let unused = unused_names(&d);
    assert_eq!(unused, ["unused.example"]);
    // #13: at the name level, the AAAA answer of a name whose A answer was used is not flagged;
    // a record Zeek wrote twice (same uid, name and type) is flagged once
    let mut aaaa = dns(1.2, "used.example", &["2001:db8::1"]);
    aaaa.qtype_name = "AAAA".into();
    let twice = dns(1.7, "twice.example", &["93.1.1.8"]);
    let d = run(
        vec![web(2.0, [93, 1, 1, 1])],
        vec![
            dns(1.0, "used.example", &["93.1.1.1"]),
            aaaa,
            twice.clone(),
            twice,
        ],
        vec![],
        vec![],
    );
    let unused = unused_names(&d);
    assert_eq!(unused, ["twice.example"]);
    // reverse-DNS scan: 10 PTR names within 2 s, not 9
    let arpa = |n: u8| {
        (0..n)
            .map(|i| {
                dns(
                    1.0 + f64::from(i) * 0.1,
                    &format!("{i}.1.168.192.in-addr.arpa"),
                    &[],
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        count(
            &run(vec![web(0.5, [93, 1, 1, 1])], arpa(9), vec![], vec![]),
            "DNS-ARPA-Scan"
        ),
        0
    );
    assert_eq!(
        count(
            &run(vec![web(0.5, [93, 1, 1, 1])], arpa(10), vec![], vec![]),
            "DNS-ARPA-Scan"
        ),
        1
    );
    // HTTP
    let http = |ts: f64, host: &str, ua: &str, mime: &str| Http {
        id: ep(ts, [93, 1, 1, 1], 80),
        method: "GET".into(),
        host: host.into(),
        uri: "/".into(),
        version: "1.1".into(),
        user_agent: ua.into(),
        request_body_len: 0,
        response_body_len: 10,
        status_code: Some(200),
        status_msg: "OK".into(),
        resp_fuids: vec![],
        resp_mime_types: if mime.is_empty() {
            vec![]
        } else {
            vec![mime.into()]
        },
    };
    let c80 = vec![conn(
        0.5,
        [93, 1, 1, 1],
        80,
        Proto::Tcp,
        ConnState::SF,
        1.0,
        100,
        5,
    )];
    let empty = |n: u8| {
        (0..n)
            .map(|i| http(f64::from(i) + 1.0, "www.bing.com", "Mozilla/5.0", ""))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        count(
            &run(c80.clone(), vec![], empty(3), vec![]),
            "EmptyConnections"
        ),
        0
    );
    let d = run(c80.clone(), vec![], empty(4), vec![]);
    assert!(
        d.evidence
            .iter()
            .any(|e| e.description() == "multiple empty HTTP connections to bing.com")
    );
    let d = run(
        c80.clone(),
        vec![],
        vec![
            http(
                1.0,
                "a.example",
                "Mozilla/5.0 (Windows NT 10.0)",
                "text/html",
            ),
            http(
                2.0,
                "b.example",
                "${jndi:ldap://x/a}",
                "application/x-dosexec",
            ),
        ],
        vec![],
    );
    assert_eq!(count(&d, "SuspiciousUserAgent"), 1);
    assert_eq!(count(&d, "DOSExecutableDownload"), 1);
    // TLS
    let ssl = |issuer: &str, sni: &str, status: &str| Ssl {
        id: ep(1.0, [93, 1, 1, 1], 443),
        version: "TLSv12".into(),
        cipher: String::new(),
        curve: "".into(),
        server_name: sni.into(),
        resumed: false,
        established: true,
        subject: format!("CN={sni}"),
        issuer: issuer.into(),
        validation_status: status.into(),
        ja3: "".into(),
        ja3s: "".into(),
    };
    let c443 = vec![web(0.5, [93, 1, 1, 1])];
    let d = run(
        c443.clone(),
        vec![],
        vec![],
        vec![
            ssl(
                "CN=GTS CA 1C3,O=Google Trust Services LLC,C=US",
                "www.youtube.com",
                "ok",
            ),
            ssl(
                "CN=GTS CA 1C3,O=Google Trust Services LLC,C=US",
                "netflix.com",
                "ok",
            ),
            ssl("CN=c2.example", "c2.example", "self signed certificate"),
        ],
    );
    assert_eq!(count(&d, "IncompatibleCN"), 1, "{:?}", kinds(&d));
    assert!(d.evidence.iter().any(|e| {
        e.description()
            .contains("domain: netflix.com. The certificate is claiming to belong to Google.")
    }));
    assert_eq!(count(&d, "SelfSignedCertificate"), 1);
    // several unknown ports of one host; non-TLS on 443
    let multi = vec![
        conn(
            1.0,
            [93, 1, 1, 1],
            7001,
            Proto::Tcp,
            ConnState::SF,
            1.0,
            10,
            5,
        ),
        conn(
            2.0,
            [93, 1, 1, 1],
            7002,
            Proto::Tcp,
            ConnState::SF,
            1.0,
            10,
            5,
        ),
    ];
    assert_eq!(
        count(
            &run(multi[..1].to_vec(), vec![], vec![], vec![]),
            "ConnectionToMultiplePorts"
        ),
        0
    );
    let several = run(multi, vec![], vec![], vec![]);
    assert_eq!(count(&several, "ConnectionToMultiplePorts"), 1);
    // #13: information about the destination (Slips HEAD: threat level info), so it adds
    // nothing to the profile's alert sum
    assert!(
        several
            .evidence
            .iter()
            .filter(|e| e.kind == "ConnectionToMultiplePorts")
            .all(|e| e.threat_level == ThreatLevel::Info && e.weight() == 0.0)
    );
    assert_eq!(
        count(
            &run(c443, vec![], vec![], vec![]),
            "NonSslPort443Connection"
        ),
        1
    );
    // a large SSH session is a successful login (Slips' size rule)
    let mut ssh = conn(
        1.0,
        [93, 1, 1, 1],
        22,
        Proto::Tcp,
        ConnState::SF,
        10.0,
        4000,
        20,
    );
    ssh.service = Sym::new("ssh");
    assert_eq!(
        count(
            &run(vec![ssh.clone()], vec![], vec![], vec![]),
            "SSHSuccessful"
        ),
        0,
        "4100 bytes"
    );
    ssh.orig_bytes = 4300;
    assert_eq!(
        count(&run(vec![ssh], vec![], vec![], vec![]), "SSHSuccessful"),
        1
    );
}
