//! Finding 1 (fingerprints as a guessing oracle), 2 (restore's key list) and 5 (find's
//! unbounded candidates), through the REST API on both backends.
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use super::{call, token_of};
use crate::common::{self, spawn_app, Backend, TestApp, TestDb};
use cloakroom::model::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn put(app: &TestApp, token: &str, set: &str, pairs: &[(String, String)]) {
    let secrets: Vec<Value> = pairs.iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
    let (status, body) = call(
        app,
        token,
        Method::PUT,
        &format!("/secrets/{set}"),
        Some(json!({ "secrets": secrets })),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
}

fn pair(k: &str, v: &str) -> (String, String) {
    (k.to_owned(), v.to_owned())
}

/// The fingerprints a caller sees in a set, by key.
async fn prints(app: &TestApp, token: &str, set: &str) -> Vec<(String, Value)> {
    let (status, body) = call(app, token, Method::GET, &format!("/secrets/{set}"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["key"].as_str().unwrap().to_owned(), k["fingerprint"].clone()))
        .collect()
}

/// A protected `prod` holding a 4-digit PIN, and a member who writes every candidate
/// into a set of their own: no fingerprint they can see matches the PIN's, which they
/// cannot see at all.
async fn a_members_written_guess_never_matches_a_protected_fingerprint(backend: Backend) {
    let app = spawn_app(backend).await;
    put(&app, &app.token, "prod", &[pair("PIN", "4821")]).await;
    let (status, _) = call(
        &app,
        &app.token,
        Method::PATCH,
        "/secrets/prod",
        Some(json!({"protected": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let member = token_of(&app, "m@example.com", Role::Member).await;
    let viewer = token_of(&app, "v@example.com", Role::Viewer).await;

    let pin_print = prints(&app, &app.token, "prod").await[0].1.clone();
    assert!(
        pin_print.is_string(),
        "an owner sees the fingerprint: {pin_print}"
    );
    for below_admin in [&member, &viewer] {
        assert_eq!(prints(&app, below_admin, "prod").await[0].1, Value::Null);
    }

    // 1,000 candidates per write, the right one among them, under the PIN's own key
    // name too.
    let guesses: Vec<(String, String)> = (4000..5000).map(|n| (format!("G{n}"), n.to_string())).collect();
    put(&app, &member, "scratch", &guesses).await;
    put(&app, &member, "scratch2", &[pair("PIN", "4821")]).await;
    for set in ["scratch", "scratch2"] {
        for (key, print) in prints(&app, &member, set).await {
            assert!(print.is_string());
            assert_ne!(
                print, pin_print,
                "{set}.{key} shows the protected PIN's fingerprint"
            );
        }
    }
    // Nor can the member compare their guesses with the protected set.
    let (status, body) = call(
        &app,
        &member,
        Method::GET,
        "/secrets-compare?a=scratch2&b=prod",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

/// A comparison a caller could not make by reading counts toward the value lookup
/// limit; one they could (a member reading both sides, anyone within one set) does not.
async fn comparisons_beyond_what_a_caller_can_read_are_counted(backend: Backend) {
    let app = spawn_app(backend).await;
    put(&app, &app.token, "staging", &[pair("A", "1"), pair("B", "2")]).await;
    put(&app, &app.token, "staging", &[pair("A", "3")]).await;
    put(&app, &app.token, "scratch", &[pair("A", "1")]).await;
    let member = token_of(&app, "m@example.com", Role::Member).await;
    let viewer = token_of(&app, "v@example.com", Role::Viewer).await;
    for _ in 0..12 {
        let (status, _) = call(
            &app,
            &member,
            Method::GET,
            "/secrets-compare?a=scratch&b=staging",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "a member reads both sides anyway");
        let (status, _) = call(
            &app,
            &viewer,
            Method::GET,
            "/secrets-compare?a=staging@1&b=staging",
            None,
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "one set's versions compare as its fingerprints do"
        );
    }
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let (status, body) = call(
            &app,
            &viewer,
            Method::GET,
            "/secrets-compare?a=scratch&b=staging",
            None,
        )
        .await;
        if status == StatusCode::OK {
            assert_eq!(body["same"], json!([]), "{body}");
            assert_eq!(body["different"], json!(["A"]), "{body}");
        }
        statuses.push(status);
    }
    assert!(
        statuses[..10].iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(statuses[10], StatusCode::TOO_MANY_REQUESTS);
}

/// Equality is decided by full MACs: a database whose MACs are short (as before) is
/// upgraded at start-up, and a write of the same value is still no change.
async fn short_macs_are_upgraded_at_start_up(backend: Backend) {
    use cloakroom::domain::secrets;
    let db = TestDb::new(backend).await;
    let state = db.state(3).await;
    let who = common::user(&state, "o@example.com", "acme").await;
    let set = cloakroom::validate::ResourceName::parse("s").unwrap();
    let pairs = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(k, v)| cloakroom::validate::Pair {
                key: cloakroom::validate::SecretKey::parse(k).unwrap(),
                value: (*v).to_owned(),
            })
            .collect::<Vec<_>>()
    };
    secrets::write(&state, &who, &set, pairs(&[("A", "one"), ("B", "two")]), None)
        .await
        .unwrap();
    let before = secrets::detail(&state, &who, "s").await.unwrap();
    drop(state);
    for table in ["secrets", "secret_history"] {
        db.execute(&format!(
            "UPDATE {table} SET value_mac = substr(value_mac, 1, 12)"
        ))
        .await;
    }
    db.execute("DELETE FROM meta WHERE key = 'value_macs_full'").await;
    let state = db.state(3).await;
    assert_eq!(
        secrets::detail(&state, &who, "s").await.unwrap().keys,
        before.keys
    );
    let again = secrets::write(&state, &who, &set, pairs(&[("A", "one"), ("B", "changed")]), None)
        .await
        .unwrap();
    let versions = cloakroom::domain::history::versions(&state, &who, "s", None, 10)
        .await
        .unwrap();
    let newest = versions
        .versions
        .iter()
        .find(|v| v.version == again.revision)
        .unwrap();
    assert_eq!(
        newest.changed,
        vec!["B".to_owned()],
        "A was written with its own value"
    );
}

/// Finding 2: a restore preview answers only who may restore, and its key list is
/// bounded by the body limit and the set's key limit.
async fn restore_previews_need_the_writers_role_and_bounded_key_lists(backend: Backend) {
    let app = spawn_app(backend).await;
    put(&app, &app.token, "s", &[pair("A", "1")]).await;
    put(&app, &app.token, "s", &[pair("A", "2")]).await;
    let viewer = token_of(&app, "v@example.com", Role::Viewer).await;
    let member = token_of(&app, "m@example.com", Role::Member).await;
    let path = "/secret-restores?dry_run=true";
    let (status, body) = call(
        &app,
        &viewer,
        Method::POST,
        path,
        Some(json!({"set": "s", "version": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = call(
        &app,
        &member,
        Method::POST,
        path,
        Some(json!({"set": "s", "version": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["changed"], json!(["A"]));

    // 30,000 keys (the review sent 2,000,000 in 8 MB): over the body limit of a
    // control request, refused unread.
    let huge: Vec<String> = (0..30_000).map(|i| format!("K{i}")).collect();
    let (status, _) = call(
        &app,
        &member,
        Method::POST,
        path,
        Some(json!({"set": "s", "version": 1, "keys": huge})),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // More keys than a set holds, in a small body: refused at once.
    let many: Vec<String> = (0..1001).map(|i| format!("K{i}")).collect();
    let (status, body) = call(
        &app,
        &member,
        Method::POST,
        path,
        Some(json!({"set": "s", "version": 1, "keys": many})),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // A thousand unknown keys: a bounded list of problems.
    let unknown: Vec<String> = (0..1000).map(|i| format!("K{i}")).collect();
    let (status, body) = call(
        &app,
        &member,
        Method::POST,
        path,
        Some(json!({"set": "s", "version": 1, "keys": unknown})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let details = body["details"].as_array().unwrap();
    assert_eq!(
        details.len(),
        cloakroom::validate::MAX_REPORTED_ERRORS + 1,
        "{body}"
    );
    assert!(
        details.last().unwrap().as_str().unwrap().contains("and 980 more"),
        "{body}"
    );
}

/// Finding 5: find lists a bounded number of places and counts them all.
async fn find_lists_a_bounded_number_of_places_and_counts_all(backend: Backend) {
    let app = spawn_app(backend).await;
    let same: Vec<(String, String)> = (0..1000)
        .map(|i| (format!("K{i}"), "leaked".to_owned()))
        .collect();
    put(&app, &app.token, "a", &same).await;
    put(&app, &app.token, "b", &same[..200]).await;
    put(&app, &app.token, "c", &[pair("K", "other")]).await;
    let (status, body) = call(
        &app,
        &app.token,
        Method::POST,
        "/secrets-find",
        Some(json!({"value": "leaked"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Each set now, and its one kept version.
    assert_eq!(body["total"], json!(2400), "{body:.200}");
    assert_eq!(body["places"].as_array().unwrap().len(), 1000);
}

on_both_backends!(
    a_members_written_guess_never_matches_a_protected_fingerprint,
    comparisons_beyond_what_a_caller_can_read_are_counted,
    short_macs_are_upgraded_at_start_up,
    restore_previews_need_the_writers_role_and_bounded_key_lists,
    find_lists_a_bounded_number_of_places_and_counts_all,
);
