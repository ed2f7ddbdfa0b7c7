//! `--html FILE`: the analysis as one self-contained page to attach to a ticket. Everything is
//! inline (styles, script, data, the world's outlines); nothing is fetched when it is opened.
//!
//! This file gathers what the page shows into one JSON value; `html_page.html` lays it out.
//! Network strings reach the page only inside that JSON, which the script puts into the
//! document as text (never as markup), and the JSON is escaped so that no string can close the
//! script element.

use crate::Analysis;
use crate::detect::rank::triage_order;
use crate::store::python::py_datetime;
use crate::ui::geo::{Geo, country_point};
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::net::IpAddr;

/// How many suspects the page details.
const SUSPECTS: usize = 200;
/// How many pieces of evidence a suspect shows.
const EVIDENCE_PER_SUSPECT: usize = 300;
/// How many beacons the page shows.
const BEACONS: usize = 20;
/// How many intervals a beacon's histogram is drawn from.
const INTERVALS: usize = 2000;
/// The most bars a chart has: longer inputs get wider buckets.
const BUCKETS: usize = 720;

const TEMPLATE: &str = include_str!("html_page.html");

#[derive(Serialize)]
struct Page {
    version: &'static str,
    input: InputBox,
    totals: Totals,
    suspects: Vec<SuspectRow>,
    timeline: Timeline,
    beacons: Vec<BeaconRow>,
    countries: Vec<CountryRow>,
    world: Vec<String>,
}

#[derive(Serialize)]
struct InputBox {
    files: Vec<String>,
    records: BTreeMap<String, u64>,
    skipped: u64,
    span: Option<(String, String)>,
    home_net: Vec<String>,
    window_width: f64,
}

#[derive(Serialize)]
struct Totals {
    profiles: usize,
    windows: usize,
    flows: usize,
    evidence: usize,
    alerts: usize,
    suspects: usize,
}

#[derive(Serialize)]
struct SuspectRow {
    rank: usize,
    ip: String,
    country: String,
    score: f64,
    alerts: usize,
    windows: usize,
    evidence: usize,
    kinds: String,
    window_list: Vec<WindowRow>,
    evidence_list: Vec<EvidenceRow>,
}

#[derive(Serialize)]
struct WindowRow {
    number: i64,
    start: String,
    flows: usize,
    evidence: usize,
    score: f64,
    alerts: usize,
}

#[derive(Serialize)]
struct EvidenceRow {
    window: i64,
    time: String,
    kind: &'static str,
    level: &'static str,
    confidence: f64,
    attacker: bool,
    description: String,
}

#[derive(Serialize)]
struct Timeline {
    start: String,
    bucket_seconds: f64,
    flows: Vec<u64>,
    evidence: Vec<u64>,
    alerts: Vec<u64>,
}

#[derive(Serialize)]
struct BeaconRow {
    profile: String,
    window: i64,
    tuple: String,
    score: f64,
    period: f64,
    flows: usize,
    intervals: Vec<f64>,
}

#[derive(Serialize)]
struct CountryRow {
    country: String,
    lat: f64,
    lon: f64,
    flows: u64,
    hosts: u64,
}

/// Writes the page.
pub fn write(out: &mut impl Write, analysis: &Analysis, geo: &Geo) -> std::io::Result<()> {
    let page = Page {
        version: env!("CARGO_PKG_VERSION"),
        input: input_box(analysis),
        totals: Totals {
            profiles: analysis.store.profiles.len(),
            windows: analysis.store.window_count(),
            flows: analysis.store.conns.len(),
            evidence: analysis.detections.evidence.len(),
            alerts: analysis.detections.alerts.len(),
            suspects: analysis.detections.ranking.len(),
        },
        suspects: suspects(analysis, geo),
        timeline: timeline(analysis),
        beacons: beacons(analysis),
        countries: countries(analysis, geo),
        world: world(),
    };
    let json = serde_json::to_string(&page).map_err(std::io::Error::other)?;
    let (head, tail) = TEMPLATE
        .split_once("/*DATA*/")
        .ok_or_else(|| std::io::Error::other("the page template has no data slot"))?;
    out.write_all(head.as_bytes())?;
    out.write_all(script_safe(&json).as_bytes())?;
    out.write_all(tail.as_bytes())
}

