//! The `?` view: the key table ([`crate::ui::keys::KEYS`]), one row per binding.
//!
//! No binding is written here.

use crate::ui::draw::{Viewport, block};
use crate::ui::keys::KEYS;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Stylize;
use ratatui::widgets::{Cell, Clear, Row, Table};

pub(crate) fn help_view(f: &mut Frame<'_>, vp: &mut Viewport, area: Rect) {
    let total = KEYS.len();
    let h = usize::from(area.height.saturating_sub(2));
    vp.scroll = vp.scroll.min(total.saturating_sub(h.max(1)));
    let rows: Vec<Row<'_>> = KEYS
        .iter()
        .skip(vp.scroll)
        .map(|b| Row::new(vec![Cell::from(b.label).yellow(), Cell::from(b.help)]))
        .collect();
    f.render_widget(Clear, area);
    f.render_widget(
        Table::new(rows, [Constraint::Length(10), Constraint::Min(10)])
            .block(block("Help: kalipso keys", true)),
        area,
    );
}
