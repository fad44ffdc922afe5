//! Secret sets and image pull secrets.

//!
//! A write to a set is composed by `server::secrets` from the row operations here, in
//! one transaction, with the rules (protection, revision, size limits) checked there.

use super::db::{Db, ToArg};
use super::ValueMac;
use super::{finish, Audit, AuditWith, PullSecretRecord, SealedEntry, Store, StoredKey};
use crate::error::pull_secret_exists;
use crate::error::set_not_found;
use crate::error::AppError;
use crate::model::{PullSecretSummary, SetSummary};

/// Keys per statement when a write names many: well inside both databases' limits on
/// parameters per statement.
pub(crate) const CHUNK: usize = 500;

/// A set with its keys as stored (MACs, never shown: the domain turns them into
/// shown fingerprints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSet {
    pub name: String,
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub keys: Vec<StoredKey>,
    pub protected: bool,
}

/// A set's row, locked for the rest of the transaction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SetRow {
    pub id: i64,
    pub revision: i64,
    pub protected: bool,
}

/// Locks the set's row for the rest of the transaction.
pub(crate) async fn lock_set(tx: &mut Db, org_id: i64, set: &str) -> Result<Option<SetRow>, AppError> {
    Ok(tx
        .row(
            "SELECT id, revision, protected FROM secret_sets WHERE org_id = $1 AND name = $2 FOR UPDATE",
            &[&org_id, &set],
            |r| SetRow {
                id: r.get(0),
                revision: r.get(1),
                protected: r.get(2),
            },
        )
        .await?)
}

/// Locks the organization's set of id `id` (by id: whatever its name now), with its name.
pub(crate) async fn lock_set_by_id(
    tx: &mut Db,
    org_id: i64,
    id: i64,
) -> Result<Option<(SetRow, String)>, AppError> {
    Ok(tx
        .row(
            "SELECT id, revision, protected, name FROM secret_sets WHERE org_id = $1 AND id = $2 FOR UPDATE",
            &[&org_id, &id],
            |r| {
                (
                    SetRow {
                        id: r.get(0),
                        revision: r.get(1),
                        protected: r.get(2),
                    },
                    r.get(3),
                )
            },
        )
        .await?)
}

/// Locks the set's row, creating the set first if it is missing; and whether it was.
pub(crate) async fn lock_or_create(
    tx: &mut Db,
    org_id: i64,
    set: &str,
    now: i64,
) -> Result<(SetRow, bool), AppError> {
    if let Some(row) = lock_set(tx, org_id, set).await? {
        return Ok((row, false));
    }
    let inserted = tx
        .query_opt(
            "INSERT INTO secret_sets (org_id, name, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (org_id, name) DO NOTHING RETURNING id",
            &[&org_id, &set, &now],
        )
        .await?;
    match inserted {
        Some(row) => Ok((
            SetRow {
                id: row.get(0),
                revision: 0,
                protected: false,
            },
            true,
        )),
        // Another writer created it first: wait for its lock like everyone else.
        None => Ok((lock_set(tx, org_id, set).await?.ok_or(AppError::Internal)?, false)),
    }
}

/// Bumps the set's revision; the new one.
pub(crate) async fn bump(tx: &mut Db, id: i64, now: i64) -> Result<i64, AppError> {
    Ok(tx
        .value("UPDATE secret_sets SET updated_at = $2, revision = revision + 1 WHERE id = $1 RETURNING revision",
            &[&id, &now]).await?)
}

/// Removes one key; whether it was there.
pub(crate) async fn delete_key(tx: &mut Db, set_id: i64, key: &str) -> Result<bool, AppError> {
    Ok(tx
        .execute(
            "DELETE FROM secrets WHERE set_id = $1 AND key = $2",
            &[&set_id, &key],
        )
        .await?
        > 0)
}

