//! PostgreSQL storage, for several Cloakroom instances on one database. Same meaning as
//! the SQLite store: migrations applied at start-up (under an advisory lock, so
//! instances starting together do not race), every multi-row change one transaction,
//! writers to one set serialized by a row lock on the set.

use super::{
    pull_secret_exists, pull_secret_not_found, set_not_found, stale, Org, Principal, PullSecretRecord,
    PutResult, SealedEntry, Store, UserRecord,
};
use crate::error::AppError;
use crate::model::{KeyInfo, PullSecretSummary, SetDetail, SetSummary};
use crate::validate::SET_MAX_BYTES;
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_init.sql"),
    include_str!("../../../migrations/postgres/0002_image_pull_secrets.sql"),
];
/// Arbitrary constant naming the advisory lock that guards migrations.
const MIGRATION_LOCK: i64 = 0x636c_6f61_6b72_6f6f;

pub struct PgStore {
    pool: Pool,
}

impl From<tokio_postgres::Error> for AppError {
    fn from(e: tokio_postgres::Error) -> Self {
        tracing::error!(error = %e, "database error");
        AppError::Internal
    }
}

impl From<deadpool_postgres::PoolError> for AppError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        tracing::error!(error = %e, "database pool error");
        AppError::Internal
    }
}

fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and migrates the schema.
    pub async fn open(url: &str) -> Result<Self, String> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| format!("DATABASE_URL is not a valid PostgreSQL URL: {e}"))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let size = std::env::var("CLOAKROOM_DB_POOL_SIZE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(16);
        let pool = Pool::builder(manager)
            .max_size(size)
            .build()
            .map_err(|e| format!("could not set up the PostgreSQL pool: {e}"))?;
        let store = Self { pool };
        store
            .migrate()
            .await
            .map_err(|e| format!("could not migrate the PostgreSQL database: {e}"))?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), String> {
        let mut client = self.pool.get().await.map_err(|e| e.to_string())?;
        let tx = client.transaction().await.map_err(|e| e.to_string())?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(|e| e.to_string())?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
            .await
            .map_err(|e| e.to_string())?;
        let done: i32 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])
            .await
            .map_err(|e| e.to_string())?
            .get(0);
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(done as usize) {
            tx.batch_execute(sql).await.map_err(|e| e.to_string())?;
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&(i as i32 + 1)],
            )
            .await
            .map_err(|e| e.to_string())?;
        }
        tx.commit().await.map_err(|e| e.to_string())
    }
}

async fn principal(
    c: &impl GenericClient,
    sql: &str,
    hash: &[u8],
    now: i64,
) -> Result<Option<Principal>, AppError> {
    Ok(c.query_opt(sql, &[&hash, &now]).await?.map(|r| Principal {
        user_id: r.get(0),
        email: r.get(1),
        org: Org {
            id: r.get(2),
            name: r.get(3),
        },
    }))
}

/// Locks the set's row for the rest of the transaction; `(id, revision)`.
async fn lock_set(c: &impl GenericClient, org_id: i64, set: &str) -> Result<Option<(i64, i64)>, AppError> {
    Ok(c.query_opt(
        "SELECT id, revision FROM secret_sets WHERE org_id = $1 AND name = $2 FOR UPDATE",
        &[&org_id, &set],
    )
    .await?
    .map(|r| (r.get(0), r.get(1))))
}

#[async_trait]
impl Store for PgStore {
    async fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, AppError> {
        let c = self.pool.get().await?;
        Ok(c.query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
            .await?
            .map(|r| r.get(0)))
    }

