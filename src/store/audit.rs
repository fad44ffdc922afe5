//! The audit log.

use super::db::{Db, Row, ToArg};
use super::Store;
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
    ///
    /// Only the conditions the filter sets are written into the statement, so that each
    /// shape has its own plan: an object's or a person's entries come from their index
    /// (`audit_log_object`, `audit_log_actor`) and a page deep in the log starts at its
    /// cursor, instead of one catch-all plan walking the whole log backwards.
    pub async fn audit(&self, org_id: i64, f: &AuditFilter) -> Result<Vec<AuditEntry>, AppError> {
        let action_like = f.action.as_deref().map(action_pattern);
        let actor = f.actor.as_deref().map(crate::validate::normalize_email);
        let limit = f.limit as i64;
        let mut db = self.read().await?;
        // SQLite is told the index: with statistics gathered while the log was small it
        // would otherwise walk the whole table backwards by id to find an organization
        // whose entries are all old (seen at a million rows: 1.3 s for one page).
        let index = match (&f.object, &actor) {
            (Some(_), _) => "audit_log_object",
            (None, Some(_)) => "audit_log_actor",
            (None, None) => "audit_log_org",
        };
        let indexed_by = if db.is_postgres() {
            String::new()
        } else {
            format!(" INDEXED BY {index}")
        };
        let mut sql = format!(
            "SELECT id, at, actor, source, action, object, keys, detail FROM audit_log{indexed_by} WHERE org_id = $1"
        );
        let mut args: Vec<&dyn ToArg> = vec![&org_id];
        let conditions: [(&str, Option<&dyn ToArg>); 6] = [
            ("object = ", f.object.as_ref().map(|v| v as &dyn ToArg)),
            ("actor = ", actor.as_ref().map(|v| v as &dyn ToArg)),
            ("action LIKE ", action_like.as_ref().map(|v| v as &dyn ToArg)),
            ("id < ", f.before.as_ref().map(|v| v as &dyn ToArg)),
            ("at >= ", f.since.as_ref().map(|v| v as &dyn ToArg)),
            ("at < ", f.until.as_ref().map(|v| v as &dyn ToArg)),
        ];
        for (condition, value) in conditions {
            if let Some(value) = value {
                args.push(value);
                sql.push_str(&format!(" AND {condition}${}", args.len()));
                if condition.starts_with("action") {
                    sql.push_str(" ESCAPE '\\'");
                }
            }
        }
        args.push(&limit);
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", args.len()));
        Ok(db.rows(&sql, &args, entry).await?)
    }
}

/// An audit log entry for organization `org_id`.
#[derive(Debug, Clone)]
pub struct Audit {
    pub org_id: i64,
    pub entry: AuditEntry,
}

/// How a change makes its audit entry from its own outcome (a revision, an id). Every
/// change method writes its entry in the change's own transaction: both commit, or
/// neither does.
pub type AuditWith<T> = Box<dyn FnOnce(&T) -> Audit + Send>;

/// Either kind of audit argument: a fixed [`Audit`], or an [`AuditWith`] that is
/// made from the change's outcome.
pub trait AuditFor<T>: Send + 'static {
    fn make(self, outcome: &T) -> Audit;
}

impl<T> AuditFor<T> for Audit {
    fn make(self, _: &T) -> Audit {
        self
    }
}

impl<T: 'static> AuditFor<T> for AuditWith<T> {
    fn make(self, outcome: &T) -> Audit {
        self(outcome)
    }
}
