//! What a detection yields: typed evidence.
//!
//! An [`Evidence`] names its [`EvidenceKind`] (Slips' `type_evidence`, which knows its IDEA
//! category), the attacker and victim as an IP or a domain ([`Party`]), the flows behind it as
//! record indices ([`FlowRef`]), and a typed [`Payload`] of the values seen. The sentence Slips
//! would write is rendered from the payload only when it is shown ([`Evidence::description`]),
//! so a run with a million evidence items keeps numbers, not a million strings.
//!
//! Nothing here decides anything: the rules in the sibling files do, alert accounting is in
//! [`mod@super::alerts`].

use super::beacon::Beacon;
use crate::record::{Proto, UidText};
use crate::store::Store;
use std::fmt::{self, Write as _};
use std::net::IpAddr;
use thin_vec::ThinVec;

/// Slips' threat levels and their values.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ThreatLevel {
    /// 0
    Info,
    /// 0.2
    Low,
    /// 0.5
    Medium,
    /// 0.8
    High,
    /// 1
    Critical,
}

impl ThreatLevel {
    /// The level's weight in the alert sum.
    pub fn value(self) -> f64 {
        match self {
            ThreatLevel::Info => 0.0,
            ThreatLevel::Low => 0.2,
            ThreatLevel::Medium => 0.5,
            ThreatLevel::High => 0.8,
            ThreatLevel::Critical => 1.0,
        }
    }

    /// Parses `info|low|medium|high|critical` (any case).
    pub fn parse(s: &str) -> Option<ThreatLevel> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" => Some(ThreatLevel::Info),
            "low" => Some(ThreatLevel::Low),
            "medium" => Some(ThreatLevel::Medium),
            "high" => Some(ThreatLevel::High),
            "critical" => Some(ThreatLevel::Critical),
            _ => None,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ThreatLevel::Info => "info",
            ThreatLevel::Low => "low",
            ThreatLevel::Medium => "medium",
            ThreatLevel::High => "high",
            ThreatLevel::Critical => "critical",
        }
    }
}

/// Declares the evidence kinds with Slips' names, their IDEA categories and their default
/// threat levels, in one table: changing how a kind counts is one line here.
macro_rules! kinds {
    ($($kind:ident = $name:literal, $category:literal, $level:ident;)*) => {
        /// Slips' `type_evidence`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EvidenceKind {
            $(
                #[doc = concat!("`", $name, "` (", $category, ", ", stringify!($level), ")")]
                $kind,
            )*
        }

        impl EvidenceKind {
            /// Every kind, in declaration order (`kind as usize` is its place here).
            pub const ALL: &[EvidenceKind] = &[$(EvidenceKind::$kind,)*];

            /// Slips' name, e.g. `HorizontalPortscan`.
            pub fn name(self) -> &'static str {
                match self {
                    $(EvidenceKind::$kind => $name,)*
                }
            }

            /// The IDEA0 category Slips files it under (alerts.json).
            pub fn category(self) -> &'static str {
                match self {
                    $(EvidenceKind::$kind => $category,)*
                }
            }

            /// Its threat level unless the rule says otherwise (threat-intelligence kinds take
            /// the feed's level; this is the one for a feed that gives none).
            pub fn default_level(self) -> ThreatLevel {
                match self {
                    $(EvidenceKind::$kind => ThreatLevel::$level,)*
                }
            }
        }
    };
}

