//! Home hosts attacked from outside, for triage: one line per victim instead of one alert per
//! Internet scanner ("147.32.81.167 probed by 2,493 outside hosts on 23/tcp, 445/tcp … —
//! 40 answered"). It sums the flows behind the inbound-probe evidence and decides nothing.

use super::evidence::{Evidence, EvidenceKind, FlowRef};
use crate::record::Proto;
use crate::store::Store;
use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;
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
    /// The window (on its own grid) with the most attempts (the earliest of equals).
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
    // One row per probe (who was probed, by whom, on which port, when, answered or not),
    // gathered on every core, then sorted by victim and summed group by group, the groups in
    // parallel. Everything the sums need is read from the connection once, while gathering,
    // where the reads are independent and overlap; the sort then compares rows it holds, and
    // the sums read no connection (reading them there, or at each comparison, made a chain of
    // cache misses). The attacker is named by the place of its profile's first evidence: the
    // evidence is sorted by profile, so the place orders the attackers as their addresses
    // would, and a row stays 40 bytes (this list is alive at the run's peak memory).
    struct Probe {
        victim: IpAddr,
        attacker: u32,
        ts: f64,
        port: u16,
        proto: Proto,
        answered: bool,
    }
    debug_assert!(evidence.is_sorted_by_key(|e| e.profile));
    let conns = &store.conns;
    let start = evidence.as_ptr().addr();
    let mut probes: Vec<Probe> = evidence
        .par_chunk_by(|a, b| a.profile == b.profile)
        .flat_map_iter(|of_profile| {
            // (the place of the profile's first evidence in `evidence`)
            let attacker = (of_profile.as_ptr().addr() - start) / size_of::<Evidence>();
            let attacker = u32::try_from(attacker).ok();
            of_profile
                .iter()
                .filter(|e| e.kind == EvidenceKind::InboundProbe)
                .flat_map(|e| e.flows.iter())
                .filter_map(move |f| {
                    let FlowRef::Conn(i) = *f else { return None };
                    let c = conns.get(i as usize)?;
                    Some(Probe {
                        victim: c.resp_h,
                        attacker: attacker?,
                        ts: c.ts,
                        port: c.resp_p,
                        proto: c.proto,
                        answered: super::inbound::answered(c),
                    })
                })
        })
        .collect();
    probes.par_sort_unstable_by_key(|p| (p.victim, p.attacker));
    let by_victim = probes
        .par_chunk_by(|a, b| a.victim == b.victim)
        .map(|group| {
            let mut ports: HashMap<(u16, Proto), usize> = HashMap::default();
            let mut windows: HashMap<i64, usize> = HashMap::default();
            // on the victim's grid: the overview jumps to the victim's window (with
            // `--tw-anchor profile` it is not numbered as the attacker's)
            let grid = store.grid(group[0].victim);
            for p in group {
                *ports.entry((p.port, p.proto)).or_default() += 1;
                *windows.entry(grid.number(p.ts)).or_default() += 1;
            }
            let answered = group.iter().filter(|p| p.answered).count();
            // sorted by attacker within the group: each attacker starts one run
            let attackers = group.chunk_by(|a, b| a.attacker == b.attacker).count();
            (
                group[0].victim,
                attackers,
                group.len(),
                answered,
                ports,
                windows,
            )
        });
    let mut out: Vec<Victim> = by_victim
        .map(|(ip, attackers, attempts, answered, ports, windows)| {
            let mut ports: Vec<(u16, &'static str, usize)> = ports
                .into_iter()
                .map(|((p, pr), n)| (p, pr.as_str(), n))
                .collect();
            ports.sort_by(|x, y| y.2.cmp(&x.2).then((x.0, x.1).cmp(&(y.0, y.1))));
            // the most attempts, the earliest of equals
            let worst_window = windows
                .iter()
                .max_by(|x, y| x.1.cmp(y.1).then(y.0.cmp(x.0)))
                .map_or(1, |(n, _)| *n);
            Victim {
                ip,
                attackers,
                attempts,
                answered,
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