/// JSON that can sit inside `<script>`: no `<`, `>` or `&` (so no string ends the element or
/// opens a comment), and no line separators JavaScript would read as line ends.
fn script_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

fn input_box(a: &Analysis) -> InputBox {
    InputBox {
        files: a.input.files.iter().map(|f| f.path.clone()).collect(),
        records: a.input.records.clone(),
        skipped: a.input.skipped,
        span: a.input.span.map(|(s, e)| (py_datetime(s), py_datetime(e))),
        home_net: a
            .store
            .config
            .home_net
            .iter()
            .map(ToString::to_string)
            .collect(),
        window_width: a.store.config.tw_width,
    }
}

fn suspects(a: &Analysis, geo: &Geo) -> Vec<SuspectRow> {
    let d = &a.detections;
    triage_order(&d.ranking)
        .into_iter()
        .take(SUSPECTS)
        .enumerate()
        .map(|(i, s)| {
            let mut windows: BTreeMap<i64, (usize, f64)> = BTreeMap::new();
            let mut evidence = Vec::new();
            let mut count = 0;
            for e in d.of_profile(s.ip) {
                count += 1;
                let w = windows.entry(e.window).or_default();
                w.0 += 1;
                if e.profile_is_attacker() {
                    w.1 += e.weight();
                }
                if evidence.len() < EVIDENCE_PER_SUSPECT {
                    evidence.push(EvidenceRow {
                        window: e.window,
                        time: py_datetime(e.ts),
                        kind: e.kind.name(),
                        level: e.threat_level.as_str(),
                        confidence: e.confidence,
                        attacker: e.profile_is_attacker(),
                        description: e.description(),
                    });
                }
            }
            let window_list = windows
                .into_iter()
                .map(|(n, (evidence, score))| {
                    let w = a.store.window(s.ip, n);
                    WindowRow {
                        number: n,
                        start: w.map(|w| py_datetime(w.start)).unwrap_or_default(),
                        flows: w.map_or(0, |w| w.out_flows.len() + w.in_flows.len()),
                        evidence,
                        score: (score * 1000.0).round() / 1000.0,
                        alerts: d.alerts_of(s.ip, n).len(),
                    }
                })
                .collect();
            SuspectRow {
                rank: i + 1,
                ip: s.ip.to_string(),
                country: geo.place(s.ip).country,
                score: (s.score * 1000.0).round() / 1000.0,
                alerts: s.alerts,
                windows: s.windows,
                evidence: count,
                kinds: s.kinds_text(4),
                window_list,
                evidence_list: evidence,
            }
        })
        .collect()
}

/// Flows, evidence and alerts per bucket of time: one window wide, or wider for a long input.
fn timeline(a: &Analysis) -> Timeline {
    let anchor = a.store.anchor;
    let end = a.input.span.map_or(anchor, |s| s.1);
    let width = a.store.config.tw_width;
    let windows = ((end - anchor) / width).floor().max(0.0) as usize + 1;
    let per_bucket = windows.div_ceil(BUCKETS).max(1);
    let bucket_seconds = width * per_bucket as f64;
    let n = windows.div_ceil(per_bucket);
    let index = |t: f64| (((t - anchor) / bucket_seconds).floor().max(0.0) as usize).min(n - 1);
    let mut flows = vec![0u64; n];
    for c in &a.store.conns {
        flows[index(c.ts)] += 1;
    }
    let mut evidence = vec![0u64; n];
    for e in &a.detections.evidence {
        evidence[index(e.ts)] += 1;
    }
    let mut alerts = vec![0u64; n];
    for al in &a.detections.alerts {
        alerts[index(al.ts)] += 1;
    }
    Timeline {
        start: py_datetime(anchor),
        bucket_seconds,
        flows,
        evidence,
        alerts,
    }
}

