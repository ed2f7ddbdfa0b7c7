//! The commands behind the binary: `analyze` runs the pipeline and hands the [`crate::Analysis`] to the
//! outputs the user asked for (UI or report, JSON, Redis dump, alerts files); `generate` writes
//! benchmark inputs. Every message to the user goes through [`say`] (sanitised, never a panic).

use crate::analysis::{Options, analyze};
use crate::cli::{AnalyzeConfig, Cli, Command};
use crate::export::alerts::AlertFiles;
use crate::export::file::OutputFile;
use crate::export::redis_server::RedisTarget;
use crate::saved::meta::Settings;
use crate::{Analysis, detect, generate, report, text, ui};
use anyhow::Context as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::process::ExitCode;

/// One `kalipso: …` line on stderr, through the sanitiser (paths and log excerpts may hold
/// control characters). A closed or full stderr is ignored: a message is never worth a panic.
pub fn say(message: impl std::fmt::Display) {
    let line = message.to_string();
    let _ = writeln!(std::io::stderr().lock(), "kalipso: {}", text::Clean(&line));
}

/// `'a', 'b'` for messages.
fn quoted_paths(paths: &[std::path::PathBuf]) -> String {
    let quoted: Vec<String> = paths.iter().map(|p| format!("'{}'", p.display())).collect();
    quoted.join(", ")
}

/// A `hint: …` line on stderr after a message, for a common mistake.
fn hint(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "hint: {text}");
}

