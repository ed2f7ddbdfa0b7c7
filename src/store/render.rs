//! The exact JSON strings Slips v1.0.0 keeps in Redis for each key's fields: aggregates, tuples,
//! timeline entries, flows and application flows, in Slips' key order and Python's spelling.
//!
//! The hot values (window fields, aggregates, tuples, timeline entries, flows) are written by
//! hand into one buffer: serde's derive with a Python formatter cost a fifth of the CPU of a
//! `--redis` export. A test keeps the derived structs they replaced as oracles and checks every value of
//! a random store against them. The rare values (application flows, DNS resolutions, IP info)
//! stay derived, through [`to_json`].
//!
//! With the documented fixes: integer counters (Slips v1.0.0 kept TSV numbers as floats), no
//! space in `…NotEstablished`, in-tuples keyed by the client. The data comes from the store and
//! the timeline model ([`super::timeline`]); nothing here decides what is shown.

use super::python::{
    push_int, push_json_float, push_py_datetime, push_py_str, push_slips_timestamp, round3, to_json,
};
use super::timeline::{InfoValue, Interpretation, TimelineEntry, timeline_row};
use super::{AltRef, Store};
use crate::profile::aggregate::{self, Aggregate, Family, OrderedMap};
use crate::profile::{Tuple, TupleTimes, Window};
use crate::record::{Conn, Proto};
use crate::record::{ip_text, push_ip};
use serde::Serialize;
use std::net::IpAddr;

/// Appends `"<ip>"`.
fn push_ip_str(s: &mut String, ip: IpAddr) {
    s.push('"');
    push_ip(s, ip);
    s.push('"');
}

/// Appends `, ` before every item but the first.
fn push_sep(s: &mut String, first: bool) {
    if !first {
        s.push_str(", ");
    }
}

/// Appends `"<key>": ` (keys are ASCII names).
fn push_key(s: &mut String, key: &str) {
    s.push('"');
    s.push_str(key);
    s.push_str("\": ");
}

/// Appends the uids of connections, by index, as a list.
fn push_uids(s: &mut String, store: &Store, flows: &[u32]) {
    s.push('[');
    for (i, &f) in flows.iter().enumerate() {
        push_sep(s, i == 0);
        push_py_str(s, &store.conns[f as usize].uid.text());
    }
    s.push(']');
}

/// Appends `"totalflows": F, "totalpkt": P, "totalbytes": B`.
fn push_totals(s: &mut String, flows: u64, pkts: u64, bytes: u64) {
    s.push_str("\"totalflows\": ");
    push_int(s, flows);
    s.push_str(", \"totalpkt\": ");
    push_int(s, pkts);
    s.push_str(", \"totalbytes\": ");
    push_int(s, bytes);
}

/// One aggregate field's JSON (spec §1.6): for each IP, `totalflows`, `totalpkt`,
/// `totalbytes`, `stime`, `uid` and `dstports`; for each port, the totals and its peers
/// (`dstips` for a client family, `srcips` for a server one), each with `pkts`, `spkts`, `stime`
/// and `uid`.
///
/// Written by hand rather than through `serde_json`, as [`flow_json`] is: these values, with
/// their uid lists, were about a third of a `--redis` run's CPU. A test holds them equal to the
/// derived structs they replaced (`derived::derived_aggregate`).
pub fn aggregate_json(store: &Store, fam: Family, agg: &Aggregate) -> String {
    let mut s = String::with_capacity(256);
    s.push('{');
    match agg {
        Aggregate::Ips(m) => {
            for (i, (ip, e)) in m.iter().enumerate() {
                push_sep(&mut s, i == 0);
                push_ip_str(&mut s, *ip);
                s.push_str(": {");
                push_totals(&mut s, e.flows, e.pkts, e.bytes);
                s.push_str(", \"stime\": \"");
                push_py_datetime(&mut s, e.first_ts);
                s.push_str("\", \"uid\": ");
                push_uids(&mut s, store, &e.uids);
                s.push_str(", \"dstports\": {");
                for (j, (port, pkts)) in e.dstports.iter().enumerate() {
                    push_sep(&mut s, j == 0);
                    s.push('"');
                    push_int(&mut s, *port);
                    s.push_str("\": ");
                    push_int(&mut s, *pkts);
                }
                s.push_str("}}");
            }
        }
        Aggregate::Ports(m) => {
            let peers_name = if fam.is_server() { "srcips" } else { "dstips" };
            for (i, (port, e)) in m.iter().enumerate() {
                push_sep(&mut s, i == 0);
                s.push('"');
                push_int(&mut s, *port);
                s.push_str("\": {");
                push_totals(&mut s, e.flows, e.pkts, e.bytes);
                s.push_str(", ");
                push_key(&mut s, peers_name);
                s.push('{');
                for (j, (ip, p)) in e.peers.iter().enumerate() {
                    push_sep(&mut s, j == 0);
                    push_ip_str(&mut s, *ip);
                    s.push_str(": {\"pkts\": ");
                    push_int(&mut s, p.pkts);
                    s.push_str(", \"spkts\": ");
                    push_int(&mut s, p.spkts);
                    s.push_str(", \"stime\": \"");
                    push_py_datetime(&mut s, p.first_ts);
                    s.push_str("\", \"uid\": ");
                    push_uids(&mut s, store, &p.uids);
                    s.push('}');
                }
                s.push_str("}}");
            }
        }
    }
    s.push('}');
    s
}

