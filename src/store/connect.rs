//! Opening a database: the SQLite file or the PostgreSQL pool, and each one's schema
//! migrations (the schema is the one place the two are written separately: their
//! types and table rebuilds differ).

use super::db::{lock_sqlite, Begin, Db, DbError, SqliteExec};
use super::{Backend, Store};
use crate::error::AppError;
use rusqlite::Connection;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

const SQLITE_MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_image_pull_secrets.sql"),
    include_str!("../../migrations/sqlite/0003_deployments.sql"),
    include_str!("../../migrations/sqlite/0004_hardening.sql"),
    include_str!("../../migrations/sqlite/0005_organizations.sql"),
    include_str!("../../migrations/sqlite/0006_security.sql"),
    include_str!("../../migrations/sqlite/0007_one_store.sql"),
    include_str!("../../migrations/sqlite/0008_history.sql"),
    include_str!("../../migrations/sqlite/0009_scale.sql"),
    include_str!("../../migrations/sqlite/0010_writes.sql"),
    include_str!("../../migrations/sqlite/0011_search.sql"),
    include_str!("../../migrations/sqlite/0012_round3.sql"),
];

const PG_MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_init.sql"),
    include_str!("../../migrations/postgres/0002_image_pull_secrets.sql"),
    include_str!("../../migrations/postgres/0003_deployments.sql"),
    include_str!("../../migrations/postgres/0004_hardening.sql"),
    include_str!("../../migrations/postgres/0005_organizations.sql"),
    include_str!("../../migrations/postgres/0006_security.sql"),
    include_str!("../../migrations/postgres/0007_one_store.sql"),
    include_str!("../../migrations/postgres/0008_history.sql"),
    include_str!("../../migrations/postgres/0009_scale.sql"),
    include_str!("../../migrations/postgres/0010_writes.sql"),
    include_str!("../../migrations/postgres/0011_search.sql"),
    include_str!("../../migrations/postgres/0012_round3.sql"),
];

/// Arbitrary constant naming the PostgreSQL advisory lock that guards migrations.
const MIGRATION_LOCK: i64 = 0x636c_6f61_6b72_6f6f;

/// Opens the store named by a database URL: `sqlite://PATH` or `postgres://…`, with a
/// PostgreSQL pool of `pool_size` connections.
pub async fn open(database_url: &str, pool_size: usize) -> Result<Arc<Store>, String> {
    let store = if let Some(path) = database_url.strip_prefix("sqlite://") {
        open_sqlite(Path::new(path))?
    } else if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        open_postgres(database_url, pool_size).await?
    } else {
        return Err(
            "DATABASE_URL must start with sqlite:// (e.g. sqlite://./data/cloakroom.db) \
             or postgres:// (e.g. postgres://cloakroom@db.internal/cloakroom)"
                .into(),
        );
    };
    super::people::normalize_stored_emails(&store)
        .await
        .map_err(|e| format!("could not normalize stored email addresses: {e}"))?;
    Ok(Arc::new(store))
}

/// Opens (creating if needed) the database file and brings its schema up to date. A
/// new data directory is created 0700 and a new database file 0600 before SQLite opens
/// it; SQLite gives its WAL and shared-memory files the database file's mode, so no
/// file of the database is ever readable by others, not even for a moment.
fn open_sqlite(path: &Path) -> Result<Store, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    }
    create_private_file(path).map_err(|e| format!("could not create {}: {e}", path.display()))?;
    let mut conn = Connection::open(path).map_err(|e| format!("could not open {}: {e}", path.display()))?;
    let fail = |what: &str, e: rusqlite::Error| format!("could not {what} {}: {e}", path.display());
    // Foreign keys stay off while migrations rebuild tables (a table's DROP would
    // otherwise cascade), then are checked and turned on.
    // secure_delete: SQLite overwrites what it deletes with zeros, so a purged value
    // leaves no copy in the file's free pages (or in a copy of the file).
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         PRAGMA foreign_keys = OFF; PRAGMA busy_timeout = 5000; PRAGMA secure_delete = ON;",
    )
    .map_err(|e| fail("configure", e))?;
    migrate_sqlite(&mut conn).map_err(|e| fail("migrate", e))?;
    let broken: i64 = conn
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| r.get(0))
        .map_err(|e| fail("check", e))?;
    if broken > 0 {
        return Err(format!(
            "{}: {broken} rows refer to rows that do not exist after migrating",
            path.display()
        ));
    }
    // LIKE compares case-sensitively, as PostgreSQL's does.
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA case_sensitive_like = ON;")
        .map_err(|e| fail("configure", e))?;
    conn.set_prepared_statement_cache_capacity(256);
    let readers = (0..SQLITE_READERS)
        .map(|_| open_sqlite_reader(path).map(|r| Arc::new(parking_lot::Mutex::new(r))))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail("open for reading", e))?;
    Ok(Store {
        backend: Backend::Sqlite(Sqlite {
            writer: Arc::new(parking_lot::Mutex::new(conn)),
            readers,
            next_reader: AtomicUsize::new(0),
            on_workers: AtomicBool::new(false),
        }),
    })
}

