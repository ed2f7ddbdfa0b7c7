#![allow(clippy::format_push_string)]
//! The project's own fixtures in `testdata/`, written by this code and checked against it.
//!
//! Each scenario is one list of records rendered as Zeek TSV (with its header) and as Zeek JSON
//! lines, so the two formats can be compared. Run with `KALIPSO_BLESS=1` to rewrite the files
//! after changing a scenario; otherwise the test fails when a committed file differs.

use flate2::write::GzEncoder;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Start of every scenario: 2023-11-14 22:13:20 UTC.
pub const T0: f64 = 1_700_000_000.0;

/// One record: (field, value) in Zeek's column order; `-` is unset.
type Rec = Vec<(&'static str, String)>;

fn conn(
    ts: f64,
    uid: &str,
    src: &str,
    sport: u16,
    dst: &str,
    dport: u16,
    proto: &str,
    service: &str,
    dur: f64,
    ob: u64,
    rb: u64,
    state: &str,
    op: u64,
    rp: u64,
) -> Rec {
    vec![
        ("ts", format!("{ts:.6}")),
        ("uid", uid.into()),
        ("id.orig_h", src.into()),
        ("id.orig_p", sport.to_string()),
        ("id.resp_h", dst.into()),
        ("id.resp_p", dport.to_string()),
        ("proto", proto.into()),
        ("service", service.into()),
        (
            "duration",
            if dur > 0.0 {
                format!("{dur:.6}")
            } else {
                "-".into()
            },
        ),
        ("orig_bytes", ob.to_string()),
        ("resp_bytes", rb.to_string()),
        ("conn_state", state.into()),
        ("local_orig", "-".into()),
        ("local_resp", "-".into()),
        ("missed_bytes", "0".into()),
        ("history", "-".into()),
        ("orig_pkts", op.to_string()),
        ("orig_ip_bytes", (ob + op * 40).to_string()),
        ("resp_pkts", rp.to_string()),
        ("resp_ip_bytes", (rb + rp * 40).to_string()),
        ("tunnel_parents", "(empty)".into()),
    ]
}

/// The "home office" scenario: a client with DNS, web, a periodic beacon and a telnet scan,
/// a DNS server in the home network, and an outside host logging in over SSH.
pub fn home_office_conns() -> Vec<Rec> {
    let mut v = Vec::new();
    let h = "192.168.1.10";
    v.push(conn(
        T0,
        "CdnsQuery01",
        h,
        50001,
        "192.168.1.1",
        53,
        "udp",
        "dns",
        0.01,
        29,
        45,
        "SF",
        1,
        1,
    ));
    v.push(conn(
        T0 + 1.0,
        "ChttpGet001",
        h,
        50002,
        "93.184.216.34",
        80,
        "tcp",
        "http",
        0.2,
        90,
        1500,
        "SF",
        5,
        5,
    ));
    for i in 0..8u16 {
        let uid = format!("Cbeacon{i:04}");
        v.push(conn(
            T0 + 10.0 + 60.0 * f64::from(i),
            &uid,
            h,
            51000 + i,
            "203.0.113.7",
            443,
            "tcp",
            "ssl",
            0.05,
            120,
            80,
            "SF",
            4,
            3,
        ));
    }
    for i in 1..=12u16 {
        let uid = format!("Cscan{i:06}");
        let dst = format!("198.51.100.{i}");
        v.push(conn(
            T0 + 100.0 + f64::from(i) * 0.1,
            &uid,
            h,
            52000 + i,
            &dst,
            23,
            "tcp",
            "",
            0.0,
            0,
            0,
            "S0",
            1,
            0,
        ));
    }
    for i in 0..3u16 {
        let uid = format!("Cssh{i:07}");
        v.push(conn(
            T0 + 200.0 + f64::from(i) * 20.0,
            &uid,
            "10.0.0.5",
            40000 + i,
            h,
            22,
            "tcp",
            "ssh",
            3.0,
            1500,
            2500,
            "SF",
            20,
            18,
        ));
    }
    // one connection in the next hour, to cross a window boundary
    v.push(conn(
        T0 + 3700.0,
        "ClaterHour1",
        h,
        53000,
        "93.184.216.34",
        80,
        "tcp",
        "http",
        0.1,
        90,
        800,
        "SF",
        4,
        4,
    ));
    v
}

fn dns_rows() -> Vec<Rec> {
    vec![vec![
        ("ts", format!("{T0:.6}")),
        ("uid", "CdnsQuery01".into()),
        ("id.orig_h", "192.168.1.10".into()),
        ("id.orig_p", "50001".into()),
        ("id.resp_h", "192.168.1.1".into()),
        ("id.resp_p", "53".into()),
        ("proto", "udp".into()),
        ("trans_id", "4242".into()),
        ("query", "example.com".into()),
        ("qclass_name", "C_INTERNET".into()),
        ("qtype_name", "A".into()),
        ("rcode_name", "NOERROR".into()),
        ("answers", "93.184.216.34".into()),
        ("TTLs", "3600.000000".into()),
    ]]
}

fn http_rows() -> Vec<Rec> {
    let row = |ts: f64, uid: &str| -> Rec {
        vec![
            ("ts", format!("{ts:.6}")),
            ("uid", uid.into()),
            ("id.orig_h", "192.168.1.10".into()),
            ("id.orig_p", "50002".into()),
            ("id.resp_h", "93.184.216.34".into()),
            ("id.resp_p", "80".into()),
            ("method", "GET".into()),
            ("host", "example.com".into()),
            ("uri", "/index.html".into()),
            ("version", "1.1".into()),
            ("user_agent", "curl/8.5.0".into()),
            ("request_body_len", "0".into()),
            ("response_body_len", "1256".into()),
            ("status_code", "200".into()),
            ("status_msg", "OK".into()),
            ("resp_mime_types", "text/html".into()),
        ]
    };
    vec![
        row(T0 + 1.0, "ChttpGet001"),
        row(T0 + 3700.0, "ClaterHour1"),
    ]
}

fn ssl_rows() -> Vec<Rec> {
    vec![vec![
        ("ts", format!("{:.6}", T0 + 10.0)),
        ("uid", "Cbeacon0000".into()),
        ("id.orig_h", "192.168.1.10".into()),
        ("id.orig_p", "51000".into()),
        ("id.resp_h", "203.0.113.7".into()),
        ("id.resp_p", "443".into()),
        ("version", "TLSv12".into()),
        ("server_name", "c2.example.net".into()),
        ("resumed", "F".into()),
        ("established", "T".into()),
        ("subject", "CN=c2.example.net".into()),
        ("validation_status", "self signed certificate".into()),
    ]]
}

fn tsv(path: &str, rows: &[Rec]) -> String {
    let mut s = String::new();
    s.push_str("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n");
    s.push_str(&format!("#path\t{path}\n#open\t2023-11-14-22-13-20\n"));
    let fields: Vec<&str> = rows
        .first()
        .map(|r| r.iter().map(|(f, _)| *f).collect())
        .unwrap_or_default();
    s.push_str(&format!("#fields\t{}\n", fields.join("\t")));
    for r in rows {
        let vals: Vec<&str> = r.iter().map(|(_, v)| v.as_str()).collect();
        s.push_str(&vals.join("\t"));
        s.push('\n');
    }
    s.push_str("#close\t2023-11-14-23-13-20\n");
    s
}

fn is_number(field: &str) -> bool {
    matches!(
        field,
        "ts" | "id.orig_p"
            | "id.resp_p"
            | "duration"
            | "orig_bytes"
            | "resp_bytes"
            | "missed_bytes"
            | "orig_pkts"
            | "orig_ip_bytes"
            | "resp_pkts"
            | "resp_ip_bytes"
            | "trans_id"
            | "request_body_len"
            | "response_body_len"
            | "status_code"
    )
}

fn json(rows: &[Rec]) -> String {
    let mut s = String::new();
    for r in rows {
        let mut obj = serde_json::Map::new();
        for (f, v) in r {
            if v == "-" {
                continue; // Zeek's JSON writer leaves unset fields out
            }
            let value = match *f {
                "answers" | "TTLs" | "resp_mime_types" => {
                    let items: Vec<serde_json::Value> = v
                        .split(',')
                        .map(|x| {
                            if *f == "TTLs" {
                                serde_json::json!(x.parse::<f64>().unwrap_or(0.0))
                            } else {
                                serde_json::json!(x)
                            }
                        })
                        .collect();
                    serde_json::Value::Array(items)
                }
                "tunnel_parents" => continue,
                "resumed" | "established" => serde_json::Value::Bool(v == "T"),
                f if is_number(f) => serde_json::from_str(v).unwrap_or(serde_json::Value::Null),
                _ => serde_json::Value::String(v.clone()),
            };
            obj.insert((*f).to_string(), value);
        }
        s.push_str(&serde_json::Value::Object(obj).to_string());
        s.push('\n');
    }
    s
}

fn gz(text: &str) -> Vec<u8> {
    // GzEncoder writes mtime 0 and no name, so the bytes are reproducible.
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = e.write_all(text.as_bytes());
    e.finish().unwrap_or_default()
}

/// A broken conn.log: good lines around a garbage line, a bad port, an out-of-range port and a
/// truncated last line.
fn broken_conn() -> String {
    let rows = home_office_conns();
    let mut text = tsv("conn", &rows[..3]);
    text = text.replace("#close\t2023-11-14-23-13-20\n", "");
    text.push_str("this line is not a zeek record\n");
    let bad_port = tsv("conn", &rows[3..4]);
    let line = bad_port
        .lines()
        .find(|l| !l.starts_with('#'))
        .unwrap_or_default()
        .replacen("\t51001\t", "\tabc\t", 1);
    text.push_str(&line);
    text.push('\n');
    let big_port = tsv("conn", &rows[4..5]);
    let line = big_port
        .lines()
        .find(|l| !l.starts_with('#'))
        .unwrap_or_default()
        .replacen("\t443\t", "\t70000\t", 1);
    text.push_str(&line);
    text.push('\n');
    let last = tsv("conn", &rows[5..6]);
    let line = last
        .lines()
        .find(|l| !l.starts_with('#'))
        .unwrap_or_default();
    text.push_str(&line[..line.len() / 2]);
    text
}

/// Every fixture file: path under `testdata/` and its bytes.
pub fn all() -> Vec<(String, Vec<u8>)> {
    let conns = home_office_conns();
    let mut out = vec![
        (
            "zeek/home-office-tsv/conn.log".to_string(),
            tsv("conn", &conns).into_bytes(),
        ),
        (
            "zeek/home-office-tsv/dns.log".to_string(),
            tsv("dns", &dns_rows()).into_bytes(),
        ),
        (
            "zeek/home-office-tsv/http.log".to_string(),
            tsv("http", &http_rows()).into_bytes(),
        ),
        (
            "zeek/home-office-tsv/ssl.log".to_string(),
            tsv("ssl", &ssl_rows()).into_bytes(),
        ),
        (
            "zeek/home-office-json/conn.log".to_string(),
            json(&conns).into_bytes(),
        ),
        (
            "zeek/home-office-json/dns.log".to_string(),
            json(&dns_rows()).into_bytes(),
        ),
        (
            "zeek/home-office-json/http.log".to_string(),
            json(&http_rows()).into_bytes(),
        ),
        (
            "zeek/home-office-json/ssl.log".to_string(),
            json(&ssl_rows()).into_bytes(),
        ),
    ];
    // The same connections as Zeek's hourly archive: nested date folder, rotated gzip names.
    let (first, second) = conns.split_at(conns.len() - 1);
    out.push((
        "zeek/home-office-rotated/2023-11-14/conn.22:00:00-23:00:00.log.gz".into(),
        gz(&tsv("conn", first)),
    ));
    out.push((
        "zeek/home-office-rotated/2023-11-14/conn.23:00:00-00:00:00.log.gz".into(),
        gz(&tsv("conn", second)),
    ));
    out.push((
        "zeek/home-office-rotated/2023-11-14/dns.22:00:00-23:00:00.log.gz".into(),
        gz(&tsv("dns", &dns_rows())),
    ));
    out.push((
        "zeek/home-office-rotated/2023-11-14/http.22:00:00-23:00:00.log.gz".into(),
        gz(&tsv("http", &http_rows())),
    ));
    out.push((
        "zeek/home-office-rotated/2023-11-14/ssl.22:00:00-23:00:00.log.gz".into(),
        gz(&tsv("ssl", &ssl_rows())),
    ));
    // A small capture from the project's own generator: the shipped pcap example.
    let mut pcap = Vec::new();
    kalipso::generate::capture(&mut pcap, 400, 60, 2, 3).unwrap_or_else(|e| panic!("{e}"));
    out.push(("pcap/office-mix.pcap".into(), pcap));
    out.push((
        "broken/bad-lines/conn.log".into(),
        broken_conn().into_bytes(),
    ));
    out.push((
        "broken/not-a-log/conn.log".into(),
        b"Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit.\n".to_vec(),
    ));
    out
}

/// `testdata/` of the project.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// A fixture path.
pub fn path(rel: &str) -> PathBuf {
    dir().join(rel)
}

#[test]
fn fixtures_are_what_the_generator_writes() {
    let bless = std::env::var_os("KALIPSO_BLESS").is_some();
    let mut stale = Vec::new();
    for (rel, bytes) in all() {
        let p = dir().join(&rel);
        if bless {
            let _ = std::fs::create_dir_all(p.parent().unwrap_or(Path::new(".")));
            std::fs::write(&p, &bytes).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        } else if std::fs::read(&p).ok().as_deref() != Some(bytes.as_slice()) {
            stale.push(rel);
        }
    }
    assert!(
        stale.is_empty(),
        "fixtures differ from their generator (run with KALIPSO_BLESS=1): {stale:?}"
    );
}
