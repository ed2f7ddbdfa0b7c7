//! Offline threat intelligence and whitelists.
//!
//! `--ti PATH` (a file or a directory of files) reads Slips' local TI formats —
//! `own_malicious_iocs.csv` (`ioc,threat_level,description[,tag]`: IPs, CIDR ranges, domains;
//! ASNs are skipped) and `own_malicious_JA3.csv` (`"hash","level","desc"`) — and plain lists with
//! one IP, range or domain per line, optionally followed by whitespace and a count (`IPsum`).
//! Unlike Slips, the first `IoC` line is not skipped (spec §10). `--whitelist PATH` reads Slips'
//! `whitelist.conf` lines `type,value,direction,what` (ip, domain; `alerts` or `both`).

use super::ThreatLevel;
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

/// One indicator's meaning.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Hit {
    /// Threat level from the feed.
    pub level: ThreatLevel,
    /// The feed's description.
    pub description: String,
    /// The file it came from.
    pub source: String,
}

/// Loaded threat intelligence. It is saved with an analysis (`--save`), maps in key order so the
/// file is the same on every run.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ThreatIntel {
    #[serde(serialize_with = "sorted")]
    ips: HashMap<IpAddr, Hit>,
    nets: Vec<(IpNet, Hit)>,
    #[serde(serialize_with = "sorted")]
    domains: HashMap<String, Hit>,
    #[serde(serialize_with = "sorted")]
    ja3: HashMap<String, Hit>,
    /// Problems met while loading (file and line).
    pub warnings: Vec<String>,
    /// Indicators loaded.
    pub loaded: usize,
}

/// A hash map in key order.
fn sorted<K: Ord + serde::Serialize, V: serde::Serialize, S: serde::Serializer>(
    map: &HashMap<K, V>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut entries: Vec<(&K, &V)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    s.collect_map(entries)
}

fn unquote(s: &str) -> &str {
    s.trim().trim_matches('"').trim()
}

fn is_hash(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl ThreatIntel {
    /// Reads every file behind `paths`.
    pub fn load(paths: &[std::path::PathBuf]) -> ThreatIntel {
        let mut ti = ThreatIntel::default();
        for p in paths {
            if p.is_dir() {
                let mut files: Vec<_> = std::fs::read_dir(p)
                    .map(|rd| rd.flatten().map(|e| e.path()).collect())
                    .unwrap_or_default();
                files.sort();
                for f in files.iter().filter(|f| f.is_file()) {
                    ti.load_file(f);
                }
            } else {
                ti.load_file(p);
            }
        }
        ti
    }

    fn load_file(&mut self, path: &Path) {
        let text = match std::fs::read(path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                self.warnings
                    .push(format!("{}: cannot read: {e}", path.display()));
                return;
            }
        };
        let source = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let fields: Vec<&str> = if line.contains(',') {
                line.split(',').map(unquote).collect()
            } else {
                line.split_whitespace().collect()
            };
            let Some(&ioc) = fields.first() else { continue };
            // feed lists (`URL, level, tags`) are not indicators
            if ioc.contains("://") {
                continue;
            }
            let level = fields
                .get(1)
                .and_then(|l| ThreatLevel::parse(l))
                .unwrap_or(ThreatLevel::Medium);
            let description = fields.get(2).map_or_else(String::new, |d| (*d).to_string());
            let hit = Hit {
                level,
                description,
                source: source.clone(),
            };
            let ioc_l = ioc.to_ascii_lowercase();
            if let Ok(ip) = ioc.parse::<IpAddr>() {
                self.ips.insert(ip, hit);
            } else if let Ok(net) = ioc.parse::<IpNet>() {
                self.nets.push((net, hit));
            } else if is_hash(&ioc_l) {
                self.ja3.insert(ioc_l, hit);
            } else if ioc_l.len() > 32 && ioc_l.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue; // JARM and other fingerprints need active probing: not used offline
            } else if ioc_l.starts_with("as") && ioc_l[2..].bytes().all(|b| b.is_ascii_digit()) {
                continue; // ASNs need an ASN database; not matched offline
            } else if ioc_l.contains('.') && !ioc_l.contains(' ') {
                self.domains
                    .insert(ioc_l.trim_end_matches('.').to_string(), hit);
            } else {
                self.warnings.push(format!(
                    "{}:{}: not an IP, range, domain or JA3 hash: {ioc}",
                    path.display(),
                    n + 1
                ));
                continue;
            }
            self.loaded += 1;
        }
    }

    /// Whether nothing was loaded.
    pub fn is_empty(&self) -> bool {
        self.loaded == 0
    }

    /// The entry for an IP (exact, else the first range containing it).
    pub fn ip(&self, ip: IpAddr) -> Option<&Hit> {
        self.ips.get(&ip).or_else(|| {
            self.nets
                .iter()
                .find(|(n, _)| n.contains(&ip))
                .map(|x| &x.1)
        })
    }

    /// The entry for a domain or one of its parents, and whether it was a parent (Slips gives
    /// a parent-domain hit confidence 0.7).
    pub fn domain(&self, name: &str) -> Option<(&Hit, bool)> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let mut d = name.as_str();
        let mut parent = false;
        loop {
            if let Some(h) = self.domains.get(d) {
                return Some((h, parent));
            }
            let (_, rest) = d.split_once('.')?;
            if !rest.contains('.') {
                return None;
            }
            d = rest;
            parent = true;
        }
    }

    /// The entry for a JA3 or JA3S hash.
    pub fn ja3(&self, hash: &str) -> Option<&Hit> {
        self.ja3.get(&hash.to_ascii_lowercase())
    }
}

