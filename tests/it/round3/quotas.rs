//! Finding 7 (no storage quota): per organization, history bytes and versions a day;
//! per account, writes a minute; an owner prunes. Through the REST API, both backends.
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use crate::common::{spawn_app_with, Backend, TestApp};
use cloakroom::domain::config::Quotas;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn put(app: &TestApp, set: &str, value: &str) -> (StatusCode, Value) {
    let res = app
        .api(Method::PUT, &format!("/secrets/{set}"))
        .json(&json!({"secrets": [{"key": "K", "value": value}]}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn revision(app: &TestApp, set: &str) -> Value {
    let res = app
        .api(Method::GET, &format!("/secrets/{set}"))
        .send()
        .await
        .unwrap();
    res.json::<Value>().await.unwrap()["revision"].clone()
}

fn quotas(history_bytes: i64, versions_per_day: i64, writes_per_minute: i64) -> Quotas {
    Quotas {
        history_bytes,
        versions_per_day,
        writes_per_minute,
    }
}

async fn writes_beyond_the_accounts_rate_are_refused(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.quotas = quotas(1 << 30, 1000, 5)).await;
    for i in 0..5 {
        assert_eq!(put(&app, "s", &i.to_string()).await.0.as_u16() / 100, 2);
    }
    let (status, body) = put(&app, "s", "six").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body.to_string().contains("writes_per_minute"), "{body}");
    assert_eq!(revision(&app, "s").await, json!(5));
}

async fn versions_beyond_the_days_quota_are_refused_and_change_nothing(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.quotas = quotas(1 << 30, 3, 1000)).await;
    for i in 0..3 {
        assert_eq!(put(&app, "s", &i.to_string()).await.0.as_u16() / 100, 2);
    }
    let (status, body) = put(&app, "s", "fourth").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body.to_string().contains("versions_per_day"), "{body}");
    assert_eq!(revision(&app, "s").await, json!(3));
    let (status, _) = put(&app, "other", "x").await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the quota is the organization's"
    );
}

async fn history_beyond_its_bytes_is_refused_until_an_owner_prunes(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.quotas = quotas(2500, 1000, 1000)).await;
    let value = |c: char| c.to_string().repeat(1000);
    assert_eq!(put(&app, "s", &value('a')).await.0, StatusCode::CREATED);
    assert_eq!(put(&app, "s", &value('b')).await.0, StatusCode::OK);
    let (status, body) = put(&app, "s", &value('c')).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body.to_string().contains("history_max_bytes"), "{body}");
    assert_eq!(revision(&app, "s").await, json!(2));

    let res = app
        .api(Method::POST, "/secret-versions-prune")
        .json(&json!({"keep": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"pruned": 1}));
    let (status, body) = put(&app, "s", &value('c')).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

on_both_backends!(
    writes_beyond_the_accounts_rate_are_refused,
    versions_beyond_the_days_quota_are_refused_and_change_nothing,
    history_beyond_its_bytes_is_refused_until_an_owner_prunes,
    organizations_and_api_tokens_per_account_are_capped,
);

/// Quotas are per organization and tokens per person: neither multiplies without end.
async fn organizations_and_api_tokens_per_account_are_capped(backend: Backend) {
    use cloakroom::domain::{auth, orgs};
    let app = spawn_app_with(backend, |_| {}).await;
    let owned = app
        .state
        .store
        .owned_org_count(app.principal.user_id)
        .await
        .unwrap();
    for i in owned..orgs::ORGS_OWNED_MAX {
        orgs::create_org(&app.state, &app.principal, &format!("org-{i}"))
            .await
            .unwrap();
    }
    let err = orgs::create_org(&app.state, &app.principal, "one-too-many")
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 429, "{err}");
    let held = app
        .state
        .store
        .api_token_count(app.principal.org.id, app.principal.user_id)
        .await
        .unwrap();
    for i in held..auth::API_TOKENS_MAX {
        auth::create_api_token(&app.state, &app.principal, &format!("t{i}"))
            .await
            .unwrap();
    }
    let err = auth::create_api_token(&app.state, &app.principal, "one-too-many")
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 429, "{err}");
}
