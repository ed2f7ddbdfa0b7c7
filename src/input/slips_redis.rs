//! `kalipso open redis://HOST:PORT/N`: the records of a database in Slips v1.0.0's layout, as
//! kalipso (`--redis`) or Slips itself wrote it, read back so that the analysis can be shown
//! again.
//!
//! What is read: every `profile_<ip>_timewindow<N>_flows` hash (the connections, one per uid
//! however many windows list it), every `…_altflows` hash (DNS, HTTP and TLS records), and the
//! `profile_<ip>` hashes (DHCP host names and MACs, and the window width). The window grid is
//! read from the `twsprofile_<ip>` sorted sets: one grid for all profiles when every window
//! start fits one, else one per profile (as Slips v1.0.0 numbered them). Slips' quirks are read
//! as Slips wrote them: counters and ports as floats or strings, `Not Established`.
//!
//! What Slips' layout does not keep cannot come back: Zeek's `history`, IP-level byte counts,
//! and the records of other logs (SSH, SMTP, notices, ARP). Profiles, windows, aggregates,
//! tuples and the timeline are rebuilt from the flows; the detections run again on them.
//!
//! The URL may name any node of a Redis Cluster: [`Node`] finds every master, scans each one,
//! and sends each read to the node that holds its key.

use super::{FileReport, Input, InputSummary};
use crate::record::{
    Activity, Conn, ConnState, Detail, Dns, Endpoints, Fields, Http, LogKind, Proto, Ssl, Sym,
    SymCache, Uid,
};
use crate::redis_node::Node;
use crate::store::keys::Key;
use compact_str::CompactString;
use rayon::slice::ParallelSliceMut as _;
use rustc_hash::FxHashMap;
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use super::hash_readers::{BATCH, each_hash};

/// What was read, with the window settings the database implies.
pub struct FromRedis {
    /// The records and a summary naming the database.
    pub input: Input,
    /// Window width, from the profiles' `duration`.
    pub tw_width: f64,
    /// Whether each profile had its own grid (Slips v1.0.0).
    pub per_profile_grid: bool,
    /// Where each profile's own grid starts.
    pub anchors: BTreeMap<IpAddr, f64>,
    /// Whether Slips itself wrote the database (it keeps `slips_start_time`, which kalipso
    /// does not write): then every address gets a profile, as Slips gave one to each
    /// destination too.
    pub by_slips: bool,
}

/// Reads the database `url` names.
pub fn read(url: &str) -> anyhow::Result<FromRedis> {
    read_scope(url, None)
}

/// Reads one profile's records: the flows and other records its windows `windows` list, and
/// its `profile_<ip>` hash, on that profile's window grid. A few keys however large the
/// database is, so one profile can be shown before the whole database is read. The records
/// are those the profile's windows list: the connections it made, and those it received when
/// the writer listed them there too (kalipso does for home-network destinations).
pub fn read_profile(url: &str, ip: IpAddr, windows: &[i64]) -> anyhow::Result<FromRedis> {
    read_scope(url, Some((ip, windows)))
}

