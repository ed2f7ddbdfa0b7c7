//! Which service a connection speaks (Zeek's `service`), from the first payload each side
//! sends: a DNS message on a DNS port, an HTTP request or status line, a TLS handshake record,
//! an SSH banner, SMTP's HELO/EHLO or its greeting on its ports, DHCP's magic cookie, an NTP
//! message. By content, not by port, except where a
//! protocol has no signature of its own (DNS, DHCP, NTP are checked on their ports).

/// A service kalipso recognises (a byte in each live connection; compared for every packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Dns,
    Dhcp,
    Ntp,
    Http,
    Ssl,
    Ssh,
    Smtp,
    Vxlan,
    Teredo,
}

impl Service {
    /// Zeek's name of it, as conn.log writes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::Dhcp => "dhcp",
            Self::Ntp => "ntp",
            Self::Http => "http",
            Self::Ssl => "ssl",
            Self::Ssh => "ssh",
            Self::Smtp => "smtp",
            Self::Vxlan => "vxlan",
            Self::Teredo => "teredo",
        }
    }
}

/// Request methods that open an HTTP/1.x request line.
const METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"CONNECT ",
    b"PATCH ",
    b"TRACE ",
];

/// Recognises the service of a connection from one side's first payload.
pub fn detect_service(payload: &[u8], udp: bool, ports: (u16, u16)) -> Option<Service> {
    const DNS_PORTS: &[u16] = &[53, 137, 5353, 5355];
    if DNS_PORTS.contains(&ports.0) || DNS_PORTS.contains(&ports.1) {
        let msg = if udp {
            payload
        } else {
            payload.get(2..).unwrap_or_default()
        };
        if super::dns::is_message(msg) {
            return Some(Service::Dns);
        }
    }
    if udp {
        // DHCP: BOOTP with its magic cookie; NTP: a 48-byte message of version 1-4
        let dhcp_ports = [67, 68];
        if (dhcp_ports.contains(&ports.0) || dhcp_ports.contains(&ports.1))
            && payload.get(236..240) == Some(&[0x63, 0x82, 0x53, 0x63][..])
        {
            return Some(Service::Dhcp);
        }
        if (ports.0 == 123 || ports.1 == 123)
            && payload.len() >= 48
            && (1..=4).contains(&((payload[0] >> 3) & 7))
        {
            return Some(Service::Ntp);
        }
        return None;
    }
    if METHODS.iter().any(|m| payload.starts_with(m)) || payload.starts_with(b"HTTP/1.") {
        return Some(Service::Http);
    }
    // TLS: a handshake record (22) of version 3.x
    if payload.len() >= 6 && payload[0] == 22 && payload[1] == 3 && payload[2] <= 4 {
        return Some(Service::Ssl);
    }
    if payload.starts_with(b"SSH-") {
        return Some(Service::Ssh);
    }
    // SMTP: the client's HELO or EHLO anywhere, or the server's 220 greeting on SMTP's ports
    let first = payload.trim_ascii_start();
    let word = first.get(..4).unwrap_or_default();
    if word.eq_ignore_ascii_case(b"HELO") || word.eq_ignore_ascii_case(b"EHLO") {
        return Some(Service::Smtp);
    }
    let smtp_ports = [25, 587];
    if (smtp_ports.contains(&ports.0) || smtp_ports.contains(&ports.1))
        && first.starts_with(b"220")
        && matches!(first.get(3), Some(b' ' | b'-' | b'\r'))
    {
        return Some(Service::Smtp);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn services_from_first_payloads() {
        assert_eq!(
            detect_service(&super::super::dns::tests::response(), true, (53000, 53)),
            Some(Service::Dns)
        );
        assert_eq!(
            detect_service(b"GET / HTTP/1.1\r\n", false, (40000, 8080)),
            Some(Service::Http)
        );
        assert_eq!(
            detect_service(&[22, 3, 1, 0, 200, 1, 0], false, (40000, 443)),
            Some(Service::Ssl)
        );
        assert_eq!(
            detect_service(b"SSH-2.0-OpenSSH_9.6\r\n", false, (40000, 2222)),
            Some(Service::Ssh)
        );
        assert_eq!(detect_service(b"hello", false, (40000, 80)), None);
        assert_eq!(
            detect_service(b"EHLO me\r\n", false, (40000, 2525)),
            Some(Service::Smtp)
        );
        assert_eq!(
            detect_service(b"220 mx ESMTP\r\n", false, (25, 40000)),
            Some(Service::Smtp)
        );
        assert_eq!(
            detect_service(b"220 ftp ready\r\n", false, (21, 40000)),
            None
        );
        let mut ntp = vec![0u8; 48];
        ntp[0] = 0x23; // version 4, client
        assert_eq!(detect_service(&ntp, true, (40000, 123)), Some(Service::Ntp));
        let mut bootp = vec![0u8; 300];
        bootp[236..240].copy_from_slice(&[0x63, 0x82, 0x53, 0x63]);
        assert_eq!(detect_service(&bootp, true, (68, 67)), Some(Service::Dhcp));
    }

    proptest! {
        #[test]
        fn any_payload_never_panics(payload in proptest::collection::vec(any::<u8>(), 0..600), udp: bool, a: u16, b: u16) {
            let _ = detect_service(&payload, udp, (a, b));
        }
    }
}