/// `DstIPs` / `SrcIPs`: flows per IP, `{"<ip>": N}`.
fn counts_json(m: &OrderedMap<IpAddr, u64>) -> String {
    let mut s = String::with_capacity(16 + 24 * m.len());
    s.push('{');
    for (i, (ip, n)) in m.iter().enumerate() {
        push_sep(&mut s, i == 0);
        push_ip_str(&mut s, *ip);
        s.push_str(": ");
        push_int(&mut s, *n);
    }
    s.push('}');
    s
}

/// A float, or Python's `False` where Slips has none yet.
fn push_float_or_false(s: &mut String, v: Option<f64>) {
    match v {
        Some(v) => push_json_float(s, v),
        None => s.push_str("false"),
    }
}

/// `OutTuples` / `InTuples` JSON: `{"<ip>-<port>-<proto>": ["<letters>", [prev|false, last]]}`.
/// `times` are each tuple's last two flow times ([`crate::profile::last_two_times`]).
pub fn tuples_json(w: &Window, tuples: &[Tuple], times: &[TupleTimes]) -> String {
    let mut s = String::with_capacity(16 + 64 * tuples.len());
    s.push('{');
    for (i, (t, &(prev, last))) in tuples.iter().zip(times).enumerate() {
        push_sep(&mut s, i == 0);
        // an address, a number and a protocol name: nothing to escape
        s.push('"');
        push_ip(&mut s, t.remote);
        s.push('-');
        push_int(&mut s, t.port);
        s.push('-');
        s.push_str(t.proto.as_str());
        s.push_str("\": [");
        push_py_str(&mut s, w.letters(t));
        s.push_str(", [");
        push_float_or_false(&mut s, prev);
        s.push_str(", ");
        push_float_or_false(&mut s, last);
        s.push_str("]]");
    }
    s.push('}');
    s
}

/// Every field of `profile_<ip>_timewindow<N>`, in a stable order.
pub fn window_fields(store: &Store, w: &Window) -> Vec<(String, String)> {
    window_fields_with(
        store,
        w,
        &WindowRenderers {
            counts: counts_json,
            tuples: tuples_json,
            aggregate: aggregate_json,
        },
    )
}

/// How one window's values are spelt: the hand-written functions, or (in tests) the derived
/// structs they are checked against.
struct WindowRenderers {
    counts: fn(&OrderedMap<IpAddr, u64>) -> String,
    tuples: fn(&Window, &[Tuple], &[TupleTimes]) -> String,
    aggregate: fn(&Store, Family, &Aggregate) -> String,
}

/// Which fields a window has, each spelt by `render`.
fn window_fields_with(
    store: &Store,
    w: &Window,
    render: &WindowRenderers,
) -> Vec<(String, String)> {
    type Peer = fn(&Conn) -> IpAddr;
    let mut fields = Vec::new();
    let directions: [(_, _, _, _, bool, Peer); 2] = [
        (
            "DstIPs",
            "OutTuples",
            &w.out_flows,
            &w.out_tuples,
            false,
            |c| c.resp_h,
        ),
        ("SrcIPs", "InTuples", &w.in_flows, &w.in_tuples, true, |c| {
            c.orig_h
        }),
    ];
    for (ips_field, tuples_field, flows, tuples, inbound, peer) in directions {
        if flows.is_empty() {
            continue;
        }
        let ips = aggregate::ip_counts(&store.conns, flows, inbound);
        fields.push((ips_field.to_string(), (render.counts)(&ips)));
        let times = crate::profile::last_two_times(tuples, flows, &store.conns, peer);
        fields.push((tuples_field.to_string(), (render.tuples)(w, tuples, &times)));
    }
    for fam in Family::ALL {
        let flows = if fam.is_server() {
            &w.in_flows
        } else {
            &w.out_flows
        };
        for ((proto, state), agg) in aggregate::family(&store.conns, flows, fam) {
            fields.push((
                fam.field(proto, state),
                (render.aggregate)(store, fam, &agg),
            ));
        }
    }
    fields.sort();
    fields
}

