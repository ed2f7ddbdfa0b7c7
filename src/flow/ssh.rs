//! SSH from a connection's two byte streams, read as Zeek's SSH analyzer reads them: each
//! side's version line (a server may send other lines first), then the clear-text key
//! exchange (both KEXINITs give the negotiated algorithms, the server's reply gives the host
//! key), then, once a side has sent NEWKEYS, only the sizes of its encrypted segments. From
//! those Zeek infers the login: the first encrypted server segment after the client's is the
//! service accept; one 16 bytes smaller is a success, one of the size of the first failure is
//! another failure. The result is an ssh.log row ([`Session::row`]).
//!
//! Bytes come in order from [`super::stream::Stream`]; what a segment boundary means is kept
//! (Zeek reads sizes per delivered segment). It never panics on any bytes: a malformed stream
//! stops the analysis of the connection, as Zeek's analyzer violation does.

use super::stream::Stream;
use crate::record::{Endpoints, Ssh};
use base64::Engine as _;
use sha2::Digest as _;

/// The longest version line or pre-banner line kept while waiting for its end.
const MAX_LINE: usize = 4096;
/// The largest clear-text packet accepted (a KEXINIT or key-exchange reply is a few KB).
const MAX_PACKET: u32 = 256 << 10;
/// Zeek's `SSH::compression_algorithms`: with these the sizes of encrypted packets say nothing.
const COMPRESSION: &[&str] = &["zlib", "zlib@openssh.com"];

/// SSH message numbers.
const MSG_KEXINIT: u8 = 20;
const MSG_NEWKEYS: u8 = 21;

/// The protocol version a version line announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Version {
    #[default]
    Unknown,
    V1,
    V2,
    /// 1.99: speaks both.
    V199,
}

impl Version {
    fn of_line(line: &str) -> Version {
        let b = line.as_bytes();
        match b.get(4) {
            Some(b'2') => Version::V2,
            Some(b'1') if b.get(6) == Some(&b'9') && b.get(7) == Some(&b'9') => Version::V199,
            Some(b'1') => Version::V1,
            _ => Version::Unknown,
        }
    }

    /// The version the connection speaks, from the client's and the server's (Zeek's binpac
    /// `update_version`).
    fn of_connection(client: Version, server: Version) -> Version {
        use Version::{Unknown, V1, V2, V199};
        match (client, server) {
            (V199, V199) => V2,
            (c, s) if c == s => c,
            (V199, V2) | (V2, V199) => V2,
            (V1, V199) | (V199, V1) => V1,
            _ => Unknown,
        }
    }
}

/// What one side is reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    #[default]
    VersionLine,
    KeyExchange,
    Encrypted,
}

/// The key-exchange method both sides agreed on, which decides which message carries the
/// server's host key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Kex {
    #[default]
    NotYet,
    Dh,
    DhGex,
    Ecc,
    Gss,
    Rsa,
    /// Agreed on a method Zeek does not know.
    Other,
}

impl Kex {
    /// Zeek's table of key-exchange names.
    fn of(name: &str) -> Kex {
        const DH: &[&str] = &[
            "diffie-hellman-group1-sha1",
            "diffie-hellman-group14-sha1",
            "diffie-hellman-group14-sha256",
            "diffie-hellman-group16-sha512",
            "diffie-hellman-group18-sha512",
        ];
        if name == "rsa1024-sha1" || name == "rsa2048-sha256" {
            Kex::Rsa
        } else if DH.contains(&name) {
            Kex::Dh
        } else if name == "diffie-hellman-group-exchange-sha1"
            || name == "diffie-hellman-group-exchange-sha256"
        {
            Kex::DhGex
        } else if name.starts_with("gss-") {
            Kex::Gss
        } else if name.starts_with("ecdh-sha2-")
            || name == "ecmqv-sha2"
            || name.starts_with("curve25519-sha256")
            || name.starts_with("sntrup761x25519-sha512")
            || name.starts_with("mlkem")
        {
            Kex::Ecc
        } else {
            Kex::Other
        }
    }

    /// The message number of the server's reply that carries its host key.
    fn host_key_message(self) -> Option<u8> {
        match self {
            Kex::Dh | Kex::Ecc => Some(31),
            Kex::DhGex | Kex::Gss => Some(33),
            _ => None,
        }
    }
}

