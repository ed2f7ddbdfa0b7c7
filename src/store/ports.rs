//! Slips' table of well-known ports (`slips_files/ports_info/services.csv`, spec §7.6): the
//! service name Slips shows when Zeek recognised no service, and the ports the "unknown
//! destination port" detection treats as known. Names only; SCTP and malformed rows are left out.

use crate::record::Proto;

/// `(port, protocol, service name)`, sorted by port then protocol.
const PORTS: &[(u16, Proto, &str)] = &[
    (20, Proto::Tcp, "ftp-data"),
    (20, Proto::Udp, "ftp-data"),
    (21, Proto::Tcp, "ftp"),
    (21, Proto::Udp, "ftp"),
    (22, Proto::Tcp, "ssh"),
    (23, Proto::Tcp, "telnet"),
    (23, Proto::Udp, "telnet"),
    (25, Proto::Tcp, "smtp"),
    (25, Proto::Udp, "smtp"),
    (37, Proto::Tcp, "time"),
    (37, Proto::Udp, "time"),
    (43, Proto::Tcp, "whois"),
    (53, Proto::Tcp, "DNS"),
    (53, Proto::Udp, "DNS"),
    (63, Proto::Tcp, "whois++"),
    (63, Proto::Udp, "whois++"),
    (66, Proto::Tcp, "sql-net"),
    (66, Proto::Udp, "sql-net"),
    (67, Proto::Tcp, "bootps"),
    (67, Proto::Udp, "bootps"),
    (68, Proto::Tcp, "bootpc"),
    (68, Proto::Udp, "bootpc"),
    (69, Proto::Tcp, "tftp"),
    (69, Proto::Udp, "tftp"),
    (80, Proto::Tcp, "http"),
    (81, Proto::Tcp, "http-alt"),
    (92, Proto::Tcp, "npp"),
    (92, Proto::Udp, "npp"),
    (110, Proto::Tcp, "pop3"),
    (110, Proto::Udp, "pop3"),
    (111, Proto::Tcp, "sunrpc"),
    (111, Proto::Udp, "sunrpc"),
    (113, Proto::Tcp, "auth"),
    (113, Proto::Udp, "auth"),
    (115, Proto::Tcp, "sftp"),
    (115, Proto::Udp, "sftp"),
    (119, Proto::Tcp, "nntp"),
    (119, Proto::Udp, "nntp"),
    (123, Proto::Tcp, "ntp"),
    (123, Proto::Udp, "ntp"),
    (135, Proto::Tcp, "rpc"),
    (135, Proto::Udp, "rpc"),
    (137, Proto::Tcp, "netbios-ns"),
    (137, Proto::Udp, "netbios-ns"),
    (138, Proto::Tcp, "netbios-dgm"),
    (138, Proto::Udp, "netbios-dgm"),
    (139, Proto::Tcp, "netbios-ssn"),
    (139, Proto::Udp, "netbios-ssn"),
    (143, Proto::Tcp, "imap"),
    (143, Proto::Udp, "imap"),
    (144, Proto::Tcp, "uma"),
    (150, Proto::Tcp, "sql-net"),
    (150, Proto::Udp, "sql-net"),
    (161, Proto::Tcp, "snmp"),
    (161, Proto::Udp, "snmp"),
    (162, Proto::Tcp, "snmptrap"),
    (162, Proto::Udp, "snmptrap"),
    (179, Proto::Tcp, "bgp"),
    (179, Proto::Udp, "bgp"),
    (194, Proto::Tcp, "irc"),
    (194, Proto::Udp, "irc"),
    (220, Proto::Tcp, "imap3"),
    (220, Proto::Udp, "imap3"),
    (443, Proto::Tcp, "https"),
    (443, Proto::Udp, "quic"),
    (445, Proto::Tcp, "microsoft-ds"),
    (445, Proto::Udp, "microsoft-ds"),
    (513, Proto::Tcp, "login"),
    (513, Proto::Udp, "who"),
    (514, Proto::Tcp, "shell"),
    (514, Proto::Udp, "syslog"),
    (515, Proto::Tcp, "printer"),
    (515, Proto::Udp, "printer"),
    (529, Proto::Tcp, "irc-serv"),
    (529, Proto::Udp, "irc-serv"),
    (543, Proto::Tcp, "klogin"),
    (543, Proto::Udp, "klogin"),
    (544, Proto::Tcp, "kshell"),
    (544, Proto::Udp, "kshell"),
    (546, Proto::Tcp, "dhcpv6-client"),
    (546, Proto::Udp, "dhcpv6-client"),
    (547, Proto::Tcp, "dhcpv6-server"),
    (547, Proto::Udp, "dhcpv6-server"),
    (548, Proto::Tcp, "afpovertcp"),
    (548, Proto::Udp, "afpovertcp"),
    (554, Proto::Tcp, "rtsp"),
    (554, Proto::Udp, "rtsp"),
    (587, Proto::Tcp, "msa"),
    (601, Proto::Tcp, "syslog-conn"),
    (601, Proto::Udp, "syslog-conn"),
    (853, Proto::Tcp, "DoT"),
    (873, Proto::Tcp, "rsync"),
    (873, Proto::Udp, "rsync"),
    (989, Proto::Tcp, "ftps-data"),
    (989, Proto::Udp, "ftps-data"),
    (990, Proto::Tcp, "ftps"),
    (990, Proto::Udp, "ftps"),
    (992, Proto::Tcp, "telnets"),
    (992, Proto::Udp, "telnets"),
    (993, Proto::Tcp, "imaps"),
    (993, Proto::Udp, "imaps"),
    (995, Proto::Tcp, "pop3s"),
    (995, Proto::Udp, "pop3s"),
    (1241, Proto::Tcp, "nessus"),
    (1241, Proto::Udp, "nessus"),
    (1720, Proto::Tcp, "h.323"),
    (1720, Proto::Udp, "h.323"),
    (1723, Proto::Tcp, "pptp"),
    (1723, Proto::Udp, "pptp"),
    (1741, Proto::Tcp, "cisco-net-mgmt"),
    (1741, Proto::Udp, "cisco-net-mgmt"),
    (1883, Proto::Tcp, "MQTT"),
    (1883, Proto::Udp, "MQTT"),
    (1900, Proto::Tcp, "ssdp"),
    (1900, Proto::Udp, "ssdp"),
    (2086, Proto::Tcp, "gnunet"),
    (2086, Proto::Udp, "gnunet"),
    (2323, Proto::Tcp, "telnet-alt"),
    (3306, Proto::Tcp, "mysql"),
    (3306, Proto::Udp, "mysql"),
    (3389, Proto::Tcp, "rdp"),
    (3389, Proto::Udp, "rdp"),
    (3478, Proto::Udp, "STUN"),
    (3702, Proto::Tcp, "Web Services Discovery (WSD) UPNP"),
    (3702, Proto::Udp, "Web Services Discovery (WSD) UPNP"),
    (3722, Proto::Udp, "iphone-sync1"),
    (
        5222,
        Proto::Tcp,
        "XMPP Chat. Google Talk. Telegram or Whatsapp",
    ),
    (5223, Proto::Tcp, "Apple Notification Protocol or XMPP"),
    (
        5228,
        Proto::Tcp,
        "Google Playstore or Google Talk or Google Chrome Sync",
    ),
    (5351, Proto::Tcp, "nat-pmp"),
    (5351, Proto::Udp, "nat-pmp"),
    (5353, Proto::Udp, "mdns"),
    (5355, Proto::Udp, "llmr"),
    (5900, Proto::Tcp, "vnc-server"),
    (5900, Proto::Udp, "vnc-server"),
    (6667, Proto::Tcp, "IRC"),
    (6667, Proto::Udp, "IRC"),
    (6881, Proto::Udp, "bittorrent"),
    (6882, Proto::Udp, "bittorrent"),
    (8080, Proto::Tcp, "http-alt"),
    (8081, Proto::Tcp, "http-alt"),
    (8883, Proto::Tcp, "secure-mqtt"),
    (8883, Proto::Udp, "secure-mqtt"),
    (57484, Proto::Udp, "iphone-sync2"),
    (57621, Proto::Udp, "spotify-p2p-communication"),
    (58916, Proto::Udp, "iphone-sync2"),
];

