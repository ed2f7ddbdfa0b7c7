//! HTTP/1.x heads as http.log fields: a request (method, target, host, user agent, body
//! length), a response (status, version, body length) and the MIME type of a body from its
//! magic bytes. Heads are parsed with httparse; framing them in a stream is
//! [`super::http_stream`]'s job.
//!
//! No body is kept here; [`super::http_decode`] counts a coded body's decoded bytes.

/// An HTTP request seen on a connection, waiting for its response.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    /// Time of the request.
    pub ts: f64,
    /// Method.
    pub method: String,
    /// Request target.
    pub uri: String,
    /// `1.0` or `1.1`.
    pub version: String,
    /// `Host` header.
    pub host: String,
    /// `User-Agent` header.
    pub user_agent: String,
    /// `Content-Length` of the request body.
    pub body_len: u64,
    /// Whether its body is chunked.
    pub chunked: bool,
}

/// An HTTP status line and headers.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    /// Status code.
    pub code: u16,
    /// Reason phrase.
    pub message: String,
    /// `1.0` or `1.1` (Zeek's http.log shows the reply's version).
    pub version: String,
    /// `Content-Length` of the body, if given.
    pub body_len: Option<u64>,
    /// MIME type of the body from its first bytes, if any arrived with the headers.
    pub mime: Option<&'static str>,
    /// Length of the status line and headers, when complete.
    pub head_len: Option<usize>,
    /// Whether its body is chunked.
    pub chunked: bool,
    /// The content coding of its body, when Zeek decodes it (its length is logged decoded).
    pub coding: Option<super::http_decode::Coding>,
}