/// The algorithm lists of one side's KEXINIT.
#[derive(Debug, Clone, Default)]
struct Offer {
    kex: NameList,
    host_key: NameList,
    /// Client-to-server and server-to-client lists.
    cipher: [NameList; 2],
    mac: [NameList; 2],
    compression: [NameList; 2],
}

/// An SSH `name-list` as sent, its names split only when compared (a KEXINIT offers about a
/// hundred names, and two of them are kept).
#[derive(Debug, Clone, Default)]
struct NameList(String);

impl NameList {
    fn names(&self) -> impl Iterator<Item = &str> {
        // an empty list names nothing (not one empty name)
        self.0.split(',').filter(|_| !self.0.is_empty())
    }
}

/// Zeek's `find_alg`: the client's first choice the server also offers.
fn find_alg(client: &NameList, server: &NameList) -> String {
    client
        .names()
        .find(|c| server.names().any(|s| s == *c))
        .map_or_else(|| "Algorithm negotiation failed".into(), str::to_string)
}

/// Zeek's `find_bidirectional_alg`.
fn find_both(client: &[NameList; 2], server: &[NameList; 2]) -> String {
    let (to_server, to_client) = (
        find_alg(&client[0], &server[0]),
        find_alg(&client[1], &server[1]),
    );
    if to_server == to_client {
        to_server
    } else {
        format!("To server: {to_server}, to client: {to_client}")
    }
}

/// The algorithms both sides agreed on (ssh.log's columns).
#[derive(Debug, Clone, Default, PartialEq)]
struct Agreed {
    cipher: String,
    mac: String,
    compression: String,
    kex: String,
    host_key: String,
}

/// A big-endian reader over one packet that fails instead of panicking.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
    }

    /// An SSH `string`.
    fn string(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    /// An SSH `name-list`.
    fn names(&mut self) -> Option<NameList> {
        Some(NameList(super::text::utf8(self.string()?).into_owned()))
    }
}

/// A KEXINIT's payload after its message number.
fn parse_kexinit(payload: &[u8]) -> Option<Offer> {
    let mut r = Reader(payload);
    r.take(16)?; // cookie
    Some(Offer {
        kex: r.names()?,
        host_key: r.names()?,
        cipher: [r.names()?, r.names()?],
        mac: [r.names()?, r.names()?],
        compression: [r.names()?, r.names()?],
    })
}

/// Zeek's host key fingerprint: `SHA256:` and the first 32 characters of the base64 of the
/// key's SHA-256 (a fixed-size buffer in Zeek cuts the usual 43).
fn fingerprint(key: &[u8]) -> String {
    let digest = sha2::Sha256::digest(key);
    let text = base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest);
    format!("SHA256:{}", &text[..32])
}

/// The login as Zeek's analyzer infers it from encrypted segment sizes.
#[derive(Debug, Clone, Default)]
struct Auth {
    saw_client_data: bool,
    service_accept: usize,
    failure: usize,
    skipped_banner: bool,
    decided: bool,
}

/// What an encrypted server segment says about the login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    Failed,
    Succeeded,
}

impl Auth {
    /// One encrypted segment of `len` bytes.
    fn segment(&mut self, len: usize, is_orig: bool) -> Option<Attempt> {
        if self.decided {
            return None;
        }
        if is_orig {
            self.saw_client_data = true;
            return None;
        }
        if !self.saw_client_data {
            return None;
        }
        if self.service_accept == 0 {
            self.service_accept = len;
            return None;
        }
        // an 8-byte USERAUTH_SUCCESS is 16 bytes smaller than the 24-byte SERVICE_ACCEPT
        let success = len + 16 == self.service_accept;
        if self.failure == 0 && success {
            self.decided = true;
            return Some(Attempt::Succeeded);
        }
        if self.failure == 0 {
            // a much larger first answer is a pre-authentication banner
            if !self.skipped_banner && len > self.service_accept + 256 {
                self.skipped_banner = true;
                return None;
            }
            self.failure = len;
            return None;
        }
        if len == self.failure {
            return Some(Attempt::Failed);
        }
        if success {
            self.decided = true;
            return Some(Attempt::Succeeded);
        }
        None
    }
}

