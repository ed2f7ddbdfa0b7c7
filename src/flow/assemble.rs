//! Flow assembly: the packets of one shard become connections with Zeek's semantics. One
//! table of live connections keyed by [`FlowKey`] (one hash probe per packet), inactivity
//! timeouts and Zeek's DNS session timer, the originator rules of a new connection, and the
//! application payloads handed to their parsers. Records are emitted with a [`Tag`] for the
//! shard merge ([`super::merge`]).
//!
//! It does not parse payloads (the parser files do) or merge shards.

use super::deadlines::Deadlines;
use super::history::History;
use super::http_stream::Parsed;
use super::key::{FiveTuple, FlowKey, uid};
use super::merge::{Out, PHASE_END, PHASE_PACKET, PHASE_SWEEP, PHASE_TIMER, Tag};
use super::records::{dns_row, http_row, ssh_row, ssl_row};
use super::service::Service;
use super::state::{Apps, Flow, Pending, Side};
use super::stream::Streams;
use super::tunnel::Carrier;
use super::{Encap, PacketMeta, Timeouts, dhcp, dhcp_log, dns, http, service, smtp, ssh};
use crate::record::{Conn, Dns, Http, Proto, Smtp, Ssh, Ssl, SymCache, Tunnel, TunnelKind};
use compact_str::CompactString;
use rustc_hash::FxHashMap;
use std::collections::BinaryHeap;
use std::collections::hash_map::Entry;
use thin_vec::ThinVec;

/// Ports Zeek's base analyzers register: a first packet from one of these to a port that is not
/// one is taken as the server's answer.
const LIKELY_SERVER_PORTS: &[u16] = &[
    21, 22, 25, 53, 67, 79, 80, 81, 88, 123, 135, 137, 139, 143, 161, 162, 443, 445, 465, 502, 514,
    563, 585, 587, 614, 631, 636, 989, 990, 992, 993, 995, 1080, 1434, 1812, 1883, 2123, 2152,
    2811, 3128, 3306, 3389, 3544, 4011, 4754, 5060, 5072, 5222, 5223, 5269, 5353, 5355, 6379, 6666,
    6667, 6668, 6669, 8000, 8080, 8888, 20000,
];
/// UDP ports whose connections get Zeek's DNS session timer.
const DNS_PORTS: &[u16] = &[53, 137, 5353, 5355];
/// Zeek's `tcp_close_delay` / `tcp_reset_delay`: a closed or reset TCP connection is retired
/// this long after its last packet.
const CLOSE_DELAY: f64 = 5.0;

/// A time at which a connection must be looked at again (earliest first in the heap): a DNS
/// session timer.
#[derive(Debug, PartialEq)]
struct Timer {
    at: f64,
    id: u64,
    key: FlowKey,
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Timer {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        o.at.total_cmp(&self.at).then(o.id.cmp(&self.id))
    }
}

/// The records one assembler emitted, each with its tag, and the tag of the records emitted
/// now.
#[derive(Debug, Default)]
pub(crate) struct Emitted {
    pub tag: Tag,
    /// Finished connections, in the order they ended.
    pub conns: Out<Conn>,
    /// dns.log records, in the order Zeek writes them (at the response, or when the
    /// connection ends for unanswered queries).
    pub dns: Out<Dns>,
    /// http.log records (at the response, or at the end for unanswered requests).
    pub http: Out<Http>,
    /// ssl.log records (when the connection ends).
    pub ssl: Out<Ssl>,
    /// ssh.log records (at a successful login, else when the connection ends).
    pub ssh: Out<Ssh>,
    /// DHCP messages (joined into dhcp.log rows across connections by the capture).
    pub dhcp: Out<dhcp_log::Seen>,
    /// smtp.log records (at the end of a message, or when the connection ends).
    pub smtp: Out<Smtp>,
    /// Connections whose in-order bytes a side gave up on (buffers bounded, see `stream`).
    pub stream_gaps: u64,
    /// tunnel.log rows of the connections that carried tunnels (put in order by the capture).
    pub tunnels: Vec<Tunnel>,
    /// The connections tunnels carried: uid, and the tunnels (joined into uids by the capture).
    pub tunnelled: Vec<(CompactString, Vec<(Encap, f64)>)>,
    /// Services and histories interned so far: the shared table's lock, taken for every
    /// connection by both threads, was a cache line they kept taking from each other.
    syms: SymCache,
}

