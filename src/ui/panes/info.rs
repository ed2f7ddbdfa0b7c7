//! The IP box: the selected IP's AS, country, city, DHCP host name and MAC, name from the
//! capture's DNS, SNI and threat-intelligence hit (Kalipso's columns; the `VirusTotal` ones
//! stay `-`).
//!
//! No lookup leaves the machine.

use crate::ui::draw::{block, dash, priority_that_fits};
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

/// The host name and MAC the address's DHCP client sent, when DHCP named it.
fn dhcp_host(app: &App<'_>, ip: IpAddr) -> Option<(String, String)> {
    app.store
        .hosts
        .get(&ip)
        .map(|h| (dash(&h.host_name), dash(&h.mac)))
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
    // the IP column fits the address: an IPv6 address is never cut
    let ip_width = u16::try_from(ip.to_string().len().max(15) + 1).unwrap_or(40);
    let ti = app
        .detections
        .ti_hits
        .get(&ip.to_string())
        .map_or_else(|| "-".to_string(), |d| clean(d));
    // (header, cell, width, priority): a narrow terminal keeps the lower priorities first
    let mut columns: Vec<(&str, Cell<'_>, Constraint, u8)> = vec![
        (
            "IP",
            Cell::from(ip.to_string()),
            Constraint::Length(ip_width),
            0,
        ),
        ("asn", Cell::from(dash(&place.asn)), Constraint::Min(8), 1),
        (
            "geo",
            Cell::from(dash(&place.country)),
            Constraint::Length(8),
            1,
        ),
        ("city", Cell::from(dash(&place.city)), Constraint::Min(6), 3),
        ("rDNS", Cell::from(rdns(app, ip)), Constraint::Min(10), 2),
        ("SNI", Cell::from(sni(app, ip)), Constraint::Min(10), 3),
        (
            "TI",
            Cell::from(ti).style(Style::new().fg(Color::Red)),
            Constraint::Min(3),
            1,
        ),
        ("url", Cell::from("-"), Constraint::Length(4), 4),
        ("down", Cell::from("-"), Constraint::Length(4), 4),
        ("ref", Cell::from("-"), Constraint::Length(4), 4),
        ("com", Cell::from("-"), Constraint::Length(4), 4),
    ];
    // a host DHCP named gets its host name and MAC after the city
    if let Some((host, mac)) = dhcp_host(app, ip) {
        columns.splice(
            4..4,
            [
                ("host", Cell::from(host), Constraint::Min(6), 2),
                ("MAC", Cell::from(mac), Constraint::Length(17), 3),
            ],
        );
    }
    let width_of = |c: &Constraint| match *c {
        Constraint::Length(n) | Constraint::Min(n) => n + 1,
        _ => 1,
    };
    let sizes: Vec<(u16, u8)> = columns.iter().map(|c| (width_of(&c.2), c.3)).collect();
    let keep = priority_that_fits(&sizes, area.width.saturating_sub(2));
    let shown: Vec<(&str, Cell<'_>, Constraint, u8)> =
        columns.into_iter().filter(|c| c.3 <= keep).collect();
    let header = Row::new(
        shown
            .iter()
            .map(|c| Cell::from(c.0).style(Style::new().fg(Color::Blue).bold())),
    );
    let widths: Vec<Constraint> = shown.iter().map(|c| c.2).collect();
    let row = Row::new(shown.into_iter().map(|c| c.1));
    let title = format!("{}{}", rdns(app, ip), asked_by(app, ip));
    f.render_widget(
        Table::new([row], widths)
            .header(header)
            .block(block(&title, false)),
        area,
    );
}
