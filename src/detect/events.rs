//! Rules on the records of other logs, in time order: Zeek's notices (port and address scans,
//! password guessing, Slips' ICMP-scan script), SMTP login failures and brute force, SSH client
//! versions that change, unsolicited and outside-network ARP, ARP scans, SSH logins, and GRE
//! tunnels.
//!
//! These records carry no connection index, so their evidence names no flows.

use super::context::{Ctx, Finding, ignored};
use super::evidence::{EvidenceKind, Flows, Party, Payload};
use crate::record::{Activity, Arp, ArpOp, Detail, Fields, Mac};
use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;

/// Failed SSH logins to one server that make password guessing.
const SSH_FAILURES: u32 = 20;

/// What the rules remember across one window's records.
#[derive(Default)]
struct State {
    /// Times of recent bad SMTP logins (10 s).
    smtp: Vec<f64>,
    /// SSH client versions seen, in order of change.
    ssh_versions: Vec<String>,
    /// ARP request targets of the last 30 s, oldest first (records come in time order), and
    /// the same targets as a set: a router asks for thousands of hosts in a window.
    arp_targets: std::collections::VecDeque<(f64, IpAddr)>,
    arp_target_set: rustc_hash::FxHashSet<IpAddr>,
    /// The target count of the last ARP scan evidence.
    arp_reported: usize,
    /// Failed SSH logins per server.
    ssh_failed: HashMap<IpAddr, u32>,
}

pub(crate) fn run(cx: &mut Ctx<'_>, events: &[&Activity]) {
    let mut st = State::default();
    let me = cx.me();
    for a in events {
        let Some(detail) = a.detail.as_ref() else {
            continue;
        };
        let found = |kind, confidence, payload| Finding {
            kind,
            attacker: me.clone(),
            victim: detail.resp().map(Party::Ip),
            level: None,
            confidence,
            payload,
            ts: a.ts,
            flows: Flows::none(),
        };
        let mut found_now = Vec::new();
        match detail {
            Detail::Arp(d) => arp(a, d, &mut st, &mut found_now, &found),
            Detail::Fields(d) => {
                notice(d, &mut found_now, &found);
                smtp(a.ts, d, &mut st, &mut found_now, &found);
                ssh_version(d, &mut st, &mut found_now, &found);
                ssh_login(d, &mut st, &mut found_now, &found);
                gre_tunnel(d, &mut found_now, &found);
            }
        }
        for f in found_now {
            cx.add(f);
        }
    }
}

/// The uids of connections whose ssh record says the login succeeded.
pub(crate) fn ssh_logged_in(
    events: &[Activity],
) -> rustc_hash::FxHashSet<compact_str::CompactString> {
    events
        .iter()
        .filter_map(|a| match &a.detail {
            Some(Detail::Fields(f)) if f.auth_success == Some(true) && !f.uid.is_empty() => {
                Some(f.uid.clone())
            }
            _ => None,
        })
        .collect()
}

/// Makes a finding of one record at the kind's default level.
type Make<'a> = dyn Fn(EvidenceKind, f64, Payload) -> Finding + 'a;

fn notice(d: &Fields, out: &mut Vec<Finding>, found: &Make<'_>) {
    if d.note.is_empty() {
        return;
    }
    let n = &d.note;
    let (kind, prefix) = if n.contains("Port_Scan") {
        (EvidenceKind::VerticalPortscan, "Vertical port scan: ")
    } else if n.contains("Address_Scan") {
        (EvidenceKind::HorizontalPortscan, "Horizontal port scan: ")
    } else if n.contains("Password_Guessing") {
        (EvidenceKind::PasswordGuessing, "Password guessing: ")
    } else if n.starts_with("ICMP::") {
        (EvidenceKind::IcmpSweep, "")
    } else {
        return;
    };
    out.push(found(
        kind,
        1.0,
        Payload::ZeekNotice {
            prefix,
            message: d.msg.trim().to_string().into(),
        },
    ));
}

