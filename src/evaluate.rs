//! Measuring detections against labelled traffic (`kalipso evaluate`).
//!
//! Labels come from Stratosphere's labelled Zeek conn logs (`label` and `detailedlabel`
//! columns, as `NetflowLabeler` writes them). They are read here, beside the analysis and after
//! it: the analysis never sees them (its reader ignores columns it does not know), so they
//! measure the detections and cannot steer them.
//!
//! A unit is one source IP in one time window on kalipso's own grid. It is positive when any of
//! its labelled flows is `Malicious`, and predicted when kalipso alerted that profile in that
//! window (or, for the second score, when it holds any evidence where the profile is the
//! attacker). Predicted units that no labelled flow covers count as false positives.

use crate::Analysis;
use anyhow::Context as _;
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// One labelled connection: when, from where, and whether its label says malicious.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelledFlow {
    /// `ts`.
    pub ts: f64,
    /// `id.orig_h`.
    pub src: IpAddr,
    /// The `label` column starts with `Malicious`.
    pub malicious: bool,
}

/// The labelled flows of some files, and what was read.
#[derive(Debug, Default)]
pub struct Labels {
    /// Every labelled connection read.
    pub flows: Vec<LabelledFlow>,
    /// The files that had labels.
    pub files: Vec<PathBuf>,
    /// Lines with a label that could not be read (bad time or address).
    pub skipped: u64,
}

/// Confusion counts of one prediction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Score {
    /// Predicted and positive.
    pub tp: u64,
    /// Predicted, not positive.
    pub fp: u64,
    /// Positive, not predicted.
    pub fn_: u64,
    /// Neither.
    pub tn: u64,
}

impl Score {
    /// TP / (TP + FP); `None` when nothing was predicted.
    pub fn precision(&self) -> Option<f64> {
        let p = self.tp + self.fp;
        (p > 0).then(|| self.tp as f64 / p as f64)
    }

    /// TP / (TP + FN); `None` when nothing is positive.
    pub fn recall(&self) -> Option<f64> {
        let p = self.tp + self.fn_;
        (p > 0).then(|| self.tp as f64 / p as f64)
    }

    /// The harmonic mean of precision and recall; `None` when either is undefined, 0 when both
    /// are 0.
    pub fn f1(&self) -> Option<f64> {
        let (p, r) = (self.precision()?, self.recall()?);
        Some(if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        })
    }
}

/// The scores of one analysis against its labels.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Evaluation {
    /// Units (source IP × window) that labelled flows cover.
    pub units: u64,
    /// Of them, the positive ones.
    pub positives: u64,
    /// Predicted = alerted.
    pub alerts: Score,
    /// Predicted = any evidence with the profile as the attacker.
    pub evidence: Score,
    /// Alerted units that no labelled flow covers (counted in `alerts.fp`).
    pub unlabelled_alerts: u64,
}

/// Reads the labels of every labelled conn log under `paths`, found as the analysis finds its
/// logs ([`crate::input::conn_logs`]: directories searched recursively, `.gz` read through
/// gzip, the `#path` header naming the log).
pub fn read_labels(paths: &[PathBuf]) -> anyhow::Result<Labels> {
    let mut labels = Labels::default();
    for f in crate::input::conn_logs(paths) {
        if read_file(&f, &mut labels)? {
            labels.files.push(f);
        }
    }
    Ok(labels)
}

/// Reads one conn log's labelled rows into `labels`; false when it has no `label` column.
fn read_file(path: &Path, labels: &mut Labels) -> anyhow::Result<bool> {
    let reader = crate::input::open_log(path).with_context(|| format!("'{}'", path.display()))?;
    let mut lines = std::io::BufReader::new(reader);
    let mut line = Vec::new();
    // column indices of ts, id.orig_h and label, once the header named them
    let mut cols: Option<(usize, usize, usize)> = None;
    let mut line_no = 0u64;
    loop {
        line.clear();
        let read = lines
            .read_until(b'\n', &mut line)
            .with_context(|| format!("'{}' line {}", path.display(), line_no + 1))?;
        if read == 0 {
            break;
        }
        line_no += 1;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if let Some(h) = text.strip_prefix('#') {
            if let Some(f) = h.strip_prefix("fields\t") {
                let names: Vec<&str> = f.split('\t').collect();
                let at = |name: &str| names.iter().position(|x| *x == name);
                cols = match (at("ts"), at("id.orig_h"), at("label")) {
                    (Some(t), Some(s), Some(l)) => Some((t, s, l)),
                    _ => None,
                };
            }
            continue;
        }
        // the header is over: a log without labels has nothing more to read
        let Some((ts_at, src_at, label_at)) = cols else {
            return Ok(false);
        };
        let fields: Vec<&str> = text.split('\t').collect();
        let parsed = (|| {
            Some(LabelledFlow {
                ts: fields.get(ts_at)?.parse().ok()?,
                src: fields.get(src_at)?.parse().ok()?,
                malicious: fields
                    .get(label_at)?
                    .trim()
                    .to_ascii_lowercase()
                    .starts_with("malicious"),
            })
        })();
        match parsed {
            Some(f) => labels.flows.push(f),
            None if text.trim().is_empty() => {}
            None => labels.skipped += 1,
        }
    }
    Ok(cols.is_some())
}

