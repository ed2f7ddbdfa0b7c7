//! The analysis report: what was read, and the busiest profiles with their top ports, IPs and
//! tuples. The same [`Report`] value is printed as text (`--no-ui`) and written as JSON
//! (`--json FILE`).
//!
//! It never parses input and prints nothing itself: the caller writes the text.

use crate::Analysis;
use crate::input::InputSummary;
use crate::profile::{Profile, ProfileConfig};
use crate::record::Established;
use crate::store::Store;
use crate::store::python::py_datetime;
use crate::text::Clean;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::fmt::Write as _;
use std::net::IpAddr;

/// How many entries each "top" list holds.
pub const TOP: usize = 5;

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    /// kalipso's version.
    pub version: &'static str,
    /// What was read.
    pub input: &'a InputSummary,
    /// Profiler settings.
    pub config: &'a ProfileConfig,
    /// Start of window 1 of the global grid.
    pub anchor: f64,
    /// Number of profiles.
    pub profiles: usize,
    /// Number of (profile, window) pairs.
    pub windows: usize,
    /// The busiest profiles.
    pub busiest: Vec<ProfileSummary>,
    /// Evidence found (all of it).
    pub evidence: usize,
    /// The alerts, each with its evidence.
    pub alerts: Vec<AlertSummary>,
}

/// An alert and the evidence that raised it.
#[derive(Debug, Serialize)]
pub struct AlertSummary {
    /// Profile.
    pub profile: IpAddr,
    /// Window number.
    pub window: i64,
    /// Time of the last evidence (`Y-m-d H:M:S`).
    pub time: String,
    /// Σ threat level × confidence.
    pub score: f64,
    /// The evidence: `[level] type: description`.
    pub evidence: Vec<String>,
}

/// A count under a key.
#[derive(Debug, Serialize)]
pub struct Count {
    /// The key (port/proto, IP, …).
    pub key: String,
    /// Flows.
    pub flows: u64,
    /// Of which established.
    pub established: u64,
    /// Payload bytes.
    pub bytes: u64,
}

/// A tuple with its letters.
#[derive(Debug, Serialize)]
pub struct TupleSummary {
    /// Window number.
    pub window: i64,
    /// `<ip>-<port>-<proto>`.
    pub tuple: String,
    /// Flows.
    pub flows: u32,
    /// Behavioural letters.
    pub letters: String,
}

/// One profile of the report.
#[derive(Debug, Serialize)]
pub struct ProfileSummary {
    /// The profile's IP.
    pub ip: IpAddr,
    /// Connections as client.
    pub flows_out: usize,
    /// Connections as server.
    pub flows_in: usize,
    /// Windows.
    pub windows: usize,
    /// First record's time.
    pub first_seen: f64,
    /// Top destination ports (as client).
    pub top_dst_ports: Vec<Count>,
    /// Top destination IPs (as client).
    pub top_dst_ips: Vec<Count>,
    /// The tuples with most flows.
    pub top_tuples: Vec<TupleSummary>,
}

fn top<K: ToString>(map: FxHashMap<K, (u64, u64, u64)>) -> Vec<Count> {
    let mut v: Vec<Count> = map
        .into_iter()
        .map(|(k, (flows, established, bytes))| Count {
            key: k.to_string(),
            flows,
            established,
            bytes,
        })
        .collect();
    v.sort_by(|a, b| {
        b.flows
            .cmp(&a.flows)
            .then(b.bytes.cmp(&a.bytes))
            .then_with(|| a.key.cmp(&b.key))
    });
    v.truncate(TOP);
    v
}

fn summarize(store: &Store, p: &Profile) -> ProfileSummary {
    let mut ports: FxHashMap<String, (u64, u64, u64)> = FxHashMap::default();
    let mut ips: FxHashMap<IpAddr, (u64, u64, u64)> = FxHashMap::default();
    let mut tuples = Vec::new();
    for w in p.windows.values() {
        for &i in &w.out_flows {
            let c = &store.conns[i as usize];
            let est = u64::from(c.established() == Established::Established);
            let e = ports
                .entry(format!("{}/{}", c.resp_p, c.proto))
                .or_default();
            *e = (e.0 + 1, e.1 + est, e.2 + c.bytes());
            let e = ips.entry(c.resp_h).or_default();
            *e = (e.0 + 1, e.1 + est, e.2 + c.bytes());
        }
        tuples.extend(w.out_tuples.iter().map(|t| TupleSummary {
            window: w.number,
            tuple: t.key(),
            flows: t.flows,
            letters: t.letters.to_string(),
        }));
    }
    tuples.sort_by(|a, b| {
        b.flows
            .cmp(&a.flows)
            .then(a.window.cmp(&b.window))
            .then_with(|| a.tuple.cmp(&b.tuple))
    });
    tuples.truncate(TOP);
    ProfileSummary {
        ip: p.ip,
        flows_out: p.out_flows(),
        flows_in: p.windows.values().map(|w| w.in_flows.len()).sum(),
        windows: p.windows.len(),
        first_seen: p.first_ts,
        top_dst_ports: top(ports),
        top_dst_ips: top(ips),
        top_tuples: tuples,
    }
}

