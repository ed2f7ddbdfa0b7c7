//! Renders store data as the exact JSON strings Slips v1.0.0 keeps in Redis.
//!
//! Python's `json.dumps` defaults: `", "` and `": "` separators, non-ASCII escaped as `\uXXXX`,
//! floats in `repr` form (`3600.0`, `1e-05`). Dates are `str(datetime)` and the timeline's
//! `%Y/%m/%d %H:%M:%S.%f`, in UTC (Slips uses the local zone of its machine). With the documented
//! fixes: integer counters (Slips v1.0.0 kept TSV numbers as floats), no space in
//! `…NotEstablished`, in-tuples keyed by the client.

use super::{AltRef, Store};
use crate::profile::aggregate::{self, Aggregate, Family};
use crate::profile::{Tuple, Window};
use crate::record::{Conn, Established, Proto};
use std::fmt::Write as _;
use std::net::IpAddr;

/// Appends `s` as a JSON string with Python's `ensure_ascii` escaping.
pub fn py_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON string literal.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    py_str(&mut out, s);
    out
}

/// Python's `repr(float)`.
pub fn py_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        // Rust: "1e-5" / "1.5e20"; Python: "1e-05" / "1.5e+20"
        let s = format!("{v:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = exp.strip_prefix('-').map_or(("+", exp), |d| ("-", d));
        return format!("{mant}e{sign}{digits:0>2}");
    }
    let s = format!("{v}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

/// Python's `round(x, 3)`, close enough for display (half cases may differ in the last digit).
pub fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// (seconds, microseconds) of a unix time, rounded to the microsecond as Python does.
fn split_micros(ts: f64) -> (i64, u32) {
    let us = (ts * 1e6).round() as i64;
    (us.div_euclid(1_000_000), us.rem_euclid(1_000_000) as u32)
}

fn civil(ts: f64) -> (chrono::NaiveDateTime, u32) {
    let (secs, micros) = split_micros(ts);
    let dt = chrono::DateTime::from_timestamp(secs, 0)
        .map_or_else(chrono::NaiveDateTime::default, |d| d.naive_utc());
    (dt, micros)
}

/// Python's `str(datetime)`: `1970-01-01 00:15:28.943457` (no fraction when it is zero).
pub fn py_datetime(ts: f64) -> String {
    let (dt, us) = civil(ts);
    let base = dt.format("%Y-%m-%d %H:%M:%S").to_string();
    if us == 0 {
        base
    } else {
        format!("{base}.{us:06}")
    }
}

/// The timeline's `%Y/%m/%d %H:%M:%S.%f`.
pub fn slips_timestamp(ts: f64) -> String {
    let (dt, us) = civil(ts);
    format!("{}.{us:06}", dt.format("%Y/%m/%d %H:%M:%S"))
}

/// Builds a JSON object in insertion order.
#[derive(Default)]
pub struct Obj(String);

impl Obj {
    /// An empty object.
    pub fn new() -> Self {
        Obj(String::from("{"))
    }

    fn key(&mut self, k: &str) {
        if self.0.len() > 1 {
            self.0.push_str(", ");
        }
        py_str(&mut self.0, k);
        self.0.push_str(": ");
    }

    /// Adds a raw JSON value.
    pub fn raw(&mut self, k: &str, json: &str) -> &mut Self {
        self.key(k);
        self.0.push_str(json);
        self
    }

    /// Adds a string.
    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        py_str(&mut self.0, v);
        self
    }

    /// Adds an integer.
    pub fn int(&mut self, k: &str, v: impl std::fmt::Display) -> &mut Self {
        self.key(k);
        let _ = write!(self.0, "{v}");
        self
    }

    /// Adds a float.
    pub fn float(&mut self, k: &str, v: f64) -> &mut Self {
        self.key(k);
        self.0.push_str(&py_float(v));
        self
    }

    /// Closes the object.
    pub fn finish(&mut self) -> String {
        self.0.push('}');
        std::mem::take(&mut self.0)
    }
}

/// A JSON list of strings.
pub fn str_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from("[");
    for (i, s) in items.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        py_str(&mut out, s);
    }
    out.push(']');
    out
}

