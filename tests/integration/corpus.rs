//! The one way tests find the shared corpus: `KALIPSO_CORPUS`, default `../shared/testdata`.
//! When it is absent the tests that need it say so once and skip; `.ci/run` sets the variable
//! and fails before testing if the folder is missing.

use std::path::PathBuf;
use std::sync::Once;

static WARN: Once = Once::new();

/// The corpus root, or `None` (after one notice) when it is not there.
pub fn root() -> Option<PathBuf> {
    let dir = std::env::var_os("KALIPSO_CORPUS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata"),
        PathBuf::from,
    );
    if dir.is_dir() {
        Some(dir)
    } else {
        WARN.call_once(|| {
            eprintln!(
                "note: corpus '{}' not found (set KALIPSO_CORPUS); skipping corpus tests",
                dir.display()
            );
        });
        None
    }
}

/// A path inside the corpus, or `None` when the corpus is absent.
pub fn path(rel: &str) -> Option<PathBuf> {
    root().map(|r| r.join(rel))
}

/// A Zeek btest baseline's rows (timestamps are masked, so it is read as text).
pub fn baseline_at(rel: &str) -> Vec<Vec<String>> {
    let Some(path) = path(rel) else {
        return Vec::new();
    };
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            l.split('\t')
                .map(|f| {
                    if f == "-" || f == "(empty)" {
                        String::new()
                    } else {
                        f.to_string()
                    }
                })
                .collect()
        })
        .collect()
}

/// The dns.log columns compared with Zeek's: endpoints, query, class, type, rcode and
/// answers (comma-joined).
pub fn dns_columns(d: &kalipso::record::Dns) -> Vec<String> {
    vec![
        d.id.orig_h.to_string(),
        d.id.orig_p.to_string(),
        d.id.resp_h.to_string(),
        d.id.resp_p.to_string(),
        d.query.clone(),
        d.qclass_name.to_string(),
        d.qtype_name.to_string(),
        d.rcode_name.to_string(),
        d.answers.join(","),
    ]
}

/// The same columns of a Zeek dns.log baseline (2-5 endpoints, 9 query, 11 `qclass_name`,
/// 13 `qtype_name`, 15 `rcode_name`, 21 answers).
pub fn zeek_dns_columns(rel: &str) -> Vec<Vec<String>> {
    baseline_at(rel)
        .iter()
        .map(|r| {
            [2, 3, 4, 5, 9, 11, 13, 15, 21]
                .map(|i| r[i].clone())
                .to_vec()
        })
        .collect()
}