fn beacons(a: &Analysis) -> Vec<BeaconRow> {
    crate::detect::rank::beacons(&a.detections.evidence)
        .into_iter()
        .take(BEACONS)
        .map(|h| {
            let (dst, port, proto) = h.tuple;
            let mut times: Vec<f64> = a
                .store
                .window(h.evidence.profile, h.evidence.window)
                .map(|w| {
                    w.out_flows
                        .iter()
                        .filter_map(|&i| a.store.conns.get(i as usize))
                        .filter(|c| c.resp_h == dst && c.resp_p == port && c.proto == proto)
                        .map(|c| c.ts)
                        .collect()
                })
                .unwrap_or_default();
            times.sort_by(f64::total_cmp);
            let intervals = times
                .windows(2)
                .map(|p| ((p[1] - p[0]) * 1000.0).round() / 1000.0)
                .take(INTERVALS)
                .collect();
            BeaconRow {
                profile: h.evidence.profile.to_string(),
                window: h.evidence.window,
                tuple: h.key(),
                score: (h.beacon.score * 1000.0).round() / 1000.0,
                period: (h.beacon.period * 10.0).round() / 10.0,
                flows: h.beacon.flows,
                intervals,
            }
        })
        .collect()
}

/// Flows and distinct destinations per country of the destination.
fn countries(a: &Analysis, geo: &Geo) -> Vec<CountryRow> {
    let mut per_host: FxHashMap<IpAddr, u64> = FxHashMap::default();
    for c in &a.store.conns {
        *per_host.entry(c.resp_h).or_default() += 1;
    }
    let mut per_country: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (ip, flows) in per_host {
        let country = geo.place(ip).country;
        if country.is_empty() || country == "private" || country == "reserved" {
            continue;
        }
        let e = per_country.entry(country).or_default();
        e.0 += flows;
        e.1 += 1;
    }
    let mut rows: Vec<CountryRow> = per_country
        .into_iter()
        .filter_map(|(country, (flows, hosts))| {
            let (lat, lon) = country_point(&country)?;
            Some(CountryRow {
                country,
                lat,
                lon,
                flows,
                hosts,
            })
        })
        .collect();
    rows.sort_by(|a, b| b.flows.cmp(&a.flows).then(a.country.cmp(&b.country)));
    rows
}

/// The countries' outlines as SVG path data on a 360 × 180 equirectangular plane, rounded to
/// half a degree (enough for a map of where traffic went, and a small page).
fn world() -> Vec<String> {
    let data = world_data::load();
    let mut paths: Vec<(String, String)> = data
        .countries
        .iter()
        .map(|(code, c)| {
            let mut d = String::new();
            for polygon in &c.polygons {
                let mut last: Option<(i32, i32)> = None;
                let mut points = 0;
                for p in polygon.exterior().coords() {
                    let x = (f64::from(p.x) + 180.0) * 2.0;
                    let y = (90.0 - f64::from(p.y)) * 2.0;
                    let q = (x.round() as i32, y.round() as i32);
                    if last == Some(q) {
                        continue;
                    }
                    d.push_str(if last.is_none() { "M" } else { "L" });
                    // writing into a String cannot fail
                    let _ = write!(d, "{} {}", f64::from(q.0) / 2.0, f64::from(q.1) / 2.0);
                    last = Some(q);
                    points += 1;
                }
                if points > 0 {
                    d.push('Z');
                }
            }
            (code.clone(), d)
        })
        .collect();
    paths.sort();
    paths.into_iter().map(|(_, d)| d).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_string_can_close_the_script() {
        let hostile = "</script><!-- & \u{2028}";
        let json = serde_json::json!({ "a": hostile }).to_string();
        assert!(json.contains("</script>"));
        let safe = script_safe(&json);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        assert!(!safe.contains('\u{2028}'));
        let back: serde_json::Value = serde_json::from_str(&safe).expect("still JSON");
        assert_eq!(back["a"], hostile);
    }

    #[test]
    fn the_world_has_outlines() {
        let w = world();
        assert!(w.len() > 150, "{} countries", w.len());
        assert!(w.iter().all(|d| d.is_empty() || d.starts_with('M')));
    }
}
