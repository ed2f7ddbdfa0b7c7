//! Triage: a threat score for every profile and window, so the worst suspects come first.
//!
//! A window's score is the sum of threat level × confidence of the evidence in which the
//! profile is the attacker, plus the number of alerts it raised; a profile's score is the sum
//! over its windows. Evidence against the profile (it is the victim) does not count, as for
//! alerts. It reads the evidence and alerts and decides nothing else.

use super::alerts::Alert;
use super::evidence::{Evidence, EvidenceKind};
use super::pieces::Pieces;
use rayon::prelude::*;
use serde::Serialize;
use std::cmp::Ordering;
use std::net::IpAddr;

/// One profile with evidence, as the triage lists show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suspect {
    /// The profile's IP.
    pub ip: IpAddr,
    /// Σ threat level × confidence of its attacker evidence, plus its alert count.
    pub score: f64,
    /// Alerts raised.
    pub alerts: usize,
    /// Windows with evidence.
    pub windows: usize,
    /// The window with the highest score (the earliest of equals).
    pub worst_window: i64,
    /// That window's score.
    pub worst_window_score: f64,
    /// Evidence by kind (all of the profile's evidence, as attacker or victim).
    pub evidence: KindCounts,
    /// Alerts raised by an inbound probe (an outside host trying home hosts): the victims'
    /// aggregate lists these hosts, so triage puts them after the other alerted profiles.
    #[serde(skip)]
    pub probe_alerts: usize,
}

impl Suspect {
    /// The main evidence kinds, most frequent first, e.g. `UnknownPort ×312, Beacon ×2`.
    pub fn kinds_text(&self, max: usize) -> String {
        let mut kinds: Vec<(&str, usize)> = self.evidence.iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut text: Vec<String> = kinds
            .iter()
            .take(max)
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect();
        if kinds.len() > max {
            text.push(format!("+{} more", kinds.len() - max));
        }
        text.join(", ")
    }
}

/// How many pieces of evidence of each kind, by kind name (a serialised map, as a `BTreeMap`
/// would be). A sorted vector: a profile has a few kinds, and a tree's first node cost about
/// 300 bytes for each of tens of thousands of suspects.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KindCounts(Vec<(&'static str, usize)>);

impl KindCounts {
    /// Counts one more of `kind`.
    pub fn add(&mut self, kind: &'static str) {
        self.insert_with(kind, |n| *n += 1);
    }

    /// Sets the count of `kind`.
    pub fn insert(&mut self, kind: &'static str, count: usize) {
        self.insert_with(kind, |n| *n = count);
    }

    fn insert_with(&mut self, kind: &'static str, change: impl FnOnce(&mut usize)) {
        match self.0.binary_search_by(|(k, _)| (*k).cmp(kind)) {
            Ok(at) => change(&mut self.0[at].1),
            Err(at) => {
                let mut n = 0;
                change(&mut n);
                self.0.insert(at, (kind, n));
            }
        }
    }

    /// The count of `kind`.
    pub fn get(&self, kind: &str) -> Option<usize> {
        let at = self.0.binary_search_by(|(k, _)| (*k).cmp(kind)).ok()?;
        Some(self.0[at].1)
    }

    /// (kind, count), by kind name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, usize)> + '_ {
        self.0.iter().copied()
    }

    /// How many kinds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for KindCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, n)| (k, n)))
    }
}

/// One profile's score, summed window by window in the windows' order.
///
/// The detections keep one as each core runs its windows, where a window's evidence and alerts
/// are at hand ([`Ranking`]); [`rank`] sums the same from the kept evidence afterwards.
#[derive(Debug, Clone)]
pub(crate) struct Tally {
    suspect: Suspect,
    /// Evidence by kind, counted here and named once at the end.
    kinds: [usize; EvidenceKind::ALL.len()],
}

impl Tally {
    fn new(ip: IpAddr, first_window: i64) -> Tally {
        Tally {
            suspect: Suspect {
                ip,
                score: 0.0,
                alerts: 0,
                windows: 0,
                worst_window: first_window,
                worst_window_score: f64::NEG_INFINITY,
                evidence: KindCounts::default(),
                probe_alerts: 0,
            },
            kinds: [0; EvidenceKind::ALL.len()],
        }
    }

