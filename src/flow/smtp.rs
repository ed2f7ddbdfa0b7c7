//! SMTP sessions as Zeek's SMTP analyzer and `base/protocols/smtp` script log them: one
//! smtp.log row per mail transaction, written when the server answers the message's final
//! `.` (or a new `MAIL FROM` or the end of the connection leaves one open), with the client's
//! HELO, MAIL FROM and RCPT TO, the message's top-level headers, the server's last reply, and
//! whether the session went TLS.
//!
//! It reads each side's in-order bytes line by line (from [`super::stream`]); AUTH exchanges
//! and message bodies are skipped, and nothing after `STARTTLS` is read.

use crate::record::{Endpoints, Smtp};
use std::collections::VecDeque;
use std::net::IpAddr;

/// The longest line kept while waiting for its end; a longer one is dropped.
const MAX_LINE: usize = 4096;
/// The most addresses kept in one of a row's sets (Zeek's `max_rcptto_addresses` and kin).
const MAX_ADDRESSES: usize = 1000;
/// The most hosts kept in a row's path (Zeek's `max_path_length`).
const MAX_PATH: usize = 1000;
/// The most header bytes kept for one header (continuation lines included).
const MAX_HEADER: usize = 16 << 10;

/// Where the client's lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Client {
    /// Commands.
    #[default]
    Commands,
    /// The message's header lines.
    Headers,
    /// The message's body, up to the `.` line.
    Body,
    /// This many bytes of a `BDAT` chunk are still to come.
    Chunk(u64),
}

/// One connection's SMTP session.
#[derive(Debug)]
#[allow(clippy::struct_excessive_bools)] // independent facts of Zeek's session state
pub(crate) struct Session {
    endpoints: (IpAddr, IpAddr),
    client: Client,
    /// Commands waiting for their final replies, in order.
    commands: VecDeque<String>,
    /// The client sent `AUTH` and the server asks for more (334): lines are credentials.
    auth: bool,
    /// `DATA` was sent; its 354 (or the client's first message line) starts the message.
    data_sent: bool,
    /// Nothing more is read (TLS, or a side that stopped making sense).
    done: bool,
    helo: String,
    messages: u32,
    /// The transaction being logged, once the session showed any SMTP.
    row: Option<Smtp>,
    /// Whether the client did anything worth a row (MAIL, RCPT, STARTTLS).
    client_activity: bool,
    /// The header being read (name and value, continuation lines appended).
    header: Option<(String, String)>,
    /// Whether `Received` headers still add to the path.
    received_path: bool,
    /// Rows finished, in order.
    pub rows: Vec<Smtp>,
}

impl Session {
    /// A session between the connection's originator and responder.
    pub fn new(orig: IpAddr, resp: IpAddr) -> Session {
        Session {
            endpoints: (orig, resp),
            client: Client::Commands,
            commands: VecDeque::new(),
            auth: false,
            data_sent: false,
            done: false,
            helo: String::new(),
            messages: 0,
            row: None,
            client_activity: false,
            header: None,
            received_path: true,
            rows: Vec::new(),
        }
    }

