//! Deployments through the REST API on both backends: revisions with snapshots,
//! needs-redeploy, runtime tokens, reference checks and refusals.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use crate::common;

use common::{spawn_app, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn body(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

async fn put_set(app: &TestApp, set: &str, pairs: &str) {
    let res = app
        .api(Method::PUT, &format!("/secrets/{set}"))
        .header("content-type", "text/plain")
        .body(pairs.to_owned())
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
}

async fn runtime(app: &TestApp, token: &str) -> reqwest::Response {
    app.http
        .get(app.url("/api/v1/runtime/env"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn deploy_snapshot_redeploy_and_runtime_env(backend: Backend) {
    let app = spawn_app(backend).await;
    put_set(&app, "prod", "DB=\"postgres://a b\"\nKEEP=1\nGONE=x\nEMPTY=").await;
    let res = app
        .api(Method::PUT, "/deployments/bot")
        .json(&json!({"image":"ghcr.io/acme/bot:1","secret_set":"prod","region":"eu","min_agents":1,"max_agents":3}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let created = body(res).await;
    assert_eq!(created["revision"], json!(1));
    assert_eq!(created["status"], json!("up to date"));
    let token = created["runtime_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ckd_"));

    let env = body(runtime(&app, &token).await).await;
    assert_eq!(
        env,
        json!({"revision":1,"env":{"DB":"postgres://a b","EMPTY":"","GONE":"x","KEEP":"1"}})
    );

    // The set changes: the deployment keeps its snapshot and says it needs a redeploy.
    put_set(&app, "prod", "DB=changed\nNEW=2").await;
    app.api(Method::DELETE, "/secrets/prod/GONE")
        .send()
        .await
        .unwrap();
    let list = body(app.api(Method::GET, "/deployments").send().await.unwrap()).await;
    assert_eq!(list["deployments"][0]["status"], json!("needs redeploy"));
    let detail = body(app.api(Method::GET, "/deployments/bot").send().await.unwrap()).await;
    assert_eq!(
        detail["since_revision"],
        json!({"added":["NEW"],"removed":["GONE"],"changed":["DB"]})
    );
    assert_eq!(detail["env"].as_array().unwrap().len(), 4);
    assert!(
        !detail.to_string().contains("postgres://"),
        "no value in the detail"
    );
    let env = body(runtime(&app, &token).await).await;
    assert_eq!(env["revision"], json!(1));
    assert_eq!(env["env"]["DB"], json!("postgres://a b"));

    // Redeploy takes a new snapshot.
    let res = app
        .api(Method::POST, "/deployments/bot/redeploy")
        .send()
        .await
        .unwrap();
    assert_eq!(body(res).await["revision"], json!(2));
    let env = body(runtime(&app, &token).await).await;
    assert_eq!(
        env,
        json!({"revision":2,"env":{"DB":"changed","EMPTY":"","KEEP":"1","NEW":"2"}})
    );
    let list = body(app.api(Method::GET, "/deployments").send().await.unwrap()).await;
    assert_eq!(list["deployments"][0]["status"], json!("up to date"));

    // An update through PUT is a deploy too, and keeps the runtime token.
    let res = app
        .api(Method::PUT, "/deployments/bot")
        .json(&json!({"image":"ghcr.io/acme/bot:2","secret_set":"prod"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let updated = body(res).await;
    assert_eq!(updated["revision"], json!(3));
    assert!(updated.get("runtime_token").is_none());
    assert_eq!(body(runtime(&app, &token).await).await["revision"], json!(3));

    // Deleting the deployment deletes its revisions: its token reads nothing any more.
    let res = app.api(Method::DELETE, "/deployments/bot").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(runtime(&app, &token).await.status(), StatusCode::UNAUTHORIZED);
    let rows: i64 = match backend {
        Backend::Sqlite => rusqlite::Connection::open(app.db.dir.path().join("cloakroom.db"))
            .unwrap()
            .query_row("SELECT COUNT(*) FROM deployment_env", [], |r| r.get(0))
            .unwrap(),
        Backend::Postgres => {
            let (client, conn) = tokio_postgres::connect(&app.db.url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client
                .query_one("SELECT COUNT(*) FROM deployment_env", &[])
                .await
                .unwrap()
                .get(0)
        }
    };
    assert_eq!(rows, 0, "no revision is left behind");
}

async fn runtime_tokens_are_the_only_way_in_and_can_be_rotated(backend: Backend) {
    let app = spawn_app(backend).await;
    put_set(&app, "s", "A=1").await;
    let created = body(
        app.api(Method::PUT, "/deployments/d")
            .json(&json!({"image":"img","secret_set":"s"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = created["runtime_token"].as_str().unwrap().to_owned();
    // Neither an API token nor a session opens the runtime route.
    assert_eq!(runtime(&app, &app.token).await.status(), StatusCode::UNAUTHORIZED);
    let (_, session) =
        cloakroom::domain::auth::login(&app.state, "owner@example.com", common::PASSWORD, "127.0.0.1")
            .await
            .unwrap();
    let res = app
        .http
        .get(app.url("/api/v1/runtime/env"))
        .header("cookie", format!("cloakroom_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // And a runtime token opens nothing else.
    let res = app
        .http
        .get(app.url("/api/v1/orgs/acme/secrets"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let rotated = body(
        app.api(Method::POST, "/deployments/d/runtime-token")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let new_token = rotated["runtime_token"].as_str().unwrap();
    assert_eq!(runtime(&app, &token).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        body(runtime(&app, new_token).await).await["env"],
        json!({"A":"1"})
    );
}

async fn references_are_checked_and_used_objects_cannot_be_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app
        .api(Method::PUT, "/deployments/d")
        .json(&json!({"image":"img","secret_set":"nope","image_credentials":"nada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        body(res).await["details"],
        json!([
            "secret set \"nope\" does not exist; create it first",
            "image pull secret \"nada\" does not exist; create it first"
        ])
    );
    assert_eq!(
        body(app.api(Method::GET, "/deployments").send().await.unwrap()).await["deployments"],
        json!([])
    );

    put_set(&app, "s", "A=1").await;
    app.api(Method::POST, "/image-pull-secrets")
        .json(&json!({"name":"reg","registry":"ghcr.io","username":"u","password":"p"}))
        .send()
        .await
        .unwrap();
    for name in ["d1", "d2"] {
        let res = app
            .api(Method::PUT, &format!("/deployments/{name}"))
            .json(&json!({"image":"img","secret_set":"s","image_credentials":"reg"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let pulls = body(app.api(Method::GET, "/image-pull-secrets").send().await.unwrap()).await;
    assert_eq!(pulls["image_pull_secrets"][0]["used_by"], json!(["d1", "d2"]));
    let res = app.api(Method::DELETE, "/secrets/s").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(
        body(res).await["error"],
        json!("secret set \"s\" is used by deployments d1, d2; change or delete them first")
    );
    let res = app
        .api(Method::DELETE, "/image-pull-secrets/reg")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(body(res).await["error"]
        .as_str()
        .unwrap()
        .contains("is used by deployments d1, d2"));

    for name in ["d1", "d2"] {
        let res = app
            .api(Method::DELETE, &format!("/deployments/{name}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(
        app.api(Method::DELETE, "/secrets/s")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.api(Method::DELETE, "/image-pull-secrets/reg")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.api(Method::GET, "/deployments/d1")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

async fn a_deploy_file_is_read_with_overrides_and_unknown_keys_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    put_set(&app, "s", "A=1").await;
    let file = "agent_name = \"bot\"\nimage = \"img:1\"\nsecret_set = \"s\"\nregion = \"us\"\n[scaling]\nmin_agents = 2\nmax_agents = 4\n";
    let res = app
        .api(Method::PUT, "/deployments/bot")
        .header("content-type", "application/toml")
        .body(file)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let d = body(res).await;
    assert_eq!(
        (d["image"].clone(), d["region"].clone()),
        (json!("img:1"), json!("us"))
    );
    assert_eq!(d["scaling"], json!({"min_agents":2,"max_agents":4}));
    let res = app
        .api(Method::PUT, "/deployments/bot")
        .json(&json!({"pcc_deploy_toml": file, "image": "img:2", "max_agents": 6}))
        .send()
        .await
        .unwrap();
    let d = body(res).await;
    assert_eq!(
        (d["image"].clone(), d["scaling"]["max_agents"].clone()),
        (json!("img:2"), json!(6))
    );
    let res = app
        .api(Method::PUT, "/deployments/bot")
        .header("content-type", "application/toml")
        .body("image = \"x\"\nreplicas = 2\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(body(res).await["error"]
        .as_str()
        .unwrap()
        .contains("unknown field `replicas`"));
    let res = app
        .api(Method::PUT, "/deployments/bot")
        .json(&json!({"image":"x","min_agents":5,"max_agents":1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        body(app.api(Method::GET, "/deployments/bot").send().await.unwrap()).await["revision"],
        json!(2)
    );
}

on_both_backends!(
    deploy_snapshot_redeploy_and_runtime_env,
    runtime_tokens_are_the_only_way_in_and_can_be_rotated,
    references_are_checked_and_used_objects_cannot_be_deleted,
    a_deploy_file_is_read_with_overrides_and_unknown_keys_refused,
);