/// Appends a timeline entry's `info`: `""` without an application record, else its fields in
/// order.
fn push_info(s: &mut String, info: &Interpretation<'_>) {
    if *info == Interpretation::None {
        s.push_str("\"\"");
        return;
    }
    s.push('{');
    for (i, (k, v)) in info.fields().iter().enumerate() {
        push_sep(s, i == 0);
        push_py_str(s, k);
        s.push_str(": ");
        match v {
            InfoValue::Str(text) => push_py_str(s, text),
            InfoValue::List(list) => push_str_list(s, list.iter().map(String::as_str)),
        }
    }
    s.push('}');
}

/// Appends a list of strings.
fn push_str_list<'a>(s: &mut String, items: impl Iterator<Item = &'a str>) {
    s.push('[');
    for (i, item) in items.enumerate() {
        push_sep(s, i == 0);
        push_py_str(s, item);
    }
    s.push(']');
}

/// A timeline entry as Slips' timeline module would store it (spec §4.1); `None` for protocols
/// Slips leaves out of the timeline. Written by hand, as [`aggregate_json`] is; a test holds it
/// equal to the derived structs it replaced (`derived::derived_timeline`).
pub fn timeline_json(store: &Store, e: TimelineEntry) -> Option<String> {
    let r = timeline_row(store, e)?;
    let mut s = String::with_capacity(400);
    s.push_str("{\"timestamp\": \"");
    push_slips_timestamp(&mut s, r.ts);
    s.push_str("\", \"dport_name\": ");
    if r.proto == Proto::Icmp {
        push_py_str(&mut s, r.service.as_deref().unwrap_or("ICMP Unknown type"));
        s.push_str(", \"preposition\": \"from\", \"saddr\": ");
        push_ip_str(&mut s, r.saddr);
        s.push_str(", \"size\": ");
        push_int(&mut s, r.total());
        s.push_str(", \"duration\": ");
        push_json_float(&mut s, round3(r.duration));
        if r.service.is_none() {
            s.push_str(", \"type\": \"0x");
            push_int(&mut s, r.port);
            s.push('"');
        }
        s.push_str(", \"dns_resolution\": \"\", \"daddr\": ");
        push_ip_str(&mut s, r.daddr);
        s.push_str(", \"dport/proto\": \"");
        push_int(&mut s, r.port);
        s.push_str(
            "/ICMP\", \"state\": \"\", \"warning\": \"\", \"sent\": \"\", \"recv\": \"\", \
             \"tot\": \"\", \"critical warning\": \"\", \"info\": ",
        );
        push_info(&mut s, &r.info);
        s.push('}');
        return Some(s);
    }
    push_py_str(&mut s, r.service.as_deref().unwrap_or("????"));
    s.push_str(", \"preposition\": ");
    s.push_str(if r.incoming { "\"from\"" } else { "\"to\"" });
    s.push_str(", \"dns_resolution\": ");
    // `????`, up to three names as a list, else the last one
    match r.dns.len() {
        0 => s.push_str("\"????\""),
        1..=3 => push_str_list(&mut s, r.dns.iter().copied()),
        n => push_py_str(&mut s, r.dns[n - 1]),
    }
    if r.incoming {
        s.push_str(", \"saddr\": ");
        push_ip_str(&mut s, r.saddr);
    }
    s.push_str(", \"daddr\": ");
    push_ip_str(&mut s, r.daddr);
    s.push_str(", \"dport/proto\": \"");
    push_int(&mut s, r.port);
    s.push('/');
    s.push_str(r.proto.upper());
    s.push_str("\", \"state\": ");
    push_py_str(&mut s, r.state.human());
    s.push_str(", \"warning\": ");
    s.push_str(if r.total() == 0 {
        "\"No data exchange!\""
    } else {
        "\"\""
    });
    s.push_str(", \"info\": ");
    push_info(&mut s, &r.info);
    s.push_str(", \"sent\": ");
    push_int(&mut s, r.sent);
    s.push_str(", \"recv\": ");
    push_int(&mut s, r.recv);
    s.push_str(", \"tot\": ");
    push_int(&mut s, r.total());
    s.push_str(", \"duration\": ");
    push_json_float(&mut s, round3(r.duration));
    s.push_str(", \"critical warning\": ");
    s.push_str(if r.service.is_none() {
        "\"Protocol not recognized by Slips nor Zeek.\""
    } else {
        "\"\""
    });
    s.push('}');
    Some(s)
}

