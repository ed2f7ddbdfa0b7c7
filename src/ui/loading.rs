//! Opening a saved analysis: its landing overview (saved with it) is shown at once, while the
//! records are decoded and analysed again on other threads. Then the whole UI takes over on the
//! finished analysis, with the overview's cursor where it was left and the keys typed meanwhile
//! handled in order, so Enter on a suspect during loading opens its window once it can.
//!
//! Opening a Redis database has no saved overview: its landing screen lists the profiles and
//! windows the database names (a few round trips), while the flows are read and analysed.
//! Enter on a profile previews its first window's stored timeline at once, and reads and
//! analyses that profile alone (its own keys) on another thread: the whole UI then opens on
//! it, every pane and view, until `q` goes back to the list or the whole analysis is ready.

use super::draw::Viewport;
use super::keys::{self, Action};
use super::overview::{OverviewRow, Traffic};
use super::panes::overview::overview_rows;
use super::{App, Terminal, browse, cursor, geo, with_terminal};
use crate::Analysis;
use crossterm::event::{Event, KeyEventKind, MouseEventKind};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use std::net::IpAddr;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

/// What is shown while an analysis loads.
pub struct Opening {
    /// The landing screen's rows.
    pub rows: Vec<OverviewRow>,
    /// What the status bar says is being done.
    pub doing: String,
    /// The rows are the overview the whole UI lands on (a saved one), so the cursor carries
    /// over; else they list profiles, Enter on one previews it, and the whole UI opens the
    /// window previewed last.
    pub is_overview: bool,
    /// Reads the stored timeline of a window (a Redis database keeps it), for the preview.
    pub preview: Option<Fetch>,
    /// Analyses one profile alone from its stored records (a Redis database), for the whole
    /// UI on it before the whole analysis is ready.
    pub one_profile: Option<OneProfile>,
}

/// Reads the preview of a window.
pub type Fetch = Box<dyn FnMut((IpAddr, i64)) -> anyhow::Result<Preview> + Send>;

/// Analyses one profile alone, with its profiles' client traffic; called on its own thread.
pub type OneProfile = std::sync::Arc<dyn Fn(IpAddr) -> anyhow::Result<Loaded> + Send + Sync>;

/// An analysis with its profiles' client traffic ([`super::overview::traffic`]).
pub type Loaded = (Analysis, Traffic);

/// A window's timeline as it was stored, read before the analysis is ready.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    /// The box's title: the window, and how many of its entries are shown.
    pub title: String,
    /// The lines, network strings escaped.
    pub lines: Vec<String>,
}

impl Opening {
    /// A saved analysis's own landing overview.
    pub fn saved(rows: Vec<OverviewRow>) -> Opening {
        Opening {
            rows,
            doing: "analysing the saved records again".into(),
            is_overview: true,
            preview: None,
            one_profile: None,
        }
    }

    /// The profiles and windows of a Redis database, one row per profile; Enter on one shows
    /// what `preview` reads, and then the whole UI on what `one_profile` gives.
    pub fn profiles(
        windows: &crate::input::slips_redis::Windows,
        preview: Fetch,
        one_profile: OneProfile,
    ) -> Opening {
        let count: usize = windows.of.values().map(Vec::len).sum();
        let shown = crate::text::clean(&windows.shown);
        let mut rows = vec![OverviewRow {
            text: format!(
                "Profiles in {shown}: {} with {count} window(s); Enter opens a profile, read \
                 and analysed alone; the suspects come when every flow is read and analysed",
                windows.of.len()
            ),
            heading: true,
            target: None,
            alerted: false,
        }];
        rows.extend(windows.of.iter().map(|(ip, numbers)| {
            let span = match (numbers.first(), numbers.last()) {
                (Some(a), Some(b)) if a != b => format!("timewindow{a} … timewindow{b}"),
                (Some(a), _) => format!("timewindow{a}"),
                _ => String::new(),
            };
            OverviewRow {
                text: format!("  {ip:<39} {:>5} window(s)  {span}", numbers.len()),
                heading: false,
                target: numbers.first().map(|n| (*ip, *n)),
                alerted: false,
            }
        }));
        Opening {
            rows,
            doing: format!("reading the flows of {shown} and analysing them"),
            is_overview: false,
            preview: Some(preview),
            one_profile: Some(one_profile),
        }
    }
}

