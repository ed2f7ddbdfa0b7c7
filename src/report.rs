//! The analysis report: what was read, and the busiest profiles with their top ports, IPs and
//! tuples. The same [`Report`] value is printed as text (`--no-ui`) and written as JSON
//! (`--json FILE`).
//!
//! It never parses input and prints nothing itself: the caller writes the text.

use crate::Analysis;
use crate::detect::rank::{self, Suspect, triage_order};
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
/// How many suspects the text report lists.
pub const SUSPECTS: usize = 25;
/// How many beacons the text report lists.
pub const BEACONS: usize = 10;
/// How many files with something to say the text report lists.
pub const FILES: usize = 20;

/// How much the report details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// The bounded triage report: ranked suspects, beacons, busiest profiles.
    Triage,
    /// Also every alert with its evidence (`--all`, and always in JSON).
    Alerts,
    /// Also every piece of evidence (JSON).
    Everything,
}

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
    /// Every profile with evidence: `{ip, score, alerts, windows, evidence}` (evidence counted
    /// per kind), highest score first.
    pub ranking: &'a [Suspect],
    /// Home hosts that outside hosts probed, most attackers first.
    pub victims: &'a [crate::detect::victims::Victim],
    /// The beacons reported as evidence, highest score first.
    pub beacons: Vec<BeaconSummary>,
    /// The alerts, each with its evidence (empty in the bounded text report).
    pub alerts: Vec<AlertSummary>,
    /// Alerts raised in all (also when `alerts` is not filled).
    pub alert_count: usize,
    /// Windows with an alert.
    pub alerted_windows: usize,
    /// Every piece of evidence (JSON only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence_list: Vec<EvidenceSummary>,
    /// How much was built.
    #[serde(skip)]
    pub detail: Detail,
}

/// Which home network the analysis used and where it came from.
fn home_net_line(config: &ProfileConfig) -> String {
    use crate::profile::HomeNetSource;
    const SHOWN: usize = 5;
    let nets: Vec<String> = config.home_net.iter().map(ToString::to_string).collect();
    let mut line = format!(
        "Home network: {} ({})",
        nets.join(", "),
        config.home_net_source.describe()
    );
    if config.home_net_source == HomeNetSource::ZeekLocal {
        let hosts: Vec<String> = config
            .zeek_local
            .iter()
            .take(SHOWN)
            .map(ToString::to_string)
            .collect();
        let _ = write!(
            line,
            "; marked local: {}{}",
            hosts.join(", "),
            if config.zeek_local.len() > SHOWN {
                format!(" and {} more", config.zeek_local.len() - SHOWN)
            } else {
                String::new()
            }
        );
    }
    line
}

/// A beacon that became evidence.
#[derive(Debug, Serialize)]
pub struct BeaconSummary {
    /// The profile.
    pub profile: IpAddr,
    /// Window number.
    pub window: i64,
    /// `<ip>-<port>-<proto>`.
    pub tuple: String,
    /// Score in [0, 1].
    pub score: f64,
    /// Estimated period, seconds.
    pub period: f64,
    /// Flows of the tuple in the window.
    pub flows: usize,
}

/// One piece of evidence.
#[derive(Debug, Serialize)]
pub struct EvidenceSummary {
    /// Profile.
    pub profile: IpAddr,
    /// Window number.
    pub window: i64,
    /// Time (`Y-m-d H:M:S`).
    pub time: String,
    /// Slips' evidence type.
    pub kind: &'static str,
    /// Threat level.
    pub threat_level: &'static str,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// Whether the profile is the attacker (only such evidence counts for alerts).
    pub profile_is_attacker: bool,
    /// What was seen.
    pub description: String,
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

/// How many entries at the start of `sorted` (sorted by `rank`) can be among the first TOP once
/// their text breaks ties: the first TOP and those that tie with the TOP-th.
fn top_candidates<T, K: Ord>(sorted: &[T], rank: impl Fn(&T) -> K) -> usize {
    sorted
        .get(TOP.saturating_sub(1))
        .map_or(sorted.len(), |last| {
            let last = rank(last);
            sorted.partition_point(|x| rank(x) <= last)
        })
}

fn top<K: ToString>(map: FxHashMap<K, (u64, u64, u64)>) -> Vec<Count> {
    // Only the entries that can be among the first TOP (those that tie with the TOP-th on
    // flows and bytes) have their keys written: a busy profile reaches hundreds of thousands
    // of addresses, and a string for each was megabytes at the run's peak.
    let rank = |(_, (flows, _, bytes)): &(K, (u64, u64, u64))| {
        (std::cmp::Reverse(*flows), std::cmp::Reverse(*bytes))
    };
    let mut entries: Vec<(K, (u64, u64, u64))> = map.into_iter().collect();
    entries.sort_unstable_by_key(rank);
    entries.truncate(top_candidates(&entries, rank));
    let mut v: Vec<Count> = entries
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

/// Every alert with its evidence, as text lines.
fn alert_summaries(analysis: &Analysis) -> Vec<AlertSummary> {
    let detections = &analysis.detections;
    // hundreds of thousands of evidence lines on a big input: format them in parallel
    // (collect keeps the order)
    detections
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
        .collect()
}

/// A destination port as the report writes it (`443/tcp`): formatted once per port kept, not
/// once per flow.
#[derive(PartialEq, Eq, Hash)]
struct PortKey(u16, crate::record::Proto);

impl std::fmt::Display for PortKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.0, self.1)
    }
}