/// IPs and domains whose evidence is dropped.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Whitelist {
    ips: Vec<IpNet>,
    domains: Vec<String>,
    /// Entries loaded.
    pub loaded: usize,
}

impl Whitelist {
    /// Reads Slips-format whitelist files (`ip|domain,value,direction,alerts|flows|both`).
    pub fn load(paths: &[std::path::PathBuf]) -> std::io::Result<Whitelist> {
        let mut w = Whitelist::default();
        for p in paths {
            let text = std::fs::read_to_string(p)?;
            for line in text.lines() {
                let line = line.trim();
                if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
                    continue;
                }
                let f: Vec<&str> = line.split(',').map(unquote).collect();
                let (Some(kind), Some(value)) = (f.first(), f.get(1)) else {
                    continue;
                };
                let what = f.get(3).copied().unwrap_or("both");
                if !(what.contains("alerts") || what.contains("both")) {
                    continue;
                }
                match kind.to_ascii_lowercase().as_str() {
                    "ip" => {
                        if let Ok(n) = value
                            .parse::<IpNet>()
                            .or_else(|_| value.parse::<IpAddr>().map(IpNet::from))
                        {
                            w.ips.push(n);
                            w.loaded += 1;
                        }
                    }
                    "domain" => {
                        w.domains.push(value.to_ascii_lowercase());
                        w.loaded += 1;
                    }
                    _ => {}
                }
            }
        }
        Ok(w)
    }

    /// Whether an evidence party is whitelisted.
    pub fn matches_party(&self, party: &super::Party) -> bool {
        match party {
            super::Party::Ip(ip) => self.ips.iter().any(|n| n.contains(ip)),
            super::Party::Domain(d) => self.matches(d),
        }
    }

    /// Whether a value (an IP or a domain, or a domain's subdomain) is whitelisted.
    pub fn matches(&self, value: &str) -> bool {
        if let Ok(ip) = value.parse::<IpAddr>() {
            return self.ips.iter().any(|n| n.contains(&ip));
        }
        let v = value.to_ascii_lowercase();
        self.domains
            .iter()
            .any(|d| v == *d || v.ends_with(&format!(".{d}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slips_csv_plain_lists_and_whitelists() {
        let dir = std::env::temp_dir().join(format!("kalipso-ti-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let iocs = dir.join("own_malicious_iocs.csv");
        let _ = std::fs::write(
            &iocs,
            "# comment\n23.253.126.58,high,Simda CC\nbad.example, critical, Zusy\n10.9.0.0/16,low,range\nAS1234,high,asn\n\"6734f37431670b3ab4292b8f60f29984\", \"high\", \"Trickbot\"\n",
        );
        let plain = dir.join("ipsum.txt");
        let _ = std::fs::write(&plain, "# IPsum\n77.90.185.20\t10\n");
        let ti = ThreatIntel::load(&[iocs, plain]);
        assert_eq!(
            ti.loaded, 5,
            "the first `IoC` line is kept (Slips skips it)"
        );
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(
            ti.ip(ip("23.253.126.58")).map(|h| h.level),
            Some(ThreatLevel::High)
        );
        assert_eq!(
            ti.ip(ip("10.9.3.4")).map(|h| h.level),
            Some(ThreatLevel::Low)
        );
        assert_eq!(
            ti.ip(ip("77.90.185.20")).map(|h| h.level),
            Some(ThreatLevel::Medium)
        );
        assert!(ti.ip(ip("8.8.8.8")).is_none());
        assert_eq!(ti.domain("bad.example").map(|h| h.1), Some(false));
        assert_eq!(ti.domain("www.bad.example").map(|h| h.1), Some(true));
        assert!(ti.domain("example").is_none());
        assert_eq!(
            ti.ja3("6734F37431670B3AB4292B8F60F29984")
                .map(|h| h.description.as_str()),
            Some("Trickbot")
        );
        let wl = dir.join("whitelist.conf");
        let _ = std::fs::write(
            &wl,
            "; comment\nip,8.8.8.8,both,alerts\ndomain,google.com,both,both\nip,1.1.1.1,both,flows\n",
        );
        let w = Whitelist::load(&[wl]).unwrap_or_default();
        assert!(w.matches("8.8.8.8"));
        assert!(w.matches("mail.google.com"));
        assert!(
            !w.matches("1.1.1.1"),
            "flows-only entries do not hide evidence"
        );
        assert!(!w.matches("notgoogle.com"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
