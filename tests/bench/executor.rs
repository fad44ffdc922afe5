//! The storage executor's choice, measured (not a test):
//! `cargo bench --features ssr --bench executor`
//!
//! On a real SQLite file, with the server's runtime (two async workers), for each place
//! a SQLite statement may run (`SqliteExec`: on the async workers, or in place with
//! `block_in_place`):
//! - write throughput: 16 writers at once, one key per write, through the domain;
//! - `/healthz`'s database ping (`Store::ping`), every 2 ms, while two slow audit
//!   searches (a pattern that matches nothing in 300,000 entries)
//!   run back to back for the whole budget: its p50, p99 and worst latency.
//!
//! It also times the floor of the third option, a statement handed to the blocking pool
//! (`spawn_blocking`) and awaited, against `block_in_place`, with an empty statement.

#![allow(clippy::unwrap_used, reason = "a benchmark: a panic is the failure report")]

#[path = "../it/common/mod.rs"]
mod common;

use cloakroom::domain::principal::Principal;
use cloakroom::domain::secrets;
use cloakroom::domain::state::AppState;
use cloakroom::model::AuditFilter;
use cloakroom::store::db::SqliteExec;
use cloakroom::validate::{validate_pairs, ResourceName};
use common::{user, Backend, TestDb};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BUDGET: Duration = Duration::from_secs(4);
const WRITERS: usize = 16;
const AUDIT_ROWS: i64 = 300_000;

struct Figures {
    writes_per_s: f64,
    slow_query: Duration,
    ping: [Duration; 3],
    pings: usize,
}

async fn concurrent_writes(
    state: &cloakroom::domain::state::AppState,
    who: &cloakroom::domain::principal::Principal,
) -> f64 {
    let start = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (state, who) = (state.clone(), who.clone());
            tokio::spawn(async move {
                let set = ResourceName::parse("shared").unwrap();
                let mut n = 0usize;
                while start.elapsed() < BUDGET {
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
    total as f64 / start.elapsed().as_secs_f64()
}

fn slow_filter() -> AuditFilter {
    AuditFilter {
        action: Some("matches-nothing".into()),
        limit: 50,
        ..AuditFilter::default()
    }
}

async fn measure(state: &AppState, who: &Principal, exec: SqliteExec) -> Figures {
    state.store.set_sqlite_exec(exec);
    let writes_per_s = concurrent_writes(state, who).await;

    let start = Instant::now();
    state.store.audit(who.org.id, &slow_filter()).await.unwrap();
    let slow_query = start.elapsed();

    let running = Arc::new(AtomicBool::new(true));
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let (state, org, running) = (state.clone(), who.org.id, running.clone());
            tokio::spawn(async move {
                while running.load(Ordering::Relaxed) {
                    state.store.audit(org, &slow_filter()).await.unwrap();
                }
            })
        })
        .collect();
    let mut pings = Vec::new();
    let start = Instant::now();
    while start.elapsed() < BUDGET {
        let asked = Instant::now();
        state.store.ping().await.unwrap();
        pings.push(asked.elapsed());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    running.store(false, Ordering::Relaxed);
    for s in slow {
        s.await.unwrap();
    }
    pings.sort();
    let at = |q: f64| pings[((pings.len() - 1) as f64 * q) as usize];
    Figures {
        writes_per_s,
        slow_query,
        ping: [at(0.5), at(0.99), at(1.0)],
        pings: pings.len(),
    }
}

/// Nanoseconds per empty statement handed off by `block_in_place` and by `spawn_blocking`.
async fn hand_off_floor() -> (f64, f64) {
    const N: u32 = 20_000;
    let start = Instant::now();
    for i in 0..N {
        std::hint::black_box(tokio::task::block_in_place(|| i));
    }
    let in_place = start.elapsed().as_nanos() as f64 / f64::from(N);
    let start = Instant::now();
    for i in 0..N {
        std::hint::black_box(tokio::task::spawn_blocking(move || i).await.unwrap());
    }
    let pooled = start.elapsed().as_nanos() as f64 / f64::from(N);
    (in_place, pooled)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let db = TestDb::new(Backend::Sqlite).await;
    let state = db.state_without_quotas(9).await;
    let who = user(&state, "bench@example.com", "bench").await;
    db.execute(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {AUDIT_ROWS}) \
         INSERT INTO audit_log (org_id, at, actor, source, action, object) \
         SELECT {}, i, 'someone@example.com', 'api', 'secret.set', 'set:' || (i % 1000) FROM n",
        who.org.id
    ))
    .await;
    let (in_place_ns, pooled_ns) = hand_off_floor().await;
    let on_workers = measure(&state, &who, SqliteExec::OnWorkers).await;
    let in_place = measure(&state, &who, SqliteExec::InPlace).await;
    // The other order too: the second run writes to a set the first one filled.
    let on_workers_again = measure(&state, &who, SqliteExec::OnWorkers).await;
    println!(
        "(on workers again, after: {:.1} writes/s, ping p99 {:.1} ms)",
        on_workers_again.writes_per_s,
        on_workers_again.ping[1].as_secs_f64() * 1000.0
    );
    println!("SQLite executor, 2 async workers, {WRITERS} writers, {AUDIT_ROWS} audit entries");
    println!(
        "{:<48} {:>14} {:>14} {:>8}",
        "", "on workers", "in place", "ratio"
    );
    let row = |name: &str, a: f64, b: f64, unit: &str| {
        println!(
            "{name:<48} {a:>11.1} {unit:<2} {b:>11.1} {unit:<2} {:>8.2}",
            b / a
        );
    };
    row(
        "writes per second (16 writers)",
        on_workers.writes_per_s,
        in_place.writes_per_s,
        "/s",
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    row(
        "one slow audit search",
        ms(on_workers.slow_query),
        ms(in_place.slow_query),
        "ms",
    );
    for (i, name) in ["ping p50 during two slow searches", "ping p99", "ping worst"]
        .iter()
        .enumerate()
    {
        row(name, ms(on_workers.ping[i]), ms(in_place.ping[i]), "ms");
    }
    row(
        "pings answered",
        on_workers.pings as f64,
        in_place.pings as f64,
        "",
    );
    println!("hand-off of an empty statement: block_in_place {in_place_ns:.0} ns, spawn_blocking + await {pooled_ns:.0} ns ({:.1}x)", pooled_ns / in_place_ns);
}
