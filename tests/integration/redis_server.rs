//! `--redis`: the store written into a real `redis-server` (Debian's, which `.ci/run` installs)
//! started on a loopback port for each test, and read back with the `redis` crate.

use redis::Commands as _;
use serde_json::Value as Json;
use std::collections::BTreeMap;
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
        Server::start_with(&[])
    }

    /// [`Server::start`] with more `redis-server` arguments.
    fn start_with(extra: &[&str]) -> Option<Server> {
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
            .args(extra)
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

/// Runs kalipso and asserts that it succeeded, with its stderr when not.
fn succeeds(args: &[&str]) -> Output {
    let out = kalipso(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
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

#[test]
fn open_reads_back_what_analyze_wrote() {
    let Some(server) = Server::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let (ja, jb) = (
        dir.path().join("a-report.json"),
        dir.path().join("b-report.json"),
    );
    let url = server.url(2);
    let out = kalipso(&[
        "analyze",
        "--no-ui",
        "--redis",
        &url,
        "--dump-redis",
        a.to_str().unwrap(),
        "--json",
        ja.to_str().unwrap(),
        &home_office(),
    ]);
    assert!(out.status.success());
    let out = kalipso(&[
        "open",
        &url,
        "--no-ui",
        "--dump-redis",
        b.to_str().unwrap(),
        "--json",
        jb.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // a log in time order comes back whole: the same keyspace, byte for byte
    assert!(
        std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
        "the dumps differ"
    );
    // and the same suspects, ranked the same
    let ranking = |p: &Path| -> Json {
        serde_json::from_slice::<Json>(&std::fs::read(p).unwrap()).unwrap()["ranking"].clone()
    };
    assert_eq!(ranking(&ja), ranking(&jb));
    assert!(ranking(&ja).as_array().is_some_and(|r| !r.is_empty()));
}

#[test]
fn open_reads_back_a_database_of_many_batches_over_several_connections() {
    // thousands of window keys: the flows come back in many batches over several readers,
    // and must make exactly the keyspace they were written from
    let Some(server) = Server::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let generated = dir.path().join("generated.log");
    succeeds(&[
        "generate",
        "--realistic",
        "--lines",
        "20000",
        "--hosts",
        "2000",
        "--destinations",
        "5000",
        "--out",
        generated.to_str().unwrap(),
    ]);
    // in time order: Slips' layout keeps no arrival order, so a log in another order comes
    // back in time order (see `open_reads_back_what_analyze_wrote`)
    let text = std::fs::read_to_string(&generated).unwrap();
    let (headers, mut lines): (Vec<&str>, Vec<&str>) =
        text.lines().partition(|l| l.starts_with('#'));
    let ts = |l: &str| {
        l.split('\t')
            .next()
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap()
    };
    lines.sort_by(|a, b| ts(a).total_cmp(&ts(b)));
    let log = dir.path().join("conn.log");
    std::fs::write(&log, [headers, lines].concat().join("\n") + "\n").unwrap();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let url = server.url(1);
    succeeds(&[
        "analyze",
        "--no-ui",
        "--quiet",
        "--redis",
        &url,
        "--dump-redis",
        a.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    let mut con = server.connection(1).unwrap();
    let flow_keys: Vec<String> = con
        .scan_match("*_flows")
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // more batches (of 256 keys) than readers (at most 8), and more than they may run ahead
    assert!(flow_keys.len() > 256 * 24, "{} flow keys", flow_keys.len());
    succeeds(&[
        "open",
        &url,
        "--no-ui",
        "--quiet",
        "--dump-redis",
        b.to_str().unwrap(),
    ]);
    assert!(
        std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
        "the dumps differ"
    );
}

/// Loads a dump of the oracle format into the server's databases `base` and `base + 1`.
fn load(server: &Server, dump: &Json, base: i64) {
    for entry in dump["keys"].as_array().unwrap() {
        let db = entry["db"].as_i64().unwrap();
        let mut con = server.connection(base + db).unwrap();
        let key = entry["key"].as_str().unwrap();
        let value = &entry["value"];
        let cmd = match entry["type"].as_str().unwrap() {
            "hash" if !value.as_object().unwrap().is_empty() => {
                let mut c = redis::cmd("HSET");
                c.arg(key);
                for (f, v) in value.as_object().unwrap() {
                    c.arg(f).arg(v.as_str().unwrap());
                }
                c
            }
            "set" | "list" if !value.as_array().unwrap().is_empty() => {
                let mut c = redis::cmd(if entry["type"] == "set" {
                    "SADD"
                } else {
                    "RPUSH"
                });
                c.arg(key);
                for m in value.as_array().unwrap() {
                    c.arg(m.as_str().unwrap());
                }
                c
            }
            "zset" if !value.as_array().unwrap().is_empty() => {
                let mut c = redis::cmd("ZADD");
                c.arg(key);
                for pair in value.as_array().unwrap() {
                    c.arg(pair[1].as_f64().unwrap())
                        .arg(pair[0].as_str().unwrap());
                }
                c
            }
            "string" => {
                let mut c = redis::cmd("SET");
                c.arg(key).arg(value.as_str().unwrap());
                c
            }
            _ => continue,
        };
        let () = cmd.query(&mut con).unwrap();
    }
}

#[test]
fn open_reads_a_database_slips_wrote() {
    let Some(root) = crate::corpus::root() else {
        return;
    };
    let Some(server) = Server::start() else {
        return;
    };
    for (i, ds) in [
        "test9-mixed-zeek-dir",
        "port-scans-horizontal",
        "port-scans-vertical",
    ]
    .iter()
    .enumerate()
    {
        let path = root.join(format!("slips-oracle/{ds}/slips-1.0.0/redis-dump.json"));
        let slips: Json = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let base = 2 * i as i64;
        load(&server, &slips, base);
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("dump.json");
        let out = kalipso(&[
            "open",
            &server.url(base),
            "--no-ui",
            "--dump-redis",
            dump.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{ds}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ours: Json = serde_json::from_slice(&std::fs::read(dump).unwrap()).unwrap();
        let keys = |d: &Json| -> std::collections::BTreeMap<String, Json> {
            d["keys"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|k| k["db"] == 0)
                .map(|k| (k["key"].as_str().unwrap().to_string(), k["value"].clone()))
                .collect()
        };
        let (theirs, ours) = (keys(&slips), keys(&ours));
        let windows = |keys: &std::collections::BTreeMap<String, Json>| {
            let mut out = std::collections::BTreeSet::new();
            for (k, v) in keys {
                if let Some(ip) = k.strip_prefix("twsprofile_") {
                    for w in v.as_array().unwrap() {
                        out.insert(format!("profile_{ip}_{}", w[0].as_str().unwrap()));
                    }
                }
            }
            out
        };
        let our_windows = windows(&ours);
        let mut their_uids = std::collections::BTreeSet::new();
        let mut with_flows = 0;
        for (k, v) in &theirs {
            let Some(window) = k.strip_suffix("_flows") else {
                continue;
            };
            if window.ends_with("_alt") {
                continue;
            }
            with_flows += 1;
            // every window where Slips kept flows is there, numbered as Slips numbered it
            assert!(our_windows.contains(window), "{ds}: {window} is missing");
            their_uids.extend(v.as_object().unwrap().keys().cloned());
        }
        assert!(with_flows > 0, "{ds}: the oracle has flows");
        // the UI's landing screen lists every window Slips numbered, before any flow is read
        let listed = kalipso::input::slips_redis::windows(&server.url(base)).unwrap();
        let listed: std::collections::BTreeSet<String> = listed
            .of
            .iter()
            .flat_map(|(ip, ns)| {
                ns.iter()
                    .map(move |n| format!("profile_{ip}_timewindow{n}"))
            })
            .collect();
        assert_eq!(listed, windows(&theirs), "{ds}");
        // and every flow Slips kept is in it
        let mut our_uids = std::collections::BTreeSet::new();
        for (k, v) in &ours {
            if k.ends_with("_flows") && !k.ends_with("_altflows") {
                our_uids.extend(v.as_object().unwrap().keys().cloned());
            }
        }
        let lost: Vec<_> = their_uids.difference(&our_uids).collect();
        assert!(lost.is_empty(), "{ds}: flows not read back: {lost:?}");
    }
}

/// Every key of database `db`, with its type and contents (hash fields and set members
/// sorted, sorted-set members in order with their scores).
fn keyspace(server: &Server, db: i64) -> BTreeMap<String, (String, Vec<String>)> {
    let mut con = server.connection(db).expect("connection");
    let names: Vec<String> = con
        .scan::<String>()
        .expect("scan")
        .collect::<Result<_, _>>()
        .expect("key names");
    names
        .into_iter()
        .map(|name| {
            let kind: String = redis::cmd("TYPE").arg(&name).query(&mut con).expect("type");
            let mut items: Vec<String> = match kind.as_str() {
                "hash" => {
                    let h: BTreeMap<String, String> = con.hgetall(&name).expect("hash");
                    h.into_iter().map(|(f, v)| format!("{f}={v}")).collect()
                }
                "set" => con.smembers(&name).expect("set"),
                "zset" => {
                    let z: Vec<(String, f64)> = con.zrange_withscores(&name, 0, -1).expect("zset");
                    z.into_iter().map(|(m, s)| format!("{s:?} {m}")).collect()
                }
                other => vec![other.to_string()],
            };
            if kind != "zset" {
                items.sort();
            }
            (name, (kind, items))
        })
        .collect()
}

#[test]
fn three_workers_write_what_one_process_writes_even_when_one_runs_again() {
    let Some(server) = Server::start() else {
        return;
    };
    let input = home_office();
    let one = kalipso(&["analyze", "--no-ui", "--redis", &server.url(0), &input]);
    assert!(
        one.status.success(),
        "{}",
        String::from_utf8_lossy(&one.stderr)
    );
    // worker 2 runs twice, as after a failure; the others write into the database it already
    // wrote (a worker does not refuse a database that holds keys)
    for k in ["2/3", "1/3", "2/3", "3/3"] {
        let out = kalipso(&[
            "analyze",
            "--no-ui",
            "--redis",
            &server.url(2),
            "--shard",
            k,
            &input,
        ]);
        assert!(
            out.status.success(),
            "{k}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (single, sharded) in [(0, 2), (1, 3)] {
        let (a, b) = (keyspace(&server, single), keyspace(&server, sharded));
        assert!(
            a.len() > usize::from(single == 0) * 10,
            "database {single}: {}",
            a.len()
        );
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
        for (name, value) in &a {
            assert!(b.get(name) == Some(value), "{name} differs");
        }
    }
    // emptying databases the other workers write into is refused
    let out = kalipso(&[
        "analyze",
        "--no-ui",
        "--redis",
        &server.url(2),
        "--redis-flush",
        "--shard",
        "1/3",
        &input,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--redis-flush with --shard"));
}

#[test]
fn a_cluster_node_whose_cluster_is_not_ready_is_one_clear_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let nodes = dir.path().join("nodes.conf");
    let Some(server) = Server::start_with(&[
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        &nodes.to_string_lossy(),
    ]) else {
        return;
    };
    let (url, input) = (
        format!("redis://127.0.0.1:{}/0", server.port),
        home_office(),
    );
    for args in [
        vec!["analyze", "--no-ui", "--redis", &url, &input],
        vec!["open", &url, "--no-ui"],
    ] {
        let out = kalipso(&args);
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("Redis Cluster that is not ready"),
            "{stderr}"
        );
    }
}

#[test]
fn the_run_script_starts_the_workers_and_names_a_failed_one() {
    let Some(server) = Server::start() else {
        return;
    };
    let input = home_office();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/shard-run.sh");
    let logs = tempfile::tempdir().expect("temp dir");
    let run = |url: &str| {
        Command::new("bash")
            .arg(&script)
            .args(["3", url, &input])
            .env("KALIPSO", env!("CARGO_BIN_EXE_kalipso"))
            .env("LOGDIR", logs.path())
            .output()
            .expect("bash runs")
    };
    let one = kalipso(&["analyze", "--no-ui", "--redis", &server.url(0), &input]);
    assert!(one.status.success());
    let out = run(&server.url(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for k in 1..=3 {
        assert!(stdout.contains(&format!("worker {k}/3: done")), "{stdout}");
    }
    for (single, sharded) in [(0, 2), (1, 3)] {
        assert_eq!(keyspace(&server, single), keyspace(&server, sharded));
    }
    // an unreachable server: every worker fails, and the script says how to re-run each
    let out = run("redis://127.0.0.1:1/0");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--only 2 3"), "{stderr}");
}

/// `open redis://` with the UI: the database is read behind the landing screen, so what was
/// skipped is known only then; it is said after the UI closes and gives exit code 2, as every
/// other path does. Driven through `script` (util-linux), which gives the UI a terminal.
#[test]
fn the_ui_path_of_open_redis_says_a_skipped_flow_and_exits_2() {
    let Some(server) = Server::start() else {
        return;
    };
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("note: no `script` on this machine, the terminal test is skipped");
        return;
    }
    let url = server.url(4);
    let out = kalipso(&["analyze", "--no-ui", "--redis", &url, &home_office()]);
    assert!(out.status.success());
    let mut con = server.connection(4).unwrap();
    let key: String = con
        .keys::<_, Vec<String>>("profile_*_timewindow*_flows")
        .unwrap()
        .into_iter()
        .min()
        .unwrap();
    let _: () = con.hset(&key, "Cgarbage", "{broken").unwrap();
    // the UI quits on `q`; after 4 seconds the tiny database is long analysed
    let line = format!(
        "{} open {url}",
        env!("CARGO_BIN_EXE_kalipso").replace('\'', "'\\''")
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "(sleep 4; printf q) | script -eqfc '{line}' /dev/null"
        ))
        .env("TERM", "xterm")
        .output()
        .expect("script runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("Cgarbage: not a flow"), "{text}");
}

/// The dump's keys of one profile: `profile_<ip>`, `twsprofile_<ip>` and every
/// `profile_<ip>_timewindow<N>…`, each with its value's text.
pub(crate) fn keys_of_profile(dump: &Json, ip: &str) -> BTreeMap<String, String> {
    let (own, grid) = (format!("profile_{ip}"), format!("twsprofile_{ip}"));
    let windows = format!("profile_{ip}_timewindow");
    dump["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            let k = e["key"].as_str().unwrap();
            k == own || k == grid || k.starts_with(&windows)
        })
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_string(),
                e["value"].to_string(),
            )
        })
        .collect()
}

/// A piece of evidence as the report words it: window, kind, description.
type Worded = (i64, String, String);

/// What the UI shows of a profile before the whole database is read: the profile analysed
/// alone from its own keys. Its keys must be the whole reading's, and so must its evidence,
/// except what needs other profiles' records, which the test counts:
/// - `ConnectionWithoutDNS` can be missing: the rule needs the whole input's DNS answers
///   (whether there are any, and whether any profile resolved the destination);
/// - `UnknownPort` to a UDP port can be extra: whether a connection is peer-to-peer traffic is
///   decided over the whole input's connections, which exempts it.
///
/// Inputs: the shipped example, a capture, the hourly-rotated rita day (thousands of outside
/// hosts on two servers), and two Stratosphere Zeek scenarios; up to 40 profiles of each,
/// spread over the list.
#[test]
fn a_profile_read_and_analysed_alone_has_the_keys_of_the_whole_reading() {
    let Some(server) = Server::start() else {
        return;
    };
    let mut inputs = vec![home_office()];
    for rel in [
        "slips/pcap/test7-malicious.pcap",
        "rita/rotated-2024-04-19",
        "stratosphere-security-datasets/002-zeek-scenario-port-scanning",
        "stratosphere-security-datasets/008-zeek-mixed",
    ] {
        if let Some(p) = crate::corpus::path(rel) {
            inputs.push(p.display().to_string());
        }
    }
    let (mut missing_no_dns, mut extra_udp_unknown, mut same) = (0, 0, 0);
    for (db, input) in inputs.iter().enumerate() {
        let url = server.url(2 * db as i64);
        succeeds(&["analyze", "--no-ui", "--quiet", "--redis", &url, input]);
        // the whole reading, as `open` analyses it
        let dir = tempfile::tempdir().unwrap();
        let (dump, report) = (dir.path().join("dump.json"), dir.path().join("report.json"));
        succeeds(&[
            "open",
            &url,
            "--no-ui",
            "--dump-redis",
            dump.to_str().unwrap(),
            "--json",
            report.to_str().unwrap(),
        ]);
        let whole: Json = serde_json::from_slice(&std::fs::read(&dump).unwrap()).unwrap();
        let report: Json = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        let windows = kalipso::input::slips_redis::windows(&url).unwrap();
        let step = windows.of.len().div_ceil(40);
        let mut compared = 0;
        for (ip, numbers) in windows.of.iter().step_by(step) {
            let alone = kalipso::analyse_stored_profile(&url, *ip, numbers).unwrap();
            let mut text = Vec::new();
            alone.store.dump_redis(&mut text).unwrap();
            let dump: Json = serde_json::from_slice(&text).unwrap();
            let (ours, theirs) = (
                keys_of_profile(&dump, &ip.to_string()),
                keys_of_profile(&whole, &ip.to_string()),
            );
            assert_eq!(
                ours.keys().collect::<Vec<_>>(),
                theirs.keys().collect::<Vec<_>>()
            );
            for (key, value) in &theirs {
                assert_eq!(&ours[key], value, "{input}: {key}");
            }
            compared += theirs.len();
            // (a report without evidence has no list)
            let theirs: Vec<Worded> = report["evidence_list"]
                .as_array()
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .filter(|e| e["profile"] == ip.to_string())
                .map(|e| {
                    let text = |k: &str| e[k].as_str().unwrap().to_string();
                    (
                        e["window"].as_i64().unwrap(),
                        text("kind"),
                        text("description"),
                    )
                })
                .collect();
            let ours: Vec<Worded> = alone
                .detections
                .evidence
                .iter()
                .filter(|e| e.profile == *ip)
                .map(|e| (e.window, e.kind.name().to_string(), e.description()))
                .collect();
            for e in &theirs {
                if ours.contains(e) {
                    same += 1;
                } else {
                    assert_eq!(e.1, "ConnectionWithoutDNS", "{input}: {ip} lacks {e:?}");
                    missing_no_dns += 1;
                }
            }
            for e in ours.iter().filter(|e| !theirs.contains(e)) {
                assert!(
                    e.1 == "UnknownPort" && e.2.contains("/UDP "),
                    "{input}: {ip} has more: {e:?}"
                );
                extra_udp_unknown += 1;
            }
        }
        assert!(compared > 5, "{input}: {compared} keys compared");
    }
    eprintln!(
        "one profile alone: {same} piece(s) of evidence as in the whole reading, \
         {missing_no_dns} ConnectionWithoutDNS missing, {extra_udp_unknown} UDP UnknownPort more"
    );
    assert!(same > 0);
}
