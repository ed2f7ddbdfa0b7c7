#![allow(clippy::expect_used)]
//! Criterion benchmarks of the Zeek pipeline.
//!
//! - `input/zeek`: read and parse a generated conn.log (`Throughput::Elements` = lines).
//! - `input/pcap`: read a generated capture into connections and records (`Throughput::Bytes`).
//! - `profile/aggregate`: profiles, windows, tuples and letters for 1k/10k/100k flows, and the
//!   Slips aggregate fields of every window.
//! - `pipeline/end_to_end`: `kalipso::analyze` on a generated conn.log.
//!
//! Inputs are made by `kalipso::generate` in setup; each bench asserts what it processed.
//! `KALIPSO_BENCH_LINES` sets the size of the end-to-end input (default 1,000,000).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kalipso::profile::ProfileConfig;
use kalipso::profile::aggregate::{self, Family};
use std::path::{Path, PathBuf};

fn generated(dir: &Path, lines: u64) -> PathBuf {
    let path = dir.join(format!("conn-{lines}.log"));
    let file = std::fs::File::create(&path).expect("create bench input");
    let mut w = std::io::BufWriter::new(file);
    kalipso::generate::conn_log(&mut w, lines, 500, 24, 1).expect("generate");
    drop(w);
    path
}

/// A realistic conn.log (`kalipso generate --realistic`): 20,000 sources with skewed activity,
/// 300,000 destinations, real connection shapes, Zeek's write order.
fn realistic(dir: &Path, lines: u64) -> PathBuf {
    let path = dir.join(format!("realistic-{lines}.log"));
    let file = std::fs::File::create(&path).expect("create bench input");
    let mut w = std::io::BufWriter::new(file);
    let cfg = kalipso::generate::Realistic {
        lines,
        sources: 20_000,
        destinations: 300_000,
        hours: 12,
        seed: 1,
    };
    kalipso::generate::realistic_conn_log(&mut w, cfg).expect("generate");
    drop(w);
    path
}

/// Each stage on the realistic 1 M-line log: reading, profiles and store, detections, and the
/// whole pipeline.
fn stages_realistic(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let lines = 1_000_000;
    let path = realistic(dir.path(), lines);
    let paths = vec![path.clone()];
    let mut g = c.benchmark_group("realistic");
    g.throughput(Throughput::Elements(lines));
    g.sample_size(10);
    g.bench_function("input_1000000", |b| {
        b.iter(|| {
            let input = kalipso::input::read(&paths);
            assert_eq!(input.batch.conns.len() as u64, lines);
        });
    });
    g.bench_function("profile_store_1000000", |b| {
        b.iter_batched(
            || kalipso::input::read(&paths),
            |input| {
                let anchor = input.summary.span.map_or(0.0, |s| s.0);
                let store = kalipso::Store::build(input.batch, anchor, ProfileConfig::default());
                assert!(!store.profiles.is_empty());
            },
            criterion::BatchSize::PerIteration,
        );
    });
    let store = kalipso::analyze(&kalipso::Options::new([&path])).store;
    g.bench_function("detect_1000000", |b| {
        b.iter(|| {
            let d = kalipso::detect::run(&store, &kalipso::detect::DetectConfig::default());
            assert!(!d.evidence.is_empty());
        });
    });
    drop(store);
    g.bench_function("end_to_end_1000000", |b| {
        b.iter(|| {
            let a = kalipso::analyze(&kalipso::Options::new([&path]));
            assert_eq!(a.store.conns.len() as u64, lines);
        });
    });
    g.finish();
}

fn input_zeek(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let lines = 200_000;
    let path = generated(dir.path(), lines);
    let mut g = c.benchmark_group("input/zeek");
    g.throughput(Throughput::Elements(lines));
    g.sample_size(10);
    g.bench_function("conn_tsv_200k", |b| {
        b.iter(|| {
            let input = kalipso::input::read(std::slice::from_ref(&path));
            assert_eq!(input.batch.conns.len() as u64, lines);
        });
    });
    g.finish();
}