impl Emitted {
    /// Retires a connection; in the sweep, timer and end phases its records are ordered by its
    /// start.
    fn retire(&mut self, mut f: Flow) {
        if self.tag.phase() != PHASE_PACKET {
            self.tag.ts = f.ts;
            self.tag.id = f.id;
        }
        if let Some(apps) = f.apps.as_mut() {
            if let Some(t) = apps.tunnel.take() {
                self.tunnelled.push((f.uid.clone(), t.parents));
            }
            if let Some(c) = apps.carrier.take() {
                self.tunnels.extend(c.rows(&f.uid, f.orig, f.resp, f.last));
            }
        }
        self.unanswered(&mut f);
        let conn = f.into_conn(&mut self.syms);
        self.conns.push(self.tag, conn);
    }

    /// Logs the SMTP transactions a session finished.
    fn smtp_rows(&mut self, f: &Flow, session: &mut smtp::Session) {
        for mut row in session.rows.drain(..) {
            row.id = f.endpoints(row.id.ts);
            self.smtp.push(self.tag, row);
        }
    }

    /// Logs the queries, requests and hellos of a connection that never got an answer.
    fn unanswered(&mut self, f: &mut Flow) {
        for q in std::mem::take(&mut f.dns_pending) {
            let row = dns_row(f, q.ts, q.question, None);
            self.dns.push(self.tag, row);
        }
        if let Some(t) = f.tls.take() {
            if let Some((ts, ch)) = t.client {
                self.ssl
                    .push(self.tag, ssl_row(f, ts, ch, t.server, t.cert));
            }
        }
        let Some(mut apps) = f.apps.take() else {
            return;
        };
        if apps.tcp.as_deref().is_some_and(Streams::gave_up) {
            self.stream_gaps += 1;
        }
        if let Some(mut h) = apps.http.take() {
            let (pending, since) = apps
                .tcp
                .as_deref()
                .map_or(([&[][..], &[][..]], [0.0; 2]), |s| {
                    ([&s.pending[0][..], &s.pending[1][..]], s.since)
                });
            let parsed = h.finish(pending, since);
            self.http_parsed(f, &mut apps.http_pending, parsed);
        }
        for r in std::mem::take(&mut apps.http_pending) {
            self.http.push(self.tag, http_row(f, r, None));
        }
        if let Some(mut session) = apps.smtp.take() {
            session.finish();
            self.smtp_rows(f, &mut session);
        }
        if let Some(session) = apps.ssh.take() {
            if session.started() && !session.logged {
                self.ssh.push(self.tag, ssh_row(f, &session, f.last));
            }
        }
    }

    /// Queues a connection's new requests and pairs its complete responses with them (1xx
    /// interim responses answer nothing).
    fn http_parsed(
        &mut self,
        f: &Flow,
        pending: &mut std::collections::VecDeque<http::HttpRequest>,
        parsed: Parsed,
    ) {
        pending.extend(parsed.requests);
        for res in parsed.responses.iter().filter(|r| r.code >= 200) {
            if let Some(req) = pending.pop_front() {
                let row = http_row(f, req, Some(res));
                self.http.push(self.tag, row);
            }
        }
    }

    /// Handles one DNS message of a connection: a query waits for its response, a response
    /// makes the dns.log row.
    fn dns_message(
        &mut self,
        f: &Flow,
        pending: &mut ThinVec<Pending>,
        ts: f64,
        m: dns::Message<'_>,
    ) {
        let question = |m: &dns::Message<'_>| m.question.map(|(name, t, c)| (name.text(), t, c));
        if !m.response {
            pending.push(Pending {
                id: m.id,
                ts,
                question: question(&m),
            });
            return;
        }
        // the response's own question is read only when its query had none
        let (ts, question) = match pending.iter().position(|q| q.id == m.id) {
            Some(i) => {
                let q = pending.remove(i);
                (q.ts, q.question.or_else(|| question(&m)))
            }
            None => (ts, question(&m)),
        };
        let row = dns_row(f, ts, question, Some(m));
        self.dns.push(self.tag, row);
    }
}

