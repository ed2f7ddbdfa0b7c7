//! A whole capture (or several, in order): packets are dealt to [`SHARDS`] assemblers by the
//! hash of their connection and assembled in parallel; after every chunk the records emitted so
//! far are merged into one order, so the result is the same on any number of threads.
//!
//! It does not read files: the input stage hands it decoded packets.

use super::assemble::Assembler;
use super::key::SHARDS;
use super::merge::Out;
use super::tunnel::Tunnels;
use super::{Encap, PacketMeta, Timeouts};
use crate::prefetch::prefetch;
use crate::record::{Batch, TunnelKind};

/// How often (in capture time) expired connections are retired, so memory follows the live
/// connections, not the size of the capture.
const SWEEP_EVERY: f64 = 1.0;

/// The fewest bytes of a capture file that make a connection: a classic record header and an
/// IPv4 header with an ICMP header, on the raw-IP link type. (A tunnelled packet makes two
/// connections, but it is longer than two of these.)
const SMALLEST_CONN: u64 = 16 + 20 + 8;

/// The fewest bytes that make a dns.log row: a record header, IPv4, UDP and a DNS header.
const SMALLEST_DNS: u64 = 16 + 20 + 8 + 12;

/// Reserves room for `n` more items in `v`, or for half as many when the system refuses
/// that much (a bound for many gigabytes of captures can pass the memory the kernel will
/// promise at once), and so on.
pub(crate) fn reserve_up_to<T>(v: &mut Vec<T>, mut n: usize) {
    while n > 0 && v.try_reserve_exact(n).is_err() {
        n /= 2;
    }
}

/// Where the time of a capture's reading went (for `KALIPSO_TIMINGS`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Spent {
    /// Waiting for the reader thread's next chunk.
    pub wait: std::time::Duration,
    /// Decoding the chunks' packets.
    pub decode: std::time::Duration,
    /// Assembling them into connections.
    pub assemble: std::time::Duration,
    /// Merging the shards' records.
    pub merge: std::time::Duration,
}

/// One decoded packet of a chunk: what the assembler needs, where its captured payload is in
/// the chunk's bytes, and its shard.
#[derive(Debug, Clone, Copy)]
pub struct Packet {
    /// Header fields.
    pub meta: PacketMeta,
    /// Offset of the captured transport payload in the chunk.
    pub at: u32,
    /// Its captured length.
    pub len: u32,
    /// `shard_of` the packet.
    pub shard: u16,
    /// The tunnel this UDP packet carries, when it carries one (VXLAN, Teredo).
    pub carries: Option<TunnelKind>,
    /// The number (from 1) of the tunnels around it in the chunk's list of stacks; 0 when it
    /// came through none.
    pub encap: u32,
}

/// The flows of a whole capture (or several, in order), assembled by [`SHARDS`] assemblers in
/// parallel.
#[derive(Debug)]
pub struct Capture {
    shards: Vec<Assembler>,
    /// The records so far, in their final order: each chunk's are merged by tag onto the end.
    out: Batch,
    seq: u64,
    last_sweep: f64,
    /// The DHCP messages so far, joined into rows in capture order.
    dhcp: super::dhcp_log::Joiner,
    /// The tunnels packets came through so far.
    tunnels: Tunnels,
}

impl Capture {
    /// An empty capture.
    pub fn new(timeouts: Timeouts) -> Self {
        Capture {
            shards: (0..SHARDS).map(|_| Assembler::new(timeouts)).collect(),
            out: Batch::default(),
            seq: 0,
            last_sweep: f64::NEG_INFINITY,
            dhcp: super::dhcp_log::Joiner::default(),
            tunnels: Tunnels::default(),
        }
    }

    /// Makes room for the connections and DNS records of `bytes` of capture files, so they
    /// are merged straight into their final vectors as the capture goes on: grown by
    /// doubling, those were copied into fresh pages again and again; merged per chunk and put
    /// end to end at the end, every connection was written twice. The room is virtual memory
    /// (pages are touched only as records are written). It is a bound for classic pcap files
    /// and a hint for the rest (a compressed file holds more packets than its size says);
    /// room the system refuses is halved until granted, and once it is passed the vectors grow
    /// as usual.
    pub fn expect_bytes(&mut self, bytes: u64) {
        let most = |smallest: u64| usize::try_from(bytes / smallest).unwrap_or(usize::MAX);
        reserve_up_to(&mut self.out.conns, most(SMALLEST_CONN));
        reserve_up_to(&mut self.out.dns, most(SMALLEST_DNS));
    }

