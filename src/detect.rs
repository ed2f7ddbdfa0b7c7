//! Detections, evidence and alerts (spec §6, §7): what turns a window red.
//!
//! Each profile's windows are examined on their own (in parallel, merged in a fixed order), so
//! the evidence is the same on any thread count. Evidence follows Slips' model (type, attacker,
//! victim, threat level, confidence, description, flows); an **alert** is raised for a window
//! when the sum of threat level × confidence of the evidence in which the profile is the
//! attacker reaches `--alert-threshold` per minute of window width (Slips v1.0.0: 0.1, so 6 for
//! one hour); the evidence behind an alert is not counted again, so a window can raise several.

// names are lower-cased before their suffixes are compared; `c`/`w`/`e` are the record names
#![allow(
    clippy::case_sensitive_file_extension_comparisons,
    clippy::many_single_char_names
)]

pub mod beacon;
pub mod ti;

use crate::Store;
use crate::profile::{Profile, Window};
use crate::record::{ConnState, Established, Proto};
use crate::store::ports;
use rayon::prelude::*;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;

/// Slips' threat levels and their values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ThreatLevel {
    /// 0
    Info,
    /// 0.2
    Low,
    /// 0.5
    Medium,
    /// 0.8
    High,
    /// 1
    Critical,
}

impl ThreatLevel {
    /// The level's weight in the alert sum.
    pub fn value(self) -> f64 {
        match self {
            ThreatLevel::Info => 0.0,
            ThreatLevel::Low => 0.2,
            ThreatLevel::Medium => 0.5,
            ThreatLevel::High => 0.8,
            ThreatLevel::Critical => 1.0,
        }
    }

    /// Parses `info|low|medium|high|critical` (any case).
    pub fn parse(s: &str) -> Option<ThreatLevel> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" => Some(ThreatLevel::Info),
            "low" => Some(ThreatLevel::Low),
            "medium" => Some(ThreatLevel::Medium),
            "high" => Some(ThreatLevel::High),
            "critical" => Some(ThreatLevel::Critical),
            _ => None,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ThreatLevel::Info => "info",
            ThreatLevel::Low => "low",
            ThreatLevel::Medium => "medium",
            ThreatLevel::High => "high",
            ThreatLevel::Critical => "critical",
        }
    }
}

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Evidence {
    /// Slips' `type_evidence`, e.g. `HorizontalPortscan`.
    pub kind: &'static str,
    /// The profile (source IP) it belongs to.
    pub profile: IpAddr,
    /// Its window number.
    pub window: i64,
    /// The attacker: an IP or a domain.
    pub attacker: String,
    /// True when the profile itself is the attacker (only such evidence counts for alerts).
    pub profile_is_attacker: bool,
    /// The victim, if any.
    pub victim: Option<String>,
    /// Threat level.
    pub threat_level: ThreatLevel,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// What was seen, as Slips words it.
    pub description: String,
    /// Time of the flow that completed it.
    pub ts: f64,
    /// uids of the flows behind it.
    pub uids: Vec<String>,
}

impl Evidence {
    /// Threat level × confidence.
    pub fn weight(&self) -> f64 {
        self.threat_level.value() * self.confidence
    }
}

/// An alert: a window whose evidence reached the threshold.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Alert {
    /// Profile.
    pub profile: IpAddr,
    /// Window.
    pub window: i64,
    /// Time of the last evidence.
    pub ts: f64,
    /// Sum of threat level × confidence.
    pub score: f64,
    /// Indices into [`Detections::evidence`].
    pub evidence: Vec<usize>,
}

/// Detection settings.
#[derive(Debug, Clone)]
pub struct DetectConfig {
    /// Alert threshold per minute of window width (Slips v1.0.0: 0.1).
    pub alert_threshold: f64,
    /// Threat intelligence.
    pub ti: ti::ThreatIntel,
    /// Whitelist.
    pub whitelist: ti::Whitelist,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            alert_threshold: 0.1,
            ti: ti::ThreatIntel::default(),
            whitelist: ti::Whitelist::default(),
        }
    }
}

/// Everything the detections found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Detections {
    /// All evidence, by profile, window, time.
    pub evidence: Vec<Evidence>,
    /// All alerts, by profile, window, time.
    pub alerts: Vec<Alert>,
    /// Beacon scores of out-tuples: (profile, window, tuple key) → result.
    #[serde(skip)]
    pub beacons: HashMap<(IpAddr, i64, String), beacon::Beacon>,
    /// IPs and domains that matched threat intelligence, with the feed's description.
    pub ti_hits: BTreeMap<String, String>,
}

impl Detections {
    /// Where the evidence of one window is in [`Detections::evidence`] (sorted by profile and
    /// window).
    pub fn window_range(&self, ip: IpAddr, n: i64) -> std::ops::Range<usize> {
        let key = |e: &Evidence| (e.profile, e.window);
        self.evidence.partition_point(|e| key(e) < (ip, n))
            ..self.evidence.partition_point(|e| key(e) <= (ip, n))
    }

    /// The evidence of one window.
    pub fn of_window(&self, ip: IpAddr, n: i64) -> &[Evidence] {
        &self.evidence[self.window_range(ip, n)]
    }

    /// The alerts of one window (alerts are sorted by profile and window too).
    pub fn alerts_of(&self, ip: IpAddr, n: i64) -> &[Alert] {
        let key = |a: &Alert| (a.profile, a.window);
        let start = self.alerts.partition_point(|a| key(a) < (ip, n));
        let end = self.alerts.partition_point(|a| key(a) <= (ip, n));
        &self.alerts[start..end]
    }

    /// The evidence of one profile.
    pub fn of_profile(&self, ip: IpAddr) -> impl Iterator<Item = &Evidence> {
        let start = self.evidence.partition_point(|e| e.profile < ip);
        self.evidence[start..]
            .iter()
            .take_while(move |e| e.profile == ip)
    }

