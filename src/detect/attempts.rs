//! Persistent unanswered connection attempts (kalipso's rule; Slips counts only rejected
//! ones, five at a time): a home host that keeps sending SYNs to one outside address and
//! port that no known service uses, and never gets an answer, for a long part of a window.
//! That is a bot calling a command-and-control server that is down or blocked (`NjRAT`'s
//! hundreds of attempts to one port an hour). A one-off burst of retries is not: the attempts
//! must spread over [`MIN_SPAN`].

use super::context::{Ctx, Finding, ignored, multicast};
use super::evidence::{EvidenceKind, FlowRef, Party, Payload};
use crate::profile::Window;
use crate::record::Proto;
use crate::store::ports;
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Unanswered attempts to one destination and port in one window that make the evidence.
pub(crate) const MIN_ATTEMPTS: usize = 30;
/// The least time between the first and the last of them, seconds.
const MIN_SPAN: f64 = 600.0;

/// The rule on one window of one profile.
pub(crate) fn run(cx: &mut Ctx<'_>, w: &Window) {
    // The window's tuples say whether any destination port got enough flows: most windows
    // need no pass over their flows (a cache miss per flow on a busy host).
    let possible = w.out_tuples.iter().any(|t| {
        t.proto == Proto::Tcp && t.flows as usize >= MIN_ATTEMPTS && !ports::known(t.port, t.proto)
    });
    if !possible || !cx.home.contains(cx.profile) {
        return;
    }
    let mut tries: HashMap<(IpAddr, u16), Vec<u32>> = HashMap::default();
    for &i in &w.out_flows {
        let c = &cx.store.conns[i as usize];
        let history = cx.sym(c.history);
        let unanswered = c.conn_state.unanswered_syn() && (history.syn_first || history.empty);
        if c.proto == Proto::Tcp
            && unanswered
            && !history.flipped
            && !cx.home.contains(c.resp_h)
            && !ignored(c.resp_h)
            && !multicast(c.resp_h)
            && !ports::known(c.resp_p, c.proto)
        {
            tries.entry((c.resp_h, c.resp_p)).or_default().push(i);
        }
    }
    // in destination order, so the evidence does not depend on the map's order
    let tries: BTreeMap<(IpAddr, u16), Vec<u32>> = tries.into_iter().collect();
    for ((dst, port), flows) in tries {
        if flows.len() < MIN_ATTEMPTS {
            continue;
        }
        // Zeek writes a connection when it ends, so the log is not in start order
        let times = flows.iter().map(|&i| cx.store.conns[i as usize].ts);
        let first = times.clone().fold(f64::INFINITY, f64::min);
        let last = times.fold(f64::NEG_INFINITY, f64::max);
        if last - first < MIN_SPAN {
            continue;
        }
        cx.add(Finding {
            kind: EvidenceKind::UnansweredAttempts,
            attacker: cx.me(),
            victim: Some(Party::Ip(dst)),
            level: None,
            confidence: (flows.len() as f64 / (2 * MIN_ATTEMPTS) as f64).min(1.0),
            payload: Payload::UnansweredAttempts {
                dst,
                port,
                attempts: flows.len() as u32,
                minutes: ((last - first) / 60.0) as u32,
            },
            ts: last,
            flows: flows.iter().map(|&i| FlowRef::Conn(i)).collect(),
        });
    }
}