kinds! {
    HorizontalPortscan = "HorizontalPortscan", "Recon.Scanning", High;
    VerticalPortscan = "VerticalPortscan", "Recon.Scanning", High;
    IcmpSweep = "ICMPSweep", "Recon.Scanning", Medium;
    DnsArpaScan = "DNS-ARPA-Scan", "Recon.Scanning", Medium;
    ArpScan = "ARPScan", "Recon.Scanning", Low;
    PasswordGuessing = "PasswordGuessing", "Attempt.Login", High;
    BadSmtpLogin = "BadSMTPLogin", "Attempt.Login", High;
    SmtpLoginBruteforce = "SMTPLoginBruteforce", "Attempt.Login", High;
    MultipleSshVersions = "MultipleSSHVersions", "Attempt.Login", Medium;
    Beacon = "Beacon", "Intrusion.Botnet", Medium;
    MaliciousJa3 = "MaliciousJA3", "Intrusion.Botnet", Medium;
    MaliciousJa3s = "MaliciousJA3s", "Intrusion.Botnet", Medium;
    Dga = "DGA", "Intrusion.Botnet", High;
    DosExecutableDownload = "DOSExecutableDownload", "Malware", Low;
    DataUpload = "DataUpload", "Information.UnauthorizedAccess", High;
    DataUploadWindow = "DataUploadWindow", "Information.UnauthorizedAccess", High;
    ThreatIntelligenceBlacklistIp = "ThreatIntelligenceBlacklistIP", "Intrusion", Medium;
    ThreatIntelligenceBlacklistDomain = "ThreatIntelligenceBlacklistDomain", "Intrusion", Medium;
    LongConnection = "LongConnection", "Anomaly.Connection", Low;
    Port0Connection = "Port0Connection", "Anomaly.Connection", High;
    UnknownPort = "UnknownPort", "Anomaly.Connection", High;
    MultipleReconnectionAttempts = "MultipleReconnectionAttempts", "Anomaly.Connection", Medium;
    ConnectionToMultiplePorts = "ConnectionToMultiplePorts", "Anomaly.Connection", Info;
    SshSuccessful = "SSHSuccessful", "Anomaly.Connection", Info;
    NonHttpPort80Connection = "NonHttpPort80Connection", "Anomaly.Connection", Low;
    NonSslPort443Connection = "NonSslPort443Connection", "Anomaly.Connection", Medium;
    ConnectionWithoutDns = "ConnectionWithoutDNS", "Anomaly.Connection", Info;
    DnsWithoutConnection = "DNSWithoutConnection", "Anomaly.Connection", Info;
    SuspiciousUserAgent = "SuspiciousUserAgent", "Anomaly.Connection", High;
    EmptyConnections = "EmptyConnections", "Anomaly.Connection", Medium;
    SelfSignedCertificate = "SelfSignedCertificate", "Anomaly.Connection", Low;
    IncompatibleCn = "IncompatibleCN", "Anomaly.Connection", Medium;
    UnsolicitedArp = "UnsolicitedARP", "Anomaly.Connection", Info;
    ArpOutsideLocalNetwork = "ARPOutsideLocalNetwork", "Anomaly.Connection", Low;
    GreTunnel = "GRETunnel", "Information", Info;
    // kalipso's own kinds (Slips has no rule for them)
    InboundProbe = "InboundProbe", "Recon.Scanning", High;
    LoginBruteforce = "LoginBruteforce", "Attempt.Login", High;
    UnansweredAttempts = "UnansweredAttempts", "Intrusion.Botnet", High;
}

impl EvidenceKind {
    /// Kinds that raise an alert by themselves (kalipso's attack rules): one inbound probe or
    /// brute force weighs far less than a window's threshold, yet is an attack.
    pub fn alerts_alone(self) -> bool {
        matches!(
            self,
            EvidenceKind::InboundProbe
                | EvidenceKind::LoginBruteforce
                | EvidenceKind::UnansweredAttempts
        )
    }
}

impl fmt::Display for EvidenceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq<&str> for EvidenceKind {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

/// An attacker or a victim: an IP, or a domain name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Party {
    /// An address.
    Ip(IpAddr),
    /// A domain name (lower case, as queried). A boxed `str`, not a `String`: there is one
    /// party or two in every piece of evidence, and this keeps a party at 24 bytes.
    Domain(Box<str>),
}

impl Party {
    /// A name as a party: an IP when it is an address written canonically, else a domain.
    pub fn name(name: &str) -> Party {
        match name.parse::<IpAddr>() {
            Ok(ip) if ip.to_string() == name => Party::Ip(ip),
            _ => Party::Domain(name.into()),
        }
    }

    /// The address, when the party is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Party::Ip(ip) => Some(*ip),
            Party::Domain(_) => None,
        }
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Party::Ip(ip) => ip.fmt(f),
            Party::Domain(d) => f.write_str(d),
        }
    }
}

impl PartialEq<&str> for Party {
    fn eq(&self, other: &&str) -> bool {
        self.as_ref() == *other
    }
}

/// A record behind a piece of evidence, by kind and index in the [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowRef {
    /// `Store::conns[i]`
    Conn(u32),
    /// `Store::dns[i]`
    Dns(u32),
    /// `Store::http[i]`
    Http(u32),
    /// `Store::ssl[i]`
    Ssl(u32),
}

/// The records behind a piece of evidence, as a slice.
///
/// A day of traffic has hundreds of thousands of pieces of evidence, most with one record: that
/// one is kept inline, and only more go to a thin vector. A thin vector for every piece cost an
/// allocation each (32 bytes, and the time to make and free it).
#[derive(Debug, Clone)]
pub enum Flows {
    /// Exactly one record.
    One(FlowRef),
    /// None, or two and more.
    Many(ThinVec<FlowRef>),
}

impl Flows {
    /// No records.
    pub fn none() -> Flows {
        Flows::Many(ThinVec::new())
    }
}

impl Default for Flows {
    fn default() -> Self {
        Flows::none()
    }
}

impl std::ops::Deref for Flows {
    type Target = [FlowRef];
    fn deref(&self) -> &[FlowRef] {
        match self {
            Flows::One(f) => std::slice::from_ref(f),
            Flows::Many(v) => v,
        }
    }
}