/// A new connection from its first packet: the originator is the sender, except that a
/// SYN-ACK, or a packet from a well-known server port to another port, is the server's answer.
/// Also says whether it gets Zeek's DNS session timer.
fn new_flow(seq: u64, p: &PacketMeta, sent: FiveTuple) -> (Flow, bool) {
    let syn_only = p.proto == Proto::Tcp && p.flags.syn && !p.flags.ack;
    let orig_is_src = if p.proto == Proto::Tcp && p.flags.syn && p.flags.ack {
        false
    } else {
        let from_server = matches!(p.proto, Proto::Tcp | Proto::Udp)
            && !syn_only
            && LIKELY_SERVER_PORTS.contains(&p.sport)
            && !LIKELY_SERVER_PORTS.contains(&p.dport);
        !from_server
    };
    let tuple = if orig_is_src { sent } else { sent.reversed() };
    // unknown transports carry their protocol number in the tuple's ports
    let port = |p: u16| if tuple.proto == Proto::Unknown { 0 } else { p };
    let flow = Flow {
        proto: tuple.proto,
        id: seq,
        uid: uid(&tuple, p.ts, seq),
        service: None,
        spoke: [false; 2],
        tunnelled: false,
        closed_alone: false,
        history: if orig_is_src {
            History::default()
        } else {
            History::flipped()
        },
        dns_pending: ThinVec::new(),
        tls: None,
        apps: None,
        ts: p.ts,
        last: p.ts,
        orig: (tuple.orig.0, port(tuple.orig.1)),
        resp: (tuple.resp.0, port(tuple.resp.1)),
        o: Side::default(),
        r: Side::default(),
    };
    let timer = p.proto == Proto::Udp
        && (DNS_PORTS.contains(&tuple.orig.1) || DNS_PORTS.contains(&tuple.resp.1));
    (flow, timer)
}

/// How long after its last packet `f` is retired: idle past its protocol's timeout, or, once
/// closed, past the close delay (whichever comes first).
fn expiry_delay(f: &Flow, timeout: f64) -> f64 {
    if f.closed() {
        timeout.min(CLOSE_DELAY)
    } else {
        timeout
    }
}

/// How far past a sweep a deadline still counts as due: it covers the rounding of
/// `last + delay` against `now - last > delay`.
const DUE_MARGIN: f64 = 1e-3;

/// Builds the connections of one shard of the capture's flows. Packets arrive in capture order
/// with their global sequence number; sweep points are the same for every shard.
#[derive(Debug, Default)]
pub(crate) struct Assembler {
    timeouts: Timeouts,
    active: FxHashMap<FlowKey, Flow>,
    timers: BinaryHeap<Timer>,
    /// Expiry candidates (connection id and key), by time: every live connection has an entry
    /// at or before the time it may be retired (entries go stale as packets come; `tick`
    /// checks and re-files them). A sweep then visits the connections that may expire, not
    /// all live ones.
    deadlines: Deadlines<(u64, FlowKey)>,
    /// What it emitted so far (taken by the capture after every chunk).
    pub emitted: Emitted,
    /// A sweep's due candidates, expired connections and re-filed candidates, kept between
    /// sweeps so each does not regrow them.
    due: Vec<(f64, (u64, FlowKey))>,
    expired: Vec<(f64, u64, FlowKey)>,
    later: Vec<(f64, (u64, FlowKey))>,
}

impl Assembler {
    /// A new assembler.
    pub fn new(timeouts: Timeouts) -> Self {
        Assembler {
            timeouts,
            ..Assembler::default()
        }
    }

    fn timeout(&self, p: Proto) -> f64 {
        match p {
            Proto::Tcp => self.timeouts.tcp,
            Proto::Udp => self.timeouts.udp,
            _ => self.timeouts.icmp,
        }
    }

    /// Retires the connection with `key`, if it is live.
    fn finish(&mut self, key: &FlowKey) {
        if let Some(f) = self.active.remove(key) {
            self.emitted.retire(f);
        }
    }