fn summarize(store: &Store, p: &Profile) -> ProfileSummary {
    let mut ports: FxHashMap<PortKey, (u64, u64, u64)> = FxHashMap::default();
    let mut ips: FxHashMap<IpAddr, (u64, u64, u64)> = FxHashMap::default();
    let mut tuples: Vec<(&crate::profile::Window, &crate::profile::Tuple)> = Vec::new();
    for w in p.windows.values() {
        for &i in &w.out_flows {
            let c = &store.conns[i as usize];
            let est = u64::from(c.established() == Established::Established);
            let e = ports.entry(PortKey(c.resp_p, c.proto)).or_default();
            *e = (e.0 + 1, e.1 + est, e.2 + c.bytes());
            let e = ips.entry(c.resp_h).or_default();
            *e = (e.0 + 1, e.1 + est, e.2 + c.bytes());
        }
        tuples.extend(w.out_tuples.iter().map(|t| (w, t)));
    }
    // the busiest tuples: by flows, window, then key; only the candidates for the first TOP
    // (those that tie with the TOP-th on flows and window) have their keys written
    let rank = |&(w, t): &(&crate::profile::Window, &crate::profile::Tuple)| {
        (std::cmp::Reverse(t.flows), w.number)
    };
    tuples.sort_by_key(rank);
    let mut top_tuples: Vec<TupleSummary> = tuples[..top_candidates(&tuples, rank)]
        .iter()
        .map(|&(w, t)| TupleSummary {
            window: w.number,
            tuple: t.key(),
            flows: t.flows,
            letters: w.letters(t).to_string(),
        })
        .collect();
    top_tuples.sort_by(|a, b| {
        b.flows
            .cmp(&a.flows)
            .then(a.window.cmp(&b.window))
            .then_with(|| a.tuple.cmp(&b.tuple))
    });
    top_tuples.truncate(TOP);
    ProfileSummary {
        ip: p.ip,
        flows_out: p.out_flows(),
        flows_in: p.windows.values().map(|w| w.in_flows.len()).sum(),
        windows: p.windows.len(),
        first_seen: p.first_ts,
        top_dst_ports: top(ports),
        top_dst_ips: top(ips),
        top_tuples,
    }
}

impl<'a> Report<'a> {
    /// Builds the report of an analysis, with the `busiest` most active profiles, detailed as
    /// `detail` asks.
    pub fn new(analysis: &'a Analysis, busiest: usize, detail: Detail) -> Self {
        let store = &analysis.store;
        let detections = &analysis.detections;
        // (a profile's flow count is a sum over its windows: counted once each, not at every
        // comparison of the sort)
        let mut by_activity: Vec<&Profile> = store.profiles.values().collect();
        by_activity.sort_by_cached_key(|p| (std::cmp::Reverse(p.out_flows()), p.ip));
        let beacons: Vec<BeaconSummary> = rank::beacons(&detections.evidence)
            .into_iter()
            .map(|h| BeaconSummary {
                profile: h.evidence.profile,
                window: h.evidence.window,
                tuple: h.key(),
                score: (h.beacon.score * 1000.0).round() / 1000.0,
                period: (h.beacon.period * 10.0).round() / 10.0,
                flows: h.beacon.flows,
            })
            .collect();
        let alerts = if detail == Detail::Triage {
            Vec::new()
        } else {
            alert_summaries(analysis)
        };
        let evidence_list = if detail == Detail::Everything {
            detections
                .evidence
                .par_iter()
                .map(|e| EvidenceSummary {
                    profile: e.profile,
                    window: e.window,
                    time: py_datetime(e.ts),
                    kind: e.kind.name(),
                    threat_level: e.threat_level.as_str(),
                    confidence: e.confidence,
                    profile_is_attacker: e.profile_is_attacker(),
                    description: e.description(),
                })
                .collect()
        } else {
            Vec::new()
        };
        Report {
            version: env!("CARGO_PKG_VERSION"),
            input: &analysis.input,
            config: &store.config,
            anchor: store.anchor,
            profiles: store.profiles.len(),
            windows: store.window_count(),
            // the busiest profiles are the largest: one summary per core
            busiest: by_activity
                .par_iter()
                .take(busiest)
                .map(|p| summarize(store, p))
                .collect(),
            evidence: detections.evidence.len(),
            ranking: &detections.ranking,
            victims: &detections.victims,
            beacons,
            alerts,
            alert_count: detections.alerts.len(),
            alerted_windows: detections.alerted().len(),
            evidence_list,
            detail,
        }
    }

