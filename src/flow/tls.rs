//! TLS handshakes in clear: `ClientHello` and `ServerHello` → version, SNI, JA3 and JA3S.
//!
//! JA3 is the MD5 of `version,ciphers,extensions,groups,point_formats` from the `ClientHello`
//! (decimal values joined by `-`, GREASE values left out); JA3S of `version,cipher,extensions`
//! from the `ServerHello`. The negotiated version is the `ServerHello`'s `supported_versions`
//! extension when present (TLS 1.3), else its legacy version, named as Zeek names them.
//!
//! Certificates are not validated.

use md5::{Digest, Md5};

/// What a `ClientHello` says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientHello {
    /// Server Name Indication.
    pub sni: String,
    /// JA3 fingerprint (MD5, hex).
    pub ja3: String,
    /// Session id offered for resumption.
    pub session_id: Vec<u8>,
}

/// What a `ServerHello` says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerHello {
    /// Negotiated version, e.g. `TLSv12`.
    pub version: String,
    /// Chosen cipher suite number.
    pub cipher: u16,
    /// JA3S fingerprint (MD5, hex).
    pub ja3s: String,
    /// Session id.
    pub session_id: Vec<u8>,
}

fn grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn join(values: &[u16]) -> String {
    values
        .iter()
        .filter(|v| !grease(**v))
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join("-")
}

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .fold(String::with_capacity(32), |mut out, b| {
            let _ = std::fmt::Write::write_fmt(&mut out, format_args!("{b:02x}"));
            out
        })
}

/// Zeek's name of a TLS version number.
pub fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSLv3".into(),
        0x0301 => "TLSv10".into(),
        0x0302 => "TLSv11".into(),
        0x0303 => "TLSv12".into(),
        0x0304 => "TLSv13".into(),
        0x0002 => "SSLv2".into(),
        other => format!("unknown-{other}"),
    }
}

/// The handshake message of type `kind` at the start of a TLS stream (`None` until the first
/// record holding the whole message has arrived).
fn handshake(stream: &[u8], kind: u8) -> Option<&[u8]> {
    if stream.len() < 9 || stream[0] != 22 || stream[1] != 3 {
        return None;
    }
    let record_len = usize::from(u16_at(stream, 3)?);
    // A hello may span several records; only the common single-record case is read.
    let record = stream.get(5..5 + record_len)?;
    // a record shorter than a handshake header (found by the damaged-certificate proptest)
    let [k, l0, l1, l2, ..] = *record else {
        return None;
    };
    if k != kind {
        return None;
    }
    let len = (usize::from(l0) << 16) | (usize::from(l1) << 8) | usize::from(l2);
    record.get(4..4 + len)
}

/// Extensions as (type, data).
fn extensions(b: &[u8], mut at: usize) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let Some(total) = u16_at(b, at) else {
        return out;
    };
    at += 2;
    let end = (at + usize::from(total)).min(b.len());
    while at + 4 <= end {
        let (Some(t), Some(l)) = (u16_at(b, at), u16_at(b, at + 2)) else {
            break;
        };
        let Some(data) = b.get(at + 4..at + 4 + usize::from(l)) else {
            break;
        };
        out.push((t, data));
        at += 4 + usize::from(l);
    }
    out
}

/// Parses the `ClientHello` at the start of the client's stream.
pub fn client_hello(stream: &[u8]) -> Option<ClientHello> {
    let h = handshake(stream, 1)?;
    let version = u16_at(h, 0)?;
    let mut at = 2 + 32;
    let sid_len = usize::from(*h.get(at)?);
    let session_id = h.get(at + 1..at + 1 + sid_len)?.to_vec();
    at += 1 + sid_len;
    let cs_len = usize::from(u16_at(h, at)?);
    let ciphers: Vec<u16> = h
        .get(at + 2..at + 2 + cs_len)?
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    at += 2 + cs_len;
    at += 1 + usize::from(*h.get(at)?); // compression methods
    let exts = extensions(h, at);
    let mut sni = String::new();
    let (mut groups, mut formats) = (Vec::new(), Vec::new());
    for (t, d) in &exts {
        match t {
            0 if d.len() > 5 && d[2] == 0 => {
                let l = usize::from(u16_at(d, 3)?);
                sni = String::from_utf8_lossy(d.get(5..5 + l)?).into_owned();
            }
            10 => {
                groups = d
                    .get(2..)?
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
            }
            11 => formats = d.get(1..)?.iter().map(|&f| u16::from(f)).collect(),
            _ => {}
        }
    }
    let ext_types: Vec<u16> = exts.iter().map(|(t, _)| *t).collect();
    let ja3 = format!(
        "{version},{},{},{},{}",
        join(&ciphers),
        join(&ext_types),
        join(&groups),
        join(&formats)
    );
    Some(ClientHello {
        sni,
        ja3: md5_hex(&ja3),
        session_id,
    })
}

