//! The bottom line: the search prompt while typing, else the status message, else the keys of
//! the hotkey bar from the key table ([`crate::ui::keys::bar`]), the open view highlighted.
//!
//! No key is listed by hand.

use crate::ui::keys::{self, Action, View};
use crate::ui::{App, clean};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub(crate) fn hotkey_bar(f: &mut Frame<'_>, app: &App<'_>, area: Rect) {
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
    let key = |k: &'static str| Span::styled(k, Style::new().fg(Color::Yellow));
    let spans = if app.status.is_empty() {
        let here = |v: View| {
            if app.view == v {
                Style::new().fg(Color::Black).bg(Color::Red)
            } else {
                Style::new()
            }
        };
        let mut spans = vec![Span::styled(" main ", here(View::Main))];
        for (label, action, name) in keys::bar() {
            spans.push(key(label));
            let style = match action {
                Action::Open(v) => here(v),
                _ => Style::new(),
            };
            spans.push(Span::styled(format!(":{name} "), style));
        }
        spans
    } else {
        // the status replaces the key list: it is what the user needs to read now
        let mut spans = vec![
            Span::styled(
                format!(" {} ", clean(&app.status)),
                Style::new().fg(Color::Black).bg(Color::Yellow),
            ),
            Span::raw(" "),
        ];
        for (label, _, name) in
            keys::bar().filter(|b| matches!(b.1, Action::Open(View::Help) | Action::Quit))
        {
            spans.push(Span::raw(" "));
            spans.push(Span::raw(format!("{label}:{name}")));
        }
        spans
    };
    let spans = match &app.banner {
        // before the keys: it says what every pane shows
        Some(b) => std::iter::once(Span::styled(
            format!(" {} ", clean(b)),
            Style::new().fg(Color::Black).bg(Color::Cyan),
        ))
        .chain(spans)
        .collect(),
        None => spans,
    };
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
