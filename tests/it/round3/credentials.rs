//! Finding 6 (runtime tokens outliving their holder's grant) and finding 9 (members
//! deleting a protected set's deployment), through the REST API on both backends.
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use super::{call, token_of};
use crate::common::{spawn_app, Backend, TestApp};
use cloakroom::model::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn put_set(app: &TestApp, set: &str, value: &str) {
    let body = json!({"secrets": [{"key": "K", "value": value}]});
    let (status, answer) = call(
        app,
        &app.token,
        Method::PUT,
        &format!("/secrets/{set}"),
        Some(body),
    )
    .await;
    assert!(status.is_success(), "{answer}");
}

/// Deploys `name` with `set` as `token`'s holder; the runtime token it shows.
async fn deploy(app: &TestApp, token: &str, name: &str, set: &str) -> Option<String> {
    let body = json!({"image": "x/y:1", "secret_set": set});
    let (status, answer) = call(
        app,
        token,
        Method::PUT,
        &format!("/deployments/{name}"),
        Some(body),
    )
    .await;
    assert!(status.is_success(), "{status} {answer}");
    answer["runtime_token"].as_str().map(str::to_owned)
}

async fn read_env(app: &TestApp, runtime: &str) -> (StatusCode, Value) {
    call(app, runtime, Method::GET, "/api/v1/runtime/env", None).await
}

/// A removed member's runtime token reads nothing, not even a value rotated after the
/// removal; a member demoted to viewer is stopped and the deployment flagged; the
/// token an admin rotates reads again.
async fn runtime_tokens_die_with_their_holders_grant(backend: Backend) {
    let app = spawn_app(backend).await;
    put_set(&app, "s", "one").await;
    let removed = token_of(&app, "gone@example.com", Role::Member).await;
    let demoted = token_of(&app, "demoted@example.com", Role::Member).await;
    let first = deploy(&app, &removed, "d1", "s").await.unwrap();
    let second = deploy(&app, &demoted, "d2", "s").await.unwrap();
    for runtime in [&first, &second] {
        let (status, env) = read_env(&app, runtime).await;
        assert_eq!(status, StatusCode::OK, "{env}");
        assert_eq!(env["env"]["K"], json!("one"));
    }

    let (status, _) = call(
        &app,
        &app.token,
        Method::DELETE,
        "/members/gone@example.com",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    put_set(&app, "s", "rotated after the removal").await;
    let (status, _) = call(&app, &app.token, Method::POST, "/deployments/d1/redeploy", None).await;
    assert!(status.is_success());
    let (status, env) = read_env(&app, &first).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{env}");
    assert!(!env.to_string().contains("rotated"), "{env}");

    let role = json!({"role": "viewer"});
    let (status, _) = call(
        &app,
        &app.token,
        Method::PATCH,
        "/members/demoted@example.com",
        Some(role),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, env) = read_env(&app, &second).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{env}");
    let (_, d2) = call(&app, &app.token, Method::GET, "/deployments/d2", None).await;
    assert_eq!(d2["rotate_token"], json!(true), "{d2}");

    let (status, rotated) = call(
        &app,
        &app.token,
        Method::POST,
        "/deployments/d2/runtime-token",
        None,
    )
    .await;
    assert!(status.is_success(), "{rotated}");
    let (status, env) = read_env(&app, rotated["runtime_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{env}");
    assert_eq!(
        env["env"]["K"],
        json!("one"),
        "d2 runs the revision it was deployed with"
    );
}

/// A member may not delete a deployment that runs, or whose kept revisions hold, a
/// protected set: the rollback those revisions allow would go with it.
async fn members_cannot_delete_a_protected_sets_deployment(backend: Backend) {
    let app = spawn_app(backend).await;
    put_set(&app, "prod", "p").await;
    put_set(&app, "scratch", "s").await;
    let (status, _) = call(
        &app,
        &app.token,
        Method::PATCH,
        "/secrets/prod",
        Some(json!({"protected": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    deploy(&app, &app.token, "runs-prod", "prod").await;
    deploy(&app, &app.token, "ran-prod", "prod").await;
    deploy(&app, &app.token, "ran-prod", "scratch").await;
    let member = token_of(&app, "m@example.com", Role::Member).await;
    for name in ["runs-prod", "ran-prod"] {
        let (status, body) = call(
            &app,
            &member,
            Method::DELETE,
            &format!("/deployments/{name}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {body}");
        let (status, revisions) = call(
            &app,
            &app.token,
            Method::GET,
            &format!("/deployments/{name}/revisions"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(!revisions.to_string().is_empty());
    }
    deploy(&app, &app.token, "never-prod", "scratch").await;
    let (status, _) = call(&app, &member, Method::DELETE, "/deployments/never-prod", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, &app.token, Method::DELETE, "/deployments/ran-prod", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "an admin may");
}

on_both_backends!(
    runtime_tokens_die_with_their_holders_grant,
    members_cannot_delete_a_protected_sets_deployment,
);
