//! The domain: who may do what with secrets, sets, deployments and organizations. It
//! seals and opens values, keeps the history and writes the audit log, on top of
//! [`crate::store`]; the web floor ([`crate::web`]) and the server functions call it.

pub mod audit;
pub mod auth;
pub mod compare;
pub mod config;
pub mod crypto;
pub mod deployments;
pub mod history;
pub mod orgs;
pub mod principal;
pub mod pull_secrets;
pub mod secrets;
pub mod setup;
pub mod state;

/// Current time in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
