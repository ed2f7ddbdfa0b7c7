//! `alerts.log` and `alerts.json`, in Slips v1.0.0's line formats: every evidence line, and a
//! line when a window raises an alert; `alerts.json` holds one IDEA0 record per evidence.
//!
//! Text lines pass the sanitiser; the JSON records keep exact values (JSON escapes them).

use crate::detect::Detections;
use crate::text::Clean;
use rustc_hash::FxHashMap as HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

/// Writes `alerts.log` and `alerts.json` in Slips v1.0.0's line formats into `dir`.
pub fn write(d: &Detections, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut log = std::io::BufWriter::new(std::fs::File::create(dir.join("alerts.log"))?);
    let mut json = std::io::BufWriter::new(std::fs::File::create(dir.join("alerts.json"))?);
    let iso = |ts: f64| {
        chrono::DateTime::from_timestamp_micros((ts * 1e6).round() as i64)
            .map_or_else(String::new, |t| {
                t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
            })
    };
    let mut by_alert: HashMap<usize, usize> = HashMap::default();
    for (a, alert) in d.alerts.iter().enumerate() {
        for &e in &alert.evidence {
            by_alert.insert(e, a);
        }
    }
    for (i, e) in d.evidence.iter().enumerate() {
        writeln!(
            log,
            "{}: Src IP {:<26}. Detected {}",
            iso(e.ts),
            e.profile.to_string(),
            Clean(&e.description)
        )?;
        let category = match e.kind {
            k if k.contains("scan") || k.contains("Scan") || k == "ICMPSweep" => "Recon.Scanning",
            "BadSMTPLogin" | "SMTPLoginBruteforce" | "PasswordGuessing" | "MultipleSSHVersions" => {
                "Attempt.Login"
            }
            "Beacon" | "MaliciousJA3" | "MaliciousJA3s" | "DGA" => "Intrusion.Botnet",
            "DOSExecutableDownload" => "Malware",
            "DataUpload" | "DataUploadWindow" => "Information.UnauthorizedAccess",
            k if k.starts_with("ThreatIntelligence") => "Intrusion",
            _ => "Anomaly.Connection",
        };
        let ip_key = |ip: &str| if ip.contains(':') { "IP6" } else { "IP4" };
        let me = e.profile.to_string();
        let mut obj = serde_json::json!({
            "Format": "IDEA0",
            "ID": format!("{}-{}-{}", e.profile, e.window, i),
            "DetectTime": iso(e.ts),
            "EventTime": iso(e.ts),
            "Category": [category],
            "Confidence": e.confidence,
            "Source": [{ ip_key(&me): [me] }],
            "Attach": [{"Content": e.description, "ContentType": "text/plain"}],
            "Note": serde_json::json!({
                "type_evidence": e.kind,
                "threat_level": e.threat_level.as_str(),
                "attacker": e.attacker,
                "timewindow": format!("timewindow{}", e.window),
                "uids": e.uids,
                "alert": by_alert.contains_key(&i),
            }).to_string(),
        });
        if let Some(v) = e.victim.as_ref().filter(|v| v.parse::<IpAddr>().is_ok()) {
            obj["Target"] = serde_json::json!([{ ip_key(v): [v] }]);
        }
        serde_json::to_writer(&mut json, &obj)?;
        writeln!(json)?;
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
    log.flush()?;
    json.flush()
}
