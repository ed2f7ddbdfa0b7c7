//! Record builders: which Zeek fields each typed record reads, and how.
//!
//! Each kind has a list of wanted field names (`WANTED`); a TSV file maps them to its `#fields`
//! columns once, a JSON object looks them up by name. The builders are shared by both formats, so
//! TSV and JSON input give identical records. Defaults for unset values follow Zeek's meaning
//! (unset byte counts are 0, an unset duration is 0 s), as Slips does.
//!
//! It does not split lines or read files.

use super::fields::{FieldError, Get, Raw, Row};
use crate::record::{Arp, ArpOp, Detail, Fields, Mac};
use crate::record::{Conn, ConnState, Dns, Endpoints, Http, Proto, Ssl, Sym, SymCache, Uid};
use serde_json::{Map, Value};

/// Positions shared by every kind: the first six wanted fields.
const TS: usize = 0;
const UID: usize = 1;
const ORIG_H: usize = 2;
const ORIG_P: usize = 3;
const RESP_H: usize = 4;
const RESP_P: usize = 5;

/// Fields without which no record of `kind` can be built (a header lacking one is unusable).
pub(crate) fn needed(kind: crate::input::LogKind) -> &'static [&'static str] {
    match kind {
        // other logs are read for who was active when, where they name a source at all
        crate::input::LogKind::Other => &[],
        _ => &["ts", "id.orig_h", "id.resp_h"],
    }
}

/// Fields read from conn.log, in the order the builder addresses them.
pub(crate) const CONN_WANTED: &[&str] = &[
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    // Zeek's site flags, read only to learn the home network (see `local_addresses`)
    "local_orig",
    "local_resp",
];

/// Fields read from dns.log.
pub(crate) const DNS_WANTED: &[&str] = &[
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "query",
    "qclass_name",
    "qtype_name",
    "rcode_name",
    "answers",
    "TTLs",
];

/// Fields read from http.log.
pub(crate) const HTTP_WANTED: &[&str] = &[
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "method",
    "host",
    "uri",
    "version",
    "user_agent",
    "request_body_len",
    "response_body_len",
    "status_code",
    "status_msg",
    "resp_fuids",
    "resp_mime_types",
];

/// Fields read from ssl.log.
pub(crate) const SSL_WANTED: &[&str] = &[
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "version",
    "cipher",
    "curve",
    "server_name",
    "resumed",
    "established",
    "subject",
    "issuer",
    "validation_status",
    "ja3",
    "ja3s",
];

/// Fields read from any other log: its time and the first of the usual source-address fields
/// (`id.orig_h` for most logs, `client_addr` in dhcp.log, `src` in notice.log, `host` in
/// software.log, `orig_h` in Slips' arp.log). Slips gives every such source a profile.
pub(crate) const OTHER_WANTED: &[&str] = &[
    "ts",
    "id.orig_h",
    "client_addr",
    "src",
    "host",
    "orig_h",
    // fields the detections read (notice, smtp, software, arp, ssh)
    "id.resp_h",
    "resp_h",
    "note",
    "msg",
    "last_reply",
    "software_type",
    "unparsed_version",
    "operation",
    "dst_mac",
    "auth_success",
    "resp_hw",
    "uid",
    "host_name",
    "mac",
    "tunnel_type",
    "action",
];
/// The columns of [`OTHER_WANTED`] that may name the source.
const SOURCE_COLUMNS: std::ops::Range<usize> = 1..6;

/// Zeek's default conn.log columns, used for a TSV file that has lost its header.
pub(crate) const CONN_DEFAULT: &[&str] = &[
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "local_resp",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
];

/// Zeek's default dns.log columns.
pub(crate) const DNS_DEFAULT: &[&str] = &[
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "trans_id",
    "rtt",
    "query",
    "qclass",
    "qclass_name",
    "qtype",
    "qtype_name",
    "rcode",
    "rcode_name",
    "AA",
    "TC",
    "RD",
    "RA",
    "Z",
    "answers",
    "TTLs",
    "rejected",
];

/// Zeek's default http.log columns (Zeek ≥ 3, with `origin`).
pub(crate) const HTTP_DEFAULT: &[&str] = &[
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "trans_depth",
    "method",
    "host",
    "uri",
    "referrer",
    "version",
    "user_agent",
    "origin",
    "request_body_len",
    "response_body_len",
    "status_code",
    "status_msg",
    "info_code",
    "info_msg",
    "tags",
    "username",
    "password",
    "proxied",
    "orig_fuids",
    "orig_filenames",
    "orig_mime_types",
    "resp_fuids",
    "resp_filenames",
    "resp_mime_types",
];

/// Zeek's default ssl.log columns.
pub(crate) const SSL_DEFAULT: &[&str] = &[
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "version",
    "cipher",
    "curve",
    "server_name",
    "resumed",
    "last_alert",
    "next_protocol",
    "established",
    "cert_chain_fuids",
    "client_cert_chain_fuids",
    "subject",
    "issuer",
    "client_subject",
    "client_issuer",
    "validation_status",
];

