//! The records of a saved analysis as tables, and back: `conn`, `dns`, `http`, `ssl` (one row
//! per record, Zeek's column names) and `activity` (the other logs' rows the profiler and the
//! detections read).
//!
//! Addresses are text, so `DuckDB`, pandas or polars read them without kalipso; every value the
//! analysis uses is kept exactly (times and durations as 64-bit floats, counters as 64-bit
//! integers), so an opened file gives what the original run gave.

use super::columns::{
    self, Column, Columns, col, dictionary_column, exact_micros, floats_at, seconds, strings_at,
};
use crate::record::{
    Activity, Arp, ArpOp, Conn, ConnState, Detail, Dns, Endpoints, Fields, Http, Mac, Proto, Ssl,
    Sym, Uid, ip_text,
};
use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, ListArray, StringArray, UInt16Array, UInt64Array,
    types::Float64Type,
};
use compact_str::CompactString;
use std::net::IpAddr;
use std::sync::Arc;

fn strs<'a>(it: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(it))
}

fn opt_strs(it: impl Iterator<Item = Option<String>>) -> ArrayRef {
    Arc::new(it.collect::<StringArray>())
}

fn f64s(it: impl Iterator<Item = f64>) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values(it))
}

/// Ports as 64-bit integers: zstd finds the repetition of plain 8-byte values better than of
/// 4-byte ones (Parquet has no 16-bit type): the realistic log's source ports took 10.1 MB
/// instead of 12.5.
fn ports(it: impl Iterator<Item = u16>) -> ArrayRef {
    Arc::new(UInt64Array::from_iter_values(it.map(u64::from)))
}

fn u64s(it: impl Iterator<Item = u64>) -> ArrayRef {
    Arc::new(UInt64Array::from_iter_values(it))
}

fn string_lists<'a>(it: impl Iterator<Item = &'a [String]>) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new());
    for list in it {
        for s in list {
            b.values().append_value(s);
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

fn float_lists<'a>(it: impl Iterator<Item = &'a [f64]>) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>(
        it.map(|l| Some(l.iter().map(|v| Some(*v)))),
    ))
}

// ---- conn ----

/// The `conn` table's columns for a slice of connections, times and durations in
/// microseconds when `micros` ([`exact_micros`] of all of them).
///
/// The fields the analysis reads, as the other tables keep theirs. Zeek's IP-level byte
/// counts (`orig_ip_bytes`, `resp_ip_bytes`) are read from a log but used by no rule, view or
/// output; they were 8 % of a saved realistic log (18.2 MB of 235 in layout 1), so they are
/// not kept.
pub fn conn_columns(c: &[Conn], micros: bool) -> Vec<Column> {
    let mut uids = StringBuilder::with_capacity(c.len(), c.len() * 18);
    for conn in c {
        uids.append_value(&*conn.uid.text());
    }
    let word = |s: Sym| s.as_str().to_string();
    vec![
        col("ts", false, seconds(c.iter().map(|c| c.ts), micros)),
        col("uid", false, Arc::new(uids.finish())),
        col(
            "id.orig_h",
            false,
            dictionary_column(c.iter().map(|c| c.orig_h), ip_text),
        ),
        col("id.orig_p", false, ports(c.iter().map(|c| c.orig_p))),
        col(
            "id.resp_h",
            false,
            dictionary_column(c.iter().map(|c| c.resp_h), ip_text),
        ),
        col("id.resp_p", false, ports(c.iter().map(|c| c.resp_p))),
        col(
            "proto",
            false,
            dictionary_column(c.iter().map(|c| c.proto), |p| p.as_str().to_string()),
        ),
        col(
            "service",
            false,
            dictionary_column(c.iter().map(|c| c.service), word),
        ),
        col(
            "duration",
            false,
            seconds(c.iter().map(|c| c.duration), micros),
        ),
        col("orig_bytes", false, u64s(c.iter().map(|c| c.orig_bytes))),
        col("resp_bytes", false, u64s(c.iter().map(|c| c.resp_bytes))),
        col(
            "conn_state",
            false,
            dictionary_column(c.iter().map(|c| c.conn_state), |s| s.as_str().to_string()),
        ),
        col(
            "history",
            false,
            dictionary_column(c.iter().map(|c| c.history), word),
        ),
        col("orig_pkts", false, u64s(c.iter().map(|c| c.orig_pkts))),
        col("resp_pkts", false, u64s(c.iter().map(|c| c.resp_pkts))),
    ]
}