/// `_flows[uid]`: the connection as Slips stores it (spec §1.8).
///
/// Written by hand rather than through `serde_json`: there is one for every connection (two
/// when its destination is a home host), about a tenth of a `--redis` run's time through
/// `serde_json`. A test holds it equal to the derived struct it replaced (`tests::FlowJson`).
pub fn flow_json(c: &Conn) -> String {
    let mut s = String::with_capacity(320);
    s.push_str("{\"ts\": ");
    push_json_float(&mut s, c.ts);
    s.push_str(", \"dur\": ");
    push_json_float(&mut s, c.duration);
    s.push_str(", \"saddr\": ");
    push_ip_str(&mut s, c.orig_h);
    s.push_str(", \"sport\": ");
    push_int(&mut s, c.orig_p);
    s.push_str(", \"daddr\": ");
    push_ip_str(&mut s, c.resp_h);
    s.push_str(", \"dport\": ");
    push_int(&mut s, c.resp_p);
    s.push_str(", \"proto\": ");
    push_py_str(&mut s, c.proto.as_str());
    s.push_str(", \"origstate\": ");
    push_py_str(&mut s, c.conn_state.as_str());
    s.push_str(", \"state\": ");
    push_py_str(&mut s, c.established().human());
    s.push_str(", \"pkts\": ");
    push_int(&mut s, c.pkts());
    s.push_str(", \"allbytes\": ");
    push_int(&mut s, c.bytes());
    s.push_str(", \"spkts\": ");
    push_int(&mut s, c.orig_pkts);
    s.push_str(", \"sbytes\": ");
    push_int(&mut s, c.orig_bytes);
    s.push_str(", \"appproto\": ");
    push_py_str(&mut s, c.service.as_str());
    s.push_str(", \"flow_type\": \"conn\"}");
    s
}

#[derive(Serialize)]
struct DnsAltJson<'a> {
    uid: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    query: &'a str,
    qclass_name: &'a str,
    qtype_name: &'a str,
    rcode_name: &'a str,
    answers: &'a [String],
    ttls: &'a [f64],
    stime: f64,
}

/// An integer, or `""` where Zeek left it unset.
#[derive(Serialize)]
#[serde(untagged)]
enum IntOrEmpty {
    Int(u16),
    Empty(&'static str),
}

#[derive(Serialize)]
struct HttpAltJson<'a> {
    uid: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    method: &'a str,
    host: &'a str,
    uri: &'a str,
    version: &'a str,
    user_agent: &'a str,
    request_body_len: u64,
    response_body_len: u64,
    status_code: IntOrEmpty,
    status_msg: &'a str,
    resp_mime_types: &'a [String],
    resp_fuids: &'a [String],
    stime: f64,
    daddr: String,
}

#[derive(Serialize)]
struct SslAltJson<'a> {
    uid: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    version: &'a str,
    cipher: &'a str,
    resumed: &'static str,
    established: &'static str,
    subject: &'a str,
    issuer: &'a str,
    validation_status: &'a str,
    curve: &'a str,
    server_name: &'a str,
    daddr: String,
    dport: u16,
    stime: f64,
    ja3: &'a str,
    ja3s: &'a str,
}

/// Python's `str(bool)`.
fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// `_altflows[uid]`: an application record as Slips stores it (spec §1.8).
pub fn altflow_json(store: &Store, alt: AltRef) -> (String, String) {
    match alt {
        AltRef::Dns(i) => {
            let d = &store.dns[i as usize];
            let v = to_json(&DnsAltJson {
                uid: &d.id.uid,
                kind: "dns",
                query: &d.query,
                qclass_name: &d.qclass_name,
                qtype_name: &d.qtype_name,
                rcode_name: &d.rcode_name,
                answers: &d.answers,
                ttls: &d.ttls,
                stime: d.id.ts,
            });
            (d.id.uid.to_string(), v)
        }
        AltRef::Http(i) => {
            let h = &store.http[i as usize];
            let v = to_json(&HttpAltJson {
                uid: &h.id.uid,
                kind: "http",
                method: &h.method,
                host: &h.host,
                uri: &h.uri,
                version: &h.version,
                user_agent: &h.user_agent,
                request_body_len: h.request_body_len,
                response_body_len: h.response_body_len,
                status_code: h.status_code.map_or(IntOrEmpty::Empty(""), IntOrEmpty::Int),
                status_msg: &h.status_msg,
                resp_mime_types: &h.resp_mime_types,
                resp_fuids: &h.resp_fuids,
                stime: h.id.ts,
                daddr: ip_text(h.id.resp_h),
            });
            (h.id.uid.to_string(), v)
        }
        AltRef::Ssl(i) => {
            let s = &store.ssl[i as usize];
            let v = to_json(&SslAltJson {
                uid: &s.id.uid,
                kind: "ssl",
                version: &s.version,
                cipher: &s.cipher,
                resumed: py_bool(s.resumed),
                established: py_bool(s.established),
                subject: &s.subject,
                issuer: &s.issuer,
                validation_status: &s.validation_status,
                curve: &s.curve,
                server_name: &s.server_name,
                daddr: ip_text(s.id.resp_h),
                dport: s.id.resp_p,
                stime: s.id.ts,
                ja3: &s.ja3,
                ja3s: &s.ja3s,
            });
            (s.id.uid.to_string(), v)
        }
    }
}