fn input_pcap(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows: u64 = std::env::var("KALIPSO_BENCH_FLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let path = dir.path().join("gen.pcap");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path).expect("create capture"));
    kalipso::generate::capture(&mut w, flows, 500, 0, 1).expect("generate capture");
    drop(w);
    let bytes = std::fs::metadata(&path).expect("size").len();
    let mut g = c.benchmark_group("input/pcap");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(10);
    g.bench_function(format!("generated_{flows}_flows"), |b| {
        b.iter(|| {
            let input = kalipso::input::read(std::slice::from_ref(&path));
            assert_eq!(input.batch.conns.len() as u64, flows);
        });
    });
    // read, decode, assemble, extract DNS/HTTP/TLS, profile and build the store
    g.bench_function(format!("end_to_end_{flows}_flows"), |b| {
        b.iter(|| {
            let a = kalipso::analyze(&kalipso::Options::new([&path]));
            assert_eq!(a.store.conns.len() as u64, flows);
        });
    });
    g.finish();
}

fn profile_aggregate(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut g = c.benchmark_group("profile/aggregate");
    g.sample_size(10);
    for flows in [1_000u64, 10_000, 100_000] {
        let path = generated(dir.path(), flows);
        let input = kalipso::input::read(&[path]);
        g.throughput(Throughput::Elements(flows));
        g.bench_with_input(BenchmarkId::new("profile", flows), &input, |b, input| {
            b.iter(|| {
                let profiles = kalipso::profile::build(
                    &input.batch,
                    &ProfileConfig::default(),
                    1_704_067_200.0,
                );
                let n: usize = profiles
                    .values()
                    .map(kalipso::profile::Profile::out_flows)
                    .sum();
                assert_eq!(n as u64, flows);
            });
        });
        let a = kalipso::analyze(&kalipso::Options::new([dir
            .path()
            .join(format!("conn-{flows}.log"))]));
        g.bench_with_input(
            BenchmarkId::new("all_fields", flows),
            &a.store,
            |b, store| {
                b.iter(|| {
                    let mut total = 0u64;
                    for p in store.profiles.values() {
                        for w in p.windows.values() {
                            for fam in Family::ALL {
                                let flows = if fam.is_server() {
                                    &w.in_flows
                                } else {
                                    &w.out_flows
                                };
                                for agg in aggregate::family(&store.conns, flows, fam).values() {
                                    total += agg.totals().iter().map(|t| t.1).sum::<u64>();
                                }
                            }
                        }
                    }
                    // every flow is counted once per client family
                    assert!(total >= 3 * flows);
                });
            },
        );
    }
    g.finish();
}

fn end_to_end(c: &mut Criterion) {
    let lines: u64 = std::env::var("KALIPSO_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = generated(dir.path(), lines);
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(lines));
    g.sample_size(10);
    g.bench_function(format!("end_to_end_{lines}"), |b| {
        b.iter(|| {
            let a = kalipso::analyze(&kalipso::Options::new([&path]));
            assert_eq!(a.store.conns.len() as u64, lines);
        });
    });
    g.finish();
}

/// One full frame of the main board and of the busiest view (out-tuples of the busiest window)
/// on a store with 100,000 profiles; and opening the UI (building the tree).
fn ui_render(c: &mut Criterion) {
    use ratatui::{Terminal, backend::TestBackend};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("conn.log");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    kalipso::generate::conn_log(&mut w, 300_000, 100_000, 2, 9).expect("generate");
    drop(w);
    let analysis = kalipso::analyze(&kalipso::Options::new([path]));
    let mut g = c.benchmark_group("ui");
    g.sample_size(20);
    g.bench_function("open_100k_profiles", |b| {
        b.iter(|| kalipso::ui::App::new(&analysis, kalipso::ui::geo::Geo::default()));
    });
    let mut app = kalipso::ui::App::new(&analysis, kalipso::ui::geo::Geo::default());
    let mut term = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    g.bench_function("render_frame_main_board", |b| {
        b.iter(|| {
            term.draw(|f| {
                kalipso::ui::draw::frame(f, &app);
            })
            .expect("draw");
        });
    });
    app.update(kalipso::ui::keys::Action::Open(
        kalipso::ui::keys::View::OutTuples,
    ));
    g.bench_function("render_frame_out_tuples", |b| {
        b.iter(|| {
            term.draw(|f| {
                kalipso::ui::draw::frame(f, &app);
            })
            .expect("draw");
        });
    });
    app.update(kalipso::ui::keys::Action::Open(
        kalipso::ui::keys::View::DstIpsClient,
    ));
    g.bench_function("render_frame_dst_ips", |b| {
        b.iter(|| {
            term.draw(|f| {
                kalipso::ui::draw::frame(f, &app);
            })
            .expect("draw");
        });
    });
    g.finish();
}

/// All detections (evidence, beacons, alerts) on the store of a 1M-line log.
fn detections(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let lines = 1_000_000;
    let path = generated(dir.path(), lines);
    let store = kalipso::analyze(&kalipso::Options::new([path])).store;
    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(lines));
    g.sample_size(10);
    g.bench_function("run_1000000", |b| {
        b.iter(|| {
            let d = kalipso::detect::run(&store, &kalipso::detect::DetectConfig::default());
            assert!(!d.evidence.is_empty());
        });
    });
    g.finish();
}

criterion_group!(
    benches,
    stages_realistic,
    detections,
    ui_render,
    input_zeek,
    input_pcap,
    profile_aggregate,
    end_to_end
);
criterion_main!(benches);