/// A TSV line split into columns, seen through a kind's column map.
pub(crate) struct TsvRow<'a> {
    /// The line's columns.
    pub cols: &'a [&'a str],
    /// Column index of each wanted field, if the file has it.
    pub map: &'a [Option<usize>],
    /// The kind's wanted field names.
    pub names: &'static [&'static str],
    /// `#unset_field`.
    pub unset: &'a str,
    /// `#empty_field`.
    pub empty: &'a str,
    /// `#set_separator`.
    pub set_sep: u8,
}

impl Row for TsvRow<'_> {
    fn raw(&self, i: usize) -> Raw<'_> {
        match self
            .map
            .get(i)
            .copied()
            .flatten()
            .and_then(|c| self.cols.get(c))
        {
            None => Raw::Unset,
            Some(v) if *v == self.unset => Raw::Unset,
            Some(v) if *v == self.empty => Raw::Text(""),
            Some(v) => Raw::Text(v),
        }
    }

    fn name(&self, i: usize) -> &'static str {
        self.names.get(i).copied().unwrap_or("?")
    }

    fn set_separator(&self) -> u8 {
        self.set_sep
    }
}

/// A JSON object seen through a kind's wanted names.
pub(crate) struct JsonRow<'a> {
    /// The parsed object.
    pub obj: &'a Map<String, Value>,
    /// The kind's wanted field names.
    pub names: &'static [&'static str],
}

impl Row for JsonRow<'_> {
    fn raw(&self, i: usize) -> Raw<'_> {
        match self.names.get(i).and_then(|n| self.obj.get(*n)) {
            None | Some(Value::Null) => Raw::Unset,
            Some(v) => Raw::Json(v),
        }
    }

    fn name(&self, i: usize) -> &'static str {
        self.names.get(i).copied().unwrap_or("?")
    }
}

fn required<T>(
    v: Result<Option<T>, FieldError>,
    field: &'static str,
    what: &'static str,
) -> Result<T, FieldError> {
    v?.ok_or(FieldError {
        field,
        expected: what,
        got: "-".into(),
    })
}

fn endpoints<R: Row>(g: &Get<'_, R>) -> Result<Endpoints, FieldError> {
    Ok(Endpoints {
        ts: required(g.seconds(TS), "ts", "a timestamp")?,
        uid: g.compact(UID),
        orig_h: g.addr(ORIG_H)?,
        orig_p: g.port(ORIG_P)?.unwrap_or(0),
        resp_h: g.addr(RESP_H)?,
        resp_p: g.port(RESP_P)?.unwrap_or(0),
    })
}

/// The (time, source IP) of a record of another log; `None` when it names no source.
pub(crate) fn activity<R: Row>(row: &R) -> Result<Option<crate::record::Activity>, FieldError> {
    let g = Get(row);
    let ts = required(g.seconds(TS), "ts", "a timestamp")?;
    let ip = SOURCE_COLUMNS
        .clone()
        .find_map(|i| g.text(i).and_then(|t| t.parse().ok()));
    let text = |i: usize| -> compact_str::CompactString {
        g.text(i)
            .map(|t| compact_str::CompactString::from(t.as_ref()))
            .unwrap_or_default()
    };
    let resp = || {
        [6, 7]
            .into_iter()
            .find_map(|i| g.text(i).and_then(|t| t.parse().ok()))
    };
    let mac = |i: usize| g.text(i).and_then(|t| Mac::parse(&t));
    // an arp.log record: its operation names it
    if let Some(operation) = g.text(13).and_then(|t| ArpOp::parse(&t)) {
        let detail = Some(Detail::Arp(Arp {
            resp: resp(),
            operation,
            dst_mac: mac(14),
            target_hw: mac(16),
        }));
        return Ok(ip.map(|ip| crate::record::Activity { ts, ip, detail }));
    }
    let (note, last_reply, software_type) = (text(8), text(10), text(11));
    let auth = g.text(15).map(|t| t == "T" || t == "true");
    let (host_name, mac) = (text(18), text(19));
    let tunnel_type = text(20);
    let detail = (!note.is_empty()
        || !last_reply.is_empty()
        || !software_type.is_empty()
        || auth.is_some()
        || !host_name.is_empty()
        || !mac.is_empty()
        || !tunnel_type.is_empty())
    .then(|| {
        Detail::Fields(Box::new(Fields {
            resp: resp(),
            note,
            msg: text(9),
            last_reply,
            software_type,
            version: text(12),
            auth_success: auth,
            uid: if auth.is_some() {
                text(17)
            } else {
                compact_str::CompactString::default()
            },
            host_name,
            mac,
            action: if tunnel_type.is_empty() {
                compact_str::CompactString::default()
            } else {
                text(21)
            },
            tunnel_type,
        }))
    });
    Ok(ip.map(|ip| crate::record::Activity { ts, ip, detail }))
}

