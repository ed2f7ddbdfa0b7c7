//! Drawing: a pure function of [`App`]'s state. Only visible rows are built, so a frame costs
//! the same for 10 or 100,000 profiles.

use super::keys::{KEYS, View};
use super::{App, Focus, clean, geo};
use crate::profile::Tuple;
use crate::profile::aggregate::{self, Aggregate, Family};
use crate::record::{Established, Proto};
use crate::store::python;
use crate::store::timeline::{self, Interpretation, TimelineRow};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Map, MapResolution};
use ratatui::widgets::{Block, BorderType, Cell, Clear, Paragraph, Row, Table};
use std::net::IpAddr;

/// Width of the profile tree.
pub const TREE_WIDTH: u16 = 30;

const CYAN: Color = Color::Rgb(112, 168, 154);
const ORANGE: Color = Color::Rgb(255, 165, 0);
const BLUE: Color = Color::Rgb(51, 153, 255);
const VALUE: Color = Color::Rgb(255, 153, 51);
const PINK: Color = Color::Rgb(219, 112, 147);

fn block(title: &str, focused: bool) -> Block<'static> {
    Block::bordered()
        .border_type(BorderType::Plain)
        .border_style(Style::new().fg(if focused { Color::Magenta } else { Color::Blue }))
        .title(clean(title))
}

/// Draws the whole screen.
pub fn frame(f: &mut Frame<'_>, app: &mut App<'_>) {
    let [body, bar] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(f.area());
    match app.view {
        View::Main => main_board(f, app, body),
        View::SrcPortsClient => aggregate_view(f, app, body, Family::SrcPortsClient),
        View::DstIpsClient => aggregate_view(f, app, body, Family::DstIPsClient),
        View::DstPortsServer => aggregate_view(f, app, body, Family::DstPortsServer),
        View::DstPortsClient => aggregate_view(f, app, body, Family::DstPortsClient),
        View::DstPortIpsClient => port_ip_view(f, app, body),
        View::OutTuples => tuples_view(f, app, body, false),
        View::InTuples => tuples_view(f, app, body, true),
        View::Map => map_view(f, app, body),
        View::ProfileEvidence => evidence_view(f, app, body),
        View::Help => help_view(f, app, body),
    }
    hotkey_bar(f, app, bar);
}

