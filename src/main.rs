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

fn main() -> ExitCode {
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
