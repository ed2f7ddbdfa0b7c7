//! The whole pipeline behind one call: [`analyze`] reads the input, profiles it into a
//! [`Store`] and runs the detections, and returns an [`Analysis`] that every output reads.
//!
//! It prints nothing (except stage timings when `KALIPSO_TIMINGS` is set) and writes no file;
//! the outputs (UI, report, exports) are the caller's.

use crate::detect::{self, DetectConfig, Detections};
use crate::flow::Timeouts;
use crate::input::{self, Input, InputSummary};
use crate::profile::ProfileConfig;
use crate::store::Store;
use std::path::PathBuf;
use std::time::Instant;

/// What to analyse, and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Captures, Zeek log directories or files.
    pub paths: Vec<PathBuf>,
    /// Profiler settings (window width and grid, direction, home network).
    pub profile: ProfileConfig,
    /// Flow inactivity timeouts, for packet captures.
    pub timeouts: Timeouts,
    /// Detection settings (threat intelligence, whitelist, alert threshold).
    pub detect: DetectConfig,
}

impl Options {
    /// Default settings for `paths`.
    pub fn new(paths: impl IntoIterator<Item = impl Into<PathBuf>>) -> Options {
        Options {
            paths: paths.into_iter().map(Into::into).collect(),
            ..Options::default()
        }
    }

    /// The same options with other profiler settings.
    #[must_use]
    pub fn profile(mut self, profile: ProfileConfig) -> Options {
        self.profile = profile;
        self
    }

    /// The same options with other flow timeouts.
    #[must_use]
    pub fn timeouts(mut self, timeouts: Timeouts) -> Options {
        self.timeouts = timeouts;
        self
    }

    /// The same options with other detection settings.
    #[must_use]
    pub fn detect(mut self, detect: DetectConfig) -> Options {
        self.detect = detect;
        self
    }
}

/// Everything one run found: what was read, the profiles, and what the detections made of them.
#[derive(Debug, Default)]
pub struct Analysis {
    /// What was read and skipped.
    pub input: InputSummary,
    /// Records and profiles, laid out like Slips' Redis.
    pub store: Store,
    /// Evidence, alerts, beacon scores and threat-intelligence hits.
    pub detections: Detections,
}

/// Reads, profiles and examines `options.paths`: the whole pipeline without any output.
///
/// ```
/// let a = kalipso::analyze(&kalipso::Options::new(["testdata/zeek/home-office-tsv"]));
/// assert_eq!(a.store.conns.len(), 26);
/// // the beacon of the example is strongly periodic after its first two flows
/// let tuples = a.store.hget("profile_192.168.1.10_timewindow1", "OutTuples").unwrap_or_default();
/// assert!(tuples.contains(r#""203.0.113.7-443-tcp": ["11,a,a,a,a,a,a,""#));
/// ```
pub fn analyze(options: &Options) -> Analysis {
    analyze_with(options, |_| {})
}

/// [`analyze`], handing the records to `on_input` once they are read and before the profiler
/// takes them (`--save` encodes them there).
pub fn analyze_with(options: &Options, on_input: impl FnOnce(&Input)) -> Analysis {
    let timings = std::env::var_os("KALIPSO_TIMINGS").is_some();
    let t = Instant::now();
    let input = input::read_with(&options.paths, options.timeouts);
    if timings {
        eprintln!("timing: input {:?} (peak {})", t.elapsed(), peak_memory());
    }
    on_input(&input);
    examine(input, options)
}

/// Profiles and examines records already read (by the input stage, or from a saved analysis).
pub fn examine(input: Input, options: &Options) -> Analysis {
    let timings = std::env::var_os("KALIPSO_TIMINGS").is_some();
    let t = Instant::now();
    let anchor = input.summary.span.map_or(0.0, |s| s.0);
    crate::progress::stage("profiles");
    let store = Store::build(input.batch, anchor, options.profile.clone());
    if timings {
        eprintln!("timing: store {:?} (peak {})", t.elapsed(), peak_memory());
    }
    crate::progress::stage("detections");
    let td = Instant::now();
    let detections = detect::run(&store, &options.detect);
    if timings {
        eprintln!(
            "timing: detections {:?} ({} evidence, peak {})",
            td.elapsed(),
            detections.evidence.len(),
            peak_memory()
        );
        eprintln!(
            "timing: profile+store {:?} (peak {})",
            t.elapsed(),
            peak_memory()
        );
    }
    Analysis {
        input: input.summary,
        store,
        detections,
    }
}

/// The process's peak resident memory so far and its resident memory now, as Linux reports
/// them (for `KALIPSO_TIMINGS`): memory the allocator kept after a stage shows as their gap.
/// Then its CPU time and minor page faults so far, from one read of `/proc/self/stat`.
pub(crate) fn peak_memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).map_or_else(
            || "unknown".to_string(),
            |l| l[name.len()..].trim().to_string(),
        )
    };
    let stat = stat_fields();
    format!(
        "{}, now {}; cpu {}; faults {}",
        field("VmHWM:"),
        field("VmRSS:"),
        cpu_seconds(&stat),
        minor_faults(&stat)
    )
}

/// The fields of `/proc/self/stat` after the command name (which is in parentheses and may
/// hold spaces): field `n` of `proc(5)` is at `n - 3`.
fn stat_fields() -> Vec<String> {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after.split_whitespace().map(str::to_string).collect()
}

/// The process's minor page faults so far (`minflt`): each is a page touched for the first
/// time, or again after it was given back, and on a virtual machine they are a large share
/// of the system time.
fn minor_faults(stat: &[String]) -> String {
    stat.get(7)
        .map_or_else(|| "unknown".to_string(), String::clone)
}

/// The process's CPU time so far (user and system, all threads): the gap between two stages'
/// figures, against the wall time between them, shows how well a stage keeps the cores busy.
fn cpu_seconds(stat: &[String]) -> String {
    let ticks: Vec<u64> = stat
        .iter()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    match ticks[..] {
        // Linux counts in USER_HZ, 100 per second on every architecture it exposes
        [user, system] => format!("{:.2} s", (user + system) as f64 / 100.0),
        _ => "unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fault_count_grows_when_fresh_memory_is_touched() {
        let count = || {
            super::minor_faults(&super::stat_fields())
                .parse::<u64>()
                .ok()
        };
        let before = count();
        assert!(
            before.is_some(),
            "minflt read as {:?}",
            super::minor_faults(&super::stat_fields())
        );
        // 40 MiB written, 10,240 pages: above the 32 MiB that glibc's malloc (the tests'
        // allocator) may take from its heap, so the pages are always new
        let fresh = vec![1u8; 40 << 20];
        std::hint::black_box(&fresh);
        assert!(
            count() >= before.map(|b| b + 1000),
            "{before:?} then {:?}",
            count()
        );
    }
}
