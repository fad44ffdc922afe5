//! The audit log: every change and every sign-in, with who, when, where from and which
//! keys, never a value. The application only ever appends (the database refuses
//! updates and deletes of its rows).

use super::principal::Principal;
use super::state::AppState;
use crate::error::AppError;
use crate::model::{AuditEntry, AuditFilter, Role};
pub use crate::store::audit::{Audit, AuditFor, AuditWith};

/// Most entries one request lists.
pub const MAX_LIMIT: usize = 500;
pub const DEFAULT_LIMIT: usize = 50;

/// The entry for what `who` is doing in their organization, for a store change to
/// write in its own transaction.
pub fn entry(who: &Principal, action: &str, object: &str, keys: &[String], detail: &str) -> Audit {
    entry_as(
        who.org.id,
        &who.email,
        who.via.as_str(),
        action,
        object,
        keys,
        detail,
    )
}

/// [`entry`] for an actor that is not a signed-in user of that organization (someone
/// joining it, a runtime token).
#[allow(clippy::too_many_arguments, reason = "the fields of one entry")]
pub fn entry_as(
    org_id: i64,
    actor: &str,
    source: &str,
    action: &str,
    object: &str,
    keys: &[String],
    detail: &str,
) -> Audit {
    Audit {
        org_id,
        entry: AuditEntry {
            id: 0,
            at: super::now(),
            actor: actor.to_owned(),
            source: source.to_owned(),
            action: action.to_owned(),
            object: object.to_owned(),
            keys: keys.to_vec(),
            detail: detail.to_owned(),
        },
    }
}

/// Records what `who` did in their organization, on its own: for events that change
/// nothing else (changes pass [`entry`] to the store instead).
pub async fn record(
    state: &AppState,
    who: &Principal,
    action: &str,
    object: &str,
    keys: &[String],
    detail: &str,
) -> Result<(), AppError> {
    record_as(
        state,
        who.org.id,
        &who.email,
        who.via.as_str(),
        action,
        object,
        keys,
        detail,
    )
    .await
}

/// Records an entry for an actor that is not a signed-in user (a runtime token, a
/// failed sign-in).
#[allow(clippy::too_many_arguments, reason = "the fields of one entry")]
pub async fn record_as(
    state: &AppState,
    org_id: i64,
    actor: &str,
    source: &str,
    action: &str,
    object: &str,
    keys: &[String],
    detail: &str,
) -> Result<(), AppError> {
    let a = entry_as(org_id, actor, source, action, object, keys, detail);
    state.store.append_audit(a.org_id, &a.entry).await
}

/// The organization's entries matching `filter`, newest first; anyone in the
/// organization may read them (they hold names and keys, never values).
pub async fn list(
    state: &AppState,
    who: &Principal,
    mut filter: AuditFilter,
) -> Result<Vec<AuditEntry>, AppError> {
    who.require(Role::Viewer, "reading the audit log")?;
    filter.limit = match filter.limit {
        0 => DEFAULT_LIMIT,
        n => n.min(MAX_LIMIT),
    };
    let blank = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    filter.object = blank(filter.object);
    filter.actor = blank(filter.actor);
    filter.action = blank(filter.action);
    state.store.audit(who.org.id, &filter).await
}
