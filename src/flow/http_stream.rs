//! The HTTP/1.x messages of a connection's two in-order byte streams: a head is parsed once it
//! is whole, however many segments it spans; a body is skipped by its `Content-Length`, its
//! chunks, or (a response without either) until the connection ends, and its length is what
//! Zeek logs: after content decoding for a `gzip` or `deflate` response. A response is complete when its body is, so a body's
//! length and first bytes (its MIME type) are known when it is paired with its request.
//!
//! Heads are parsed by [`super::http`]; the bytes come from [`super::stream::Streams`].

use super::http::{self, HttpRequest, HttpResponse};
use super::http_decode::Body;

/// The longest head kept while waiting for its end; a longer one is parsed as far as it goes.
const MAX_HEAD: usize = 16 << 10;
/// Body bytes kept for the MIME type.
const SNIFF: usize = 64;

/// How a body's end is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Framing {
    /// No body is being read.
    #[default]
    None,
    /// This many bytes are left.
    Length(u64),
    /// Chunked: reading a chunk-size line.
    ChunkSize,
    /// Chunked: this many bytes of chunk data are left (then its CRLF).
    ChunkData(u64),
    /// Chunked: the CRLF after a chunk's data.
    ChunkEnd,
    /// Chunked: trailer lines up to an empty one.
    Trailer,
    /// Until the connection ends.
    Close,
}

/// One side's message being read.
#[derive(Debug, Default)]
struct Side {
    framing: Framing,
    /// Body bytes read so far.
    body_len: u64,
    /// The first body bytes, for the MIME type.
    sniff: Vec<u8>,
    /// The decoder of a coded response body.
    decoder: Option<Box<Body>>,
    /// The response whose body is being read.
    response: Option<HttpResponse>,
    /// The side stopped making sense (a head that is not HTTP): nothing more is read.
    lost: bool,
}

/// A connection's HTTP state.
#[derive(Debug, Default)]
pub(crate) struct HttpConn {
    sides: [Side; 2],
    /// Methods of the requests whose responses are still to come (a HEAD's response has no
    /// body).
    methods: std::collections::VecDeque<String>,
}

/// What a side's bytes completed.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub requests: Vec<HttpRequest>,
    pub responses: Vec<HttpResponse>,
}

impl HttpConn {
    /// Reads what it can of `pending` (side 0 the client, 1 the server), whose first byte
    /// arrived at `since`; returns the bytes consumed and the messages completed.
    pub fn read(&mut self, side: usize, pending: &[u8], since: f64) -> (usize, Parsed) {
        let mut out = Parsed::default();
        let mut at = 0;
        while at < pending.len() && !self.sides[side].lost {
            let rest = &pending[at..];
            let used = if self.sides[side].framing == Framing::None {
                self.head(side, rest, since, &mut out)
            } else {
                self.body(side, rest, &mut out)
            };
            match used {
                Some(n) if n > 0 => at += n,
                _ => break,
            }
        }
        if self.sides[side].lost {
            at = pending.len();
        }
        (at, out)
    }

    /// Reads a head at the start of `bytes`, if whole: the bytes it took.
    fn head(&mut self, side: usize, bytes: &[u8], since: f64, out: &mut Parsed) -> Option<usize> {
        // blank lines between messages are skipped, as Zeek does
        let blank = bytes
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        if blank > 0 {
            return Some(blank);
        }
        let Some(end) = memchr::memmem::find(bytes, b"\r\n\r\n").map(|n| n + 4) else {
            if bytes.len() > MAX_HEAD {
                // a head this long is read as far as it goes, and the side is given up
                Self::partial(side, bytes, since, out);
                self.sides[side].lost = true;
            }
            return None;
        };
        if side == 0 {
            let Some((req, _)) = http::http_request(since, &bytes[..end]) else {
                self.sides[0].lost = true;
                return None;
            };
            self.methods.push_back(req.method.clone());
            self.sides[0].framing = if req.chunked {
                Framing::ChunkSize
            } else {
                length_framing(req.body_len)
            };
            out.requests.push(req);
        } else {
            let Some(res) = http::http_response(&bytes[..end]) else {
                self.sides[1].lost = true;
                return None;
            };
            let chunked = res.chunked;
            let no_body = res.code < 200
                || res.code == 204
                || res.code == 304
                || (self.methods.front().is_some_and(|m| m == "HEAD"));
            let framing = if no_body {
                Framing::None
            } else if chunked {
                Framing::ChunkSize
            } else {
                match res.body_len {
                    Some(n) => length_framing(n),
                    None => Framing::Close,
                }
            };
            let s = &mut self.sides[1];
            s.framing = framing;
            s.body_len = 0;
            s.sniff.clear();
            s.decoder = res
                .coding
                .filter(|_| framing != Framing::None)
                .map(|c| Box::new(Body::new(c)));
            s.response = Some(res);
            if framing == Framing::None {
                self.complete(out);
            }
        }
        Some(end)
    }

