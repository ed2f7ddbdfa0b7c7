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

/// Bytes sent to one host, time of the last flow, the flows.
#[derive(Default)]
struct Sent {
    bytes: u64,
    last: f64,
    flows: Vec<u32>,
}

pub(crate) fn run(cx: &mut Ctx<'_>, w: &Window) {
    let mut sums: HashMap<IpAddr, Sent> = HashMap::default();
    for &i in &w.out_flows {
        let c = &cx.store.conns[i as usize];
        if c.orig_bytes == 0 || ignored(c.resp_h) {
            continue;
        }
        if c.orig_bytes >= FLOW_BYTES {
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
        let s = sums.entry(c.resp_h).or_default();
        s.bytes += c.orig_bytes;
        s.last = s.last.max(c.ts);
        s.flows.push(i);
    }
    let mut big: Vec<(IpAddr, Sent)> = sums
        .into_iter()
        .filter(|(_, s)| s.bytes >= WINDOW_BYTES)
        .collect();
    big.sort_by_key(|b| b.0);
    for (dst, sent) in big {
        cx.add(Finding {
            kind: EvidenceKind::DataUploadWindow,
            attacker: cx.me(),
            victim: Some(Party::Ip(dst)),
            level: None,
            confidence: 0.6,
            payload: Payload::DataUploadWindow {
                dst,
                megabytes: sent.bytes / 1_000_000,
            },
            ts: sent.last,
            flows: sent.flows.into_iter().map(FlowRef::Conn).collect(),
        });
    }
}
