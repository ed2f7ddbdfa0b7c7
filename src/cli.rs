//! Command line: clap derive `Cli` (what the user typed) → validated [`AnalyzeConfig`].
//!
//! It only parses and validates; running a command is [`crate::run`]'s job.

use crate::profile::window::Anchor;
use crate::profile::{Direction, ProfileConfig, default_home_net};
use clap::{Args, Parser, Subcommand, ValueEnum};
use ipnet::IpNet;
use std::path::PathBuf;

/// What the exit code says, for `--help`.
const EXIT_CODES: &str = "Exit codes: 0 everything was read (an input without IP traffic too); 2 some \
input was skipped, cut short or unreadable, or the command line is wrong; 1 kalipso failed (an output could \
not be written).";

/// kalipso: the behavioural picture of a network capture, in seconds.
#[derive(Debug, Parser)]
#[command(
    name = "kalipso",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run; boxing buys nothing
pub enum Command {
    /// Analyse captures or Zeek logs: profiles per IP, time windows, behavioural letters.
    ///
    /// PATH may be a packet capture (pcap or pcapng, optionally gzipped), a Zeek log directory
    /// (searched recursively, rotated .gz logs and captures included), a single log (TSV or
    /// JSON, optionally gzipped), or several of these; `-` (or a FIFO, `/dev/stdin`, `<(…)`)
    /// reads a capture or log from a pipe, e.g. `tcpdump -w - | kalipso analyze -`.
    Analyze(AnalyzeArgs),
    /// Open an analysis saved with `kalipso analyze --save FILE` (the same UI, report and
    /// exports as the run that saved it, without reading its input again), or a Redis database
    /// in Slips' layout, written by `--redis` or by Slips v1.0.0 itself (`redis://HOST:PORT/N`).
    Open(OpenArgs),
    /// Write a deterministic synthetic conn.log (for benchmarks).
    Generate(GenerateArgs),
    /// Measure the detections against labelled Zeek conn logs (`label` column, as
    /// Stratosphere's datasets have it): TP, FP, FN, precision, recall and F1 per source IP and
    /// time window, for alerts and for any evidence. The labels are read beside the analysis,
    /// never by it.
    Evaluate(EvaluateArgs),
}

/// `kalipso evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Labelled Zeek log directories or conn logs (analysed with the default settings).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Also write the scores as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// `--tw-anchor`: the command line's names for [`Anchor`] (the profiler knows nothing of clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnchorArg {
    /// One grid for all profiles, anchored at the first record of the input.
    Global,
    /// Each profile's grid starts at that profile's first record (Slips v1.0.0).
    Profile,
}

impl From<AnchorArg> for Anchor {
    fn from(a: AnchorArg) -> Anchor {
        match a {
            AnchorArg::Global => Anchor::Global,
            AnchorArg::Profile => Anchor::Profile,
        }
    }
}

/// `--direction`: the command line's names for [`Direction`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DirectionArg {
    /// Source IPs get profiles; destinations inside the home network also get their server side.
    Out,
    /// Every IP gets both sides.
    All,
}

impl From<DirectionArg> for Direction {
    fn from(d: DirectionArg) -> Direction {
        match d {
            DirectionArg::Out => Direction::Out,
            DirectionArg::All => Direction::All,
        }
    }
}

