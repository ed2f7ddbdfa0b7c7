//! DNS rules on a window's queries: many failed resolutions (DGA or domain scanning), reverse
//! lookups of many hosts in 2 s (ARPA scan), and answers no connection of the window used.

// names are lower-cased before their suffixes are compared
#![allow(clippy::case_sensitive_file_extension_comparisons)]

use super::context::{Ctx, Finding};
use super::evidence::{EvidenceKind, FlowRef, Flows, Party, Payload};
use crate::profile::Window;
use crate::record::parse_ip;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::borrow::Cow;
use std::net::IpAddr;

pub(crate) fn run(cx: &mut Ctx<'_>, w: &Window) {
    // most windows have no DNS record: their destinations need no set
    if w.dns.is_empty() {
        return;
    }
    let mut nx: Vec<String> = Vec::new();
    let mut arpa: Vec<(f64, String)> = Vec::new();
    let contacted: HashSet<IpAddr> = w
        .out_flows
        .iter()
        .map(|&i| cx.store.conns[i as usize].resp_h)
        .collect();
    // Each record's name in lower case (borrowed when it is already, as Zeek writes it: no
    // copy per record), whether it answered with an address, and whether a connection of the
    // window went to one of them: worked out once for the rules below.
    let names: Vec<(Cow<'_, str>, bool, bool)> = w
        .dns
        .iter()
        .map(|&i| {
            let d = &cx.store.dns[i as usize];
            let (mut answered, mut hit) = (false, false);
            for ip in d.answers.iter().filter_map(|a| parse_ip(a)) {
                answered = true;
                hit |= contacted.contains(&ip);
            }
            let q = if d.query.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(d.query.to_ascii_lowercase())
            } else {
                Cow::Borrowed(d.query.as_str())
            };
            (q, answered, hit)
        })
        .collect();
    // Whether a connection of this window went to any address any answer of the window gave a
    // name (A and AAAA, earlier and later): a name is "without connection" only when none was
    // (the spec's name-level check: the AAAA record of a name whose A answer was used is not
    // flagged).
    let mut used: HashMap<&str, bool> = HashMap::default();
    for (q, _, hit) in &names {
        *used.entry(q.as_ref()).or_default() |= hit;
    }
    // Zeek writes some DNS records twice (same uid, same query); Slips keys flows by uid, so
    // the repeat is one record there
    let mut records: HashSet<(&str, &str, &str)> = HashSet::default();
    for (&i, (q, answered, _)) in w.dns.iter().zip(&names) {
        let d = &cx.store.dns[i as usize];
        if q.is_empty() {
            continue;
        }
        let repeat = !d.id.uid.is_empty()
            && !records.insert((d.id.uid.as_str(), d.query.as_str(), d.qtype_name.as_str()));
        let flows = Flows::from(FlowRef::Dns(i));
        // DGA: many NXDOMAINs (distinct names; evidence at 10, 15, 20…, then the list starts over)
        if d.rcode_name.contains("NXDOMAIN")
            && !q.ends_with(".arpa")
            && !q.ends_with(".local")
            && !cx.cfg.whitelist.matches(q)
            && !nx.iter().any(|n| n == q)
        {
            nx.push(q.to_string());
            if nx.len() >= 10 && nx.len() % 5 == 0 {
                let failures = nx.len();
                cx.add(Finding {
                    kind: EvidenceKind::Dga,
                    attacker: cx.me(),
                    victim: None,
                    level: None,
                    confidence: (failures as f64 / 100.0).min(1.0),
                    payload: Payload::Dga { failures },
                    ts: d.id.ts,
                    flows: flows.clone(),
                });
                nx.clear();
            }
        }
        // reverse-DNS scan: 10 distinct in-addr.arpa names within 2 s
        if q.ends_with(".in-addr.arpa") && !arpa.iter().any(|a| a.1 == *q) {
            arpa.push((d.id.ts, q.to_string()));
            arpa.retain(|a| d.id.ts - a.0 <= 2.0);
            if arpa.len() >= 10 {
                cx.add(Finding {
                    kind: EvidenceKind::DnsArpaScan,
                    attacker: cx.me(),
                    victim: None,
                    level: None,
                    confidence: 0.7,
                    payload: Payload::DnsArpaScan { hosts: arpa.len() },
                    ts: d.id.ts,
                    flows: flows.clone(),
                });
                arpa.clear();
            }
        }
        // an answer none of whose name's addresses a connection of this window used
        if d.rcode_name == "NOERROR"
            && *answered
            && !repeat
            && q.contains('.')
            && !q.ends_with(".arpa")
            && !q.ends_with(".local")
            && !q.contains("wpad")
            && !used.get(q.as_ref()).copied().unwrap_or(false)
        {
            cx.add(Finding {
                kind: EvidenceKind::DnsWithoutConnection,
                attacker: Party::name(q),
                victim: Some(cx.me()),
                level: None,
                confidence: 0.8,
                payload: Payload::DnsWithoutConnection {
                    domain: q.as_ref().into(),
                },
                ts: d.id.ts,
                flows,
            });
        }
    }
}