impl PartialEq for Flows {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl From<FlowRef> for Flows {
    fn from(f: FlowRef) -> Self {
        Flows::One(f)
    }
}

impl From<Vec<FlowRef>> for Flows {
    fn from(v: Vec<FlowRef>) -> Self {
        match v[..] {
            [one] => Flows::One(one),
            _ => Flows::Many(v.into()),
        }
    }
}

impl FromIterator<FlowRef> for Flows {
    fn from_iter<I: IntoIterator<Item = FlowRef>>(iter: I) -> Self {
        let mut iter = iter.into_iter();
        match (iter.next(), iter.next()) {
            (None, _) => Flows::none(),
            (Some(one), None) => Flows::One(one),
            (Some(a), Some(b)) => {
                let mut v: ThinVec<FlowRef> = ThinVec::with_capacity(2 + iter.size_hint().0);
                v.push(a);
                v.push(b);
                v.extend(iter);
                Flows::Many(v)
            }
        }
    }
}

impl FlowRef {
    /// The record tables a reference points into, numbered as [`FlowRef::table_row`] numbers
    /// them.
    pub const TABLES: [&'static str; 4] = ["conn", "dns", "http", "ssl"];

    /// Which of [`FlowRef::TABLES`] the record is in, and its row there.
    pub fn table_row(self) -> (usize, u32) {
        match self {
            FlowRef::Conn(n) => (0, n),
            FlowRef::Dns(n) => (1, n),
            FlowRef::Http(n) => (2, n),
            FlowRef::Ssl(n) => (3, n),
        }
    }

    /// The record's Zeek uid.
    pub fn uid(self, store: &Store) -> Option<UidText<'_>> {
        let i = |n: u32| n as usize;
        match self {
            FlowRef::Conn(n) => store.conns.get(i(n)).map(|c| c.uid.text()),
            FlowRef::Dns(n) => store.dns.get(i(n)).map(|d| UidText::Other(&d.id.uid)),
            FlowRef::Http(n) => store.http.get(i(n)).map(|h| UidText::Other(&h.id.uid)),
            FlowRef::Ssl(n) => store.ssl.get(i(n)).map(|s| UidText::Other(&s.id.uid)),
        }
    }
}

/// What was seen, as values; [`Evidence::description`] words it as Slips does.
///
/// 40 bytes: the variants that would be larger (two or three strings, a beacon's scores) keep
/// those in one box, since they are rare and every piece of evidence pays for the largest
/// variant. The scans' confidence is the evidence's own ([`Evidence::confidence`]).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // the fields are named for the values in the sentence
pub enum Payload {
    /// Slips' horizontal scan rule.
    HorizontalScan {
        service: Option<&'static str>,
        port: u16,
        proto: Proto,
        targets: usize,
        packets: u64,
    },
    /// Slips' vertical scan rule.
    VerticalScan {
        target: IpAddr,
        proto: Proto,
        ports: usize,
        packets: u64,
    },
    LongConnection {
        dst: IpAddr,
        minutes: u64,
    },
    Port0 {
        orig_port: u16,
        dst: IpAddr,
        dst_port: u16,
    },
    UnknownPort {
        port: u16,
        proto: Proto,
        dst: IpAddr,
    },
    Reconnections {
        dst: IpAddr,
        attempts: u32,
    },
    MultiplePorts {
        dst: IpAddr,
        ports: ThinVec<u16>,
    },
    /// An SSH connection large enough to have logged in (Slips' size rule).
    SshSuccessfulBySize {
        dst: IpAddr,
        bytes: u64,
    },
    /// Zeek's `auth_success` in ssh.log.
    SshSuccessfulByZeek {
        dst: IpAddr,
    },
    SshPasswordGuessing {
        dst: IpAddr,
        failures: u32,
    },
    /// Unsolicited connection attempts from outside to home hosts (kalipso).
    InboundProbe {
        /// The first victim (by address).
        victim: IpAddr,
        victims: u32,
        /// Ports and protocols tried, in order.
        ports: ThinVec<(u16, Proto)>,
        attempts: u32,
        answered: u32,
    },
    /// Many unanswered connection attempts to one outside port no service uses (kalipso).
    UnansweredAttempts {
        dst: IpAddr,
        port: u16,
        attempts: u32,
        minutes: u32,
    },
    /// Many short completed connections to one login service (kalipso).
    LoginBruteforce {
        dst: IpAddr,
        port: u16,
        service: &'static str,
        attempts: u32,
    },
    DataUpload {
        dst: IpAddr,
        megabytes: u64,
    },
    DataUploadWindow {
        dst: IpAddr,
        megabytes: u64,
    },
    NonHttpPort80 {
        dst: IpAddr,
    },
    NonSslPort443 {
        dst: IpAddr,
    },
    ConnectionWithoutDns {
        dst: IpAddr,
    },
    /// A destination on a threat-intelligence list.
    BlacklistedDestination {
        dst: IpAddr,
        /// The list's description of it, and the list.
        feed: Box<[Box<str>; 2]>,
    },
    /// The profile itself on a threat-intelligence list.
    BlacklistedSource {
        description: Box<str>,
        source: Box<str>,
    },
    BlacklistedDomain {
        /// The domain, the list's description of it, and the list.
        feed: Box<[Box<str>; 3]>,
    },
    IcmpSweep {
        scan: &'static str,
        hosts: usize,
    },
    Dga {
        failures: usize,
    },
    DnsArpaScan {
        hosts: usize,
    },
    DnsWithoutConnection {
        domain: Box<str>,
    },
    SuspiciousUserAgent {
        /// The user agent, the host and the URI.
        request: Box<[Box<str>; 3]>,
    },
    EmptyConnections {
        host: Box<str>,
    },
    ExecutableDownload {
        server: IpAddr,
        /// The MIME type, and the host and URI as one string.
        download: Box<[Box<str>; 2]>,
    },
    SelfSigned {
        dst: IpAddr,
        sni: Box<str>,
    },
    IncompatibleCn {
        dst: IpAddr,
        /// The server name, and the organisation the certificate claims.
        claim: Box<(Box<str>, &'static str)>,
    },
    MaliciousJa3 {
        dst: IpAddr,
        /// The fingerprint, and the list's description of it.
        ja3: Box<[Box<str>; 2]>,
    },
    MaliciousJa3s {
        dst: IpAddr,
        /// The fingerprint, and the list's description of it.
        ja3s: Box<[Box<str>; 2]>,
    },
    /// A Zeek notice, its message after Slips' prefix for the kind.
    ZeekNotice {
        prefix: &'static str,
        message: Box<str>,
    },
    BadSmtpLogin {
        server: Option<IpAddr>,
    },
    SmtpBruteforce {
        server: Option<IpAddr>,
        logins: usize,
    },
    SshVersionChange {
        from: Box<str>,
        to: Box<str>,
    },
    UnsolicitedArp,
    /// A tunnel.log record of a GRE tunnel (its action, e.g. `Tunnel::DISCOVER`).
    GreTunnel {
        dst: Option<IpAddr>,
        action: Box<str>,
    },
    ArpOutsideLocalNetwork {
        dst: IpAddr,
    },
    ArpScan {
        hosts: usize,
    },
    Beacon {
        dst: IpAddr,
        port: u16,
        proto: Proto,
        /// Boxed: its scores would make every payload larger.
        beacon: Box<Beacon>,
    },
}

/// One piece of evidence.
///
/// A day of traffic has hundreds of thousands of them, nearly all accusing their own profile
/// and naming an address as victim. So the attacker is kept only when it is not the profile,
/// and a victim that is not an address, in a box beside it; an address as
/// victim is kept inline. [`Evidence::attacker`] and [`Evidence::victim`] give them back. With
/// the rare payloads' strings boxed ([`Payload`]), a piece is 128 bytes instead of 168. Make one
/// from [`EvidenceParts`].
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// Slips' `type_evidence`.
    pub kind: EvidenceKind,
    /// The profile (source IP) it belongs to.
    pub profile: IpAddr,
    /// Its window number.
    pub window: i64,
    /// The victim when it is an address.
    victim_ip: Option<IpAddr>,
    /// The attacker when it is not the profile, and the victim when it is not an address.
    rare: Option<Box<RareParties>>,
    /// Threat level.
    pub threat_level: ThreatLevel,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// What was seen.
    pub payload: Payload,
    /// Time of the flow that completed it.
    pub ts: f64,
    /// The records behind it.
    pub flows: Flows,
}

/// The parties of a piece of evidence that are not kept inline.
#[derive(Debug, Clone, PartialEq, Default)]
struct RareParties {
    /// The attacker, when it is not the profile.
    attacker: Option<Party>,
    /// The victim, when it is not an address.
    victim: Option<Party>,
}

/// Everything a piece of evidence says, with its parties as they are: what a rule makes, and
/// [`Evidence::from`] stores.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceParts {
    /// Slips' `type_evidence`.
    pub kind: EvidenceKind,
    /// The profile (source IP) it belongs to.
    pub profile: IpAddr,
    /// Its window number.
    pub window: i64,
    /// The attacker.
    pub attacker: Party,
    /// The victim, if any.
    pub victim: Option<Party>,
    /// Threat level.
    pub threat_level: ThreatLevel,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// What was seen.
    pub payload: Payload,
    /// Time of the flow that completed it.
    pub ts: f64,
    /// The records behind it.
    pub flows: Flows,
}

