//! dhcp.log rows from a capture's DHCP messages, joined as Zeek's DHCP script joins them: one
//! row per transaction id, over every connection its messages came in; the client's fields from
//! client messages, the server's from server messages; a row is written once its transaction
//! has been quiet for 5 s or watched for 30 s (checked from 10 s after it began, then every
//! 5 s), when it reaches 10 connections or 50 messages, or at the end of the capture.
//!
//! It sees messages in capture order; parsing is [`super::dhcp`]'s job.

use super::dhcp::{Message, fmt_mac, message_type_name};
use crate::record::Dhcp;
use compact_str::CompactString;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};

/// Zeek's `DHCP::max_txid_watch_time`, seconds.
const MAX_WATCH: f64 = 30.0;
/// Quiet time after which a transaction is written, seconds.
const QUIET: f64 = 5.0;
/// The join table's `&create_expire`, seconds.
const FIRST_CHECK: f64 = 10.0;
/// Zeek's `DHCP::max_uids_per_log_entry` and `max_msg_types_per_log_entry`.
const MAX_UIDS: usize = 10;
const MAX_MSG_TYPES: usize = 50;

/// One DHCP message as the assembler saw it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub ts: f64,
    pub uid: CompactString,
    pub orig: (IpAddr, u16),
    pub resp: (IpAddr, u16),
    /// Sent by the connection's originator.
    pub is_orig: bool,
    /// Not boxed: moving it in the merge costs less than an allocation per message.
    pub msg: Message,
}

/// A transaction being joined.
#[derive(Debug)]
struct Joining {
    row: Dhcp,
    last: f64,
    check_at: f64,
    /// Its place among the transactions (those left at the end are written in this order).
    order: usize,
    /// The client's `chaddr`, the MAC when no client identifier or server names one.
    client_chaddr: Option<[u8; 16]>,
}

impl Joining {
    fn into_row(self) -> Dhcp {
        let mut row = self.row;
        if row.mac.is_empty() {
            row.mac = self
                .client_chaddr
                .map(|c| fmt_mac(&c).into())
                .unwrap_or_default();
        }
        row
    }
}

/// The dhcp.log rows of `messages` (in capture order), in the order Zeek writes them.
#[cfg(test)]
pub(crate) fn dhcp_rows(messages: &[Seen]) -> Vec<Dhcp> {
    let mut joiner = Joiner::default();
    for m in messages {
        joiner.add(m);
    }
    joiner.finish()
}

/// Joins DHCP messages into dhcp.log rows as they come (in capture order), so only the
/// transactions still open are kept, not every message of the capture.
#[derive(Debug, Default)]
pub(crate) struct Joiner {
    joining: FxHashMap<u32, Joining>,
    /// The checks to make, in time order (messages come in capture order); a check whose
    /// transaction was written or re-checked since is stale and skipped.
    checks: VecDeque<(f64, u32)>,
    /// The rows written so far.
    out: Vec<Dhcp>,
    created: usize,
}

impl Joiner {
    /// Adds the next message of the capture.
    pub fn add(&mut self, m: &Seen) {
        expire(&mut self.joining, &mut self.checks, m.ts, &mut self.out);
        if !self.joining.contains_key(&m.msg.xid) {
            self.checks.push_back((m.ts + FIRST_CHECK, m.msg.xid));
            self.created += 1;
        }
        let created = self.created;
        let j = self.joining.entry(m.msg.xid).or_insert_with(|| Joining {
            row: Dhcp {
                ts: m.ts,
                uids: Vec::new(),
                client_addr: None,
                server_addr: None,
                mac: String::new(),
                host_name: String::new(),
                client_fqdn: String::new(),
                domain: String::new(),
                requested_addr: None,
                assigned_addr: None,
                lease_time: None,
                client_message: String::new(),
                server_message: String::new(),
                msg_types: Vec::new(),
                duration: 0.0,
            },
            last: m.ts,
            check_at: m.ts + FIRST_CHECK,
            order: created,
            client_chaddr: None,
        });
        join(j, m);
        if j.row.uids.len() >= MAX_UIDS || j.row.msg_types.len() >= MAX_MSG_TYPES {
            if let Some(j) = self.joining.remove(&m.msg.xid) {
                self.out.push(j.into_row());
            }
        }
    }

    /// The rows, in the order Zeek writes them: those written as the capture went, then the
    /// transactions still open at its end, in the order they began.
    pub fn finish(self) -> Vec<Dhcp> {
        let mut out = self.out;
        let mut left: Vec<Joining> = self.joining.into_values().collect();
        left.sort_by_key(|j| j.order);
        out.extend(left.into_iter().map(Joining::into_row));
        out
    }
}

/// Writes the transactions whose check is due at `now` and that are quiet or old enough;
/// the others are checked again 5 s later.
fn expire(
    joining: &mut FxHashMap<u32, Joining>,
    checks: &mut VecDeque<(f64, u32)>,
    now: f64,
    out: &mut Vec<Dhcp>,
) {
    let mut again = Vec::new();
    while let Some(&(at, xid)) = checks.front() {
        if at > now {
            break;
        }
        checks.pop_front();
        let Some(j) = joining
            .get_mut(&xid)
            .filter(|j| j.check_at.total_cmp(&at).is_eq())
        else {
            continue; // written already, or re-checked since
        };
        if now - j.last > QUIET || now - j.row.ts > MAX_WATCH {
            if let Some(j) = joining.remove(&xid) {
                out.push(j.into_row());
            }
        } else {
            j.check_at = now + QUIET;
            again.push((j.check_at, xid));
        }
    }
    checks.extend(again);
}

