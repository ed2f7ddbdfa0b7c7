//! `--redis` and `kalipso open redis://` against a real 3-master Redis Cluster on loopback
//! ports (Debian's `redis-server` with `cluster-enabled yes`, joined by `redis-cli --cluster
//! create`; `.ci/run` installs both). Three `--shard` workers, each given a different node,
//! one of them killed and run again, leave in the cluster exactly the keys and values of one
//! process's `--dump-redis`, over the hourly-rotated rita day and over a capture cut into
//! hourly files.

use crate::corpus;
use redis::Commands as _;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const MASTERS: usize = 3;

/// Key name → (type, contents): hash fields as `f=v` and set members sorted, sorted-set
/// members in Redis' order as `score member`.
type Keyspace = BTreeMap<String, (String, Vec<String>)>;

/// Three masters of one cluster, stopped when dropped.
struct Cluster {
    nodes: Vec<Child>,
    ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts and joins one, or says why not and returns `None` (outside CI a machine without
    /// Redis skips these tests; `.ci/run` installs it).
    fn start() -> Option<Cluster> {
        let have = |tool: &str| Command::new(tool).arg("--version").output().is_ok();
        if !(have("redis-server") && have("redis-cli")) {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server or redis-cli is missing: .ci/run installs Debian's redis-server"
            );
            eprintln!("note: no redis-server on this machine, Redis Cluster tests skipped");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let ports = free_ports();
        let nodes = ports
            .iter()
            .map(|port| {
                let conf = dir.path().join(format!("nodes-{port}.conf"));
                Command::new("redis-server")
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    .args(["--save", "", "--appendonly", "no"])
                    .args(["--cluster-enabled", "yes", "--cluster-config-file"])
                    .arg(&conf)
                    .args(["--cluster-node-timeout", "5000"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("redis-server starts")
            })
            .collect();
        let cluster = Cluster {
            nodes,
            ports,
            _dir: dir,
        };
        let started = Instant::now();
        for port in &cluster.ports {
            while Self::info(*port).is_none() {
                assert!(started.elapsed() < Duration::from_secs(10), "node {port}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let addrs: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        // every node must see every slot served before the cluster takes writes
        for port in &cluster.ports {
            while !Self::info(*port).is_some_and(|i| i.contains("cluster_state:ok")) {
                assert!(started.elapsed() < Duration::from_secs(30), "cluster state");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Some(cluster)
    }

    fn url(&self, node: usize) -> String {
        format!("redis://127.0.0.1:{}/0", self.ports[node % MASTERS])
    }

    fn connection(port: u16) -> Option<redis::Connection> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/0")).ok()?;
        client
            .get_connection_with_timeout(Duration::from_secs(1))
            .ok()
    }

    fn info(port: u16) -> Option<String> {
        let mut con = Self::connection(port)?;
        redis::cmd("CLUSTER").arg("INFO").query(&mut con).ok()
    }

    fn flush(&self) {
        for port in &self.ports {
            let mut con = Self::connection(*port).expect("node");
            let () = redis::cmd("FLUSHALL").query(&mut con).expect("flush");
        }
    }

    /// Every key on every master (a key lives on one master only); and how many masters
    /// hold keys.
    fn keyspace(&self) -> (Keyspace, usize) {
        let mut all = Keyspace::new();
        let mut used = 0;
        for port in &self.ports {
            let mut con = Self::connection(*port).expect("node");
            let names: Vec<String> = con
                .scan::<String>()
                .expect("scan")
                .collect::<Result<_, _>>()
                .expect("names");
            used += usize::from(!names.is_empty());
            for name in names {
                let value = read_key(&mut con, &name);
                assert!(all.insert(name.clone(), value).is_none(), "{name} twice");
            }
        }
        (all, used)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
    }
}

/// Ports free a moment ago whose cluster bus ports (port + 10000) are free too.
fn free_ports() -> Vec<u16> {
    let mut held = Vec::new();
    let mut ports = Vec::new();
    while ports.len() < MASTERS {
        let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = l.local_addr().expect("address").port();
        if port < 55_000
            && let Ok(bus) = TcpListener::bind(("127.0.0.1", port + 10_000))
        {
            ports.push(port);
            held.push(bus);
        }
        held.push(l);
    }
    ports
}

fn read_key(con: &mut redis::Connection, name: &str) -> (String, Vec<String>) {
    let kind: String = redis::cmd("TYPE").arg(name).query(con).expect("type");
    let mut items: Vec<String> = match kind.as_str() {
        "hash" => {
            let h: BTreeMap<String, String> = con.hgetall(name).expect("hash");
            h.into_iter().map(|(f, v)| format!("{f}={v}")).collect()
        }
        "set" => con.smembers(name).expect("set"),
        "zset" => {
            let z: Vec<(String, f64)> = con.zrange_withscores(name, 0, -1).expect("zset");
            z.into_iter().map(|(m, s)| format!("{s:?} {m}")).collect()
        }
        other => vec![other.to_string()],
    };
    if kind != "zset" {
        items.sort();
    }
    (kind, items)
}

/// A `--dump-redis` file as the cluster holds it: one database (the cluster's 0, where
/// `IPsInfo` joins the analysis), and no empty key (Redis keeps none).
fn dump_keyspace(path: &Path) -> Keyspace {
    let dump: Json = serde_json::from_slice(&std::fs::read(path).expect("dump")).expect("json");
    let mut out = Keyspace::new();
    for e in dump["keys"].as_array().expect("keys") {
        let (name, kind, value) = (
            e["key"].as_str().expect("key").to_string(),
            e["type"].as_str().expect("type").to_string(),
            &e["value"],
        );
        let mut items: Vec<String> = match value {
            Json::Object(m) => m
                .iter()
                .map(|(f, v)| format!("{f}={}", v.as_str().expect("text")))
                .collect(),
            Json::Array(a) if kind == "zset" => a
                .iter()
                .map(|p| {
                    let score = p[1].as_f64().expect("score");
                    format!("{score:?} {}", p[0].as_str().expect("member"))
                })
                .collect(),
            Json::Array(a) => a
                .iter()
                .map(|m| m.as_str().expect("member").to_string())
                .collect(),
            other => panic!("{name}: {other}"),
        };
        if items.is_empty() {
            continue;
        }
        if kind != "zset" {
            items.sort();
        }
        assert!(out.insert(name.clone(), (kind, items)).is_none(), "{name}");
    }
    out
}

fn kalipso(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kalipso"))
        .args(args)
        .output()
        .expect("kalipso runs")
}

fn ok(args: &[&str]) -> Output {
    let out = kalipso(args);
    assert!(
        out.status.code().is_some_and(|c| c == 0 || c == 2),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Three workers, each given another node's URL, over `inputs`: worker 2 is killed while it
/// runs and started again; the cluster then holds one process's dump, spread over every master.
fn workers_into_the_cluster_give_one_process(cluster: &Cluster, inputs: &[PathBuf]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let dump = dir.path().join("one.json");
    let inputs: Vec<String> = inputs
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let mut args = vec!["analyze", "--no-ui", "--top", "1", "--dump-redis"];
    let dump_s = dump.to_string_lossy().into_owned();
    args.push(&dump_s);
    args.extend(inputs.iter().map(String::as_str));
    ok(&args);
    let want = dump_keyspace(&dump);
    assert!(want.len() > 20, "{inputs:?}: a real keyspace");

    cluster.flush();
    let worker = |k: usize| -> Vec<String> {
        let mut a: Vec<String> = ["analyze", "--no-ui", "--top", "1", "--redis"]
            .map(String::from)
            .to_vec();
        a.push(cluster.url(k));
        a.extend(["--shard".to_string(), format!("{}/{MASTERS}", k + 1)]);
        a.extend(inputs.iter().cloned());
        a
    };
    // worker 2 is killed as soon as it has started, as a failed host would leave it
    let mut killed = Command::new(env!("CARGO_BIN_EXE_kalipso"))
        .args(worker(1))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kalipso starts");
    std::thread::sleep(Duration::from_millis(30));
    let _ = killed.kill();
    let _ = killed.wait();
    for k in [0, 1, 2] {
        let args = worker(k);
        let out = ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("kalipso: wrote "), "{stderr}");
    }
    let (got, used) = cluster.keyspace();
    assert_eq!(used, MASTERS, "the keys are spread over every master");
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{inputs:?}: missing {missing:?}, extra {extra:?}"
    );
    for (name, value) in &want {
        assert!(got.get(name) == Some(value), "{inputs:?}: {name} differs");
    }
}

/// Cuts a classic pcap file into one file per hour of capture time (what `editcap -i 3600`
/// does), named in time order.
fn cut_hourly(pcap: &Path, dir: &Path) -> Vec<PathBuf> {
    let bytes = std::fs::read(pcap).expect("capture");
    let (header, mut rest) = bytes.split_at(24);
    let le = header[..4] == [0xd4, 0xc3, 0xb2, 0xa1];
    assert!(le, "a little-endian microsecond pcap");
    let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let mut files: Vec<(u32, Vec<u8>)> = Vec::new();
    while rest.len() >= 16 {
        let (secs, len) = (word(&rest[..4]), word(&rest[8..12]) as usize);
        let (packet, after) = rest.split_at(16 + len);
        let hour = secs / 3600;
        if files.last().is_none_or(|(h, _)| *h != hour) {
            files.push((hour, header.to_vec()));
        }
        files
            .last_mut()
            .expect("a file")
            .1
            .extend_from_slice(packet);
        rest = after;
    }
    files
        .into_iter()
        .enumerate()
        .map(|(i, (_, data))| {
            let path = dir.join(format!("hour-{i:02}.pcap"));
            std::fs::write(&path, data).expect("write");
            path
        })
        .collect()
}

#[test]
fn workers_fill_a_three_master_cluster_with_what_one_process_writes() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    // a capture of three hours that the project makes, cut into hourly files
    let dir = tempfile::tempdir().expect("temp dir");
    let capture = dir.path().join("three-hours.pcap");
    ok(&[
        "generate",
        "--pcap",
        "--lines",
        "3000",
        "--hosts",
        "40",
        "--hours",
        "3",
        "--out",
        &capture.to_string_lossy(),
    ]);
    let hours = cut_hourly(&capture, dir.path());
    assert!(hours.len() >= 3, "{} hourly files", hours.len());
    workers_into_the_cluster_give_one_process(&cluster, &hours);
    if let Some(root) = corpus::root() {
        // the rita day: conn, dns, http, ssl … logs rotated every hour, 96 files
        let day = root.join("rita/rotated-2024-04-19");
        workers_into_the_cluster_give_one_process(&cluster, &[day]);
    }
}

#[test]
fn open_reads_back_from_any_node_what_analyze_wrote() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let input = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/zeek/home-office-tsv")
        .to_string_lossy()
        .into_owned();
    let dir = tempfile::tempdir().expect("temp dir");
    let (one, back) = (dir.path().join("one.json"), dir.path().join("back.json"));
    let (one_s, back_s) = (one.to_string_lossy(), back.to_string_lossy());
    ok(&[
        "analyze",
        "--no-ui",
        "--redis",
        &cluster.url(0),
        "--dump-redis",
        &one_s,
        &input,
    ]);
    // a second run into the same cluster is refused, and --redis-flush empties every master
    let again = kalipso(&["analyze", "--no-ui", "--redis", &cluster.url(1), &input]);
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("--redis-flush"), "{stderr}");
    let flushed = ok(&[
        "analyze",
        "--no-ui",
        "--redis",
        &cluster.url(1),
        "--redis-flush",
        &input,
    ]);
    assert!(flushed.status.success());
    for node in 0..MASTERS {
        ok(&[
            "open",
            &cluster.url(node),
            "--no-ui",
            "--dump-redis",
            &back_s,
        ]);
        assert_eq!(
            std::fs::read(&one).expect("one"),
            std::fs::read(&back).expect("back"),
            "read back through node {node}"
        );
    }
    // the UI's landing screen lists the profiles and windows of twsprofile_<ip> at once
    let windows = kalipso::input::slips_redis::windows(&cluster.url(2)).expect("windows");
    let dump: Json = serde_json::from_slice(&std::fs::read(&one).expect("one")).expect("json");
    let mut want: BTreeMap<std::net::IpAddr, Vec<i64>> = BTreeMap::new();
    for e in dump["keys"].as_array().expect("keys") {
        let Some(ip) = e["key"]
            .as_str()
            .and_then(|k| k.strip_prefix("twsprofile_"))
        else {
            continue;
        };
        let mut numbers: Vec<i64> = e["value"]
            .as_array()
            .expect("zset")
            .iter()
            .filter_map(|pair| pair[0].as_str()?.strip_prefix("timewindow")?.parse().ok())
            .collect();
        numbers.sort_unstable();
        want.insert(ip.parse().expect("ip"), numbers);
    }
    assert!(!want.is_empty());
    assert_eq!(windows.of, want);
    // a profile opened alone (the UI's first view of it) reads its keys from whichever
    // masters hold them, and has the keys one process wrote
    for (ip, numbers) in &windows.of {
        let alone = kalipso::analyse_stored_profile(&cluster.url(1), *ip, numbers)
            .expect("one profile alone");
        let mut text = Vec::new();
        alone.store.dump_redis(&mut text).expect("dump");
        let alone: Json = serde_json::from_slice(&text).expect("json");
        let of = |d: &Json| crate::redis_server::keys_of_profile(d, &ip.to_string());
        assert!(!of(&dump).is_empty(), "{ip}");
        assert_eq!(of(&alone), of(&dump), "{ip} alone");
    }
    // a cluster has database 0 only: another is one clear line
    let url = cluster.url(2).replace("/0", "/3");
    let out = kalipso(&["open", &url, "--no-ui"]);
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("database 0 only"), "{stderr}");
}
