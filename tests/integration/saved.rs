//! Saved analyses: `analyze --save FILE` then `open FILE` writes byte for byte what the
//! original run wrote (report, `--json`, `--dump-redis`, `--html`, alerts files), with the
//! settings the analysis was made with; the file is the same on any thread count; and a
//! damaged, cut, foreign or newer file is a one-line error, never a panic.

use crate::corpus;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kalipso(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kalipso"))
        .args(args)
        .output()
        .expect("kalipso runs")
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Every output a run writes, with its exit code and messages.
#[derive(Debug, PartialEq)]
struct Outputs {
    code: Option<i32>,
    report: String,
    stderr: String,
    json: Vec<u8>,
    dump: Vec<u8>,
    html: Vec<u8>,
    alerts_log: Vec<u8>,
    alerts_json: Vec<u8>,
}

/// Runs `kalipso <command…>` with every output in `dir` (prefixed `tag`).
fn run(command: &[&str], dir: &Path, tag: &str) -> Outputs {
    let json = dir.join(format!("{tag}.json"));
    let dump = dir.join(format!("{tag}.dump"));
    let alerts = dir.join(format!("{tag}-alerts"));
    let html = dir.join(format!("{tag}.html"));
    let mut args: Vec<&str> = command.to_vec();
    let (j, d, a, h) = (
        json.to_string_lossy().into_owned(),
        dump.to_string_lossy().into_owned(),
        alerts.to_string_lossy().into_owned(),
        html.to_string_lossy().into_owned(),
    );
    args.extend(["--no-ui", "--json", &j, "--dump-redis", &d, "--output", &a]);
    args.extend(["--html", &h]);
    let out = kalipso(&args);
    let read = |p: &Path| std::fs::read(p).unwrap_or_default();
    Outputs {
        code: out.status.code(),
        report: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        json: read(&json),
        dump: read(&dump),
        html: read(&html),
        alerts_log: read(&alerts.join("alerts.log")),
        alerts_json: read(&alerts.join("alerts.json")),
    }
}

/// Analyses `input` with `settings` and saves it, opens the file, and checks that every output
/// is the same. Returns the saved file.
fn round_trip(input: &Path, settings: &[&str], dir: &Path) -> PathBuf {
    round_trip_with(input, settings, dir, || {})
}

/// [`round_trip`], calling `between` after the analysis and before the opening.
fn round_trip_with(input: &Path, settings: &[&str], dir: &Path, between: impl FnOnce()) -> PathBuf {
    let saved = dir.join("run.kalipso");
    let (input_s, saved_s) = (
        input.to_string_lossy().into_owned(),
        saved.to_string_lossy().into_owned(),
    );
    let mut analyze = vec!["analyze", input_s.as_str()];
    analyze.extend_from_slice(settings);
    analyze.extend(["--save", &saved_s]);
    let original = run(&analyze, dir, "original");
    assert!(
        saved.is_file(),
        "{}: no saved file; stderr: {}",
        input.display(),
        original.stderr
    );
    assert!(!original.json.is_empty() && !original.dump.is_empty());
    between();
    let opened = run(&["open", &saved_s], dir, "opened");
    assert_eq!(original.code, opened.code, "{}: exit code", input.display());
    assert!(
        original.report == opened.report,
        "{}: the reports differ",
        input.display()
    );
    assert!(
        original.json == opened.json,
        "{}: --json differs",
        input.display()
    );
    assert!(
        original.dump == opened.dump,
        "{}: --dump-redis differs",
        input.display()
    );
    assert_eq!(
        original.alerts_log,
        opened.alerts_log,
        "{}",
        input.display()
    );
    assert_eq!(
        original.alerts_json,
        opened.alerts_json,
        "{}",
        input.display()
    );
    // the input's own problems (skipped lines) are said again, in the same words
    assert_eq!(original.stderr, opened.stderr, "{}", input.display());
    // the report alone is the one saved with the file, said with the same problems
    let shown = kalipso(&["open", &saved_s, "--no-ui"]);
    assert_eq!(original.code, shown.status.code(), "{}", input.display());
    assert!(
        original.report.as_bytes() == shown.stdout,
        "{}: the saved report differs",
        input.display()
    );
    assert_eq!(
        original.stderr.as_bytes(),
        shown.stderr,
        "{}",
        input.display()
    );
    saved
}

#[test]
fn shipped_examples_open_as_they_were_analysed() {
    for rel in [
        "testdata/zeek/home-office-tsv",
        "testdata/zeek/home-office-json",
        "testdata/zeek/home-office-rotated",
        "testdata/pcap/office-mix.pcap",
        // skipped lines: the summary keeps them, and the exit code stays 2
        "testdata/broken/bad-lines",
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        round_trip(&fixture(rel), &[], dir.path());
    }
}

#[test]
fn the_saved_report_is_shown_at_once_only_when_it_is_the_one_asked_for() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = fixture("testdata/zeek/home-office-tsv");
    let input = input.to_string_lossy();
    let saved = dir.path().join("top3.kalipso");
    let saved = saved.to_string_lossy();
    let out = kalipso(&["analyze", &input, "--no-ui", "--top", "3", "--save", &saved]);
    assert!(out.status.success());
    let timed = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_kalipso"))
            .args(args)
            .env("KALIPSO_TIMINGS", "1")
            .output()
            .expect("run kalipso");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.stdout, stderr.contains("timing: open decoded"))
    };
    // the saved one: shown without decoding the records
    let (report, decoded) = timed(&["open", &saved, "--no-ui", "--top", "3"]);
    assert_eq!(report, out.stdout);
    assert!(!decoded, "the saved report is shown as it is");
    // others: analysed again, and the same as an analysis of the input gives
    for other in [&["--top", "5"][..], &["--top", "3", "--all"]] {
        let (report, decoded) = timed(&[&["open", &saved, "--no-ui"][..], other].concat());
        assert!(decoded, "{other:?} is not the saved report");
        let analysed = kalipso(&[&["analyze", &input, "--no-ui"][..], other].concat());
        assert_eq!(report, analysed.stdout, "{other:?}");
    }
}

