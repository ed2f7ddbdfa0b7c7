//! Periodicity (C&C beacon) score of a tuple's flows.
//!
//! From the start times t₁…tₙ and sizes b₁…bₙ of one out-tuple's flows:
//! 1. intervals dᵢ = tᵢ₊₁ − tᵢ; the period P is their median (robust to bursts and to a
//!    minority of missing beats), then refined as the median of dᵢ/kᵢ over the intervals that fit;
//! 2. each interval is explained as kᵢ = round(dᵢ/P) beats with residual rᵢ = |dᵢ − kᵢP| / P;
//!    it **fits** when kᵢ ≥ 1 and rᵢ ≤ 0.3 (jitter up to ±30% of the period per beat; a missing
//!    beat makes kᵢ = 2 and still fits). A burst (kᵢ = 0) does not fit;
//! 3. `fit` = fitting intervals / all intervals; `coverage` = fitting beats observed / beats
//!    expected over the span (Σkᵢ of fitting intervals) — many missing beats lower it;
//! 4. `size` = 1 − min(1, MAD(b)/median(b)): beacons send similar amounts each time;
//! 5. **score = fit · (0.5 + 0.5·coverage) · (0.75 + 0.25·size) · min(1, (n − 1)/10)**, in [0, 1].
//!
//! A tuple beacons when score ≥ 0.7 with at least 6 flows and P ≥ 1 s. Human browsing has
//! bursts (kᵢ = 0) and heavy-tailed pauses whose residuals are spread uniformly, so its `fit`
//! stays near 0.3; a timer with 20% jitter and 10% missing beats scores above 0.9.

use super::TupleId;
use super::context::{Ctx, Finding};
use super::evidence::{EvidenceKind, FlowRef, Party, Payload};
use crate::profile::Window;
use crate::record::Proto;
use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;

/// The result for one tuple.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Beacon {
    /// Score in [0, 1].
    pub score: f64,
    /// Estimated period, seconds.
    pub period: f64,
    /// Median relative jitter of the fitting intervals.
    pub jitter: f64,
    /// Flows.
    pub flows: usize,
}

/// Minimum flows for a score.
pub const MIN_FLOWS: usize = 6;
/// Score from which a tuple is reported.
pub const THRESHOLD: f64 = 0.7;
const TOLERANCE: f64 = 0.3;

/// The median of `v`, which it reorders: a selection, not a sort (values equal under
/// `total_cmp` have the same bits, so the result is what a sort would give).
fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let even = v.len() % 2 == 0;
    let (below, &mut upper, _) = v.select_nth_unstable_by(v.len() / 2, f64::total_cmp);
    if even {
        // the largest of the lower half, as a sort would put it just before the middle
        let lower = below
            .iter()
            .copied()
            .max_by(f64::total_cmp)
            .unwrap_or(upper);
        f64::midpoint(lower, upper)
    } else {
        upper
    }
}

/// Buffers that the scoring of one window's tuples reuses from tuple to tuple.
#[derive(Default)]
struct Scratch {
    /// The flows being scored: start, bytes.
    flows: Vec<(f64, u64)>,
    intervals: Vec<f64>,
    values: Vec<f64>,
}

/// Scores flows given as (start time, bytes), in any order.
pub fn score(flows: &[(f64, u64)]) -> Option<Beacon> {
    let mut s = Scratch::default();
    s.flows.extend_from_slice(flows);
    score_in(&mut s)
}

/// Scores the flows in `buffers.flows` (which it reorders), in those buffers.
fn score_in(buffers: &mut Scratch) -> Option<Beacon> {
    let Scratch {
        flows: f,
        intervals,
        values: scratch,
    } = buffers;
    if f.len() < MIN_FLOWS {
        return None;
    }
    // (flows of equal start differ only in size, whose order no step reads)
    f.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    intervals.clear();
    intervals.extend(f.windows(2).map(|w| w[1].0 - w[0].0));
    // one vector serves each median in turn
    scratch.clear();
    scratch.extend_from_slice(intervals);
    let mut period = median(scratch);
    if period < 1.0 {
        return None;
    }
    // refine on the intervals that fit the first estimate
    scratch.clear();
    scratch.extend(intervals.iter().filter_map(|&x| {
        let k = (x / period).round();
        (k >= 1.0 && (x - k * period).abs() / period <= TOLERANCE).then_some(x / k)
    }));
    if !scratch.is_empty() {
        period = median(scratch);
    }
    scratch.clear();
    scratch.extend(f.iter().map(|x| x.1 as f64));
    let med = median(scratch);
    for v in scratch.iter_mut() {
        *v = (*v - med).abs();
    }
    let mad = median(scratch);
    let size = if med > 0.0 {
        1.0 - (mad / med).min(1.0)
    } else if mad == 0.0 {
        1.0
    } else {
        0.0
    };
    let mut fits = 0usize;
    let mut beats = 0.0;
    scratch.clear();
    for &x in intervals.iter() {
        let k = (x / period).round();
        let r = (x - k * period).abs() / period;
        if k >= 1.0 && r <= TOLERANCE {
            fits += 1;
            beats += k;
            scratch.push(r);
        }
    }
    let fit = fits as f64 / intervals.len() as f64;
    let coverage = if beats > 0.0 {
        fits as f64 / beats
    } else {
        0.0
    };
    let count = ((f.len() - 1) as f64 / 10.0).min(1.0);
    let score = fit * (0.5 + 0.5 * coverage) * (0.75 + 0.25 * size) * count;
    Some(Beacon {
        score,
        period,
        jitter: median(scratch),
        flows: f.len(),
    })
}

