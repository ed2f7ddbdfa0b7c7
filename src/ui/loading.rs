//! Opening a saved analysis: its landing overview (saved with it) is shown at once, while the
//! records are decoded and analysed again on other threads. Then the whole UI takes over on the
//! finished analysis, with the overview's cursor where it was left and the keys typed meanwhile
//! handled in order, so Enter on a suspect during loading opens its window once it can.
//!
//! Opening a Redis database has no saved overview: its landing screen lists the profiles and
//! windows the database names (a few round trips), while the flows are read and analysed.

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
}

/// Reads the preview of a window.
pub type Fetch = Box<dyn FnMut((IpAddr, i64)) -> anyhow::Result<Preview> + Send>;

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
        }
    }

    /// The profiles and windows of a Redis database, one row per profile; Enter on one shows
    /// what `preview` reads.
    pub fn profiles(windows: &crate::input::slips_redis::Windows, preview: Fetch) -> Opening {
        let count: usize = windows.of.values().map(Vec::len).sum();
        let shown = crate::text::clean(&windows.shown);
        let mut rows = vec![OverviewRow {
            text: format!(
                "Profiles in {shown}: {} with {count} window(s); Enter shows a profile's first \
                 window as stored; the suspects come when the flows are read and analysed",
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
        }
    }
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
            Some(Action::Enter) if self.fetch.is_some() => self.show_preview(),
            Some(_) => self.typed.push(ev),
            None => {}
        }
    }

    /// Reads the preview of the window of the row at the cursor.
    fn show_preview(&mut self) {
        let (Some(fetch), Some(target)) = (
            self.fetch.as_mut(),
            self.rows.get(self.cursor).and_then(|r| r.target),
        ) else {
            return;
        };
        let preview = fetch(target).unwrap_or_else(|e| Preview {
            title: format!("{} timewindow{}", target.0, target.1),
            lines: vec![crate::text::clean(&format!("{e:#}")).into_owned()],
        });
        self.preview = Some((target, preview));
    }
}

/// Shows `landing` until `loading` gives the analysis (with its profiles' client traffic,
/// [`super::overview::traffic`]), then the whole UI on it until the user quits, and returns
/// what the analysis read. Quitting before it is ready returns `None` at once; a failed load
/// is returned as the error.
pub fn run_while_loading(
    opening: Opening,
    geo: geo::Geo,
    loading: &Receiver<anyhow::Result<(Analysis, Traffic)>>,
) -> anyhow::Result<Option<crate::input::InputSummary>> {
    with_terminal(|terminal| {
        let started = Instant::now();
        let Opening {
            rows,
            doing,
            is_overview,
            preview,
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
        };
        let analysis = loop {
            draw_landing(terminal, &mut state, &doing, started)?;
            // events are read in short waits, so the analysis is taken as soon as it is ready
            if crossterm::event::poll(Duration::from_millis(100))? {
                state.event(crossterm::event::read()?);
                if state.quit {
                    return Ok(None);
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
        } else if let Some((target, _)) = state.preview {
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
        let opening = Opening::profiles(&windows, fetch);
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

    #[test]
    fn q_quits_before_the_analysis_is_ready() {
        let mut l = landing();
        l.event(key(KeyCode::Enter));
        l.event(key(KeyCode::Char('q')));
        assert!(l.quit, "q quits even with keys waiting");
        assert_eq!(l.typed, vec![key(KeyCode::Enter)]);
    }
}
