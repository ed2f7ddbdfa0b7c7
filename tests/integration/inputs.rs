//! Reading: the project's fixtures (exact values) and every Zeek directory of the corpus
//! (no panic; record counts equal data lines minus the skipped ones).

use crate::{corpus, fixtures};
use kalipso::profile::ProfileConfig;
use kalipso::store::Store;
use kalipso::store::keys::Key;
use kalipso::store::redis::Value;
use kalipso::{Analysis, Options};
use std::io::Read as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

fn analyze(paths: &[PathBuf]) -> Analysis {
    kalipso::analyze(&Options::new(paths.to_vec()))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

fn hget(store: &Store, key: &str, field: &str) -> serde_json::Value {
    let raw = store
        .hget(key, field)
        .unwrap_or_else(|| panic!("no {key} {field}"));
    serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{key} {field}: {e}: {raw}"))
}

fn dump(store: &Store) -> String {
    let mut out = Vec::new();
    store
        .dump_redis(&mut out)
        .unwrap_or_else(|e| panic!("dump: {e}"));
    String::from_utf8(out).unwrap_or_default()
}

#[test]
fn home_office_profiles_windows_and_fields() {
    let s = analyze(&[fixtures::path("zeek/home-office-tsv")]);
    // the client, the outside SSH client, and the home-network DNS server's server side
    let ips: Vec<String> = s.store.profiles.keys().map(ToString::to_string).collect();
    assert_eq!(ips, ["10.0.0.5", "192.168.1.1", "192.168.1.10"]);
    let client = &s.store.profiles[&ip("192.168.1.10")];
    assert_eq!(
        client.windows.keys().copied().collect::<Vec<_>>(),
        [1, 2],
        "the last flow is in the next hour"
    );
    let first = client.windows.get(&1).expect("window 1");
    assert_eq!(first.out_flows.len(), 22);
    assert_eq!(
        first.in_flows.len(),
        3,
        "SSH logins to the home host are its server side"
    );

    let scan = hget(
        &s.store,
        "profile_192.168.1.10_timewindow1",
        "DstPortsClientTCPNotEstablished",
    );
    assert_eq!(scan["23"]["totalflows"], 12);
    assert_eq!(scan["23"]["totalpkt"], 12);
    assert_eq!(scan["23"]["totalbytes"], 0);
    assert_eq!(
        scan["23"]["dstips"].as_object().map(serde_json::Map::len),
        Some(12)
    );

    let est = hget(
        &s.store,
        "profile_192.168.1.10_timewindow1",
        "DstIPsClientTCPEstablished",
    );
    assert_eq!(est["203.0.113.7"]["totalflows"], 8);
    assert_eq!(est["203.0.113.7"]["totalpkt"], 8 * 7);
    assert_eq!(est["203.0.113.7"]["totalbytes"], 8 * 200);
    assert_eq!(est["203.0.113.7"]["dstports"]["443"], 8 * 4);
    assert_eq!(est["203.0.113.7"]["stime"], "2023-11-14 22:13:30");

    let tuples = hget(&s.store, "profile_192.168.1.10_timewindow1", "OutTuples");
    assert_eq!(
        tuples["203.0.113.7-443-tcp"][0], "11,a,a,a,a,a,a,",
        "a 60 s beacon is strongly periodic"
    );
    assert_eq!(
        tuples["198.51.100.1-23-tcp"],
        serde_json::json!(["1", [false, 1_700_000_100.1]])
    );

    let incoming = hget(
        &s.store,
        "profile_192.168.1.10_timewindow1",
        "DstPortsServerTCPEstablished",
    );
    assert_eq!(incoming["22"]["totalflows"], 3);
    assert!(
        incoming["22"]["srcips"].get("10.0.0.5").is_some(),
        "server-side peers are the clients"
    );
    let in_tuples = hget(&s.store, "profile_192.168.1.10_timewindow1", "InTuples");
    assert_eq!(
        in_tuples["10.0.0.5-22-tcp"][0], "88,h,",
        "in-tuples are keyed by the client and keep their letters"
    );

    let res = hget(&s.store, "DNSresolution", "93.184.216.34");
    assert_eq!(res["domains"], serde_json::json!(["example.com"]));
    assert_eq!(res["resolved-by"], serde_json::json!(["192.168.1.10"]));
    assert_eq!(
        res["timewindows"],
        serde_json::json!(["profile_192.168.1.10_timewindow1"])
    );

    // The timeline interprets the web request with the name the capture's own DNS gave.
    let Some(Value::ZSet(timeline)) = s.store.get(&Key::Timeline(ip("192.168.1.10"), 1)) else {
        panic!("no timeline")
    };
    assert_eq!(timeline.len(), 22 + 3);
    let web: serde_json::Value = serde_json::from_str(&timeline[1].0).unwrap_or_default();
    assert_eq!(web["dns_resolution"], serde_json::json!(["example.com"]));
    assert_eq!(web["info"]["Request"], "GET http://example.com/index.html");
    assert_eq!(web["info"]["MIME"], "['text/html']");
    assert_eq!(
        web["tot"], 1590,
        "TSV bytes are integers, not Slips v1.0.0's zeros"
    );
    let scan_row: serde_json::Value = serde_json::from_str(&timeline[10].0).unwrap_or_default();
    assert_eq!(
        scan_row["dport_name"], "TELNET",
        "Slips' port table names a port Zeek did not"
    );
    assert_eq!(scan_row["warning"], "No data exchange!");
    let order = [
        "timestamp",
        "dport_name",
        "preposition",
        "dns_resolution",
        "daddr",
        "dport/proto",
        "state",
        "warning",
        "info",
        "sent",
        "recv",
        "tot",
        "duration",
        "critical warning",
    ];
    let raw = &timeline[1].0;
    let positions: Vec<usize> = order
        .iter()
        .map(|k| raw.find(&format!("\"{k}\": ")).unwrap_or(usize::MAX))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "Kalipso renders keys in Slips' order: {raw}"
    );
}

