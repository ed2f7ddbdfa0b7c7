//! What `/` finds: profiles, and the windows and flows inside them, that match a query.
//!
//! A query is read as the most specific thing it can be: a CIDR (`10.1.0.0/16`), an IPv4 prefix
//! (`198.51.100` is `198.51.100.0/24`), a full address, a port, or text (an IPv6 prefix, a
//! domain as asked in DNS or named in TLS and HTTP, a URI, or an evidence kind). A profile
//! matches when it is in the range, or when one of its flows, records or evidence does; each
//! match is kept as (profile, window, flow) so `]` and `[` can walk them. It changes no state.

use crate::Analysis;
use crate::profile::Profile;
use ipnet::IpNet;
use std::net::IpAddr;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// An address range (a CIDR, an IPv4 prefix or a full address).
    Net(IpNet),
    /// A port (also matched as text in the profile's IP).
    Port(u16),
    /// Lower-case text.
    Text(String),
}

impl Query {
    /// Reads a query typed after `/`.
    pub fn parse(q: &str) -> Query {
        let q = q.trim().to_lowercase();
        if let Ok(net) = q.parse::<IpNet>() {
            return Query::Net(net.trunc());
        }
        if let Ok(ip) = q.parse::<IpAddr>() {
            return Query::Net(IpNet::from(ip));
        }
        if let Ok(port) = q.parse::<u16>() {
            return Query::Port(port);
        }
        // 1 to 3 dotted octets: the /8, /16 or /24 they start
        let octets: Vec<&str> = q.trim_end_matches('.').split('.').collect();
        if (1..=3).contains(&octets.len()) && q.contains('.') {
            let parsed: Option<Vec<u8>> = octets.iter().map(|o| o.parse().ok()).collect();
            if let Some(mut bytes) = parsed {
                let len = u8::try_from(bytes.len() * 8).unwrap_or(32);
                bytes.resize(4, 0);
                let ip = IpAddr::from([bytes[0], bytes[1], bytes[2], bytes[3]]);
                if let Ok(net) = IpNet::new(ip, len) {
                    return Query::Net(net);
                }
            }
        }
        Query::Text(q)
    }

    fn ip(&self, ip: IpAddr) -> bool {
        match self {
            Query::Net(net) => net.contains(&ip),
            Query::Port(_) => false,
            // an IPv6 prefix, typed as text
            Query::Text(t) => t.contains(':') && ip.to_string().starts_with(t.as_str()),
        }
    }

    fn text(&self, s: &str) -> bool {
        matches!(self, Query::Text(t) if !t.is_empty() && s.to_lowercase().contains(t.as_str()))
    }
}

/// A match: a profile, one of its windows, and the first matching flow there (an index into
/// `Store::conns`), if a flow matched.
pub type Hit = (IpAddr, i64, Option<u32>);

/// The matches of `q` in profile `p`, one per window (the profile's own address matches its
/// first window).
pub fn hits(analysis: &Analysis, p: &Profile, q: &Query) -> Vec<Hit> {
    let store = &analysis.store;
    let d = &analysis.detections;
    let own = q.ip(p.ip);
    let mut out = Vec::new();
    for w in p.windows.values() {
        let flow = w
            .out_flows
            .iter()
            .map(|&i| (i, false))
            .chain(w.in_flows.iter().map(|&i| (i, true)))
            .filter(|(i, incoming)| {
                store.conns.get(*i as usize).is_some_and(|c| {
                    let peer = if *incoming { c.orig_h } else { c.resp_h };
                    q.ip(peer) || matches!(q, Query::Port(port) if *port == c.resp_p)
                })
            })
            .map(|(i, _)| i)
            .min();
        let records = || {
            w.dns
                .iter()
                .filter_map(|&i| store.dns.get(i as usize))
                .any(|r| q.text(&r.query))
                || w.ssl
                    .iter()
                    .filter_map(|&i| store.ssl.get(i as usize))
                    .any(|r| q.text(&r.server_name))
                || w.http
                    .iter()
                    .filter_map(|&i| store.http.get(i as usize))
                    .any(|r| q.text(&r.host) || q.text(&r.uri))
                || d.of_window(p.ip, w.number)
                    .iter()
                    .any(|e| q.text(e.kind.name()))
        };
        if flow.is_some() || own || records() {
            out.push((p.ip, w.number, flow));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Query {
        Query::Net(s.parse().unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn queries_read_as_the_most_specific_thing() {
        assert_eq!(Query::parse("198.51.100"), net("198.51.100.0/24"));
        assert_eq!(Query::parse("10."), net("10.0.0.0/8"));
        assert_eq!(Query::parse("10.1"), net("10.1.0.0/16"));
        assert_eq!(Query::parse("10.1.2.3"), net("10.1.2.3/32"));
        assert_eq!(Query::parse(" 10.1.2.3/16 "), net("10.1.0.0/16"));
        assert_eq!(Query::parse("2001:db8::/32"), net("2001:db8::/32"));
        assert_eq!(Query::parse("443"), Query::Port(443));
        assert_eq!(
            Query::parse("Example.COM"),
            Query::Text("example.com".into())
        );
        assert_eq!(Query::parse("fe80:"), Query::Text("fe80:".into()));
        assert_eq!(Query::parse("300.1"), Query::Text("300.1".into()));
    }

    #[test]
    fn profiles_match_by_range_peer_port_name_uri_and_evidence_kind() {
        let a = crate::analyze(&crate::Options::new(["testdata/zeek/home-office-tsv"]));
        let matched = |q: &str| -> Vec<String> {
            let q = Query::parse(q);
            a.store
                .profiles
                .values()
                .filter(|p| !hits(&a, p, &q).is_empty())
                .map(|p| p.ip.to_string())
                .collect()
        };
        // 10.0.0.5 is in by its peer 192.168.1.10
        assert_eq!(
            matched("192.168"),
            ["10.0.0.5", "192.168.1.1", "192.168.1.10"]
        );
        assert_eq!(matched("192.168.1.1/32"), ["192.168.1.1", "192.168.1.10"]);
        assert_eq!(matched("198.51.100"), ["192.168.1.10"], "a peer's prefix");
        assert_eq!(matched("198.51.100.0/24"), ["192.168.1.10"]);
        // the client and the server of the SSH flows
        assert_eq!(matched("22"), ["10.0.0.5", "192.168.1.10"], "a port");
        assert_eq!(matched("example.com"), ["192.168.1.10"], "a DNS name");
        assert_eq!(matched("index.html"), ["192.168.1.10"], "a URI");
        assert_eq!(matched("portscan"), ["192.168.1.10"], "an evidence kind");
        assert!(matched("nothing-like-this").is_empty());
        // the hit names the first matching flow of the window
        let p = a
            .store
            .profiles
            .values()
            .find(|p| p.ip.to_string() == "192.168.1.10");
        let h = p.map(|p| hits(&a, p, &Query::parse("198.51.100.3")));
        let flow = h.and_then(|h| h.first().and_then(|x| x.2));
        let c = flow.and_then(|f| a.store.conns.get(f as usize));
        assert_eq!(
            c.map(|c| c.resp_h.to_string()).as_deref(),
            Some("198.51.100.3")
        );
    }
}