/// Builds a [`Conn`] from a row addressed by [`CONN_WANTED`].
pub(crate) fn conn<R: Row>(row: &R, syms: &mut SymCache) -> Result<Conn, FieldError> {
    let g = Get(row);
    let id = endpoints(&g)?;
    let proto = g.text(6).map_or(Proto::Unknown, |p| Proto::from_zeek(&p));
    let service = g.text(7).map_or(Sym::default(), |s| {
        if s == "-" {
            Sym::default()
        } else {
            syms.get(&s)
        }
    });
    let duration = g.seconds(8)?.unwrap_or(0.0).max(0.0);
    let conn_state = g
        .text(11)
        .map_or(ConnState::Unset, |s| ConnState::from_zeek(&s));
    Ok(Conn {
        ts: id.ts,
        duration,
        uid: Uid::new(&id.uid),
        orig_h: id.orig_h,
        orig_p: id.orig_p,
        resp_h: id.resp_h,
        resp_p: id.resp_p,
        proto,
        service,
        conn_state,
        orig_bytes: g.count(9)?.unwrap_or(0),
        resp_bytes: g.count(10)?.unwrap_or(0),
        history: g.text(12).map_or(Sym::default(), |h| syms.get(&h)),
        orig_pkts: g.count(13)?.unwrap_or(0),
        orig_ip_bytes: g.count(14)?.unwrap_or(0),
        resp_pkts: g.count(15)?.unwrap_or(0),
        resp_ip_bytes: g.count(16)?.unwrap_or(0),
    })
}

/// Adds to `local` the public addresses of `c` that Zeek marked local (`local_orig`,
/// `local_resp`: its `Site::local_nets`). Private and reserved addresses are left out: the
/// private ranges are in the default home network anyway, and a multicast group is no host.
pub(crate) fn local_addresses<R: Row>(
    row: &R,
    c: &Conn,
    local: &mut rustc_hash::FxHashSet<std::net::IpAddr>,
) {
    let marked = |i: usize| match row.raw(i) {
        Raw::Text(t) => t == "T",
        Raw::Json(v) => v.as_bool() == Some(true),
        Raw::Unset => false,
    };
    mark_local([marked(17), marked(18)], c, local);
}

/// Adds to `local` the addresses of `c` marked local (`[local_orig, local_resp]`) that are
/// public (see [`local_addresses`]).
pub(crate) fn mark_local(
    marked: [bool; 2],
    c: &Conn,
    local: &mut rustc_hash::FxHashSet<std::net::IpAddr>,
) {
    for (marked, ip) in marked.into_iter().zip([c.orig_h, c.resp_h]) {
        if marked && crate::record::special_address(ip).is_none() {
            local.insert(ip);
        }
    }
}

/// Builds a [`Dns`] from a row addressed by [`DNS_WANTED`].
pub(crate) fn dns<R: Row>(row: &R) -> Result<Dns, FieldError> {
    let g = Get(row);
    Ok(Dns {
        id: endpoints(&g)?,
        query: g.string(6),
        qclass_name: g.compact(7),
        qtype_name: g.compact(8),
        rcode_name: g.compact(9),
        answers: g.list(10),
        ttls: g.numbers(11),
    })
}

/// Builds an [`Http`] from a row addressed by [`HTTP_WANTED`].
pub(crate) fn http<R: Row>(row: &R) -> Result<Http, FieldError> {
    let g = Get(row);
    let status_code = match g.count(13)? {
        Some(c) => Some(u16::try_from(c).map_err(|_| FieldError {
            field: "status_code",
            expected: "an HTTP status code",
            got: c.to_string(),
        })?),
        None => None,
    };
    Ok(Http {
        id: endpoints(&g)?,
        method: g.compact(6),
        host: g.string(7),
        uri: g.string(8),
        version: g.compact(9),
        user_agent: g.string(10),
        request_body_len: g.count(11)?.unwrap_or(0),
        response_body_len: g.count(12)?.unwrap_or(0),
        status_code,
        status_msg: g.string(14),
        resp_fuids: g.list(15),
        resp_mime_types: g.list(16),
    })
}

/// Builds an [`Ssl`] from a row addressed by [`SSL_WANTED`].
pub(crate) fn ssl<R: Row>(row: &R) -> Result<Ssl, FieldError> {
    let g = Get(row);
    Ok(Ssl {
        id: endpoints(&g)?,
        version: g.compact(6),
        cipher: g.string(7),
        curve: g.compact(8),
        server_name: g.string(9),
        resumed: g.flag(10),
        established: g.flag(11),
        subject: g.string(12),
        issuer: g.string(13),
        validation_status: g.string(14),
        ja3: g.compact(15),
        ja3s: g.compact(16),
    })
}
