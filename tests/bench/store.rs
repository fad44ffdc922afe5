//! Storage benchmark (not a test): `cargo bench --features ssr --bench store`
//! Writes through the same service layer as the server (validation already done,
//! sealing + fingerprint + one transaction per write) on a real SQLite file and on a
//! fresh PostgreSQL database, and reports each backend as a ratio to SQLite measured
//! in the same run. Bounded by count and time; PostgreSQL on 127.0.0.1 only.
//!
//! The SQLite baseline for single-key writes is a bare `INSERT` + commit loop on a file
//! of its own with the store's pragmas (WAL, `synchronous = NORMAL`): what this machine
//! commits at most, against which 16 concurrent writers through the store are reported.

#![allow(clippy::unwrap_used, reason = "a benchmark: a panic is the failure report")]

#[path = "../it/common/mod.rs"]
mod common;

use cloakroom::domain::secrets;
use cloakroom::validate::{validate_pairs, ResourceName};
use common::{user, Backend, TestDb};
use std::time::{Duration, Instant};

const BUDGET: Duration = Duration::from_secs(5);
const WRITERS: usize = 16;

/// Bare SQLite commits per second: one row `INSERT`ed and committed at a time.
fn raw_sqlite_commits_per_s() -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let db = rusqlite::Connection::open(dir.path().join("raw.db")).unwrap();
    db.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB NOT NULL);",
    )
    .unwrap();
    let start = Instant::now();
    let mut n = 0usize;
    while start.elapsed() < BUDGET && n < 10_000_000 {
        db.execute(
            "INSERT OR REPLACE INTO t (k, v) VALUES (?1, ?2)",
            rusqlite::params![
                format!("K{}", n % 1000),
                b"one sealed value of some length".as_slice()
            ],
        )
        .unwrap();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

struct Figures {
    changeset_median: Duration,
    changesets_per_s: f64,
    single_per_s: f64,
    concurrent_single_per_s: f64,
}

fn pairs_for(round: usize, count: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|i| {
            (
                format!("KEY_{i:04}"),
                format!("value {round}/{i} with some length to it"),
            )
        })
        .collect()
}

/// Runs `f` until `BUDGET` or `max` iterations; returns iterations per second.
async fn rate<F, Fut>(max: usize, mut f: F) -> f64
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let start = Instant::now();
    let mut n = 0;
    while n < max && start.elapsed() < BUDGET {
        f(n).await;
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn measure(backend: Backend) -> Figures {
    let db = TestDb::new(backend).await;
    let state = db.state_without_quotas(9).await;
    let who = user(&state, "bench@example.com", "bench").await;
    let big = ResourceName::parse("big").unwrap();
    let small = ResourceName::parse("small").unwrap();

    let times = std::cell::RefCell::new(Vec::new());
    let changesets_per_s = rate(10_000, |round| {
        let (state, who, big, times) = (&state, &who, &big, &times);
        async move {
            let raw = pairs_for(round, 1000);
            let pairs = validate_pairs(raw.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
            let start = Instant::now();
            secrets::write(state, who, big, pairs, None).await.unwrap();
            times.borrow_mut().push(start.elapsed());
        }
    })
    .await;
    let mut times = times.into_inner();
    times.sort();
    let changeset_median = times[times.len() / 2];

    let single_per_s = rate(1_000_000, |i| {
        let (state, who, small) = (&state, &who, &small);
        async move {
            let key = format!("K{}", i % 1000);
            let pairs = validate_pairs([(key.as_str(), "one value")]).unwrap();
            secrets::write(state, who, small, pairs, None).await.unwrap();
        }
    })
    .await;

    // Sixteen writers at once, each to its own 50 keys of one set (a set holds 1,000).
    let start = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (state, who) = (state.clone(), who.clone());
            tokio::spawn(async move {
                let set = ResourceName::parse("shared").unwrap();
                let mut n = 0usize;
                while start.elapsed() < BUDGET && n < 100_000 {
                    let key = format!("W{w}_{}", n % 50);
                    let pairs = validate_pairs([(key.as_str(), "v")]).unwrap();
                    secrets::write(&state, &who, &set, pairs, None).await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for w in writers {
        total += w.await.unwrap();
    }
    let concurrent_single_per_s = total as f64 / start.elapsed().as_secs_f64();
    Figures {
        changeset_median,
        changesets_per_s,
        single_per_s,
        concurrent_single_per_s,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let raw = raw_sqlite_commits_per_s();
    let sqlite = measure(Backend::Sqlite).await;
    let pg = measure(Backend::Postgres).await;
    println!(
        "storage benchmark ({}s per figure, 2 worker threads)",
        BUDGET.as_secs()
    );
    println!(
        "{:<44} {:>12} {:>12} {:>10}",
        "", "SQLite", "PostgreSQL", "PG/SQLite"
    );
    for (name, s, p) in [
        (
            "changesets of 1,000 keys per second",
            sqlite.changesets_per_s,
            pg.changesets_per_s,
        ),
        (
            "single-key writes per second (1 writer)",
            sqlite.single_per_s,
            pg.single_per_s,
        ),
        (
            "single-key writes per second (16 writers)",
            sqlite.concurrent_single_per_s,
            pg.concurrent_single_per_s,
        ),
    ] {
        println!("{name:<44} {s:>12.1} {p:>12.1} {:>10.2}", p / s);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{:<44} {:>12.1} {:>12.1} {:>10.2}",
        "1,000-key changeset, median ms",
        ms(sqlite.changeset_median),
        ms(pg.changeset_median),
        ms(pg.changeset_median) / ms(sqlite.changeset_median)
    );
    println!("bare SQLite INSERT + commit per second (baseline): {raw:.1}");
    println!(
        "SQLite single-key writes, 16 writers ÷ bare commits: {:.2}",
        sqlite.concurrent_single_per_s / raw
    );
}