    async fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), AppError> {
        let c = self.pool.get().await?;
        c.execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )
        .await?;
        Ok(())
    }

    async fn ensure_org(&self, name: &str) -> Result<Org, AppError> {
        let c = self.pool.get().await?;
        c.execute(
            "INSERT INTO orgs (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&name, &crate::server::now()],
        )
        .await?;
        let id = c
            .query_one("SELECT id FROM orgs WHERE name = $1", &[&name])
            .await?
            .get(0);
        Ok(Org {
            id,
            name: name.to_owned(),
        })
    }

    async fn org_by_name(&self, name: &str) -> Result<Option<Org>, AppError> {
        let c = self.pool.get().await?;
        Ok(c.query_opt("SELECT id, name FROM orgs WHERE name = $1", &[&name])
            .await?
            .map(|r| Org {
                id: r.get(0),
                name: r.get(1),
            }))
    }

    async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        org_id: i64,
        role: &str,
    ) -> Result<i64, AppError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let now = crate::server::now();
        let inserted = tx
            .query_one(
                "INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id",
                &[&email, &password_hash, &now],
            )
            .await;
        let id: i64 = match inserted {
            Ok(row) => row.get(0),
            Err(e) if is_unique_violation(&e) => {
                return Err(AppError::Conflict(format!(
                    "a user with email {email} already exists"
                )))
            }
            Err(e) => return Err(e.into()),
        };
        tx.execute(
            "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
            &[&org_id, &id, &role, &now],
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, AppError> {
        let c = self.pool.get().await?;
        Ok(c.query_opt(
            "SELECT id, email, password_hash FROM users WHERE lower(email) = lower($1)",
            &[&email],
        )
        .await?
        .map(|r| UserRecord {
            id: r.get(0),
            email: r.get(1),
            password_hash: r.get(2),
        }))
    }

    async fn home_org(&self, user_id: i64) -> Result<Option<Org>, AppError> {
        let c = self.pool.get().await?;
        Ok(c.query_opt(
            "SELECT o.id, o.name FROM memberships m JOIN orgs o ON o.id = m.org_id \
             WHERE m.user_id = $1 ORDER BY m.created_at, o.id LIMIT 1",
            &[&user_id],
        )
        .await?
        .map(|r| Org {
            id: r.get(0),
            name: r.get(1),
        }))
    }

    async fn is_member(&self, user_id: i64, org_id: i64) -> Result<bool, AppError> {
        let c = self.pool.get().await?;
        Ok(c.query_one(
            "SELECT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1 AND org_id = $2)",
            &[&user_id, &org_id],
        )
        .await?
        .get(0))
    }

    async fn create_api_token(
        &self,
        org_id: i64,
        user_id: i64,
        name: &str,
        token_hash: &[u8],
        now: i64,
    ) -> Result<i64, AppError> {
        let c = self.pool.get().await?;
        Ok(c.query_one(
            "INSERT INTO api_tokens (org_id, user_id, name, token_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&org_id, &user_id, &name, &token_hash, &now],
        )
        .await?
        .get(0))
    }

    async fn principal_for_token(&self, token_hash: &[u8], now: i64) -> Result<Option<Principal>, AppError> {
        let c = self.pool.get().await?;
        let p = principal(
            &c,
            "SELECT u.id, u.email, o.id, o.name FROM api_tokens t \
             JOIN users u ON u.id = t.user_id JOIN orgs o ON o.id = t.org_id \
             JOIN memberships m ON m.user_id = u.id AND m.org_id = o.id \
             WHERE t.token_hash = $1 AND $2::BIGINT IS NOT NULL",
            token_hash,
            now,
        )
        .await?;
        if p.is_some() {
            c.execute(
                "UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1",
                &[&token_hash, &now],
            )
            .await?;
        }
        Ok(p)
    }

    async fn create_session(
        &self,
        id_hash: &[u8],
        user_id: i64,
        org_id: i64,
        now: i64,
        expires_at: i64,
    ) -> Result<(), AppError> {
        let c = self.pool.get().await?;
        c.execute("DELETE FROM sessions WHERE expires_at <= $1", &[&now])
            .await?;
        c.execute(
            "INSERT INTO sessions (id_hash, user_id, org_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[&id_hash, &user_id, &org_id, &now, &expires_at],
        )
        .await?;
        Ok(())
    }

    async fn principal_for_session(&self, id_hash: &[u8], now: i64) -> Result<Option<Principal>, AppError> {
        let c = self.pool.get().await?;
        principal(
            &c,
            "SELECT u.id, u.email, o.id, o.name FROM sessions s \
             JOIN users u ON u.id = s.user_id JOIN orgs o ON o.id = s.org_id \
             JOIN memberships m ON m.user_id = u.id AND m.org_id = o.id \
             WHERE s.id_hash = $1 AND s.expires_at > $2",
            id_hash,
            now,
        )
        .await
    }

    async fn delete_session(&self, id_hash: &[u8]) -> Result<(), AppError> {
        let c = self.pool.get().await?;
        c.execute("DELETE FROM sessions WHERE id_hash = $1", &[&id_hash])
            .await?;
        Ok(())
    }

    async fn list_sets(&self, org_id: i64) -> Result<Vec<SetSummary>, AppError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT s.name, (SELECT COUNT(*) FROM secrets k WHERE k.set_id = s.id), s.updated_at \
                 FROM secret_sets s WHERE s.org_id = $1 ORDER BY s.name COLLATE \"C\"",
                &[&org_id],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| SetSummary {
                name: r.get(0),
                key_count: r.get::<_, i64>(1) as u32,
                updated_at: r.get(2),
            })
            .collect())
    }

    async fn get_set(&self, org_id: i64, set: &str) -> Result<Option<SetDetail>, AppError> {
        let mut c = self.pool.get().await?;
        // One snapshot for the set row and its keys.
        let tx = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let Some(row) = tx
            .query_opt(
                "SELECT id, revision, created_at, updated_at FROM secret_sets WHERE org_id = $1 AND name = $2",
                &[&org_id, &set],
            )
            .await?
        else {
            return Ok(None);
        };
        let id: i64 = row.get(0);
        let keys = tx
            .query(
                "SELECT key, fingerprint, updated_at FROM secrets WHERE set_id = $1 AND org_id = $2 \
                 ORDER BY key COLLATE \"C\"",
                &[&id, &org_id],
            )
            .await?
            .iter()
            .map(|r| KeyInfo {
                key: r.get(0),
                fingerprint: r.get(1),
                updated_at: r.get(2),
            })
            .collect();
        tx.commit().await?;
        Ok(Some(SetDetail {
            name: set.to_owned(),
            revision: row.get(1),
            created_at: row.get(2),
            updated_at: row.get(3),
            keys,
        }))
    }

    async fn create_set(&self, org_id: i64, set: &str, now: i64) -> Result<(), AppError> {
        let c = self.pool.get().await?;
        let n = c
            .execute(
                "INSERT INTO secret_sets (org_id, name, created_at, updated_at) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (org_id, name) DO NOTHING",
                &[&org_id, &set, &now],
            )
            .await?;
        if n == 0 {
            return Err(AppError::Conflict(format!(
                "a secret set named \"{set}\" already exists"
            )));
        }
        Ok(())
    }

    async fn put_secrets(
        &self,
        org_id: i64,
        set: &str,
        entries: Vec<SealedEntry>,
        now: i64,
        expected: Option<i64>,
    ) -> Result<PutResult, AppError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let mut result = PutResult::default();
        // Lock the set row (creating it if missing) so writers to this set take turns.
        let (id, current) = match lock_set(&tx, org_id, set).await? {
            Some(row) => row,
            None => {
                let inserted = tx
                    .query_opt(
                        "INSERT INTO secret_sets (org_id, name, created_at, updated_at) VALUES ($1, $2, $3, $3) \
                         ON CONFLICT (org_id, name) DO NOTHING RETURNING id",
                        &[&org_id, &set, &now],
                    )
                    .await?;
                match inserted {
                    Some(row) => {
                        result.created = true;
                        (row.get(0), 0)
                    }
                    // Another writer created it first: wait for its lock like everyone else.
                    None => lock_set(&tx, org_id, set).await?.ok_or(AppError::Internal)?,
                }
            }
        };
        if let Some(expected) = expected.filter(|e| *e != current) {
            return Err(stale(set, expected, current));
        }
        let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        let existing: std::collections::HashSet<String> = tx
            .query(
                "SELECT key FROM secrets WHERE set_id = $1 AND key = ANY($2)",
                &[&id, &keys],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for k in &keys {
            if existing.contains(*k) {
                result.updated.push((*k).to_owned());
            } else {
                result.added.push((*k).to_owned());
            }
        }
        let sealed: Vec<&[u8]> = entries.iter().map(|e| e.sealed.as_slice()).collect();
        let fingerprints: Vec<&str> = entries.iter().map(|e| e.fingerprint.as_str()).collect();
        let lens: Vec<i64> = entries.iter().map(|e| e.value_len as i64).collect();
        tx.execute(
            "INSERT INTO secrets (set_id, org_id, key, sealed, fingerprint, value_len, updated_at) \
             SELECT $1, $2, k, s, f, l, $7 FROM UNNEST($3::TEXT[], $4::BYTEA[], $5::TEXT[], $6::BIGINT[]) AS t(k, s, f, l) \
             ON CONFLICT (set_id, key) DO UPDATE SET sealed = excluded.sealed, \
             fingerprint = excluded.fingerprint, value_len = excluded.value_len, updated_at = excluded.updated_at",
            &[&id, &org_id, &keys, &sealed, &fingerprints, &lens, &now],
        )
        .await?;
        let total: i64 = tx
            .query_one(
                "SELECT COALESCE(SUM(value_len), 0)::BIGINT FROM secrets WHERE set_id = $1",
                &[&id],
            )
            .await?
            .get(0);
        if total as usize > SET_MAX_BYTES {
            // Dropping the transaction rolls every row of this write back.
            return Err(AppError::TooLarge(format!(
                "secret set \"{set}\" would hold {total} bytes of values; a set may hold at most {SET_MAX_BYTES}"
            )));
        }
        result.revision = tx
            .query_one(
                "UPDATE secret_sets SET updated_at = $2, revision = revision + 1 WHERE id = $1 RETURNING revision",
                &[&id, &now],
            )
            .await?
            .get(0);
        tx.commit().await?;
        Ok(result)
    }

    async fn unset_secret(
        &self,
        org_id: i64,
        set: &str,
        key: &str,
        now: i64,
        expected: Option<i64>,
    ) -> Result<i64, AppError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let (id, current) = lock_set(&tx, org_id, set)
            .await?
            .ok_or_else(|| set_not_found(set))?;
        if let Some(expected) = expected.filter(|e| *e != current) {
            return Err(stale(set, expected, current));
        }
        let n = tx
            .execute("DELETE FROM secrets WHERE set_id = $1 AND key = $2", &[&id, &key])
            .await?;
        if n == 0 {
            return Err(AppError::NotFound(format!(
                "key \"{key}\" not found in set \"{set}\""
            )));
        }
        let revision = tx
            .query_one(
                "UPDATE secret_sets SET updated_at = $2, revision = revision + 1 WHERE id = $1 RETURNING revision",
                &[&id, &now],
            )
            .await?
            .get(0);
        tx.commit().await?;
        Ok(revision)
    }

    async fn delete_set(&self, org_id: i64, set: &str) -> Result<(), AppError> {
        let c = self.pool.get().await?;
        let n = c
            .execute(
                "DELETE FROM secret_sets WHERE org_id = $1 AND name = $2",
                &[&org_id, &set],
            )
            .await?;
        if n == 0 {
            return Err(set_not_found(set));
        }
        Ok(())
    }

    async fn list_pull_secrets(&self, org_id: i64) -> Result<Vec<PullSecretSummary>, AppError> {
        let c = self.pool.get().await?;
        Ok(c.query(
            "SELECT name, registry, username, created_at FROM image_pull_secrets WHERE org_id = $1 \
             ORDER BY name COLLATE \"C\"",
            &[&org_id],
        )
        .await?
        .iter()
        .map(|r| PullSecretSummary {
            name: r.get(0),
            registry: r.get(1),
            username: r.get(2),
            created_at: r.get(3),
        })
        .collect())
    }

    async fn pull_secret(&self, org_id: i64, name: &str) -> Result<Option<PullSecretRecord>, AppError> {
        let c = self.pool.get().await?;
        Ok(c.query_opt(
            "SELECT name, registry, username, sealed_auth, created_at FROM image_pull_secrets \
             WHERE org_id = $1 AND name = $2",
            &[&org_id, &name],
        )
        .await?
        .map(|r| PullSecretRecord {
            name: r.get(0),
            registry: r.get(1),
            username: r.get(2),
            sealed_auth: r.get(3),
            created_at: r.get(4),
        }))
    }

    async fn put_pull_secret(
        &self,
        org_id: i64,
        record: PullSecretRecord,
        replace: bool,
    ) -> Result<bool, AppError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let removed = if replace {
            tx.execute(
                "DELETE FROM image_pull_secrets WHERE org_id = $1 AND name = $2",
                &[&org_id, &record.name],
            )
            .await?
        } else {
            0
        };
        let inserted = tx
            .execute(
                "INSERT INTO image_pull_secrets (org_id, name, registry, username, sealed_auth, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_id, name) DO NOTHING",
                &[
                    &org_id,
                    &record.name,
                    &record.registry,
                    &record.username,
                    &record.sealed_auth,
                    &record.created_at,
                ],
            )
            .await?;
        if inserted == 0 {
            return Err(pull_secret_exists(&record.name));
        }
        tx.commit().await?;
        Ok(removed > 0)
    }

    async fn delete_pull_secret(&self, org_id: i64, name: &str) -> Result<(), AppError> {
        let c = self.pool.get().await?;
        let n = c
            .execute(
                "DELETE FROM image_pull_secrets WHERE org_id = $1 AND name = $2",
                &[&org_id, &name],
            )
            .await?;
        if n == 0 {
            return Err(pull_secret_not_found(name));
        }
        Ok(())
    }

    async fn sealed_value(&self, org_id: i64, set: &str, key: &str) -> Result<Option<Vec<u8>>, AppError> {
        let c = self.pool.get().await?;
        Ok(c.query_opt(
            "SELECT k.sealed FROM secrets k JOIN secret_sets s ON s.id = k.set_id \
             WHERE s.org_id = $1 AND s.name = $2 AND k.key = $3",
            &[&org_id, &set, &key],
        )
        .await?
        .map(|r| r.get(0)))
    }
}