/// An address in a table.
fn parse_ip(s: &str) -> anyhow::Result<IpAddr> {
    s.parse()
        .map_err(|_| anyhow::anyhow!("'{}' is not an IP address", crate::text::clean(s)))
}

/// The connections of one decoded batch.
pub fn conns(t: &Columns<'_>) -> anyhow::Result<Vec<Conn>> {
    let sym = |s: &str| Ok(Sym::new(s));
    let (orig_h, resp_h) = (
        t.dictionary_values("id.orig_h", parse_ip)?,
        t.dictionary_values("id.resp_h", parse_ip)?,
    );
    let proto = t.dictionary_values("proto", |s| Ok(Proto::from_zeek(s)))?;
    let conn_state = t.dictionary_values("conn_state", |s| Ok(ConnState::from_zeek(s)))?;
    let (service, history) = (
        t.dictionary_values("service", sym)?,
        t.dictionary_values("history", sym)?,
    );
    let (ts, uid, orig_p, resp_p) = (
        t.seconds("ts")?,
        t.str("uid")?,
        t.ports("id.orig_p")?,
        t.ports("id.resp_p")?,
    );
    let (duration, orig_bytes, resp_bytes) = (
        t.seconds("duration")?,
        t.u64("orig_bytes")?,
        t.u64("resp_bytes")?,
    );
    let (orig_pkts, resp_pkts) = (t.u64("orig_pkts")?, t.u64("resp_pkts")?);
    Ok((0..t.len())
        .map(|i| Conn {
            ts: ts.value(i),
            orig_h: orig_h[i],
            resp_h: resp_h[i],
            orig_p: orig_p[i],
            resp_p: resp_p[i],
            proto: proto[i],
            conn_state: conn_state[i],
            service: service[i],
            history: history[i],
            duration: duration.value(i),
            uid: Uid::new(uid.value(i)),
            orig_bytes: orig_bytes.value(i),
            resp_bytes: resp_bytes.value(i),
            orig_pkts: orig_pkts.value(i),
            // not saved: nothing in the analysis reads them (see `conn_columns`)
            orig_ip_bytes: 0,
            resp_pkts: resp_pkts.value(i),
            resp_ip_bytes: 0,
        })
        .collect())
}

// ---- the endpoints every application record has ----

fn endpoint_columns<'a>(ids: impl Iterator<Item = &'a Endpoints> + Clone) -> Vec<Column> {
    vec![
        col("ts", false, f64s(ids.clone().map(|e| e.ts))),
        col("uid", false, strs(ids.clone().map(|e| e.uid.as_str()))),
        col(
            "id.orig_h",
            false,
            dictionary_column(ids.clone().map(|e| e.orig_h), ip_text),
        ),
        col("id.orig_p", false, ports(ids.clone().map(|e| e.orig_p))),
        col(
            "id.resp_h",
            false,
            dictionary_column(ids.clone().map(|e| e.resp_h), ip_text),
        ),
        col("id.resp_p", false, ports(ids.map(|e| e.resp_p))),
    ]
}

/// Reads the endpoint columns of every row.
fn endpoints(t: &Columns<'_>) -> anyhow::Result<Vec<Endpoints>> {
    let (orig_h, resp_h) = (
        t.dictionary_values("id.orig_h", parse_ip)?,
        t.dictionary_values("id.resp_h", parse_ip)?,
    );
    let (ts, uid, orig_p, resp_p) = (
        t.f64("ts")?,
        t.str("uid")?,
        t.ports("id.orig_p")?,
        t.ports("id.resp_p")?,
    );
    Ok((0..t.len())
        .map(|i| Endpoints {
            ts: ts.value(i),
            uid: CompactString::from(uid.value(i)),
            orig_h: orig_h[i],
            orig_p: orig_p[i],
            resp_h: resp_h[i],
            resp_p: resp_p[i],
        })
        .collect())
}

// ---- dns ----