/// A profile being read and analysed alone, for the window `target`.
struct Pending {
    target: (IpAddr, i64),
    /// The analysis, and how long reading and analysing took.
    result: Receiver<(anyhow::Result<Loaded>, Duration)>,
}

/// The landing screen while the analysis loads.
struct Landing {
    rows: Vec<OverviewRow>,
    cursor: usize,
    page: usize,
    /// Events for the whole UI, in the order they came.
    typed: Vec<Event>,
    quit: bool,
    /// Reads previews (a database's landing only).
    fetch: Option<Fetch>,
    /// The window previewed last, and what was read of it.
    preview: Option<((IpAddr, i64), Preview)>,
    /// Analyses a profile alone (a database's landing only).
    one_profile: Option<OneProfile>,
    /// The profile asked for last, while it is read and analysed.
    pending: Option<Pending>,
}

impl Landing {
    /// Handles an event: moves and quitting here, everything else kept for the whole UI.
    fn event(&mut self, ev: Event) {
        let action = match &ev {
            Event::Key(k) if k.kind != KeyEventKind::Release => keys::action(*k),
            Event::Mouse(m) => match m.kind {
                MouseEventKind::ScrollDown => Some(Action::Down),
                MouseEventKind::ScrollUp => Some(Action::Up),
                _ => None,
            },
            _ => return,
        };
        let len = self.rows.len();
        let page = self.page.max(1) as isize;
        match action {
            Some(Action::Quit) => self.quit = true,
            // once a key waits for the whole UI, the moves after it wait too, in order
            _ if !self.typed.is_empty() => self.typed.push(ev),
            Some(Action::Up) => self.cursor = cursor::step(self.cursor, -1, len),
            Some(Action::Down) => self.cursor = cursor::step(self.cursor, 1, len),
            Some(Action::PageUp) => self.cursor = cursor::step(self.cursor, -page, len),
            Some(Action::PageDown) => self.cursor = cursor::step(self.cursor, page, len),
            Some(Action::Home) => self.cursor = cursor::jump(false, len),
            Some(Action::End) => self.cursor = cursor::jump(true, len),
            Some(Action::Enter) if self.fetch.is_some() => {
                self.show_preview();
                self.start_profile();
            }
            Some(_) => self.typed.push(ev),
            None => {}
        }
    }

    /// The window of the row at the cursor (none on a heading).
    fn target(&self) -> Option<(IpAddr, i64)> {
        self.rows.get(self.cursor).and_then(|r| r.target)
    }

    /// Reads the preview of the window of the row at the cursor.
    fn show_preview(&mut self) {
        let (Some(target), Some(fetch)) = (self.target(), self.fetch.as_mut()) else {
            return;
        };
        let preview = fetch(target).unwrap_or_else(|e| Preview {
            title: format!("{} timewindow{}", target.0, target.1),
            lines: vec![crate::text::clean(&format!("{e:#}")).into_owned()],
        });
        self.preview = Some((target, preview));
    }

    /// Starts reading and analysing the profile of the row at the cursor alone, on its own
    /// thread; a profile asked for before replaces it (its thread's result is dropped).
    fn start_profile(&mut self) {
        let (Some(one), Some(target)) = (self.one_profile.clone(), self.target()) else {
            return;
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let started = Instant::now();
            let loaded = one(target.0);
            let _ = tx.send((loaded, started.elapsed()));
        });
        self.pending = Some(Pending { target, result: rx });
    }

    /// The profile asked for, once it is analysed. A failure is shown in the preview's box.
    fn take_profile(&mut self) -> Option<((IpAddr, i64), Loaded, Duration)> {
        let pending = self.pending.as_ref()?;
        let (result, took) = match pending.result.try_recv() {
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Disconnected) => {
                (Err(anyhow::anyhow!("the reading stopped")), Duration::ZERO)
            }
            Ok(r) => r,
        };
        let target = pending.target;
        self.pending = None;
        match result {
            Ok(loaded) => Some((target, loaded, took)),
            Err(e) => {
                self.preview = Some((
                    target,
                    Preview {
                        title: format!("{} alone could not be analysed", target.0),
                        lines: vec![crate::text::clean(&format!("{e:#}")).into_owned()],
                    },
                ));
                None
            }
        }
    }
}

