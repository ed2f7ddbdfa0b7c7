//! Profiler: one profile per IP, split into time windows, with out/in tuples and their
//! behavioural letters.
//!
//! Every source IP of a connection or application record gets a profile (Slips' `out`
//! direction). A destination IP also gets its server side (incoming flows and in-tuples) when it
//! is inside the home network, or always with `--direction all`. Windows keep the indices of
//! their flows in processing order (Slips' merge order, spec §8.2); the Slips aggregate fields are computed from them when asked
//! (see [`aggregate`]), so memory grows with flows, not with the number of aggregate keys.
//! Profiles are built in parallel, one task per IP, and come out sorted by IP.

pub mod aggregate;
pub mod letters;
pub mod window;
pub mod windows;

use crate::record::Batch;
use crate::record::{Conn, Proto};
use ipnet::IpNet;
use letters::LetterState;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use thin_vec::ThinVec;
use window::{Anchor, Grid};
use windows::Windows;

/// Which destinations get a server side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Source IPs get profiles; destinations inside the home network also get their server side.
    #[default]
    Out,
    /// Every IP gets both sides.
    All,
}

/// Profiler settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfileConfig {
    /// Window width, seconds.
    pub tw_width: f64,
    /// Global or per-profile window grid.
    pub anchor: Anchor,
    /// Which destinations get a server side.
    pub direction: Direction,
    /// The home network (decides server sides in `out` mode, and which flows come from
    /// outside for the detections).
    #[serde(serialize_with = "ser_nets")]
    pub home_net: Vec<IpNet>,
    /// Public addresses that Zeek marked local (`local_orig`/`local_resp`), also in the home
    /// network; learnt from the input unless `--home-net` was given.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub zeek_local: BTreeSet<IpAddr>,
    /// Where the home network came from.
    pub home_net_source: HomeNetSource,
    /// Grid starts of given profiles for the per-profile grid, instead of their first record:
    /// Slips numbered a profile's windows from the first flow that *arrived*, which a database
    /// read back (`kalipso open redis://`) keeps in its window starts but not in its flows.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub anchors: BTreeMap<IpAddr, f64>,
    /// The part of the store this worker computes and writes (`--shard K/N`); all of it when
    /// `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::shard::Shard>,
}

/// Where the home network came from, as the report says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HomeNetSource {
    /// The private and unique-local ranges: no `--home-net`, and the logs mark no public
    /// address local.
    #[default]
    PrivateRanges,
    /// The private ranges and the public addresses Zeek marked local.
    ZeekLocal,
    /// `--home-net`.
    Given,
}

impl HomeNetSource {
    /// How the report words it.
    pub fn describe(self) -> &'static str {
        match self {
            HomeNetSource::PrivateRanges => "the private ranges: no --home-net given",
            HomeNetSource::ZeekLocal => {
                "the private ranges and the addresses Zeek marked local in local_orig/local_resp"
            }
            HomeNetSource::Given => "from --home-net",
        }
    }
}

