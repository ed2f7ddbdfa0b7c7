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

use crate::input::Batch;
use crate::record::{Conn, Proto};
use ipnet::IpNet;
use letters::LetterState;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use window::{Anchor, Grid};

/// Which destinations get a server side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Source IPs get profiles; destinations inside the home network also get their server side.
    #[default]
    Out,
    /// Every IP gets both sides.
    All,
}

/// Profiler settings.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileConfig {
    /// Window width, seconds.
    pub tw_width: f64,
    /// Global or per-profile window grid.
    pub anchor: Anchor,
    /// Which destinations get a server side.
    pub direction: Direction,
    /// The home network (decides server sides in `out` mode).
    #[serde(serialize_with = "ser_nets")]
    pub home_net: Vec<IpNet>,
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
        }
    }
}

impl ProfileConfig {
    fn serves(&self, ip: IpAddr) -> bool {
        self.direction == Direction::All || self.home_net.iter().any(|n| n.contains(&ip))
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
    /// Behavioural letters, never truncated.
    pub letters: String,
    /// The times of the last two flows (Slips' stored pair).
    pub state: LetterState,
    /// Number of flows.
    pub flows: u32,
}

impl Tuple {
    /// Slips' tuple key, `<ip>-<port>-<proto>`.
    pub fn key(&self) -> String {
        format!("{}-{}-{}", self.remote, self.port, self.proto.as_str())
    }
}

/// One time window of one profile.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Window number (`timewindow<N>`).
    pub number: i64,
    /// Start time, unix seconds.
    pub start: f64,
    /// Connections where the profile is the client, in processing order (indices into `Store::conns`).
    pub out_flows: Vec<u32>,
    /// Connections where the profile is the server, in processing order.
    pub in_flows: Vec<u32>,
    /// Out-tuples in first-seen order.
    pub out_tuples: Vec<Tuple>,
    /// In-tuples (keyed by the client IP) in first-seen order.
    pub in_tuples: Vec<Tuple>,
    /// dns.log records sent by the profile, in processing order.
    pub dns: Vec<u32>,
    /// http.log records sent by the profile.
    pub http: Vec<u32>,
    /// ssl.log records sent by the profile.
    pub ssl: Vec<u32>,
    /// Records of other logs (dhcp, smtp, notice…) with the profile as source.
    pub other: u32,
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
    pub windows: BTreeMap<i64, Window>,
}

impl Profile {
    /// Total connections as client over all windows.
    pub fn out_flows(&self) -> usize {
        self.windows.values().map(|w| w.out_flows.len()).sum()
    }
}

/// Indices of one IP's records, in processing order.
#[derive(Default)]
struct Owned {
    out: Vec<u32>,
    inc: Vec<u32>,
    dns: Vec<u32>,
    http: Vec<u32>,
    ssl: Vec<u32>,
    other: Vec<u32>,
}

impl Owned {
    /// The earliest of the first processed record of each kind (Slips anchors a profile's
    /// windows at the first record it processes).
    fn first_ts(&self, b: &Batch) -> f64 {
        let firsts = [
            self.out.first().map(|&i| b.conns[i as usize].ts),
            self.inc.first().map(|&i| b.conns[i as usize].ts),
            self.dns.first().map(|&i| b.dns[i as usize].id.ts),
            self.http.first().map(|&i| b.http[i as usize].id.ts),
            self.ssl.first().map(|&i| b.ssl[i as usize].id.ts),
            self.other.first().map(|&i| b.activity[i as usize].ts),
        ];
        firsts.into_iter().flatten().fold(f64::INFINITY, f64::min)
    }
}

type Groups = FxHashMap<IpAddr, Vec<u32>>;

/// Groups record indices by an IP, keeping time order: each rayon task groups a contiguous range,
/// and ranges are merged left to right.
fn group<T: Sync>(items: &[T], key: impl Fn(&T) -> Option<IpAddr> + Sync) -> Groups {
    const CHUNK: usize = 1 << 16;
    items
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(c, chunk)| {
            let mut g: Groups = FxHashMap::default();
            for (i, item) in chunk.iter().enumerate() {
                if let Some(ip) = key(item) {
                    g.entry(ip).or_default().push((c * CHUNK + i) as u32);
                }
            }
            g
        })
        .reduce(FxHashMap::default, |mut a, b| {
            for (ip, mut v) in b {
                a.entry(ip).or_default().append(&mut v);
            }
            a
        })
}

