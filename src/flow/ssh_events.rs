//! What Zeek's default scripts log about SSH besides ssh.log, made from a capture's ssh.log rows
//! as the activity records the detections read (the same records an ssh.log, software.log and
//! notice.log of the same traffic give):
//! - each ssh.log row (its source, server and login result);
//! - software.log: each client and server version line, once per host and version, for local
//!   hosts only (`Software::asset_tracking = LOCAL_HOSTS`), without the protocol prefix;
//! - notice.log: `SSH::Password_Guessing` when one client has `password_guesses_limit` failed
//!   logins within an epoch of `guessing_timeout` (policy/protocols/ssh/detect-bruteforcing).
//!
//! It reads rows only; the parsing is in [`super::ssh`].

use super::site;
use crate::record::{Activity, Detail, Fields, Ssh};
use rustc_hash::{FxHashMap, FxHashSet};
use std::net::IpAddr;

/// Zeek's `SSH::password_guesses_limit`.
pub const PASSWORD_GUESSES_LIMIT: u32 = 30;
/// Zeek's `SSH::guessing_timeout` (the `SumStats` epoch), seconds.
const GUESSING_TIMEOUT: f64 = 30.0 * 60.0;
/// Servers a notice names (the `SumStats` sample size).
const SAMPLES: usize = 5;

/// The activity records of `rows` (in the order Zeek writes them), time-ordered. Epochs of the
/// guessing count start at `first_packet`, the capture's first packet time.
pub fn ssh_activity(rows: &[Ssh], first_packet: f64, guesses_limit: u32) -> Vec<Activity> {
    let mut out: Vec<Activity> = Vec::new();
    let mut seen_software: FxHashSet<(IpAddr, String)> = FxHashSet::default();
    for row in rows {
        // an ssh.log row is read for its login result only
        out.push(Activity {
            ts: row.id.ts,
            ip: row.id.orig_h,
            detail: row.auth_success.map(|ok| {
                Detail::Fields(Box::new(Fields {
                    resp: Some(row.id.resp_h),
                    auth_success: Some(ok),
                    uid: row.id.uid.clone(),
                    ..Fields::default()
                }))
            }),
        });
        let sides = [
            (
                row.id.orig_h,
                client_software(&row.client).to_string(),
                "SSH::CLIENT",
                &row.client,
            ),
            (
                row.id.resp_h,
                server_software(&row.server).into_owned(),
                "SSH::SERVER",
                &row.server,
            ),
        ];
        for (host, version, kind, line) in sides {
            if line.is_empty()
                || !site::is_local(host)
                || !seen_software.insert((host, version.clone()))
            {
                continue;
            }
            out.push(Activity {
                ts: row.id.ts,
                ip: host,
                detail: Some(Detail::Fields(Box::new(Fields {
                    software_type: kind.into(),
                    version: version.into(),
                    ..Fields::default()
                }))),
            });
        }
    }
    out.extend(guessing_notices(rows, first_packet, guesses_limit));
    out.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    out
}

/// The client's version line without its `SSH-2.0-` prefix (Zeek: `sub(version,
/// /^SSH[0-9\.\-]+/, "")`).
fn client_software(line: &str) -> &str {
    match line.strip_prefix("SSH") {
        Some(rest) => {
            let n = rest
                .bytes()
                .take_while(|b| b.is_ascii_digit() || *b == b'.' || *b == b'-')
                .count();
            if n == 0 { line } else { &rest[n..] }
        }
        None => line,
    }
}

/// The server's version line without its first `SSH-x.y-` (Zeek: `sub(version,
/// /SSH[0-9\.\-]{2,}/, "")`); the text before it stays.
fn server_software(line: &str) -> std::borrow::Cow<'_, str> {
    let b = line.as_bytes();
    let mut from = 0;
    while let Some(i) = line[from..].find("SSH").map(|i| i + from) {
        let n = b[i + 3..]
            .iter()
            .take_while(|c| c.is_ascii_digit() || **c == b'.' || **c == b'-')
            .count();
        if n >= 2 {
            return format!("{}{}", &line[..i], &line[i + 3 + n..]).into();
        }
        from = i + 3;
    }
    line.into()
}

/// One client's failed logins in the current epoch.
#[derive(Default)]
struct Guesses {
    epoch: i64,
    failures: u32,
    servers: Vec<IpAddr>,
    noticed: bool,
}

