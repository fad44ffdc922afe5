//! One executor over both databases, so every storage operation is written once.
//!
//! SQL is written in PostgreSQL's form (`$1` parameters, `FOR UPDATE`, `COLLATE "C"`)
//! using only what both databases understand. SQLite reads `$1` as a parameter *named*
//! `$1`, so its parameters are bound by name, never rewritten ([`sqlite_run`]); the one
//! rewrite, [`sqlite_sql`], drops the row-lock and collation clauses, which SQLite does
//! not need: a write transaction there is `BEGIN IMMEDIATE`, which already runs writers
//! one at a time, and its default collation already orders text by bytes. Where the two
//! differ beyond that, the operation asks [`Db::is_postgres`].
//!
//! SQLite's statements never run on the async workers: the connection is waited for on
//! a blocking thread (at most [`SQLITE_WAIT`], then 503 busy), and each statement runs
//! where the runtime allows blocking ([`SqliteExec`]), so one slow statement delays only
//! the requests that need the database, never `/healthz` or static files.
//!
//! Parameters are [`Arg`]s (integers bind to whatever integer width PostgreSQL declared
//! for the parameter) and rows come back as [`Row`]s of [`Value`]s.

use crate::error::AppError;
use std::borrow::Cow;

/// A parameter value.
#[derive(Clone, Copy)]
pub enum Arg<'a> {
    Null,
    Int(i64),
    Bool(bool),
    Text(&'a str),
    Bytes(&'a [u8]),
    /// PostgreSQL arrays (`= ANY($1)`, `UNNEST`): only in PostgreSQL's own fragments.
    Texts(&'a [&'a str]),
    BlobList(&'a [&'a [u8]]),
    Ints(&'a [i64]),
}

/// Anything that binds as a parameter.
pub trait ToArg: Sync {
    fn arg(&self) -> Arg<'_>;
}

macro_rules! to_arg {
    ($($t:ty => |$v:ident| $out:expr),* $(,)?) => {$(
        impl ToArg for $t {
            fn arg(&self) -> Arg<'_> {
                let $v = self;
                $out
            }
        }
    )*};
}

to_arg! {
    i64 => |v| Arg::Int(*v),
    bool => |v| Arg::Bool(*v),
    str => |v| Arg::Text(v),
    String => |v| Arg::Text(v),
    [u8] => |v| Arg::Bytes(v),
    Vec<u8> => |v| Arg::Bytes(v),
    Vec<&str> => |v| Arg::Texts(v),
    Vec<&[u8]> => |v| Arg::BlobList(v),
    Vec<i64> => |v| Arg::Ints(v),
}

impl<T: ToArg + ?Sized> ToArg for &T {
    fn arg(&self) -> Arg<'_> {
        (**self).arg()
    }
}
impl<T: ToArg> ToArg for Option<T> {
    fn arg(&self) -> Arg<'_> {
        self.as_ref().map_or(Arg::Null, ToArg::arg)
    }
}

/// A column value as read.
#[derive(Clone)]
pub enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
}

/// What a column reads as.
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Option<Self>;
}

macro_rules! from_value {
    ($($t:ty => $($pattern:pat => $out:expr),+;)*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> Option<Self> {
                match v {
                    $($pattern => $out,)+
                    _ => None,
                }
            }
        }
    )*};
}

