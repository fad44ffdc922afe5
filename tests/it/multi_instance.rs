//! Two Cloakroom instances on one PostgreSQL database, as behind a load balancer.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use crate::common;

use cloakroom::domain::{auth, secrets};
use common::{http_client, serve, user, Backend, TestDb};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_clients_through_two_instances_lose_nothing_and_sessions_roam() {
    let db = TestDb::new(Backend::Postgres).await;
    // Two instances: each its own state and connection pool, same database and key.
    let a = db.state(3).await;
    let b = db.state(3).await;
    let who = user(&a, "owner@example.com", "acme").await;
    let token = auth::create_api_token(&a, &who, "load").await.unwrap();
    let bases = [serve(a.clone()).await, serve(b.clone()).await];

    let clients: Vec<_> = (0..20)
        .map(|c| {
            let (http, token, bases) = (http_client(), token.clone(), bases.clone());
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for i in 0..10 {
                    let base = &bases[(c + i) % 2];
                    let set = if i % 2 == 0 {
                        "shared".to_string()
                    } else {
                        format!("client-{c}")
                    };
                    let (key, value) = (format!("C{c}_K{i}"), format!("value {c}/{i} ✓ \n"));
                    let res = http
                        .put(format!("{base}/api/v1/orgs/acme/secrets/{set}"))
                        .bearer_auth(&token)
                        .json(&json!({"secrets": [{"key": key, "value": value}]}))
                        .send()
                        .await
                        .unwrap();
                    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
                    acked.push((set, key, value));
                }
                acked
            })
        })
        .collect();
    let mut acked = Vec::new();
    for c in clients {
        acked.extend(c.await.unwrap());
    }
    assert_eq!(acked.len(), 200);

    // Every acknowledged write is there, read through the other instance.
    for (set, key, value) in &acked {
        let got = secrets::reveal(&b, &who, set, key).await.unwrap();
        assert_eq!(got.expose(), value);
    }
    let sets = b.store.list_sets(who.org.id).await.unwrap();
    assert_eq!(sets.len(), 21);
    let shared = b.store.get_set(who.org.id, "shared").await.unwrap().unwrap();
    assert_eq!(shared.keys.len(), 100);
    assert_eq!(shared.revision, 100, "each acknowledged write is one revision");
    for s in sets.iter().filter(|s| s.name.starts_with("client-")) {
        assert_eq!(s.key_count, 5, "{}", s.name);
    }

    // Two writers holding the same revision, one per instance: exactly one wins.
    let http = http_client();
    let race = |base: String, body: &'static str| {
        let (http, token) = (http.clone(), token.clone());
        async move {
            http.put(format!("{base}/api/v1/orgs/acme/secrets/shared"))
                .bearer_auth(&token)
                .header("content-type", "text/plain")
                .header("if-match", "100")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let (s1, s2) = tokio::join!(race(bases[0].clone(), "RACE=a"), race(bases[1].clone(), "RACE=b"));
    let mut statuses = [s1, s2];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::PRECONDITION_FAILED]);

    // A session opened on one instance works on the other, and ends on both.
    let res = http
        .post(format!("{}/api/login", bases[0]))
        .header("origin", &bases[0])
        .header("accept", "text/html")
        .form(&[("email", "owner@example.com"), ("password", common::PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let res = http
        .get(format!("{}/orgs/acme/secrets", bases[1]))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("owner@example.com"));
    let res = http
        .post(format!("{}/api/logout", bases[1]))
        .header("origin", &bases[1])
        .header("accept", "text/html")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let res = http
        .get(format!("{}/orgs/acme/secrets", bases[0]))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let list: Value = http
        .get(format!("{}/api/v1/orgs/acme/secrets", bases[0]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["sets"].as_array().unwrap().len(), 21);
}
