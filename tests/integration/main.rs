//! End-to-end tests: one integration binary (ripgrep style) with a module per area.

mod cli;
mod conformance;
mod corpus;
mod fixtures;
mod inputs;
