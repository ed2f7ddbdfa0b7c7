//! The two-list views (`e c b p n`): established rows above, not established below, each
//! with a log-scale bar; the rows come from [`crate::ui::lists`], computed when the view opens.

use crate::profile::aggregate::Family;
use crate::record::Established;
use crate::ui::App;
use crate::ui::draw::{Viewport, block, priority_that_fits, window_title};
use crate::ui::lists::{Source, rows};
use crate::ui::numbers::{human_bytes, thousands};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};

/// A log-scale bar: segments for ln(flows), ln(packets), ln(bytes), scaled to `width` by `max`.
fn log_bar(values: &[u64], max: f64, width: u16) -> Line<'static> {
    let colors = [Color::Green, Color::Magenta, Color::Cyan];
    let w = f64::from(width);
    let spans: Vec<Span<'static>> = values
        .iter()
        .zip(colors)
        .map(|(&v, c)| {
            let len = if max > 0.0 {
                ((v as f64 + 1.0).ln() / max * w).round() as usize
            } else {
                0
            };
            Span::styled("█".repeat(len), Style::new().fg(c))
        })
        .collect();
    Line::from(spans)
}

/// The rows of a page of `height` from `scroll`, which moves to keep row `at` in view (when
/// there is one) and stops where the last page is full.
fn scrolled<T: Clone>(rows: &[T], scroll: &mut usize, at: Option<usize>, height: usize) -> Vec<T> {
    if let Some(at) = at {
        *scroll = crate::ui::cursor::follow(*scroll, at, height);
    }
    let max = rows.len().saturating_sub(height.max(1));
    *scroll = (*scroll).min(max);
    rows.iter().skip(*scroll).take(height).cloned().collect()
}

/// How a two-list view is drawn: its column headers, the width and priority of each column
/// (the last is the bar, at least its width wide), and which of its numbers are bytes. A
/// narrow terminal drops the columns of the highest priority number first.
struct ListSpec {
    header: &'static [&'static str],
    widths: &'static [u16],
    priorities: &'static [u8],
    bytes_at: Option<usize>,
}

pub(crate) fn aggregate_view(
    f: &mut Frame<'_>,
    app: &App<'_>,
    vp: &mut Viewport,
    area: Rect,
    fam: Family,
) {
    let header: &'static [&'static str] = if fam.by_ip() {
        &[
            "IP",
            "flows",
            "packets",
            "bytes",
            "ln flows · ln packets · ln bytes",
        ]
    } else {
        &[
            "port",
            "flows",
            "packets",
            "bytes",
            "ln flows · ln packets · ln bytes",
        ]
    };
    let spec = ListSpec {
        header,
        widths: &[26, 9, 10, 12, 10],
        // key, flows, packets, bytes, bar
        priorities: &[0, 1, 2, 1, 3],
        bytes_at: Some(2),
    };
    two_lists(f, app, vp, area, &spec, Source::Family(fam));
}

pub(crate) fn port_ip_view(f: &mut Frame<'_>, app: &App<'_>, vp: &mut Viewport, area: Rect) {
    let spec = ListSpec {
        header: &["port", "IP", "packets", "ln packets"],
        widths: &[14, 40, 10, 10],
        priorities: &[0, 0, 1, 2],
        bytes_at: None,
    };
    two_lists(f, app, vp, area, &spec, Source::PortIps);
}

/// Established rows above, Not Established below; `Tab` moves the focus (and the scrolling)
/// between them.
fn two_lists(
    f: &mut Frame<'_>,
    app: &App<'_>,
    vp: &mut Viewport,
    area: Rect,
    spec: &ListSpec,
    source: Source,
) {
    let halves =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).split(area);
    for (i, state) in [Established::Established, Established::NotEstablished]
        .into_iter()
        .enumerate()
    {
        let rows = rows(app, source, state);
        let focused = app.lower == (i == 1);
        let h = usize::from(halves[i].height.saturating_sub(3));
        let mut own = 0;
        let scroll = if focused { &mut vp.scroll } else { &mut own };
        if focused {
            vp.page = h.max(1);
        }
        let total = rows.len();
        let shown = scrolled(&rows, scroll, focused.then_some(app.row), h);
        let first = *scroll;
        let max = rows
            .iter()
            .map(|r| r.bar.iter().map(|&v| (v as f64 + 1.0).ln()).sum::<f64>())
            .fold(0.0, f64::max);
        // the key column widens to the longest key of the page, so IPv6 peers are never cut;
        // the other columns go by priority when the terminal is narrow
        let mut widths = spec.widths.to_vec();
        let longest = shown
            .iter()
            .filter_map(|r| r.cells.first())
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(0);
        if let Some(w) = widths.first_mut() {
            *w = (*w).max(u16::try_from(longest).unwrap_or(u16::MAX));
        }
        let with_gaps: Vec<(u16, u8)> = widths
            .iter()
            .zip(spec.priorities)
            .map(|(w, p)| (w.saturating_add(1), *p))
            .collect();
        let inner = halves[i].width.saturating_sub(2);
        let keep = priority_that_fits(&with_gaps, inner);
        let on = |j: usize| spec.priorities.get(j).is_some_and(|p| *p <= keep);
        let bar_at = widths.len() - 1;
        let text: u16 = (0..bar_at).filter(|j| on(*j)).map(|j| with_gaps[j].0).sum();
        let bar_w = inner.saturating_sub(text).max(widths[bar_at]);
        let constraints: Vec<Constraint> = widths
            .iter()
            .enumerate()
            .filter(|(j, _)| on(*j))
            .map(|(j, w)| {
                if j == bar_at {
                    Constraint::Min(*w)
                } else {
                    Constraint::Length(*w)
                }
            })
            .collect();
        let table_rows: Vec<Row<'_>> = shown
            .into_iter()
            .enumerate()
            .map(|(k, r)| {
                let mut cells: Vec<Cell<'_>> = r.cells.into_iter().map(Cell::from).collect();
                cells.extend(r.bar.iter().enumerate().map(|(j, &v)| {
                    Cell::from(if app.exact {
                        v.to_string()
                    } else if spec.bytes_at == Some(j) {
                        human_bytes(v)
                    } else {
                        thousands(v)
                    })
                }));
                cells.push(Cell::from(log_bar(&r.bar, max, bar_w)));
                let cells: Vec<Cell<'_>> = cells
                    .into_iter()
                    .enumerate()
                    .filter(|(j, _)| on(*j))
                    .map(|(_, c)| c)
                    .collect();
                let style = if focused && first + k == app.row {
                    Style::new().add_modifier(Modifier::REVERSED)
                } else {
                    Style::new()
                };
                Row::new(cells).style(style)
            })
            .collect();
        let header = Row::new(
            spec.header
                .iter()
                .enumerate()
                .filter(|(j, _)| on(*j))
                .map(|(_, h)| Cell::from(*h).style(Style::new().fg(Color::Blue).bold())),
        );
        let range = if total > h && h > 0 {
            format!(", {}–{}", first + 1, (first + h).min(total))
        } else {
            String::new()
        };
        let range = if focused && total > 0 {
            format!("{range}, row {}", app.row.min(total - 1) + 1)
        } else {
            range
        };
        let title = window_title(
            app,
            &format!(
                "{} {} ({total} rows{range}; s orders, x exact numbers, Enter shows the flows)",
                source.name(),
                state.human()
            ),
        );
        let t = Table::new(table_rows, constraints)
            .header(header)
            .block(block(&title, focused));
        f.render_widget(t, halves[i]);
    }
}