/// One connection's SSH analysis.
#[derive(Debug, Clone, Default)]
pub(crate) struct Session {
    /// Client and server streams.
    streams: [Stream; 2],
    /// Bytes of each side not parsed yet (a line or a packet still arriving).
    bufs: [Vec<u8>; 2],
    phase: [Phase; 2],
    versions: [Version; 2],
    /// The version lines (client, server).
    lines: [Option<String>; 2],
    /// The time of the first version line (ssh.log's `ts`).
    ts: Option<f64>,
    /// Each side's KEXINIT until both are seen.
    offers: [Option<Box<Offer>>; 2],
    kex: Kex,
    agreed: Option<Agreed>,
    fingerprint: Option<String>,
    auth: Auth,
    auth_success: Option<bool>,
    auth_attempts: u32,
    /// The row was written (at a successful login).
    pub logged: bool,
    /// Nothing more is read: a malformed stream, a gap, or the login was decided.
    stopped: bool,
}

/// What a segment changed that the connection must act on now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Nothing,
    /// A successful login: Zeek writes the row at once.
    LoggedIn,
}

impl Session {
    /// A session whose client and server streams start at these sequence numbers (when known).
    pub fn new(client_first: Option<u32>, server_first: Option<u32>) -> Session {
        Session {
            streams: [Stream::first(client_first), Stream::first(server_first)],
            ..Session::default()
        }
    }

    /// Whether there is anything to log: Zeek starts its record at the first version line.
    pub fn started(&self) -> bool {
        self.ts.is_some()
    }

    /// Takes one TCP segment's payload (`seq` is the sequence number of its first byte).
    pub fn segment(&mut self, is_orig: bool, seq: u32, payload: &[u8], ts: f64) -> Outcome {
        if self.stopped {
            return Outcome::Nothing;
        }
        let side = usize::from(!is_orig);
        // the pieces go straight to the parser (an encrypted one is only measured, not copied)
        let mut stream = std::mem::take(&mut self.streams[side]);
        let mut outcome = Outcome::Nothing;
        let kept = stream.segment(seq, payload, &mut |piece| {
            if !self.stopped && self.deliver(side, piece, ts) == Outcome::LoggedIn {
                outcome = Outcome::LoggedIn;
            }
        });
        self.streams[side] = stream;
        if !kept {
            // a content gap ends Zeek's analysis of the connection
            self.stopped = true;
        }
        outcome
    }

    /// One in-order delivery of `side` (0 client, 1 server).
    fn deliver(&mut self, side: usize, data: &[u8], ts: f64) -> Outcome {
        if self.phase[side] == Phase::Encrypted {
            return self.encrypted(side, data.len());
        }
        self.bufs[side].extend_from_slice(data);
        let mut encrypted = 0;
        loop {
            match self.phase[side] {
                Phase::VersionLine => {
                    if !self.version_line(side, ts) {
                        break;
                    }
                }
                Phase::KeyExchange => {
                    if !self.packet(side) {
                        break;
                    }
                }
                Phase::Encrypted => {
                    // the rest of this delivery came after NEWKEYS
                    encrypted = self.bufs[side].len();
                    self.bufs[side] = Vec::new();
                    break;
                }
            }
            if self.stopped {
                return Outcome::Nothing;
            }
        }
        if encrypted > 0 {
            return self.encrypted(side, encrypted);
        }
        Outcome::Nothing
    }

    /// Reads one line of the version exchange, if complete; false when more bytes are needed.
    fn version_line(&mut self, side: usize, ts: f64) -> bool {
        let buf = &mut self.bufs[side];
        let Some(end) = memchr::memchr(b'\n', buf) else {
            if buf.len() > MAX_LINE {
                self.stopped = true;
            }
            return false;
        };
        let mut line = &buf[..end];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let is_version = line.starts_with(b"SSH-");
        let text = String::from_utf8_lossy(line).into_owned();
        buf.drain(..=end);
        if !is_version {
            // a server may greet with other lines first; a client may not
            if side == 0 {
                self.stopped = true;
            }
            return true;
        }
        self.versions[side] = Version::of_line(&text);
        self.lines[side] = Some(text);
        self.phase[side] = Phase::KeyExchange;
        self.ts.get_or_insert(ts);
        true
    }