/// Columns of a slice of DNS records.
pub fn dns_columns(d: &[Dns]) -> Vec<Column> {
    let mut cols = endpoint_columns(d.iter().map(|d| &d.id));
    cols.extend([
        col("query", false, strs(d.iter().map(|d| d.query.as_str()))),
        col(
            "qclass_name",
            false,
            strs(d.iter().map(|d| d.qclass_name.as_str())),
        ),
        col(
            "qtype_name",
            false,
            strs(d.iter().map(|d| d.qtype_name.as_str())),
        ),
        col(
            "rcode_name",
            false,
            strs(d.iter().map(|d| d.rcode_name.as_str())),
        ),
        col(
            "answers",
            false,
            string_lists(d.iter().map(|d| d.answers.as_slice())),
        ),
        col(
            "TTLs",
            false,
            float_lists(d.iter().map(|d| d.ttls.as_slice())),
        ),
    ]);
    cols
}

/// The DNS records of one decoded batch.
pub fn dns(t: &Columns<'_>) -> anyhow::Result<Vec<Dns>> {
    let ids = endpoints(t)?;
    let (query, qclass, qtype, rcode) = (
        t.str("query")?,
        t.str("qclass_name")?,
        t.str("qtype_name")?,
        t.str("rcode_name")?,
    );
    let (answers, ttls) = (t.strings("answers")?, t.floats("TTLs")?);
    Ok(ids
        .into_iter()
        .enumerate()
        .map(|(i, id)| Dns {
            id,
            query: query.value(i).to_string(),
            qclass_name: qclass.value(i).into(),
            qtype_name: qtype.value(i).into(),
            rcode_name: rcode.value(i).into(),
            answers: strings_at(answers, i),
            ttls: floats_at(ttls, i),
        })
        .collect())
}

// ---- http ----

/// Columns of a slice of HTTP records.
pub fn http_columns(h: &[Http]) -> Vec<Column> {
    let mut cols = endpoint_columns(h.iter().map(|h| &h.id));
    cols.extend([
        col("method", false, strs(h.iter().map(|h| h.method.as_str()))),
        col("host", false, strs(h.iter().map(|h| h.host.as_str()))),
        col("uri", false, strs(h.iter().map(|h| h.uri.as_str()))),
        col("version", false, strs(h.iter().map(|h| h.version.as_str()))),
        col(
            "user_agent",
            false,
            strs(h.iter().map(|h| h.user_agent.as_str())),
        ),
        col(
            "request_body_len",
            false,
            u64s(h.iter().map(|h| h.request_body_len)),
        ),
        col(
            "response_body_len",
            false,
            u64s(h.iter().map(|h| h.response_body_len)),
        ),
        col(
            "status_code",
            true,
            Arc::new(h.iter().map(|h| h.status_code).collect::<UInt16Array>()),
        ),
        col(
            "status_msg",
            false,
            strs(h.iter().map(|h| h.status_msg.as_str())),
        ),
        col(
            "resp_fuids",
            false,
            string_lists(h.iter().map(|h| h.resp_fuids.as_slice())),
        ),
        col(
            "resp_mime_types",
            false,
            string_lists(h.iter().map(|h| h.resp_mime_types.as_slice())),
        ),
    ]);
    cols
}

/// The HTTP records of one decoded batch.
pub fn http(t: &Columns<'_>) -> anyhow::Result<Vec<Http>> {
    let ids = endpoints(t)?;
    let (method, host, uri, version, agent) = (
        t.str("method")?,
        t.str("host")?,
        t.str("uri")?,
        t.str("version")?,
        t.str("user_agent")?,
    );
    let (req_len, resp_len, status, msg) = (
        t.u64("request_body_len")?,
        t.u64("response_body_len")?,
        t.u16("status_code")?,
        t.str("status_msg")?,
    );
    let (fuids, mimes) = (t.strings("resp_fuids")?, t.strings("resp_mime_types")?);
    Ok(ids
        .into_iter()
        .enumerate()
        .map(|(i, id)| Http {
            id,
            method: method.value(i).into(),
            host: host.value(i).to_string(),
            uri: uri.value(i).to_string(),
            version: version.value(i).into(),
            user_agent: agent.value(i).to_string(),
            request_body_len: req_len.value(i),
            response_body_len: resp_len.value(i),
            status_code: (!arrow_array::Array::is_null(status, i)).then(|| status.value(i)),
            status_msg: msg.value(i).to_string(),
            resp_fuids: strings_at(fuids, i),
            resp_mime_types: strings_at(mimes, i),
        })
        .collect())
}

// ---- ssl ----

