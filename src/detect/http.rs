//! HTTP rules: suspicious user agents, repeated empty requests to search engines, and
//! downloads of Windows executables.
//!
//! It does not parse HTTP; it reads http.log records.

use super::context::{Ctx, Finding};
use super::evidence::{EvidenceKind, FlowRef, Party, Payload};
use crate::profile::Window;
use rustc_hash::FxHashMap as HashMap;

/// Search engines whose empty requests Slips counts.
const SEARCH_HOSTS: [&str; 5] = [
    "bing.com",
    "google.com",
    "yandex.com",
    "yahoo.com",
    "duckduckgo.com",
];

/// MIME types of Windows executables.
const EXECUTABLES: [&str; 6] = [
    "application/x-dosexec",
    "application/x-msdownload",
    "application/x-ms-dos-executable",
    "application/x-ms-exe",
    "application/x-exe",
    "application/x-winexe",
];

fn suspicious_ua(ua: &str) -> bool {
    let l = ua.to_ascii_lowercase();
    ["httpsend", "chm_msdn", "jndi", "tesseract"]
        .iter()
        .any(|s| l.contains(s))
        // Slips matches "pb" anywhere, which flags ordinary agents; only the tool's own name
        || l.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == "pb")
}

pub(crate) fn run(cx: &mut Ctx<'_>, w: &Window) {
    // empty requests per search host, not yet reported
    let mut empty: HashMap<String, Vec<u32>> = HashMap::default();
    for &i in &w.http {
        let h = &cx.store.http[i as usize];
        if suspicious_ua(&h.user_agent) {
            cx.add(Finding {
                kind: EvidenceKind::SuspiciousUserAgent,
                attacker: cx.me(),
                victim: Some(Party::Ip(h.id.resp_h)),
                level: None,
                confidence: 1.0,
                payload: Payload::SuspiciousUserAgent {
                    request: Box::new([
                        h.user_agent.as_str().into(),
                        h.host.as_str().into(),
                        h.uri.as_str().into(),
                    ]),
                },
                ts: h.id.ts,
                flows: FlowRef::Http(i).into(),
            });
        }
        let full = h.host.to_ascii_lowercase();
        let host = full.strip_prefix("www.").unwrap_or(&full);
        if SEARCH_HOSTS.contains(&host) && h.request_body_len == 0 {
            let e = empty.entry(host.to_string()).or_default();
            e.push(i);
            if e.len() == 4 {
                let flows = std::mem::take(e).into_iter().map(FlowRef::Http).collect();
                cx.add(Finding {
                    kind: EvidenceKind::EmptyConnections,
                    attacker: cx.me(),
                    victim: Some(Party::name(host)),
                    level: None,
                    confidence: 1.0,
                    payload: Payload::EmptyConnections {
                        host: host.to_string().into(),
                    },
                    ts: h.id.ts,
                    flows,
                });
            }
        }
        if let Some(mime) = h
            .resp_mime_types
            .iter()
            .find(|m| EXECUTABLES.contains(&m.as_str()))
        {
            cx.add(Finding {
                kind: EvidenceKind::DosExecutableDownload,
                attacker: Party::Ip(h.id.resp_h),
                victim: Some(cx.me()),
                level: None,
                confidence: 1.0,
                payload: Payload::ExecutableDownload {
                    server: h.id.resp_h,
                    download: Box::new([
                        mime.as_str().into(),
                        format!("{}{}", h.host, h.uri).into(),
                    ]),
                },
                ts: h.id.ts,
                flows: FlowRef::Http(i).into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspicious_user_agents() {
        assert!(suspicious_ua("${jndi:ldap://x}"));
        assert!(suspicious_ua("pb"));
        assert!(!suspicious_ua("Mozilla/5.0 (webpbrowser)"));
    }
}