    /// Windows with at least one alert.
    pub fn alerted(&self) -> BTreeSet<(IpAddr, i64)> {
        self.alerts.iter().map(|a| (a.profile, a.window)).collect()
    }
}

fn conf_from_pkts(pkts: u64) -> f64 {
    if pkts > 10 {
        1.0
    } else if pkts == 0 {
        0.3
    } else {
        pkts as f64 / 10.0
    }
}

/// Addresses Slips never treats as a remote party: private, reserved, and IPv4 `.255`.
fn ignored(ip: IpAddr) -> bool {
    crate::record::special_address(ip).is_some()
        || matches!(ip, IpAddr::V4(v) if v.octets()[3] == 255)
}

fn multicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => v.is_multicast() || v.is_broadcast(),
        IpAddr::V6(v) => v.is_multicast(),
    }
}

/// Builds the evidence of one window.
/// What the detections ask of a `service` or `history` symbol, computed once per run.
#[derive(Debug, Clone, Copy, Default)]
#[allow(clippy::struct_excessive_bools)]
struct SymFlags {
    http: bool,
    ssl: bool,
    dns: bool,
    ssh: bool,
    /// A history with `^` (the originator was flipped).
    flipped: bool,
}

fn sym_flags() -> Vec<SymFlags> {
    crate::record::Sym::all()
        .iter()
        .map(|s| SymFlags {
            http: s.contains("http"),
            ssl: s.contains("ssl"),
            dns: s.contains("dns"),
            ssh: s.contains("ssh"),
            flipped: s.contains('^'),
        })
        .collect()
}

struct Ctx<'a> {
    store: &'a Store,
    syms: &'a [SymFlags],
    cfg: &'a DetectConfig,
    profile: IpAddr,
    window: i64,
    out: Vec<Evidence>,
    beacons: Vec<(String, beacon::Beacon)>,
    ti_hits: Vec<(String, String)>,
}

impl Ctx<'_> {
    fn sym(&self, s: crate::record::Sym) -> SymFlags {
        self.syms.get(s.index()).copied().unwrap_or_default()
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        kind: &'static str,
        attacker: String,
        victim: Option<String>,
        threat_level: ThreatLevel,
        confidence: f64,
        description: String,
        ts: f64,
        uids: Vec<String>,
    ) {
        let wl = &self.cfg.whitelist;
        if wl.matches(&attacker) || victim.as_deref().is_some_and(|v| wl.matches(v)) {
            return;
        }
        let profile_is_attacker = attacker == self.profile.to_string();
        self.out.push(Evidence {
            kind,
            profile: self.profile,
            window: self.window,
            attacker,
            profile_is_attacker,
            victim,
            threat_level,
            confidence: confidence.clamp(0.0, 1.0),
            description,
            ts,
            uids,
        });
    }

    fn me(&self) -> String {
        self.profile.to_string()
    }
}

/// What one profile yields: evidence, beacon scores, threat-intelligence hits.
type ProfileResult = (
    Vec<Evidence>,
    Vec<(IpAddr, i64, String, beacon::Beacon)>,
    Vec<(String, String)>,
);

/// Runs every detection on the store.
pub fn run(store: &Store, cfg: &DetectConfig) -> Detections {
    let profiles: Vec<&Profile> = store.profiles.values().collect();
    let syms = sym_flags();
    // the notice/smtp/software/arp/ssh records of each profile, by window
    let mut events: HashMap<(IpAddr, i64), Vec<&crate::record::Activity>> = HashMap::default();
    for a in &store.events {
        events
            .entry((a.ip, store.window_number(a.ip, a.ts)))
            .or_default()
            .push(a);
    }
    let parts: Vec<ProfileResult> = profiles
        .par_iter()
        .map(|p| {
            let mut ev = Vec::new();
            let mut bc = Vec::new();
            let mut hits = Vec::new();
            for w in p.windows.values() {
                let mut cx = Ctx {
                    store,
                    syms: &syms,
                    cfg,
                    profile: p.ip,
                    window: w.number,
                    out: Vec::new(),
                    beacons: Vec::new(),
                    ti_hits: Vec::new(),
                };
                window_detections(&mut cx, w);
                if let Some(ev) = events.get(&(p.ip, w.number)) {
                    event_detections(&mut cx, ev);
                }
                cx.out.sort_by(|a, b| {
                    a.ts.total_cmp(&b.ts)
                        .then(a.kind.cmp(b.kind))
                        .then(a.description.cmp(&b.description))
                });
                ev.extend(cx.out);
                bc.extend(cx.beacons.into_iter().map(|(k, b)| (p.ip, w.number, k, b)));
                hits.extend(cx.ti_hits);
            }
            (ev, bc, hits)
        })
        .collect();
    let mut d = Detections::default();
    for (ev, bc, hits) in parts {
        d.evidence.extend(ev);
        for (ip, n, k, b) in bc {
            d.beacons.insert((ip, n, k), b);
        }
        d.ti_hits.extend(hits);
    }
    d.alerts = alerts(
        &d.evidence,
        cfg.alert_threshold * store.config.tw_width / 60.0,
    );
    d
}

/// Slips v1.0.0's accounting: per window, in time order, the attacker-side evidence not yet
/// part of an alert is summed; reaching `threshold` raises an alert and starts a new sum.
pub fn alerts(evidence: &[Evidence], threshold: f64) -> Vec<Alert> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < evidence.len() {
        let (ip, n) = (evidence[i].profile, evidence[i].window);
        let mut acc = 0.0;
        let mut ids = Vec::new();
        while i < evidence.len() && evidence[i].profile == ip && evidence[i].window == n {
            let e = &evidence[i];
            if e.profile_is_attacker && e.weight() > 0.0 {
                acc += e.weight();
                ids.push(i);
                if acc >= threshold - 1e-9 {
                    out.push(Alert {
                        profile: ip,
                        window: n,
                        ts: e.ts,
                        score: acc,
                        evidence: std::mem::take(&mut ids),
                    });
                    acc = 0.0;
                }
            }
            i += 1;
        }
    }
    out
}

