//! The state every handler and server function reads, built once at start-up.

use super::config::Config;
use super::crypto::{self, Crypto, KeySource};
use crate::error::AppError;
use crate::store::{self, Store};
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

const KEY_CHECK: &str = "master_key_check";

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Arc<Store>,
    pub crypto: Arc<Crypto>,
    pub config: Arc<Config>,
    /// A password hash verified when an unknown email logs in, so unknown users and
    /// wrong passwords take the same time.
    pub dummy_hash: Arc<str>,
    /// Permits for argon2 work (see `auth::check_password`): half the cores, at least one.
    pub password_work: Arc<tokio::sync::Semaphore>,
    /// How many argon2 verifications and hashes this process has run (for tests and
    /// operators: a flood of guesses must not raise it beyond the rate limit).
    pub password_checks: Arc<std::sync::atomic::AtomicU64>,
    /// How many password checks are waiting or running (see `auth::PasswordSlot`).
    pub password_queue: Arc<std::sync::atomic::AtomicUsize>,
    /// Each account's secret writes in its current minute (see
    /// `secrets::count_write`): (minute started at, writes).
    pub write_counts: Arc<parking_lot::Mutex<std::collections::HashMap<i64, (i64, i64)>>>,
    /// The one-time code of the setup link, while this instance has no account yet.
    pub setup_code: Arc<std::sync::Mutex<Option<String>>>,
}

impl AppState {
    /// Opens the database, loads the master key and checks it against the database.
    /// Refuses (with a message for the operator) when the key does not match.
    pub async fn open(config: Config) -> Result<Self, String> {
        let (key, key_file) = (config.master_key.clone(), config.master_key_file.clone());
        Self::open_with_key(config, key, key_file).await
    }

    /// [`AppState::open`] with the key settings given explicitly instead of read from
    /// the environment (`key`: base64 of 32 bytes; `key_file`: a file holding that).
    pub async fn open_with_key(
        config: Config,
        key: Option<String>,
        key_file: Option<String>,
    ) -> Result<Self, String> {
        let (key, source) = crypto::load_master_key(key, key_file, &config.data_dir)?;
        if let KeySource::Generated(path) = &source {
            eprintln!(
                "WARNING: no master key was configured, so a new one was generated at {path}.\n\
                 WARNING: every secret is encrypted with it: back it up, and set \
                 CLOAKROOM_MASTER_KEY or CLOAKROOM_MASTER_KEY_FILE in production."
            );
        }
        let crypto = Crypto::new(&key);
        drop(key);
        let store = store::open(&config.database_url, config.db_pool_size).await?;
        Self::check_key(store.as_ref(), &crypto, &source).await?;
        let dummy_hash = super::crypto::hash_password("not a real password, only for timing")
            .map_err(|_| "could not initialise password hashing".to_string())?;
        let mut leptos_options = LeptosOptions::builder()
            .output_name("cloakroom")
            .site_root(config.site_root.as_str())
            .site_pkg_dir("pkg")
            .build();
        leptos_options.site_addr = config.site_addr;
        let state = Self {
            leptos_options,
            store,
            crypto: Arc::new(crypto),
            config: Arc::new(config),
            dummy_hash: dummy_hash.into(),
            password_work: Arc::new(tokio::sync::Semaphore::new(password_workers())),
            password_checks: Arc::default(),
            password_queue: Arc::default(),
            write_counts: Arc::default(),
            setup_code: Arc::default(),
        };
        upgrade_macs(&state)
            .await
            .map_err(|e| format!("could not upgrade the stored value MACs: {e}"))?;
        Ok(state)
    }

    /// Whether the database answers (for `/healthz`).
    pub async fn check_database(&self) -> Result<(), AppError> {
        self.store.ping().await
    }

    /// Compares the key with the check value stored with the database. An empty
    /// database gets this key's check value in one atomic insert-if-absent, so of two
    /// instances started together with different keys exactly one serves.
    async fn check_key(store: &Store, crypto: &Crypto, source: &KeySource) -> Result<(), String> {
        let db_err = |e: AppError| format!("could not read the database: {e}");
        let check = match store.get_meta(KEY_CHECK).await.map_err(db_err)? {
            Some(check) => check,
            None => {
                let mine = crypto.key_check().map_err(|e| e.to_string())?;
                store.init_meta(KEY_CHECK, &mine).await.map_err(db_err)?
            }
        };
        if crypto.verify_key_check(&check) {
            return Ok(());
        }
        Err(format!(
            "the master key ({}) does not match the one this database was created with; \
             refusing to start rather than serve unreadable secrets",
            match source {
                KeySource::Env => "from CLOAKROOM_MASTER_KEY".to_string(),
                KeySource::File(p) | KeySource::Generated(p) => format!("from {p}"),
            }
        ))
    }
}

/// How many argon2 computations may run at once: half the cores (at least one), so
/// sign-ins can never take all of the machine.
fn password_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() / 2)
        .unwrap_or(1)
        .max(1)
}

/// The app state inside a server function or a page render.
pub fn app_state() -> Result<AppState, AppError> {
    leptos::prelude::use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the Leptos context");
        AppError::Internal
    })
}

/// Meta key recording that every stored MAC is a full one.
const FULL_MACS: &str = "value_macs_full";

/// Recomputes the short MACs of a database from before security round 3 from the
/// sealed values, in batches (a crash resumes where it stopped: a row is upgraded or
/// not), then records that none are left so later starts skip the scan. Runs before
/// the server answers, so no decision is ever made on a short MAC.
pub(crate) async fn upgrade_macs(state: &AppState) -> Result<usize, AppError> {
    use crate::store::macs::Table;
    if state.store.get_meta(FULL_MACS).await?.is_some() {
        return Ok(0);
    }
    let mut upgraded = 0;
    for table in Table::ALL {
        loop {
            let batch = state.store.short_macs(table, 500).await?;
            if batch.is_empty() {
                break;
            }
            let mut macs = Vec::with_capacity(batch.len());
            for row in &batch {
                let value = state
                    .crypto
                    .open(row.org_id, &row.sealed_for, &row.key, &row.sealed)?;
                macs.push((row, state.crypto.value_mac(row.org_id, &value)));
            }
            state.store.set_macs(table, &macs).await?;
            upgraded += batch.len();
        }
    }
    state.store.init_meta(FULL_MACS, b"1").await?;
    if upgraded > 0 {
        tracing::info!(values = upgraded, "stored value MACs upgraded to full length");
    }
    Ok(upgraded)
}
