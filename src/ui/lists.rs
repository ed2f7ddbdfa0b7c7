//! The rows of the two-list views (`e c b p n`): an aggregate family's rows, or destination
//! port × IP, each for established and not established flows. They are computed when a view
//! opens, the window or the order changes ([`refresh`], from the update step) and kept sorted
//! per (view, window, state, order), so scrolling a window of a million flows stays instant;
//! drawing only reads them ([`rows`]).

use crate::profile::aggregate::{self, Aggregate, Family};
use crate::record::{Established, Proto};
use crate::ui::App;
use crate::ui::keys::View;
use std::net::IpAddr;
use std::rc::Rc;

/// One row of the two-list views (`e c b p n`): its text cells, its numbers (shown as columns
/// and as the log-scale bar) and the flows it stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRow {
    /// Its text cells (key, or port and IP).
    pub cells: Vec<String>,
    /// Its numbers: flows, packets, bytes (aggregates) or packets (port × IP).
    pub bar: Vec<u64>,
    /// The flows it stands for.
    pub drill: Drill,
}

/// Which of a window's flows a row stands for (Enter shows them in the timeline). Its order
/// is the rows' key order: protocol, port, then address, as numbers (10.0.0.2 before
/// 10.0.0.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Drill {
    /// Flows with this peer (destination, or client on the server side).
    Ip(IpAddr),
    /// Flows to this destination port.
    DstPort(Proto, u16),
    /// Flows from this source port.
    SrcPort(Proto, u16),
    /// Flows to this port of this IP.
    PortIp(Proto, u16, IpAddr),
}

impl Drill {
    /// Whether connection `c`, seen from the profile's side, is one of the row's flows.
    pub fn matches(self, c: &crate::record::Conn, incoming: bool) -> bool {
        let peer = if incoming { c.orig_h } else { c.resp_h };
        match self {
            Drill::Ip(ip) => peer == ip,
            Drill::DstPort(p, port) => c.proto == p && c.resp_p == port,
            Drill::SrcPort(p, port) => c.proto == p && c.orig_p == port,
            Drill::PortIp(p, port, ip) => c.proto == p && c.resp_p == port && peer == ip,
        }
    }

    /// The IP a copy takes, if the row names one.
    pub fn ip(self) -> Option<IpAddr> {
        match self {
            Drill::Ip(ip) | Drill::PortIp(_, _, ip) => Some(ip),
            _ => None,
        }
    }
}

/// How a two-list view orders its rows: as computed, or by one of the numbers (largest first),
/// or by one of the text cells (as addresses and ports, not as text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListOrder {
    /// TCP, then UDP, then the rest, each by bytes (or packets).
    #[default]
    Default,
    /// By number `i`, largest first.
    Number(usize),
    /// By text cell `i`: 0 is the key (port or IP), 1 the IP of a port × IP row.
    Key(usize),
}

impl ListOrder {
    /// The next order for rows with `numbers` numbers and `texts` text cells.
    #[must_use]
    pub fn next(self, numbers: usize, texts: usize) -> ListOrder {
        match self {
            ListOrder::Default if numbers > 0 => ListOrder::Number(0),
            ListOrder::Number(i) if i + 1 < numbers => ListOrder::Number(i + 1),
            ListOrder::Default | ListOrder::Number(_) => ListOrder::Key(0),
            ListOrder::Key(i) if i + 1 < texts => ListOrder::Key(i + 1),
            ListOrder::Key(_) => ListOrder::Default,
        }
    }

    /// Puts rows computed in the default order into this order (stable, so ties keep it).
    fn sort(self, rows: &mut [ListRow]) {
        match self {
            ListOrder::Default => {}
            ListOrder::Number(i) => {
                rows.sort_by_key(|r| std::cmp::Reverse(r.bar.get(i).copied().unwrap_or(0)));
            }
            ListOrder::Key(0) => rows.sort_by_key(|r| r.drill),
            ListOrder::Key(_) => rows.sort_by_key(|r| match r.drill {
                Drill::PortIp(p, port, ip) => (Some(ip), p, port),
                other => (other.ip(), Proto::Unknown, 0),
            }),
        }
    }
}

/// What a list's rows depend on: view, window, established, order.
type CacheKey = (&'static str, Option<(IpAddr, i64)>, bool, ListOrder);

/// The rows kept, sorted: key → rows.
pub type Cache = Vec<(CacheKey, Rc<Vec<ListRow>>)>;

/// What a two-list view lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An aggregate family: key, flows, packets, bytes.
    Family(Family),
    /// Destination port × IP: port, IP, packets.
    PortIps,
}

impl Source {
    /// How many numbers and text cells its rows have.
    pub fn columns(self) -> (usize, usize) {
        match self {
            Source::Family(_) => (3, 1),
            Source::PortIps => (1, 2),
        }
    }

    /// The source of a view, if it is a two-list view.
    pub fn of(view: View) -> Option<Source> {
        Some(match view {
            View::SrcPortsClient => Source::Family(Family::SrcPortsClient),
            View::DstIpsClient => Source::Family(Family::DstIPsClient),
            View::DstPortsServer => Source::Family(Family::DstPortsServer),
            View::DstPortsClient => Source::Family(Family::DstPortsClient),
            View::DstPortIpsClient => Source::PortIps,
            _ => return None,
        })
    }

