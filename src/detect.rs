//! Detections, evidence and alerts (spec §6, §7): what turns a window red.
//!
//! Each profile's windows are examined on their own (in parallel, merged in a fixed order), so
//! the evidence is the same on any thread count. Every rule family has its own file and one
//! entry, `run(&mut Ctx, &Window)`, registered in `WINDOW_RULES`; the records of other logs
//! (notices, SMTP, SSH, ARP) go through `events`. Adding a detection is one new file and one
//! line in that table. A rule pushes a `context::Finding`; [`evidence`] holds the typed
//! result, [`mod@alerts`] Slips v1.0.0's accounting: an alert is raised for a window when the sum
//! of threat level × confidence of the evidence in which the profile is the attacker reaches
//! `--alert-threshold` per minute of window width (0.1, so 6 for one hour).
//!
//! The detections read the store and never change it; their results travel beside it in
//! [`crate::Analysis`].

pub mod alerts;
mod attempts;
pub mod beacon;
mod blacklists;
mod context;
mod dns;
mod events;
pub mod evidence;
pub(crate) mod flows;
mod http;
mod inbound;
pub mod pieces;
pub mod rank;
mod scans;
pub mod ti;
mod tls;
mod upload;
pub mod victims;

pub use alerts::{Alert, alerts};
pub use evidence::{
    Evidence, EvidenceKind, EvidenceParts, FlowRef, Flows, Party, PartyRef, Payload, ThreatLevel,
};

use crate::profile::{Profile, Window};
use crate::record::Activity;
use crate::store::Store;
use context::Ctx;
use pieces::Pieces;
use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::ops::Range;

/// A rule family on one window.
type WindowRule = fn(&mut Ctx<'_>, &Window);

/// Every window rule, in the order they run: scans first, since the unknown-port rule
/// leaves out what follows a scan.
const WINDOW_RULES: &[WindowRule] = &[
    scans::run,
    flows::run,
    scans::icmp_sweeps,
    inbound::run,
    attempts::run,
    upload::run,
    blacklists::run,
    dns::run,
    http::run,
    tls::run,
    beacon::run,
];

/// Detection settings.
#[derive(Debug, Clone)]
pub struct DetectConfig {
    /// Alert threshold per minute of window width (Slips v1.0.0: 0.1).
    pub alert_threshold: f64,
    /// Whether the evidence of kalipso's attack rules (an inbound probe, a login brute force)
    /// raises an alert by itself ([`EvidenceKind::alerts_alone`]).
    pub attack_alerts: bool,
    /// Threat intelligence.
    pub ti: ti::ThreatIntel,
    /// Whitelist.
    pub whitelist: ti::Whitelist,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            alert_threshold: 0.1,
            attack_alerts: true,
            ti: ti::ThreatIntel::default(),
            whitelist: ti::Whitelist::default(),
        }
    }
}

/// Everything the detections found.
#[derive(Debug, Clone, Default)]
pub struct Detections {
    /// All evidence, by profile, window, time (in the pieces the cores wrote).
    pub evidence: pieces::Pieces<Evidence>,
    /// All alerts, by profile, window, time.
    pub alerts: Vec<Alert>,
    /// Beacon scores of out-tuples, by profile and window: ((profile, window, tuple), result).
    pub beacons: Vec<((IpAddr, i64, TupleId), beacon::Beacon)>,
    /// IPs and domains that matched threat intelligence, with the feed's description.
    pub ti_hits: BTreeMap<String, String>,
    /// Every profile with evidence, scored, highest score first.
    pub ranking: Vec<rank::Suspect>,
    /// Home hosts that outside hosts probed, most attackers first.
    pub victims: Vec<victims::Victim>,
}

impl Detections {
    /// Where the evidence of one window is in [`Detections::evidence`] (sorted by profile and
    /// window).
    pub fn window_range(&self, ip: IpAddr, n: i64) -> std::ops::Range<usize> {
        let key = |e: &Evidence| (e.profile, e.window);
        self.evidence.partition_point(|e| key(e) < (ip, n))
            ..self.evidence.partition_point(|e| key(e) <= (ip, n))
    }