#[test]
fn tsv_json_and_rotated_gzip_give_the_same_store() {
    let tsv = dump(&analyze(&[fixtures::path("zeek/home-office-tsv")]).store);
    let json = dump(&analyze(&[fixtures::path("zeek/home-office-json")]).store);
    let rotated = dump(&analyze(&[fixtures::path("zeek/home-office-rotated")]).store);
    assert!(tsv.len() > 10_000);
    assert_eq!(tsv, json, "TSV and JSON Zeek logs are the same records");
    assert_eq!(
        tsv, rotated,
        "hourly gzip archives in date folders read as one log"
    );
}

#[test]
fn several_paths_are_one_input() {
    let dir = fixtures::path("zeek/home-office-tsv");
    let files: Vec<PathBuf> = ["conn.log", "dns.log", "http.log", "ssl.log"]
        .iter()
        .map(|f| dir.join(f))
        .collect();
    assert_eq!(dump(&analyze(&files).store), dump(&analyze(&[dir]).store));
}

#[test]
fn bad_lines_are_skipped_with_reasons_and_the_rest_is_kept() {
    let s = analyze(&[
        fixtures::path("broken/bad-lines"),
        fixtures::path("broken/not-a-log/conn.log"),
    ]);
    let f = &s.input.files[0];
    assert_eq!((f.data_lines, f.records, f.skipped), (7, 3, 4));
    let p = f.path.clone();
    assert_eq!(
        f.examples
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            format!("{p}:11: expected at least 20 columns, got 1"),
            format!("{p}:12: field 'id.orig_p': expected a port, got 'abc'"),
            format!("{p}:13: field 'id.resp_p': expected a port, got '70000'"),
            format!("{p}:14: truncated last line (expected at least 20 columns, got 5)"),
        ]
    );
    let not_log = &s.input.files[1];
    assert_eq!(not_log.records, 0);
    assert!(
        not_log
            .error
            .as_ref()
            .is_some_and(|e| e.problem.to_string().starts_with("not a Zeek log")),
        "{:?}",
        not_log.error
    );
    assert_eq!(s.input.failed_files, 1);
    assert_eq!(s.store.conns.len(), 3);
}

#[test]
fn random_bytes_in_a_file_never_panic() {
    use proptest::prelude::*;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 64,
        ..Default::default()
    });
    let header =
        "#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n";
    let result = runner.run(
        &(
            proptest::collection::vec(any::<u8>(), 0..4000),
            any::<bool>(),
        ),
        |(bytes, with_header)| {
            let path = dir.path().join("conn.log");
            let mut content = if with_header {
                header.as_bytes().to_vec()
            } else {
                Vec::new()
            };
            content.extend_from_slice(&bytes);
            std::fs::write(&path, &content).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let s = analyze(&[path]);
            let f = &s.input.files[0];
            prop_assert_eq!(f.records + f.skipped, f.data_lines);
            Ok(())
        },
    );
    assert!(result.is_ok(), "{result:?}");
}