/// How the whole UI on one profile ended.
enum Ended {
    /// `q`: back to the list of profiles.
    Back,
    /// The whole analysis is ready (or failed), with the window shown last.
    Ready(Box<anyhow::Result<Loaded>>, Option<(IpAddr, i64)>),
}

/// The whole UI on one profile's own analysis (which took `took` to read and make), `typed`
/// handled first, until `q` or until `loading` gives the whole analysis. Gives `geo` back for
/// the next UI.
fn browse_one_profile(
    terminal: &mut Terminal,
    (analysis, traffic): &Loaded,
    (target, took): ((IpAddr, i64), Duration),
    geo: geo::Geo,
    typed: Vec<Event>,
    loading: &Receiver<anyhow::Result<Loaded>>,
) -> anyhow::Result<(Ended, geo::Geo)> {
    let mut app = App::with_traffic(analysis, geo, traffic);
    app.open_window(target);
    // what needs other profiles' records (whether any host resolved a destination, which
    // connections are peer-to-peer) comes with the whole analysis
    app.banner = Some(format!(
        "{} alone, its stored records read and analysed in {:.2} s; evidence that needs the \
         whole database comes with it; q: back to the profiles",
        target.0,
        took.as_secs_f64()
    ));
    let mut typed = typed.into_iter();
    let ended = loop {
        super::draw_app(terminal, &mut app)?;
        let ev = match typed.next() {
            Some(ev) => Some(ev),
            // short waits, so the whole analysis is taken as soon as it is ready
            None if crossterm::event::poll(Duration::from_millis(100))? => {
                Some(crossterm::event::read()?)
            }
            None => None,
        };
        if let Some(ev) = ev {
            super::handle(&mut app, &ev)?;
        }
        if app.quit {
            break Ended::Back;
        }
        match loading.try_recv() {
            Ok(result) => break Ended::Ready(Box::new(result), app.window),
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => {
                anyhow::bail!("the analysis of the saved records stopped unexpectedly")
            }
        }
    };
    Ok((ended, std::mem::take(&mut app.geo)))
}

/// Shows `landing` until `loading` gives the analysis (with its profiles' client traffic,
/// [`super::overview::traffic`]), then the whole UI on it until the user quits, and returns
/// what the analysis read. Quitting before it is ready returns `None` at once; a failed load
/// is returned as the error.
pub fn run_while_loading(
    opening: Opening,
    mut geo: geo::Geo,
    loading: &Receiver<anyhow::Result<Loaded>>,
) -> anyhow::Result<Option<crate::input::InputSummary>> {
    with_terminal(|terminal| {
        let started = Instant::now();
        let Opening {
            rows,
            doing,
            is_overview,
            preview,
            one_profile,
        } = opening;
        let cursor = rows.iter().position(|r| r.target.is_some()).unwrap_or(0);
        let mut state = Landing {
            rows,
            cursor,
            page: 10,
            typed: Vec::new(),
            quit: false,
            fetch: preview,
            preview: None,
            one_profile,
            pending: None,
        };
        // the window the whole UI opens on, when it is not the landing's own choice
        let mut shown_last = None;
        let analysis = loop {
            draw_landing(terminal, &mut state, &doing, started)?;
            // events are read in short waits, so the analysis is taken as soon as it is ready
            if crossterm::event::poll(Duration::from_millis(100))? {
                state.event(crossterm::event::read()?);
                if state.quit {
                    return Ok(None);
                }
            }
            if let Some((target, one, took)) = state.take_profile() {
                let typed = std::mem::take(&mut state.typed);
                let ended;
                (ended, geo) =
                    browse_one_profile(terminal, &one, (target, took), geo, typed, loading)?;
                // freed on another thread, so going back is not held up; a profile opened
                // again is read again (each is small next to the whole database)
                std::thread::spawn(move || drop(one));
                match ended {
                    Ended::Back => continue,
                    Ended::Ready(result, window) => {
                        shown_last = window;
                        break (*result)?;
                    }
                }
            }
            match loading.try_recv() {
                Ok(result) => break result?,
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => {
                    anyhow::bail!("the analysis of the saved records stopped unexpectedly")
                }
            }
        };
        let (analysis, traffic) = analysis;
        let mut app = App::with_traffic(&analysis, geo, &traffic);
        if is_overview {
            app.ov_cursor = state.cursor.min(app.overview.len().saturating_sub(1));
        } else if let Some(target) = shown_last.or(state.preview.map(|p| p.0)) {
            app.open_window(target);
        }
        browse(terminal, app, state.typed)?;
        let read = analysis.input.clone();
        // the process ends after the UI: the kernel takes the memory back faster than a drop
        std::mem::forget(analysis);
        Ok(Some(read))
    })
}