from_value! {
    i64 => Value::Int(i) => Some(*i);
    u32 => Value::Int(i) => u32::try_from(*i).ok();
    // SQLite has no boolean type: its 0 and 1 read as one.
    bool => Value::Bool(b) => Some(*b), Value::Int(i) => Some(*i != 0);
    String => Value::Text(s) => Some(s.clone());
    Vec<u8> => Value::Bytes(b) => Some(b.clone());
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// One result row.
pub struct Row(Vec<Value>);

impl Row {
    /// Column `i` as `T`. Columns are read by the statement that selected them, so a
    /// mismatch is a bug in that statement: it panics naming the column and type (never
    /// the value).
    pub fn get<T: FromValue>(&self, i: usize) -> T {
        self.0.get(i).and_then(T::from_value).unwrap_or_else(|| {
            panic!(
                "column {i} of a row does not read as {}",
                std::any::type_name::<T>()
            )
        })
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A database failure: a unique constraint the caller may expect, or anything else
/// (logged where it turns into [`AppError::Internal`]).
#[derive(Debug)]
pub struct DbError {
    unique: bool,
    /// The connection stayed taken for longer than [`SQLITE_WAIT`].
    busy: bool,
    message: String,
}

impl DbError {
    pub fn is_unique_violation(&self) -> bool {
        self.unique
    }

    fn other(message: impl Into<String>) -> Self {
        Self {
            unique: false,
            busy: false,
            message: message.into(),
        }
    }

    pub(crate) fn busy() -> Self {
        Self {
            busy: true,
            ..Self::other("the database stayed busy")
        }
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        if e.busy {
            tracing::warn!("the database connection stayed taken; answering busy");
            return AppError::Busy(1);
        }
        tracing::error!(error = %e, "database error");
        AppError::Internal
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        let unique = matches!(
            &e,
            rusqlite::Error::SqliteFailure(f, _)
                if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        );
        Self {
            unique,
            busy: false,
            message: e.to_string(),
        }
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self {
            unique: e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION),
            busy: false,
            message: e.to_string(),
        }
    }
}

impl From<deadpool_postgres::PoolError> for DbError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::other(format!("PostgreSQL pool: {e}"))
    }
}

/// A SQLite connection, held for one operation (see [`lock_sqlite`]).
pub(crate) type SqliteConn = parking_lot::ArcMutexGuard<parking_lot::RawMutex, rusqlite::Connection>;

/// Longest wait for a SQLite connection before the request is answered 503 busy.
pub const SQLITE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Takes a SQLite connection: at once when it is free, else waiting on a blocking
/// thread (never on an async worker) for at most [`SQLITE_WAIT`]. The lock is
/// parking_lot's: a fair async lock made tasks queue behind one another.
pub(crate) async fn lock_sqlite(
    conn: &std::sync::Arc<parking_lot::Mutex<rusqlite::Connection>>,
) -> Result<SqliteConn, DbError> {
    if let Some(held) = conn.try_lock_arc() {
        return Ok(held);
    }
    let conn = conn.clone();
    tokio::task::spawn_blocking(move || conn.try_lock_arc_for(SQLITE_WAIT))
        .await
        .map_err(|e| DbError::other(format!("waiting for the database: {e}")))?
        .ok_or_else(DbError::busy)
}

/// Where a SQLite statement runs (see `docs/adr/0001-one-executor.md` for the measured
/// choice).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SqliteExec {
    /// On the async worker that awaits it: the fastest, but a slow statement holds a
    /// worker, and with it every task queued there.
    OnWorkers,
    /// On the same thread, which first hands its other tasks to another worker
    /// (`tokio::task::block_in_place`): nothing waits behind a slow statement.
    #[default]
    InPlace,
}

/// Runs `f`, a SQLite statement, as `exec` says; on a runtime that cannot block in
/// place (a test's single thread) it runs directly.
fn sqlite_exec<T>(exec: SqliteExec, f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match exec {
        SqliteExec::InPlace
            if Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread) =>
        {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

#[allow(
    clippy::large_enum_variant,
    reason = "one per operation, on its stack; boxing would add an allocation to every statement"
)]
enum Conn {
    Sqlite(SqliteConn, SqliteExec),
    /// `None` only while a dropped transaction's connection is being rolled back.
    Pg(Option<deadpool_postgres::Object>),
}

/// How a transaction begins.
#[derive(Clone, Copy)]
pub enum Begin {
    /// Statements run on their own (autocommit).
    None,
    /// One consistent snapshot for every read.
    Read,
    /// A write transaction: SQLite takes its write lock up front.
    Write,
}

