//! The audit log: every change and every sign-in, with who, when, where from and which
//! keys, never a value. The application only ever appends (the database refuses
//! updates and deletes of its rows).

use super::state::AppState;
use super::store::Principal;
use crate::error::AppError;
use crate::model::{AuditEntry, AuditFilter, Role};

/// Most entries one request lists.
pub const MAX_LIMIT: usize = 500;
pub const DEFAULT_LIMIT: usize = 50;

/// Records what `who` did in their organization.
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
#[allow(clippy::too_many_arguments)]
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
    let entry = AuditEntry {
        id: 0,
        at: super::now(),
        actor: actor.to_owned(),
        source: source.to_owned(),
        action: action.to_owned(),
        object: object.to_owned(),
        keys: keys.to_vec(),
        detail: detail.to_owned(),
    };
    state.store.append_audit(org_id, &entry).await
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
