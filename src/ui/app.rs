//! The UI state ([`App`]) and its update step: key presses, mouse events and the feedback of
//! the last frame become changes of focus, selection, scroll and view. Nothing here draws or
//! writes to the terminal, so every change is testable without one.

use super::cursor;
use super::evidence::EvidenceList;
use super::keys::{self, Action, View};
use super::overview::{self, OverviewRow};
use super::tree::{Node, Row, Tree};
use super::tuple_rows::{self, TupleOrder};
use super::{clean, draw, geo, lists};
use super::{palette, search};
use crate::detect::Detections;
use crate::detect::rank::{Suspect, triage_order};
use crate::store::timeline;
use crate::{Analysis, Store};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, MouseEventKind};
use std::net::IpAddr;

/// The pane that has the focus on the main board (or the list on an aggregate view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// Profile tree.
    Tree,
    /// Timeline.
    Timeline,
    /// Evidence.
    Evidence,
}

/// The UI state.
#[derive(Debug)]
pub struct App<'s> {
    /// The analysed records and profiles.
    pub store: &'s Store,
    /// What the detections found in them.
    pub detections: &'s Detections,
    /// Enrichment.
    pub geo: geo::Geo,
    /// The profile tree.
    pub tree: Tree,
    /// The view shown.
    pub view: View,
    /// Focus on the main board.
    pub focus: Focus,
    /// The window whose timeline is shown.
    pub window: Option<(IpAddr, i64)>,
    /// The IP in the IP-info box.
    pub info_ip: Option<IpAddr>,
    /// The timeline's lines.
    pub(crate) timeline: Vec<TimelineLine>,
    /// Scroll offset (first line shown) of the focused list of each view.
    pub scroll: usize,
    /// Cursor line in the timeline.
    pub cursor: usize,
    /// What the timeline is narrowed to (Enter on a table row or an evidence), with the
    /// window's whole timeline kept to come back to (Esc).
    pub(crate) only: Option<Only>,
    /// Selected row of the focused table (`e c b p n h i`), in the order shown.
    pub row: usize,
    /// Second list (not established) selected on the aggregate views.
    pub lower: bool,
    /// Scroll of the evidence box.
    pub ev_scroll: usize,
    /// The evidence box's grouped rows and selection.
    pub evidence: EvidenceList,
    /// The order of the two-list views.
    pub list_order: lists::ListOrder,
    /// Show exact numbers (not 1.2 MB) in the two-list views.
    pub exact: bool,
    /// The order of the `h` / `i` views.
    pub tuple_order: TupleOrder,
    /// The rows of the `h` / `i` views in that order.
    pub tuple_rows: tuple_rows::TupleRows,
    /// The colours the terminal can show.
    pub depth: palette::Depth,
    /// The matches of the last search, in tree order.
    pub hits: Vec<search::Hit>,
    /// The match shown.
    pub hit_at: usize,
    /// The analysis shown.
    analysis: &'s Analysis,
    /// The overview's rows (built once).
    pub overview: Vec<OverviewRow>,
    /// The overview's cursor.
    pub ov_cursor: usize,
    /// Horizontal scroll of the evidence box, in columns.
    pub ev_hscroll: u16,
    /// Horizontal scroll of the timeline, in columns (← → when it has the focus).
    pub hscroll: u16,
    /// A one-line message for the status bar.
    pub status: String,
    /// The text being typed after `/`, when searching.
    pub search: Option<String>,
    /// Bytes to write to the terminal (OSC 52 copy).
    pub pending_osc: Option<String>,
    /// Set when the user asked to quit.
    pub quit: bool,
    /// Says, first on the bottom line, what is shown when it is not the whole analysis (one
    /// profile of a database, shown while the rest is read).
    pub banner: Option<String>,
    /// Rows of the last drawn list (for page up/down).
    pub page: usize,
    /// Columns of the tree in the last frame (for mouse clicks).
    pub tree_width: u16,
    /// Rows of the two-list view shown, computed here so drawing only reads them.
    pub(crate) lists: lists::Cache,
}

