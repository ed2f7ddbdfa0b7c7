//! The built binary: exit codes, messages, the report, and byte-identical output on any
//! thread count.

use crate::{corpus, fixtures};
use std::path::Path;
use std::process::{Command, Output};

fn kalipso(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kalipso"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run kalipso: {e}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn clean_input_exits_0_with_a_report() {
    let dir = fixtures::path("zeek/home-office-tsv");
    let out = kalipso(&["analyze", "--no-ui", dir.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("records: conn 26, dns 1, http 2, ssl 1"),
        "{stdout}"
    );
    assert!(stdout.contains("Profiles: 3, time windows: 4"), "{stdout}");
    assert!(
        stdout.contains("203.0.113.7-443-tcp") && stdout.contains("11,a,a,a,a,a,a,"),
        "{stdout}"
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn bad_lines_exit_2_and_name_file_and_line() {
    let dir = fixtures::path("broken/bad-lines");
    let out = kalipso(&["analyze", "--no-ui", dir.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("conn.log:12: field 'id.orig_p': expected a port, got 'abc'"),
        "{stderr}"
    );
    assert!(text(&out.stdout).contains("4 of 7 line(s) skipped"));
}

#[test]
fn nothing_readable_exits_2_with_a_hint() {
    for path in [
        "/definitely/not/here",
        fixtures::path("broken/not-a-log")
            .to_str()
            .unwrap_or_default(),
    ] {
        let out = kalipso(&["analyze", path]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = text(&out.stderr);
        assert!(stderr.contains("nothing readable in"), "{stderr}");
        assert!(stderr.contains("hint:"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn invalid_options_are_rejected() {
    let out = kalipso(&["analyze", "x", "--home-net", "10.0.0.0/33"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("--home-net"),
        "{}",
        text(&out.stderr)
    );
}

fn dump_with_threads(input: &Path, threads: &str, dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let dump = dir.join(format!("dump-{threads}.json"));
    let json = dir.join(format!("report-{threads}.json"));
    let out = kalipso(&[
        "analyze",
        "--no-ui",
        "--threads",
        threads,
        "--dump-redis",
        dump.to_str().unwrap_or_default(),
        "--json",
        json.to_str().unwrap_or_default(),
        input.to_str().unwrap_or_default(),
    ]);
    assert!(out.status.code().is_some(), "killed");
    (
        std::fs::read(dump).unwrap_or_default(),
        std::fs::read(json).unwrap_or_default(),
    )
}

#[test]
fn dumps_are_byte_identical_on_any_thread_count() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut inputs = vec![
        fixtures::path("zeek/home-office-rotated"),
        // flows assembled in parallel shards must merge into the same order
        fixtures::path("pcap/office-mix.pcap"),
    ];
    inputs.extend(corpus::path("slips/zeek/test9-mixed-zeek-dir"));
    inputs.extend(corpus::path("slips/pcap/test7-malicious.pcap"));
    inputs.extend(corpus::path("rita/rotated-2024-04-19"));
    for input in inputs {
        let (d1, j1) = dump_with_threads(&input, "1", tmp.path());
        let (d2, j2) = dump_with_threads(&input, "2", tmp.path());
        assert!(d1.len() > 1000, "{}: empty dump", input.display());
        assert!(
            d1 == d2,
            "{}: --dump-redis differs between 1 and 2 threads",
            input.display()
        );
        assert!(
            j1 == j2,
            "{}: --json differs between 1 and 2 threads",
            input.display()
        );
        let v: serde_json::Value = serde_json::from_slice(&d1).unwrap_or_default();
        assert!(
            v["keys"].as_array().is_some_and(|k| !k.is_empty()),
            "dump is JSON with keys"
        );
    }
}

#[test]
fn generator_is_deterministic_and_reads_back_across_block_boundaries() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (tmp.path().join("a.log"), tmp.path().join("b.log"));
    // ~20 MB: lines cross the reader's 8 MB block boundaries several times
    for p in [&a, &b] {
        let out = kalipso(&[
            "generate",
            "--lines",
            "150000",
            "--seed",
            "3",
            "--out",
            p.to_str().unwrap_or_default(),
        ]);
        assert_eq!(out.status.code(), Some(0));
    }
    let (bytes_a, bytes_b) = (
        std::fs::read(&a).unwrap_or_default(),
        std::fs::read(&b).unwrap_or_default(),
    );
    assert!(bytes_a.len() > 16 << 20, "{} bytes", bytes_a.len());
    assert!(bytes_a == bytes_b, "same seed, same bytes");
    let out = kalipso(&["analyze", "--no-ui", a.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("records: conn 150000"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn capture_generator_is_deterministic_and_reads_back() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (tmp.path().join("a.pcap"), tmp.path().join("b.pcap"));
    for p in [&a, &b] {
        let out = kalipso(&[
            "generate",
            "--pcap",
            "--lines",
            "3000",
            "--seed",
            "5",
            "--hours",
            "0",
            "--out",
            p.to_str().unwrap_or_default(),
        ]);
        assert_eq!(out.status.code(), Some(0));
    }
    assert!(
        std::fs::read(&a).unwrap_or_default() == std::fs::read(&b).unwrap_or_default(),
        "same seed, same bytes"
    );
    let input = kalipso::input::read(std::slice::from_ref(&a));
    assert_eq!(
        input.batch.conns.len(),
        3000,
        "one connection per generated flow"
    );
    assert!(
        !input.batch.dns.is_empty() && !input.batch.http.is_empty() && !input.batch.ssl.is_empty()
    );
    assert!(
        input
            .batch
            .ssl
            .iter()
            .all(|s| s.server_name.ends_with(".example.net"))
    );
}

/// A full or closed stderr never turns a message into a panic: the run ends with the exit
/// code of its input (2: lines were skipped), not 101.
// See: #10
#[test]
fn r10_a_failing_stderr_does_not_panic() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return; // not Linux
    };
    let dir = fixtures::path("broken/bad-lines");
    let out = Command::new(env!("CARGO_BIN_EXE_kalipso"))
        .args(["analyze", "--no-ui"])
        .arg(&dir)
        .stderr(full)
        .output()
        .unwrap_or_else(|e| panic!("run kalipso: {e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stdout).contains("4 of 7 line(s) skipped"));
}

/// Inputs that are valid but hold no IP traffic are read, said to be empty, and exit 0; only
/// inputs of which nothing could be read exit 2 with "nothing readable".
// See: #10
#[test]
fn r10_inputs_without_ip_traffic_are_not_failures() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // a pcap global header and no packet
    let mut header = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    header.extend([0; 8]);
    header.extend(65535u32.to_le_bytes());
    header.extend(1u32.to_le_bytes());
    let pcap = tmp.path().join("empty.pcap");
    std::fs::write(&pcap, &header).unwrap_or_else(|e| panic!("{e}"));
    let log = tmp.path().join("conn.log");
    std::fs::write(
        &log,
        "#separator \\x09\n#path\tconn\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n#close\t2024-01-01-00-00-00\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for input in [&pcap, &log] {
        let out = kalipso(&["analyze", "--no-ui", input.to_str().unwrap_or_default()]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{}: {stderr}", input.display());
        assert!(stderr.contains("holds no IP connection"), "{stderr}");
        assert!(
            text(&out.stdout).contains("Profiles: 0"),
            "{}",
            text(&out.stdout)
        );
    }
}

/// Output paths are checked before the analysis; a write failure names the file, and the
/// other outputs and the report are still written (exit 1).
// See: #10
#[test]
fn r10_outputs_are_checked_first_and_failures_name_the_file() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = fixtures::path("zeek/home-office-tsv");
    let input = input.to_str().unwrap_or_default();
    let missing = tmp.path().join("no/such/dir/report.json");
    let out = kalipso(&[
        "analyze",
        "--no-ui",
        "--json",
        missing.to_str().unwrap_or_default(),
        input,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("report.json"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "stopped before the analysis");

    let a_file = tmp.path().join("plain-file");
    std::fs::write(&a_file, "x").unwrap_or_else(|e| panic!("{e}"));
    let out = kalipso(&[
        "analyze",
        "--no-ui",
        "--output",
        a_file.to_str().unwrap_or_default(),
        input,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not a directory"),
        "{}",
        text(&out.stderr)
    );

    if std::path::Path::new("/dev/full").exists() {
        let json = tmp.path().join("report.json");
        let out = kalipso(&[
            "analyze",
            "--no-ui",
            "--dump-redis",
            "/dev/full",
            "--json",
            json.to_str().unwrap_or_default(),
            input,
        ]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out.stderr).contains("cannot write '/dev/full'"),
            "{}",
            text(&out.stderr)
        );
        assert!(
            std::fs::metadata(&json).is_ok_and(|m| m.len() > 100),
            "the JSON report is written"
        );
        assert!(
            text(&out.stdout).contains("Profiles: 3"),
            "and the report printed"
        );
    }
}

/// Files named as captures that are none (random bytes, empty) are reported, in a directory
/// scan and when named, never silently left out or called "not a Zeek log".
// See: #10
#[test]
fn r10_broken_captures_are_reported_not_dropped() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path().join("mixed");
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.join("random.pcap"),
        b"\x12\x34\x56\x78 not a capture at all",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("empty.pcap"), b"").unwrap_or_else(|e| panic!("{e}"));
    let log = std::fs::read(fixtures::path("zeek/home-office-tsv/conn.log"))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("conn.log"), log).unwrap_or_else(|e| panic!("{e}"));
    let out = kalipso(&["analyze", "--no-ui", dir.to_str().unwrap_or_default()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "random.pcap: not a pcap or pcapng capture: unknown magic number 12 34 56 78"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("empty.pcap: not a pcap or pcapng capture: the file is empty"),
        "{stderr}"
    );
    assert!(
        text(&out.stdout).contains("2 unreadable"),
        "{}",
        text(&out.stdout)
    );

    let named = dir.join("random.pcap");
    let out = kalipso(&["analyze", "--no-ui", named.to_str().unwrap_or_default()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("unknown magic number") && !stderr.contains("not a Zeek log"),
        "{stderr}"
    );
}

/// A FIFO inside a directory is reported, not opened (opening it would wait for a writer).
// See: #10
#[test]
fn r10_a_fifo_in_a_directory_is_skipped_not_opened() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fifo = tmp.path().join("conn.log");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        return; // no mkfifo here
    }
    let dir = tmp.path().as_os_str();
    let mut child = spawn_piped(&["analyze".as_ref(), "--no-ui".as_ref(), dir]);
    wait_or_fail(&mut child, "kalipso waited on the FIFO");
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("not a regular file"), "{stderr}");
    assert_eq!(out.status.code(), Some(2));
}

/// Starts kalipso with its standard streams piped.
fn spawn_piped<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_kalipso"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Waits for `child` to end; kills it and fails with `hang` if it runs for 20 s.
fn wait_or_fail(child: &mut std::process::Child, hang: &str) {
    let start = std::time::Instant::now();
    while child.try_wait().ok().flatten().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("{hang}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Runs kalipso with `bytes` on its standard input.
fn kalipso_stdin(args: &[&str], bytes: Vec<u8>) -> Output {
    use std::io::Write as _;
    let mut child = spawn_piped(args);
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
    let writer = std::thread::spawn(move || stdin.write_all(&bytes));
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let _ = writer.join();
    out
}

/// Captures and logs are read from a pipe (`-`, `/dev/stdin`), gzipped or not, sniffed from
/// the stream without reopening it: the same analysis as from the file.
// See: #10
#[test]
fn r10_captures_and_logs_are_read_from_stdin() {
    let pcap = fixtures::path("pcap/office-mix.pcap");
    let direct = kalipso(&[
        "analyze",
        "--no-ui",
        "--top",
        "0",
        pcap.to_str().unwrap_or_default(),
    ]);
    let bytes = std::fs::read(&pcap).unwrap_or_else(|e| panic!("{e}"));
    let piped = kalipso_stdin(&["analyze", "--no-ui", "--top", "0", "-"], bytes);
    assert_eq!(piped.status.code(), Some(0), "{}", text(&piped.stderr));
    let path = pcap.display().to_string();
    assert_eq!(
        text(&piped.stdout),
        text(&direct.stdout).replace(&path, "-"),
        "the same report"
    );

    let log = std::fs::read(fixtures::path("zeek/home-office-tsv/conn.log"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &log).unwrap_or_else(|e| panic!("{e}"));
    let gz = gz.finish().unwrap_or_else(|e| panic!("{e}"));
    let piped = kalipso_stdin(&["analyze", "--no-ui", "/dev/stdin"], gz);
    assert_eq!(piped.status.code(), Some(0), "{}", text(&piped.stderr));
    assert!(
        text(&piped.stdout).contains("records: conn 26"),
        "{}",
        text(&piped.stdout)
    );
}

/// Ctrl-C while the input is still being read: kalipso stops at once with 130, says so, and
/// removes the output files it created but had not written, so none looks complete.
// See: #11
#[test]
fn r11_an_interrupt_stops_the_run_and_removes_unfinished_outputs() {
    use std::io::Write as _;
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let json = tmp.path().join("report.json");
    let dump = tmp.path().join("dump.json");
    let mut child = spawn_piped(&[
        "analyze".as_ref(),
        "--no-ui".as_ref(),
        "--json".as_ref(),
        json.as_os_str(),
        "--dump-redis".as_ref(),
        dump.as_os_str(),
        "-".as_ref(),
    ]);
    // a log that has begun and never ends: the reader waits for the rest
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
    let _ = stdin.write_all(b"#separator \\x09\n#path\tconn\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n1700000000.0\tC1\t10.0.0.1\t1\t10.0.0.2\t80\ttcp\n");
    let _ = stdin.flush();
    // wait until the outputs exist (they are created before the analysis starts)
    let start = std::time::Instant::now();
    while !(json.exists() && dump.exists()) && start.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    assert!(sent.is_ok_and(|s| s.success()), "kill -INT");
    wait_or_fail(&mut child, "kalipso did not stop on SIGINT");
    drop(stdin);
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(130));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("interrupted; 2 unfinished output file(s) removed"),
        "{stderr}"
    );
    assert!(!json.exists() && !dump.exists(), "unfinished outputs left");
}

#[test]
fn r12_the_report_stays_bounded_and_the_json_ranking_is_sorted() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let log = tmp.path().join("realistic.log");
    let json = tmp.path().join("report.json");
    let out = kalipso(&[
        "generate",
        "--realistic",
        "--lines",
        "200000",
        "--out",
        log.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let log = log.to_str().unwrap_or_default();
    let bounded = kalipso(&[
        "analyze",
        "--no-ui",
        "--json",
        json.to_str().unwrap_or_default(),
        log,
    ]);
    assert_eq!(bounded.status.code(), Some(0), "{}", text(&bounded.stderr));
    let report = text(&bounded.stdout);
    let lines = report.lines().count();
    assert!(lines <= 250, "{lines} lines:\n{report}");
    assert!(
        report.contains(
            "Suspects (alerted first, then Internet probers and the rest by score; 25 of "
        ),
        "{report}"
    );
    assert!(report.contains("--all prints the "), "{report}");
    assert!(
        !report.contains("  ALERT "),
        "alerts are listed only with --all"
    );

    // the JSON has the whole ranking, sorted by score, and every alert and evidence
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let ranking = v["ranking"].as_array().cloned().unwrap_or_default();
    assert!(ranking.len() > 25, "{}", ranking.len());
    let scores: Vec<f64> = ranking.iter().filter_map(|r| r["score"].as_f64()).collect();
    assert_eq!(scores.len(), ranking.len());
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "sorted by score");
    for key in ["ip", "alerts", "windows", "evidence"] {
        assert!(!ranking[0][key].is_null(), "{key} in {}", ranking[0]);
    }
    let alerts = v["alerts"].as_array().map_or(0, Vec::len);
    assert_eq!(alerts as u64, v["alert_count"].as_u64().unwrap_or(u64::MAX));
    assert!(alerts > 0);
    assert_eq!(
        v["evidence_list"].as_array().map_or(0, Vec::len) as u64,
        v["evidence"].as_u64().unwrap_or(u64::MAX)
    );

    // --all lists every alert
    let all = kalipso(&["analyze", "--no-ui", "--all", log]);
    let all = text(&all.stdout);
    assert_eq!(all.matches("  ALERT ").count(), alerts, "every alert");
}
