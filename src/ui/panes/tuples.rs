//! The `h` and `i` views: a window's out- or in-tuples with their behavioural letters, beacon
//! score, DNS names, SNI, AS and country.
//!
//! Letters are not recomputed here.

use crate::profile::Tuple;
use crate::record::Proto;
use crate::ui::draw::{Viewport, block, dash, priority_that_fits, tuples_of, window_title};
use crate::ui::tuple_rows;
use crate::ui::{App, clean};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::widgets::{Cell, Row, Table};

/// Letters per line of the letters column, when the terminal has the room.
const CHUNK: usize = 40;

/// The lines tuple `t` takes: its letters in lines of `chunk`, its DNS names and its SNIs,
/// one a line.
fn lines_of(app: &App<'_>, t: &Tuple, chunk: usize) -> usize {
    let letters = t.letters.len().div_ceil(chunk);
    let domains = app
        .store
        .dns_resolution
        .get(&t.remote)
        .map_or(0, |r| r.domains.len());
    letters.max(domains).max(snis_of(app, t).count()).max(1)
}

/// The SNIs a tuple shows: of the last three server names seen for its address, those on its
/// port, for TCP tuples.
fn snis_of<'s>(app: &App<'s>, t: &Tuple) -> impl Iterator<Item = &'s str> {
    let (port, tcp) = (t.port, t.proto == Proto::Tcp);
    app.store
        .sni
        .get(&t.remote)
        .into_iter()
        .flat_map(|v| v.iter().rev().take(3))
        .filter(move |s| tcp && s.1 == port)
        .map(|s| s.0.as_str())
}

/// The first row to show so that the selected row is on a page of `h` lines: rows are as tall
/// as their content (a row taller than the page is cut to it), so the scroll moves back from
/// the selected row as far as the page holds.
fn first_shown(app: &App<'_>, incoming: bool, scroll: usize, h: usize, chunk: usize) -> usize {
    let at = app.row;
    if at < scroll {
        return at;
    }
    let height =
        |i: usize| tuple_rows::get(app, incoming, i).map_or(1, |t| lines_of(app, t, chunk).min(h));
    let mut used = 0;
    for i in scroll..=at {
        used += height(i);
        if used > h {
            // the page from `scroll` ends before the selected row: end the page on it
            let mut first = at;
            let mut used = height(at);
            while first > 0 && used + height(first - 1) <= h {
                first -= 1;
                used += height(first);
            }
            return first;
        }
    }
    scroll
}