fn window_detections(cx: &mut Ctx<'_>, w: &Window) {
    scans(cx, w);
    per_flow(cx, w);
    icmp_sweeps(cx, w);
    data_upload_window(cx, w);
    dns_detections(cx, w);
    http_detections(cx, w);
    ssl_detections(cx, w);
    beacons(cx, w);
}

/// Horizontal and vertical port scans (Slips' current rule: not-established TCP/UDP client
/// flows, flipped connections ignored; evidence at 10, 100, 1000… distinct targets).
fn scans(cx: &mut Ctx<'_>, w: &Window) {
    let conns = &cx.store.conns;
    let mut horizontal: HashMap<(Proto, u16), (HashSet<IpAddr>, u64, u32)> = HashMap::default();
    let mut vertical: HashMap<(Proto, IpAddr), (HashSet<u16>, u64, u32)> = HashMap::default();
    let me = cx.me();
    for &i in &w.out_flows {
        let c = &conns[i as usize];
        if !matches!(c.proto, Proto::Tcp | Proto::Udp)
            || c.established() != Established::NotEstablished
            || cx.sym(c.history).flipped
        {
            continue;
        }
        let h = horizontal.entry((c.proto, c.resp_p)).or_default();
        h.0.insert(c.resp_h);
        h.1 += c.orig_pkts;
        let n = h.0.len();
        if n >= 10 && (n as f64).log10().floor() as u32 > h.2 {
            h.2 = (n as f64).log10().floor() as u32;
            let service = ports::service_name(c.resp_p, c.proto)
                .map(|s| format!("{s} "))
                .unwrap_or_default();
            let conf = conf_from_pkts(h.1);
            let desc = format!(
                "Horizontal port scan to port {service}{}/{}. From {me} to {n} unique destination IPs. Total packets sent: {}. Confidence: {conf}. by Slips",
                c.resp_p,
                c.proto.as_str(),
                h.1
            );
            cx.add(
                "HorizontalPortscan",
                me.clone(),
                None,
                ThreatLevel::High,
                conf,
                desc,
                c.ts,
                vec![c.uid.to_string()],
            );
        }
        let v = vertical.entry((c.proto, c.resp_h)).or_default();
        v.0.insert(c.resp_p);
        v.1 += c.orig_pkts;
        let n = v.0.len();
        if n >= 10 && (n as f64).log10().floor() as u32 > v.2 {
            v.2 = (n as f64).log10().floor() as u32;
            let conf = conf_from_pkts(v.1);
            let desc = format!(
                "new vertical port scan to IP {} from {me}. Total {n} {} ports were scanned. Total packets sent to all ports: {}. Confidence: {conf}. by Slips",
                c.resp_h,
                c.proto.upper(),
                v.1
            );
            cx.add(
                "VerticalPortscan",
                me.clone(),
                Some(c.resp_h.to_string()),
                ThreatLevel::High,
                conf,
                desc,
                c.ts,
                vec![c.uid.to_string()],
            );
        }
    }
}

/// When the profile became a port scanner in this window (later unknown-port evidence is left
/// out, as Slips does today).
fn scanner_since(cx: &Ctx<'_>) -> f64 {
    cx.out
        .iter()
        .filter(|e| matches!(e.kind, "HorizontalPortscan" | "VerticalPortscan"))
        .map(|e| e.ts)
        .fold(f64::INFINITY, f64::min)
}