    /// Adds the next packets (in capture order); their payloads are in `data`, the tunnels
    /// around them in `stacks` (see [`Packet::encap`]). The time it takes is added to `spent`.
    pub fn feed(
        &mut self,
        packets: &[Packet],
        data: &[u8],
        stacks: &[Vec<Encap>],
        spent: &mut Spent,
    ) {
        use rayon::prelude::*;
        let stack_of = |p: &Packet| -> &[Encap] {
            match p.encap {
                0 => &[],
                n => stacks.get(n as usize - 1).map_or(&[], Vec::as_slice),
            }
        };
        let t = std::time::Instant::now();
        let first = self.seq;
        // sweep points: before the first packet at least SWEEP_EVERY after the last sweep
        let mut sweeps: Vec<(u64, f64)> = Vec::new();
        let mut own: Vec<Vec<u32>> = vec![Vec::new(); SHARDS];
        for (i, p) in packets.iter().enumerate() {
            if p.meta.ts - self.last_sweep >= SWEEP_EVERY {
                if self.last_sweep.is_finite() {
                    sweeps.push((first + i as u64, p.meta.ts));
                }
                self.last_sweep = p.meta.ts;
            }
            if let Some(v) = own.get_mut(usize::from(p.shard)) {
                v.push(i as u32);
            }
            for e in stack_of(p) {
                self.tunnels.seen(e, p.meta.ts, first + i as u64);
            }
        }
        self.seq += packets.len() as u64;
        self.shards
            .par_iter_mut()
            .zip(own.par_iter())
            .for_each(|(asm, mine)| {
                let mut sw = sweeps.iter().peekable();
                for (k, &i) in mine.iter().enumerate() {
                    prefetch_ahead(packets, data, mine, k);
                    let seq = first + u64::from(i);
                    while let Some(&&(s, ts)) = sw.peek() {
                        if s > seq {
                            break;
                        }
                        asm.tick(s, ts);
                        sw.next();
                    }
                    let p = &packets[i as usize];
                    let at = p.at as usize;
                    let payload = data.get(at..at + p.len as usize).unwrap_or_default();
                    asm.packet(seq, &p.meta, payload, p.carries, stack_of(p));
                }
                for &(s, ts) in sw {
                    asm.tick(s, ts);
                }
            });
        spent.assemble += t.elapsed();
        let t = std::time::Instant::now();
        self.collect();
        spent.merge += t.elapsed();
    }

    /// Merges the records the shards emitted so far (every record still to come has a later
    /// tag) onto the end of the capture's records.
    fn collect(&mut self) {
        let mut conns = Vec::with_capacity(SHARDS);
        let mut dns = Vec::with_capacity(SHARDS);
        let mut http = Vec::with_capacity(SHARDS);
        let mut ssl = Vec::with_capacity(SHARDS);
        let mut ssh = Vec::with_capacity(SHARDS);
        let mut dhcp = Vec::with_capacity(SHARDS);
        let mut smtp = Vec::with_capacity(SHARDS);
        for a in &mut self.shards {
            conns.push(a.emitted.conns.take());
            dns.push(a.emitted.dns.take());
            http.push(a.emitted.http.take());
            ssl.push(a.emitted.ssl.take());
            ssh.push(a.emitted.ssh.take());
            dhcp.push(a.emitted.dhcp.take());
            smtp.push(a.emitted.smtp.take());
        }
        // the connections on one thread, the other kinds (and the DHCP join) on another:
        // each kind merges alone, so the order stays the same on any thread count
        let b = &mut self.out;
        let joiner = &mut self.dhcp;
        rayon::join(
            || Out::merge_into(conns, &mut b.conns),
            || {
                Out::merge_into(dns, &mut b.dns);
                Out::merge_into(http, &mut b.http);
                Out::merge_into(ssl, &mut b.ssl);
                Out::merge_into(ssh, &mut b.ssh);
                Out::merge_into(smtp, &mut b.smtp);
                let mut messages = Vec::new();
                Out::merge_into(dhcp, &mut messages);
                for m in &messages {
                    joiner.add(m);
                }
            },
        );
    }

