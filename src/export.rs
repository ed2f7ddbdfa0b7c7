//! Files other tools read: [`alerts`] writes Slips' `alerts.log` and `alerts.json`; [`mod@file`]
//! creates the output files the user named before the analysis starts; [`redis_server`] writes
//! the store into a running Redis. The Redis dump in Slips' layout is rendered by
//! [`crate::store::redis`], next to the keyspace it mirrors.
//!
//! Nothing here analyses: exports only write what an analysis holds.

pub mod alerts;
pub mod file;
pub mod html;
pub mod redis_server;
