//! The terminal UI, modelled on Slips' Kalipso (spec §5): a profile tree, the selected window's
//! timeline, IP information and evidence, and one view per hotkey. State changes go through
//! [`App::apply`]; drawing is a pure function of the state ([`draw::frame`]), so every screen
//! can be tested on ratatui's `TestBackend`.

pub mod draw;
pub mod geo;
pub mod keys;
pub mod tree;

use crate::detect::Detections;
use crate::store::timeline;
use crate::{Analysis, Store};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, MouseEventKind};
use keys::{Action, View};
use std::net::IpAddr;
use tree::{Node, Row, Tree};

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
    /// The timeline's lines: (entry, sub-line) per line.
    pub timeline: Vec<(timeline::TimelineEntry, u8)>,
    /// Scroll offset (first line shown) of the focused list of each view.
    pub scroll: usize,
    /// Cursor line in the timeline.
    pub cursor: usize,
    /// Second list (not established) selected on the aggregate views.
    pub lower: bool,
    /// Scroll of the evidence box.
    pub ev_scroll: usize,
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
    /// Rows of the last drawn list (for page up/down).
    pub page: usize,
    /// Rows of the two-list view shown: (view, window, established) → rows.
    #[allow(clippy::type_complexity)]
    pub agg_cache: Vec<(
        (&'static str, Option<(IpAddr, i64)>, bool),
        std::rc::Rc<Vec<draw::ListRow>>,
    )>,
}

/// [`crate::text::clean`] as an owned string, for the widgets that keep their text.
pub fn clean(s: &str) -> String {
    crate::text::clean(s).into_owned()
}

impl<'s> App<'s> {
    /// The UI on an analysis, with the tree built and the busiest profile's first window
    /// selected.
    pub fn new(analysis: &'s Analysis, geo: geo::Geo) -> App<'s> {
        let store = &analysis.store;
        let alerted = analysis.detections.alerted();
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
                name: store
                    .dns_resolution
                    .get(&p.ip)
                    .and_then(|r| r.domains.last())
                    .map(|d| clean(&d.0)),
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
            lower: false,
            hscroll: 0,
            ev_scroll: 0,
            status: String::new(),
            search: None,
            pending_osc: None,
            quit: false,
            page: 10,
            agg_cache: Vec::new(),
        };
        // open the busiest profile's first window, so the board is never empty at start
        if let Some((ip, n)) = store
            .profiles
            .values()
            .max_by_key(|p| (p.out_flows(), std::cmp::Reverse(p.ip)))
            .and_then(|p| p.windows.keys().next().map(|n| (p.ip, *n)))
        {
            if let Some(i) = app.tree.nodes.iter().position(|n| n.ip == ip) {
                if let Some(pos) = app.tree.rows().iter().position(|r| *r == Row::Profile(i)) {
                    app.tree.selected = pos;
                    app.tree.set_expanded(true);
                    app.tree.step(1);
                }
            }
            app.select_window(ip, n);
        }
        if !app.geo.warnings.is_empty() {
            app.status = app.geo.warnings.join("; ");
        }
        app
    }

    /// Shows the timeline, evidence and IP info of a window.
    pub fn select_window(&mut self, ip: IpAddr, n: i64) {
        self.window = Some((ip, n));
        self.info_ip = Some(ip);
        self.timeline.clear();
        self.cursor = 0;
        self.scroll = 0;
        self.ev_scroll = 0;
        if let Some(w) = self.store.window(ip, n) {
            for e in timeline::timeline(self.store, w) {
                let Some(row) = timeline::timeline_row(self.store, e) else {
                    continue;
                };
                self.timeline.push((e, 0));
                for k in 0..draw::info_lines(&row.info).len() {
                    self.timeline
                        .push((e, u8::try_from(k + 1).unwrap_or(u8::MAX)));
                }
            }
        }
    }

    /// The remote IP of the timeline line under the cursor.
    fn cursor_ip(&self) -> Option<IpAddr> {
        let (e, _) = self.timeline.get(self.cursor)?;
        let c = self.store.conns.get(e.flow as usize)?;
        Some(if e.incoming { c.orig_h } else { c.resp_h })
    }

