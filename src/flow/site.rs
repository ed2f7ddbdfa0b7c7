//! Zeek's idea of a local address when no `Site::local_nets` are given: an address in
//! `Site::private_address_space` (scripts/base/utils/site.zeek, with
//! `private_address_space_is_local`). It decides ssh.log's `direction` and which hosts' software
//! Zeek tracks (`Software::asset_tracking = LOCAL_HOSTS`).
//!
//! It is Zeek's table, not kalipso's home network (`--home-net`), which the profiler decides.

use ipnet::IpNet;
use std::net::IpAddr;
use std::sync::OnceLock;

/// The networks of `Site::private_address_space`, in the script's order (IPv4 blocks and
/// their 6to4 forms, then the IPv6 blocks).
const PRIVATE: &[&str] = &[
    "0.0.0.0/8",
    "2002::/24",
    "10.0.0.0/8",
    "2002:a00::/24",
    "100.64.0.0/10",
    "2002:6440::/26",
    "127.0.0.0/8",
    "2002:7f00::/24",
    "169.254.0.0/16",
    "2002:a9fe::/32",
    "172.16.0.0/12",
    "2002:ac10::/28",
    "192.0.0.0/24",
    "2002:c000::/40",
    "192.0.2.0/24",
    "2002:c000:200::/40",
    "192.168.0.0/16",
    "2002:c0a8::/32",
    "198.18.0.0/15",
    "2002:c612::/31",
    "198.51.100.0/24",
    "2002:c633:6400::/40",
    "203.0.113.0/24",
    "2002:cb00:7100::/40",
    "224.0.0.0/24",
    "2002:e000::/40",
    "239.0.0.0/8",
    "2002:ef00::/24",
    "240.0.0.0/4",
    "2002:f000::/20",
    "255.255.255.255/32",
    "2002:ffff:ffff::/48",
    "::/128",
    "::1/128",
    "64:ff9b:1::/48",
    "100::/64",
    "2001::/23",
    "2001:2::/48",
    "2001:db8::/32",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
];

fn private_nets() -> &'static [IpNet] {
    static NETS: OnceLock<Vec<IpNet>> = OnceLock::new();
    NETS.get_or_init(|| PRIVATE.iter().filter_map(|n| n.parse().ok()).collect())
}

/// Zeek's `Site::is_local_addr` with its default settings.
pub(crate) fn is_local(ip: IpAddr) -> bool {
    private_nets().iter().any(|n| n.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeeks_private_space_is_local() {
        assert_eq!(private_nets().len(), PRIVATE.len(), "every block parses");
        for local in [
            "10.1.2.3",
            "192.168.56.1",
            "172.31.255.255",
            "224.0.0.9",
            "255.255.255.255",
            "100.64.0.1",
            "fe80::1",
            "2001:0:4136:e378::1",
        ] {
            assert!(is_local(local.parse().unwrap()), "{local}");
        }
        for remote in [
            "8.8.8.8",
            "131.159.21.1",
            "172.32.0.1",
            "224.0.1.1",
            "2a00::1",
        ] {
            assert!(!is_local(remote.parse().unwrap()), "{remote}");
        }
    }
}