/// Periodic by design, so never a C&C beacon: traffic to multicast, broadcast or link-local
/// destinations (multicast DNS, SSDP, LLMNR, IPv6 neighbour and router discovery), the
/// `NetBIOS` name and datagram services, NTP and DHCP. Their scores stay in the tuples view.
fn housekeeping(dst: IpAddr, port: u16, proto: Proto) -> bool {
    let local_scope = match dst {
        IpAddr::V4(v) => v.is_multicast() || v.is_broadcast() || v.is_link_local(),
        // fe80::/10
        IpAddr::V6(v) => v.is_multicast() || (v.segments()[0] & 0xffc0) == 0xfe80,
    };
    let service = proto == Proto::Udp
        && matches!(
            port,
            67 | 68 | 123 | 137 | 138 | 546 | 547 | 1900 | 5353 | 5355
        );
    local_scope || service
}

/// A scored tuple's stretch of the vector its window's flows are gathered into.
struct Stretch {
    tuple: TupleId,
    start: usize,
    /// Its length: the tuple's flow count, as the profiler counted it.
    room: usize,
    /// How many of its flows are in it so far.
    filled: usize,
}

/// The rule: scores every out-tuple of the window with enough flows (kept for the UI's `h`
/// view) and reports those at or above [`THRESHOLD`]; the last 50 flows name it.
pub(crate) fn run(cx: &mut Ctx<'_>, w: &Window) {
    // The profiler counted each out-tuple's flows already: most tuples have one or two, and
    // only those with enough flows are gathered, each into its own stretch of one vector
    // (a vector each cost an allocation per tuple, and its scoring three more).
    let mut scored: Vec<Stretch> = Vec::new();
    let mut total = 0;
    for t in w
        .out_tuples
        .iter()
        .filter(|t| t.flows as usize >= MIN_FLOWS)
    {
        let room = t.flows as usize;
        scored.push(Stretch {
            tuple: (t.remote, t.port, t.proto),
            start: total,
            room,
            filled: 0,
        });
        total += room;
    }
    if scored.is_empty() {
        return;
    }
    // each scored tuple's place in `scored`
    let place: HashMap<TupleId, usize> = (0..).zip(&scored).map(|(k, st)| (st.tuple, k)).collect();
    // (start, bytes, index) of each flow of a scored tuple, in the window's order
    let mut gathered: Vec<(f64, u64, u32)> = vec![(0.0, 0, 0); total];
    for &i in &w.out_flows {
        let c = &cx.store.conns[i as usize];
        if let Some(stretch) = place
            .get(&(c.resp_h, c.resp_p, c.proto))
            .and_then(|&k| scored.get_mut(k))
        {
            // (the profiler's count bounds the stretch, whatever the records say)
            if stretch.filled < stretch.room {
                gathered[stretch.start + stretch.filled] = (c.ts, c.bytes(), i);
                stretch.filled += 1;
            }
        }
    }
    let mut scratch = Scratch::default();
    for stretch in scored {
        let (dst, port, proto) = stretch.tuple;
        let flows = &gathered[stretch.start..stretch.start + stretch.filled];
        scratch.flows.clear();
        scratch.flows.extend(flows.iter().map(|f| (f.0, f.1)));
        let Some(b) = score_in(&mut scratch) else {
            continue;
        };
        cx.beacons.push(((dst, port, proto), b));
        if b.score >= THRESHOLD && !housekeeping(dst, port, proto) {
            let last = flows.iter().map(|f| f.0).fold(f64::MIN, f64::max);
            cx.add(Finding {
                kind: EvidenceKind::Beacon,
                attacker: cx.me(),
                victim: Some(Party::Ip(dst)),
                level: None,
                confidence: b.score,
                payload: Payload::Beacon {
                    dst,
                    port,
                    proto,
                    beacon: Box::new(b),
                },
                ts: last,
                flows: flows
                    .iter()
                    .rev()
                    .take(50)
                    .map(|f| FlowRef::Conn(f.2))
                    .collect(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::rng::Rng;

    #[test]
    fn discovery_time_and_address_services_are_not_beacons() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(housekeeping(ip("ff02::fb"), 5353, Proto::Udp));
        assert!(housekeeping(ip("ff02::2"), 134, Proto::Icmp));
        assert!(housekeeping(ip("fe80::1"), 546, Proto::Udp));
        assert!(housekeeping(ip("239.255.255.250"), 1900, Proto::Udp));
        assert!(housekeeping(ip("255.255.255.255"), 67, Proto::Udp));
        assert!(housekeeping(ip("169.254.1.1"), 80, Proto::Tcp));
        assert!(housekeeping(ip("192.0.2.1"), 123, Proto::Udp));
        assert!(housekeeping(ip("192.168.1.255"), 137, Proto::Udp));
        assert!(!housekeeping(ip("192.0.2.1"), 443, Proto::Tcp));
        assert!(!housekeeping(ip("192.0.2.1"), 123, Proto::Tcp));
        assert!(!housekeeping(ip("2001:db8::1"), 53, Proto::Udp));
    }

    #[test]
    fn a_jittery_beacon_with_missing_beats_scores_high() {
        for seed in 0..20 {
            let mut r = Rng::new(seed);
            let mut flows = Vec::new();
            for i in 0..60 {
                if r.unit() < 0.1 {
                    continue; // 10% missing beats
                }
                let jitter = (r.unit() - 0.5) * 0.4 * 300.0; // ±20% of 300 s
                flows.push((
                    f64::from(i) * 300.0 + jitter,
                    400 + (r.unit() * 40.0) as u64,
                ));
            }
            let b = score(&flows).unwrap_or_else(|| panic!("scored"));
            assert!(b.score >= THRESHOLD, "seed {seed}: {b:?}");
            assert!((b.period - 300.0).abs() < 30.0, "seed {seed}: {b:?}");
        }
    }

    #[test]
    fn human_browsing_does_not() {
        for seed in 0..20 {
            let mut r = Rng::new(seed + 100);
            let mut t = 0.0;
            let mut flows = Vec::new();
            for _ in 0..60 {
                // a burst of 1–5 page loads, then a heavy-tailed pause
                let burst = 1 + (r.unit() * 5.0) as usize;
                for _ in 0..burst {
                    t += r.unit() * 2.0;
                    flows.push((t, 500 + (r.unit() * 200_000.0) as u64));
                }
                t += 5.0 + 600.0 * (-r.unit().max(1e-9).ln());
            }
            if let Some(b) = score(&flows) {
                assert!(b.score < THRESHOLD, "seed {seed}: {b:?}");
            }
        }
    }

    #[test]
    fn random_poisson_arrivals_do_not() {
        for seed in 0..200 {
            let mut r = Rng::new(seed + 1000);
            let n = 6 + (r.unit() * 40.0) as usize;
            let mut t = 0.0;
            let flows: Vec<(f64, u64)> = (0..n)
                .map(|_| {
                    t += 300.0 * (-r.unit().max(1e-9).ln());
                    (t, 500)
                })
                .collect();
            if let Some(b) = score(&flows) {
                assert!(b.score < THRESHOLD, "seed {seed}, {n} flows: {b:?}");
            }
        }
    }

    #[test]
    fn the_median_is_the_sorted_middle() {
        let mut r = Rng::new(7);
        for n in 1..40 {
            // few distinct values, so equal values and ties at the middle are common
            let v: Vec<f64> = (0..n).map(|_| (r.unit() * 5.0).floor() - 1.0).collect();
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            let m = n / 2;
            let want = if n % 2 == 0 {
                f64::midpoint(sorted[m - 1], sorted[m])
            } else {
                sorted[m]
            };
            assert_eq!(median(&mut v.clone()).to_bits(), want.to_bits(), "{v:?}");
        }
        assert_eq!(median(&mut []).to_bits(), 0.0f64.to_bits());
    }

    #[test]
    fn too_few_or_too_fast_flows_are_not_scored() {
        assert!(score(&[(0.0, 1), (60.0, 1), (120.0, 1)]).is_none());
        let fast: Vec<(f64, u64)> = (0..20).map(|i| (f64::from(i) * 0.1, 10)).collect();
        assert!(score(&fast).is_none(), "sub-second repetition is a burst");
        let exact: Vec<(f64, u64)> = (0..20).map(|i| (f64::from(i) * 60.0, 10)).collect();
        let b = score(&exact).unwrap_or_else(|| panic!("scored"));
        assert!((b.score - 1.0).abs() < 1e-9, "{b:?}");
    }
}
