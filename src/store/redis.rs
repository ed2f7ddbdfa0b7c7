//! The Redis view of the store: a Redis-shaped read API and the `--dump-redis` file.
//!
//! The dump has the layout of the oracle dumps of real Slips runs:
//! `{"keys":[{"db":0,"key":…,"type":"hash|set|zset|string","value":…}]}` with hash values as the
//! JSON strings Slips would store, sets as sorted lists and sorted sets as `[[member, score]…]`
//! in `ZRANGE` order. Keys are sorted by (db, name), so the file is byte-identical across runs
//! and thread counts.
//!
//! It connects to no server.

use super::Store;
use super::keys::{self, Key};
use super::python::{py_float, to_json};
use super::render;
use super::timeline;
use rayon::prelude::*;
use serde::Serialize;
use serde::ser::Serializer;
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
}

/// A value as the dump shows it: a hash as an object of strings, a set as a list, a sorted set
/// as `[[member, score]…]`.
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Hash(fields) => s.collect_map(fields.iter().map(|(f, v)| (f, v))),
            Value::Set(members) => s.collect_seq(members),
            Value::ZSet(members) => s.collect_seq(members),
        }
    }
}

/// One key of the dump.
#[derive(Serialize)]
struct DumpEntry<'a> {
    db: u8,
    key: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    value: &'a Value,
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
        self.named_keys().into_iter().map(|(k, _)| k).collect()
    }

    /// Every key kalipso writes with its name, sorted by database and name: the exports write
    /// the names they sorted by instead of building each a second time.
    pub fn named_keys(&self) -> Vec<(Key, String)> {
        let mut out = vec![Key::Profiles, Key::DnsResolution, Key::IpsInfo];
        for (ip, p) in &self.profiles {
            out.push(Key::Profile(*ip));
            out.push(Key::TwsProfile(*ip));
            for (n, w) in p.windows.iter() {
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
        let mut named: Vec<(Key, String)> = out
            .into_iter()
            .map(|k| {
                let name = k.to_string();
                (k, name)
            })
            .collect();
        named.sort_by(|(a, an), (b, bn)| (a.db(), an).cmp(&(b.db(), bn)));
        named
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
                let mut fields = vec![
                    ("duration".into(), py_float(self.config.tw_width)),
                    ("starttime".into(), py_float(p.first_ts)),
                ];
                // what DHCP named the address (Slips' ip_info)
                if let Some(h) = self.hosts.get(ip) {
                    if !h.host_name.is_empty() {
                        fields.push(("host_name".into(), h.host_name.clone()));
                    }
                    if !h.mac.is_empty() {
                        fields.push(("MAC".into(), h.mac.clone()));
                    }
                }
                Some(Value::Hash(fields))
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
                let entries = timeline::timeline(self, w);
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
                    .filter(|(ip, _)| self.owns(**ip))
                    .map(|(ip, r)| (crate::record::ip_text(*ip), render::resolution_json(r)))
                    .collect(),
            )),
            Key::IpsInfo => {
                let mut ips: std::collections::BTreeSet<std::net::IpAddr> =
                    self.profiles.keys().copied().collect();
                ips.extend(self.conns.iter().map(|c| c.resp_h));
                ips.retain(|ip| self.owns(*ip));
                Some(Value::Hash(
                    ips.into_iter()
                        .map(|ip| {
                            let sni = self.sni.get(&ip).map(Vec::as_slice);
                            (crate::record::ip_text(ip), render::ip_info_json(sni))
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
        let names = self.named_keys();
        out.write_all(b"{\"keys\": [\n")?;
        let mut first = true;
        // Rendering is the expensive part: do it in parallel, a batch of keys at a time (the
        // whole rendered dump of a million-line log is gigabytes), and write in key order.
        for batch in names.chunks(4096) {
            let rendered: Vec<Option<String>> = batch
                .par_iter()
                .map(|(k, name)| {
                    self.get(k).map(|v| {
                        to_json(&DumpEntry {
                            db: k.db(),
                            key: name,
                            kind: v.type_name(),
                            value: &v,
                        })
                    })
                })
                .collect();
            for line in rendered.into_iter().flatten() {
                if !first {
                    out.write_all(b",\n")?;
                }
                first = false;
                out.write_all(line.as_bytes())?;
            }
        }
        out.write_all(b"\n]}\n")?;
        Ok(())
    }
}
