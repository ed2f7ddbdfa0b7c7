//! The in-memory store: typed records and profiles, laid out by Slips' Redis keyspace.
//!
//! The store owns every record (indices in profiles point into its vectors), the profiles with
//! their windows, Slips' `DNSresolution` (built from dns.log), the uid → application record index
//! used for timeline interpretations, and the SNI list of `IPsInfo`. The Redis view of it (key
//! names, the JSON strings Slips would hold, the `--dump-redis` file) lives in [`keys`],
//! `render` and [`redis`]; the UI and detections read the typed data directly. The store
//! knows nothing of detections: they read it and keep their results beside it, in
//! [`crate::Analysis`].

pub mod keys;
pub use flow_set::FlowSet;
mod flow_set;
pub(crate) mod ports;
pub(crate) mod python;
pub mod redis;
pub(crate) mod render;
pub(crate) mod timeline;

use crate::profile::{self, Profile, ProfileConfig, Window};
use crate::record::Batch;
use crate::record::{Activity, Conn, Dns, Http, Ssl};
use compact_str::CompactString;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// `DNSresolution[ip]`: what the capture's own DNS answers say about an IP (spec §1.9).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolution {
    /// Time of the first answer that named the IP (what `ConnectionWithoutDNS` compares a
    /// connection's time with; not part of Slips' key).
    pub first_ts: f64,
    /// Time of the last answer that named the IP.
    pub ts: f64,
    /// uid of that answer.
    pub uid: CompactString,
    /// Queried names whose answers contained the IP, with the index (in `Store::dns`) of the
    /// first record that named it.
    pub domains: Vec<(String, u32)>,
    /// Clients that asked.
    pub resolved_by: Vec<IpAddr>,
    /// `profile_<client>_timewindow<N>` of each asking.
    pub timewindows: Vec<String>,
}

impl Resolution {
    /// The domains known once the first `seen` dns.log records were processed.
    pub fn domains_known(&self, seen: u32) -> impl Iterator<Item = &str> {
        self.domains
            .iter()
            .filter(move |(_, first)| *first < seen)
            .map(|(d, _)| d.as_str())
    }
}

/// An application record, by kind and index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AltRef {
    /// `Store::dns[i]`
    Dns(u32),
    /// `Store::http[i]`
    Http(u32),
    /// `Store::ssl[i]`
    Ssl(u32),
}

/// Everything kalipso knows after profiling.
#[derive(Debug, Default)]
pub struct Store {
    /// Profiler settings used.
    pub config: ProfileConfig,
    /// Start of window 1 of the global grid (the first record's time).
    pub anchor: f64,
    /// All connections, in processing order (merged by file heads, spec §8.2).
    pub conns: Vec<Conn>,
    /// All dns.log records, in processing order (merged by file heads, spec §8.2).
    pub dns: Vec<Dns>,
    /// All http.log records, in processing order (merged by file heads, spec §8.2).
    pub http: Vec<Http>,
    /// All ssl.log records, in processing order (merged by file heads, spec §8.2).
    pub ssl: Vec<Ssl>,
    /// Profiles by IP.
    pub profiles: BTreeMap<IpAddr, Profile>,
    /// `DNSresolution`, by answered IP.
    pub dns_resolution: BTreeMap<IpAddr, Resolution>,
    /// The last application record of each connection uid (Slips' `_altflows`, last write wins).
    pub alt_by_uid: FxHashMap<CompactString, AltRef>,
    /// `IPsInfo[ip].SNI`: server names seen in TLS to the IP that some DNS answer also named.
    pub sni: BTreeMap<IpAddr, Vec<(String, u16)>>,
    /// For each connection, how many dns.log records Slips had processed before it: its input
    /// process merges all logs by their next timestamp, so this decides which DNS names a
    /// flow's timeline entry shows. Empty when there is no dns.log.
    pub dns_seen: Vec<u32>,
    /// The connections to peer-to-peer ports (see `detect::flows::p2p_flows`: a property of
    /// the whole input's order, so it is taken before a `--shard` worker drops connections).
    pub p2p: FlowSet,
    /// The records of notice, smtp, software, arp and ssh logs the detections read, in time order.
    pub events: Vec<Activity>,
    /// Host names and MACs that DHCP gave addresses (`profile_<ip>`'s `host_name` and `MAC`).
    pub hosts: BTreeMap<IpAddr, Host>,
}

