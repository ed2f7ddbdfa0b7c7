//! `--shard K/N`: N workers over one input write exactly what one process writes. Their
//! `--dump-redis` files, merged as Redis merges their writes (each key's hash fields and set
//! members together), equal the one process's dump, and their alerts together are its alerts;
//! with a live `redis-server`, three workers (one of them run twice, as after a failure) leave
//! the keyspace one process leaves.

use crate::corpus;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const WORKERS: u32 = 3;

fn kalipso(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_kalipso"))
        .args(args)
        .output()
        .expect("kalipso runs");
    assert!(
        out.status.code().is_some_and(|c| c == 0 || c == 2),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A dump's keys, `(db, name) → (type, value)`.
type Keyspace = BTreeMap<(i64, String), (String, Json)>;

/// Runs `kalipso analyze input extra…` (with `--shard K/N` when given), and reads its dump and
/// its alerts.json lines.
fn analyse(
    input: &Path,
    extra: &[&str],
    shard: Option<&str>,
    dir: &Path,
) -> (Keyspace, Vec<String>) {
    let tag = shard.map_or_else(|| "all".to_string(), |s| s.replace('/', "of"));
    let dump = dir.join(format!("{tag}.json"));
    let alerts = dir.join(format!("{tag}-alerts"));
    let (input, dump_s, alerts_s) = (
        input.to_string_lossy(),
        dump.to_string_lossy(),
        alerts.to_string_lossy(),
    );
    let mut args = vec!["analyze", &*input, "--no-ui", "--dump-redis", &*dump_s];
    args.extend(["--output", &*alerts_s]);
    args.extend_from_slice(extra);
    if let Some(s) = shard {
        args.extend(["--shard", s]);
    }
    kalipso(&args);
    let dump: Json = serde_json::from_slice(&std::fs::read(&dump).expect("dump")).expect("json");
    let keys = dump["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|e| {
            (
                (
                    e["db"].as_i64().expect("db"),
                    e["key"].as_str().expect("key").to_string(),
                ),
                (
                    e["type"].as_str().expect("type").to_string(),
                    e["value"].clone(),
                ),
            )
        })
        .collect();
    let lines = std::fs::read_to_string(alerts.join("alerts.json")).unwrap_or_default();
    (keys, lines.lines().map(str::to_string).collect())
}

/// Adds one worker's keys to `into` as Redis would: a key no other worker wrote is taken
/// whole; a key several wrote (the global ones) gets the union of their fields or members,
/// and two workers writing one field with different values is a failure.
fn merge(into: &mut Keyspace, part: Keyspace, input: &Path) {
    for (key, (kind, value)) in part {
        let Some((have_kind, have)) = into.get_mut(&key) else {
            into.insert(key, (kind, value));
            continue;
        };
        assert_eq!(*have_kind, kind, "{}: {key:?}", input.display());
        match (have, value) {
            (Json::Object(have), Json::Object(more)) => {
                for (field, v) in more {
                    if let Some(old) = have.get(&field) {
                        assert_eq!(*old, v, "{}: {key:?} {field} differs", input.display());
                    }
                    have.insert(field, v);
                }
            }
            (Json::Array(have), Json::Array(more)) => {
                have.extend(more);
                have.sort_by_key(ToString::to_string);
                have.dedup();
            }
            (have, more) => panic!("{}: {key:?}: {have} and {more}", input.display()),
        }
    }
}

/// Sets compare as sets: their members sorted.
fn sorted_sets(mut keys: Keyspace) -> Keyspace {
    for (kind, value) in keys.values_mut() {
        if let (true, Json::Array(members)) = (kind == "set", value) {
            members.sort_by_key(ToString::to_string);
        }
    }
    keys
}

fn workers_give_one_process(input: &Path, extra: &[&str]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (one, mut one_alerts) = analyse(input, extra, None, dir.path());
    assert!(one.len() > 5, "{}: a real keyspace", input.display());
    let mut merged = Keyspace::new();
    let mut alerts = Vec::new();
    let mut profiles = Vec::new();
    for k in 1..=WORKERS {
        let (part, part_alerts) =
            analyse(input, extra, Some(&format!("{k}/{WORKERS}")), dir.path());
        profiles.push(
            part.keys()
                .filter(|k| k.1.starts_with("twsprofile_"))
                .count(),
        );
        merge(&mut merged, part, input);
        alerts.extend(part_alerts);
    }
    // every worker did a share of the profiles, none all of them
    let all = one
        .keys()
        .filter(|k| k.1.starts_with("twsprofile_"))
        .count();
    if all >= 10 {
        assert!(
            profiles.iter().all(|&n| n > 0 && n < all),
            "{profiles:?} of {all}"
        );
    }
    let (one, merged) = (sorted_sets(one), sorted_sets(merged));
    let missing: Vec<_> = one
        .keys()
        .filter(|k| !merged.contains_key(*k))
        .take(3)
        .collect();
    let extra_keys: Vec<_> = merged
        .keys()
        .filter(|k| !one.contains_key(*k))
        .take(3)
        .collect();
    assert!(
        missing.is_empty() && extra_keys.is_empty(),
        "{}: {missing:?} {extra_keys:?}",
        input.display()
    );
    for (key, value) in &one {
        assert!(
            merged.get(key) == Some(value),
            "{}: {key:?} differs",
            input.display()
        );
    }
    one_alerts.sort();
    alerts.sort();
    assert_eq!(one_alerts.len(), alerts.len(), "{}", input.display());
    assert!(
        one_alerts == alerts,
        "{}: the alerts differ",
        input.display()
    );
}

fn shipped(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn workers_over_the_shipped_examples_give_one_process() {
    for rel in [
        "testdata/zeek/home-office-tsv",
        "testdata/pcap/office-mix.pcap",
    ] {
        workers_give_one_process(&shipped(rel), &[]);
    }
}

#[test]
fn workers_over_corpus_datasets_give_one_process() {
    let Some(root) = corpus::root() else { return };
    let ti = root.join("slips/ti");
    let whitelist = root.join("slips/whitelist/whitelist.conf");
    let (ti, whitelist) = (ti.to_string_lossy(), whitelist.to_string_lossy());
    // the hourly-rotated day (24 conn and dns files), captures, and a Zeek directory with
    // threat intelligence, a whitelist and Slips' per-profile windows
    workers_give_one_process(&root.join("rita/rotated-2024-04-19"), &[]);
    workers_give_one_process(&root.join("slips/pcap/test7-malicious.pcap"), &[]);
    workers_give_one_process(&root.join("slips/pcap/test12-icmp-portscan.pcap"), &[]);
    workers_give_one_process(
        &root.join("slips/zeek/test10-mixed-zeek-dir"),
        &[
            "--ti",
            &ti,
            "--whitelist",
            &whitelist,
            "--tw-anchor",
            "profile",
            "--direction",
            "all",
        ],
    );
}

#[test]
fn a_bad_shard_is_one_clear_line() {
    let input = shipped("testdata/zeek/home-office-tsv");
    for (shard, words) in [("4/3", "K/N"), ("x", "K/N")] {
        let out = Command::new(env!("CARGO_BIN_EXE_kalipso"))
            .args([
                "analyze",
                &input.to_string_lossy(),
                "--no-ui",
                "--shard",
                shard,
            ])
            .output()
            .expect("kalipso runs");
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(words), "{stderr}");
    }
}
