//! A realistic conn.log for benchmarks: the cardinalities and shapes of a real network.
//!
//! - Many sources. 90 % are internal, and their activity is skewed: the busiest host sends a
//!   few percent of all connections, the median host a handful. The other 10 % are external
//!   sources that reach internal servers (scans, logins, web).
//! - Hundreds of thousands of destinations, also skewed: a few are very popular (CDNs and
//!   resolvers) and most are seen a few times.
//! - Connection shapes from real Zeek rows ([`super::shapes`]), mixed like an enterprise's
//!   traffic: DNS and TLS heavy, some HTTP, probes and refusals, ICMP and other UDP. One
//!   internal host in a hundred beacons to its own server every 5 minutes ± 10 %.
//! - Zeek's write order: a connection is written when it ends (plus Zeek's linger for the state
//!   it ended in), so `ts` is not sorted, as in real logs.
//!
//! Same seed, same bytes.

use super::shapes::{Class, HIGH, LOW, SHAPES, Shape};
use crate::rng::Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Realistic {
    /// Lines to write.
    pub lines: u64,
    /// Source IPs (90 % internal).
    pub sources: u32,
    /// Destination IPs.
    pub destinations: u32,
    /// Hours of traffic.
    pub hours: u32,
    /// Random seed.
    pub seed: u64,
}

/// Share of the traffic per class (renormalised over the classes that have shapes).
const MIX: &[(Class, f64)] = &[
    (Class::Dns, 0.30),
    (Class::Web, 0.34),
    (Class::Http, 0.08),
    (Class::Ntp, 0.02),
    (Class::Login, 0.01),
    (Class::Probe, 0.12),
    (Class::Other, 0.13),
];

/// Internal addresses that receive connections (servers, and hosts that scans hit).
const INTERNAL_SERVERS: u64 = 3_000;

/// What external sources do: probe, log in, browse internal web servers.
const INBOUND: &[(Class, f64)] = &[(Class::Probe, 0.6), (Class::Login, 0.2), (Class::Http, 0.2)];

/// Shapes picked by weight: each class gets its share, each shape of the class its real share
/// of that class.
struct Picker {
    /// (cumulative weight, shape index)
    table: Vec<(f64, usize)>,
}

impl Picker {
    fn new(mix: &[(Class, f64)]) -> Picker {
        let present: Vec<(Class, f64)> = mix
            .iter()
            .copied()
            .filter(|(c, _)| SHAPES.iter().any(|s| s.class() == *c))
            .collect();
        let total: f64 = present.iter().map(|(_, w)| w).sum();
        let mut table = Vec::new();
        let mut acc = 0.0;
        for (class, share) in present {
            let seen: f64 = SHAPES
                .iter()
                .filter(|s| s.class() == class)
                .map(|s| f64::from(s.seen))
                .sum();
            for (i, s) in SHAPES
                .iter()
                .enumerate()
                .filter(|(_, s)| s.class() == class)
            {
                acc += share / total * f64::from(s.seen) / seen;
                table.push((acc, i));
            }
        }
        Picker { table }
    }

    fn pick(&self, r: &mut Rng) -> &'static Shape {
        let u = r.unit() * self.table.last().map_or(1.0, |t| t.0);
        let at = self.table.partition_point(|(acc, _)| *acc < u);
        let i = self.table.get(at).or(self.table.last()).map_or(0, |t| t.1);
        &SHAPES[i]
    }
}

/// A public IPv4 address for `n`, never in a private, loopback or multicast range.
fn public_ip(n: u64) -> [u8; 4] {
    let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    let first = 11 + (h % 212) as u8; // 11..=222
    let first = match first {
        127 | 169 | 172 | 192 | 100 => first + 1,
        f => f,
    };
    [
        first,
        (h >> 8) as u8,
        (h >> 16) as u8,
        1 + (h >> 24) as u8 % 254,
    ]
}

