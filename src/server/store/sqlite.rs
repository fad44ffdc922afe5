//! SQLite storage: one file under the data directory, WAL journal, migrations applied
//! at start-up. Calls run on tokio's blocking pool behind one connection.

use super::{
    deployment_not_found, env_diff, in_use, login_refusal, org_exists, protected_set, pull_secret_exists,
    pull_secret_not_found, role_of, roles_above, set_not_found, stale, Audit, AuditFor, AuditWith,
    DeployRequest, InviteRecord, LoginAttempt, Org, Principal, PullSecretRecord, PutResult, RuntimeEnv,
    SealedEntry, Store, UserRecord, TOKEN_LOCKED,
};
use crate::error::AppError;
use crate::model::{
    AuditEntry, AuditFilter, DeploymentDetail, DeploymentSpec, DeploymentSummary, InviteInfo, KeyInfo,
    MemberInfo, PullSecretSummary, Role, SetDetail, SetSummary, TokenInfo, Workspace,
};
use crate::validate::{SET_MAX_BYTES, SET_MAX_KEYS};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::sync::{Arc, Mutex};

const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/sqlite/0001_init.sql"),
    include_str!("../../../migrations/sqlite/0002_image_pull_secrets.sql"),
    include_str!("../../../migrations/sqlite/0003_deployments.sql"),
    include_str!("../../../migrations/sqlite/0004_hardening.sql"),
    include_str!("../../../migrations/sqlite/0005_organizations.sql"),
    include_str!("../../../migrations/sqlite/0006_security.sql"),
];

pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    /// A new data directory is created 0700 and a new database file 0600 before SQLite
    /// opens it; SQLite gives its WAL and shared-memory files the database file's mode,
    /// so no file of the database is ever readable by others, not even for a moment.
    pub fn open(path: &Path) -> Result<Self, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::server::create_private_dir(dir)
                .map_err(|e| format!("could not create {}: {e}", dir.display()))?;
        }
        crate::server::create_private_file(path)
            .map_err(|e| format!("could not create {}: {e}", path.display()))?;
        let mut conn =
            Connection::open(path).map_err(|e| format!("could not open {}: {e}", path.display()))?;
        let fail = |what: &str, e: rusqlite::Error| format!("could not {what} {}: {e}", path.display());
        // Foreign keys stay off while migrations rebuild tables (a table's DROP would
        // otherwise cascade), then are checked and turned on.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = OFF; PRAGMA busy_timeout = 5000;",
        )
        .map_err(|e| fail("configure", e))?;
        migrate(&mut conn).map_err(|e| fail("migrate", e))?;
        let broken: i64 = conn
            .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| r.get(0))
            .map_err(|e| fail("check", e))?;
        if broken > 0 {
            return Err(format!(
                "{}: {broken} rows refer to rows that do not exist after migrating",
                path.display()
            ));
        }
        conn.execute_batch("PRAGMA foreign_keys = ON;")
            .map_err(|e| fail("configure", e))?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "what to delete, how to name it, and its audit entry"
    )]
    /// Deletes the organization's row `name` from `table` unless a deployment's `column`
    /// names it (`in_use` then names them), in one write transaction.
    async fn delete_unused(
        &self,
        org_id: i64,
        name: &str,
        table: &'static str,
        column: &'static str,
        what: &'static str,
        not_found: fn(&str) -> AppError,
        audit: Audit,
    ) -> Result<(), AppError> {
        let name = name.to_owned();
        self.change(audit, move |tx| {
            let users = users_of(tx, org_id, column, &name)?;
            if !users.is_empty() {
                return Err(in_use(&format!("{what} \"{name}\""), &users));
            }
            let delete = format!("DELETE FROM {table} WHERE org_id = ?1 AND name = ?2");
            if tx.execute(&delete, params![org_id, name])? == 0 {
                return Err(not_found(&name));
            }
            Ok(())
        })
        .await
    }

    /// Runs `f` in one write transaction with the audit entry made from its outcome:
    /// both commit, or neither does.
    async fn change<T, F>(&self, audit: impl AuditFor<T>, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, AppError> + Send + 'static,
    {
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            write_audit(&tx, &audit.make(&out))?;
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    async fn with<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, AppError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| {
                tracing::error!("the database connection lock was poisoned");
                AppError::Internal
            })?;
            f(&mut guard)
        })
        .await?
    }
}

/// Applies the missing migrations, each in its own write transaction that reads the
/// schema version itself, so two processes opening a new file at once never apply one
/// twice.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let Some(sql) = MIGRATIONS.get(version as usize) else {
            return Ok(());
        };
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

/// Appends an audit entry (on `c`, which may be a change's transaction).
fn write_audit(c: &Connection, a: &Audit) -> Result<(), AppError> {
    let e = &a.entry;
    c.execute(
        "INSERT INTO audit_log (org_id, at, actor, source, action, object, keys, detail) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            a.org_id,
            e.at,
            e.actor,
            e.source,
            e.action,
            e.object,
            e.keys.join(","),
            e.detail
        ],
    )?;
    Ok(())
}