/// A connection (its own, or the one SQLite connection held for this operation),
/// optionally inside a transaction that rolls back unless [`Db::commit`] is called.
pub struct Db {
    conn: Conn,
    in_tx: bool,
}

impl Db {
    pub(crate) async fn sqlite(conn: SqliteConn, exec: SqliteExec, begin: Begin) -> Result<Self, DbError> {
        let mut db = Self {
            conn: Conn::Sqlite(conn, exec),
            in_tx: false,
        };
        db.begin(begin, "BEGIN", "BEGIN IMMEDIATE").await?;
        Ok(db)
    }

    pub(crate) async fn postgres(conn: deadpool_postgres::Object, begin: Begin) -> Result<Self, DbError> {
        let mut db = Self {
            conn: Conn::Pg(Some(conn)),
            in_tx: false,
        };
        db.begin(begin, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "BEGIN")
            .await?;
        Ok(db)
    }

    async fn begin(&mut self, begin: Begin, read: &str, write: &str) -> Result<(), DbError> {
        let sql = match begin {
            Begin::None => return Ok(()),
            Begin::Read => read,
            Begin::Write => write,
        };
        self.batch(sql).await?;
        self.in_tx = true;
        Ok(())
    }

    /// The test that `column` is one of the texts bound as parameter `$n` (a
    /// `Vec<&str>`): `= ANY($n)` on PostgreSQL; SQLite, which has no arrays, is given the
    /// list as a JSON array and reads it with `json_each`. One statement text for any
    /// number of items, so it is prepared once.
    pub fn in_list(&self, column: &str, n: usize) -> String {
        if self.is_postgres() {
            format!("{column} = ANY(${n})")
        } else {
            format!("{column} IN (SELECT value FROM json_each(${n}))")
        }
    }

    /// Whether this is PostgreSQL (for the few statements that differ).
    pub fn is_postgres(&self) -> bool {
        matches!(self.conn, Conn::Pg(_))
    }