/// An internal address for `n`, spread over 10.0.0.0/8 (distinct for distinct `n` < 2^24).
fn internal_ip(n: u64, base: u8) -> [u8; 4] {
    let k = (n.wrapping_mul(2_654_435_761) & 0x00ff_ffff) as u32;
    [
        10,
        base.wrapping_add((k >> 16) as u8),
        (k >> 8) as u8,
        k as u8 | 1,
    ]
}

/// Destination `d`: one in `internal_one_in` is an internal server, the others public.
fn destination(d: u64, internal_one_in: u64) -> [u8; 4] {
    if d % internal_one_in == 0 {
        internal_ip(d % INTERNAL_SERVERS, 240)
    } else {
        public_ip(d)
    }
}

fn ip_text(ip: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])
}

fn micros(t: f64) -> u64 {
    (t * 1e6) as u64
}

/// Zeek's linger before it writes a connection: closed ones soon, others at inactivity.
fn linger(shape: &Shape) -> f64 {
    match (shape.proto, shape.state) {
        ("tcp", "SF" | "REJ" | "RSTO" | "RSTR" | "RSTOS0" | "RSTRH") => 5.0,
        ("tcp", _) => 300.0,
        _ => 60.0,
    }
}

/// Writes the realistic conn.log.
pub fn conn_log(out: &mut impl Write, cfg: Realistic) -> io::Result<()> {
    let mut r = Rng::new(cfg.seed ^ 0x5EA1_1571_C000_0000);
    super::write_conn_header(out)?;
    let sources = u64::from(cfg.sources.max(1));
    let destinations = u64::from(cfg.destinations.max(1));
    let outbound = Picker::new(MIX);
    let inbound = Picker::new(INBOUND);
    let start = 1_704_099_600.0_f64; // 2024-01-01 09:00 UTC
    let span = f64::from(cfg.hours.max(1)) * 3600.0;
    let step = span / cfg.lines.max(1) as f64;
    // Beaconing hosts: every hundredth internal source rank, each to its own server.
    let beacons: Vec<u64> = (0..sources).filter(|s| s % 100 == 50).collect();
    // (next time in µs, beacon) earliest first
    let mut next_beacon: BinaryHeap<Reverse<(u64, usize)>> = (0..beacons.len())
        .map(|b| Reverse((micros(start + r.unit() * 300.0), b)))
        .collect();
    // Lines waiting for their connection's end, earliest first: (end time's bits, sequence,
    // line). The bits of a positive f64 sort as its value, and the sequence breaks ties.
    let mut pending: BinaryHeap<Reverse<(u64, u64, String)>> = BinaryHeap::new();
    let beacon_shape = SHAPES
        .iter()
        .find(|s| s.service == "ssl" && s.state == "SF")
        .unwrap_or(&SHAPES[0]);
    let mut seq = 0u64;
    let mut uid = [0u8; 18];
    let mut now = start;
    while seq < cfg.lines {
        now += step * 2.0 * r.unit();
        // a beacon that is due, else an ordinary connection
        let due = next_beacon
            .peek()
            .is_some_and(|Reverse((t, _))| *t <= micros(now));
        let beacon = if due { next_beacon.pop() } else { None };
        let (src, dst, shape, ts) = if let Some(Reverse((t, b))) = beacon {
            let ts = t as f64 / 1e6;
            next_beacon.push(Reverse((micros(ts + 300.0 * (0.9 + 0.2 * r.unit())), b)));
            let host = beacons[b];
            (
                internal_ip(host, 0),
                public_ip(destinations + host),
                beacon_shape,
                ts,
            )
        } else {
            // skewed activity: rank 0 is the chattiest source
            let rank = (r.unit().powi(3) * sources as f64) as u64;
            let external = rank % 10 == 9;
            let shape = if external {
                inbound.pick(&mut r)
            } else {
                outbound.pick(&mut r)
            };
            let src = if external {
                public_ip(rank)
            } else {
                internal_ip(rank, 0)
            };
            let dst = match shape.class() {
                Class::Dns => internal_ip(1 + rank % 4, 250),
                Class::Ntp => public_ip(destinations + sources + rank % 8),
                _ if external => internal_ip(r.below(INTERNAL_SERVERS), 240),
                // probes spread evenly; one in ten hits an internal server
                Class::Probe => destination(r.below(destinations), 10),
                // skewed popularity over all destinations; one in five is internal
                _ => destination((r.unit().powf(2.5) * destinations as f64) as u64, 5),
            };
            (src, dst, shape, now)
        };
        let row = shape.rows[r.below(shape.rows.len() as u64) as usize];
        let scale = 0.5 + r.unit();
        let duration = row[0] * scale;
        let (ob, rb) = ((row[1] * scale) as u64, (row[2] * scale) as u64);
        let (op, rp) = (row[3] as u64, row[5] as u64);
        let oip = (row[4] as u64).saturating_sub(row[1] as u64) + ob;
        let rip = (row[6] as u64).saturating_sub(row[2] as u64) + rb;
        let port = match shape.port {
            HIGH => 1024 + r.below(64_000),
            LOW => 1 + r.below(1023),
            p => u64::from(p),
        };
        let sport = 1024 + r.below(64_000);
        for b in &mut uid {
            *b = super::B62[r.below(62) as usize];
        }
        uid[0] = b'C';
        let local = |ip: [u8; 4]| if ip[0] == 10 { 'T' } else { 'F' };
        let line = format!(
            "{ts:.6}\t{}\t{}\t{sport}\t{}\t{port}\t{}\t{}\t{duration:.6}\t{ob}\t{rb}\t{}\t{}\t{}\t0\t{}\t{op}\t{oip}\t{rp}\t{rip}\t-\n",
            std::str::from_utf8(&uid).unwrap_or("C0"),
            ip_text(src),
            ip_text(dst),
            shape.proto,
            shape.service,
            shape.state,
            local(src),
            local(dst),
            shape.history,
        );
        let end = ts + duration + linger(shape);
        pending.push(Reverse((end.to_bits(), seq, line)));
        seq += 1;
        while pending
            .peek()
            .is_some_and(|Reverse((end, _, _))| f64::from_bits(*end) <= now)
        {
            if let Some(Reverse((_, _, line))) = pending.pop() {
                out.write_all(line.as_bytes())?;
            }
        }
    }
    while let Some(Reverse((_, _, line))) = pending.pop() {
        out.write_all(line.as_bytes())?;
    }
    writeln!(out, "#close\t2024-01-02-00-00-00")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn generate(lines: u64, seed: u64) -> String {
        let mut out = Vec::new();
        let cfg = Realistic {
            lines,
            sources: 2_000,
            destinations: 30_000,
            hours: 2,
            seed,
        };
        conn_log(&mut out, cfg).unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn a_realistic_log_has_many_sources_skew_and_zeek_order() {
        let text = generate(50_000, 3);
        assert_eq!(text, generate(50_000, 3), "same seed, same bytes");
        let rows: Vec<Vec<&str>> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split('\t').collect())
            .collect();
        assert_eq!(rows.len(), 50_000);
        assert!(rows.iter().all(|r| r.len() == 21));
        let sources: HashSet<&str> = rows.iter().map(|r| r[2]).collect();
        let dests: HashSet<&str> = rows.iter().map(|r| r[4]).collect();
        assert!(sources.len() > 1_000, "sources {}", sources.len());
        assert!(dests.len() > 10_000, "destinations {}", dests.len());
        // skew: the busiest source sends far more than an even share
        let mut per: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        for r in &rows {
            *per.entry(r[2]).or_default() += 1;
        }
        let busiest = per.values().max().copied().unwrap_or(0);
        assert!(busiest > 50 * 50_000 / 2_000, "busiest {busiest}");
        // written at the end: ts goes back sometimes, end times do not by more than the linger
        let ts: Vec<f64> = rows.iter().filter_map(|r| r[0].parse().ok()).collect();
        assert!(ts.windows(2).any(|w| w[1] < w[0]), "ts is not sorted");
        let dns = rows.iter().filter(|r| r[7] == "dns").count();
        let ssl = rows.iter().filter(|r| r[7] == "ssl").count();
        assert!(dns > 10_000 && ssl > 8_000, "dns {dns}, ssl {ssl}");
    }
}