/// Columns of a slice of TLS records.
pub fn ssl_columns(s: &[Ssl]) -> Vec<Column> {
    let mut cols = endpoint_columns(s.iter().map(|s| &s.id));
    cols.extend([
        col("version", false, strs(s.iter().map(|s| s.version.as_str()))),
        col("cipher", false, strs(s.iter().map(|s| s.cipher.as_str()))),
        col("curve", false, strs(s.iter().map(|s| s.curve.as_str()))),
        col(
            "server_name",
            false,
            strs(s.iter().map(|s| s.server_name.as_str())),
        ),
        col(
            "resumed",
            false,
            Arc::new(s.iter().map(|s| Some(s.resumed)).collect::<BooleanArray>()),
        ),
        col(
            "established",
            false,
            Arc::new(
                s.iter()
                    .map(|s| Some(s.established))
                    .collect::<BooleanArray>(),
            ),
        ),
        col("subject", false, strs(s.iter().map(|s| s.subject.as_str()))),
        col("issuer", false, strs(s.iter().map(|s| s.issuer.as_str()))),
        col(
            "validation_status",
            false,
            strs(s.iter().map(|s| s.validation_status.as_str())),
        ),
        col("ja3", false, strs(s.iter().map(|s| s.ja3.as_str()))),
        col("ja3s", false, strs(s.iter().map(|s| s.ja3s.as_str()))),
    ]);
    cols
}

/// The TLS records of one decoded batch.
pub fn ssl(t: &Columns<'_>) -> anyhow::Result<Vec<Ssl>> {
    let ids = endpoints(t)?;
    let (version, cipher, curve, sni) = (
        t.str("version")?,
        t.str("cipher")?,
        t.str("curve")?,
        t.str("server_name")?,
    );
    let (resumed, established, subject, issuer) = (
        t.bool("resumed")?,
        t.bool("established")?,
        t.str("subject")?,
        t.str("issuer")?,
    );
    let (validation, ja3, ja3s) = (t.str("validation_status")?, t.str("ja3")?, t.str("ja3s")?);
    Ok(ids
        .into_iter()
        .enumerate()
        .map(|(i, id)| Ssl {
            id,
            version: version.value(i).into(),
            cipher: cipher.value(i).to_string(),
            curve: curve.value(i).into(),
            server_name: sni.value(i).to_string(),
            resumed: resumed.value(i),
            established: established.value(i),
            subject: subject.value(i).to_string(),
            issuer: issuer.value(i).to_string(),
            validation_status: validation.value(i).to_string(),
            ja3: ja3.value(i).into(),
            ja3s: ja3s.value(i).into(),
        })
        .collect())
}

// ---- activity ----

/// One text column of the `activity` table: the field of `fields` rows, null on the others.
fn fields_column(a: &[Activity], get: impl Fn(&Fields) -> &str) -> ArrayRef {
    opt_strs(a.iter().map(|a| match &a.detail {
        Some(Detail::Fields(f)) => Some(get(f).to_string()),
        _ => None,
    }))
}

/// One text column of the `activity` table's `arp` rows.
fn arp_column(a: &[Activity], get: impl Fn(&Arp) -> Option<String>) -> ArrayRef {
    opt_strs(a.iter().map(|a| match &a.detail {
        Some(Detail::Arp(arp)) => get(arp),
        _ => None,
    }))
}

/// The `activity` table's columns: a row of another log (who was active when), with the fields the
/// detections read. `detail` says which fields apply: `none`, `arp` or `fields`.
pub fn activity_columns(a: &[Activity]) -> Vec<Column> {
    let resp = a.iter().map(|a| {
        a.detail
            .as_ref()
            .and_then(Detail::resp)
            .map(crate::record::ip_text)
    });
    vec![
        col("ts", false, f64s(a.iter().map(|a| a.ts))),
        col(
            "ip",
            false,
            dictionary_column(a.iter().map(|a| a.ip), ip_text),
        ),
        col(
            "detail",
            false,
            strs(a.iter().map(|a| match a.detail {
                None => "none",
                Some(Detail::Arp(_)) => "arp",
                Some(Detail::Fields(_)) => "fields",
            })),
        ),
        col("resp", true, opt_strs(resp)),
        col(
            "operation",
            true,
            arp_column(a, |arp| Some(arp.operation.as_str().to_string())),
        ),
        col(
            "dst_mac",
            true,
            arp_column(a, |arp| arp.dst_mac.map(|m| m.to_string())),
        ),
        col(
            "target_hw",
            true,
            arp_column(a, |arp| arp.target_hw.map(|m| m.to_string())),
        ),
        col("note", true, fields_column(a, |f| &f.note)),
        col("msg", true, fields_column(a, |f| &f.msg)),
        col("last_reply", true, fields_column(a, |f| &f.last_reply)),
        col(
            "software_type",
            true,
            fields_column(a, |f| &f.software_type),
        ),
        col("version", true, fields_column(a, |f| &f.version)),
        col(
            "auth_success",
            true,
            Arc::new(
                a.iter()
                    .map(|a| match &a.detail {
                        Some(Detail::Fields(f)) => f.auth_success,
                        _ => None,
                    })
                    .collect::<BooleanArray>(),
            ),
        ),
        col("uid", true, fields_column(a, |f| &f.uid)),
        col("host_name", true, fields_column(a, |f| &f.host_name)),
        col("mac", true, fields_column(a, |f| &f.mac)),
        col("tunnel_type", true, fields_column(a, |f| &f.tunnel_type)),
        col("action", true, fields_column(a, |f| &f.action)),
    ]
}