/// The set's id and revision.
fn set_row(conn: &Connection, org_id: i64, set: &str) -> Result<Option<(i64, i64)>, AppError> {
    Ok(conn
        .query_row(
            "SELECT id, revision FROM secret_sets WHERE org_id = ?1 AND name = ?2",
            params![org_id, set],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Names of the deployments whose `column` (secret_set or pull_secret) is `name`.
fn users_of(conn: &Connection, org_id: i64, column: &str, name: &str) -> Result<Vec<String>, AppError> {
    let sql = format!("SELECT name FROM deployments WHERE org_id = ?1 AND {column} = ?2 ORDER BY name");
    let mut stmt = conn.prepare(&sql)?;
    let names = stmt
        .query_map(params![org_id, name], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(names)
}

const DEPLOYMENT_COLUMNS: &str = "d.name, d.image, d.secret_set, d.pull_secret, d.region, d.min_agents, \
     d.max_agents, d.revision, d.created_at, d.deployed_at, \
     (d.secret_set IS NOT NULL AND d.set_revision IS NOT (SELECT s.revision FROM secret_sets s \
        WHERE s.org_id = d.org_id AND s.name = d.secret_set)), d.rotate_token";

fn deployment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeploymentSummary> {
    Ok(DeploymentSummary {
        spec: DeploymentSpec {
            name: r.get(0)?,
            image: r.get(1)?,
            secret_set: r.get(2)?,
            pull_secret: r.get(3)?,
            region: r.get(4)?,
            min_agents: r.get(5)?,
            max_agents: r.get(6)?,
        },
        revision: r.get(7)?,
        created_at: r.get(8)?,
        deployed_at: r.get(9)?,
        needs_redeploy: r.get(10)?,
        rotate_token: r.get(11)?,
    })
}

/// Reads `user id, email, org id, org name, role[, cap role]`: the principal acts with
/// the lower of the two roles (a token never outranks its creator's current role).
fn principal(conn: &Connection, sql: &str, hash: &[u8], now: i64) -> Result<Option<Principal>, AppError> {
    Ok(conn
        .query_row(sql, params![hash, now], |r| {
            let mut role = role_of(&r.get::<_, String>(4)?);
            if r.as_ref().column_count() > 5 {
                role = role.min(role_of(&r.get::<_, String>(5)?));
            }
            Ok(Principal {
                user_id: r.get(0)?,
                email: r.get(1)?,
                org: Org {
                    id: r.get(2)?,
                    name: r.get(3)?,
                },
                role,
                via: super::Via::Ui,
            })
        })
        .optional()?)
}

/// Refuses a change that would leave `org_id` without an owner.
fn keep_an_owner(tx: &rusqlite::Transaction<'_>, org_id: i64, user_id: i64) -> Result<(), AppError> {
    let others: i64 = tx.query_row(
        "SELECT COUNT(*) FROM memberships WHERE org_id = ?1 AND role = 'owner' AND user_id <> ?2",
        params![org_id, user_id],
        |r| r.get(0),
    )?;
    let is_owner: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM memberships WHERE org_id = ?1 AND user_id = ?2 AND role = 'owner')",
        params![org_id, user_id],
        |r| r.get(0),
    )?;
    if is_owner && others == 0 {
        return Err(AppError::Conflict(
            "the last owner cannot be removed or demoted; make someone else owner first".into(),
        ));
    }
    Ok(())
}

fn member_id(tx: &rusqlite::Transaction<'_>, org_id: i64, email: &str) -> Result<i64, AppError> {
    tx.query_row(
        "SELECT u.id FROM users u JOIN memberships m ON m.user_id = u.id \
         WHERE m.org_id = ?1 AND u.email = ?2",
        params![org_id, email],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| AppError::NotFound(format!("{email} is not a member of this organization")))
}

fn invite_row(c: &Connection, hash: &[u8], now: i64) -> Result<Option<InviteRecord>, AppError> {
    Ok(c.query_row(
        "SELECT o.id, o.name, i.email, i.role, i.expires_at FROM invites i JOIN orgs o ON o.id = i.org_id \
         WHERE i.token_hash = ?1 AND i.used_at IS NULL AND i.expires_at > ?2",
        params![hash, now],
        |r| {
            Ok(InviteRecord {
                org: Org {
                    id: r.get(0)?,
                    name: r.get(1)?,
                },
                email: r.get(2)?,
                role: role_of(&r.get::<_, String>(3)?),
                expires_at: r.get(4)?,
            })
        },
    )
    .optional()?)
}

#[async_trait]
impl Store for SqliteStore {
    async fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, AppError> {
        let key = key.to_owned();
        self.with(move |c| {
            Ok(
                c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                    .optional()?,
            )
        })
        .await
    }

    async fn init_meta(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, AppError> {
        let (key, value) = (key.to_owned(), value.to_vec());
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
                params![key, value],
            )?;
            let stored = tx.query_row("SELECT value FROM meta WHERE key = ?1", [&key], |r| r.get(0))?;
            tx.commit()?;
            Ok(stored)
        })
        .await
    }

    async fn ensure_org(&self, name: &str) -> Result<Org, AppError> {
        let name = name.to_owned();
        self.with(move |c| {
            c.execute(
                "INSERT INTO orgs (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                params![name, crate::server::now()],
            )?;
            let id = c.query_row("SELECT id FROM orgs WHERE name = ?1", [&name], |r| r.get(0))?;
            Ok(Org { id, name })
        })
        .await
    }

    async fn create_org(
        &self,
        name: &str,
        owner: i64,
        now: i64,
        audit: AuditWith<Org>,
    ) -> Result<Org, AppError> {
        let name = name.to_owned();
        self.change(audit, move |tx| {
            let n = tx.execute(
                "INSERT INTO orgs (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                params![name, now],
            )?;
            if n == 0 {
                return Err(org_exists(&name));
            }
            let id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?1, ?2, 'owner', ?3)",
                params![id, owner, now],
            )?;
            Ok(Org { id, name })
        })
        .await
    }

    async fn first_user_id(&self) -> Result<Option<i64>, AppError> {
        self.with(|c| Ok(c.query_row("SELECT MIN(id) FROM users", [], |r| r.get(0))?))
            .await
    }

    async fn org_by_name(&self, name: &str) -> Result<Option<Org>, AppError> {
        let name = name.to_owned();
        self.with(move |c| {
            Ok(
                c.query_row("SELECT id, name FROM orgs WHERE name = ?1", [name], |r| {
                    Ok(Org {
                        id: r.get(0)?,
                        name: r.get(1)?,
                    })
                })
                .optional()?,
            )
        })
        .await
    }

    async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        membership: Option<(i64, Role)>,
    ) -> Result<i64, AppError> {
        let (email, hash) = (email.to_owned(), password_hash.to_owned());
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM users WHERE email = ?1)",
                [&email],
                |r| r.get(0),
            )?;
            if exists {
                return Err(AppError::Conflict(format!(
                    "a user with email {email} already exists"
                )));
            }
            let now = crate::server::now();
            tx.execute(
                "INSERT INTO users (email, password_hash, created_at) VALUES (?1, ?2, ?3)",
                params![email, hash, now],
            )?;
            let id = tx.last_insert_rowid();
            if let Some((org_id, role)) = membership {
                tx.execute(
                    "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![org_id, id, role.as_str(), now],
                )?;
            }
            tx.commit()?;
            Ok(id)
        })
        .await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, AppError> {
        let email = email.to_owned();
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT id, email, password_hash FROM users WHERE email = ?1",
                [email],
                |r| {
                    Ok(UserRecord {
                        id: r.get(0)?,
                        email: r.get(1)?,
                        password_hash: r.get(2)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    async fn home_org(&self, user_id: i64) -> Result<Option<Org>, AppError> {
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT o.id, o.name FROM memberships m JOIN orgs o ON o.id = m.org_id \
                 WHERE m.user_id = ?1 ORDER BY m.created_at, o.id LIMIT 1",
                [user_id],
                |r| {
                    Ok(Org {
                        id: r.get(0)?,
                        name: r.get(1)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    async fn is_member(&self, user_id: i64, org_id: i64) -> Result<bool, AppError> {
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT EXISTS (SELECT 1 FROM memberships WHERE user_id = ?1 AND org_id = ?2)",
                params![user_id, org_id],
                |r| r.get(0),
            )?)
        })
        .await
    }

    async fn delete_org(&self, org_id: i64, audit: Audit) -> Result<(), AppError> {
        self.change(audit, move |tx| {
            tx.execute(
                "UPDATE sessions SET org_id = (SELECT o.id FROM orgs o WHERE o.personal_user_id = sessions.user_id) \
                 WHERE org_id = ?1 AND EXISTS (SELECT 1 FROM orgs o WHERE o.personal_user_id = sessions.user_id)",
                [org_id],
            )?;
            let deleted = tx.execute(
                "DELETE FROM orgs WHERE id = ?1 AND personal_user_id IS NULL",
                [org_id],
            )?;
            if deleted == 0 {
                return Err(AppError::Conflict("a personal workspace cannot be deleted".into()));
            }
            Ok(())
        })
        .await
    }

    async fn set_password(&self, user_id: i64, password_hash: &str, audit: Audit) -> Result<(), AppError> {
        let hash = password_hash.to_owned();
        self.change(audit, move |tx| {
            tx.execute(
                "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                params![user_id, hash],
            )?;
            tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?;
            Ok(())
        })
        .await
    }

    async fn append_audit(&self, org_id: i64, e: &AuditEntry) -> Result<(), AppError> {
        let audit = Audit {
            org_id,
            entry: e.clone(),
        };
        self.with(move |c| write_audit(c, &audit)).await
    }

    async fn audit(&self, org_id: i64, f: &AuditFilter) -> Result<Vec<AuditEntry>, AppError> {
        let f = f.clone();
        self.with(move |c| {
            let action_like = f.action.as_deref().map(super::audit_action_pattern);
            let mut stmt = c.prepare(
                "SELECT id, at, actor, source, action, object, keys, detail FROM audit_log \
                 WHERE org_id = ?1 AND (?2 IS NULL OR object = ?2) AND (?3 IS NULL OR actor = ?3 COLLATE NOCASE) \
                 AND (?4 IS NULL OR action LIKE ?4 ESCAPE '\\') AND (?5 IS NULL OR id < ?5) \
                 AND (?6 IS NULL OR at >= ?6) AND (?7 IS NULL OR at < ?7) \
                 ORDER BY id DESC LIMIT ?8",
            )?;
            let rows = stmt.query_map(
                params![org_id, f.object, f.actor, action_like, f.before, f.since, f.until, f.limit as i64],
                |r| {
                    let keys: String = r.get(6)?;
                    Ok(AuditEntry {
                        id: r.get(0)?,
                        at: r.get(1)?,
                        actor: r.get(2)?,
                        source: r.get(3)?,
                        action: r.get(4)?,
                        object: r.get(5)?,
                        keys: keys.split(',').filter(|k| !k.is_empty()).map(str::to_owned).collect(),
                        detail: r.get(7)?,
                    })
                },
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn create_personal_org(&self, user_id: i64, name: &str, now: i64) -> Result<Org, AppError> {
        let name = name.to_owned();
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let taken: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM orgs WHERE name = ?1)",
                [&name],
                |r| r.get(0),
            )?;
            let name = if taken { format!("{name}-{user_id}") } else { name };
            tx.execute(
                "INSERT INTO orgs (name, created_at, personal_user_id) VALUES (?1, ?2, ?3)",
                params![name, now, user_id],
            )?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?1, ?2, 'owner', ?3)",
                params![id, user_id, now],
            )?;
            tx.commit()?;
            Ok(Org { id, name })
        })
        .await
    }

    async fn membership(&self, user_id: i64, org: &str) -> Result<Option<(Org, Role)>, AppError> {
        let org = org.to_owned();
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT o.id, o.name, m.role FROM orgs o JOIN memberships m ON m.org_id = o.id \
                 WHERE o.name = ?1 AND m.user_id = ?2",
                params![org, user_id],
                |r| {
                    Ok((
                        Org {
                            id: r.get(0)?,
                            name: r.get(1)?,
                        },
                        role_of(&r.get::<_, String>(2)?),
                    ))
                },
            )
            .optional()?)
        })
        .await
    }

    async fn workspaces(&self, user_id: i64) -> Result<Vec<Workspace>, AppError> {
        self.with(move |c| {
            let mut stmt = c.prepare(
                "SELECT o.name, m.role, o.personal_user_id IS NOT NULL FROM orgs o \
                 JOIN memberships m ON m.org_id = o.id WHERE m.user_id = ?1 \
                 ORDER BY o.personal_user_id IS NULL, o.name",
            )?;
            let rows = stmt.query_map([user_id], |r| {
                Ok(Workspace {
                    name: r.get(0)?,
                    role: role_of(&r.get::<_, String>(1)?),
                    personal: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn is_personal(&self, org_id: i64) -> Result<bool, AppError> {
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT personal_user_id IS NOT NULL FROM orgs WHERE id = ?1",
                [org_id],
                |r| r.get(0),
            )?)
        })
        .await
    }

    async fn members(&self, org_id: i64) -> Result<Vec<MemberInfo>, AppError> {
        self.with(move |c| {
            let mut stmt = c.prepare(
                "SELECT u.email, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id \
                 WHERE m.org_id = ?1 ORDER BY u.email",
            )?;
            let rows = stmt.query_map([org_id], |r| {
                Ok(MemberInfo {
                    email: r.get(0)?,
                    role: role_of(&r.get::<_, String>(1)?),
                    joined_at: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn set_member_role(
        &self,
        org_id: i64,
        email: &str,
        role: Role,
        audit: Audit,
    ) -> Result<(), AppError> {
        let email = email.to_owned();
        self.change(audit, move |tx| {
            let user_id = member_id(tx, org_id, &email)?;
            if role != Role::Owner {
                keep_an_owner(tx, org_id, user_id)?;
            }
            tx.execute(
                "UPDATE memberships SET role = ?3 WHERE org_id = ?1 AND user_id = ?2",
                params![org_id, user_id, role.as_str()],
            )?;
            for above in roles_above(role) {
                tx.execute(
                    "DELETE FROM invites WHERE org_id = ?1 AND created_by = ?2 AND used_at IS NULL AND role = ?3",
                    params![org_id, user_id, above],
                )?;
            }
            // Tokens they saw of deployments using protected sets stop reading them.
            tx.execute(
                &format!(
                    "UPDATE deployments AS d SET rotate_token = 1 \
                     WHERE d.org_id = ?1 AND d.token_seen_by = ?2 AND {TOKEN_LOCKED}"
                ),
                params![org_id, user_id],
            )?;
            Ok(())
        })
        .await
    }

    async fn remove_member(&self, org_id: i64, email: &str, audit: Audit) -> Result<(), AppError> {
        let email = email.to_owned();
        self.change(audit, move |tx| {
            let user_id = member_id(tx, org_id, &email)?;
            keep_an_owner(tx, org_id, user_id)?;
            tx.execute(
                "DELETE FROM memberships WHERE org_id = ?1 AND user_id = ?2",
                params![org_id, user_id],
            )?;
            tx.execute(
                "DELETE FROM api_tokens WHERE org_id = ?1 AND user_id = ?2",
                params![org_id, user_id],
            )?;
            tx.execute(
                "DELETE FROM sessions WHERE org_id = ?1 AND user_id = ?2",
                params![org_id, user_id],
            )?;
            tx.execute(
                "DELETE FROM invites WHERE org_id = ?1 AND created_by = ?2 AND used_at IS NULL",
                params![org_id, user_id],
            )?;
            tx.execute(
                "UPDATE deployments SET rotate_token = 1 WHERE org_id = ?1 AND token_seen_by = ?2",
                params![org_id, user_id],
            )?;
            Ok(())
        })
        .await
    }

    async fn add_member(&self, org_id: i64, user_id: i64, role: Role, now: i64) -> Result<(), AppError> {
        self.with(move |c| {
            let added = c.execute(
                "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (org_id, user_id) DO NOTHING",
                params![org_id, user_id, role.as_str(), now],
            )?;
            if added == 0 {
                return Err(AppError::Conflict("already a member of this organization".into()));
            }
            Ok(())
        })
        .await
    }

    async fn create_invite(
        &self,
        org_id: i64,
        email: &str,
        role: Role,
        token_hash: &[u8],
        created_by: i64,
        now: i64,
        expires_at: i64,
        audit: Audit,
    ) -> Result<i64, AppError> {
        let (email, hash) = (email.to_owned(), token_hash.to_vec());
        self.change(audit, move |c| {
            c.execute(
                "INSERT INTO invites (org_id, email, role, token_hash, created_by, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![org_id, email, role.as_str(), hash, created_by, now, expires_at],
            )?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    async fn invite(&self, token_hash: &[u8], now: i64) -> Result<Option<InviteRecord>, AppError> {
        let hash = token_hash.to_vec();
        self.with(move |c| invite_row(c, &hash, now)).await
    }

    async fn accept_invite(
        &self,
        token_hash: &[u8],
        user_id: i64,
        now: i64,
        audit: AuditWith<InviteRecord>,
    ) -> Result<InviteRecord, AppError> {
        let hash = token_hash.to_vec();
        self.change(audit, move |tx| {
            let invite = invite_row(tx, &hash, now)?.ok_or_else(crate::server::orgs::invite_gone)?;
            tx.execute(
                "UPDATE invites SET used_at = ?2 WHERE token_hash = ?1",
                params![hash, now],
            )?;
            tx.execute(
                "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (org_id, user_id) DO NOTHING",
                params![invite.org.id, user_id, invite.role.as_str(), now],
            )?;
            Ok(invite)
        })
        .await
    }

    async fn invites(&self, org_id: i64, now: i64) -> Result<Vec<InviteInfo>, AppError> {
        self.with(move |c| {
            let mut stmt = c.prepare(
                "SELECT id, email, role, expires_at FROM invites \
                 WHERE org_id = ?1 AND used_at IS NULL AND expires_at > ?2 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![org_id, now], |r| {
                Ok(InviteInfo {
                    id: r.get(0)?,
                    email: r.get(1)?,
                    role: role_of(&r.get::<_, String>(2)?),
                    expires_at: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn revoke_invite(
        &self,
        org_id: i64,
        id: i64,
        audit: AuditWith<String>,
    ) -> Result<Option<String>, AppError> {
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let email: Option<String> = tx
                .query_row(
                    "DELETE FROM invites WHERE org_id = ?1 AND id = ?2 AND used_at IS NULL RETURNING email",
                    params![org_id, id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(email) = &email {
                write_audit(&tx, &audit(email))?;
            }
            tx.commit()?;
            Ok(email)
        })
        .await
    }

    async fn api_tokens(&self, org_id: i64, user_id: Option<i64>) -> Result<Vec<TokenInfo>, AppError> {
        self.with(move |c| {
            let mut stmt = c.prepare(
                "SELECT t.id, t.name, u.email, t.role, m.role, t.created_at, t.last_used_at FROM api_tokens t \
                 JOIN users u ON u.id = t.user_id \
                 JOIN memberships m ON m.user_id = t.user_id AND m.org_id = t.org_id \
                 WHERE t.org_id = ?1 AND (?2 IS NULL OR t.user_id = ?2) ORDER BY t.id",
            )?;
            let rows = stmt.query_map(params![org_id, user_id], |r| {
                Ok(TokenInfo {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    owner: r.get(2)?,
                    role: role_of(&r.get::<_, String>(3)?).min(role_of(&r.get::<_, String>(4)?)),
                    created_at: r.get(5)?,
                    last_used_at: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn delete_api_token(
        &self,
        org_id: i64,
        id: i64,
        user_id: Option<i64>,
        audit: Audit,
    ) -> Result<bool, AppError> {
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let deleted = tx.execute(
                "DELETE FROM api_tokens WHERE org_id = ?1 AND id = ?2 AND (?3 IS NULL OR user_id = ?3)",
                params![org_id, id, user_id],
            )? > 0;
            if deleted {
                write_audit(&tx, &audit)?;
            }
            tx.commit()?;
            Ok(deleted)
        })
        .await
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the columns of the token, and its audit entry"
    )]
    async fn create_api_token(
        &self,
        org_id: i64,
        user_id: i64,
        name: &str,
        token_hash: &[u8],
        now: i64,
        role: Role,
        audit: AuditWith<i64>,
    ) -> Result<i64, AppError> {
        let (name, hash) = (name.to_owned(), token_hash.to_vec());
        self.change(audit, move |c| {
            c.execute(
                "INSERT INTO api_tokens (org_id, user_id, name, token_hash, created_at, role) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![org_id, user_id, name, hash, now, role.as_str()],
            )?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    async fn principal_for_token(&self, token_hash: &[u8], now: i64) -> Result<Option<Principal>, AppError> {
        let hash = token_hash.to_vec();
        self.with(move |c| {
            let p = principal(
                c,
                "SELECT u.id, u.email, o.id, o.name, m.role, t.role FROM api_tokens t \
                 JOIN users u ON u.id = t.user_id JOIN orgs o ON o.id = t.org_id \
                 JOIN memberships m ON m.user_id = u.id AND m.org_id = o.id \
                 WHERE t.token_hash = ?1 AND ?2 IS NOT NULL",
                &hash,
                now,
            )?;
            if p.is_some() {
                c.execute(
                    "UPDATE api_tokens SET last_used_at = ?2 WHERE token_hash = ?1",
                    params![hash, now],
                )?;
            }
            Ok(p)
        })
        .await
    }

    async fn create_session(
        &self,
        id_hash: &[u8],
        user_id: i64,
        org_id: i64,
        now: i64,
        expires_at: i64,
        audit: Option<Audit>,
    ) -> Result<(), AppError> {
        let hash = id_hash.to_vec();
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
            tx.execute(
                "INSERT INTO sessions (id_hash, user_id, org_id, created_at, expires_at, last_seen) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?4)",
                params![hash, user_id, org_id, now, expires_at],
            )?;
            if let Some(audit) = &audit {
                write_audit(&tx, audit)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn principal_for_session(
        &self,
        id_hash: &[u8],
        now: i64,
        idle_since: i64,
    ) -> Result<Option<Principal>, AppError> {
        let hash = id_hash.to_vec();
        self.with(move |c| {
            let p = principal(
                c,
                &format!(
                    "SELECT u.id, u.email, o.id, o.name, m.role FROM sessions s \
                     JOIN users u ON u.id = s.user_id JOIN orgs o ON o.id = s.org_id \
                     JOIN memberships m ON m.user_id = u.id AND m.org_id = o.id \
                     WHERE s.id_hash = ?1 AND s.expires_at > ?2 AND s.last_seen > {idle_since}"
                ),
                &hash,
                now,
            )?;
            if p.is_some() {
                c.execute(
                    "UPDATE sessions SET last_seen = ?2 WHERE id_hash = ?1 AND last_seen < ?2 - 60",
                    params![hash, now],
                )?;
            }
            Ok(p)
        })
        .await
    }

    async fn reserve_login_attempt(
        &self,
        scopes: &[String],
        now: i64,
        window: i64,
        limit: i64,
    ) -> Result<LoginAttempt, AppError> {
        let scopes = scopes.to_vec();
        self.with(move |c| {
            let counts = |c: &Connection| -> Result<Vec<(i64, Option<i64>)>, AppError> {
                let mut out = Vec::with_capacity(scopes.len());
                for scope in &scopes {
                    out.push(c.query_row(
                        "SELECT COUNT(*), MIN(at) FROM login_failures WHERE scope = ?1 AND at > ?2",
                        params![scope, now - window],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )?);
                }
                Ok(out)
            };
            // A refused attempt only reads: a flood of them never waits for the write lock.
            if let Some(refused) = login_refusal(&counts(c)?, now, window, limit) {
                return Ok(refused);
            }
            // IMMEDIATE takes the write lock before counting again: no other writer can
            // count in between, so at most `limit` attempts per window get through.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some(refused) = login_refusal(&counts(&tx)?, now, window, limit) {
                return Ok(refused);
            }
            tx.execute("DELETE FROM login_failures WHERE at < ?1", [now - 3600])?;
            let mut ids = Vec::with_capacity(scopes.len());
            for scope in &scopes {
                tx.execute(
                    "INSERT INTO login_failures (scope, at) VALUES (?1, ?2)",
                    params![scope, now],
                )?;
                ids.push(tx.last_insert_rowid());
            }
            tx.commit()?;
            Ok(LoginAttempt::Counted(ids))
        })
        .await
    }

    async fn release_login_attempt(&self, ids: &[i64]) -> Result<(), AppError> {
        let ids = ids.to_vec();
        self.with(move |c| {
            let tx = c.transaction()?;
            for id in ids {
                tx.execute("DELETE FROM login_failures WHERE rowid = ?1", [id])?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn clear_login_failures(&self, scope: &str) -> Result<(), AppError> {
        let scope = scope.to_owned();
        self.with(move |c| {
            c.execute("DELETE FROM login_failures WHERE scope = ?1", [scope])?;
            Ok(())
        })
        .await
    }

    async fn delete_session(&self, id_hash: &[u8]) -> Result<(), AppError> {
        let hash = id_hash.to_vec();
        self.with(move |c| {
            c.execute("DELETE FROM sessions WHERE id_hash = ?1", [hash])?;
            Ok(())
        })
        .await
    }

    async fn list_sets(&self, org_id: i64) -> Result<Vec<SetSummary>, AppError> {
        self.with(move |c| {
            let mut stmt = c.prepare(
                "SELECT s.name, (SELECT COUNT(*) FROM secrets k WHERE k.set_id = s.id), s.updated_at, \
                 s.protected FROM secret_sets s WHERE s.org_id = ?1 ORDER BY s.name",
            )?;
            let rows = stmt
                .query_map([org_id], |r| {
                    Ok(SetSummary {
                        name: r.get(0)?,
                        key_count: r.get(1)?,
                        updated_at: r.get(2)?,
                        protected: r.get(3)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    async fn is_protected(&self, org_id: i64, set: &str) -> Result<bool, AppError> {
        let set = set.to_owned();
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT protected FROM secret_sets WHERE org_id = ?1 AND name = ?2",
                params![org_id, set],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(false))
        })
        .await
    }

    async fn get_set(&self, org_id: i64, set: &str) -> Result<Option<SetDetail>, AppError> {
        let set = set.to_owned();
        self.with(move |c| {
            let Some((id, revision, created_at, updated_at, protected)) = c
                .query_row(
                    "SELECT id, revision, created_at, updated_at, protected FROM secret_sets \
                     WHERE org_id = ?1 AND name = ?2",
                    params![org_id, set],
                    |r| Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?
            else {
                return Ok(None);
            };
            let mut stmt = c.prepare(
                "SELECT key, fingerprint, updated_at FROM secrets WHERE set_id = ?1 AND org_id = ?2 ORDER BY key",
            )?;
            let keys = stmt
                .query_map(params![id, org_id], |r| {
                    Ok(KeyInfo {
                        key: r.get(0)?,
                        fingerprint: r.get(1)?,
                        updated_at: r.get(2)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(SetDetail {
                name: set,
                revision,
                created_at,
                updated_at,
                keys,
                protected,
            }))
        })
        .await
    }

    async fn create_set(&self, org_id: i64, set: &str, now: i64, audit: Audit) -> Result<(), AppError> {
        let set = set.to_owned();
        self.change(audit, move |c| {
            let n = c.execute(
                "INSERT INTO secret_sets (org_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) \
                 ON CONFLICT (org_id, name) DO NOTHING",
                params![org_id, set, now],
            )?;
            if n == 0 {
                return Err(AppError::Conflict(format!(
                    "a secret set named \"{set}\" already exists"
                )));
            }
            Ok(())
        })
        .await
    }

    async fn put_secrets(
        &self,
        org_id: i64,
        set: &str,
        entries: Vec<SealedEntry>,
        now: i64,
        expected: Option<i64>,
        audit: AuditWith<PutResult>,
    ) -> Result<PutResult, AppError> {
        let set = set.to_owned();
        // `change` takes the write lock up front: writers to a set run one at a time.
        self.change(audit, move |tx| {
            let mut result = PutResult::default();
            let row = set_row(tx, org_id, &set)?;
            let current = row.map_or(0, |(_, rev)| rev);
            if let Some(expected) = expected.filter(|e| *e != current) {
                return Err(stale(&set, expected, current));
            }
            let id = match row {
                Some((id, _)) => id,
                None => {
                    tx.execute(
                        "INSERT INTO secret_sets (org_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
                        params![org_id, set, now],
                    )?;
                    result.created = true;
                    tx.last_insert_rowid()
                }
            };
            {
                let mut exists = tx.prepare("SELECT EXISTS (SELECT 1 FROM secrets WHERE set_id = ?1 AND key = ?2)")?;
                let mut upsert = tx.prepare(
                    "INSERT INTO secrets (set_id, org_id, key, sealed, fingerprint, value_len, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                     ON CONFLICT (set_id, key) DO UPDATE SET sealed = excluded.sealed, \
                     fingerprint = excluded.fingerprint, value_len = excluded.value_len, \
                     updated_at = excluded.updated_at",
                )?;
                for e in &entries {
                    let existed: bool = exists.query_row(params![id, e.key], |r| r.get(0))?;
                    if existed {
                        result.updated.push(e.key.clone());
                    } else {
                        result.added.push(e.key.clone());
                    }
                    upsert.execute(params![id, org_id, e.key, e.sealed, e.fingerprint, e.value_len as i64, now])?;
                }
            }
            let (total, count): (i64, i64) = tx.query_row(
                "SELECT COALESCE(SUM(value_len), 0), COUNT(*) FROM secrets WHERE set_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if count as usize > SET_MAX_KEYS {
                return Err(AppError::TooLarge(format!(
                    "secret set \"{set}\" would hold {count} keys; a set may hold at most {SET_MAX_KEYS}"
                )));
            }
            if total as usize > SET_MAX_BYTES {
                // Dropping the transaction rolls every row of this write back.
                return Err(AppError::TooLarge(format!(
                    "secret set \"{set}\" would hold {total} bytes of values; a set may hold at most {SET_MAX_BYTES}"
                )));
            }
            result.revision = tx.query_row(
                "UPDATE secret_sets SET updated_at = ?2, revision = revision + 1 WHERE id = ?1 RETURNING revision",
                params![id, now],
                |r| r.get(0),
            )?;
            Ok(result)
        })
        .await
    }

    async fn unset_secret(
        &self,
        org_id: i64,
        set: &str,
        key: &str,
        now: i64,
        expected: Option<i64>,
        audit: AuditWith<i64>,
    ) -> Result<i64, AppError> {
        let (set, key) = (set.to_owned(), key.to_owned());
        self.change(audit, move |tx| {
            let (id, current) = set_row(tx, org_id, &set)?.ok_or_else(|| set_not_found(&set))?;
            if let Some(expected) = expected.filter(|e| *e != current) {
                return Err(stale(&set, expected, current));
            }
            let n = tx.execute(
                "DELETE FROM secrets WHERE set_id = ?1 AND key = ?2",
                params![id, key],
            )?;
            if n == 0 {
                return Err(AppError::NotFound(format!(
                    "key \"{key}\" not found in set \"{set}\""
                )));
            }
            let revision = tx.query_row(
                "UPDATE secret_sets SET updated_at = ?2, revision = revision + 1 WHERE id = ?1 RETURNING revision",
                params![id, now],
                |r| r.get(0),
            )?;
            Ok(revision)
        })
        .await
    }

    async fn delete_set(&self, org_id: i64, set: &str, audit: Audit) -> Result<(), AppError> {
        self.delete_unused(
            org_id,
            set,
            "secret_sets",
            "secret_set",
            "secret set",
            set_not_found,
            audit,
        )
        .await
    }

    async fn list_pull_secrets(&self, org_id: i64) -> Result<Vec<PullSecretSummary>, AppError> {
        self.with(move |c| {
            let mut stmt = c.prepare(
                "SELECT name, registry, username, created_at FROM image_pull_secrets WHERE org_id = ?1 ORDER BY name",
            )?;
            let rows = stmt
                .query_map([org_id], |r| {
                    Ok(PullSecretSummary {
                        name: r.get(0)?,
                        registry: r.get(1)?,
                        username: r.get(2)?,
                        created_at: r.get(3)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    async fn pull_secret(&self, org_id: i64, name: &str) -> Result<Option<PullSecretRecord>, AppError> {
        let name = name.to_owned();
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT name, registry, username, sealed_auth, created_at FROM image_pull_secrets \
                 WHERE org_id = ?1 AND name = ?2",
                params![org_id, name],
                |r| {
                    Ok(PullSecretRecord {
                        name: r.get(0)?,
                        registry: r.get(1)?,
                        username: r.get(2)?,
                        sealed_auth: r.get(3)?,
                        created_at: r.get(4)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    async fn put_pull_secret(
        &self,
        org_id: i64,
        record: PullSecretRecord,
        replace: bool,
        audit: AuditWith<bool>,
    ) -> Result<bool, AppError> {
        self.change(audit, move |tx| {
            let removed = tx.execute(
                "DELETE FROM image_pull_secrets WHERE org_id = ?1 AND name = ?2 AND ?3",
                params![org_id, record.name, replace],
            )?;
            let inserted = tx.execute(
                "INSERT INTO image_pull_secrets (org_id, name, registry, username, sealed_auth, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (org_id, name) DO NOTHING",
                params![
                    org_id,
                    record.name,
                    record.registry,
                    record.username,
                    record.sealed_auth,
                    record.created_at
                ],
            )?;
            if inserted == 0 {
                return Err(pull_secret_exists(&record.name));
            }
            Ok(removed > 0)
        })
        .await
    }

    async fn delete_pull_secret(&self, org_id: i64, name: &str, audit: Audit) -> Result<(), AppError> {
        self.delete_unused(
            org_id,
            name,
            "image_pull_secrets",
            "pull_secret",
            "image pull secret",
            pull_secret_not_found,
            audit,
        )
        .await
    }

    async fn deploy(
        &self,
        req: DeployRequest<'_>,
        audit: AuditWith<(bool, i64)>,
    ) -> Result<(bool, i64), AppError> {
        let (org_id, now, keep_revisions, actor, may_use_protected) = (
            req.org_id,
            req.now,
            req.keep_revisions,
            req.actor,
            req.may_use_protected,
        );
        let (spec, token_hash) = (req.spec.clone(), req.token_hash.to_vec());
        self.change(audit, move |tx| {
            let mut missing = Vec::new();
            let set = match &spec.secret_set {
                Some(name) => {
                    let row = set_row(tx, org_id, name)?;
                    if row.is_none() {
                        missing.push(super::missing_reference("secret set", name));
                    }
                    row
                }
                None => None,
            };
            if let Some(pull) = &spec.pull_secret {
                let found: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM image_pull_secrets WHERE org_id = ?1 AND name = ?2)",
                    params![org_id, pull],
                    |r| r.get(0),
                )?;
                if !found {
                    missing.push(super::missing_reference("image pull secret", pull));
                }
            }
            if !missing.is_empty() {
                return Err(AppError::Validation(missing));
            }
            if let Some(set_name) = &spec.secret_set {
                let protected: bool = tx
                    .query_row(
                        "SELECT protected FROM secret_sets WHERE org_id = ?1 AND name = ?2",
                        params![org_id, set_name],
                        |r| r.get(0),
                    )
                    .optional()?
                    .unwrap_or(false);
                if protected && !may_use_protected {
                    return Err(protected_set(set_name));
                }
            }
            // Changing a deployment that now uses a protected set is for admins too.
            let current: Option<String> = tx
                .query_row(
                    "SELECT d.secret_set FROM deployments d JOIN secret_sets s \
                     ON s.org_id = d.org_id AND s.name = d.secret_set \
                     WHERE d.org_id = ?1 AND d.name = ?2 AND s.protected",
                    params![org_id, spec.name],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(set) = current.filter(|_| !may_use_protected) {
                return Err(protected_set(&set));
            }
            let existing: Option<(i64, i64)> = tx
                .query_row(
                    "SELECT id, revision FROM deployments WHERE org_id = ?1 AND name = ?2",
                    params![org_id, spec.name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let set_revision = set.map(|(_, rev)| rev);
            let (id, revision) = match existing {
                Some((id, rev)) => {
                    tx.execute(
                        "UPDATE deployments SET image = ?2, secret_set = ?3, pull_secret = ?4, region = ?5, \
                         min_agents = ?6, max_agents = ?7, revision = ?8, set_revision = ?9, deployed_at = ?10 \
                         WHERE id = ?1",
                        params![
                            id,
                            spec.image,
                            spec.secret_set,
                            spec.pull_secret,
                            spec.region,
                            spec.min_agents,
                            spec.max_agents,
                            rev + 1,
                            set_revision,
                            now
                        ],
                    )?;
                    (id, rev + 1)
                }
                None => {
                    tx.execute(
                        "INSERT INTO deployments (org_id, name, image, secret_set, pull_secret, region, \
                         min_agents, max_agents, revision, set_revision, runtime_token_hash, created_at, \
                         deployed_at, token_seen_by) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?10, ?11, ?11, ?12)",
                        params![
                            org_id,
                            spec.name,
                            spec.image,
                            spec.secret_set,
                            spec.pull_secret,
                            spec.region,
                            spec.min_agents,
                            spec.max_agents,
                            set_revision,
                            token_hash,
                            now,
                            actor
                        ],
                    )?;
                    (tx.last_insert_rowid(), 1)
                }
            };
            if let (Some((set_id, _)), Some(set_name)) = (set, &spec.secret_set) {
                tx.execute(
                    "INSERT INTO deployment_env (deployment_id, revision, key, set_name, sealed, fingerprint) \
                     SELECT ?1, ?2, key, ?3, sealed, fingerprint FROM secrets WHERE set_id = ?4",
                    params![id, revision, set_name, set_id],
                )?;
            }
            tx.execute(
                "DELETE FROM deployment_env WHERE deployment_id = ?1 AND revision <= ?2",
                params![id, revision - keep_revisions.max(1)],
            )?;
            // Pointed at a protected set while someone below admin holds the token.
            tx.execute(
                &format!("UPDATE deployments AS d SET rotate_token = 1 WHERE d.id = ?1 AND {TOKEN_LOCKED}"),
                [id],
            )?;
            Ok((existing.is_none(), revision))
        })
        .await
    }

    async fn list_deployments(&self, org_id: i64) -> Result<Vec<DeploymentSummary>, AppError> {
        self.with(move |c| {
            let sql =
                format!("SELECT {DEPLOYMENT_COLUMNS} FROM deployments d WHERE d.org_id = ?1 ORDER BY d.name");
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt
                .query_map([org_id], deployment_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    async fn get_deployment(&self, org_id: i64, name: &str) -> Result<Option<DeploymentDetail>, AppError> {
        let name = name.to_owned();
        self.with(move |c| {
            let sql =
                format!("SELECT {DEPLOYMENT_COLUMNS}, d.id FROM deployments d WHERE d.org_id = ?1 AND d.name = ?2");
            let Some((summary, id)) = c
                .query_row(&sql, params![org_id, name], |r| Ok((deployment_row(r)?, r.get::<_, i64>(12)?)))
                .optional()?
            else {
                return Ok(None);
            };
            let keys = |sql: &str, a: i64, b: i64| -> Result<Vec<KeyInfo>, AppError> {
                let mut stmt = c.prepare(sql)?;
                let rows = stmt
                    .query_map(params![a, b], |r| {
                        Ok(KeyInfo {
                            key: r.get(0)?,
                            fingerprint: r.get(1)?,
                            updated_at: r.get(2)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            };
            let env = keys(
                "SELECT e.key, e.fingerprint, d.deployed_at FROM deployment_env e \
                 JOIN deployments d ON d.id = e.deployment_id \
                 WHERE e.deployment_id = ?1 AND e.revision = ?2 ORDER BY e.key",
                id,
                summary.revision,
            )?;
            let now = match &summary.spec.secret_set {
                Some(set) => match set_row(c, org_id, set)? {
                    Some((set_id, _)) => keys(
                        "SELECT key, fingerprint, updated_at FROM secrets WHERE set_id = ?1 AND org_id = ?2 ORDER BY key",
                        set_id,
                        org_id,
                    )?,
                    None => Vec::new(),
                },
                None => Vec::new(),
            };
            let (added, removed, changed) = env_diff(&env, &now);
            Ok(Some(DeploymentDetail {
                summary,
                env,
                added,
                removed,
                changed,
            }))
        })
        .await
    }

    async fn delete_deployment(&self, org_id: i64, name: &str, audit: Audit) -> Result<(), AppError> {
        let name = name.to_owned();
        self.change(audit, move |c| {
            let n = c.execute(
                "DELETE FROM deployments WHERE org_id = ?1 AND name = ?2",
                params![org_id, name],
            )?;
            if n == 0 {
                return Err(deployment_not_found(&name));
            }
            Ok(())
        })
        .await
    }

    async fn rotate_runtime_token(
        &self,
        org_id: i64,
        name: &str,
        token_hash: &[u8],
        actor: i64,
        may_use_protected: bool,
        audit: Audit,
    ) -> Result<(), AppError> {
        let (name, hash) = (name.to_owned(), token_hash.to_vec());
        self.change(audit, move |tx| {
            let Some((set, protected)) = tx
                .query_row(
                    "SELECT d.secret_set, COALESCE(s.protected, 0) FROM deployments d \
                     LEFT JOIN secret_sets s ON s.org_id = d.org_id AND s.name = d.secret_set \
                     WHERE d.org_id = ?1 AND d.name = ?2",
                    params![org_id, name],
                    |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, bool>(1)?)),
                )
                .optional()?
            else {
                return Err(deployment_not_found(&name));
            };
            if protected && !may_use_protected {
                return Err(protected_set(set.as_deref().unwrap_or_default()));
            }
            tx.execute(
                "UPDATE deployments SET runtime_token_hash = ?3, token_seen_by = ?4, rotate_token = 0 \
                 WHERE org_id = ?1 AND name = ?2",
                params![org_id, name, hash, actor],
            )?;
            Ok(())
        })
        .await
    }

    async fn set_protected(
        &self,
        org_id: i64,
        set: &str,
        protected: bool,
        audit: Audit,
    ) -> Result<(), AppError> {
        let set = set.to_owned();
        self.change(audit, move |tx| {
            let n = tx.execute(
                "UPDATE secret_sets SET protected = ?3 WHERE org_id = ?1 AND name = ?2",
                params![org_id, set, protected],
            )?;
            if n == 0 {
                return Err(set_not_found(&set));
            }
            if protected {
                tx.execute(
                    "UPDATE deployments SET rotate_token = 1 WHERE org_id = ?1 AND secret_set = ?2 \
                     AND (token_seen_by IS NULL OR token_seen_by NOT IN (SELECT user_id FROM memberships \
                          WHERE org_id = ?1 AND role IN ('admin', 'owner')))",
                    params![org_id, set],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn runtime_env(&self, token_hash: &[u8]) -> Result<Option<RuntimeEnv>, AppError> {
        let hash = token_hash.to_vec();
        self.with(move |c| {
            let sql = format!(
                "SELECT d.id, d.org_id, o.name, d.name, d.revision, \
                 CASE WHEN {TOKEN_LOCKED} THEN d.secret_set END FROM deployments d \
                 JOIN orgs o ON o.id = d.org_id WHERE d.runtime_token_hash = ?1"
            );
            let Some((id, org_id, org, deployment, revision, locked_by)) = c
                .query_row(&sql, [hash], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get::<_, i64>(4)?,
                        r.get(5)?,
                    ))
                })
                .optional()?
            else {
                return Ok(None);
            };
            let mut stmt = c.prepare(
                "SELECT key, set_name, sealed FROM deployment_env WHERE deployment_id = ?1 AND revision = ?2 ORDER BY key",
            )?;
            let entries = stmt
                .query_map(params![id, revision], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(RuntimeEnv {
                org_id,
                org,
                deployment,
                revision,
                locked_by,
                entries,
            }))
        })
        .await
    }

    async fn sealed_value(&self, org_id: i64, set: &str, key: &str) -> Result<Option<Vec<u8>>, AppError> {
        let (set, key) = (set.to_owned(), key.to_owned());
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT k.sealed FROM secrets k JOIN secret_sets s ON s.id = k.set_id \
                 WHERE s.org_id = ?1 AND s.name = ?2 AND k.key = ?3",
                params![org_id, set, key],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }
}