pub(crate) fn data_lines(path: &Path) -> u64 {
    let mut raw = Vec::new();
    let _ = std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut raw));
    let text = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        let _ = flate2::read::MultiGzDecoder::new(raw.as_slice()).read_to_end(&mut out);
        out
    } else {
        raw
    };
    String::from_utf8_lossy(&text)
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .count() as u64
}

#[test]
fn every_corpus_zeek_directory_reads_completely() {
    let Some(root) = corpus::root() else { return };
    let dirs = [
        "slips/zeek",
        "stratosphere-security-datasets",
        "rita/rotated-2024-04-19",
        "rita/edge-cases",
        "idps-comparison-tool/test7-malicious-pcap/zeek",
    ];
    let mut total = 0;
    for d in dirs {
        let s = analyze(&[root.join(d)]);
        assert!(!s.input.files.is_empty(), "{d}: no files");
        for f in &s.input.files {
            if f.error.is_some() {
                // rita's lorem-ipsum conn.log is the one file that is not a log at all
                assert!(
                    f.path.ends_with("text_file/conn.log"),
                    "{}: {:?}",
                    f.path,
                    f.error
                );
                continue;
            }
            assert_eq!(f.data_lines, data_lines(Path::new(&f.path)), "{}", f.path);
            assert_eq!(f.records + f.skipped, f.data_lines, "{}", f.path);
            // Only rita's deliberately broken files lose lines.
            if f.skipped > 0 {
                assert!(
                    f.path.contains("edge-cases"),
                    "{}: {:?}",
                    f.path,
                    f.examples
                );
            }
            total += f.records;
        }
        let conns: u64 = s
            .input
            .files
            .iter()
            .filter(|f| f.kind == kalipso::record::LogKind::Conn)
            .map(|f| f.records)
            .sum();
        assert_eq!(conns as usize, s.store.conns.len(), "{d}");
    }
    assert!(total > 50_000, "read {total} records");
}

#[test]
fn rita_rotated_day_has_one_window_per_hour() {
    let Some(dir) = corpus::path("rita/rotated-2024-04-19") else {
        return;
    };
    let cfg = ProfileConfig {
        direction: kalipso::profile::Direction::All,
        ..ProfileConfig::default()
    };
    let s = kalipso::analyze(&Options::new([dir]).profile(cfg));
    assert_eq!(s.store.conns.len(), 31_367, "SOURCE.md: 31,367 conn rows");
    let span = s.input.span.unwrap_or_default();
    let hours = ((span.1 - span.0) / 3600.0).ceil() as usize;
    // the monitored (public) host receives scans all day: with direction all, its server side
    // spans every hour
    let host = &s.store.profiles[&ip("64.225.56.201")];
    assert!(
        host.windows.len() >= hours - 1 && host.windows.len() <= hours,
        "{} windows over {hours} h",
        host.windows.len()
    );
    assert!(
        host.windows
            .values()
            .map(|w| w.in_flows.len())
            .sum::<usize>()
            > 20_000
    );
}

