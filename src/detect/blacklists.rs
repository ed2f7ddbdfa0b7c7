//! Threat intelligence: destinations, the profile itself, and queried domains that the loaded
//! feeds ([`super::ti`]) list. Each hit is also kept for the IP box. JA3 fingerprints are
//! checked with the other TLS rules ([`super::tls`]).
//!
//! Loading the feeds is not done here.

use super::context::{Ctx, Finding};
use super::evidence::{EvidenceKind, FlowRef, Party, Payload};
use crate::profile::Window;
use crate::record::ConnState;
use rustc_hash::FxHashSet as HashSet;
use std::net::IpAddr;

pub(crate) fn run(cx: &mut Ctx<'_>, w: &Window) {
    let ti = &cx.cfg.ti;
    if ti.is_empty() {
        return;
    }
    // destinations, once each per window (OTH flows are not connections)
    let mut seen: HashSet<IpAddr> = HashSet::default();
    for &i in &w.out_flows {
        let c = &cx.store.conns[i as usize];
        if c.conn_state == ConnState::OTH || !seen.insert(c.resp_h) {
            continue;
        }
        if let Some(hit) = ti.ip(c.resp_h) {
            cx.ti_hits
                .push((c.resp_h.to_string(), hit.description.clone()));
            cx.add(Finding {
                kind: EvidenceKind::ThreatIntelligenceBlacklistIp,
                attacker: Party::Ip(c.resp_h),
                victim: Some(cx.me()),
                level: Some(hit.level),
                confidence: 1.0,
                payload: Payload::BlacklistedDestination {
                    dst: c.resp_h,
                    feed: Box::new([hit.description.as_str().into(), hit.source.as_str().into()]),
                },
                ts: c.ts,
                flows: FlowRef::Conn(i).into(),
            });
        }
    }
    // the profile itself on a blacklist: every window it is active in
    if let Some(hit) = ti.ip(cx.profile) {
        if let Some(&i) = w.out_flows.first().or(w.in_flows.first()) {
            let c = &cx.store.conns[i as usize];
            cx.ti_hits
                .push((cx.profile.to_string(), hit.description.clone()));
            cx.add(Finding {
                kind: EvidenceKind::ThreatIntelligenceBlacklistIp,
                attacker: cx.me(),
                victim: None,
                level: Some(hit.level),
                confidence: 1.0,
                payload: Payload::BlacklistedSource {
                    description: hit.description.clone().into(),
                    source: hit.source.clone().into(),
                },
                ts: c.ts,
                flows: FlowRef::Conn(i).into(),
            });
        }
    }
    // queried domains, once each per window; a listed parent domain gives less confidence
    let mut seen: HashSet<String> = HashSet::default();
    for &i in &w.dns {
        let d = &cx.store.dns[i as usize];
        let q = d.query.to_ascii_lowercase();
        if q.is_empty() || seen.contains(&q) {
            continue;
        }
        seen.insert(q.clone());
        if let Some((hit, parent)) = ti.domain(&q) {
            cx.ti_hits.push((q.clone(), hit.description.clone()));
            cx.add(Finding {
                kind: EvidenceKind::ThreatIntelligenceBlacklistDomain,
                attacker: Party::name(&q),
                victim: Some(cx.me()),
                level: Some(hit.level),
                confidence: if parent { 0.7 } else { 1.0 },
                payload: Payload::BlacklistedDomain {
                    feed: Box::new([
                        q.into(),
                        hit.description.as_str().into(),
                        hit.source.as_str().into(),
                    ]),
                },
                ts: d.id.ts,
                flows: FlowRef::Dns(i).into(),
            });
        }
    }
}
