//! Colour depth: what the terminal can show, from the environment, and the one pass that brings
//! a drawn frame down to it.
//!
//! `NO_COLOR` (any non-empty value) and `TERM=dumb` get no colour at all; the UI still shows
//! focus, selection and alerts through reversed text, double borders and ⚑ marks. A terminal
//! that does not announce 24-bit colour (`COLORTERM=truecolor|24bit`) gets the nearest of the
//! 256 indexed colours instead of RGB escapes it would misread. Panes choose colours freely; only
//! this file decides what reaches the terminal.

use ratatui::buffer::Buffer;
use ratatui::style::Color;

/// The colours a terminal can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Depth {
    /// No colour (`NO_COLOR`, `TERM=dumb`).
    None,
    /// The 256 indexed colours.
    #[default]
    Indexed,
    /// 24-bit colour.
    TrueColor,
}

impl Depth {
    /// The depth the environment asks for.
    pub fn from_env() -> Depth {
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        Depth::from_vars(&var("NO_COLOR"), &var("TERM"), &var("COLORTERM"))
    }

    /// The depth for these values of `NO_COLOR`, `TERM` and `COLORTERM`.
    pub fn from_vars(no_color: &str, term: &str, colorterm: &str) -> Depth {
        if !no_color.is_empty() || term == "dumb" {
            Depth::None
        } else if matches!(colorterm, "truecolor" | "24bit") {
            Depth::TrueColor
        } else {
            Depth::Indexed
        }
    }

    /// Brings every cell of a drawn frame to this depth.
    pub fn apply(self, buf: &mut Buffer) {
        if self == Depth::TrueColor {
            return;
        }
        for cell in &mut buf.content {
            cell.fg = self.color(cell.fg);
            cell.bg = self.color(cell.bg);
        }
    }

    fn color(self, c: Color) -> Color {
        match (self, c) {
            (Depth::None, _) => Color::Reset,
            (Depth::Indexed, Color::Rgb(r, g, b)) => Color::Indexed(cube(r, g, b)),
            (_, other) => other,
        }
    }
}

/// The nearest colour of the 6×6×6 cube of the 256-colour palette.
fn cube(r: u8, g: u8, b: u8) -> u8 {
    // the cube's levels are 0, 95, 135, 175, 215, 255
    let level = |v: u8| -> u8 {
        if v < 48 {
            0
        } else if v < 115 {
            1
        } else {
            (v - 35) / 40
        }
    };
    16 + 36 * level(r) + 6 * level(g) + level(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::Style;

    #[test]
    fn the_environment_decides_the_depth() {
        assert_eq!(
            Depth::from_vars("1", "xterm-256color", "truecolor"),
            Depth::None
        );
        assert_eq!(Depth::from_vars("", "dumb", ""), Depth::None);
        assert_eq!(Depth::from_vars("", "xterm", ""), Depth::Indexed);
        assert_eq!(
            Depth::from_vars("", "xterm-256color", "24bit"),
            Depth::TrueColor
        );
    }

    #[test]
    fn frames_are_brought_down_to_the_depth() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 2, 1));
        buf.set_string(
            0,
            0,
            "ab",
            Style::new().fg(Color::Rgb(255, 165, 0)).bg(Color::Red),
        );
        let mut indexed = buf.clone();
        Depth::Indexed.apply(&mut indexed);
        assert_eq!(indexed.content[0].fg, Color::Indexed(214), "orange");
        assert_eq!(indexed.content[0].bg, Color::Red, "named colours stay");
        Depth::None.apply(&mut buf);
        assert_eq!(
            (buf.content[1].fg, buf.content[1].bg),
            (Color::Reset, Color::Reset)
        );
        assert_eq!(buf.content[1].symbol(), "b", "the text stays");
    }
}
