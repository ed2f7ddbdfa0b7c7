//! Large uploads: one flow that sent 100 MB or more, and a window whose flows to one
//! destination sent 500 MB or more in all (Slips v1.0.0 forgot to sum and used the first flow).
//!
//! Downloads are not counted.

use super::context::{Ctx, Finding, ignored};
use super::evidence::{EvidenceKind, FlowRef, Party, Payload};
use crate::profile::Window;
use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;

/// Bytes a single flow must send.
const FLOW_BYTES: u64 = 100_000_000;
/// Bytes a window's flows to one destination must send.
const WINDOW_BYTES: u64 = 500_000_000;

/// Bytes sent to one host and the time of the last flow.
#[derive(Default)]
struct Sent {
    bytes: u64,
    last: f64,
}

pub(crate) fn run(cx: &mut Ctx<'_>, w: &Window) {
    let conns = &cx.store.conns;
    let sent = |i: u32| {
        let c = &conns[i as usize];
        (c.orig_bytes > 0 && !ignored(c.resp_h)).then_some(c)
    };
    // Most windows send far less than the window bound in all (counted over every flow, an
    // upper bound): then only single flows can qualify, and no per-destination sums are needed.
    let mut total = 0u64;
    for &i in &w.out_flows {
        let c = &conns[i as usize];
        total = total.saturating_add(c.orig_bytes);
        if c.orig_bytes >= FLOW_BYTES && !ignored(c.resp_h) {
            cx.add(Finding {
                kind: EvidenceKind::DataUpload,
                attacker: cx.me(),
                victim: Some(Party::Ip(c.resp_h)),
                level: None,
                confidence: 0.6,
                payload: Payload::DataUpload {
                    dst: c.resp_h,
                    megabytes: c.orig_bytes / 1_000_000,
                },
                ts: c.ts,
                flows: FlowRef::Conn(i).into(),
            });
        }
    }
    if total < WINDOW_BYTES {
        return;
    }
    let mut sums: HashMap<IpAddr, Sent> = HashMap::default();
    for &i in &w.out_flows {
        let Some(c) = sent(i) else { continue };
        let s = sums.entry(c.resp_h).or_default();
        s.bytes += c.orig_bytes;
        s.last = s.last.max(c.ts);
    }
    let mut big: Vec<(IpAddr, Sent)> = sums
        .into_iter()
        .filter(|(_, s)| s.bytes >= WINDOW_BYTES)
        .collect();
    big.sort_by_key(|b| b.0);
    for (dst, total) in big {
        // the flows behind the sum, in the window's order
        let flows = w
            .out_flows
            .iter()
            .copied()
            .filter(|&i| sent(i).is_some_and(|c| c.resp_h == dst))
            .map(FlowRef::Conn)
            .collect();
        cx.add(Finding {
            kind: EvidenceKind::DataUploadWindow,
            attacker: cx.me(),
            victim: Some(Party::Ip(dst)),
            level: None,
            confidence: 0.6,
            payload: Payload::DataUploadWindow {
                dst,
                megabytes: total.bytes / 1_000_000,
            },
            ts: total.last,
            flows,
        });
    }
}
