//! Compare-and-find benchmark (not a test): `cargo bench --features ssr --bench compare`.
//! Through the real REST API of a server on a free port, on a real SQLite file and a
//! fresh PostgreSQL database, with an organization of 10,000 sets × 100 keys plus two
//! 1,000-key sets:
//! - `GET secrets-compare?a=&b=` of the two 1,000-key sets, and
//! - `POST secrets-find` of a value held in three places, and of one held nowhere,
//!
//! each as a ratio to a single-set `GET secrets/{set}` measured in the same run (of a
//! 1,000-key set for the comparison, of a 100-key set for find).

#![allow(clippy::unwrap_used, reason = "a benchmark: a panic is the failure report")]

#[path = "../it/common/mod.rs"]
mod common;

use cloakroom::domain::{auth, secrets};
use cloakroom::model::Role;
use cloakroom::validate::{validate_pairs, ResourceName};
use common::{spawn_app_with, user_with_role, Backend, TestApp};
use reqwest::Method;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SETS: usize = 10_000;
const KEYS: usize = 100;
const LEAKED: &str = "sk_live_leaked-value-4f9a2c7e1b";

async fn write(app: &TestApp, set: &str, raw: Vec<(String, String)>) {
    let pairs = validate_pairs(raw.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
    secrets::write(
        &app.state,
        &app.principal,
        &ResourceName::parse(set).unwrap(),
        pairs,
        None,
    )
    .await
    .unwrap();
}

/// 10,000 sets of 100 keys (the leaked value in three of them), and sets `a` and `b`
/// of 1,000 keys: 700 shared keys (500 equal values, 200 different), 300 only in each.
async fn populate(app: Arc<TestApp>) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            for s in (worker..SETS).step_by(4) {
                let raw = (0..KEYS)
                    .map(|k| {
                        let value = if k == 7 && s % 4000 == 1 {
                            LEAKED.to_owned()
                        } else {
                            format!("value of set {s} key {k}, about forty bytes")
                        };
                        (format!("KEY_{k:03}"), value)
                    })
                    .collect();
                write(&app, &format!("set-{s:05}"), raw).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let a = (0..1000)
        .map(|k| (format!("K{k:04}"), format!("shared value {k}")))
        .collect();
    let b = (300..1300)
        .map(|k| {
            let v = if k < 800 {
                format!("shared value {k}")
            } else {
                format!("other value {k}")
            };
            (format!("K{k:04}"), v)
        })
        .collect();
    write(&app, "a", a).await;
    write(&app, "b", b).await;
    println!(
        "  populated {} sets, {} keys, in {:.0} s",
        SETS + 2,
        SETS * KEYS + 2000,
        started.elapsed().as_secs_f64()
    );
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median time of `n` sequential requests made by `req`, each checked by `check`.
async fn time<F>(n: usize, mut req: F) -> Duration
where
    F: FnMut(usize) -> reqwest::RequestBuilder,
{
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let start = Instant::now();
        let res = req(i).send().await.unwrap();
        let status = res.status();
        let body = res.bytes().await.unwrap();
        times.push(start.elapsed());
        assert!(
            status.is_success(),
            "{status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    median(times)
}

struct Figures {
    get_1000: Duration,
    compare: Duration,
    get_100: Duration,
    find_three: Duration,
    find_none: Duration,
}

async fn measure(backend: Backend) -> Figures {
    let app = Arc::new(spawn_app_with(backend, common::without_quotas).await);
    populate(app.clone()).await;

    // Check the answers once before timing them.
    let cmp: serde_json::Value = app
        .api(Method::GET, "/secrets-compare?a=a&b=b")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let len = |k: &str| cmp[k].as_array().unwrap().len();
    assert_eq!(
        (len("only_in_a"), len("only_in_b"), len("same"), len("different")),
        (300, 300, 500, 200)
    );

    // Find is limited to 10 lookups a minute per person: 12 admins share the timing.
    let mut admins = Vec::new();
    for i in 0..12 {
        let who = user_with_role(&app.state, &format!("admin{i}@example.com"), "acme", Role::Admin).await;
        admins.push(auth::create_api_token(&app.state, &who, "bench").await.unwrap());
    }
    let find = |value: &'static str, i: usize| {
        app.http
            .post(app.url("/api/v1/orgs/acme/secrets-find"))
            .bearer_auth(&admins[i % admins.len()])
            .json(&serde_json::json!({ "value": value }))
    };
    let found: serde_json::Value = find(LEAKED, 0).send().await.unwrap().json().await.unwrap();
    let places = found["places"].as_array().unwrap();
    let in_sets = places.iter().filter(|p| p["kind"] == "set").count();
    assert_eq!(in_sets, 3, "{found}");
    println!(
        "  the leaked value: {} places ({in_sets} sets and their versions)",
        places.len()
    );

    let runs = 41;
    Figures {
        get_1000: time(runs, |_| app.api(Method::GET, "/secrets/a")).await,
        compare: time(runs, |_| app.api(Method::GET, "/secrets-compare?a=a&b=b")).await,
        get_100: time(runs, |i| {
            app.api(Method::GET, &format!("/secrets/set-{:05}", i * 97 % SETS))
        })
        .await,
        find_three: time(41, |i| find(LEAKED, i + 1)).await,
        find_none: time(41, |i| find("a value held nowhere", i + 5)).await,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("compare/find benchmark: {SETS} sets × {KEYS} keys, REST on a free port, medians");
    let mut all = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        println!("{backend:?}:");
        all.push(measure(backend).await);
    }
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    let ratio = |a: Duration, b: Duration| format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64());
    let (s, p) = (&all[0], &all[1]);
    println!("{:<52} {:>12} {:>12}", "", "SQLite", "PostgreSQL");
    for (name, a, b) in [
        ("GET one 1,000-key set", ms(s.get_1000), ms(p.get_1000)),
        ("compare two 1,000-key sets", ms(s.compare), ms(p.compare)),
        (
            "  ÷ GET one 1,000-key set",
            ratio(s.compare, s.get_1000),
            ratio(p.compare, p.get_1000),
        ),
        ("GET one 100-key set", ms(s.get_100), ms(p.get_100)),
        (
            "find a value held in 3 places",
            ms(s.find_three),
            ms(p.find_three),
        ),
        (
            "  ÷ GET one 100-key set",
            ratio(s.find_three, s.get_100),
            ratio(p.find_three, p.get_100),
        ),
        ("find a value held nowhere", ms(s.find_none), ms(p.find_none)),
        (
            "  ÷ GET one 100-key set",
            ratio(s.find_none, s.get_100),
            ratio(p.find_none, p.get_100),
        ),
    ] {
        println!("{name:<52} {a:>12} {b:>12}");
    }
}