/// The mask of an IPv4 prefix of `len` bits.
fn v4_mask(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

/// The mask of an IPv6 prefix of `len` bits.
fn v6_mask(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

fn ser_nets<S: serde::Serializer>(nets: &[IpNet], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(nets.iter().map(ToString::to_string))
}

/// The private and unique-local ranges used when no `--home-net` is given.
pub fn default_home_net() -> Vec<IpNet> {
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect()
}

impl Default for ProfileConfig {
    fn default() -> Self {
        ProfileConfig {
            tw_width: 3600.0,
            anchor: Anchor::Global,
            direction: Direction::Out,
            home_net: default_home_net(),
            zeek_local: BTreeSet::new(),
            home_net_source: HomeNetSource::PrivateRanges,
            anchors: BTreeMap::new(),
            shard: None,
        }
    }
}

/// The home network as masks made once: the profile pass tests every connection's responder,
/// and matching each range's enum and building its mask for each test was about 8 % of the
/// pass's samples (`perf`, the 1 M-line realistic log). The rules use the same masks.
pub(crate) struct HomeMatcher<'a> {
    /// IPv4 ranges: (network, mask).
    v4: Vec<(u32, u32)>,
    /// IPv6 ranges: (network, mask).
    v6: Vec<(u128, u128)>,
    /// Public addresses Zeek marked local.
    zeek_local: &'a BTreeSet<IpAddr>,
    /// Every address gets a server side (`--direction all`).
    serves_all: bool,
}

impl HomeMatcher<'_> {
    /// Whether `ip` is in the home network: in one of its ranges, or marked local by Zeek.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let in_range = match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().any(|&(net, mask)| a & mask == net)
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.iter().any(|&(net, mask)| a & mask == net)
            }
        };
        in_range || (!self.zeek_local.is_empty() && self.zeek_local.contains(&ip))
    }

    /// Whether `ip` gets a server side.
    pub(crate) fn serves(&self, ip: IpAddr) -> bool {
        self.serves_all || self.contains(ip)
    }
}

impl ProfileConfig {
    /// The home network as masks.
    pub(crate) fn home_matcher(&self) -> HomeMatcher<'_> {
        let mut m = HomeMatcher {
            v4: Vec::new(),
            v6: Vec::new(),
            zeek_local: &self.zeek_local,
            serves_all: self.direction == Direction::All,
        };
        for net in &self.home_net {
            match net {
                IpNet::V4(n) => {
                    let mask = v4_mask(n.prefix_len());
                    m.v4.push((u32::from(n.addr()) & mask, mask));
                }
                IpNet::V6(n) => {
                    let mask = v6_mask(n.prefix_len());
                    m.v6.push((u128::from(n.addr()) & mask, mask));
                }
            }
        }
        m
    }

    /// The same settings with the public addresses Zeek marked local in the home network,
    /// unless the home network was given.
    #[must_use]
    pub fn with_zeek_local(mut self, local: &rustc_hash::FxHashSet<IpAddr>) -> Self {
        if self.home_net_source != HomeNetSource::Given && !local.is_empty() {
            self.zeek_local = local.iter().copied().collect();
            self.home_net_source = HomeNetSource::ZeekLocal;
        }
        self
    }
}

/// One tuple (remote IP, port, protocol) of a window with its letters.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuple {
    /// The other IP: destination for out-tuples, client for in-tuples.
    pub remote: IpAddr,
    /// Destination port (the profile's service port for in-tuples).
    pub port: u16,
    /// Transport protocol.
    pub proto: Proto,
    /// Where its behavioural letters are in its window's text ([`Window::letters`]).
    pub letters: Letters,
    /// Number of flows.
    pub flows: u32,
}

impl Tuple {
    /// Slips' tuple key, `<ip>-<port>-<proto>`.
    pub fn key(&self) -> String {
        format!("{}-{}-{}", self.remote, self.port, self.proto.as_str())
    }
}

/// A tuple's letters: a span of its window's text, never truncated.
///
/// A day of traffic has millions of tuples, most with a letter or two: a string in every tuple
/// (24 bytes inline, a heap copy past 24 letters) made a tuple 48 bytes; the letters of a
/// window's tuples in one text and an 8-byte span make it 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Letters {
    start: u32,
    len: u32,
}

impl Letters {
    /// How many letters (they are ASCII: one byte each).
    pub fn len(self) -> usize {
        self.len as usize
    }

    /// Whether there are none.
    pub fn is_empty(self) -> bool {
        self.len == 0
    }
}