fn header<'h>(headers: &'h [httparse::Header<'_>], name: &str) -> Option<&'h [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// Whether the headers say `Transfer-Encoding: chunked`.
fn is_chunked(headers: &[httparse::Header<'_>]) -> bool {
    header(headers, "transfer-encoding")
        .is_some_and(|v| v.windows(7).any(|w| w.eq_ignore_ascii_case(b"chunked")))
}

fn text(v: Option<&[u8]>) -> String {
    v.map(|b| String::from_utf8_lossy(b).trim().to_string())
        .unwrap_or_default()
}

/// Bytes httparse refuses in a head (C0 controls other than tab, CR and LF, and DEL) although
/// Zeek logs them as they came. A control byte in a user agent must not hide the request: a
/// `${jndi:` agent with one `\x01` in it would escape detection.
fn refused(b: u8) -> bool {
    (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n')) || b == 0x7f
}

/// The payload with refused bytes in its head masked, when there are any. The copy has the
/// same length, so a slice of it maps back to the original bytes ([`Unmask`]).
fn masked(payload: &[u8]) -> Option<Vec<u8>> {
    let head = memchr::memmem::find(payload, b"\r\n\r\n").map_or(payload.len(), |n| n + 4);
    if !payload[..head].iter().copied().any(refused) {
        return None;
    }
    let mut copy = payload.to_vec();
    for b in &mut copy[..head] {
        if refused(*b) {
            *b = b'~';
        }
    }
    Some(copy)
}

/// Maps a slice of the parsed buffer back to the same bytes of the original payload.
struct Unmask<'a> {
    parsed: &'a [u8],
    original: &'a [u8],
}

impl<'a> Unmask<'a> {
    fn bytes(&self, part: &'a [u8]) -> &'a [u8] {
        let at = (part.as_ptr() as usize).wrapping_sub(self.parsed.as_ptr() as usize);
        self.original.get(at..at + part.len()).unwrap_or(part)
    }

    fn text(&self, part: Option<&'a [u8]>) -> String {
        text(part.map(|p| self.bytes(p)))
    }
}

/// Parses an HTTP/1.x request head at the start of `payload` (the whole head must be there);
/// with the bytes it and its body take when both are complete.
pub fn http_request(ts: f64, payload: &[u8]) -> Option<(HttpRequest, Option<usize>)> {
    lenient(payload, |buf, original| parse_request(ts, buf, original))
}

/// Parses `payload` as it is, else (httparse refused a control byte) a masked copy whose
/// values are read back from the original bytes.
fn lenient<T>(payload: &[u8], parse: impl Fn(&[u8], &[u8]) -> Option<T>) -> Option<T> {
    parse(payload, payload).or_else(|| parse(&masked(payload)?, payload))
}

fn parse_request(ts: f64, buf: &[u8], original: &[u8]) -> Option<(HttpRequest, Option<usize>)> {
    let un = Unmask {
        parsed: buf,
        original,
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let head = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => Some(n),
        Ok(httparse::Status::Partial) => None,
        Err(_) => return None,
    };
    let (Some(method), Some(uri)) = (req.method, req.path) else {
        return None;
    };
    let body_len: u64 = text(header(req.headers, "content-length"))
        .parse()
        .unwrap_or(0);
    let used = head
        .and_then(|n| n.checked_add(usize::try_from(body_len).ok()?))
        .filter(|&n| n <= buf.len());
    let req = HttpRequest {
        ts,
        method: String::from_utf8_lossy(un.bytes(method.as_bytes())).into_owned(),
        uri: String::from_utf8_lossy(&unescape_uri(un.bytes(uri.as_bytes()))).into_owned(),
        version: format!("1.{}", req.version.unwrap_or(1)),
        host: un.text(header(req.headers, "host")),
        user_agent: un.text(header(req.headers, "user-agent")),
        body_len,
        chunked: is_chunked(req.headers),
    };
    Some((req, used))
}

/// The URI as Zeek logs it (its `unescape_URI`): `%XX` and `%uXXXX` escapes decoded (a `%00`
/// high byte of the latter dropped), a doubled `%` read as one, any other `%` kept as it is.
fn unescape_uri(uri: &[u8]) -> Vec<u8> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let byte = |hi: u8, lo: u8| Some((digit(hi)? << 4) | digit(lo)?);
    let mut out = Vec::with_capacity(uri.len());
    let mut at = 0;
    while at < uri.len() {
        if uri[at] != b'%' {
            out.push(uri[at]);
            at += 1;
            continue;
        }
        match &uri[at + 1..] {
            [] => {
                out.push(b'%');
                break;
            }
            [only] => {
                out.extend_from_slice(&[b'%', *only]);
                break;
            }
            // the first of two is dropped, the second read as an escape's start
            [b'%', ..] => at += 1,
            [hi, lo, ..] if byte(*hi, *lo).is_some() => {
                out.extend(byte(*hi, *lo));
                at += 3;
            }
            [b'u', hi1, lo1, hi2, lo2, ..]
                if byte(*hi1, *lo1).is_some() && byte(*hi2, *lo2).is_some() =>
            {
                if !(*hi1 == b'0' && *lo1 == b'0') {
                    out.extend(byte(*hi1, *lo1));
                }
                out.extend(byte(*hi2, *lo2));
                at += 6;
            }
            [other, ..] => {
                out.extend_from_slice(&[b'%', *other]);
                at += 2;
            }
        }
    }
    out
}

/// Parses an HTTP/1.x response head at the start of `payload`.
pub fn http_response(payload: &[u8]) -> Option<HttpResponse> {
    lenient(payload, parse_response)
}

fn parse_response(buf: &[u8], original: &[u8]) -> Option<HttpResponse> {
    let un = Unmask {
        parsed: buf,
        original,
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut res = httparse::Response::new(&mut headers);
    let head_len = match res.parse(buf) {
        Ok(httparse::Status::Complete(n)) => Some(n),
        Ok(httparse::Status::Partial) => None,
        Err(_) => return None,
    };
    let code = res.code?;
    let body_len = text(header(res.headers, "content-length")).parse().ok();
    let mime = head_len
        .and_then(|n| original.get(n..))
        .and_then(sniff_mime);
    Some(HttpResponse {
        code,
        // Zeek's word for a status line without a reason phrase
        message: match res.reason.map(str::trim) {
            Some(r) if !r.is_empty() => {
                String::from_utf8_lossy(un.bytes(r.as_bytes())).into_owned()
            }
            _ => "<empty>".into(),
        },
        version: format!("1.{}", res.version.unwrap_or(1)),
        body_len,
        mime,
        head_len,
        chunked: is_chunked(res.headers),
        coding: header(res.headers, "content-encoding").and_then(super::http_decode::Coding::of),
    })
}

/// The MIME type of a body from its magic bytes.
pub fn sniff_mime(body: &[u8]) -> Option<&'static str> {
    let lower: Vec<u8> = body.iter().take(64).map(u8::to_ascii_lowercase).collect();
    let trimmed: &[u8] = lower.as_slice().trim_ascii_start();
    let magics: &[(&[u8], &str)] = &[
        (b"\x89png\r\n\x1a\n", "image/png"),
        (b"gif87a", "image/gif"),
        (b"gif89a", "image/gif"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"%pdf-", "application/pdf"),
        (b"pk\x03\x04", "application/zip"),
        (b"mz", "application/x-dosexec"),
        (b"\x7felf", "application/x-executable"),
        (b"\x1f\x8b", "application/x-gzip"),
        (b"<!doctype html", "text/html"),
        (b"<html", "text/html"),
        (b"<?xml", "application/xml"),
    ];
    magics
        .iter()
        .find(|(m, _)| lower.starts_with(m) || trimmed.starts_with(m))
        .map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_unescaped_as_zeek_logs_them() {
        let u = |s: &str| String::from_utf8_lossy(&unescape_uri(s.as_bytes())).into_owned();
        assert_eq!(
            u("/search?q=Wireshark+%21&x=%2f"),
            "/search?q=Wireshark+!&x=/"
        );
        // bytes 0xAE (no UTF-8 alone), then 0x26 and 0x03
        assert_eq!(u("/%u00AE%u2603"), "/\u{fffd}&\u{3}");
        assert_eq!(u("/a%%41"), "/aA", "a doubled % is read as one");
        assert_eq!(u("/a%zz"), "/a%zz");
        assert_eq!(u("/a%4"), "/a%4");
        assert_eq!(u("/a%"), "/a%");
    }

    proptest::proptest! {
        #[test]
        fn unescaping_never_panics_or_grows(s in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            proptest::prop_assert!(unescape_uri(&s).len() <= s.len());
        }
    }
    use proptest::prelude::*;

    #[test]
    fn http_heads_parse() {
        let req = http_request(
            1.0,
            b"GET /a?b HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\n\r\n",
        );
        let (req, used) = req.unwrap_or_else(|| panic!("request"));
        assert_eq!(used, Some(60), "the head and its empty body");
        assert_eq!(
            (
                req.method.as_str(),
                req.uri.as_str(),
                req.host.as_str(),
                req.user_agent.as_str(),
                req.version.as_str()
            ),
            ("GET", "/a?b", "example.com", "curl/8", "1.1")
        );
        let res = http_response(b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\n<html")
            .unwrap_or_else(|| panic!("response"));
        assert_eq!(
            (res.code, res.message.as_str(), res.body_len, res.mime),
            (404, "Not Found", Some(5), Some("text/html"))
        );
        assert_eq!(http_request(1.0, b"\x16\x03\x01"), None);
        assert_eq!(sniff_mime(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
    }

    // See: #10
    #[test]
    fn r10_control_bytes_in_a_head_do_not_hide_the_request() {
        let (req, used) = http_request(
            1.0,
            b"GET /a\x01b HTTP/1.1\r\nHost: x.example\r\nUser-Agent: ${jndi:\x01ldap://e}\x7f\r\n\r\n",
        )
        .unwrap_or_else(|| panic!("request"));
        assert_eq!(
            req.user_agent, "${jndi:\u{1}ldap://e}\u{7f}",
            "kept as it came"
        );
        assert_eq!(req.uri, "/a\u{1}b");
        assert_eq!(req.host, "x.example");
        assert!(used.is_some());
        let res = http_response(b"HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n")
            .unwrap_or_else(|| panic!("response"));
        assert_eq!((res.code, res.message.as_str()), (200, "O\u{1}K"));
    }

    proptest! {
        #[test]
        fn any_payload_never_panics(payload in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = http_request(0.0, &payload);
            let _ = http_response(&payload);
            let _ = sniff_mime(&payload);
        }
    }
}
