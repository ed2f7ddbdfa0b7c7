//! The batch of records that input hands to the profiler: one vector per log kind.
//!
//! Both inputs fill it (Zeek logs line by line, captures through [`crate::flow`]); it carries
//! records only, never file names or errors (those are the input's summary).

use super::{Activity, Conn, Dhcp, Dns, Http, Smtp, Ssh, Ssl, Tunnel};
use compact_str::CompactString;
use rayon::prelude::*;
use rustc_hash::FxHashSet;
use std::net::IpAddr;

/// Records of one file or of the whole input.
#[derive(Debug, Default)]
pub struct Batch {
    /// conn.log records.
    pub conns: Vec<Conn>,
    /// dns.log records.
    pub dns: Vec<Dns>,
    /// http.log records.
    pub http: Vec<Http>,
    /// ssl.log records.
    pub ssl: Vec<Ssl>,
    /// ssh.log records made from captures (an ssh.log that is read becomes [`Activity`]; the
    /// capture's ssh records become the same activity too, see `flow::ssh_activity`).
    pub ssh: Vec<Ssh>,
    /// dhcp.log records made from captures (a dhcp.log that is read becomes [`Activity`]).
    pub dhcp: Vec<Dhcp>,
    /// smtp.log records made from captures (an smtp.log that is read becomes [`Activity`]).
    pub smtp: Vec<Smtp>,
    /// tunnel.log records made from captures, in time order (a tunnel.log that is read
    /// becomes [`Activity`]).
    pub tunnels: Vec<Tunnel>,
    /// conn.log's `tunnel_parents` of the connections a capture saw inside tunnels: uid and
    /// the uids of the tunnels that carried it, comma-separated, by uid (most connections
    /// have none, so they are kept beside the connections, not in each).
    pub tunnel_parents: Vec<(CompactString, CompactString)>,
    /// Records of other logs.
    pub other: u64,
    /// Source and time of the records of other logs.
    pub activity: Vec<Activity>,
    /// Public addresses that Zeek's conn.log marked local (`local_orig`/`local_resp`), which
    /// join the home network when `--home-net` is not given.
    pub local_hosts: FxHashSet<IpAddr>,
}

impl Batch {
    /// Moves all records of `other` to the end of `self`, leaving `other` empty with its
    /// capacity (so its buffers can be reused).
    pub fn move_from(&mut self, other: &mut Batch) {
        // Copying connections is the one large copy of the input stage: do it on all threads
        // (it also spreads the page faults of the growing vector).
        self.conns.par_extend(other.conns.par_drain(..));
        self.dns.append(&mut other.dns);
        self.http.append(&mut other.http);
        self.ssl.append(&mut other.ssl);
        self.ssh.append(&mut other.ssh);
        self.dhcp.append(&mut other.dhcp);
        self.smtp.append(&mut other.smtp);
        self.tunnels.append(&mut other.tunnels);
        self.tunnel_parents.append(&mut other.tunnel_parents);
        self.activity.append(&mut other.activity);
        self.other += std::mem::take(&mut other.other);
        self.local_hosts.extend(other.local_hosts.drain());
    }
}