    /// Its name in titles (and in the cache key).
    pub fn name(self) -> &'static str {
        match self {
            Source::Family(f) => f.name(),
            Source::PortIps => "DstPortsClient × IP",
        }
    }

    fn compute(self, app: &App<'_>, state: Established) -> Vec<ListRow> {
        match self {
            Source::Family(fam) => family_rows(app, fam, state),
            Source::PortIps => port_ip_rows(app, state),
        }
    }
}

fn key(app: &App<'_>, source: Source, state: Established) -> CacheKey {
    (
        source.name(),
        app.window,
        state == Established::Established,
        app.list_order,
    )
}

/// The rows of one list in the chosen order.
fn compute(app: &App<'_>, source: Source, state: Established) -> Vec<ListRow> {
    let mut rows = source.compute(app, state);
    app.list_order.sort(&mut rows);
    rows
}

/// Computes the rows of the open view for the selected window, unless they are kept already;
/// rows of other views or windows are dropped.
pub fn refresh(app: &mut App<'_>) {
    let Some(source) = Source::of(app.view) else {
        return;
    };
    for state in [Established::Established, Established::NotEstablished] {
        let k = key(app, source, state);
        if app.lists.iter().any(|(c, _)| *c == k) {
            continue;
        }
        let rows = Rc::new(compute(app, source, state));
        // keep the other state's rows of this very list; drop everything else
        app.lists
            .retain(|(c, _)| c.0 == k.0 && c.1 == k.1 && c.3 == k.3);
        app.lists.push((k, rows));
    }
}

/// The rows of one list: kept ones, else computed now (and not kept: drawing changes nothing).
pub fn rows(app: &App<'_>, source: Source, state: Established) -> Rc<Vec<ListRow>> {
    let k = key(app, source, state);
    app.lists
        .iter()
        .find(|(c, _)| *c == k)
        .map_or_else(|| Rc::new(compute(app, source, state)), |(_, r)| r.clone())
}

/// The list that has the focus: the lower one (not established) or the upper one.
pub fn state(lower: bool) -> Established {
    if lower {
        Established::NotEstablished
    } else {
        Established::Established
    }
}

/// The selected row of the open two-list view: row [`App::row`] of the focused list, in the
/// chosen order.
pub fn selected(app: &App<'_>) -> Option<ListRow> {
    let source = Source::of(app.view)?;
    rows(app, source, state(app.lower)).get(app.row).cloned()
}

/// The flows of the shown window on one side (`server`: where the profile answered).
fn flows_of<'s>(app: &App<'s>, server: bool) -> &'s [u32] {
    app.shown_window()
        .map_or(&[], |w| if server { &w.in_flows } else { &w.out_flows })
}

/// An aggregate family's rows: key, flows, packets, bytes; TCP then UDP then the rest, each by
/// bytes.
fn family_rows(app: &App<'_>, fam: Family, state: Established) -> Vec<ListRow> {
    let flows = flows_of(app, fam.is_server());
    let fields = aggregate::family(&app.store.conns, flows, fam);
    let mut out = Vec::new();
    for proto in [Proto::Tcp, Proto::Udp, Proto::Icmp, Proto::Unknown] {
        let Some(agg) = fields.get(&(proto, state)) else {
            continue;
        };
        let mut rows = agg.totals();
        rows.sort_by(|a, b| b.3.cmp(&a.3).then(a.0.cmp(&b.0)));
        out.extend(rows.into_iter().map(|(k, fl, p, b)| {
            let port = k.parse::<u16>().unwrap_or(0);
            let drill = match fam {
                Family::DstIPsClient | Family::SrcIPsServer => k
                    .parse::<IpAddr>()
                    .map_or(Drill::DstPort(proto, port), Drill::Ip),
                Family::SrcPortsClient | Family::SrcPortsServer => Drill::SrcPort(proto, port),
                Family::DstPortsClient | Family::DstPortsServer => Drill::DstPort(proto, port),
            };
            ListRow {
                cells: vec![format!("{}/{k}", proto.upper())],
                bar: vec![fl, p, b],
                drill,
            }
        }));
    }
    out
}

/// Destination port × IP rows: port, IP, packets (busiest peer first within a port).
fn port_ip_rows(app: &App<'_>, state: Established) -> Vec<ListRow> {
    let flows = flows_of(app, false);
    let fields = aggregate::family(&app.store.conns, flows, Family::DstPortsClient);
    let mut rows = Vec::new();
    for proto in [Proto::Tcp, Proto::Udp, Proto::Icmp, Proto::Unknown] {
        if let Some(Aggregate::Ports(m)) = fields.get(&(proto, state)) {
            for (port, e) in m {
                let mut peers: Vec<(&IpAddr, u64)> =
                    e.peers.iter().map(|(ip, p)| (ip, p.pkts)).collect();
                peers.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                rows.extend(peers.into_iter().map(|(ip, pk)| ListRow {
                    cells: vec![format!("{}/{port}", proto.upper()), ip.to_string()],
                    bar: vec![pk],
                    drill: Drill::PortIp(proto, *port, *ip),
                }));
            }
        }
    }
    rows
}
