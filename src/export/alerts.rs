//! `alerts.log` and `alerts.json`, in Slips v1.0.0's line formats: every evidence line, and a
//! line when a window raises an alert; `alerts.json` holds one IDEA0 record per evidence.
//!
//! Text lines pass the sanitiser; the JSON records keep exact values (JSON escapes them).
//!
//! It does not decide alerts ([`crate::detect::alerts()`] does).

use super::file::{OutputFile, create_dir};
use crate::detect::{Detections, PartyRef};
use crate::store::Store;
use crate::text::Clean;
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

/// An address as IDEA0 lists it: `{"IP4": ["…"]}` or `{"IP6": ["…"]}`.
#[derive(Serialize)]
enum IdeaAddress {
    #[serde(rename = "IP4")]
    V4([String; 1]),
    #[serde(rename = "IP6")]
    V6([String; 1]),
}

impl IdeaAddress {
    fn of(ip: IpAddr) -> IdeaAddress {
        match ip {
            IpAddr::V4(_) => IdeaAddress::V4([ip.to_string()]),
            IpAddr::V6(_) => IdeaAddress::V6([ip.to_string()]),
        }
    }
}

#[derive(Serialize)]
struct IdeaAttachment<'a> {
    #[serde(rename = "Content")]
    content: &'a str,
    #[serde(rename = "ContentType")]
    content_type: &'static str,
}

/// Slips' `Note`: a JSON object written as a string inside the record.
#[derive(Serialize)]
struct IdeaNote<'a> {
    alert: bool,
    attacker: String,
    threat_level: &'static str,
    timewindow: String,
    type_evidence: &'static str,
    uids: Vec<crate::record::UidText<'a>>,
}

/// One `alerts.json` line. Fields in alphabetical order, as Slips' writer sorts them.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct IdeaRecord<'a> {
    attach: [IdeaAttachment<'a>; 1],
    category: [&'static str; 1],
    confidence: f64,
    detect_time: &'a str,
    event_time: &'a str,
    format: &'static str,
    #[serde(rename = "ID")]
    id: String,
    note: String,
    source: [IdeaAddress; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<[IdeaAddress; 1]>,
}

/// Slips' time format in alerts: ISO 8601 with microseconds and an explicit UTC offset.
fn iso(ts: f64) -> String {
    chrono::DateTime::from_timestamp_micros((ts * 1e6).round() as i64)
        .map_or_else(String::new, |t| {
            t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
        })
}

/// `alerts.log` and `alerts.json` of one output directory, created before the analysis.
#[derive(Debug)]
pub struct AlertFiles {
    log: OutputFile,
    json: OutputFile,
}

impl AlertFiles {
    /// Creates `dir` and its two (empty) files.
    pub fn create(dir: &Path) -> anyhow::Result<AlertFiles> {
        create_dir(dir)?;
        Ok(AlertFiles {
            log: OutputFile::create(&dir.join("alerts.log"))?,
            json: OutputFile::create(&dir.join("alerts.json"))?,
        })
    }

    /// Writes both files; an error names the file. A failure of one still writes the other.
    pub fn write(self, store: &Store, d: &Detections) -> anyhow::Result<()> {
        let log = self.log.write_with(|w| write_log(d, w));
        let json = self.json.write_with(|w| write_json(store, d, w));
        log.and(json)
    }
}

/// Writes `alerts.log` and `alerts.json` in Slips v1.0.0's line formats into `dir`.
pub fn write(store: &Store, d: &Detections, dir: &Path) -> anyhow::Result<()> {
    AlertFiles::create(dir)?.write(store, d)
}

/// Which alert each evidence belongs to.
fn alert_of(d: &Detections) -> HashMap<usize, usize> {
    let mut by_alert: HashMap<usize, usize> = HashMap::default();
    for (a, alert) in d.alerts.iter().enumerate() {
        for &e in &alert.evidence {
            by_alert.insert(e, a);
        }
    }
    by_alert
}

/// `alerts.log`: every evidence line, and a line when its window raises an alert.
fn write_log(d: &Detections, log: &mut impl Write) -> std::io::Result<()> {
    let by_alert = alert_of(d);
    for (i, e) in d.evidence.iter().enumerate() {
        writeln!(
            log,
            "{}: Src IP {:<26}. Detected {}",
            iso(e.ts),
            e.profile.to_string(),
            Clean(&e.description())
        )?;
        if let Some(&a) = by_alert.get(&i) {
            let alert = &d.alerts[a];
            if alert.evidence.last() == Some(&i) {
                writeln!(
                    log,
                    "{}: Src IP {}. Generated an alert given enough evidence on timewindow {}.",
                    iso(alert.ts),
                    alert.profile,
                    alert.window
                )?;
            }
        }
    }
    Ok(())
}

/// `alerts.json`: one IDEA0 record per evidence.
fn write_json(store: &Store, d: &Detections, json: &mut impl Write) -> std::io::Result<()> {
    let by_alert = alert_of(d);
    // an ID numbers the evidence within its window, so that it depends on nothing outside the
    // profile (a `--shard` worker gives the same IDs as one process)
    let mut in_window: rustc_hash::FxHashMap<(std::net::IpAddr, i64), usize> =
        rustc_hash::FxHashMap::default();
    for (i, e) in d.evidence.iter().enumerate() {
        let n = in_window.entry((e.profile, e.window)).or_default();
        *n += 1;
        let time = iso(e.ts);
        let description = e.description();
        let note = IdeaNote {
            alert: by_alert.contains_key(&i),
            attacker: e.attacker().to_string(),
            threat_level: e.threat_level.as_str(),
            timewindow: format!("timewindow{}", e.window),
            type_evidence: e.kind.name(),
            uids: e.uids(store),
        };
        let record = IdeaRecord {
            attach: [IdeaAttachment {
                content: &description,
                content_type: "text/plain",
            }],
            category: [e.kind.category()],
            confidence: e.confidence,
            detect_time: &time,
            event_time: &time,
            format: "IDEA0",
            id: format!("{}-{}-{n}", e.profile, e.window),
            note: serde_json::to_string(&note)?,
            source: [IdeaAddress::of(e.profile)],
            target: e
                .victim()
                .and_then(PartyRef::ip)
                .map(|v| [IdeaAddress::of(v)]),
        };
        serde_json::to_writer(&mut *json, &record)?;
        writeln!(json)?;
    }
    Ok(())
}
