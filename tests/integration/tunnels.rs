//! Tunnels from captures against Zeek itself (zeek-btest baselines, see the corpus's
//! `zeek-btest/SOURCE.md`): GRE, GRE inside GRE, VXLAN and Teredo. The connections inside a
//! tunnel become conn rows of their own with `tunnel_parents`, the outer UDP connections of
//! VXLAN and Teredo are conn rows too, and tunnel.log is written. Zeek's uids are random, so
//! a tunnel parent is compared by the tunnel it names (kind and outer endpoints, from each
//! side's own tunnel.log).

use crate::corpus::{self, baseline_at};
use kalipso::flow::Timeouts;
use std::collections::BTreeMap;

/// conn.log's and tunnel.log's rows of a trace, as text columns.
struct Logs {
    conns: Vec<Vec<String>>,
    tunnels: Vec<Vec<String>>,
}

/// A tunnel.log row's identity: kind and outer endpoints.
fn tunnel_name(row: &[String]) -> String {
    format!("{} {}:{}-{}:{}", row[6], row[2], row[3], row[4], row[5])
}

/// Replaces the uids in each conn row's last column (`tunnel_parents`) by the tunnels they
/// name, sorted, and drops the uid and ts columns.
fn named(conns: Vec<Vec<String>>, tunnels: &[Vec<String>]) -> Vec<Vec<String>> {
    let names: BTreeMap<&str, String> = tunnels
        .iter()
        .map(|t| (t[1].as_str(), tunnel_name(t)))
        .collect();
    let mut rows: Vec<Vec<String>> = conns
        .into_iter()
        .map(|mut r| {
            let parents = r.pop().unwrap_or_default();
            let mut parents: Vec<String> = parents
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    names
                        .get(p)
                        .cloned()
                        .unwrap_or_else(|| format!("unknown {p}"))
                })
                .collect();
            parents.sort();
            r.push(parents.join(" + "));
            r[2..].to_vec()
        })
        .collect();
    rows.sort();
    rows
}

/// Ours, in the baselines' columns (ts, uid, id, proto, service, duration, bytes,
/// `conn_state`, history, packets and IP bytes, `tunnel_parents`; duration and bytes unset
/// when the duration is 0, as Zeek leaves them).
fn ours(trace: &str) -> Option<Logs> {
    let pcap = corpus::path(&format!("zeek-btest/Traces/{trace}"))?;
    let batch = kalipso::input::read_with(&[pcap], Timeouts::default()).batch;
    let parents: BTreeMap<&str, &str> = batch
        .tunnel_parents
        .iter()
        .map(|(u, p)| (u.as_str(), p.as_str()))
        .collect();
    let conns = batch
        .conns
        .iter()
        .map(|c| {
            let timed = c.duration > 0.0;
            let unless_instant = |v: String| if timed { v } else { String::new() };
            vec![
                format!("{:.6}", c.ts),
                c.uid.to_string(),
                c.orig_h.to_string(),
                c.orig_p.to_string(),
                c.resp_h.to_string(),
                c.resp_p.to_string(),
                c.proto.to_string(),
                c.service.to_string(),
                unless_instant(format!("{:.6}", c.duration)),
                unless_instant(c.orig_bytes.to_string()),
                unless_instant(c.resp_bytes.to_string()),
                format!("{:?}", c.conn_state),
                c.history.to_string(),
                c.orig_pkts.to_string(),
                c.orig_ip_bytes.to_string(),
                c.resp_pkts.to_string(),
                c.resp_ip_bytes.to_string(),
                parents
                    .get(&*c.uid.text())
                    .copied()
                    .unwrap_or("")
                    .to_string(),
            ]
        })
        .collect();
    let tunnels = batch
        .tunnels
        .iter()
        .map(|t| {
            vec![
                format!("{:.6}", t.ts),
                t.uid.to_string(),
                t.orig_h.to_string(),
                t.orig_p.to_string(),
                t.resp_h.to_string(),
                t.resp_p.to_string(),
                t.kind.as_zeek().to_string(),
                t.action.as_zeek().to_string(),
            ]
        })
        .collect();
    Some(Logs { conns, tunnels })
}

/// Zeek's, from a baseline directory: conn.log without the columns kalipso does not make
/// (`local_orig`, `local_resp`, `missed_bytes`, `ip_proto`).
fn zeek(dir: &str) -> Logs {
    let conns = baseline_at(&format!("zeek-btest/Baseline/{dir}/conn.log"))
        .into_iter()
        .map(|r| {
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 16, 17, 18, 19, 20]
                .iter()
                .map(|&i| r.get(i).cloned().unwrap_or_default())
                .collect()
        })
        .collect();
    let tunnels = baseline_at(&format!("zeek-btest/Baseline/{dir}/tunnel.log"));
    Logs { conns, tunnels }
}