/// One time window of one profile.
///
/// There are hundreds of thousands of windows on a day of traffic, most with a few flows and no
/// application records: thin vectors keep an empty list at 8 bytes instead of 24.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Window number (`timewindow<N>`).
    pub number: i64,
    /// Start time, unix seconds.
    pub start: f64,
    /// Connections where the profile is the client, in processing order (indices into `Store::conns`).
    pub out_flows: ThinVec<u32>,
    /// Connections where the profile is the server, in processing order.
    pub in_flows: ThinVec<u32>,
    /// Out-tuples in first-seen order.
    pub out_tuples: ThinVec<Tuple>,
    /// In-tuples (keyed by the client IP) in first-seen order.
    pub in_tuples: ThinVec<Tuple>,
    /// dns.log records sent by the profile, in processing order.
    pub dns: ThinVec<u32>,
    /// http.log records sent by the profile.
    pub http: ThinVec<u32>,
    /// ssl.log records sent by the profile.
    pub ssl: ThinVec<u32>,
    /// Records of other logs (dhcp, smtp, notice…) with the profile as source.
    pub other: u32,
    /// The letters of all its tuples, out-tuples first, one after another ([`Letters`]).
    pub text: Box<str>,
}

impl Window {
    /// The behavioural letters of one of its tuples.
    pub fn letters(&self, t: &Tuple) -> &str {
        let start = t.letters.start as usize;
        self.text.get(start..start + t.letters.len()).unwrap_or("")
    }

    /// Gives one of its tuples other letters (for tests and tools that build windows by hand);
    /// the old letters stay in the text, unused.
    pub fn set_letters(&mut self, incoming: bool, tuple: usize, letters: &str) {
        let mut text = std::mem::take(&mut self.text).into_string();
        let span = span_of(&mut text, letters);
        self.text = text.into_boxed_str();
        let tuples = if incoming {
            &mut self.in_tuples
        } else {
            &mut self.out_tuples
        };
        if let Some(t) = tuples.get_mut(tuple) {
            t.letters = span;
        }
    }
}

/// Appends `letters` to a window's text and says where they are.
fn span_of(text: &mut String, letters: &str) -> Letters {
    // a window's text stays far below 4 GB: a flow adds at most a few letters, and flows are
    // counted in `u32`
    let start = u32::try_from(text.len()).unwrap_or(u32::MAX);
    text.push_str(letters);
    Letters {
        start,
        len: u32::try_from(letters.len()).unwrap_or(0),
    }
}

/// One profile: an IP and its windows.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The profile's IP.
    pub ip: IpAddr,
    /// Time of the profile's first record.
    pub first_ts: f64,
    /// The profile's window grid.
    pub grid: Grid,
    /// Windows by number.
    pub windows: Windows,
}

impl Profile {
    /// Total connections as client over all windows.
    pub fn out_flows(&self) -> usize {
        self.windows.values().map(|w| w.out_flows.len()).sum()
    }
}

/// A profile being built during the pass.
struct Builder {
    grid: Grid,
    first_ts: f64,
    windows: Windows,
}

impl Builder {
    fn window(&mut self, t: f64) -> &mut Window {
        let n = self.grid.number(t);
        let grid = self.grid;
        self.windows.get_or_insert_with(n, || Window {
            number: n,
            start: grid.start(n),
            ..Window::default()
        })
    }

    fn finish(mut self, ip: IpAddr) -> Profile {
        self.windows.shrink_to_fit();
        for w in self.windows.values_mut() {
            w.out_flows.shrink_to_fit();
            w.in_flows.shrink_to_fit();
            w.dns.shrink_to_fit();
            w.http.shrink_to_fit();
            w.ssl.shrink_to_fit();
        }
        Profile {
            ip,
            first_ts: self.first_ts,
            grid: self.grid,
            windows: self.windows,
        }
    }
}

/// What the letters need of one flow, gathered from the records before use.
#[derive(Clone, Copy)]
struct FlowKey {
    remote: IpAddr,
    port: u16,
    proto: Proto,
    ts: f64,
    duration: f64,
    bytes: u64,
}