    /// Runs statements without parameters or results (transaction control, migrations).
    pub async fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        match &mut self.conn {
            Conn::Sqlite(c, exec) => Ok(sqlite_exec(*exec, || c.execute_batch(sql))?),
            Conn::Pg(c) => Ok(pg(c)?.batch_execute(sql).await?),
        }
    }

    /// Every row `sql` returns.
    pub async fn query(&mut self, sql: &str, args: &[&dyn ToArg]) -> Result<Vec<Row>, DbError> {
        Ok(self.run(sql, args, true).await?.0)
    }

    /// The one row `sql` returns, or `None`.
    pub async fn query_opt(&mut self, sql: &str, args: &[&dyn ToArg]) -> Result<Option<Row>, DbError> {
        Ok(self.run(sql, args, true).await?.0.into_iter().next())
    }

    /// The one row `sql` must return.
    pub async fn query_one(&mut self, sql: &str, args: &[&dyn ToArg]) -> Result<Row, DbError> {
        self.query_opt(sql, args)
            .await?
            .ok_or_else(|| DbError::other(format!("no row returned by: {sql}")))
    }

    /// The first column of the one row `sql` must return.
    pub async fn value<T: FromValue>(&mut self, sql: &str, args: &[&dyn ToArg]) -> Result<T, DbError> {
        Ok(self.query_one(sql, args).await?.get(0))
    }

    /// The first column of the row `sql` returns, if any.
    pub async fn opt_value<T: FromValue>(
        &mut self,
        sql: &str,
        args: &[&dyn ToArg],
    ) -> Result<Option<T>, DbError> {
        Ok(self.query_opt(sql, args).await?.map(|r| r.get(0)))
    }

    /// Every row `sql` returns, read by `f`.
    pub async fn rows<T>(
        &mut self,
        sql: &str,
        args: &[&dyn ToArg],
        f: impl FnMut(&Row) -> T,
    ) -> Result<Vec<T>, DbError> {
        Ok(self.query(sql, args).await?.iter().map(f).collect())
    }

    /// The row `sql` returns, if any, read by `f`.
    pub async fn row<T>(
        &mut self,
        sql: &str,
        args: &[&dyn ToArg],
        f: impl FnOnce(&Row) -> T,
    ) -> Result<Option<T>, DbError> {
        Ok(self.query_opt(sql, args).await?.as_ref().map(f))
    }

    /// Runs `sql`; how many rows it inserted, updated or deleted.
    pub async fn execute(&mut self, sql: &str, args: &[&dyn ToArg]) -> Result<u64, DbError> {
        Ok(self.run(sql, args, false).await?.1)
    }

    async fn run(&mut self, sql: &str, args: &[&dyn ToArg], rows: bool) -> Result<(Vec<Row>, u64), DbError> {
        match &mut self.conn {
            Conn::Sqlite(c, exec) => sqlite_exec(*exec, || sqlite_run(c, sql, args)),
            Conn::Pg(c) => {
                let c = pg(c)?;
                let stmt = c.prepare_cached(sql).await?;
                let args: Vec<PgArg<'_>> = args.iter().map(|a| PgArg(a.arg())).collect();
                let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                    args.iter().map(|a| a as _).collect();
                if !rows || stmt.columns().is_empty() {
                    return Ok((Vec::new(), c.execute(&stmt, &refs).await?));
                }
                let rows = c.query(&stmt, &refs).await?;
                let width = stmt.columns().len();
                let rows = rows
                    .iter()
                    .map(|r| {
                        (0..width)
                            .map(|i| r.try_get::<_, PgValue>(i).map(|v| v.0))
                            .collect::<Result<Vec<_>, _>>()
                            .map(Row)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let n = rows.len() as u64;
                Ok((rows, n))
            }
        }
    }

    /// Commits the transaction.
    pub async fn commit(mut self) -> Result<(), DbError> {
        if self.in_tx {
            self.batch("COMMIT").await?;
            self.in_tx = false;
        }
        Ok(())
    }
}

impl Drop for Db {
    /// An uncommitted transaction rolls back: on SQLite at once, on PostgreSQL before
    /// its connection goes back to the pool.
    fn drop(&mut self) {
        if !self.in_tx {
            return;
        }
        match &mut self.conn {
            Conn::Sqlite(c, _) => {
                if let Err(e) = c.execute_batch("ROLLBACK") {
                    tracing::error!(error = %e, "rolling back");
                }
            }
            Conn::Pg(c) => {
                let Some(c) = c.take() else { return };
                match tokio::runtime::Handle::try_current() {
                    Ok(rt) => {
                        rt.spawn(async move {
                            if let Err(e) = c.batch_execute("ROLLBACK").await {
                                tracing::error!(error = %e, "rolling back");
                                drop(deadpool_postgres::Object::take(c));
                            }
                        });
                    }
                    // No runtime to roll back on: close the connection instead of
                    // returning it to the pool mid-transaction.
                    Err(_) => drop(deadpool_postgres::Object::take(c)),
                }
            }
        }
    }
}

fn pg(c: &mut Option<deadpool_postgres::Object>) -> Result<&mut deadpool_postgres::Object, DbError> {
    c.as_mut()
        .ok_or_else(|| DbError::other("the connection was already given back"))
}

/// The clauses SQLite does without (see the module's doc).
const POSTGRES_ONLY: [&str; 3] = [" FOR UPDATE", " FOR SHARE", " COLLATE \"C\""];

/// SQL in PostgreSQL's form as SQLite reads it: without the row-lock and collation
/// clauses (see the module comment). Parameters stay as they are.
pub fn sqlite_sql(sql: &str) -> Cow<'_, str> {
    if !POSTGRES_ONLY.iter().any(|clause| sql.contains(clause)) {
        return Cow::Borrowed(sql);
    }
    let mut out = sql.to_owned();
    for clause in POSTGRES_ONLY {
        if out.contains(clause) {
            out = out.replace(clause, "");
        }
    }
    Cow::Owned(out)
}