/// What DHCP says of an address: the last host name and MAC its client sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Host {
    /// The client's host name (empty when none was sent).
    pub host_name: String,
    /// The client's MAC (empty when unknown).
    pub mac: String,
}

/// The records of other logs that the detections read (those with details), in time order,
/// and the hosts table made from them.
fn events_and_hosts(activity: Vec<Activity>) -> (Vec<Activity>, BTreeMap<IpAddr, Host>) {
    let mut events: Vec<Activity> = activity
        .into_iter()
        .filter(|a| a.detail.is_some())
        .collect();
    events.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    let hosts = hosts_table(&events);
    (events, hosts)
}

/// The host names and MACs of DHCP records, by client address (the latest wins, as Slips
/// overwrites them).
fn hosts_table(events: &[Activity]) -> BTreeMap<IpAddr, Host> {
    let mut out: BTreeMap<IpAddr, Host> = BTreeMap::new();
    for a in events {
        let Some(crate::record::Detail::Fields(f)) = &a.detail else {
            continue;
        };
        if f.host_name.is_empty() && f.mac.is_empty() {
            continue;
        }
        let h = out.entry(a.ip).or_default();
        if !f.host_name.is_empty() {
            h.host_name = f.host_name.to_string();
        }
        if !f.mac.is_empty() {
            h.mac = f.mac.to_string();
        }
    }
    out
}

impl Store {
    /// Profiles the records of `batch` on a window grid that starts at `anchor` (the input's
    /// first record time).
    pub fn build(mut batch: Batch, anchor: f64, config: ProfileConfig) -> Store {
        let t = std::time::Instant::now();
        let config = config.with_zeek_local(&batch.local_hosts);
        // a shard's worker takes what depends on every connection (which DNS records came
        // before each, which go to peer-to-peer ports) over all of them, then drops the
        // records none of its profiles needs (crate::shard)
        let sharded = config.shard.map(|shard| {
            let (seen, p2p) = rayon::join(
                || dns_watermarks(&batch.conns, &batch.dns),
                || crate::detect::flows::p2p_flows(&batch.conns),
            );
            let kept = shard.retain(&mut batch);
            (kept.select(seen), kept.renumber(&p2p))
        });
        let mut profiles = profile::build(&batch, &config, anchor);
        if let Some(shard) = config.shard {
            profiles.retain(|ip, _| shard.owns(*ip));
        }
        if std::env::var_os("KALIPSO_TIMINGS").is_some() {
            let tuples: usize = profiles
                .values()
                .flat_map(|p| p.windows.values())
                .map(|w| w.out_tuples.len() + w.in_tuples.len())
                .sum();
            eprintln!(
                "timing: profile::build {:?} ({} profiles, {tuples} tuples, peak {})",
                t.elapsed(),
                profiles.len(),
                crate::analysis::peak_memory()
            );
        }
        let Batch {
            conns,
            dns,
            http,
            ssl,
            activity,
            ..
        } = batch;
        let mut store = Store {
            config,
            anchor,
            conns,
            dns,
            http,
            ssl,
            profiles,
            ..Store::default()
        };
        let (shard_seen, shard_p2p) = sharded.unzip();
        // Independent passes over the records, run side by side (each result is deterministic).
        // The DNS resolutions are one sequential pass, the longest: the other core does the
        // rest (on the realistic capture, sorting its 1.6 M ARP records and reading their
        // hosts took 40 ms on one core before any of these started). None of these passes
        // reads the events or the hosts, which join the store after them.
        let ((resolutions, sni), (((events, hosts), alt), (seen, p2p))) = rayon::join(
            || {
                let r = store.resolutions();
                let sni = sni_table(&store.ssl, &r);
                (r, sni)
            },
            || {
                rayon::join(
                    || rayon::join(|| events_and_hosts(activity), || store.alt_index()),
                    || {
                        rayon::join(
                            || {
                                shard_seen
                                    .unwrap_or_else(|| dns_watermarks(&store.conns, &store.dns))
                            },
                            || {
                                shard_p2p.unwrap_or_else(|| {
                                    crate::detect::flows::p2p_flows(&store.conns)
                                })
                            },
                        )
                    },
                )
            },
        );
        store.events = events;
        store.hosts = hosts;
        store.dns_resolution = resolutions;
        store.sni = sni;
        store.alt_by_uid = alt;
        store.dns_seen = seen;
        store.p2p = p2p;
        store
    }

