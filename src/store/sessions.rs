//! Dashboard sessions, API tokens and sign-in attempts.

use super::db::{params_list, Row, ToArg};
use super::people::role_of;
use super::{finish, Audit, AuditWith, Org, Store};
use crate::error::AppError;
use crate::model::{Role, TokenInfo};

/// A member acting in an organization, as a session or token finds them: the domain
/// makes a principal of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acting {
    pub user_id: i64,
    pub email: String,
    pub org: Org,
    pub role: Role,
}

/// Reads `user id, email, org id, org name, role[, cap role]`: the member acts with
/// the lower of the two roles (a token never outranks its creator's current role).
fn principal(r: &Row) -> Acting {
    let mut role = role_of(&r.get::<String>(4));
    if r.len() > 5 {
        role = role.min(role_of(&r.get::<String>(5)));
    }
    Acting {
        user_id: r.get(0),
        email: r.get(1),
        org: Org {
            id: r.get(2),
            name: r.get(3),
        },
        role,
    }
}

impl Store {
    /// API tokens of an organization: all of them, or those of `user_id`.
    pub async fn api_tokens(&self, org_id: i64, user_id: Option<i64>) -> Result<Vec<TokenInfo>, AppError> {
        self.rows(
            "SELECT t.id, t.name, u.email, t.role, m.role, t.created_at, t.last_used_at FROM api_tokens t \
                 JOIN users u ON u.id = t.user_id \
                 JOIN memberships m ON m.user_id = t.user_id AND m.org_id = t.org_id \
                 WHERE t.org_id = $1 AND (CAST($2 AS BIGINT) IS NULL OR t.user_id = $2) ORDER BY t.id",
            &[&org_id, &user_id],
            |r| TokenInfo {
                id: r.get(0),
                name: r.get(1),
                owner: r.get(2),
                role: role_of(&r.get::<String>(3)).min(role_of(&r.get::<String>(4))),
                created_at: r.get(5),
                last_used_at: r.get(6),
            },
        )
        .await
    }