#[test]
fn a_damaged_byte_anywhere_is_found_when_the_file_is_opened() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = saved_example(dir.path());
    // where each member's bytes are in the archive
    let mut members = Vec::new();
    let mut archive = tar::Archive::new(good.as_slice());
    for entry in archive.entries().expect("entries") {
        let entry = entry.expect("entry");
        let name = entry.path().expect("name").to_string_lossy().into_owned();
        members.push((name, entry.raw_file_position(), entry.size()));
    }
    assert!(members.iter().any(|m| m.0 == "views.json"), "{members:?}");
    let path = dir.path().join("flipped.kalipso");
    for (name, at, size) in members.iter().skip(1) {
        let mut bad = good.clone();
        bad[(*at + size / 2) as usize] ^= 0x20;
        std::fs::write(&path, &bad).expect("write");
        let out = kalipso(&["open", &path.to_string_lossy(), "--no-ui"]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("{name} does not match its checksum")),
            "{name}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            out.stdout.is_empty(),
            "{name}: nothing is shown from a damaged file"
        );
    }
}

#[test]
fn the_settings_of_the_analysis_are_saved_with_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = fixture("testdata/zeek/home-office-tsv");
    // threat intelligence naming the example's beacon target; the file is gone before the
    // analysis is opened, which needs only what was saved
    let feeds = tempfile::tempdir().expect("temp dir");
    let ti = feeds.path().join("ti.txt");
    std::fs::write(&ti, "203.0.113.7\n").expect("write");
    let ti_s = ti.to_string_lossy().into_owned();
    let settings = [
        "--ti",
        ti_s.as_str(),
        "--tw-width",
        "600",
        "--tw-anchor",
        "profile",
        "--direction",
        "all",
        "--home-net",
        "192.168.1.0/24",
        "--alert-threshold",
        "0.01",
        "--no-attack-alerts",
    ];
    let saved = round_trip_with(&input, &settings, dir.path(), || drop(feeds));
    let opened = std::fs::read_to_string(dir.path().join("opened.json")).expect("json");
    assert!(opened.contains("ThreatIntelligenceBlacklistIP"));
    // and they matter: the default settings give another analysis
    let default = run(
        &["analyze", &input.to_string_lossy()],
        dir.path(),
        "default",
    );
    let opened = run(&["open", &saved.to_string_lossy()], dir.path(), "again");
    assert_ne!(default.dump, opened.dump);
}

#[test]
fn corpus_datasets_open_as_they_were_analysed() {
    let Some(root) = corpus::root() else { return };
    let ti = root.join("slips/ti");
    let whitelist = root.join("slips/whitelist/whitelist.conf");
    let (ti_s, wl_s) = (
        ti.to_string_lossy().into_owned(),
        whitelist.to_string_lossy().into_owned(),
    );
    for (rel, settings) in [
        ("slips/zeek/test9-mixed-zeek-dir", vec![]),
        ("slips/zeek/test13-malicious-dhcpscan-zeek-dir", vec![]),
        (
            "slips/zeek/port-scans-horizontal",
            vec!["--tw-anchor", "profile"],
        ),
        (
            "slips/zeek/test18-malicious-ctu-sme-11-win",
            vec!["--ti", ti_s.as_str(), "--whitelist", wl_s.as_str()],
        ),
        ("slips/pcap/test7-malicious.pcap", vec![]),
        ("slips/pcap/test12-icmp-portscan.pcap", vec![]),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        round_trip(&root.join(rel), &settings, dir.path());
    }
}