/// Parses the `ServerHello` at the start of the server's stream.
pub fn server_hello(stream: &[u8]) -> Option<ServerHello> {
    let h = handshake(stream, 2)?;
    let legacy = u16_at(h, 0)?;
    let mut at = 2 + 32;
    let sid_len = usize::from(*h.get(at)?);
    let session_id = h.get(at + 1..at + 1 + sid_len)?.to_vec();
    at += 1 + sid_len;
    let cipher = u16_at(h, at)?;
    at += 3; // cipher + compression
    let exts = extensions(h, at);
    let version = exts
        .iter()
        .find(|(t, d)| *t == 43 && d.len() == 2)
        .and_then(|(_, d)| u16_at(d, 0))
        .unwrap_or(legacy);
    let ext_types: Vec<u16> = exts.iter().map(|(t, _)| *t).collect();
    let ja3s = format!("{legacy},{cipher},{}", join(&ext_types));
    Some(ServerHello {
        version: version_name(version),
        cipher,
        ja3s: md5_hex(&ja3s),
        session_id,
    })
}

/// The handshake bytes at the start of a TLS stream: the payloads of its leading handshake
/// records, concatenated (a message may span records).
fn handshake_bytes(stream: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    while let (Some(&22), Some(len)) = (stream.get(at), u16_at(stream, at + 3)) {
        let Some(payload) = stream.get(at + 5..at + 5 + usize::from(len)) else {
            // a partial record: what arrived so far
            out.extend_from_slice(stream.get(at + 5..).unwrap_or_default());
            break;
        };
        out.extend_from_slice(payload);
        at += 5 + usize::from(len);
    }
    out
}

/// A certificate name as Zeek writes it (OpenSSL's RFC 2253 form): the last RDN first,
/// `short=value` joined by commas, commas in values escaped.
fn rfc2253(name: &x509_parser::x509::X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let mut parts: Vec<String> = Vec::new();
    for rdn in name.iter_rdn() {
        for atv in rdn.iter() {
            let key = x509_parser::objects::oid2abbrev(atv.attr_type(), registry)
                .map_or_else(|_| atv.attr_type().to_id_string(), str::to_string);
            let value = atv
                .as_str()
                .map(|v| v.replace(',', "\\,"))
                .unwrap_or_default();
            parts.push(format!("{key}={value}"));
        }
    }
    parts.reverse();
    parts.join(",")
}

