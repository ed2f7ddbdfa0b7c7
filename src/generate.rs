//! A deterministic generator of large, realistic Zeek conn.log files for benchmarks.
//!
//! Same seed, same bytes. The mix: a few hundred internal clients talking to a few thousand
//! servers with a skewed popularity (web, TLS), two DNS resolvers, NTP pools, a C&C beacon per
//! 50 hosts, port scans (S0/REJ) over many addresses and some ICMP, over `hours` hours, written
//! as Zeek TSV with its header.

use std::io::{self, Write};

/// `SplitMix64`: tiny, fast, and good enough for synthetic traffic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Writes `lines` conn.log records with `hosts` internal clients over `hours` hours.
pub fn conn_log(
    out: &mut impl Write,
    lines: u64,
    hosts: u32,
    hours: u32,
    seed: u64,
) -> io::Result<()> {
    let mut r = Rng(seed);
    writeln!(out, "#separator \\x09")?;
    writeln!(out, "#set_separator\t,")?;
    writeln!(out, "#empty_field\t(empty)")?;
    writeln!(out, "#unset_field\t-")?;
    writeln!(out, "#path\tconn")?;
    writeln!(out, "#open\t2024-01-01-00-00-00")?;
    writeln!(
        out,
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents"
    )?;
    writeln!(
        out,
        "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]"
    )?;
    let start = 1_704_067_200.0_f64; // 2024-01-01
    let span = f64::from(hours.max(1)) * 3600.0;
    let step = span / lines.max(1) as f64;
    let mut line = String::with_capacity(256);
    let mut uid = [0u8; 18];
    for n in 0..lines {
        let ts = start + step * n as f64 + r.unit() * step;
        let host = r.below(u64::from(hosts.max(1)));
        let src = format!(
            "10.{}.{}.{}",
            (host / 62_500) % 256,
            (host / 250) % 250,
            host % 250 + 1
        );
        let kind = r.below(100);
        // Popular servers get most of the traffic (a cubic skew over 4000 servers); DNS goes
        // to one of two resolvers, NTP to a few pools, the beacon to one C&C per 50 hosts, and
        // scans spread over many addresses, as in real networks.
        let popular = (r.unit().powi(3) * 4000.0) as u64;
        let server = match kind {
            0..=29 => 4000 + host % 2,
            75..=79 => 4010 + r.below(4),
            85..=89 => r.below(60_000),
            97..=99 => 4100 + host / 50,
            _ => popular,
        };
        let dst = format!(
            "{}.{}.{}.{}",
            20 + server % 180,
            (server * 7) % 256,
            (server * 13) % 256,
            1 + server % 250
        );
        let sport = 1024 + r.below(64000);
        let (dport, proto, service, state, history) = match kind {
            0..=29 => (53, "udp", "dns", "SF", "Dd"),
            30..=59 => (443, "tcp", "ssl", "SF", "ShADadFf"),
            60..=74 => (80, "tcp", "http", "SF", "ShADadFf"),
            75..=79 => (123, "udp", "-", "SF", "Dd"),
            80..=84 => (25, "tcp", "-", "S0", "S"),
            85..=89 => (1 + r.below(10000), "tcp", "-", "REJ", "Sr"),
            90..=94 => (8080, "tcp", "http", "RSTR", "ShADadR"),
            95..=96 => (0, "icmp", "-", "OTH", "-"),
            _ => (4444, "tcp", "-", "S1", "ShAD"),
        };
        let (dur, ob, rb, op, rp) = if state == "S0" || state == "REJ" {
            (0.0, 0, 0, 1 + r.below(2), u64::from(state == "REJ"))
        } else {
            let op = 1 + r.below(20);
            (
                r.unit() * 30.0,
                r.below(2000),
                r.below(200_000),
                op,
                op + r.below(20),
            )
        };
        for b in &mut uid {
            *b = B62[r.below(62) as usize];
        }
        uid[0] = b'C';
        line.clear();
        let _ = std::fmt::Write::write_fmt(
            &mut line,
            format_args!(
                "{ts:.6}\t{}\t{src}\t{sport}\t{dst}\t{dport}\t{proto}\t{service}\t{dur:.6}\t{ob}\t{rb}\t{state}\tT\tF\t0\t{history}\t{op}\t{}\t{rp}\t{}\t-",
                std::str::from_utf8(&uid).unwrap_or("C0"),
                ob + op * 40,
                rb + rp * 40
            ),
        );
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    writeln!(out, "#close\t2024-01-02-00-00-00")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_and_line_count() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        conn_log(&mut a, 500, 10, 2, 7).unwrap_or_default();
        conn_log(&mut b, 500, 10, 2, 7).unwrap_or_default();
        assert_eq!(a, b);
        let data_lines = a
            .split(|c| *c == b'\n')
            .filter(|l| !l.is_empty() && l[0] != b'#')
            .count();
        assert_eq!(data_lines, 500);
    }
}
