//! The one interface every rule sees: [`Ctx`], the store and settings of one profile's window,
//! and [`Ctx::add`], which turns a [`Finding`] into evidence (or drops it when the whitelist
//! names a party). Also the small address and confidence helpers several rules share.
//!
//! It holds no rule itself.

use super::evidence::{Evidence, EvidenceKind, EvidenceParts, Flows, Party, Payload, ThreatLevel};
use super::{DetectConfig, beacon};
use crate::record::Sym;
use crate::store::Store;
use std::net::IpAddr;

/// What a rule found, before it is attached to a profile and window.
#[derive(Debug)]
pub(crate) struct Finding {
    pub kind: EvidenceKind,
    pub attacker: Party,
    pub victim: Option<Party>,
    /// `None`: the kind's default level.
    pub level: Option<ThreatLevel>,
    pub confidence: f64,
    pub payload: Payload,
    /// Time of the record that completed it.
    pub ts: f64,
    pub flows: Flows,
}

/// What the detections ask of a `service` or `history` symbol, computed once per run.
#[derive(Debug, Clone, Copy, Default)]
#[allow(clippy::struct_excessive_bools)]
pub(crate) struct SymFlags {
    pub http: bool,
    pub ssl: bool,
    pub dns: bool,
    pub ssh: bool,
    /// A history with `^` (the originator was flipped).
    pub flipped: bool,
    /// A history that starts with the originator's SYN (`S`).
    pub syn_first: bool,
    /// A history that starts with the originator's FIN (`F`).
    pub fin_first: bool,
    /// No history (unset, or a log without the column).
    pub empty: bool,
    /// Zeek saw the whole handshake (`S`… then `h`) and no bad checksum or content gap
    /// (`c`, `g`), so it had the payload to recognise a protocol in.
    pub readable: bool,
}

/// The flags of every symbol interned so far, indexed by [`Sym::index`].
pub(crate) fn sym_flags() -> Vec<SymFlags> {
    Sym::all()
        .iter()
        .map(|s| SymFlags {
            http: s.contains("http"),
            ssl: s.contains("ssl"),
            dns: s.contains("dns"),
            ssh: s.contains("ssh"),
            flipped: s.contains('^'),
            syn_first: s.starts_with('S'),
            fin_first: s.starts_with('F'),
            empty: s.is_empty(),
            readable: s.starts_with('S') && s.contains('h') && !s.contains(['c', 'C', 'g', 'G']),
        })
        .collect()
}

/// One profile's window under examination, and what the rules found in it so far.
pub(crate) struct Ctx<'a> {
    pub store: &'a Store,
    pub syms: &'a [SymFlags],
    pub cfg: &'a DetectConfig,
    /// The UDP flows that look like P2P when they are seen (see [`super::flows::p2p_flows`]).
    pub p2p: &'a crate::store::FlowSet,
    /// uids of the connections whose ssh record says the login succeeded.
    pub ssh_logged_in: &'a rustc_hash::FxHashSet<compact_str::CompactString>,
    /// The home network, as masks made once for the whole run.
    pub home: &'a crate::profile::HomeMatcher<'a>,
    pub profile: IpAddr,
    /// The profile's place in the store's address order (see [`super::victims::Probe`]).
    pub profile_number: u32,
    pub window: i64,
    /// Evidence: this window's from `first` on (before it, earlier windows' of the same part).
    pub out: Vec<Evidence>,
    /// Where this window's evidence starts in `out`.
    pub first: usize,
    /// Beacon scores of out-tuples, by tuple (for the UI's `h` view).
    pub beacons: Vec<(super::TupleId, beacon::Beacon)>,
    /// IPs and domains that matched threat intelligence, with the feed's description.
    pub ti_hits: Vec<(String, String)>,
    /// The connections of inbound-probe evidence, for the victims' aggregate (this window's
    /// at the end, after earlier windows' of the same part).
    pub probes: Vec<super::victims::Probe>,
}

impl Ctx<'_> {
    /// The flags of a `service` or `history` symbol.
    pub fn sym(&self, s: Sym) -> SymFlags {
        self.syms.get(s.index()).copied().unwrap_or_default()
    }

    /// The evidence this window found so far.
    pub fn found(&self) -> &[Evidence] {
        &self.out[self.first..]
    }

    /// The profile as a party.
    pub fn me(&self) -> Party {
        Party::Ip(self.profile)
    }

    /// Keeps a finding as evidence of this window, unless the whitelist names a party; whether
    /// it was kept.
    pub fn add(&mut self, f: Finding) -> bool {
        let wl = &self.cfg.whitelist;
        if wl.matches_party(&f.attacker) || f.victim.as_ref().is_some_and(|v| wl.matches_party(v)) {
            return false;
        }
        self.out.push(Evidence::from(EvidenceParts {
            kind: f.kind,
            profile: self.profile,
            window: self.window,
            attacker: f.attacker,
            victim: f.victim,
            threat_level: f.level.unwrap_or(f.kind.default_level()),
            confidence: f.confidence.clamp(0.0, 1.0),
            payload: f.payload,
            ts: f.ts,
            flows: f.flows,
        }));
        true
    }
}

/// The most entries a rule's map for one window is sized for when it gets its first: a window's
/// flow count bounds what such a map holds, and past this bound it grows as usual.
const ROOM_MAX: usize = 4096;

/// The room to reserve in an empty per-window map or set that may get up to `n` entries, before
/// its first insert: a map that grows from nothing is rehashed at every doubling, and the
/// rules' maps live one window each, so their growth was about a tenth of the detections' time.
pub(crate) fn room(n: usize) -> usize {
    n.min(ROOM_MAX)
}

/// Inserts into a per-window set that may get up to `n` entries, sizing it at its first (see
/// [`room`]); whether `value` was new.
pub(crate) fn insert_sized<T: std::hash::Hash + Eq>(
    set: &mut rustc_hash::FxHashSet<T>,
    value: T,
    n: usize,
) -> bool {
    if set.capacity() == 0 {
        set.reserve(room(n));
    }
    set.insert(value)
}

/// The entry of `key` in a per-window map that may get up to `n` entries, sizing the map at
/// its first (see [`room`]).
pub(crate) fn entry_sized<K: std::hash::Hash + Eq, V>(
    map: &mut rustc_hash::FxHashMap<K, V>,
    key: K,
    n: usize,
) -> std::collections::hash_map::Entry<'_, K, V> {
    if map.capacity() == 0 {
        map.reserve(room(n));
    }
    map.entry(key)
}

/// Slips' confidence from a packet count: 0.3 with none, n/10 up to 10, then 1.
pub(crate) fn confidence_from_packets(pkts: u64) -> f64 {
    if pkts > 10 {
        1.0
    } else if pkts == 0 {
        0.3
    } else {
        pkts as f64 / 10.0
    }
}

/// Addresses Slips never treats as a remote party: private, reserved, and IPv4 `.255`.
pub(crate) fn ignored(ip: IpAddr) -> bool {
    crate::record::special_address(ip).is_some()
        || matches!(ip, IpAddr::V4(v) if v.octets()[3] == 255)
}

/// Multicast and broadcast destinations.
pub(crate) fn multicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => v.is_multicast() || v.is_broadcast(),
        IpAddr::V6(v) => v.is_multicast(),
    }
}
