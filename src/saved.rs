//! Saved analyses: `kalipso analyze PATH --save FILE` keeps what was read and how it was
//! analysed in one file, and `kalipso open FILE` gives the same UI, report and exports without
//! reading the input again.
//!
//! The file is an (uncompressed) tar archive of open formats, so other tools read it without
//! kalipso:
//! - `kalipso.json`, first: format name and version, the kalipso that made it, the settings
//!   (profiler, detections, threat intelligence, whitelist), the input summary, the rows of
//!   each record table, and a CRC-32 of every other member;
//! - `conn.parquet`, `dns.parquet`, `http.parquet`, `ssl.parquet`, `activity.parquet`: every
//!   record the analysis used (`records`);
//! - `evidence.parquet`, `alerts.parquet`: the detections (`findings`), for other tools;
//! - `views.json`: the text report and the UI's landing overview ([`views`]).
//!
//! Opening reads the whole archive and checks it, then shows the saved views when they are
//! what is asked for; otherwise (and behind the UI's landing overview) it decodes the records
//! and runs the profiler and the detections again: they are deterministic, so every output is
//! byte-identical to the original run's. A file that is not a saved analysis, is cut short,
//! damaged, or written by a newer layout is a one-line error, never a panic.

mod columns;
mod findings;
pub mod meta;
mod records;
pub mod views;

use crate::Analysis;
use crate::export::file::OutputFile;
use crate::input::Input;
use crate::input::InputSummary;
use crate::record::Batch;
use anyhow::{Context as _, bail};
use bytes::Bytes;
use meta::{FORMAT, Meta, Settings, VERSION};
use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::Path;
use views::Views;

/// The header's name in the archive.
const HEADER: &str = "kalipso.json";

/// The record tables of an analysis, encoded while the records are at hand (the profiler
/// consumes them), and its header.
pub struct SavedRecords {
    meta: Meta,
    tables: Vec<(&'static str, Vec<u8>)>,
}

/// Encodes the records of `input` and the settings they are analysed with.
pub fn encode_records(input: &Input, settings: Settings) -> anyhow::Result<SavedRecords> {
    let t = std::time::Instant::now();
    let tables = records::encode(&input.batch)?;
    if std::env::var_os("KALIPSO_TIMINGS").is_some() {
        let bytes: usize = tables.iter().map(|(_, b)| b.len()).sum();
        eprintln!("timing: save records {:?} ({bytes} bytes)", t.elapsed());
    }
    let b = &input.batch;
    let rows = [
        ("conn", b.conns.len()),
        ("dns", b.dns.len()),
        ("http", b.http.len()),
        ("ssl", b.ssl.len()),
        ("activity", b.activity.len()),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n as u64))
    .collect();
    let mut local_hosts: Vec<_> = b.local_hosts.iter().copied().collect();
    local_hosts.sort_unstable();
    Ok(SavedRecords {
        meta: Meta {
            format: FORMAT.to_string(),
            version: VERSION,
            made_by: env!("CARGO_PKG_VERSION").to_string(),
            settings,
            input: input.summary.clone(),
            local_hosts,
            rows,
            // summed when the file is written, with the other members
            checksums: BTreeMap::new(),
        },
        tables,
    })
}

/// Writes the saved analysis: header, record tables, the detections' tables, then the first
/// views.
pub fn write(
    file: OutputFile,
    saved: &SavedRecords,
    analysis: &Analysis,
    views: &Views,
) -> anyhow::Result<()> {
    let t = std::time::Instant::now();
    let d = &analysis.detections;
    let findings = findings::encode(&d.evidence, &d.alerts)?;
    if std::env::var_os("KALIPSO_TIMINGS").is_some() {
        eprintln!("timing: save detections {:?}", t.elapsed());
    }
    let views = serde_json::to_vec(views)?;
    let members: Vec<(&str, &[u8])> = saved
        .tables
        .iter()
        .map(|(n, b)| (*n, b.as_slice()))
        .chain(findings.iter().map(|(n, b)| (*n, b.as_slice())))
        .chain(std::iter::once((views::NAME, views.as_slice())))
        .collect();
    let checksums: BTreeMap<String, u32> = members
        .iter()
        .map(|(n, b)| (n.to_string(), crc32fast::hash(b)))
        .collect();
    let header = serde_json::to_vec_pretty(&Meta {
        checksums,
        ..saved.meta.clone()
    })?;
    file.write_with(|w| {
        let mut tar = tar::Builder::new(w);
        for (name, bytes) in std::iter::once((HEADER, header.as_slice())).chain(members) {
            let mut h = tar::Header::new_ustar();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            // no time: the same analysis gives the same file
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut h, name, bytes)?;
        }
        tar.into_inner()?.flush()
    })
}