/// The tuples of a window's flows, in first-seen order, with their letters appended to `text`.
///
/// The flows are first copied into a buffer in one tight loop: the loads from the large record
/// vector are independent, so the CPU overlaps their cache misses instead of waiting for each
/// inside the hash-map work, and each connection is asked for [`GATHER_AHEAD`] flows early.
/// Each flow's symbol is then written once into a buffer of the window's symbols, and once more
/// to its place in `text`, where each tuple's letters follow one another: a string a tuple,
/// grown a character at a time and copied again into the text, was a tenth of the letters'
/// time (`perf`, the 5 M-line realistic log).
fn tuples(
    flows: &[u32],
    conns: &[Conn],
    remote: impl Fn(&Conn) -> IpAddr,
    scratch: &mut Scratch,
    text: &mut Vec<u8>,
) -> ThinVec<Tuple> {
    let Scratch {
        keys,
        index,
        tuples,
        states,
        symbols,
        lengths,
        cursors,
    } = scratch;
    keys.clear();
    keys.extend(flows.iter().enumerate().map(|(k, &i)| {
        if let Some(ahead) = flows
            .get(k + GATHER_AHEAD)
            .and_then(|&j| conns.get(j as usize))
        {
            ahead.prefetch();
        }
        let c = &conns[i as usize];
        FlowKey {
            remote: remote(c),
            port: c.resp_p,
            proto: c.proto,
            ts: c.ts,
            duration: c.duration,
            bytes: c.bytes(),
        }
    }));
    // A window of a few flows finds its tuples by looking through them, with no map to hash
    // into or to clear (clearing costs the map's capacity, which a large window left behind):
    // the letters' CPU at 5 M lines went from 0.97 to 0.885 s (medians of 6 alternating runs).
    let few = keys.len() <= FEW_FLOWS;
    if !few {
        index.clear();
    }
    tuples.clear();
    symbols.clear();
    lengths.clear();
    for k in keys.iter() {
        let key = (k.remote, k.port, k.proto);
        let slot = if few {
            match tuples
                .iter()
                .position(|t| (t.remote, t.port, t.proto) == key)
            {
                Some(at) => at as u32,
                None => new_tuple(tuples, states, k),
            }
        } else {
            *index
                .entry(key)
                .or_insert_with(|| new_tuple(tuples, states, k))
        };
        let before = symbols.len();
        states[slot as usize].push(k.ts, k.duration, k.bytes, symbols);
        // a symbol is a few characters: a letter, a time character and a `0` per hour of
        // silence, so a window's letters stay far below 4 GB
        let len = (symbols.len() - before) as u32;
        let t = &mut tuples[slot as usize];
        t.letters.len += len;
        t.flows += 1;
        lengths.push((slot, len));
    }
    // the letter states are only needed while letters are added (the dump recomputes the
    // times it shows, see `last_two_times`): 16 bytes less for each of millions of tuples
    states.clear();
    // each tuple's letters start where the one before it ends
    cursors.clear();
    let mut end = text.len();
    for t in tuples.iter_mut() {
        t.letters.start = u32::try_from(end).unwrap_or(u32::MAX);
        cursors.push(end);
        end += t.letters.len as usize;
    }
    text.resize(end, 0);
    let mut from = 0;
    for &(slot, len) in lengths.iter() {
        let (at, len) = (&mut cursors[slot as usize], len as usize);
        text[*at..*at + len].copy_from_slice(&symbols[from..from + len]);
        *at += len;
        from += len;
    }
    // One exactly sized allocation per window; the scratch space is reused by the next one.
    let mut out = ThinVec::with_capacity(tuples.len());
    out.extend(tuples.drain(..));
    // Clearing a hash map costs its capacity, not its length: after one huge window (a server
    // that a million hosts reached) every later clear would sweep it. Let it go instead.
    if index.capacity() > Scratch::KEEP {
        *scratch = Scratch::default();
    }
    out
}

