//! The two-list views (`e c b p n`): established rows above, not established below, each
//! with a log-scale bar; the rows come from [`crate::ui::lists`], computed when the view opens.

use crate::profile::aggregate::Family;
use crate::record::Established;
use crate::ui::App;
use crate::ui::draw::{Viewport, block, window_title};
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

fn scrolled<T: Clone>(rows: &[T], scroll: &mut usize, height: usize) -> Vec<T> {
    let max = rows.len().saturating_sub(height.max(1));
    *scroll = (*scroll).min(max);
    rows.iter().skip(*scroll).take(height).cloned().collect()
}

/// How a two-list view is drawn: its name, column headers and widths, the columns its bar
/// leaves to the text, and which of its numbers are bytes.
struct ListSpec {
    header: &'static [&'static str],
    widths: &'static [Constraint],
    text_width: u16,
    bytes_at: Option<usize>,
}

pub(crate) fn aggregate_view(
    f: &mut Frame<'_>,
    app: &App<'_>,
    vp: &mut Viewport,
    area: Rect,
    fam: Family,
) {
    const WIDTHS: [Constraint; 5] = [
        Constraint::Length(26),
        Constraint::Length(9),
        Constraint::Length(10),
        Constraint::Length(12),
        Constraint::Min(10),
    ];
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
        widths: &WIDTHS,
        text_width: 60,
        bytes_at: Some(2),
    };
    two_lists(f, app, vp, area, &spec, Source::Family(fam));
}

pub(crate) fn port_ip_view(f: &mut Frame<'_>, app: &App<'_>, vp: &mut Viewport, area: Rect) {
    const WIDTHS: [Constraint; 4] = [
        Constraint::Length(14),
        Constraint::Length(40),
        Constraint::Length(10),
        Constraint::Min(10),
    ];
    let spec = ListSpec {
        header: &["port", "IP", "packets", "ln packets"],
        widths: &WIDTHS,
        text_width: 50,
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
        let shown = scrolled(&rows, scroll, h);
        let first = *scroll;
        let max = rows
            .iter()
            .map(|r| r.bar.iter().map(|&v| (v as f64 + 1.0).ln()).sum::<f64>())
            .fold(0.0, f64::max);
        let bar_w = halves[i].width.saturating_sub(spec.text_width).max(10);
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
                // the first row shown of the focused list is the selected one
                let style = if focused && k == 0 {
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
                .map(|h| Cell::from(*h).style(Style::new().fg(Color::Blue).bold())),
        );
        let range = if total > h && h > 0 {
            format!(", {}–{}", first + 1, (first + h).min(total))
        } else {
            String::new()
        };
        let title = window_title(
            app,
            &format!(
                "{} {} ({total} rows{range}; s orders, x exact numbers, Enter shows the flows)",
                source.name(),
                state.human()
            ),
        );
        let t = Table::new(table_rows, spec.widths.iter().copied())
            .header(header)
            .block(block(&title, focused));
        f.render_widget(t, halves[i]);
    }
}