#[allow(clippy::too_many_lines)]
fn per_flow(cx: &mut Ctx<'_>, w: &Window) {
    let store = cx.store;
    let me = cx.me();
    let scanner = scanner_since(cx);
    let mut unknown_seen: HashSet<(IpAddr, u16, Proto)> = HashSet::default();
    let mut rej: HashMap<(IpAddr, u16), (u32, Vec<String>)> = HashMap::default();
    let mut multi_ports: HashMap<IpAddr, BTreeSet<u16>> = HashMap::default();
    let mut multi_reported: HashMap<IpAddr, usize> = HashMap::default();
    let mut ti_seen: HashSet<IpAddr> = HashSet::default();
    let mut no_dns_seen: HashSet<IpAddr> = HashSet::default();
    // hosts with a recognised HTTP / TLS connection, for the port 80 / 443 checks (±5 min)
    let mut http_at: HashMap<IpAddr, Vec<f64>> = HashMap::default();
    let mut ssl_at: HashMap<IpAddr, Vec<f64>> = HashMap::default();
    for &i in &w.out_flows {
        let c = &store.conns[i as usize];
        let f = cx.sym(c.service);
        if f.http {
            http_at.entry(c.resp_h).or_default().push(c.ts);
        } else if f.ssl {
            ssl_at.entry(c.resp_h).or_default().push(c.ts);
        }
    }
    let near = |m: &HashMap<IpAddr, Vec<f64>>, ip: IpAddr, t: f64| {
        m.get(&ip)
            .is_some_and(|v| v.iter().any(|x| (x - t).abs() <= 300.0))
    };
    // P2P heuristic (Slips): UDP to high ports with many flows or many peers is not "unknown"
    let mut p2p_flows: HashMap<IpAddr, u32> = HashMap::default();
    for &i in &w.out_flows {
        let c = &store.conns[i as usize];
        if c.proto == Proto::Udp && c.resp_p > 30000 {
            *p2p_flows.entry(c.resp_h).or_default() += 1;
        }
    }
    let p2p_peers = p2p_flows.values().filter(|n| **n >= 6).count();
    for &i in &w.out_flows {
        let c = &store.conns[i as usize];
        let uid = &c.uid;
        let dst = c.resp_h;
        let tcp_udp = matches!(c.proto, Proto::Tcp | Proto::Udp);
        let est = c.established() == Established::Established;
        // long connection
        if c.duration > 1500.0 && !multicast(c.resp_h) {
            cx.add(
                "LongConnection",
                me.clone(),
                Some(dst.to_string()),
                ThreatLevel::Low,
                (c.duration / 86400.0 * 100.0).round() / 100.0,
                format!(
                    "Long Connection. Connection from {me} to destination address: {dst} took {} mins",
                    (c.duration / 60.0) as u64
                ),
                c.ts,
                vec![uid.to_string()],
            );
        }
        // port 0
        if tcp_udp && (c.orig_p == 0 || c.resp_p == 0) && !multicast(c.resp_h) {
            cx.add(
                "Port0Connection",
                me.clone(),
                Some(dst.to_string()),
                ThreatLevel::High,
                0.8,
                format!(
                    "Connection on port 0 from {me}:{} to {dst}:{}.",
                    c.orig_p, c.resp_p
                ),
                c.ts,
                vec![uid.to_string()],
            );
        }
        // unknown destination port (once per destination, port and protocol)
        let p2p = c.proto == Proto::Udp
            && c.resp_p > 30000
            && (p2p_flows.get(&c.resp_h).copied().unwrap_or(0) >= 6 || p2p_peers >= 5);
        if tcp_udp
            && c.ts <= scanner
            && !p2p
            && c.service.is_empty()
            && ports::service_name(c.resp_p, c.proto).is_none()
            && unknown_seen.insert((c.resp_h, c.resp_p, c.proto))
        {
            // Slips today: high when established, medium otherwise
            cx.add(
                "UnknownPort",
                me.clone(),
                Some(dst.to_string()),
                if est {
                    ThreatLevel::High
                } else {
                    ThreatLevel::Medium
                },
                1.0,
                format!(
                    "Connection to unknown destination port {}/{} destination IP {dst}.",
                    c.resp_p,
                    c.proto.upper()
                ),
                c.ts,
                vec![uid.to_string()],
            );
        }
        // multiple reconnection attempts
        if c.conn_state == ConnState::REJ {
            let r = rej.entry((c.resp_h, c.resp_p)).or_default();
            r.0 += 1;
            r.1.push(uid.to_string());
            if r.0 >= 5 {
                let n = r.0;
                let uids = std::mem::take(&mut r.1);
                r.0 = 0;
                cx.add(
                    "MultipleReconnectionAttempts",
                    me.clone(),
                    Some(dst.to_string()),
                    ThreatLevel::Medium,
                    0.5,
                    format!(
                        "Multiple reconnection attempts from IP: {me} to destination IP: {dst} reconnections: {n}."
                    ),
                    c.ts,
                    uids,
                );
            }
        }
        // several unknown-service ports to one established destination
        if c.proto == Proto::Tcp
            && est
            && c.service.is_empty()
            && ports::service_name(c.resp_p, c.proto).is_none()
        {
            let set = multi_ports.entry(c.resp_h).or_default();
            set.insert(c.resp_p);
            let n = set.len();
            if n > 1 && multi_reported.get(&c.resp_h).copied().unwrap_or(0) < n {
                multi_reported.insert(c.resp_h, n);
                let list = set
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                cx.add(
                    "ConnectionToMultiplePorts",
                    me.clone(),
                    Some(dst.to_string()),
                    ThreatLevel::Medium,
                    0.5,
                    format!("Connection to multiple ports {list} of destination IP: {dst}."),
                    c.ts,
                    vec![uid.to_string()],
                );
            }
        }
        // a successful SSH login, by size (Slips: more than 4290 bytes in an ssh connection)
        let svc = cx.sym(c.service);
        if svc.ssh && c.orig_bytes + c.resp_bytes > 4290 {
            cx.add(
                "SSHSuccessful",
                me.clone(),
                Some(dst.to_string()),
                ThreatLevel::Info,
                0.8,
                format!(
                    "SSH successful to IP {dst}. From IP {me}. Sent bytes: {}. by Slips",
                    c.orig_bytes + c.resp_bytes
                ),
                c.ts,
                vec![uid.to_string()],
            );
        }
        // data upload per flow
        if c.orig_bytes >= 100_000_000 && !ignored(c.resp_h) {
            cx.add(
                "DataUpload",
                me.clone(),
                Some(dst.to_string()),
                ThreatLevel::High,
                0.6,
                format!(
                    "Large data upload. {} MBs sent to {dst}.",
                    c.orig_bytes / 1_000_000
                ),
                c.ts,
                vec![uid.to_string()],
            );
        }
        // non-HTTP on 80 / non-TLS on 443
        if c.proto == Proto::Tcp && est && c.orig_bytes + c.resp_bytes > 0 {
            if c.resp_p == 80 && !svc.http && !near(&http_at, c.resp_h, c.ts) {
                cx.add(
                    "NonHttpPort80Connection",
                    me.clone(),
                    Some(dst.to_string()),
                    ThreatLevel::Low,
                    0.8,
                    format!("non-HTTP established connection to port 80. destination IP: {dst}"),
                    c.ts,
                    vec![uid.to_string()],
                );
            }
            if c.resp_p == 443 && !svc.ssl && !near(&ssl_at, c.resp_h, c.ts) {
                cx.add(
                    "NonSslPort443Connection",
                    me.clone(),
                    Some(dst.to_string()),
                    ThreatLevel::Medium,
                    0.8,
                    format!("non-SSL established connection to port 443. destination IP: {dst}"),
                    c.ts,
                    vec![uid.to_string()],
                );
            }
        }
        // connection without a DNS resolution of the destination
        if !cx.store.dns.is_empty()
            && tcp_udp
            && !svc.dns
            && !ignored(c.resp_h)
            && !cx.store.dns_resolution.contains_key(&c.resp_h)
            && no_dns_seen.insert(c.resp_h)
        {
            cx.add(
                "ConnectionWithoutDNS",
                me.clone(),
                Some(dst.to_string()),
                ThreatLevel::Info,
                0.8,
                format!("a connection without DNS resolution to IP: {dst}"),
                c.ts,
                vec![uid.to_string()],
            );
        }
        // threat intelligence on the destination
        if !cx.cfg.ti.is_empty() && c.conn_state != ConnState::OTH && ti_seen.insert(c.resp_h) {
            if let Some(hit) = cx.cfg.ti.ip(c.resp_h).cloned() {
                cx.ti_hits.push((dst.to_string(), hit.description.clone()));
                cx.add(
                    "ThreatIntelligenceBlacklistIP",
                    dst.to_string(),
                    Some(me.clone()),
                    hit.level,
                    1.0,
                    format!(
                        "connection to blacklisted IP {dst}. Description: {}. Source: {}.",
                        hit.description, hit.source
                    ),
                    c.ts,
                    vec![uid.to_string()],
                );
            }
        }
    }
    // the profile itself on a blacklist: every window it is active in
    if let Some(hit) = cx.cfg.ti.ip(cx.profile).cloned() {
        let first = w.out_flows.first().or(w.in_flows.first());
        if let Some(&i) = first {
            let c = &store.conns[i as usize];
            cx.ti_hits.push((me.clone(), hit.description.clone()));
            cx.add(
                "ThreatIntelligenceBlacklistIP",
                me.clone(),
                None,
                hit.level,
                1.0,
                format!(
                    "connection from blacklisted IP {me}. Description: {}. Source: {}.",
                    hit.description, hit.source
                ),
                c.ts,
                vec![c.uid.to_string()],
            );
        }
    }
}

