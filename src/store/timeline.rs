//! The timeline model (spec §4): a window's connections in time order, each seen from the
//! profile's side, with what Slips' timeline module makes of it ([`TimelineRow`]: service name,
//! DNS names known by then, state, bytes, and the [`Interpretation`] of its application
//! record). The Redis JSON ([`super::render`]) and the UI's timeline pane both read it; it
//! renders nothing itself.

use super::python::py_list_repr;
use super::{AltRef, Store};
use crate::profile::Window;
use crate::record::{Conn, Established, Proto};
use std::net::IpAddr;

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
    let Some(alt) = store.alt_of(&c.uid.text()) else {
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

fn icmp_name(icmp_type: u16) -> Option<&'static str> {
    match icmp_type {
        8 => Some("PING echo"),
        11 => Some("ICMP Time Excedded in Transit"),
        3 => Some("ICMP Destination Net Unreachable"),
        _ => None,
    }
}