    /// A sweep point (the same for every shard): retires the connections that are idle past
    /// their timeout, or closed and idle past the close delay, in the order they started (ties
    /// by creation), then fires the due timers.
    pub fn tick(&mut self, seq: u64, now: f64) {
        // most sweeps of most shards have nothing due (a shard sweeps every second of the
        // capture): leave as soon as that is known
        let mut due = std::mem::take(&mut self.due);
        self.deadlines.take_due(now + DUE_MARGIN, &mut due);
        if due.is_empty() && self.timers.peek().is_none_or(|t| t.at > now) {
            self.due = due;
            return;
        }
        self.emitted.tag = Tag::new(seq, PHASE_SWEEP);
        let (mut expired, mut later) = (
            std::mem::take(&mut self.expired),
            std::mem::take(&mut self.later),
        );
        for (_, (id, key)) in due.drain(..) {
            let Some(f) = self.active.get(&key).filter(|f| f.id == id) else {
                continue; // retired, or replaced by a newer connection
            };
            let delay = expiry_delay(f, self.timeout(f.proto));
            if now - f.last > delay {
                expired.push((f.ts, f.id, key));
            } else {
                later.push((f.last + delay, (id, key)));
            }
        }
        // (re-filed after the sweep: a candidate re-filed now is looked at by the next one)
        for (at, candidate) in later.drain(..) {
            self.deadlines.push(at, candidate);
        }
        self.due = due;
        self.later = later;
        expired.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        // a connection may have had two due entries
        expired.dedup_by(|a, b| a.1 == b.1 && a.2 == b.2);
        for (_, _, k) in expired.drain(..) {
            self.finish(&k);
        }
        self.expired = expired;
        self.timers_due(seq, now);
    }

    /// Zeek's DNS analyzer timer fires lazily at the first packet at or after its time: it
    /// expires the connection after 9 s without packets, else re-arms for 10 s. (Here: at the
    /// first packet of the same shard or sweep point.)
    fn timers_due(&mut self, seq: u64, now: f64) {
        self.emitted.tag = Tag::new(seq, PHASE_TIMER);
        while self.timers.peek().is_some_and(|t| t.at <= now) {
            let Some(t) = self.timers.pop() else { break };
            let idle = match self.active.get(&t.key) {
                Some(f) if f.id == t.id => now - f.last,
                _ => continue,
            };
            if idle >= 9.0 {
                self.finish(&t.key);
            } else {
                self.timers.push(Timer {
                    at: now + 10.0,
                    ..t
                });
            }
        }
    }

