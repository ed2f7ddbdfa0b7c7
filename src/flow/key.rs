//! Connection identity: the 5-tuple as Zeek's `id` has it ([`FiveTuple`], originator first),
//! the direction-free key the assembler's table is keyed by ([`FlowKey`], one hash probe per
//! packet whichever side sent it), the shard a packet's connection belongs to, and the uid
//! derived from a connection.
//!
//! It holds no connection state.

use crate::record::Proto;
use compact_str::CompactString;
use std::net::IpAddr;

/// A connection's 5-tuple, originator first (for ICMP the ports are type and paired type; for
/// other IP protocols the protocol number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FiveTuple {
    pub proto: Proto,
    pub orig: (IpAddr, u16),
    pub resp: (IpAddr, u16),
}

/// The same connection whichever side sent a packet: the lower endpoint first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FlowKey {
    proto: Proto,
    low: (IpAddr, u16),
    high: (IpAddr, u16),
}

impl FiveTuple {
    /// The tuple of a packet, sender first. ICMP pairs a request type with its reply type, so a
    /// request and its reply share a key.
    pub fn of_packet(p: &super::PacketMeta) -> FiveTuple {
        let (sp, dp) = if p.proto == Proto::Icmp {
            (p.sport, icmp_pair(p.sport, p.dport, p.icmp6))
        } else {
            (p.sport, p.dport)
        };
        FiveTuple {
            proto: p.proto,
            orig: (p.src, sp),
            resp: (p.dst, dp),
        }
    }

    /// The same tuple from the other side.
    pub fn reversed(self) -> FiveTuple {
        FiveTuple {
            proto: self.proto,
            orig: self.resp,
            resp: self.orig,
        }
    }

    /// Its direction-free key.
    pub fn key(self) -> FlowKey {
        let (low, high) = if self.orig <= self.resp {
            (self.orig, self.resp)
        } else {
            (self.resp, self.orig)
        };
        FlowKey {
            proto: self.proto,
            low,
            high,
        }
    }
}

/// The ICMP type that answers type `t` (the code is kept for types without a reply).
fn icmp_pair(t: u16, code: u16, v6: bool) -> u16 {
    let pairs: &[(u16, u16)] = if v6 {
        &[
            (128, 129),
            (129, 128),
            (133, 134),
            (134, 133),
            (135, 136),
            (136, 135),
        ]
    } else {
        &[
            (8, 0),
            (0, 8),
            (13, 14),
            (14, 13),
            (15, 16),
            (16, 15),
            (17, 18),
            (18, 17),
            (10, 9),
            (9, 10),
        ]
    };
    pairs.iter().find(|p| p.0 == t).map_or(code, |p| p.1)
}

/// Flows are split among this many assemblers by a hash of their 5-tuple; a fixed number, so
/// the result is the same on any number of threads.
pub const SHARDS: usize = 16;

/// The shard of a packet's connection (the same for both directions).
pub fn shard_of(p: &super::PacketMeta) -> u16 {
    let t = FiveTuple::of_packet(p);
    let ep = |(a, port): (IpAddr, u16)| -> u64 {
        let v = match a {
            IpAddr::V4(v) => u64::from(u32::from(v)),
            IpAddr::V6(v) => {
                let x = u128::from(v);
                (x as u64) ^ ((x >> 64) as u64).rotate_left(17)
            }
        };
        (v << 16 | u64::from(port)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    };
    // symmetric: the sum does not depend on the direction
    let h = ep(t.orig)
        .wrapping_add(ep(t.resp))
        .wrapping_add(t.proto as u64);
    let h = (h ^ (h >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    ((h >> 40) % SHARDS as u64) as u16
}

const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A Zeek-shaped uid (`C` + 17 base-62 characters) derived from the connection, so the same
/// capture gives the same uids on every run.
pub(crate) fn uid(t: &FiveTuple, ts: f64, id: u64) -> CompactString {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |v: u64| {
        h ^= v;
        h = h.wrapping_mul(0x0100_0000_01b3).rotate_left(29) ^ (h >> 17);
    };
    let ip = |a: &IpAddr| match a {
        IpAddr::V4(v) => u128::from(u32::from(*v)),
        IpAddr::V6(v) => u128::from(*v),
    };
    for part in [ip(&t.orig.0), ip(&t.resp.0)] {
        mix(part as u64);
        mix((part >> 64) as u64);
    }
    mix(u64::from(t.orig.1) << 16 | u64::from(t.resp.1));
    mix(t.proto as u64);
    mix(ts.to_bits());
    mix(id);
    let x = u128::from(h) << 64 | u128::from(h.rotate_left(31).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    base62_17(x)
}

/// "C" and the 17 lowest base-62 digits of `x`, least significant first. A 128-bit division is
/// a library call: the number is split into two parts of 10 and 7 digits that fit in 64 bits
/// (two divisions instead of 34), and their digits come from 64-bit arithmetic.
fn base62_17(x: u128) -> CompactString {
    const TEN: u128 = 62u128.pow(10);
    const SEVEN: u128 = 62u128.pow(7);
    let low = (x % TEN) as u64;
    let high = ((x / TEN) % SEVEN) as u64;
    // written into a buffer and made a string once: pushing each character into a
    // CompactString checks its length and capacity every time (6 % of a capture's reading)
    let mut out = [b'C'; 18];
    let (low_digits, high_digits) = out[1..].split_at_mut(10);
    for (mut part, place) in [(low, low_digits), (high, high_digits)] {
        for d in place {
            *d = B62[(part % 62) as usize];
            part /= 62;
        }
    }
    // only base-62 digits were written
    CompactString::from(std::str::from_utf8(&out).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_digits_are_those_of_the_whole_number() {
        // the digit loop the split replaces
        let slow = |mut x: u128| {
            let mut out = String::from("C");
            for _ in 0..17 {
                out.push(B62[(x % 62) as usize] as char);
                x /= 62;
            }
            out
        };
        let mut x: u128 = 0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C834;
        for _ in 0..10_000 {
            assert_eq!(base62_17(x).as_str(), slow(x));
            x = x.rotate_left(13).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ (x >> 7);
        }
        for x in [0, 1, 61, 62, u128::MAX, 62u128.pow(10) - 1, 62u128.pow(17)] {
            assert_eq!(base62_17(x).as_str(), slow(x));
        }
    }

    #[test]
    fn both_directions_share_one_key() {
        let t = FiveTuple {
            proto: Proto::Tcp,
            orig: (IpAddr::from([10, 0, 0, 1]), 40000),
            resp: (IpAddr::from([10, 0, 0, 2]), 443),
        };
        assert_eq!(t.key(), t.reversed().key());
        assert_ne!(
            t.key(),
            FiveTuple {
                proto: Proto::Udp,
                ..t
            }
            .key()
        );
        assert_ne!(
            uid(&t, 1.0, 7),
            uid(&t.reversed(), 1.0, 7),
            "uids follow the originator"
        );
        assert_eq!(uid(&t, 1.0, 7).len(), 18);
    }
}
