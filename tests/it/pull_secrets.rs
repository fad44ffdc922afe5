//! Image pull secrets through the REST API, on both backends, and the export compared
//! with what kubectl itself produces.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use crate::common;

use common::{spawn_app, Backend};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn body(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

fn decode(b64: &str) -> String {
    String::from_utf8(cloakroom::validate::base64_decode(b64).unwrap()).unwrap()
}

/// kubectl's own output for the same credentials, if kubectl is installed.
fn kubectl(name: &str, server: &str, user: &str, password: &str) -> Option<Value> {
    let out = std::process::Command::new("kubectl")
        .args(["create", "secret", "docker-registry", name])
        .arg(format!("--docker-server={server}"))
        .arg(format!("--docker-username={user}"))
        .arg(format!("--docker-password={password}"))
        .args(["--dry-run=client", "-o", "json"])
        .output()
        .ok()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

async fn create_list_export_and_delete(backend: Backend) {
    let app = spawn_app(backend).await;
    let password = "p:a\"ss <&> wörd";
    let res = app
        .api(Method::POST, "/image-pull-secrets")
        .json(&json!({"name":"ghcr","registry":"https://index.docker.io/v1/","username":"robot$ci","password":password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let created = res.text().await.unwrap();
    assert!(!created.contains("wörd"), "{created}");

    let list = app
        .api(Method::GET, "/image-pull-secrets")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!list.contains("wörd") && !list.contains("auth"), "{list}");
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["image_pull_secrets"][0]["name"], json!("ghcr"));
    assert_eq!(
        list["image_pull_secrets"][0]["registry"],
        json!("https://index.docker.io/v1/")
    );
    assert_eq!(list["image_pull_secrets"][0]["username"], json!("robot$ci"));

    let res = app
        .api(Method::GET, "/image-pull-secrets/ghcr/dockerconfigjson")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let ours: Value = body(res).await;
    let config = decode(ours["data"][".dockerconfigjson"].as_str().unwrap());
    let parsed: Value = serde_json::from_str(&config).unwrap();
    let entry = &parsed["auths"]["https://index.docker.io/v1/"];
    assert_eq!(entry["username"], json!("robot$ci"));
    assert_eq!(entry["password"], json!(password));
    assert_eq!(
        decode(entry["auth"].as_str().unwrap()),
        format!("robot$ci:{password}")
    );
    if let Some(theirs) = kubectl("ghcr", "https://index.docker.io/v1/", "robot$ci", password) {
        assert_eq!(ours, theirs, "the Secret matches kubectl field for field");
        assert_eq!(
            config,
            decode(theirs["data"][".dockerconfigjson"].as_str().unwrap()),
            "the docker config matches kubectl byte for byte"
        );
    } else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must have kubectl (see .ci/install-tools)"
        );
    }

    // Immutable: creating over an existing name is refused with the way out.
    let res = app
        .api(Method::POST, "/image-pull-secrets")
        .json(&json!({"name":"ghcr","registry":"ghcr.io","username":"x","password":"y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let err = body(res).await["error"].as_str().unwrap().to_owned();
    assert!(
        err.contains("cannot be changed: delete it and create it again"),
        "{err}"
    );

    let res = app
        .api(Method::DELETE, "/image-pull-secrets/ghcr")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .api(Method::GET, "/image-pull-secrets/ghcr/dockerconfigjson")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .api(Method::DELETE, "/image-pull-secrets/ghcr")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

async fn an_already_encoded_auth_is_checked_and_stored_as_is(backend: Backend) {
    let app = spawn_app(backend).await;
    let auth = cloakroom::validate::base64_encode(b"deploy:tok:en");
    let res = app
        .api(Method::POST, "/image-pull-secrets")
        .json(&json!({"name":"reg","registry":"registry.example.com:5000","auth":auth}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(body(res).await["username"], json!("deploy"));
    let ours = body(
        app.api(Method::GET, "/image-pull-secrets/reg/dockerconfigjson")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let config: Value =
        serde_json::from_str(&decode(ours["data"][".dockerconfigjson"].as_str().unwrap())).unwrap();
    let entry = &config["auths"]["registry.example.com:5000"];
    assert_eq!(entry["auth"], json!(auth));
    assert_eq!(entry["password"], json!("tok:en"));
    if let Some(theirs) = kubectl("reg", "registry.example.com:5000", "deploy", "tok:en") {
        assert_eq!(ours, theirs);
    }

    let res = app
        .api(Method::POST, "/image-pull-secrets")
        .json(&json!({"name":"Bad","registry":"no such host","auth":"bm9jb2xvbg=="}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let v = body(res).await;
    assert_eq!(v["details"].as_array().unwrap().len(), 3, "{v}");
    assert!(v["details"][2]
        .as_str()
        .unwrap()
        .contains("must decode to username:password"));
}

async fn other_orgs_cannot_see_or_export(backend: Backend) {
    let app = spawn_app(backend).await;
    let other = common::user(&app.state, "x@example.com", "other").await;
    let new = cloakroom::domain::pull_secrets::validate_new("theirs", "ghcr.io", "u", "p", "", true).unwrap();
    cloakroom::domain::pull_secrets::create(&app.state, &other, new, false)
        .await
        .unwrap();
    for path in [
        "/api/v1/orgs/other/image-pull-secrets",
        "/api/v1/orgs/other/image-pull-secrets/theirs/dockerconfigjson",
        "/api/v1/orgs/acme/image-pull-secrets/theirs/dockerconfigjson",
    ] {
        let res = app
            .http
            .get(app.url(path))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let list = body(app.api(Method::GET, "/image-pull-secrets").send().await.unwrap()).await;
    assert_eq!(list["image_pull_secrets"], json!([]));
    let res = app
        .http
        .get(app.url("/api/v1/orgs/acme/image-pull-secrets"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn replace_swaps_credentials_in_one_step(backend: Backend) {
    let app = spawn_app(backend).await;
    let who = &app.principal;
    let first =
        cloakroom::domain::pull_secrets::validate_new("r", "ghcr.io", "old", "one", "", true).unwrap();
    cloakroom::domain::pull_secrets::create(&app.state, who, first, false)
        .await
        .unwrap();
    let second =
        cloakroom::domain::pull_secrets::validate_new("r", "quay.io", "new", "two", "", true).unwrap();
    let (s, replaced) = cloakroom::domain::pull_secrets::create(&app.state, who, second, true)
        .await
        .unwrap();
    assert!(replaced);
    assert_eq!((s.registry.as_str(), s.username.as_str()), ("quay.io", "new"));
    let list = app.state.store.list_pull_secrets(who.org.id).await.unwrap();
    assert_eq!(list.len(), 1);
    let json = cloakroom::domain::pull_secrets::export(&app.state, who, "r")
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&json).unwrap();
    assert!(decode(v["data"][".dockerconfigjson"].as_str().unwrap())
        .contains("\"quay.io\":{\"username\":\"new\",\"password\":\"two\""));
}

on_both_backends!(
    create_list_export_and_delete,
    an_already_encoded_auth_is_checked_and_stored_as_is,
    other_orgs_cannot_see_or_export,
    replace_swaps_credentials_in_one_step,
);
