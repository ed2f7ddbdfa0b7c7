//! The IP box: the selected IP's AS, country, city, name from the capture's DNS, SNI and
//! threat-intelligence hit (Kalipso's columns; the `VirusTotal` ones stay `-`).
//!
//! No lookup leaves the machine.

use crate::ui::draw::{block, dash};
use crate::ui::{App, clean};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use std::net::IpAddr;

/// The reverse name of an IP from the capture's own DNS answers.
fn rdns(app: &App<'_>, ip: IpAddr) -> String {
    app.store
        .dns_resolution
        .get(&ip)
        .and_then(|r| r.domains.last())
        .map_or_else(|| "-".to_string(), |d| clean(&d.0))
}

/// Who asked the DNS that named the IP: a name resolved by another host does not mean this
/// profile looked it up.
fn asked_by(app: &App<'_>, ip: IpAddr) -> String {
    let Some(r) = app.store.dns_resolution.get(&ip) else {
        return String::new();
    };
    match r.resolved_by.as_slice() {
        [] => String::new(),
        [one] => format!(" (resolved by {one})"),
        many => format!(" (resolved by {} hosts)", many.len()),
    }
}

fn sni(app: &App<'_>, ip: IpAddr) -> String {
    app.store
        .sni
        .get(&ip)
        .and_then(|v| v.last())
        .map_or_else(|| "-".to_string(), |s| clean(&s.0))
}

pub(crate) fn info_pane(f: &mut Frame<'_>, app: &App<'_>, area: Rect) {
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
    // the IP column fits the address: an IPv6 address is never cut
    let ip_width = u16::try_from(ip.to_string().len().max(15) + 1).unwrap_or(40);
    let widths = [
        Constraint::Length(ip_width),
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
    let title = format!("{}{}", rdns(app, ip), asked_by(app, ip));
    f.render_widget(
        Table::new([row], widths)
            .header(header)
            .block(block(&title, false)),
        area,
    );
}
