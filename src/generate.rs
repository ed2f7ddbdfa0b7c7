//! A deterministic generator of large, realistic Zeek conn.log files for benchmarks.
//!
//! Same seed, same bytes. The mix: a few hundred internal clients talking to a few thousand
//! servers with a skewed popularity (web, TLS), two DNS resolvers, NTP pools, a C&C beacon per
//! 50 hosts, port scans (S0/REJ) over many addresses and some ICMP, over `hours` hours, written
//! as Zeek TSV with its header.
//!
//! Generated data is never read as an oracle: tests compare against real Zeek and Slips output.

mod realistic;
mod shapes;

pub use realistic::{Realistic, conn_log as realistic_conn_log};

use crate::rng::Rng;

use std::io::{self, Write};

/// Zeek's conn.log header, TSV.
fn write_conn_header(out: &mut impl Write) -> io::Result<()> {
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
    Ok(())
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
    let mut r = Rng::new(seed);
    write_conn_header(out)?;
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

/// Writes a deterministic classic pcap (little endian, microseconds) with `flows` connections
/// from `hosts` internal clients: DNS lookups (real DNS messages), HTTP requests and responses,
/// TLS handshakes (a `ClientHello` with SNI), bulk downloads with a heavy-tailed size, NTP, and
/// SYN scans answered by resets. Each flow has its own 5-tuple; packet times never go back.
///
/// With `hours` > 0 the flows are spread over that many hours (and every 50th host beacons to
/// its C&C server over UDP every 2 minutes ± 10%); with 0 they follow each other as fast as a
/// busy link carries them (a flow every 0.2–0.8 ms).
pub fn capture(
    out: &mut impl Write,
    flows: u64,
    hosts: u32,
    hours: u32,
    seed: u64,
) -> io::Result<()> {
    use etherparse::PacketBuilder;
    let mut r = Rng::new(seed);
    // pcap header: magic, v2.4, zone 0, sigfigs 0, snaplen 65535, Ethernet
    out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    out.write_all(&2u16.to_le_bytes())?;
    out.write_all(&4u16.to_le_bytes())?;
    out.write_all(&[0u8; 8])?;
    out.write_all(&65_535u32.to_le_bytes())?;
    out.write_all(&1u32.to_le_bytes())?;
    let packet = |out: &mut dyn Write, ts: f64, data: &[u8]| -> io::Result<()> {
        let sec = ts.floor();
        out.write_all(&(sec as u32).to_le_bytes())?;
        out.write_all(&(((ts - sec) * 1e6) as u32).to_le_bytes())?;
        out.write_all(&(data.len() as u32).to_le_bytes())?;
        out.write_all(&(data.len() as u32).to_le_bytes())?;
        out.write_all(data)
    };
    let mut buf = Vec::with_capacity(2048);
    let mut ts = 1_704_067_200.0_f64;
    let gap = f64::from(hours) * 3600.0 / flows.max(1) as f64;
    let beacons: Vec<u32> = if hours > 0 {
        (0..hosts).step_by(50).collect()
    } else {
        Vec::new()
    };
    let mut next_beacon: Vec<f64> = beacons.iter().map(|_| ts + r.unit() * 120.0).collect();
    for n in 0..flows {
        ts += if hours > 0 {
            gap * 2.0 * r.unit()
        } else {
            0.000_2 + r.unit() * 0.000_6
        };
        for (i, &host) in beacons.iter().enumerate() {
            while next_beacon[i] <= ts {
                let client = [10, (host / 250 % 250) as u8, (host % 250) as u8 + 1, 1];
                let cc = [198, 51, 100, 10 + (host / 50 % 200) as u8];
                let sport = 20_000 + r.below(40_000) as u16;
                let at = next_beacon[i];
                let mut data = [0u8; 60];
                data[..8].copy_from_slice(b"BEACON01");
                buf.clear();
                let _ = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                    .ipv4(client, cc, 64)
                    .udp(sport, 4444)
                    .write(&mut buf, &data);
                packet(out, at, &buf)?;
                buf.clear();
                let _ = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
                    .ipv4(cc, client, 64)
                    .udp(4444, sport)
                    .write(&mut buf, &data[..40]);
                packet(out, at + 0.08, &buf)?;
                next_beacon[i] += 120.0 * (0.9 + 0.2 * r.unit());
            }
        }
        let host = n % u64::from(hosts.max(1));
        let client = [10, (host / 250 % 250) as u8, (host % 250) as u8 + 1, 1];
        let server_id = (r.unit().powi(3) * 4000.0) as u32;
        let server = [
            20 + (server_id % 180) as u8,
            (server_id * 7 % 256) as u8,
            (server_id * 13 % 256) as u8,
            1 + (server_id % 250) as u8,
        ];
        let sport = 1024 + (n / u64::from(hosts.max(1)) % 60_000) as u16;
        let kind = r.below(100);
        let eth = |from_client: bool| {
            let (s, d) = if from_client {
                (client, server)
            } else {
                (server, client)
            };
            PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).ipv4(s, d, 64)
        };
        let mut t = ts;
        let mut step = || {
            t += 0.000_05;
            t
        };
        match kind {
            0..=29 => {
                // DNS A query and its answer
                let name = format!("host{server_id}.example.com");
                let mut q = vec![
                    (n & 0xff) as u8,
                    (n >> 8 & 0xff) as u8,
                    1,
                    0,
                    0,
                    1,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                ];
                for label in name.split('.') {
                    q.push(label.len() as u8);
                    q.extend(label.as_bytes());
                }
                q.extend([0, 0, 1, 0, 1]);
                let mut a = q.clone();
                a[2] = 0x81;
                a[3] = 0x80;
                a[7] = 1;
                a.extend([0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4]);
                a.extend(server);
                buf.clear();
                let _ = eth(true).udp(sport, 53).write(&mut buf, &q);
                packet(out, step(), &buf)?;
                buf.clear();
                let _ = eth(false).udp(53, sport).write(&mut buf, &a);
                packet(out, step(), &buf)?;
            }
            30..=84 => {
                // TCP: handshake, request, response, close. Most responses fit one segment; one
                // in seven is a bulk transfer with a heavy-tailed size (Pareto, alpha 1.1, from
                // 16 kB, capped at 64 MB), as real traffic where few flows carry most bytes.
                let https = kind < 60;
                let port = if https { 443 } else { 80 };
                let request = if https {
                    tls_client_hello(&format!("www{server_id}.example.net"))
                } else {
                    format!("GET /page/{n} HTTP/1.1\r\nHost: www{server_id}.example.org\r\nUser-Agent: kalipso-gen\r\n\r\n").into_bytes()
                };
                let body = if r.below(7) == 0 {
                    let pareto = 16_384.0 * (1.0 - r.unit()).max(1e-9).powf(-1.0 / 1.1);
                    pareto.min(64.0 * 1024.0 * 1024.0) as usize
                } else {
                    200 + r.below(1200) as usize
                };
                let head = if https {
                    String::new()
                } else {
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {body}\r\n\r\n"
                    )
                };
                let response_len = head.len() + body;
                let (cs, ss) = (r.next() as u32, r.next() as u32);
                let (mut c_seq, mut s_seq) = (cs.wrapping_add(1), ss.wrapping_add(1));
                let mut segment = |out: &mut dyn Write,
                                   buf: &mut Vec<u8>,
                                   from_client: bool,
                                   flags: &str,
                                   seq: u32,
                                   ack: u32,
                                   payload: &[u8]|
                 -> io::Result<()> {
                    let (sp, dp) = if from_client {
                        (sport, port)
                    } else {
                        (port, sport)
                    };
                    let mut tcp = etherparse::TcpHeader::new(sp, dp, seq, 64_240);
                    tcp.syn = flags.contains('S');
                    tcp.fin = flags.contains('F');
                    if flags.contains('A') {
                        tcp.ack = true;
                        tcp.acknowledgment_number = ack;
                    }
                    buf.clear();
                    let _ = eth(from_client).tcp_header(tcp).write(buf, payload);
                    packet(out, step(), buf)
                };
                segment(out, &mut buf, true, "S", cs, 0, &[])?;
                segment(out, &mut buf, false, "SA", ss, c_seq, &[])?;
                segment(out, &mut buf, true, "A", c_seq, s_seq, &request)?;
                c_seq = c_seq.wrapping_add(request.len() as u32);
                // the response in segments of at most 1448 bytes, an ACK every second one
                let mut sent = 0;
                let mut segments = 0u32;
                while sent < response_len {
                    let len = (response_len - sent).min(MSS);
                    let seg: &[u8] = if sent == 0 && !head.is_empty() {
                        &head.as_bytes()[..len.min(head.len())]
                    } else {
                        &FILLER[..len]
                    };
                    segment(out, &mut buf, false, "A", s_seq, c_seq, seg)?;
                    s_seq = s_seq.wrapping_add(seg.len() as u32);
                    sent += seg.len();
                    segments += 1;
                    if segments % 2 == 0 {
                        segment(out, &mut buf, true, "A", c_seq, s_seq, &[])?;
                    }
                }
                segment(out, &mut buf, true, "FA", c_seq, s_seq, &[])?;
                segment(
                    out,
                    &mut buf,
                    false,
                    "FA",
                    s_seq,
                    c_seq.wrapping_add(1),
                    &[],
                )?;
                segment(
                    out,
                    &mut buf,
                    true,
                    "A",
                    c_seq.wrapping_add(1),
                    s_seq.wrapping_add(1),
                    &[],
                )?;
            }
            85..=89 => {
                let mut ntp = [0u8; 48];
                ntp[0] = 0x23;
                buf.clear();
                let _ = eth(true).udp(sport, 123).write(&mut buf, &ntp);
                packet(out, step(), &buf)?;
                ntp[0] = 0x24;
                buf.clear();
                let _ = eth(false).udp(123, sport).write(&mut buf, &ntp);
                packet(out, step(), &buf)?;
            }
            _ => {
                // a scan probe answered by a reset
                let port = 1 + r.below(10_000) as u16;
                let mut syn = etherparse::TcpHeader::new(sport, port, r.next() as u32, 1024);
                syn.syn = true;
                buf.clear();
                let _ = eth(true).tcp_header(syn.clone()).write(&mut buf, &[]);
                packet(out, step(), &buf)?;
                let mut rst = etherparse::TcpHeader::new(port, sport, 0, 0);
                rst.rst = true;
                rst.ack = true;
                rst.acknowledgment_number = syn.sequence_number.wrapping_add(1);
                buf.clear();
                let _ = eth(false).tcp_header(rst).write(&mut buf, &[]);
                packet(out, step(), &buf)?;
            }
        }
        ts = ts.max(t);
    }
    Ok(())
}

/// The largest TCP segment the generator sends (Ethernet MTU minus IPv4/TCP headers and options).
const MSS: usize = 1448;
/// Bulk transfer bytes.
const FILLER: [u8; MSS] = [b'x'; MSS];

/// A TLS 1.2 `ClientHello` record with an SNI.
fn tls_client_hello(sni: &str) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend([0x42; 32]);
    body.push(0);
    body.extend([0, 4, 0xc0, 0x2f, 0x13, 0x01, 1, 0]);
    let name = sni.as_bytes();
    let mut ext = vec![0, 0];
    ext.extend(((name.len() + 5) as u16).to_be_bytes());
    ext.extend(((name.len() + 3) as u16).to_be_bytes());
    ext.push(0);
    ext.extend((name.len() as u16).to_be_bytes());
    ext.extend(name);
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut hs = vec![1, 0];
    hs.extend((body.len() as u16).to_be_bytes());
    hs.extend(body);
    let mut rec = vec![22, 3, 1];
    rec.extend((hs.len() as u16).to_be_bytes());
    rec.extend(hs);
    rec
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