/// ICMP sweeps: distinct hosts probed with echo, timestamp or address-mask requests; evidence
/// at every multiple of 5 hosts (as Slips' Zeek script).
fn icmp_sweeps(cx: &mut Ctx<'_>, w: &Window) {
    let me = cx.me();
    let mut seen: BTreeMap<&'static str, (HashSet<IpAddr>, u64)> = BTreeMap::new();
    for &i in &w.out_flows {
        let c = &cx.store.conns[i as usize];
        if c.proto != Proto::Icmp {
            continue;
        }
        let kind = match c.orig_p {
            8 => "address",
            13 | 14 => "timestamp",
            17 | 18 => "address mask",
            _ => continue,
        };
        let s = seen.entry(kind).or_default();
        s.1 += c.orig_pkts;
        if s.0.insert(c.resp_h) && s.0.len() % 5 == 0 {
            let n = s.0.len();
            cx.add(
                "ICMPSweep",
                me.clone(),
                None,
                ThreatLevel::Medium,
                (n as f64 / 255.0).min(1.0).max(conf_from_pkts(s.1) / 10.0),
                format!("{me} performed ICMP {kind} scan on {n} hosts"),
                c.ts,
                vec![c.uid.to_string()],
            );
        }
    }
}

/// Bytes sent to one host, time of the last flow, the flows.
type Upload = (u64, f64, Vec<u32>);

/// Data upload per window: the bytes sent to each destination, summed (Slips v1.0.0 forgot to
/// sum and used the first flow).
fn data_upload_window(cx: &mut Ctx<'_>, w: &Window) {
    let me = cx.me();
    let mut sums: HashMap<IpAddr, Upload> = HashMap::default();
    for &i in &w.out_flows {
        let c = &cx.store.conns[i as usize];
        if c.orig_bytes == 0 || ignored(c.resp_h) {
            continue;
        }
        let s = sums.entry(c.resp_h).or_default();
        s.0 += c.orig_bytes;
        s.1 = s.1.max(c.ts);
        s.2.push(i);
    }
    let mut big: Vec<(IpAddr, Upload)> = sums
        .into_iter()
        .filter(|(_, s)| s.0 >= 500_000_000)
        .collect();
    big.sort_by_key(|b| b.0);
    for (ip, (bytes, ts, flows)) in big {
        let uids: Vec<String> = flows
            .iter()
            .map(|&i| cx.store.conns[i as usize].uid.to_string())
            .collect();
        {
            cx.add(
                "DataUploadWindow",
                me.clone(),
                Some(ip.to_string()),
                ThreatLevel::High,
                0.6,
                format!(
                    "Large data upload. {} MBs sent to {ip} in this time window.",
                    bytes / 1_000_000
                ),
                ts,
                uids,
            );
        }
    }
}

fn dns_detections(cx: &mut Ctx<'_>, w: &Window) {
    let me = cx.me();
    let mut nx: Vec<String> = Vec::new();
    let mut arpa: Vec<(f64, String)> = Vec::new();
    let mut ti_seen: HashSet<String> = HashSet::default();
    let contacted: HashSet<IpAddr> = w
        .out_flows
        .iter()
        .map(|&i| cx.store.conns[i as usize].resp_h)
        .collect();
    for &i in &w.dns {
        let d = &cx.store.dns[i as usize];
        let q = d.query.to_ascii_lowercase();
        if q.is_empty() {
            continue;
        }
        // DGA: many NXDOMAINs (distinct names; evidence at 10, 15, 20…, then the list starts over)
        if d.rcode_name.contains("NXDOMAIN")
            && !q.ends_with(".arpa")
            && !q.ends_with(".local")
            && !cx.cfg.whitelist.matches(&q)
            && !nx.contains(&q)
        {
            nx.push(q.clone());
            if nx.len() >= 10 && nx.len() % 5 == 0 {
                let n = nx.len();
                cx.add(
                    "DGA",
                    me.clone(),
                    None,
                    ThreatLevel::High,
                    (n as f64 / 100.0).min(1.0),
                    format!("Possible DGA or domain scanning. {me} failed to resolve {n} domains"),
                    d.id.ts,
                    vec![d.id.uid.to_string()],
                );
                nx.clear();
            }
        }
        // reverse-DNS scan: 10 distinct in-addr.arpa names within 2 s
        if q.ends_with(".in-addr.arpa") && !arpa.iter().any(|a| a.1 == q) {
            arpa.push((d.id.ts, q.clone()));
            arpa.retain(|a| d.id.ts - a.0 <= 2.0);
            if arpa.len() >= 10 {
                let n = arpa.len();
                cx.add(
                    "DNS-ARPA-Scan",
                    me.clone(),
                    None,
                    ThreatLevel::Medium,
                    0.7,
                    format!("Doing DNS ARPA scan. Scanned {n} hosts within 2 seconds."),
                    d.id.ts,
                    vec![d.id.uid.to_string()],
                );
                arpa.clear();
            }
        }
        // an answer no connection of this window used
        let ips: Vec<IpAddr> = d.answers.iter().filter_map(|a| a.parse().ok()).collect();
        if d.rcode_name == "NOERROR"
            && !ips.is_empty()
            && q.contains('.')
            && !q.ends_with(".arpa")
            && !q.ends_with(".local")
            && !q.contains("wpad")
            && !ips.iter().any(|ip| contacted.contains(ip))
        {
            cx.add(
                "DNSWithoutConnection",
                q.clone(),
                Some(me.clone()),
                ThreatLevel::Info,
                0.8,
                format!("domain {q} resolved with no connection"),
                d.id.ts,
                vec![d.id.uid.to_string()],
            );
        }
        if !cx.cfg.ti.is_empty() && ti_seen.insert(q.clone()) {
            if let Some((hit, parent)) = cx.cfg.ti.domain(&q) {
                let hit = hit.clone();
                cx.ti_hits.push((q.clone(), hit.description.clone()));
                cx.add(
                    "ThreatIntelligenceBlacklistDomain",
                    q.clone(),
                    Some(me.clone()),
                    hit.level,
                    if parent { 0.7 } else { 1.0 },
                    format!(
                        "connection to a blacklisted domain {q}. Description: {}, Found in feed: {}.",
                        hit.description, hit.source
                    ),
                    d.id.ts,
                    vec![d.id.uid.to_string()],
                );
            }
        }
    }
}

