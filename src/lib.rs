//! kalipso turns a network capture or Zeek logs into the behavioural picture of the Stratosphere
//! Linux IPS (Slips): profiles per IP, time windows, behavioural letters, a store laid out like
//! Slips' Redis database, evidence and alerts — in seconds, with no external services.
//!
//! ```text
//! paths ──► input ──► flow (captures only) ──► record::Batch ──► profile ──► store ──► detect
//!           │ pcap/pcapng (.gz) → packets → connections + DNS/HTTP/TLS records
//!           │ Zeek dir / log (TSV or JSON, .gz, rotated names) → the same records
//!                                                                                │
//!                                  Analysis { input summary, store, detections } ◄┘
//!                                                     │
//!                      ui (terminal)   report (text, JSON)   export (alerts.log/json)
//!                                                            store::redis (--dump-redis)
//! ```
//!
//! Modules, in data-flow order:
//! - [`input`] finds files, sniffs formats and reads Zeek logs; captures go through [`flow`],
//!   which assembles packets into connections with Zeek's semantics and knows nothing of input;
//! - [`record`] holds the typed records and the [`record::Batch`] that carries them;
//! - [`profile`] builds profiles, windows, tuples and letters;
//! - [`store`] keeps it all and renders Slips' keyspace; it knows nothing of detections;
//! - [`detect`] reads the store and yields evidence and alerts;
//! - `analysis` runs those stages as one call, [`analyze`], and returns an [`Analysis`];
//! - the outputs read an `Analysis`: [`ui`], `report`, [`export`]; [`text`] is the one
//!   sanitiser every network string passes on its way to a terminal or a text file;
//! - [`saved`] keeps the records and settings of a run in one file (`--save`) and reads them
//!   back (`kalipso open`), where `analysis` profiles and examines them again.
//!
//! [`cli`] is the command line, `command` runs it, [`generate`] writes deterministic
//! benchmark inputs.

pub mod allocator;
mod analysis;
pub mod cli;
mod command;
pub mod detect;
pub mod evaluate;
pub mod export;
pub mod flow;
pub mod generate;
pub mod input;
mod interrupt;
mod prefetch;
pub mod profile;
pub mod progress;
pub mod record;
pub mod redis_node;
pub(crate) mod report;
mod rng;
pub mod saved;
pub mod shard;
pub mod store;
pub mod text;
pub mod ui;

pub use analysis::{Analysis, Options, analyze, analyze_with, examine};
pub use command::{analyse_stored_profile, run, say};
pub use store::Store;
