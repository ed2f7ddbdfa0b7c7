//! HTTP content decoding, only to count: Zeek logs a body's length after `gzip` or `deflate`
//! decoding (a `deflate` body with or without its zlib header, as Zeek's ZIP analyzer reads it).
//! The decoded bytes are counted and dropped; a body that stops decoding counts what came out
//! before the error.

use flate2::write::{DeflateDecoder, GzDecoder, ZlibDecoder};
use std::io::Write;

/// A content coding Zeek decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// `gzip` or `x-gzip`.
    Gzip,
    /// `deflate`: zlib-wrapped, or raw deflate when the first bytes are no zlib header.
    Deflate,
}

impl Coding {
    /// The coding a `Content-Encoding` value names, if Zeek decodes it.
    pub fn of(value: &[u8]) -> Option<Coding> {
        let v = value.trim_ascii();
        if v.eq_ignore_ascii_case(b"gzip") || v.eq_ignore_ascii_case(b"x-gzip") {
            Some(Coding::Gzip)
        } else if v.eq_ignore_ascii_case(b"deflate") {
            Some(Coding::Deflate)
        } else {
            None
        }
    }
}

/// Counts what a decoder writes.
#[derive(Debug, Default)]
struct Count(u64);

impl Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Decoder {
    /// `deflate` before its first two bytes told whether a zlib header is there.
    Undecided(Vec<u8>),
    Gzip(GzDecoder<Count>),
    Zlib(ZlibDecoder<Count>),
    Raw(DeflateDecoder<Count>),
    /// Decoding failed: the count stays where it was.
    Failed(u64),
}

/// One body being decoded.
pub(crate) struct Body(Decoder);

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Body({} decoded)", self.decoded())
    }
}

impl Body {
    /// A body in `coding`.
    pub fn new(coding: Coding) -> Body {
        Body(match coding {
            Coding::Gzip => Decoder::Gzip(GzDecoder::new(Count::default())),
            Coding::Deflate => Decoder::Undecided(Vec::new()),
        })
    }

    /// Decodes the next bytes of the body.
    pub fn feed(&mut self, bytes: &[u8]) {
        if let Decoder::Undecided(first) = &mut self.0 {
            first.extend_from_slice(bytes);
            if first.len() < 2 {
                return;
            }
            let (cmf, flg) = (first[0], first[1]);
            let zlib = cmf & 0x0f == 8 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0;
            let first = std::mem::take(first);
            self.0 = if zlib {
                Decoder::Zlib(ZlibDecoder::new(Count::default()))
            } else {
                Decoder::Raw(DeflateDecoder::new(Count::default()))
            };
            self.feed(&first);
            return;
        }
        let decoded = self.decoded();
        let ok = match &mut self.0 {
            Decoder::Gzip(d) => d.write_all(bytes).is_ok(),
            Decoder::Zlib(d) => d.write_all(bytes).is_ok(),
            Decoder::Raw(d) => d.write_all(bytes).is_ok(),
            Decoder::Undecided(_) | Decoder::Failed(_) => true,
        };
        if !ok {
            self.0 = Decoder::Failed(decoded);
        }
    }

    /// The body is whole: what it decoded to, in bytes.
    pub fn finish(mut self) -> u64 {
        let _ = match &mut self.0 {
            Decoder::Gzip(d) => d.try_finish(),
            Decoder::Zlib(d) => d.try_finish(),
            Decoder::Raw(d) => d.try_finish(),
            Decoder::Undecided(_) | Decoder::Failed(_) => Ok(()),
        };
        self.decoded()
    }

    /// The bytes decoded so far (some may still wait in the decoder's buffer).
    fn decoded(&self) -> u64 {
        match &self.0 {
            Decoder::Gzip(d) => d.get_ref().0,
            Decoder::Zlib(d) => d.get_ref().0,
            Decoder::Raw(d) => d.get_ref().0,
            Decoder::Undecided(_) => 0,
            Decoder::Failed(n) => *n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use proptest::prelude::*;

    fn text() -> Vec<u8> {
        (0..5000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect()
    }

    fn decode_in_pieces(coding: Coding, body: &[u8], step: usize) -> u64 {
        let mut b = Body::new(coding);
        for piece in body.chunks(step) {
            b.feed(piece);
        }
        b.finish()
    }

    #[test]
    fn gzip_zlib_and_raw_deflate_bodies_count_their_decoded_bytes() {
        let plain = text();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&plain).unwrap_or_default();
        let gz = gz.finish().unwrap_or_default();
        let mut zl = flate2::write::ZlibEncoder::new(Vec::new(), Compression::default());
        zl.write_all(&plain).unwrap_or_default();
        let zl = zl.finish().unwrap_or_default();
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
        raw.write_all(&plain).unwrap_or_default();
        let raw = raw.finish().unwrap_or_default();
        for step in [1, 7, 1460, 1 << 20] {
            assert_eq!(
                decode_in_pieces(Coding::Gzip, &gz, step),
                plain.len() as u64
            );
            assert_eq!(
                decode_in_pieces(Coding::Deflate, &zl, step),
                plain.len() as u64
            );
            assert_eq!(
                decode_in_pieces(Coding::Deflate, &raw, step),
                plain.len() as u64
            );
        }
        // a body cut short counts what came out of it
        let cut = decode_in_pieces(Coding::Gzip, &gz[..gz.len() / 2], 100);
        assert!(cut > 0 && cut < plain.len() as u64, "{cut}");
        assert_eq!(Coding::of(b" X-GZIP "), Some(Coding::Gzip));
        assert_eq!(Coding::of(b"br"), None);
    }

    proptest! {
        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), step in 1usize..50) {
            for coding in [Coding::Gzip, Coding::Deflate] {
                let _ = decode_in_pieces(coding, &bytes, step);
            }
        }
    }
}
