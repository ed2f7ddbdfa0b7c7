//! `--redis`: the store written into a real `redis-server` (Debian's, which `.ci/run` installs)
//! started on a loopback port for each test, and read back with the `redis` crate.

use redis::Commands as _;
use serde_json::Value as Json;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` of its own, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Starts one, or says why not and returns `None` (outside CI, where `.ci/run` installs
    /// the server, a machine without it skips these tests).
    fn start() -> Option<Server> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is missing: .ci/run installs Debian's redis-server"
            );
            eprintln!("note: no redis-server on this machine, --redis tests skipped");
            return None;
        }
        // a port that was free a moment ago
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let server = Server { child, port };
        let started = Instant::now();
        while server.connection(0).is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not answer on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    fn url(&self, db: i64) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }

    fn connection(&self, db: i64) -> Option<redis::Connection> {
        let client = redis::Client::open(self.url(db)).ok()?;
        let mut c = client
            .get_connection_with_timeout(Duration::from_secs(1))
            .ok()?;
        redis::cmd("PING").query::<String>(&mut c).ok()?;
        Some(c)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kalipso(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kalipso"))
        .args(args)
        .output()
        .expect("kalipso runs")
}

fn home_office() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/zeek/home-office-tsv")
        .display()
        .to_string()
}

#[test]
fn the_redis_export_holds_exactly_the_dump() {
    let Some(server) = Server::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump.json");
    let out = kalipso(&[
        "analyze",
        "--no-ui",
        "--redis",
        &server.url(4),
        "--dump-redis",
        dump.to_str().unwrap(),
        &home_office(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump: Json = serde_json::from_slice(&std::fs::read(&dump).unwrap()).unwrap();
    let keys = dump["keys"].as_array().unwrap();
    assert!(keys.len() > 10, "the example has a real keyspace");
    let mut expected_size = [0usize; 2];
    for entry in keys {
        let db = entry["db"].as_i64().unwrap();
        let name = entry["key"].as_str().unwrap();
        let value = &entry["value"];
        let mut con = server.connection(4 + db).unwrap();
        let empty = match value {
            Json::Object(m) => m.is_empty(),
            Json::Array(a) => a.is_empty(),
            _ => false,
        };
        let kind: String = redis::cmd("TYPE").arg(name).query(&mut con).unwrap();
        if empty {
            // Redis holds no empty hash or set
            assert_eq!(kind, "none", "{name}");
            continue;
        }
        expected_size[usize::try_from(db).unwrap()] += 1;
        assert_eq!(kind, entry["type"].as_str().unwrap(), "{name}");
        match kind.as_str() {
            "hash" => {
                let got: std::collections::BTreeMap<String, String> = con.hgetall(name).unwrap();
                let want: std::collections::BTreeMap<String, String> = value
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect();
                assert_eq!(got, want, "{name}");
            }
            "set" => {
                let mut got: Vec<String> = con.smembers(name).unwrap();
                got.sort();
                let want: Vec<String> = value
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect();
                assert_eq!(got, want, "{name}");
            }
            "zset" => {
                let got: Vec<(String, f64)> = con.zrange_withscores(name, 0, -1).unwrap();
                let want: Vec<(String, f64)> = value
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_f64().unwrap()))
                    .collect();
                assert_eq!(got, want, "{name}");
            }
            other => panic!("{name}: unexpected type {other}"),
        }
    }
    for (db, want) in expected_size.iter().enumerate() {
        let mut con = server.connection(4 + db as i64).unwrap();
        let size: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
        assert_eq!(size, *want, "database {}", 4 + db);
    }
    assert!(expected_size[1] == 1, "IPsInfo alone in the next database");
}

#[test]
fn a_database_with_keys_is_refused_unless_flushed() {
    let Some(server) = Server::start() else {
        return;
    };
    let mut con = server.connection(7).unwrap();
    let () = con.set("somebody_elses", "data").unwrap();
    let url = server.url(6);
    let input = home_office();
    let out = kalipso(&["analyze", "--no-ui", "--quiet", "--redis", &url, &input]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("database 7") && stderr.contains("--redis-flush"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(out.stdout.is_empty(), "refused before the analysis");
    let kept: Option<String> = con.get("somebody_elses").unwrap();
    assert_eq!(kept.as_deref(), Some("data"));

    let out = kalipso(&[
        "analyze",
        "--no-ui",
        "--redis",
        &url,
        "--redis-flush",
        &input,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kept: Option<String> = con.get("somebody_elses").unwrap();
    assert_eq!(kept, None, "flushed");
    let ips: usize = redis::cmd("HLEN").arg("IPsInfo").query(&mut con).unwrap();
    assert!(ips > 0);
    let mut analysis = server.connection(6).unwrap();
    let profiles: usize = analysis.scard("profiles").unwrap();
    assert!(profiles > 0);
}

#[test]
fn an_unreachable_server_or_a_bad_url_is_one_clear_line() {
    // a port nothing listens on
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let input = home_office();
    for (url, says) in [
        (
            format!("redis://127.0.0.1:{port}/0"),
            "cannot connect to Redis",
        ),
        ("http://example/0".to_string(), "not a Redis URL"),
    ] {
        let out = kalipso(&["analyze", "--no-ui", "--quiet", "--redis", &url, &input]);
        assert_eq!(out.status.code(), Some(1), "{url}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
