//! Storage: one implementation of every operation over SQLite and PostgreSQL (see
//! [`db`] for how one SQL text runs on both). The operations live by concern in
//! `store/people.rs` (organizations, users, members, invitations), `store/sessions.rs`
//! (sessions, API tokens, sign-in attempts), `store/sets.rs` (secret sets and image pull
//! secrets), `store/deployments.rs` and `store/audit.rs`. Values arrive already sealed:
//! the store never sees plaintext.

mod audit;
mod connect;
pub mod db;
pub(crate) mod deployments;
pub(crate) mod history;
pub(crate) mod people;
mod sessions;
pub(crate) mod sets;

pub(crate) use crate::server::audit::{Audit, AuditFor, AuditWith};
use db::{Begin, Db, Row, ToArg};

use crate::error::AppError;
use crate::model::Role;

/// An organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: i64,
    pub name: String,
}

/// A user row, with the password hash (argon2id PHC string).
#[derive(Clone)]
pub struct UserRecord {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UserRecord({}, {})", self.id, self.email)
    }
}

/// A pending invitation, as its link finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRecord {
    pub org: Org,
    pub email: String,
    pub role: Role,
    pub expires_at: i64,
}

/// One value to write, sealed for (org, set, key).
#[derive(Clone)]
pub struct SealedEntry {
    pub key: String,
    pub sealed: Vec<u8>,
    pub fingerprint: String,
    pub value_len: usize,
}

impl std::fmt::Debug for SealedEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedEntry({})", self.key)
    }
}

/// A stored image pull secret; `sealed_auth` is the sealed base64 `user:password`.
#[derive(Clone)]
pub struct PullSecretRecord {
    pub name: String,
    pub registry: String,
    pub username: String,
    pub sealed_auth: Vec<u8>,
    pub created_at: i64,
}

impl std::fmt::Debug for PullSecretRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PullSecretRecord({}, {}, {})",
            self.name, self.registry, self.username
        )
    }
}

/// The environment a runtime token may read: the deployment's current revision.
#[derive(Clone)]
pub struct RuntimeEnv {
    pub org_id: i64,
    pub org: String,
    pub deployment: String,
    pub revision: i64,
    /// The protected set the deployment uses, when whoever last saw its runtime token
    /// is no longer an admin or owner there: the token must be rotated before it reads
    /// anything (see [`TOKEN_LOCKED`]).
    pub locked_by: Option<String>,
    /// (key, the set it was snapshotted from, sealed value).
    pub entries: Vec<(String, String, Vec<u8>)>,
}

impl std::fmt::Debug for RuntimeEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RuntimeEnv({}/{} r{}, {} keys)",
            self.org,
            self.deployment,
            self.revision,
            self.entries.len()
        )
    }
}

/// SQL (both backends) that is true for a deployment row `d` whose runtime token may not
/// read its set: the set is protected and whoever last saw the token is not (or no
/// longer) an admin or owner of the organization. A protected set is read only through
/// tokens an admin holds, whoever changes the deployment or the roles afterwards.
pub(crate) const TOKEN_LOCKED: &str = "(EXISTS (SELECT 1 FROM secret_sets ps \
     WHERE ps.org_id = d.org_id AND ps.name = d.secret_set AND ps.protected) \
     AND NOT EXISTS (SELECT 1 FROM memberships pm WHERE pm.org_id = d.org_id \
     AND pm.user_id = d.token_seen_by AND pm.role IN ('admin', 'owner')))";

/// Storage for everything Cloakroom keeps, on SQLite or PostgreSQL. Each operation is
/// written once (in the files of this module, by concern) over [`db::Db`]. Every method
/// that touches an organization's data takes its id and never reaches outside it; every
/// multi-row change is one transaction, and a change's audit entry (its `audit`
/// argument) is written in that same transaction: a change that cannot be audited is
/// not made. Values arrive already sealed: the store never sees plaintext.
pub struct Store {
    backend: Backend,
}

enum Backend {
    /// One connection: SQLite runs one writer at a time anyway, and reads on one
    /// connection see every committed write at once.
    Sqlite(std::sync::Arc<parking_lot::Mutex<rusqlite::Connection>>),
    Pg(deadpool_postgres::Pool),
}

impl Store {
    /// Statements on their own (autocommit).
    pub(crate) async fn conn(&self) -> Result<Db, AppError> {
        Ok(self.begin(Begin::None).await?)
    }