    /// Reads what it can of one side's in-order bytes (`side` 0 the client) that began
    /// arriving at `ts`: the bytes consumed.
    pub fn read(&mut self, side: usize, bytes: &[u8], ts: f64) -> usize {
        let mut at = 0;
        while at < bytes.len() && !self.done {
            if let (0, Client::Chunk(left)) = (side, self.client) {
                let n = usize::try_from(left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len() - at);
                at += n;
                self.client = match left - n as u64 {
                    0 => Client::Commands,
                    rest => Client::Chunk(rest),
                };
                continue;
            }
            let Some(end) = memchr::memchr(b'\n', &bytes[at..]) else {
                if bytes.len() - at > MAX_LINE {
                    // a line this long is no SMTP line: dropped
                    return bytes.len();
                }
                break;
            };
            let line = &bytes[at..at + end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let text = String::from_utf8_lossy(line);
            if side == 0 {
                self.client_line(&text, ts);
            } else {
                self.server_line(&text, ts);
            }
            at += end + 1;
        }
        if self.done { bytes.len() } else { at }
    }

    /// The connection ended: an open transaction with client activity is logged.
    pub fn finish(&mut self) {
        self.flush_header();
        self.message_done();
    }

    /// The transaction row, made when the session first shows SMTP.
    fn row(&mut self, ts: f64) -> &mut Smtp {
        let (orig, resp) = self.endpoints;
        let (helo, depth) = (&self.helo, self.messages + 1);
        self.row.get_or_insert_with(|| Smtp {
            id: Endpoints {
                ts,
                uid: compact_str::CompactString::default(),
                orig_h: orig,
                orig_p: 0,
                resp_h: resp,
                resp_p: 0,
            },
            trans_depth: depth,
            helo: helo.clone(),
            mailfrom: String::new(),
            rcptto: Vec::new(),
            date: String::new(),
            from: String::new(),
            to: Vec::new(),
            cc: Vec::new(),
            reply_to: String::new(),
            msg_id: String::new(),
            in_reply_to: String::new(),
            subject: String::new(),
            x_originating_ip: None,
            first_received: String::new(),
            second_received: String::new(),
            last_reply: String::new(),
            path: vec![resp, orig],
            user_agent: String::new(),
            tls: false,
        })
    }

    /// Logs the open transaction if the client did something in it (Zeek's `smtp_message`).
    fn message_done(&mut self) {
        if self.client_activity {
            if let Some(row) = self.row.take() {
                self.rows.push(row);
            }
            self.client_activity = false;
            self.received_path = true;
        }
    }

    fn client_line(&mut self, line: &str, ts: f64) {
        match self.client {
            Client::Headers | Client::Body => return self.message_line(line),
            Client::Commands if self.data_sent => {
                // a client that does not wait for the 354
                self.data_sent = false;
                self.client = Client::Headers;
                return self.message_line(line);
            }
            _ => {}
        }
        if self.auth {
            // credentials, not a command
            return;
        }
        let (command, arg) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
        let command = command.to_ascii_uppercase();
        if command.is_empty() {
            return;
        }
        self.row(ts);
        match command.as_str() {
            "HELO" | "EHLO" => {
                self.helo = arg.to_string();
                self.row(ts).helo = arg.to_string();
            }
            "MAIL" if arg.len() >= 5 && arg[..5].eq_ignore_ascii_case("from:") => {
                // the last message, in case its acknowledgement was not seen
                self.message_done();
                let first = email_addresses(arg).into_iter().next();
                let row = self.row(ts);
                if let Some(a) = first {
                    row.mailfrom = a;
                }
                self.client_activity = true;
            }
            "RCPT" if arg.len() >= 3 && arg[..3].eq_ignore_ascii_case("to:") => {
                let addresses = email_addresses(arg);
                let row = self.row(ts);
                for a in addresses {
                    add(
                        &mut row.rcptto,
                        a.replace("ORCPT=rfc822;", "").replace("ORCPT=rfc822", ""),
                    );
                }
                self.client_activity = true;
            }
            "DATA" => self.data_sent = true,
            "BDAT" => {
                let size = arg.split_whitespace().next().and_then(|n| n.parse().ok());
                if let Some(size) = size.filter(|&n: &u64| n > 0) {
                    self.client = Client::Chunk(size);
                }
                if arg.trim_end().to_ascii_uppercase().ends_with(" LAST") {
                    self.commands.push_back("BDAT LAST".into());
                    return;
                }
            }
            "AUTH" => self.auth = true,
            "STARTTLS" => {
                let row = self.row(ts);
                row.tls = true;
                self.client_activity = true;
            }
            _ => {}
        }
        self.commands.push_back(command);
    }

    fn server_line(&mut self, line: &str, ts: f64) {
        let code: Option<u16> = line.get(..3).and_then(|c| c.parse().ok());
        let Some(code) = code else {
            return;
        };
        let continued = line.as_bytes().get(3) == Some(&b'-');
        let text = line.get(4..).unwrap_or("");
        let row = self.row(ts);
        row.last_reply = format!("{code} {text}");
        if continued {
            return;
        }
        let command = self.commands.pop_front().unwrap_or_default();
        match command.as_str() {
            "." | "BDAT LAST" => {
                self.messages += 1;
                self.message_done();
                self.row = None;
                self.row(ts);
            }
            "DATA" if code == 354 => {
                self.data_sent = false;
                self.client = Client::Headers;
            }
            "DATA" => self.data_sent = false,
            "AUTH" if code == 334 => {
                // the exchange goes on: the command waits for its final answer
                self.commands.push_front(command);
            }
            "AUTH" => self.auth = false,
            "STARTTLS" if code == 220 => self.done = true,
            _ => {}
        }
    }

    /// A line of the message (headers, then the body), up to the `.` line.
    fn message_line(&mut self, line: &str) {
        if line == "." {
            self.flush_header();
            self.client = Client::Commands;
            self.commands.push_back(".".into());
            return;
        }
        if self.client == Client::Body {
            return;
        }
        if line.is_empty() {
            self.flush_header();
            self.client = Client::Body;
            return;
        }
        // dot-stuffing: a leading dot was doubled
        let line = line
            .strip_prefix('.')
            .filter(|_| line.starts_with(".."))
            .unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = self.header.as_mut() {
                if value.len() < MAX_HEADER {
                    value.push_str(line);
                }
            }
            return;
        }
        self.flush_header();
        if let Some((name, value)) = line.split_once(':') {
            self.header = Some((
                name.trim().to_ascii_uppercase(),
                value.trim_start().to_string(),
            ));
        }
    }