#[test]
fn the_saved_file_is_the_same_on_any_thread_count() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = fixture("testdata/pcap/office-mix.pcap")
        .to_string_lossy()
        .into_owned();
    let mut files = Vec::new();
    for threads in ["1", "3"] {
        let saved = dir.path().join(format!("t{threads}.kalipso"));
        let out = kalipso(&[
            "analyze",
            &input,
            "--no-ui",
            "--threads",
            threads,
            "--save",
            &saved.to_string_lossy(),
        ]);
        assert!(out.status.success());
        files.push(std::fs::read(saved).expect("saved"));
    }
    assert!(files[0] == files[1], "the saved files differ");
}

/// A valid saved file to damage.
fn saved_example(dir: &Path) -> Vec<u8> {
    let saved = dir.join("example.kalipso");
    let out = kalipso(&[
        "analyze",
        &fixture("testdata/zeek/home-office-tsv").to_string_lossy(),
        "--no-ui",
        "--save",
        &saved.to_string_lossy(),
    ]);
    assert!(out.status.success());
    std::fs::read(saved).expect("saved")
}

#[test]
fn damaged_and_cut_files_are_errors_never_panics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = saved_example(dir.path());
    let path = dir.path().join("damaged.kalipso");
    let whole = kalipso::saved::open(&{
        std::fs::write(&path, &good).expect("write");
        path.clone()
    })
    .and_then(kalipso::saved::Opened::input)
    .expect("the whole file opens");
    let conns = whole.batch.conns.len();
    assert!(conns > 0);
    // cut anywhere: an error, unless only the archive's closing padding is gone
    for cut in (0..good.len()).step_by(97) {
        std::fs::write(&path, &good[..cut]).expect("write");
        if let Ok(o) = kalipso::saved::open(&path).and_then(kalipso::saved::Opened::input) {
            assert_eq!(o.batch.conns.len(), conns, "cut at {cut}");
        }
    }
    // bytes changed anywhere (a deterministic walk over the file): never a panic
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..600 {
        let mut bad = good.clone();
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state % bad.len() as u64) as usize;
            bad[at] ^= (state >> 32) as u8 | 1;
        }
        std::fs::write(&path, &bad).expect("write");
        let _ = kalipso::saved::open(&path).and_then(kalipso::saved::Opened::input);
    }
}

#[test]
fn foreign_newer_and_cut_files_get_one_clear_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = saved_example(dir.path());
    let one_line = |file: &Path, words: &str| {
        let out = kalipso(&["open", &file.to_string_lossy(), "--no-ui"]);
        assert_eq!(out.status.code(), Some(2), "{}", file.display());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(words), "{stderr}");
        assert!(stderr.contains(&*file.to_string_lossy()), "{stderr}");
        assert!(out.stdout.is_empty());
    };
    // a capture, a log and an empty file are not saved analyses
    one_line(
        &fixture("testdata/pcap/office-mix.pcap"),
        "not a saved kalipso analysis",
    );
    let empty = dir.path().join("empty.kalipso");
    std::fs::write(&empty, b"").expect("write");
    one_line(&empty, "not a saved kalipso analysis");
    one_line(&dir.path().join("missing.kalipso"), "cannot open");
    // cut in the middle of its records
    let cut = dir.path().join("cut.kalipso");
    std::fs::write(&cut, &good[..good.len() / 2]).expect("write");
    one_line(&cut, "damaged or cut short");
    // a newer layout names the version that made it
    let newer = dir.path().join("newer.kalipso");
    std::fs::write(&newer, with_layout(&good, 99, "9.9.9")).expect("write");
    one_line(&newer, "saved by kalipso 9.9.9 in layout 99");
    // layout 1 had more conn columns, which this reader does not ask for: it still opens
    let older = dir.path().join("older.kalipso");
    std::fs::write(&older, with_layout(&good, 1, "0.1.0")).expect("write");
    let out = kalipso(&["open", &older.to_string_lossy(), "--no-ui", "--top", "3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Suspects"));
}

/// A saved file whose header claims `layout`, made by kalipso `made_by`.
fn with_layout(good: &[u8], layout: u32, made_by: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, mut bytes) in members(good) {
        if name == "kalipso.json" {
            let mut meta: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
            meta["version"] = layout.into();
            meta["made_by"] = made_by.into();
            bytes = serde_json::to_vec(&meta).expect("json");
        }
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        builder
            .append_data(&mut h, &name, bytes.as_slice())
            .expect("append");
    }
    builder.into_inner().expect("tar")
}