    /// The evidence of one window.
    pub fn of_window(&self, ip: IpAddr, n: i64) -> &[Evidence] {
        // (a window's evidence is written by one core, into one piece)
        self.evidence.slice(self.window_range(ip, n))
    }

    /// The alerts of one window (alerts are sorted by profile and window too).
    pub fn alerts_of(&self, ip: IpAddr, n: i64) -> &[Alert] {
        let key = |a: &Alert| (a.profile, a.window);
        let start = self.alerts.partition_point(|a| key(a) < (ip, n));
        let end = self.alerts.partition_point(|a| key(a) <= (ip, n));
        &self.alerts[start..end]
    }

    /// The beacon score of an out-tuple of window `n` of profile `ip`.
    pub fn beacon(&self, ip: IpAddr, n: i64, tuple: TupleId) -> Option<&beacon::Beacon> {
        let start = self.beacons.partition_point(|(k, _)| (k.0, k.1) < (ip, n));
        self.beacons[start..]
            .iter()
            .take_while(|(k, _)| (k.0, k.1) == (ip, n))
            .find(|(k, _)| k.2 == tuple)
            .map(|(_, b)| b)
    }

    /// The evidence of one profile.
    pub fn of_profile(&self, ip: IpAddr) -> impl Iterator<Item = &Evidence> {
        let start = self.evidence.partition_point(|e| e.profile < ip);
        self.evidence
            .iter_from(start)
            .take_while(move |e| e.profile == ip)
    }

    /// The evidence (indices into [`Detections::evidence`]) that raised an alert of profile
    /// `ip`, in window `n` only when it is given.
    pub fn in_alert(&self, ip: IpAddr, n: Option<i64>) -> std::collections::HashSet<usize> {
        let alerts = if let Some(n) = n {
            self.alerts_of(ip, n)
        } else {
            let start = self.alerts.partition_point(|a| a.profile < ip);
            let end = self.alerts.partition_point(|a| a.profile <= ip);
            &self.alerts[start..end]
        };
        alerts
            .iter()
            .flat_map(|a| a.evidence.iter().copied())
            .collect()
    }

    /// Windows with at least one alert.
    pub fn alerted(&self) -> BTreeSet<(IpAddr, i64)> {
        self.alerts.iter().map(|a| (a.profile, a.window)).collect()
    }
}

/// A tuple: remote IP, destination port, protocol (typed, where Slips writes
/// `<ip>-<port>-<proto>`).
pub type TupleId = (IpAddr, u16, crate::record::Proto);

/// A window as the parts run it, with its client connections: their list is read from the
/// window's own memory once, before the parts run, so that loading them ahead
/// ([`load_ahead`]) waits for no read of that memory.
struct Job<'a> {
    window: &'a Window,
    out_flows: &'a [u32],
}

/// A profile, and where its windows start in the list of jobs; its place in the list of
/// owners is its place in the store's address order.
struct Owner<'a> {
    first: usize,
    profile: &'a Profile,
}

/// The results of consecutive windows, in their order: their evidence, the alerts it raised
/// (naming evidence by its place in the part), beacon scores, threat-intelligence hits.
#[derive(Default)]
struct Part {
    /// The evidence of the windows done, in chunks ([`Part::close_chunk`]).
    evidence: Pieces<Evidence>,
    /// The chunk being written: a window adds its evidence to its end.
    chunk: Vec<Evidence>,
    alerts: Vec<Alert>,
    beacons: Vec<((IpAddr, i64, TupleId), beacon::Beacon)>,
    ti_hits: Vec<(String, String)>,
    probes: Vec<victims::Probe>,
    /// The suspects of its windows.
    ranking: rank::Ranking,
}

/// How many pieces of evidence a chunk is made for (64 KiB): the evidence is written once,
/// into chunks that are kept as they are, and a vector grown by doubling instead left a
/// third of its capacity unused on average (10 MB at 1 M lines).
const CHUNK: usize = 512;

/// The least room a chunk must have left for the next window to be written into it (most
/// windows add none or a few; a busy one grows the chunk).
const ROOM: usize = 16;

