//! Everything that only runs on the server: configuration, crypto, storage, sessions,
//! the REST API and the axum router.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod deployments;
pub mod orgs;
pub mod pull_secrets;
pub mod rest;
pub mod router;
pub mod secrets;
pub mod state;
pub mod store;

/// Current time in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
