//! Evidence: the box under the timeline (the selected window's evidence) and the `z` view
//! (all evidence of the profile, by window). Descriptions pass the sanitiser.
//!
//! It does not compute evidence.

use crate::ui::draw::{ORANGE, Viewport, block};
use crate::ui::{App, Focus, clean};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// The evidence box of the main board: the window's evidence, a flag on what raised an alert.
pub(crate) fn evidence_box(f: &mut Frame<'_>, app: &App<'_>, vp: &mut Viewport, area: Rect) {
    let (count, alerts) = app.window.map_or((0, 0), |(ip, n)| {
        (
            app.detections.of_window(ip, n).len(),
            app.detections.alerts_of(ip, n).len(),
        )
    });
    let title = if alerts > 0 {
        format!("Evidence ({count}) — {alerts} ALERT(S)")
    } else {
        format!("Evidence ({count})")
    };
    vp.ev_scroll = vp.ev_scroll.min(count.saturating_sub(1));
    let scroll = u16::try_from(vp.ev_scroll).unwrap_or(u16::MAX);
    let ev = Paragraph::new(evidence_text(app))
        .scroll((scroll, 0))
        .block(block(&title, app.focus == Focus::Evidence));
    f.render_widget(ev, area);
}

/// One evidence line: level, type and description, coloured by level; a flag when it is part
/// of an alert.
fn evidence_line(e: &crate::detect::Evidence, alerted: bool) -> Line<'static> {
    use crate::detect::ThreatLevel as T;
    let color = match e.threat_level {
        T::Critical | T::High => Color::Red,
        T::Medium => ORANGE,
        T::Low => Color::Yellow,
        T::Info => Color::Gray,
    };
    Line::from(vec![
        Span::styled(
            format!("{:<8}", e.threat_level.as_str()),
            Style::new().fg(color).bold(),
        ),
        Span::styled(
            if alerted { "⚑ " } else { "  " },
            Style::new().fg(Color::Red),
        ),
        Span::styled(
            format!("Detected {} ", e.kind),
            Style::new().fg(Color::Green).bold(),
        ),
        Span::raw(clean(&e.description())),
    ])
}

fn evidence_text(app: &App<'_>) -> Vec<Line<'static>> {
    let d = &app.detections;
    let Some((ip, n)) = app.window else {
        return vec![Line::from("Select a time window in the tree.").dim()];
    };
    let in_alert: std::collections::HashSet<usize> = d
        .alerts_of(ip, n)
        .iter()
        .flat_map(|a| a.evidence.iter().copied())
        .collect();
    let lines: Vec<Line<'static>> = d
        .window_range(ip, n)
        .map(|i| evidence_line(&d.evidence[i], in_alert.contains(&i)))
        .collect();
    if lines.is_empty() {
        vec![Line::from(format!("No evidence for {ip} in timewindow{n}.")).dim()]
    } else {
        lines
    }
}

pub(crate) fn evidence_view(f: &mut Frame<'_>, app: &App<'_>, vp: &mut Viewport, area: Rect) {
    let ip = app.info_ip.or(app.window.map(|w| w.0));
    let title = ip.map_or_else(|| "Evidence".into(), |ip| format!("profile_{ip} Evidences"));
    let mut lines: Vec<Line<'static>> = Vec::new();
    if let Some(ip) = ip {
        let d = &app.detections;
        let mut last = None;
        for e in d.of_profile(ip) {
            if last != Some(e.window) {
                let alerts = d.alerts_of(ip, e.window).len();
                let note = if alerts > 0 {
                    format!("  ({alerts} alert(s))")
                } else {
                    String::new()
                };
                lines.push(Line::styled(
                    format!("timewindow{}{note}", e.window),
                    Style::new()
                        .fg(if alerts > 0 { Color::Red } else { Color::Blue })
                        .bold(),
                ));
                last = Some(e.window);
            }
            lines.push(evidence_line(e, false));
        }
        if lines.is_empty() {
            lines.push(Line::from(format!("No evidence for {ip}.")).dim());
        }
    } else {
        lines.push(Line::from("No profile selected.").dim());
    }
    let h = usize::from(area.height.saturating_sub(2));
    vp.page = h.max(1);
    vp.scroll = vp.scroll.min(lines.len().saturating_sub(1));
    f.render_widget(
        Paragraph::new(lines)
            .scroll((u16::try_from(vp.scroll).unwrap_or(u16::MAX), 0))
            .block(block(&title, true)),
        area,
    );
}