    /// Adds one packet (number `seq` of the capture); `payload` is its captured transport
    /// payload.
    #[allow(clippy::too_many_lines)] // the packet's way through one connection, in order
    pub fn packet(
        &mut self,
        seq: u64,
        p: &PacketMeta,
        payload: &[u8],
        carries: Option<TunnelKind>,
        encap: &[Encap],
    ) {
        self.timers_due(seq, p.ts);
        self.emitted.tag = Tag::new(seq, PHASE_PACKET);
        let tuple = FiveTuple::of_packet(p);
        let key = tuple.key();
        let timeout = self.timeout(p.proto);
        // an idle connection, or a fresh SYN after a closed one, starts a new connection
        let ended =
            |f: &Flow| p.ts - f.last > timeout || (f.closed() && p.flags.syn && !p.flags.ack);
        let mut is_new = true;
        let f = match self.active.entry(key) {
            Entry::Occupied(o) if !ended(o.get()) => {
                is_new = false;
                o.into_mut()
            }
            Entry::Occupied(mut o) => {
                let (flow, timer) = new_flow(seq, p, tuple);
                let old = std::mem::replace(o.get_mut(), flow);
                self.emitted.retire(old);
                if timer {
                    self.timers.push(Timer {
                        at: p.ts + 10.0,
                        id: seq,
                        key,
                    });
                }
                o.into_mut()
            }
            Entry::Vacant(v) => {
                let (flow, timer) = new_flow(seq, p, tuple);
                if timer {
                    self.timers.push(Timer {
                        at: p.ts + 10.0,
                        id: seq,
                        key,
                    });
                }
                v.insert(flow)
            }
        };
        let is_orig = if matches!(p.proto, Proto::Icmp | Proto::Unknown) {
            p.src == f.orig.0
        } else {
            p.src == f.orig.0 && tuple.orig.1 == f.orig.1 && p.dst == f.resp.0
        };
        let both_fin = p.proto == Proto::Tcp && f.o.flags.fin && f.r.flags.fin;
        let retransmission = p.proto == Proto::Tcp && {
            let s = if is_orig { &f.o } else { &f.r };
            p.payload > 0
                && s.seq.is_some()
                && s.seq_max.wrapping_sub(p.seq.wrapping_add(p.payload)) < 1 << 31
        };
        f.history.record(p, is_orig, retransmission);
        if !encap.is_empty() || f.tunnelled {
            f.tunnelled = true;
            let apps = f.apps.get_or_insert_with(Box::default);
            let t = apps.tunnel.get_or_insert_with(Box::default);
            if t.packet(encap, p.ts, is_new) {
                f.history.add(b'X');
            }
        }
        let peer_silent = if is_orig {
            f.r.pkts == 0
        } else {
            f.o.pkts == 0
        };
        // Zeek's close is complete when a side closes before the other sent anything
        f.closed_alone |= p.proto == Proto::Tcp && p.flags.fin && peer_silent;
        let side = if is_orig { &mut f.o } else { &mut f.r };
        side.pkts += 1;
        side.ip_bytes += u64::from(p.ip_len);
        side.payload += u64::from(p.payload);
        if p.proto == Proto::Tcp {
            side.flags.syn |= p.flags.syn;
            side.flags.ack |= p.flags.syn && p.flags.ack; // only a SYN-ACK marks "SA"
            side.flags.fin |= p.flags.fin;
            side.flags.rst |= p.flags.rst;
            let syn = u32::from(p.flags.syn);
            if side.seq.is_none() {
                side.seq = Some(p.seq.wrapping_add(syn));
                side.seq_max = p.seq.wrapping_add(syn);
            }
            let end = p.seq.wrapping_add(syn).wrapping_add(p.payload);
            if end.wrapping_sub(side.seq_max) < 1 << 31 {
                side.seq_max = end;
            }
            if p.flags.fin && side.fin_end.is_none() {
                side.fin_end = Some(end);
            }
        }
        // Packets after both FINs are counted but do not extend the duration.
        if !both_fin {
            f.last = p.ts;
        }
        // a new connection, or one that this packet closed (its delay shrank), files an expiry
        // candidate; later packets only move the real time later
        if is_new || f.closed() {
            self.deadlines
                .push(f.last + expiry_delay(f, timeout), (f.id, key));
        }
        if payload.is_empty() || !matches!(p.proto, Proto::Tcp | Proto::Udp) {
            return;
        }
        let udp = p.proto == Proto::Udp;
        // Zeek's application analyzers only see TCP connections whose SYN they saw; a
        // connection picked up mid-stream gets no service.
        if !udp && !f.o.flags.syn {
            return;
        }
        let side = usize::from(!is_orig);
        if let Some(kind) = carries {
            // the tunnel's bytes are the packets inside, not an application's
            let apps = f.apps.get_or_insert_with(Box::default);
            let c = apps.carrier.get_or_insert(Carrier {
                kind,
                first: p.ts,
                valid: [false; 2],
            });
            c.valid[side] = true;
            if f.service.is_none() {
                f.service = c.service();
            }
            return;
        }
        if !f.spoke[side] {
            f.spoke[side] = true;
            if f.service.is_none() {
                f.service = service::detect_service(payload, udp, (f.orig.1, f.resp.1));
            }
        }
        if f.service == Some(Service::Dhcp) && udp {
            if let Some(msg) = dhcp::parse(payload) {
                let seen = dhcp_log::Seen {
                    ts: p.ts,
                    uid: f.uid.clone(),
                    orig: f.orig,
                    resp: f.resp,
                    is_orig,
                    msg,
                };
                self.emitted.dhcp.push(self.emitted.tag, seen);
            }
            return;
        }
        if f.service == Some(Service::Ssl) && !udp {
            let t = f.tls.get_or_insert_with(Box::default);
            t.read(is_orig, payload, p.ts);
            return;
        }
        if f.service == Some(Service::Dns) && udp {
            if let Some(m) = dns::parse(payload) {
                let mut pending = std::mem::take(&mut f.dns_pending);
                self.emitted.dns_message(f, &mut pending, p.ts, m);
                f.dns_pending = pending;
            }
            return;
        }
        if !matches!(
            f.service,
            Some(Service::Ssh | Service::Http | Service::Dns | Service::Smtp)
        ) {
            return;
        }
        // the parsers' state is taken out of the connection while they run, and put back
        let mut apps = f.apps.take().unwrap_or_default();
        Self::parse_payload(&mut self.emitted, f, &mut apps, p, payload, is_orig);
        f.apps = Some(apps);
    }