/// `PORTS`' row + 1 of every TCP port (0: none), then of every UDP port, made at compile time.
///
/// A binary search of 150 rows is eight unpredictable branches a look-up; this is one load.
/// Whether a port is named at all, asked for nearly every connection, is [`known`]'s smaller
/// table.
static ROW_BY_PORT: [[u8; 65536]; 2] = rows_by_port();

// evaluated by the compiler only, never on a stack at run time
#[allow(clippy::large_stack_arrays)]
const fn rows_by_port() -> [[u8; 65536]; 2] {
    assert!(PORTS.len() < u8::MAX as usize);
    let mut table = [[0u8; 65536]; 2];
    let mut i = 0;
    while i < PORTS.len() {
        let (port, proto, _) = PORTS[i];
        let p = port as usize;
        match proto {
            Proto::Tcp => table[0][p] = i as u8 + 1,
            Proto::Udp => table[1][p] = i as u8 + 1,
            // the table holds no other protocol (the test looks every row up)
            Proto::Icmp | Proto::Unknown => {}
        }
        i += 1;
    }
    table
}

/// One bit per TCP port, then per UDP port: set when `PORTS` names it, made at compile time.
///
/// Whether a port is known is asked for nearly every connection, at ports spread over the whole
/// range; these 16 KB stay in the first-level cache, where the 128 KB of [`ROW_BY_PORT`] do not.
static KNOWN: [[u64; 1024]; 2] = known_ports();