    /// Stores an API token's hash; the token acts with at most `role`.
    #[allow(
        clippy::too_many_arguments,
        reason = "the columns of the token, and its audit entry"
    )]
    pub async fn create_api_token(
        &self,
        org_id: i64,
        user_id: i64,
        name: &str,
        token_hash: &[u8],
        now: i64,
        role: Role,
        audit: AuditWith<i64>,
    ) -> Result<i64, AppError> {
        let mut tx = self.write().await?;
        let id: i64 = tx
            .value(
                "INSERT INTO api_tokens (org_id, user_id, name, token_hash, created_at, role) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[&org_id, &user_id, &name, &token_hash, &now, &role.as_str()],
            )
            .await?;
        finish(tx, audit, id).await
    }

    /// Revokes a token of the organization (of `user_id` only, when given); whether one was.
    pub async fn delete_api_token(
        &self,
        org_id: i64,
        id: i64,
        user_id: Option<i64>,
        audit: Audit,
    ) -> Result<bool, AppError> {
        let mut tx = self.write().await?;
        let deleted = tx
            .execute(
                "DELETE FROM api_tokens WHERE org_id = $1 AND id = $2 \
                 AND (CAST($3 AS BIGINT) IS NULL OR user_id = $3)",
                &[&org_id, &id, &user_id],
            )
            .await?
            > 0;
        if !deleted {
            return Ok(false);
        }
        finish(tx, audit, true).await
    }

    /// Finds who a token acts for (with the lower of the token's role and the user's
    /// current one), and records its use at most once a minute (reads stay reads).
    pub async fn principal_for_token(&self, token_hash: &[u8], now: i64) -> Result<Option<Acting>, AppError> {
        let mut c = self.conn().await?;
        let found = c
            .row(
                "SELECT u.id, u.email, o.id, o.name, m.role, t.role, t.last_used_at FROM api_tokens t \
                 JOIN users u ON u.id = t.user_id JOIN orgs o ON o.id = t.org_id \
                 JOIN memberships m ON m.user_id = u.id AND m.org_id = o.id \
                 WHERE t.token_hash = $1",
                &[&token_hash],
                |r| (principal(r), r.get::<Option<i64>>(6)),
            )
            .await?;
        let Some((p, last_used)) = found else {
            return Ok(None);
        };
        // Only a stale mark is written: most reads take no write lock at all.
        if last_used.is_none_or(|at| at < now - 60) {
            c.execute(
                "UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1 \
                 AND (last_used_at IS NULL OR last_used_at < CAST($2 AS BIGINT) - 60)",
                &[&token_hash, &now],
            )
            .await?;
        }
        Ok(Some(p))
    }

    /// Stores a new dashboard session (and forgets expired ones).
    pub async fn create_session(
        &self,
        id_hash: &[u8],
        user_id: i64,
        org_id: i64,
        now: i64,
        expires_at: i64,
        audit: Option<Audit>,
    ) -> Result<(), AppError> {
        let mut tx = self.write().await?;
        tx.execute("DELETE FROM sessions WHERE expires_at <= $1", &[&now])
            .await?;
        tx.execute(
            "INSERT INTO sessions (id_hash, user_id, org_id, created_at, expires_at, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $4)",
            &[&id_hash, &user_id, &org_id, &now, &expires_at],
        )
        .await?;
        match audit {
            Some(audit) => finish(tx, audit, ()).await,
            None => Ok(tx.commit().await?),
        }
    }

    /// Finds who a session acts for, if it has not expired and was last used after
    /// `idle_since`; marks it used (at most once a minute, to spare writes).
    pub async fn principal_for_session(
        &self,
        id_hash: &[u8],
        now: i64,
        idle_since: i64,
    ) -> Result<Option<Acting>, AppError> {
        let mut c = self.conn().await?;
        let p = c
            .row(
                "SELECT u.id, u.email, o.id, o.name, m.role FROM sessions s \
                 JOIN users u ON u.id = s.user_id JOIN orgs o ON o.id = s.org_id \
                 JOIN memberships m ON m.user_id = u.id AND m.org_id = o.id \
                 WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen > $3",
                &[&id_hash, &now, &idle_since],
                principal,
            )
            .await?;
        if p.is_some() {
            c.execute(
                "UPDATE sessions SET last_seen = $2 WHERE id_hash = $1 AND last_seen < CAST($2 AS BIGINT) - 60",
                &[&id_hash, &now],
            )
            .await?;
        }
        Ok(p)
    }

    /// Ends a session.
    pub async fn delete_session(&self, id_hash: &[u8]) -> Result<(), AppError> {
        self.exec("DELETE FROM sessions WHERE id_hash = $1", &[&id_hash])
            .await?;
        Ok(())
    }

    /// Counts an attempt under every scope *before* its password is checked, unless
    /// some scope already has `limit` attempts in the last `window` seconds; then nothing
    /// is recorded. See [`Store::reserve_attempt`].
    pub async fn reserve_login_attempt(
        &self,
        scopes: &[String],
        now: i64,
        window: i64,
        limit: i64,
    ) -> Result<LoginAttempt, AppError> {
        self.reserve_attempt(scopes, now, window, |counts| {
            limit_refusal(counts, now, window, limit)
        })
        .await
    }

    /// Counts an attempt under every scope *before* its password is checked, unless
    /// `refuse` (the caller's rule, given each scope's attempts in the last `window`
    /// seconds, in the order of `scopes`) answers a time to wait until; then nothing is
    /// recorded. Atomic across connections and instances: the counts `refuse` sees are
    /// read under the lock that the insert holds, so no more attempts get through than
    /// the rule allows. Attempts older than an hour are forgotten.
    pub async fn reserve_attempt(
        &self,
        scopes: &[String],
        now: i64,
        window: i64,
        refuse: impl Fn(&[ScopeCount]) -> Option<i64> + Send + Sync,
    ) -> Result<LoginAttempt, AppError> {
        let count = "SELECT COUNT(*), MIN(at), MAX(at) FROM login_failures WHERE scope = $1 AND at > $2";
        let read = |r: &Row| ScopeCount {
            count: r.get(0),
            oldest: r.get(1),
            newest: r.get(2),
        };
        // A refused attempt only reads: a flood of them never waits for the write lock.
        let mut counts = Vec::with_capacity(scopes.len());
        let mut c = self.conn().await?;
        for scope in scopes {
            counts.push(read(&c.query_one(count, &[scope, &(now - window)]).await?));
        }
        drop(c);
        if let Some(until) = refuse(&counts) {
            return Ok(LoginAttempt::Refused { until });
        }
        let mut tx = self.write().await?;
        // Count again under the lock: SQLite's write lock, or on PostgreSQL one
        // transaction-scoped advisory lock per scope (in a fixed order, so two attempts
        // never wait on each other crosswise). Nobody counts in between.
        if tx.is_postgres() {
            let mut sorted: Vec<&String> = scopes.iter().collect();
            sorted.sort();
            for scope in sorted {
                tx.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", &[scope])
                    .await?;
            }
        }
        counts.clear();
        for scope in scopes {
            counts.push(read(&tx.query_one(count, &[scope, &(now - window)]).await?));
        }
        if let Some(until) = refuse(&counts) {
            return Ok(LoginAttempt::Refused { until });
        }
        tx.execute("DELETE FROM login_failures WHERE at < $1", &[&(now - 3600)])
            .await?;
        let mut ids = Vec::with_capacity(scopes.len());
        for scope in scopes {
            let row = tx
                .query_one(
                    "INSERT INTO login_failures (scope, at) VALUES ($1, $2) RETURNING id",
                    &[scope, &now],
                )
                .await?;
            ids.push(row.get(0));
        }
        tx.commit().await?;
        Ok(LoginAttempt::Counted(ids))
    }

    /// Forgets the attempts `ids` (a sign-in that succeeded is not a failure).
    pub async fn release_login_attempt(&self, ids: &[i64]) -> Result<(), AppError> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "DELETE FROM login_failures WHERE id IN ({})",
            params_list(1, ids.len())
        );
        let args: Vec<&dyn ToArg> = ids.iter().map(|i| i as &dyn ToArg).collect();
        self.exec(&sql, &args).await?;
        Ok(())
    }

    /// Forgets the failures of `scope` (after a successful sign-in).
    pub async fn clear_login_failures(&self, scope: &str) -> Result<(), AppError> {
        self.exec("DELETE FROM login_failures WHERE scope = $1", &[&scope])
            .await?;
        Ok(())
    }
}

/// The answer to [`Store::reserve_login_attempt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginAttempt {
    /// The attempt is counted (as a failure until released); these are its rows.
    Counted(Vec<i64>),
    /// A scope is at its limit until this time (Unix seconds); nothing was recorded.
    Refused { until: i64 },
}

/// One scope's attempts within the window of [`Store::reserve_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScopeCount {
    pub count: i64,
    /// When the oldest and the newest of them were made (Unix seconds).
    pub oldest: Option<i64>,
    pub newest: Option<i64>,
}

/// The plain rule: refused while some scope has `limit` attempts in the window, until
/// its oldest leaves the window.
pub fn limit_refusal(counts: &[ScopeCount], now: i64, window: i64, limit: i64) -> Option<i64> {
    counts
        .iter()
        .filter(|c| c.count >= limit)
        .map(|c| c.oldest.unwrap_or(now) + window)
        .max()
}