/// `kalipso analyze`.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES)]
#[allow(clippy::struct_excessive_bools)] // command-line switches
pub struct AnalyzeArgs {
    /// Captures, Zeek log directories or files; `-` for standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Time-window width in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3600.0)]
    pub tw_width: f64,
    /// Window grid: one for all profiles (global), or one per profile starting at its first
    /// record, as Slips v1.0.0 numbered windows (profile).
    #[arg(long, value_enum, default_value_t = AnchorArg::Global)]
    pub tw_anchor: AnchorArg,
    /// Which IPs get a server side (incoming flows, in-tuples): `out` gives it to destinations in
    /// the home network, `all` to every IP.
    #[arg(long, value_enum, default_value_t = DirectionArg::Out)]
    pub direction: DirectionArg,
    /// Home network, comma-separated CIDRs [default: private and unique-local ranges].
    #[arg(long, value_name = "CIDR,...", value_delimiter = ',')]
    pub home_net: Vec<String>,
    /// TCP inactivity timeout for packet captures, seconds (Zeek's default).
    #[arg(long, value_name = "SECS", default_value_t = 300.0)]
    pub tcp_timeout: f64,
    /// UDP inactivity timeout for packet captures, seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub udp_timeout: f64,
    /// ICMP inactivity timeout for packet captures, seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub icmp_timeout: f64,
    /// Alert threshold: Σ threat level × confidence of a window's evidence per minute of window
    /// width (Slips v1.0.0: 0.1, i.e. 6 for one-hour windows).
    #[arg(long, value_name = "X", default_value_t = 0.1)]
    pub alert_threshold: f64,
    /// Let kalipso's attack rules (inbound probes from outside, login brute force, unanswered
    /// attempts to a dead C2) count only toward the threshold, as Slips' own rules do, instead
    /// of alerting on their own.
    #[arg(long)]
    pub no_attack_alerts: bool,
    /// Threat intelligence: a file or directory of Slips TI CSVs (IPs, ranges, domains, JA3)
    /// or plain one-per-line lists (repeatable).
    #[arg(long, value_name = "PATH")]
    pub ti: Vec<PathBuf>,
    /// A whitelist in Slips' format (`ip|domain,value,direction,alerts|both`; repeatable).
    #[arg(long, value_name = "FILE")]
    pub whitelist: Vec<PathBuf>,
    /// Save the analysis to FILE (records, settings, input summary, evidence and alerts), to
    /// be opened again with `kalipso open FILE`.
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    /// Be worker K of N analysing the same input: compute and write only the profiles and
    /// global fields whose address falls to this worker (by a hash of the address), so that N
    /// workers writing into one Redis (`--redis`, into databases the others may already have
    /// written) give exactly what one process gives.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// What the run shows and writes.
    #[command(flatten)]
    pub show: ShowArgs,
}

/// What a run shows and writes: the same for `analyze` and `open`.
#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)] // command-line switches
pub struct ShowArgs {
    /// Worker threads (0 = one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Print the text report instead of opening the terminal UI (the report is also printed
    /// when stdout is not a terminal).
    #[arg(long)]
    pub no_ui: bool,
    /// No progress bar (it is drawn on stderr only when stderr is a terminal).
    #[arg(long, short)]
    pub quiet: bool,
    /// A MaxMind-format GeoIP database (City, Country or ASN; repeat for several). Default:
    /// `KALIPSO_GEOIP` (paths separated by `:`), else the `.mmdb` files in /usr/share/GeoIP,
    /// /var/lib/GeoIP and /usr/local/share/GeoIP.
    #[arg(long, value_name = "FILE")]
    pub geoip: Vec<PathBuf>,
    /// Write `alerts.log` and `alerts.json` (Slips' formats) into DIR.
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Also write the report as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the store in Slips' Redis layout (JSON dump) to FILE.
    #[arg(long, value_name = "FILE")]
    pub dump_redis: Option<PathBuf>,
    /// Write a one-file HTML report (ranked suspects, activity over time, beacons, a map of
    /// destinations) to FILE: everything inline, nothing fetched when it is opened.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the store into a running Redis, in Slips' layout: the analysis in database N,
    /// `IPsInfo` in N+1 (the keys and values of `--dump-redis`). Both must be empty.
    #[arg(long, value_name = "redis://HOST:PORT/N")]
    pub redis: Option<String>,
    /// Empty the two `--redis` databases before writing instead of refusing non-empty ones.
    #[arg(long, requires = "redis")]
    pub redis_flush: bool,
    /// How many of the busiest profiles the report details.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// Print every alert with its evidence in the text report (it is bounded without).
    #[arg(long)]
    pub all: bool,
}

/// `kalipso open`.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES)]
pub struct OpenArgs {
    /// A file written by `kalipso analyze --save`, or `redis://HOST:PORT/N`.
    #[arg(value_name = "FILE|redis://HOST:PORT/N")]
    pub file: PathBuf,
    /// Save the analysis again to FILE (e.g. after a kalipso update).
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    /// Be worker K of N analysing the same input: compute and write only the profiles and
    /// global fields whose address falls to this worker (by a hash of the address), so that N
    /// workers writing into one Redis (`--redis`, into databases the others may already have
    /// written) give exactly what one process gives.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// What the run shows and writes.
    #[command(flatten)]
    pub show: ShowArgs,
}

