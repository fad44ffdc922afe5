//! Knowing without revealing, on both backends: two sides compared by fingerprint (sets,
//! versions, a deployment's revision), given pairs compared with stored values, one
//! value checked; never a value in an answer, and value checks limited per person.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use crate::common;

use cloakroom::model::Role;
use common::{spawn_app, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const CANARY: &str = "canary-compare-value";

async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value, String) {
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), text)
}

async fn put(app: &TestApp, set: &str, pairs: &[(&str, &str)]) {
    let secrets: Vec<Value> = pairs.iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
    let (status, _, text) = send(
        app.api(Method::PUT, &format!("/secrets/{set}"))
            .json(&json!({ "secrets": secrets })),
    )
    .await;
    assert!(status.is_success(), "{text}");
}

async fn compare(app: &TestApp, a: &str, b: &str) -> Value {
    let (status, body, text) = send(app.api(Method::GET, &format!("/secrets-compare?a={a}&b={b}"))).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(!text.contains("canary"), "a value in {text}");
    body
}

async fn sets_versions_and_deployments_compare_by_fingerprint(backend: Backend) {
    let app = spawn_app(backend).await;
    let big = "x".repeat(64 * 1024);
    let big2 = format!("{}y", "x".repeat(64 * 1024 - 1));
    put(
        &app,
        "staging",
        &[
            ("SAME", CANARY),
            ("EMPTY", ""),
            ("BIG", &big),
            ("key", "lower"),
            ("DIFF", "canary-1"),
            ("ONLY_S", "canary-s"),
        ],
    )
    .await;
    put(
        &app,
        "prod",
        &[
            ("SAME", CANARY),
            ("EMPTY", ""),
            ("BIG", &big2),
            ("KEY", "lower"),
            ("DIFF", "canary-2"),
            ("ALIAS", CANARY),
        ],
    )
    .await;
    let c = compare(&app, "staging", "prod").await;
    assert_eq!(
        c,
        json!({"only_in_a": ["ONLY_S", "key"], "only_in_b": ["ALIAS", "KEY"], "same": ["EMPTY", "SAME"],
               "different": ["BIG", "DIFF"]})
    );
    // A set against an older version of itself and against a deployment's revision.
    send(
        app.api(Method::PUT, "/deployments/web")
            .json(&json!({"image": "x/web:1", "secret_set": "prod"})),
    )
    .await;
    put(&app, "prod", &[("DIFF", "canary-3")]).await;
    let c = compare(&app, "prod", "prod@1").await;
    assert_eq!(c["different"], json!(["DIFF"]));
    let c = compare(&app, "deployment:web", "prod").await;
    assert_eq!(
        (c["different"].clone(), c["only_in_a"].clone()),
        (json!(["DIFF"]), json!([]))
    );
    // Bad sides say which and how.
    let (status, _, text) = send(app.api(Method::GET, "/secrets-compare?a=prod&b=prod@x")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("prod@3"), "{text}");
    let (status, _, _) = send(app.api(Method::GET, "/secrets-compare?a=prod&b=nosuch")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn given_pairs_and_single_values_are_checked_on_the_server(backend: Backend) {
    let app = spawn_app(backend).await;
    put(&app, "prod", &[("A", CANARY), ("B", ""), ("C", "canary-c")]).await;
    let (_, before, _) = send(app.api(Method::GET, "/secrets/prod")).await;
    let (status, body, text) = send(
        app.api(Method::POST, "/secrets-compare")
            .json(&json!({"a": "prod", "secrets": [
            {"key": "A", "value": CANARY}, {"key": "B", "value": " "}, {"key": "D", "value": "canary-d"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(!text.contains("canary"), "{text}");
    assert_eq!(
        body,
        json!({"set": "prod", "same": ["A"], "different": ["B"], "missing": ["C"], "extra": ["D"]})
    );
    // Nothing stored; the audit log has keys only.
    let (_, after, _) = send(app.api(Method::GET, "/secrets/prod")).await;
    assert_eq!(before, after);
    let (_, audit, text) = send(app.api(Method::GET, "/audit?action=secrets.compare")).await;
    assert!(!text.contains("canary"), "{text}");
    assert_eq!(
        audit["entries"][0]["detail"],
        "1 same, 1 different, 1 missing, 1 extra"
    );

    let check = |key: &str, value: &str| {
        send(
            app.api(Method::POST, "/secret-checks")
                .json(&json!({"set": "prod", "key": key, "value": value})),
        )
    };
    let (status, body, _) = check("A", CANARY).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"match": true})));
    assert_eq!(check("A", "canary-no").await.1, json!({"match": false}));
    assert_eq!(check("B", "").await.1, json!({"match": true}));
    assert_eq!(check("NOPE", "x").await.0, StatusCode::NOT_FOUND);
    // A viewer may not ask.
    let viewer = common::user_with_role(&app.state, "v@example.com", "acme", Role::Viewer).await;
    let e = cloakroom::server::compare::check(&app.state, &viewer, "prod", "A", CANARY.into())
        .await
        .unwrap_err();
    assert_eq!(e.status_code(), 403);
    // Five lookups so far (a comparison and four checks: a check of a missing key
    // counts too); the eleventh in the minute is refused.
    for _ in 0..5 {
        assert_eq!(check("A", "guess").await.0, StatusCode::OK);
    }
    let res = app
        .api(Method::POST, "/secret-checks")
        .json(&json!({"set": "prod", "key": "A", "value": "guess"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    // The limit is per person: someone else still may.
    let member = common::user_with_role(&app.state, "m@example.com", "acme", Role::Member).await;
    assert!(
        cloakroom::server::compare::check(&app.state, &member, "prod", "A", CANARY.into())
            .await
            .unwrap()
    );
}

on_both_backends!(
    sets_versions_and_deployments_compare_by_fingerprint,
    given_pairs_and_single_values_are_checked_on_the_server,
);