const fn known_ports() -> [[u64; 1024]; 2] {
    let mut bits = [[0u64; 1024]; 2];
    let mut proto = 0;
    while proto < 2 {
        let mut port = 0;
        while port < 65536 {
            if ROW_BY_PORT[proto][port] != 0 {
                bits[proto][port / 64] |= 1 << (port % 64);
            }
            port += 1;
        }
        proto += 1;
    }
    bits
}

/// Whether Slips' `portinfo` hash names a port: `service_name(port, proto).is_some()`.
pub fn known(port: u16, proto: Proto) -> bool {
    let bits = match proto {
        Proto::Tcp => &KNOWN[0],
        Proto::Udp => &KNOWN[1],
        Proto::Icmp | Proto::Unknown => return false,
    };
    let port = usize::from(port);
    bits[port / 64] & (1 << (port % 64)) != 0
}

/// The service name of a port, as Slips' `portinfo` hash would give it.
pub fn service_name(port: u16, proto: Proto) -> Option<&'static str> {
    let by_port = match proto {
        Proto::Tcp => &ROW_BY_PORT[0],
        Proto::Udp => &ROW_BY_PORT[1],
        Proto::Icmp | Proto::Unknown => return None,
    };
    match by_port[usize::from(port)] {
        0 => None,
        row => Some(PORTS[usize::from(row) - 1].2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_is_known_when_it_has_a_name() {
        for proto in [Proto::Tcp, Proto::Udp, Proto::Icmp, Proto::Unknown] {
            for port in 0..=u16::MAX {
                assert_eq!(
                    known(port, proto),
                    service_name(port, proto).is_some(),
                    "{port}/{proto:?}"
                );
            }
        }
        assert!(known(80, Proto::Tcp) && !known(4444, Proto::Tcp));
    }

    #[test]
    fn known_ports_resolve_and_the_table_is_sorted() {
        assert_eq!(service_name(80, Proto::Tcp), Some("http"));
        assert_eq!(service_name(443, Proto::Udp), Some("quic"));
        assert_eq!(service_name(4444, Proto::Tcp), None);
        assert_eq!(service_name(80, Proto::Icmp), None);
        // every row is found through the table
        for (port, proto, name) in PORTS {
            assert_eq!(service_name(*port, *proto), Some(*name));
        }
        assert!(
            PORTS
                .windows(2)
                .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1))
        );
    }
}