/// Runs a parsed command line; returns the process exit code: 0 when everything was read, 2
/// when some input was skipped or unreadable (or the command line is wrong, as clap says it),
/// 1 when kalipso itself failed (an output could not be written).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Analyze(args) => match AnalyzeConfig::try_from(args) {
            Ok(cfg) => run_analyze(&cfg, None),
            Err(e) => {
                say(format_args!("{e:#}"));
                Ok(ExitCode::from(2))
            }
        },
        Command::Open(args) => {
            let cfg = AnalyzeConfig::for_open(args);
            if let Some(url) = redis_url(&cfg.paths[0])
                && cfg.writes_nothing()
                && shows_ui(&cfg)
            {
                return show_redis(&cfg, url);
            }
            // the readers of a database follow --threads (rayon's pool size)
            let opened = rayon::ThreadPoolBuilder::new()
                .num_threads(cfg.threads)
                .build()?
                .install(|| open_source(&cfg.paths[0]));
            match opened {
                Ok(opened) => run_analyze(&cfg, Some(opened)),
                Err(e) => {
                    say(format_args!("{e:#}"));
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Evaluate(e) => run_evaluate(&e),
        Command::Generate(g) => {
            OutputFile::create(&g.out)?.write_with(|w| {
                if g.realistic {
                    let cfg = generate::Realistic {
                        lines: g.lines,
                        sources: g.hosts.unwrap_or(20_000),
                        destinations: g.destinations,
                        hours: g.hours.unwrap_or(12),
                        seed: g.seed,
                    };
                    generate::realistic_conn_log(w, cfg)
                } else {
                    let (hosts, hours) = (g.hosts.unwrap_or(500), g.hours.unwrap_or(24));
                    if g.pcap {
                        generate::capture(w, g.lines, hosts, hours, g.seed)
                    } else {
                        generate::conn_log(w, g.lines, hosts, hours, g.seed)
                    }
                }
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `kalipso evaluate`: analyses the paths with the default settings, then scores the result
/// against the labels of their conn logs.
fn run_evaluate(args: &crate::cli::EvaluateArgs) -> anyhow::Result<ExitCode> {
    let labels = crate::evaluate::read_labels(&args.paths)?;
    if labels.files.is_empty() {
        say(format_args!(
            "no labelled conn log (a `label` column) in {}",
            quoted_paths(&args.paths)
        ));
        return Ok(ExitCode::from(2));
    }
    let json = args.json.as_deref().map(OutputFile::create).transpose()?;
    let analysis = analyze(&crate::Options::new(args.paths.iter().cloned()));
    let scores = crate::evaluate::evaluate(&analysis, &labels.flows);
    let mut out = std::io::stdout().lock();
    for f in &labels.files {
        writeln!(
            out,
            "labels: {}",
            crate::text::clean(&f.display().to_string())
        )?;
    }
    writeln!(
        out,
        "labelled flows: {} ({} line(s) skipped); evidence: {}, alerts: {}",
        labels.flows.len(),
        labels.skipped,
        analysis.detections.evidence.len(),
        analysis.detections.alerts.len()
    )?;
    out.write_all(crate::evaluate::text(&scores).as_bytes())?;
    if let Some(f) = json {
        f.write_with(|w| serde_json::to_writer_pretty(w, &scores).map_err(std::io::Error::from))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The Redis URL `kalipso open` names, if it names one.
fn redis_url(what: &std::path::Path) -> Option<String> {
    let text = what.to_string_lossy();
    (text.starts_with("redis://") || text.starts_with("rediss://")).then(|| text.into_owned())
}

/// Whether the run shows the terminal UI.
fn shows_ui(cfg: &AnalyzeConfig) -> bool {
    !cfg.no_ui && std::io::IsTerminal::is_terminal(&std::io::stdout())
}

/// What `kalipso open` names: a saved analysis, or a Redis database in Slips' layout.
fn open_source(what: &std::path::Path) -> anyhow::Result<crate::saved::Opened> {
    match redis_url(what) {
        Some(url) => open_redis(&url),
        None => crate::saved::open(what),
    }
}

/// A Redis database in Slips' layout, read whole, with the settings its layout implies.
fn open_redis(url: &str) -> anyhow::Result<crate::saved::Opened> {
    Ok(opened_from_redis(crate::input::slips_redis::read(url)?))
}

/// One profile of a Redis database in Slips' layout, analysed from the records its windows
/// `windows` list ([`crate::input::slips_redis::read_profile`]), with the settings the
/// layout implies: what the UI shows of a profile before the whole database is read. Its own
/// windows, tuples, aggregates and timeline are the whole analysis's (for a log in time order);
/// evidence that needs other profiles' records can be missing.
pub fn analyse_stored_profile(url: &str, ip: IpAddr, windows: &[i64]) -> anyhow::Result<Analysis> {
    let opened = opened_from_redis(crate::input::slips_redis::read_profile(url, ip, windows)?);
    let options = options_saved(vec![url.into()], &opened.settings);
    Ok(crate::analysis::examine(opened.input()?, &options))
}

/// What was read from a Redis database, with the settings its layout implies.
fn opened_from_redis(read: crate::input::slips_redis::FromRedis) -> crate::saved::Opened {
    let profile = crate::profile::ProfileConfig {
        tw_width: read.tw_width,
        anchor: if read.per_profile_grid {
            crate::profile::window::Anchor::Profile
        } else {
            crate::profile::window::Anchor::Global
        },
        anchors: if read.per_profile_grid {
            read.anchors
        } else {
            std::collections::BTreeMap::new()
        },
        ..crate::profile::ProfileConfig::default()
    };
    let detect = detect::DetectConfig::default();
    crate::saved::Opened::of_input(
        Settings {
            profile,
            timeouts: crate::flow::Timeouts::default(),
            alert_threshold: detect.alert_threshold,
            attack_alerts: detect.attack_alerts,
            ti: detect.ti,
            whitelist: detect.whitelist,
        },
        read.input,
    )
}

/// What to analyse and how: the command line's settings, or those a saved analysis was made
/// with.
fn options_of(
    cfg: &AnalyzeConfig,
    opened: Option<&crate::saved::Opened>,
) -> anyhow::Result<Options> {
    if let Some(o) = opened {
        return Ok(options_saved(cfg.paths.clone(), &o.settings));
    }
    let ti = detect::ti::ThreatIntel::load(&cfg.ti);
    for w in &ti.warnings {
        say(format_args!("warning: {w}"));
    }
    let whitelist = detect::ti::Whitelist::load(&cfg.whitelist)
        .with_context(|| "cannot read the whitelist".to_string())?;
    Ok(Options {
        paths: cfg.paths.clone(),
        profile: cfg.profile.clone(),
        timeouts: cfg.timeouts,
        detect: detect::DetectConfig {
            alert_threshold: cfg.alert_threshold,
            attack_alerts: cfg.attack_alerts,
            ti,
            whitelist,
        },
    })
}

/// The options an analysis read back was made with.
fn options_saved(paths: Vec<std::path::PathBuf>, s: &Settings) -> Options {
    Options {
        paths,
        profile: s.profile.clone(),
        timeouts: s.timeouts,
        detect: detect::DetectConfig {
            alert_threshold: s.alert_threshold,
            attack_alerts: s.attack_alerts,
            ti: s.ti.clone(),
            whitelist: s.whitelist.clone(),
        },
    }
}

/// The settings a saved analysis keeps.
fn settings_of(options: &Options) -> Settings {
    Settings {
        profile: options.profile.clone(),
        timeouts: options.timeouts,
        alert_threshold: options.detect.alert_threshold,
        attack_alerts: options.detect.attack_alerts,
        ti: options.detect.ti.clone(),
        whitelist: options.detect.whitelist.clone(),
    }
}

/// The output files of one run, created before the analysis starts.
struct Outputs {
    save: Option<OutputFile>,
    html: Option<OutputFile>,
    json: Option<OutputFile>,
    dump: Option<OutputFile>,
    alerts: Option<AlertFiles>,
    redis: Option<RedisTarget>,
}

impl Outputs {
    fn create(cfg: &AnalyzeConfig) -> anyhow::Result<Outputs> {
        Ok(Outputs {
            save: cfg.save.as_deref().map(OutputFile::create).transpose()?,
            html: cfg.html.as_deref().map(OutputFile::create).transpose()?,
            json: cfg.json.as_deref().map(OutputFile::create).transpose()?,
            dump: cfg
                .dump_redis
                .as_deref()
                .map(OutputFile::create)
                .transpose()?,
            alerts: cfg.output.as_deref().map(AlertFiles::create).transpose()?,
            redis: cfg
                .redis
                .as_deref()
                .map(|url| RedisTarget::connect(url, cfg.redis_flush, cfg.profile.shard.is_some()))
                .transpose()?,
        })
    }

    /// Writes every file; a failure is reported and does not stop the others. True when all
    /// were written.
    fn write(
        self,
        analysis: &Analysis,
        report: &report::Report<'_>,
        saved: Option<(
            anyhow::Result<crate::saved::SavedRecords>,
            crate::saved::views::Views,
        )>,
        geo: &ui::geo::Geo,
        pool: &rayon::ThreadPool,
    ) -> bool {
        let mut ok = true;
        let mut done = |r: anyhow::Result<()>| {
            if let Err(e) = r {
                say(format_args!("{e:#}"));
                ok = false;
            }
        };
        if let (Some(f), Some((records, views))) = (self.save, saved) {
            done(
                records.and_then(|r| pool.install(|| crate::saved::write(f, &r, analysis, &views))),
            );
        }
        if let Some(f) = self.html {
            done(f.write_with(|w| crate::export::html::write(w, analysis, geo)));
        }
        if let Some(f) = self.alerts {
            done(f.write(&analysis.store, &analysis.detections));
        }
        if let Some(f) = self.json {
            done(f.write_with(|w| serde_json::to_writer_pretty(w, report).map_err(Into::into)));
        }
        if let Some(f) = self.dump {
            done(f.write_with(|w| pool.install(|| analysis.store.dump_redis(w))));
        }
        if let Some(r) = self.redis {
            let url = r.url().to_string();
            done(pool.install(|| r.write(&analysis.store)).map(|w| {
                // the one line that says the store is there (a --shard run script reads it)
                say(format_args!(
                    "wrote {} key(s), {} field(s) into {url}",
                    w.keys, w.fields
                ));
            }));
        }
        ok
    }
}

/// `kalipso analyze` (`opened` is `None`: the paths are read) and `kalipso open` (the records
/// and settings of a saved analysis).
fn run_analyze(
    cfg: &AnalyzeConfig,
    opened: Option<crate::saved::Opened>,
) -> anyhow::Result<ExitCode> {
    let options = options_of(cfg, opened.as_ref())?;
    let shows_ui = shows_ui(cfg);
    // a saved analysis shows its saved report or landing screen at once when nothing else is
    // asked of it
    let opened = match opened {
        Some(o) if cfg.writes_nothing() => match show_saved(cfg, o, &options, shows_ui)? {
            Ok(code) => return Ok(code),
            Err(o) => Some(o),
        },
        o => o,
    };
    let opened = match opened.map(crate::saved::Opened::input).transpose() {
        Ok(input) => input,
        Err(e) => {
            say(format_args!("{e:#}"));
            return Ok(ExitCode::from(2));
        }
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build()?;
    crate::interrupt::watch();
    let outputs = Outputs::create(cfg)?;
    let progress = (!cfg.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .then(crate::progress::Progress::start);
    // --save encodes the records between reading and profiling (the profiler takes them)
    let mut saved = None;
    let mut keep = |input: &crate::input::Input| {
        if outputs.save.is_some() {
            saved = Some(crate::saved::encode_records(input, settings_of(&options)));
        }
    };
    let analysis = pool.install(|| match opened {
        Some(input) => {
            keep(&input);
            crate::analysis::examine(input, &options)
        }
        None => crate::analysis::analyze_with(&options, keep),
    });
    crate::progress::stage("report");
    let started = std::time::Instant::now();
    let timings = std::env::var_os("KALIPSO_TIMINGS").is_some();
    let detail = if cfg.json.is_some() {
        report::Detail::Everything
    } else if cfg.all {
        report::Detail::Alerts
    } else {
        report::Detail::Triage
    };
    let report = pool.install(|| report::Report::new(&analysis, cfg.top, detail));
    if timings {
        eprintln!(
            "timing: report built (peak {})",
            crate::analysis::peak_memory()
        );
    }
    let text = report.text(cfg.all);
    // the bar is cleared before anything else is said on stderr
    drop(progress);

    let read_any = say_what_was_read(&analysis.input, cfg);
    // the files asked for are written even then: they were created, and say what was tried
    let geo = open_geo(cfg);
    // the profiles' client traffic feeds both the saved overview and the UI: summed once
    let traffic = (outputs.save.is_some() || shows_ui)
        .then(|| pool.install(|| ui::overview::traffic(&analysis.store)));
    let views_started = std::time::Instant::now();
    let views = outputs.save.is_some().then(|| crate::saved::views::Views {
        made_by: env!("CARGO_PKG_VERSION").to_string(),
        report: crate::saved::views::SavedReport {
            top: cfg.top,
            all: cfg.all,
            text: text.clone(),
        },
        overview: traffic
            .as_ref()
            .map(|t| ui::overview::build(&analysis, t))
            .unwrap_or_default(),
        lands_on_overview: !analysis.detections.alerts.is_empty(),
    });
    if timings && views.is_some() {
        eprintln!("timing: saved views {:?}", views_started.elapsed());
    }
    let written = outputs.write(&analysis, &report, saved.zip(views), &geo, &pool);
    if timings {
        eprintln!(
            "timing: report and outputs {:?} (peak {})",
            started.elapsed(),
            crate::analysis::peak_memory()
        );
    }
    if !read_any {
        return Ok(nothing_readable(cfg, written));
    }
    if shows_ui {
        let traffic = traffic.unwrap_or_else(|| ui::overview::traffic(&analysis.store));
        ui::run(&analysis, geo, &traffic).context("terminal UI")?;
    } else {
        let started = std::time::Instant::now();
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
        if timings {
            eprintln!("timing: text report {:?}", started.elapsed());
        }
    }
    let code = exit_code(&analysis.input, written);
    // The process ends here: freeing millions of records one by one would only delay the exit
    // (a second on a 5 M-line log); the kernel takes the memory back at once.
    std::mem::forget(report);
    std::mem::forget(analysis);
    Ok(code)
}

/// Shows what a saved analysis saved for a run that writes no file: its text report (when
/// asked with the same `--top` and `--all`), or its landing screen while the records are
/// analysed again behind it. Gives the analysis back when it has nothing saved to show.
fn show_saved(
    cfg: &AnalyzeConfig,
    opened: crate::saved::Opened,
    options: &Options,
    shows_ui: bool,
) -> anyhow::Result<Result<ExitCode, crate::saved::Opened>> {
    let Some(views) = &opened.views else {
        return Ok(Err(opened));
    };
    if !shows_ui && let Some(text) = views.report(cfg.top, cfg.all) {
        if !say_what_was_read(&opened.summary, cfg) {
            return Ok(Ok(nothing_readable(cfg, true)));
        }
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
        return Ok(Ok(exit_code(&opened.summary, true)));
    }
    let Some(landing) = views.landing().filter(|_| shows_ui).map(<[_]>::to_vec) else {
        return Ok(Err(opened));
    };
    let summary = opened.summary.clone();
    if !say_what_was_read(&summary, cfg) {
        return Ok(Ok(nothing_readable(cfg, true)));
    }
    let options = options.clone();
    let opening = ui::loading::Opening::saved(landing);
    load_behind(cfg, opening, move || Ok((opened.input()?, options)))?;
    Ok(Ok(exit_code(&summary, true)))
}

/// `kalipso open redis://…` with the UI and no output file: the database's profiles and
/// windows are listed at once (a few round trips), while its flows are read and analysed.
fn show_redis(cfg: &AnalyzeConfig, url: String) -> anyhow::Result<ExitCode> {
    let windows = match crate::input::slips_redis::windows(&url) {
        Ok(w) => w,
        Err(e) => {
            say(format_args!("{e:#}"));
            return Ok(ExitCode::from(2));
        }
    };
    let mut con = crate::redis_node::Node::reach(&url, "")?;
    let preview: ui::loading::Fetch = Box::new(move |(ip, n)| {
        const SHOWN: usize = 200;
        let (total, entries) = crate::input::slips_redis::stored_timeline(&mut con, ip, n, SHOWN)
            .with_context(|| format!("Redis at '{}'", con.shown()))?;
        Ok(ui::loading::Preview {
            title: format!(
                "{ip} timewindow{n}: {} of {total} timeline entries as stored; the whole \
                 window opens when the analysis is ready",
                entries.len()
            ),
            lines: entries
                .iter()
                .flat_map(|e| ui::stored_timeline::lines(e))
                .collect(),
        })
    });
    let paths = cfg.paths.clone();
    let of = windows.of.clone();
    let at = url.clone();
    let threads = cfg.threads;
    let one_profile: ui::loading::OneProfile = std::sync::Arc::new(move |ip| {
        let numbers = of.get(&ip).map_or(&[][..], Vec::as_slice);
        // on --threads threads, as the whole analysis, not on rayon's global pool
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?
            .install(|| {
                let analysis = analyse_stored_profile(&at, ip, numbers)?;
                let traffic = ui::overview::traffic(&analysis.store);
                Ok((analysis, traffic))
            })
    });
    let opening = ui::loading::Opening::profiles(&windows, preview, one_profile);
    let read = load_behind(cfg, opening, move || {
        let opened = open_redis(&url)?;
        let options = options_saved(paths, &opened.settings);
        Ok((opened.input()?, options))
    })?;
    // what was read is known only once the database was: said after the UI, and a skipped
    // record gives exit code 2 as on every other path (quitting before then gives 0)
    Ok(match read {
        Some(summary) if !say_what_was_read(&summary, cfg) => nothing_readable(cfg, true),
        Some(summary) => exit_code(&summary, true),
        None => ExitCode::SUCCESS,
    })
}

/// Shows `opening` while `load` gives the records (on another thread) and they are analysed,
/// then the whole UI on the analysis. Returns what was read, when the analysis got that far
/// before the UI was quit.
fn load_behind(
    cfg: &AnalyzeConfig,
    opening: ui::loading::Opening,
    load: impl FnOnce() -> anyhow::Result<(crate::input::Input, Options)> + Send + 'static,
) -> anyhow::Result<Option<crate::input::InputSummary>> {
    let geo = open_geo(cfg);
    let (tx, rx) = std::sync::mpsc::channel();
    let threads = cfg.threads;
    // not joined: quitting before the analysis is ready ends the process, and this thread
    std::thread::spawn(move || {
        let analysis = (|| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()?;
            // (reading too: a database's readers follow the pool's size)
            pool.install(|| {
                let (input, options) = load()?;
                let analysis = crate::analysis::examine(input, &options);
                let traffic = ui::overview::traffic(&analysis.store);
                Ok((analysis, traffic))
            })
        })();
        let _ = tx.send(analysis);
    });
    ui::loading::run_while_loading(opening, geo, &rx).context("terminal UI")
}

/// The GeoIP databases of the command line (or the defaults), their warnings said.
fn open_geo(cfg: &AnalyzeConfig) -> ui::geo::Geo {
    let geo = ui::geo::Geo::open(&cfg.geoip);
    for w in &geo.warnings {
        say(format_args!("warning: {w}"));
    }
    geo
}

/// Says on stderr what went wrong reading the input: each file's error and skipped lines, and
/// an input that holds no IP traffic. False when nothing could be read at all.
fn say_what_was_read(summary: &crate::input::InputSummary, cfg: &AnalyzeConfig) -> bool {
    for f in &summary.files {
        if let Some(e) = &f.error {
            say(e);
        }
        for ex in &f.examples {
            say(ex);
        }
        if f.skipped > f.examples.len() as u64 {
            let what = if f.capture.is_some() {
                "packet(s)"
            } else {
                "line(s)"
            };
            // "in all": an example may be a header's note rather than a skipped line
            say(format_args!(
                "{}: {} {what} skipped in all",
                f.path, f.skipped
            ));
        }
    }
    let records: u64 = summary.records.values().sum();
    // an input that was read but holds no IP traffic (ARP only, an empty capture, a log with
    // headers only) is no failure: it is said, and the (empty) report follows
    let read_any = records > 0
        || summary
            .files
            .iter()
            .any(|f| f.error.is_none() && f.skipped == 0);
    if read_any && records == 0 {
        say(format_args!(
            "note: {} read, but holds no IP connection or log record",
            quoted_paths(&cfg.paths)
        ));
    }
    read_any
}

/// Says that nothing could be read, with a hint; the exit code for it.
fn nothing_readable(cfg: &AnalyzeConfig, written: bool) -> ExitCode {
    say(format_args!(
        "nothing readable in {}",
        quoted_paths(&cfg.paths)
    ));
    hint(
        "give a pcap/pcapng capture, a Zeek log directory, or a conn.log (TSV or JSON, optionally .gz)",
    );
    if written {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// 1 when an output could not be written, 2 when some input was skipped or unreadable, else 0.
fn exit_code(summary: &crate::input::InputSummary, written: bool) -> ExitCode {
    let had_errors = summary.skipped > 0 || summary.failed_files > 0 || summary.cut_files > 0;
    if !written {
        ExitCode::FAILURE
    } else if had_errors {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