/// The timeline narrowed to some flows: what they are, and the whole timeline to restore.
#[derive(Debug, Clone)]
pub(crate) struct Only {
    /// What the flows are (shown in the timeline's title).
    pub label: String,
    /// How many flows are shown.
    pub flows: usize,
    /// The window's whole timeline.
    all: Vec<TimelineLine>,
}

/// One line of the timeline pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimelineLine {
    /// A connection (sub-line 0) or one of the interpretation rows of its record (1, 2, …).
    Flow(timeline::TimelineEntry, u8),
    /// An ARP record sent by the profile (an index into `Store::events`).
    Arp(usize),
}

impl TimelineLine {
    /// The connection of a connection's first line.
    pub(crate) fn flow_head(self) -> Option<timeline::TimelineEntry> {
        match self {
            TimelineLine::Flow(e, 0) => Some(e),
            _ => None,
        }
    }
}

impl<'s> App<'s> {
    /// The UI on an analysis, with the tree built and the busiest profile's first window
    /// selected.
    pub fn new(analysis: &'s Analysis, geo: geo::Geo) -> App<'s> {
        App::with_traffic(analysis, geo, &overview::traffic(&analysis.store))
    }

    /// [`App::new`] with the profiles' client traffic already summed (the longest part of
    /// building the UI on a big input: a saved analysis sums it while its landing screen is
    /// shown).
    pub fn with_traffic(
        analysis: &'s Analysis,
        geo: geo::Geo,
        traffic: &overview::Traffic,
    ) -> App<'s> {
        let store = &analysis.store;
        let alerted = analysis.detections.alerted();
        let ranking: std::collections::HashMap<IpAddr, &Suspect> = analysis
            .detections
            .ranking
            .iter()
            .map(|s| (s.ip, s))
            .collect();
        let nodes: Vec<Node> = store
            .profiles
            .values()
            .map(|p| Node {
                ip: p.ip,
                windows: p.windows.keys().copied().collect(),
                alerted: alerted
                    .range((p.ip, i64::MIN)..=(p.ip, i64::MAX))
                    .map(|x| x.1)
                    .collect(),
                alerts: ranking.get(&p.ip).map_or(0, |s| s.alerts),
                probe_alerts: ranking.get(&p.ip).map_or(0, |s| s.probe_alerts),
                score: ranking.get(&p.ip).map_or(0.0, |s| s.score),
                flows: p.out_flows(),
                bytes: traffic.talkers.get(&p.ip).map_or(0, |t| t.0),
                // the host name its DHCP client sent, else the capture's DNS name for it
                name: store
                    .hosts
                    .get(&p.ip)
                    .filter(|h| !h.host_name.is_empty())
                    .map(|h| clean(&h.host_name))
                    .or_else(|| {
                        store
                            .dns_resolution
                            .get(&p.ip)
                            .and_then(|r| r.domains.last())
                            .map(|d| clean(&d.0))
                    }),
                search: String::new(),
            })
            .collect();
        let mut app = App {
            store,
            detections: &analysis.detections,
            geo,
            tree: Tree::new(nodes),
            view: View::Main,
            focus: Focus::Tree,
            window: None,
            info_ip: None,
            timeline: Vec::new(),
            scroll: 0,
            cursor: 0,
            only: None,
            row: 0,
            lower: false,
            hscroll: 0,
            ev_scroll: 0,
            evidence: EvidenceList::default(),
            overview: overview::build(analysis, traffic),
            tuple_order: TupleOrder::default(),
            tuple_rows: tuple_rows::TupleRows::default(),
            list_order: lists::ListOrder::default(),
            exact: false,
            depth: palette::Depth::from_env(),
            hits: Vec::new(),
            hit_at: 0,
            analysis,
            ov_cursor: 0,
            ev_hscroll: 0,
            status: String::new(),
            search: None,
            pending_osc: None,
            quit: false,
            banner: None,
            page: 10,
            tree_width: draw::TREE_WIDTH,
            lists: Vec::new(),
        };
        // open the top suspect's worst window; without evidence, the busiest profile's first
        // window, so the board is never empty at start
        let top_suspect = triage_order(&analysis.detections.ranking)
            .first()
            .map(|s| (s.ip, s.worst_window));
        let busiest = || {
            store
                .profiles
                .values()
                .max_by_key(|p| (p.out_flows(), std::cmp::Reverse(p.ip)))
                .and_then(|p| p.windows.keys().next().map(|n| (p.ip, *n)))
        };
        if let Some((ip, n)) = top_suspect.or_else(busiest) {
            app.go_to(ip, n);
        }
        // with alerts, the overview is the landing screen, its cursor on the first suspect
        if !analysis.detections.alerts.is_empty() {
            app.view = View::Overview;
            app.ov_cursor = app
                .overview
                .iter()
                .position(|r| r.target.is_some())
                .unwrap_or(0);
        }
        if !app.geo.warnings.is_empty() {
            app.status = app.geo.warnings.join("; ");
        }
        app
    }