    /// The header just read goes to the row (Zeek's `mime_one_header` handlers).
    fn flush_header(&mut self) {
        let Some((name, value)) = self.header.take() else {
            return;
        };
        let mut received_path = self.received_path;
        let Some(row) = self.row.as_mut() else {
            return;
        };
        match name.as_str() {
            "MESSAGE-ID" => row.msg_id = value,
            "RECEIVED" => {
                if received_path {
                    if let Some(ip) = received_from(&value) {
                        if !super::site::is_local(ip) {
                            received_path = false;
                        }
                        if row.path.last() != Some(&ip) && row.path.len() < MAX_PATH {
                            row.path.push(ip);
                        }
                    }
                }
                row.second_received = std::mem::replace(&mut row.first_received, value);
            }
            "IN-REPLY-TO" => row.in_reply_to = value,
            "SUBJECT" => row.subject = value,
            "FROM" => row.from = value,
            "REPLY-TO" => row.reply_to = value,
            "DATE" => row.date = value,
            "TO" => {
                for a in mime_addresses(&value) {
                    add(&mut row.to, a);
                }
            }
            "CC" => {
                for a in mime_addresses(&value) {
                    add(&mut row.cc, a);
                }
            }
            "X-ORIGINATING-IP" => row.x_originating_ip = ip_addresses(&value).into_iter().next(),
            "X-MAILER" | "USER-AGENT" | "X-USER-AGENT" => row.user_agent = value,
            _ => {}
        }
        self.received_path = received_path;
    }
}

/// Adds `a` to a set kept in first-seen order, up to its limit.
fn add(set: &mut Vec<String>, a: String) {
    if set.len() < MAX_ADDRESSES && !set.contains(&a) {
        set.push(a);
    }
}

/// The e-mail addresses in a command argument (Zeek's `extract_email_addrs_vec`): words
/// around an `@`, cut at `<`, `>`, `,`, `:`, `;` and blanks.
fn email_addresses(s: &str) -> Vec<String> {
    s.split(['<', '>', ',', ':', ';', ' ', '\t'])
        .filter(|w| {
            w.split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        })
        .map(str::to_string)
        .collect()
}

/// The addresses of a `To` or `Cc` header (Zeek's `split_mime_email_addresses`): the
/// comma-separated parts that hold an `@` (commas inside quotes do not split), trimmed.
fn mime_addresses(value: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let (mut quoted, mut start) = (false, 0);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| p.contains('@'))
        .map(str::to_string)
        .collect()
}

/// The IPv4 addresses written in a text, in order.
fn ip_addresses(text: &str) -> Vec<IpAddr> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|w| w.trim_matches('.').parse::<std::net::Ipv4Addr>().ok())
        .map(IpAddr::V4)
        .collect()
}