    /// The report as text; `all_alerts` adds every alert with its evidence (when built).
    pub fn text(&self, all_alerts: bool) -> String {
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
        let noted = |f: &&crate::input::FileReport| {
            f.error.is_some() || f.assumed_columns || f.capture.is_some() || f.skipped > 0
        };
        let with_notes = i.files.iter().filter(noted).count();
        for f in i.files.iter().filter(noted).take(FILES) {
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
                    "  {}: {} packets ({} IP, {} ARP, {} other; {} in tunnels; {} IP fragments \
                     made {} datagrams, {} dropped; {} connections' streams given up)",
                    Clean(&f.path),
                    c.packets,
                    c.ip,
                    c.arp,
                    c.other,
                    c.tunnelled,
                    c.fragments,
                    c.reassembled,
                    c.fragments_dropped,
                    c.stream_gaps
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
        if with_notes > FILES {
            let _ = writeln!(
                s,
                "  … and {} more file(s) with notes (all of them are in --json)",
                with_notes - FILES
            );
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
        let _ = writeln!(s, "{}", home_net_line(self.config));
        let alerted = self.ranking.iter().filter(|r| r.alerts > 0).count();
        let _ = writeln!(
            s,
            "Evidence: {}, alerts: {} (in {} window(s), {alerted} profile(s) alerted)",
            self.evidence, self.alert_count, self.alerted_windows,
        );
        self.suspects_text(&mut s);
        self.victims_text(&mut s);
        self.beacons_text(&mut s);
        if !all_alerts || self.detail == Detail::Triage {
            if self.alert_count > 0 {
                let _ = writeln!(s);
                let _ = writeln!(
                    s,
                    "(--all prints the {} alert(s) with their evidence)",
                    self.alert_count
                );
            }
        } else {
            let _ = writeln!(s);
            let _ = writeln!(s, "Alerts:");
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

impl Report<'_> {
    /// The ranked suspects: alerted profiles first, then by score.
    fn suspects_text(&self, s: &mut String) {
        if self.ranking.is_empty() {
            return;
        }
        let order = triage_order(self.ranking);
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "Suspects (alerted first, then Internet probers and the rest by score; {} of {}):",
            order.len().min(SUSPECTS),
            order.len()
        );
        let _ = writeln!(
            s,
            "  {:<39} {:>9} {:>7} {:>7}  {:<16} evidence",
            "profile", "score", "alerts", "windows", "worst window"
        );
        for r in order.iter().take(SUSPECTS) {
            let flag = if r.alerts > 0 {
                format!("⚑{}", r.alerts)
            } else {
                "-".to_string()
            };
            let _ = writeln!(
                s,
                "  {:<39} {:>9.2} {:>7} {:>7}  {:<16} {}",
                r.ip,
                r.score,
                flag,
                r.windows,
                format!("timewindow{}", r.worst_window),
                r.kinds_text(3)
            );
        }
    }

    /// Home hosts probed from outside, one line each.
    fn victims_text(&self, s: &mut String) {
        const VICTIMS: usize = 10;
        if self.victims.is_empty() {
            return;
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "Home hosts attacked from outside ({} of {}; each outside host has InboundProbe evidence):",
            self.victims.len().min(VICTIMS),
            self.victims.len()
        );
        for v in self.victims.iter().take(VICTIMS) {
            let _ = writeln!(s, "  {:<39} {}", v.ip, v.summary(8));
        }
    }

    /// The strongest beacons.
    fn beacons_text(&self, s: &mut String) {
        if self.beacons.is_empty() {
            return;
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "Beacons (periodic tuples; {} of {}):",
            self.beacons.len().min(BEACONS),
            self.beacons.len()
        );
        for b in self.beacons.iter().take(BEACONS) {
            let _ = writeln!(
                s,
                "  {:<39} tw{:<4} {:<48} score {:.2}, every {:.0} s, {} flows",
                b.profile, b.window, b.tuple, b.score, b.period, b.flows
            );
        }
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}