    /// The window number of a record of `ip` at time `t` (on that profile's grid).
    pub fn window_number(&self, ip: IpAddr, t: f64) -> i64 {
        self.grid(ip).number(t)
    }

    /// The window grid of `ip`: its profile's, or the store's for an IP without a profile.
    pub fn grid(&self, ip: IpAddr) -> profile::window::Grid {
        match self.profiles.get(&ip) {
            Some(p) => p.grid,
            None => profile::window::Grid {
                width: self.config.tw_width,
                anchor: self.anchor,
            },
        }
    }

    /// A window of a profile.
    pub fn window(&self, ip: IpAddr, n: i64) -> Option<&Window> {
        self.profiles.get(&ip)?.windows.get(&n)
    }

    /// Whether this store's worker writes what is keyed by `ip` (always, unless `--shard`).
    pub fn owns(&self, ip: IpAddr) -> bool {
        self.config.shard.is_none_or(|s| s.owns(ip))
    }

    /// Number of (profile, window) pairs.
    pub fn window_count(&self) -> usize {
        self.profiles.values().map(|p| p.windows.len()).sum()
    }

    fn resolutions(&self) -> BTreeMap<IpAddr, Resolution> {
        let mut out: BTreeMap<IpAddr, Resolution> = BTreeMap::new();
        // what each IP's lists hold already: a popular address is named for thousands of
        // clients, so membership is looked up in sets, not by scanning the lists
        let mut named: FxHashSet<(IpAddr, &str)> = FxHashSet::default();
        let mut asked: FxHashSet<(IpAddr, IpAddr)> = FxHashSet::default();
        let mut in_window: FxHashSet<(IpAddr, IpAddr, i64)> = FxHashSet::default();
        for (di, d) in self.dns.iter().enumerate() {
            // Slips records A/AAAA answers only, and never reverse lookups (spec §1.9).
            let typed = d.qtype_name == "A" || d.qtype_name == "AAAA";
            let useful = !d.answers.is_empty() && d.answers.iter().any(|a| a != "-");
            if !typed || !useful || d.query.ends_with("arpa") {
                continue;
            }
            let client = d.id.orig_h;
            let n = self.window_number(client, d.id.ts);
            for answer in &d.answers {
                let Some(ip) = crate::record::parse_ip(answer) else {
                    continue;
                };
                let r = out.entry(ip).or_insert_with(|| Resolution {
                    first_ts: d.id.ts,
                    ..Resolution::default()
                });
                r.first_ts = r.first_ts.min(d.id.ts);
                if named.insert((ip, d.query.as_str())) {
                    r.domains.push((d.query.clone(), di as u32));
                }
                if asked.insert((ip, client)) {
                    r.resolved_by.push(client);
                }
                if in_window.insert((ip, client, n)) {
                    r.timewindows
                        .push(format!("{}_timewindow{n}", keys::profile_key(client)));
                }
                r.ts = d.id.ts;
                r.uid.clone_from(&d.id.uid);
            }
        }
        out
    }