    /// Reads body bytes at the start of `bytes`: the bytes it took.
    fn body(&mut self, side: usize, bytes: &[u8], out: &mut Parsed) -> Option<usize> {
        let s = &mut self.sides[side];
        let line = |b: &[u8]| memchr::memchr(b'\n', b).map(|n| n + 1);
        let (used, data) = match s.framing {
            Framing::None => return None,
            Framing::Length(left) => {
                let (n, next) = take_counted(left, bytes, Framing::None, Framing::Length);
                s.framing = next;
                (n, n)
            }
            Framing::Close => (bytes.len(), bytes.len()),
            Framing::ChunkSize => {
                let n = line(bytes)?;
                let text = String::from_utf8_lossy(&bytes[..n]);
                let hex = text.trim().split(';').next().unwrap_or_default().trim();
                let Ok(chunk) = u64::from_str_radix(hex, 16) else {
                    s.lost = true;
                    return None;
                };
                s.framing = if chunk == 0 {
                    Framing::Trailer
                } else {
                    Framing::ChunkData(chunk)
                };
                (n, 0)
            }
            Framing::ChunkData(left) => {
                let (n, next) = take_counted(left, bytes, Framing::ChunkEnd, Framing::ChunkData);
                s.framing = next;
                (n, n)
            }
            Framing::ChunkEnd => {
                let n = line(bytes)?;
                s.framing = Framing::ChunkSize;
                (n, 0)
            }
            Framing::Trailer => {
                let n = line(bytes)?;
                if bytes[..n].trim_ascii().is_empty() {
                    s.framing = Framing::None;
                }
                (n, 0)
            }
        };
        s.body_len += data as u64;
        let start = used - data;
        if s.sniff.len() < SNIFF {
            let take = data.min(SNIFF - s.sniff.len());
            s.sniff.extend_from_slice(&bytes[start..start + take]);
        }
        if let Some(d) = s.decoder.as_mut() {
            d.feed(&bytes[start..used]);
        }
        if side == 1 && s.framing == Framing::None {
            self.complete(out);
        }
        Some(used)
    }

    /// The server's message is whole: its body's length and type complete the response.
    fn complete(&mut self, out: &mut Parsed) {
        let s = &mut self.sides[1];
        let Some(mut res) = s.response.take() else {
            return;
        };
        let decoded = s.decoder.take().map(|d| d.finish());
        if res.code >= 200 {
            res.body_len = Some(decoded.unwrap_or(s.body_len));
        }
        res.mime = http::sniff_mime(&s.sniff);
        s.framing = Framing::None;
        if res.code >= 200 {
            self.methods.pop_front();
        }
        out.responses.push(res);
    }

    /// A head cut short (by the end of the connection or its length) read as far as it goes.
    fn partial(side: usize, bytes: &[u8], since: f64, out: &mut Parsed) {
        if side == 0 {
            if let Some((req, _)) = http::http_request(since, bytes) {
                out.requests.push(req);
            }
        } else if let Some(res) = http::http_response(bytes) {
            out.responses.push(res);
        }
    }

    /// The connection ended with `pending` bytes unread on each side (first byte at `since`):
    /// a cut head is read as far as it goes, a response read until the end is complete.
    pub fn finish(&mut self, pending: [&[u8]; 2], since: [f64; 2]) -> Parsed {
        let mut out = Parsed::default();
        for side in 0..2 {
            let s = &self.sides[side];
            if s.lost {
                continue;
            }
            if s.framing == Framing::None && !pending[side].is_empty() {
                Self::partial(side, pending[side], since[side], &mut out);
            }
        }
        if self.sides[1].response.is_some() {
            self.complete(&mut out);
        }
        out
    }
}

