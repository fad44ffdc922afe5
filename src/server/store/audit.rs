//! The audit log.

use super::db::{Db, Row};
use super::{Audit, Store};
use crate::error::AppError;
use crate::model::{AuditEntry, AuditFilter};

/// Appends an audit entry (on `db`, usually a change's own transaction).
pub(crate) async fn write(db: &mut Db, a: &Audit) -> Result<(), AppError> {
    let e = &a.entry;
    db.execute(
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

/// The `LIKE` pattern (escape character `\`) for an audit action filter: the action
/// itself, or every action under a prefix that ends in `.`.
pub(crate) fn action_pattern(action: &str) -> String {
    let escaped = action
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    if action.ends_with('.') {
        format!("{escaped}%")
    } else {
        escaped
    }
}

fn entry(r: &Row) -> AuditEntry {
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
}

impl Store {
    /// Appends an entry to the organization's audit log (`id` is assigned).
    pub async fn append_audit(&self, org_id: i64, entry: &AuditEntry) -> Result<(), AppError> {
        let audit = Audit {
            org_id,
            entry: entry.clone(),
        };
        write(&mut self.conn().await?, &audit).await
    }

    /// Audit entries matching `filter`, newest first.
    pub async fn audit(&self, org_id: i64, f: &AuditFilter) -> Result<Vec<AuditEntry>, AppError> {
        let action_like = f.action.as_deref().map(action_pattern);
        let actor = f.actor.as_deref().map(crate::validate::normalize_email);
        self.rows(
            "SELECT id, at, actor, source, action, object, keys, detail FROM audit_log \
                 WHERE org_id = $1 AND (CAST($2 AS TEXT) IS NULL OR object = $2) \
                 AND (CAST($3 AS TEXT) IS NULL OR actor = $3) \
                 AND (CAST($4 AS TEXT) IS NULL OR action LIKE $4 ESCAPE '\\') \
                 AND (CAST($5 AS BIGINT) IS NULL OR id < $5) \
                 AND (CAST($6 AS BIGINT) IS NULL OR at >= $6) AND (CAST($7 AS BIGINT) IS NULL OR at < $7) \
                 ORDER BY id DESC LIMIT $8",
            &[
                &org_id,
                &f.object,
                &actor,
                &action_like,
                &f.before,
                &f.since,
                &f.until,
                &(f.limit as i64),
            ],
            entry,
        )
        .await
    }
}
