//! Network strings carrying terminal control sequences never reach a terminal or a text file
//! raw: not the report on stdout, not the messages on stderr, not alerts.log; and the JSON
//! outputs still parse and keep the exact values.
// See: #9

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// ESC ] 2 ; … BEL retitles a terminal, ESC [ 2 J clears it, CSI (U+009B) is the C1 form.
const RETITLE: &str = r"\x1b]2;PWNED\x07";
const CLEAR: &str = r"\x1b[2J";
const C1_CSI: &str = "\u{9b}31m";

const T0: f64 = 1_700_000_000.0;

fn header(path: &str, fields: &[&str]) -> String {
    format!(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t{path}\n#fields\t{}\n",
        fields.join("\t")
    )
}

fn conn_row(ts: f64, uid: &str, resp: &str, port: u16, service: &str) -> String {
    format!(
        "{ts:.6}\t{uid}\t10.0.0.5\t50000\t{resp}\t{port}\ttcp\t{service}\t1.0\t300\t5000\tSF\t-\t-\t0\tShADadFf\t6\t600\t6\t5300\t-\n"
    )
}

/// Zeek logs whose user agent, URI, host, DNS query, SNI and certificate fields carry control
/// sequences, written with Zeek's own `\xHH` escapes (and a raw C1 character, valid UTF-8).
fn write_hostile_logs(dir: &Path) {
    let conn_fields = [
        "ts",
        "uid",
        "id.orig_h",
        "id.orig_p",
        "id.resp_h",
        "id.resp_p",
        "proto",
        "service",
        "duration",
        "orig_bytes",
        "resp_bytes",
        "conn_state",
        "local_orig",
        "local_resp",
        "missed_bytes",
        "history",
        "orig_pkts",
        "orig_ip_bytes",
        "resp_pkts",
        "resp_ip_bytes",
        "tunnel_parents",
    ];
    let mut conn = header("conn", &conn_fields);
    conn.push_str(&conn_row(T0, "Chttp000001", "198.51.100.80", 80, "http"));
    conn.push_str(&conn_row(
        T0 + 5.0,
        "Cssl0000001",
        "198.51.100.43",
        443,
        "ssl",
    ));
    // a bad line whose excerpt holds a control sequence reaches stderr
    conn.push_str(
        &conn_row(T0, "Cbad", "198.51.100.80", 80, "-")
            .replace("\t50000\t", &format!("\tx{CLEAR}y\t")),
    );
    std::fs::write(dir.join("conn.log"), conn).unwrap();

    let mut http = header(
        "http",
        &[
            "ts",
            "uid",
            "id.orig_h",
            "id.orig_p",
            "id.resp_h",
            "id.resp_p",
            "method",
            "host",
            "uri",
            "user_agent",
            "request_body_len",
            "response_body_len",
            "status_code",
            "resp_mime_types",
        ],
    );
    writeln!(
        http,
        "{:.6}\tChttp000001\t10.0.0.5\t50000\t198.51.100.80\t80\tGET\thost{CLEAR}.example\t/a{C1_CSI}.exe\tjndi{RETITLE}\t0\t9000\t200\tapplication/x-dosexec",
        T0 + 0.5
    )
    .unwrap();
    std::fs::write(dir.join("http.log"), http).unwrap();

    let mut dns = header(
        "dns",
        &[
            "ts",
            "uid",
            "id.orig_h",
            "id.orig_p",
            "id.resp_h",
            "id.resp_p",
            "proto",
            "query",
            "qtype_name",
            "rcode_name",
            "answers",
            "TTLs",
        ],
    );
    writeln!(
        dns,
        "{:.6}\tCdns0000001\t10.0.0.5\t53000\t10.0.0.1\t53\tudp\tevil{RETITLE}{CLEAR}.example\tA\tNOERROR\t203.0.113.99\t60.000000",
        T0 + 1.0
    )
    .unwrap();
    std::fs::write(dir.join("dns.log"), dns).unwrap();

    let mut ssl = header(
        "ssl",
        &[
            "ts",
            "uid",
            "id.orig_h",
            "id.orig_p",
            "id.resp_h",
            "id.resp_p",
            "version",
            "server_name",
            "established",
            "subject",
            "issuer",
            "validation_status",
        ],
    );
    writeln!(
        ssl,
        "{:.6}\tCssl0000001\t10.0.0.5\t50001\t198.51.100.43\t443\tTLSv12\tsni{CLEAR}{C1_CSI}.example\tT\tCN=x{RETITLE}\tCN=Google Trust{CLEAR}\tself signed certificate",
        T0 + 5.5
    )
    .unwrap();
    std::fs::write(dir.join("ssl.log"), ssl).unwrap();
}