impl<'a> Report<'a> {
    /// Builds the report of an analysis, with the `busiest` most active profiles.
    pub fn new(analysis: &'a Analysis, busiest: usize) -> Self {
        let store = &analysis.store;
        let detections = &analysis.detections;
        let mut by_activity: Vec<&Profile> = store.profiles.values().collect();
        by_activity.sort_by(|a, b| b.out_flows().cmp(&a.out_flows()).then(a.ip.cmp(&b.ip)));
        Report {
            version: env!("CARGO_PKG_VERSION"),
            input: &analysis.input,
            config: &store.config,
            anchor: store.anchor,
            profiles: store.profiles.len(),
            windows: store.window_count(),
            busiest: by_activity
                .into_iter()
                .take(busiest)
                .map(|p| summarize(store, p))
                .collect(),
            evidence: detections.evidence.len(),
            // hundreds of thousands of evidence lines on a big input: format them in parallel
            // (collect keeps the order)
            alerts: detections
                .alerts
                .par_iter()
                .map(|a| AlertSummary {
                    profile: a.profile,
                    window: a.window,
                    time: py_datetime(a.ts),
                    score: (a.score * 1000.0).round() / 1000.0,
                    evidence: a
                        .evidence
                        .iter()
                        .filter_map(|&i| detections.evidence.get(i))
                        .map(|e| {
                            format!(
                                "[{}] {}: {}",
                                e.threat_level.as_str(),
                                e.kind,
                                e.description()
                            )
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// The report as text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let i = self.input;
        let _ = writeln!(s, "kalipso {} — behavioural analysis", self.version);
        let _ = writeln!(s);
        let cut = if i.cut_files > 0 {
            format!(", {} cut short", i.cut_files)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "Input: {} file(s), {} unreadable{cut}, {} line(s) or packet(s) skipped",
            i.files.len(),
            i.failed_files,
            i.skipped
        );
        let kinds: Vec<String> = i.records.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(
            s,
            "  records: {}",
            if kinds.is_empty() {
                "none".into()
            } else {
                kinds.join(", ")
            }
        );
        if let Some((lo, hi)) = i.span {
            let _ = writeln!(
                s,
                "  time span: {} → {} UTC ({:.0} s)",
                py_datetime(lo),
                py_datetime(hi),
                hi - lo
            );
        }
        for f in &i.files {
            if let Some(e) = &f.error {
                let read = match (f.data_lines, f.capture.is_some()) {
                    (0, _) => "not read".to_string(),
                    (n, true) => format!("read {n} packet(s), then stopped"),
                    (n, false) => format!("read {n} line(s), then stopped"),
                };
                let _ = writeln!(
                    s,
                    "  {}: {read}: {}",
                    Clean(&f.path),
                    Clean(&e.problem.to_string())
                );
            }
            if f.assumed_columns {
                let _ = writeln!(
                    s,
                    "  {}: no '#fields' header, read with Zeek's default {} columns",
                    Clean(&f.path),
                    f.kind.as_str()
                );
            }
            if let Some(c) = &f.capture {
                let _ = writeln!(
                    s,
                    "  {}: {} packets ({} IP, {} ARP, {} other, {} later IP fragments)",
                    Clean(&f.path),
                    c.packets,
                    c.ip,
                    c.arp,
                    c.other,
                    c.fragments
                );
            }
            if f.skipped > 0 {
                // a capture counts packets where a log counts lines
                let unit = if f.capture.is_some() {
                    "packet(s)"
                } else {
                    "line(s)"
                };
                let _ = writeln!(
                    s,
                    "  {}: {} of {} {unit} skipped, first:",
                    Clean(&f.path),
                    f.skipped,
                    f.data_lines
                );
                for ex in &f.examples {
                    let _ = writeln!(s, "    {}", Clean(&ex.to_string()));
                }
            }
        }
        let _ = writeln!(s);
        let grid = match self.config.anchor {
            crate::profile::window::Anchor::Global => {
                format!("one grid from {}", py_datetime(self.anchor))
            }
            crate::profile::window::Anchor::Profile => "one grid per profile".to_string(),
        };
        let _ = writeln!(
            s,
            "Profiles: {}, time windows: {} ({} s wide, {grid})",
            self.profiles, self.windows, self.config.tw_width
        );
        let _ = writeln!(
            s,
            "Evidence: {}, alerts: {} (in {} window(s))",
            self.evidence,
            self.alerts.len(),
            self.alerts
                .iter()
                .map(|a| (a.profile, a.window))
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        );
        for a in &self.alerts {
            let _ = writeln!(
                s,
                "  ALERT {} timewindow{} at {} (score {}):",
                a.profile, a.window, a.time, a.score
            );
            for e in &a.evidence {
                let _ = writeln!(s, "    - {}", Clean(e));
            }
        }
        if self.busiest.is_empty() {
            return s;
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "Busiest profiles (connections as client):");
        for p in &self.busiest {
            let _ = writeln!(s);
            let _ = writeln!(
                s,
                "  {}  {} out, {} in, {} window(s), first seen {}",
                p.ip,
                p.flows_out,
                p.flows_in,
                p.windows,
                py_datetime(p.first_seen)
            );
            let list = |v: &[Count]| -> String {
                v.iter()
                    .map(|c| format!("{} ({} flows, {} est.)", c.key, c.flows, c.established))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if !p.top_dst_ports.is_empty() {
                let _ = writeln!(s, "    dst ports: {}", list(&p.top_dst_ports));
                let _ = writeln!(s, "    dst IPs:   {}", list(&p.top_dst_ips));
            }
            for t in &p.top_tuples {
                let _ = writeln!(
                    s,
                    "    tw{:<4} {:<40} {:>6} flows  {}",
                    t.window,
                    t.tuple,
                    t.flows,
                    shorten(&t.letters, 60)
                );
            }
        }
        s
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}
