//! Storage: one implementation of every operation over SQLite and PostgreSQL (see
//! [`db`] for how one SQL text runs on both). The operations live by concern in
//! `store/people.rs` (organizations, users, members, invitations), `store/sessions.rs`
//! (sessions, API tokens, sign-in attempts), `store/sets.rs` (secret sets and image pull
//! secrets), `store/deployments.rs` and `store/audit.rs`. Values arrive already sealed:
//! the store never sees plaintext.

pub mod audit;
mod connect;
pub mod db;
pub(crate) mod deployments;
pub(crate) mod history;
pub(crate) mod macs;
pub(crate) mod people;
pub mod pg_tls;
pub mod sessions;
pub(crate) mod sets;

pub use audit::{Audit, AuditFor, AuditWith};
pub use connect::{create_private_dir, create_private_file};
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
    pub mac: ValueMac,
    pub value_len: usize,
}

/// The full MAC of a value (made by `domain::crypto`): decides equality, never leaves the
/// server. Compared in constant time; printed as `ValueMac(***)`; not serializable.
#[derive(Clone)]
pub struct ValueMac(String);

impl ValueMac {
    /// Length of a MAC as stored: 64 hex characters. Older databases stored 12.
    pub const STORED_LEN: usize = 64;

    /// A MAC as read back from storage.
    pub fn stored(text: String) -> Self {
        Self(text)
    }

    /// The text to store.
    pub fn as_stored(&self) -> &str {
        &self.0
    }
}

impl PartialEq for ValueMac {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for ValueMac {}

impl std::fmt::Debug for ValueMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ValueMac(***)")
    }
}

impl ToArg for ValueMac {
    fn arg(&self) -> db::Arg<'_> {
        db::Arg::Text(self.as_stored())
    }
}

impl db::FromValue for ValueMac {
    fn from_value(v: &db::Value) -> Option<Self> {
        String::from_value(v).map(ValueMac::stored)
    }
}

/// A key as stored: its value's MAC (never shown; see `crypto`), and when it was
/// written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub key: String,
    pub mac: ValueMac,
    pub updated_at: i64,
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
    /// The set the deployment uses, when whoever last saw its runtime token may no
    /// longer read it: the token must be rotated before it reads anything (see
    /// [`TOKEN_LOCKED`]).
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
/// read its set now: whoever last saw the token is no longer a member with a role that
/// may read that set (members read, a protected set is for admins and owners; viewers
/// and people removed read nothing). Checked at every read, so a removal, a demotion or
/// a set becoming protected stops the token at once, whoever changes the deployment or
/// the roles afterwards. A token from before its holder was recorded
/// (`token_seen_by` NULL) is stopped only by protection.
pub(crate) const TOKEN_LOCKED: &str = "(CASE WHEN d.token_seen_by IS NULL THEN \
     EXISTS (SELECT 1 FROM secret_sets ps WHERE ps.org_id = d.org_id AND ps.name = d.secret_set AND ps.protected) \
     ELSE NOT EXISTS (SELECT 1 FROM memberships pm WHERE pm.org_id = d.org_id AND pm.user_id = d.token_seen_by \
       AND (pm.role IN ('admin', 'owner') OR (pm.role = 'member' AND NOT EXISTS (SELECT 1 FROM secret_sets ps \
         WHERE ps.org_id = d.org_id AND ps.name = d.secret_set AND ps.protected)))) END)";

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
    Sqlite(connect::Sqlite),
    Pg(deadpool_postgres::Pool),
}

impl Store {
    /// Statements on their own (autocommit).
    pub(crate) async fn conn(&self) -> Result<Db, AppError> {
        Ok(self.begin(Begin::None).await?)
    }

    /// A consistent snapshot for several reads (on SQLite, on a read-only connection of
    /// its own: reads never wait for a write).
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
/// (`substr` counts characters on both databases), in the order they first appear.
/// Linear in the text (a set of the pieces seen, not a scan of the list); a search
/// reaches here at most [`crate::validate::NAME_MAX_LEN`] characters long (see
/// [`crate::model::ListQuery::search`]), and a query uses at most [`PROBES`] pieces.
pub(crate) fn trigrams(text: &str) -> Vec<String> {
    trigrams_counting(text).0
}

/// [`trigrams`], and the steps it took (every character, every window and every lookup
/// of a piece already seen), so a test can check that work grows linearly with the text.
fn trigrams_counting(text: &str) -> (Vec<String>, usize) {
    let chars: Vec<char> = text.chars().collect();
    let mut steps = chars.len();
    let mut seen: std::collections::HashSet<[char; 3]> = std::collections::HashSet::new();
    let mut out: Vec<String> = Vec::new();
    for w in chars.windows(3) {
        steps += 2;
        let piece = [w[0], w[1], w[2]];
        if seen.insert(piece) {
            out.push(piece.iter().collect());
        }
    }
    (out, steps)
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

    fn search(q: &str) -> crate::model::Search {
        crate::model::ListQuery {
            q: Some(q.to_owned()),
            ..Default::default()
        }
        .search()
    }

    #[test]
    fn a_search_longer_than_any_name_matches_nothing_and_the_longest_name_is_still_found() {
        use crate::model::Search::{Containing, NoName};
        use crate::validate::NAME_MAX_LEN;
        let longest = "a".repeat(NAME_MAX_LEN);
        assert_eq!(
            search(&format!("  {}\t", longest.to_uppercase())),
            Containing(longest.clone())
        );
        assert_eq!(search(&format!("{longest}a")), NoName);
        assert_eq!(search(&"ab-".repeat(20_000)), NoName);
        // Not ASCII: no name holds it, short or long.
        assert_eq!(search("é"), NoName);
        assert_eq!(search(&"é".repeat(40)), NoName);
    }

    const NAME_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-";

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Steps, not seconds: the split of a text four times as long (any characters a
        /// name may hold, so up to 37³ distinct pieces) costs at most about four times as much.
        #[test]
        fn four_times_the_search_text_costs_at_most_about_four_times_the_steps(
            picks in proptest::collection::vec(0..NAME_CHARS.len(), 800..4000),
        ) {
            let text: String = picks.iter().map(|&i| char::from(NAME_CHARS[i])).collect();
            let quarter = &text[..text.len() / 4];
            let (s, l) = (super::trigrams_counting(quarter).1, super::trigrams_counting(&text).1);
            proptest::prop_assert!(
                l <= 5 * s + 16,
                "{} chars: {s} steps; {} chars: {l} steps",
                quarter.len(),
                text.len()
            );
        }
    }

    #[test]
    fn a_60000_character_search_text_is_split_in_a_few_steps_per_character() {
        // Name characters in a pseudo-random order: tens of thousands of distinct pieces,
        // the worst case of a scan of the pieces found so far.
        let mut x: u32 = 1;
        let text: String = (0..60_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                char::from(NAME_CHARS[(x >> 16) as usize % NAME_CHARS.len()])
            })
            .collect();
        let (pieces, steps) = super::trigrams_counting(&text);
        eprintln!("60,000 characters: {} pieces, {steps} steps", pieces.len());
        assert!(
            steps <= 4 * text.len(),
            "{steps} steps for {} characters",
            text.len()
        );
    }
}