/// Takes up to `left` bytes of `bytes`: how many, and the framing after them (`then` once all
/// are taken, else `more` with what is still to come).
fn take_counted(
    left: u64,
    bytes: &[u8],
    then: Framing,
    more: fn(u64) -> Framing,
) -> (usize, Framing) {
    let n = usize::try_from(left).unwrap_or(usize::MAX).min(bytes.len());
    let next = if n as u64 == left {
        then
    } else {
        more(left - n as u64)
    };
    (n, next)
}

/// How a body of `len` bytes is framed.
fn length_framing(len: u64) -> Framing {
    if len == 0 {
        Framing::None
    } else {
        Framing::Length(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `bytes` of `side` in pieces of `step`, as a stream's pending buffer would hold them.
    fn feed(h: &mut HttpConn, side: usize, bytes: &[u8], step: usize, out: &mut Parsed) -> usize {
        let mut pending: Vec<u8> = Vec::new();
        for piece in bytes.chunks(step.max(1)) {
            pending.extend_from_slice(piece);
            let (used, p) = h.read(side, &pending, 1.0);
            pending.drain(..used);
            out.requests.extend(p.requests);
            out.responses.extend(p.responses);
        }
        pending.len()
    }

    #[test]
    fn heads_split_anywhere_give_the_same_messages() {
        let requests = b"GET /a HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\n\r\n";
        let responses = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n<html\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n2;x=1\r\nab\r\n0\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n";
        for step in [1, 2, 7, 1000] {
            let mut h = HttpConn::default();
            let mut out = Parsed::default();
            assert_eq!(feed(&mut h, 0, requests, step, &mut out), 0);
            assert_eq!(feed(&mut h, 1, responses, step, &mut out), 0);
            let uris: Vec<&str> = out.requests.iter().map(|r| r.uri.as_str()).collect();
            assert_eq!(uris, ["/a", "/b", "/c"], "step {step}");
            assert_eq!(out.requests[0].user_agent, "curl/8");
            let codes: Vec<(u16, Option<u64>)> =
                out.responses.iter().map(|r| (r.code, r.body_len)).collect();
            assert_eq!(
                codes,
                [(200, Some(5)), (100, None), (201, Some(6)), (304, Some(0))],
                "step {step}"
            );
            assert_eq!(out.responses[0].mime, Some("text/html"), "step {step}");
        }
    }

    #[test]
    fn a_body_until_close_and_a_cut_head_are_read_at_the_end() {
        let mut h = HttpConn::default();
        let mut out = Parsed::default();
        feed(
            &mut h,
            1,
            b"HTTP/1.0 200 OK\r\n\r\n%PDF-1.4 etc",
            4,
            &mut out,
        );
        assert!(out.responses.is_empty(), "the body runs to the end");
        let left = feed(&mut h, 0, b"GET /cut HTTP/1.1\r\nHost: y", 5, &mut out);
        let end = h.finish([b"GET /cut HTTP/1.1\r\nHost: y", b""], [2.0, 0.0]);
        assert_eq!(left, 26);
        assert_eq!(end.requests.len(), 1);
        assert_eq!(end.requests[0].uri, "/cut");
        assert_eq!(end.responses.len(), 1);
        assert_eq!(end.responses[0].body_len, Some(12));
        assert_eq!(end.responses[0].mime, Some("application/pdf"));
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), step in 1usize..50, side in 0usize..2) {
            let mut h = HttpConn::default();
            let mut out = Parsed::default();
            feed(&mut h, side, &bytes, step, &mut out);
            let _ = h.finish([&bytes, &bytes], [0.0, 0.0]);
        }

        #[test]
        fn http_like_bytes_never_panic(parts in proptest::collection::vec(prop_oneof![
            Just(b"HTTP/1.1 200 OK\r\n".to_vec()), Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
            Just(b"Content-Length: 3\r\n".to_vec()), Just(b"\r\n".to_vec()), Just(b"ff\r\n".to_vec()),
            Just(b"0\r\n".to_vec()), Just(b"GET / HTTP/1.1\r\n".to_vec()), proptest::collection::vec(any::<u8>(), 0..8),
        ], 0..30), step in 1usize..20) {
            let bytes = parts.concat();
            for side in 0..2 {
                let mut h = HttpConn::default();
                let mut out = Parsed::default();
                feed(&mut h, side, &bytes, step, &mut out);
                let _ = h.finish([&bytes, &bytes], [0.0, 0.0]);
            }
        }
    }
}