impl Part {
    /// Makes room for the next window: closes the chunk being written when it has less than
    /// [`ROOM`] places left.
    fn make_room(&mut self) {
        if self.chunk.capacity() - self.chunk.len() < ROOM {
            self.close_chunk(CHUNK);
        }
    }

    /// Moves the chunk being written into `evidence` and starts one of `capacity`. A chunk
    /// that a busy window grew by doubling, or the last of a part, is moved into one of its
    /// size.
    fn close_chunk(&mut self, capacity: usize) {
        let mut done = std::mem::replace(&mut self.chunk, Vec::with_capacity(capacity));
        if done.capacity() - done.len() > ROOM {
            let mut exact = Vec::with_capacity(done.len());
            exact.append(&mut done);
            done = exact;
        }
        self.evidence.push(done);
    }
}

/// How many parts the windows are cut into, of about equal work (see [`run`]): each is one
/// core's run of consecutive windows.
const PARTS: usize = 64;
/// How many batches the parts are run in: a batch's results are joined while the next runs.
const BATCHES: usize = 4;

/// Moves a batch's results into `d` (and its probes and suspects into `probes` and
/// `ranking`), in the batch's order. The probes stay in the parts' vectors: the victims'
/// aggregate reads them once, and copying them into one vector faulted in 17 MB of fresh
/// pages at 5 M lines, nearly all in the last batch (the outside hosts come last in address
/// order) while the other core waited.
fn keep(
    d: &mut Detections,
    probes: &mut Vec<Vec<victims::Probe>>,
    ranking: &mut rank::Joined,
    parts: Vec<Part>,
) {
    for mut part in parts {
        part.close_chunk(0);
        // a part's alerts name its evidence by place in the part: make it the place in the
        // whole list
        let base = d.evidence.len();
        for a in &mut part.alerts {
            a.shift(base);
        }
        d.alerts.append(&mut part.alerts);
        d.evidence.append(part.evidence);
        d.beacons.append(&mut part.beacons);
        d.ti_hits.extend(part.ti_hits);
        if !part.probes.is_empty() {
            probes.push(part.probes);
        }
        ranking.add(part.ranking);
    }
}

/// The notice/smtp/software/arp/ssh records of each profile, by window, in record order.
///
/// A capture of a busy LAN has millions of ARP records (1.6 M in 7,000 windows on the
/// realistic 1 GB capture). Each core groups a run of consecutive records, looking each
/// address's window grid up once (in the store's tree of profiles it cost a search a record),
/// and the runs' groups are joined in the runs' order, so every group keeps record order.
fn events_by_window(store: &Store) -> HashMap<(IpAddr, i64), Vec<&Activity>> {
    type Groups<'a> = HashMap<(IpAddr, i64), Vec<&'a Activity>>;
    store
        .events
        .par_iter()
        .fold(
            || (Groups::default(), HashMap::default()),
            |(mut groups, mut grids), a| {
                let grid = *grids.entry(a.ip).or_insert_with(|| store.grid(a.ip));
                groups
                    .entry((a.ip, grid.number(a.ts)))
                    .or_insert_with(Vec::new)
                    .push(a);
                (groups, grids)
            },
        )
        .map(|(groups, _)| groups)
        .reduce(Groups::default, |mut earlier, later| {
            for (key, mut records) in later {
                earlier.entry(key).or_default().append(&mut records);
            }
            earlier
        })
}

/// `items` cut into about `n` consecutive, non-empty batches of about equal `work`, as ranges
/// of places.
fn cut_by_work<T>(items: &[T], n: usize, work: impl Fn(&T) -> usize) -> Vec<Range<usize>> {
    let total: usize = items.iter().map(&work).sum();
    let per_batch = total.div_ceil(n.max(1)).max(1);
    let mut out = Vec::with_capacity(n + 1);
    let (mut start, mut sum) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        sum += work(item);
        if sum >= per_batch {
            out.push(start..i + 1);
            start = i + 1;
            sum = 0;
        }
    }
    if start < items.len() {
        out.push(start..items.len());
    }
    out
}

