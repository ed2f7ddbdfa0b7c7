//! kalipso turns Zeek logs into the behavioural picture of the Stratosphere Linux IPS (Slips):
//! profiles per IP, time windows, behavioural letters and a store laid out like Slips' Redis
//! database — thousands of times faster than Slips, with no external services.
//!
//! ```text
//! paths ──► input ──► records ──► profile ──► store ──► report / --json / --dump-redis
//!           │ Zeek dir / log (TSV or JSON, .gz, rotated names) → Conn/Dns/Http/Ssl
//!           │ (packet captures: a later stage, producing the same records)
//! ```
//!
//! Modules, in data-flow order: [`input`] finds and parses logs, [`record`] holds the typed
//! records, [`profile`] builds profiles, windows, tuples and letters, [`store`] keeps it all and
//! renders Slips' keyspace, [`report`] summarises it. [`cli`] is the command line, [`generate`] a
//! deterministic log generator for benchmarks.

pub mod cli;
pub mod detect;
pub mod flow;
pub mod generate;
pub mod input;
pub mod profile;
pub mod record;
pub mod report;
pub mod store;
pub mod text;
pub mod ui;

use anyhow::Context as _;
use cli::{AnalyzeConfig, Cli, Command};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
pub use store::Store;

/// Reads and profiles `paths`. This is the whole pipeline without any output.
///
/// ```
/// use kalipso::profile::ProfileConfig;
/// let store = kalipso::analyze(&["testdata/zeek/home-office-tsv".into()], &ProfileConfig::default());
/// assert_eq!(store.conns.len(), 26);
/// // the beacon of the example is strongly periodic after its first two flows
/// let tuples = store.hget("profile_192.168.1.10_timewindow1", "OutTuples").unwrap_or_default();
/// assert!(tuples.contains(r#""203.0.113.7-443-tcp": ["11,a,a,a,a,a,a,""#));
/// ```
pub fn analyze(paths: &[PathBuf], config: &profile::ProfileConfig) -> Store {
    analyze_with(paths, config, flow::Timeouts::default())
}

/// [`analyze`] with the flow timeouts used for packet captures.
pub fn analyze_with(
    paths: &[PathBuf],
    config: &profile::ProfileConfig,
    timeouts: flow::Timeouts,
) -> Store {
    analyze_detecting(paths, config, timeouts, &detect::DetectConfig::default())
}

/// [`analyze_with`] with detection settings (threat intelligence, whitelist, threshold).
pub fn analyze_detecting(
    paths: &[PathBuf],
    config: &profile::ProfileConfig,
    timeouts: flow::Timeouts,
    detect: &detect::DetectConfig,
) -> Store {
    let timings = std::env::var_os("KALIPSO_TIMINGS").is_some();
    let t = std::time::Instant::now();
    let input = input::read_with(paths, timeouts);
    if timings {
        eprintln!("timing: input {:?} (peak {})", t.elapsed(), peak_memory());
    }
    let t = std::time::Instant::now();
    let mut store = Store::build_from(input, config.clone());
    let td = std::time::Instant::now();
    store.detect(detect);
    if timings {
        eprintln!(
            "timing: detections {:?} ({} evidence)",
            td.elapsed(),
            store.detections.evidence.len()
        );
    }
    if timings {
        eprintln!(
            "timing: profile+store {:?} (peak {})",
            t.elapsed(),
            peak_memory()
        );
    }
    store
}

/// One `kalipso: …` line on stderr, through the sanitiser (paths and log excerpts may hold
/// control characters). A closed or full stderr is ignored: a message is never worth a panic.
pub fn say(message: impl std::fmt::Display) {
    let line = message.to_string();
    let _ = writeln!(std::io::stderr().lock(), "kalipso: {}", text::Clean(&line));
}

/// A `hint: …` line on stderr after a message, for a common mistake.
fn hint(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "hint: {text}");
}

/// The process's peak resident memory so far, as Linux reports it (for `KALIPSO_TIMINGS`).
fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Runs a parsed command line; returns the process exit code (0 ok, 2 input had errors).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Analyze(args) => run_analyze(&AnalyzeConfig::try_from(args)?),
        Command::Generate(g) => {
            let file = std::fs::File::create(&g.out)
                .with_context(|| format!("cannot create '{}'", g.out.display()))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
            if g.pcap {
                generate::capture(&mut w, g.lines, g.hosts, g.hours, g.seed)?;
            } else {
                generate::conn_log(&mut w, g.lines, g.hosts, g.hours, g.seed)?;
            }
            w.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_analyze(cfg: &AnalyzeConfig) -> anyhow::Result<ExitCode> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build()?;
    let ti = detect::ti::ThreatIntel::load(&cfg.ti);
    for w in &ti.warnings {
        say(format_args!("warning: {w}"));
    }
    let whitelist = detect::ti::Whitelist::load(&cfg.whitelist)
        .with_context(|| "cannot read the whitelist".to_string())?;
    let dcfg = detect::DetectConfig {
        alert_threshold: cfg.alert_threshold,
        ti,
        whitelist,
    };
    let store = pool.install(|| analyze_detecting(&cfg.paths, &cfg.profile, cfg.timeouts, &dcfg));
    if let Some(dir) = &cfg.output {
        detect::write_outputs(&store.detections, dir)
            .with_context(|| format!("cannot write alerts to '{}'", dir.display()))?;
    }

    for f in &store.input.files {
        if let Some(e) = &f.error {
            say(format_args!("{}: {e}", f.path));
        }
        for ex in &f.examples {
            say(ex);
        }
        if f.skipped > f.examples.len() as u64 {
            say(format_args!(
                "{}: {} more line(s) skipped",
                f.path,
                f.skipped - f.examples.len() as u64
            ));
        }
    }
    let records: u64 = store.input.records.values().sum();
    if records == 0 {
        let what: Vec<String> = cfg
            .paths
            .iter()
            .map(|p| format!("'{}'", p.display()))
            .collect();
        say(format_args!("nothing readable in {}", what.join(", ")));
        hint(
            "give a pcap/pcapng capture, a Zeek log directory, or a conn.log (TSV or JSON, optionally .gz)",
        );
        return Ok(ExitCode::from(2));
    }

    let report = report::Report::new(&store, cfg.top);
    if let Some(path) = &cfg.json {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create '{}'", path.display()))?;
        let mut w = std::io::BufWriter::new(file);
        serde_json::to_writer_pretty(&mut w, &report)?;
        w.flush()?;
    }
    if let Some(path) = &cfg.dump_redis {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create '{}'", path.display()))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        pool.install(|| store.dump_redis(&mut w))?;
        w.flush()?;
    }
    let geo = ui::geo::Geo::open(&cfg.geoip);
    for w in &geo.warnings {
        say(format_args!("warning: {w}"));
    }
    if !cfg.no_ui && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        ui::run(&store, geo).context("terminal UI")?;
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(report.text().as_bytes())?;
        out.flush()?;
    }
    let had_errors = store.input.skipped > 0 || store.input.failed_files > 0;
    Ok(if had_errors {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
