//! Shared set-up for integration tests: a real server on a free port with a fresh data
//! directory (a real SQLite file), plus a user and an API token made the way the admin
//! command makes them.
#![allow(dead_code, reason = "each test binary uses a different part of this module")]
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use base64::Engine;
use cloakroom::server::auth;
use cloakroom::server::config::Config;
use cloakroom::server::state::AppState;
use cloakroom::server::store::Principal;
use tempfile::TempDir;

pub const PASSWORD: &str = "a-long-test-password";

pub fn key_b64(seed: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([seed; 32])
}

pub struct TestApp {
    pub dir: TempDir,
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

/// Opens the state on a fresh data directory with a fixed key, and creates user + org.
pub async fn state_in(dir: &TempDir, seed: u8) -> AppState {
    let config = Config::for_tests(dir.path(), "target/site");
    AppState::open_with_key(config, Some(key_b64(seed)), None)
        .await
        .expect("state opens")
}

pub async fn user(state: &AppState, email: &str, org: &str) -> Principal {
    let org = state.store.ensure_org(org).await.unwrap();
    let hash = auth::hash_password(PASSWORD).unwrap();
    let id = state
        .store
        .create_user(email, &hash, org.id, "owner")
        .await
        .unwrap();
    Principal {
        user_id: id,
        email: email.into(),
        org,
    }
}

pub async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let state = state_in(&dir, 7).await;
    let principal = user(&state, "owner@example.com", "acme").await;
    let token = auth::create_api_token(&state, &principal, "test").await.unwrap();
    let app = cloakroom::server::router::router(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = cloakroom::server::router::serve(listener, app).await;
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        dir,
        state,
        base,
        token,
        principal,
        http,
    }
}
