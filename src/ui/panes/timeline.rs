//! The timeline pane: a window's flows as Kalipso coloured them, each followed by the rows of
//! its application record's interpretation; the model is [`crate::store::timeline`].
//!
//! It does not interpret records itself.

use crate::record::Proto;
use crate::store::python;
use crate::store::timeline::{self, Interpretation, TimelineRow};
use crate::ui::app::TimelineLine;
use crate::ui::draw::{BLUE, CYAN, ORANGE, PINK, VALUE, Viewport, block};
use crate::ui::{App, Focus, clean};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// The interpretation rows of a timeline entry (spec §4.2), escaped for display.
pub fn info_lines(info: &Interpretation<'_>) -> Vec<(String, String)> {
    info.rows()
        .into_iter()
        .map(|(k, v)| (k, clean(&v)))
        .collect()
}

/// One timeline row as Kalipso colours it (spec §4.2).
pub fn timeline_spans(r: &TimelineRow<'_>) -> Vec<Span<'static>> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut s = vec![
        Span::styled(python::slips_timestamp(r.ts), bold),
        Span::raw(" "),
    ];
    let remote = if r.incoming { r.saddr } else { r.daddr };
    // an incoming flow names its client: the arrow says which way it went, without colour
    let peer = if r.incoming {
        format!("IN<-[{remote}]")
    } else {
        format!("[{remote}]")
    };
    if r.proto == Proto::Icmp {
        s.push(Span::styled(
            r.service
                .clone()
                .unwrap_or_else(|| "ICMP Unknown type".into()),
            Style::new().fg(BLUE),
        ));
        s.push(Span::raw(" "));
        s.push(Span::styled(peer, Style::new().fg(CYAN)));
        s.push(Span::raw(" Size:"));
        s.push(Span::styled(r.total().to_string(), Style::new().fg(VALUE)));
        s.push(Span::raw(" Duration:"));
        s.push(Span::styled(
            python::py_float(python::round3(r.duration)),
            Style::new().fg(VALUE),
        ));
        s.push(Span::raw(" "));
        s.push(Span::styled(
            format!("{}/ICMP", r.port),
            Style::new().fg(Color::Yellow).bold(),
        ));
        return s;
    }
    s.push(Span::styled(
        r.service.clone().unwrap_or_else(|| "????".into()),
        Style::new().fg(BLUE),
    ));
    s.push(Span::raw(" "));
    let dns = match r.dns.len() {
        0 => "????".to_string(),
        1..=3 => clean(&r.dns.join(",")),
        n => clean(r.dns[n - 1]),
    };
    s.push(Span::styled(dns, Style::new().fg(PINK)));
    s.push(Span::raw(" "));
    s.push(Span::styled(peer, Style::new().fg(CYAN)));
    s.push(Span::raw(" "));
    s.push(Span::styled(
        format!("{}/{}", r.port, r.proto.upper()),
        Style::new().fg(Color::Yellow).bold(),
    ));
    if r.total() == 0 {
        s.push(Span::styled(" No data exchange!", Style::new().fg(ORANGE)));
    }
    for (k, v) in [
        ("Sent", r.sent.to_string()),
        ("Recv", r.recv.to_string()),
        ("Tot", r.total().to_string()),
        ("Duration", python::py_float(python::round3(r.duration))),
    ] {
        s.push(Span::raw(format!(" {k}:")));
        s.push(Span::styled(v, Style::new().fg(VALUE)));
    }
    if r.service.is_none() {
        s.push(Span::styled(
            " Protocol not recognized by Slips nor Zeek.",
            Style::new().fg(Color::Red),
        ));
    }
    s
}

/// An ARP record of the profile: time, operation, the address asked about, the Ethernet
/// destination and the target's hardware address.
fn arp_line(app: &App<'_>, k: usize) -> Line<'static> {
    let Some(a) = app.store.events.get(k) else {
        return Line::default();
    };
    let Some(d) = a.detail.as_ref().and_then(crate::record::Detail::arp) else {
        return Line::default();
    };
    let target = d.resp.map_or_else(|| "?".to_string(), |ip| ip.to_string());
    let mac = |m: Option<crate::record::Mac>| m.map_or_else(|| "-".to_string(), |m| m.to_string());
    Line::from(vec![
        Span::styled(
            python::slips_timestamp(a.ts),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(" "),
        Span::styled(
            format!("ARP {}", d.operation.as_str()),
            Style::new().fg(BLUE),
        ),
        Span::raw(" "),
        Span::styled(format!("[{target}]"), Style::new().fg(CYAN)),
        Span::raw(format!(
            " to {} target hw {}",
            mac(d.dst_mac),
            mac(d.target_hw)
        )),
    ])
}

#[allow(clippy::many_single_char_names)]
pub(crate) fn timeline_pane(f: &mut Frame<'_>, app: &App<'_>, vp: &mut Viewport, area: Rect) {
    let focused = app.focus == Focus::Timeline;
    let Some((ip, n)) = app.window else {
        f.render_widget(Paragraph::new("").block(block("Timeline", focused)), area);
        return;
    };
    let start = app.store.window(ip, n).map(|w| w.start).unwrap_or_default();
    let when = python::slips_timestamp(start);
    let when = when.get(..19).unwrap_or_default();
    let title = match &app.only {
        // narrowed by Enter on a table row or an evidence: say to what, and how to undo it
        Some(only) => format!(
            "Timeline: {ip} timewindow{n} {when}: only {} ({} flows; Esc shows all)",
            only.label, only.flows
        ),
        None => format!(
            "Timeline: {ip} timewindow{n} {when} ({} lines)",
            app.timeline.len()
        ),
    };
    let h = usize::from(area.height.saturating_sub(2));
    if focused {
        vp.page = h.max(1);
    }
    vp.scroll = crate::ui::cursor::follow(vp.scroll, app.cursor, h);
    if !focused {
        vp.scroll = vp.scroll.min(app.timeline.len().saturating_sub(1));
    }
    let mut lines = Vec::with_capacity(h);
    for (i, l) in app.timeline.iter().enumerate().skip(vp.scroll).take(h) {
        let (e, sub) = match *l {
            TimelineLine::Flow(e, sub) => (e, sub),
            TimelineLine::Arp(k) => {
                let mut line = arp_line(app, k);
                if focused && i == app.cursor {
                    line = line.patch_style(Style::new().add_modifier(Modifier::REVERSED));
                }
                lines.push(line);
                continue;
            }
        };
        let sub = &sub;
        let Some(row) = timeline::timeline_row(app.store, e) else {
            continue;
        };
        let mut line = if *sub == 0 {
            Line::from(timeline_spans(&row))
        } else {
            let info = info_lines(&row.info);
            let (k, v) = info.get(usize::from(*sub) - 1).cloned().unwrap_or_default();
            Line::from(vec![
                Span::styled(format!("{:20}{k}", ""), Style::new().bold()),
                Span::raw(":"),
                Span::styled(v, Style::new().fg(PINK)),
            ])
        };
        if focused && i == app.cursor {
            line = line.patch_style(Style::new().add_modifier(Modifier::REVERSED));
        }
        lines.push(line);
    }
    if lines.is_empty() {
        lines.push(Line::from("No TCP/UDP/ICMP flows in this window.").dim());
    }
    f.render_widget(
        Paragraph::new(lines)
            .scroll((0, app.hscroll))
            .block(block(&title, focused)),
        area,
    );
}