/// Every conn row equal (tunnel parents by the tunnels they name) and tunnel.log equal but for
/// ts and uid.
fn compare(trace: &str, dir: &str, conns: usize, tunnels: usize) {
    let Some(ours) = ours(trace) else {
        return;
    };
    let theirs = zeek(dir);
    assert_eq!((theirs.conns.len(), theirs.tunnels.len()), (conns, tunnels));
    let strip = |t: &[Vec<String>]| {
        let mut v: Vec<Vec<String>> = t.iter().map(|r| r[2..].to_vec()).collect();
        v.sort();
        v
    };
    assert_eq!(
        strip(&ours.tunnels),
        strip(&theirs.tunnels),
        "{trace}: tunnel.log"
    );
    let (a, b) = (
        named(ours.conns, &ours.tunnels),
        named(theirs.conns, &theirs.tunnels),
    );
    let only = |x: &[Vec<String>], y: &[Vec<String>], who: &str| -> Vec<String> {
        x.iter()
            .filter(|r| !y.contains(r))
            .map(|r| format!("only {who}: {r:?}"))
            .collect()
    };
    let mut differ = only(&a, &b, "ours");
    differ.extend(only(&b, &a, "zeek"));
    assert!(differ.is_empty(), "{trace}:\n{}", differ.join("\n"));
    assert_eq!(a, b, "{trace}: the same rows, as often");
}

/// gre-sample.pcap: plain GRE carrying SSH, DNS, NTP and ICMP. The GRE packets themselves are
/// no connection; the 7 inside are, each with the GRE tunnel as parent.
#[test]
fn gre_equals_zeek() {
    compare("tunnels/gre-sample.pcap", "core.tunnels.gre", 7, 1);
}

/// gre-within-gre.pcap: the parent is the inner GRE tunnel only; both are in tunnel.log.
#[test]
fn gre_inside_gre_equals_zeek() {
    compare(
        "tunnels/gre-within-gre.pcap",
        "core.tunnels.gre-in-gre",
        3,
        2,
    );
}

/// vxlan.pcap: each direction of the pings rides its own outer UDP flow, so the inner ICMP
/// connection changes tunnel on every packet: both flows are its parents, and after five
/// changes its history gets Zeek's `X`.
#[test]
fn vxlan_equals_zeek() {
    compare("tunnels/vxlan.pcap", "core.tunnels.vxlan", 5, 4);
}

/// Teredo.pcap: IPv6 over UDP, found on port 3544 and by the payload elsewhere; the outer flow
/// is `teredo` only once both sides sent valid Teredo.
#[test]
fn teredo_equals_zeek() {
    compare("tunnels/Teredo.pcap", "core.tunnels.teredo", 21, 6);
}

/// The application logs of connections inside tunnels: gre-sample's ssh.log (every column) and
/// its dns.log (one query sent twice, unanswered, so two rows), and Teredo's http.log, whose
/// IPv6 requests went through the tunnel (every compared column, as `reassembly` compares them).
#[test]
fn logs_of_connections_inside_tunnels_equal_zeek() {
    let Some(gre) = corpus::path("zeek-btest/Traces/tunnels/gre-sample.pcap") else {
        return;
    };
    let input = kalipso::input::read_with(&[gre], Timeouts::default());
    let ssh: Vec<Vec<String>> = input.batch.ssh.iter().map(crate::ssh::columns).collect();
    let zeek_ssh: Vec<Vec<String>> = baseline_at("zeek-btest/Baseline/core.tunnels.gre/ssh.log")
        .into_iter()
        .map(|r| r[2..].to_vec())
        .collect();
    assert_eq!(zeek_ssh.len(), 1);
    assert_eq!(ssh, zeek_ssh);
    let dns: Vec<Vec<String>> = input.batch.dns.iter().map(corpus::dns_columns).collect();
    let zeek_dns = corpus::zeek_dns_columns("zeek-btest/Baseline/core.tunnels.gre/dns.log");
    assert_eq!(zeek_dns.len(), 2);
    assert_eq!(dns, zeek_dns);

    let Some(teredo) = corpus::path("zeek-btest/Traces/tunnels/Teredo.pcap") else {
        return;
    };
    let input = kalipso::input::read_with(&[teredo], Timeouts::default());
    let mut ours = crate::reassembly::http_rows(&input);
    let mut zeek =
        crate::reassembly::zeek_http_rows("zeek-btest/Baseline/core.tunnels.teredo/http.log");
    ours.sort();
    zeek.sort();
    assert_eq!(zeek.len(), 4);
    assert!(zeek.iter().any(|r| r[0].starts_with("2001:0:")));
    assert_eq!(ours, zeek);
}

/// Slips' GRE-tunnel evidence from a capture, as from Zeek's tunnel.log: one per tunnel.log
/// row of a GRE tunnel, from the tunnel's first outer source to its destination, information
/// only (Slips' `test14` checks the same words from a Zeek directory).
#[test]
fn a_gre_tunnel_in_a_capture_is_slips_evidence() {
    let Some(gre) = corpus::path("zeek-btest/Traces/tunnels/gre-sample.pcap") else {
        return;
    };
    let store = kalipso::analyze(&kalipso::Options::new([gre]));
    let gre: Vec<String> = store
        .detections
        .evidence
        .iter()
        .filter(|e| e.kind.name() == "GRETunnel")
        .map(|e| format!("{} {:?}", e.description(), e.threat_level))
        .collect();
    assert_eq!(
        gre,
        ["GRE tunnel from 172.27.1.66 to 66.59.109.137 tunnel action: Tunnel::DISCOVER Info"]
    );
}
