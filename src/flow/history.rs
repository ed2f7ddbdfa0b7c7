//! Zeek's `history` letters of one connection: upper case for the originator, each letter once
//! per direction, in the order they first happened; `^` first when Zeek flipped the connection.

use super::PacketMeta;
use crate::record::Proto;

/// The most letters a history holds: ten letters in two cases, `X` and `^`.
const MAX: usize = 23;

/// The letters, inline: they are added for every packet, and a string's checks and growth
/// cost more than these bytes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct History {
    letters: [u8; MAX],
    len: u8,
}

impl History {
    /// The history of a connection whose first packet came from its responder.
    pub fn flipped() -> Self {
        let mut h = Self::default();
        h.add(b'^');
        h
    }

    /// Adds a letter unless it is there already.
    pub fn add(&mut self, c: u8) {
        let n = usize::from(self.len);
        if n < MAX && !self.contains(c) {
            self.letters[n] = c;
            self.len += 1;
        }
    }

    pub fn contains(&self, c: u8) -> bool {
        self.letters[..usize::from(self.len)].contains(&c)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_str(&self) -> &str {
        // only ASCII letters are ever added
        std::str::from_utf8(&self.letters[..usize::from(self.len)]).unwrap_or_default()
    }

    /// Adds the letters of one packet (ICMP connections have none).
    pub fn record(&mut self, p: &PacketMeta, is_orig: bool, retransmission: bool) {
        let mut add = |c: u8| self.add(if is_orig { c } else { c.to_ascii_lowercase() });
        match p.proto {
            Proto::Tcp => {
                let f = p.flags;
                if f.syn && (f.fin || f.rst) {
                    add(b'Q');
                } else if f.syn {
                    add(if f.ack { b'H' } else { b'S' });
                }
                if f.fin && f.rst {
                    add(b'I');
                }
                if f.fin {
                    add(b'F');
                }
                if f.rst {
                    add(b'R');
                }
                if p.payload > 0 {
                    add(b'D');
                    if retransmission {
                        add(b'T');
                    }
                } else if f.ack && !f.syn && !f.fin && !f.rst {
                    add(b'A');
                }
                if p.window == 0 && !f.rst && !f.syn {
                    add(b'W');
                }
            }
            // Zeek marks every UDP packet as data, even an empty one
            Proto::Udp => add(b'D'),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::History;

    #[test]
    fn each_letter_is_kept_once_in_the_order_it_came() {
        let mut h = History::flipped();
        for c in *b"ShSADadAF" {
            h.add(c);
        }
        assert_eq!(h.as_str(), "^ShADadF");
        assert!(h.contains(b'd') && !h.contains(b'f'));
    }

    #[test]
    fn every_letter_in_both_cases_fits() {
        let mut h = History::flipped();
        for c in *b"QHSIFRDTAWqhsifrdtawX" {
            h.add(c);
        }
        assert_eq!(h.as_str(), "^QHSIFRDTAWqhsifrdtawX");
        h.add(b'Z'); // past the letters Zeek writes: ignored, never a panic
        assert_eq!(h.as_str().len(), 23);
    }
}