impl From<EvidenceParts> for Evidence {
    fn from(p: EvidenceParts) -> Evidence {
        let mut rare = RareParties::default();
        if p.attacker != Party::Ip(p.profile) {
            rare.attacker = Some(p.attacker);
        }
        let victim_ip = match p.victim {
            Some(Party::Ip(ip)) => Some(ip),
            other => {
                rare.victim = other;
                None
            }
        };
        Evidence {
            kind: p.kind,
            profile: p.profile,
            window: p.window,
            victim_ip,
            rare: (rare != RareParties::default()).then(|| Box::new(rare)),
            threat_level: p.threat_level,
            confidence: p.confidence,
            payload: p.payload,
            ts: p.ts,
            flows: p.flows,
        }
    }
}

/// A party of a piece of evidence, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartyRef<'a> {
    /// An address.
    Ip(IpAddr),
    /// A domain name.
    Domain(&'a str),
}

impl PartyRef<'_> {
    /// The address, when the party is one.
    pub fn ip(self) -> Option<IpAddr> {
        match self {
            PartyRef::Ip(ip) => Some(ip),
            PartyRef::Domain(_) => None,
        }
    }
}

impl PartialEq<&str> for PartyRef<'_> {
    fn eq(&self, other: &&str) -> bool {
        match self {
            PartyRef::Ip(ip) => other.parse::<IpAddr>().is_ok_and(|o| o == *ip),
            PartyRef::Domain(d) => d == other,
        }
    }
}