/// Builds all profiles from records in processing order.
pub fn build(batch: &Batch, cfg: &ProfileConfig, global_anchor: f64) -> BTreeMap<IpAddr, Profile> {
    let other = group(&batch.activity, |a| Some(a.ip));
    let (out, (inc, (dns, (http, ssl)))) = rayon::join(
        || group(&batch.conns, |c| Some(c.orig_h)),
        || {
            rayon::join(
                || group(&batch.conns, |c| cfg.serves(c.resp_h).then_some(c.resp_h)),
                || {
                    rayon::join(
                        || group(&batch.dns, |d| Some(d.id.orig_h)),
                        || {
                            rayon::join(
                                || group(&batch.http, |h| Some(h.id.orig_h)),
                                || group(&batch.ssl, |s| Some(s.id.orig_h)),
                            )
                        },
                    )
                },
            )
        },
    );
    let mut owned: FxHashMap<IpAddr, Owned> = FxHashMap::default();
    for (ip, v) in out {
        owned.entry(ip).or_default().out = v;
    }
    for (ip, v) in inc {
        owned.entry(ip).or_default().inc = v;
    }
    for (ip, v) in dns {
        owned.entry(ip).or_default().dns = v;
    }
    for (ip, v) in http {
        owned.entry(ip).or_default().http = v;
    }
    for (ip, v) in ssl {
        owned.entry(ip).or_default().ssl = v;
    }
    for (ip, v) in other {
        owned.entry(ip).or_default().other = v;
    }
    let mut owned: Vec<(IpAddr, Owned)> = owned.into_iter().collect();
    owned.sort_unstable_by_key(|(ip, _)| *ip);
    owned
        .into_par_iter()
        .map(|(ip, o)| {
            let first_ts = o.first_ts(batch);
            let anchor = match cfg.anchor {
                Anchor::Global => global_anchor,
                Anchor::Profile => first_ts,
            };
            let grid = Grid {
                width: cfg.tw_width,
                anchor,
            };
            (ip, build_profile(ip, &o, grid, first_ts, batch))
        })
        .collect()
}

fn build_profile(ip: IpAddr, o: &Owned, grid: Grid, first_ts: f64, b: &Batch) -> Profile {
    let mut windows: BTreeMap<i64, Window> = BTreeMap::new();
    fn window(windows: &mut BTreeMap<i64, Window>, grid: Grid, t: f64) -> &mut Window {
        let n = grid.number(t);
        windows.entry(n).or_insert_with(|| Window {
            number: n,
            start: grid.start(n),
            ..Window::default()
        })
    }
    for &i in &o.out {
        window(&mut windows, grid, b.conns[i as usize].ts)
            .out_flows
            .push(i);
    }
    for &i in &o.inc {
        window(&mut windows, grid, b.conns[i as usize].ts)
            .in_flows
            .push(i);
    }
    for &i in &o.dns {
        window(&mut windows, grid, b.dns[i as usize].id.ts)
            .dns
            .push(i);
    }
    for &i in &o.http {
        window(&mut windows, grid, b.http[i as usize].id.ts)
            .http
            .push(i);
    }
    for &i in &o.ssl {
        window(&mut windows, grid, b.ssl[i as usize].id.ts)
            .ssl
            .push(i);
    }
    for &i in &o.other {
        window(&mut windows, grid, b.activity[i as usize].ts).other += 1;
    }
    for w in windows.values_mut() {
        w.out_tuples = tuples(&w.out_flows, &b.conns, |c| c.resp_h);
        w.in_tuples = tuples(&w.in_flows, &b.conns, |c| c.orig_h);
    }
    Profile {
        ip,
        first_ts,
        grid,
        windows,
    }
}

/// Tuples of a window's flows in first-seen order, with letters.
fn tuples(flows: &[u32], conns: &[Conn], remote: impl Fn(&Conn) -> IpAddr) -> Vec<Tuple> {
    let mut index: FxHashMap<(IpAddr, u16, Proto), usize> = FxHashMap::default();
    let mut out: Vec<Tuple> = Vec::new();
    for &i in flows {
        let c = &conns[i as usize];
        let key = (remote(c), c.resp_p, c.proto);
        let slot = *index.entry(key).or_insert_with(|| {
            out.push(Tuple {
                remote: key.0,
                port: key.1,
                proto: key.2,
                letters: String::new(),
                state: LetterState::default(),
                flows: 0,
            });
            out.len() - 1
        });
        let t = &mut out[slot];
        t.state.push(c.ts, c.duration, c.bytes(), &mut t.letters);
        t.flows += 1;
    }
    out
}