/// Reads every profile's keys, or one profile's (its address and window numbers).
fn read_scope(url: &str, profile: Option<(IpAddr, &[i64])>) -> anyhow::Result<FromRedis> {
    let mut con = crate::redis_node::Node::reach(url, "")?;
    let shown = con.shown().to_string();
    let fail = |e: redis::RedisError| anyhow::anyhow!("Redis at '{shown}': {e}");
    let mut flow_keys = Vec::new();
    let mut alt_keys = Vec::new();
    let mut profile_keys = Vec::new();
    let tws_keys = if let Some((ip, windows)) = profile {
        for &n in windows {
            flow_keys.push(Key::Flows(ip, n).to_string());
            alt_keys.push(Key::AltFlows(ip, n).to_string());
        }
        profile_keys.push(Key::Profile(ip).to_string());
        vec![Key::TwsProfile(ip).to_string()]
    } else {
        for k in con.scan("profile_*").map_err(fail)? {
            if k.ends_with("_altflows") {
                alt_keys.push(k);
            } else if k.ends_with("_flows") {
                flow_keys.push(k);
            } else if !k.contains("_timewindow") {
                profile_keys.push(k);
            }
        }
        if flow_keys.is_empty() && profile_keys.is_empty() {
            anyhow::bail!(
                "Redis at '{shown}' holds no Slips analysis: no profile_<ip> and no \
                 profile_<ip>_timewindow<N>_flows keys"
            );
        }
        con.scan("twsprofile_*").map_err(fail)?
    };
    // (keys are unique: an unstable sort gives the one order)
    flow_keys.par_sort_unstable();
    alt_keys.par_sort_unstable();
    profile_keys.par_sort_unstable();
    // by uid (packed: hashing and comparing it is cheaper than the uid's text)
    let mut conns: FxHashMap<Uid, Conn> = FxHashMap::default();
    let mut skipped = 0u64;
    let mut examples = Vec::new();
    // one profile alone: the client's `_altflows` key, the client and the uid of each
    // connection it received, whose DNS, HTTP or TLS record the client's keys keep, under the
    // same window number (kalipso writes one grid; Slips' per-profile grids can number the
    // client's window otherwise)
    let mut received: Vec<(String, IpAddr, String)> = Vec::new();
    // the flows are parsed by the readers; the first window that lists a uid gives its flow
    let parse_flows = |syms: &mut SymCache, _: &str, fields: Vec<(String, String)>| {
        fields
            .into_iter()
            .map(|(uid, json)| {
                let c = conn(&uid, &json, syms);
                (uid, c)
            })
            .collect::<Vec<_>>()
    };
    each_hash(
        url,
        &flow_keys,
        SymCache::default,
        parse_flows,
        |key, flows| {
            // (once per key, and only for one profile alone: the whole reading skips it)
            let alone = profile.and_then(|(ip, _)| match Key::parse(key) {
                Some(Key::Flows(_, n)) => Some((ip, n)),
                _ => None,
            });
            for (uid, c) in flows {
                match c {
                    Some(c) => {
                        if let Some((ip, n)) = alone
                            && c.orig_h != ip
                        {
                            let client = Key::AltFlows(c.orig_h, n).to_string();
                            received.push((client, c.orig_h, uid));
                        }
                        conns.entry(c.uid.clone()).or_insert(c);
                    }
                    // a flow that does not read counts once, unless its uid's did read
                    None if !conns.contains_key(&Uid::new(&uid)) => {
                        skipped += 1;
                        if examples.len() < super::MAX_EXAMPLES {
                            examples.push(bad(&shown, key, &uid));
                        }
                    }
                    None => {}
                }
            }
        },
    )?;
    let mut dns = Vec::new();
    let mut http = Vec::new();
    let mut ssl = Vec::new();
    let mut seen_alt: rustc_hash::FxHashSet<(String, String)> = rustc_hash::FxHashSet::default();
    // one DNS, HTTP or TLS record of an `_altflows` hash of the profile `owner`
    let mut take_record = |owner: Option<IpAddr>, uid: String, v: Option<Value>| {
        let Some(v) = v else {
            skipped += 1;
            return;
        };
        let kind = text(&v, "type");
        if !seen_alt.insert((uid.clone(), kind.clone())) {
            return;
        }
        let id = endpoints(&v, &uid, owner, conns.get(&Uid::new(&uid)));
        match kind.as_str() {
            "dns" => dns.push(Dns {
                id,
                query: text(&v, "query"),
                qclass_name: text(&v, "qclass_name").into(),
                qtype_name: text(&v, "qtype_name").into(),
                rcode_name: text(&v, "rcode_name").into(),
                answers: texts(&v, "answers"),
                ttls: v
                    .get("ttls")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(number).collect())
                    .unwrap_or_default(),
            }),
            "http" => http.push(Http {
                id,
                method: text(&v, "method").into(),
                host: text(&v, "host"),
                uri: text(&v, "uri"),
                version: text(&v, "version").into(),
                user_agent: text(&v, "user_agent"),
                request_body_len: count(v.get("request_body_len")),
                response_body_len: count(v.get("response_body_len")),
                status_code: v.get("status_code").and_then(port),
                status_msg: text(&v, "status_msg"),
                resp_fuids: texts(&v, "resp_fuids"),
                resp_mime_types: texts(&v, "resp_mime_types"),
            }),
            "ssl" => ssl.push(Ssl {
                id,
                version: text(&v, "version").into(),
                cipher: text(&v, "cipher"),
                curve: text(&v, "curve").into(),
                server_name: text(&v, "server_name"),
                resumed: text(&v, "resumed") == "True",
                established: text(&v, "established") == "True",
                subject: text(&v, "subject"),
                issuer: text(&v, "issuer"),
                validation_status: text(&v, "validation_status"),
                ja3: text(&v, "ja3").into(),
                ja3s: text(&v, "ja3s").into(),
            }),
            _ => {}
        }
    };
    let parse_records = |(): &mut (), _: &str, fields: Vec<(String, String)>| {
        fields
            .into_iter()
            .map(|(uid, json)| {
                let v = parse(&json);
                (uid, v)
            })
            .collect::<Vec<_>>()
    };
    each_hash(
        url,
        &alt_keys,
        || (),
        parse_records,
        |key, records| {
            let owner = profile_ip(key);
            for (uid, v) in records {
                take_record(owner, uid, v);
            }
        },
    )?;
    // one profile alone: the records of the connections it received are kept in the
    // client's keys, under the same window (the grid is one when kalipso wrote it)
    received.sort_unstable();
    received.dedup();
    for batch in received.chunks(BATCH) {
        let cmds = batch
            .iter()
            .map(|(key, _, uid)| redis::cmd("HGET").arg(key).arg(uid).clone());
        let found: Vec<Option<String>> = con.each(cmds.collect()).map_err(fail)?;
        for ((_, client, uid), json) in batch.iter().zip(found) {
            if let Some(json) = json {
                take_record(Some(*client), uid.clone(), parse(&json));
            }
        }
    }
    let mut tw_width = None;
    let mut activity = Vec::new();
    let keep = |(): &mut (), _: &str, fields: Vec<(String, String)>| fields;
    each_hash(
        url,
        &profile_keys,
        || (),
        keep,
        |key, fields| {
            let Some(ip) = key.strip_prefix("profile_").and_then(|s| s.parse().ok()) else {
                return;
            };
            let field = |name: &str| fields.iter().find(|(f, _)| f == name).map(|(_, v)| v);
            if tw_width.is_none() {
                tw_width = field("duration").and_then(|d| d.parse::<f64>().ok());
            }
            let (host_name, mac) = (field("host_name"), field("MAC"));
            if host_name.is_some() || mac.is_some() {
                let ts = field("starttime")
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0.0);
                activity.push(Activity {
                    ts,
                    ip,
                    detail: Some(Detail::Fields(Box::new(Fields {
                        host_name: host_name
                            .map(|s| CompactString::from(s.as_str()))
                            .unwrap_or_default(),
                        mac: mac
                            .map(|s| CompactString::from(s.as_str()))
                            .unwrap_or_default(),
                        ..Fields::default()
                    }))),
                });
            }
        },
    )?;
    let tw_width = tw_width
        .filter(|w| w.is_finite() && *w > 0.0)
        .unwrap_or(3600.0);
    let by_slips: bool = con
        .one(redis::cmd("EXISTS").arg("slips_start_time"))
        .map_err(fail)?;
    let mut grids = grids(&mut con, &tws_keys, tw_width).map_err(fail)?;
    if by_slips {
        // Slips v1.0.0 numbered each profile's windows from its first flow
        grids.global = None;
    }
    let mut conns: Vec<Conn> = conns.into_values().collect();
    // (the hash map's order is arbitrary: the sort below decides)
    // Slips' layout keeps no arrival order: time order (then uid) is the one it implies
    // (uids are unique here, so time then uid is a total order: an unstable sort gives it,
    // without the stable sort's copy of the records)
    conns.par_sort_unstable_by(|a, b| a.ts.total_cmp(&b.ts).then_with(|| a.uid.cmp(&b.uid)));
    dns.par_sort_by(|a, b| a.id.ts.total_cmp(&b.id.ts));
    http.par_sort_by(|a, b| a.id.ts.total_cmp(&b.id.ts));
    ssl.par_sort_by(|a, b| a.id.ts.total_cmp(&b.id.ts));
    let times = conns
        .iter()
        .map(|c| c.ts)
        .chain(dns.iter().map(|d| d.id.ts))
        .chain(http.iter().map(|h| h.id.ts))
        .chain(ssl.iter().map(|s| s.id.ts));
    let span = times.fold(None, |acc: Option<(f64, f64)>, t| {
        Some(acc.map_or((t, t), |(a, b)| (a.min(t), b.max(t))))
    });
    // a global grid starts at the analysis' first record, which may be of a log Redis does
    // not keep: the grid in the database says where
    let span = match (span, grids.global) {
        (Some((_, end)), Some(anchor)) => Some((anchor, end.max(anchor))),
        (s, _) => s,
    };
    let mut records = BTreeMap::new();
    for (k, n) in [
        ("conn", conns.len()),
        ("dns", dns.len()),
        ("http", http.len()),
        ("ssl", ssl.len()),
    ] {
        records.insert(k.to_string(), n as u64);
    }
    let total: u64 = records.values().sum();
    let file = FileReport {
        path: shown,
        kind: LogKind::Conn,
        zeek_path: None,
        json: true,
        data_lines: total + skipped,
        records: total,
        skipped,
        examples,
        error: None,
        assumed_columns: false,
        capture: None,
    };
    Ok(FromRedis {
        input: Input {
            batch: crate::record::Batch {
                conns,
                dns,
                http,
                ssl,
                activity,
                ..crate::record::Batch::default()
            },
            summary: InputSummary {
                files: vec![file],
                records,
                skipped,
                failed_files: 0,
                cut_files: 0,
                span,
            },
        },
        tw_width,
        per_profile_grid: grids.global.is_none(),
        anchors: grids.per_profile,
        by_slips,
    })
}

