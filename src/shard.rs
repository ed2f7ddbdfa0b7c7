//! Partitioned analysis (`--shard K/N`): N workers analyse one input, and worker K writes only
//! the part of the store it owns, so that their writes into one Redis (or their dumps, merged)
//! are exactly what one process writes.
//!
//! The partition is by address: worker K owns the addresses whose CRC-32 (of the address as
//! text, as Slips' keys spell it) is K − 1 modulo N. It owns every key of its profiles
//! (`profile_<ip>…`, `twsprofile_<ip>`), their members of `profiles`, and the fields of
//! `DNSresolution` and `IPsInfo` named by its addresses. Each worker reads the whole input and
//! keeps, of the connections and their HTTP and TLS records, those with an owned end, since a
//! profile's keys need the connections it made and those it received (its in-tuples, the server
//! names it answered to). DNS and the other logs' records are kept whole: DNS answers name
//! addresses of every shard, and which DNS records came before a connection decides what its
//! timeline line shows. So each owned key is computed from everything that one process would
//! have used for it, and the shards never write the same field with different values: a worker
//! that is run again writes the same values again.
//!
//! Why by address and not by time slice: Slips' keys are per profile and its detections read a
//! profile's own flows, so an address partition gives one process's result exactly, for any
//! input and any window grid, with no boundary cases. Reading is not divided: every worker
//! parses the whole input (the cheapest stage, and parallel), and the profiler, the detections
//! and the store, which hold the memory, are divided N ways.

use crate::record::{Batch, ip_text};
use crate::store::FlowSet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Worker `index` (0-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which worker, from 0.
    pub index: u32,
    /// How many workers.
    pub count: u32,
}

impl Shard {
    /// Parses `K/N` (K from 1 to N), as `--shard` takes it.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("--shard takes K/N with 1 ≤ K ≤ N, e.g. 2/3, not '{text}'");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (k, n): (u32, u32) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if k == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard {
            index: k - 1,
            count: n,
        })
    }

    /// Whether this worker owns `ip`.
    pub fn owns(self, ip: IpAddr) -> bool {
        owner(ip, self.count) == self.index
    }

    /// Keeps the records this worker needs (see the module's text): connections, HTTP and TLS
    /// records with an owned end. Returns which connections were kept.
    pub fn retain(self, batch: &mut Batch) -> Kept {
        let keep: Vec<bool> = batch
            .conns
            .iter()
            .map(|c| self.owns(c.orig_h) || self.owns(c.resp_h))
            .collect();
        let mut at = keep.iter();
        batch.conns.retain(|_| at.next().copied().unwrap_or(false));
        batch
            .http
            .retain(|h| self.owns(h.id.orig_h) || self.owns(h.id.resp_h));
        batch
            .ssl
            .retain(|s| self.owns(s.id.orig_h) || self.owns(s.id.resp_h));
        Kept { keep }
    }
}

/// Which connections a worker kept, to carry what was computed on all of them over.
pub struct Kept {
    keep: Vec<bool>,
}

impl Kept {
    /// The entries of the kept connections, from one entry per connection (an empty vector,
    /// for a value not computed, stays empty).
    pub fn select<T>(&self, per_conn: Vec<T>) -> Vec<T> {
        if per_conn.len() != self.keep.len() {
            return Vec::new();
        }
        per_conn
            .into_iter()
            .zip(&self.keep)
            .filter_map(|(v, k)| k.then_some(v))
            .collect()
    }

    /// A set of connection indices, renumbered to the kept connections.
    pub fn renumber(&self, indices: &FlowSet) -> FlowSet {
        let mut out = FlowSet::with_room(self.keep.len());
        let mut next = 0u32;
        for (i, k) in self.keep.iter().enumerate() {
            if *k {
                if u32::try_from(i).is_ok_and(|i| indices.contains(i)) {
                    out.insert(next);
                }
                next += 1;
            }
        }
        out
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

/// The worker (0-based) of `count` that owns `ip`: CRC-32 of its text, modulo `count`.
pub fn owner(ip: IpAddr, count: u32) -> u32 {
    crc32fast::hash(ip_text(ip).as_bytes()) % count.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_of_n_is_parsed_and_checked() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 1, count: 3 }));
        assert_eq!(Shard::parse("1/1"), Ok(Shard { index: 0, count: 1 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Shard { index: 1, count: 3 }.to_string(), "2/3");
    }

    #[test]
    fn every_address_has_exactly_one_owner() {
        let ips: Vec<IpAddr> = (0..1000u32)
            .map(|i| IpAddr::from((0x0a00_0000 + i).to_be_bytes()))
            .chain(["fe80::1".parse().expect("v6")])
            .collect();
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        let mut per_shard = [0usize; 3];
        for ip in &ips {
            let owners: Vec<&Shard> = shards.iter().filter(|s| s.owns(*ip)).collect();
            assert_eq!(owners.len(), 1, "{ip}");
            per_shard[owners[0].index as usize] += 1;
        }
        // the hash spreads addresses: each of 3 shards gets a fair part of 1001
        assert!(
            per_shard.iter().all(|&n| (250..420).contains(&n)),
            "{per_shard:?}"
        );
    }
}