    /// Ends the capture: the records of all shards, in one order, and how many connections'
    /// in-order bytes were given up on (a hole never filled, or a side's buffer full).
    pub fn finish(mut self) -> (Batch, u64) {
        use rayon::prelude::*;
        // the shards end their open connections on all threads
        self.shards.par_iter_mut().for_each(Assembler::finish_all);
        self.collect();
        let dhcp = std::mem::take(&mut self.dhcp).finish();
        let (mut carried, mut inner) = (Vec::new(), Vec::new());
        for a in &mut self.shards {
            carried.append(&mut a.emitted.tunnels);
            inner.append(&mut a.emitted.tunnelled);
        }
        let (tunnels, tunnel_parents) =
            super::tunnel::finish(std::mem::take(&mut self.tunnels), carried, inner);
        let out = Batch {
            dhcp,
            tunnels,
            tunnel_parents,
            ..std::mem::take(&mut self.out)
        };
        let gaps = self.shards.iter().map(|a| a.emitted.stream_gaps).sum();
        (out, gaps)
    }
}

/// How many of a shard's packets ahead their fields are fetched into the cache.
const PREFETCH_PACKETS: usize = 4;

/// Starts loading what the shard reads of its coming packets: each shard reads every
/// sixteenth packet of the chunk or so, which no hardware prefetcher foresees, and `perf
/// annotate` put three quarters of the shard loop's own samples on the load of a packet's
/// fields. Its fields are fetched [`PREFETCH_PACKETS`] packets ahead, and the next packet's
/// payload.
fn prefetch_ahead(packets: &[Packet], data: &[u8], mine: &[u32], k: usize) {
    if let Some(&n) = mine.get(k + PREFETCH_PACKETS) {
        // a packet (88 bytes) spans two cache lines, or three: its start, and where the next
        // one starts
        for p in packets.get(n as usize..).unwrap_or_default().iter().take(2) {
            prefetch(p);
        }
    }
    let next = mine.get(k + 1).and_then(|&n| packets.get(n as usize));
    if let Some(b) = next
        .filter(|p| p.len > 0)
        .and_then(|p| data.get(p.at as usize))
    {
        prefetch(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{PacketMeta, TcpFlags, Timeouts, shard_of, tls};
    use crate::record::{Conn, ConnState, Proto};
    use std::net::IpAddr;

    #[allow(clippy::too_many_arguments)]
    fn tcp(
        ts: f64,
        src: [u8; 4],
        sport: u16,
        dst: [u8; 4],
        dport: u16,
        flags: &str,
        seq: u32,
        payload: u32,
    ) -> PacketMeta {
        PacketMeta {
            ts,
            src: src.into(),
            dst: dst.into(),
            proto: Proto::Tcp,
            sport,
            dport,
            flags: TcpFlags {
                syn: flags.contains('S'),
                ack: flags.contains('A'),
                fin: flags.contains('F'),
                rst: flags.contains('R'),
            },
            seq,
            payload,
            ip_len: 40 + payload,
            icmp6: false,
            window: 64_000,
        }
    }

    #[test]
    fn room_is_reserved_down_to_what_the_system_gives() {
        let mut v: Vec<u64> = Vec::new();
        reserve_up_to(&mut v, 1000);
        assert!(v.capacity() >= 1000);
        // more bytes than an address space holds: refused, then halved until it fits
        let mut w: Vec<u64> = Vec::new();
        reserve_up_to(&mut w, usize::MAX / 4);
        assert!(w.capacity() < usize::MAX / 8, "{}", w.capacity());
        assert!(w.capacity() > 0, "nothing was reserved");
        w.push(1);
        assert_eq!(w, [1]);
    }

    const C: [u8; 4] = [10, 0, 0, 1];
    const S: [u8; 4] = [10, 0, 0, 2];

    /// Feeds packets with payloads the way the capture reader does.
    fn feed(c: &mut Capture, packets: &[(PacketMeta, &[u8])]) {
        let mut data = Vec::new();
        let packets: Vec<Packet> = packets
            .iter()
            .map(|(meta, payload)| {
                let at = data.len() as u32;
                data.extend_from_slice(payload);
                Packet {
                    meta: *meta,
                    at,
                    len: payload.len() as u32,
                    shard: shard_of(meta),
                    carries: None,
                    encap: 0,
                }
            })
            .collect();
        c.feed(&packets, &data, &[], &mut Spent::default());
    }

    fn run(packets: &[PacketMeta]) -> Vec<Conn> {
        let mut c = Capture::new(Timeouts::default());
        let with: Vec<(PacketMeta, &[u8])> = packets.iter().map(|p| (*p, &[][..])).collect();
        feed(&mut c, &with);
        c.finish().0.conns
    }

    #[test]
    fn full_handshake_data_and_fins_is_sf_with_payload_bytes() {
        let c = run(&[
            tcp(1.0, C, 5000, S, 80, "S", 100, 0),
            tcp(1.1, S, 80, C, 5000, "SA", 900, 0),
            tcp(1.2, C, 5000, S, 80, "A", 101, 0),
            tcp(1.3, C, 5000, S, 80, "A", 101, 50),
            tcp(1.4, S, 80, C, 5000, "A", 901, 300),
            tcp(1.5, C, 5000, S, 80, "FA", 151, 0),
            tcp(1.6, S, 80, C, 5000, "FA", 1201, 0),
            tcp(1.7, C, 5000, S, 80, "A", 152, 0),
        ]);
        assert_eq!(c.len(), 1);
        let c = &c[0];
        assert_eq!(
            (
                c.conn_state,
                c.orig_bytes,
                c.resp_bytes,
                c.orig_pkts,
                c.resp_pkts
            ),
            (ConnState::SF, 50, 300, 5, 3)
        );
        assert!(
            (c.duration - 0.6).abs() < 1e-9,
            "the last ACK after both FINs does not extend it"
        );
        let uid = c.uid.text();
        assert!(uid.starts_with('C') && uid.len() == 18);
        assert_eq!(
            c.history.as_str(),
            "ShADdFf",
            "Zeek's history letters (the server never sends a pure ACK)"
        );
    }

    #[test]
    fn states_for_attempts_rejections_and_resets() {
        let one = |p: &[PacketMeta]| run(p)[0].conn_state;
        assert_eq!(one(&[tcp(1.0, C, 5000, S, 22, "S", 1, 0)]), ConnState::S0);
        assert_eq!(
            one(&[
                tcp(1.0, C, 5000, S, 22, "S", 1, 0),
                tcp(1.1, S, 22, C, 5000, "RA", 0, 0)
            ]),
            ConnState::REJ
        );
        assert_eq!(
            one(&[
                tcp(1.0, C, 5000, S, 22, "S", 1, 0),
                tcp(1.1, S, 22, C, 5000, "SA", 9, 0),
                tcp(1.2, C, 5000, S, 22, "A", 2, 0)
            ]),
            ConnState::S1
        );
        assert_eq!(
            one(&[
                tcp(1.0, C, 5000, S, 22, "S", 1, 0),
                tcp(1.1, S, 22, C, 5000, "SA", 9, 0),
                tcp(1.2, C, 5000, S, 22, "RA", 2, 0)
            ]),
            ConnState::RSTO
        );
        assert_eq!(one(&[tcp(1.0, C, 5000, S, 22, "A", 1, 10)]), ConnState::OTH);
    }

    fn udp(ts: f64, src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, len: usize) -> PacketMeta {
        PacketMeta {
            proto: Proto::Udp,
            flags: TcpFlags::default(),
            seq: 0,
            payload: len as u32,
            ip_len: 28 + len as u32,
            ..tcp(ts, src, sport, dst, dport, "", 0, 0)
        }
    }

    #[test]
    fn a_dns_row_is_named_by_its_query_then_its_response_then_its_first_answer() {
        // the response names another host than its query: the row keeps the query's
        let query = {
            let mut b = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
            b.extend(b"\x03www\x07example\x03com\x00");
            b.extend([0, 1, 0, 1]);
            b
        };
        let mut response = crate::flow::dns::tests::response();
        response[13..16].copy_from_slice(b"FTP");
        // an announcement: no question, one A record for host.local
        let mut announcement = vec![0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        announcement.extend(b"\x04Host\x05local\x00");
        announcement.extend([0, 1, 0, 1, 0, 0, 0, 120, 0, 4, 10, 0, 0, 9]);
        let mut c = Capture::new(Timeouts::default());
        feed(
            &mut c,
            &[
                (udp(1.0, C, 40000, S, 53, query.len()), &query[..]),
                (udp(1.1, S, 53, C, 40000, response.len()), &response[..]),
                (udp(2.0, S, 53, C, 40001, response.len()), &response[..]),
                (
                    udp(3.0, S, 5353, C, 5353, announcement.len()),
                    &announcement[..],
                ),
            ],
        );
        let mut rows: Vec<_> = c
            .finish()
            .0
            .dns
            .into_iter()
            .map(|d| (d.id.ts, d.query, d.qtype_name.to_string(), d.answers))
            .collect();
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        let expected = |ts: f64, query: &str, qtype: &str, answers: &[&str]| {
            let answers = answers.iter().map(|a| (*a).to_string()).collect();
            (ts, query.to_string(), qtype.to_string(), answers)
        };
        assert_eq!(
            rows,
            [
                expected(
                    1.0,
                    "www.example.com",
                    "A",
                    &["example.com", "93.184.216.34"]
                ),
                expected(
                    2.0,
                    "ftp.example.com",
                    "A",
                    &["example.com", "93.184.216.34"]
                ),
                expected(3.0, "host.local", "", &["10.0.0.9"]),
            ]
        );
    }

    #[test]
    fn tls_hellos_become_an_ssl_record() {
        let mut c = Capture::new(Timeouts::default());
        let hello = tls::tests::client_hello_bytes();
        // the hello arrives in two segments
        let (first, second) = hello.split_at(20);
        let n = |b: &[u8]| b.len() as u32;
        feed(
            &mut c,
            &[
                (tcp(1.0, C, 5000, S, 443, "S", 1, 0), &[]),
                (tcp(1.1, S, 443, C, 5000, "SA", 9, 0), &[]),
                (tcp(1.2, C, 5000, S, 443, "A", 2, n(first)), first),
                (
                    tcp(1.3, C, 5000, S, 443, "A", 2 + n(first), n(second)),
                    second,
                ),
            ],
        );
        let (batch, _) = c.finish();
        assert_eq!(batch.conns[0].service.as_str(), "ssl");
        assert!(batch.ssl[0].subject.is_empty(), "no certificate was seen");
        assert_eq!(batch.ssl.len(), 1);
        let s = &batch.ssl[0];
        assert_eq!(s.server_name, "example.com");
        assert_eq!(s.ja3.len(), 32);
        assert_eq!(
            batch.conns[0].uid,
            s.id.uid.as_str(),
            "the record carries its connection's uid"
        );
        assert!(!s.established, "no ServerHello was seen");
    }

    #[test]
    fn the_server_certificate_gives_subject_and_issuer() {
        let mut c = Capture::new(Timeouts::default());
        let hello = tls::tests::client_hello_bytes();
        let flight = tls::tests::server_flight();
        // the server's flight arrives in three segments
        let (first, rest) = flight.split_at(60);
        let (second, third) = rest.split_at(200);
        let n = |x: &[u8]| x.len() as u32;
        feed(
            &mut c,
            &[
                (tcp(1.0, C, 5000, S, 443, "S", 1, 0), &[]),
                (tcp(1.1, S, 443, C, 5000, "SA", 9, 0), &[]),
                (tcp(1.2, C, 5000, S, 443, "A", 2, n(&hello)), &hello),
                (tcp(1.3, S, 443, C, 5000, "A", 10, n(first)), first),
                (
                    tcp(1.4, S, 443, C, 5000, "A", 10 + n(first), n(second)),
                    second,
                ),
                (
                    tcp(
                        1.5,
                        S,
                        443,
                        C,
                        5000,
                        "A",
                        10 + n(first) + n(second),
                        n(third),
                    ),
                    third,
                ),
            ],
        );
        let (batch, _) = c.finish();
        assert_eq!(batch.ssl.len(), 1);
        let s = &batch.ssl[0];
        assert!(s.established);
        assert_eq!(s.version, "TLSv12");
        assert_eq!(s.subject, "CN=c2.example.net,O=Kalipso Test\\, Inc.,C=US");
        assert_eq!(s.issuer, s.subject);
    }

    #[test]
    fn syn_ack_first_flips_the_originator_and_timeouts_split() {
        let c = run(&[tcp(1.0, S, 80, C, 5000, "SA", 1, 0)]);
        assert_eq!((c[0].orig_h, c[0].orig_p), (IpAddr::from(C), 5000));
        let c = run(&[
            tcp(1.0, C, 5000, S, 80, "A", 1, 10),
            tcp(400.0, C, 5000, S, 80, "A", 11, 10),
        ]);
        assert_eq!(c.len(), 2, "5 minutes of silence end a TCP connection");
        let c = run(&[
            tcp(1.0, C, 5000, S, 80, "S", 1, 0),
            tcp(1.1, S, 80, C, 5000, "RA", 0, 0),
            tcp(2.0, C, 5000, S, 80, "S", 50, 0),
        ]);
        assert_eq!(
            c.len(),
            2,
            "a fresh SYN after a reset starts a new connection"
        );
        assert_ne!(c[0].uid, c[1].uid);
    }
}
