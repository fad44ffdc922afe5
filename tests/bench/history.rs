//! History benchmark (not a test): `cargo bench --features ssr --bench history`.
//! On a real SQLite file and a fresh PostgreSQL database, through the same service
//! layer as the server:
//! - the storage history costs: database size after 1,000 versions of a 100-key set,
//!   one key changed per version and every key changed per version, against the same
//!   set's size with no history;
//! - the time to restore a 1,000-key set (every value changes back), as a ratio to a
//!   1,000-key write measured in the same run.

#![allow(clippy::unwrap_used, reason = "a benchmark: a panic is the failure report")]

#[path = "../it/common/mod.rs"]
mod common;

use cloakroom::domain::{history, secrets};
use cloakroom::validate::{validate_pairs, ResourceName};
use common::{user, Backend, TestDb};
use std::time::{Duration, Instant};

fn pairs_for(round: usize, keys: std::ops::Range<usize>) -> Vec<(String, String)> {
    keys.map(|i| {
        (
            format!("KEY_{i:04}"),
            format!("value {round}/{i} of a realistic length, 40+ b"),
        )
    })
    .collect()
}

async fn write(
    state: &cloakroom::domain::state::AppState,
    who: &cloakroom::domain::principal::Principal,
    set: &str,
    raw: &[(String, String)],
) {
    let pairs = validate_pairs(raw.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
    secrets::write(state, who, &ResourceName::parse(set).unwrap(), pairs, None)
        .await
        .unwrap();
}

/// Bytes the database holds: SQLite's file after a checkpoint, PostgreSQL's tables of
/// sets and history (with their indexes and TOAST).
async fn size(db: &TestDb) -> u64 {
    match db.backend {
        Backend::Sqlite => {
            let conn = rusqlite::Connection::open(db.dir.path().join("cloakroom.db")).unwrap();
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")
                .unwrap();
            std::fs::metadata(db.dir.path().join("cloakroom.db"))
                .unwrap()
                .len()
        }
        Backend::Postgres => {
            let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client.batch_execute("VACUUM FULL").await.unwrap();
            let row = client
                .query_one(
                    "SELECT CAST(SUM(pg_total_relation_size(c)) AS BIGINT) FROM unnest(ARRAY['secrets', \
                     'secret_sets', 'secret_history', 'secret_versions']::regclass[]) AS c",
                    &[],
                )
                .await
                .unwrap();
            row.get::<_, i64>(0) as u64
        }
    }
}

struct Sizes {
    no_history: u64,
    one_key_each: u64,
    all_keys_each: u64,
}

/// Database size with a 100-key set written once, and after 1,000 versions of it.
async fn sizes(backend: Backend) -> Sizes {
    let mut out = [0u64; 3];
    for (i, slot) in out.iter_mut().enumerate() {
        let db = TestDb::new(backend).await;
        let state = db.state_without_quotas(9).await;
        let who = user(&state, "bench@example.com", "bench").await;
        write(&state, &who, "app", &pairs_for(0, 0..100)).await;
        for v in 1..1000 {
            match i {
                0 => break,
                1 => write(&state, &who, "app", &pairs_for(v, (v % 100)..(v % 100 + 1))).await,
                _ => write(&state, &who, "app", &pairs_for(v, 0..100)).await,
            }
        }
        *slot = size(&db).await;
    }
    Sizes {
        no_history: out[0],
        one_key_each: out[1],
        all_keys_each: out[2],
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median times of a 1,000-key write (every value new) and of restoring a 1,000-key
/// set to a version where every value differs.
async fn restore_times(backend: Backend) -> (Duration, Duration) {
    let db = TestDb::new(backend).await;
    let state = db.state_without_quotas(9).await;
    let who = user(&state, "bench@example.com", "bench").await;
    let set = ResourceName::parse("big").unwrap();
    write(&state, &who, "big", &pairs_for(0, 0..1000)).await;
    write(&state, &who, "big", &pairs_for(1, 0..1000)).await;
    let (mut writes, mut restores) = (Vec::new(), Vec::new());
    for round in 0..15 {
        let raw = pairs_for(round + 2, 0..1000);
        let start = Instant::now();
        write(&state, &who, "big", &raw).await;
        writes.push(start.elapsed());
        // Back to version 1 or 2, whose every value differs from the set now.
        let start = Instant::now();
        let done = history::restore(&state, &who, &set, 1 + (round as i64 % 2), None, None)
            .await
            .unwrap();
        restores.push(start.elapsed());
        assert_eq!(done.changed.len(), 1000);
    }
    (median(writes), median(restores))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("history benchmark (2 worker threads)");
    println!("{:<58} {:>12} {:>12}", "", "SQLite", "PostgreSQL");
    let (s, p) = (sizes(Backend::Sqlite).await, sizes(Backend::Postgres).await);
    let kib = |b: u64| format!("{:.0} KiB", b as f64 / 1024.0);
    for (name, a, b) in [
        (
            "100-key set written once (one version)",
            s.no_history,
            p.no_history,
        ),
        (
            "after 1,000 versions, one key changed in each",
            s.one_key_each,
            p.one_key_each,
        ),
        (
            "after 1,000 versions, all 100 keys changed in each",
            s.all_keys_each,
            p.all_keys_each,
        ),
    ] {
        println!("{name:<58} {:>12} {:>12}", kib(a), kib(b));
    }
    let ((sw, sr), (pw, pr)) = (
        restore_times(Backend::Sqlite).await,
        restore_times(Backend::Postgres).await,
    );
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!(
        "{:<58} {:>12} {:>12}",
        "1,000-key write (median of 15)",
        ms(sw),
        ms(pw)
    );
    println!(
        "{:<58} {:>12} {:>12}",
        "restore of a 1,000-key set (median of 15)",
        ms(sr),
        ms(pr)
    );
    println!(
        "{:<58} {:>12.2} {:>12.2}",
        "restore / write",
        sr.as_secs_f64() / sw.as_secs_f64(),
        pr.as_secs_f64() / pw.as_secs_f64()
    );
}