    /// Adds a window with evidence: its evidence (in its order), how many alerts it raised,
    /// and how many of those an inbound probe closed.
    fn window(&mut self, evidence: &[Evidence], raised: usize, closed_by_probe: usize) {
        let s = &mut self.suspect;
        // summed in the evidence's fixed order, so the score is the same on any thread count
        let weight: f64 = evidence
            .iter()
            .filter(|e| e.profile_is_attacker())
            .map(Evidence::weight)
            .sum();
        let score = weight + raised as f64;
        if score > s.worst_window_score {
            s.worst_window = evidence[0].window;
            s.worst_window_score = score;
        }
        s.score += score;
        s.alerts += raised;
        s.probe_alerts += closed_by_probe;
        s.windows += 1;
        for e in evidence {
            self.kinds[e.kind as usize] += 1;
        }
    }

    fn finish(self) -> Suspect {
        let mut s = self.suspect;
        for (kind, &n) in EvidenceKind::ALL.iter().zip(&self.kinds) {
            if n > 0 {
                s.evidence.insert(kind.name(), n);
            }
        }
        s.score = round3(s.score);
        s.worst_window_score = round3(s.worst_window_score);
        s
    }
}

/// The suspects of a run of consecutive windows (one core's part of the detections), tallied
/// as its windows are examined: the ranking then needs no second pass over all the evidence.
/// The first and last profiles may go on in the parts before and after; [`Joined::finish`]
/// sums those again from the evidence.
#[derive(Debug, Default)]
pub(crate) struct Ranking {
    done: Vec<Suspect>,
    open: Option<Tally>,
}

impl Ranking {
    /// Adds a window of `ip` with its evidence (in its order; a window without any is left
    /// out), and the alerts it raised (naming that evidence by place).
    pub fn window(&mut self, ip: IpAddr, evidence: &[Evidence], raised: &[Alert]) {
        let Some(first) = evidence.first() else {
            return;
        };
        if self.open.as_ref().is_some_and(|t| t.suspect.ip != ip) {
            self.close();
        }
        let closed = raised
            .iter()
            .filter(|a| closed_by_probe(a, |i| evidence.get(i)))
            .count();
        self.open
            .get_or_insert_with(|| Tally::new(ip, first.window))
            .window(evidence, raised.len(), closed);
    }

    fn close(&mut self) {
        if let Some(t) = self.open.take() {
            self.done.push(t.finish());
        }
    }
}

/// The suspects of the parts kept so far, in the parts' order, and the profiles two parts
/// share.
#[derive(Debug, Default)]
pub(crate) struct Joined {
    suspects: Vec<Suspect>,
    shared: Vec<IpAddr>,
}

impl Joined {
    /// Room for `profiles` suspects, reserved once: a vector grown by doubling is copied at
    /// each step, and the copies' freed pages were still resident at the run's peak.
    pub fn with_room(profiles: usize) -> Joined {
        Joined {
            suspects: Vec::with_capacity(profiles),
            shared: Vec::new(),
        }
    }

    /// Adds the suspects of the part after those added so far. (Moved in part by part while
    /// the detections run, not gathered at the end: the parts' vectors and a joined copy would
    /// meet at the run's peak of memory.)
    pub fn add(&mut self, mut part: Ranking) {
        part.close();
        let mut suspects = part.done.into_iter().peekable();
        // a profile that goes on from the part before (or from several before) is summed
        // again at the end: neither share is kept
        if let Some(first) = suspects.peek() {
            if self.shared.last() == Some(&first.ip) {
                suspects.next();
            } else if self.suspects.last().is_some_and(|last| last.ip == first.ip) {
                self.shared.push(first.ip);
                self.suspects.pop();
                suspects.next();
            }
        }
        self.suspects.extend(suspects);
    }

    /// The whole ranking: a profile whose windows two parts share is summed again from
    /// `evidence` and `alerts` (the detections' results, which hold every part's); sorted by
    /// score.
    pub fn finish(self, evidence: &Pieces<Evidence>, alerts: &[Alert]) -> Vec<Suspect> {
        let Joined {
            mut suspects,
            shared,
        } = self;
        for ip in shared {
            suspects.push(suspect(&runs_of(evidence, ip), evidence, alerts));
        }
        suspects.par_sort_by(by_score);
        suspects
    }
}

/// Whether an inbound probe closed alert `a` (its last piece of evidence, found by `at`): the
/// triage puts the profiles alerted only so after the others.
fn closed_by_probe<'e>(a: &Alert, at: impl Fn(usize) -> Option<&'e Evidence>) -> bool {
    let closed_by = a.evidence.last().and_then(|&i| at(i));
    closed_by.is_some_and(|e| e.kind == EvidenceKind::InboundProbe)
}

