//! "Never worse": every capture and log of the shared corpus, and a cut and a byte-flipped copy
//! of each, run through the real binary. For every run: no panic, exit code 0 or 2, every data
//! line or packet read or counted as skipped, and peak memory within a bound. For the unharmed
//! files the count is also checked against the file itself, counted here independently.
// See: #10

use super::corpus;
use super::inputs::data_lines;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The names kalipso reads as captures or logs.
fn is_input(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    [
        ".log", ".log.gz", ".labeled", ".pcap", ".pcapng", ".pcap.gz", ".trace",
    ]
    .iter()
    .any(|end| name.ends_with(end))
}

fn inputs_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            inputs_under(&p, out);
        } else if is_input(&p) {
            out.push(p);
        }
    }
}

fn unzipped(raw: Vec<u8>) -> Vec<u8> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        let _ = flate2::read::MultiGzDecoder::new(raw.as_slice()).read_to_end(&mut out);
        out
    } else {
        raw
    }
}

/// Packets in a whole capture, by walking its framing (not with the reader under test).
/// `None` when the bytes are not a capture.
fn packets_in(bytes: &[u8]) -> Option<u64> {
    let u32_at = |at: usize, big: bool| -> Option<u32> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let magic = bytes.get(..4)?;
    let mut count = 0;
    if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
        // pcapng: blocks of (type, length, body, length); the section header gives the order
        let big = bytes.get(8..12)? == [0x1a, 0x2b, 0x3c, 0x4d];
        let mut at = 0;
        while at + 12 <= bytes.len() {
            if bytes[at..at + 4] == [0x0a, 0x0d, 0x0d, 0x0a] {
                // each section may change the byte order
                let section_big = bytes.get(at + 8..at + 12)? == [0x1a, 0x2b, 0x3c, 0x4d];
                let len = u32_at(at + 4, section_big)? as usize;
                at += len.max(12);
                continue;
            }
            let kind = u32_at(at, big)?;
            let len = u32_at(at + 4, big)? as usize;
            if matches!(kind, 2 | 3 | 6) {
                count += 1;
            }
            at += len.max(12);
        }
        return Some(count);
    }
    let big = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => false,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => true,
        _ => return None,
    };
    let mut at = 24;
    while at + 16 <= bytes.len() {
        at += 16 + u32_at(at + 8, big)? as usize;
        count += 1;
    }
    Some(count)
}

/// What one run of the binary gave.
struct Run {
    exit: Option<i32>,
    stderr: String,
    /// (path, data lines or packets, records, skipped, error) per file.
    files: Vec<(String, u64, u64, u64, bool)>,
    peak_kb: u64,
}

fn run(input: &Path, json: &Path) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_kalipso"))
        .args(["analyze", "--no-ui", "--threads", "1", "--json"])
        .arg(json)
        .arg(input)
        .env("KALIPSO_TIMINGS", "1")
        .output()
        .unwrap_or_else(|e| panic!("run kalipso: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // "timing: … (peak N kB)": the highest of the phases
    let peak_kb = stderr
        .split("(peak ")
        .skip(1)
        .filter_map(|s| s.split(' ').next()?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    let report: serde_json::Value = std::fs::read(json)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    let files = report["input"]["files"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .map(|f| {
                    (
                        f["path"].as_str().unwrap_or_default().to_string(),
                        f["data_lines"].as_u64().unwrap_or(u64::MAX),
                        f["records"].as_u64().unwrap_or(0),
                        f["skipped"].as_u64().unwrap_or(0),
                        !f["error"].is_null(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Run {
        exit: out.status.code(),
        stderr,
        files,
        peak_kb,
    }
}

/// The harmed copies of one file: cut at 3/7 of its length, and eight bytes flipped.
fn harmed(bytes: &[u8]) -> [Vec<u8>; 2] {
    let cut = bytes[..bytes.len() * 3 / 7].to_vec();
    let mut flipped = bytes.to_vec();
    let n = flipped.len().max(1);
    for k in 1..=8u64 {
        // spread over the file, header included
        let at = ((k * k * 7919) as usize) % n;
        if let Some(b) = flipped.get_mut(at) {
            *b ^= 0x5a;
        }
    }
    [cut, flipped]
}

/// Peak memory allowed for an input of `size` bytes: the process's own base, and a generous
/// multiple of the input (real runs are far below it; a leak per skipped item is not).
fn memory_bound_kb(size: usize) -> u64 {
    96 * 1024 + (size as u64 * 40) / 1024
}

#[test]
fn r10_no_corpus_input_or_harmed_copy_makes_kalipso_worse() {
    let Some(root) = corpus::root() else { return };
    let mut inputs = Vec::new();
    inputs_under(&root, &mut inputs);
    assert!(inputs.len() > 100, "corpus inputs: {}", inputs.len());
    let scratch = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));

    // (what ran, the input, the independent count when the file is unharmed)
    let mut jobs: Vec<(String, PathBuf, Option<u64>, usize)> = Vec::new();
    for (i, path) in inputs.iter().enumerate() {
        let raw = std::fs::read(path).unwrap_or_default();
        let plain = unzipped(raw.clone());
        let expected = packets_in(&plain).or_else(|| Some(data_lines(path)));
        jobs.push((
            path.display().to_string(),
            path.clone(),
            expected,
            raw.len(),
        ));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (k, copy) in harmed(&raw).into_iter().enumerate() {
            let what = if k == 0 { "cut" } else { "flipped" };
            let dir = scratch.path().join(format!("{i}-{what}"));
            std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
            let harmed_path = dir.join(&name);
            std::fs::write(&harmed_path, &copy).unwrap_or_else(|e| panic!("{e}"));
            jobs.push((
                format!("{} ({what})", path.display()),
                harmed_path,
                None,
                raw.len(),
            ));
        }
    }

    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::<String>::new());
    std::thread::scope(|s| {
        for worker in 0..4 {
            let (jobs, next, failures, scratch) = (&jobs, &next, &failures, scratch.path());
            s.spawn(move || {
                loop {
                    let j = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((what, path, expected, size)) = jobs.get(j) else {
                        break;
                    };
                    let json = scratch.join(format!("report-{worker}.json"));
                    let r = run(path, &json);
                    let mut wrong = Vec::new();
                    if !matches!(r.exit, Some(0 | 2)) {
                        wrong.push(format!("exit {:?}: {}", r.exit, r.stderr));
                    }
                    if r.stderr.contains("panicked") {
                        wrong.push(format!("panic: {}", r.stderr));
                    }
                    if r.files.is_empty() {
                        wrong.push("no report".to_string());
                    }
                    for (file, lines, records, skipped, failed) in &r.files {
                        if records + skipped != *lines {
                            wrong.push(format!(
                                "{file}: {records} read + {skipped} skipped != {lines}"
                            ));
                        }
                        if let Some(n) = expected.filter(|_| !failed) {
                            if *lines != n {
                                wrong.push(format!("{file}: {lines} counted, the file has {n}"));
                            }
                        }
                    }
                    if r.peak_kb == 0 || r.peak_kb > memory_bound_kb(*size) {
                        wrong.push(format!("peak {} kB", r.peak_kb));
                    }
                    if !wrong.is_empty() {
                        let mut f = failures
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        f.push(format!("{what}: {}", wrong.join("; ")));
                    }
                }
            });
        }
    });
    let failures = failures
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    assert!(
        failures.is_empty(),
        "{} of {} runs worse:\n{}",
        failures.len(),
        jobs.len(),
        failures.join("\n")
    );
}