/// Which of `keys` the set holds already, with their values' MACs.
pub(crate) async fn existing_keys(
    tx: &mut Db,
    set_id: i64,
    keys: &[&str],
) -> Result<std::collections::HashMap<String, ValueMac>, AppError> {
    let sql = format!(
        "SELECT key, value_mac FROM secrets WHERE set_id = $1 AND {}",
        tx.in_list("key", 2)
    );
    let keys = keys.to_vec();
    Ok(tx
        .rows(&sql, &[&set_id, &keys], |r| (r.get(0), r.get(1)))
        .await?
        .into_iter()
        .collect())
}

/// Deletes `keys` from the set; how many it held.
pub(crate) async fn delete_keys(tx: &mut Db, set_id: i64, keys: &[&str]) -> Result<u64, AppError> {
    if keys.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "DELETE FROM secrets WHERE set_id = $1 AND {}",
        tx.in_list("key", 2)
    );
    Ok(tx.execute(&sql, &[&set_id, &keys.to_vec()]).await?)
}

const UPSERT: &str = "INSERT INTO secrets (set_id, org_id, key, sealed, value_mac, value_len, updated_at) \
     VALUES {rows} ON CONFLICT (set_id, key) DO UPDATE SET sealed = excluded.sealed, \
     value_mac = excluded.value_mac, value_len = excluded.value_len, updated_at = excluded.updated_at";

/// Adds or replaces `entries` in the set: on PostgreSQL in one statement over arrays
/// (its batch syntax), on SQLite many rows per statement.
pub(crate) async fn upsert(
    tx: &mut Db,
    set_id: i64,
    org_id: i64,
    entries: &[SealedEntry],
    now: i64,
) -> Result<(), AppError> {
    let lens: Vec<i64> = entries.iter().map(|e| e.value_len as i64).collect();
    if tx.is_postgres() {
        let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        let sealed: Vec<&[u8]> = entries.iter().map(|e| e.sealed.as_slice()).collect();
        let macs: Vec<&str> = entries.iter().map(|e| e.mac.as_stored()).collect();
        let sql = UPSERT.replace(
            "VALUES {rows}",
            "SELECT $1, $2, k, s, f, l, $3 FROM UNNEST($4::TEXT[], $5::BYTEA[], $6::TEXT[], $7::BIGINT[]) AS t(k, s, f, l)",
        );
        tx.execute(&sql, &[&set_id, &org_id, &now, &keys, &sealed, &macs, &lens])
            .await?;
        return Ok(());
    }
    for (chunk, lens) in entries.chunks(CHUNK).zip(lens.chunks(CHUNK)) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = 4 + i * 4;
                format!("($1, $2, ${p}, ${}, ${}, ${}, $3)", p + 1, p + 2, p + 3)
            })
            .collect();
        let sql = UPSERT.replace("{rows}", &rows.join(", "));
        let mut args: Vec<&dyn ToArg> = vec![&set_id, &org_id, &now];
        for (e, len) in chunk.iter().zip(lens) {
            args.extend([&e.key as &dyn ToArg, &e.sealed, &e.mac, len]);
        }
        tx.execute(&sql, &args).await?;
    }
    Ok(())
}

