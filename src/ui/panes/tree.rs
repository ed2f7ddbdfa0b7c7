//! The profile tree pane: profiles (red when alerted, with the name the capture's DNS gave
//! them) and their windows; the tree's model is [`crate::ui::tree`].
//!
//! Expanding and filtering are the model's.

use crate::store::python::py_datetime;
use crate::ui::draw::{Viewport, block};
use crate::ui::keys::View;
use crate::ui::tree::Row;
use crate::ui::{App, Focus};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

/// A window's time range (`HH:MM–HH:MM`, UTC) and flow count, for its tree row.
fn window_summary(app: &App<'_>, ip: std::net::IpAddr, n: i64) -> String {
    let Some(w) = app.store.window(ip, n) else {
        return String::new();
    };
    let hm = |t: f64| {
        let s = py_datetime(t);
        s.get(11..16).unwrap_or(&s).to_string()
    };
    let flows = w.out_flows.len() + w.in_flows.len();
    format!(
        "{}–{} {flows}f",
        hm(w.start),
        hm(w.start + app.store.config.tw_width)
    )
}

pub(crate) fn tree_pane(f: &mut Frame<'_>, app: &App<'_>, vp: &mut Viewport, area: Rect) {
    let inner_h = usize::from(area.height.saturating_sub(2));
    vp.page = inner_h.max(1);
    let first = app.tree.selected.saturating_sub(vp.page.saturating_sub(1));
    let title = if app.tree.filter.is_empty() {
        format!(
            "IPs ({}, {} alerted)",
            app.tree.nodes.len(),
            app.tree.alerted()
        )
    } else {
        format!("IPs /{}", app.tree.filter)
    };
    let lines: Vec<Line<'_>> = app
        .tree
        .rows()
        .iter()
        .enumerate()
        .skip(first)
        .take(inner_h)
        .map(|(i, r)| {
            let (text, red) = match *r {
                Row::Profile(n) => {
                    let node = &app.tree.nodes[n];
                    let mark = if node.windows.is_empty() { " " } else { "▸" };
                    let name = node
                        .name
                        .as_deref()
                        .map(|s| format!(" {s}"))
                        .unwrap_or_default();
                    // the flag says it without colour too
                    let flag = if node.alerts > 0 {
                        format!(" ⚑{}", node.alerts)
                    } else {
                        String::new()
                    };
                    (
                        format!("{mark} {}{flag}{name}", node.ip),
                        !node.alerted.is_empty(),
                    )
                }
                Row::Window(n, w) => {
                    let node = &app.tree.nodes[n];
                    let open = app.window == Some((node.ip, w));
                    let alerted = node.alerted.contains(&w);
                    (
                        format!(
                            "  └{}tw{w} {}{}",
                            if open { "●" } else { "─" },
                            window_summary(app, node.ip, w),
                            match app.detections.alerts_of(node.ip, w).len() {
                                0 => String::new(),
                                n => format!(" ⚑{n}"),
                            }
                        ),
                        alerted,
                    )
                }
            };
            let mut style = Style::new().fg(if red { Color::Red } else { Color::Green });
            if i == app.tree.selected {
                style = style.add_modifier(Modifier::REVERSED);
            }
            Line::styled(text, style)
        })
        .collect();
    let mut lines = lines;
    if lines.is_empty() {
        lines.push(Line::from("no profile matches").dim());
    }
    f.render_widget(
        Paragraph::new(lines).block(
            block(&title, app.focus == Focus::Tree && app.view == View::Main)
                .title_bottom(format!("by {} (o)", app.tree.order.name())),
        ),
        area,
    );
}
