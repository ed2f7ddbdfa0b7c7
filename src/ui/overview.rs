//! The overview's model: the whole input on one screen, for triage. Ranked suspects with their
//! main evidence kinds, beacons, long connections, threat-intelligence hits, top talkers, top
//! destinations and ports, and the input summary; a row that names a profile and window is a
//! jump target. Built once when the UI opens; it draws nothing.

use super::clean;
use super::numbers::human_bytes;
use crate::Analysis;
use crate::detect::rank::{self, triage_order};
use crate::detect::{EvidenceKind, Payload};
use crate::store::python::py_datetime;
use rustc_hash::FxHashMap;
use std::net::IpAddr;

/// Flows and bytes.
type FlowsBytes = (u64, u64);

/// What the profiles sent and received as clients, from one pass over their client flows: the
/// tree's bytes order and the overview's talkers, destinations and ports all read it.
#[derive(Debug, Default)]
pub struct Traffic {
    /// Per profile: payload bytes, and its busiest window by bytes.
    pub talkers: FxHashMap<IpAddr, (u64, i64)>,
    /// Per destination IP.
    dsts: FxHashMap<IpAddr, FlowsBytes>,
    /// Per destination port and protocol.
    ports: FxHashMap<(u16, &'static str), FlowsBytes>,
}

/// The traffic of every profile as a client, the profiles shared out over the cores (one pass
/// over 5 M flows in random order took 3 s on one).
pub fn traffic(store: &crate::Store) -> Traffic {
    use rayon::prelude::*;
    /// What one core summed: the talkers, and destinations and ports keyed by the protocol
    /// itself (cheaper to hash than its name).
    #[derive(Default)]
    struct Part {
        talkers: Vec<(IpAddr, (u64, i64))>,
        dsts: FxHashMap<IpAddr, FlowsBytes>,
        ports: FxHashMap<(u16, crate::record::Proto), FlowsBytes>,
    }
    fn add(to: &mut FlowsBytes, (flows, bytes): FlowsBytes) {
        *to = (to.0 + flows, to.1.saturating_add(bytes));
    }
    let profiles: Vec<&crate::profile::Profile> = store.profiles.values().collect();
    let whole = profiles
        .par_iter()
        .fold(Part::default, |mut part, p| {
            let mut total = 0u64;
            let mut best = (0u64, p.windows.keys().next().copied().unwrap_or(1));
            for w in p.windows.values() {
                let mut bytes = 0u64;
                for &i in &w.out_flows {
                    let Some(c) = store.conns.get(i as usize) else {
                        continue;
                    };
                    bytes = bytes.saturating_add(c.bytes());
                    add(part.dsts.entry(c.resp_h).or_default(), (1, c.bytes()));
                    add(
                        part.ports.entry((c.resp_p, c.proto)).or_default(),
                        (1, c.bytes()),
                    );
                }
                if bytes > best.0 {
                    best = (bytes, w.number);
                }
                total = total.saturating_add(bytes);
            }
            part.talkers.push((p.ip, (total, best.1)));
            part
        })
        .reduce(Part::default, |mut a, mut b| {
            // the larger maps take the smaller ones in
            if a.dsts.len() < b.dsts.len() {
                std::mem::swap(&mut a.dsts, &mut b.dsts);
            }
            for (k, v) in b.dsts {
                add(a.dsts.entry(k).or_default(), v);
            }
            for (k, v) in b.ports {
                add(a.ports.entry(k).or_default(), v);
            }
            a.talkers.append(&mut b.talkers);
            a
        });
    Traffic {
        talkers: whole.talkers.into_iter().collect(),
        dsts: whole.dsts,
        ports: whole
            .ports
            .into_iter()
            .map(|((port, proto), v)| ((port, proto.upper()), v))
            .collect(),
    }
}

/// How many rows each section lists.
const PER_SECTION: usize = 10;

/// One line of the overview (a saved analysis keeps them: [`crate::saved::views`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OverviewRow {
    /// The text (network strings already escaped).
    pub text: String,
    /// A section title.
    pub heading: bool,
    /// Where Enter goes: a profile and window.
    pub target: Option<(IpAddr, i64)>,
    /// The row is about an alerted profile.
    pub alerted: bool,
}

