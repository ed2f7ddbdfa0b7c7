//! The Redis view of the store: a Redis-shaped read API and the `--dump-redis` file.
//!
//! The dump has the layout of the oracle dumps of real Slips runs:
//! `{"keys":[{"db":0,"key":…,"type":"hash|set|zset|string","value":…}]}` with hash values as the
//! JSON strings Slips would store, sets as sorted lists and sorted sets as `[[member, score]…]`
//! in `ZRANGE` order. Keys are sorted by (db, name), so the file is byte-identical across runs
//! and thread counts.

use super::Store;
use super::keys::{self, Key};
use super::render::{self, Obj, py_float, quoted, str_list};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// A Redis value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A hash: field → string.
    Hash(Vec<(String, String)>),
    /// A set of strings, sorted.
    Set(Vec<String>),
    /// A sorted set in `ZRANGE` order: (member, score).
    ZSet(Vec<(String, f64)>),
}

impl Value {
    fn type_name(&self) -> &'static str {
        match self {
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    fn json(&self) -> String {
        match self {
            Value::Hash(fields) => {
                let mut o = Obj::new();
                for (f, v) in fields {
                    o.str(f, v);
                }
                o.finish()
            }
            Value::Set(members) => str_list(members.iter().map(String::as_str)),
            Value::ZSet(members) => {
                let parts: Vec<String> = members
                    .iter()
                    .map(|(m, s)| format!("[{}, {}]", quoted(m), py_float(*s)))
                    .collect();
                format!("[{}]", parts.join(", "))
            }
        }
    }
}

/// Builds a sorted set with Redis semantics: a repeated member keeps its last score, and
/// members are ordered by (score, member).
fn zset(members: impl IntoIterator<Item = (String, f64)>) -> Value {
    let mut by_member: BTreeMap<String, f64> = BTreeMap::new();
    for (m, s) in members {
        by_member.insert(m, s);
    }
    let mut v: Vec<(String, f64)> = by_member.into_iter().collect();
    v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    Value::ZSet(v)
}

impl Store {
    /// Every key kalipso writes, sorted by name (what `KEYS *` would list).
    pub fn key_names(&self) -> Vec<Key> {
        let mut out = vec![Key::Profiles, Key::DnsResolution, Key::IpsInfo];
        for (ip, p) in &self.profiles {
            out.push(Key::Profile(*ip));
            out.push(Key::TwsProfile(*ip));
            for (n, w) in &p.windows {
                let has_flows = !w.out_flows.is_empty() || !w.in_flows.is_empty();
                if has_flows {
                    out.push(Key::Window(*ip, *n));
                    out.push(Key::Timeline(*ip, *n));
                    out.push(Key::Flows(*ip, *n));
                }
                if !w.dns.is_empty() || !w.http.is_empty() || !w.ssl.is_empty() {
                    out.push(Key::AltFlows(*ip, *n));
                }
            }
        }
        out.sort_by_key(|k| (k.db(), k.to_string()));
        out
    }