/// The profiles and their windows in the database `url` names, read from the `profiles` set
/// and the `twsprofile_<ip>` sets alone: a few round trips however many flows the database
/// holds, so a landing screen can list them while [`read`] takes the flows.
pub struct Windows {
    /// The URL as messages show it (no password).
    pub shown: String,
    /// Each profile's window numbers, in order.
    pub of: BTreeMap<IpAddr, Vec<i64>>,
}

/// Reads the [`Windows`] of the database `url` names.
pub fn windows(url: &str) -> anyhow::Result<Windows> {
    let mut con = crate::redis_node::Node::reach(url, "")?;
    let shown = con.shown().to_string();
    let fail = |e: redis::RedisError| anyhow::anyhow!("Redis at '{shown}': {e}");
    // the profiles set names them without a scan of the whole keyspace; a database without
    // one (written by hand, or cut short) is scanned
    let members: Vec<String> = con
        .one(redis::cmd("SMEMBERS").arg("profiles"))
        .map_err(fail)?;
    let mut keys: Vec<String> = members
        .iter()
        .filter_map(|m| Some(format!("twsprofile_{}", m.strip_prefix("profile_")?)))
        .collect();
    if keys.is_empty() {
        keys = con.scan("twsprofile_*").map_err(fail)?;
    }
    let mut of = BTreeMap::new();
    for batch in keys.chunks(BATCH) {
        let cmds = batch
            .iter()
            .map(|k| redis::cmd("ZRANGE").arg(k).arg(0).arg(-1).clone());
        let sets: Vec<Vec<String>> = con.each(cmds.collect()).map_err(fail)?;
        for (key, names) in batch.iter().zip(sets) {
            let Some(ip) = key.strip_prefix("twsprofile_").and_then(|s| s.parse().ok()) else {
                continue;
            };
            let mut numbers: Vec<i64> = names
                .iter()
                .filter_map(|n| n.strip_prefix("timewindow")?.parse().ok())
                .collect();
            numbers.sort_unstable();
            if !numbers.is_empty() {
                of.insert(ip, numbers);
            }
        }
    }
    Ok(Windows { shown, of })
}