/// Runs one statement on SQLite, binding each parameter by its name: `$3` is the third
/// argument wherever it stands, as on PostgreSQL (SQLite itself numbers parameters in
/// the order they first appear).
fn sqlite_run(c: &rusqlite::Connection, sql: &str, args: &[&dyn ToArg]) -> Result<(Vec<Row>, u64), DbError> {
    let mut stmt = c.prepare_cached(&sqlite_sql(sql))?;
    for index in 1..=stmt.parameter_count() {
        let name = stmt.parameter_name(index).unwrap_or("?");
        let arg = name
            .strip_prefix('$')
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| n.checked_sub(1))
            .and_then(|n| args.get(n))
            .ok_or_else(|| DbError::other(format!("parameter {name} has no argument in: {sql}")))?;
        stmt.raw_bind_parameter(index, SqliteArg(arg.arg()))?;
    }
    let width = stmt.column_count();
    let mut rows = Vec::new();
    let mut cursor = stmt.raw_query();
    while let Some(r) = cursor.next()? {
        let mut row = Vec::with_capacity(width);
        for i in 0..width {
            use rusqlite::types::ValueRef;
            row.push(match r.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(i) => Value::Int(i),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
                ValueRef::Real(_) => return Err(DbError::other("a REAL column was read")),
            });
        }
        rows.push(Row(row));
    }
    drop(cursor);
    let changed = if width == 0 {
        c.changes()
    } else {
        rows.len() as u64
    };
    Ok((rows, changed))
}

struct SqliteArg<'a>(Arg<'a>);

impl rusqlite::ToSql for SqliteArg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Arg::Null => ValueRef::Null,
            Arg::Int(i) => ValueRef::Integer(i),
            Arg::Bool(b) => ValueRef::Integer(i64::from(b)),
            Arg::Text(t) => ValueRef::Text(t.as_bytes()),
            Arg::Bytes(b) => ValueRef::Blob(b),
            // A list is a JSON array for `json_each` (see [`Db::in_list`]).
            Arg::Texts(v) => return json_list(v),
            Arg::Ints(v) => return json_list(v),
            Arg::BlobList(_) => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "SQLite has no arrays of bytes: this statement is PostgreSQL's".into(),
                ))
            }
        }))
    }
}

fn json_list<T: serde::Serialize>(items: &[T]) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'static>> {
    serde_json::to_string(items)
        .map(|json| rusqlite::types::ToSqlOutput::Owned(rusqlite::types::Value::Text(json)))
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

#[derive(Debug)]
struct PgArg<'a>(Arg<'a>);

impl std::fmt::Debug for Arg<'_> {
    /// Names the kind only: parameters include sealed values and password hashes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Arg::Null => "Null",
            Arg::Int(_) => "Int",
            Arg::Bool(_) => "Bool",
            Arg::Text(_) => "Text",
            Arg::Bytes(_) => "Bytes",
            Arg::Texts(_) | Arg::BlobList(_) | Arg::Ints(_) => "Array",
        })
    }
}

