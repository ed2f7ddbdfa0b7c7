//! A connection's uid in 16 bytes: Zeek's uids (`C` and 17 or so letters and digits, kalipso's
//! own the same) packed six bits a character, anything else on the heap.
//!
//! Every connection has one, millions of them: a 24-byte string made a connection 136 bytes,
//! three cache lines wherever it lay; packed it is 128, two lines. Rules and outputs read
//! connections gathered from all over the record vector, so each one read costs a line less.
//!
//! A string fits when it is at most [`PACKED_MAX`] ASCII letters and digits; then it is always
//! packed, so two uids are equal exactly when their strings are, and the derived `Eq` and
//! `Hash` are the strings'. Order is the strings' order.

use std::fmt;

/// The longest uid kept inline: 20 characters of 6 bits in 15 bytes.
pub const PACKED_MAX: usize = 20;

/// A connection uid.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Uid {
    /// Up to 20 characters, 6 bits each (0 ends the string, 1–62 are `0-9A-Za-z`).
    Packed([u8; 15]),
    /// Any other string (a `Box<String>` is one pointer, which keeps the enum at 16 bytes).
    #[allow(clippy::box_collection)]
    Other(Box<String>),
}

impl Default for Uid {
    fn default() -> Self {
        Uid::Packed([0; 15])
    }
}

/// The 6-bit code of every byte: 1–62 for `0-9A-Za-z` in that order, 0 for anything else.
const CODE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b as u8 {
            c @ b'0'..=b'9' => c - b'0' + 1,
            c @ b'A'..=b'Z' => c - b'A' + 11,
            c @ b'a'..=b'z' => c - b'a' + 37,
            _ => 0,
        };
        b += 1;
    }
    t
};

/// The character of a code from [`CODE`] (1–62).
fn char_of(c: u8) -> u8 {
    match c {
        1..=10 => b'0' + c - 1,
        11..=36 => b'A' + c - 11,
        _ => b'a' + c - 37,
    }
}

impl Uid {
    /// The uid written `s`.
    pub fn new(s: &str) -> Uid {
        let b = s.as_bytes();
        if b.len() > PACKED_MAX {
            return Uid::Other(Box::new(s.to_owned()));
        }
        // 120 bits, the first character in the highest six, built as two halves of ten
        // characters; a 0 code (not a letter or a digit) anywhere leaves a 0 in `all`
        let (first, second) = b.split_at(b.len().min(10));
        let mut all = 64u8;
        let mut half = |chars: &[u8]| {
            let mut bits = 0u64;
            for &c in chars {
                let code = CODE[usize::from(c)];
                all &= code.wrapping_add(63);
                bits = (bits << 6) | u64::from(code);
            }
            bits << (6 * (10 - chars.len()))
        };
        let bits = (u128::from(half(first)) << 60) | u128::from(half(second));
        if all & 64 == 0 {
            return Uid::Other(Box::new(s.to_owned()));
        }
        let mut packed = [0u8; 15];
        packed.copy_from_slice(&bits.to_be_bytes()[1..]);
        Uid::Packed(packed)
    }

    /// The uid as text.
    pub fn text(&self) -> UidText<'_> {
        match self {
            Uid::Other(s) => UidText::Other(s),
            Uid::Packed(packed) => {
                let mut wide = [0u8; 16];
                wide[1..].copy_from_slice(packed);
                let bits = u128::from_be_bytes(wide);
                let mut buf = [0u8; PACKED_MAX];
                let mut len = 0;
                while len < PACKED_MAX {
                    let c = ((bits >> (6 * (PACKED_MAX - 1 - len))) & 63) as u8;
                    if c == 0 {
                        break;
                    }
                    buf[len] = char_of(c);
                    len += 1;
                }
                UidText::Packed(buf, len as u8)
            }
        }
    }

    /// Whether the uid is empty (the log left it unset).
    pub fn is_empty(&self) -> bool {
        match self {
            Uid::Packed(p) => p[0] == 0,
            Uid::Other(s) => s.is_empty(),
        }
    }
}

/// A uid's text: a small buffer for a packed uid, a borrowed string for another.
pub enum UidText<'a> {
    /// The decoded characters and how many there are.
    Packed([u8; PACKED_MAX], u8),
    /// The stored string.
    Other(&'a str),
}

impl std::ops::Deref for UidText<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            // only ASCII letters and digits are ever decoded
            UidText::Packed(buf, len) => {
                std::str::from_utf8(&buf[..usize::from(*len)]).unwrap_or("")
            }
            UidText::Other(s) => s,
        }
    }
}

impl serde::Serialize for UidText<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl fmt::Debug for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.text(), f)
    }
}

impl PartialOrd for Uid {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Uid {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (*self.text()).cmp(&*other.text())
    }
}

impl From<&str> for Uid {
    fn from(s: &str) -> Uid {
        Uid::new(s)
    }
}

impl From<String> for Uid {
    fn from(s: String) -> Uid {
        Uid::new(&s)
    }
}

impl PartialEq<&str> for Uid {
    fn eq(&self, other: &&str) -> bool {
        &*self.text() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uid_is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Uid>(), 16);
    }

    #[test]
    fn every_uid_reads_back_as_written() {
        let long = "C".repeat(PACKED_MAX);
        let longer = "C".repeat(PACKED_MAX + 1);
        for s in [
            "",
            "C",
            "CHhAvVGS1DHFjwGM9",
            "C00000000000000000",
            "Czzzzzzzzzzzzzzzzz",
            "0123456789",
            "ABCDEFGHIJKLMNOPQRST",
            "abcdefghijklmnopqrst",
            long.as_str(),
            longer.as_str(),
            "C-1",
            "ünï",
            "has space",
            "F0d3kd2Ltx8dGdv3Ih", // a files.log fuid shape
        ] {
            let u = Uid::new(s);
            assert_eq!(&*u.text(), s);
            assert_eq!(u.to_string(), s);
            assert_eq!(u.is_empty(), s.is_empty());
            let fits = s.len() <= PACKED_MAX && s.bytes().all(|b| b.is_ascii_alphanumeric());
            assert_eq!(matches!(u, Uid::Packed(_)), fits, "{s}");
        }
        assert_eq!(Uid::default(), Uid::new(""));
    }

    #[test]
    fn equality_and_order_are_the_strings() {
        let words = [
            "", "0", "9", "A", "Z", "a", "z", "C1", "C10", "C2", "Ca", "CA", "C-1", "C~", "Cb",
        ];
        for a in words {
            for b in words {
                let (ua, ub) = (Uid::new(a), Uid::new(b));
                assert_eq!(ua == ub, a == b, "{a} {b}");
                assert_eq!(ua.cmp(&ub), a.cmp(b), "{a} {b}");
            }
        }
    }
}