/// The first `max` entries of the stored timeline of window `n` of profile `ip` (time order),
/// with how many it holds: one window's key, read when the landing screen previews it.
pub fn stored_timeline(
    con: &mut crate::redis_node::Node,
    ip: IpAddr,
    n: i64,
    max: usize,
) -> redis::RedisResult<(u64, Vec<String>)> {
    let key = Key::Timeline(ip, n).to_string();
    let total: u64 = con.one(redis::cmd("ZCARD").arg(&key))?;
    let entries = con.one(
        redis::cmd("ZRANGE")
            .arg(&key)
            .arg(0)
            .arg(max.saturating_sub(1)),
    )?;
    Ok((total, entries))
}

fn bad(url: &str, key: &str, uid: &str) -> super::InputError {
    super::InputError {
        path: url.to_string(),
        at: None,
        problem: super::Problem::Record(format!(
            "{key} field {uid}: not a flow Slips' layout describes"
        )),
    }
}

/// How the windows were numbered, read from the window starts.
#[derive(Debug, Clone, Default, PartialEq)]
struct Grids {
    /// The start of window 1 when every window of every profile fits one grid.
    global: Option<f64>,
    /// The start of window 1 of each profile's own grid.
    per_profile: BTreeMap<IpAddr, f64>,
}

