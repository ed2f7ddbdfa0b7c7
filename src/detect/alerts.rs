//! Alert accounting (Slips v1.0.0): per window, in time order, the attacker-side evidence not
//! yet part of an alert is summed; reaching the threshold raises an alert and starts a new sum,
//! so a window can raise several.
//!
//! It does not decide what is evidence; the rules do.

use super::evidence::Evidence;
use std::net::IpAddr;

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
    /// Indices into [`super::Detections::evidence`].
    pub evidence: Vec<usize>,
}

impl Alert {
    /// Names the evidence by its place in a list where the alert's own list starts at `base`
    /// (alerts are found window by window, on a window's evidence alone).
    pub(crate) fn shift(&mut self, base: usize) {
        self.evidence.iter_mut().for_each(|i| *i += base);
    }
}

/// The alerts of `evidence` (sorted by profile, window and time) at `threshold` per window.
/// With `attack_alerts`, evidence of a kind that [alerts alone](super::EvidenceKind::alerts_alone)
/// closes an alert at once, with the evidence summed before it.
pub fn alerts(evidence: &[Evidence], threshold: f64, attack_alerts: bool) -> Vec<Alert> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < evidence.len() {
        let (ip, n) = (evidence[i].profile, evidence[i].window);
        let mut acc = 0.0;
        let mut ids = Vec::new();
        while i < evidence.len() && evidence[i].profile == ip && evidence[i].window == n {
            let e = &evidence[i];
            if e.profile_is_attacker() && e.weight() > 0.0 {
                acc += e.weight();
                ids.push(i);
                if acc >= threshold - 1e-9 || (attack_alerts && e.kind.alerts_alone()) {
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

#[cfg(test)]
mod tests {
    use super::super::evidence::{EvidenceKind, Party, Payload, ThreatLevel};
    use super::*;

    fn ev(ip: [u8; 4], window: i64, ts: f64, level: ThreatLevel, conf: f64, own: bool) -> Evidence {
        Evidence::from(crate::detect::EvidenceParts {
            kind: EvidenceKind::UnknownPort,
            profile: IpAddr::from(ip),
            window,
            // evidence where the profile is the victim names another attacker
            attacker: if own {
                Party::Ip(IpAddr::from(ip))
            } else {
                Party::name("192.0.2.99")
            },
            victim: None,
            threat_level: level,
            confidence: conf,
            payload: Payload::UnsolicitedArp,
            ts,
            flows: crate::detect::Flows::none(),
        })
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
        let al = alerts(&e, 2.0, true);
        assert_eq!(al.len(), 2, "{al:?}");
        assert_eq!(al[0].evidence, vec![0, 2, 3], "0.8 + 0.8 + 0.4 = 2.0");
        assert_eq!(
            al[1].evidence,
            vec![4, 5, 6],
            "a second alert from new evidence"
        );
        assert!(al.iter().all(|a| a.window == 1));
        assert!(alerts(&e, 100.0, true).is_empty());
    }

    #[test]
    fn alerts_found_window_by_window_are_those_of_the_whole_list() {
        // detect::run sums each window's alerts on its own and shifts their indices: that is
        // only right while no sum carries over from one window (or profile) to the next
        let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let e = vec![
            ev(a, 1, 1.0, ThreatLevel::High, 1.0, true),
            ev(a, 1, 2.0, ThreatLevel::High, 1.0, true),
            ev(a, 2, 3.0, ThreatLevel::High, 1.0, true),
            ev(a, 2, 4.0, ThreatLevel::High, 1.0, true),
            ev(a, 2, 5.0, ThreatLevel::High, 1.0, true),
            ev(b, 2, 6.0, ThreatLevel::High, 1.0, true),
            ev(b, 2, 7.0, ThreatLevel::High, 1.0, true),
            ev(b, 3, 8.0, ThreatLevel::High, 1.0, true),
        ];
        let whole = alerts(&e, 1.5, false);
        let mut by_window = Vec::new();
        let mut start = 0;
        for window in e.chunk_by(|x, y| (x.profile, x.window) == (y.profile, y.window)) {
            for mut al in alerts(window, 1.5, false) {
                al.shift(start);
                by_window.push(al);
            }
            start += window.len();
        }
        assert_eq!(by_window, whole);
        assert_eq!(whole.len(), 3, "{whole:?}");
    }
}