impl fmt::Display for PartyRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartyRef::Ip(ip) => ip.fmt(f),
            PartyRef::Domain(d) => f.write_str(d),
        }
    }
}

impl Party {
    /// The party, borrowed.
    pub fn as_ref(&self) -> PartyRef<'_> {
        match self {
            Party::Ip(ip) => PartyRef::Ip(*ip),
            Party::Domain(d) => PartyRef::Domain(d),
        }
    }
}

impl Evidence {
    /// The attacker.
    pub fn attacker(&self) -> PartyRef<'_> {
        match self.rare.as_ref().and_then(|r| r.attacker.as_ref()) {
            Some(a) => a.as_ref(),
            None => PartyRef::Ip(self.profile),
        }
    }

    /// Whether the profile itself is the attacker (only such evidence counts for alerts).
    pub fn profile_is_attacker(&self) -> bool {
        self.rare.as_ref().is_none_or(|r| r.attacker.is_none())
    }

    /// The victim, if any.
    pub fn victim(&self) -> Option<PartyRef<'_>> {
        match self.victim_ip {
            Some(ip) => Some(PartyRef::Ip(ip)),
            None => self.rare.as_ref()?.victim.as_ref().map(Party::as_ref),
        }
    }

    /// Threat level × confidence.
    pub fn weight(&self) -> f64 {
        self.threat_level.value() * self.confidence
    }

    /// What was seen, as Slips words it. The text holds network strings as they came: pass it
    /// through [`crate::text::clean`] before a terminal or a text file.
    pub fn description(&self) -> String {
        let mut s = String::new();
        // writing into a String cannot fail
        let _ = self.write_description(&mut s);
        s
    }

    /// The uids of the records behind it.
    pub fn uids<'s>(&self, store: &'s Store) -> Vec<UidText<'s>> {
        self.flows.iter().filter_map(|f| f.uid(store)).collect()
    }

    #[allow(clippy::too_many_lines)] // one arm per sentence
    fn write_description(&self, s: &mut String) -> fmt::Result {
        let me = self.profile;
        match &self.payload {
            Payload::HorizontalScan {
                service,
                port,
                proto,
                targets,
                packets,
            } => {
                let confidence = self.confidence;
                let service = service.map(|s| format!("{s} ")).unwrap_or_default();
                write!(
                    s,
                    "Horizontal port scan to port {service}{port}/{}. From {me} to {targets} unique destination IPs. Total packets sent: {packets}. Confidence: {confidence}. by Slips",
                    proto.as_str()
                )
            }
            Payload::VerticalScan {
                target,
                proto,
                ports,
                packets,
            } => write!(
                s,
                "new vertical port scan to IP {target} from {me}. Total {ports} {} ports were scanned. Total packets sent to all ports: {packets}. Confidence: {}. by Slips",
                proto.upper(),
                self.confidence
            ),
            Payload::LongConnection { dst, minutes } => write!(
                s,
                "Long Connection. Connection from {me} to destination address: {dst} took {minutes} mins"
            ),
            Payload::Port0 {
                orig_port,
                dst,
                dst_port,
            } => write!(
                s,
                "Connection on port 0 from {me}:{orig_port} to {dst}:{dst_port}."
            ),
            Payload::UnknownPort { port, proto, dst } => write!(
                s,
                "Connection to unknown destination port {port}/{} destination IP {dst}.",
                proto.upper()
            ),
            Payload::Reconnections { dst, attempts } => write!(
                s,
                "Multiple reconnection attempts from IP: {me} to destination IP: {dst} reconnections: {attempts}."
            ),
            Payload::MultiplePorts { dst, ports } => {
                s.push_str("Connection to multiple ports ");
                for (i, p) in ports.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    write!(s, "{p}")?;
                }
                write!(s, " of destination IP: {dst}.")
            }
            Payload::SshSuccessfulBySize { dst, bytes } => write!(
                s,
                "SSH successful to IP {dst}. From IP {me}. Sent bytes: {bytes}. by Slips"
            ),
            Payload::SshSuccessfulByZeek { dst } => {
                write!(s, "SSH successful to IP {dst}. From IP {me}. by Zeek")
            }
            Payload::SshPasswordGuessing { dst, failures } => write!(
                s,
                "password guessing to {dst}: {failures} failed SSH logins. by Slips"
            ),
            Payload::InboundProbe {
                victim,
                victims,
                ports,
                attempts,
                answered,
            } => {
                const PORTS: usize = 8;
                let whom = if *victims == 1 {
                    victim.to_string()
                } else {
                    format!("{victims} home hosts")
                };
                write!(
                    s,
                    "{attempts} unsolicited connection attempt(s) from outside the home network to {whom} on "
                )?;
                for (i, (port, proto)) in ports.iter().take(PORTS).enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    write!(s, "{port}/{}", proto.as_str())?;
                }
                if ports.len() > PORTS {
                    write!(s, " and {} more ports", ports.len() - PORTS)?;
                }
                match answered {
                    0 => s.push_str(", none answered."),
                    n => write!(s, ", {n} answered.")?,
                }
                Ok(())
            }
            Payload::UnansweredAttempts {
                dst,
                port,
                attempts,
                minutes,
            } => write!(
                s,
                "{attempts} unanswered connection attempts from {me} to {dst}:{port}/tcp over {minutes} minutes: a command-and-control server that is down or blocked?"
            ),
            Payload::LoginBruteforce {
                dst,
                port,
                service,
                attempts,
            } => write!(
                s,
                "{service} brute force: {attempts} short completed connections from {me} to {dst}:{port} in this time window."
            ),
            Payload::DataUpload { dst, megabytes } => {
                write!(s, "Large data upload. {megabytes} MBs sent to {dst}.")
            }
            Payload::DataUploadWindow { dst, megabytes } => write!(
                s,
                "Large data upload. {megabytes} MBs sent to {dst} in this time window."
            ),
            Payload::NonHttpPort80 { dst } => write!(
                s,
                "non-HTTP established connection to port 80. destination IP: {dst}"
            ),
            Payload::NonSslPort443 { dst } => write!(
                s,
                "non-SSL established connection to port 443. destination IP: {dst}"
            ),
            Payload::ConnectionWithoutDns { dst } => {
                write!(s, "a connection without DNS resolution to IP: {dst}")
            }
            Payload::BlacklistedDestination { dst, feed } => {
                let [description, source] = &**feed;
                write!(
                    s,
                    "connection to blacklisted IP {dst}. Description: {description}. Source: {source}."
                )
            }
            Payload::BlacklistedSource {
                description,
                source,
            } => write!(
                s,
                "connection from blacklisted IP {me}. Description: {description}. Source: {source}."
            ),
            Payload::BlacklistedDomain { feed } => {
                let [domain, description, source] = &**feed;
                write!(
                    s,
                    "connection to a blacklisted domain {domain}. Description: {description}, Found in feed: {source}."
                )
            }
            Payload::IcmpSweep { scan, hosts } => {
                write!(s, "{me} performed ICMP {scan} scan on {hosts} hosts")
            }
            Payload::Dga { failures } => write!(
                s,
                "Possible DGA or domain scanning. {me} failed to resolve {failures} domains"
            ),
            Payload::DnsArpaScan { hosts } => write!(
                s,
                "Doing DNS ARPA scan. Scanned {hosts} hosts within 2 seconds."
            ),
            Payload::DnsWithoutConnection { domain } => {
                write!(s, "domain {domain} resolved with no connection")
            }
            Payload::SuspiciousUserAgent { request } => {
                let [user_agent, host, uri] = &**request;
                write!(
                    s,
                    "suspicious user-agent: {user_agent} while connecting to {host}{uri}"
                )
            }
            Payload::EmptyConnections { host } => {
                write!(s, "multiple empty HTTP connections to {host}")
            }
            Payload::ExecutableDownload { server, download } => {
                let [mime, url] = &**download;
                write!(
                    s,
                    "Download of an executable with MIME type: {mime} by {me} from {server}: {url}"
                )
            }
            Payload::SelfSigned { dst, sni } => write!(
                s,
                "Self-signed certificate. Destination IP: {dst}. SNI: {sni}"
            ),
            Payload::IncompatibleCn { dst, claim } => {
                let (sni, organisation) = &**claim;
                let (first, rest) = organisation.split_at(organisation.len().min(1));
                write!(
                    s,
                    "Incompatible certificate CN to IP: {dst} domain: {sni}. The certificate is claiming to belong to {}{rest}.",
                    first.to_ascii_uppercase()
                )
            }
            Payload::MaliciousJa3 { dst, ja3 } => {
                let [ja3, description] = &**ja3;
                write!(
                    s,
                    "Malicious JA3: {ja3} from source address {me} to {dst}. description: {description}."
                )
            }
            Payload::MaliciousJa3s { dst, ja3s } => {
                let [ja3s, description] = &**ja3s;
                write!(
                    s,
                    "Malicious JA3s: (possible C&C server): {ja3s} to server {dst}. description: {description}."
                )
            }
            Payload::ZeekNotice { prefix, message } => write!(s, "{prefix}{message} by Zeek"),
            Payload::BadSmtpLogin { server } => {
                write!(s, "doing bad SMTP login to {}", OrEmpty(*server))
            }
            Payload::SmtpBruteforce { server, logins } => write!(
                s,
                "doing SMTP login bruteforce to {}. {logins} logins in 10 seconds.",
                OrEmpty(*server)
            ),
            Payload::SshVersionChange { from, to } => write!(
                s,
                "SSH client version changing from {from} to {to}: possible SSH bruteforce by using multiple SSH versions."
            ),
            Payload::UnsolicitedArp => write!(s, "broadcasting unsolicited ARP"),
            // Slips puts its "IP identification" of the destination between the address and
            // the action; kalipso has no such lookup, so that part is left out
            Payload::GreTunnel { dst, action } => write!(
                s,
                "GRE tunnel from {me} to {} tunnel action: {action}",
                OrEmpty(*dst)
            ),
            Payload::ArpOutsideLocalNetwork { dst } => write!(
                s,
                "{me} sending ARP packet to a destination address outside of local network: {dst}."
            ),
            Payload::ArpScan { hosts } => write!(
                s,
                "{me} performing an arp scan to {hosts} hosts within 30 seconds. Confidence 0.8."
            ),
            Payload::Beacon {
                dst,
                port,
                proto,
                beacon,
            } => write!(
                s,
                "Periodic connections (possible C&C beacon) to {dst} port {port}/{}: {} flows every {:.0} s (jitter {:.0}%), score {:.2}.",
                proto.as_str(),
                beacon.flows,
                beacon.period,
                beacon.jitter * 100.0,
                beacon.score
            ),
        }
    }
}