/// The members of a saved file, in the archive's order: (name, bytes).
fn members(saved: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(saved);
    let mut out = Vec::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let name = entry.path().expect("name").to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).expect("read");
        out.push((name, data));
    }
    out
}

/// The rows of a Parquet member as one record batch, read as another tool would.
fn table(members: &[(String, Vec<u8>)], name: &str) -> arrow_array::RecordBatch {
    let member = members.iter().find(|(n, _)| n == name).expect("member");
    let bytes = bytes::Bytes::from(member.1.clone());
    let mut reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
        .expect("parquet")
        .with_batch_size(1 << 20)
        .build()
        .expect("reader");
    let Some(batch) = reader.next() else {
        return arrow_array::RecordBatch::new_empty(arrow_array::RecordBatchReader::schema(
            &reader,
        ));
    };
    assert!(
        reader.next().is_none(),
        "{name}: one batch for these inputs"
    );
    batch.expect("batch")
}

#[test]
fn the_evidence_table_names_its_records_by_their_rows() {
    use arrow_array::Array as _;
    use arrow_array::cast::AsArray as _;
    // every piece of evidence Slips' alerts.json lists (its sentence and its uids) is a row of
    // evidence.parquet whose record rows are records with those uids
    let mut inputs = vec![fixture("testdata/zeek/home-office-tsv")];
    if let Some(root) = corpus::root() {
        inputs.push(root.join("slips/zeek/test9-mixed-zeek-dir"));
        inputs.push(root.join("slips/pcap/test7-malicious.pcap"));
    }
    for input in inputs {
        let dir = tempfile::tempdir().expect("temp dir");
        let (saved, alerts) = (dir.path().join("run.kalipso"), dir.path().join("alerts"));
        let out = kalipso(&[
            "analyze",
            &input.to_string_lossy(),
            "--no-ui",
            "--save",
            &saved.to_string_lossy(),
            "--output",
            &alerts.to_string_lossy(),
        ]);
        assert!(out.status.success(), "{input:?}");
        let members = members(&std::fs::read(&saved).expect("saved file"));
        let uids_of = |name: &str| -> Vec<String> {
            let t = table(&members, name);
            let uid = t.column_by_name("uid").expect("uid column");
            let uid = uid.as_string::<i32>();
            (0..uid.len()).map(|i| uid.value(i).to_string()).collect()
        };
        let record_uids = [
            ("conn_rows", uids_of("conn.parquet")),
            ("dns_rows", uids_of("dns.parquet")),
            ("http_rows", uids_of("http.parquet")),
            ("ssl_rows", uids_of("ssl.parquet")),
        ];
        let evidence = table(&members, "evidence.parquet");
        let text = |name: &str| {
            evidence
                .column_by_name(name)
                .expect(name)
                .as_string::<i32>()
                .clone()
        };
        let (kind, description) = (text("type"), text("description"));
        // (type, sentence) → the sorted uids of each row with them
        let mut rows: std::collections::BTreeMap<(String, String), Vec<Vec<String>>> =
            std::collections::BTreeMap::new();
        for r in 0..evidence.num_rows() {
            let mut uids = Vec::new();
            for (column, table_uids) in &record_uids {
                let list = evidence
                    .column_by_name(column)
                    .expect(column)
                    .as_list::<i32>();
                let at = list.value(r);
                for &row in at.as_primitive::<arrow_array::types::UInt32Type>().values() {
                    uids.push(table_uids[row as usize].clone());
                }
            }
            uids.sort();
            rows.entry((kind.value(r).to_string(), description.value(r).to_string()))
                .or_default()
                .push(uids);
        }
        let listed = std::fs::read_to_string(alerts.join("alerts.json")).expect("alerts.json");
        let mut checked = 0;
        for line in listed.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("json line");
            let note: serde_json::Value =
                serde_json::from_str(v["Note"].as_str().expect("note")).expect("note json");
            let Some(kind) = note["type_evidence"].as_str() else {
                continue; // an alert's own line
            };
            let sentence = v["Attach"][0]["Content"]
                .as_str()
                .expect("content")
                .to_string();
            let mut uids: Vec<String> = note["uids"]
                .as_array()
                .expect("uids")
                .iter()
                .map(|u| u.as_str().expect("uid").to_string())
                .collect();
            uids.sort();
            let candidates = rows
                .get(&(kind.to_string(), sentence.clone()))
                .unwrap_or_else(|| panic!("{input:?}: no evidence row for {kind} {sentence}"));
            assert!(
                candidates.contains(&uids),
                "{input:?}: {kind} {sentence}: rows name {candidates:?}, alerts.json {uids:?}"
            );
            checked += 1;
        }
        assert!(checked > 0, "{input:?}: no evidence in alerts.json");
    }
}