/// The most connections a window's warm-up brings into the cache: about half of a core's L2
/// (1 MiB here; 128 bytes a connection), so the first rules do not evict what the last read.
const WARM_MAX: usize = 4096;

/// Reads every cache line of a window's connections in one tight loop before the rules run.
///
/// The connections of a window are scattered over the whole record vector, so the first read
/// of each misses the cache. Here the loads are independent of each other and the CPU overlaps
/// their misses; inside the rules each miss stalls hash-map work that waits for it. A
/// connection is two cache lines (`ts` and the addresses on the first, the counts on the
/// second), and the rules read fields on both. Most lines are on their way already
/// ([`load_ahead`]); this waits for the rest.
fn warm(conns: &[crate::record::Conn], flows: &[u32]) {
    if flows.len() > WARM_MAX {
        return;
    }
    let mut sum = 0u64;
    for &i in flows {
        if let Some(c) = conns.get(i as usize) {
            sum = sum
                .wrapping_add(c.ts.to_bits())
                .wrapping_add(c.resp_ip_bytes)
                .wrapping_add(u64::from(c.resp_p))
                .wrapping_add(u64::from(c.resp_h.is_ipv4()));
        }
    }
    std::hint::black_box(sum);
}

/// How many connection indices a cache line of a window's list holds.
const INDICES_A_LINE: usize = 64 / std::mem::size_of::<u32>();

