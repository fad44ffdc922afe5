//! History on both backends: set versions, restore (all or some keys, with If-Match),
//! undelete and purge, retention, deployment rollback; values byte for byte through
//! each, and never a value in any answer about history.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use crate::common;

use cloakroom::model::Role;
use common::{spawn_app, spawn_app_with, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Values that must never appear in an answer about history.
const CANARY_A: &str = "canary value x y";
const CANARY_B: &str = "a=b canary";

async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value, String) {
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, json, text)
}

async fn put(app: &TestApp, set: &str, pairs: &[(&str, &str)]) -> Value {
    let secrets: Vec<Value> = pairs.iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
    let (status, body, text) = send(
        app.api(Method::PUT, &format!("/secrets/{set}"))
            .json(&json!({ "secrets": secrets })),
    )
    .await;
    assert!(status.is_success(), "{text}");
    body
}

async fn unset(app: &TestApp, set: &str, key: &str) {
    let (status, _, text) = send(app.api(Method::DELETE, &format!("/secrets/{set}/{key}"))).await;
    assert!(status.is_success(), "{text}");
}

/// Every value of the set, decrypted on the server (as the tests' window on storage).
async fn values(app: &TestApp, set: &str) -> Vec<(String, String)> {
    let detail = cloakroom::domain::secrets::detail(&app.state, &app.principal, set)
        .await
        .unwrap();
    let mut out = Vec::new();
    for k in detail.keys {
        let v = cloakroom::domain::secrets::reveal(&app.state, &app.principal, set, &k.key)
            .await
            .unwrap();
        out.push((k.key, v.expose().to_owned()));
    }
    out
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn runtime_env(app: &TestApp, token: &str) -> Value {
    let (status, body, text) = send(app.http.get(app.url("/api/v1/runtime/env")).bearer_auth(token)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    body
}

fn no_canary(what: &str, text: &str) {
    for canary in [CANARY_A, CANARY_B, "canary"] {
        assert!(!text.contains(canary), "{what} shows a value: {text}");
    }
}

/// v1 {A, B} → v2 (B unset) → v3 (A changed) → restore v1 → a redeploy serves v1 byte
/// for byte; rolling back to the first revision serves it too; every history answer
/// is free of values.
async fn restore_and_rollback_are_byte_exact(backend: Backend) {
    let app = spawn_app(backend).await;
    let v1 = [("A", CANARY_A), ("B", CANARY_B)];
    put(&app, "prod", &v1).await;
    let (status, deployed, _) = send(
        app.api(Method::PUT, "/deployments/bot")
            .json(&json!({"image": "x/bot:1", "secret_set": "prod"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let token = deployed["runtime_token"].as_str().unwrap().to_owned();
    unset(&app, "prod", "B").await;
    put(&app, "prod", &[("A", "canary changed")]).await;

    let (_, list, text) = send(app.api(Method::GET, "/secret-versions/prod")).await;
    no_canary("the version list", &text);
    let versions = list["versions"].as_array().unwrap();
    let summary: Vec<(i64, &str, Value, Value, Value)> = versions
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["action"].as_str().unwrap(),
                v["added"].clone(),
                v["changed"].clone(),
                v["removed"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (3, "set", json!([]), json!(["A"]), json!([])),
            (2, "unset", json!([]), json!([]), json!(["B"])),
            (1, "set", json!(["A", "B"]), json!([]), json!([])),
        ]
    );
    assert_eq!(versions[0]["actor"], "owner@example.com");
    assert_eq!(versions[0]["source"], "api");

    let (_, keys, text) = send(app.api(Method::GET, "/secret-versions/prod/1")).await;
    no_canary("a version", &text);
    assert_eq!(keys["version"], 1);
    let names: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["A", "B"]);

    // The preview says what restoring v1 does and who needs a redeploy.
    let (_, plan, text) = send(
        app.api(Method::POST, "/secret-restores?dry_run=true")
            .json(&json!({"set": "prod", "version": 1})),
    )
    .await;
    no_canary("the restore preview", &text);
    assert_eq!(
        plan,
        json!({"set": "prod", "version": 1, "revision": 3, "added": ["B"], "changed": ["A"],
               "removed": [], "deployments": ["bot"]})
    );
    let (status, done, text) = send(
        app.api(Method::POST, "/secret-restores")
            .header("if-match", "\"3\"")
            .json(&json!({"set": "prod", "version": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    no_canary("the restore answer", &text);
    assert_eq!(
        (
            done["revision"].clone(),
            done["added"].clone(),
            done["changed"].clone()
        ),
        (json!(4), json!(["B"]), json!(["A"]))
    );
    assert_eq!(values(&app, "prod").await, pairs(&v1));
    let (_, list, _) = send(app.api(Method::GET, "/secret-versions/prod")).await;
    assert_eq!(list["versions"][0]["action"], "restore");
    assert_eq!(list["versions"][0]["detail"], "restored from v1");
    let (_, audit, _) = send(app.api(Method::GET, "/audit?action=secrets.restore")).await;
    assert!(
        audit["entries"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("restored from v1"),
        "{audit}"
    );

    let (status, _, _) = send(app.api(Method::POST, "/deployments/bot/redeploy")).await;
    assert_eq!(status, StatusCode::OK);
    let env = runtime_env(&app, &token).await;
    assert_eq!(env["revision"], 2);
    assert_eq!(env["env"], json!({"A": CANARY_A, "B": CANARY_B}));

    // Roll back to revision 1 after serving something else in between.
    put(&app, "prod", &[("A", "canary third")]).await;
    send(app.api(Method::POST, "/deployments/bot/redeploy")).await;
    assert_eq!(runtime_env(&app, &token).await["env"]["A"], "canary third");
    let (_, revisions, text) = send(app.api(Method::GET, "/deployments/bot/revisions")).await;
    no_canary("the revision list", &text);
    let listed: Vec<(i64, bool, Option<i64>)> = revisions["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["revision"].as_i64().unwrap(),
                r["current"].as_bool().unwrap(),
                r["set_version"].as_i64(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [(3, true, Some(5)), (2, false, Some(4)), (1, false, Some(1))]
    );
    let (status, back, text) = send(
        app.api(Method::POST, "/deployments/bot/rollback")
            .json(&json!({"revision": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(back, json!({"name": "bot", "revision": 4, "rolled_back_to": 1}));
    let env = runtime_env(&app, &token).await;
    assert_eq!(env["revision"], 4);
    assert_eq!(env["env"], json!({"A": CANARY_A, "B": CANARY_B}));
    let (_, revisions, _) = send(app.api(Method::GET, "/deployments/bot/revisions")).await;
    assert_eq!(revisions["revisions"][0]["rollback_of"], 1);
    // The set moved on since version 1: the deployment says so.
    let (_, d, _) = send(app.api(Method::GET, "/deployments/bot")).await;
    assert_eq!(d["status"], "needs redeploy");
    // Rolling back to what runs already, or to a revision not kept, is refused.
    let (status, _, _) = send(
        app.api(Method::POST, "/deployments/bot/rollback")
            .json(&json!({"revision": 4})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _, _) = send(
        app.api(Method::POST, "/deployments/bot/rollback")
            .json(&json!({"revision": 40})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Restoring some keys changes only those; a stale If-Match, an unknown key or a version
/// not kept changes nothing; restoring what the set holds already makes no version.
async fn restoring_keys_and_refusals(backend: Backend) {
    let app = spawn_app(backend).await;
    put(&app, "s", &[("A", "1"), ("B", "2"), ("C", "3")]).await;
    put(&app, "s", &[("A", "10"), ("B", "20")]).await;
    unset(&app, "s", "C").await;
    let restore = |body: Value, if_match: Option<&str>| {
        let mut req = app.api(Method::POST, "/secret-restores").json(&body);
        if let Some(m) = if_match {
            req = req.header("if-match", m);
        }
        send(req)
    };
    let before = values(&app, "s").await;
    let (status, _, text) = restore(json!({"set": "s", "version": 1}), Some("2")).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{text}");
    assert!(text.contains("changed since you loaded it"), "{text}");
    let (status, _, text) = restore(json!({"set": "s", "version": 1, "keys": ["NOPE"]}), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("NOPE"), "{text}");
    let (status, _, text) = restore(json!({"set": "s", "version": 9}), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(text.contains("version 9"), "{text}");
    let (status, _, _) = restore(json!({"set": "nosuch", "version": 1}), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(values(&app, "s").await, before);

    let (status, done, text) = restore(
        json!({"set": "s", "version": 1, "keys": ["A", "C"]}),
        Some("\"3\""),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(
        (done["added"].clone(), done["changed"].clone()),
        (json!(["C"]), json!(["A"]))
    );
    assert_eq!(
        values(&app, "s").await,
        pairs(&[("A", "1"), ("B", "20"), ("C", "3")])
    );
    // Again: nothing to change, no new version.
    let (status, done, _) = restore(json!({"set": "s", "version": 1, "keys": ["A"]}), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(done["revision"], 4);
    // A key restored from a version that did not have it is removed.
    put(&app, "s", &[("D", "4")]).await;
    let (_, done, _) = restore(json!({"set": "s", "version": 4, "keys": ["D"]}), None).await;
    assert_eq!(done["removed"], json!(["D"]));
    assert_eq!(
        values(&app, "s").await,
        pairs(&[("A", "1"), ("B", "20"), ("C", "3")])
    );
}

/// Keys named like the history routes' words stay ordinary keys on every set route.
async fn history_words_are_ordinary_keys(backend: Backend) {
    let app = spawn_app(backend).await;
    let words = ["versions", "restore", "compare", "check", "history", "deleted"];
    let pairs_in: Vec<(&str, &str)> = words.iter().map(|w| (*w, "v")).collect();
    put(&app, "s", &pairs_in).await;
    let (_, set, _) = send(app.api(Method::GET, "/secrets/s")).await;
    let keys: Vec<&str> = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["check", "compare", "deleted", "history", "restore", "versions"]
    );
    for word in words {
        let (status, _, text) = send(app.api(Method::DELETE, &format!("/secrets/s/{word}"))).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{word}: {text}");
    }
    let (_, set, _) = send(app.api(Method::GET, "/secrets/s")).await;
    assert_eq!(set["keys"], json!([]));
    // And a set may be named like them too.
    put(&app, "versions", &[("K", "1")]).await;
    let (status, _, _) = send(app.api(Method::GET, "/secret-versions/versions")).await;
    assert_eq!(status, StatusCode::OK);
}

async fn set_id(app: &TestApp, name: &str) -> i64 {
    cloakroom::domain::history::deleted(&app.state, &app.principal)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.name == name)
        .unwrap()
        .id
}

/// Counts rows of `table` for set `id` straight from the database.
async fn rows_of(app: &TestApp, table: &str, column: &str, id: i64) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} = {id}");
    match app.db.backend {
        Backend::Sqlite => {
            let db = rusqlite::Connection::open(app.db.dir.path().join("cloakroom.db")).unwrap();
            db.query_row(&sql, [], |r| r.get(0)).unwrap()
        }
        Backend::Postgres => {
            let (client, conn) = tokio_postgres::connect(&app.db.url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client.query_one(&sql, &[]).await.unwrap().get(0)
        }
    }
}

/// Delete → undelete gives the same bytes back; a reused name means restoring under a
/// new one; purging removes every sealed value; retention purges what is left.
async fn undelete_rename_and_purge(backend: Backend) {
    let app = spawn_app(backend).await;
    let v = [("A", CANARY_A), ("B", CANARY_B)];
    put(&app, "old", &v).await;
    put(&app, "old", &[("A", "canary two")]).await;
    send(app.api(Method::DELETE, "/secrets/old")).await;
    let (status, _, _) = send(app.api(Method::GET, "/secrets/old")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, deleted, text) = send(app.api(Method::GET, "/deleted-secrets")).await;
    no_canary("the deleted list", &text);
    let item = &deleted["deleted"][0];
    assert_eq!(
        (item["name"].as_str(), item["keys"].as_i64()),
        (Some("old"), Some(2))
    );
    assert_eq!(item["deleted_by"], "owner@example.com");
    let id = item["id"].as_i64().unwrap();

    let (status, set, text) = send(app.api(Method::POST, &format!("/deleted-secrets/{id}/restore"))).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    no_canary("the undelete answer", &text);
    assert_eq!(set["revision"], 3);
    assert_eq!(
        values(&app, "old").await,
        pairs(&[("A", "canary two"), ("B", CANARY_B)])
    );
    // Its history came back with it, and still restores.
    let (status, _, text) = send(
        app.api(Method::POST, "/secret-restores")
            .json(&json!({"set": "old", "version": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(values(&app, "old").await, pairs(&v));

    // Deleted again, and the name taken by a new set: restored under another name,
    // its values sealed again for that name, byte for byte the same.
    send(app.api(Method::DELETE, "/secrets/old")).await;
    put(&app, "old", &[("NEW", "other")]).await;
    let id = set_id(&app, "old").await;
    let (_, deleted, _) = send(app.api(Method::GET, "/deleted-secrets")).await;
    assert_eq!(deleted["deleted"][0]["name_taken"], true);
    let (status, _, text) = send(app.api(Method::POST, &format!("/deleted-secrets/{id}/restore"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{text}");
    assert!(text.contains("another name"), "{text}");
    let (status, set, text) = send(
        app.api(Method::POST, &format!("/deleted-secrets/{id}/restore"))
            .json(&json!({"name": "renamed"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(set["name"], "renamed");
    assert_eq!(values(&app, "renamed").await, pairs(&v));
    assert_eq!(values(&app, "old").await, pairs(&[("NEW", "other")]));
    // An older version (sealed for the old name) restores into the renamed set.
    let (status, _, text) = send(
        app.api(Method::POST, "/secret-restores")
            .json(&json!({"set": "renamed", "version": 2})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(
        values(&app, "renamed").await,
        pairs(&[("A", "canary two"), ("B", CANARY_B)])
    );

    // Purge: owners only, and every sealed value of the set leaves the database.
    send(app.api(Method::DELETE, "/secrets/renamed")).await;
    let admin = common::user_with_role(&app.state, "admin@example.com", "acme", Role::Admin).await;
    let refused = cloakroom::domain::history::purge(&app.state, &admin, id)
        .await
        .unwrap_err();
    assert_eq!(refused.status_code(), 403);
    assert!(rows_of(&app, "secret_history", "set_id", id).await > 0);
    let (status, _, _) = send(app.api(Method::DELETE, &format!("/deleted-secrets/{id}"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for (table, column) in [
        ("secret_history", "set_id"),
        ("secret_versions", "set_id"),
        ("secrets", "set_id"),
        ("deleted_sets", "id"),
        ("secret_sets", "id"),
    ] {
        assert_eq!(rows_of(&app, table, column, id).await, 0, "{table} after purging");
    }
    let (status, _, _) = send(app.api(Method::POST, &format!("/deleted-secrets/{id}/restore"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, audit, _) = send(app.api(Method::GET, "/audit?action=set.")).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"set.purge") && actions.contains(&"set.undelete"),
        "{actions:?}"
    );

    // Retention: a set deleted long enough ago is purged by the periodic task.
    put(&app, "later", &[("K", "canary later")]).await;
    send(app.api(Method::DELETE, "/secrets/later")).await;
    let later = set_id(&app, "later").await;
    let now = cloakroom::domain::now();
    assert_eq!(
        cloakroom::domain::history::purge_expired(&app.state, now)
            .await
            .unwrap(),
        0
    );
    let month = now + 31 * 86_400;
    assert_eq!(
        cloakroom::domain::history::purge_expired(&app.state, month)
            .await
            .unwrap(),
        1
    );
    assert_eq!(rows_of(&app, "secret_history", "set_id", later).await, 0);
    assert_eq!(rows_of(&app, "deleted_sets", "id", later).await, 0);
}

/// Retention keeps the newest versions and every version a kept deployment revision was
/// taken from, prunes the rest with their values, and audits it.
async fn pruning_keeps_what_deployments_use(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.retention.versions_kept = 2;
        c.retention.version_days = 0;
    })
    .await;
    put(&app, "s", &[("A", "v1"), ("B", "same")]).await;
    put(&app, "s", &[("A", "v2")]).await;
    let (status, _, _) = send(
        app.api(Method::PUT, "/deployments/d")
            .json(&json!({"image": "x/y:1", "secret_set": "s"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    for n in 3..=6 {
        put(&app, "s", &[("A", &format!("v{n}"))]).await;
    }
    let (_, list, _) = send(app.api(Method::GET, "/secret-versions/s")).await;
    let kept: Vec<i64> = list["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(kept, [6, 5, 2], "the newest two and the deployed one");
    // Values of pruned versions are gone; version 2's are whole.
    let id: i64 = match app.db.backend {
        Backend::Sqlite => {
            let db = rusqlite::Connection::open(app.db.dir.path().join("cloakroom.db")).unwrap();
            db.query_row("SELECT id FROM secret_sets WHERE name = 's'", [], |r| r.get(0))
                .unwrap()
        }
        Backend::Postgres => {
            let (client, conn) = tokio_postgres::connect(&app.db.url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client
                .query_one("SELECT id FROM secret_sets WHERE name = 's'", &[])
                .await
                .unwrap()
                .get(0)
        }
    };
    // Rows: B (since 1, current), A v2, A v5, A v6.
    assert_eq!(rows_of(&app, "secret_history", "set_id", id).await, 4);
    let (status, _, text) = send(
        app.api(Method::POST, "/secret-restores")
            .json(&json!({"set": "s", "version": 2})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(values(&app, "s").await, pairs(&[("A", "v2"), ("B", "same")]));
    let (status, _, _) = send(
        app.api(Method::POST, "/secret-restores")
            .json(&json!({"set": "s", "version": 3})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, audit, _) = send(app.api(Method::GET, "/audit?action=set.prune")).await;
    assert!(!audit["entries"].as_array().unwrap().is_empty(), "{audit}");
}

/// Restoring needs the role writing the set needs (admins for a protected set).
async fn restore_follows_the_write_rules(backend: Backend) {
    let app = spawn_app(backend).await;
    put(&app, "s", &[("A", "1")]).await;
    put(&app, "s", &[("A", "2")]).await;
    let name = cloakroom::validate::ResourceName::parse("s").unwrap();
    let viewer = common::user_with_role(&app.state, "v@example.com", "acme", Role::Viewer).await;
    let member = common::user_with_role(&app.state, "m@example.com", "acme", Role::Member).await;
    let e = cloakroom::domain::history::restore(&app.state, &viewer, &name, 1, None, None)
        .await
        .unwrap_err();
    assert_eq!(e.status_code(), 403);
    send(
        app.api(Method::PATCH, "/secrets/s")
            .json(&json!({"protected": true})),
    )
    .await;
    let e = cloakroom::domain::history::restore(&app.state, &member, &name, 1, None, None)
        .await
        .unwrap_err();
    assert_eq!(e.status_code(), 403);
    assert_eq!(values(&app, "s").await, pairs(&[("A", "2")]));
    send(
        app.api(Method::PATCH, "/secrets/s")
            .json(&json!({"protected": false})),
    )
    .await;
    cloakroom::domain::history::restore(&app.state, &member, &name, 1, None, None)
        .await
        .unwrap();
    assert_eq!(values(&app, "s").await, pairs(&[("A", "1")]));
}

/// A rollback serves values of the set its revision was built from (by id): once that
/// set is deleted and its name reused, rolling back is refused until it is restored,
/// and then follows that set's protection, whatever its name.
async fn rollback_follows_the_set_it_was_built_from(backend: Backend) {
    let app = spawn_app(backend).await;
    put(&app, "prod", &[("DB_PASSWORD", "canary top secret")]).await;
    send(
        app.api(Method::PATCH, "/secrets/prod")
            .json(&json!({"protected": true})),
    )
    .await;
    put(&app, "staging", &[("DB_PASSWORD", "staging")]).await;
    let (status, created, _) = send(
        app.api(Method::PUT, "/deployments/bot")
            .json(&json!({"image": "x/bot:1", "secret_set": "prod"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let token = created["runtime_token"].as_str().unwrap().to_owned();
    let (status, _, _) = send(
        app.api(Method::PUT, "/deployments/bot")
            .json(&json!({"image": "x/bot:2", "secret_set": "staging"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    send(app.api(Method::DELETE, "/secrets/prod")).await;
    // A member makes a new, unprotected set under the old name.
    let member = common::user_with_role(&app.state, "m@example.com", "acme", Role::Member).await;
    let name = cloakroom::validate::ResourceName::parse("prod").unwrap();
    let pairs = cloakroom::validate::validate_pairs([("OTHER", "1")]).unwrap();
    cloakroom::domain::secrets::write(&app.state, &member, &name, pairs, None)
        .await
        .unwrap();
    for who in [&member, &app.principal] {
        let e = cloakroom::domain::deployments::rollback(&app.state, who, "bot", 1)
            .await
            .unwrap_err();
        assert_eq!(e.status_code(), 400, "{e}");
        assert!(e.to_string().contains("restore it"), "{e}");
    }
    // Restored under another name, the set is protected still: members may not roll
    // back to it, admins may, and the deployment then uses it by its new name.
    let id = set_id(&app, "prod").await;
    let (status, _, text) = send(
        app.api(Method::POST, &format!("/deleted-secrets/{id}/restore"))
            .json(&json!({"name": "prod-old"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let e = cloakroom::domain::deployments::rollback(&app.state, &member, "bot", 1)
        .await
        .unwrap_err();
    assert_eq!(e.status_code(), 403, "{e}");
    let (status, _, text) = send(
        app.api(Method::POST, "/deployments/bot/rollback")
            .json(&json!({"revision": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (_, d, _) = send(app.api(Method::GET, "/deployments/bot")).await;
    assert_eq!(
        (d["secret_set"].as_str(), d["image"].as_str()),
        (Some("prod-old"), Some("x/bot:1"))
    );
    assert_eq!(
        runtime_env(&app, &token).await["env"],
        json!({"DB_PASSWORD": "canary top secret"})
    );
    // In use again, so it cannot be deleted (and so never purged under the deployment).
    let (status, _, _) = send(app.api(Method::DELETE, "/secrets/prod-old")).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

/// Deploys and rollbacks of one deployment at once: each either happens or is refused
/// as a conflict; none fails (they take their locks in one order).
async fn deploys_and_rollbacks_at_once_never_fail(backend: Backend) {
    let app = spawn_app(backend).await;
    put(&app, "s", &[("K", "1")]).await;
    send(
        app.api(Method::PUT, "/deployments/d")
            .json(&json!({"image": "x/y:1", "secret_set": "s"})),
    )
    .await;
    send(
        app.api(Method::PUT, "/deployments/d")
            .json(&json!({"image": "x/y:2", "secret_set": "s"})),
    )
    .await;
    let mut tasks = Vec::new();
    // Twelve new revisions at most: revision 1 stays among the twenty kept.
    for i in 0..12 {
        let (state, who) = (app.state.clone(), app.principal.clone());
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                cloakroom::domain::deployments::rollback(&state, &who, "d", 1)
                    .await
                    .map(|_| ())
            } else {
                cloakroom::domain::deployments::redeploy(&state, &who, "d")
                    .await
                    .map(|_| ())
            }
        }));
    }
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            assert_eq!(e.status_code(), 409, "{e}");
        }
    }
}

/// A database from before history: each set's keys become its baseline version (which
/// restores), each deployment's current revision is listed.
async fn history_begins_with_a_baseline(backend: Backend) {
    let app = spawn_app(backend).await;
    put(&app, "app", &[("A", "canary 1"), ("B", "canary 2")]).await;
    send(
        app.api(Method::PUT, "/deployments/web")
            .json(&json!({"image": "x/web:1", "secret_set": "app"})),
    )
    .await;
    put(&app, "app", &[("A", "canary 3")]).await;
    // Back to the schema before history (and the later migrations), keeping the data.
    let drop = common::undo_search_index(backend)
        + " DROP INDEX audit_log_object; DROP INDEX audit_log_actor; \
                DROP TABLE secret_versions; DROP TABLE secret_history; DROP TABLE deleted_sets; \
                DROP TABLE deployment_revisions; DROP INDEX secrets_org_fingerprint; \
                DROP INDEX deployment_env_fingerprint;";
    match backend {
        Backend::Sqlite => app.db.execute(&format!("{drop} PRAGMA user_version = 7;")).await,
        Backend::Postgres => {
            app.db
                .execute(&format!(
                    "{drop} DROP INDEX secret_sets_org_name_c; DROP INDEX deployments_org_name_c; \
                     DELETE FROM schema_migrations WHERE version >= 8;"
                ))
                .await
        }
    }
    let state = app.db.state(7).await;
    let versions = cloakroom::domain::history::versions(&state, &app.principal, "app", None, 50)
        .await
        .unwrap()
        .versions;
    assert_eq!(versions.len(), 1);
    assert_eq!(
        (versions[0].version, versions[0].action.as_str()),
        (2, "baseline")
    );
    assert_eq!(versions[0].added, ["A", "B"]);
    let revisions = cloakroom::domain::deployments::revisions(&state, &app.principal, "web")
        .await
        .unwrap();
    assert_eq!(revisions.len(), 1);
    assert_eq!(
        (revisions[0].revision, revisions[0].set_version),
        (1, None),
        "the set changed since"
    );
    // History goes on from there.
    let name = cloakroom::validate::ResourceName::parse("app").unwrap();
    let pairs = cloakroom::validate::validate_pairs([("A", "canary 4")]).unwrap();
    cloakroom::domain::secrets::write(&state, &app.principal, &name, pairs, None)
        .await
        .unwrap();
    cloakroom::domain::history::restore(&state, &app.principal, &name, 2, None, None)
        .await
        .unwrap();
    let a = cloakroom::domain::secrets::reveal(&state, &app.principal, "app", "A")
        .await
        .unwrap();
    assert_eq!(a.expose(), "canary 3");
}

/// 120 versions: REST pages of 50 newest first, the history page's "Older versions"
/// link, and the compare pickers offering every version on any page.
async fn versions_come_in_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    for i in 0..120 {
        put(&app, "app", &[("N", &i.to_string())]).await;
    }
    let (mut seen, mut path) = (Vec::new(), "/secret-versions/app?limit=50".to_owned());
    loop {
        let (status, page, _) = send(app.api(Method::GET, &path)).await;
        assert_eq!(status, StatusCode::OK);
        seen.extend(
            page["versions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["version"].as_i64().unwrap()),
        );
        match page["next"].as_i64() {
            Some(n) => path = format!("/secret-versions/app?limit=50&after={n}"),
            None => break,
        }
    }
    assert_eq!(seen, (1..=120).rev().collect::<Vec<i64>>());
    let (status, _, text) = send(app.api(Method::GET, "/secret-versions/app?after=x")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");

    let cookie = app.owner_session().await;
    let rows = |html: &str| html.matches("/secret-versions/app/").count();
    let html = app.page(&cookie, "/orgs/acme/secret-versions/app").await;
    assert_eq!(rows(&html), 50);
    assert!(
        html.contains("href=\"/orgs/acme/secret-versions/app?before=71\""),
        "an older-versions link"
    );
    assert!(
        html.contains("<option value=\"1\""),
        "every version can be compared from the first page"
    );
    let html = app
        .page(&cookie, "/orgs/acme/secret-versions/app?before=21")
        .await;
    assert_eq!(rows(&html), 20);
    assert!(html.contains(">Newest versions</a>") && !html.contains(">Older versions</a>"));
    let html = app.page(&cookie, "/orgs/acme/secret-versions/app?before=1").await;
    assert!(html.contains("No older versions.") && html.contains(">Newest versions</a>"));
}

on_both_backends!(
    versions_come_in_pages,
    restore_and_rollback_are_byte_exact,
    restoring_keys_and_refusals,
    history_words_are_ordinary_keys,
    undelete_rename_and_purge,
    pruning_keeps_what_deployments_use,
    restore_follows_the_write_rules,
    rollback_follows_the_set_it_was_built_from,
    deploys_and_rollbacks_at_once_never_fail,
    history_begins_with_a_baseline,
);
