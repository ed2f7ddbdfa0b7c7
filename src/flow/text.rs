//! Network bytes as text, for the parsers that make log columns of them: the hexadecimal
//! digits Zeek writes escapes and MAC addresses with, and UTF-8 text checked whole.

use std::borrow::Cow;

/// Lower-case hexadecimal digits, by value.
pub(crate) const HEX: &[u8; 16] = b"0123456789abcdef";

/// `b` as text: borrowed when it is UTF-8, else with U+FFFD for each invalid sequence. It is
/// checked whole first: `String::from_utf8_lossy` walks valid text in small chunks, which
/// showed in the capture path's profile for long SSH name-lists and DHCP names.
pub(crate) fn utf8(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn valid_text_is_borrowed_and_invalid_bytes_are_replaced() {
        assert!(matches!(
            super::utf8(b"ssh-ed25519"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(super::utf8(b"a\xffb"), "a\u{fffd}b");
    }
}