/// An optional address shown as nothing when absent (as Slips shows a missing responder).
struct OrEmpty(Option<IpAddr>);

impl fmt::Display for OrEmpty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ip) => ip.fmt(f),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_at_its_number() {
        // the triage counts kinds in an array indexed by `kind as usize`
        for (at, kind) in EvidenceKind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, at, "{kind:?}");
        }
        let names: std::collections::BTreeSet<&str> =
            EvidenceKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), EvidenceKind::ALL.len(), "names are distinct");
    }

    #[test]
    fn a_piece_of_evidence_stays_small() {
        // hundreds of thousands of them on a day of traffic (841,105 on the realistic 5 M log)
        // one record inline: 8 bytes more than a thin vector, 32 bytes of heap less
        assert!(
            std::mem::size_of::<Evidence>() <= 128,
            "{}",
            std::mem::size_of::<Evidence>()
        );
    }

    #[test]
    fn records_read_the_same_however_they_were_gathered() {
        let (a, b) = (FlowRef::Conn(1), FlowRef::Dns(2));
        assert!(matches!(Flows::from(vec![a]), Flows::One(x) if x == a));
        assert!(matches!([a].into_iter().collect::<Flows>(), Flows::One(x) if x == a));
        for (v, want) in [(vec![], 0), (vec![a, b], 2), (vec![a, b, a], 3)] {
            let from_vec = Flows::from(v.clone());
            let collected: Flows = v.iter().copied().collect();
            assert_eq!(from_vec.len(), want);
            assert_eq!(&from_vec[..], &v[..]);
            assert_eq!(from_vec, collected);
        }
        assert!(Flows::none().is_empty());
        assert_eq!(Flows::from(a), Flows::Many(thin_vec::thin_vec![a]));
    }

    #[test]
    fn threat_levels_parse_and_weigh() {
        assert_eq!(ThreatLevel::parse(" HIGH "), Some(ThreatLevel::High));
        assert_eq!(ThreatLevel::parse("bogus"), None);
        assert!((ThreatLevel::Medium.value() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn kinds_know_their_slips_name_and_category() {
        assert_eq!(EvidenceKind::DnsArpaScan.name(), "DNS-ARPA-Scan");
        assert_eq!(EvidenceKind::IcmpSweep.category(), "Recon.Scanning");
        assert_eq!(
            EvidenceKind::MultipleSshVersions.category(),
            "Attempt.Login"
        );
        assert_eq!(
            EvidenceKind::ThreatIntelligenceBlacklistDomain.category(),
            "Intrusion"
        );
        assert_eq!(EvidenceKind::UnknownPort.category(), "Anomaly.Connection");
        assert!(EvidenceKind::Beacon == "Beacon");
    }

    #[test]
    fn parties_are_addresses_only_when_written_canonically() {
        assert_eq!(
            Party::name("10.0.0.1"),
            Party::Ip(IpAddr::from([10, 0, 0, 1]))
        );
        assert_eq!(
            Party::name("example.com"),
            Party::Domain("example.com".into())
        );
        // a name that only parses as an address keeps its spelling
        assert_eq!(Party::name("0:0::1"), Party::Domain("0:0::1".into()));
        assert!(Party::name("10.0.0.1") == "10.0.0.1");
    }

    #[test]
    fn descriptions_are_rendered_from_the_payload() {
        let e = Evidence::from(EvidenceParts {
            kind: EvidenceKind::ConnectionToMultiplePorts,
            profile: IpAddr::from([10, 0, 0, 5]),
            window: 1,
            attacker: Party::Ip(IpAddr::from([10, 0, 0, 5])),
            victim: None,
            threat_level: ThreatLevel::Medium,
            confidence: 0.5,
            payload: Payload::MultiplePorts {
                dst: IpAddr::from([198, 51, 100, 1]),
                ports: thin_vec::thin_vec![81, 8081, 9000],
            },
            ts: 0.0,
            flows: Flows::none(),
        });
        assert_eq!(
            e.description(),
            "Connection to multiple ports 81, 8081, 9000 of destination IP: 198.51.100.1."
        );
        let cn = Evidence {
            payload: Payload::IncompatibleCn {
                dst: IpAddr::from([198, 51, 100, 1]),
                claim: Box::new(("x.example".into(), "google")),
            },
            ..e.clone()
        };
        assert!(cn.description().ends_with("claiming to belong to Google."));
        // the payloads that keep their strings in one box name each in its place
        let text = |payload: Payload| {
            Evidence {
                payload,
                ..e.clone()
            }
            .description()
        };
        let dst = IpAddr::from([198, 51, 100, 1]);
        let two = |a: &str, b: &str| -> Box<[Box<str>; 2]> { Box::new([a.into(), b.into()]) };
        let three = |a: &str, b: &str, c: &str| -> Box<[Box<str>; 3]> {
            Box::new([a.into(), b.into(), c.into()])
        };
        for (payload, expected) in [
            (
                Payload::BlacklistedDestination {
                    dst,
                    feed: two("bad host", "feed.csv"),
                },
                "connection to blacklisted IP 198.51.100.1. Description: bad host. Source: feed.csv.",
            ),
            (
                Payload::BlacklistedDomain {
                    feed: three("evil.example", "bad domain", "feed.csv"),
                },
                "connection to a blacklisted domain evil.example. Description: bad domain, Found in feed: feed.csv.",
            ),
            (
                Payload::SuspiciousUserAgent {
                    request: three("curl/1", "h.example", "/x"),
                },
                "suspicious user-agent: curl/1 while connecting to h.example/x",
            ),
            (
                Payload::ExecutableDownload {
                    server: dst,
                    download: two("application/x-dosexec", "h.example/a.exe"),
                },
                "Download of an executable with MIME type: application/x-dosexec by 10.0.0.5 from 198.51.100.1: h.example/a.exe",
            ),
            (
                Payload::MaliciousJa3 {
                    dst,
                    ja3: two("abc", "bad tls"),
                },
                "Malicious JA3: abc from source address 10.0.0.5 to 198.51.100.1. description: bad tls.",
            ),
            (
                Payload::MaliciousJa3s {
                    dst,
                    ja3s: two("abc", "bad tls"),
                },
                "Malicious JA3s: (possible C&C server): abc to server 198.51.100.1. description: bad tls.",
            ),
            (
                Payload::IncompatibleCn {
                    dst,
                    claim: Box::new(("x.example".into(), "google")),
                },
                "Incompatible certificate CN to IP: 198.51.100.1 domain: x.example. The certificate is claiming to belong to Google.",
            ),
            (
                // the scans word the evidence's own confidence
                Payload::VerticalScan {
                    target: dst,
                    proto: Proto::Tcp,
                    ports: 9,
                    packets: 12,
                },
                "new vertical port scan to IP 198.51.100.1 from 10.0.0.5. Total 9 TCP ports were scanned. Total packets sent to all ports: 12. Confidence: 0.5. by Slips",
            ),
        ] {
            assert_eq!(text(payload), expected);
        }
    }

    #[test]
    fn parties_come_back_as_they_were_given_wherever_they_are_kept() {
        let me = IpAddr::from([10, 0, 0, 5]);
        let other = IpAddr::from([198, 51, 100, 1]);
        let domain = || Party::Domain("evil.example".into());
        for (attacker, victim) in [
            (Party::Ip(me), None),
            (Party::Ip(me), Some(Party::Ip(other))),
            (Party::Ip(me), Some(domain())),
            (Party::Ip(other), Some(Party::Ip(me))),
            (domain(), Some(Party::Ip(me))),
            (domain(), None),
            (Party::Ip(other), Some(domain())),
        ] {
            let e = Evidence::from(EvidenceParts {
                kind: EvidenceKind::UnknownPort,
                profile: me,
                window: 1,
                attacker: attacker.clone(),
                victim: victim.clone(),
                threat_level: ThreatLevel::Low,
                confidence: 1.0,
                payload: Payload::UnsolicitedArp,
                ts: 0.0,
                flows: Flows::none(),
            });
            assert_eq!(e.attacker(), attacker.as_ref());
            assert_eq!(e.profile_is_attacker(), attacker == Party::Ip(me));
            assert_eq!(e.victim(), victim.as_ref().map(Party::as_ref));
            assert_eq!(e.attacker().to_string(), attacker.to_string());
            // the common case (the profile accuses an address or no one) takes no box
            let common = attacker == Party::Ip(me) && !matches!(victim, Some(Party::Domain(_)));
            assert_eq!(e.rare.is_none(), common, "{attacker:?} {victim:?}");
        }
    }
}
