//! The commands behind the binary: `analyze` runs the pipeline and hands the [`crate::Analysis`] to the
//! outputs the user asked for (UI or report, JSON, Redis dump, alerts files); `generate` writes
//! benchmark inputs. Every message to the user goes through [`say`] (sanitised, never a panic).

use crate::analysis::{Options, analyze};
use crate::cli::{AnalyzeConfig, Cli, Command};
use crate::{detect, export, generate, report, text, ui};
use anyhow::Context as _;
use std::io::Write as _;
use std::process::ExitCode;

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
    let options = Options {
        paths: cfg.paths.clone(),
        profile: cfg.profile.clone(),
        timeouts: cfg.timeouts,
        detect: detect::DetectConfig {
            alert_threshold: cfg.alert_threshold,
            ti,
            whitelist,
        },
    };
    let analysis = pool.install(|| analyze(&options));
    if let Some(dir) = &cfg.output {
        export::alerts::write(&analysis.store, &analysis.detections, dir)
            .with_context(|| format!("cannot write alerts to '{}'", dir.display()))?;
    }

    for f in &analysis.input.files {
        if let Some(e) = &f.error {
            say(e);
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
    let records: u64 = analysis.input.records.values().sum();
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

    let report = report::Report::new(&analysis, cfg.top);
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
        pool.install(|| analysis.store.dump_redis(&mut w))?;
        w.flush()?;
    }
    let geo = ui::geo::Geo::open(&cfg.geoip);
    for w in &geo.warnings {
        say(format_args!("warning: {w}"));
    }
    if !cfg.no_ui && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        ui::run(&analysis, geo).context("terminal UI")?;
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(report.text().as_bytes())?;
        out.flush()?;
    }
    let had_errors = analysis.input.skipped > 0 || analysis.input.failed_files > 0;
    Ok(if had_errors {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