pub(crate) fn tuples_view(
    f: &mut Frame<'_>,
    app: &App<'_>,
    vp: &mut Viewport,
    area: Rect,
    incoming: bool,
) {
    let h = usize::from(area.height.saturating_sub(3));
    vp.page = h.max(1);
    let total = tuples_of(app, incoming).len();
    // the tuple column fits the window's longest key (IPv6 ones too), so it keeps its width
    // from page to page; the letters take what is left up to 40 a line, and the other columns
    // go in order of priority when the terminal is narrow, so tuple, letters and flows stay
    let key_w = tuple_rows::key_width(app, incoming)
        .unwrap_or_else(|| {
            (vp.scroll..total)
                .take(h.max(1))
                .filter_map(|i| tuple_rows::get(app, incoming, i))
                .map(|t| t.key().len())
                .max()
                .unwrap_or(10)
        })
        .clamp(10, 52);
    let key_w = u16::try_from(key_w).unwrap_or(52);
    let inner = area.width.saturating_sub(2);
    let chunk = usize::from(inner.saturating_sub(key_w + 1 + 7 + 2)).clamp(10, CHUNK);
    let letters_w = u16::try_from(chunk).unwrap_or(40) + 1;
    vp.scroll = first_shown(app, incoming, vp.scroll, h, chunk).min(total.saturating_sub(1));
    // the page: at most one tuple per line, from the first shown, in the kept order
    let page: Vec<(usize, &Tuple)> = (vp.scroll..total)
        .take(h.max(1))
        .map_while(|i| tuple_rows::get(app, incoming, i).map(|t| (i, t)))
        .collect();
    // (width with its gap, priority) of: tuple, letters, flows, beacon, DNS, SNI, AS, geo
    let cols: [(u16, u8); 8] = [
        (key_w + 1, 0),
        (letters_w + 1, 0),
        (7, 0),
        (7, 1),
        (21, 2),
        (13, 3),
        (15, 3),
        (9, 2),
    ];
    let keep = priority_that_fits(&cols, inner);
    let shown = |i: usize| cols[i].1 <= keep;
    let window = app.shown_window();
    let mut used = 0;
    let mut rows = Vec::new();
    for (i, t) in page {
        if used >= h {
            break;
        }
        let letters: Vec<String> = window
            .map_or("", |w| w.letters(t))
            .as_bytes()
            .chunks(chunk)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let domains: Vec<String> = app
            .store
            .dns_resolution
            .get(&t.remote)
            .map(|r| r.domains.iter().map(|d| clean(&d.0)).collect())
            .unwrap_or_default();
        let snis: Vec<String> = snis_of(app, t).map(clean).collect();
        // a long letter string is cut to what fits, with its length said
        let room = h - used;
        let mut height = lines_of(app, t, chunk);
        let mut letter_lines = letters;
        if height > room {
            height = room.max(1);
            if letter_lines.len() > height {
                let n = t.letters.len();
                letter_lines.truncate(height.saturating_sub(1));
                letter_lines.push(format!("… ({n} letters)"));
            }
        }
        let place = app.geo.place(t.remote);
        let beacon = app
            .window
            .and_then(|(ip, n)| app.detections.beacon(ip, n, (t.remote, t.port, t.proto)));
        let join = |v: &[String]| {
            v.iter()
                .take(height)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        };
        let cells = vec![
            Cell::from(t.key()),
            Cell::from(join(&letter_lines)),
            Cell::from(t.flows.to_string()),
            match beacon {
                Some(b) if b.score >= crate::detect::beacon::THRESHOLD => {
                    Cell::from(format!("{:.2}", b.score)).style(Style::new().fg(Color::Red).bold())
                }
                Some(b) => Cell::from(format!("{:.2}", b.score)),
                None => Cell::from("-"),
            },
            Cell::from(join(&domains)),
            Cell::from(join(&snis)),
            Cell::from(dash(&place.asn)),
            Cell::from(dash(&place.country)),
        ];
        let cells: Vec<Cell<'_>> = cells
            .into_iter()
            .enumerate()
            .filter(|(i, _)| shown(*i))
            .map(|(_, c)| c)
            .collect();
        rows.push(
            Row::new(cells)
                .height(u16::try_from(height).unwrap_or(u16::MAX))
                // w copies the selected row's IP, Enter shows its flows
                .style(if i == app.row {
                    Style::new().add_modifier(Modifier::REVERSED)
                } else {
                    Style::new()
                }),
        );
        used += height;
    }
    let header = Row::new(
        [
            if incoming { "In tuple" } else { "Out tuple" },
            "Flow behaviour (letters)",
            "flows",
            "beacon",
            "DNS resolution",
            "SNI",
            "AS",
            "geo",
        ]
        .into_iter()
        .enumerate()
        .filter(|(i, _)| shown(*i))
        .map(|(_, h)| Cell::from(h).style(Style::new().fg(Color::Blue).bold())),
    );
    let title = window_title(
        app,
        &format!(
            "{} ({} tuples, row {}, by {}; s orders, Enter shows the flows)",
            if incoming { "InTuples" } else { "OutTuples" },
            total,
            (app.row + 1).min(total),
            app.tuple_order.name()
        ),
    );
    let widths: Vec<Constraint> = [
        Constraint::Length(key_w),
        Constraint::Length(letters_w),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Min(20),
        Constraint::Min(12),
        Constraint::Length(14),
        Constraint::Length(8),
    ]
    .into_iter()
    .enumerate()
    .filter(|(i, _)| shown(*i))
    .map(|(_, c)| c)
    .collect();
    let t = Table::new(rows, widths)
        .header(header)
        .block(block(&title, true));
    f.render_widget(t, area);
}