impl tokio_postgres::types::ToSql for PgArg<'_> {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use tokio_postgres::types::{IsNull, Type};
        match self.0 {
            Arg::Null => Ok(IsNull::Yes),
            Arg::Int(i) if *ty == Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
            Arg::Int(i) if *ty == Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
            Arg::Int(i) => i.to_sql(ty, out),
            Arg::Bool(b) => b.to_sql(ty, out),
            Arg::Text(t) => t.to_sql(ty, out),
            Arg::Bytes(b) => b.to_sql(ty, out),
            Arg::Texts(v) => v.to_sql(ty, out),
            Arg::BlobList(v) => v.to_sql(ty, out),
            Arg::Ints(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &tokio_postgres::types::Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

struct PgValue(Value);

impl<'a> tokio_postgres::types::FromSql<'a> for PgValue {
    fn from_sql(
        ty: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        use tokio_postgres::types::Type;
        Ok(PgValue(match *ty {
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::BOOL => Value::Bool(bool::from_sql(ty, raw)?),
            Type::BYTEA => Value::Bytes(<Vec<u8>>::from_sql(ty, raw)?),
            _ => Value::Text(String::from_sql(ty, raw)?),
        }))
    }

    fn from_sql_null(
        _: &tokio_postgres::types::Type,
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgValue(Value::Null))
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        use tokio_postgres::types::{FromSql, Type};
        matches!(
            *ty,
            Type::INT2 | Type::INT4 | Type::INT8 | Type::BOOL | Type::BYTEA
        ) || <String as FromSql>::accepts(ty)
    }
}

/// `$first, $first+1, …` for `n` parameters: the list of an `IN (…)` (a list both
/// databases read, unlike PostgreSQL's arrays).
pub fn params_list(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_sql_drops_only_the_clauses_sqlite_does_without() {
        assert_eq!(
            sqlite_sql("SELECT id FROM t WHERE a = $1 AND b = $12 FOR UPDATE"),
            "SELECT id FROM t WHERE a = $1 AND b = $12"
        );
        assert_eq!(
            sqlite_sql("SELECT name FROM t ORDER BY name COLLATE \"C\""),
            "SELECT name FROM t ORDER BY name"
        );
        // A statement with nothing to drop is not copied, capital C and F included.
        for sql in ["SELECT COUNT(*) FROM Foo WHERE Fee = $1", "SELECT 1"] {
            assert!(matches!(sqlite_sql(sql), Cow::Borrowed(s) if s == sql), "{sql}");
        }
        assert_eq!(params_list(3, 3), "$3, $4, $5");
    }

    /// `$N` binds the Nth argument wherever it stands and however often, `$` inside a
    /// literal stays text, and a parameter without an argument is an error, not NULL.
    #[test]
    fn sqlite_binds_parameters_by_name() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let (rows, _) = sqlite_run(&c, "SELECT $2, '$1 costs $3', $1, $2 + 1", &[&"first", &41i64]).unwrap();
        assert_eq!(rows[0].get::<i64>(0), 41);
        assert_eq!(rows[0].get::<String>(1), "$1 costs $3");
        assert_eq!(rows[0].get::<String>(2), "first");
        assert_eq!(rows[0].get::<i64>(3), 42);
        let missing = sqlite_run(&c, "SELECT $1, $3", &[&1i64, &2i64]);
        assert!(missing.is_err_and(|e| e.message.contains("$3")));
    }
}

#[cfg(test)]
mod sqlite_tests {
    use crate::store::connect;

    /// A deleted value leaves no copy in the database file's free space.
    #[tokio::test]
    async fn sqlite_overwrites_what_it_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cloakroom.db");
        let store = connect::open(&format!("sqlite://{}", path.display()), 1)
            .await
            .unwrap();
        let mut c = store.conn().await.unwrap();
        let on: i64 = c.value("PRAGMA secure_delete", &[]).await.unwrap();
        assert_eq!(on, 1, "PRAGMA secure_delete is on");
        drop(c);
        let marker = b"purged-value-0123456789-purged-value".to_vec();
        store.init_meta("round3-marker", &marker).await.unwrap();
        let mut c = store.conn().await.unwrap();
        c.execute("DELETE FROM meta WHERE key = $1", &[&"round3-marker"])
            .await
            .unwrap();
        c.batch("PRAGMA wal_checkpoint(TRUNCATE)").await.unwrap();
        drop(c);
        for file in ["cloakroom.db", "cloakroom.db-wal"] {
            let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker.as_slice()),
                "{file} still holds the deleted value"
            );
        }
    }
}
