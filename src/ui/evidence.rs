//! The evidence box's model: a window's evidence grouped by kind, worst first, with a row
//! selection and groups that open to their members.
//!
//! Hundreds of `UnknownPort` lines say one thing, so repeats of a kind are one row
//! (`UnknownPort ×312 → 87 targets: 5888/TCP, 1177/TCP …`) that Enter opens. Groups that raised an
//! alert come first, then by threat level, then by size. It draws nothing.

use super::cursor;
use crate::detect::{Detections, Evidence, EvidenceKind, Payload, ThreatLevel};
use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;

/// The evidence of one kind in one window.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The kind.
    pub kind: EvidenceKind,
    /// The highest threat level of its members.
    pub level: ThreatLevel,
    /// Indices into [`Detections::evidence`], in time order.
    pub members: Vec<usize>,
    /// Members that are part of an alert.
    pub in_alert: usize,
    /// Distinct targets (victims, or what the payload names), in first-seen order.
    pub targets: Vec<String>,
}

/// A visible row of the box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvRow {
    /// A group (index into the groups); a group of one is shown as its member.
    Group(usize),
    /// A member of an open group: (group, index into `Detections::evidence`).
    Member(usize, usize),
}

/// The grouped evidence of the selected window.
#[derive(Debug, Default)]
pub struct EvidenceList {
    /// Groups, in display order.
    pub groups: Vec<Group>,
    /// Indices of evidence that is part of an alert.
    pub in_alert: HashSet<usize>,
    open: BTreeSet<usize>,
    rows: Vec<EvRow>,
    /// The selected row.
    pub selected: usize,
}

/// What a piece of evidence is about, short: a port for port rules, else the victim.
pub fn target(e: &Evidence) -> String {
    match &e.payload {
        Payload::UnknownPort { port, proto, .. } | Payload::HorizontalScan { port, proto, .. } => {
            format!("{port}/{}", proto.upper())
        }
        Payload::Beacon {
            dst, port, proto, ..
        } => format!("{dst}:{port}/{}", proto.upper()),
        _ => e
            .victim()
            .map_or_else(|| e.attacker().to_string(), |v| v.to_string()),
    }
}

impl EvidenceList {
    /// The evidence of window `n` of profile `ip`, grouped.
    pub fn new(detections: &Detections, ip: IpAddr, n: i64) -> EvidenceList {
        let in_alert = detections.in_alert(ip, Some(n));
        let mut groups: Vec<Group> = Vec::new();
        // the targets seen by each group, beside it until the groups are sorted
        let mut seen: Vec<HashSet<String>> = Vec::new();
        let range = detections.window_range(ip, n);
        for (i, e) in range.clone().zip(detections.evidence.slice(range)) {
            let at = groups
                .iter()
                .position(|g| g.kind == e.kind)
                .unwrap_or_else(|| {
                    groups.push(Group {
                        kind: e.kind,
                        level: e.threat_level,
                        members: Vec::new(),
                        in_alert: 0,
                        targets: Vec::new(),
                    });
                    seen.push(HashSet::new());
                    groups.len() - 1
                });
            let group = &mut groups[at];
            group.level = group.level.max(e.threat_level);
            group.members.push(i);
            group.in_alert += usize::from(in_alert.contains(&i));
            // the count stops mattering beyond a thousand ("1000+"): stop looking then
            if group.targets.len() < 1000 {
                let what = target(e);
                if seen[at].insert(what.clone()) {
                    group.targets.push(what);
                }
            }
        }
        groups.sort_by(|a, b| {
            (b.in_alert > 0)
                .cmp(&(a.in_alert > 0))
                .then(b.level.cmp(&a.level))
                .then(b.members.len().cmp(&a.members.len()))
                .then(a.kind.name().cmp(b.kind.name()))
        });
        let mut list = EvidenceList {
            groups,
            in_alert,
            ..EvidenceList::default()
        };
        list.rebuild();
        list
    }

    fn rebuild(&mut self) {
        self.rows.clear();
        for (g, group) in self.groups.iter().enumerate() {
            self.rows.push(EvRow::Group(g));
            if group.members.len() > 1 && self.open.contains(&g) {
                self.rows
                    .extend(group.members.iter().map(|&i| EvRow::Member(g, i)));
            }
        }
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
    }

