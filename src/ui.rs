//! The terminal UI, modelled on Slips' Kalipso (spec §5): a profile tree, the selected window's
//! timeline, IP information and evidence, and one view per hotkey.
//!
//! Update/draw style: [`App`] is the state and [`App::update`] the only way it changes (keys,
//! mouse, and what the last frame showed); [`draw::frame`] draws from `&App` and the analysis it
//! borrows, one file per pane in `panes/`; [`keys::KEYS`] is the one key table the key
//! handling, the hotkey bar and the help are made from. This file owns the terminal: set-up,
//! the event loop, and restoring it on every exit path, panics included.

mod app;
pub mod cursor;
pub mod draw;
pub mod evidence;
pub mod geo;
pub mod keys;
pub mod lists;
pub mod loading;
pub mod numbers;
pub mod overview;
pub mod palette;
mod panes;
pub mod search;
pub mod stored_timeline;
pub mod tree;
pub mod tuple_rows;

pub use app::{App, Focus};

use crate::Analysis;
use crossterm::event::Event;

/// [`crate::text::clean`] as an owned string, for the widgets that keep their text.
pub fn clean(s: &str) -> String {
    crate::text::clean(s).into_owned()
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

/// The terminal the UI draws on.
type Terminal = ratatui::Terminal<ratatui::backend::CrosstermBackend<std::io::Stdout>>;

/// Runs `body` on the terminal in raw mode on the alternate screen, and restores the terminal
/// on every exit path, panics included.
fn with_terminal<T, E: From<std::io::Error>>(
    body: impl FnOnce(&mut Terminal) -> Result<T, E>,
) -> Result<T, E> {
    with_panics_kept_off_screen(|| {
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
        body(&mut terminal)
    })
}

/// Panic messages of other threads while the UI drew, printed once it has ended.
static BACKGROUND_PANICS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Runs `body` (the UI, on this thread) with a panic hook that keeps the screen whole.
///
/// - A panic of this thread restores the terminal before the usual message, so the message is
///   readable and the shell usable.
/// - A panic of another thread (the reading or analysis behind the landing screen, a rayon
///   worker) must not touch the terminal while the UI still draws on it: restoring it would
///   leave the UI drawing on the main screen in cooked mode, and the message would be drawn
///   over. Its thread's end reaches the UI (a closed channel, shown as a failure), and the
///   message is kept and printed here, after the terminal is restored.
///
/// The hook that was there before is put back at the end, and the kept messages are said then,
/// also when the UI thread itself unwinds (a rayon worker's panic reaches it without a second
/// call of the hook).
fn with_panics_kept_off_screen<T>(body: impl FnOnce() -> T) -> T {
    let ui_thread = std::thread::current().id();
    let previous: std::sync::Arc<PanicHook> = std::sync::Arc::from(std::panic::take_hook());
    let chained = std::sync::Arc::clone(&previous);
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == ui_thread {
            restore();
            chained(info);
        } else if let Ok(mut kept) = BACKGROUND_PANICS.lock() {
            let thread = std::thread::current();
            kept.push(format!(
                "thread '{}' {info}",
                thread.name().unwrap_or("<unnamed>")
            ));
        }
    }));
    let _after = AfterTheUi(Some(previous));
    body()
}

/// A panic hook, as `std::panic::take_hook` gives it.
type PanicHook = dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static;

/// Puts the previous panic hook back and says the kept messages, when dropped.
struct AfterTheUi(Option<std::sync::Arc<PanicHook>>);

impl Drop for AfterTheUi {
    fn drop(&mut self) {
        // a panicking thread may not set the hook; the process is ending then
        if let Some(previous) = self.0.take().filter(|_| !std::thread::panicking()) {
            std::panic::set_hook(Box::new(move |info| previous(info)));
        }
        let kept = BACKGROUND_PANICS
            .lock()
            .map(|mut kept| std::mem::take(&mut *kept))
            .unwrap_or_default();
        for message in kept {
            crate::say(message);
        }
    }
}

/// Runs the UI on `analysis`, whose profiles' client traffic is `traffic`
/// ([`overview::traffic`]), until the user quits.
pub fn run(analysis: &Analysis, geo: geo::Geo, traffic: &overview::Traffic) -> std::io::Result<()> {
    with_terminal(|terminal| {
        browse(
            terminal,
            App::with_traffic(analysis, geo, traffic),
            Vec::new(),
        )
    })
}

/// The event loop: draw, wait for an event, update. `typed` are events that came before the
/// UI could take them (while a saved analysis loaded); they are handled first, in order.
fn browse(terminal: &mut Terminal, mut app: App<'_>, typed: Vec<Event>) -> std::io::Result<()> {
    let mut typed = typed.into_iter();
    while !app.quit {
        draw_app(terminal, &mut app)?;
        let ev = match typed.next() {
            Some(ev) => ev,
            None => crossterm::event::read()?,
        };
        handle(&mut app, &ev)?;
    }
    Ok(())
}

/// Draws a frame of `app`, and tells it what the frame showed.
fn draw_app(terminal: &mut Terminal, app: &mut App<'_>) -> std::io::Result<()> {
    let mut shown = draw::Viewport::default();
    terminal.draw(|f| shown = draw::frame(f, app))?;
    app.update(keys::Action::Drawn(shown));
    Ok(())
}

/// Applies an event to `app`, and writes what it left for the terminal (an OSC 52 copy).
fn handle(app: &mut App<'_>, ev: &Event) -> std::io::Result<()> {
    use std::io::Write;
    app.event(ev);
    if let Some(osc) = app.pending_osc.take() {
        let mut out = std::io::stdout();
        out.write_all(osc.as_bytes())?;
        out.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_background_thread_s_panic_is_kept_for_after_the_ui() {
        // the hook is process-wide: this test only looks for its own message
        let seen_during = super::with_panics_kept_off_screen(|| {
            let joined = std::thread::Builder::new()
                .name("reading".into())
                .spawn(|| panic!("marker 8f3a of a background panic"))
                .map(std::thread::JoinHandle::join);
            assert!(matches!(joined, Ok(Err(_))), "the thread panicked");
            super::BACKGROUND_PANICS.lock().is_ok_and(|kept| {
                kept.iter()
                    .any(|m| m.contains("marker 8f3a") && m.starts_with("thread 'reading'"))
            })
        });
        assert!(seen_during, "kept while the UI runs, not printed over it");
        let left = super::BACKGROUND_PANICS
            .lock()
            .map_or(true, |kept| kept.iter().any(|m| m.contains("marker 8f3a")));
        assert!(!left, "printed (and let go) once the UI has ended");
    }

    use super::*;

    #[test]
    fn network_strings_are_escaped() {
        assert_eq!(clean("ok.example"), "ok.example");
        assert_eq!(clean("evil\x1b[2Jname"), "evil\\x{1b}[2Jname");
        assert_eq!(clean("a\nb"), "a\\nb");
        assert_eq!(clean("\u{202e}rtl"), "\\x{202e}rtl");
    }
}