    /// A consistent snapshot for several reads.
    pub(crate) async fn read(&self) -> Result<Db, AppError> {
        Ok(self.begin(Begin::Read).await?)
    }

    /// A write transaction.
    pub(crate) async fn write(&self) -> Result<Db, AppError> {
        Ok(self.begin(Begin::Write).await?)
    }

    /// The first column of the one row of one statement run on its own.
    pub(crate) async fn value<T: db::FromValue>(
        &self,
        sql: &str,
        args: &[&dyn ToArg],
    ) -> Result<T, AppError> {
        Ok(self.conn().await?.value(sql, args).await?)
    }

    /// Every row of one statement run on its own, read by `f`.
    pub(crate) async fn rows<T>(
        &self,
        sql: &str,
        args: &[&dyn ToArg],
        f: impl FnMut(&Row) -> T,
    ) -> Result<Vec<T>, AppError> {
        Ok(self.conn().await?.rows(sql, args, f).await?)
    }

    /// The row of one statement run on its own, if any, read by `f`.
    pub(crate) async fn row<T>(
        &self,
        sql: &str,
        args: &[&dyn ToArg],
        f: impl FnOnce(&Row) -> T,
    ) -> Result<Option<T>, AppError> {
        Ok(self.conn().await?.row(sql, args, f).await?)
    }

    /// Runs one statement on its own; the rows it changed.
    pub(crate) async fn exec(&self, sql: &str, args: &[&dyn ToArg]) -> Result<u64, AppError> {
        Ok(self.conn().await?.execute(sql, args).await?)
    }
}

/// Ends a change: writes its audit entry (made from its outcome) and commits, so both
/// are kept or neither is.
pub(crate) async fn finish<T>(mut tx: Db, audit: impl AuditFor<T>, out: T) -> Result<T, AppError> {
    audit::write(&mut tx, &audit.make(&out)).await?;
    tx.commit().await?;
    Ok(out)
}

/// How one page of a list ordered by name is read: from the table itself, or, for a
/// search of three characters or more, through the trigram index of the names
/// (`name_trigrams`, kept by triggers). The index is walked along one piece of the
/// search text in name order, so a page costs the rows of that piece up to the page's
/// end, not a pass over every name of the organization.
pub(crate) struct NamePage {
    from: String,
    cond: String,
    order: String,
    pattern: Option<String>,
    piece: Option<String>,
    fetch: i64,
}

impl NamePage {
    /// `SELECT {columns}` of this page (`columns` name the listed table by the alias
    /// given to [`Store::name_page`]).
    pub(crate) fn sql(&self, columns: &str) -> String {
        format!(
            "SELECT {columns} FROM {} WHERE {} ORDER BY {} LIMIT $4",
            self.from, self.cond, self.order
        )
    }

    /// The arguments of [`NamePage::sql`]: `$1` the organization, `$2` the cursor, `$3`
    /// the `LIKE` pattern, `$4` the rows to fetch and, through the index, `$5` its piece.
    pub(crate) fn args<'a>(&'a self, org_id: &'a i64, after: &'a Option<String>) -> Vec<&'a dyn ToArg> {
        let mut args: Vec<&dyn ToArg> = vec![org_id, after, &self.pattern, &self.fetch];
        if let Some(piece) = &self.piece {
            args.push(piece);
        }
        args
    }
}

/// The distinct three-character pieces of a search text, as the index holds them
/// (`substr` counts characters on both databases).
pub(crate) fn trigrams(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<String> = Vec::new();
    for piece in chars.windows(3).map(|w| w.iter().collect::<String>()) {
        if !out.contains(&piece) {
            out.push(piece);
        }
    }
    out
}

/// Pieces whose index rows are counted (up to [`PROBE_ROWS`] each) to pick the piece
/// to walk: a long search text is sampled evenly. The cap bounds a probe's cost and
/// must be large enough to tell a rare piece from a common one (`004` against `set` in
/// 10,000 names `set-NNNNN`).
const PROBES: usize = 8;
const PROBE_ROWS: i64 = 1000;