/// The activity rows of one decoded batch.
pub fn activity(t: &Columns<'_>) -> anyhow::Result<Vec<Activity>> {
    let ip = t.dictionary_values("ip", parse_ip)?;
    let (ts, detail, resp) = (t.f64("ts")?, t.str("detail")?, t.str("resp")?);
    let (operation, dst_mac, target_hw) =
        (t.str("operation")?, t.str("dst_mac")?, t.str("target_hw")?);
    let text = |name| t.str(name);
    let cols = [
        text("note")?,
        text("msg")?,
        text("last_reply")?,
        text("software_type")?,
        text("version")?,
        text("uid")?,
        text("host_name")?,
        text("mac")?,
        text("tunnel_type")?,
        text("action")?,
    ];
    let auth = t.bool("auth_success")?;
    let mac = |col: &StringArray, i: usize| -> Option<Mac> {
        (!arrow_array::Array::is_null(col, i))
            .then(|| Mac::parse(col.value(i)))
            .flatten()
    };
    (0..t.len())
        .map(|i| {
            let detail = match detail.value(i) {
                "none" => None,
                "arp" => Some(Detail::Arp(Arp {
                    resp: t.ip_opt(resp, "resp", i)?,
                    operation: ArpOp::parse(operation.value(i)).ok_or_else(|| {
                        anyhow::anyhow!("table activity: row {i} has no ARP operation")
                    })?,
                    dst_mac: mac(dst_mac, i),
                    target_hw: mac(target_hw, i),
                })),
                "fields" => {
                    let v = |k: usize| CompactString::from(cols[k].value(i));
                    Some(Detail::Fields(Box::new(Fields {
                        resp: t.ip_opt(resp, "resp", i)?,
                        note: v(0),
                        msg: v(1),
                        last_reply: v(2),
                        software_type: v(3),
                        version: v(4),
                        auth_success: (!arrow_array::Array::is_null(auth, i))
                            .then(|| auth.value(i)),
                        uid: v(5),
                        host_name: v(6),
                        mac: v(7),
                        tunnel_type: v(8),
                        action: v(9),
                    })))
                }
                other => anyhow::bail!(
                    "table activity: row {i} has an unknown detail '{}'",
                    crate::text::clean(other)
                ),
            };
            Ok(Activity {
                ts: ts.value(i),
                ip: ip[i],
                detail,
            })
        })
        .collect()
}

/// Encodes every table of the records: (file name, Parquet bytes), on every core.
pub fn encode(batch: &crate::record::Batch) -> anyhow::Result<Vec<(&'static str, Vec<u8>)>> {
    let ((conn, dns), (http, (ssl, activity))) = rayon::join(
        || {
            rayon::join(
                || {
                    let micros = exact_micros(batch.conns.iter().flat_map(|c| [c.ts, c.duration]));
                    columns::parquet(&batch.conns, |c| conn_columns(c, micros))
                },
                || columns::parquet(&batch.dns, dns_columns),
            )
        },
        || {
            rayon::join(
                || columns::parquet(&batch.http, http_columns),
                || {
                    rayon::join(
                        || columns::parquet(&batch.ssl, ssl_columns),
                        || columns::parquet(&batch.activity, activity_columns),
                    )
                },
            )
        },
    );
    Ok(vec![
        ("conn.parquet", conn?),
        ("dns.parquet", dns?),
        ("http.parquet", http?),
        ("ssl.parquet", ssl?),
        ("activity.parquet", activity?),
    ])
}