const SEARCH_HOSTS: [&str; 5] = [
    "bing.com",
    "google.com",
    "yandex.com",
    "yahoo.com",
    "duckduckgo.com",
];

fn suspicious_ua(ua: &str) -> bool {
    let l = ua.to_ascii_lowercase();
    ["httpsend", "chm_msdn", "jndi", "tesseract"]
        .iter()
        .any(|s| l.contains(s))
        // Slips matches "pb" anywhere, which flags ordinary agents; only the tool's own name
        || l.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == "pb")
}

fn http_detections(cx: &mut Ctx<'_>, w: &Window) {
    let me = cx.me();
    let mut empty: HashMap<String, (u32, Vec<String>)> = HashMap::default();
    for &i in &w.http {
        let h = &cx.store.http[i as usize];
        let uid = h.id.uid.to_string();
        if suspicious_ua(&h.user_agent) {
            cx.add(
                "SuspiciousUserAgent",
                me.clone(),
                Some(h.id.resp_h.to_string()),
                ThreatLevel::High,
                1.0,
                format!(
                    "suspicious user-agent: {} while connecting to {}{}",
                    h.user_agent, h.host, h.uri
                ),
                h.id.ts,
                vec![uid.clone()],
            );
        }
        let full = h.host.to_ascii_lowercase();
        let host = full.strip_prefix("www.").unwrap_or(&full).to_string();
        if SEARCH_HOSTS.contains(&host.as_str()) && h.request_body_len == 0 {
            let e = empty.entry(host.clone()).or_default();
            e.0 += 1;
            e.1.push(uid.clone());
            if e.0 == 4 {
                let uids = std::mem::take(&mut e.1);
                e.0 = 0;
                cx.add(
                    "EmptyConnections",
                    me.clone(),
                    Some(host.clone()),
                    ThreatLevel::Medium,
                    1.0,
                    format!("multiple empty HTTP connections to {host}"),
                    h.id.ts,
                    uids,
                );
            }
        }
        if let Some(m) = h.resp_mime_types.iter().find(|m| {
            matches!(
                m.as_str(),
                "application/x-dosexec"
                    | "application/x-msdownload"
                    | "application/x-ms-dos-executable"
                    | "application/x-ms-exe"
                    | "application/x-exe"
                    | "application/x-winexe"
            )
        }) {
            cx.add(
                "DOSExecutableDownload",
                h.id.resp_h.to_string(),
                Some(me.clone()),
                ThreatLevel::Low,
                1.0,
                format!(
                    "Download of an executable with MIME type: {m} by {me} from {}: {}{}",
                    h.id.resp_h, h.host, h.uri
                ),
                h.id.ts,
                vec![uid.clone()],
            );
        }
    }
}

/// Organisations whose certificates are checked against their own domains (Slips'
/// `organizations_info`, reduced to the domains that name them).
const ORGS: [(&str, &[&str]); 5] = [
    (
        "google",
        &[
            "google",
            "gstatic",
            "youtube",
            "ytimg",
            "2mdn",
            "gvt1",
            "gvt2",
            "ggpht",
            "doubleclick",
            "android",
            "goo.gl",
            "withgoogle",
        ],
    ),
    (
        "microsoft",
        &[
            "microsoft",
            "msn",
            "live",
            "bing",
            "office",
            "windows",
            "azure",
            "skype",
            "msft",
            "xbox",
            "outlook",
            "hotmail",
            "msedge",
        ],
    ),
    ("apple", &["apple", "icloud", "mzstatic", "itunes"]),
    (
        "facebook",
        &["facebook", "fbcdn", "instagram", "whatsapp", "fb"],
    ),
    ("twitter", &["twitter", "twimg", "t.co"]),
];