/// `kalipso generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of conn.log lines.
    #[arg(long, default_value_t = 1_000_000)]
    pub lines: u64,
    /// Internal client hosts; with `--realistic`, source IPs (90 % internal) [default: 500;
    /// realistic: 20000].
    #[arg(long)]
    pub hosts: Option<u32>,
    /// Hours of traffic (with `--pcap`, 0 packs the flows as densely as a busy link) [default:
    /// 24; realistic: 12].
    #[arg(long)]
    pub hours: Option<u32>,
    /// A realistic conn.log: many sources with skewed activity, hundreds of thousands of
    /// destinations, connection shapes from real Zeek rows, Zeek's write-at-end order.
    #[arg(long, conflicts_with = "pcap")]
    pub realistic: bool,
    /// Destination IPs of `--realistic`.
    #[arg(long, default_value_t = 300_000, requires = "realistic")]
    pub destinations: u32,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write a pcap capture instead of a conn.log (`--lines` is then the number of connections).
    #[arg(long)]
    pub pcap: bool,
    /// Output file.
    #[arg(long, short)]
    pub out: PathBuf,
}

/// Validated analysis settings.
#[derive(Debug, Clone)]
#[allow(clippy::struct_excessive_bools)] // command-line switches
pub struct AnalyzeConfig {
    /// Inputs.
    pub paths: Vec<PathBuf>,
    /// Profiler settings.
    pub profile: ProfileConfig,
    /// Flow timeouts for packet captures.
    pub timeouts: crate::flow::Timeouts,
    /// Worker threads (0 = auto).
    pub threads: usize,
    /// Print the report, no UI.
    pub no_ui: bool,
    /// No progress bar.
    pub quiet: bool,
    /// GeoIP databases named on the command line.
    pub geoip: Vec<PathBuf>,
    /// Alert threshold per minute of window width.
    pub alert_threshold: f64,
    /// Whether kalipso's attack evidence alerts on its own.
    pub attack_alerts: bool,
    /// Threat-intelligence paths.
    pub ti: Vec<PathBuf>,
    /// Whitelist files.
    pub whitelist: Vec<PathBuf>,
    /// Directory for alerts.log / alerts.json.
    pub output: Option<PathBuf>,
    /// JSON report file.
    pub json: Option<PathBuf>,
    /// Redis dump file.
    pub dump_redis: Option<PathBuf>,
    /// HTML report file.
    pub html: Option<PathBuf>,
    /// A running Redis to write the store into (`redis://HOST:PORT/N`).
    pub redis: Option<String>,
    /// Empty the `--redis` databases first.
    pub redis_flush: bool,
    /// Busiest profiles in the report.
    pub top: usize,
    /// Every alert in the text report.
    pub all: bool,
    /// Where to save the analysis.
    pub save: Option<PathBuf>,
}

impl AnalyzeConfig {
    /// True when the run writes no file and no database: it only shows (UI or text report).
    pub fn writes_nothing(&self) -> bool {
        self.output.is_none()
            && self.json.is_none()
            && self.dump_redis.is_none()
            && self.html.is_none()
            && self.redis.is_none()
            && self.save.is_none()
    }

    /// The settings of `kalipso open`: what to show and write comes from the command line; the
    /// analysis settings are the saved file's (the caller puts them in).
    pub fn for_open(a: OpenArgs) -> AnalyzeConfig {
        AnalyzeConfig {
            paths: vec![a.file],
            profile: ProfileConfig::default(),
            timeouts: crate::flow::Timeouts::default(),
            alert_threshold: 0.1,
            attack_alerts: true,
            ti: Vec::new(),
            whitelist: Vec::new(),
            save: a.save,
            ..AnalyzeConfig::show(a.show)
        }
    }

    /// Default analysis settings with what to show and write.
    fn show(s: ShowArgs) -> AnalyzeConfig {
        AnalyzeConfig {
            paths: Vec::new(),
            profile: ProfileConfig::default(),
            timeouts: crate::flow::Timeouts::default(),
            threads: s.threads,
            no_ui: s.no_ui,
            quiet: s.quiet,
            geoip: s.geoip,
            alert_threshold: 0.1,
            attack_alerts: true,
            ti: Vec::new(),
            whitelist: Vec::new(),
            output: s.output,
            json: s.json,
            dump_redis: s.dump_redis,
            html: s.html,
            redis: s.redis,
            redis_flush: s.redis_flush,
            top: s.top,
            all: s.all,
            save: None,
        }
    }
}

