//! PostgreSQL storage, for several Cloakroom instances on one database. Same meaning as
//! the SQLite store: migrations applied at start-up (under an advisory lock, so
//! instances starting together do not race), every multi-row change one transaction,
//! writers to one set serialized by a row lock on the set.

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
use deadpool_postgres::GenericClient;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;

mod tls;

const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_init.sql"),
    include_str!("../../../migrations/postgres/0002_image_pull_secrets.sql"),
    include_str!("../../../migrations/postgres/0003_deployments.sql"),
    include_str!("../../../migrations/postgres/0004_hardening.sql"),
    include_str!("../../../migrations/postgres/0005_organizations.sql"),
    include_str!("../../../migrations/postgres/0006_security.sql"),
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
    /// Connects to `url` (`postgres://user@host:port/db`, with libpq's `sslmode` and
    /// `sslrootcert` for TLS: see `postgres/tls.rs`) and migrates the schema.
    pub async fn open(url: &str) -> Result<Self, String> {
        let (tls, url) = tls::PgTls::from_url(url)?;
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
        let size = std::env::var("CLOAKROOM_DB_POOL_SIZE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(16);
        let pool = Pool::builder(manager)
            .max_size(size)
            .build()
            .map_err(|e| format!("could not set up the PostgreSQL pool: {e}"))?;
        // Connect once before migrating, so a refused certificate reads as one.
        drop(pool.get().await.map_err(|e| tls.connect_error(&e))?);
        let store = Self { pool };
        store
            .migrate()
            .await
            .map_err(|e| format!("could not migrate the PostgreSQL database: {e}"))?;
        Ok(store)
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "what to delete, how to name it, and its audit entry"
    )]
    /// Deletes the organization's row `name` from `table` unless a deployment's `column`
    /// names it (`in_use` then names them). The row is locked first, so a deploy that
    /// references it concurrently either commits before and is seen, or waits.
    async fn delete_unused(
        &self,
        org_id: i64,
        name: &str,
        table: &str,
        column: &str,
        what: &str,
        not_found: fn(&str) -> AppError,
        audit: Audit,
    ) -> Result<(), AppError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let lock = format!("SELECT 1 FROM {table} WHERE org_id = $1 AND name = $2 FOR UPDATE");
        if tx.query_opt(&lock, &[&org_id, &name]).await?.is_none() {
            return Err(not_found(name));
        }
        let users = users_of(&tx, org_id, column, name).await?;
        if !users.is_empty() {
            return Err(in_use(&format!("{what} \"{name}\""), &users));
        }
        let delete = format!("DELETE FROM {table} WHERE org_id = $1 AND name = $2");
        tx.execute(&delete, &[&org_id, &name]).await?;
        write_audit(&tx, &audit).await?;
        tx.commit().await?;
        Ok(())
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
    Ok(c.query_opt(sql, &[&hash, &now]).await?.map(|r| {
        let mut role = role_of(r.get(4));
        if r.len() > 5 {
            role = role.min(role_of(r.get(5)));
        }
        Principal {
            user_id: r.get(0),
            email: r.get(1),
            org: Org {
                id: r.get(2),
                name: r.get(3),
            },
            role,
            via: super::Via::Ui,
        }
    }))
}

/// Refuses a change that would leave `org_id` without an owner.
async fn keep_an_owner(c: &impl GenericClient, org_id: i64, user_id: i64) -> Result<(), AppError> {
    let row = c
        .query_one(
            "SELECT COUNT(*) FILTER (WHERE user_id <> $2), BOOL_OR(user_id = $2) FROM memberships \
             WHERE org_id = $1 AND role = 'owner'",
            &[&org_id, &user_id],
        )
        .await?;
    let (others, is_owner): (i64, Option<bool>) = (row.get(0), row.get(1));
    if is_owner.unwrap_or(false) && others == 0 {
        return Err(AppError::Conflict(
            "the last owner cannot be removed or demoted; make someone else owner first".into(),
        ));
    }
    Ok(())
}

async fn member_id(c: &impl GenericClient, org_id: i64, email: &str) -> Result<i64, AppError> {
    c.query_opt(
        "SELECT u.id FROM users u JOIN memberships m ON m.user_id = u.id \
         WHERE m.org_id = $1 AND lower(u.email) = lower($2)",
        &[&org_id, &email],
    )
    .await?
    .map(|r| r.get(0))
    .ok_or_else(|| AppError::NotFound(format!("{email} is not a member of this organization")))
}