/// `SSH::Password_Guessing` notices: a failed login is a row with both version lines and
/// `auth_success` false, counted when Zeek writes it (`logged`).
fn guessing_notices(rows: &[Ssh], first_packet: f64, limit: u32) -> Vec<Activity> {
    let mut failed: Vec<&Ssh> = rows
        .iter()
        .filter(|r| !r.client.is_empty() && !r.server.is_empty())
        .filter(|r| r.auth_success == Some(false))
        .collect();
    failed.sort_by(|a, b| a.logged.total_cmp(&b.logged));
    let mut by_client: FxHashMap<IpAddr, Guesses> = FxHashMap::default();
    let mut out = Vec::new();
    for r in failed {
        let epoch = ((r.logged - first_packet) / GUESSING_TIMEOUT).floor() as i64;
        let g = by_client.entry(r.id.orig_h).or_default();
        if g.epoch != epoch {
            *g = Guesses {
                epoch,
                ..Guesses::default()
            };
        }
        g.failures += 1;
        if g.servers.len() < SAMPLES {
            g.servers.push(r.id.resp_h);
        }
        if g.noticed || g.failures < limit {
            continue;
        }
        g.noticed = true;
        out.push(Activity {
            ts: r.logged,
            ip: r.id.orig_h,
            detail: Some(Detail::Fields(Box::new(Fields {
                note: "SSH::Password_Guessing".into(),
                msg: format!(
                    "{} appears to be guessing SSH passwords (seen in {} connections).",
                    r.id.orig_h, g.failures
                )
                .into(),
                ..Fields::default()
            }))),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Endpoints;

    #[test]
    fn software_lines_lose_their_protocol_prefix_as_zeek_cuts_it() {
        assert_eq!(client_software("SSH-2.0-OpenSSH_9.6"), "OpenSSH_9.6");
        assert_eq!(client_software("SSH-1.5-OpenSSH_6.2"), "OpenSSH_6.2");
        assert_eq!(client_software("SSHX"), "SSHX");
        assert_eq!(
            server_software("SSH-1.99-OpenSSH_6.6.1p1 Ubuntu-2ubuntu2"),
            "OpenSSH_6.6.1p1 Ubuntu-2ubuntu2"
        );
        assert_eq!(
            server_software("SSH-2.0-paramiko_1.15.2"),
            "paramiko_1.15.2"
        );
        assert_eq!(server_software("xSSH-2.0-x"), "xx");
        assert_eq!(server_software("SSH"), "SSH");
    }

    fn row(orig: &str, resp: &str, at: f64, ok: Option<bool>) -> Ssh {
        Ssh {
            id: Endpoints {
                ts: at,
                uid: "C".into(),
                orig_h: orig.parse().unwrap(),
                orig_p: 5000,
                resp_h: resp.parse().unwrap(),
                resp_p: 22,
            },
            version: Some(2),
            auth_success: ok,
            auth_attempts: 1,
            direction: "",
            client: "SSH-2.0-OpenSSH_9.3".into(),
            server: "SSH-2.0-OpenSSH_9.6".into(),
            cipher_alg: String::new(),
            mac_alg: String::new(),
            compression_alg: String::new(),
            kex_alg: String::new(),
            host_key_alg: String::new(),
            host_key_fingerprint: String::new(),
            logged: at + 1.0,
        }
    }

    #[test]
    fn failures_within_an_epoch_make_one_notice() {
        let mut rows: Vec<Ssh> = (0..12)
            .map(|i| row("10.0.0.1", "10.0.0.2", f64::from(i), Some(false)))
            .collect();
        rows.push(row("10.0.0.3", "10.0.0.2", 3.0, Some(true)));
        let notices = guessing_notices(&rows, 0.0, 10);
        assert_eq!(notices.len(), 1);
        assert!(
            (notices[0].ts - 10.0).abs() < 1e-9,
            "the tenth failure, when it was logged"
        );
        let Some(Detail::Fields(f)) = &notices[0].detail else {
            panic!("a notice");
        };
        assert_eq!(
            f.msg,
            "10.0.0.1 appears to be guessing SSH passwords (seen in 10 connections)."
        );
        // spread over two epochs, no count reaches the limit
        let spread: Vec<Ssh> = (0..12)
            .map(|i| row("10.0.0.1", "10.0.0.2", f64::from(i) * 300.0, Some(false)))
            .collect();
        assert!(guessing_notices(&spread, 0.0, 10).is_empty());
    }

    #[test]
    fn software_is_logged_once_per_local_host_and_version() {
        let rows = vec![
            row("10.0.0.1", "8.8.8.8", 1.0, None),
            row("10.0.0.1", "8.8.8.8", 2.0, Some(true)),
        ];
        let activity = ssh_activity(&rows, 0.0, PASSWORD_GUESSES_LIMIT);
        let software: Vec<&Fields> = activity
            .iter()
            .filter_map(|a| match &a.detail {
                Some(Detail::Fields(f)) if !f.software_type.is_empty() => Some(&**f),
                _ => None,
            })
            .collect();
        assert_eq!(software.len(), 1, "the public server is not tracked");
        assert_eq!(software[0].software_type, "SSH::CLIENT");
        assert_eq!(software[0].version, "OpenSSH_9.3");
        assert_eq!(activity.len(), 3, "two ssh rows and one software row");
        assert!(
            activity[0].detail.is_none(),
            "no login result, nothing to read"
        );
    }
}