impl TryFrom<AnalyzeArgs> for AnalyzeConfig {
    type Error = anyhow::Error;

    fn try_from(a: AnalyzeArgs) -> anyhow::Result<Self> {
        if !(a.tw_width.is_finite() && a.tw_width > 0.0) {
            anyhow::bail!(
                "--tw-width must be a positive number of seconds, got '{}'",
                a.tw_width
            );
        }
        if !(a.alert_threshold.is_finite() && a.alert_threshold > 0.0) {
            anyhow::bail!(
                "--alert-threshold must be a positive number, got '{}'",
                a.alert_threshold
            );
        }
        let home_net = if a.home_net.is_empty() {
            default_home_net()
        } else {
            a.home_net
                .iter()
                .filter(|s| !s.trim().is_empty())
                .map(|s| parse_net(s.trim()))
                .collect::<anyhow::Result<Vec<IpNet>>>()?
        };
        for (name, v) in [
            ("--tcp-timeout", a.tcp_timeout),
            ("--udp-timeout", a.udp_timeout),
            ("--icmp-timeout", a.icmp_timeout),
        ] {
            if !(v.is_finite() && v > 0.0) {
                anyhow::bail!("{name} must be a positive number of seconds, got '{v}'");
            }
        }
        if a.shard.is_some() && a.show.redis_flush {
            anyhow::bail!(
                "--redis-flush with --shard would empty what the other workers wrote: empty the \
                 databases once, before the workers start"
            );
        }
        Ok(AnalyzeConfig {
            timeouts: crate::flow::Timeouts {
                tcp: a.tcp_timeout,
                udp: a.udp_timeout,
                icmp: a.icmp_timeout,
            },
            paths: a.paths,
            profile: ProfileConfig {
                tw_width: a.tw_width,
                anchor: a.tw_anchor.into(),
                direction: a.direction.into(),
                home_net_source: if a.home_net.is_empty() {
                    crate::profile::HomeNetSource::PrivateRanges
                } else {
                    crate::profile::HomeNetSource::Given
                },
                home_net,
                shard: a
                    .shard
                    .as_deref()
                    .map(crate::shard::Shard::parse)
                    .transpose()
                    .map_err(|e| anyhow::anyhow!(e))?,
                ..ProfileConfig::default()
            },
            alert_threshold: a.alert_threshold,
            attack_alerts: !a.no_attack_alerts,
            ti: a.ti,
            whitelist: a.whitelist,
            save: a.save,
            ..AnalyzeConfig::show(a.show)
        })
    }
}

/// Parses a CIDR, or a bare address as a /32 or /128.
fn parse_net(s: &str) -> anyhow::Result<IpNet> {
    if let Ok(n) = s.parse::<IpNet>() {
        return Ok(n);
    }
    s.parse::<std::net::IpAddr>()
        .map(IpNet::from)
        .map_err(|_| anyhow::anyhow!("--home-net: '{s}' is not a CIDR (e.g. 192.168.0.0/16)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> anyhow::Result<AnalyzeConfig> {
        let mut v = vec!["kalipso", "analyze", "x"];
        v.extend_from_slice(extra);
        let cli = Cli::try_parse_from(v)?;
        let Command::Analyze(a) = cli.command else {
            anyhow::bail!("not analyze")
        };
        AnalyzeConfig::try_from(a)
    }

    #[test]
    fn home_net_and_width_are_validated() -> anyhow::Result<()> {
        let c = args(&["--home-net", "10.0.0.0/8,192.168.1.5", "--tw-width", "60"])?;
        assert_eq!(c.profile.home_net.len(), 2);
        assert_eq!(c.profile.home_net[1].to_string(), "192.168.1.5/32");
        assert!((c.profile.tw_width - 60.0).abs() < f64::EPSILON);
        assert!(args(&["--home-net", "nonsense"]).is_err());
        assert!(args(&["--tw-width", "0"]).is_err());
        assert_eq!(args(&[])?.profile.home_net.len(), 4);
        assert_eq!(
            args(&["--shard", "2/3"])?.profile.shard.map(|s| s.index),
            Some(1)
        );
        assert!(args(&["--shard", "4/3"]).is_err());
        Ok(())
    }
}
