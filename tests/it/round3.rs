//! Security round 3 (issue 30): each finding's test, written to fail on the code before
//! its fix. One file per area so the suites can grow apart.
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

mod accounts;
mod bounded;
mod credentials;
mod oracle;
mod quotas;
mod signin;

use crate::common::{self, TestApp};
use cloakroom::model::Role;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// An API token of a new account that is `role` in the app's organization (`acme`).
async fn token_of(app: &TestApp, email: &str, role: Role) -> String {
    let who = common::user_with_role(&app.state, email, "acme", role).await;
    cloakroom::domain::auth::create_api_token(&app.state, &who, "t")
        .await
        .unwrap()
}

/// Calls the REST API as `token`: `path` under `/api/v1/orgs/acme`, or as it is when it
/// starts with `/api/`. The status and the JSON answer (`null` when none).
async fn call(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let url = if path.starts_with("/api/") {
        app.url(path)
    } else {
        app.url(&format!("/api/v1/orgs/acme{path}"))
    };
    let mut req = app.http.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}