    /// The value of a key, as Slips would hold it; `None` if kalipso has no such key.
    pub fn get(&self, key: &Key) -> Option<Value> {
        match key {
            Key::Profiles => Some(Value::Set(
                self.profiles
                    .keys()
                    .map(|ip| keys::profile_key(*ip))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            )),
            Key::Profile(ip) => {
                let p = self.profiles.get(ip)?;
                Some(Value::Hash(vec![
                    ("duration".into(), py_float(self.config.tw_width)),
                    ("starttime".into(), py_float(p.first_ts)),
                ]))
            }
            Key::TwsProfile(ip) => {
                let p = self.profiles.get(ip)?;
                Some(zset(
                    p.windows
                        .values()
                        .map(|w| (keys::tw_name(w.number), w.start)),
                ))
            }
            Key::Window(ip, n) => Some(Value::Hash(render::window_fields(
                self,
                self.window(*ip, *n)?,
            ))),
            Key::Timeline(ip, n) => {
                let w = self.window(*ip, *n)?;
                let entries = render::timeline(self, w);
                Some(zset(entries.into_iter().filter_map(|e| {
                    let ts = self.conns[e.flow as usize].ts;
                    render::timeline_json(self, e).map(|j| (j, ts))
                })))
            }
            Key::Flows(ip, n) => {
                let w = self.window(*ip, *n)?;
                let mut fields: BTreeMap<String, String> = BTreeMap::new();
                for &i in w.out_flows.iter().chain(&w.in_flows) {
                    let c = &self.conns[i as usize];
                    fields.insert(c.uid.to_string(), render::flow_json(c));
                }
                Some(Value::Hash(fields.into_iter().collect()))
            }
            Key::AltFlows(ip, n) => {
                let w = self.window(*ip, *n)?;
                let mut all: Vec<(f64, super::AltRef)> = Vec::new();
                all.extend(
                    w.dns
                        .iter()
                        .map(|&i| (self.dns[i as usize].id.ts, super::AltRef::Dns(i))),
                );
                all.extend(
                    w.http
                        .iter()
                        .map(|&i| (self.http[i as usize].id.ts, super::AltRef::Http(i))),
                );
                all.extend(
                    w.ssl
                        .iter()
                        .map(|&i| (self.ssl[i as usize].id.ts, super::AltRef::Ssl(i))),
                );
                all.sort_by(|a, b| a.0.total_cmp(&b.0));
                let mut fields: BTreeMap<String, String> = BTreeMap::new();
                for (_, r) in all {
                    let (uid, json) = render::altflow_json(self, r);
                    fields.insert(uid, json);
                }
                Some(Value::Hash(fields.into_iter().collect()))
            }
            Key::DnsResolution => Some(Value::Hash(
                self.dns_resolution
                    .iter()
                    .map(|(ip, r)| {
                        let by: Vec<String> =
                            r.resolved_by.iter().map(ToString::to_string).collect();
                        let v = Obj::new()
                            .float("ts", r.ts)
                            .str("uid", &r.uid)
                            .raw(
                                "domains",
                                &str_list(r.domains.iter().map(|(d, _)| d.as_str())),
                            )
                            .raw("resolved-by", &str_list(by.iter().map(String::as_str)))
                            .raw(
                                "timewindows",
                                &str_list(r.timewindows.iter().map(String::as_str)),
                            )
                            .finish();
                        (ip.to_string(), v)
                    })
                    .collect(),
            )),
            Key::IpsInfo => {
                let mut ips: std::collections::BTreeSet<std::net::IpAddr> =
                    self.profiles.keys().copied().collect();
                ips.extend(self.conns.iter().map(|c| c.resp_h));
                Some(Value::Hash(
                    ips.into_iter()
                        .map(|ip| {
                            let mut o = Obj::new();
                            if let Some(sni) = self.sni.get(&ip) {
                                let list: Vec<String> = sni
                                    .iter()
                                    .map(|(name, port)| {
                                        Obj::new()
                                            .str("server_name", name)
                                            .int("dport", port)
                                            .finish()
                                    })
                                    .collect();
                                o.raw("SNI", &format!("[{}]", list.join(", ")));
                            }
                            (ip.to_string(), o.finish())
                        })
                        .collect(),
                ))
            }
        }
    }

    /// `HGET key field`.
    pub fn hget(&self, key: &str, field: &str) -> Option<String> {
        match self.get(&Key::parse(key)?)? {
            Value::Hash(fields) => fields.into_iter().find(|(f, _)| f == field).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Writes the whole keyspace in the oracle dump format.
    pub fn dump_redis(&self, out: &mut impl Write) -> io::Result<()> {
        let names = self.key_names();
        // Rendering is the expensive part: do it in parallel, write in key order.
        let rendered: Vec<Option<String>> = names
            .par_iter()
            .map(|k| {
                self.get(k).map(|v| {
                    format!(
                        "{{\"db\": {}, \"key\": {}, \"type\": \"{}\", \"value\": {}}}",
                        k.db(),
                        quoted(&k.to_string()),
                        v.type_name(),
                        v.json()
                    )
                })
            })
            .collect();
        out.write_all(b"{\"keys\": [\n")?;
        let mut first = true;
        for line in rendered.into_iter().flatten() {
            if !first {
                out.write_all(b",\n")?;
            }
            first = false;
            out.write_all(line.as_bytes())?;
        }
        out.write_all(b"\n]}\n")?;
        Ok(())
    }
}
