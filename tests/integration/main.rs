#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::too_many_arguments
)]
//! End-to-end tests: one integration binary (ripgrep style) with a module per area.

mod attacks;
mod captures;
mod cli;
mod conformance;
mod corpus;
mod detect;
mod dhcp;
mod evaluate;
mod fixtures;
mod html;
mod inputs;
mod never_worse;
mod output_safety;
mod pcap;
mod reassembly;
mod redis_cluster;
mod redis_server;
mod saved;
mod shard;
mod smtp;
mod ssh;
mod tunnels;
mod ui;