impl OverviewRow {
    fn heading(text: impl Into<String>) -> OverviewRow {
        OverviewRow {
            text: text.into(),
            heading: true,
            target: None,
            alerted: false,
        }
    }

    fn plain(text: impl Into<String>) -> OverviewRow {
        OverviewRow {
            text: text.into(),
            heading: false,
            target: None,
            alerted: false,
        }
    }

    fn to(text: impl Into<String>, target: (IpAddr, i64), alerted: bool) -> OverviewRow {
        OverviewRow {
            text: text.into(),
            heading: false,
            target: Some(target),
            alerted,
        }
    }
}

/// The overview of an analysis whose client traffic is `traffic`.
pub fn build(analysis: &Analysis, traffic: &Traffic) -> Vec<OverviewRow> {
    let store = &analysis.store;
    let d = &analysis.detections;
    let mut rows = Vec::new();

    let suspects = triage_order(&d.ranking);
    let alerted = suspects.iter().filter(|s| s.alerts > 0).count();
    rows.push(OverviewRow::heading(format!(
        "Suspects: {} profile(s) with evidence, {alerted} alerted (Enter opens the worst window)",
        suspects.len()
    )));
    for s in suspects.iter().take(PER_SECTION * 2) {
        let flag = if s.alerts > 0 {
            format!("⚑{}", s.alerts)
        } else {
            "-".into()
        };
        rows.push(OverviewRow::to(
            format!(
                "{:<39} score {:>9.2} {:>6}  tw{:<4} {}",
                s.ip,
                s.score,
                flag,
                s.worst_window,
                s.kinds_text(3)
            ),
            (s.ip, s.worst_window),
            s.alerts > 0,
        ));
    }

    rows.push(OverviewRow::heading(format!(
        "Home hosts attacked from outside: {}",
        d.victims.len()
    )));
    for v in d.victims.iter().take(PER_SECTION) {
        rows.push(OverviewRow::to(
            format!("{:<39} {}", v.ip, v.summary(6)),
            (v.ip, v.worst_window),
            false,
        ));
    }

    let beacons = rank::beacons(&d.evidence);
    rows.push(OverviewRow::heading(format!(
        "Beacons: {} periodic tuple(s)",
        beacons.len()
    )));
    for h in beacons.iter().take(PER_SECTION) {
        let (dst, port, proto) = h.tuple;
        let (e, b) = (h.evidence, h.beacon);
        rows.push(OverviewRow::to(
            format!(
                "{:<39} → {dst}:{port}/{}  score {:.2}, every {:.0} s, {} flows  tw{}",
                e.profile,
                proto.upper(),
                b.score,
                b.period,
                b.flows,
                e.window
            ),
            (e.profile, e.window),
            false,
        ));
    }

    let mut long: Vec<(&crate::detect::Evidence, u64)> = d
        .evidence
        .iter()
        .filter_map(|e| match e.payload {
            Payload::LongConnection { minutes, .. } => Some((e, minutes)),
            _ => None,
        })
        .collect();
    long.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.profile.cmp(&b.0.profile)));
    rows.push(OverviewRow::heading(format!(
        "Long connections: {}",
        long.len()
    )));
    for (e, minutes) in long.iter().take(PER_SECTION) {
        rows.push(OverviewRow::to(
            format!(
                "{:<39} → {}  {minutes} min  tw{}",
                e.profile,
                // a victim may be a domain: a network string
                e.victim()
                    .map(|v| clean(&v.to_string()))
                    .unwrap_or_default(),
                e.window
            ),
            (e.profile, e.window),
            false,
        ));
    }

    let ti: Vec<&crate::detect::Evidence> = d
        .evidence
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EvidenceKind::ThreatIntelligenceBlacklistIp
                    | EvidenceKind::ThreatIntelligenceBlacklistDomain
                    | EvidenceKind::MaliciousJa3
                    | EvidenceKind::MaliciousJa3s
            )
        })
        .collect();
    rows.push(OverviewRow::heading(format!(
        "Threat intelligence: {} hit(s) on {} listed IP(s) or domain(s)",
        ti.len(),
        d.ti_hits.len()
    )));
    for e in ti.iter().take(PER_SECTION) {
        rows.push(OverviewRow::to(
            format!(
                "{:<39} {}  tw{}",
                e.profile,
                clean(&e.description()),
                e.window
            ),
            (e.profile, e.window),
            false,
        ));
    }

    // top talkers by bytes as client, and the busiest destinations and ports
    let mut talkers: Vec<(IpAddr, u64, i64)> = traffic
        .talkers
        .iter()
        .filter(|(_, t)| t.0 > 0)
        .map(|(ip, t)| (*ip, t.0, t.1))
        .collect();
    talkers.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    rows.push(OverviewRow::heading(
        "Top talkers (bytes sent and received as client)",
    ));
    for (ip, bytes, window) in talkers.iter().take(PER_SECTION) {
        rows.push(OverviewRow::to(
            format!("{ip:<39} {:>10}  busiest tw{window}", human_bytes(*bytes)),
            (*ip, *window),
            false,
        ));
    }
    let mut dsts: Vec<(IpAddr, FlowsBytes)> = traffic.dsts.iter().map(|(k, v)| (*k, *v)).collect();
    dsts.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
    rows.push(OverviewRow::heading("Top destinations (flows)"));
    for (ip, (flows, bytes)) in dsts.iter().take(PER_SECTION) {
        rows.push(OverviewRow::plain(format!(
            "{ip:<39} {flows:>9} flows {:>10}",
            human_bytes(*bytes)
        )));
    }
    let mut ports: Vec<((u16, &str), FlowsBytes)> =
        traffic.ports.iter().map(|(k, v)| (*k, *v)).collect();
    ports.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
    rows.push(OverviewRow::heading("Top destination ports (flows)"));
    for ((port, proto), (flows, bytes)) in ports.iter().take(PER_SECTION) {
        rows.push(OverviewRow::plain(format!(
            "{:<39} {flows:>9} flows {:>10}",
            format!("{port}/{proto}"),
            human_bytes(*bytes)
        )));
    }

    let i = &analysis.input;
    rows.push(OverviewRow::heading("Input"));
    let kinds: Vec<String> = i.records.iter().map(|(k, n)| format!("{k} {n}")).collect();
    rows.push(OverviewRow::plain(format!(
        "{} file(s), {} unreadable, {} cut short, {} line(s) or packet(s) skipped; records: {}",
        i.files.len(),
        i.failed_files,
        i.cut_files,
        i.skipped,
        kinds.join(", ")
    )));
    if let Some((lo, hi)) = i.span {
        rows.push(OverviewRow::plain(format!(
            "{} → {} UTC; {} profiles, {} windows, {} evidence, {} alerts",
            py_datetime(lo),
            py_datetime(hi),
            store.profiles.len(),
            store.window_count(),
            d.evidence.len(),
            d.alerts.len()
        )));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overview_lists_suspects_beacons_and_talkers_with_jump_targets() {
        let a = crate::analyze(&crate::Options::new(["testdata/zeek/home-office-tsv"]));
        let rows = build(&a, &traffic(&a.store));
        let headings: Vec<&str> = rows
            .iter()
            .filter(|r| r.heading)
            .map(|r| r.text.split(':').next().unwrap_or(""))
            .collect();
        assert_eq!(
            headings,
            [
                "Suspects",
                "Home hosts attacked from outside",
                "Beacons",
                "Long connections",
                "Threat intelligence",
                "Top talkers (bytes sent and received as client)",
                "Top destinations (flows)",
                "Top destination ports (flows)",
                "Input"
            ]
        );
        let suspect = rows.iter().find(|r| r.text.starts_with("192.168.1.10 "));
        assert_eq!(
            suspect.and_then(|r| r.target),
            Some((
                "192.168.1.10".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
                1
            ))
        );
        assert!(
            rows.iter()
                .any(|r| r.text.contains("→ 203.0.113.7:443/TCP") && r.target.is_some()),
            "{rows:#?}"
        );
    }
}