    /// The IP a copy or the map refers to: the timeline's under the cursor, else the tree's.
    pub fn selected_ip(&self) -> Option<IpAddr> {
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
                MouseEventKind::ScrollDown => self.apply(Action::Down),
                MouseEventKind::ScrollUp => self.apply(Action::Up),
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
        if col < draw::TREE_WIDTH {
            self.focus = Focus::Tree;
            // rows start below the border
            let first = self.scroll_of_tree();
            let at = first + usize::from(row.saturating_sub(1));
            if at < self.tree.rows().len() {
                self.tree.selected = at;
                self.apply(Action::Enter);
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
            self.apply(a);
        }
    }

    /// Filters the tree to the profiles matching an IP, a port or a domain.
    fn run_search(&mut self, q: &str) {
        let q = q.trim().to_lowercase();
        if q.is_empty() {
            self.tree.set_filter("");
            return;
        }
        let port: Option<u16> = q.parse().ok();
        for node in &mut self.tree.nodes {
            node.search.clear();
            let Some(p) = self.store.profiles.get(&node.ip) else {
                continue;
            };
            let mut hit = node.ip.to_string().contains(&q);
            for w in p.windows.values() {
                if hit {
                    break;
                }
                hit = w.out_flows.iter().any(|&i| {
                    let c = &self.store.conns[i as usize];
                    port == Some(c.resp_p) || c.resp_h.to_string() == q
                }) || w
                    .dns
                    .iter()
                    .any(|&i| self.store.dns[i as usize].query.contains(&q))
                    || w.ssl
                        .iter()
                        .any(|&i| self.store.ssl[i as usize].server_name.contains(&q))
                    || w.http
                        .iter()
                        .any(|&i| self.store.http[i as usize].host.contains(&q));
            }
            if hit {
                node.search.clone_from(&q);
            }
        }
        self.tree.set_filter(&q);
        self.view = View::Main;
        self.focus = Focus::Tree;
        self.status = format!(
            "/{q}: {} profile(s); Esc clears",
            self.tree
                .rows()
                .iter()
                .filter(|r| matches!(r, Row::Profile(_)))
                .count()
        );
    }

    /// Applies an action.
    pub fn apply(&mut self, a: Action) {
        match a {
            Action::Quit => self.quit = true,
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
                self.lower = false;
            }
            Action::Search => self.search = Some(String::new()),
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
                        self.cursor = if end {
                            self.timeline.len().saturating_sub(1)
                        } else {
                            0
                        };
                    }
                    _ => self.scroll = if end { usize::MAX / 2 } else { 0 },
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
                    Focus::Evidence => {}
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
                let last = self.timeline.len().saturating_sub(1);
                self.cursor = self.cursor.saturating_add_signed(d).min(last);
            }
            (View::Main, Focus::Evidence) => {
                self.ev_scroll = self.ev_scroll.saturating_add_signed(d);
            }
            _ => self.scroll = self.scroll.saturating_add_signed(d),
        }
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
        self.status = format!("copied {text} to the clipboard (OSC 52)");
    }
}

/// Restores the terminal: raw mode off, main screen, mouse off, cursor shown.
fn restore() {
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = crossterm::execute!(
        std::io::stdout(),
        crossterm::event::DisableMouseCapture,
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Restores the terminal when dropped, whichever way the UI ends.
struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Runs the UI on `store` until the user quits. The terminal is restored on every exit path,
/// panics included.
pub fn run(analysis: &Analysis, geo: geo::Geo) -> std::io::Result<()> {
    use std::io::Write;
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        hook(info);
    }));
    crossterm::terminal::enable_raw_mode()?;
    let _guard = Guard;
    crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::EnterAlternateScreen,
        crossterm::event::EnableMouseCapture
    )?;
    let mut terminal =
        ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))?;
    terminal.clear()?;
    let mut app = App::new(analysis, geo);
    while !app.quit {
        terminal.draw(|f| draw::frame(f, &mut app))?;
        let ev = crossterm::event::read()?;
        app.event(&ev);
        if let Some(osc) = app.pending_osc.take() {
            let mut out = std::io::stdout();
            out.write_all(osc.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_strings_are_escaped() {
        assert_eq!(clean("ok.example"), "ok.example");
        assert_eq!(clean("evil\x1b[2Jname"), "evil\\x{1b}[2Jname");
        assert_eq!(clean("a\nb"), "a\\nb");
        assert_eq!(clean("\u{202e}rtl"), "\\x{202e}rtl");
    }
}
