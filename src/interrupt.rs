//! Ctrl-C (or SIGTERM) during a run: stop at once, leave the terminal as it was, and leave no
//! output file that looks complete when it is not.
//!
//! The analysis stages do not poll a flag: a watcher thread waits for the signal, restores the
//! terminal (raw mode, when the UI is up; the progress line otherwise), removes the output files
//! not yet written whole, says so, and ends the process with 128 + the signal's number. Inside
//! the UI, Ctrl-C is a key (raw mode delivers no SIGINT) and the UI quits as it always does.

use signal_hook::consts::{SIGINT, SIGTERM};
use std::io::{IsTerminal, Write};

/// Starts the watcher; without it the signals keep their default action.
pub fn watch() {
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        let Some(signal) = signals.forever().next() else {
            return;
        };
        restore_terminal();
        let removed = crate::export::file::remove_unfinished();
        let note = if removed > 0 {
            format!("; {removed} unfinished output file(s) removed")
        } else {
            String::new()
        };
        let _ = writeln!(std::io::stderr(), "kalipso: interrupted{note}");
        std::process::exit(128 + signal);
    });
}

fn restore_terminal() {
    if crossterm::terminal::is_raw_mode_enabled().unwrap_or(false) {
        let _ = crossterm::terminal::disable_raw_mode();
        let _ = crossterm::execute!(
            std::io::stdout(),
            crossterm::terminal::LeaveAlternateScreen,
            crossterm::cursor::Show
        );
    }
    if std::io::stderr().is_terminal() {
        // the progress line
        let _ = write!(std::io::stderr(), "\r\x1b[2K");
    }
}
