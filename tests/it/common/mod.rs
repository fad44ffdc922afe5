//! Shared set-up for integration tests: a real server on a free port over a fresh
//! database — a real SQLite file, or a new PostgreSQL database that is dropped after
//! the test — plus a user and an API token made the way the admin command makes them.
#![allow(dead_code, reason = "each test binary uses a different part of this module")]
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use base64::Engine;
use cloakroom::domain::auth;
use cloakroom::domain::config::Config;
use cloakroom::domain::principal::Principal;
use cloakroom::domain::state::AppState;
use cloakroom::model::Role;
use std::sync::atomic::{AtomicUsize, Ordering};
use tempfile::TempDir;

pub const PASSWORD: &str = "a-long-test-password";

/// Which storage a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each listed `async fn name(backend: Backend)` once per backend, as
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::common::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::common::Backend::Postgres).await })*
        }
    };
}

/// The PostgreSQL server tests use (`postgres` user, trust auth on this machine kind).
pub fn pg_admin_url() -> String {
    std::env::var("CLOAKROOM_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn key_b64(seed: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([seed; 32])
}

/// A fresh database for one test: a temp dir (always: data dir and SQLite file) and,
/// for PostgreSQL, a database of its own that is dropped when this is dropped.
pub struct TestDb {
    pub backend: Backend,
    pub dir: TempDir,
    pub url: String,
    pg_name: Option<String>,
}

/// SQL that takes out migrations 11 (the search index of names) and 12 (full value
/// MACs, quotas) but not their record in the schema version, for tests that rebuild an
/// older database.
pub fn undo_search_index(backend: Backend) -> String {
    let round3 = "DROP TABLE org_usage; \
         ALTER TABLE secrets RENAME COLUMN value_mac TO fingerprint; \
         ALTER TABLE secret_history RENAME COLUMN value_mac TO fingerprint; \
         ALTER TABLE deployment_env RENAME COLUMN value_mac TO fingerprint; ";
    let search = match backend {
        Backend::Sqlite => {
            "DROP TRIGGER secret_sets_trigrams_in; DROP TRIGGER secret_sets_trigrams_out; \
             DROP TRIGGER secret_sets_trigrams_rename; DROP TRIGGER deployments_trigrams_in; \
             DROP TRIGGER deployments_trigrams_out; DROP TRIGGER deployments_trigrams_rename; \
             DROP TABLE name_trigrams; DROP TABLE name_positions;"
        }
        Backend::Postgres => {
            "DROP TABLE name_trigrams; DROP FUNCTION name_trigrams_follow CASCADE; \
             DROP FUNCTION name_trigrams_of;"
        }
    };
    format!("{round3}{search}")
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

async fn pg_admin() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&pg_admin_url(), tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL must be running for the tests (see .ci/install-tools)");
    tokio::spawn(conn);
    client
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => Self {
                backend,
                url: format!("sqlite://{}", dir.path().join("cloakroom.db").display()),
                dir,
                pg_name: None,
            },
            Backend::Postgres => {
                let name = format!(
                    "cloakroom_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    cloakroom::domain::now()
                );
                pg_admin()
                    .await
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap();
                let admin = pg_admin_url();
                let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
                Self {
                    backend,
                    url: format!("{base}/{name}"),
                    dir,
                    pg_name: Some(name),
                }
            }
        }
    }

    pub fn config(&self) -> Config {
        let mut c = Config::for_tests(self.dir.path(), "target/site");
        c.database_url = self.url.clone();
        c
    }

    /// Opens the app state on this database with a fixed master key.
    pub async fn state(&self, seed: u8) -> AppState {
        AppState::open_with_key(self.config(), Some(key_b64(seed)), None)
            .await
            .expect("state opens")
    }

    /// [`TestDb::state`] without quotas, for benchmarks that write far more than any
    /// person or organization would.
    pub async fn state_without_quotas(&self, seed: u8) -> AppState {
        let mut config = self.config();
        without_quotas(&mut config);
        AppState::open_with_key(config, Some(key_b64(seed)), None)
            .await
            .expect("state opens")
    }

    /// Runs raw SQL and reports whether the database accepted it.
    pub async fn try_execute(&self, sql: &str) -> Result<(), String> {
        match self.backend {
            Backend::Sqlite => {
                let db = rusqlite::Connection::open(self.dir.path().join("cloakroom.db"))
                    .map_err(|e| e.to_string())?;
                db.execute_batch(sql).map_err(|e| e.to_string())
            }
            Backend::Postgres => {
                let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(conn);
                client.batch_execute(sql).await.map_err(|e| e.to_string())
            }
        }
    }

    /// Runs raw SQL against the database, as an attacker with database access would.
    pub async fn execute(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let db = rusqlite::Connection::open(self.dir.path().join("cloakroom.db")).unwrap();
                db.execute_batch(sql).unwrap();
            }
            Backend::Postgres => {
                let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                client.batch_execute(sql).await.unwrap();
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Drop runs outside async; use a short-lived runtime on its own thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok((client, conn)) =
                        tokio_postgres::connect(&pg_admin_url(), tokio_postgres::NoTls).await
                    {
                        tokio::spawn(conn);
                        let _ = client
                            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// Lifts every quota (see [`TestDb::state_without_quotas`]).
pub fn without_quotas(config: &mut Config) {
    config.quotas = cloakroom::domain::config::Quotas {
        history_bytes: i64::MAX,
        versions_per_day: i64::MAX,
        writes_per_minute: i64::MAX,
    };
}

/// An owner of `org` (created if missing), made the way the admin command makes one.
pub async fn user(state: &AppState, email: &str, org: &str) -> Principal {
    user_with_role(state, email, org, Role::Owner).await
}

/// A new account (with its personal workspace) that is `role` in `org`.
pub async fn user_with_role(state: &AppState, email: &str, org: &str, role: Role) -> Principal {
    let org = state
        .store
        .ensure_org(org, cloakroom::domain::now())
        .await
        .unwrap();
    let hash = auth::hash_password(PASSWORD).unwrap();
    let id = cloakroom::domain::orgs::create_account(state, email, &hash, Some((&org, role)))
        .await
        .unwrap();
    Principal {
        user_id: id,
        email: email.into(),
        org,
        role,
        via: cloakroom::domain::principal::Via::Ui,
    }
}

pub struct TestApp {
    pub db: TestDb,
    pub state: AppState,
    pub base: String,
    pub token: String,
    pub principal: Principal,
    pub http: reqwest::Client,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A dashboard session cookie of the owner (`name=value`), signed in once.
    pub async fn owner_session(&self) -> String {
        self.session("owner@example.com").await
    }

    /// A dashboard session cookie (`name=value`) of the account `email`, signed in
    /// through the real sign-in with the tests' password.
    pub async fn session(&self, email: &str) -> String {
        let (_, session) = auth::login(&self.state, email, PASSWORD, "127.0.0.1")
            .await
            .unwrap();
        format!("cloakroom_session={session}")
    }

    /// The HTML of dashboard page `path` for session `cookie` (as a browser without
    /// JavaScript gets it).
    pub async fn page(&self, cookie: &str, path: &str) -> String {
        self.http
            .get(self.url(path))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// An authorized request to the REST API of this app's organization.
    pub fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(
                method,
                self.url(&format!("/api/v1/orgs/{}{path}", self.principal.org.name)),
            )
            .bearer_auth(&self.token)
    }
}

/// Serves the real router for `state` on a free port; returns its base URL.
pub async fn serve(state: AppState) -> String {
    let app = cloakroom::web::router::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = cloakroom::web::router::serve(listener, app).await;
    });
    base
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A client that behaves like a page of the app at `base`: its posts carry
/// `Origin: base`, as a browser's do (a request can still set its own).
pub fn browser_like_client(base: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::ORIGIN, base.parse().unwrap());
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// [`spawn_app`] with settings changed by `tweak`.
pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let db = TestDb::new(backend).await;
    let mut config = db.config();
    tweak(&mut config);
    let state = AppState::open_with_key(config, Some(key_b64(7)), None)
        .await
        .expect("state opens");
    let principal = user(&state, "owner@example.com", "acme").await;
    let token = auth::create_api_token(&state, &principal, "test").await.unwrap();
    let base = serve(state.clone()).await;
    TestApp {
        db,
        state,
        http: browser_like_client(&base),
        base,
        token,
        principal,
    }
}
