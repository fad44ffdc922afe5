//! Scale benchmark (not a test): `cargo bench --features ssr --bench scale`.
//!
//! One database holds two organizations: a large one (10,000 sets × 100 keys, 1,000
//! deployments, 1,000,000 audit rows) and a small one (100 sets × 100 keys, 100
//! deployments, 1,000 audit rows). Sets and deployments are written through the same
//! service layer as the server; the audit rows, which the server only ever appends one
//! at a time, are bulk-inserted with one SQL statement. Then every page and REST list
//! is read at 16 connections through the real router on a free port, small and large
//! one after the other, and the table shows p50/p99 for each with large ÷ small: the
//! cost of a page must not grow with the organization. SQLite file and PostgreSQL on
//! 127.0.0.1; bounded by request count.
//!
//! For profiling one page: `SCALE_BACKEND=sqlite|postgres` measures one database and
//! `SCALE_ONLY=text` only the figures whose name contains `text`.

#![allow(clippy::unwrap_used, reason = "a benchmark: a panic is the failure report")]

#[path = "../it/common/mod.rs"]
mod common;

use cloakroom::domain::principal::Principal;
use cloakroom::domain::{auth, deployments, secrets};
use cloakroom::model::{AuditFilter, DeploymentSpec};
use cloakroom::validate::{validate_pairs, ResourceName};
use common::{spawn_app_with, user, Backend, TestApp, PASSWORD};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEYS: usize = 100;
const CONNECTIONS: usize = 16;
const REQUESTS: usize = 1600;

struct Size {
    sets: usize,
    deployments: usize,
    audit: usize,
}

const LARGE: Size = Size {
    sets: 10_000,
    deployments: 1_000,
    audit: 1_000_000,
};
const SMALL: Size = Size {
    sets: 100,
    deployments: 100,
    audit: 1_000,
};

/// One organization as the bench reads it: a dashboard session and an API token.
struct Org {
    name: String,
    cookie: String,
    token: String,
    deep_audit: i64,
    /// The cursor of the sets list's last full page (50 sets), deep in a large one.
    deep_sets: String,
}