/// The host a `Received` header names: the second address in it if there are several (the
/// first is usually the sender's name lookup), else the first.
fn received_from(value: &str) -> Option<IpAddr> {
    let ips = ip_addresses(value);
    ips.get(1).or(ips.first()).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn session() -> Session {
        Session::new([10, 0, 0, 1].into(), [10, 0, 0, 2].into())
    }

    /// Feeds a dialogue: (side, text) pairs in order.
    fn talk(s: &mut Session, lines: &[(usize, &str)]) {
        for (side, text) in lines {
            let bytes = format!("{text}\r\n");
            assert_eq!(s.read(*side, bytes.as_bytes(), 1.0), bytes.len());
        }
        s.finish();
    }

    #[test]
    fn a_transaction_gives_its_envelope_headers_and_last_reply() {
        let mut s = session();
        talk(
            &mut s,
            &[
                (1, "220 mail.example ESMTP"),
                (0, "EHLO client.example"),
                (1, "250-mail.example"),
                (1, "250 PIPELINING"),
                (0, "MAIL FROM:<alice@example.com> SIZE=100"),
                (1, "250 OK"),
                (0, "RCPT TO:<bob@example.net>"),
                (0, "RCPT TO:<carol@example.org>"),
                (1, "250 OK"),
                (1, "250 OK"),
                (0, "DATA"),
                (1, "354 go ahead"),
                (0, "From: \"Alice, A.\" <alice@example.com>"),
                (0, "To: bob@example.net, \"Carol, C\" <carol@example.org>"),
                (0, "Subject: hello"),
                (0, "  again"),
                (0, "Received: from x (x [203.0.113.9]) by y (192.168.1.1)"),
                (0, "X-Mailer: test mailer"),
                (0, ""),
                (0, "Subject: not a header"),
                (0, ".."),
                (0, "."),
                (1, "250 OK id=1"),
                (0, "QUIT"),
                (1, "221 bye"),
            ],
        );
        assert_eq!(s.rows.len(), 1, "QUIT alone is no transaction");
        let r = &s.rows[0];
        assert_eq!(r.helo, "client.example");
        assert_eq!(r.mailfrom, "alice@example.com");
        assert_eq!(r.rcptto, ["bob@example.net", "carol@example.org"]);
        assert_eq!(r.from, "\"Alice, A.\" <alice@example.com>");
        assert_eq!(
            r.to,
            ["bob@example.net", "\"Carol, C\" <carol@example.org>"]
        );
        assert_eq!(r.subject, "hello  again");
        assert_eq!(r.user_agent, "test mailer");
        assert_eq!(r.last_reply, "250 OK id=1");
        assert_eq!(r.trans_depth, 1);
        assert_eq!(
            r.path,
            [
                IpAddr::from([10, 0, 0, 2]),
                IpAddr::from([10, 0, 0, 1]),
                IpAddr::from([192, 168, 1, 1])
            ]
        );
    }

    #[test]
    fn a_refused_login_is_the_last_reply_of_its_transaction() {
        let mut s = session();
        talk(
            &mut s,
            &[
                (1, "220 mx"),
                (0, "EHLO [0.0.0.0]"),
                (1, "250 mx"),
                (0, "AUTH LOGIN"),
                (1, "334 VXNlcm5hbWU6"),
                (0, "dXNlcg=="),
                (1, "334 UGFzc3dvcmQ6"),
                (0, "cGFzcw=="),
                (1, "535 5.7.8 authentication failed"),
                (0, "MAIL FROM:<a@b.example>"),
                (1, "250 OK"),
                (0, "RCPT TO:<c@d.example>"),
                (1, "250 OK"),
                (0, "DATA"),
                (1, "354 go"),
                (0, "Subject: x"),
                (0, ""),
                (0, "body"),
                (0, "."),
                (1, "554 5.7.1 bad smtp-auth user"),
                (0, "MAIL FROM:<a@b.example>"),
                (1, "250 OK"),
            ],
        );
        assert_eq!(s.rows.len(), 2);
        assert_eq!(s.rows[0].last_reply, "554 5.7.1 bad smtp-auth user");
        assert_eq!(s.rows[0].trans_depth, 1);
        assert_eq!(
            s.rows[1].trans_depth, 2,
            "the next transaction, logged at the end"
        );
    }

    #[test]
    fn nothing_after_starttls_is_read() {
        let mut s = session();
        talk(
            &mut s,
            &[
                (1, "220 mx"),
                (0, "EHLO me"),
                (1, "250 mx"),
                (0, "STARTTLS"),
                (1, "220 ready"),
                (0, "\u{16}\u{3}\u{1} binary"),
                // inside TLS: a line that reads like a reply is not one
                (1, "250 inside TLS"),
            ],
        );
        assert_eq!(s.rows.len(), 1);
        assert!(s.rows[0].tls);
        assert_eq!(s.rows[0].last_reply, "220 ready");
    }

    proptest! {
        #[test]
        fn any_bytes_on_either_side_never_panic(
            chunks in proptest::collection::vec((0usize..2, proptest::collection::vec(any::<u8>(), 0..200)), 0..20)
        ) {
            let mut s = session();
            for (side, bytes) in chunks {
                let n = s.read(side, &bytes, 1.0);
                prop_assert!(n <= bytes.len());
            }
            s.finish();
        }
    }
}