fn ssl_detections(cx: &mut Ctx<'_>, w: &Window) {
    let me = cx.me();
    for &i in &w.ssl {
        let s = &cx.store.ssl[i as usize];
        let dst = s.id.resp_h.to_string();
        let uid = s.id.uid.to_string();
        if s.validation_status.contains("self signed") {
            cx.add(
                "SelfSignedCertificate",
                dst.clone(),
                Some(me.clone()),
                ThreatLevel::Low,
                0.5,
                format!(
                    "Self-signed certificate. Destination IP: {dst}. SNI: {}",
                    s.server_name
                ),
                s.id.ts,
                vec![uid.clone()],
            );
        }
        let issuer = s.issuer.to_ascii_lowercase();
        let sni = s.server_name.to_ascii_lowercase();
        if !sni.is_empty() {
            for (org, domains) in ORGS {
                if issuer.contains(org) {
                    // a label naming the organisation (googleadservices, ytimg…) is its own
                    let own = sni.split('.').any(|label| {
                        domains
                            .iter()
                            .any(|d| label == *d || (d.len() >= 4 && label.contains(d)))
                    });
                    if !own {
                        let name = format!("{}{}", org[..1].to_ascii_uppercase(), &org[1..]);
                        cx.add(
                            "IncompatibleCN",
                            me.clone(),
                            Some(dst.clone()),
                            ThreatLevel::Medium,
                            0.9,
                            format!(
                                "Incompatible certificate CN to IP: {dst} domain: {sni}. The certificate is claiming to belong to {name}."
                            ),
                            s.id.ts,
                            vec![uid.clone()],
                        );
                    }
                    break;
                }
            }
        }
        if let Some(hit) = cx.cfg.ti.ja3(&s.ja3).cloned() {
            cx.add(
                "MaliciousJA3",
                me.clone(),
                Some(dst.clone()),
                hit.level,
                1.0,
                format!(
                    "Malicious JA3: {} from source address {me} to {dst}. description: {}.",
                    s.ja3, hit.description
                ),
                s.id.ts,
                vec![uid.clone()],
            );
        }
        if let Some(hit) = cx.cfg.ti.ja3(&s.ja3s).cloned() {
            cx.add(
                "MaliciousJA3s",
                dst.clone(),
                Some(me.clone()),
                hit.level,
                1.0,
                format!(
                    "Malicious JA3s: (possible C&C server): {} to server {dst}. description: {}.",
                    s.ja3s, hit.description
                ),
                s.id.ts,
                vec![uid.clone()],
            );
        }
    }
}

/// Detections from other logs: Zeek's notices (port and address scans, password guessing,
/// Slips' ICMP-scan script), SMTP login failures, SSH client versions, ARP and SSH logins.
#[allow(clippy::too_many_lines)]
fn event_detections(cx: &mut Ctx<'_>, events: &[&crate::record::Activity]) {
    let me = cx.me();
    let mut smtp: Vec<f64> = Vec::new();
    let mut ssh_versions: Vec<String> = Vec::new();
    let mut arp_targets: Vec<(f64, IpAddr)> = Vec::new();
    let mut arp_reported = 0usize;
    let mut ssh_failed: HashMap<IpAddr, u32> = HashMap::default();
    for a in events {
        let Some(d) = a.detail.as_deref() else {
            continue;
        };
        let resp = d.resp.map(|r| r.to_string()).unwrap_or_default();
        if !d.note.is_empty() {
            let n = &d.note;
            let (kind, level, what) = if n.contains("Port_Scan") {
                (
                    "VerticalPortscan",
                    ThreatLevel::High,
                    "Vertical port scan: ",
                )
            } else if n.contains("Address_Scan") {
                (
                    "HorizontalPortscan",
                    ThreatLevel::High,
                    "Horizontal port scan: ",
                )
            } else if n.contains("Password_Guessing") {
                ("PasswordGuessing", ThreatLevel::High, "Password guessing: ")
            } else if n.starts_with("ICMP::") {
                ("ICMPSweep", ThreatLevel::Medium, "")
            } else {
                continue;
            };
            cx.add(
                kind,
                me.clone(),
                (!resp.is_empty()).then(|| resp.clone()),
                level,
                1.0,
                format!("{what}{} by Zeek", d.msg.trim()),
                a.ts,
                Vec::new(),
            );
        }
        if d.last_reply.contains("bad smtp-auth user") {
            cx.add(
                "BadSMTPLogin",
                me.clone(),
                Some(resp.clone()),
                ThreatLevel::High,
                1.0,
                format!("doing bad SMTP login to {resp}"),
                a.ts,
                Vec::new(),
            );
            smtp.push(a.ts);
            smtp.retain(|t| a.ts - t <= 10.0);
            if smtp.len() >= 3 {
                let n = smtp.len();
                cx.add(
                    "SMTPLoginBruteforce",
                    me.clone(),
                    Some(resp.clone()),
                    ThreatLevel::High,
                    1.0,
                    format!("doing SMTP login bruteforce to {resp}. {n} logins in 10 seconds."),
                    a.ts,
                    Vec::new(),
                );
                smtp.clear();
            }
        }
        if d.software_type == "SSH::CLIENT" {
            let v = d
                .version
                .rsplit('_')
                .next()
                .unwrap_or_default()
                .replace('.', "_");
            if let Some(prev) = ssh_versions.last().filter(|p| **p != v) {
                cx.add(
                    "MultipleSSHVersions",
                    me.clone(),
                    None,
                    ThreatLevel::Medium,
                    0.9,
                    format!(
                        "SSH client version changing from {prev} to {v}: possible SSH bruteforce by using multiple SSH versions."
                    ),
                    a.ts,
                    Vec::new(),
                );
            }
            if ssh_versions.last() != Some(&v) {
                ssh_versions.push(v);
            }
        }
        if !d.operation.is_empty() {
            if d.operation == "reply" && d.dst_mac == "ff:ff:ff:ff:ff:ff" {
                cx.add(
                    "UnsolicitedARP",
                    me.clone(),
                    None,
                    ThreatLevel::Info,
                    0.8,
                    "broadcasting unsolicited ARP".into(),
                    a.ts,
                    Vec::new(),
                );
            }
            if let Some(r) = d.resp {
                let sender_known = a.ip != IpAddr::from([0, 0, 0, 0]);
                if d.operation == "request" && sender_known && !ignored(r) {
                    cx.add(
                        "ARPOutsideLocalNetwork",
                        me.clone(),
                        Some(resp.clone()),
                        ThreatLevel::Low,
                        0.6,
                        format!(
                            "{me} sending ARP packet to a destination address outside of local network: {r}."
                        ),
                        a.ts,
                        Vec::new(),
                    );
                }
                if d.operation == "request" && sender_known && d.target_hw == "00:00:00:00:00:00" {
                    if !arp_targets.iter().any(|x| x.1 == r) {
                        arp_targets.push((a.ts, r));
                    }
                    arp_targets.retain(|x| a.ts - x.0 <= 30.0);
                    // reported at 5 hosts within 30 s, then each time the count doubles
                    let n = arp_targets.len();
                    if n >= 5 && n >= 2 * arp_reported {
                        arp_reported = n;
                        cx.add(
                            "ARPScan",
                            me.clone(),
                            None,
                            ThreatLevel::Low,
                            0.8,
                            format!("{me} performing an arp scan to {n} hosts within 30 seconds. Confidence 0.8."),
                            a.ts,
                            Vec::new(),
                        );
                    }
                }
            }
        }
        if let (Some(ok), Some(r)) = (d.auth_success, d.resp) {
            if ok {
                cx.add(
                    "SSHSuccessful",
                    me.clone(),
                    Some(resp.clone()),
                    ThreatLevel::Info,
                    0.8,
                    format!("SSH successful to IP {r}. From IP {me}. by Zeek"),
                    a.ts,
                    Vec::new(),
                );
            } else {
                let n = ssh_failed.entry(r).or_default();
                *n += 1;
                if *n == 20 {
                    cx.add(
                        "PasswordGuessing",
                        me.clone(),
                        Some(resp.clone()),
                        ThreatLevel::High,
                        1.0,
                        format!("password guessing to {r}: 20 failed SSH logins. by Slips"),
                        a.ts,
                        Vec::new(),
                    );
                }
            }
        }
    }
}

