//! Saved analyses: `kalipso analyze PATH --save FILE` keeps what was read and how it was
//! analysed in one file, and `kalipso open FILE` gives the same UI, report and exports without
//! reading the input again.
//!
//! The file is an (uncompressed) tar archive of open formats, so other tools read it without
//! kalipso:
//! - `kalipso.json`, first: format name and version, the kalipso that made it, the settings
//!   (profiler, detections, threat intelligence, whitelist), the input summary, and the rows of
//!   each record table;
//! - `conn.parquet`, `dns.parquet`, `http.parquet`, `ssl.parquet`, `activity.parquet`: every
//!   record the analysis used (`records`);
//! - `evidence.parquet`, `alerts.parquet`: the detections (`findings`), for other tools.
//!
//! Opening reads the records and settings and runs the profiler and the detections again: they
//! are deterministic, so every output is byte-identical to the original run's. A file that is
//! not a saved analysis, is cut short, damaged, or written by a newer layout is a one-line
//! error, never a panic.

mod columns;
mod findings;
pub mod meta;
mod records;

use crate::Analysis;
use crate::export::file::OutputFile;
use crate::input::Input;
use crate::record::Batch;
use anyhow::{Context as _, bail};
use bytes::Bytes;
use meta::{FORMAT, Meta, Settings, VERSION};
use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::Path;

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
        },
        tables,
    })
}

/// Writes the saved analysis: header, record tables, then the detections' tables.
pub fn write(file: OutputFile, saved: &SavedRecords, analysis: &Analysis) -> anyhow::Result<()> {
    let t = std::time::Instant::now();
    let d = &analysis.detections;
    let findings = findings::encode(&analysis.store, &d.evidence, &d.alerts)?;
    if std::env::var_os("KALIPSO_TIMINGS").is_some() {
        eprintln!("timing: save detections {:?}", t.elapsed());
    }
    let header = serde_json::to_vec_pretty(&saved.meta)?;
    file.write_with(|w| {
        let mut tar = tar::Builder::new(w);
        let entries = std::iter::once((HEADER, header.as_slice()))
            .chain(saved.tables.iter().map(|(n, b)| (*n, b.as_slice())))
            .chain(findings.iter().map(|(n, b)| (*n, b.as_slice())));
        for (name, bytes) in entries {
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

/// An analysis read back: its settings and its records, ready to be profiled.
pub struct Opened {
    /// The settings it was made with.
    pub settings: Settings,
    /// The records and the input summary, as the input stage gave them.
    pub input: Input,
}

/// Reads a saved analysis.
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
    if std::env::var_os("KALIPSO_TIMINGS").is_some() {
        eprintln!("timing: open read {:?}", started.elapsed());
    }
    let batch = read_records(&meta, &mut tables).map_err(|e| damaged(path, &format!("{e:#}")))?;
    if std::env::var_os("KALIPSO_TIMINGS").is_some() {
        eprintln!(
            "timing: open decoded {:?} (peak {})",
            started.elapsed(),
            crate::analysis::peak_memory()
        );
    }
    let input = Input {
        batch,
        summary: meta.input.clone(),
    };
    Ok(Opened {
        settings: meta.settings,
        input,
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
        Some(v) if v == u64::from(VERSION) => {}
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