/// The runs of one profile's evidence, piece by piece.
fn runs_of(evidence: &Pieces<Evidence>, ip: IpAddr) -> Vec<&[Evidence]> {
    let mut runs = Vec::new();
    for piece in evidence.pieces_from(evidence.partition_point(|e| e.profile < ip)) {
        let end = piece.partition_point(|e| e.profile <= ip);
        if end > 0 {
            runs.push(&piece[..end]);
        }
        if end < piece.len() {
            break;
        }
    }
    runs
}

/// The suspect of one profile, from the runs of its evidence (`evidence`'s pieces may cut it)
/// and the alerts of every profile.
fn suspect(group: &[&[Evidence]], evidence: &Pieces<Evidence>, alerts: &[Alert]) -> Suspect {
    let (ip, first_window) = (group[0][0].profile, group[0][0].window);
    // the profile's alerts, by window as its evidence is: walked beside it
    let mine = &alerts[alerts.partition_point(|a| a.profile < ip)..];
    let mine = &mine[..mine.partition_point(|a| a.profile == ip)];
    let mut mine = mine.iter().peekable();
    let mut tally = Tally::new(ip, first_window);
    let windows = group
        .iter()
        .flat_map(|piece| piece.chunk_by(|a, b| a.window == b.window));
    for window in windows {
        let n = window[0].window;
        let (mut raised, mut closed) = (0, 0);
        while let Some(a) = mine.next_if(|a| a.window <= n) {
            if a.window == n {
                raised += 1;
                closed += usize::from(closed_by_probe(a, |i| evidence.get(i)));
            }
        }
        tally.window(window, raised, closed);
    }
    tally.finish()
}

/// Scores every profile that has evidence, sorted by score (highest first; then more alerts,
/// then IP). `evidence` and `alerts` are sorted by profile and window, as
/// [`super::Detections`] keeps them. (The detections tally the same as they run, window by
/// window.)
pub fn rank(evidence: &Pieces<Evidence>, alerts: &[Alert]) -> Vec<Suspect> {
    // one profile's evidence at a time, the profiles on every core (each sum is taken in the
    // evidence's fixed order, so the scores do not depend on the thread count); a profile's
    // evidence may run on from one piece into the next, a window's never does
    // (the profiles are cut first so the suspects are collected into one exactly sized
    // vector)
    let mut profiles: Vec<Vec<&[Evidence]>> = Vec::new();
    let runs = evidence
        .pieces()
        .flat_map(|piece| piece.chunk_by(|a, b| a.profile == b.profile));
    for run in runs {
        match profiles.last_mut() {
            Some(group) if group[0][0].profile == run[0].profile => group.push(run),
            _ => profiles.push(vec![run]),
        }
    }
    let mut out: Vec<Suspect> = profiles
        .par_iter()
        .map(|g| suspect(g, evidence, alerts))
        .collect();
    out.par_sort_by(by_score);
    out
}

/// A beacon that became evidence.
#[derive(Debug, Clone, Copy)]
pub struct BeaconHit<'a> {
    /// The evidence (profile, window, time).
    pub evidence: &'a Evidence,
    /// Slips' tuple key, `<ip>-<port>-<proto>`.
    pub tuple: (IpAddr, u16, crate::record::Proto),
    /// Its score, period and flows.
    pub beacon: &'a super::beacon::Beacon,
}

impl BeaconHit<'_> {
    /// Slips' tuple key, `<ip>-<port>-<proto>`.
    pub fn key(&self) -> String {
        let (ip, port, proto) = self.tuple;
        format!("{ip}-{port}-{}", proto.as_str())
    }
}

/// The beacons reported as evidence, strongest first: by score as shown (three decimals), then
/// profile, window and tuple key. The report and the UI's overview list them in this order.
pub fn beacons(evidence: &Pieces<Evidence>) -> Vec<BeaconHit<'_>> {
    let mut hits: Vec<BeaconHit<'_>> = evidence
        .iter()
        .filter_map(|e| match &e.payload {
            super::Payload::Beacon {
                dst,
                port,
                proto,
                beacon,
            } => Some(BeaconHit {
                evidence: e,
                tuple: (*dst, *port, *proto),
                beacon,
            }),
            _ => None,
        })
        .collect();
    // scores are in [0, 1]: the bits of a non-negative float order as the float does
    hits.sort_by_cached_key(|h| {
        (
            std::cmp::Reverse(round3(h.beacon.score).to_bits()),
            h.evidence.profile,
            h.evidence.window,
            h.key(),
        )
    });
    hits
}