/// A tuple's flows: start, bytes, index.
type TupleFlows = Vec<(f64, u64, u32)>;

/// Periodic out-tuples (see [`beacon`]).
fn beacons(cx: &mut Ctx<'_>, w: &Window) {
    let me = cx.me();
    let mut by_tuple: HashMap<(IpAddr, u16, Proto), TupleFlows> = HashMap::default();
    for &i in &w.out_flows {
        let c = &cx.store.conns[i as usize];
        by_tuple
            .entry((c.resp_h, c.resp_p, c.proto))
            .or_default()
            .push((c.ts, c.orig_bytes + c.resp_bytes, i));
    }
    let mut by_tuple: Vec<((IpAddr, u16, Proto), TupleFlows)> = by_tuple
        .into_iter()
        .filter(|(_, f)| f.len() >= beacon::MIN_FLOWS)
        .collect();
    by_tuple.sort_by_key(|t| t.0);
    for ((ip, port, proto), flows) in by_tuple {
        let pts: Vec<(f64, u64)> = flows.iter().map(|f| (f.0, f.1)).collect();
        let Some(b) = beacon::score(&pts) else {
            continue;
        };
        let key = format!("{ip}-{port}-{}", proto.as_str());
        cx.beacons.push((key.clone(), b));
        if b.score >= beacon::THRESHOLD {
            let last = flows.iter().map(|f| f.0).fold(f64::MIN, f64::max);
            let mut desc = String::new();
            let _ = write!(
                desc,
                "Periodic connections (possible C&C beacon) to {ip} port {port}/{}: {} flows every {:.0} s (jitter {:.0}%), score {:.2}.",
                proto.as_str(),
                b.flows,
                b.period,
                b.jitter * 100.0,
                b.score
            );
            // the last 50 flows name it (the description gives the count)
            let uids = flows
                .iter()
                .rev()
                .take(50)
                .map(|f| cx.store.conns[f.2 as usize].uid.to_string())
                .collect();
            cx.add(
                "Beacon",
                me.clone(),
                Some(ip.to_string()),
                ThreatLevel::Medium,
                b.score,
                desc,
                last,
                uids,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ip: [u8; 4], window: i64, ts: f64, level: ThreatLevel, conf: f64, own: bool) -> Evidence {
        Evidence {
            kind: "Test",
            profile: IpAddr::from(ip),
            window,
            attacker: String::new(),
            profile_is_attacker: own,
            victim: None,
            threat_level: level,
            confidence: conf,
            description: String::new(),
            ts,
            uids: Vec::new(),
        }
    }

    #[test]
    fn alerts_sum_attacker_evidence_per_window_and_start_over() {
        let a = [10, 0, 0, 1];
        let e = vec![
            ev(a, 1, 1.0, ThreatLevel::High, 1.0, true),
            ev(a, 1, 2.0, ThreatLevel::Critical, 1.0, false), // victim side: not counted
            ev(a, 1, 3.0, ThreatLevel::High, 1.0, true),
            ev(a, 1, 4.0, ThreatLevel::Medium, 0.8, true),
            ev(a, 1, 5.0, ThreatLevel::High, 1.0, true),
            ev(a, 1, 6.0, ThreatLevel::High, 1.0, true),
            ev(a, 1, 6.5, ThreatLevel::High, 1.0, true),
            ev(a, 2, 7.0, ThreatLevel::High, 1.0, true),
        ];
        let al = alerts(&e, 2.0);
        assert_eq!(al.len(), 2, "{al:?}");
        assert_eq!(al[0].evidence, vec![0, 2, 3], "0.8 + 0.8 + 0.4 = 2.0");
        assert_eq!(
            al[1].evidence,
            vec![4, 5, 6],
            "a second alert from new evidence"
        );
        assert!(al.iter().all(|a| a.window == 1));
        assert!(alerts(&e, 100.0).is_empty());
    }

    #[test]
    fn threat_levels_parse_and_weigh() {
        assert_eq!(ThreatLevel::parse(" HIGH "), Some(ThreatLevel::High));
        assert_eq!(ThreatLevel::parse("bogus"), None);
        assert!((ThreatLevel::Medium.value() - 0.5).abs() < 1e-12);
        assert!(suspicious_ua("${jndi:ldap://x}"));
        assert!(suspicious_ua("pb"));
        assert!(!suspicious_ua("Mozilla/5.0 (webpbrowser)"));
    }
}