/// Starts loading what the rules will read after the `k`th window of a part, without waiting
/// for it: both cache lines of each connection of the next window, and the list of
/// connections and the fields of the window after it.
///
/// The rules of one window work on data already in the cache (hash maps, the warmed
/// connections), and these loads overlap that work instead of stalling [`warm`]. Each level
/// is started one window before it is needed: the connections' places are read from a list
/// loaded during the window before. At 5 M realistic lines the detections took 0.322 s with
/// both levels, 0.337 s with the connections only, and 0.370 s with neither (medians of 8
/// alternating runs).
fn load_ahead(conns: &[crate::record::Conn], run: &[Job<'_>], k: usize) {
    use crate::prefetch::prefetch;
    if let Some(after) = run.get(k + 2) {
        prefetch(after.window);
        prefetch(&after.window.out_tuples);
        // (one index of every cache line of the list)
        let lines = after.out_flows.iter().step_by(INDICES_A_LINE);
        for first_of_line in lines.take(WARM_MAX / INDICES_A_LINE) {
            prefetch(first_of_line);
        }
    }
    let Some(next) = run.get(k + 1) else {
        return;
    };
    if next.out_flows.len() > WARM_MAX {
        return;
    }
    for &i in next.out_flows {
        if let Some(c) = conns.get(i as usize) {
            c.prefetch();
        }
    }
}

/// Runs every detection on the store.
pub fn run(store: &Store, cfg: &DetectConfig) -> Detections {
    let syms = context::sym_flags();
    let ssh_logged_in = events::ssh_logged_in(&store.events);
    let home = store.config.home_matcher();
    let events = events_by_window(store);
    let threshold = cfg.alert_threshold * store.config.tw_width / 60.0;
    // a window's evidence goes to the end of its part's chunk
    let of_window = |mut part: Part, p: &Profile, profile_number: u32, job: &Job| -> Part {
        let w = job.window;
        // (the rules read the client flows only: the server side of a connection is read in
        // the window of its client)
        warm(&store.conns, job.out_flows);
        part.make_room();
        let first = part.chunk.len();
        let mut cx = Ctx {
            store,
            syms: &syms,
            cfg,
            p2p: &store.p2p,
            ssh_logged_in: &ssh_logged_in,
            home: &home,
            profile: p.ip,
            profile_number,
            window: w.number,
            out: std::mem::take(&mut part.chunk),
            first,
            beacons: Vec::new(),
            ti_hits: Vec::new(),
            probes: std::mem::take(&mut part.probes),
        };
        for rule in WINDOW_RULES {
            rule(&mut cx, w);
        }
        if let Some(ev) = events.get(&(p.ip, w.number)) {
            events::run(&mut cx, ev);
        }
        let found = &mut cx.out[first..];
        // a fixed order whatever the rules' order; descriptions are rendered only to
        // break ties of time and kind
        found.sort_by(|a, b| {
            a.ts.total_cmp(&b.ts)
                .then_with(|| a.kind.name().cmp(b.kind.name()))
                .then_with(|| a.description().cmp(&b.description()))
        });
        // Alerts are summed window by window (spec §7), so each window's are found here, on
        // every core, rather than in one pass over all the evidence afterwards.
        let mut raised = alerts(found, threshold, cfg.attack_alerts);
        part.ranking.window(p.ip, found, &raised);
        for a in &mut raised {
            a.shift(part.evidence.len() + first);
        }
        part.alerts.append(&mut raised);
        part.chunk = cx.out;
        part.beacons.extend(
            cx.beacons
                .into_iter()
                .map(|(k, b)| ((p.ip, w.number, k), b)),
        );
        part.ti_hits.extend(cx.ti_hits);
        part.probes = cx.probes;
        part
    };
    let mut d = Detections::default();
    // Windows, not profiles, are the unit of work: a day of traffic has a few very busy hosts,
    // and one of them alone in a batch left the other cores idle.
    let mut jobs = Vec::with_capacity(store.profiles.values().map(|p| p.windows.len()).sum());
    let mut owners = Vec::with_capacity(store.profiles.len());
    for profile in store.profiles.values() {
        owners.push(Owner {
            first: jobs.len(),
            profile,
        });
        jobs.extend(profile.windows.values().map(|window| Job {
            window,
            out_flows: &window.out_flows,
        }));
    }
    // Each batch's results are moved into `d` while the next batch runs: the alerts'
    // renumbering is sequential, and it left the other cores idle.
    let mut done: Option<Vec<Part>> = None;
    let mut probes = Vec::new();
    let mut ranking = rank::Joined::with_room(store.profiles.len());
    // the rules read a window's client flows and application records
    let work = |job: &Job| {
        let w = job.window;
        job.out_flows.len() + w.dns.len() + w.http.len() + w.ssl.len() + 1
    };
    // (a fixed cut, whatever the thread count: each part is one core's run of consecutive
    // windows, and the parts come back in the windows' order)
    let parts = cut_by_work(&jobs, PARTS, work);
    // a part's windows, with their profiles
    let run_part = |range: &Range<usize>| -> Part {
        let run = &jobs[range.clone()];
        let mut owner = owners
            .partition_point(|o| o.first <= range.start)
            .saturating_sub(1);
        let mut part = Part::default();
        for (k, job) in run.iter().enumerate() {
            // (a profile without windows shares its start with the next)
            while owners
                .get(owner + 1)
                .is_some_and(|o| o.first <= range.start + k)
            {
                owner += 1;
            }
            load_ahead(&store.conns, run, k);
            if let Some(o) = owners.get(owner) {
                part = of_window(part, o.profile, owner as u32, job);
            }
        }
        part
    };
    for batch in parts.chunks(PARTS.div_ceil(BATCHES)) {
        let ((), parts) = rayon::join(
            || {
                if let Some(parts) = done.take() {
                    keep(&mut d, &mut probes, &mut ranking, parts);
                }
            },
            || batch.par_iter().map(run_part).collect(),
        );
        done = Some(parts);
    }
    // (what only the rules read goes before the last joining, the victims and the ranking
    // allocate: the run's peak comes at its end)
    drop(parts);
    drop(jobs);
    drop(owners);
    drop(events);
    if let Some(parts) = done {
        keep(&mut d, &mut probes, &mut ranking, parts);
    }
    // (each has a sequential stretch: the victims' grouping, the ranking's profiles shared by
    // two parts; side by side the other keeps the second core busy)
    let (ranking, victims) = rayon::join(
        || ranking.finish(&d.evidence, &d.alerts),
        || victims::victims(store, &probes),
    );
    d.ranking = ranking;
    d.victims = victims;
    d
}

#[cfg(test)]
mod tests {
    use super::{Activity, HashMap, IpAddr, cut_by_work, events_by_window};
    use crate::record::Batch;
    use crate::store::Store;

    #[test]
    fn records_of_other_logs_are_grouped_by_window_in_record_order() {
        // enough records for the cores to split them, of a few addresses over several hours;
        // the last address comes later, so its windows start at another time
        let mut batch = Batch::default();
        let ips: Vec<IpAddr> = (1..=5).map(|i| IpAddr::from([10, 0, 0, i])).collect();
        for i in 0..50_000u32 {
            let k = (i as usize * 7) % ips.len();
            batch.activity.push(Activity {
                ts: 1_000.0 + f64::from(i) * 0.5,
                ip: ips[if i < 10_001 && k == 4 { 0 } else { k }],
                detail: Some(crate::record::Detail::Arp(crate::record::Arp {
                    resp: Some(IpAddr::from([10, 0, 1, (i % 200) as u8])),
                    operation: crate::record::ArpOp::Request,
                    dst_mac: None,
                    target_hw: None,
                })),
            });
        }
        let store = Store::build(batch, 1_000.0, crate::profile::ProfileConfig::default());
        let mut expected: HashMap<(IpAddr, i64), Vec<&Activity>> = HashMap::default();
        for a in &store.events {
            expected
                .entry((a.ip, store.window_number(a.ip, a.ts)))
                .or_default()
                .push(a);
        }
        let grouped = events_by_window(&store);
        assert!(grouped.len() > ips.len(), "several windows an address");
        assert_eq!(grouped.len(), expected.len());
        for (key, records) in &expected {
            let got = grouped.get(key).map(Vec::as_slice).unwrap_or_default();
            assert!(
                got.len() == records.len()
                    && got.iter().zip(records).all(|(a, b)| std::ptr::eq(*a, *b)),
                "{key:?}: the same records in the same order"
            );
        }
    }

    #[test]
    fn a_beacon_is_found_by_its_window_and_tuple() {
        use crate::record::Proto;
        let ip = |i: u8| IpAddr::from([10, 0, 0, i]);
        let score = |s: f64| super::beacon::Beacon {
            score: s,
            period: 60.0,
            jitter: 0.0,
            flows: 10,
        };
        let tuple = |i: u8| (ip(100 + i), 443, Proto::Tcp);
        // by profile and window, as the windows are run
        let d = super::Detections {
            beacons: vec![
                ((ip(1), 1, tuple(1)), score(0.1)),
                ((ip(1), 2, tuple(1)), score(0.2)),
                ((ip(1), 2, tuple(2)), score(0.3)),
                ((ip(2), 0, tuple(1)), score(0.4)),
            ],
            ..super::Detections::default()
        };
        let found = |p, n, t| d.beacon(ip(p), n, tuple(t)).map(|b| b.score);
        assert_eq!(found(1, 2, 2), Some(0.3));
        assert_eq!(found(1, 2, 1), Some(0.2));
        assert_eq!(found(2, 0, 1), Some(0.4));
        assert_eq!(found(1, 3, 1), None);
        assert_eq!(found(2, 0, 2), None);
        assert_eq!(found(3, 0, 1), None);
    }

    #[test]
    fn batches_keep_the_order_and_share_the_work() {
        // one busy window among many small ones
        let mut work: Vec<usize> = vec![1; 1000];
        work[500] = 400;
        let cut: Vec<&[usize]> = cut_by_work(&work, 8, |w| *w)
            .into_iter()
            .map(|r| &work[r])
            .collect();
        assert_eq!(cut.concat(), work, "every item once, in order");
        assert!(cut.iter().all(|b| !b.is_empty()));
        // total 1399: about 175 a batch, and the busy one alone closes its batch
        let sums: Vec<usize> = cut.iter().map(|b| b.iter().sum()).collect();
        assert!(sums.iter().all(|&s| s <= 175 + 400), "{sums:?}");
        assert!(cut.len() >= 6 && cut.len() <= 9, "{sums:?}");
        assert!(cut_by_work::<usize>(&[], 8, |w| *w).is_empty());
        assert_eq!(cut_by_work(&[0, 0, 0], 8, |w| *w), vec![(0..3)]);
    }
}