/// Python's `str(list_of_str)`: `['text/html', 'image/png']`.
fn py_list_repr(items: &[String]) -> String {
    let inner: Vec<String> = items
        .iter()
        .map(|s| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")))
        .collect();
    format!("[{}]", inner.join(", "))
}

fn uid_list(store: &Store, flows: &[u32]) -> String {
    str_list(flows.iter().map(|&i| store.conns[i as usize].uid.as_str()))
}

/// One aggregate field's JSON (spec §1.6).
pub fn aggregate_json(store: &Store, fam: Family, agg: &Aggregate) -> String {
    let mut out = Obj::new();
    match agg {
        Aggregate::Ips(m) => {
            for (ip, e) in m {
                let mut ports = Obj::new();
                for (p, n) in &e.dstports {
                    ports.int(&p.to_string(), n);
                }
                let v = Obj::new()
                    .int("totalflows", e.flows)
                    .int("totalpkt", e.pkts)
                    .int("totalbytes", e.bytes)
                    .str("stime", &py_datetime(e.first_ts))
                    .raw("uid", &uid_list(store, &e.uids))
                    .raw("dstports", &ports.finish())
                    .finish();
                out.raw(&ip.to_string(), &v);
            }
        }
        Aggregate::Ports(m) => {
            let inner_name = if fam.is_server() { "srcips" } else { "dstips" };
            for (port, e) in m {
                let mut peers = Obj::new();
                for (ip, p) in &e.peers {
                    let pv = Obj::new()
                        .int("pkts", p.pkts)
                        .int("spkts", p.spkts)
                        .str("stime", &py_datetime(p.first_ts))
                        .raw("uid", &uid_list(store, &p.uids))
                        .finish();
                    peers.raw(&ip.to_string(), &pv);
                }
                let v = Obj::new()
                    .int("totalflows", e.flows)
                    .int("totalpkt", e.pkts)
                    .int("totalbytes", e.bytes)
                    .raw(inner_name, &peers.finish())
                    .finish();
                out.raw(&port.to_string(), &v);
            }
        }
    }
    out.finish()
}

/// `OutTuples` / `InTuples` JSON: `{"<ip>-<port>-<proto>": ["<letters>", [prev|false, last]]}`.
pub fn tuples_json(tuples: &[Tuple]) -> String {
    let mut out = Obj::new();
    for t in tuples {
        let prev = t
            .state
            .last_last()
            .map_or_else(|| "false".to_string(), py_float);
        let last = t.state.last().map_or_else(|| "false".to_string(), py_float);
        out.raw(
            &t.key(),
            &format!("[{}, [{prev}, {last}]]", quoted(&t.letters)),
        );
    }
    out.finish()
}

/// Every field of `profile_<ip>_timewindow<N>`, in a stable order.
pub fn window_fields(store: &Store, w: &Window) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let count_json = |m: aggregate::OrderedMap<IpAddr, u64>| {
        let mut o = Obj::new();
        for (ip, n) in m {
            o.int(&ip.to_string(), n);
        }
        o.finish()
    };
    if !w.out_flows.is_empty() {
        fields.push((
            "DstIPs".to_string(),
            count_json(aggregate::ip_counts(&store.conns, &w.out_flows, false)),
        ));
        fields.push(("OutTuples".to_string(), tuples_json(&w.out_tuples)));
    }
    if !w.in_flows.is_empty() {
        fields.push((
            "SrcIPs".to_string(),
            count_json(aggregate::ip_counts(&store.conns, &w.in_flows, true)),
        ));
        fields.push(("InTuples".to_string(), tuples_json(&w.in_tuples)));
    }
    for fam in Family::ALL {
        let flows = if fam.is_server() {
            &w.in_flows
        } else {
            &w.out_flows
        };
        for ((proto, state), agg) in aggregate::family(&store.conns, flows, fam) {
            fields.push((fam.field(proto, state), aggregate_json(store, fam, &agg)));
        }
    }
    fields.sort();
    fields
}

/// One entry of a window's timeline: a connection seen from the profile's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineEntry {
    /// Index into `Store::conns`.
    pub flow: u32,
    /// True when the profile is the server of the connection.
    pub incoming: bool,
}