/// Reads the `twsprofile_<ip>` keys `keys` (window name → start).
fn grids(con: &mut Node, keys: &[String], width: f64) -> redis::RedisResult<Grids> {
    let mut out = Grids::default();
    let mut global: Option<Option<f64>> = None;
    let mut starts = 0usize;
    for batch in keys.chunks(BATCH) {
        let cmds = batch.iter().map(|k| {
            let mut c = redis::cmd("ZRANGE");
            c.arg(k).arg(0).arg(-1).arg("WITHSCORES");
            c
        });
        let sets: Vec<Vec<(String, f64)>> = con.each(cmds.collect())?;
        for (key, set) in batch.iter().zip(sets) {
            let ip: Option<IpAddr> = key.strip_prefix("twsprofile_").and_then(|s| s.parse().ok());
            for (name, start) in set {
                let Some(n) = name
                    .strip_prefix("timewindow")
                    .and_then(|n| n.parse::<i64>().ok())
                else {
                    continue;
                };
                let a = start - (n - 1) as f64 * width;
                if let Some(ip) = ip {
                    out.per_profile.entry(ip).or_insert(a);
                }
                global = match global {
                    None => Some(Some(a)),
                    Some(Some(x)) if (x - a).abs() <= 1e-6 * x.abs().max(1.0) => Some(Some(x)),
                    Some(_) => Some(None),
                };
                starts += 1;
            }
        }
    }
    // one profile with one window tells nothing about a shared grid
    out.global = global.flatten().filter(|_| starts > 1 || keys.len() > 1);
    Ok(out)
}

/// The profile address of a `profile_<ip>_timewindow<N>…` key.
fn profile_ip(key: &str) -> Option<IpAddr> {
    let rest = key.strip_prefix("profile_")?;
    rest[..rest.rfind("_timewindow")?].parse().ok()
}

/// Parses a record's JSON with its numbers kept as written: times and durations are read
/// from their text (correctly rounded), not through `serde_json`'s faster float parser.
fn parse(json: &str) -> Option<Value> {
    let raw: serde_json::Map<String, Value> =
        serde_json::from_str::<BTreeMap<String, Box<serde_json::value::RawValue>>>(json)
            .ok()?
            .into_iter()
            .map(|(k, v)| {
                let text = v.get();
                let first = text.as_bytes().first().copied().unwrap_or(b'"');
                let value = if first == b'-' || first.is_ascii_digit() {
                    // keep the digits: `number` parses them
                    Value::String(text.to_string())
                } else {
                    serde_json::from_str(text).unwrap_or(Value::Null)
                };
                (k, value)
            })
            .collect();
    Some(Value::Object(raw))
}

/// The fields of a flow kalipso reads (spec §1.8), numbers kept as their JSON text.
#[derive(serde::Deserialize)]
struct FlowJson<'a> {
    #[serde(borrow)]
    ts: &'a RawValue,
    #[serde(borrow, default)]
    dur: Option<&'a RawValue>,
    saddr: std::borrow::Cow<'a, str>,
    daddr: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    sport: Option<&'a RawValue>,
    #[serde(borrow, default)]
    dport: Option<&'a RawValue>,
    #[serde(default)]
    proto: std::borrow::Cow<'a, str>,
    #[serde(default)]
    origstate: std::borrow::Cow<'a, str>,
    #[serde(default)]
    appproto: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    pkts: Option<&'a RawValue>,
    #[serde(borrow, default)]
    spkts: Option<&'a RawValue>,
    #[serde(borrow, default)]
    allbytes: Option<&'a RawValue>,
    #[serde(borrow, default)]
    sbytes: Option<&'a RawValue>,
}

/// A number as its JSON text: a number, or a string holding one.
fn raw_number(raw: &RawValue) -> Option<f64> {
    let text = raw.get();
    let v = if text.starts_with('"') {
        serde_json::from_str::<String>(text)
            .ok()?
            .trim()
            .parse()
            .ok()?
    } else {
        text.parse::<f64>().ok()?
    };
    v.is_finite().then_some(v)
}

/// A counter: a whole number, however written; 0 when absent.
fn raw_count(raw: Option<&RawValue>) -> u64 {
    raw.and_then(raw_number)
        .filter(|f| *f >= 0.0)
        .map_or(0, |f| f.round() as u64)
}

/// A port: a number, a decimal string, or Slips' `0x…` for ICMP types.
fn raw_port(raw: Option<&RawValue>) -> u16 {
    let Some(raw) = raw else { return 0 };
    if let Ok(s) = serde_json::from_str::<&str>(raw.get()) {
        if let Some(hex) = s.strip_prefix("0x") {
            return u16::from_str_radix(hex, 16).unwrap_or(0);
        }
    }
    raw_number(raw)
        .filter(|f| (0.0..=65535.0).contains(f))
        .map_or(0, |f| f as u16)
}

