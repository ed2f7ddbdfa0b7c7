//! GeoIP and ASN enrichment from MaxMind-format databases (City, Country, ASN), given with
//! `--geoip FILE`, `KALIPSO_GEOIP` (paths separated by `:`) or found in the usual places.
//! Without a database that knows the country, the country comes from the Regional Internet
//! Registries' delegation data embedded in the binary (the `iptocc` crate): the country an
//! address block is registered in. Private and reserved addresses are named as such and never
//! looked up.

use maxminddb::{Reader, geoip2};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// What is known of an IP.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Place {
    /// ISO country code, or `private` / `reserved`.
    pub country: String,
    /// City name.
    pub city: String,
    /// `AS<number> <organisation>`.
    pub asn: String,
    /// Latitude, longitude.
    pub coords: Option<(f64, f64)>,
    /// True when `coords` is the country's capital or centre, not the address's own location.
    pub approximate: bool,
}

/// The open databases.
#[derive(Default)]
pub struct Geo {
    city: Vec<Reader<Vec<u8>>>,
    asn: Vec<Reader<Vec<u8>>>,
    /// One line per database that could not be used.
    pub warnings: Vec<String>,
    /// The databases in use.
    pub loaded: Vec<String>,
}

impl std::fmt::Debug for Geo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Geo")
            .field("loaded", &self.loaded)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

/// Where GeoIP databases usually live.
const USUAL: &[&str] = &[
    "/usr/share/GeoIP",
    "/var/lib/GeoIP",
    "/usr/local/share/GeoIP",
];

/// Where to put a country on the map when only its code is known: its capital, else the mean
/// of its outline (country data embedded through the `world-data` crate, loaded on first use).
pub fn country_point(code: &str) -> Option<(f64, f64)> {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static POINTS: OnceLock<HashMap<String, (f64, f64)>> = OnceLock::new();
    let points = POINTS.get_or_init(|| {
        let data = world_data::load();
        data.countries
            .values()
            .filter_map(|c| {
                let capital = c
                    .capitals
                    .first()
                    .and_then(|name| data.capitals.get(name))
                    .map(|cap| (f64::from(cap.coordinates.y), f64::from(cap.coordinates.x)));
                let outline = || {
                    let pts: Vec<(f64, f64)> = c
                        .polygons
                        .iter()
                        .flat_map(|p| p.exterior().coords())
                        .map(|p| (f64::from(p.y), f64::from(p.x)))
                        .collect();
                    (!pts.is_empty()).then(|| {
                        let n = pts.len() as f64;
                        (
                            pts.iter().map(|p| p.0).sum::<f64>() / n,
                            pts.iter().map(|p| p.1).sum::<f64>() / n,
                        )
                    })
                };
                capital
                    .or_else(outline)
                    .map(|pt| (c.iso_a2.to_ascii_uppercase(), pt))
            })
            .collect()
    });
    points.get(&code.to_ascii_uppercase()).copied()
}

impl Geo {
    /// Opens the databases named, else those in `KALIPSO_GEOIP`, else those in the usual
    /// places. A database that cannot be read is a warning.
    pub fn open(explicit: &[PathBuf]) -> Geo {
        let mut paths: Vec<PathBuf> = explicit.to_vec();
        if paths.is_empty() {
            if let Some(v) = std::env::var_os("KALIPSO_GEOIP") {
                paths.extend(std::env::split_paths(&v));
            }
        }
        if paths.is_empty() {
            for dir in USUAL {
                if let Ok(rd) = std::fs::read_dir(dir) {
                    let mut found: Vec<PathBuf> = rd
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|e| e == "mmdb"))
                        .collect();
                    found.sort();
                    paths.extend(found);
                }
            }
        }
        let mut geo = Geo::default();
        for p in &paths {
            geo.add(p);
        }
        geo
    }

    fn add(&mut self, path: &Path) {
        match Reader::open_readfile(path) {
            Ok(r) => {
                let kind = r.metadata().database_type.clone();
                self.loaded.push(format!("{} ({kind})", path.display()));
                if kind.contains("ASN") {
                    self.asn.push(r);
                } else {
                    self.city.push(r);
                }
            }
            Err(e) => self.warnings.push(format!(
                "{}: not a usable GeoIP database ({e}); continuing without it",
                path.display()
            )),
        }
    }

    /// Whether any database is open.
    pub fn is_empty(&self) -> bool {
        self.city.is_empty() && self.asn.is_empty()
    }

    /// What the databases know of `ip`.
    pub fn place(&self, ip: IpAddr) -> Place {
        if let Some(kind) = crate::record::special_address(ip) {
            return Place {
                country: kind.into(),
                ..Place::default()
            };
        }
        let mut out = Place::default();
        for r in &self.city {
            let Ok(found) = r.lookup(ip) else { continue };
            // a City database answers with the Country fields too
            let Ok(Some(c)) = found.decode::<geoip2::City>() else {
                continue;
            };
            if out.country.is_empty() {
                out.country = c.country.iso_code.unwrap_or_default().to_string();
            }
            if out.city.is_empty() {
                out.city = c.city.names.english.unwrap_or_default().to_string();
            }
            if out.coords.is_none() {
                out.coords = c.location.latitude.zip(c.location.longitude);
            }
        }
        if out.country.is_empty() {
            if let Some(cc) = iptocc::country_code(ip) {
                cc.clone_into(&mut out.country);
            }
        }
        if out.coords.is_none() && !out.country.is_empty() {
            out.coords = country_point(&out.country);
            out.approximate = out.coords.is_some();
        }
        for r in &self.asn {
            let Ok(found) = r.lookup(ip) else { continue };
            if let Ok(Some(a)) = found.decode::<geoip2::Asn>() {
                if let Some(n) = a.autonomous_system_number {
                    out.asn = format!(
                        "AS{n} {}",
                        a.autonomous_system_organization.unwrap_or_default()
                    )
                    .trim_end()
                    .to_string();
                    break;
                }
            }
        }
        out
    }
}