/// The timeline of a window in time order (client and server flows merged).
pub fn timeline(store: &Store, w: &Window) -> Vec<TimelineEntry> {
    let mut out: Vec<TimelineEntry> = w
        .out_flows
        .iter()
        .map(|&flow| TimelineEntry {
            flow,
            incoming: false,
        })
        .chain(w.in_flows.iter().map(|&flow| TimelineEntry {
            flow,
            incoming: true,
        }))
        .collect();
    out.sort_by(|a, b| {
        store.conns[a.flow as usize]
            .ts
            .total_cmp(&store.conns[b.flow as usize].ts)
            .then(a.flow.cmp(&b.flow))
    });
    out
}

/// How Slips' timeline interprets a connection from its application record (spec §4.1).
#[derive(Debug, Clone, PartialEq)]
pub enum Interpretation<'a> {
    /// No dns/http/ssl record for the connection's uid.
    None,
    /// A DNS query; `answers` is `None` for NXDOMAIN.
    Dns {
        /// The queried name.
        query: &'a str,
        /// The answers, or `None` when the name does not exist.
        answers: Option<&'a [String]>,
    },
    /// An HTTP request and its response.
    Http {
        /// `<method> http://<host><uri>`.
        request: String,
        /// `<code>/<message>`, if a response was seen.
        status: Option<String>,
        /// Response MIME types.
        mime: &'a [String],
        /// User agent.
        user_agent: &'a str,
    },
    /// A TLS handshake.
    Ssl {
        /// First part of the certificate subject (`CN=…`), or `????`.
        server_name: &'a str,
        /// `Yes` (validated), `??` (resumed, not validated) or `No`.
        trusted: &'static str,
        /// Whether the session was resumed.
        resumed: bool,
        /// TLS version.
        version: &'a str,
        /// The SNI.
        sni: &'a str,
    },
}

/// One timeline row, typed: everything Kalipso shows for a flow (spec §4.1–§4.2).
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineRow<'a> {
    /// Index into `Store::conns`.
    pub flow: u32,
    /// Flow start.
    pub ts: f64,
    /// True when the profile is the server.
    pub incoming: bool,
    /// Transport protocol (TCP, UDP or ICMP; other protocols have no row).
    pub proto: Proto,
    /// Client.
    pub saddr: IpAddr,
    /// Server.
    pub daddr: IpAddr,
    /// Destination port, or the ICMP type.
    pub port: u16,
    /// Service name (Zeek's, else Slips' port table, upper case); `None` when neither knows it.
    pub service: Option<String>,
    /// The DNS names the capture gave the remote IP by then (Slips shows up to three, else the
    /// last one).
    pub dns: Vec<&'a str>,
    /// Established or not.
    pub state: Established,
    /// Payload bytes sent by the client.
    pub sent: u64,
    /// Payload bytes sent by the server.
    pub recv: u64,
    /// Duration, seconds.
    pub duration: f64,
    /// The application record's interpretation.
    pub info: Interpretation<'a>,
}

impl TimelineRow<'_> {
    /// Total payload bytes.
    pub fn total(&self) -> u64 {
        self.sent.saturating_add(self.recv)
    }
}

fn dport_name(c: &Conn) -> Option<String> {
    if !c.service.is_empty() {
        return Some(c.service.as_str().to_uppercase());
    }
    super::ports::service_name(c.resp_p, c.proto).map(str::to_uppercase)
}

fn interpretation<'a>(store: &'a Store, c: &Conn) -> Interpretation<'a> {
    let Some(alt) = store.alt_of(&c.uid) else {
        return Interpretation::None;
    };
    match alt {
        AltRef::Dns(i) => {
            let d = &store.dns[i as usize];
            let answers = (!d.rcode_name.contains("NXDOMAIN")).then_some(d.answers.as_slice());
            Interpretation::Dns {
                query: &d.query,
                answers,
            }
        }
        AltRef::Http(i) => {
            let h = &store.http[i as usize];
            Interpretation::Http {
                request: format!("{} http://{}{}", h.method, h.host, h.uri),
                status: h.status_code.map(|code| format!("{code}/{}", h.status_msg)),
                mime: &h.resp_mime_types,
                user_agent: &h.user_agent,
            }
        }
        AltRef::Ssl(i) => {
            let s = &store.ssl[i as usize];
            let trusted = if s.validation_status == "ok" {
                "Yes"
            } else if s.validation_status.is_empty() && s.resumed {
                "??"
            } else {
                "No"
            };
            Interpretation::Ssl {
                server_name: s
                    .subject
                    .split(',')
                    .next()
                    .filter(|v| !v.is_empty())
                    .unwrap_or("????"),
                trusted,
                resumed: s.resumed,
                version: &s.version,
                sni: &s.server_name,
            }
        }
    }
}

