//! Home hosts attacked from outside, for triage: one line per victim instead of one alert per
//! Internet scanner ("147.32.81.167 probed by 2,493 outside hosts on 23/tcp, 445/tcp … —
//! 40 answered"). It sums the flows behind the inbound-probe evidence and decides nothing.

use super::evidence::{Evidence, EvidenceKind, FlowRef};
use crate::record::{Established, Proto};
use crate::store::Store;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// One home host that outside hosts probed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Victim {
    /// The home host.
    pub ip: IpAddr,
    /// Outside hosts that probed it.
    pub attackers: usize,
    /// Their connection attempts.
    pub attempts: usize,
    /// Attempts the host answered (a completed handshake, a UDP or ICMP reply).
    pub answered: usize,
    /// Ports tried, most tried first: (port, protocol, attempts).
    pub ports: Vec<(u16, &'static str, usize)>,
    /// The window with the most attempts (the earliest of equals).
    pub worst_window: i64,
}

impl Victim {
    /// "probed by 2,493 outside hosts (4,201 attempts) on 23/tcp, 445/tcp … — 40 answered".
    pub fn summary(&self, max_ports: usize) -> String {
        let ports: Vec<String> = self
            .ports
            .iter()
            .take(max_ports)
            .map(|(p, proto, _)| format!("{p}/{proto}"))
            .collect();
        let more = if self.ports.len() > max_ports {
            format!(" and {} more ports", self.ports.len() - max_ports)
        } else {
            String::new()
        };
        let answered = match self.answered {
            0 => "none answered".to_string(),
            n => format!("{n} answered"),
        };
        let n = |v: usize| crate::ui::numbers::thousands(v as u64);
        format!(
            "probed by {} outside host(s) ({} attempts) on {}{more} — {answered}",
            n(self.attackers),
            n(self.attempts),
            ports.join(", ")
        )
    }
}

/// The victims of every inbound probe, most attackers first (then more attempts, then IP).
pub fn victims(store: &Store, evidence: &[Evidence]) -> Vec<Victim> {
    #[derive(Default)]
    struct Acc {
        attackers: BTreeSet<IpAddr>,
        attempts: usize,
        answered: usize,
        ports: BTreeMap<(u16, Proto), usize>,
        windows: BTreeMap<i64, usize>,
    }
    let mut by_victim: BTreeMap<IpAddr, Acc> = BTreeMap::new();
    for e in evidence
        .iter()
        .filter(|e| e.kind == EvidenceKind::InboundProbe)
    {
        for f in &e.flows {
            let FlowRef::Conn(i) = *f else { continue };
            let Some(c) = store.conns.get(i as usize) else {
                continue;
            };
            let v = by_victim.entry(c.resp_h).or_default();
            v.attackers.insert(e.profile);
            v.attempts += 1;
            v.answered += usize::from(match c.proto {
                Proto::Tcp => c.established() == Established::Established,
                _ => c.resp_pkts > 0,
            });
            *v.ports.entry((c.resp_p, c.proto)).or_default() += 1;
            *v.windows.entry(e.window).or_default() += 1;
        }
    }
    let mut out: Vec<Victim> = by_victim
        .into_iter()
        .map(|(ip, a)| {
            let mut ports: Vec<(u16, &'static str, usize)> = a
                .ports
                .into_iter()
                .map(|((p, pr), n)| (p, pr.as_str(), n))
                .collect();
            ports.sort_by(|x, y| y.2.cmp(&x.2).then((x.0, x.1).cmp(&(y.0, y.1))));
            let worst_window = a
                .windows
                .iter()
                .max_by(|x, y| x.1.cmp(y.1).then(y.0.cmp(x.0)))
                .map_or(1, |(n, _)| *n);
            Victim {
                ip,
                attackers: a.attackers.len(),
                attempts: a.attempts,
                answered: a.answered,
                ports,
                worst_window,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.attackers
            .cmp(&a.attackers)
            .then(b.attempts.cmp(&a.attempts))
            .then(a.ip.cmp(&b.ip))
    });
    out
}