    fn alt_index(&self) -> FxHashMap<CompactString, AltRef> {
        // Records are applied in time order across kinds, so the last write wins as in Slips.
        let mut all: Vec<(f64, AltRef, &CompactString)> = Vec::new();
        all.extend(
            self.dns
                .iter()
                .enumerate()
                .map(|(i, d)| (d.id.ts, AltRef::Dns(i as u32), &d.id.uid)),
        );
        all.extend(
            self.http
                .iter()
                .enumerate()
                .map(|(i, h)| (h.id.ts, AltRef::Http(i as u32), &h.id.uid)),
        );
        all.extend(
            self.ssl
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id.ts, AltRef::Ssl(i as u32), &s.id.uid)),
        );
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut map = FxHashMap::default();
        for (_, r, uid) in all {
            if !uid.is_empty() {
                map.insert(uid.clone(), r);
            }
        }
        map
    }

    /// The DNS records processed before connection `flow` (see [`Store::dns_seen`]).
    pub fn dns_seen_before(&self, flow: u32) -> u32 {
        self.dns_seen.get(flow as usize).copied().unwrap_or(0)
    }

    /// The application record behind a connection uid, if any.
    pub fn alt_of(&self, uid: &str) -> Option<AltRef> {
        self.alt_by_uid.get(uid).copied()
    }
}

/// `IPsInfo[ip].SNI`: TLS server names that some DNS answer also named (spec §1.11).
fn sni_table(
    ssl: &[Ssl],
    resolutions: &BTreeMap<IpAddr, Resolution>,
) -> BTreeMap<IpAddr, Vec<(String, u16)>> {
    let known: std::collections::HashSet<&str> = resolutions
        .values()
        .flat_map(|r| r.domains.iter().map(|(d, _)| d.as_str()))
        .collect();
    let mut out: BTreeMap<IpAddr, Vec<(String, u16)>> = BTreeMap::new();
    for s in ssl {
        if s.server_name.is_empty() || !known.contains(s.server_name.as_str()) {
            continue;
        }
        let list = out.entry(s.id.resp_h).or_default();
        let entry = (s.server_name.clone(), s.id.resp_p);
        if !list.contains(&entry) {
            list.push(entry);
        }
    }
    out
}

/// Merges the connection and DNS streams the way Slips' input process merges files (the
/// smaller next timestamp goes first; a connection goes before a DNS record with the same
/// time) and returns, per connection, how many DNS records came before it. Both streams are
/// already in Slips' per-kind order, and merging them equals merging all their files.
fn dns_watermarks(conns: &[Conn], dns: &[Dns]) -> Vec<u32> {
    if dns.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(conns.len());
    let mut j = 0;
    for c in conns {
        while j < dns.len() && dns[j].id.ts < c.ts {
            j += 1;
        }
        out.push(j as u32);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermarks_follow_the_merge_not_the_clock() {
        let conn = |ts: f64| Conn {
            ts,
            duration: 0.0,
            uid: crate::record::Uid::default(),
            orig_h: [10, 0, 0, 1].into(),
            orig_p: 1,
            resp_h: [10, 0, 0, 2].into(),
            resp_p: 2,
            proto: crate::record::Proto::Udp,
            service: crate::record::Sym::default(),
            conn_state: crate::record::ConnState::SF,
            orig_bytes: 0,
            resp_bytes: 0,
            history: crate::record::Sym::default(),
            orig_pkts: 0,
            orig_ip_bytes: 0,
            resp_pkts: 0,
            resp_ip_bytes: 0,
        };
        let dns = |ts: f64| Dns {
            id: crate::record::Endpoints {
                ts,
                uid: CompactString::default(),
                orig_h: [10, 0, 0, 1].into(),
                orig_p: 1,
                resp_h: [10, 0, 0, 3].into(),
                resp_p: 53,
            },
            query: String::new(),
            qclass_name: CompactString::default(),
            qtype_name: CompactString::default(),
            rcode_name: CompactString::default(),
            answers: Vec::new(),
            ttls: Vec::new(),
        };
        // conn.log is in end-time order: the long flow at t=5 is written after the one at t=20,
        // so by the time Slips reaches it, the DNS answer at t=10 was already processed.
        let conns = [conn(1.0), conn(20.0), conn(5.0)];
        let records = [dns(10.0), dns(30.0)];
        assert_eq!(dns_watermarks(&conns, &records), vec![0, 1, 1]);
        assert!(dns_watermarks(&conns, &[]).is_empty());
    }
}