    /// Reads one clear-text packet, if complete; false when more bytes are needed.
    fn packet(&mut self, side: usize) -> bool {
        let version = Version::of_connection(self.versions[0], self.versions[1]);
        let buf = &self.bufs[side];
        let Some(len) = buf
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
        else {
            return false;
        };
        match version {
            // wait for the other side's version line (bounded)
            Version::Unknown | Version::V199 => {
                if self.lines[0].is_some() && self.lines[1].is_some()
                    || buf.len() > MAX_PACKET as usize
                {
                    self.stopped = true; // versions that do not go together
                }
                false
            }
            Version::V1 => {
                // SSH-1: any message ends the clear text; the packet is padded to 8 bytes
                let total = len as usize + 4 + 8 - (len as usize % 8);
                if len > MAX_PACKET {
                    self.stopped = true;
                    return false;
                }
                if buf.len() < total {
                    return false;
                }
                self.bufs[side].drain(..total);
                self.phase[side] = Phase::Encrypted;
                true
            }
            Version::V2 => {
                if !(2..=MAX_PACKET).contains(&len) {
                    self.stopped = true;
                    return false;
                }
                let total = len as usize + 4;
                if buf.len() < total {
                    return false;
                }
                let packet: Vec<u8> = self.bufs[side].drain(..total).collect();
                self.message(side, &packet[4..]);
                true
            }
        }
    }

    /// One SSH-2 clear-text packet (after its length).
    fn message(&mut self, side: usize, packet: &[u8]) {
        let padding = usize::from(packet[0]);
        let kind = packet[1];
        let payload = packet
            .get(2..packet.len().saturating_sub(padding))
            .unwrap_or_default();
        match kind {
            MSG_NEWKEYS => self.phase[side] = Phase::Encrypted,
            MSG_KEXINIT => self.kexinit(side, payload),
            k if Some(k) == self.kex.host_key_message() && self.fingerprint.is_none() => {
                if let Some(key) = Reader(payload).string() {
                    self.fingerprint = Some(fingerprint(key));
                }
            }
            _ => {}
        }
    }

    fn kexinit(&mut self, side: usize, payload: &[u8]) {
        if self.offers[side].is_some() || self.agreed.is_some() {
            return;
        }
        let Some(offer) = parse_kexinit(payload) else {
            return;
        };
        self.offers[side] = Some(Box::new(offer));
        let [Some(client), Some(server)] = &self.offers else {
            return;
        };
        let agreed = Agreed {
            cipher: find_both(&client.cipher, &server.cipher),
            mac: find_both(&client.mac, &server.mac),
            compression: find_both(&client.compression, &server.compression),
            kex: find_alg(&client.kex, &server.kex),
            host_key: find_alg(&client.host_key, &server.host_key),
        };
        // "Algorithm negotiation failed" is no known method: no host key message
        self.kex = Kex::of(&agreed.kex);
        self.agreed = Some(agreed);
        self.offers = [None, None];
    }

    /// One encrypted delivery of `len` bytes: what it says of the login, as Zeek's
    /// `ssh_auth_attempted` handler counts it.
    fn encrypted(&mut self, side: usize, len: usize) -> Outcome {
        if Version::of_connection(self.versions[0], self.versions[1]) != Version::V2 {
            return Outcome::Nothing;
        }
        let Some(attempt) = self.auth.segment(len, side == 0) else {
            return Outcome::Nothing;
        };
        let compressed = self
            .agreed
            .as_ref()
            .is_some_and(|a| COMPRESSION.contains(&a.compression.as_str()));
        if !self.started() || compressed {
            return Outcome::Nothing;
        }
        let success = attempt == Attempt::Succeeded;
        self.auth_success = Some(success);
        self.auth_attempts += 1;
        if success {
            // Zeek logs a success at once and stops the analyzer
            self.stopped = true;
            self.logged = true;
            return Outcome::LoggedIn;
        }
        Outcome::Nothing
    }

    /// Zeek's ssh.log `version`: 1 or 2 from both version lines (`set_version`).
    fn log_version(&self) -> Option<u8> {
        let (Some(c), Some(s)) = (&self.lines[0], &self.lines[1]) else {
            return None;
        };
        let (c, s) = (c.as_bytes(), s.as_bytes());
        if c.len() <= 4 || s.len() <= 4 {
            return None;
        }
        let is_199 = |v: &[u8]| v.len() > 7 && v[6] == b'9' && v[7] == b'9';
        match (c[4], s[4]) {
            (b'1', b'2') => is_199(c).then_some(2),
            (b'2', b'1') => is_199(s).then_some(2),
            (b'1', b'1') => Some(if is_199(s) && is_199(c) { 2 } else { 1 }),
            (b'2', b'2') => Some(2),
            _ => None,
        }
    }

