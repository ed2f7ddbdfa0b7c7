//! The `kalipso` binary: parse the command line, run, map errors to an exit code.
//!
//! Everything else lives in the library.

use clap::Parser as _;
use std::process::ExitCode;

// Millions of records are allocated in parallel and freed together; mimalloc keeps freed
// pages for reuse instead of returning them to the kernel and faulting them in again. Its
// transparent-huge-page hint is off (feature `no_thp`): with the common `defrag=madvise`
// setting every 2 MB fault may compact memory synchronously, which took 4–9 s of system time
// on a 5 M-line log (2 s with 4 kB pages) and made run times vary by half.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e`, mimalloc.h; the sys crate
/// does not name it for mimalloc 3). A test holds it to mimalloc 3's default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory stays resident before mimalloc gives it back, in milliseconds, for
/// each kind of work (see `kalipso::allocator`).
///
/// - Records: mimalloc 3 waits a second, and a stage of the analysis often takes less, so the
///   pages one stage freed (the reader's blocks, the letters' scratch maps, the rules' tables)
///   were still resident while the next allocated fresh ones, and the peak counted both: 10 MB
///   more at 1 M conn.log lines, 20–30 MB at 5 M. 10 ms (mimalloc 2's default) gives them back
///   in time at no measured cost; 0 doubled the system time.
/// - Packets: the flow assembler frees and allocates all the time, and pages given back after
///   10 ms were faulted in again: a third more system time on the realistic 1 GB capture. Its
///   peak stays under a gigabyte with mimalloc's own second.
fn purge_delay_ms(work: kalipso::allocator::Workload) -> std::ffi::c_long {
    match work {
        kalipso::allocator::Workload::Records => 10,
        kalipso::allocator::Workload::Packets => 1000,
    }
}

/// Sets the purge delay for `work`, unless the user chose one with `MIMALLOC_PURGE_DELAY`.
#[allow(unsafe_code)]
fn tune_allocator(work: kalipso::allocator::Workload) {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option of the allocator, which mimalloc allows at any time
        // from any thread; no memory is handed over.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, purge_delay_ms(work)) };
    }
}

fn main() -> ExitCode {
    tune_allocator(kalipso::allocator::Workload::Records);
    kalipso::allocator::set_tuner(tune_allocator);
    let cli = kalipso::cli::Cli::parse();
    match kalipso::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`kalipso analyze … | head`) is not an error.
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            kalipso::say(format_args!("{err:#}"));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[allow(unsafe_code)]
    fn the_purge_delay_option_is_the_one_set() {
        // mimalloc 3's purge delay defaults to 1000 ms, which no neighbouring option has: a
        // shifted option number would set something else
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // SAFETY: reads one integer option of the allocator.
            let delay = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
            assert_eq!(delay, 1000);
        }
    }
}