/// Starts loading the connections of a window that [`tuples`] reads before its own asking
/// ahead reaches them: the first [`GATHER_AHEAD`] of each direction. Called for the next
/// window, so that they load while this one's letters are worked out.
fn load_first_flows(w: &Window, conns: &[Conn]) {
    for &i in w
        .out_flows
        .iter()
        .take(GATHER_AHEAD)
        .chain(w.in_flows.iter().take(GATHER_AHEAD))
    {
        if let Some(c) = conns.get(i as usize) {
            c.prefetch();
        }
    }
}

/// How many flows ahead [`tuples`] asks for a connection's two cache lines: the loop's own
/// loads overlap a few misses, and asking ahead for more took the letters' CPU at 5 M lines from
/// 0.835 to 0.775 s (medians of 6 alternating runs; 8 and 32 ahead were no better).
const GATHER_AHEAD: usize = 16;

/// Starts a tuple for the flow `k`; its slot.
fn new_tuple(tuples: &mut Vec<Tuple>, states: &mut Vec<LetterState>, k: &FlowKey) -> u32 {
    tuples.push(Tuple {
        remote: k.remote,
        port: k.port,
        proto: k.proto,
        letters: Letters::default(),
        flows: 0,
    });
    states.push(LetterState::default());
    (tuples.len() - 1) as u32
}

/// The most flows a window has for [`tuples`] to find their tuples without its map (32 gave
/// the same times).
const FEW_FLOWS: usize = 16;

/// Buffers reused from window to window by [`tuples`].
#[derive(Default)]
struct Scratch {
    keys: Vec<FlowKey>,
    index: FxHashMap<(IpAddr, u16, Proto), u32>,
    /// The tuples being built; their letters' spans hold only lengths until all flows are in.
    tuples: Vec<Tuple>,
    states: Vec<LetterState>,
    /// The symbols of the window's flows, in flow order.
    symbols: Vec<u8>,
    /// For each flow, its tuple's slot and its symbol's length.
    lengths: Vec<(u32, u32)>,
    /// Where each tuple's next symbol goes in the text.
    cursors: Vec<usize>,
}

impl Scratch {
    /// The largest map kept for the next window.
    const KEEP: usize = 4096;
}

/// A tuple's last two flow times: the one before the last, then the last.
pub type TupleTimes = (Option<f64>, Option<f64>);

/// The times of the last two flows of each tuple (Slips' stored pair: the one before the last,
/// then the last), in the tuples' order: `flows` are the window's flows of that side, `remote`
/// picks the tuple's other address as when the tuples were built.
pub fn last_two_times(
    tuples: &[Tuple],
    flows: &[u32],
    conns: &[Conn],
    remote: impl Fn(&Conn) -> IpAddr,
) -> Vec<TupleTimes> {
    let index: FxHashMap<(IpAddr, u16, Proto), usize> = tuples
        .iter()
        .enumerate()
        .map(|(i, t)| ((t.remote, t.port, t.proto), i))
        .collect();
    let mut times = vec![(None, None); tuples.len()];
    for c in flows.iter().filter_map(|&i| conns.get(i as usize)) {
        if let Some(&i) = index.get(&(remote(c), c.resp_p, c.proto)) {
            let t: &mut (Option<f64>, Option<f64>) = &mut times[i];
            *t = (t.1, Some(c.ts));
        }
    }
    times
}

/// The earliest first record of each IP in the application and other logs, which Slips' per
/// profile grid is anchored to when they come before the IP's first connection.
fn first_seen_elsewhere(batch: &Batch) -> FxHashMap<IpAddr, f64> {
    let mut first: FxHashMap<IpAddr, f64> = FxHashMap::default();
    // Each kind in processing order: its first record per IP, then the minimum over kinds.
    let mut merge = |records: &mut dyn Iterator<Item = (IpAddr, f64)>| {
        let mut seen = rustc_hash::FxHashSet::default();
        for (ip, ts) in records {
            if seen.insert(ip) {
                let v = first.entry(ip).or_insert(ts);
                *v = v.min(ts);
            }
        }
    };
    merge(&mut batch.dns.iter().map(|d| (d.id.orig_h, d.id.ts)));
    merge(&mut batch.http.iter().map(|h| (h.id.orig_h, h.id.ts)));
    merge(&mut batch.ssl.iter().map(|x| (x.id.orig_h, x.id.ts)));
    merge(&mut batch.activity.iter().map(|a| (a.ip, a.ts)));
    first
}

