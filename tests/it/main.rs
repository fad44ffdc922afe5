//! The integration tests, in one binary (one link of the server instead of one per
//! suite): each module is a suite, run on a real SQLite file and a real PostgreSQL
//! database. `cargo test --features ssr --test it MODULE::` runs one suite.

#[macro_use]
mod common;

mod authz;
mod cli;
mod compare;
mod deployments;
mod hardening;
mod history;
mod layers;
mod multi_instance;
mod openapi;
mod orgs;
mod pull_secrets;
mod rest;
mod round3;
mod store;
