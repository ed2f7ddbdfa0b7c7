//! The rows of the `h` / `i` views in the chosen order (first seen, flows, beacon score or
//! peer). The
//! order is computed in the update step when the view, the window or the order changes, and
//! kept, so a frame of a window with a million tuples reads it instead of sorting again. The
//! first row shown is the selected one.

use super::App;
use super::draw::tuples_of;
use super::keys::View;
use crate::profile::Tuple;
use std::net::IpAddr;

/// The order of the `h` and `i` views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TupleOrder {
    /// First seen (Slips' order).
    #[default]
    FirstSeen,
    /// Most flows first.
    Flows,
    /// Highest beacon score first.
    Beacon,
    /// By peer: address (as a number), then port and protocol.
    Peer,
}

impl TupleOrder {
    /// The next order of the cycle.
    #[must_use]
    pub fn next(self) -> TupleOrder {
        match self {
            TupleOrder::FirstSeen => TupleOrder::Flows,
            TupleOrder::Flows => TupleOrder::Beacon,
            TupleOrder::Beacon => TupleOrder::Peer,
            TupleOrder::Peer => TupleOrder::FirstSeen,
        }
    }

    /// Its name in the view's title.
    pub fn name(self) -> &'static str {
        match self {
            TupleOrder::FirstSeen => "first seen",
            TupleOrder::Flows => "flows",
            TupleOrder::Beacon => "beacon score",
            TupleOrder::Peer => "peer",
        }
    }
}

/// What an order is computed for: the window, in- or out-tuples, and the order.
type Key = (Option<(IpAddr, i64)>, bool, TupleOrder);

/// The kept order: what it was computed for, and the tuples' indices in that order.
#[derive(Debug, Default)]
pub struct TupleRows {
    key: Option<Key>,
    order: Vec<u32>,
    /// The longest tuple key of the window, so the key column is as wide on every page.
    key_width: usize,
}

fn key(app: &App<'_>, incoming: bool) -> Key {
    (app.window, incoming, app.tuple_order)
}

/// Recomputes the order when the `h` or `i` view is open and its window or order changed.
pub fn refresh(app: &mut App<'_>) {
    let incoming = match app.view {
        View::OutTuples => false,
        View::InTuples => true,
        _ => return,
    };
    let k = key(app, incoming);
    if app.tuple_rows.key == Some(k) {
        return;
    }
    let tuples = tuples_of(app, incoming);
    let mut order: Vec<u32> = (0..u32::try_from(tuples.len()).unwrap_or(u32::MAX)).collect();
    let at = |i: &u32| &tuples[*i as usize];
    match app.tuple_order {
        TupleOrder::FirstSeen => {}
        TupleOrder::Flows => order.sort_by_key(|i| std::cmp::Reverse(at(i).flows)),
        TupleOrder::Peer => order.sort_by_key(|i| {
            let t = at(i);
            (t.remote, t.port, t.proto)
        }),
        TupleOrder::Beacon => {
            let score = |t: &Tuple| {
                app.window
                    .and_then(|(ip, n)| app.detections.beacon(ip, n, (t.remote, t.port, t.proto)))
                    .map_or(-1.0, |b| b.score)
            };
            order.sort_by(|a, b| score(at(b)).total_cmp(&score(at(a))));
        }
    }
    let key_width = tuples.iter().map(|t| t.key().len()).max().unwrap_or(0);
    app.tuple_rows = TupleRows {
        key: Some(k),
        order,
        key_width,
    };
}

/// The tuple at row `row` of the open view (first seen when the kept order is for another).
pub fn get<'s>(app: &App<'s>, incoming: bool, row: usize) -> Option<&'s Tuple> {
    let tuples = tuples_of(app, incoming);
    let index = if app.tuple_rows.key == Some(key(app, incoming)) {
        *app.tuple_rows.order.get(row)? as usize
    } else {
        row
    };
    tuples.get(index)
}

/// The longest tuple key of the open view's window, once its rows are kept.
pub fn key_width(app: &App<'_>, incoming: bool) -> Option<usize> {
    (app.tuple_rows.key == Some(key(app, incoming))).then_some(app.tuple_rows.key_width)
}