/// The typed timeline row of an entry; `None` for protocols Slips leaves out of the timeline.
pub fn timeline_row(store: &Store, e: TimelineEntry) -> Option<TimelineRow<'_>> {
    let c = &store.conns[e.flow as usize];
    let tcp_udp = matches!(c.proto, Proto::Tcp | Proto::Udp);
    if !tcp_udp && c.proto != Proto::Icmp {
        return None;
    }
    let remote = if e.incoming { c.orig_h } else { c.resp_h };
    let seen = store.dns_seen_before(e.flow);
    let dns = if tcp_udp {
        store
            .dns_resolution
            .get(&remote)
            .map(|r| r.domains_known(seen).collect())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    Some(TimelineRow {
        flow: e.flow,
        ts: c.ts,
        incoming: e.incoming,
        proto: c.proto,
        saddr: c.orig_h,
        daddr: c.resp_h,
        port: if tcp_udp { c.resp_p } else { c.orig_p },
        service: if tcp_udp {
            dport_name(c)
        } else {
            icmp_name(c.orig_p).map(str::to_string)
        },
        dns,
        state: c.established(),
        sent: c.orig_bytes,
        recv: c.resp_bytes,
        duration: c.duration,
        info: interpretation(store, c),
    })
}

/// A value of a timeline `info` field: a string, or (DNS answers) a list.
#[derive(Debug, Clone, PartialEq)]
pub enum InfoValue<'a> {
    /// A string.
    Str(std::borrow::Cow<'a, str>),
    /// A list of strings.
    List(&'a [String]),
}

impl Interpretation<'_> {
    /// The `info` fields in Slips' order and with its key names; the HTTP entries Slips drops
    /// (value `""` or `"/"`) are left out.
    pub fn fields(&self) -> Vec<(&'static str, InfoValue<'_>)> {
        use std::borrow::Cow;
        let s = |v: &str| InfoValue::Str(Cow::Owned(v.to_string()));
        match self {
            Interpretation::None => Vec::new(),
            Interpretation::Dns { query, answers } => vec![
                ("query", InfoValue::Str(Cow::Borrowed(*query))),
                (
                    "answers",
                    answers.map_or(InfoValue::Str(Cow::Borrowed("NXDOMAIN")), InfoValue::List),
                ),
            ],
            Interpretation::Http {
                request,
                status,
                mime,
                user_agent,
            } => {
                let mime = if mime.is_empty() {
                    String::new()
                } else {
                    py_list_repr(mime)
                };
                [
                    ("Request", request.as_str()),
                    ("Status Code", status.as_deref().unwrap_or("")),
                    ("MIME", mime.as_str()),
                    ("UA", user_agent),
                ]
                .into_iter()
                .filter(|(_, v)| !v.is_empty() && *v != "/")
                .map(|(k, v)| (k, s(v)))
                .collect()
            }
            Interpretation::Ssl {
                server_name,
                trusted,
                resumed,
                version,
                sni,
            } => vec![
                ("server_name", s(server_name)),
                ("trusted", s(trusted)),
                ("resumed", s(if *resumed { "True" } else { "False" })),
                ("version", s(version)),
                ("dns_resolution", s(sni)),
            ],
        }
    }

    /// The interpretation rows Kalipso draws under a timeline line (spec §4.2): the key
    /// capitalised, a list joined with commas.
    pub fn rows(&self) -> Vec<(String, String)> {
        self.fields()
            .into_iter()
            .map(|(k, v)| {
                let mut key = k.to_string();
                if let Some(first) = key.get_mut(..1) {
                    first.make_ascii_uppercase();
                }
                let value = match v {
                    InfoValue::Str(s) => s.into_owned(),
                    InfoValue::List(l) => l.join(","),
                };
                (key, value)
            })
            .collect()
    }
}

