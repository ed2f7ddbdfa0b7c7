//! Home hosts attacked from outside, for triage: one line per victim instead of one alert per
//! Internet scanner ("147.32.81.167 probed by 2,493 outside hosts on 23/tcp, 445/tcp … —
//! 40 answered"). It sums the flows behind the inbound-probe evidence and decides nothing.

use crate::record::Proto;
use crate::store::Store;
use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;
use std::hash::BuildHasher;
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

/// One victim's sums so far.
#[derive(Default)]
struct Sums {
    /// Distinct attackers: the probes come by attacker (see [`victims`]), so each attacker's
    /// first probe of the victim is the one after another attacker's.
    attackers: usize,
    last_attacker: Option<u32>,
    attempts: usize,
    answered: usize,
    ports: HashMap<(u16, Proto), usize>,
    /// Attempts by window, on the victim's grid: the overview jumps to the victim's window
    /// (with `--tw-anchor profile` it is not numbered as the attacker's).
    windows: HashMap<i64, usize>,
    grid: Option<crate::profile::window::Grid>,
}

impl Sums {
    fn add(&mut self, store: &Store, p: &Probe) {
        let grid = *self.grid.get_or_insert_with(|| store.grid(p.victim));
        if self.last_attacker != Some(p.attacker) {
            self.attackers += 1;
            self.last_attacker = Some(p.attacker);
        }
        self.attempts += 1;
        self.answered += usize::from(p.answered);
        *self.ports.entry((p.port, p.proto)).or_default() += 1;
        *self.windows.entry(grid.number(p.ts)).or_default() += 1;
    }

    fn victim(self, ip: IpAddr) -> Victim {
        let mut ports: Vec<(u16, &'static str, usize)> = self
            .ports
            .into_iter()
            .map(|((p, pr), n)| (p, pr.as_str(), n))
            .collect();
        ports.sort_by(|x, y| y.2.cmp(&x.2).then((x.0, x.1).cmp(&(y.0, y.1))));
        // the most attempts, the earliest of equals
        let worst_window = self
            .windows
            .iter()
            .max_by(|x, y| x.1.cmp(y.1).then(y.0.cmp(x.0)))
            .map_or(1, |(n, _)| *n);
        Victim {
            ip,
            attackers: self.attackers,
            attempts: self.attempts,
            answered: self.answered,
            ports,
            worst_window,
        }
    }
}

/// How many shares of the victims the cores sum apart.
const SHARES: u64 = 8;

/// The victims of every inbound probe (in the detection parts' vectors, in the windows' order,
/// so each attacker's probes come together), most attackers first (then more attempts, then
/// IP).
///
/// Every sum is a count, so the probes' order does not matter: each core reads all the probes
/// and sums those of the victims whose address hashes to its share. (Sorting the probes by
/// victim moved 48 bytes per step and compared an address at each: 28 ms of the 40 this took
/// at 5 M lines. Grouping them with counting sorts took as long and held 48 bytes a probe
/// more at the run's peak.) The sums read no connection: reading them there, or at each
/// comparison, made a chain of cache misses.
pub(crate) fn victims(store: &Store, probes: &[Vec<Probe>]) -> Vec<Victim> {
    // (profiles are examined in address order, and a probe's attacker is its profile's place
    // in that order)
    debug_assert!(
        probes
            .iter()
            .flatten()
            .zip(probes.iter().flatten().skip(1))
            .all(|(a, b)| a.attacker <= b.attacker),
        "probes come by attacker"
    );
    let share = |ip: &IpAddr| rustc_hash::FxBuildHasher.hash_one(ip) % SHARES;
    let mut out: Vec<Victim> = (0..SHARES)
        .into_par_iter()
        .flat_map_iter(|mine| {
            let mut sums: HashMap<IpAddr, Sums> = HashMap::default();
            for p in probes.iter().flatten().filter(|p| share(&p.victim) == mine) {
                sums.entry(p.victim).or_default().add(store, p);
            }
            sums.into_iter().map(|(ip, s)| s.victim(ip))
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

#[cfg(test)]
mod tests {
    use super::{Probe, Proto, victims};
    use crate::store::Store;
    use std::collections::{BTreeMap, BTreeSet};
    use std::net::IpAddr;

    /// Probes of 40 victims by 300 attackers on a few ports over a day, in a random order.
    fn probes() -> Vec<Probe> {
        let mut random = crate::rng::Rng::new(5);
        (0..20_000u32)
            .map(|conn| {
                let x = random.next();
                Probe {
                    conn,
                    // a skewed choice: a few victims get most probes
                    victim: IpAddr::from([10, 0, 0, ((x % 40) * (x >> 8) % 40) as u8]),
                    attacker: ((x >> 16) % 300) as u32,
                    ts: 1_000.0 + ((x >> 24) % 86_400) as f64,
                    port: [22, 23, 445, 3389][((x >> 40) % 4) as usize],
                    proto: if (x >> 44) % 5 == 0 {
                        Proto::Udp
                    } else {
                        Proto::Tcp
                    },
                    answered: (x >> 48) % 7 == 0,
                }
            })
            .collect()
    }

    #[test]
    fn sums_are_those_of_a_plain_count() {
        // by attacker, as the detections give them
        let mut probes = probes();
        probes.sort_by_key(|p| p.attacker);
        let store = Store::default();
        // in pieces, as the detections' parts leave them
        let pieces: Vec<Vec<Probe>> = probes.chunks(3_000).map(<[Probe]>::to_vec).collect();
        let got = victims(&store, &pieces);
        let mut expected: BTreeMap<IpAddr, Vec<&Probe>> = BTreeMap::new();
        for p in &probes {
            expected.entry(p.victim).or_default().push(p);
        }
        assert_eq!(got.len(), expected.len());
        for v in &got {
            let mine = &expected[&v.ip];
            let attackers: BTreeSet<u32> = mine.iter().map(|p| p.attacker).collect();
            assert_eq!(v.attackers, attackers.len(), "{}", v.ip);
            assert_eq!(v.attempts, mine.len());
            assert_eq!(v.answered, mine.iter().filter(|p| p.answered).count());
            let mut ports: BTreeMap<(u16, &str), usize> = BTreeMap::new();
            for p in mine {
                *ports.entry((p.port, p.proto.as_str())).or_default() += 1;
            }
            assert_eq!(v.ports.len(), ports.len());
            for (port, proto, n) in &v.ports {
                assert_eq!(ports[&(*port, *proto)], *n);
            }
            assert!(
                v.ports.windows(2).all(|w| w[0].2 >= w[1].2),
                "most tried first"
            );
            // the window with the most attempts, the earliest of equals
            let grid = store.grid(v.ip);
            let mut windows: BTreeMap<i64, usize> = BTreeMap::new();
            for p in mine {
                *windows.entry(grid.number(p.ts)).or_default() += 1;
            }
            let most = windows.values().max().copied();
            let worst = windows.iter().find(|(_, n)| Some(**n) == most);
            assert_eq!(Some(v.worst_window), worst.map(|(w, _)| *w), "{}", v.ip);
        }
        // most attackers first, then more attempts, then address
        assert!(got.windows(2).all(|w| {
            (w[1].attackers, w[1].attempts) < (w[0].attackers, w[0].attempts)
                || ((w[1].attackers, w[1].attempts) == (w[0].attackers, w[0].attempts)
                    && w[0].ip < w[1].ip)
        }));
    }
}