fn draw_landing(
    terminal: &mut Terminal,
    state: &mut Landing,
    doing: &str,
    started: Instant,
) -> std::io::Result<()> {
    let mut vp = Viewport::default();
    terminal.draw(|f| {
        let [body, bar] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(f.area());
        let body = match &state.preview {
            Some((_, preview)) => {
                let [list, shown] =
                    Layout::vertical([Constraint::Percentage(40), Constraint::Min(0)]).areas(body);
                let block = ratatui::widgets::Block::bordered().title(preview.title.as_str());
                let lines: Vec<Line<'_>> = preview
                    .lines
                    .iter()
                    .map(|l| Line::raw(l.as_str()))
                    .collect();
                f.render_widget(Paragraph::new(lines).block(block), shown);
                list
            }
            None => body,
        };
        overview_rows(f, &state.rows, state.cursor, &mut vp, body);
        let waiting = if state.typed.is_empty() {
            String::new()
        } else {
            format!("; {} key(s) wait for it", state.typed.len())
        };
        let status = format!(
            " opening: {doing}, {:.1} s{waiting} ",
            started.elapsed().as_secs_f64()
        );
        let line = Line::from(vec![
            ratatui::text::Span::styled(status, Style::new().fg(Color::Black).bg(Color::Yellow)),
            ratatui::text::Span::raw("  q:quit"),
        ]);
        f.render_widget(Paragraph::new(line), bar);
        super::palette::Depth::from_env().apply(f.buffer_mut());
    })?;
    state.page = vp.page;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn key(code: KeyCode) -> Event {
        Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn landing() -> Landing {
        let row = |text: &str, target: Option<(std::net::IpAddr, i64)>| OverviewRow {
            text: text.into(),
            heading: target.is_none(),
            target,
            alerted: false,
        };
        let ip = "10.0.0.1".parse().expect("ip");
        Landing {
            rows: vec![
                row("Suspects", None),
                row("a", Some((ip, 1))),
                row("b", Some((ip, 2))),
            ],
            cursor: 1,
            page: 10,
            typed: Vec::new(),
            quit: false,
            fetch: None,
            preview: None,
            one_profile: None,
            pending: None,
        }
    }

    #[test]
    fn moves_happen_at_once_and_other_keys_wait_in_order() {
        let mut l = landing();
        l.event(key(KeyCode::Down));
        assert_eq!(l.cursor, 2);
        l.event(key(KeyCode::Down));
        assert_eq!(l.cursor, 2, "the cursor stays on the last row");
        l.event(key(KeyCode::Enter));
        // a move after a waiting key waits too: Enter must act on the row it was typed on
        l.event(key(KeyCode::Up));
        assert_eq!(l.cursor, 2);
        assert_eq!(l.typed, vec![key(KeyCode::Enter), key(KeyCode::Up)]);
        assert!(!l.quit);
    }

    #[test]
    fn a_database_lands_on_its_profiles_and_enter_previews_a_window() {
        let (a, b): (IpAddr, IpAddr) =
            ("10.0.0.2".parse().expect("ip"), "::1".parse().expect("ip"));
        let windows = crate::input::slips_redis::Windows {
            shown: "redis://127.0.0.1:7001/0".into(),
            of: [(a, vec![2, 3, 7]), (b, vec![1])].into_iter().collect(),
        };
        let fetch: Fetch = Box::new(|(ip, n)| {
            if ip.is_loopback() {
                anyhow::bail!("gone\u{1b}[2J");
            }
            Ok(Preview {
                title: format!("{ip} timewindow{n}"),
                lines: vec!["a line".into()],
            })
        });
        let one: OneProfile = std::sync::Arc::new(|_| anyhow::bail!("not in this test"));
        let opening = Opening::profiles(&windows, fetch, one);
        assert!(!opening.is_overview);
        assert!(opening.doing.contains("redis://127.0.0.1:7001/0"));
        assert!(opening.rows[0].heading);
        assert!(
            opening.rows[0].text.contains("2 with 4 window(s)"),
            "{}",
            opening.rows[0].text
        );
        let targets: Vec<_> = opening.rows.iter().map(|r| r.target).collect();
        assert_eq!(targets, vec![None, Some((a, 2)), Some((b, 1))]);
        assert!(opening.rows[1].text.contains("timewindow2 … timewindow7"));
        let mut l = landing();
        (l.rows, l.fetch, l.cursor) = (opening.rows, opening.preview, 1);
        // Enter previews the row's first window and waits for nothing
        l.event(key(KeyCode::Enter));
        assert!(l.typed.is_empty());
        let (target, preview) = l.preview.clone().expect("preview");
        assert_eq!(target, (a, 2));
        assert_eq!(preview.title, "10.0.0.2 timewindow2");
        // a failed read is shown in the box, escaped, and the window is still the one opened
        l.event(key(KeyCode::Down));
        l.event(key(KeyCode::Enter));
        let (target, preview) = l.preview.clone().expect("preview");
        assert_eq!(target, (b, 1));
        assert!(preview.lines[0].starts_with("gone") && !preview.lines[0].contains('\u{1b}'));
        // other keys still wait for the whole UI
        l.event(key(KeyCode::Char('e')));
        assert_eq!(l.typed.len(), 1);
    }

    /// Waits for the profile asked for to be analysed (or to fail).
    fn wait_for_profile(l: &mut Landing) -> Option<((IpAddr, i64), Loaded, Duration)> {
        let started = Instant::now();
        while l.pending.is_some() {
            if let Some(done) = l.take_profile() {
                return Some(done);
            }
            assert!(started.elapsed() < Duration::from_secs(10), "no result");
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    #[test]
    fn enter_on_a_profile_analyses_it_alone_and_the_last_one_asked_for_wins() {
        let mut l = landing();
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = asked.clone();
        l.fetch = Some(Box::new(|(ip, n)| {
            Ok(Preview {
                title: format!("{ip} timewindow{n}"),
                lines: Vec::new(),
            })
        }));
        l.one_profile = Some(std::sync::Arc::new(move |ip| {
            log.lock().expect("lock").push(ip);
            Ok((Analysis::default(), Traffic::default()))
        }));
        l.event(key(KeyCode::Enter));
        l.event(key(KeyCode::Down));
        l.event(key(KeyCode::Enter));
        assert!(l.typed.is_empty(), "Enter waits for nothing");
        let (target, ..) = wait_for_profile(&mut l).expect("analysed");
        assert_eq!(target, l.rows[2].target.expect("target"));
        assert!(l.pending.is_none());
        assert!(!asked.lock().expect("lock").is_empty());
    }

    #[test]
    fn a_profile_that_cannot_be_analysed_says_why_in_the_preview_box_escaped() {
        let mut l = landing();
        l.fetch = Some(Box::new(|(ip, n)| {
            Ok(Preview {
                title: format!("{ip} timewindow{n}"),
                lines: Vec::new(),
            })
        }));
        l.one_profile = Some(std::sync::Arc::new(|_| {
            anyhow::bail!("Redis went away\u{1b}[2J")
        }));
        l.event(key(KeyCode::Enter));
        assert!(wait_for_profile(&mut l).is_none());
        let (target, preview) = l.preview.clone().expect("the failure is shown");
        assert_eq!(target, l.rows[1].target.expect("target"));
        assert!(
            preview.title.contains("could not be analysed"),
            "{}",
            preview.title
        );
        assert!(
            preview.lines[0].starts_with("Redis went away") && !preview.lines[0].contains('\u{1b}'),
            "{:?}",
            preview.lines
        );
    }

    #[test]
    fn q_quits_before_the_analysis_is_ready() {
        let mut l = landing();
        l.event(key(KeyCode::Enter));
        l.event(key(KeyCode::Char('q')));
        assert!(l.quit, "q quits even with keys waiting");
        assert_eq!(l.typed, vec![key(KeyCode::Enter)]);
    }
}