async fn seed(app: &Arc<TestApp>, who: &Principal, size: &Size) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let (app, who) = (app.clone(), who.clone());
        let sets = size.sets;
        tasks.push(tokio::spawn(async move {
            for s in (worker..sets).step_by(4) {
                let raw: Vec<(String, String)> = (0..KEYS)
                    .map(|k| {
                        (
                            format!("KEY_{k:03}"),
                            format!("value of set {s} key {k}, about forty bytes"),
                        )
                    })
                    .collect();
                let pairs = validate_pairs(raw.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
                let name = ResourceName::parse(&format!("set-{s:05}")).unwrap();
                secrets::write(&app.state, &who, &name, pairs, None)
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for d in 0..size.deployments {
        let spec = DeploymentSpec {
            name: format!("agent-{d:04}"),
            image: "ghcr.io/acme/agent:1".into(),
            secret_set: Some(format!("set-{:05}", d % size.sets)),
            pull_secret: None,
            region: "us-west".into(),
            min_agents: 1,
            max_agents: 2,
        };
        deployments::deploy(&app.state, who, &spec).await.unwrap();
    }
    let (org, rows, sets) = (who.org.id, size.audit, size.sets);
    let start = cloakroom::domain::now() - 30 * 86_400;
    let sql = match app.db.backend {
        Backend::Sqlite => format!(
            "INSERT INTO audit_log (org_id, at, actor, source, action, object, keys, detail) \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) \
             SELECT {org}, {start} + i * 2, 'owner@example.com', 'api', 'secrets.set', \
             'set:set-' || printf('%05d', i % {sets}), 'KEY_007', '' FROM n; ANALYZE;"
        ),
        Backend::Postgres => format!(
            "INSERT INTO audit_log (org_id, at, actor, source, action, object, keys, detail) \
             SELECT {org}, {start} + i * 2, 'owner@example.com', 'api', 'secrets.set', \
             'set:set-' || lpad((i % {sets})::text, 5, '0'), 'KEY_007', '' \
             FROM generate_series(1, {rows}) AS i; ANALYZE;"
        ),
    };
    app.db.execute(&sql).await;
    println!(
        "  {}: {} sets × {KEYS} keys, {} deployments, {} audit rows in {:.0} s",
        who.org.name,
        size.sets,
        size.deployments,
        size.audit,
        started.elapsed().as_secs_f64()
    );
}

async fn org(app: &Arc<TestApp>, who: &Principal, email: &str, size: &Size) -> Org {
    let (_, session) = auth::login(&app.state, email, PASSWORD, "127.0.0.1")
        .await
        .unwrap();
    let token = auth::create_api_token(&app.state, who, "bench").await.unwrap();
    let newest = app
        .state
        .store
        .audit(
            who.org.id,
            &AuditFilter {
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // Nine tenths of the way down the bulk-inserted rows (their ids are consecutive).
    let deep_audit = newest[0].id - (size.audit as i64 * 9 / 10);
    Org {
        name: who.org.name.clone(),
        cookie: format!("cloakroom_session={session}"),
        token,
        deep_audit,
        deep_sets: format!("set-{:05}", size.sets - 51),
    }
}

/// A request the bench makes: a dashboard page (session cookie) or a REST read (token).
#[derive(Clone, Copy)]
enum Kind {
    Page,
    Rest,
}

struct Endpoint {
    name: &'static str,
    kind: Kind,
    /// The path for request `i` of organization `o`.
    path: fn(&Org, usize) -> String,
    /// Text every answer must contain (a check that the page really rendered).
    expect: &'static str,
}

fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            name: "sets list page",
            kind: Kind::Page,
            path: |o, _| format!("/orgs/{}/secrets", o.name),
            expect: "set-00049",
        },
        Endpoint {
            name: "sets list, REST",
            kind: Kind::Rest,
            path: |o, _| format!("/api/v1/orgs/{}/secrets", o.name),
            expect: "set-00049",
        },
        Endpoint {
            name: "sets list page, the last page",
            kind: Kind::Page,
            path: |o, _| format!("/orgs/{}/secrets?after={}", o.name, o.deep_sets),
            expect: "/secrets/set-0",
        },
        Endpoint {
            name: "sets list page, search \"0042\"",
            kind: Kind::Page,
            path: |o, _| format!("/orgs/{}/secrets?q=0042", o.name),
            expect: "set-00042",
        },
        Endpoint {
            name: "sets list page, search \"set-0\" (every name)",
            kind: Kind::Page,
            path: |o, _| format!("/orgs/{}/secrets?q=set-0", o.name),
            expect: "set-00049",
        },
        Endpoint {
            name: "sets list page, search \"t-0004\"",
            kind: Kind::Page,
            path: |o, _| format!("/orgs/{}/secrets?q=t-0004", o.name),
            expect: "set-00042",
        },
        Endpoint {
            name: "set page (100 keys)",
            kind: Kind::Page,
            path: |o, i| format!("/orgs/{}/secrets/set-{:05}", o.name, i * 7 % 100),
            expect: "KEY_099",
        },
        Endpoint {
            name: "set, REST (100 keys)",
            kind: Kind::Rest,
            path: |o, i| format!("/api/v1/orgs/{}/secrets/set-{:05}", o.name, i * 7 % 100),
            expect: "KEY_099",
        },
        Endpoint {
            name: "deployments list page",
            kind: Kind::Page,
            path: |o, _| format!("/orgs/{}/deployments", o.name),
            expect: "agent-0049",
        },
        Endpoint {
            name: "deployments list, REST",
            kind: Kind::Rest,
            path: |o, _| format!("/api/v1/orgs/{}/deployments", o.name),
            expect: "agent-0049",
        },
        Endpoint {
            name: "audit page, newest",
            kind: Kind::Page,
            path: |o, _| format!("/orgs/{}/audit", o.name),
            expect: "set:set-",
        },
        Endpoint {
            name: "audit page, 9/10 down the log",
            kind: Kind::Page,
            path: |o, _| format!("/orgs/{}/audit?before={}", o.name, o.deep_audit),
            expect: "set:set-",
        },
        Endpoint {
            name: "audit page, one set",
            kind: Kind::Page,
            path: |o, i| format!("/orgs/{}/audit?object=set%3Aset-{:05}", o.name, i % 100),
            expect: "set:set-",
        },
    ]
}

fn request(app: &TestApp, o: &Org, e: &Endpoint, i: usize) -> reqwest::RequestBuilder {
    let req = app.http.get(app.url(&(e.path)(o, i)));
    match e.kind {
        Kind::Page => req.header("cookie", &o.cookie),
        Kind::Rest => req.bearer_auth(&o.token),
    }
}

async fn one(app: &TestApp, o: &Org, e: &Endpoint, i: usize) -> Duration {
    let start = Instant::now();
    let res = request(app, o, e, i).send().await.unwrap();
    let status = res.status();
    let body = res.text().await.unwrap();
    let took = start.elapsed();
    assert!(
        status.is_success() && body.contains(e.expect),
        "{} of {}: {status}, {} bytes, without {:?}",
        e.name,
        o.name,
        body.len(),
        e.expect
    );
    took
}

/// p50 and p99 of `REQUESTS` requests made by `CONNECTIONS` clients at once.
async fn percentiles(app: &Arc<TestApp>, o: &Arc<Org>, e: &Arc<Endpoint>) -> (Duration, Duration) {
    for i in 0..CONNECTIONS {
        one(app, o, e, i).await;
    }
    let mut clients = Vec::new();
    for c in 0..CONNECTIONS {
        let (app, o, e) = (app.clone(), o.clone(), e.clone());
        clients.push(tokio::spawn(async move {
            let mut times = Vec::new();
            for i in (c..REQUESTS).step_by(CONNECTIONS) {
                times.push(one(&app, &o, &e, i).await);
            }
            times
        }));
    }
    let mut all = Vec::with_capacity(REQUESTS);
    for c in clients {
        all.extend(c.await.unwrap());
    }
    all.sort();
    (all[all.len() / 2], all[all.len() * 99 / 100])
}

async fn measure(backend: Backend) {
    let app = Arc::new(spawn_app_with(backend, common::without_quotas).await);
    let large_owner = app.principal.clone();
    let small_owner = user(&app.state, "small@example.com", "small").await;
    seed(&app, &small_owner, &SMALL).await;
    seed(&app, &large_owner, &LARGE).await;
    let small = Arc::new(org(&app, &small_owner, "small@example.com", &SMALL).await);
    let large = Arc::new(org(&app, &large_owner, "owner@example.com", &LARGE).await);
    let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1000.0);
    println!(
        "  {:<34} {:>9} {:>9} {:>9} {:>9} {:>16}",
        "ms", "small p50", "small p99", "large p50", "large p99", "p99 large÷small"
    );
    let only = std::env::var("SCALE_ONLY").unwrap_or_default();
    for e in endpoints().into_iter().filter(|e| e.name.contains(&only)) {
        let e = Arc::new(e);
        let s = percentiles(&app, &small, &e).await;
        let l = percentiles(&app, &large, &e).await;
        println!(
            "  {:<34} {:>9} {:>9} {:>9} {:>9} {:>16.2}",
            e.name,
            ms(s.0),
            ms(s.1),
            ms(l.0),
            ms(l.1),
            l.1.as_secs_f64() / s.1.as_secs_f64()
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let only = std::env::var("SCALE_BACKEND").unwrap_or_default();
    println!(
        "scale benchmark: {CONNECTIONS} connections, {REQUESTS} requests per figure, \
         server and clients in one process on 2 worker threads"
    );
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if !only.is_empty() && !format!("{backend:?}").eq_ignore_ascii_case(&only) {
            continue;
        }
        println!("{backend:?}:");
        measure(backend).await;
    }
}
