//! Zeek's application log rows (ssl.log, http.log, dns.log, ssh.log) from what a connection's payload
//! parsers found, with the connection's uid and endpoints.
//!
//! It decides nothing about connections.

use super::state::Flow;
use super::{dns, http, tls};
use crate::record::{Dns, Http, Ssh, Ssl};
use compact_str::CompactString;

/// An ssl.log row from the hellos of a connection.
pub(crate) fn ssl_row(
    f: &Flow,
    ts: f64,
    ch: tls::ClientHello,
    sh: Option<tls::ServerHello>,
    cert: Option<(String, String)>,
) -> Ssl {
    let (subject, issuer) = cert.unwrap_or_default();
    let resumed = sh
        .as_ref()
        .is_some_and(|s| !ch.session_id.is_empty() && s.session_id == ch.session_id);
    Ssl {
        id: f.endpoints(ts),
        version: sh
            .as_ref()
            .map(|s| s.version.as_str())
            .unwrap_or_default()
            .into(),
        cipher: sh
            .as_ref()
            .map(|s| format!("0x{:04x}", s.cipher))
            .unwrap_or_default(),
        curve: CompactString::default(),
        server_name: ch.sni,
        resumed,
        established: sh.is_some(),
        subject,
        issuer,
        validation_status: String::new(),
        ja3: ch.ja3.into(),
        ja3s: sh.map(|s| s.ja3s).unwrap_or_default().into(),
    }
}

/// An http.log row for a request (and its response, if any).
pub(crate) fn http_row(f: &Flow, req: http::HttpRequest, res: Option<&http::HttpResponse>) -> Http {
    Http {
        id: f.endpoints(req.ts),
        method: req.method.into(),
        host: req.host,
        uri: req.uri,
        version: res
            .as_ref()
            .map_or(req.version, |r| r.version.clone())
            .into(),
        user_agent: req.user_agent,
        request_body_len: req.body_len,
        response_body_len: res.and_then(|r| r.body_len).unwrap_or(0),
        status_code: res.map(|r| r.code),
        status_msg: res.map(|r| r.message.clone()).unwrap_or_default(),
        resp_fuids: Vec::new(),
        resp_mime_types: res
            .as_ref()
            .and_then(|r| r.mime)
            .map(|m| vec![m.to_string()])
            .unwrap_or_default(),
    }
}

/// A dns.log row for a query (and its response, if any). The question is taken, so its name
/// moves into the row instead of being copied.
pub(crate) fn dns_row(
    f: &Flow,
    ts: f64,
    question: Option<(String, u16, u16)>,
    response: Option<dns::Message<'_>>,
) -> Dns {
    let (rcode, owner, mut answers) = match response {
        Some(m) => (Some(m.rcode), m.owner, m.answers),
        None => (None, None, Vec::new()),
    };
    // A response without a question (mDNS announcements) is logged under its first answer's name.
    let (query, types) = match question {
        Some((name, qtype, qclass)) => (name, Some((qtype, qclass))),
        None => (owner.map(|o| o.text()).unwrap_or_default(), None),
    };
    // NetBIOS name service (port 137) encodes names; Zeek logs them decoded.
    let query = if f.orig.1 == 137 || f.resp.1 == 137 {
        dns::netbios_name(&query)
    } else {
        query
    };
    answers.retain(|a| a.text.is_some());
    Dns {
        id: f.endpoints(ts),
        query,
        qclass_name: types
            .map(|t| dns::qclass_name(t.1).into())
            .unwrap_or_default(),
        qtype_name: types
            .map(|t| dns::qtype_name(t.0).into())
            .unwrap_or_default(),
        rcode_name: rcode.map(|r| dns::rcode_name(r).into()).unwrap_or_default(),
        ttls: answers.iter().map(|a| f64::from(a.ttl)).collect(),
        answers: answers.into_iter().filter_map(|a| a.text).collect(),
    }
}

/// The ssh.log row of a connection's SSH session, written at `logged`.
pub(crate) fn ssh_row(f: &Flow, session: &super::ssh::Session, logged: f64) -> Ssh {
    session.row(f.endpoints(f.ts), logged)
}