/// Three decimals: enough to rank, and stable in text and JSON.
fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Highest score first, then more alerts, then IP.
fn by_score(a: &Suspect, b: &Suspect) -> Ordering {
    b.score
        .total_cmp(&a.score)
        .then(b.alerts.cmp(&a.alerts))
        .then(a.ip.cmp(&b.ip))
}

/// The triage order of the tree and the report: profiles alerted for more than probing home
/// hosts from outside first, then by score (an Internet scanner with one probe scores low).
pub fn triage_order(ranking: &[Suspect]) -> Vec<&Suspect> {
    let mut v: Vec<&Suspect> = ranking.iter().collect();
    let tier = |s: &Suspect| triage_tier(s.alerts, s.probe_alerts);
    v.sort_by(|a, b| tier(a).cmp(&tier(b)).then(by_score(a, b)));
    v
}

/// A profile's tier in the triage order, lower first: 0 when it raised an alert that was not
/// only for probing home hosts from outside, else 1.
pub fn triage_tier(alerts: usize, probe_alerts: usize) -> u8 {
    u8::from(alerts <= probe_alerts)
}

#[cfg(test)]
mod tests {
    use super::super::evidence::{EvidenceKind, Party, Payload, ThreatLevel};
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn kind_counts_read_and_serialise_as_a_sorted_map() {
        let kinds = [
            "UnknownPort",
            "Beacon",
            "Zeta",
            "Beacon",
            "ConnectionWithoutDns",
        ];
        let mut counts = KindCounts::default();
        let mut tree: BTreeMap<&'static str, usize> = BTreeMap::new();
        for k in kinds.iter().cycle().take(23) {
            counts.add(k);
            *tree.entry(k).or_default() += 1;
        }
        counts.insert("Alpha", 7);
        tree.insert("Alpha", 7);
        assert_eq!(counts.len(), tree.len());
        assert!(counts.iter().eq(tree.iter().map(|(k, n)| (*k, *n))));
        assert_eq!(counts.get("Beacon"), tree.get("Beacon").copied());
        assert_eq!(counts.get("Missing"), None);
        assert_eq!(
            serde_json::to_string(&counts).unwrap(),
            serde_json::to_string(&tree).unwrap()
        );
    }

    fn ev(ip: [u8; 4], window: i64, level: ThreatLevel, own: bool) -> Evidence {
        let ip = IpAddr::from(ip);
        Evidence::from(crate::detect::EvidenceParts {
            kind: EvidenceKind::UnknownPort,
            profile: ip,
            window,
            // evidence where the profile is the victim names another attacker
            attacker: if own {
                Party::Ip(ip)
            } else {
                Party::name("192.0.2.99")
            },
            victim: None,
            threat_level: level,
            confidence: 1.0,
            payload: Payload::UnknownPort {
                port: 1,
                proto: crate::record::Proto::Tcp,
                dst: ip,
            },
            ts: 0.0,
            flows: crate::detect::Flows::none(),
        })
    }

    fn alert(ip: [u8; 4], window: i64) -> Alert {
        Alert {
            profile: IpAddr::from(ip),
            window,
            ts: 0.0,
            score: 6.0,
            evidence: Vec::new(),
        }
    }