/// An analysis read back: its settings, what was read, the views it shows first, and its
/// records (decoded by [`Opened::input`], which takes most of the time of opening).
pub struct Opened {
    /// The settings it was made with.
    pub settings: Settings,
    /// What was read, as the input stage summed it up.
    pub summary: InputSummary,
    /// The report and landing screen saved with it, if any.
    pub views: Option<Views>,
    records: Records,
}

/// An opened analysis's records: decoded already, or still the saved tables.
enum Records {
    Decoded(Box<Batch>),
    Saved {
        path: std::path::PathBuf,
        meta: Box<Meta>,
        tables: BTreeMap<String, Bytes>,
    },
}

impl Opened {
    /// An analysis whose records are at hand (read from elsewhere than a saved file).
    pub fn of_input(settings: Settings, input: Input) -> Opened {
        Opened {
            settings,
            summary: input.summary,
            views: None,
            records: Records::Decoded(Box::new(input.batch)),
        }
    }

    /// The records, decoded (each table on its own cores), with the input summary.
    pub fn input(self) -> anyhow::Result<Input> {
        let batch = match self.records {
            Records::Decoded(b) => *b,
            Records::Saved {
                path,
                meta,
                mut tables,
            } => {
                let started = std::time::Instant::now();
                let batch = read_records(&meta, &mut tables)
                    .map_err(|e| damaged(&path, &format!("{e:#}")))?;
                if std::env::var_os("KALIPSO_TIMINGS").is_some() {
                    eprintln!(
                        "timing: open decoded {:?} (peak {})",
                        started.elapsed(),
                        crate::analysis::peak_memory()
                    );
                }
                batch
            }
        };
        Ok(Input {
            batch,
            summary: self.summary,
        })
    }
}

/// Reads a saved analysis: the whole archive, checked against the header's checksums, with
/// the header and views parsed; the record tables stay encoded until [`Opened::input`].
pub fn open(path: &Path) -> anyhow::Result<Opened> {
    let started = std::time::Instant::now();
    let shown = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("cannot open '{shown}'"))?;
    let size = file.metadata().map_or(0, |m| m.len());
    let not_saved =
        |why: String| anyhow::anyhow!("'{shown}' is not a saved kalipso analysis: {why}");
    let mut archive = tar::Archive::new(std::io::BufReader::new(file));
    let entries = archive.entries().map_err(|e| not_saved(e.to_string()))?;
    let mut meta: Option<Meta> = None;
    let mut tables: BTreeMap<String, Bytes> = BTreeMap::new();
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            // not even one archive entry: some other kind of file (its bytes are not worth
            // quoting)
            Err(_) if meta.is_none() => {
                return Err(not_saved(format!("it does not start with {HEADER}")));
            }
            Err(e) => return Err(damaged(path, &e.to_string())),
        };
        let name = entry
            .path()
            .map_err(|e| damaged(path, &e.to_string()))?
            .to_string_lossy()
            .into_owned();
        // the size in a damaged header may be anything: never reserve more than the file
        let mut bytes = Vec::with_capacity(entry.size().min(size) as usize);
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| damaged(path, &format!("{name}: {e}")))?;
        if meta.is_none() {
            if name != HEADER {
                return Err(not_saved(format!("it does not start with {HEADER}")));
            }
            meta = Some(read_header(path, &bytes)?);
        } else {
            tables.insert(name, Bytes::from(bytes));
        }
    }
    let Some(meta) = meta else {
        return Err(not_saved("it is empty".to_string()));
    };
    check_members(&meta, &tables).map_err(|why| damaged(path, &why))?;
    let views = match tables.remove(views::NAME) {
        Some(bytes) => Some(
            serde_json::from_slice::<Views>(&bytes)
                .map_err(|e| damaged(path, &format!("{}: {e}", views::NAME)))?,
        ),
        None => None,
    };
    if std::env::var_os("KALIPSO_TIMINGS").is_some() {
        eprintln!("timing: open read {:?}", started.elapsed());
    }
    Ok(Opened {
        settings: meta.settings.clone(),
        summary: meta.input.clone(),
        views,
        records: Records::Saved {
            path: path.to_path_buf(),
            meta: Box::new(meta),
            tables,
        },
    })
}