/// The subject and issuer of the server's first certificate, from the handshake in clear
/// (TLS 1.2 and earlier; TLS 1.3 encrypts it). `None` until the whole certificate has arrived.
pub fn certificate(stream: &[u8]) -> Option<(String, String)> {
    let hs = handshake_bytes(stream);
    let mut at = 0;
    while at + 4 <= hs.len() {
        let kind = hs[at];
        let len = (usize::from(hs[at + 1]) << 16)
            | (usize::from(hs[at + 2]) << 8)
            | usize::from(hs[at + 3]);
        let body = hs.get(at + 4..at + 4 + len)?;
        if kind == 11 {
            // certificate_list<3>, then the first certificate<3>
            let first_len = (usize::from(*body.get(3)?) << 16)
                | (usize::from(*body.get(4)?) << 8)
                | usize::from(*body.get(5)?);
            let der = body.get(6..6 + first_len)?;
            let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
            return Some((rfc2253(cert.subject()), rfc2253(cert.issuer())));
        }
        at += 4 + len;
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A `ClientHello` for `example.com` with a GREASE cipher, SNI, groups and point formats.
    pub(crate) fn client_hello_bytes() -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend([7u8; 32]);
        body.push(0); // no session id
        body.extend([0, 6, 0x0a, 0x0a, 0x13, 0x01, 0xc0, 0x2f]); // GREASE, 4865, 49199
        body.extend([1, 0]); // compression: null
        let mut exts = Vec::new();
        let name = b"example.com";
        let mut sni = vec![0, (name.len() + 3) as u8, 0, 0, name.len() as u8];
        sni.extend(name);
        exts.extend([0, 0, 0, sni.len() as u8]);
        exts.extend(sni);
        exts.extend([0, 10, 0, 6, 0, 4, 0, 29, 0, 23]); // groups 29, 23
        exts.extend([0, 11, 0, 2, 1, 0]); // point formats 0
        body.extend([0, exts.len() as u8]);
        body.extend(exts);
        let mut hs = vec![1, 0, 0, body.len() as u8];
        hs.extend(body);
        let mut rec = vec![22, 3, 1, 0, hs.len() as u8];
        rec.extend(hs);
        rec
    }

    #[test]
    fn client_hello_gives_sni_and_ja3() {
        let ch = client_hello(&client_hello_bytes()).unwrap_or_else(|| panic!("client hello"));
        assert_eq!(ch.sni, "example.com");
        // JA3 string: 771,4865-49199,0-10-11,29-23,0 (GREASE dropped)
        assert_eq!(ch.ja3, md5_hex("771,4865-49199,0-10-11,29-23,0"));
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
        let b = client_hello_bytes();
        for cut in 0..b.len() {
            assert!(client_hello(&b[..cut]).is_none(), "incomplete at {cut}");
        }
    }

    /// A self-signed certificate (made with `openssl req -x509`, EC P-256) for
    /// `/C=US/O=Kalipso Test, Inc./CN=c2.example.net`.
    pub(crate) const CERT_B64: &str = "MIIB2zCCAYGgAwIBAgIUaw7tGUDB7iA41ATe4W+YkWmLZMAwCgYIKoZIzj0EAwIwQzELMAkGA1UEBhMCVVMxGzAZBgNVBAoMEkthbGlwc28gVGVzdCwgSW5jLjEXMBUGA1UEAwwOYzIuZXhhbXBsZS5uZXQwHhcNMjYxMTIyMTgzNjAyWhcNMzYxMTE5MTgzNjAyWjBDMQswCQYDVQQGEwJVUzEbMBkGA1UECgwSS2FsaXBzbyBUZXN0LCBJbmMuMRcwFQYDVQQDDA5jMi5leGFtcGxlLm5ldDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABIInW7DT3435pEK5aRHoklpHpk8FiruHhOfAduOIgBXnIxe2yg7wA6qKzTf4CfkTT3xyiO07R3E4IC8GAvuDTnCjUzBRMB0GA1UdDgQWBBTp6KTGy//4ce/h80fRPNLDeXsQpTAfBgNVHSMEGDAWgBTp6KTGy//4ce/h80fRPNLDeXsQpTAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQCYB6Fx0L3w+T63mfCFMfJLQrvnz2bKCu6afQlWD8Ga3AIgTzjJT6c3hwUtVCBgv6R6i2RH/sVvgRxKk1oecmDUuf0=";

    /// A `ServerHello` and a `Certificate` message, split over two handshake records.
    pub(crate) fn server_flight() -> Vec<u8> {
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD
            .decode(CERT_B64)
            .unwrap_or_default();
        let mut sh = vec![0x03, 0x03];
        sh.extend([9u8; 32]);
        sh.extend([0, 0xc0, 0x2f, 0, 0, 0]);
        let mut hs = vec![2, 0, 0, sh.len() as u8];
        hs.extend(sh);
        let n = der.len();
        let list = n + 3;
        hs.extend([11, 0, ((list + 3) >> 8) as u8, (list + 3) as u8]);
        hs.extend([0, (list >> 8) as u8, list as u8]);
        hs.extend([0, (n >> 8) as u8, n as u8]);
        hs.extend(der);
        // two records: the certificate message spans them
        let (a, b) = hs.split_at(100);
        let mut out = vec![22, 3, 3, 0, a.len() as u8];
        out.extend(a);
        out.extend([22, 3, 3, (b.len() >> 8) as u8, b.len() as u8]);
        out.extend(b);
        out
    }

    #[test]
    fn certificate_subject_and_issuer_as_zeek_writes_them() {
        let flight = server_flight();
        let (subject, issuer) = certificate(&flight).unwrap_or_default();
        assert_eq!(subject, "CN=c2.example.net,O=Kalipso Test\\, Inc.,C=US");
        assert_eq!(issuer, subject, "self-signed");
        assert!(server_hello(&flight).is_some());
        for cut in [10, 120, flight.len() - 1] {
            assert!(certificate(&flight[..cut]).is_none(), "incomplete at {cut}");
        }
    }

    #[test]
    fn server_hello_version_prefers_supported_versions() {
        let mut body = vec![0x03, 0x03];
        body.extend([9u8; 32]);
        body.push(0);
        body.extend([0x13, 0x01, 0]);
        body.extend([0, 6, 0, 43, 0, 2, 3, 4]);
        let mut hs = vec![2, 0, 0, body.len() as u8];
        hs.extend(body);
        let mut rec = vec![22, 3, 3, 0, hs.len() as u8];
        rec.extend(hs);
        let sh = server_hello(&rec).unwrap_or_else(|| panic!("server hello"));
        assert_eq!(sh.version, "TLSv13");
        assert_eq!(sh.cipher, 0x1301);
        assert_eq!(sh.ja3s, md5_hex("771,4865,43"));
    }

    /// A handshake record shorter than a handshake header used to index past its end (found
    /// by `a_damaged_certificate_never_panics`).
    // See: #10
    #[test]
    fn r10_a_record_shorter_than_a_handshake_header_is_no_hello() {
        let stream = [22, 3, 3, 0, 2, 2, 0, 0, 0, 0];
        assert!(server_hello(&stream).is_none());
        assert!(client_hello(&stream).is_none());
        assert!(certificate(&stream).is_none());
    }

    proptest::proptest! {
        #[test]
        fn any_stream_never_panics(stream in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..800)) {
            let _ = client_hello(&stream);
            let _ = server_hello(&stream);
            let _ = certificate(&stream);
        }

        /// Random bytes almost never reach the certificate parser; flipping bytes of a real
        /// server flight does, with the DER intact around the damage.
        #[test]
        fn a_damaged_certificate_never_panics(
            flips in proptest::collection::vec((0usize..10_000, proptest::prelude::any::<u8>()), 1..8)
        ) {
            let mut flight = server_flight();
            for (at, byte) in flips {
                let at = at % flight.len();
                flight[at] = byte;
            }
            let _ = certificate(&flight);
            let _ = server_hello(&flight);
        }
    }
}
