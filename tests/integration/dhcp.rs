//! dhcp.log from captures against Zeek itself (zeek-btest baselines, see the corpus's
//! `zeek-btest/SOURCE.md`): one row per transaction, joined over its connections.

use crate::corpus::{self, baseline_at};
use kalipso::flow::Timeouts;
use kalipso::record::Dhcp;

/// dhcp.log's columns after `ts`, as Zeek writes them (unset as empty); `uids` as their
/// number, because Zeek's uids are random.
fn columns(d: &Dhcp) -> Vec<String> {
    let addr = |a: Option<std::net::IpAddr>| a.map(|a| a.to_string()).unwrap_or_default();
    vec![
        d.uids.len().to_string(),
        addr(d.client_addr),
        addr(d.server_addr),
        d.mac.clone(),
        d.host_name.clone(),
        d.client_fqdn.clone(),
        d.domain.clone(),
        addr(d.requested_addr),
        addr(d.assigned_addr),
        d.lease_time.map(|l| format!("{l:.6}")).unwrap_or_default(),
        d.client_message.clone(),
        d.server_message.clone(),
        d.msg_types.join(","),
        format!("{:.6}", d.duration),
    ]
}

fn compare(trace: &str, baseline: &str, rows: usize) {
    let Some(pcap) = corpus::path(&format!("zeek-btest/Traces/{trace}")) else {
        return;
    };
    let input = kalipso::input::read_with(&[pcap], Timeouts::default());
    let mut theirs: Vec<Vec<String>> = baseline_at(baseline)
        .into_iter()
        .map(|mut r| {
            r[1] = r[1].split(',').count().to_string();
            r[1..].to_vec()
        })
        .collect();
    let mut ours: Vec<Vec<String>> = input.batch.dhcp.iter().map(columns).collect();
    assert_eq!(theirs.len(), rows);
    theirs.sort();
    ours.sort();
    assert_eq!(ours, theirs);
}

/// `dhcp/dhcp.pcap`: one message of each type; the 9 messages make Zeek's 3 rows (a lease
/// negotiated over 4 connections with a NAK and a DECLINE, a RELEASE, an INFORM), every
/// column equal.
#[test]
fn every_dhcp_message_type_joins_as_zeek_joins_it() {
    compare(
        "dhcp/dhcp.pcap",
        "zeek-btest/Baseline/scripts.base.protocols.dhcp.dhcp-all-msg-types/dhcp.log",
        3,
    );
}

/// `dhcp/dhcp_inform.pcap`: an INFORM and its ACK are one row.
#[test]
fn an_inform_and_its_ack_are_one_row() {
    compare(
        "dhcp/dhcp_inform.pcap",
        "zeek-btest/Baseline/scripts.base.protocols.dhcp.inform/dhcp.log",
        1,
    );
}

/// What DHCP names an address reaches its profile, as Slips keeps it: `host_name` and `MAC` in
/// `profile_<ip>` (from the capture here; a dhcp.log gives the same fields).
#[test]
fn the_dhcp_host_name_and_mac_name_the_profile() {
    let Some(pcap) = corpus::path("zeek-btest/Traces/dhcp/dhcp.pcap") else {
        return;
    };
    let a = kalipso::analyze(&kalipso::Options::new(vec![pcap]));
    let ip: std::net::IpAddr = "128.2.6.97".parse().unwrap();
    let host = a.store.hosts.get(&ip).expect("the lease's client");
    assert_eq!(host.host_name, "btest.is.cool");
    assert_eq!(host.mac, "90:b1:1c:99:49:29");
    assert_eq!(
        a.store.hget("profile_128.2.6.97", "host_name").as_deref(),
        Some("btest.is.cool")
    );
    assert_eq!(
        a.store.hget("profile_128.2.6.97", "MAC").as_deref(),
        Some("90:b1:1c:99:49:29")
    );
}
