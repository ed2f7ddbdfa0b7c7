//! The rows of the two-list views (`e c b p n`): an aggregate family's rows, or destination
//! port × IP, each for established and not established flows. They are computed when a view
//! opens or the window changes ([`refresh`], from the update step) and kept per (view,
//! window, state), so scrolling a window of a million flows stays instant; drawing only reads
//! them ([`rows`]).

use crate::profile::aggregate::{self, Aggregate, Family};
use crate::record::{Established, Proto};
use crate::ui::App;
use crate::ui::keys::View;
use std::net::IpAddr;
use std::rc::Rc;

/// One row of the two-list views (`e c b p n`): its text cells and the values of its
/// log-scale bar.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRow {
    /// Its text cells.
    pub cells: Vec<String>,
    /// The values of its bar.
    pub bar: Vec<u64>,
}

/// The rows kept: (view, window, established) → rows.
pub type Cache = Vec<(
    (&'static str, Option<(IpAddr, i64)>, bool),
    Rc<Vec<ListRow>>,
)>;

/// What a two-list view lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An aggregate family: key, flows, packets, bytes.
    Family(Family),
    /// Destination port × IP: port, IP, packets.
    PortIps,
}

impl Source {
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

fn key(
    app: &App<'_>,
    source: Source,
    state: Established,
) -> (&'static str, Option<(IpAddr, i64)>, bool) {
    (source.name(), app.window, state == Established::Established)
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
        let rows = Rc::new(source.compute(app, state));
        app.lists.retain(|(c, _)| c.0 == k.0 && c.1 == k.1);
        app.lists.push((k, rows));
    }
}

/// The rows of one list: kept ones, else computed now (and not kept: drawing changes nothing).
pub fn rows(app: &App<'_>, source: Source, state: Established) -> Rc<Vec<ListRow>> {
    let k = key(app, source, state);
    app.lists
        .iter()
        .find(|(c, _)| *c == k)
        .map_or_else(|| Rc::new(source.compute(app, state)), |(_, r)| r.clone())
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
        out.extend(rows.into_iter().map(|(k, fl, p, b)| ListRow {
            cells: vec![
                format!("{}/{k}", proto.upper()),
                fl.to_string(),
                p.to_string(),
                b.to_string(),
            ],
            bar: vec![fl, p, b],
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
                    cells: vec![
                        format!("{}/{port}", proto.upper()),
                        ip.to_string(),
                        pk.to_string(),
                    ],
                    bar: vec![pk],
                }));
            }
        }
    }
    rows
}