/// Slips reports every tunnel.log record of a GRE tunnel (information only).
fn gre_tunnel(d: &Fields, out: &mut Vec<Finding>, found: &Make<'_>) {
    if d.tunnel_type != "Tunnel::GRE" {
        return;
    }
    out.push(found(
        EvidenceKind::GreTunnel,
        1.0,
        Payload::GreTunnel {
            dst: d.resp,
            action: d.action.as_str().into(),
        },
    ));
}

fn smtp(ts: f64, d: &Fields, st: &mut State, out: &mut Vec<Finding>, found: &Make<'_>) {
    if !d.last_reply.contains("bad smtp-auth user") {
        return;
    }
    out.push(found(
        EvidenceKind::BadSmtpLogin,
        1.0,
        Payload::BadSmtpLogin { server: d.resp },
    ));
    st.smtp.push(ts);
    st.smtp.retain(|t| ts - t <= 10.0);
    if st.smtp.len() >= 3 {
        out.push(found(
            EvidenceKind::SmtpLoginBruteforce,
            1.0,
            Payload::SmtpBruteforce {
                server: d.resp,
                logins: st.smtp.len(),
            },
        ));
        st.smtp.clear();
    }
}

fn ssh_version(d: &Fields, st: &mut State, out: &mut Vec<Finding>, found: &Make<'_>) {
    if d.software_type != "SSH::CLIENT" {
        return;
    }
    let v = d
        .version
        .rsplit('_')
        .next()
        .unwrap_or_default()
        .replace('.', "_");
    if let Some(prev) = st.ssh_versions.last().filter(|p| **p != v) {
        let mut f = found(
            EvidenceKind::MultipleSshVersions,
            0.9,
            Payload::SshVersionChange {
                from: prev.clone().into(),
                to: v.clone().into(),
            },
        );
        f.victim = None;
        out.push(f);
    }
    if st.ssh_versions.last() != Some(&v) {
        st.ssh_versions.push(v);
    }
}

fn arp(a: &Activity, d: &Arp, st: &mut State, out: &mut Vec<Finding>, found: &Make<'_>) {
    if d.operation == ArpOp::Reply && d.dst_mac == Some(Mac::BROADCAST) {
        let mut f = found(EvidenceKind::UnsolicitedArp, 0.8, Payload::UnsolicitedArp);
        f.victim = None;
        out.push(f);
    }
    let Some(r) = d.resp else {
        return;
    };
    let sender_known = a.ip != IpAddr::from([0, 0, 0, 0]);
    if d.operation != ArpOp::Request || !sender_known {
        return;
    }
    if !ignored(r) {
        out.push(found(
            EvidenceKind::ArpOutsideLocalNetwork,
            0.6,
            Payload::ArpOutsideLocalNetwork { dst: r },
        ));
    }
    if d.target_hw == Some(Mac::ZERO) {
        if st.arp_target_set.insert(r) {
            st.arp_targets.push_back((a.ts, r));
        }
        while let Some(&(t, old)) = st.arp_targets.front() {
            if a.ts - t <= 30.0 {
                break;
            }
            st.arp_targets.pop_front();
            st.arp_target_set.remove(&old);
        }
        // reported at 5 hosts within 30 s, then each time the count doubles
        let hosts = st.arp_targets.len();
        if hosts >= 5 && hosts >= 2 * st.arp_reported {
            st.arp_reported = hosts;
            let mut f = found(EvidenceKind::ArpScan, 0.8, Payload::ArpScan { hosts });
            f.victim = None;
            out.push(f);
        }
    }
}

fn ssh_login(d: &Fields, st: &mut State, out: &mut Vec<Finding>, found: &Make<'_>) {
    let (Some(ok), Some(dst)) = (d.auth_success, d.resp) else {
        return;
    };
    if ok {
        out.push(found(
            EvidenceKind::SshSuccessful,
            0.8,
            Payload::SshSuccessfulByZeek { dst },
        ));
        return;
    }
    let failures = st.ssh_failed.entry(dst).or_default();
    *failures += 1;
    if *failures == SSH_FAILURES {
        out.push(found(
            EvidenceKind::PasswordGuessing,
            1.0,
            Payload::SshPasswordGuessing {
                dst,
                failures: SSH_FAILURES,
            },
        ));
    }
}
