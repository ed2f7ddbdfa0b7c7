//! The one sanitiser for strings that came from the network (DNS names, URIs, user agents, SNI,
//! certificate fields) or from the file system, on their way to a terminal or a text file.
//!
//! Control characters (C0, DEL, C1) and the invisible characters that reorder or hide text
//! (zero-width marks, bidi overrides and isolates, line/paragraph separators, BOM) are shown
//! escaped as `\x{1b}`-style text, so a hostile name can neither drive the analyst's terminal
//! (`ESC ]2;…BEL` retitles it, `ESC [2J` clears it) nor fake a line of output. Tab, newline and
//! carriage return are escaped too (`\t`, `\n`, `\r`): one network string stays one line.
//!
//! It does not touch JSON outputs: `serde_json` escapes control characters there, so JSON stays
//! valid and keeps the exact value.

use std::borrow::Cow;
use std::fmt;

/// True for a character that must not reach a terminal or a text file as it is.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// `s` made safe to print; borrowed when it already is (the common case costs one scan).
pub fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hidden(c) {
            // `escape_default` gives `\n`, `\t`, `\r` and `\u{1b}`; the last is shown as `\x{1b}`
            // so it cannot be mistaken for the JSON or Python escape of the same character.
            for e in c.escape_default() {
                out.push(if e == 'u' { 'x' } else { e });
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Formats a string through [`clean`] without allocating when it is already safe:
/// `format!("{}", Clean(name))`.
#[derive(Debug, Clone, Copy)]
pub struct Clean<'a>(pub &'a str);

impl fmt::Display for Clean<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&clean(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn terminal_sequences_are_escaped() {
        assert_eq!(clean("jndi\u{1b}]2;PWNED\u{7}"), r"jndi\x{1b}]2;PWNED\x{7}");
        assert_eq!(clean("a\u{1b}[2Jb"), r"a\x{1b}[2Jb");
        assert_eq!(clean("c1\u{9b}31m"), r"c1\x{9b}31m");
        assert_eq!(clean("two\nlines\ttab"), r"two\nlines\ttab");
        assert_eq!(clean("rtl\u{202e}gpj.exe"), r"rtl\x{202e}gpj.exe");
        assert_eq!(Clean("x\u{7f}").to_string(), r"x\x{7f}");
    }

    #[test]
    fn safe_text_is_borrowed_unchanged() {
        for s in [
            "example.com",
            "Mozilla/5.0 (X11; Linux)",
            "日本語.jp",
            "a\\x{1b}",
        ] {
            assert!(matches!(clean(s), Cow::Borrowed(b) if b == s));
        }
    }

    proptest! {
        #[test]
        fn no_hidden_character_survives(s in any::<String>()) {
            let out = clean(&s);
            prop_assert!(!out.chars().any(hidden), "{out:?}");
            // idempotent: escaping an escaped string changes nothing
            prop_assert_eq!(clean(&out), out.clone());
        }
    }
}