/// Line ends and byte-order marks do not change what is read: the fixture logs rewritten with
/// CRLF, with CR alone, and with a UTF-8 BOM give the same store as the originals, and nothing
/// is skipped.
// See: #10
#[test]
fn r10_crlf_cr_and_bom_logs_read_like_the_originals() {
    type Rewrite = fn(&[u8]) -> Vec<u8>;
    let crlf: Rewrite = |b| {
        String::from_utf8_lossy(b)
            .replace('\n', "\r\n")
            .into_bytes()
    };
    let cr: Rewrite = |b| String::from_utf8_lossy(b).replace('\n', "\r").into_bytes();
    let bom: Rewrite = |b| [b"\xEF\xBB\xBF".as_slice(), b].concat();
    for fixture in ["zeek/home-office-tsv", "zeek/home-office-json"] {
        let original = analyze(&[fixtures::path(fixture)]);
        let want = dump(&original.store);
        assert!(original.store.conns.len() > 20);
        for (name, rewrite) in [("crlf", crlf), ("cr", cr), ("bom", bom)] {
            let tmp = tempfile::tempdir().unwrap();
            for entry in std::fs::read_dir(fixtures::path(fixture)).unwrap() {
                let path = entry.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                std::fs::write(tmp.path().join(path.file_name().unwrap()), rewrite(&bytes))
                    .unwrap();
            }
            let got = analyze(&[tmp.path().to_path_buf()]);
            assert_eq!(
                got.input.skipped, 0,
                "{fixture} {name}: {:?}",
                got.input.files
            );
            assert_eq!(got.input.failed_files, 0, "{fixture} {name}");
            assert!(
                dump(&got.store) == want,
                "{fixture} {name}: a different store"
            );
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// A cut `.gz` keeps everything decodable before the cut, and the message says after which
/// line or packet reading stopped.
// See: #10
#[test]
fn r10_cut_gzip_keeps_what_was_decodable() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = Vec::new();
    kalipso::generate::conn_log(&mut log, 20_000, 200, 1, 5).unwrap();
    let gz = gzip(&log);
    let path = tmp.path().join("conn.log.gz");
    std::fs::write(&path, &gz[..gz.len() / 2]).unwrap();
    let a = analyze(std::slice::from_ref(&path));
    let f = &a.input.files[0];
    assert!(
        f.records > 5_000 && f.records < 20_000,
        "about half of the lines: {}",
        f.records
    );
    let error = f
        .error
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let line: u64 = error
        .split("read error after line ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(line >= f.data_lines && line < 20_100, "{error}");

    let mut pcap = Vec::new();
    kalipso::generate::capture(&mut pcap, 400, 60, 2, 3).unwrap();
    let gz = gzip(&pcap);
    let path = tmp.path().join("cut.pcap.gz");
    std::fs::write(&path, &gz[..gz.len().min(30_000)]).unwrap();
    let input = kalipso::input::read(std::slice::from_ref(&path));
    let f = &input.summary.files[0];
    assert!(
        f.data_lines > 10,
        "packets before the cut are read: {}",
        f.data_lines
    );
    assert!(f.error.is_some(), "and the cut is said");
}

/// A line longer than the limit is skipped and counted without being kept: the lines around it
/// are read, and memory does not follow the line's length.
// See: #10
#[test]
fn r10_overlong_lines_are_skipped_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let original =
        std::fs::read_to_string(fixtures::path("zeek/home-office-tsv/conn.log")).unwrap();
    let mut lines: Vec<String> = original.lines().map(str::to_string).collect();
    let at = lines.iter().position(|l| !l.starts_with('#')).unwrap() + 1;
    lines.insert(at, "x".repeat(20 << 20)); // 20 MiB, more than two read blocks
    let path = tmp.path().join("conn.log");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let a = analyze(std::slice::from_ref(&path));
    let want = analyze(&[fixtures::path("zeek/home-office-tsv/conn.log")]);
    assert_eq!(a.store.conns.len(), want.store.conns.len());
    let f = &a.input.files[0];
    assert_eq!(f.skipped, 1);
    assert!(
        f.examples[0].to_string().contains("line longer than 1 MiB"),
        "{:?}",
        f.examples
    );
}

/// A `#fields` header without a column every record needs, or naming a read column twice, is
/// one message at the header's line; the lines under it are skipped and counted, not reported
/// one by one.
// See: #10
#[test]
fn r10_an_unusable_fields_header_is_one_message() {
    let original =
        std::fs::read_to_string(fixtures::path("zeek/home-office-tsv/conn.log")).unwrap();
    let data_lines = original
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .count() as u64;
    let header_line = original
        .lines()
        .position(|l| l.starts_with("#fields"))
        .unwrap() as u64
        + 1;
    let cases = [
        ("id.orig_h", "id.orig_h_was_here", "no 'id.orig_h' column"),
        ("\tproto\t", "\tid.orig_p\t", "names 'id.orig_p' twice"),
    ];
    for (from, to, says) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let edited: Vec<String> = original
            .lines()
            .map(|l| {
                if l.starts_with("#fields") {
                    l.replacen(from, to, 1)
                } else {
                    l.to_string()
                }
            })
            .collect();
        let path = tmp.path().join("conn.log");
        std::fs::write(&path, edited.join("\n") + "\n").unwrap();
        let a = analyze(std::slice::from_ref(&path));
        let f = &a.input.files[0];
        assert_eq!(a.store.conns.len(), 0, "{says}");
        assert_eq!(f.skipped, data_lines, "{says}");
        assert_eq!(f.examples.len(), 1, "{says}: {:?}", f.examples);
        let message = f.examples[0].to_string();
        assert!(
            message.contains(says) && message.contains(&format!("conn.log:{header_line}:")),
            "{message}"
        );
    }
}
