//! Progress on stderr while a long analysis runs: the input's bytes read of the total, with the
//! rate and the time left, then each analysis stage by name.
//!
//! The readers only add to a counter ([`read`]) and the pipeline names its stage ([`stage`]);
//! a separate thread draws the bar a few times a second, so the work itself pays one relaxed
//! atomic add per block read. Nothing is drawn unless [`Progress::start`] was called, which
//! the command does only when stderr is a terminal and `--quiet` is not given.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Input bytes read so far (compressed bytes for gzip: the sizes on disk are the total).
static BYTES: AtomicU64 = AtomicU64::new(0);
/// The input's total size in bytes, once the inputs are known (0: not known, e.g. a pipe).
static TOTAL: AtomicU64 = AtomicU64::new(0);
/// The stage being worked on.
static STAGE: Mutex<&str> = Mutex::new("reading");

/// Counts `n` input bytes as read.
pub fn read(n: usize) {
    BYTES.fetch_add(n as u64, Ordering::Relaxed);
}

/// Sets the input's total size, when every input is a file of known size.
pub fn total(bytes: u64) {
    TOTAL.store(bytes, Ordering::Relaxed);
}

/// Names the stage the pipeline has reached.
pub fn stage(name: &'static str) {
    *STAGE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = name;
}

/// A reader that counts what it reads as input progress.
pub struct Counted<R>(pub R);

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        read(n);
        Ok(n)
    }
}

/// The drawing thread; the bar is cleared when this is dropped.
pub struct Progress {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Starts drawing on stderr.
    pub fn start() -> Progress {
        let done = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&done);
        let thread = std::thread::spawn(move || {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let style = |t: &str| {
                ProgressStyle::with_template(t)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ")
            };
            let sized = "{msg:10} [{bar:24}] {bytes}/{total_bytes} {bytes_per_sec} {eta}";
            let open_ended = "{msg:10} {spinner} {bytes} {bytes_per_sec}";
            let working = "{msg:10} {spinner} {elapsed}";
            bar.set_style(style(open_ended));
            let mut shown = "";
            while !stop.load(Ordering::Relaxed) {
                let now = *STAGE
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if now == "reading" && bar.length().is_none() {
                    let total = TOTAL.load(Ordering::Relaxed);
                    if total > 0 {
                        bar.set_length(total);
                        bar.set_style(style(sized));
                    }
                }
                if now != shown {
                    if shown == "reading" {
                        bar.set_style(style(working));
                    }
                    bar.set_message(now);
                    shown = now;
                }
                bar.set_position(BYTES.load(Ordering::Relaxed));
                bar.tick();
                // woken early by `drop`, so the end of a run waits for no tick
                std::thread::park_timeout(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        });
        Progress {
            done,
            thread: Some(thread),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn a_counted_reader_adds_what_it_reads() {
        let before = BYTES.load(Ordering::Relaxed);
        let mut r = Counted(&[7u8; 10_000][..]);
        let mut sink = Vec::new();
        let n = r.read_to_end(&mut sink).unwrap_or(0);
        assert_eq!(n, 10_000);
        // other tests may read at the same time: at least ours is counted
        assert!(BYTES.load(Ordering::Relaxed) - before >= 10_000);
    }
}