/// Replaces a row's text, keeping its buffer.
fn set(to: &mut String, text: &str) {
    to.clear();
    to.push_str(text);
}

/// Adds one message to its transaction (Zeek's `DHCP::aggregate_msgs`).
fn join(j: &mut Joining, m: &Seen) {
    let (row, o) = (&mut j.row, &m.msg.options);
    row.duration = m.ts - row.ts;
    if !row.uids.contains(&m.uid) {
        row.uids.push(m.uid.clone());
    }
    row.msg_types
        .push(o.msg_type.map_or("-", message_type_name));
    let unspecified = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let is_client = m.is_orig && (m.orig.0 == unspecified || m.orig.1 == 68 || m.resp.1 == 67);
    if let Some(text) = &o.message {
        if is_client {
            set(&mut row.client_message, text);
        } else {
            set(&mut row.server_message, text);
        }
    }
    j.last = m.ts;
    if is_client {
        if m.orig.0 != unspecified && m.orig.0 != IpAddr::V4(Ipv4Addr::BROADCAST) {
            row.client_addr = Some(m.orig.0);
        }
        if let Some(h) = &o.host_name {
            set(&mut row.host_name, h);
        }
        if let Some(f) = &o.client_fqdn {
            set(&mut row.client_fqdn, f);
        }
        match &o.client_mac {
            Some(mac) => set(&mut row.mac, mac),
            None => j.client_chaddr = Some(m.msg.chaddr),
        }
        if o.requested_addr.is_some() {
            row.requested_addr = o.requested_addr;
        }
        return;
    }
    let handed_out = m.msg.yiaddr != Ipv4Addr::UNSPECIFIED;
    if handed_out {
        // a broadcasting server is the originator; otherwise Zeek flipped the connection
        row.server_addr = Some(if m.is_orig { m.orig.0 } else { m.resp.0 });
        row.assigned_addr = Some(IpAddr::V4(m.msg.yiaddr));
    }
    if row.mac.is_empty() {
        row.mac = m.msg.chaddr().into();
    }
    if row.client_addr.is_none() && row.assigned_addr.is_some() {
        row.client_addr = row.assigned_addr;
    }
    if let Some(d) = &o.domain_name {
        set(&mut row.domain, d);
    }
    if let Some(l) = o.lease {
        row.lease_time = Some(f64::from(l));
    }
}

#[cfg(test)]
mod tests {
    use super::super::dhcp::{parse, tests::message};
    use super::*;

    fn seen(
        ts: f64,
        uid: &str,
        from_client: bool,
        kind: u8,
        xid: u32,
        yi: [u8; 4],
        extra: &[(u8, &[u8])],
    ) -> Seen {
        let (c, s): (IpAddr, IpAddr) = ("0.0.0.0".parse().unwrap(), "10.0.0.1".parse().unwrap());
        Seen {
            ts,
            uid: uid.into(),
            orig: if from_client { (c, 68) } else { (s, 67) },
            resp: if from_client {
                ("255.255.255.255".parse().unwrap(), 67)
            } else {
                ("255.255.255.255".parse().unwrap(), 68)
            },
            is_orig: true,
            msg: parse(&message(kind, xid, yi, extra)).unwrap(),
        }
    }

    #[test]
    fn a_lease_is_one_row_over_its_connections() {
        let rows = dhcp_rows(&[
            seen(0.0, "C1", true, 1, 7, [0; 4], &[(12, b"laptop")]),
            seen(
                0.5,
                "C2",
                false,
                2,
                7,
                [10, 0, 0, 9],
                &[(51, &600u32.to_be_bytes())],
            ),
            seen(1.0, "C1", true, 3, 7, [0; 4], &[(50, &[10, 0, 0, 9])]),
            seen(1.5, "C2", false, 5, 7, [10, 0, 0, 9], &[(15, b"lan")]),
            seen(100.0, "C3", true, 8, 9, [0; 4], &[]),
        ]);
        assert_eq!(rows.len(), 2, "the lease, then the INFORM");
        let r = &rows[0];
        assert_eq!(r.msg_types, ["DISCOVER", "OFFER", "REQUEST", "ACK"]);
        assert_eq!(r.uids, ["C1", "C2"]);
        assert_eq!(r.host_name, "laptop");
        assert_eq!(r.assigned_addr, Some("10.0.0.9".parse().unwrap()));
        assert_eq!(r.client_addr, r.assigned_addr, "from the assigned address");
        assert_eq!(r.server_addr, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(r.lease_time, Some(600.0));
        assert_eq!(r.domain, "lan");
        assert_eq!(r.mac, "90:b1:1c:99:49:29");
        assert!((r.duration - 1.5).abs() < 1e-9);
        assert_eq!(rows[1].msg_types, ["INFORM"]);
    }
}