/// A flow as Slips stores it (spec §1.8): numbers may be floats or strings.
fn conn(uid: &str, json: &str, syms: &mut SymCache) -> Option<Conn> {
    let f: FlowJson<'_> = serde_json::from_str(json).ok()?;
    let pkts = raw_count(f.pkts);
    let spkts = raw_count(f.spkts);
    let allbytes = raw_count(f.allbytes);
    let sbytes = raw_count(f.sbytes);
    Some(Conn {
        ts: raw_number(f.ts)?,
        orig_h: f.saddr.parse().ok()?,
        resp_h: f.daddr.parse().ok()?,
        orig_p: raw_port(f.sport),
        resp_p: raw_port(f.dport),
        proto: Proto::from_zeek(&f.proto),
        conn_state: ConnState::from_zeek(&f.origstate),
        service: syms.get(&f.appproto),
        history: Sym::default(),
        duration: f.dur.and_then(raw_number).unwrap_or(0.0),
        uid: Uid::new(uid),
        orig_bytes: sbytes,
        resp_bytes: allbytes.saturating_sub(sbytes),
        orig_pkts: spkts,
        orig_ip_bytes: 0,
        resp_pkts: pkts.saturating_sub(spkts),
        resp_ip_bytes: 0,
    })
}

/// The endpoints of an application record: its connection's when the flows have it, else the
/// profile and what the record itself names.
fn endpoints(v: &Value, uid: &str, owner: Option<IpAddr>, conn: Option<&Conn>) -> Endpoints {
    let ts = v.get("stime").and_then(number).unwrap_or(0.0);
    match conn {
        Some(c) => Endpoints {
            ts,
            uid: uid.into(),
            orig_h: c.orig_h,
            orig_p: c.orig_p,
            resp_h: c.resp_h,
            resp_p: c.resp_p,
        },
        None => Endpoints {
            ts,
            uid: uid.into(),
            orig_h: owner.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            orig_p: 0,
            resp_h: text(v, "daddr")
                .parse()
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            resp_p: v.get("dport").and_then(port).unwrap_or(0),
        },
    }
}

fn text(v: &Value, name: &str) -> String {
    match v.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn texts(v: &Value, name: &str) -> Vec<String> {
    v.get(name)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A number written as a number or as a string (Slips v1.0.0 reads TSV numbers as floats).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

/// A counter: a whole number, however written; 0 when absent.
fn count(v: Option<&Value>) -> u64 {
    v.and_then(number)
        .filter(|f| *f >= 0.0)
        .map_or(0, |f| f.round() as u64)
}

/// A port: a number, a decimal string, or Slips' `0x…` for ICMP types.
fn port(v: &Value) -> Option<u16> {
    if let Some(s) = v.as_str() {
        if let Some(hex) = s.strip_prefix("0x") {
            return u16::from_str_radix(hex, 16).ok();
        }
    }
    let f = number(v)?;
    (0.0..=65535.0).contains(&f).then_some(f as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slips_numbers_are_read_as_written() {
        let mut syms = SymCache::default();
        // Slips v1.0.0 on a TSV log: floats and string ports
        let c = conn(
            "C1",
            r#"{"ts": 944.265142, "dur": 0.049429, "saddr": "10.0.2.112", "sport": "49172",
                "daddr": "195.113.214.219", "dport": "80", "proto": "tcp", "origstate": "SF",
                "state": "Established", "pkts": 10.0, "allbytes": 1338.0, "spkts": 5.0,
                "sbytes": 261.0, "appproto": "http"}"#,
            &mut syms,
        )
        .expect("a flow");
        assert_eq!((c.orig_p, c.resp_p), (49172, 80));
        assert_eq!((c.orig_pkts, c.resp_pkts), (5, 5));
        assert_eq!((c.orig_bytes, c.resp_bytes), (261, 1077));
        assert_eq!(c.conn_state, ConnState::SF);
        assert_eq!(c.service.as_str(), "http");
        assert_eq!(port(&Value::String("0x0008".into())), Some(8));
        assert!(conn("C2", r#"{"ts": 1, "saddr": "nonsense"}"#, &mut syms).is_none());
        assert_eq!(
            profile_ip("profile_fe80::1_timewindow3_altflows"),
            "fe80::1".parse().ok()
        );
    }
}