fn hotkey_bar(f: &mut Frame<'_>, app: &App<'_>, area: Rect) {
    if let Some(q) = &app.search {
        let line = Line::from(vec![
            Span::styled(
                "search (IP, port or domain): /",
                Style::new().fg(Color::Yellow),
            ),
            Span::raw(clean(q)),
            Span::styled("█", Style::new().fg(Color::Yellow)),
        ]);
        f.render_widget(Paragraph::new(line), area);
        return;
    }
    let mut spans = Vec::new();
    let here = |v: View| {
        if app.view == v {
            Style::new().fg(Color::Black).bg(Color::Red)
        } else {
            Style::new()
        }
    };
    spans.push(Span::styled(" main ", here(View::Main)));
    for b in KEYS {
        if let super::keys::Action::Open(v) = b.action {
            spans.push(Span::styled(b.key, Style::new().fg(Color::Yellow)));
            spans.push(Span::styled(format!(":{} ", v.name()), here(v)));
        }
    }
    spans.push(Span::styled("w", Style::new().fg(Color::Yellow)));
    spans.push(Span::raw(":copy "));
    spans.push(Span::styled("/", Style::new().fg(Color::Yellow)));
    spans.push(Span::raw(":search "));
    spans.push(Span::styled("q", Style::new().fg(Color::Yellow)));
    spans.push(Span::raw(":quit "));
    if !app.status.is_empty() {
        // the status replaces the key list: it is what the user needs to read now
        spans = vec![Span::styled(
            format!(" {} ", clean(&app.status)),
            Style::new().fg(Color::Black).bg(Color::Yellow),
        )];
        spans.push(Span::raw("  ?:help q:quit"));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn main_board(f: &mut Frame<'_>, app: &mut App<'_>, area: Rect) {
    let tree_w = TREE_WIDTH.min(area.width / 3).max(12.min(area.width));
    let [left, right] =
        Layout::horizontal([Constraint::Length(tree_w), Constraint::Min(0)]).areas(area);
    tree_pane(f, app, left);
    let evidence_h = if right.height >= 16 { 5 } else { 3 };
    let info_h = if right.height >= 12 { 4 } else { 3 };
    let [info, timeline, evidence] = Layout::vertical([
        Constraint::Length(info_h),
        Constraint::Min(3),
        Constraint::Length(evidence_h),
    ])
    .areas(right);
    info_pane(f, app, info);
    timeline_pane(f, app, timeline);
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
    app.ev_scroll = app.ev_scroll.min(count.saturating_sub(1));
    let scroll = u16::try_from(app.ev_scroll).unwrap_or(u16::MAX);
    let ev = Paragraph::new(evidence_text(app))
        .scroll((scroll, 0))
        .block(block(&title, app.focus == Focus::Evidence));
    f.render_widget(ev, evidence);
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

fn tree_pane(f: &mut Frame<'_>, app: &mut App<'_>, area: Rect) {
    let inner_h = usize::from(area.height.saturating_sub(2));
    app.page = inner_h.max(1);
    let first = app.scroll_of_tree();
    let title = if app.tree.filter.is_empty() {
        format!("IPs ({})", app.tree.nodes.len())
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
                super::tree::Row::Profile(n) => {
                    let node = &app.tree.nodes[n];
                    let mark = if node.windows.is_empty() { " " } else { "▸" };
                    let name = node
                        .name
                        .as_deref()
                        .map(|s| format!(" {s}"))
                        .unwrap_or_default();
                    (
                        format!("{mark} {}{name}", node.ip),
                        !node.alerted.is_empty(),
                    )
                }
                super::tree::Row::Window(n, w) => {
                    let node = &app.tree.nodes[n];
                    let open = app.window == Some((node.ip, w));
                    (
                        format!("  └{}timewindow{w}", if open { "●" } else { "─" }),
                        node.alerted.contains(&w),
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
        Paragraph::new(lines).block(block(
            &title,
            app.focus == Focus::Tree && app.view == View::Main,
        )),
        area,
    );
}

/// The reverse name of an IP from the capture's own DNS answers.
fn rdns(app: &App<'_>, ip: IpAddr) -> String {
    app.store
        .dns_resolution
        .get(&ip)
        .and_then(|r| r.domains.last())
        .map_or_else(|| "-".to_string(), |d| clean(&d.0))
}

fn sni(app: &App<'_>, ip: IpAddr) -> String {
    app.store
        .sni
        .get(&ip)
        .and_then(|v| v.last())
        .map_or_else(|| "-".to_string(), |s| clean(&s.0))
}

fn dash(s: &str) -> String {
    if s.is_empty() { "-".into() } else { clean(s) }
}

fn info_pane(f: &mut Frame<'_>, app: &App<'_>, area: Rect) {
    let Some(ip) = app.info_ip else {
        f.render_widget(Paragraph::new("").block(block("-", false)), area);
        return;
    };
    let place = app.geo.place(ip);
    let header = Row::new(
        [
            "IP", "asn", "geo", "city", "rDNS", "SNI", "TI", "url", "down", "ref", "com",
        ]
        .map(|h| Cell::from(h).style(Style::new().fg(Color::Blue).bold())),
    );
    let row = Row::new(vec![
        Cell::from(ip.to_string()),
        Cell::from(dash(&place.asn)),
        Cell::from(dash(&place.country)),
        Cell::from(dash(&place.city)),
        Cell::from(rdns(app, ip)),
        Cell::from(sni(app, ip)),
        Cell::from(
            app.detections
                .ti_hits
                .get(&ip.to_string())
                .map_or_else(|| "-".to_string(), |d| clean(d)),
        )
        .style(Style::new().fg(Color::Red)),
        Cell::from("-"),
        Cell::from("-"),
        Cell::from("-"),
        Cell::from("-"),
    ]);
    let widths = [
        Constraint::Length(16),
        Constraint::Min(8),
        Constraint::Length(8),
        Constraint::Min(6),
        Constraint::Min(10),
        Constraint::Min(10),
        Constraint::Min(3),
        Constraint::Length(4),
        Constraint::Length(4),
        Constraint::Length(4),
        Constraint::Length(4),
    ];
    let title = rdns(app, ip);
    f.render_widget(
        Table::new([row], widths)
            .header(header)
            .block(block(&title, false)),
        area,
    );
}

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
    if r.proto == Proto::Icmp {
        s.push(Span::styled(
            r.service
                .clone()
                .unwrap_or_else(|| "ICMP Unknown type".into()),
            Style::new().fg(BLUE),
        ));
        s.push(Span::raw(" "));
        s.push(Span::styled(format!("[{remote}]"), Style::new().fg(CYAN)));
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
    s.push(Span::styled(format!("[{remote}]"), Style::new().fg(CYAN)));
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

#[allow(clippy::many_single_char_names)]
fn timeline_pane(f: &mut Frame<'_>, app: &mut App<'_>, area: Rect) {
    let focused = app.focus == Focus::Timeline;
    let Some((ip, n)) = app.window else {
        f.render_widget(Paragraph::new("").block(block("Timeline", focused)), area);
        return;
    };
    let start = app.store.window(ip, n).map(|w| w.start).unwrap_or_default();
    let title = format!(
        "Timeline: {ip} timewindow{n} {} ({} lines)",
        python::slips_timestamp(start).get(..19).unwrap_or_default(),
        app.timeline.len()
    );
    let h = usize::from(area.height.saturating_sub(2));
    if focused {
        app.page = h.max(1);
    }
    // keep the cursor visible
    if app.cursor < app.scroll {
        app.scroll = app.cursor;
    } else if h > 0 && app.cursor >= app.scroll + h {
        app.scroll = app.cursor + 1 - h;
    }
    if !focused {
        app.scroll = app.scroll.min(app.timeline.len().saturating_sub(1));
    }
    let mut lines = Vec::with_capacity(h);
    for (i, (e, sub)) in app.timeline.iter().enumerate().skip(app.scroll).take(h) {
        let Some(row) = timeline::timeline_row(app.store, *e) else {
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

fn window_title(app: &App<'_>, what: &str) -> String {
    match app.window {
        Some((ip, n)) => format!("{what}: {ip} timewindow{n}"),
        None => format!("{what}: no window selected"),
    }
}

fn flows_of(app: &App<'_>, server: bool) -> Vec<u32> {
    app.window
        .and_then(|(ip, n)| app.store.window(ip, n))
        .map(|w| {
            if server {
                w.in_flows.clone()
            } else {
                w.out_flows.clone()
            }
        })
        .unwrap_or_default()
}

/// `(label, flows, pkts, bytes)` rows of one state, TCP then UDP then the rest, each by bytes.
/// One row of the two-list views (`e c b p n`): its text cells and the values of its
/// log-scale bar.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRow {
    cells: Vec<String>,
    bar: Vec<u64>,
}

/// Computes the rows of one list of a two-list view.
type RowsFn<'r> = dyn Fn(&App<'_>, Established) -> Vec<ListRow> + 'r;

/// The rows of one list of a two-list view, computed once per (view, window, state) and kept
/// while the view is shown, so scrolling a window of a million flows stays instant.
fn list_rows(
    app: &mut App<'_>,
    view: &'static str,
    state: Established,
    compute: &RowsFn<'_>,
) -> std::rc::Rc<Vec<ListRow>> {
    let key = (view, app.window, state == Established::Established);
    if let Some((_, rows)) = app.agg_cache.iter().find(|(k, _)| *k == key) {
        return rows.clone();
    }
    let rows = std::rc::Rc::new(compute(app, state));
    app.agg_cache.retain(|(k, _)| k.0 == key.0 && k.1 == key.1);
    app.agg_cache.push((key, rows.clone()));
    rows
}

/// An aggregate family's rows: key, flows, packets, bytes; TCP then UDP then the rest, each by
/// bytes.
fn family_rows(app: &App<'_>, fam: Family, state: Established) -> Vec<ListRow> {
    let flows = flows_of(app, fam.is_server());
    let fields = aggregate::family(&app.store.conns, &flows, fam);
    let mut out = Vec::new();
    for proto in [Proto::Tcp, Proto::Udp, Proto::Icmp, Proto::Unknown] {
        let Some(agg) = fields.get(&(proto, state)) else {
            continue;
        };
        let mut rows = agg.totals();
        rows.sort_by(|a, b| b.3.cmp(&a.3).then(a.0.cmp(&b.0)));
        out.extend(rows.into_iter().map(|(k, fl, p, b)| ListRow {
            cells: vec![
                format!("{}/{k}", proto.upper()),
                fl.to_string(),
                p.to_string(),
                b.to_string(),
            ],
            bar: vec![fl, p, b],
        }));
    }
    out
}

/// Destination port × IP rows: port, IP, packets (busiest peer first within a port).
fn port_ip_rows(app: &App<'_>, state: Established) -> Vec<ListRow> {
    let flows = flows_of(app, false);
    let fields = aggregate::family(&app.store.conns, &flows, Family::DstPortsClient);
    let mut rows = Vec::new();
    for proto in [Proto::Tcp, Proto::Udp, Proto::Icmp, Proto::Unknown] {
        if let Some(Aggregate::Ports(m)) = fields.get(&(proto, state)) {
            for (port, e) in m {
                let mut peers: Vec<(&IpAddr, u64)> =
                    e.peers.iter().map(|(ip, p)| (ip, p.pkts)).collect();
                peers.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                rows.extend(peers.into_iter().map(|(ip, pk)| ListRow {
                    cells: vec![
                        format!("{}/{port}", proto.upper()),
                        ip.to_string(),
                        pk.to_string(),
                    ],
                    bar: vec![pk],
                }));
            }
        }
    }
    rows
}

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

/// How a two-list view is drawn: its name, column headers and widths, and the columns its
/// bar leaves to the text.
struct ListSpec {
    name: &'static str,
    header: &'static [&'static str],
    widths: &'static [Constraint],
    text_width: u16,
}

fn aggregate_view(f: &mut Frame<'_>, app: &mut App<'_>, area: Rect, fam: Family) {
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
        name: fam.name(),
        header,
        widths: &WIDTHS,
        text_width: 60,
    };
    two_lists(f, app, area, &spec, &|a, s| family_rows(a, fam, s));
}

fn port_ip_view(f: &mut Frame<'_>, app: &mut App<'_>, area: Rect) {
    const WIDTHS: [Constraint; 4] = [
        Constraint::Length(14),
        Constraint::Length(40),
        Constraint::Length(10),
        Constraint::Min(10),
    ];
    let spec = ListSpec {
        name: "DstPortsClient × IP",
        header: &["port", "IP", "packets", "ln packets"],
        widths: &WIDTHS,
        text_width: 50,
    };
    two_lists(f, app, area, &spec, &port_ip_rows);
}

/// Established rows above, Not Established below; `Tab` moves the focus (and the scrolling)
/// between them.
fn two_lists(
    f: &mut Frame<'_>,
    app: &mut App<'_>,
    area: Rect,
    spec: &ListSpec,
    compute: &RowsFn<'_>,
) {
    let halves =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).split(area);
    for (i, state) in [Established::Established, Established::NotEstablished]
        .into_iter()
        .enumerate()
    {
        let rows = list_rows(app, spec.name, state, compute);
        let focused = app.lower == (i == 1);
        let h = usize::from(halves[i].height.saturating_sub(3));
        let mut own = 0;
        let scroll = if focused { &mut app.scroll } else { &mut own };
        if focused {
            app.page = h.max(1);
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
            .map(|r| {
                let mut cells: Vec<Cell<'_>> = r.cells.into_iter().map(Cell::from).collect();
                cells.push(Cell::from(log_bar(&r.bar, max, bar_w)));
                Row::new(cells)
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
            &format!("{} {} ({total} rows{range})", spec.name, state.human()),
        );
        let t = Table::new(table_rows, spec.widths.iter().copied())
            .header(header)
            .block(block(&title, focused));
        f.render_widget(t, halves[i]);
    }
}

fn tuples_of(store: &crate::Store, window: Option<(IpAddr, i64)>, incoming: bool) -> &[Tuple] {
    window
        .and_then(|(ip, n)| store.window(ip, n))
        .map(|w| {
            if incoming {
                w.in_tuples.as_slice()
            } else {
                w.out_tuples.as_slice()
            }
        })
        .unwrap_or_default()
}

fn tuples_view(f: &mut Frame<'_>, app: &mut App<'_>, area: Rect, incoming: bool) {
    const CHUNK: usize = 40;
    let h = usize::from(area.height.saturating_sub(3));
    app.page = h.max(1);
    let tuples = tuples_of(app.store, app.window, incoming);
    let total = tuples.len();
    app.scroll = app.scroll.min(total.saturating_sub(1));
    let mut used = 0;
    let mut rows = Vec::new();
    for t in tuples.iter().skip(app.scroll) {
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
        let beacon = app
            .window
            .and_then(|(ip, n)| app.detections.beacons.get(&(ip, n, t.key())));
        let join = |v: &[String]| {
            v.iter()
                .take(height)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        };
        rows.push(
            Row::new(vec![
                Cell::from(t.key()),
                Cell::from(join(&letter_lines)),
                Cell::from(t.flows.to_string()),
                match beacon {
                    Some(b) if b.score >= crate::detect::beacon::THRESHOLD => {
                        Cell::from(format!("{:.2}", b.score))
                            .style(Style::new().fg(Color::Red).bold())
                    }
                    Some(b) => Cell::from(format!("{:.2}", b.score)),
                    None => Cell::from("-"),
                },
                Cell::from(join(&domains)),
                Cell::from(join(&snis)),
                Cell::from(dash(&place.asn)),
                Cell::from(dash(&place.country)),
            ])
            .height(u16::try_from(height).unwrap_or(u16::MAX)),
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
        .map(|h| Cell::from(h).style(Style::new().fg(Color::Blue).bold())),
    );
    let title = window_title(
        app,
        &format!(
            "{} ({} tuples, from {})",
            if incoming { "InTuples" } else { "OutTuples" },
            total,
            (app.scroll + 1).min(total)
        ),
    );
    let t = Table::new(
        rows,
        [
            Constraint::Length(30),
            Constraint::Length(41),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Min(20),
            Constraint::Min(12),
            Constraint::Length(14),
            Constraint::Length(8),
        ],
    )
    .header(header)
    .block(block(&title, true));
    f.render_widget(t, area);
}

fn map_view(f: &mut Frame<'_>, app: &mut App<'_>, area: Rect) {
    let mut exact: Vec<(f64, f64)> = Vec::new();
    let mut country: Vec<(f64, f64)> = Vec::new();
    let mut remotes = 0;
    for t in tuples_of(app.store, app.window, false) {
        remotes += 1;
        let p = app.geo.place(t.remote);
        if let Some((lat, lon)) = p.coords {
            if p.approximate {
                country.push((lon, lat));
            } else {
                exact.push((lon, lat));
            }
        }
    }
    let title = window_title(
        app,
        &format!(
            "World map: {} of {remotes} destinations located (X: GeoIP city, x: country only)",
            exact.len() + country.len()
        ),
    );
    let canvas = Canvas::default()
        .block(block(&title, true))
        .x_bounds([-180.0, 180.0])
        .y_bounds([-90.0, 90.0])
        .paint(move |ctx| {
            ctx.draw(&Map {
                color: Color::Green,
                resolution: MapResolution::High,
            });
            ctx.layer();
            for (x, y) in &country {
                ctx.print(
                    *x,
                    *y,
                    Span::styled("x", Style::new().fg(Color::Yellow).bold()),
                );
            }
            for (x, y) in &exact {
                ctx.print(
                    *x,
                    *y,
                    Span::styled("X", Style::new().fg(Color::Red).bold()),
                );
            }
        });
    f.render_widget(canvas, area);
}

fn evidence_view(f: &mut Frame<'_>, app: &mut App<'_>, area: Rect) {
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
    app.page = h.max(1);
    app.scroll = app.scroll.min(lines.len().saturating_sub(1));
    f.render_widget(
        Paragraph::new(lines)
            .scroll((u16::try_from(app.scroll).unwrap_or(u16::MAX), 0))
            .block(block(&title, true)),
        area,
    );
}

fn help_view(f: &mut Frame<'_>, app: &mut App<'_>, area: Rect) {
    let mut rows: Vec<Row<'_>> = KEYS
        .iter()
        .map(|b| Row::new(vec![Cell::from(b.key).yellow(), Cell::from(b.help)]))
        .collect();
    for (k, h) in [
        (
            "↑ ↓ j k",
            "move; PgUp PgDn / Space page; g G / Home End first and last",
        ),
        (
            "Enter",
            "tree: expand a profile / open a window; timeline: show the row's IP",
        ),
        ("← →", "tree: collapse / expand; timeline: scroll sideways"),
        (
            "0-9 . :",
            "typed in the tree: filter profiles by IP (Backspace edits)",
        ),
        ("mouse", "click a tree row to open it; wheel scrolls"),
    ] {
        rows.push(Row::new(vec![Cell::from(k).yellow(), Cell::from(h)]));
    }
    let total = rows.len();
    let h = usize::from(area.height.saturating_sub(2));
    app.scroll = app.scroll.min(total.saturating_sub(h.max(1)));
    let rows: Vec<Row<'_>> = rows.into_iter().skip(app.scroll).collect();
    f.render_widget(Clear, area);
    f.render_widget(
        Table::new(rows, [Constraint::Length(10), Constraint::Min(10)])
            .block(block("Help: kalipso keys", true)),
        area,
    );
}

/// A place's short description, for the report and tests.
pub fn place_text(p: &geo::Place) -> String {
    format!("{} {} {}", dash(&p.country), dash(&p.city), dash(&p.asn))
}
