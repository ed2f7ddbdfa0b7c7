//! Every Redis key name of Slips' keyspace that kalipso writes, in one place.
//!
//! `profile_<ip>`, `twsprofile_<ip>`, `profile_<ip>_timewindow<N>` and its `_timeline`,
//! `_flows` and `_altflows` companions, plus the global keys. IPv6 profiles contain `:` and the
//! separator is `_`, so parsing splits at the last `_timewindow`.
//!
//! It renders no values.

use std::net::IpAddr;

/// A parsed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// `profiles` (set)
    Profiles,
    /// `profile_<ip>` (hash)
    Profile(IpAddr),
    /// `twsprofile_<ip>` (zset)
    TwsProfile(IpAddr),
    /// `profile_<ip>_timewindow<N>` (hash)
    Window(IpAddr, i64),
    /// `profile_<ip>_timewindow<N>_timeline` (zset)
    Timeline(IpAddr, i64),
    /// `profile_<ip>_timewindow<N>_flows` (hash)
    Flows(IpAddr, i64),
    /// `profile_<ip>_timewindow<N>_altflows` (hash)
    AltFlows(IpAddr, i64),
    /// `DNSresolution` (hash)
    DnsResolution,
    /// `IPsInfo` (hash, cache db 1)
    IpsInfo,
}

/// `profile_<ip>`.
pub fn profile_key(ip: IpAddr) -> String {
    format!("profile_{ip}")
}

/// `timewindow<N>`.
pub fn tw_name(n: i64) -> String {
    format!("timewindow{n}")
}

impl Key {
    /// The Redis database Slips keeps the key in (0 = analysis, 1 = cache).
    pub fn db(&self) -> u8 {
        u8::from(matches!(self, Key::IpsInfo))
    }

    /// Parses a key name.
    pub fn parse(s: &str) -> Option<Key> {
        match s {
            "profiles" => return Some(Key::Profiles),
            "DNSresolution" => return Some(Key::DnsResolution),
            "IPsInfo" => return Some(Key::IpsInfo),
            _ => {}
        }
        if let Some(ip) = s.strip_prefix("twsprofile_") {
            return ip.parse().ok().map(Key::TwsProfile);
        }
        let rest = s.strip_prefix("profile_")?;
        let Some(at) = rest.rfind("_timewindow") else {
            return rest.parse().ok().map(Key::Profile);
        };
        let ip: IpAddr = rest[..at].parse().ok()?;
        let tail = &rest[at + "_timewindow".len()..];
        let (num, suffix) = match tail.find('_') {
            // a negative number starts with '-', never '_', so the first '_' ends the number
            Some(i) => (&tail[..i], &tail[i..]),
            None => (tail, ""),
        };
        let n: i64 = num.parse().ok()?;
        match suffix {
            "" => Some(Key::Window(ip, n)),
            "_timeline" => Some(Key::Timeline(ip, n)),
            "_flows" => Some(Key::Flows(ip, n)),
            "_altflows" => Some(Key::AltFlows(ip, n)),
            _ => None,
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Profiles => f.write_str("profiles"),
            Key::Profile(ip) => write!(f, "profile_{ip}"),
            Key::TwsProfile(ip) => write!(f, "twsprofile_{ip}"),
            Key::Window(ip, n) => write!(f, "profile_{ip}_timewindow{n}"),
            Key::Timeline(ip, n) => write!(f, "profile_{ip}_timewindow{n}_timeline"),
            Key::Flows(ip, n) => write!(f, "profile_{ip}_timewindow{n}_flows"),
            Key::AltFlows(ip, n) => write!(f, "profile_{ip}_timewindow{n}_altflows"),
            Key::DnsResolution => f.write_str("DNSresolution"),
            Key::IpsInfo => f.write_str("IPsInfo"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slips_spellings() {
        let v6: IpAddr = "fe80::1cf4:44d2:904a:14f7"
            .parse()
            .unwrap_or(IpAddr::from([0u8; 16]));
        assert_eq!(
            Key::Window(v6, -1).to_string(),
            "profile_fe80::1cf4:44d2:904a:14f7_timewindow-1"
        );
        assert_eq!(
            Key::parse("profile_10.0.2.15_timewindow1_timeline"),
            Some(Key::Timeline([10, 0, 2, 15].into(), 1))
        );
        assert_eq!(
            Key::parse("profile_10.0.2.15"),
            Some(Key::Profile([10, 0, 2, 15].into()))
        );
        assert_eq!(Key::parse("profile_nonsense"), None);
        assert_eq!(Key::parse("profile_10.0.2.15_timewindow1_other"), None);
        assert_eq!(Key::IpsInfo.db(), 1);
    }

    fn any_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(IpAddr::from),
            any::<[u8; 16]>().prop_map(IpAddr::from)
        ]
    }

    proptest! {
        #[test]
        fn keys_round_trip(ip in any_ip(), n in -100_000i64..100_000, which in 0usize..9) {
            let key = match which {
                0 => Key::Profiles,
                1 => Key::Profile(ip),
                2 => Key::TwsProfile(ip),
                3 => Key::Window(ip, n),
                4 => Key::Timeline(ip, n),
                5 => Key::Flows(ip, n),
                6 => Key::AltFlows(ip, n),
                7 => Key::DnsResolution,
                _ => Key::IpsInfo,
            };
            prop_assert_eq!(Key::parse(&key.to_string()), Some(key));
        }
    }
}
