//! Home hosts attacked from outside, for triage: one line per victim instead of one alert per
//! Internet scanner ("147.32.81.167 probed by 2,493 outside hosts on 23/tcp, 445/tcp … —
//! 40 answered"). It sums the flows behind the inbound-probe evidence and decides nothing.

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

/// One connection of an inbound probe, as the inbound rule saw it when it made the evidence:
/// who was probed, by whom, on which port, when, answered or not. The rule has the connection
/// at hand; gathering these from the evidence afterwards read every connection again, a cache
/// miss each (366k rows on the realistic 5 M-line log).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Probe {
    /// The connection (the evidence names it; the aggregate does not read it).
    pub conn: u32,
    /// The home host.
    pub victim: IpAddr,
    /// The attacker: the place of its profile in the store's address order.
    pub attacker: u32,
    pub ts: f64,
    pub port: u16,
    pub proto: Proto,
    pub answered: bool,
}

/// The victims of every inbound probe, most attackers first (then more attempts, then IP).
pub(crate) fn victims(store: &Store, mut probes: Vec<Probe>) -> Vec<Victim> {
    // Sorted by victim and summed group by group, the groups in parallel; the sums read no
    // connection (reading them there, or at each comparison, made a chain of cache misses).
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