fn info_json(info: &Interpretation<'_>) -> String {
    if *info == Interpretation::None {
        return quoted("");
    }
    let mut o = Obj::new();
    for (k, v) in info.fields() {
        match v {
            InfoValue::Str(s) => o.str(k, &s),
            InfoValue::List(l) => o.raw(k, &str_list(l.iter().map(String::as_str))),
        };
    }
    o.finish()
}

fn icmp_name(icmp_type: u16) -> Option<&'static str> {
    match icmp_type {
        8 => Some("PING echo"),
        11 => Some("ICMP Time Excedded in Transit"),
        3 => Some("ICMP Destination Net Unreachable"),
        _ => None,
    }
}

/// A timeline entry as Slips' timeline module would store it (spec §4.1); `None` for protocols
/// Slips leaves out of the timeline.
pub fn timeline_json(store: &Store, e: TimelineEntry) -> Option<String> {
    let r = timeline_row(store, e)?;
    let mut o = Obj::new();
    if r.proto == Proto::Icmp {
        o.str("timestamp", &slips_timestamp(r.ts))
            .str(
                "dport_name",
                r.service.as_deref().unwrap_or("ICMP Unknown type"),
            )
            .str("preposition", "from")
            .str("saddr", &r.saddr.to_string())
            .int("size", r.total())
            .float("duration", round3(r.duration));
        if r.service.is_none() {
            o.str("type", &format!("0x{}", r.port));
        }
        o.str("dns_resolution", "")
            .str("daddr", &r.daddr.to_string())
            .str("dport/proto", &format!("{}/ICMP", r.port))
            .str("state", "")
            .str("warning", "")
            .str("sent", "")
            .str("recv", "")
            .str("tot", "")
            .str("critical warning", "")
            .raw("info", &info_json(&r.info));
        return Some(o.finish());
    }
    let dns = match r.dns.len() {
        0 => quoted("????"),
        1..=3 => str_list(r.dns.iter().copied()),
        n => quoted(r.dns[n - 1]),
    };
    o.str("timestamp", &slips_timestamp(r.ts))
        .str("dport_name", r.service.as_deref().unwrap_or("????"))
        .str("preposition", if r.incoming { "from" } else { "to" })
        .raw("dns_resolution", &dns);
    if r.incoming {
        o.str("saddr", &r.saddr.to_string());
    }
    o.str("daddr", &r.daddr.to_string())
        .str("dport/proto", &format!("{}/{}", r.port, r.proto.upper()))
        .str("state", r.state.human())
        .str(
            "warning",
            if r.total() == 0 {
                "No data exchange!"
            } else {
                ""
            },
        )
        .raw("info", &info_json(&r.info))
        .int("sent", r.sent)
        .int("recv", r.recv)
        .int("tot", r.total())
        .float("duration", round3(r.duration))
        .str(
            "critical warning",
            if r.service.is_none() {
                "Protocol not recognized by Slips nor Zeek."
            } else {
                ""
            },
        );
    Some(o.finish())
}

/// `_flows[uid]`: the connection as Slips stores it (spec §1.8).
pub fn flow_json(c: &Conn) -> String {
    Obj::new()
        .float("ts", c.ts)
        .float("dur", c.duration)
        .str("saddr", &c.orig_h.to_string())
        .int("sport", c.orig_p)
        .str("daddr", &c.resp_h.to_string())
        .int("dport", c.resp_p)
        .str("proto", c.proto.as_str())
        .str("origstate", c.conn_state.as_str())
        .str("state", c.established().human())
        .int("pkts", c.pkts())
        .int("allbytes", c.bytes())
        .int("spkts", c.orig_pkts)
        .int("sbytes", c.orig_bytes)
        .str("appproto", c.service.as_str())
        .str("flow_type", "conn")
        .finish()
}

