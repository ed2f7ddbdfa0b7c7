//! Evidence: the box under the timeline (the selected window's evidence, grouped by
//! [`crate::ui::evidence`]) and the `z` view (all evidence of the tree's profile, by window).
//! Descriptions pass the sanitiser.
//!
//! It does not compute evidence.

use crate::detect::ThreatLevel;
use crate::store::python::py_datetime;
use crate::ui::draw::{ORANGE, Viewport, block};
use crate::ui::evidence::EvRow;
use crate::ui::{App, Focus, clean};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// The evidence box of the main board: the window's evidence grouped by kind (what raised an
/// alert first, then by level), a ⚑ on what is part of an alert, the selected row reversed
/// when the box has the focus.
pub(crate) fn evidence_box(f: &mut Frame<'_>, app: &App<'_>, vp: &mut Viewport, area: Rect) {
    let list = &app.evidence;
    let count: usize = list.groups.iter().map(|g| g.members.len()).sum();
    let alerts = app
        .window
        .map_or(0, |(ip, n)| app.detections.alerts_of(ip, n).len());
    let title = if alerts > 0 {
        format!("Evidence ({count}) — ⚑ {alerts} ALERT(S)")
    } else {
        format!("Evidence ({count})")
    };
    let focused = app.focus == Focus::Evidence;
    let h = usize::from(area.height.saturating_sub(2)).max(1);
    let first = list.selected.saturating_sub(h - 1);
    vp.ev_scroll = first;
    let mut lines: Vec<Line<'static>> = list
        .rows()
        .iter()
        .enumerate()
        .skip(first)
        .take(h)
        .map(|(i, r)| {
            let line = evidence_row(app, *r);
            if focused && i == list.selected {
                line.patch_style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                line
            }
        })
        .collect();
    if lines.is_empty() {
        lines.push(match app.window {
            Some((ip, n)) => Line::from(format!("No evidence for {ip} in timewindow{n}.")).dim(),
            None => Line::from("Select a time window in the tree.").dim(),
        });
    }
    f.render_widget(
        Paragraph::new(lines)
            .scroll((0, app.ev_hscroll))
            .block(block(&title, focused)),
        area,
    );
}

/// `HH:MM:SS` of a time.
fn clock(ts: f64) -> String {
    let t = py_datetime(ts);
    t.get(11..19).unwrap_or(&t).to_string()
}

fn level_span(level: ThreatLevel) -> Span<'static> {
    let color = match level {
        ThreatLevel::Critical | ThreatLevel::High => Color::Red,
        ThreatLevel::Medium => ORANGE,
        ThreatLevel::Low => Color::Yellow,
        ThreatLevel::Info => Color::Gray,
    };
    Span::styled(
        format!("{:<8}", level.as_str()),
        Style::new().fg(color).bold(),
    )
}

fn flag_span(alerted: bool) -> Span<'static> {
    Span::styled(
        if alerted { "⚑ " } else { "  " },
        Style::new().fg(Color::Red),
    )
}

/// One row of the box: a group (`Kind ×N → T targets: …`), a group of one as its evidence, or
/// a member of an open group.
fn evidence_row(app: &App<'_>, row: EvRow) -> Line<'static> {
    let d = app.detections;
    let list = &app.evidence;
    match row {
        EvRow::Group(g) => {
            let Some(group) = list.groups.get(g) else {
                return Line::default();
            };
            if let [only] = group.members[..] {
                return d.evidence.get(only).map_or_else(Line::default, |e| {
                    evidence_line(e, list.in_alert.contains(&only))
                });
            }
            let (earliest, latest) = (
                group.members.first().and_then(|&i| d.evidence.get(i)),
                group.members.last().and_then(|&i| d.evidence.get(i)),
            );
            let span = match (earliest, latest) {
                (Some(a), Some(b)) => format!("{}–{} ", clock(a.ts), clock(b.ts)),
                _ => String::new(),
            };
            let shown: Vec<String> = group.targets.iter().take(4).map(|t| clean(t)).collect();
            let more = if group.targets.len() > 4 { " …" } else { "" };
            let targets = if group.targets.len() >= 1000 {
                "1000+".to_string()
            } else {
                group.targets.len().to_string()
            };
            Line::from(vec![
                level_span(group.level),
                flag_span(group.in_alert > 0),
                Span::raw(span),
                Span::styled(
                    format!("{} ×{} ▸ ", group.kind, group.members.len()),
                    Style::new().fg(Color::Green).bold(),
                ),
                Span::raw(format!("{targets} targets: {}{more}", shown.join(", "))),
            ])
        }
        EvRow::Member(_, i) => d.evidence.get(i).map_or_else(Line::default, |e| {
            let mut line = evidence_line(e, list.in_alert.contains(&i));
            line.spans.insert(0, Span::raw("  "));
            line
        }),
    }
}

/// One evidence line: level, ⚑ when it is part of an alert, time, type and description.
fn evidence_line(e: &crate::detect::Evidence, alerted: bool) -> Line<'static> {
    Line::from(vec![
        level_span(e.threat_level),
        flag_span(alerted),
        Span::raw(format!("{} ", clock(e.ts))),
        Span::styled(
            format!("Detected {} ", e.kind),
            Style::new().fg(Color::Green).bold(),
        ),
        Span::raw(clean(&e.description())),
    ])
}

pub(crate) fn evidence_view(f: &mut Frame<'_>, app: &App<'_>, vp: &mut Viewport, area: Rect) {
    // the tree's profile: the view answers for the profile being triaged
    let ip = app.tree.current_ip().or(app.window.map(|w| w.0));
    let title = ip.map_or_else(|| "Evidence".into(), |ip| format!("profile_{ip} Evidences"));
    let mut lines: Vec<Line<'static>> = Vec::new();
    if let Some(ip) = ip {
        let d = &app.detections;
        let start = d.evidence.partition_point(|e| e.profile < ip);
        let in_alert = d.in_alert(ip, None);
        let mut last = None;
        for (i, e) in d.of_profile(ip).enumerate() {
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
            lines.push(evidence_line(e, in_alert.contains(&(start + i))));
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
