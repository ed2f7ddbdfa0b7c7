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

pub(crate) fn tuples_view(
    f: &mut Frame<'_>,
    app: &App<'_>,
    vp: &mut Viewport,
    area: Rect,
    incoming: bool,
) {
    const CHUNK: usize = 40;
    let h = usize::from(area.height.saturating_sub(3));
    vp.page = h.max(1);
    let total = tuples_of(app, incoming).len();
    vp.scroll = vp.scroll.min(total.saturating_sub(1));
    // the page: at most one tuple per line, from the selected one, in the kept order
    let page: Vec<(usize, &Tuple)> = (vp.scroll..total)
        .take(h.max(1))
        .map_while(|i| tuple_rows::get(app, incoming, i).map(|t| (i, t)))
        .collect();
    // the tuple column fits the longest key of the page (IPv6 ones too); the others go in
    // order of priority when the terminal is narrow, so tuple, letters and flows always stay
    let key_w = page
        .iter()
        .map(|(_, t)| t.key().len())
        .max()
        .unwrap_or(10)
        .clamp(10, 52);
    let key_w = u16::try_from(key_w).unwrap_or(52);
    // (width with its gap, priority) of: tuple, letters, flows, beacon, DNS, SNI, AS, geo
    let cols: [(u16, u8); 8] = [
        (key_w + 1, 0),
        (42, 0),
        (7, 0),
        (7, 1),
        (21, 2),
        (13, 3),
        (15, 3),
        (9, 2),
    ];
    let keep = priority_that_fits(&cols, area.width.saturating_sub(2));
    let shown = |i: usize| cols[i].1 <= keep;
    let mut used = 0;
    let mut rows = Vec::new();
    for (i, t) in page {
        if used >= h {
            break;
        }
        let letters: Vec<String> = t
            .letters
            .as_bytes()
            .chunks(CHUNK)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let domains: Vec<String> = app
            .store
            .dns_resolution
            .get(&t.remote)
            .map(|r| r.domains.iter().map(|d| clean(&d.0)).collect())
            .unwrap_or_default();
        let snis: Vec<String> = app
            .store
            .sni
            .get(&t.remote)
            .map(|v| {
                v.iter()
                    .rev()
                    .take(3)
                    .filter(|s| s.1 == t.port && t.proto == Proto::Tcp)
                    .map(|s| clean(&s.0))
                    .collect()
            })
            .unwrap_or_default();
        // a long letter string is cut to what fits, with its length said
        let room = h - used;
        let mut height = letters.len().max(domains.len()).max(snis.len()).max(1);
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
        let beacon = app.window.and_then(|(ip, n)| {
            app.detections
                .beacons
                .get(&(ip, n, (t.remote, t.port, t.proto)))
        });
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
                // the first row shown is the selected one (w copies its IP, Enter shows its flows)
                .style(if i == vp.scroll {
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
            "{} ({} tuples, from {}, by {}; s orders, Enter shows the flows)",
            if incoming { "InTuples" } else { "OutTuples" },
            total,
            (vp.scroll + 1).min(total),
            app.tuple_order.name()
        ),
    );
    let widths: Vec<Constraint> = [
        Constraint::Length(key_w),
        Constraint::Length(41),
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