    /// The ssh.log row of the session, written at `logged`.
    pub fn row(&self, id: Endpoints, logged: f64) -> Ssh {
        let local = (
            super::site::is_local(id.orig_h),
            super::site::is_local(id.resp_h),
        );
        let direction = match local {
            (true, false) => "OUTBOUND",
            (false, true) => "INBOUND",
            _ => "",
        };
        let agreed = self.agreed.clone().unwrap_or_default();
        Ssh {
            id: Endpoints {
                ts: self.ts.unwrap_or(id.ts),
                ..id
            },
            version: self.log_version(),
            auth_success: self.auth_success,
            auth_attempts: self.auth_attempts,
            direction,
            client: self.lines[0].clone().unwrap_or_default(),
            server: self.lines[1].clone().unwrap_or_default(),
            cipher_alg: agreed.cipher,
            mac_alg: agreed.mac,
            compression_alg: agreed.compression,
            kex_alg: agreed.kex,
            host_key_alg: agreed.host_key,
            host_key_fingerprint: self.fingerprint.clone().unwrap_or_default(),
            logged,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_empty_name_list_agrees_on_nothing() {
        let list = |s: &str| NameList(s.to_string());
        assert_eq!(
            find_alg(&list("a,b,c"), &list("c,b")),
            "b",
            "the client's order"
        );
        assert_eq!(
            find_alg(&list(""), &list("")),
            "Algorithm negotiation failed"
        );
        assert_eq!(
            find_alg(&list("a"), &list("")),
            "Algorithm negotiation failed"
        );
    }

    fn name_list(names: &[&str]) -> Vec<u8> {
        let s = names.join(",");
        let mut v = (s.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(s.as_bytes());
        v
    }

    /// An SSH-2 packet of message `kind` with `payload`, padded as the protocol pads.
    pub(crate) fn packet(kind: u8, payload: &[u8]) -> Vec<u8> {
        let body = payload.len() + 2;
        let mut padding = (8 - (body + 4) % 8) % 8;
        if padding < 4 {
            padding += 8;
        }
        let len = (body + padding) as u32;
        let mut v = len.to_be_bytes().to_vec();
        v.push(padding as u8);
        v.push(kind);
        v.extend_from_slice(payload);
        v.extend(std::iter::repeat_n(0, padding));
        v
    }

    pub(crate) fn kexinit(kex: &[&str], compression: &str) -> Vec<u8> {
        let mut p = vec![0u8; 16];
        p.extend(name_list(kex));
        p.extend(name_list(&["ssh-ed25519"]));
        for _ in 0..2 {
            p.extend(name_list(&["aes128-ctr"]));
        }
        for _ in 0..2 {
            p.extend(name_list(&["hmac-sha2-256"]));
        }
        for _ in 0..2 {
            p.extend(name_list(&[compression]));
        }
        p.extend(name_list(&[]));
        p.extend(name_list(&[]));
        p.extend([0, 0, 0, 0, 0]);
        packet(MSG_KEXINIT, &p)
    }

    /// Feeds segments (client?, bytes) in order with consecutive sequence numbers.
    fn run(segments: &[(bool, Vec<u8>)]) -> (Session, Vec<Outcome>) {
        let mut s = Session::new(Some(1), Some(1));
        let mut seq = [1u32, 1u32];
        let mut out = Vec::new();
        for (i, (client, bytes)) in segments.iter().enumerate() {
            let side = usize::from(!client);
            out.push(s.segment(*client, seq[side], bytes, i as f64));
            seq[side] = seq[side].wrapping_add(bytes.len() as u32);
        }
        (s, out)
    }

    fn handshake(compression: &str) -> Vec<(bool, Vec<u8>)> {
        let mut key = 11u32.to_be_bytes().to_vec();
        key.extend_from_slice(b"ssh-ed25519");
        let mut reply = (key.len() as u32).to_be_bytes().to_vec();
        reply.extend_from_slice(&key);
        vec![
            (false, b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()),
            (true, b"SSH-2.0-OpenSSH_9.3\r\n".to_vec()),
            (
                true,
                kexinit(&["curve25519-sha256", "ecdh-sha2-nistp256"], compression),
            ),
            (
                false,
                kexinit(&["ecdh-sha2-nistp256", "curve25519-sha256"], compression),
            ),
            (true, packet(30, &[0; 36])),
            (
                false,
                [packet(31, &reply), packet(MSG_NEWKEYS, &[])].concat(),
            ),
            (true, packet(MSG_NEWKEYS, &[])),
        ]
    }

    #[test]
    fn a_handshake_gives_versions_algorithms_and_the_host_key() {
        let (s, _) = run(&handshake("none"));
        let row = s.row(endpoints(), 9.0);
        assert_eq!(row.client, "SSH-2.0-OpenSSH_9.3");
        assert_eq!(row.server, "SSH-2.0-OpenSSH_9.6");
        assert_eq!(row.version, Some(2));
        assert_eq!(
            row.kex_alg, "curve25519-sha256",
            "the client's first choice"
        );
        assert_eq!(row.cipher_alg, "aes128-ctr");
        assert_eq!(row.host_key_alg, "ssh-ed25519");
        assert_eq!(row.compression_alg, "none");
        assert!(row.host_key_fingerprint.starts_with("SHA256:"));
        assert_eq!(row.host_key_fingerprint.len(), 7 + 32);
        assert_eq!(row.direction, "OUTBOUND");
        assert!(row.id.ts.abs() < 1e-9, "the time of the first version line");
        assert_eq!(row.auth_success, None);
    }

    fn endpoints() -> Endpoints {
        Endpoints {
            ts: 5.0,
            uid: "C1".into(),
            orig_h: "10.0.0.1".parse().unwrap(),
            orig_p: 40000,
            resp_h: "8.8.8.8".parse().unwrap(),
            resp_p: 22,
        }
    }

    #[test]
    fn encrypted_sizes_give_failures_then_a_success() {
        let mut segs = handshake("none");
        let enc = |client: bool, n: usize| (client, vec![0xAB; n]);
        segs.extend([
            enc(true, 52),  // service request
            enc(false, 52), // service accept
            enc(true, 100), // a password
            enc(false, 68), // failure
            enc(true, 100),
            enc(false, 68), // failure again
            enc(true, 100),
            enc(false, 36), // success: 16 smaller than the accept
            enc(false, 500),
        ]);
        let (s, out) = run(&segs);
        let row = s.row(endpoints(), 9.0);
        assert_eq!(row.auth_success, Some(true));
        assert_eq!(row.auth_attempts, 2, "the first failure sets the size only");
        assert_eq!(out.iter().filter(|o| **o == Outcome::LoggedIn).count(), 1);
    }

    #[test]
    fn compression_hides_the_login_and_ssh1_has_no_key_exchange() {
        let mut segs = handshake("zlib@openssh.com");
        segs.extend([
            (true, vec![1; 52]),
            (false, vec![1; 52]),
            (false, vec![1; 36]),
        ]);
        let (s, _) = run(&segs);
        assert_eq!(s.row(endpoints(), 1.0).auth_success, None);

        let (s, _) = run(&[
            (false, b"SSH-1.99-OpenSSH_6.6\n".to_vec()),
            (true, b"SSH-1.5-OpenSSH_6.2\n".to_vec()),
        ]);
        let row = s.row(endpoints(), 1.0);
        assert_eq!(row.version, Some(1));
        assert!(row.kex_alg.is_empty());
    }

    #[test]
    fn a_server_may_greet_before_its_version_and_bytes_may_come_one_by_one() {
        let mut segs = vec![(false, b"Welcome\r\n".to_vec())];
        for (client, bytes) in handshake("none") {
            segs.extend(bytes.into_iter().map(|b| (client, vec![b])));
        }
        let (s, _) = run(&segs);
        let row = s.row(endpoints(), 1.0);
        assert_eq!(row.server, "SSH-2.0-OpenSSH_9.6");
        assert_eq!(row.kex_alg, "curve25519-sha256");
        assert!(!row.host_key_fingerprint.is_empty());
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(segs in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..20)) {
            let (s, _) = run(&segs);
            let _ = s.row(endpoints(), 1.0);
        }

        #[test]
        fn cut_handshakes_never_panic(cut in 0usize..2000, flip in 0usize..2000, byte: u8) {
            let mut all: Vec<(bool, Vec<u8>)> = Vec::new();
            for (client, bytes) in handshake("none") {
                all.extend(bytes.into_iter().map(|b| (client, vec![b])));
            }
            all.truncate(cut.min(all.len()));
            if let Some(x) = all.get_mut(flip) {
                x.1[0] = byte;
            }
            let (s, _) = run(&all);
            let _ = s.row(endpoints(), 1.0);
        }
    }
}