    /// Hands one packet's payload to the parser of its connection's service.
    fn parse_payload(
        emitted: &mut Emitted,
        f: &mut Flow,
        apps: &mut Apps,
        p: &PacketMeta,
        payload: &[u8],
        is_orig: bool,
    ) {
        let udp = p.proto == Proto::Udp;
        let side = usize::from(!is_orig);
        // the sequence number of the payload's first byte (a SYN takes one)
        let seq = p.seq.wrapping_add(u32::from(p.flags.syn));
        let (first_orig, first_resp) = (f.o.seq, f.r.seq);
        let new_streams = || Box::new(Streams::new(first_orig, first_resp));
        if f.service == Some(Service::Ssh) && !udp {
            let s = apps
                .ssh
                .get_or_insert_with(|| Box::new(ssh::Session::new(f.o.seq, f.r.seq)));
            if s.segment(is_orig, seq, payload, p.ts) == ssh::Outcome::LoggedIn {
                let row = ssh_row(f, s, p.ts);
                emitted.ssh.push(emitted.tag, row);
            }
            return;
        }
        if f.service == Some(Service::Http) && !udp {
            let Apps {
                tcp,
                http,
                http_pending,
                ..
            } = apps;
            let streams = tcp.get_or_insert_with(new_streams);
            let h = http.get_or_insert_with(Box::default);
            streams.feed(side, seq, payload, p.ts, &mut |bytes, at| {
                let (used, parsed) = h.read(side, bytes, at);
                emitted.http_parsed(f, http_pending, parsed);
                used
            });
            return;
        }
        if f.service == Some(Service::Smtp) && !udp {
            let Apps { tcp, smtp, .. } = apps;
            let streams = tcp.get_or_insert_with(new_streams);
            let (orig, resp) = (f.orig.0, f.resp.0);
            let s = smtp.get_or_insert_with(|| Box::new(smtp::Session::new(orig, resp)));
            streams.feed(side, seq, payload, p.ts, &mut |bytes, at| {
                s.read(side, bytes, at)
            });
            if !s.rows.is_empty() {
                emitted.smtp_rows(f, s);
            }
            return;
        }
        if f.service == Some(Service::Dns) {
            // over TCP each message has a 2-byte length and may span segments
            let streams = apps.tcp.get_or_insert_with(new_streams);
            let mut pending = std::mem::take(&mut f.dns_pending);
            streams.feed(side, seq, payload, p.ts, &mut |bytes, at| {
                let (messages, used) = dns::tcp_messages(bytes);
                for m in messages.into_iter().filter_map(dns::parse) {
                    emitted.dns_message(f, &mut pending, at, m);
                }
                used
            });
            f.dns_pending = pending;
        }
    }

    /// Ends the capture: the connections still open are emitted by start time.
    pub fn finish_all(&mut self) {
        self.deadlines.clear();
        let mut open: Vec<Flow> = self.active.drain().map(|(_, f)| f).collect();
        open.sort_by(|a, b| a.ts.total_cmp(&b.ts).then(a.id.cmp(&b.id)));
        self.emitted.tag = Tag::new(u64::MAX >> 2, PHASE_END);
        for f in open {
            self.emitted.retire(f);
        }
    }
}