/// A control byte that would reach the terminal: C0 other than newline, DEL, or a C1
/// character (U+0080–U+009F, encoded in UTF-8 as C2 80–C2 9F).
fn raw_control(bytes: &[u8]) -> Option<usize> {
    bytes.iter().enumerate().position(|(i, &b)| {
        (b < 0x20 && b != b'\n')
            || b == 0x7f
            || (b == 0xc2 && bytes.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)))
    })
}

#[test]
fn r9_no_raw_control_byte_reaches_any_output() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    write_hostile_logs(&logs);
    let alerts = tmp.path().join("alerts");
    let report = tmp.path().join("report.json");
    let dump = tmp.path().join("dump.json");
    let out = Command::new(env!("CARGO_BIN_EXE_kalipso"))
        .args([
            "analyze",
            "--no-ui",
            "--all",
            "--alert-threshold",
            "0.0001",
            "--output",
        ])
        .arg(&alerts)
        .arg("--json")
        .arg(&report)
        .arg("--dump-redis")
        .arg(&dump)
        .arg(&logs)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // the hostile strings were read and shown, escaped
    for shown in [
        r"jndi\x{1b}]2;PWNED\x{7}",
        r"host\x{1b}[2J.example/a\x{9b}31m.exe",
        // IncompatibleCN shows the SNI lower-cased, as Slips does
        r"sni\x{1b}[2j\x{9b}31m.example",
    ] {
        assert!(stdout.contains(shown), "{shown} not in\n{stdout}");
    }
    // a bad field is quoted as Zeek wrote it, its `\x1b` escape as text
    assert!(stderr.contains(r"got 'x\x1b[2Jy'"), "{stderr}");
    let alerts_log = std::fs::read(alerts.join("alerts.log")).unwrap();
    let log_text = String::from_utf8_lossy(&alerts_log);
    // DNS names are lower-cased when read, as Slips does
    for shown in [
        r"domain evil\x{1b}]2;pwned\x{7}\x{1b}[2j.example resolved",
        r"SNI: sni\x{1b}[2J\x{9b}31m.example",
        r"jndi\x{1b}]2;PWNED\x{7}",
    ] {
        assert!(log_text.contains(shown), "{shown} not in\n{log_text}");
    }
    for (name, bytes) in [
        ("stdout", out.stdout.as_slice()),
        ("stderr", out.stderr.as_slice()),
        ("alerts.log", alerts_log.as_slice()),
    ] {
        assert_eq!(
            raw_control(bytes),
            None,
            "raw control byte in {name}:\n{}",
            String::from_utf8_lossy(bytes)
        );
    }
    // JSON outputs parse and keep the exact network value
    let alerts_json = std::fs::read_to_string(alerts.join("alerts.json")).unwrap();
    assert!(alerts_json.lines().count() >= 4, "{alerts_json}");
    for line in alerts_json.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert!(
        report.to_string().contains(r"jndi\u001b]2;PWNED\u0007"),
        "{report}"
    );
    serde_json::from_slice::<serde_json::Value>(&std::fs::read(&dump).unwrap()).unwrap();
}