/// `_altflows[uid]`: an application record as Slips stores it (spec §1.8).
pub fn altflow_json(store: &Store, alt: AltRef) -> (String, String) {
    match alt {
        AltRef::Dns(i) => {
            let d = &store.dns[i as usize];
            let ttls: Vec<String> = d.ttls.iter().map(|t| py_float(*t)).collect();
            let v = Obj::new()
                .str("uid", &d.id.uid)
                .str("type", "dns")
                .str("query", &d.query)
                .str("qclass_name", &d.qclass_name)
                .str("qtype_name", &d.qtype_name)
                .str("rcode_name", &d.rcode_name)
                .raw("answers", &str_list(d.answers.iter().map(String::as_str)))
                .raw("ttls", &format!("[{}]", ttls.join(", ")))
                .float("stime", d.id.ts)
                .finish();
            (d.id.uid.to_string(), v)
        }
        AltRef::Http(i) => {
            let h = &store.http[i as usize];
            let v = Obj::new()
                .str("uid", &h.id.uid)
                .str("type", "http")
                .str("method", &h.method)
                .str("host", &h.host)
                .str("uri", &h.uri)
                .str("version", &h.version)
                .str("user_agent", &h.user_agent)
                .int("request_body_len", h.request_body_len)
                .int("response_body_len", h.response_body_len)
                .raw(
                    "status_code",
                    &h.status_code.map_or_else(|| quoted(""), |c| c.to_string()),
                )
                .str("status_msg", &h.status_msg)
                .raw(
                    "resp_mime_types",
                    &str_list(h.resp_mime_types.iter().map(String::as_str)),
                )
                .raw(
                    "resp_fuids",
                    &str_list(h.resp_fuids.iter().map(String::as_str)),
                )
                .float("stime", h.id.ts)
                .str("daddr", &h.id.resp_h.to_string())
                .finish();
            (h.id.uid.to_string(), v)
        }
        AltRef::Ssl(i) => {
            let s = &store.ssl[i as usize];
            let v = Obj::new()
                .str("uid", &s.id.uid)
                .str("type", "ssl")
                .str("version", &s.version)
                .str("cipher", &s.cipher)
                .str("resumed", if s.resumed { "True" } else { "False" })
                .str("established", if s.established { "True" } else { "False" })
                .str("subject", &s.subject)
                .str("issuer", &s.issuer)
                .str("validation_status", &s.validation_status)
                .str("curve", &s.curve)
                .str("server_name", &s.server_name)
                .str("daddr", &s.id.resp_h.to_string())
                .int("dport", s.id.resp_p)
                .float("stime", s.id.ts)
                .str("ja3", &s.ja3)
                .str("ja3s", &s.ja3s)
                .finish();
            (s.id.uid.to_string(), v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python_repr() {
        assert_eq!(py_float(3600.0), "3600.0");
        assert_eq!(py_float(928.943_457), "928.943457");
        assert_eq!(py_float(1e-5), "1e-05");
        assert_eq!(py_float(1.5e20), "1.5e+20");
        assert_eq!(py_float(-0.5), "-0.5");
        assert_eq!(py_float(0.0), "0.0");
    }

    #[test]
    fn dates_print_like_python() {
        assert_eq!(py_datetime(928.943_457), "1970-01-01 00:15:28.943457");
        assert_eq!(py_datetime(60.0), "1970-01-01 00:01:00");
        assert_eq!(slips_timestamp(928.943_457), "1970/01/01 00:15:28.943457");
        assert_eq!(
            slips_timestamp(1_664_459_365.0),
            "2022/09/29 13:49:25.000000"
        );
    }

    #[test]
    fn strings_escape_like_ensure_ascii() {
        assert_eq!(quoted("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
        assert_eq!(quoted("é"), r#""\u00e9""#);
        assert_eq!(quoted("😀"), r#""\ud83d\ude00""#);
        assert_eq!(
            Obj::new().str("a", "x").int("b", 2).finish(),
            r#"{"a": "x", "b": 2}"#
        );
    }

    #[test]
    fn mime_lists_print_like_python_str() {
        assert_eq!(py_list_repr(&["text/plain".into()]), "['text/plain']");
    }
}
