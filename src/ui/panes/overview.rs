//! The `v` view, the landing screen when there are alerts: the rows of
//! [`crate::ui::overview`], section titles in bold, alerted suspects red and flagged, the cursor
//! reversed.
//!
//! It builds no row itself.

use crate::ui::App;
use crate::ui::draw::{Viewport, block};
use crate::ui::overview::OverviewRow;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

pub(crate) fn overview_view(f: &mut Frame<'_>, app: &App<'_>, vp: &mut Viewport, area: Rect) {
    overview_rows(f, &app.overview, app.ov_cursor, vp, area);
}

/// Draws `rows` with the cursor on row `cursor` (also while a saved analysis loads, from the
/// rows saved with it: [`crate::ui::loading`]).
pub(crate) fn overview_rows(
    f: &mut Frame<'_>,
    rows: &[OverviewRow],
    cursor: usize,
    vp: &mut Viewport,
    area: Rect,
) {
    let h = usize::from(area.height.saturating_sub(2)).max(1);
    vp.page = h;
    // keep the cursor in sight, with its section title when it fits
    let first = cursor.saturating_sub(h.saturating_sub(2));
    vp.scroll = first;
    let lines: Vec<Line<'_>> = rows
        .iter()
        .enumerate()
        .skip(first)
        .take(h)
        .map(|(i, r)| {
            let mut style = if r.heading {
                Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
            } else if r.alerted {
                Style::new().fg(Color::Red)
            } else {
                Style::new()
            };
            if i == cursor {
                style = style.add_modifier(Modifier::REVERSED);
            }
            let text = if r.heading {
                r.text.clone()
            } else {
                format!("  {}", r.text)
            };
            Line::styled(text, style)
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(block(
            "Overview (↑ ↓ move, Enter opens the window, Esc the board)",
            true,
        )),
        area,
    );
}