    /// Selects window `n` of profile `ip` in the tree (expanding it, clearing a filter that
    /// hides it) and shows it.
    pub fn go_to(&mut self, ip: IpAddr, n: i64) {
        let Some(i) = self.tree.nodes.iter().position(|p| p.ip == ip) else {
            return;
        };
        if !self.tree.rows().contains(&Row::Profile(i)) {
            self.tree.set_filter("");
        }
        if let Some(pos) = self.tree.rows().iter().position(|r| *r == Row::Profile(i)) {
            self.tree.selected = pos;
            self.tree.set_expanded(true);
            let at = self.tree.nodes[i].windows.iter().position(|w| *w == n);
            self.tree.step(at.map_or(1, |p| p as isize + 1));
        }
        self.select_window(ip, n);
    }

    /// Opens window `n` of profile `ip` on the main board, the tree focused on it.
    pub fn open_window(&mut self, (ip, n): (IpAddr, i64)) {
        self.go_to(ip, n);
        self.view = View::Main;
        self.focus = Focus::Tree;
        self.scroll = 0;
    }

    /// Shows the timeline, evidence and IP info of a window.
    pub fn select_window(&mut self, ip: IpAddr, n: i64) {
        self.window = Some((ip, n));
        self.info_ip = Some(ip);
        self.timeline.clear();
        self.only = None;
        self.cursor = 0;
        self.scroll = 0;
        self.row = 0;
        self.ev_scroll = 0;
        self.ev_hscroll = 0;
        self.evidence = EvidenceList::new(self.detections, ip, n);
        // the profile's ARP records of the window, merged into the flows by time
        let store = self.store;
        let mut arp = store
            .events
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                a.ip == ip
                    && a.detail.as_ref().is_some_and(|d| d.arp().is_some())
                    && store.window_number(ip, a.ts) == n
            })
            .map(|(i, a)| (a.ts, i))
            .peekable();
        if let Some(w) = store.window(ip, n) {
            for e in timeline::timeline(store, w) {
                let Some(row) = timeline::timeline_row(store, e) else {
                    continue;
                };
                let ts = store.conns.get(e.flow as usize).map_or(0.0, |c| c.ts);
                while let Some((_, i)) = arp.next_if(|(t, _)| *t < ts) {
                    self.timeline.push(TimelineLine::Arp(i));
                }
                self.timeline.push(TimelineLine::Flow(e, 0));
                for k in 0..row.info.rows().len() {
                    self.timeline.push(TimelineLine::Flow(
                        e,
                        u8::try_from(k + 1).unwrap_or(u8::MAX),
                    ));
                }
            }
        }
        self.timeline.extend(arp.map(|(_, i)| TimelineLine::Arp(i)));
        lists::refresh(self);
    }

    /// The window whose timeline is shown.
    pub fn shown_window(&self) -> Option<&'s crate::profile::Window> {
        let (ip, n) = self.window?;
        self.store.window(ip, n)
    }

    /// The lines of the timeline shown (narrowed or whole).
    pub fn timeline_len(&self) -> usize {
        self.timeline.len()
    }

    /// The flow (index into `Store::conns`) of the timeline line under the cursor.
    pub fn cursor_flow(&self) -> Option<u32> {
        match self.timeline.get(self.cursor)? {
            TimelineLine::Flow(e, _) => Some(e.flow),
            TimelineLine::Arp(_) => None,
        }
    }

    /// The remote IP of the timeline line under the cursor.
    fn cursor_ip(&self) -> Option<IpAddr> {
        match *self.timeline.get(self.cursor)? {
            TimelineLine::Flow(e, _) => {
                let c = self.store.conns.get(e.flow as usize)?;
                Some(if e.incoming { c.orig_h } else { c.resp_h })
            }
            TimelineLine::Arp(i) => self.store.events.get(i)?.detail.as_ref()?.resp(),
        }
    }

    /// The IP a copy or the map refers to: the timeline's under the cursor, else the tree's.
    pub fn selected_ip(&self) -> Option<IpAddr> {
        if lists::Source::of(self.view).is_some() {
            if let Some(ip) = lists::selected(self).and_then(|r| r.drill.ip()) {
                return Some(ip);
            }
        }
        if matches!(self.view, View::OutTuples | View::InTuples) {
            if let Some(t) = tuple_rows::get(self, self.view == View::InTuples, self.row) {
                return Some(t.remote);
            }
        }
        if self.view == View::Main && self.focus == Focus::Timeline {
            if let Some(ip) = self.cursor_ip() {
                return Some(ip);
            }
        }
        self.info_ip.or_else(|| self.tree.current_ip())
    }

    /// Handles a terminal event.
    pub fn event(&mut self, ev: &Event) {
        match ev {
            Event::Key(k) if k.kind != KeyEventKind::Release => self.key(*k),
            Event::Mouse(m) => match m.kind {
                MouseEventKind::ScrollDown => self.update(Action::Down),
                MouseEventKind::ScrollUp => self.update(Action::Up),
                MouseEventKind::Down(_) => self.click(m.column, m.row),
                _ => {}
            },
            _ => {}
        }
    }

    fn click(&mut self, col: u16, row: u16) {
        if self.view != View::Main {
            return;
        }
        if col < self.tree_width {
            self.focus = Focus::Tree;
            // rows start below the border
            let first = self.scroll_of_tree();
            let at = first + usize::from(row.saturating_sub(1));
            if at < self.tree.rows().len() {
                self.tree.selected = at;
                self.update(Action::Enter);
            }
        } else {
            self.focus = Focus::Timeline;
        }
    }

    /// The first visible tree row for the current selection and page.
    pub fn scroll_of_tree(&self) -> usize {
        self.tree
            .selected
            .saturating_sub(self.page.saturating_sub(1))
    }

    /// Handles a key press.
    pub fn key(&mut self, k: KeyEvent) {
        if let Some(text) = self.search.as_mut() {
            match k.code {
                KeyCode::Enter => {
                    let q = std::mem::take(text);
                    self.search = None;
                    self.run_search(&q);
                }
                KeyCode::Esc => self.search = None,
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char(c) => text.push(c),
                _ => {}
            }
            return;
        }
        // digits, dots and colons typed in the tree filter it
        if self.view == View::Main && self.focus == Focus::Tree {
            match k.code {
                KeyCode::Char(c) if c.is_ascii_digit() || c == '.' || c == ':' => {
                    let mut f = self.tree.filter.clone();
                    f.push(c);
                    self.tree.set_filter(&f);
                    return;
                }
                KeyCode::Backspace => {
                    let mut f = self.tree.filter.clone();
                    f.pop();
                    self.tree.set_filter(&f);
                    return;
                }
                _ => {}
            }
        }
        if let Some(a) = keys::action(k) {
            self.update(a);
        }
    }

    /// Filters the tree to the profiles matching the query (see [`search`]), keeps every match
    /// for `]` and `[`, and shows the first.
    fn run_search(&mut self, q: &str) {
        let q = q.trim().to_lowercase();
        self.hits.clear();
        self.hit_at = 0;
        if q.is_empty() {
            self.tree.set_filter("");
            return;
        }
        let query = search::Query::parse(&q);
        for node in &mut self.tree.nodes {
            node.search.clear();
            let Some(p) = self.store.profiles.get(&node.ip) else {
                continue;
            };
            let found = search::hits(self.analysis, p, &query);
            if !found.is_empty() {
                node.search.clone_from(&q);
                self.hits.extend(found);
            }
        }
        self.tree.set_filter(&q);
        self.view = View::Main;
        self.focus = Focus::Tree;
        let profiles = self
            .tree
            .rows()
            .iter()
            .filter(|r| matches!(r, Row::Profile(_)))
            .count();
        if self.hits.is_empty() {
            self.status = format!("/{q}: nothing found; Esc clears");
        } else {
            self.show_hit();
            self.status = format!(
                "/{q}: {profiles} profile(s), {} window(s); ] next, [ previous, Esc clears",
                self.hits.len()
            );
        }
    }

    /// Opens the current search match: its window, the timeline's cursor on its flow.
    fn show_hit(&mut self) {
        let Some(&(ip, n, flow)) = self.hits.get(self.hit_at) else {
            return;
        };
        self.go_to(ip, n);
        if let Some(f) = flow {
            if let Some(row) = self
                .timeline
                .iter()
                .position(|l| l.flow_head().is_some_and(|t| t.flow == f))
            {
                self.cursor = row;
            }
        }
    }

    /// The update step: applies an action to the state. No I/O (a copy only leaves its OSC 52
    /// sequence in [`App::pending_osc`] for the loop to write).
    pub fn update(&mut self, a: Action) {
        self.apply(a);
        lists::refresh(self);
        tuple_rows::refresh(self);
    }

    fn apply(&mut self, a: Action) {
        match a {
            Action::Drawn(vp) => {
                self.page = vp.page;
                self.scroll = vp.scroll;
                self.ev_scroll = vp.ev_scroll;
                self.tree_width = vp.tree_width;
            }
            Action::Quit => self.quit = true,
            Action::Back if self.view == View::Main && self.only.is_some() => self.show_all_flows(),
            Action::Back => {
                if self.view == View::Main && !self.tree.filter.is_empty() {
                    for n in &mut self.tree.nodes {
                        n.search.clear();
                    }
                    self.tree.set_filter("");
                    self.status.clear();
                }
                self.view = View::Main;
                self.scroll = 0;
            }
            Action::Open(v) => {
                self.view = v;
                self.scroll = 0;
                self.row = 0;
                self.lower = false;
            }
            Action::Search => self.search = Some(String::new()),
            Action::NextMatch | Action::PrevMatch => {
                if self.hits.is_empty() {
                    self.status = "no search: / starts one".into();
                } else {
                    let n = self.hits.len();
                    self.hit_at = if a == Action::NextMatch {
                        (self.hit_at + 1) % n
                    } else {
                        (self.hit_at + n - 1) % n
                    };
                    self.view = View::Main;
                    self.show_hit();
                    self.status = format!("match {} of {}", self.hit_at + 1, n);
                }
            }
            Action::SortTuples => {
                if let Some(source) = lists::Source::of(self.view) {
                    let (numbers, texts) = source.columns();
                    self.list_order = self.list_order.next(numbers, texts);
                    self.status = format!("rows by {}", self.list_order_name());
                } else {
                    self.tuple_order = self.tuple_order.next();
                    self.status = format!("tuples by {}", self.tuple_order.name());
                }
                self.scroll = 0;
                self.row = 0;
            }
            Action::ExactNumbers => {
                self.exact = !self.exact;
                self.status = if self.exact {
                    "exact numbers".into()
                } else {
                    "readable numbers (1.2 MB, 1,234)".into()
                };
            }
            Action::Enter if lists::Source::of(self.view).is_some() => self.show_row_flows(),
            Action::Enter if matches!(self.view, View::OutTuples | View::InTuples) => {
                self.show_tuple_flows(self.view == View::InTuples);
            }
            Action::CycleOrder => {
                self.tree.set_order(self.tree.order.next());
                self.status = format!("profiles by {}", self.tree.order.name());
            }
            Action::Copy => self.copy(),
            Action::FocusNext | Action::FocusPrev => {
                if self.view == View::Main {
                    let order = [Focus::Tree, Focus::Timeline, Focus::Evidence];
                    let i = order.iter().position(|f| *f == self.focus).unwrap_or(0);
                    let j = if a == Action::FocusNext {
                        (i + 1) % 3
                    } else {
                        (i + 2) % 3
                    };
                    self.focus = order[j];
                } else {
                    self.lower = !self.lower;
                    self.scroll = 0;
                    self.row = 0;
                }
            }
            Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
                let d: isize = match a {
                    Action::Up => -1,
                    Action::Down => 1,
                    Action::PageUp => -(self.page.max(1) as isize),
                    _ => self.page.max(1) as isize,
                };
                self.moved(d);
            }
            Action::Home | Action::End => {
                let end = a == Action::End;
                match (self.view, self.focus) {
                    (View::Main, Focus::Tree) => self.tree.jump(end),
                    (View::Main, Focus::Timeline) => {
                        self.cursor = cursor::jump(end, self.timeline.len());
                    }
                    (View::Main, Focus::Evidence) => self.evidence.jump(end),
                    (View::Overview, _) => self.ov_cursor = cursor::jump(end, self.overview.len()),
                    _ => match self.table_len() {
                        Some(len) => self.row = cursor::jump(end, len),
                        None => self.scroll = if end { usize::MAX / 2 } else { 0 },
                    },
                }
            }
            Action::Enter | Action::Right
                if self.view == View::Main
                    && !(a == Action::Right && self.focus == Focus::Timeline) =>
            {
                match self.focus {
                    Focus::Tree => match self.tree.current() {
                        Some(Row::Profile(i)) => {
                            if a == Action::Enter {
                                self.tree.toggle();
                            } else {
                                self.tree.set_expanded(true);
                            }
                            self.info_ip = self.tree.nodes.get(i).map(|n| n.ip);
                        }
                        Some(Row::Window(i, n)) => {
                            if let Some(ip) = self.tree.nodes.get(i).map(|n| n.ip) {
                                self.select_window(ip, n);
                            }
                        }
                        None => {}
                    },
                    Focus::Timeline => self.info_ip = self.cursor_ip().or(self.info_ip),
                    Focus::Evidence if a == Action::Enter => {
                        if let Some(i) = self.evidence.enter() {
                            self.show_flows_of(i);
                        }
                    }
                    Focus::Evidence => {
                        self.ev_hscroll = self.ev_hscroll.saturating_add(10).min(400);
                    }
                }
            }
            Action::Left if self.view == View::Main && self.focus == Focus::Evidence => {
                self.ev_hscroll = self.ev_hscroll.saturating_sub(10);
            }
            Action::Enter if self.view == View::Overview => {
                match self.overview.get(self.ov_cursor).and_then(|r| r.target) {
                    Some(target) => self.open_window(target),
                    None => self.status = "this row has no window to open".into(),
                }
            }
            Action::Left if self.view == View::Main && self.focus == Focus::Tree => {
                self.tree.set_expanded(false);
            }
            Action::Left if self.view == View::Main && self.focus == Focus::Timeline => {
                self.hscroll = self.hscroll.saturating_sub(10);
            }
            Action::Right if self.view == View::Main && self.focus == Focus::Timeline => {
                self.hscroll = self.hscroll.saturating_add(10).min(400);
            }
            _ => {}
        }
    }

    fn moved(&mut self, d: isize) {
        match (self.view, self.focus) {
            (View::Main, Focus::Tree) => self.tree.step(d),
            (View::Main, Focus::Timeline) => {
                self.cursor = cursor::step(self.cursor, d, self.timeline.len());
            }
            (View::Main, Focus::Evidence) => self.evidence.step(d),
            (View::Overview, _) => {
                self.ov_cursor = cursor::step(self.ov_cursor, d, self.overview.len());
            }
            _ => match self.table_len() {
                Some(len) => self.row = cursor::step(self.row, d, len),
                None => self.scroll = self.scroll.saturating_add_signed(d),
            },
        }
    }

    /// The rows of the open table view (`e c b p n h i`), if one is open.
    fn table_len(&self) -> Option<usize> {
        if let Some(source) = lists::Source::of(self.view) {
            return Some(lists::rows(self, source, lists::state(self.lower)).len());
        }
        match self.view {
            View::OutTuples => Some(draw::tuples_of(self, false).len()),
            View::InTuples => Some(draw::tuples_of(self, true).len()),
            _ => None,
        }
    }

    /// The name of the two-list views' order, by the open view's columns.
    fn list_order_name(&self) -> String {
        let source = lists::Source::of(self.view);
        let by_ip = matches!(source, Some(lists::Source::Family(f)) if f.by_ip());
        match (self.list_order, source) {
            (lists::ListOrder::Default, _) => "protocol, then size".into(),
            (lists::ListOrder::Key(0), _) if by_ip => "IP".into(),
            (lists::ListOrder::Key(0), _) => "port".into(),
            (lists::ListOrder::Key(_), _) => "IP".into(),
            (lists::ListOrder::Number(_), Some(lists::Source::PortIps)) => "packets".into(),
            (lists::ListOrder::Number(i), _) => ["flows", "packets", "bytes"]
                .get(i)
                .copied()
                .unwrap_or("?")
                .into(),
        }
    }

    /// Goes back to the board with the timeline narrowed to the flows of the selected row of
    /// a two-list view.
    fn show_row_flows(&mut self) {
        let Some(row) = lists::selected(self) else {
            return;
        };
        let store = self.store;
        let drill = row.drill;
        self.view = View::Main;
        self.show_only(&row.cells.join(" "), |e| {
            store
                .conns
                .get(e.flow as usize)
                .is_some_and(|c| drill.matches(c, e.incoming))
        });
    }

    /// Goes back to the board with the timeline narrowed to the flows of the selected tuple
    /// of `h` / `i`.
    fn show_tuple_flows(&mut self, incoming: bool) {
        let Some(t) = tuple_rows::get(self, incoming, self.row) else {
            return;
        };
        let store = self.store;
        self.view = View::Main;
        self.show_only(&t.key(), |e| {
            e.incoming == incoming
                && store.conns.get(e.flow as usize).is_some_and(|c| {
                    let remote = if incoming { c.orig_h } else { c.resp_h };
                    remote == t.remote && c.resp_p == t.port && c.proto == t.proto
                })
        });
    }

    /// Narrows the timeline to the flows behind evidence `i`.
    fn show_flows_of(&mut self, i: usize) {
        let Some(e) = self.detections.evidence.get(i) else {
            return;
        };
        let mut flows: Vec<u32> = e
            .flows
            .iter()
            .filter_map(|f| match f {
                crate::detect::FlowRef::Conn(c) => Some(*c),
                _ => None,
            })
            .collect();
        flows.sort_unstable();
        self.show_only(&format!("{} evidence", e.kind), |t| {
            flows.binary_search(&t.flow).is_ok()
        });
    }

    /// Narrows the timeline to the flows that `keep` accepts (each with its interpretation
    /// lines; ARP records go), focuses it with the cursor on the first, and says so. When no
    /// flow of the window is kept, the timeline stays whole and the status says why.
    fn show_only(&mut self, label: &str, keep: impl Fn(&timeline::TimelineEntry) -> bool) {
        self.scroll = 0;
        let all = match self.only.take() {
            Some(only) => only.all,
            None => std::mem::take(&mut self.timeline),
        };
        let lines: Vec<TimelineLine> = all
            .iter()
            .copied()
            .filter(|l| matches!(l, TimelineLine::Flow(e, _) if keep(e)))
            .collect();
        let flows = lines.iter().filter(|l| l.flow_head().is_some()).count();
        let label = clean(label);
        if flows == 0 {
            self.timeline = all;
            self.status = format!("{label}: no flow of this window");
            return;
        }
        self.timeline = lines;
        self.cursor = 0;
        self.focus = Focus::Timeline;
        self.status = format!("timeline: only the {flows} flow(s) of {label}; Esc shows all");
        self.only = Some(Only { label, flows, all });
    }

    /// Shows the whole timeline again, the cursor on the flow it was on.
    fn show_all_flows(&mut self) {
        let Some(only) = self.only.take() else {
            return;
        };
        let at = self.timeline.get(self.cursor).copied();
        self.timeline = only.all;
        self.cursor = at
            .and_then(|l| self.timeline.iter().position(|x| *x == l))
            .unwrap_or(0);
        self.status = "timeline: all flows of the window".into();
    }

    /// Copies the selected IP with OSC 52 (the terminal puts it on the clipboard, also over
    /// SSH) and says so in the status bar.
    fn copy(&mut self) {
        use base64::Engine;
        let Some(ip) = self.selected_ip() else {
            self.status = "nothing selected to copy".into();
            return;
        };
        let text = ip.to_string();
        let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
        self.pending_osc = Some(format!("\x1b]52;c;{b64}\x07"));
        // OSC 52 has no reply: say what was done, not what the terminal may have done with it
        self.status = format!(
            "sent {text} to the terminal's clipboard (OSC 52; not every terminal accepts it)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::draw::Viewport;

    fn analysis() -> Analysis {
        crate::analyze(&crate::Options::new(["testdata/zeek/home-office-tsv"]))
    }

    #[test]
    fn views_open_and_close_with_their_rows_computed_in_the_update() {
        let a = analysis();
        let mut app = App::new(&a, geo::Geo::default());
        assert_eq!(app.view, View::Main);
        assert!(
            app.window.is_some(),
            "the busiest profile's first window is open"
        );
        app.update(Action::Open(View::DstIpsClient));
        assert_eq!(app.view, View::DstIpsClient);
        assert_eq!(app.lists.len(), 2, "established and not established rows");
        app.update(Action::Drawn(Viewport {
            page: 7,
            scroll: 3,
            ev_scroll: 0,
            tree_width: 30,
        }));
        assert_eq!((app.page, app.scroll), (7, 3));
        app.update(Action::Back);
        assert_eq!((app.view, app.scroll), (View::Main, 0));
    }

    #[test]
    fn focus_cycles_and_pages_move_by_what_was_drawn() {
        let a = analysis();
        let mut app = App::new(&a, geo::Geo::default());
        app.update(Action::FocusNext);
        assert_eq!(app.focus, Focus::Timeline);
        app.update(Action::FocusPrev);
        app.update(Action::FocusPrev);
        assert_eq!(app.focus, Focus::Evidence);
        app.update(Action::FocusNext);
        assert_eq!(app.focus, Focus::Tree);
        app.update(Action::Home);
        app.update(Action::Drawn(Viewport {
            page: 2,
            scroll: 0,
            ev_scroll: 0,
            tree_width: 30,
        }));
        app.update(Action::PageDown);
        assert_eq!(app.tree.selected, 2.min(app.tree.rows().len() - 1));
    }

    #[test]
    fn copy_leaves_an_osc52_sequence_for_the_loop() {
        let a = analysis();
        let mut app = App::new(&a, geo::Geo::default());
        app.update(Action::Copy);
        let ip = app
            .selected_ip()
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        let osc = app.pending_osc.clone().unwrap_or_default();
        assert!(
            osc.starts_with("\x1b]52;c;") && osc.ends_with('\x07'),
            "{osc:?}"
        );
        assert!(app.status.contains(&ip), "{}", app.status);
    }
}
