//! Everything that only runs on the server: configuration, crypto, storage, sessions,
//! the REST API and the axum router.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod compare;
pub mod config;
pub mod crypto;
pub mod deployments;
pub mod history;
pub mod orgs;
pub mod pg_tls;
pub mod pull_secrets;
pub mod rest;
pub mod router;
pub mod secrets;
pub mod setup;
pub mod state;
pub mod store;

/// Current time in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Creates `dir` (and missing parents) readable by this user only (0700 on Unix) from
/// the moment it exists; an existing directory is left as it is.
pub fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates the empty file `path` readable by this user only (0600 on Unix) if it does
/// not exist yet; an existing file is left as it is.
pub fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).map(drop)
}