#[derive(Serialize)]
struct ResolutionJson<'a> {
    ts: f64,
    uid: &'a str,
    domains: Vec<&'a str>,
    #[serde(rename = "resolved-by")]
    resolved_by: Vec<String>,
    timewindows: &'a [String],
}

/// `DNSresolution[ip]` (spec §1.9).
pub fn resolution_json(r: &super::Resolution) -> String {
    to_json(&ResolutionJson {
        ts: r.ts,
        uid: &r.uid,
        domains: r.domains.iter().map(|(d, _)| d.as_str()).collect(),
        resolved_by: r.resolved_by.iter().map(ToString::to_string).collect(),
        timewindows: &r.timewindows,
    })
}

#[derive(Serialize)]
struct SniJson<'a> {
    server_name: &'a str,
    dport: u16,
}

#[derive(Serialize)]
struct IpInfoJson<'a> {
    #[serde(rename = "SNI", skip_serializing_if = "Option::is_none")]
    sni: Option<Vec<SniJson<'a>>>,
}

/// `IPsInfo[ip]`: the server names TLS gave the address.
pub fn ip_info_json(sni: Option<&[(String, u16)]>) -> String {
    to_json(&IpInfoJson {
        sni: sni.map(|list| {
            list.iter()
                .map(|(server_name, dport)| SniJson {
                    server_name,
                    dport: *dport,
                })
                .collect()
        }),
    })
}

/// The window and timeline values as derived structs written by `serde_json`: the shapes
/// [`aggregate_json`], [`tuples_json`] and [`timeline_json`] write by hand.
#[cfg(test)]
mod derived {
    use super::super::Store;
    use super::super::python::{py_datetime, round3, slips_timestamp, to_json};
    use super::super::timeline::{InfoValue, Interpretation, TimelineEntry, timeline_row};
    use crate::profile::aggregate::{self, Aggregate, Family, OrderedMap};
    use crate::profile::{Tuple, TupleTimes, Window};
    use crate::record::{Proto, ip_text};
    use serde::Serialize;
    use serde::ser::{SerializeMap, Serializer};
    use std::fmt::Display;