/// Builds all profiles from records in processing order.
///
/// One sequential pass over the records per shard; shard `k` of `n` owns the profiles whose IP
/// hashes to `k`. Every shard reads all records in order (streaming, cache-friendly) and keeps
/// only its own, so each profile sees its flows in processing order whatever the thread count.
pub fn build(batch: &Batch, cfg: &ProfileConfig, global_anchor: f64) -> BTreeMap<IpAddr, Profile> {
    let started = std::time::Instant::now();
    let elsewhere = first_seen_elsewhere(batch);
    let shards = rayon::current_num_threads().max(1);
    let parts: Vec<Vec<(IpAddr, Profile)>> = (0..shards)
        .into_par_iter()
        .map(|k| build_shard(batch, cfg, global_anchor, &elsewhere, k, shards))
        .collect();
    let mut profiles: Vec<(IpAddr, Profile)> = parts.into_iter().flatten().collect();
    if std::env::var_os("KALIPSO_TIMINGS").is_some() {
        eprintln!(
            "timing: profile pass {:?} (peak {})",
            started.elapsed(),
            crate::analysis::peak_memory()
        );
    }
    // Letters need each window's flows in processing order, which the pass kept.
    profiles
        .par_iter_mut()
        .for_each_init(Scratch::default, |scratch, (_, p)| {
            let mut text = Vec::new();
            let mut windows = p.windows.values_mut().peekable();
            while let Some(w) = windows.next() {
                if let Some(next) = windows.peek() {
                    load_first_flows(next, &batch.conns);
                }
                text.clear();
                w.out_tuples = tuples(&w.out_flows, &batch.conns, |c| c.resp_h, scratch, &mut text);
                w.in_tuples = tuples(&w.in_flows, &batch.conns, |c| c.orig_h, scratch, &mut text);
                // (letters are ASCII: nothing is replaced)
                w.text = String::from_utf8_lossy(&text).into();
            }
        });
    profiles.into_iter().collect()
}

fn shard_of(ip: &IpAddr, shards: usize) -> usize {
    use std::hash::BuildHasher;
    // Fx leaves addresses that differ in a few bits in the same few buckets (on a realistic
    // log one of two shards got 22,017 of 23,004 profiles, and the pass ran on one core):
    // mix all bits (splitmix64's finaliser) before taking the shard
    let mut h = rustc_hash::FxBuildHasher.hash_one(ip);
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h % shards as u64) as usize
}

