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
    let e = cloakroom::domain::compare::check(&app.state, &viewer, "prod", "A", CANARY.into())
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
        cloakroom::domain::compare::check(&app.state, &member, "prod", "A", CANARY.into())
            .await
            .unwrap()
    );
}

/// Find: every set, kept set version (deleted sets too) and kept deployment revision
/// holding exactly a value; admins only; never the value in the answer; limited.
async fn a_value_is_found_wherever_it_lives(backend: Backend) {
    let app = spawn_app(backend).await;
    let leaked = "canary leaked key";
    put(&app, "prod", &[("API_KEY", leaked), ("OTHER", "canary-other")]).await;
    put(&app, "staging", &[("COPY", leaked)]).await;
    send(
        app.api(Method::PUT, "/deployments/web")
            .json(&json!({"image": "x/web:1", "secret_set": "prod"})),
    )
    .await;
    put(&app, "prod", &[("API_KEY", "canary rotated")]).await;
    put(&app, "old", &[("KEPT", leaked)]).await;
    send(app.api(Method::DELETE, "/secrets/old")).await;
    let (status, body, text) = send(
        app.api(Method::POST, "/secrets-find")
            .json(&json!({"value": leaked})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(!text.contains("canary"), "{text}");
    let places: Vec<(String, Value, String, Value, Value, Value)> = body["places"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["kind"].as_str().unwrap().to_owned(),
                p["set"].clone(),
                p["key"].as_str().unwrap().to_owned(),
                p["version"].clone(),
                p["deployment"].clone(),
                p["revision"].clone(),
            )
        })
        .collect();
    let s = |k: &str, set: &str, key: &str, v: Value, d: Value, r: Value| {
        (k.to_owned(), json!(set), key.to_owned(), v, d, r)
    };
    assert_eq!(
        places,
        [
            s("set", "staging", "COPY", Value::Null, Value::Null, Value::Null),
            s("set_version", "old", "KEPT", json!(1), Value::Null, Value::Null),
            s(
                "set_version",
                "prod",
                "API_KEY",
                json!(1),
                Value::Null,
                Value::Null
            ),
            s(
                "set_version",
                "staging",
                "COPY",
                json!(1),
                Value::Null,
                Value::Null
            ),
            s(
                "deployment_revision",
                "prod",
                "API_KEY",
                Value::Null,
                json!("web"),
                json!(1)
            ),
        ]
    );
    assert_eq!(body["places"][1]["deleted"], true);
    // A value held nowhere; an empty value is a value like any other.
    let (_, body, _) = send(
        app.api(Method::POST, "/secrets-find")
            .json(&json!({"value": "canary nowhere"})),
    )
    .await;
    assert_eq!(body["places"], json!([]));
    let (_, audit, text) = send(app.api(Method::GET, "/audit?action=secrets.find")).await;
    assert!(!text.contains("canary"), "{text}");
    assert_eq!(audit["entries"][1]["detail"], "5 place(s)");
    // Members and viewers may not look.
    for role in [Role::Member, Role::Viewer] {
        let who = common::user_with_role(&app.state, &format!("{role}@example.com"), "acme", role).await;
        let e = cloakroom::domain::compare::find(&app.state, &who, leaked.into())
            .await
            .unwrap_err();
        assert_eq!(e.status_code(), 403);
    }
    // Two lookups so far; the eleventh in a minute is refused.
    for _ in 0..8 {
        let (status, _, _) = send(
            app.api(Method::POST, "/secrets-find")
                .json(&json!({"value": "guess"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _, text) = send(
        app.api(Method::POST, "/secrets-find")
            .json(&json!({"value": "guess"})),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{text}");
}

on_both_backends!(
    a_value_is_found_wherever_it_lives,
    sets_versions_and_deployments_compare_by_fingerprint,
    given_pairs_and_single_values_are_checked_on_the_server,
);
