//! The header of a saved analysis (`kalipso.json`): which format and version, the kalipso that
//! made it, the settings, what was read, and how many rows each table holds.
//!
//! The input summary is kept field by field (the report's JSON gives its errors as messages
//! only), so an opened analysis reports its input exactly as the original run did.

use crate::detect::ti::{ThreatIntel, Whitelist};
use crate::flow::Timeouts;
use crate::input::{CaptureStats, FileReport, InputError, InputSummary};
use crate::profile::ProfileConfig;
use crate::record::LogKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The name in every header: a file without it is not a saved analysis.
pub const FORMAT: &str = "kalipso-analysis";
/// The layout version this kalipso writes. A change that an older reader would misread gets
/// a new number. Layout 2 dropped the conn table's IP byte counts (a layout-1 reader asks for
/// them); this kalipso reads layouts 1 and 2.
pub const VERSION: u32 = 2;

/// The header.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    /// Always [`FORMAT`].
    pub format: String,
    /// The layout version.
    pub version: u32,
    /// The kalipso version that made the file.
    pub made_by: String,
    /// The analysis settings.
    pub settings: Settings,
    /// What was read.
    #[serde(with = "SummaryDef")]
    pub input: InputSummary,
    /// Addresses Zeek's conn.log marked local (they join the home network when `--home-net`
    /// was not given).
    pub local_hosts: Vec<IpAddr>,
    /// Rows of each table, to tell a cut file from a whole one.
    pub rows: BTreeMap<String, u64>,
    /// The CRC-32 of every other member of the archive, so a damaged byte anywhere is found
    /// when the file is opened, before anything is shown from it (absent in the first files
    /// of layout 1: nothing is checked then).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checksums: BTreeMap<String, u32>,
}

/// What the analysis was asked to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// Profiler settings.
    pub profile: ProfileConfig,
    /// Flow timeouts the capture was assembled with (informational once records exist).
    pub timeouts: Timeouts,
    /// Alert threshold per minute of window width.
    pub alert_threshold: f64,
    /// Whether kalipso's attack evidence alerts on its own.
    pub attack_alerts: bool,
    /// The threat intelligence that was loaded.
    pub ti: ThreatIntel,
    /// The whitelist that was loaded.
    pub whitelist: Whitelist,
}

/// [`InputSummary`] as the header keeps it.
#[derive(Serialize, Deserialize)]
#[serde(remote = "InputSummary")]
struct SummaryDef {
    #[serde(with = "files")]
    files: Vec<FileReport>,
    records: BTreeMap<String, u64>,
    skipped: u64,
    failed_files: u64,
    cut_files: u64,
    span: Option<(f64, f64)>,
}

/// [`FileReport`] as the header keeps it: errors with their file, position and problem.
#[derive(Serialize, Deserialize)]
#[serde(remote = "FileReport")]
struct FileDef {
    path: String,
    kind: LogKind,
    zeek_path: Option<String>,
    json: bool,
    data_lines: u64,
    records: u64,
    skipped: u64,
    examples: Vec<InputError>,
    error: Option<InputError>,
    assumed_columns: bool,
    capture: Option<CaptureStats>,
}

/// A list of [`FileReport`]s through [`FileDef`].
mod files {
    use super::{FileDef, FileReport};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Wrap(#[serde(with = "FileDef")] FileReport);

    struct WrapRef<'a>(&'a FileReport);

    impl Serialize for WrapRef<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            FileDef::serialize(self.0, s)
        }
    }

    pub fn serialize<S: Serializer>(v: &[FileReport], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(WrapRef))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<FileReport>, D::Error> {
        Ok(Vec::<Wrap>::deserialize(d)?
            .into_iter()
            .map(|w| w.0)
            .collect())
    }
}