fn build_shard(
    batch: &Batch,
    cfg: &ProfileConfig,
    global_anchor: f64,
    elsewhere: &FxHashMap<IpAddr, f64>,
    k: usize,
    shards: usize,
) -> Vec<(IpAddr, Profile)> {
    let mut builders: FxHashMap<IpAddr, Builder> = FxHashMap::default();
    let new_builder = |ip: IpAddr, ts: f64| -> Builder {
        let first_ts = elsewhere.get(&ip).map_or(ts, |e| e.min(ts));
        let anchor = match cfg.anchor {
            Anchor::Global => global_anchor,
            Anchor::Profile => cfg.anchors.get(&ip).copied().unwrap_or(first_ts),
        };
        Builder {
            grid: Grid {
                width: cfg.tw_width,
                anchor,
            },
            first_ts,
            windows: Windows::default(),
        }
    };
    let home = cfg.home_matcher();
    let mine = |ip: &IpAddr| shards == 1 || shard_of(ip, shards) == k;
    macro_rules! window {
        ($ip:expr, $ts:expr) => {
            builders
                .entry($ip)
                .or_insert_with(|| new_builder($ip, $ts))
                .window($ts)
        };
    }
    for (i, c) in batch.conns.iter().enumerate() {
        if mine(&c.orig_h) {
            window!(c.orig_h, c.ts).out_flows.push(i as u32);
        }
        if mine(&c.resp_h) && home.serves(c.resp_h) {
            window!(c.resp_h, c.ts).in_flows.push(i as u32);
        }
    }
    for (i, d) in batch.dns.iter().enumerate() {
        if mine(&d.id.orig_h) {
            window!(d.id.orig_h, d.id.ts).dns.push(i as u32);
        }
    }
    for (i, h) in batch.http.iter().enumerate() {
        if mine(&h.id.orig_h) {
            window!(h.id.orig_h, h.id.ts).http.push(i as u32);
        }
    }
    for (i, x) in batch.ssl.iter().enumerate() {
        if mine(&x.id.orig_h) {
            window!(x.id.orig_h, x.id.ts).ssl.push(i as u32);
        }
    }
    for a in &batch.activity {
        if mine(&a.ip) {
            window!(a.ip, a.ts).other += 1;
        }
    }
    // Finished in address order, the order every later stage visits profiles in: finishing
    // moves each window's lists into exactly sized allocations, which then lie in that order.
    let mut builders: Vec<(IpAddr, Builder)> = builders.into_iter().collect();
    builders.sort_unstable_by_key(|(ip, _)| *ip);
    builders
        .into_iter()
        .map(|(ip, b)| (ip, b.finish(ip)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_home_range_holds_what_ipnet_says_it_holds() {
        let mut rng = crate::rng::Rng::new(0x9e37_79b9_7f4a_7c15);
        let mut random = || rng.next();
        for _ in 0..50_000 {
            let (high, low) = (random(), random());
            let v6 = high & 1 == 1;
            let prefix = (low % if v6 { 129 } else { 33 }) as u8;
            // an address one bit away from the range's own, so that both answers occur
            let base = u128::from(high) << 64 | u128::from(low);
            let near = base ^ (1u128 << (random() % if v6 { 128 } else { 32 }));
            let made = if v6 {
                ipnet::Ipv6Net::new(base.into(), prefix)
                    .map(|r| (IpNet::V6(r), IpAddr::V6(near.into())))
            } else {
                ipnet::Ipv4Net::new((base as u32).into(), prefix)
                    .map(|r| (IpNet::V4(r), IpAddr::V4((near as u32).into())))
            };
            let Ok((range, ip)) = made else { continue };
            let other_family = if v6 {
                IpAddr::from([10, 0, 0, 1])
            } else {
                IpAddr::from([0u16; 8])
            };
            let cfg = ProfileConfig {
                home_net: vec![range],
                ..ProfileConfig::default()
            };
            let home = cfg.home_matcher();
            for probe in [ip, other_family] {
                assert_eq!(
                    home.contains(probe),
                    range.contains(&probe),
                    "{range} {probe}"
                );
            }
        }
    }

    #[test]
    fn profiles_spread_evenly_over_the_shards() {
        // addresses of one /16 and one /64, as a LAN's hosts are
        for shards in [2, 3, 16] {
            let mut count = vec![0usize; shards];
            for i in 0..20_000u32 {
                let ip = IpAddr::from([10, 0, (i >> 8) as u8, i as u8]);
                count[shard_of(&ip, shards)] += 1;
                // and of one IPv6 /64
                let ip = IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, (i >> 16) as u16, i as u16]);
                count[shard_of(&ip, shards)] += 1;
            }
            let even = 40_000 / shards;
            assert!(
                count
                    .iter()
                    .all(|&c| c > even * 9 / 10 && c < even * 11 / 10),
                "{shards}: {count:?}"
            );
        }
    }

    #[test]
    fn a_tuple_stays_small_and_its_last_two_times_replay_the_flows() {
        // millions of tuples: the letter state is not kept in them
        assert!(
            std::mem::size_of::<Tuple>() <= 32 && std::mem::size_of::<Window>() <= 96,
            "{} {}",
            std::mem::size_of::<Tuple>(),
            std::mem::size_of::<Window>()
        );
        let at = |ts: f64, port: u16| Conn {
            ts,
            orig_p: 50_000,
            resp_p: port,
            ..Conn::for_tests()
        };
        let conns = vec![at(1.0, 80), at(2.0, 443), at(3.0, 80), at(4.0, 80)];
        let mut scratch = Scratch::default();
        let flows = [0, 1, 2, 3];
        let mut text = Vec::new();
        let tuples = tuples(&flows, &conns, |c| c.resp_h, &mut scratch, &mut text);
        let text = String::from_utf8_lossy(&text);
        let times = last_two_times(&tuples, &flows, &conns, |c| c.resp_h);
        assert_eq!(tuples[0].port, 80);
        // each tuple's letters are its own span of the window's text
        let w = Window {
            text: text.as_ref().into(),
            ..Window::default()
        };
        assert_eq!(tuples[0].letters.len(), w.letters(&tuples[0]).len());
        assert_eq!(
            format!("{}{}", w.letters(&tuples[0]), w.letters(&tuples[1])),
            text
        );
        assert!(!w.letters(&tuples[0]).is_empty() && !w.letters(&tuples[1]).is_empty());
        assert_eq!(times, [(Some(3.0), Some(4.0)), (None, Some(2.0))]);
    }

    #[test]
    fn interleaved_tuples_get_the_letters_of_their_own_flows_in_order() {
        // flows of fourteen tuples interleaved (two addresses, seven ports), with gaps from a
        // second to two hours (so that symbols have one to four characters), and sizes and
        // durations across the letters' edges
        let mut rng = crate::rng::Rng::new(11);
        let mut random = |n: u64| rng.below(n);
        let mut ts = 1_000.0;
        let conns: Vec<Conn> = (0..400)
            .map(|_| {
                ts += [1.0, 7.0, 100.0, 4_000.0, 7_300.0][random(5) as usize];
                Conn {
                    ts,
                    resp_h: IpAddr::from([192, 0, 2, 1 + random(2) as u8]),
                    resp_p: 80 + random(7) as u16,
                    duration: [0.05, 3.0, 20.0][random(3) as usize],
                    orig_bytes: [10, 700, 5_000][random(3) as usize],
                    ..Conn::for_tests()
                }
            })
            .collect();
        // a large window, small ones (found without the map) and a large one again, with the
        // same scratch space
        let mut scratch = Scratch::default();
        for n in [400, 12, FEW_FLOWS, 400, 5] {
            let flows: Vec<u32> = (0..n as u32).collect();
            let mut text = b"earlier tuples' letters".to_vec();
            let tuples = tuples(&flows, &conns, |c| c.resp_h, &mut scratch, &mut text);
            let w = Window {
                text: String::from_utf8_lossy(&text).into(),
                ..Window::default()
            };
            let keys: BTreeSet<(IpAddr, u16)> =
                conns[..n].iter().map(|c| (c.resp_h, c.resp_p)).collect();
            assert_eq!(tuples.len(), keys.len(), "{n} flows");
            for t in &tuples {
                let own: Vec<(f64, f64, u64)> = conns[..n]
                    .iter()
                    .filter(|c| (c.resp_h, c.resp_p) == (t.remote, t.port))
                    .map(|c| (c.ts, c.duration, c.bytes()))
                    .collect();
                assert_eq!(
                    w.letters(t),
                    letters::letters(&own),
                    "{n} flows, {}",
                    t.key()
                );
                assert_eq!(t.flows as usize, own.len());
            }
            assert!(w.text.starts_with("earlier tuples' letters"));
        }
    }
}