/// How many keys and bytes of values the set holds.
pub(crate) async fn size(tx: &mut Db, set_id: i64) -> Result<(i64, i64), AppError> {
    let row = tx
        .query_one(
            "SELECT COUNT(*), CAST(COALESCE(SUM(value_len), 0) AS BIGINT) FROM secrets WHERE set_id = $1",
            &[&set_id],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// Locks the organization's row `name` of `table` (a set or a pull secret); whether
/// there is one.
pub(crate) async fn lock_named(tx: &mut Db, table: &str, org_id: i64, name: &str) -> Result<bool, AppError> {
    let sql = format!("SELECT 1 FROM {table} WHERE org_id = $1 AND name = $2 FOR UPDATE");
    Ok(tx.query_opt(&sql, &[&org_id, &name]).await?.is_some())
}

/// Deletes the organization's row `name` of `table`.
pub(crate) async fn delete_named(tx: &mut Db, table: &str, org_id: i64, name: &str) -> Result<(), AppError> {
    let sql = format!("DELETE FROM {table} WHERE org_id = $1 AND name = $2");
    tx.execute(&sql, &[&org_id, &name]).await?;
    Ok(())
}

impl Store {
    /// The organization's sets, by name.
    pub async fn list_sets(&self, org_id: i64) -> Result<Vec<SetSummary>, AppError> {
        self.rows(
            "SELECT s.name, (SELECT COUNT(*) FROM secrets k WHERE k.set_id = s.id), s.updated_at, \
                 s.protected FROM secret_sets s WHERE s.org_id = $1 ORDER BY s.name COLLATE \"C\"",
            &[&org_id],
            |r| SetSummary {
                name: r.get(0),
                key_count: r.get(1),
                updated_at: r.get(2),
                protected: r.get(3),
            },
        )
        .await
    }

    /// One page of the organization's sets, by name (see [`crate::model::ListQuery`]).
    pub async fn set_page(
        &self,
        org_id: i64,
        q: &crate::model::ListQuery,
    ) -> Result<crate::model::SetPage, AppError> {
        let Some(page) = self.name_page("set", "secret_sets", "s", org_id, q).await? else {
            return Ok(crate::model::SetPage::default());
        };
        let sql = page
            .sql("s.name, (SELECT COUNT(*) FROM secrets k WHERE k.set_id = s.id), s.updated_at, s.protected");
        let rows = self
            .rows(&sql, &page.args(&org_id, &q.after), |r| SetSummary {
                name: r.get(0),
                key_count: r.get(1),
                updated_at: r.get(2),
                protected: r.get(3),
            })
            .await?;
        let (sets, next) = super::page_cut(rows, q, |s| s.name.clone());
        Ok(crate::model::SetPage { sets, next })
    }

    /// One set with its keys (no values), or `None`.
    pub async fn get_set(&self, org_id: i64, set: &str) -> Result<Option<StoredSet>, AppError> {
        // One snapshot for the set row and its keys.
        let mut tx = self.read().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT id, revision, created_at, updated_at, protected FROM secret_sets \
                 WHERE org_id = $1 AND name = $2",
                &[&org_id, &set],
            )
            .await?
        else {
            return Ok(None);
        };
        let id: i64 = row.get(0);
        let keys = tx
            .rows(
                // By set only: the set row above is the organization's, and an `org_id`
                // condition tempts PostgreSQL (before it has statistics) to scan the
                // organization's whole MAC index: 150 ms at a million keys.
                "SELECT key, value_mac, updated_at FROM secrets WHERE set_id = $1 \
                 ORDER BY key COLLATE \"C\"",
                &[&id],
                |r| StoredKey {
                    key: r.get(0),
                    mac: r.get(1),
                    updated_at: r.get(2),
                },
            )
            .await?;
        tx.commit().await?;
        Ok(Some(StoredSet {
            name: set.to_owned(),
            revision: row.get(1),
            created_at: row.get(2),
            updated_at: row.get(3),
            keys,
            protected: row.get(4),
        }))
    }

    /// Creates an empty set; `Conflict` if it exists.
    pub async fn create_set(&self, org_id: i64, set: &str, now: i64, audit: Audit) -> Result<(), AppError> {
        let mut tx = self.write().await?;
        let n = tx
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
        finish(tx, audit, ()).await
    }

    /// Marks a set protected or not; protecting it flags for rotation the deployments
    /// using it whose runtime token was seen by someone below admin. `NotFound` if missing.
    pub async fn set_protected(
        &self,
        org_id: i64,
        set: &str,
        protected: bool,
        audit: Audit,
    ) -> Result<(), AppError> {
        let mut tx = self.write().await?;
        let n = tx
            .execute(
                "UPDATE secret_sets SET protected = $3 WHERE org_id = $1 AND name = $2",
                &[&org_id, &set, &protected],
            )
            .await?;
        if n == 0 {
            return Err(set_not_found(set));
        }
        if protected {
            tx.execute(
                "UPDATE deployments SET rotate_token = TRUE WHERE org_id = $1 AND secret_set = $2 \
                 AND (token_seen_by IS NULL OR token_seen_by NOT IN (SELECT user_id FROM memberships \
                      WHERE org_id = $1 AND role IN ('admin', 'owner')))",
                &[&org_id, &set],
            )
            .await?;
        }
        finish(tx, audit, ()).await
    }

    /// Every stored (key, sealed value) of a set, for comparing on the server; `None`
    /// if there is no such set.
    pub async fn sealed_values(
        &self,
        org_id: i64,
        set: &str,
    ) -> Result<Option<Vec<(String, Vec<u8>)>>, AppError> {
        let mut tx = self.read().await?;
        let Some(id) = tx
            .opt_value::<i64>(
                "SELECT id FROM secret_sets WHERE org_id = $1 AND name = $2",
                &[&org_id, &set],
            )
            .await?
        else {
            return Ok(None);
        };
        let rows = tx
            .rows(
                "SELECT key, sealed FROM secrets WHERE set_id = $1 ORDER BY key COLLATE \"C\"",
                &[&id],
                |r| (r.get(0), r.get(1)),
            )
            .await?;
        tx.commit().await?;
        Ok(Some(rows))
    }

    /// A stored sealed value, for decryption where an issue allows a value to leave.
    pub async fn sealed_value(&self, org_id: i64, set: &str, key: &str) -> Result<Option<Vec<u8>>, AppError> {
        self.row(
            "SELECT k.sealed FROM secrets k JOIN secret_sets s ON s.id = k.set_id \
                 WHERE s.org_id = $1 AND s.name = $2 AND k.key = $3",
            &[&org_id, &set, &key],
            |r| r.get(0),
        )
        .await
    }

    /// The organization's image pull secrets, by name.
    pub async fn list_pull_secrets(&self, org_id: i64) -> Result<Vec<PullSecretSummary>, AppError> {
        self.rows(
            "SELECT name, registry, username, created_at FROM image_pull_secrets WHERE org_id = $1 \
                 ORDER BY name COLLATE \"C\"",
            &[&org_id],
            |r| PullSecretSummary {
                name: r.get(0),
                registry: r.get(1),
                username: r.get(2),
                created_at: r.get(3),
                used_by: Vec::new(),
            },
        )
        .await
    }

    /// One image pull secret with its sealed credentials, or `None`.
    pub async fn pull_secret(&self, org_id: i64, name: &str) -> Result<Option<PullSecretRecord>, AppError> {
        self.row(
            "SELECT name, registry, username, sealed_auth, created_at FROM image_pull_secrets \
                 WHERE org_id = $1 AND name = $2",
            &[&org_id, &name],
            |r| PullSecretRecord {
                name: r.get(0),
                registry: r.get(1),
                username: r.get(2),
                sealed_auth: r.get(3),
                created_at: r.get(4),
            },
        )
        .await
    }

    /// Stores a pull secret. Pull secrets are immutable: if one of that name exists this
    /// is a `Conflict`, unless `replace`, in which case the old one is deleted and the
    /// new one created in one transaction. Returns whether one was replaced.
    pub async fn put_pull_secret(
        &self,
        org_id: i64,
        record: PullSecretRecord,
        replace: bool,
        audit: AuditWith<bool>,
    ) -> Result<bool, AppError> {
        let mut tx = self.write().await?;
        let removed = replace
            && tx
                .execute(
                    "DELETE FROM image_pull_secrets WHERE org_id = $1 AND name = $2",
                    &[&org_id, &record.name],
                )
                .await?
                > 0;
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
        finish(tx, audit, removed).await
    }
}