/// Checks every member the header has a checksum for, the members on every core (CRC-32 runs
/// at several GB/s: the 273 MB of a 5 M-line analysis take tens of milliseconds).
fn check_members(meta: &Meta, tables: &BTreeMap<String, Bytes>) -> Result<(), String> {
    use rayon::prelude::*;
    meta.checksums.par_iter().try_for_each(|(name, want)| {
        let Some(bytes) = tables.get(name) else {
            return Err(format!("{name} is missing"));
        };
        if crc32fast::hash(bytes) == *want {
            Ok(())
        } else {
            Err(format!("{name} does not match its checksum"))
        }
    })
}

fn damaged(path: &Path, why: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "'{}' is damaged or cut short: {}",
        path.display(),
        crate::text::clean(why)
    )
}

/// Checks the format name and version before reading the rest, so a newer layout is named as
/// such rather than as a parse error.
fn read_header(path: &Path, bytes: &[u8]) -> anyhow::Result<Meta> {
    let shown = path.display();
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| damaged(path, &format!("{HEADER}: {e}")))?;
    if value.get("format").and_then(serde_json::Value::as_str) != Some(FORMAT) {
        bail!("'{shown}' is not a saved kalipso analysis: {HEADER} does not name the format");
    }
    let version = value.get("version").and_then(serde_json::Value::as_u64);
    let made_by = value
        .get("made_by")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("an unknown version");
    match version {
        Some(v) if (1..=u64::from(VERSION)).contains(&v) => {}
        Some(v) if v > u64::from(VERSION) => bail!(
            "'{shown}' was saved by kalipso {} in layout {v}; this kalipso ({}) reads layout {VERSION}: open it with a newer kalipso",
            crate::text::clean(made_by),
            env!("CARGO_PKG_VERSION")
        ),
        _ => bail!(
            "'{shown}' has layout {}, which this kalipso ({}) does not read",
            version.map_or_else(|| "?".to_string(), |v| v.to_string()),
            env!("CARGO_PKG_VERSION")
        ),
    }
    serde_json::from_value(value).map_err(|e| damaged(path, &format!("{HEADER}: {e}")))
}

/// Decodes the record tables (each on its own cores) and checks their rows against the header.
fn read_records(meta: &Meta, tables: &mut BTreeMap<String, Bytes>) -> anyhow::Result<Batch> {
    let mut take = |name: &str| -> anyhow::Result<Bytes> {
        tables
            .remove(&format!("{name}.parquet"))
            .with_context(|| format!("the table {name} is missing"))
    };
    let (conn, dns, http, ssl, activity) = (
        take("conn")?,
        take("dns")?,
        take("http")?,
        take("ssl")?,
        take("activity")?,
    );
    let ((conns, dns), (http, (ssl, activity))) = rayon::join(
        || {
            rayon::join(
                || columns::read("conn", &conn, records::conns),
                || columns::read("dns", &dns, records::dns),
            )
        },
        || {
            rayon::join(
                || columns::read("http", &http, records::http),
                || {
                    rayon::join(
                        || columns::read("ssl", &ssl, records::ssl),
                        || columns::read("activity", &activity, records::activity),
                    )
                },
            )
        },
    );
    let batch = Batch {
        conns: conns?,
        dns: dns?,
        http: http?,
        ssl: ssl?,
        activity: activity?,
        local_hosts: meta.local_hosts.iter().copied().collect(),
        ..Batch::default()
    };
    for (name, got) in [
        ("conn", batch.conns.len()),
        ("dns", batch.dns.len()),
        ("http", batch.http.len()),
        ("ssl", batch.ssl.len()),
        ("activity", batch.activity.len()),
    ] {
        let want = meta.rows.get(name).copied().unwrap_or(0);
        columns::Columns::expect_rows(name, got, want)?;
    }
    Ok(batch)
}