    #[test]
    fn tallies_of_parts_cut_anywhere_make_the_ranking_summed_afterwards() {
        use ThreatLevel::{High, Info, Low, Medium};
        // profiles with several windows of evidence of several levels, as attacker and as
        // victim, and an alert in some windows (in the window's evidence: its last piece)
        let levels = [High, Low, Info, Medium];
        let mut windows: Vec<(Vec<Evidence>, bool)> = Vec::new();
        for p in 1..=5u8 {
            for w in 1..=4i64 {
                let n = (usize::from(p) + w as usize) % 4;
                let mut window: Vec<Evidence> = (0..n)
                    .map(|k| ev([10, 0, 0, p], w, levels[(k + w as usize) % 4], k != 1))
                    .collect();
                // some windows end with an inbound probe (an alert it closes counts apart)
                if let Some(last) = window.last_mut().filter(|_| p % 2 == 1) {
                    last.kind = EvidenceKind::InboundProbe;
                }
                if !window.is_empty() {
                    windows.push((window, (usize::from(p) * 3 + w as usize) % 5 == 0));
                }
            }
        }
        let mut evidence = Vec::new();
        let mut alerts = Vec::new();
        for (window, alerted) in &windows {
            if *alerted {
                alerts.push(Alert {
                    profile: window[0].profile,
                    window: window[0].window,
                    evidence: vec![evidence.len() + window.len() - 1],
                    ..alert([0, 0, 0, 0], 0)
                });
            }
            evidence.extend(window.iter().cloned());
        }
        let evidence: Pieces<Evidence> = evidence.into();
        let summed = rank(&evidence, &alerts);
        assert_eq!(summed.len(), 5);
        assert!(summed.iter().any(|s| s.probe_alerts > 0));
        assert!(summed.iter().any(|s| s.alerts > s.probe_alerts));
        // the windows cut into parts at every possible place, two cuts at a time
        for first in 0..=windows.len() {
            for second in first..=windows.len() {
                let mut joined = Joined::with_room(5);
                for part in [
                    &windows[..first],
                    &windows[first..second],
                    &windows[second..],
                ] {
                    let mut r = Ranking::default();
                    for (window, alerted) in part {
                        // the alert names the window's last piece by its place in the window
                        let raised: Vec<Alert> = alerted
                            .then(|| Alert {
                                evidence: vec![window.len() - 1],
                                ..alert([0, 0, 0, 0], 0)
                            })
                            .into_iter()
                            .collect();
                        r.window(window[0].profile, window, &raised);
                    }
                    joined.add(r);
                }
                assert_eq!(
                    joined.finish(&evidence, &alerts),
                    summed,
                    "{first} {second}"
                );
            }
        }
    }

    #[test]
    fn scores_sum_attacker_evidence_and_alerts_and_find_the_worst_window() {
        let a = [10, 0, 0, 1];
        let b = [10, 0, 0, 2];
        // profile a's evidence runs on from one piece into the next, as the cores may write it
        let mut evidence = Pieces::from(vec![
            ev(a, 1, ThreatLevel::Medium, true),
            ev(a, 2, ThreatLevel::High, true),
            ev(a, 2, ThreatLevel::High, true),
        ]);
        evidence.push(vec![
            // victim-side evidence is counted by kind but not scored
            ev(a, 3, ThreatLevel::Critical, false),
            ev(b, 1, ThreatLevel::Low, true),
        ]);
        let r = rank(&evidence, &[alert(a, 2)]);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].ip, IpAddr::from(a));
        let lm = ThreatLevel::Medium.value();
        let lh = ThreatLevel::High.value();
        assert!((r[0].score - round3(lm + 2.0 * lh + 1.0)).abs() < 1e-9);
        assert_eq!(r[0].alerts, 1);
        assert_eq!(r[0].windows, 3);
        assert_eq!(r[0].worst_window, 2);
        assert_eq!(r[0].evidence.get("UnknownPort"), Some(4));
        assert_eq!(r[1].ip, IpAddr::from(b));
        assert_eq!(r[1].alerts, 0);
    }

    #[test]
    fn the_triage_order_puts_alerted_profiles_first() {
        let quiet = [10, 0, 0, 1];
        let alerted = [10, 0, 0, 2];
        let mut evidence: Vec<Evidence> = (1..=12)
            .map(|w| ev(quiet, w, ThreatLevel::High, true))
            .collect();
        evidence.push(ev(alerted, 1, ThreatLevel::Low, true));
        let r = rank(&evidence.into(), &[alert(alerted, 1)]);
        // by score the busy unalerted profile comes first
        assert_eq!(r[0].ip, IpAddr::from(quiet));
        let t = triage_order(&r);
        assert_eq!(t[0].ip, IpAddr::from(alerted));
        assert_eq!(t[1].ip, IpAddr::from(quiet));
    }

    #[test]
    fn kinds_are_listed_most_frequent_first() {
        let one = Pieces::from(vec![ev([10, 0, 0, 1], 1, ThreatLevel::Low, true)]);
        let mut s = rank(&one, &[]).remove(0);
        s.evidence.insert("Beacon", 2);
        s.evidence.insert("Zeta", 1);
        assert_eq!(s.kinds_text(2), "Beacon ×2, UnknownPort ×1, +1 more");
    }
}