    /// A map in its own order, keys written as text.
    struct Ordered<'a, K, V>(&'a OrderedMap<K, V>);

    impl<K: Display, V: Serialize> Serialize for Ordered<'_, K, V> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(Some(self.0.len()))?;
            for (k, v) in self.0 {
                m.serialize_entry(&k.to_string(), v)?;
            }
            m.end()
        }
    }

    /// The uids of connections, by index.
    struct Uids<'a>(&'a Store, &'a [u32]);

    impl Serialize for Uids<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.1.iter().map(|&i| self.0.conns[i as usize].uid.text()))
        }
    }

    #[derive(Serialize)]
    struct IpJson<'a> {
        totalflows: u64,
        totalpkt: u64,
        totalbytes: u64,
        stime: String,
        uid: Uids<'a>,
        dstports: Ordered<'a, u16, u64>,
    }

    #[derive(Serialize)]
    struct PeerJson<'a> {
        pkts: u64,
        spkts: u64,
        stime: String,
        uid: Uids<'a>,
    }

    /// A port's entry; its peers are `dstips` for a client family, `srcips` for a server one.
    struct PortJson<'a> {
        store: &'a Store,
        entry: &'a aggregate::PortEntry,
        peers_name: &'static str,
    }

    impl Serialize for PortJson<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let e = self.entry;
            let mut m = s.serialize_map(Some(4))?;
            m.serialize_entry("totalflows", &e.flows)?;
            m.serialize_entry("totalpkt", &e.pkts)?;
            m.serialize_entry("totalbytes", &e.bytes)?;
            let peers = e.peers.iter().map(|(ip, p)| {
                let v = PeerJson {
                    pkts: p.pkts,
                    spkts: p.spkts,
                    stime: py_datetime(p.first_ts),
                    uid: Uids(self.store, &p.uids),
                };
                (ip_text(*ip), v)
            });
            m.serialize_entry(self.peers_name, &Pairs::new(peers))?;
            m.end()
        }
    }

    /// Serializes `(key, value)` pairs, produced once, as an object.
    struct Pairs<I>(std::cell::Cell<Option<I>>);

    impl<I> Pairs<I> {
        fn new(items: I) -> Self {
            Pairs(std::cell::Cell::new(Some(items)))
        }
    }

    impl<K: Serialize, V: Serialize, I: Iterator<Item = (K, V)>> Serialize for Pairs<I> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.0.take().into_iter().flatten())
        }
    }

    /// One aggregate field's JSON through `serde_json`.
    fn derived_aggregate(store: &Store, fam: Family, agg: &Aggregate) -> String {
        match agg {
            Aggregate::Ips(m) => to_json(&Pairs::new(m.iter().map(|(ip, e)| {
                let v = IpJson {
                    totalflows: e.flows,
                    totalpkt: e.pkts,
                    totalbytes: e.bytes,
                    stime: py_datetime(e.first_ts),
                    uid: Uids(store, &e.uids),
                    dstports: Ordered(&e.dstports),
                };
                (ip_text(*ip), v)
            }))),
            Aggregate::Ports(m) => {
                let peers_name = if fam.is_server() { "srcips" } else { "dstips" };
                to_json(&Pairs::new(m.iter().map(|(port, entry)| {
                    let v = PortJson {
                        store,
                        entry,
                        peers_name,
                    };
                    (port.to_string(), v)
                })))
            }
        }
    }

    /// A float, or Python's `False` where Slips has none yet.
    #[derive(Serialize)]
    #[serde(untagged)]
    enum FloatOrFalse {
        Float(f64),
        False(bool),
    }

    impl From<Option<f64>> for FloatOrFalse {
        fn from(v: Option<f64>) -> Self {
            v.map_or(FloatOrFalse::False(false), FloatOrFalse::Float)
        }
    }

    /// `OutTuples` / `InTuples` JSON: `{"<ip>-<port>-<proto>": ["<letters>", [prev|false, last]]}`.
    /// `times` are each tuple's last two flow times ([`crate::profile::last_two_times`]).
    fn derived_tuples(w: &Window, tuples: &[Tuple], times: &[TupleTimes]) -> String {
        to_json(&Pairs::new(tuples.iter().zip(times).map(
            |(t, &(prev, last))| {
                let times = (FloatOrFalse::from(prev), FloatOrFalse::from(last));
                (t.key(), (w.letters(t), times))
            },
        )))
    }

    /// Every field of `profile_<ip>_timewindow<N>`, spelt by the derived structs.
    pub(super) fn derived_window_fields(store: &Store, w: &Window) -> Vec<(String, String)> {
        let render = super::WindowRenderers {
            counts: |m| to_json(&Ordered(m)),
            tuples: derived_tuples,
            aggregate: derived_aggregate,
        };
        super::window_fields_with(store, w, &render)
    }

    /// A timeline entry's `info`: `""` without an application record, else its fields in order.
    impl Serialize for Interpretation<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            if *self == Interpretation::None {
                return s.serialize_str("");
            }
            let fields = self.fields();
            let mut m = s.serialize_map(Some(fields.len()))?;
            for (k, v) in &fields {
                match v {
                    InfoValue::Str(text) => m.serialize_entry(k, text)?,
                    InfoValue::List(list) => m.serialize_entry(k, list)?,
                }
            }
            m.end()
        }
    }

    /// The DNS names of a timeline entry: `????`, up to three as a list, else the last one.
    #[derive(Serialize)]
    #[serde(untagged)]
    enum DnsNames<'a> {
        One(&'a str),
        List(&'a [&'a str]),
    }

    #[derive(Serialize)]
    struct IcmpTimelineJson<'a> {
        timestamp: String,
        dport_name: &'a str,
        preposition: &'static str,
        saddr: String,
        size: u64,
        duration: f64,
        #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
        icmp_type: Option<String>,
        dns_resolution: &'static str,
        daddr: String,
        #[serde(rename = "dport/proto")]
        dport_proto: String,
        state: &'static str,
        warning: &'static str,
        sent: &'static str,
        recv: &'static str,
        tot: &'static str,
        #[serde(rename = "critical warning")]
        critical_warning: &'static str,
        info: &'a Interpretation<'a>,
    }

    #[derive(Serialize)]
    struct FlowTimelineJson<'a> {
        timestamp: String,
        dport_name: &'a str,
        preposition: &'static str,
        dns_resolution: DnsNames<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        saddr: Option<String>,
        daddr: String,
        #[serde(rename = "dport/proto")]
        dport_proto: String,
        state: &'static str,
        warning: &'static str,
        info: &'a Interpretation<'a>,
        sent: u64,
        recv: u64,
        tot: u64,
        duration: f64,
        #[serde(rename = "critical warning")]
        critical_warning: &'static str,
    }

    /// A timeline entry as Slips' timeline module would store it (spec §4.1); `None` for protocols
    /// Slips leaves out of the timeline.
    pub(super) fn derived_timeline(store: &Store, e: TimelineEntry) -> Option<String> {
        let r = timeline_row(store, e)?;
        if r.proto == Proto::Icmp {
            return Some(to_json(&IcmpTimelineJson {
                timestamp: slips_timestamp(r.ts),
                dport_name: r.service.as_deref().unwrap_or("ICMP Unknown type"),
                preposition: "from",
                saddr: ip_text(r.saddr),
                size: r.total(),
                duration: round3(r.duration),
                icmp_type: r.service.is_none().then(|| format!("0x{}", r.port)),
                dns_resolution: "",
                daddr: ip_text(r.daddr),
                dport_proto: format!("{}/ICMP", r.port),
                state: "",
                warning: "",
                sent: "",
                recv: "",
                tot: "",
                critical_warning: "",
                info: &r.info,
            }));
        }
        let dns = match r.dns.len() {
            0 => DnsNames::One("????"),
            1..=3 => DnsNames::List(&r.dns),
            n => DnsNames::One(r.dns[n - 1]),
        };
        Some(to_json(&FlowTimelineJson {
            timestamp: slips_timestamp(r.ts),
            dport_name: r.service.as_deref().unwrap_or("????"),
            preposition: if r.incoming { "from" } else { "to" },
            dns_resolution: dns,
            saddr: r.incoming.then(|| ip_text(r.saddr)),
            daddr: ip_text(r.daddr),
            dport_proto: format!("{}/{}", r.port, r.proto.upper()),
            state: r.state.human(),
            warning: if r.total() == 0 {
                "No data exchange!"
            } else {
                ""
            },
            info: &r.info,
            sent: r.sent,
            recv: r.recv,
            tot: r.total(),
            duration: round3(r.duration),
            critical_warning: if r.service.is_none() {
                "Protocol not recognized by Slips nor Zeek."
            } else {
                ""
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ConnState, Sym, Uid};

    /// `_flows[uid]` as a derived struct written by `serde_json`: the shape [`flow_json`]
    /// writes by hand.
    #[derive(Serialize)]
    pub(super) struct FlowJson<'a> {
        ts: f64,
        dur: f64,
        saddr: String,
        sport: u16,
        daddr: String,
        dport: u16,
        proto: &'static str,
        origstate: &'static str,
        state: &'static str,
        pkts: u64,
        allbytes: u64,
        spkts: u64,
        sbytes: u64,
        appproto: &'a str,
        flow_type: &'static str,
    }

    fn derived(c: &Conn) -> String {
        to_json(&FlowJson {
            ts: c.ts,
            dur: c.duration,
            saddr: ip_text(c.orig_h),
            sport: c.orig_p,
            daddr: ip_text(c.resp_h),
            dport: c.resp_p,
            proto: c.proto.as_str(),
            origstate: c.conn_state.as_str(),
            state: c.established().human(),
            pkts: c.pkts(),
            allbytes: c.bytes(),
            spkts: c.orig_pkts,
            sbytes: c.orig_bytes,
            appproto: c.service.as_str(),
            flow_type: "conn",
        })
    }

    /// A store of random connections among a few hosts (IPv4 and IPv6, every protocol,
    /// services to escape, unknown ports) with DNS and HTTP records for some of them.
    fn random_store() -> Store {
        use crate::record::{Batch, Dns, Endpoints, Http};
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let hosts: Vec<IpAddr> = (0..12u8)
            .map(|i| {
                if i % 4 == 3 {
                    IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(i)])
                } else {
                    IpAddr::from([10, 0, i / 4, i])
                }
            })
            .collect();
        let services = ["", "dns", "http", "ssl,quic", "h\u{e9}llo", "a\"b", "\u{1}"];
        let states = ["SF", "S0", "REJ", "OTH", "RSTR"];
        let protos = ["tcp", "udp", "icmp"];
        let ports = [53u16, 80, 443, 8, 0, 22, 4444, 65_535];
        let mut batch = Batch::default();
        for n in 0..6_000u32 {
            let r = next();
            let (a, b) = (hosts[(r % 12) as usize], hosts[((r >> 8) % 12) as usize]);
            let uid = format!("C{n}x{}", r % 1000);
            let ts = 1_700_000_000.0 + f64::from(n) * 7.25 + (r % 1000) as f64 / 1e3;
            let resp_p = ports[((r >> 16) % 8) as usize];
            batch.conns.push(Conn {
                ts,
                orig_h: a,
                resp_h: b,
                orig_p: 1024 + (r >> 24) as u16 % 60_000,
                resp_p,
                proto: Proto::from_zeek(protos[((r >> 32) % 3) as usize]),
                conn_state: ConnState::from_zeek(states[((r >> 36) % 5) as usize]),
                service: Sym::new(services[((r >> 40) % 7) as usize]),
                history: Sym::default(),
                duration: ((r >> 44) % 100_000) as f64 / 997.0,
                uid: Uid::new(&uid),
                orig_bytes: (r >> 20) % 5000,
                resp_bytes: (r >> 30) % 3 * ((r >> 10) % 100_000),
                orig_pkts: (r >> 50) % 20,
                orig_ip_bytes: 0,
                resp_pkts: (r >> 54) % 20,
                resp_ip_bytes: 0,
            });
            let id = Endpoints {
                ts,
                uid: uid.as_str().into(),
                orig_h: a,
                orig_p: 3000,
                resp_h: b,
                resp_p,
            };
            match r % 9 {
                0 => batch.dns.push(Dns {
                    id,
                    query: format!("host{}.ex\u{e4}mple.org", r % 7),
                    qclass_name: "C_INTERNET".into(),
                    qtype_name: "A".into(),
                    rcode_name: "NOERROR".into(),
                    answers: (0..r % 3).map(|k| format!("10.0.0.{k}")).collect(),
                    ttls: vec![60.0; (r % 3) as usize],
                }),
                1 => batch.http.push(Http {
                    id,
                    method: "GET".into(),
                    host: "example.org".into(),
                    uri: format!("/a?q=\"{n}\""),
                    version: "1.1".into(),
                    user_agent: "curl/8".into(),
                    request_body_len: 0,
                    response_body_len: r % 900,
                    status_code: Some(200),
                    status_msg: "OK".into(),
                    resp_fuids: Vec::new(),
                    resp_mime_types: vec!["text/html".into()],
                }),
                _ => {}
            }
        }
        Store::build(batch, 0.0, crate::profile::ProfileConfig::default())
    }

    #[test]
    fn window_values_written_by_hand_are_the_derived_ones() {
        let store = random_store();
        let (mut windows, mut entries, mut fields) = (0, 0, 0);
        for p in store.profiles.values() {
            for w in p.windows.values() {
                let by_hand = window_fields(&store, w);
                assert_eq!(by_hand, derived::derived_window_fields(&store, w));
                fields += by_hand.len();
                windows += 1;
                for e in crate::store::timeline::timeline(&store, w) {
                    assert_eq!(
                        timeline_json(&store, e),
                        derived::derived_timeline(&store, e)
                    );
                    entries += 1;
                }
            }
        }
        // every family, both roles, and a timeline with DNS names and application records
        assert!(
            windows > 20 && fields > 200 && entries > 10_000,
            "{windows} {fields} {entries}"
        );
    }

    #[test]
    fn a_flow_written_by_hand_is_the_derived_one() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let floats = [
            0.0,
            -0.0,
            1e-5,
            1e-4,
            0.1,
            1.5,
            1e15,
            1e16,
            1.7e300,
            f64::NAN,
            f64::INFINITY,
        ];
        let services = [
            "",
            "dns",
            "ssl,quic",
            "h\u{e9}llo",
            "a\"b",
            "back\\slash",
            "\u{1}",
            "\u{1F600}",
        ];
        let states = ["SF", "S0", "REJ", "OTH", "-", "RSTR"];
        let protos = ["tcp", "udp", "icmp", "unknown_transport"];
        for _ in 0..20_000 {
            let r = next();
            let float = |k: u64| {
                if k % 3 == 0 {
                    floats[(k / 3 % floats.len() as u64) as usize]
                } else {
                    (k % 10_000_000_000) as f64 / 1e6 + 1_704_099_600.0 * ((k >> 40) & 1) as f64
                }
            };
            let ip = |k: u64| -> IpAddr {
                if k % 4 == 0 {
                    IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, (k >> 8) as u16, (k >> 24) as u16])
                } else {
                    IpAddr::from(((k >> 3) as u32).to_be_bytes())
                }
            };
            let c = Conn {
                ts: float(next()),
                orig_h: ip(next()),
                resp_h: ip(next()),
                orig_p: next() as u16,
                resp_p: next() as u16,
                proto: Proto::from_zeek(protos[(r % 4) as usize]),
                conn_state: ConnState::from_zeek(states[(r >> 8) as usize % states.len()]),
                service: Sym::new(services[(r >> 16) as usize % services.len()]),
                history: Sym::default(),
                duration: float(next()),
                uid: Uid::new("CAbc"),
                orig_bytes: next() >> (r % 64),
                resp_bytes: next() >> ((r >> 24) % 64),
                orig_pkts: next() >> 40,
                orig_ip_bytes: 0,
                resp_pkts: next() >> ((r >> 32) % 64),
                resp_ip_bytes: 0,
            };
            assert_eq!(flow_json(&c), derived(&c), "{c:?}");
        }
    }
}