impl Store {
    /// How to read one page of `table` (aliased `alias`; its names are `list` in the
    /// index) for `q`; `None` when no name can match.
    pub(crate) async fn name_page(
        &self,
        list: &str,
        table: &str,
        alias: &str,
        org_id: i64,
        q: &crate::model::ListQuery,
    ) -> Result<Option<NamePage>, AppError> {
        let search = match q.search() {
            crate::model::Search::All => None,
            crate::model::Search::Containing(s) => Some(s),
            crate::model::Search::NoName => return Ok(None),
        };
        let fetch = page_fetch(q);
        let pattern = search.as_ref().map(|s| format!("%{s}%"));
        let pieces = search.as_deref().map(trigrams).unwrap_or_default();
        if pieces.is_empty() {
            // No search, or one too short for the index: the table in name order (a
            // range the index can start at, on both databases: every name sorts after
            // the empty one; `%` matches every name).
            return Ok(Some(NamePage {
                from: format!("{table} {alias}"),
                cond: format!(
                    "{alias}.org_id = $1 AND {alias}.name COLLATE \"C\" > COALESCE(CAST($2 AS TEXT), '') \
                     AND {alias}.name LIKE COALESCE(CAST($3 AS TEXT), '%')"
                ),
                order: format!("{alias}.name COLLATE \"C\""),
                pattern,
                piece: None,
                fetch,
            }));
        }
        // Walk the rarest piece: count each sampled piece's rows, up to PROBE_ROWS.
        let sample: Vec<String> = if pieces.len() <= PROBES {
            pieces
        } else {
            (0..PROBES)
                .map(|i| pieces[i * (pieces.len() - 1) / (PROBES - 1)].clone())
                .collect()
        };
        let counts = (0..sample.len())
            .map(|i| {
                format!(
                    "(SELECT COUNT(*) FROM (SELECT 1 FROM name_trigrams WHERE org_id = $1 AND list = $2 \
                     AND tri = ${} LIMIT {PROBE_ROWS}) AS p{i})",
                    i + 3
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let mut args: Vec<&dyn ToArg> = vec![&org_id, &list];
        args.extend(sample.iter().map(|p| p as &dyn ToArg));
        let counts = self
            .row(&format!("SELECT {counts}"), &args, |r| {
                (0..sample.len()).map(|i| r.get::<i64>(i)).collect::<Vec<_>>()
            })
            .await?
            .unwrap_or_default();
        let Some((rarest, &count)) = counts.iter().enumerate().min_by_key(|(_, c)| **c) else {
            return Ok(None);
        };
        if count == 0 {
            return Ok(None);
        }
        Ok(Some(NamePage {
            from: format!(
                "name_trigrams t JOIN {table} {alias} ON {alias}.org_id = t.org_id \
                 AND {alias}.name COLLATE \"C\" = t.name"
            ),
            cond: format!(
                "t.org_id = $1 AND t.list = '{list}' AND t.tri = $5 \
                 AND t.name COLLATE \"C\" > COALESCE(CAST($2 AS TEXT), '') AND t.name LIKE $3"
            ),
            order: "t.name COLLATE \"C\"".to_owned(),
            pattern,
            piece: sample.into_iter().nth(rarest),
            fetch,
        }))
    }
}

/// Rows to fetch for a page of `q.limit` (one more, to know whether a next page exists).
pub(crate) fn page_fetch(q: &crate::model::ListQuery) -> i64 {
    i64::from(q.limit.clamp(1, crate::model::MAX_PAGE_SIZE)) + 1
}

/// Cuts the extra row [`page_fetch`] asked for; returns the rows and the next cursor.
pub(crate) fn page_cut<T>(
    mut rows: Vec<T>,
    q: &crate::model::ListQuery,
    name: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let limit = q.limit.clamp(1, crate::model::MAX_PAGE_SIZE) as usize;
    if rows.len() <= limit {
        return (rows, None);
    }
    rows.truncate(limit);
    let next = rows.last().map(name);
    (rows, next)
}

/// Writes an audit entry in `tx` (for changes that make several).
pub(crate) async fn audit_in(tx: &mut Db, entry: &Audit) -> Result<(), AppError> {
    audit::write(tx, entry).await
}

pub use connect::open;

#[cfg(test)]
mod tests {
    #[test]
    fn a_search_text_is_cut_into_its_distinct_pieces_of_three_characters() {
        assert_eq!(super::trigrams("abcabc"), ["abc", "bca", "cab"]);
        assert_eq!(super::trigrams("ab"), Vec::<String>::new());
        assert_eq!(super::trigrams("aaaa"), ["aaa"]);
        // Characters, not bytes, as `substr` counts them on both databases.
        assert_eq!(super::trigrams("é-ü1"), ["é-ü", "-ü1"]);
    }
}
