//! SSH from captures against Zeek itself (zeek-btest baselines, see the corpus's
//! `zeek-btest/SOURCE.md`): ssh.log rows, the login attempts of failed logins, the
//! password-guessing notice, and SSH on a port that is not 22.

use crate::corpus::{self, baseline_at};
use kalipso::flow::Timeouts;
use kalipso::record::Ssh;

fn ssh_rows(trace: &str) -> Option<Vec<Ssh>> {
    let pcap = corpus::path(&format!("zeek-btest/Traces/{trace}"))?;
    Some(
        kalipso::input::read_with(&[pcap], Timeouts::default())
            .batch
            .ssh,
    )
}

/// ssh.log's columns from `id.orig_h` on, as Zeek writes them (unset as empty).
pub(crate) fn columns(s: &Ssh) -> Vec<String> {
    let flag = |b: Option<bool>| b.map_or(String::new(), |b| if b { "T" } else { "F" }.into());
    vec![
        s.id.orig_h.to_string(),
        s.id.orig_p.to_string(),
        s.id.resp_h.to_string(),
        s.id.resp_p.to_string(),
        s.version.map(|v| v.to_string()).unwrap_or_default(),
        flag(s.auth_success),
        s.auth_attempts.to_string(),
        s.direction.to_string(),
        s.client.clone(),
        s.server.clone(),
        s.cipher_alg.clone(),
        s.mac_alg.clone(),
        s.compression_alg.clone(),
        s.kex_alg.clone(),
        s.host_key_alg.clone(),
        s.host_key_fingerprint.clone(),
    ]
}

/// Every ssh.log row of ssh.pcap (22 connections: SSH-1 and SSH-2, logins that succeed,
/// fail or are hidden by compression, a server on port 41644 and one on 2200) equals Zeek's
/// on every column but `ts` (masked in the baseline) and `uid` (Zeek's are random).
#[test]
fn ssh_log_of_ssh_pcap_equals_zeek() {
    let Some(rows) = ssh_rows("ssh/ssh.pcap") else {
        return;
    };
    let zeek = baseline_at("zeek-btest/Baseline/scripts.base.protocols.ssh.basic/ssh.log");
    assert_eq!(zeek.len(), 22);
    let mut theirs: Vec<Vec<String>> = zeek.iter().map(|r| r[2..].to_vec()).collect();
    let mut ours: Vec<Vec<String>> = rows.iter().map(columns).collect();
    theirs.sort();
    ours.sort();
    let differ: Vec<String> = ours
        .iter()
        .zip(&theirs)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("ours {a:?}\nzeek {b:?}"))
        .collect();
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    assert_eq!(ours.len(), theirs.len());
}

/// sshguess.pcap: 11 failed logins from one client (every server packet has a bad checksum,
/// which Zeek ignores with `-C` and kalipso never checks). Each connection's attempt count
/// equals Zeek's `ssh_auth_result` (one-auth-fail-only/output, uids in creation order, so the
/// k-th uid is source port 55469+k), and with the test's `password_guesses_limit=10` exactly
/// Zeek's one `SSH::Password_Guessing` notice is made, with its message.
#[test]
fn sshguess_attempts_and_the_password_guessing_notice_equal_zeek() {
    let Some(rows) = ssh_rows("ssh/sshguess.pcap") else {
        return;
    };
    let attempts: Vec<(u16, Option<bool>, u32)> = {
        let mut v: Vec<_> = rows
            .iter()
            .map(|r| (r.id.orig_p, r.auth_success, r.auth_attempts))
            .collect();
        v.sort_unstable();
        v
    };
    let zeek = [4, 2, 2, 2, 3, 4, 2, 2, 3, 2, 2];
    let expected: Vec<(u16, Option<bool>, u32)> = zeek
        .iter()
        .enumerate()
        .map(|(k, n)| (55470 + k as u16, Some(false), *n))
        .collect();
    assert_eq!(attempts, expected);

    let first = rows.iter().map(|r| r.id.ts).fold(f64::INFINITY, f64::min);
    let notices: Vec<(String, String, String)> = kalipso::flow::ssh_activity(&rows, first, 10)
        .into_iter()
        .filter_map(|a| match a.detail {
            Some(kalipso::record::Detail::Fields(f)) if !f.note.is_empty() => {
                Some((a.ip.to_string(), f.note.to_string(), f.msg.to_string()))
            }
            _ => None,
        })
        .collect();
    let zeek = baseline_at(
        "zeek-btest/Baseline/scripts.policy.protocols.ssh.detect-bruteforcing/notice.log",
    );
    // columns: 10 note, 11 msg, 13 src
    let zeek: Vec<(String, String, String)> = zeek
        .iter()
        .map(|r| (r[13].clone(), r[10].clone(), r[11].clone()))
        .collect();
    assert_eq!(zeek.len(), 1);
    assert_eq!(notices, zeek);
    // Zeek's default limit (30) is not reached by 11 failures
    assert!(
        kalipso::flow::ssh_activity(&rows, first, kalipso::flow::PASSWORD_GUESSES_LIMIT)
            .iter()
            .all(|a| !matches!(&a.detail, Some(kalipso::record::Detail::Fields(f)) if !f.note.is_empty()))
    );
}

/// SSH on port 80 is recognised by its banners, not its port: the connection's service is
/// ssh (spicy.replaces/conn.log) and its ssh.log row carries both version lines
/// (`spicy.replaces/output` prints them: client `OpenSSH_5.2`, server `OpenSSH_5.8p1 Debian-1ubuntu3`).
#[test]
fn ssh_on_port_80_is_found_by_its_banner() {
    let Some(pcap) = corpus::path("zeek-btest/Traces/ssh/ssh-on-port-80.pcap") else {
        return;
    };
    let input = kalipso::input::read_with(&[pcap], Timeouts::default());
    let conn = baseline_at("zeek-btest/Baseline/spicy.replaces/conn.log");
    assert_eq!(conn.len(), 1);
    assert_eq!(input.batch.conns.len(), 1);
    let c = &input.batch.conns[0];
    assert_eq!(
        (c.resp_p.to_string(), c.service.to_string()),
        (conn[0][5].clone(), conn[0][7].clone())
    );
    assert_eq!(input.batch.ssh.len(), 1);
    let s = &input.batch.ssh[0];
    assert_eq!(s.client, "SSH-2.0-OpenSSH_5.2");
    assert_eq!(s.server, "SSH-2.0-OpenSSH_5.8p1 Debian-1ubuntu3");
    assert_eq!(s.version, Some(2));
}