/// Read-only connections beside the writer: in WAL mode a reader sees the last commit
/// and never waits for a writer, so a long write (or a slow read) holds up only what
/// waits for the same connection.
const SQLITE_READERS: usize = 4;

/// The connections of a SQLite store: one writer (SQLite runs one writer at a time
/// anyway) and [`SQLITE_READERS`] readers for read transactions.
pub(crate) struct Sqlite {
    writer: Arc<parking_lot::Mutex<Connection>>,
    readers: Vec<Arc<parking_lot::Mutex<Connection>>>,
    next_reader: AtomicUsize,
    /// Statements run on the async workers instead of in place (for the executor
    /// benchmark only; see [`SqliteExec`]).
    on_workers: AtomicBool,
}

fn open_sqlite_reader(path: &Path) -> rusqlite::Result<Connection> {
    use rusqlite::OpenFlags;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )?;
    // The writer's reading rules: LIKE compares case-sensitively, as PostgreSQL's does.
    conn.execute_batch(
        "PRAGMA busy_timeout = 5000; PRAGMA case_sensitive_like = ON; PRAGMA query_only = ON;",
    )?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

/// Applies the missing migrations, each in its own write transaction that reads the
/// schema version itself, so two processes opening a new file at once never apply one
/// twice.
fn migrate_sqlite(conn: &mut Connection) -> rusqlite::Result<()> {
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let Some(sql) = SQLITE_MIGRATIONS.get(version as usize) else {
            return Ok(());
        };
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

/// Connects to `url` (`postgres://user@host:port/db`, with libpq's `sslmode` and
/// `sslrootcert` for TLS: see `server/pg_tls.rs`) and migrates the schema.
async fn open_postgres(url: &str, pool_size: usize) -> Result<Store, String> {
    use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
    let (tls, url) = crate::store::pg_tls::PgTls::from_url(url)?;
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| format!("DATABASE_URL is not a valid PostgreSQL URL: {e}"))?;
    config.ssl_mode(tls.ssl_mode());
    let manager = Manager::from_config(
        config,
        tls.connector()?,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(pool_size)
        .build()
        .map_err(|e| format!("could not set up the PostgreSQL pool: {e}"))?;
    // Connect once before migrating, so a refused certificate reads as one.
    drop(pool.get().await.map_err(|e| tls.connect_error(&e))?);
    let store = Store {
        backend: Backend::Pg(pool),
    };
    migrate_postgres(&store)
        .await
        .map_err(|e| format!("could not migrate the PostgreSQL database: {e}"))?;
    Ok(store)
}

/// Applies the missing migrations in one transaction under an advisory lock, so
/// instances starting together do not race.
async fn migrate_postgres(store: &Store) -> Result<(), DbError> {
    let mut tx = store.begin(Begin::Write).await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
        .await?;
    let done: i64 = tx
        .value(
            "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM schema_migrations",
            &[],
        )
        .await?;
    for (i, sql) in PG_MIGRATIONS.iter().enumerate().skip(done as usize) {
        tx.batch(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&(i as i64 + 1)],
        )
        .await?;
    }
    tx.commit().await
}

impl Store {
    /// Where SQLite statements run: in place (the default) or on the async workers,
    /// for the executor benchmark's comparison. No effect on PostgreSQL.
    pub fn set_sqlite_exec(&self, exec: SqliteExec) {
        if let Backend::Sqlite(sqlite) = &self.backend {
            sqlite
                .on_workers
                .store(exec == SqliteExec::OnWorkers, Ordering::Relaxed);
        }
    }

    /// Whether the database answers, read on a connection of its own (for `/healthz`).
    pub async fn ping(&self) -> Result<(), AppError> {
        let mut c = self.read().await?;
        c.value::<i64>("SELECT 1", &[]).await?;
        Ok(())
    }

    /// A connection for this operation, in a transaction as `begin` says.
    pub(crate) async fn begin(&self, begin: Begin) -> Result<Db, DbError> {
        match &self.backend {
            Backend::Sqlite(sqlite) => {
                let exec = if sqlite.on_workers.load(Ordering::Relaxed) {
                    SqliteExec::OnWorkers
                } else {
                    SqliteExec::InPlace
                };
                let conn = match begin {
                    Begin::Read if !sqlite.readers.is_empty() => {
                        let free = sqlite.readers.iter().find_map(|r| r.try_lock_arc());
                        match free {
                            Some(held) => held,
                            None => {
                                let next = sqlite.next_reader.fetch_add(1, Ordering::Relaxed);
                                lock_sqlite(&sqlite.readers[next % sqlite.readers.len()]).await?
                            }
                        }
                    }
                    _ => lock_sqlite(&sqlite.writer).await?,
                };
                Db::sqlite(conn, exec, begin).await
            }
            Backend::Pg(pool) => Db::postgres(pool.get().await?, begin).await,
        }
    }
}

/// Creates `dir` (and missing parents) readable by this user only (0700 on Unix) from
/// the moment it exists; an existing directory is left as it is.
pub fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates the empty file `path` readable by this user only (0600 on Unix) if it does
/// not exist yet; an existing file is left as it is.
pub fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).map(drop)
}