async fn invite_row(c: &impl GenericClient, hash: &[u8], now: i64) -> Result<Option<InviteRecord>, AppError> {
    Ok(c.query_opt(
        "SELECT o.id, o.name, i.email, i.role, i.expires_at FROM invites i JOIN orgs o ON o.id = i.org_id \
             WHERE i.token_hash = $1 AND i.used_at IS NULL AND i.expires_at > $2",
        &[&hash, &now],
    )
    .await?
    .as_ref()
    .map(invite_from))
}

/// An invitation from `org id, org name, email, role, expires_at`.
fn invite_from(r: &tokio_postgres::Row) -> InviteRecord {
    InviteRecord {
        org: Org {
            id: r.get(0),
            name: r.get(1),
        },
        email: r.get(2),
        role: role_of(r.get(3)),
        expires_at: r.get(4),
    }
}

/// Names of the deployments whose `column` (secret_set or pull_secret) is `name`.
async fn users_of(
    c: &impl GenericClient,
    org_id: i64,
    column: &str,
    name: &str,
) -> Result<Vec<String>, AppError> {
    let sql = format!(
        "SELECT name FROM deployments WHERE org_id = $1 AND {column} = $2 ORDER BY name COLLATE \"C\""
    );
    Ok(c.query(&sql, &[&org_id, &name])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

const DEPLOYMENT_COLUMNS: &str = "d.name, d.image, d.secret_set, d.pull_secret, d.region, d.min_agents, \
     d.max_agents, d.revision, d.created_at, d.deployed_at, \
     (d.secret_set IS NOT NULL AND d.set_revision IS DISTINCT FROM (SELECT s.revision FROM secret_sets s \
        WHERE s.org_id = d.org_id AND s.name = d.secret_set)), d.rotate_token";

fn deployment_row(r: &tokio_postgres::Row) -> DeploymentSummary {
    DeploymentSummary {
        spec: DeploymentSpec {
            name: r.get(0),
            image: r.get(1),
            secret_set: r.get(2),
            pull_secret: r.get(3),
            region: r.get(4),
            min_agents: r.get(5),
            max_agents: r.get(6),
        },
        revision: r.get(7),
        created_at: r.get(8),
        deployed_at: r.get(9),
        needs_redeploy: r.get(10),
        rotate_token: r.get(11),
    }
}

/// Appends an audit entry (on `c`, which may be a change's transaction).
async fn write_audit(c: &impl GenericClient, a: &Audit) -> Result<(), AppError> {
    let e = &a.entry;
    c.execute(
        "INSERT INTO audit_log (org_id, at, actor, source, action, object, keys, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &a.org_id,
            &e.at,
            &e.actor,
            &e.source,
            &e.action,
            &e.object,
            &e.keys.join(","),
            &e.detail,
        ],
    )
    .await?;
    Ok(())
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

    async fn init_meta(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, AppError> {
        let c = self.pool.get().await?;
        // The insert either wins or waits for the row another transaction inserted;
        // then the row is read back (a statement after the conflict sees it committed).
        c.execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            &[&key, &value],
        )
        .await?;
        let row = c
            .query_one("SELECT value FROM meta WHERE key = $1", &[&key])
            .await?;
        Ok(row.get(0))
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

    async fn create_org(
        &self,
        name: &str,
        owner: i64,
        now: i64,
        audit: AuditWith<Org>,
    ) -> Result<Org, AppError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "INSERT INTO orgs (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id",
                &[&name, &now],
            )
            .await?
        else {
            return Err(org_exists(name));
        };
        let org = Org {
            id: row.get(0),
            name: name.to_owned(),
        };
        tx.execute(
            "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)",
            &[&org.id, &owner, &now],
        )
        .await?;
        write_audit(&tx, &audit.make(&org)).await?;
        tx.commit().await?;
        Ok(org)
    }

    async fn first_user_id(&self) -> Result<Option<i64>, AppError> {
        let c = self.pool.get().await?;
        Ok(c.query_one("SELECT MIN(id) FROM users", &[]).await?.get(0))
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
        membership: Option<(i64, Role)>,
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
        if let Some((org_id, role)) = membership {
            tx.execute(
                "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
                &[&org_id, &id, &role.as_str(), &now],
            )
            .await?;
        }
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

    async fn delete_org(&self, org_id: i64, audit: Audit) -> Result<(), AppError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        tx.execute(
            "UPDATE sessions s SET org_id = o.id FROM orgs o \
             WHERE s.org_id = $1 AND o.personal_user_id = s.user_id",
            &[&org_id],
        )
        .await?;
        let deleted = tx
            .execute(
                "DELETE FROM orgs WHERE id = $1 AND personal_user_id IS NULL",
                &[&org_id],
            )
            .await?;
        if deleted == 0 {
            return Err(AppError::Conflict(
                "a personal workspace cannot be deleted".into(),
            ));
        }
        let out = ();
        write_audit(&tx, &audit.make(&out)).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn set_password(&self, user_id: i64, password_hash: &str, audit: Audit) -> Result<(), AppError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        tx.execute(
            "UPDATE users SET password_hash = $2 WHERE id = $1",
            &[&user_id, &password_hash],
        )
        .await?;
        tx.execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])
            .await?;
        let out = ();
        write_audit(&tx, &audit.make(&out)).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn append_audit(&self, org_id: i64, e: &AuditEntry) -> Result<(), AppError> {
        let c = self.pool.get().await?;
        let audit = Audit {
            org_id,
            entry: e.clone(),
        };
        write_audit(&c, &audit).await
    }

    async fn audit(&self, org_id: i64, f: &AuditFilter) -> Result<Vec<AuditEntry>, AppError> {
        let c = self.pool.get().await?;
        let action_like = f.action.as_deref().map(super::audit_action_pattern);
        let limit = f.limit as i64;
        Ok(c.query(
            "SELECT id, at, actor, source, action, object, keys, detail FROM audit_log \
                 WHERE org_id = $1 AND ($2::TEXT IS NULL OR object = $2) \
                 AND ($3::TEXT IS NULL OR lower(actor) = lower($3)) \
                 AND ($4::TEXT IS NULL OR action LIKE $4) AND ($5::BIGINT IS NULL OR id < $5) \
                 AND ($6::BIGINT IS NULL OR at >= $6) AND ($7::BIGINT IS NULL OR at < $7) \
                 ORDER BY id DESC LIMIT $8",
            &[
                &org_id,
                &f.object,
                &f.actor,
                &action_like,
                &f.before,
                &f.since,
                &f.until,
                &limit,
            ],
        )
        .await?
        .iter()
        .map(|r| {
            let keys: String = r.get(6);
            AuditEntry {
                id: r.get(0),
                at: r.get(1),
                actor: r.get(2),
                source: r.get(3),
                action: r.get(4),
                object: r.get(5),
                keys: keys
                    .split(',')
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned)
                    .collect(),
                detail: r.get(7),
            }
        })
        .collect())
    }

    async fn create_personal_org(&self, user_id: i64, name: &str, now: i64) -> Result<Org, AppError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let taken: bool = tx
            .query_one("SELECT EXISTS (SELECT 1 FROM orgs WHERE name = $1)", &[&name])
            .await?
            .get(0);
        let name = if taken {
            format!("{name}-{user_id}")
        } else {
            name.to_owned()
        };
        let id: i64 = tx
            .query_one(
                "INSERT INTO orgs (name, created_at, personal_user_id) VALUES ($1, $2, $3) RETURNING id",
                &[&name, &now, &user_id],
            )
            .await?
            .get(0);
        tx.execute(
            "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)",
            &[&id, &user_id, &now],
        )
        .await?;
        tx.commit().await?;
        Ok(Org { id, name })
    }

    async fn membership(&self, user_id: i64, org: &str) -> Result<Option<(Org, Role)>, AppError> {
        let c = self.pool.get().await?;
        Ok(c.query_opt(
            "SELECT o.id, o.name, m.role FROM orgs o JOIN memberships m ON m.org_id = o.id \
                 WHERE o.name = $1 AND m.user_id = $2",
            &[&org, &user_id],
        )
        .await?
        .map(|r| {
            (
                Org {
                    id: r.get(0),
                    name: r.get(1),
                },
                role_of(r.get(2)),
            )
        }))
    }

    async fn workspaces(&self, user_id: i64) -> Result<Vec<Workspace>, AppError> {
        let c = self.pool.get().await?;
        Ok(c.query(
            "SELECT o.name, m.role, o.personal_user_id IS NOT NULL FROM orgs o \
                 JOIN memberships m ON m.org_id = o.id WHERE m.user_id = $1 \
                 ORDER BY o.personal_user_id IS NULL, o.name",
            &[&user_id],
        )
        .await?
        .iter()
        .map(|r| Workspace {
            name: r.get(0),
            role: role_of(r.get(1)),
            personal: r.get(2),
        })
        .collect())
    }

    async fn is_personal(&self, org_id: i64) -> Result<bool, AppError> {
        let c = self.pool.get().await?;
        Ok(c.query_one(
            "SELECT personal_user_id IS NOT NULL FROM orgs WHERE id = $1",
            &[&org_id],
        )
        .await?
        .get(0))
    }

    async fn members(&self, org_id: i64) -> Result<Vec<MemberInfo>, AppError> {
        let c = self.pool.get().await?;
        Ok(c.query(
            "SELECT u.email, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id \
                 WHERE m.org_id = $1 ORDER BY lower(u.email)",
            &[&org_id],
        )
        .await?
        .iter()
        .map(|r| MemberInfo {
            email: r.get(0),
            role: role_of(r.get(1)),
            joined_at: r.get(2),
        })
        .collect())
    }

    async fn set_member_role(
        &self,
        org_id: i64,
        email: &str,
        role: Role,
        audit: Audit,
    ) -> Result<(), AppError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        // One membership change at a time per organization, so two demotions cannot
        // each see the other owner and leave none.
        tx.execute("SELECT 1 FROM orgs WHERE id = $1 FOR UPDATE", &[&org_id])
            .await?;
        let user_id = member_id(&tx, org_id, email).await?;
        if role != Role::Owner {
            keep_an_owner(&tx, org_id, user_id).await?;
        }
        tx.execute(
            "UPDATE memberships SET role = $3 WHERE org_id = $1 AND user_id = $2",
            &[&org_id, &user_id, &role.as_str()],
        )
        .await?;
        tx.execute(
            "DELETE FROM invites WHERE org_id = $1 AND created_by = $2 AND used_at IS NULL \
             AND role = ANY($3)",
            &[&org_id, &user_id, &roles_above(role)],
        )
        .await?;
        // Tokens they saw of deployments using protected sets stop reading them.
        tx.execute(
            &format!(
                "UPDATE deployments AS d SET rotate_token = TRUE \
                 WHERE d.org_id = $1 AND d.token_seen_by = $2 AND {TOKEN_LOCKED}"
            ),
            &[&org_id, &user_id],
        )
        .await?;
        let out = ();
        write_audit(&tx, &audit.make(&out)).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn remove_member(&self, org_id: i64, email: &str, audit: Audit) -> Result<(), AppError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        tx.execute("SELECT 1 FROM orgs WHERE id = $1 FOR UPDATE", &[&org_id])
            .await?;
        let user_id = member_id(&tx, org_id, email).await?;
        keep_an_owner(&tx, org_id, user_id).await?;
        for sql in [
            "DELETE FROM memberships WHERE org_id = $1 AND user_id = $2",
            "DELETE FROM api_tokens WHERE org_id = $1 AND user_id = $2",
            "DELETE FROM sessions WHERE org_id = $1 AND user_id = $2",
            "DELETE FROM invites WHERE org_id = $1 AND created_by = $2 AND used_at IS NULL",
            "UPDATE deployments SET rotate_token = TRUE WHERE org_id = $1 AND token_seen_by = $2",
        ] {
            tx.execute(sql, &[&org_id, &user_id]).await?;
        }
        let out = ();
        write_audit(&tx, &audit.make(&out)).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn add_member(&self, org_id: i64, user_id: i64, role: Role, now: i64) -> Result<(), AppError> {
        let c = self.pool.get().await?;
        let added = c
            .execute(
                "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (org_id, user_id) DO NOTHING",
                &[&org_id, &user_id, &role.as_str(), &now],
            )
            .await?;
        if added == 0 {
            return Err(AppError::Conflict("already a member of this organization".into()));
        }
        Ok(())
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
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO invites (org_id, email, role, token_hash, created_by, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                &[
                    &org_id,
                    &email,
                    &role.as_str(),
                    &token_hash,
                    &created_by,
                    &now,
                    &expires_at,
                ],
            )
            .await?
            .get(0);
        write_audit(&tx, &audit).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn invite(&self, token_hash: &[u8], now: i64) -> Result<Option<InviteRecord>, AppError> {
        let c = self.pool.get().await?;
        invite_row(&c, token_hash, now).await
    }

    async fn accept_invite(
        &self,
        token_hash: &[u8],
        user_id: i64,
        now: i64,
        audit: AuditWith<InviteRecord>,
    ) -> Result<InviteRecord, AppError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        // Used at most once: the update only succeeds while the invitation is unused.
        let used = tx
            .execute(
                "UPDATE invites SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
                &[&token_hash, &now],
            )
            .await?;
        if used == 0 {
            return Err(crate::server::orgs::invite_gone());
        }
        let invite = tx
            .query_one(
                "SELECT o.id, o.name, i.email, i.role, i.expires_at FROM invites i JOIN orgs o ON o.id = i.org_id \
                 WHERE i.token_hash = $1",
                &[&token_hash],
            )
            .await
            .map(|r| invite_from(&r))?;
        tx.execute(
            "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, user_id) DO NOTHING",
            &[&invite.org.id, &user_id, &invite.role.as_str(), &now],
        )
        .await?;
        let out = invite;
        write_audit(&tx, &audit.make(&out)).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn invites(&self, org_id: i64, now: i64) -> Result<Vec<InviteInfo>, AppError> {
        let c = self.pool.get().await?;
        Ok(c.query(
            "SELECT id, email, role, expires_at FROM invites \
                 WHERE org_id = $1 AND used_at IS NULL AND expires_at > $2 ORDER BY id",
            &[&org_id, &now],
        )
        .await?
        .iter()
        .map(|r| InviteInfo {
            id: r.get(0),
            email: r.get(1),
            role: role_of(r.get(2)),
            expires_at: r.get(3),
        })
        .collect())
    }

    async fn revoke_invite(
        &self,
        org_id: i64,
        id: i64,
        audit: AuditWith<String>,
    ) -> Result<Option<String>, AppError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let email: Option<String> = tx
            .query_opt(
                "DELETE FROM invites WHERE org_id = $1 AND id = $2 AND used_at IS NULL RETURNING email",
                &[&org_id, &id],
            )
            .await?
            .map(|r| r.get(0));
        if let Some(email) = &email {
            write_audit(&tx, &audit(email)).await?;
        }
        tx.commit().await?;
        Ok(email)
    }

    async fn api_tokens(&self, org_id: i64, user_id: Option<i64>) -> Result<Vec<TokenInfo>, AppError> {
        let c = self.pool.get().await?;
        Ok(c.query(
            "SELECT t.id, t.name, u.email, t.role, m.role, t.created_at, t.last_used_at FROM api_tokens t \
                 JOIN users u ON u.id = t.user_id \
                 JOIN memberships m ON m.user_id = t.user_id AND m.org_id = t.org_id \
                 WHERE t.org_id = $1 AND ($2::BIGINT IS NULL OR t.user_id = $2) ORDER BY t.id",
            &[&org_id, &user_id],
        )
        .await?
        .iter()
        .map(|r| TokenInfo {
            id: r.get(0),
            name: r.get(1),
            owner: r.get(2),
            role: role_of(r.get(3)).min(role_of(r.get(4))),
            created_at: r.get(5),
            last_used_at: r.get(6),
        })
        .collect())
    }

    async fn delete_api_token(
        &self,
        org_id: i64,
        id: i64,
        user_id: Option<i64>,
        audit: Audit,
    ) -> Result<bool, AppError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let deleted = tx
            .execute(
                "DELETE FROM api_tokens WHERE org_id = $1 AND id = $2 AND ($3::BIGINT IS NULL OR user_id = $3)",
                &[&org_id, &id, &user_id],
            )
            .await?
            > 0;
        if deleted {
            write_audit(&tx, &audit).await?;
        }
        tx.commit().await?;
        Ok(deleted)
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
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO api_tokens (org_id, user_id, name, token_hash, created_at, role) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[&org_id, &user_id, &name, &token_hash, &now, &role.as_str()],
            )
            .await?
            .get(0);
        write_audit(&tx, &audit(&id)).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn principal_for_token(&self, token_hash: &[u8], now: i64) -> Result<Option<Principal>, AppError> {
        let c = self.pool.get().await?;
        let p = principal(
            &c,
            "SELECT u.id, u.email, o.id, o.name, m.role, t.role FROM api_tokens t \
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
        audit: Option<Audit>,
    ) -> Result<(), AppError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        tx.execute("DELETE FROM sessions WHERE expires_at <= $1", &[&now])
            .await?;
        tx.execute(
            "INSERT INTO sessions (id_hash, user_id, org_id, created_at, expires_at, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $4)",
            &[&id_hash, &user_id, &org_id, &now, &expires_at],
        )
        .await?;
        if let Some(audit) = &audit {
            write_audit(&tx, audit).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn principal_for_session(
        &self,
        id_hash: &[u8],
        now: i64,
        idle_since: i64,
    ) -> Result<Option<Principal>, AppError> {
        let c = self.pool.get().await?;
        let p = principal(
            &c,
            &format!(
                "SELECT u.id, u.email, o.id, o.name, m.role FROM sessions s \
                 JOIN users u ON u.id = s.user_id JOIN orgs o ON o.id = s.org_id \
                 JOIN memberships m ON m.user_id = u.id AND m.org_id = o.id \
                 WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen > {idle_since}"
            ),
            id_hash,
            now,
        )
        .await?;
        if p.is_some() {
            c.execute(
                "UPDATE sessions SET last_seen = $2 WHERE id_hash = $1 AND last_seen < $2::BIGINT - 60",
                &[&id_hash, &now],
            )
            .await?;
        }
        Ok(p)
    }

    async fn reserve_login_attempt(
        &self,
        scopes: &[String],
        now: i64,
        window: i64,
        limit: i64,
    ) -> Result<LoginAttempt, AppError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        // One transaction-scoped advisory lock per scope (in a fixed order, so two
        // attempts never wait on each other crosswise): every instance counts and
        // records an attempt of a scope in turn.
        let mut sorted: Vec<&String> = scopes.iter().collect();
        sorted.sort();
        for scope in &sorted {
            tx.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", &[scope])
                .await?;
        }
        tx.execute("DELETE FROM login_failures WHERE at < $1", &[&(now - 3600)])
            .await?;
        let mut counts = Vec::with_capacity(scopes.len());
        for scope in scopes {
            let row = tx
                .query_one(
                    "SELECT COUNT(*), MIN(at) FROM login_failures WHERE scope = $1 AND at > $2",
                    &[scope, &(now - window)],
                )
                .await?;
            counts.push((row.get(0), row.get(1)));
        }
        if let Some(refused) = login_refusal(&counts, now, window, limit) {
            return Ok(refused);
        }
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

    async fn release_login_attempt(&self, ids: &[i64]) -> Result<(), AppError> {
        let c = self.pool.get().await?;
        c.execute("DELETE FROM login_failures WHERE id = ANY($1)", &[&ids])
            .await?;
        Ok(())
    }

    async fn clear_login_failures(&self, scope: &str) -> Result<(), AppError> {
        let c = self.pool.get().await?;
        c.execute("DELETE FROM login_failures WHERE scope = $1", &[&scope])
            .await?;
        Ok(())
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
                "SELECT s.name, (SELECT COUNT(*) FROM secrets k WHERE k.set_id = s.id), s.updated_at, \
                 s.protected FROM secret_sets s WHERE s.org_id = $1 ORDER BY s.name COLLATE \"C\"",
                &[&org_id],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| SetSummary {
                name: r.get(0),
                key_count: r.get::<_, i64>(1) as u32,
                updated_at: r.get(2),
                protected: r.get(3),
            })
            .collect())
    }

    async fn is_protected(&self, org_id: i64, set: &str) -> Result<bool, AppError> {
        let c = self.pool.get().await?;
        Ok(c.query_opt(
            "SELECT protected FROM secret_sets WHERE org_id = $1 AND name = $2",
            &[&org_id, &set],
        )
        .await?
        .is_some_and(|r| r.get(0)))
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
            protected: row.get(4),
        }))
    }

    async fn create_set(&self, org_id: i64, set: &str, now: i64, audit: Audit) -> Result<(), AppError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
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
        write_audit(&tx, &audit).await?;
        tx.commit().await?;
        Ok(())
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
        let row = tx
            .query_one(
                "SELECT COALESCE(SUM(value_len), 0)::BIGINT, COUNT(*) FROM secrets WHERE set_id = $1",
                &[&id],
            )
            .await?;
        let (total, count): (i64, i64) = (row.get(0), row.get(1));
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
        result.revision = tx
            .query_one(
                "UPDATE secret_sets SET updated_at = $2, revision = revision + 1 WHERE id = $1 RETURNING revision",
                &[&id, &now],
            )
            .await?
            .get(0);
        let out = result;
        write_audit(&tx, &audit.make(&out)).await?;
        tx.commit().await?;
        Ok(out)
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
        let out = revision;
        write_audit(&tx, &audit.make(&out)).await?;
        tx.commit().await?;
        Ok(out)
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
        audit: AuditWith<bool>,
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
        let out = removed > 0;
        write_audit(&tx, &audit.make(&out)).await?;
        tx.commit().await?;
        Ok(out)
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
        let DeployRequest {
            org_id,
            spec,
            token_hash,
            now,
            keep_revisions,
            actor,
            may_use_protected,
        } = req;
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let mut missing = Vec::new();
        // Lock what the deployment references, so it cannot be deleted under us.
        let set = match &spec.secret_set {
            Some(name) => {
                let row = lock_set(&tx, org_id, name).await?;
                if row.is_none() {
                    missing.push(super::missing_reference("secret set", name));
                }
                row
            }
            None => None,
        };
        if let Some(pull) = &spec.pull_secret {
            let found = tx
                .query_opt(
                    "SELECT 1 FROM image_pull_secrets WHERE org_id = $1 AND name = $2 FOR SHARE",
                    &[&org_id, pull],
                )
                .await?
                .is_some();
            if !found {
                missing.push(super::missing_reference("image pull secret", pull));
            }
        }
        if !missing.is_empty() {
            return Err(AppError::Validation(missing));
        }
        if let (Some((set_id, _)), Some(set_name)) = (set, &spec.secret_set) {
            let protected: bool = tx
                .query_one("SELECT protected FROM secret_sets WHERE id = $1", &[&set_id])
                .await?
                .get(0);
            if protected && !may_use_protected {
                return Err(protected_set(set_name));
            }
        }
        let set_revision = set.map(|(_, rev)| rev);
        let existing = tx
            .query_opt(
                "SELECT id, revision FROM deployments WHERE org_id = $1 AND name = $2 FOR UPDATE",
                &[&org_id, &spec.name],
            )
            .await?
            .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1)));
        // Changing a deployment that now uses a protected set is for admins too.
        if !may_use_protected {
            let current = tx
                .query_opt(
                    "SELECT d.secret_set FROM deployments d JOIN secret_sets s \
                     ON s.org_id = d.org_id AND s.name = d.secret_set \
                     WHERE d.org_id = $1 AND d.name = $2 AND s.protected",
                    &[&org_id, &spec.name],
                )
                .await?;
            if let Some(row) = current {
                return Err(protected_set(&row.get::<_, String>(0)));
            }
        }
        let (id, revision): (i64, i64) = match existing {
            Some((id, rev)) => {
                tx.execute(
                    "UPDATE deployments SET image = $2, secret_set = $3, pull_secret = $4, region = $5, \
                     min_agents = $6, max_agents = $7, revision = $8, set_revision = $9, deployed_at = $10 \
                     WHERE id = $1",
                    &[
                        &id,
                        &spec.image,
                        &spec.secret_set,
                        &spec.pull_secret,
                        &spec.region,
                        &spec.min_agents,
                        &spec.max_agents,
                        &(rev + 1),
                        &set_revision,
                        &now,
                    ],
                )
                .await?;
                (id, rev + 1)
            }
            None => {
                let inserted = tx
                    .query_one(
                        "INSERT INTO deployments (org_id, name, image, secret_set, pull_secret, region, \
                         min_agents, max_agents, revision, set_revision, runtime_token_hash, created_at, \
                         deployed_at, token_seen_by) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $11, $11, $12) RETURNING id",
                        &[
                            &org_id,
                            &spec.name,
                            &spec.image,
                            &spec.secret_set,
                            &spec.pull_secret,
                            &spec.region,
                            &spec.min_agents,
                            &spec.max_agents,
                            &set_revision,
                            &token_hash,
                            &now,
                            &actor,
                        ],
                    )
                    .await;
                match inserted {
                    Ok(row) => (row.get(0), 1),
                    Err(e) if is_unique_violation(&e) => {
                        return Err(AppError::Conflict(format!(
                            "deployment \"{}\" was created by someone else just now; try again",
                            spec.name
                        )))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        if let (Some((set_id, _)), Some(set_name)) = (set, &spec.secret_set) {
            tx.execute(
                "INSERT INTO deployment_env (deployment_id, revision, key, set_name, sealed, fingerprint) \
                 SELECT $1, $2, key, $3, sealed, fingerprint FROM secrets WHERE set_id = $4",
                &[&id, &revision, set_name, &set_id],
            )
            .await?;
        }
        tx.execute(
            "DELETE FROM deployment_env WHERE deployment_id = $1 AND revision <= $2",
            &[&id, &(revision - keep_revisions.max(1))],
        )
        .await?;
        // Pointed at a protected set while someone below admin holds the token.
        tx.execute(
            &format!("UPDATE deployments AS d SET rotate_token = TRUE WHERE d.id = $1 AND {TOKEN_LOCKED}"),
            &[&id],
        )
        .await?;
        let out = (existing.is_none(), revision);
        write_audit(&tx, &audit.make(&out)).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn list_deployments(&self, org_id: i64) -> Result<Vec<DeploymentSummary>, AppError> {
        let c = self.pool.get().await?;
        let sql =
            format!("SELECT {DEPLOYMENT_COLUMNS} FROM deployments d WHERE d.org_id = $1 ORDER BY d.name COLLATE \"C\"");
        Ok(c.query(&sql, &[&org_id])
            .await?
            .iter()
            .map(deployment_row)
            .collect())
    }

    async fn get_deployment(&self, org_id: i64, name: &str) -> Result<Option<DeploymentDetail>, AppError> {
        let mut c = self.pool.get().await?;
        let tx = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let sql = format!(
            "SELECT {DEPLOYMENT_COLUMNS}, d.id FROM deployments d WHERE d.org_id = $1 AND d.name = $2"
        );
        let Some(row) = tx.query_opt(&sql, &[&org_id, &name]).await? else {
            return Ok(None);
        };
        let summary = deployment_row(&row);
        let id: i64 = row.get(12);
        let to_keys = |rows: Vec<tokio_postgres::Row>| -> Vec<KeyInfo> {
            rows.iter()
                .map(|r| KeyInfo {
                    key: r.get(0),
                    fingerprint: r.get(1),
                    updated_at: r.get(2),
                })
                .collect()
        };
        let env = to_keys(
            tx.query(
                "SELECT e.key, e.fingerprint, d.deployed_at FROM deployment_env e \
                 JOIN deployments d ON d.id = e.deployment_id \
                 WHERE e.deployment_id = $1 AND e.revision = $2 ORDER BY e.key COLLATE \"C\"",
                &[&id, &summary.revision],
            )
            .await?,
        );
        let now = match &summary.spec.secret_set {
            Some(set) => to_keys(
                tx.query(
                    "SELECT k.key, k.fingerprint, k.updated_at FROM secrets k JOIN secret_sets s ON s.id = k.set_id \
                     WHERE s.org_id = $1 AND s.name = $2 ORDER BY k.key COLLATE \"C\"",
                    &[&org_id, set],
                )
                .await?,
            ),
            None => Vec::new(),
        };
        tx.commit().await?;
        let (added, removed, changed) = env_diff(&env, &now);
        Ok(Some(DeploymentDetail {
            summary,
            env,
            added,
            removed,
            changed,
        }))
    }

    async fn delete_deployment(&self, org_id: i64, name: &str, audit: Audit) -> Result<(), AppError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let n = tx
            .execute(
                "DELETE FROM deployments WHERE org_id = $1 AND name = $2",
                &[&org_id, &name],
            )
            .await?;
        if n == 0 {
            return Err(deployment_not_found(name));
        }
        write_audit(&tx, &audit).await?;
        tx.commit().await?;
        Ok(())
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
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        // The set first (shared, so protecting it waits for us), then the deployment:
        // the order deploys and protection take them in, so they never deadlock.
        let Some(row) = tx
            .query_opt(
                "SELECT secret_set FROM deployments WHERE org_id = $1 AND name = $2",
                &[&org_id, &name],
            )
            .await?
        else {
            return Err(deployment_not_found(name));
        };
        let set: Option<String> = row.get(0);
        if let Some(set) = &set {
            let protected = tx
                .query_opt(
                    "SELECT protected FROM secret_sets WHERE org_id = $1 AND name = $2 FOR SHARE",
                    &[&org_id, set],
                )
                .await?
                .is_some_and(|r| r.get::<_, bool>(0));
            if protected && !may_use_protected {
                return Err(protected_set(set));
            }
        }
        let still = tx
            .query_opt(
                "SELECT secret_set FROM deployments WHERE org_id = $1 AND name = $2 FOR UPDATE",
                &[&org_id, &name],
            )
            .await?;
        match still {
            None => return Err(deployment_not_found(name)),
            Some(r) if r.get::<_, Option<String>>(0) != set => {
                return Err(AppError::Conflict(format!(
                    "deployment \"{name}\" changed just now; try again"
                )))
            }
            Some(_) => {}
        }
        tx.execute(
            "UPDATE deployments SET runtime_token_hash = $3, token_seen_by = $4, rotate_token = FALSE \
             WHERE org_id = $1 AND name = $2",
            &[&org_id, &name, &token_hash, &actor],
        )
        .await?;
        let out = ();
        write_audit(&tx, &audit.make(&out)).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn set_protected(
        &self,
        org_id: i64,
        set: &str,
        protected: bool,
        audit: Audit,
    ) -> Result<(), AppError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
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
        let out = ();
        write_audit(&tx, &audit.make(&out)).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn runtime_env(&self, token_hash: &[u8]) -> Result<Option<RuntimeEnv>, AppError> {
        let mut c = self.pool.get().await?;
        let tx = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let sql = format!(
            "SELECT d.id, d.org_id, o.name, d.name, d.revision, \
             CASE WHEN {TOKEN_LOCKED} THEN d.secret_set END FROM deployments d \
             JOIN orgs o ON o.id = d.org_id WHERE d.runtime_token_hash = $1"
        );
        let Some(row) = tx.query_opt(&sql, &[&token_hash]).await? else {
            return Ok(None);
        };
        let (id, revision): (i64, i64) = (row.get(0), row.get(4));
        let entries = tx
            .query(
                "SELECT key, set_name, sealed FROM deployment_env WHERE deployment_id = $1 AND revision = $2 \
                 ORDER BY key COLLATE \"C\"",
                &[&id, &revision],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        tx.commit().await?;
        Ok(Some(RuntimeEnv {
            org_id: row.get(1),
            org: row.get(2),
            deployment: row.get(3),
            revision,
            locked_by: row.get(5),
            entries,
        }))
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