    /// The visible rows.
    pub fn rows(&self) -> &[EvRow] {
        &self.rows
    }

    /// Moves the selection by `delta` rows, clamped to the rows.
    pub fn step(&mut self, delta: isize) {
        self.selected = cursor::step(self.selected, delta, self.rows.len());
    }

    /// Jumps to the first or last row.
    pub fn jump(&mut self, end: bool) {
        self.selected = cursor::jump(end, self.rows.len());
    }

    /// Opens or closes the selected group. Returns the evidence the row stands for when it is
    /// a single piece of evidence: a group of one, or a member of an open group.
    pub fn enter(&mut self) -> Option<usize> {
        match *self.rows.get(self.selected)? {
            EvRow::Group(g) => {
                let group = self.groups.get(g)?;
                if group.members.len() == 1 {
                    return group.members.first().copied();
                }
                if !self.open.remove(&g) {
                    self.open.insert(g);
                }
                self.rebuild();
                None
            }
            EvRow::Member(_, i) => Some(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{FlowRef, Party};
    use crate::record::Proto;

    fn ev(kind: EvidenceKind, level: ThreatLevel, port: u16, ts: f64) -> Evidence {
        let ip = IpAddr::from([10, 0, 0, 1]);
        let dst = IpAddr::from([192, 0, 2, port as u8]);
        Evidence::from(crate::detect::EvidenceParts {
            kind,
            profile: ip,
            window: 1,
            attacker: Party::Ip(ip),
            victim: Some(Party::Ip(dst)),
            threat_level: level,
            confidence: 1.0,
            payload: Payload::UnknownPort {
                port,
                proto: Proto::Tcp,
                dst,
            },
            ts,
            flows: FlowRef::Conn(0).into(),
        })
    }

    #[test]
    fn repeats_group_by_kind_with_alerts_and_severity_first() {
        let d = Detections {
            evidence: vec![
                ev(
                    EvidenceKind::ConnectionWithoutDns,
                    ThreatLevel::Info,
                    1,
                    1.0,
                ),
                ev(EvidenceKind::UnknownPort, ThreatLevel::Medium, 5888, 2.0),
                ev(EvidenceKind::UnknownPort, ThreatLevel::Medium, 1177, 3.0),
                ev(EvidenceKind::UnknownPort, ThreatLevel::Medium, 5888, 4.0),
                ev(EvidenceKind::Port0Connection, ThreatLevel::High, 0, 5.0),
                ev(EvidenceKind::LongConnection, ThreatLevel::Low, 9, 6.0),
            ]
            .into(),
            alerts: vec![crate::detect::Alert {
                profile: IpAddr::from([10, 0, 0, 1]),
                window: 1,
                ts: 6.0,
                score: 6.0,
                evidence: vec![5],
            }],
            ..Detections::default()
        };

        let mut l = EvidenceList::new(&d, IpAddr::from([10, 0, 0, 1]), 1);
        let kinds: Vec<EvidenceKind> = l.groups.iter().map(|g| g.kind).collect();
        assert_eq!(
            kinds,
            [
                EvidenceKind::LongConnection,  // raised the alert
                EvidenceKind::Port0Connection, // high
                EvidenceKind::UnknownPort,     // medium
                EvidenceKind::ConnectionWithoutDns
            ]
        );
        let unknown = &l.groups[2];
        assert_eq!(unknown.members, [1, 2, 3]);
        assert_eq!(unknown.targets, ["5888/TCP", "1177/TCP"]);
        assert_eq!(l.rows().len(), 4);
        // a single piece of evidence is its own row; a group opens to its members
        assert_eq!(l.enter(), Some(5));
        l.step(2);
        assert_eq!(l.enter(), None);
        assert_eq!(l.rows().len(), 7);
        assert_eq!(l.rows()[3], EvRow::Member(2, 1));
        l.step(1);
        assert_eq!(l.enter(), Some(1), "Enter on a member gives its evidence");
        l.jump(true);
        l.step(5);
        assert_eq!(l.selected, 6, "the selection stops at the last row");
        l.jump(false);
        l.step(-1);
        assert_eq!(l.selected, 0);
    }
}
