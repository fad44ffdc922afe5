//! People and organizations: server settings, organizations, users, memberships and
//! invitations.

use super::db::{params_list, Db, Row, ToArg};
use super::{finish, Audit, AuditWith, InviteRecord, Org, Store, UserRecord, TOKEN_LOCKED};
use crate::error::org_exists;
use crate::error::AppError;
use crate::model::{InviteInfo, MemberInfo, Role, Workspace};
use crate::validate::normalize_email;

/// A stored role name; anything unknown reads as the weakest role.
pub(crate) fn role_of(text: &str) -> Role {
    Role::parse(text).unwrap_or(Role::Viewer)
}

fn org(r: &Row) -> Org {
    Org {
        id: r.get(0),
        name: r.get(1),
    }
}

/// An invitation from `org id, org name, email, role, expires_at`.
fn invite(r: &Row) -> InviteRecord {
    InviteRecord {
        org: org(r),
        email: r.get(2),
        role: role_of(&r.get::<String>(3)),
        expires_at: r.get(4),
    }
}

const INVITE: &str = "SELECT o.id, o.name, i.email, i.role, i.expires_at FROM invites i \
     JOIN orgs o ON o.id = i.org_id WHERE i.token_hash = $1";

/// Stores every email address case-folded, as [`normalize_email`] does to every address
/// that arrives. Addresses stored before that rule (SQLite folded ASCII only, PostgreSQL
/// compared with `lower()`) are rewritten once at start-up.
pub(crate) async fn normalize_stored_emails(store: &Store) -> Result<(), AppError> {
    let mut tx = store.write().await?;
    for table in ["users", "invites"] {
        let rows = tx.query(&format!("SELECT id, email FROM {table}"), &[]).await?;
        for r in rows {
            let (id, email): (i64, String) = (r.get(0), r.get(1));
            let folded = normalize_email(&email);
            if folded == email {
                continue;
            }
            let sql = format!("UPDATE {table} SET email = $2 WHERE id = $1");
            if let Err(e) = tx.execute(&sql, &[&id, &folded]).await {
                if e.is_unique_violation() {
                    tracing::error!(
                        "two accounts' addresses differ only in letter case ({email} and {folded}); \
                         rename one of them"
                    );
                    return Err(AppError::Conflict(format!(
                        "two accounts' addresses differ only in letter case: {email} and {folded}"
                    )));
                }
                return Err(e.into());
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Locks the organization for a membership change (one at a time per organization, so
/// two demotions cannot each see the other owner and leave none) and finds the member:
/// `(user id, role)`, `NotFound` if they are not one.
pub(crate) async fn lock_member(tx: &mut Db, org: &Org, email: &str) -> Result<(i64, Role), AppError> {
    tx.execute("SELECT 1 FROM orgs WHERE id = $1 FOR UPDATE", &[&org.id])
        .await?;
    let email = normalize_email(email);
    tx.row(
        "SELECT u.id, m.role FROM users u JOIN memberships m ON m.user_id = u.id \
         WHERE m.org_id = $1 AND u.email = $2",
        &[&org.id, &email],
        |r| (r.get(0), role_of(&r.get::<String>(1))),
    )
    .await?
    .ok_or_else(|| AppError::NotFound(format!("{email} is not a member of \"{}\"", org.name)))
}

/// How many owners the organization has besides `user_id`.
pub(crate) async fn other_owners(tx: &mut Db, org_id: i64, user_id: i64) -> Result<i64, AppError> {
    Ok(tx
        .value(
            "SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND role = 'owner' AND user_id <> $2",
            &[&org_id, &user_id],
        )
        .await?)
}

/// Gives a member `role`. Their pending invitations for a role above it are withdrawn,
/// and runtime tokens they saw of deployments using protected sets stop reading them.
pub(crate) async fn set_role(tx: &mut Db, org_id: i64, user_id: i64, role: Role) -> Result<(), AppError> {
    tx.execute(
        "UPDATE memberships SET role = $3 WHERE org_id = $1 AND user_id = $2",
        &[&org_id, &user_id, &role.as_str()],
    )
    .await?;
    let above = roles_above(role);
    if !above.is_empty() {
        let sql = format!(
            "DELETE FROM invites WHERE org_id = $1 AND created_by = $2 AND used_at IS NULL AND role IN ({})",
            params_list(3, above.len())
        );
        let mut args: Vec<&dyn ToArg> = vec![&org_id, &user_id];
        args.extend(above.iter().map(|r| r as &dyn ToArg));
        tx.execute(&sql, &args).await?;
    }
    tx.execute(
        &format!(
            "UPDATE deployments AS d SET rotate_token = TRUE \
             WHERE d.org_id = $1 AND d.token_seen_by = $2 AND {TOKEN_LOCKED}"
        ),
        &[&org_id, &user_id],
    )
    .await?;
    Ok(())
}

/// Removes a member with their API tokens, sessions and pending invitations, and flags
/// the deployments whose runtime token they saw for rotation.
pub(crate) async fn remove(tx: &mut Db, org_id: i64, user_id: i64) -> Result<(), AppError> {
    for sql in [
        "DELETE FROM memberships WHERE org_id = $1 AND user_id = $2",
        "DELETE FROM api_tokens WHERE org_id = $1 AND user_id = $2",
        "DELETE FROM sessions WHERE org_id = $1 AND user_id = $2",
        "DELETE FROM invites WHERE org_id = $1 AND created_by = $2 AND used_at IS NULL",
        "UPDATE deployments SET rotate_token = TRUE WHERE org_id = $1 AND token_seen_by = $2",
    ] {
        tx.execute(sql, &[&org_id, &user_id]).await?;
    }
    Ok(())
}

/// Inserts an account; `Conflict` if the email (case-folded) has one already.
pub(crate) async fn insert_user(
    tx: &mut Db,
    email: &str,
    password_hash: &str,
    now: i64,
) -> Result<i64, AppError> {
    let email = normalize_email(email);
    let inserted = tx
        .value(
            "INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id",
            &[&email, &password_hash, &now],
        )
        .await;
    match inserted {
        Ok(id) => Ok(id),
        Err(e) if e.is_unique_violation() => Err(AppError::Conflict(format!(
            "a user with email {email} already exists"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Inserts organization `name` (a personal workspace of `personal_user` when given);
/// `None` if the name is taken. A taken name leaves the transaction usable.
pub(crate) async fn insert_org(
    tx: &mut Db,
    name: &str,
    now: i64,
    personal_user: Option<i64>,
) -> Result<Option<Org>, AppError> {
    Ok(tx
        .row(
            "INSERT INTO orgs (name, created_at, personal_user_id) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING RETURNING id, name",
            &[&name, &now, &personal_user],
            org,
        )
        .await?)
}

/// The organization named `name`, locked for a membership change, and whether it is
/// someone's personal workspace.
pub(crate) async fn lock_org_named(tx: &mut Db, name: &str) -> Result<Option<(Org, bool)>, AppError> {
    Ok(tx
        .row(
            "SELECT id, name, personal_user_id IS NOT NULL FROM orgs WHERE name = $1 FOR UPDATE",
            &[&name],
            |r| (org(r), r.get(2)),
        )
        .await?)
}

/// The emails of the organization's owners, in order.
pub(crate) async fn owner_emails(tx: &mut Db, org_id: i64) -> Result<Vec<String>, AppError> {
    Ok(tx
        .rows(
            "SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = $1 AND m.role = 'owner' ORDER BY u.email COLLATE \"C\"",
            &[&org_id],
            |r| r.get(0),
        )
        .await?)
}

/// The id of the instance's first account, `None` while there is none.
pub(crate) async fn first_user(tx: &mut Db) -> Result<Option<i64>, AppError> {
    Ok(tx.value("SELECT MIN(id) FROM users", &[]).await?)
}

/// Makes `user_id` a member of `org_id` with `role`.
pub(crate) async fn insert_membership(
    tx: &mut Db,
    org_id: i64,
    user_id: i64,
    role: Role,
    now: i64,
) -> Result<(), AppError> {
    tx.execute(
        "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        &[&org_id, &user_id, &role.as_str(), &now],
    )
    .await?;
    Ok(())
}

/// Marks the invitation used and makes `user_id` a member; `NotFound` if it is used,
/// expired or unknown. Used at most once: the update only succeeds while it is unused.
pub(crate) async fn use_invite(
    tx: &mut Db,
    token_hash: &[u8],
    user_id: i64,
    now: i64,
) -> Result<InviteRecord, AppError> {
    let used = tx
        .execute(
            "UPDATE invites SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
            &[&token_hash, &now],
        )
        .await?;
    if used == 0 {
        return Err(crate::error::invite_gone());
    }
    let found = invite(&tx.query_one(INVITE, &[&token_hash]).await?);
    tx.execute(
        "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (org_id, user_id) DO NOTHING",
        &[&found.org.id, &user_id, &found.role.as_str(), &now],
    )
    .await?;
    Ok(found)
}

impl Store {
    /// How many organizations `user_id` owns.
    pub async fn owned_org_count(&self, user_id: i64) -> Result<i64, AppError> {
        self.value(
            "SELECT COUNT(*) FROM memberships WHERE user_id = $1 AND role = 'owner'",
            &[&user_id],
        )
        .await
    }

    /// How many API tokens `user_id` holds in organization `org_id`.
    pub async fn api_token_count(&self, org_id: i64, user_id: i64) -> Result<i64, AppError> {
        self.value(
            "SELECT COUNT(*) FROM api_tokens WHERE org_id = $1 AND user_id = $2",
            &[&org_id, &user_id],
        )
        .await
    }
}

impl Store {
    /// Reads a server-wide setting (e.g. the master key check).
    pub async fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, AppError> {
        self.row("SELECT value FROM meta WHERE key = $1", &[&key], |r| r.get(0))
            .await
    }

    /// Stores a server-wide setting unless one is stored under `key` already, and
    /// returns the one stored. Atomic: of two callers at once, exactly one value wins
    /// and both are told which.
    pub async fn init_meta(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, AppError> {
        let mut tx = self.write().await?;
        // The insert either wins or waits for the row another transaction inserted;
        // then the row is read back (a statement after the conflict sees it committed).
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            &[&key, &value],
        )
        .await?;
        let stored = tx.value("SELECT value FROM meta WHERE key = $1", &[&key]).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Returns the organization named `name`, creating it (at `now`) if missing.
    pub async fn ensure_org(&self, name: &str, now: i64) -> Result<Org, AppError> {
        let mut c = self.conn().await?;
        c.execute(
            "INSERT INTO orgs (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&name, &now],
        )
        .await?;
        Ok(org(&c
            .query_one("SELECT id, name FROM orgs WHERE name = $1", &[&name])
            .await?))
    }

    /// Creates organization `name` with `owner` as its owner; `Conflict` if the name is
    /// taken.
    pub async fn create_org(
        &self,
        name: &str,
        owner: i64,
        now: i64,
        audit: AuditWith<Org>,
    ) -> Result<Org, AppError> {
        let mut tx = self.write().await?;
        let Some(row) = tx
            .query_opt(
                "INSERT INTO orgs (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING \
                 RETURNING id, name",
                &[&name, &now],
            )
            .await?
        else {
            return Err(org_exists(name));
        };
        let org = org(&row);
        tx.execute(
            "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)",
            &[&org.id, &owner, &now],
        )
        .await?;
        finish(tx, audit, org).await
    }

    /// The id of the instance's first account (its first owner), `None` while there is
    /// no account at all.
    pub async fn first_user_id(&self) -> Result<Option<i64>, AppError> {
        first_user(&mut self.conn().await?).await
    }

    /// The organization named `name`, if it exists.
    pub async fn org_by_name(&self, name: &str) -> Result<Option<Org>, AppError> {
        self.row("SELECT id, name FROM orgs WHERE name = $1", &[&name], org)
            .await
    }

    /// Deletes an organization and everything in it (its audit log stays). Sessions
    /// whose home it was move to another organization of their user (the personal
    /// workspace first, else the oldest membership); a user with none is signed out.
    /// `Conflict` for a personal workspace.
    pub async fn delete_org(&self, org_id: i64, audit: Audit) -> Result<(), AppError> {
        let mut tx = self.write().await?;
        tx.execute(
            "UPDATE sessions SET org_id = (SELECT m.org_id FROM memberships m \
             JOIN orgs o ON o.id = m.org_id WHERE m.user_id = sessions.user_id AND m.org_id <> $1 \
             ORDER BY o.personal_user_id IS NULL, m.created_at, m.org_id LIMIT 1) \
             WHERE org_id = $1 AND EXISTS (SELECT 1 FROM memberships m \
             WHERE m.user_id = sessions.user_id AND m.org_id <> $1)",
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
        finish(tx, audit, ()).await
    }

    /// Looks a user up by email (case-folded, see [`normalize_email`]).
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, AppError> {
        self.row(
            "SELECT id, email, password_hash FROM users WHERE email = $1",
            &[&normalize_email(email)],
            |r| UserRecord {
                id: r.get(0),
                email: r.get(1),
                password_hash: r.get(2),
            },
        )
        .await
    }

    /// Replaces a user's password hash and ends all their sessions.
    pub async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        audit: Audit,
    ) -> Result<(), AppError> {
        let mut tx = self.write().await?;
        tx.execute(
            "UPDATE users SET password_hash = $2 WHERE id = $1",
            &[&user_id, &password_hash],
        )
        .await?;
        tx.execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])
            .await?;
        finish(tx, audit, ()).await
    }

    /// The organization a user works in (this slice: their first membership).
    pub async fn home_org(&self, user_id: i64) -> Result<Option<Org>, AppError> {
        self.row(
            "SELECT o.id, o.name FROM memberships m JOIN orgs o ON o.id = m.org_id \
                 WHERE m.user_id = $1 ORDER BY m.created_at, o.id LIMIT 1",
            &[&user_id],
            org,
        )
        .await
    }

    /// Whether `user_id` belongs to `org_id`.
    pub async fn is_member(&self, user_id: i64, org_id: i64) -> Result<bool, AppError> {
        self.value(
            "SELECT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1 AND org_id = $2)",
            &[&user_id, &org_id],
        )
        .await
    }

    /// The organization named `org` and the user's role there, if they belong to it.
    pub async fn membership(&self, user_id: i64, org_name: &str) -> Result<Option<(Org, Role)>, AppError> {
        self.row(
            "SELECT o.id, o.name, m.role FROM orgs o JOIN memberships m ON m.org_id = o.id \
                 WHERE o.name = $1 AND m.user_id = $2",
            &[&org_name, &user_id],
            |r| (org(r), role_of(&r.get::<String>(2))),
        )
        .await
    }

    /// Every organization the user belongs to, personal workspace first.
    pub async fn workspaces(&self, user_id: i64) -> Result<Vec<Workspace>, AppError> {
        self.rows(
            "SELECT o.name, m.role, o.personal_user_id IS NOT NULL FROM orgs o \
                 JOIN memberships m ON m.org_id = o.id WHERE m.user_id = $1 \
                 ORDER BY o.personal_user_id IS NULL, o.name COLLATE \"C\"",
            &[&user_id],
            |r| Workspace {
                name: r.get(0),
                role: role_of(&r.get::<String>(1)),
                personal: r.get(2),
            },
        )
        .await
    }

    /// Whether an organization is someone's personal workspace.
    pub async fn is_personal(&self, org_id: i64) -> Result<bool, AppError> {
        self.value(
            "SELECT personal_user_id IS NOT NULL FROM orgs WHERE id = $1",
            &[&org_id],
        )
        .await
    }

    /// The organization's members, by email.
    pub async fn members(&self, org_id: i64) -> Result<Vec<MemberInfo>, AppError> {
        self.rows(
            "SELECT u.email, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id \
                 WHERE m.org_id = $1 ORDER BY u.email COLLATE \"C\"",
            &[&org_id],
            |r| MemberInfo {
                email: r.get(0),
                role: role_of(&r.get::<String>(1)),
                joined_at: r.get(2),
            },
        )
        .await
    }

    /// Adds an existing user to an organization; `Conflict` if already a member.
    pub async fn add_member(&self, org_id: i64, user_id: i64, role: Role, now: i64) -> Result<(), AppError> {
        let added = self
            .exec(
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

    /// Stores an invitation's hash.
    #[allow(
        clippy::too_many_arguments,
        reason = "the invitation's columns, and its audit entry"
    )]
    pub async fn create_invite(
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
        let mut tx = self.write().await?;
        let id: i64 = tx
            .value(
                "INSERT INTO invites (org_id, email, role, token_hash, created_by, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                &[
                    &org_id,
                    &normalize_email(email),
                    &role.as_str(),
                    &token_hash,
                    &created_by,
                    &now,
                    &expires_at,
                ],
            )
            .await?;
        finish(tx, audit, id).await
    }

    /// An unused, unexpired invitation.
    pub async fn invite(&self, token_hash: &[u8], now: i64) -> Result<Option<InviteRecord>, AppError> {
        let sql = format!("{INVITE} AND i.used_at IS NULL AND i.expires_at > $2");
        self.row(&sql, &[&token_hash, &now], invite).await
    }

    /// Marks the invitation used and makes `user_id` a member, in one transaction;
    /// `NotFound` if it is used, expired or unknown.
    pub async fn accept_invite(
        &self,
        token_hash: &[u8],
        user_id: i64,
        now: i64,
        audit: AuditWith<InviteRecord>,
    ) -> Result<InviteRecord, AppError> {
        let mut tx = self.write().await?;
        let found = use_invite(&mut tx, token_hash, user_id, now).await?;
        finish(tx, audit, found).await
    }

    /// The organization's pending invitations.
    pub async fn invites(&self, org_id: i64, now: i64) -> Result<Vec<InviteInfo>, AppError> {
        self.rows(
            "SELECT id, email, role, expires_at FROM invites \
                 WHERE org_id = $1 AND used_at IS NULL AND expires_at > $2 ORDER BY id",
            &[&org_id, &now],
            |r| InviteInfo {
                id: r.get(0),
                email: r.get(1),
                role: role_of(&r.get::<String>(2)),
                expires_at: r.get(3),
            },
        )
        .await
    }

    /// Withdraws a pending invitation (its link stops working); the invited email, or
    /// `None` if there was no such pending invitation.
    pub async fn revoke_invite(
        &self,
        org_id: i64,
        id: i64,
        audit: AuditWith<String>,
    ) -> Result<Option<String>, AppError> {
        let mut tx = self.write().await?;
        let email: Option<String> = tx
            .opt_value(
                "DELETE FROM invites WHERE org_id = $1 AND id = $2 AND used_at IS NULL RETURNING email",
                &[&org_id, &id],
            )
            .await?;
        match email {
            Some(email) => finish(tx, audit, email).await.map(Some),
            None => Ok(None),
        }
    }
}

/// The roles above `role`, as stored.
fn roles_above(role: Role) -> Vec<&'static str> {
    [Role::Viewer, Role::Member, Role::Admin, Role::Owner]
        .into_iter()
        .filter(|r| *r > role)
        .map(Role::as_str)
        .collect()
}