/// Scores an analysis against labelled flows (see the module's documentation for the units).
pub fn evaluate(analysis: &Analysis, flows: &[LabelledFlow]) -> Evaluation {
    let store = &analysis.store;
    let mut units: BTreeMap<(IpAddr, i64), bool> = BTreeMap::new();
    for f in flows {
        let unit = (f.src, store.window_number(f.src, f.ts));
        *units.entry(unit).or_default() |= f.malicious;
    }
    let alerted = analysis.detections.alerted();
    let with_evidence: BTreeSet<(IpAddr, i64)> = analysis
        .detections
        .evidence
        .iter()
        .filter(|e| e.profile_is_attacker())
        .map(|e| (e.profile, e.window))
        .collect();
    let confusion = |predicted: &BTreeSet<(IpAddr, i64)>| {
        let mut s = Score::default();
        for (unit, &positive) in &units {
            match (predicted.contains(unit), positive) {
                (true, true) => s.tp += 1,
                (true, false) => s.fp += 1,
                (false, true) => s.fn_ += 1,
                (false, false) => s.tn += 1,
            }
        }
        let outside = predicted.iter().filter(|u| !units.contains_key(u)).count();
        s.fp += outside as u64;
        (s, outside as u64)
    };
    let (alerts, unlabelled_alerts) = confusion(&alerted);
    let (evidence, _) = confusion(&with_evidence);
    Evaluation {
        units: units.len() as u64,
        positives: units.values().filter(|p| **p).count() as u64,
        alerts,
        evidence,
        unlabelled_alerts,
    }
}

/// The evaluation as text: one line per prediction.
pub fn text(e: &Evaluation) -> String {
    use std::fmt::Write as _;
    let ratio = |v: Option<f64>| v.map_or_else(|| "–".to_string(), |v| format!("{v:.3}"));
    let mut s = format!(
        "units (source IP × window): {}, positive: {}\n",
        e.units, e.positives
    );
    s.push_str("prediction      TP      FP      FN      TN  precision  recall     F1\n");
    // writing into a String cannot fail
    for (name, sc) in [("alerts", &e.alerts), ("any evidence", &e.evidence)] {
        let _ = writeln!(
            s,
            "{name:<12} {:>6}  {:>6}  {:>6}  {:>6}  {:>9}  {:>6}  {:>5}",
            sc.tp,
            sc.fp,
            sc.fn_,
            sc.tn,
            ratio(sc.precision()),
            ratio(sc.recall()),
            ratio(sc.f1())
        );
    }
    if e.unlabelled_alerts > 0 {
        let _ = writeln!(
            s,
            "({} alerted unit(s) have no labelled flow; counted as false positives)",
            e.unlabelled_alerts
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_the_usual_ratios() {
        let s = Score {
            tp: 8,
            fp: 2,
            fn_: 8,
            tn: 100,
        };
        assert_eq!(s.precision(), Some(0.8));
        assert_eq!(s.recall(), Some(0.5));
        let f1 = s.f1().unwrap_or_default();
        assert!((f1 - 2.0 * 0.8 * 0.5 / 1.3).abs() < 1e-12, "{f1}");
        assert_eq!(Score::default().precision(), None, "nothing predicted");
        let missed = Score {
            fn_: 3,
            ..Score::default()
        };
        assert_eq!((missed.recall(), missed.f1()), (Some(0.0), None));
    }

    #[test]
    fn labels_are_read_from_the_label_column_only() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let log = "#separator \\x09\n#path\tconn\n#fields\tts\tid.orig_h\tlabel\tdetailedlabel\n\
                   1.5\t10.0.0.1\tMalicious\tC&C\n2.5\t10.0.0.2\tBenign\t(empty)\n\
                   3.5\tnot-an-ip\tMalicious\t-\n4.5\t10.0.0.3\tBackground\tMalicious-looking\n";
        std::fs::write(dir.path().join("conn.log.labeled"), log).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join("dns.log.labeled"),
            "#path\tdns\n#fields\tts\tid.orig_h\tlabel\n1.0\t10.0.0.9\tMalicious\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let labels = read_labels(&[dir.path().to_path_buf()]).unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<(String, bool)> = labels
            .flows
            .iter()
            .map(|f| (f.src.to_string(), f.malicious))
            .collect();
        assert_eq!(
            got,
            [
                ("10.0.0.1".to_string(), true),
                ("10.0.0.2".to_string(), false),
                ("10.0.0.3".to_string(), false)
            ]
        );
        assert_eq!(labels.skipped, 1);
        assert_eq!(labels.files.len(), 1, "dns.log is not a conn log");
    }
}
