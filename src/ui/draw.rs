//! Drawing: a pure function of the UI state, [`frame`]`(&App) -> Viewport`. It lays out the
//! screen and hands each area to its pane (`super::panes`); it never changes [`App`]. What
//! only drawing can know (the page height, scroll positions clamped to what fits) comes back
//! as a [`Viewport`], which the caller feeds to the update step
//! ([`Action::Drawn`](super::keys::Action::Drawn)). Only visible rows are built, so a frame
//! costs the same for 10 or 100,000 profiles.

use super::keys::View;
use super::panes::evidence::{evidence_box, evidence_view};
use super::panes::help::help_view;
use super::panes::hotkey_bar::hotkey_bar;
use super::panes::info::info_pane;
use super::panes::lists::{aggregate_view, port_ip_view};
use super::panes::map::map_view;
use super::panes::overview::overview_view;
use super::panes::timeline::timeline_pane;
use super::panes::tree::tree_pane;
use super::panes::tuples::tuples_view;
use super::{App, clean, geo};
use crate::profile::Tuple;
use crate::profile::aggregate::Family;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::widgets::{Block, BorderType};

/// Width of the profile tree.
pub const TREE_WIDTH: u16 = 30;

pub(crate) const CYAN: Color = Color::Rgb(112, 168, 154);
pub(crate) const ORANGE: Color = Color::Rgb(255, 165, 0);
pub(crate) const BLUE: Color = Color::Rgb(51, 153, 255);
pub(crate) const VALUE: Color = Color::Rgb(255, 153, 51);
pub(crate) const PINK: Color = Color::Rgb(219, 112, 147);

/// What a frame showed: the height of the focused list (a page for PgUp/PgDn) and the scroll
/// positions as the panes clamped them to their content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Viewport {
    /// Rows of the focused list.
    pub page: usize,
    /// First row shown of the focused list.
    pub scroll: usize,
    /// First line shown of the evidence box.
    pub ev_scroll: usize,
    /// Columns of the profile tree (mouse clicks left of it select a profile).
    pub tree_width: u16,
}

/// Draws the whole screen; returns what it showed, for [`super::App::update`].
pub fn frame(f: &mut Frame<'_>, app: &App<'_>) -> Viewport {
    let mut vp = Viewport {
        page: app.page,
        scroll: app.scroll,
        ev_scroll: app.ev_scroll,
        tree_width: app.tree_width,
    };
    let [body, bar] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(f.area());
    let vp_ = &mut vp;
    match app.view {
        View::Main => main_board(f, app, vp_, body),
        View::SrcPortsClient => aggregate_view(f, app, vp_, body, Family::SrcPortsClient),
        View::DstIpsClient => aggregate_view(f, app, vp_, body, Family::DstIPsClient),
        View::DstPortsServer => aggregate_view(f, app, vp_, body, Family::DstPortsServer),
        View::DstPortsClient => aggregate_view(f, app, vp_, body, Family::DstPortsClient),
        View::DstPortIpsClient => port_ip_view(f, app, vp_, body),
        View::OutTuples => tuples_view(f, app, vp_, body, false),
        View::InTuples => tuples_view(f, app, vp_, body, true),
        View::Map => map_view(f, app, body),
        View::ProfileEvidence => evidence_view(f, app, vp_, body),
        View::Overview => overview_view(f, app, vp_, body),
        View::Help => help_view(f, vp_, body),
    }
    hotkey_bar(f, app, bar);
    app.depth.apply(f.buffer_mut());
    vp
}

fn main_board(f: &mut Frame<'_>, app: &App<'_>, vp: &mut Viewport, area: Rect) {
    let tree_w = tree_width(app, area.width);
    vp.tree_width = tree_w;
    let [left, right] =
        Layout::horizontal([Constraint::Length(tree_w), Constraint::Min(0)]).areas(area);
    tree_pane(f, app, vp, left);
    // the evidence box grows with its rows up to a third of the terminal, half of it while it
    // has the focus
    let rows = u16::try_from(app.evidence.rows().len()).unwrap_or(u16::MAX);
    let cap = if app.focus == super::Focus::Evidence {
        right.height / 2
    } else {
        right.height / 3
    };
    let least = if right.height >= 16 { 5 } else { 3 };
    let evidence_h = rows.saturating_add(2).min(cap).max(least);
    let info_h = if right.height >= 12 { 4 } else { 3 };
    let [info, timeline, evidence] = Layout::vertical([
        Constraint::Length(info_h),
        Constraint::Min(3),
        Constraint::Length(evidence_h),
    ])
    .areas(right);
    info_pane(f, app, info);
    timeline_pane(f, app, vp, timeline);
    evidence_box(f, app, vp, evidence);
}

/// The tree's columns on a terminal `width` wide: 30, or a third of a narrow terminal, and
/// wider (up to three fifths of it) when a profile's address and ⚑ would not fit, so an IPv6
/// profile is not cut.
pub(crate) fn tree_width(app: &App<'_>, width: u16) -> u16 {
    let base = TREE_WIDTH.min(width / 3).max(12.min(width));
    let want = u16::try_from(app.tree.widest + 2).unwrap_or(u16::MAX);
    if want > base {
        want.min(base.max(width / 5 * 3))
    } else {
        base
    }
}

pub(crate) fn block(title: &str, focused: bool) -> Block<'static> {
    // a double border marks the focus without colour
    Block::bordered()
        .border_type(if focused {
            BorderType::Double
        } else {
            BorderType::Plain
        })
        .border_style(Style::new().fg(if focused { Color::Magenta } else { Color::Blue }))
        .title(clean(title))
}

/// How many columns a narrow terminal keeps: the highest priority level whose columns, each
/// given as (width with its gap, priority), fit in `room`. A column shows when its priority is
/// at most that level; level 0 always shows, squeezed if it must be.
pub(crate) fn priority_that_fits(columns: &[(u16, u8)], room: u16) -> u8 {
    let most = columns.iter().map(|c| c.1).max().unwrap_or(0);
    (0..=most)
        .rev()
        .find(|&keep| {
            columns
                .iter()
                .filter(|c| c.1 <= keep)
                .map(|c| c.0)
                .sum::<u16>()
                <= room
        })
        .unwrap_or(0)
}

pub(crate) fn dash(s: &str) -> String {
    if s.is_empty() { "-".into() } else { clean(s) }
}

pub(crate) fn window_title(app: &App<'_>, what: &str) -> String {
    match app.window {
        Some((ip, n)) => format!("{what}: {ip} timewindow{n}"),
        None => format!("{what}: no window selected"),
    }
}

pub(crate) fn tuples_of<'s>(app: &App<'s>, incoming: bool) -> &'s [Tuple] {
    app.shown_window().map_or(&[], |w| {
        if incoming {
            &w.in_tuples
        } else {
            &w.out_tuples
        }
    })
}

/// A place's short description, for the report and tests.
pub fn place_text(p: &geo::Place) -> String {
    format!("{} {} {}", dash(&p.country), dash(&p.city), dash(&p.asn))
}
