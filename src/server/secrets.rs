//! Secret set operations shared by server functions, the REST API and tests: validated
//! input in, sealed values to the store.

use super::auth::Principal;
use super::crypto::SecretValue;
use super::state::AppState;
use super::store::history::{self, Change};
use super::store::{self, sets, SealedEntry};
use crate::error::AppError;
use crate::model::Role;
use crate::model::SetDetail;
use crate::validate::{Pair, ResourceName, SecretKey, SET_MAX_BYTES, SET_MAX_KEYS};

/// Refuses (403) callers who may not change secret sets. Entry points call it before
/// they read or parse a write's input; the changes below check it again.
pub fn may_change(who: &Principal) -> Result<(), AppError> {
    who.require(Role::Member, "changing secret sets")
}

/// Refuses members a change to a protected set: a value they write (a database host of
/// their own, `NODE_OPTIONS`) would run in production with every other value of the
/// set, so writing one is as good as reading them. Checked on the set's locked row, in
/// the change's own transaction, so protecting a set and a write to it never cross.
pub(crate) fn may_change_set(who: &Principal, set: &sets::SetRow) -> Result<(), AppError> {
    if set.protected {
        who.require(Role::Admin, "changing a protected set")?;
    }
    Ok(())
}

/// Refuses a change made against another revision than the set's (`expected`, from
/// `If-Match` or the editor); a missing set is at revision 0.
pub(crate) fn check_revision(set: &str, expected: Option<i64>, current: i64) -> Result<(), AppError> {
    match expected {
        Some(expected) if expected != current => Err(stale(set, expected, current)),
        _ => Ok(()),
    }
}

/// Refuses a write that would leave the set over its size limits.
pub(crate) fn check_limits(set: &str, (count, bytes): (i64, i64)) -> Result<(), AppError> {
    if count as usize > SET_MAX_KEYS {
        return Err(AppError::TooLarge(format!(
            "secret set \"{set}\" would hold {count} keys; a set may hold at most {SET_MAX_KEYS}"
        )));
    }
    if bytes as usize > SET_MAX_BYTES {
        return Err(AppError::TooLarge(format!(
            "secret set \"{set}\" would hold {bytes} bytes of values; a set may hold at most {SET_MAX_BYTES}"
        )));
    }
    Ok(())
}

/// Seals each pair for (org, set, key) and writes them all in one transaction.
pub async fn write(
    state: &AppState,
    who: &Principal,
    set: &ResourceName,
    pairs: Vec<Pair>,
    expected: Option<i64>,
) -> Result<PutResult, AppError> {
    may_change(who)?;
    let org = who.org.id;
    let mut entries = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let key = pair.key.into_string();
        let value = SecretValue::new(pair.value);
        entries.push(SealedEntry {
            sealed: state.crypto.seal(org, set.as_str(), &key, &value)?,
            fingerprint: state.crypto.fingerprint(org, &value),
            value_len: value.expose().len(),
            key,
        });
    }
    // One transaction: writers to the set take turns on its row, and a refusal below
    // rolls every row of this write back.
    let now = super::now();
    let mut tx = state.store.write().await?;
    let (row, created) = sets::lock_or_create(&mut tx, org, set.as_str(), now).await?;
    may_change_set(who, &row)?;
    check_revision(set.as_str(), expected, row.revision)?;
    let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
    let existing = sets::existing_keys(&mut tx, row.id, &keys).await?;
    let (updated, added): (Vec<String>, Vec<String>) = keys
        .iter()
        .map(|k| k.to_string())
        .partition(|k| existing.contains_key(k));
    // A key written again with an equal value is not a change in its history.
    let opened: Vec<SealedEntry> = entries
        .iter()
        .filter(|e| existing.get(&e.key) != Some(&e.fingerprint))
        .cloned()
        .collect();
    sets::upsert(&mut tx, row.id, org, &entries, now).await?;
    check_limits(set.as_str(), sets::size(&mut tx, row.id).await?)?;
    let result = PutResult {
        created,
        revision: sets::bump(&mut tx, row.id, now).await?,
        added,
        updated,
    };
    let keys: Vec<String> = result.added.iter().chain(&result.updated).cloned().collect();
    let detail = format!(
        "{}added {}, updated {}, revision {}",
        if result.created { "created; " } else { "" },
        result.added.len(),
        result.updated.len(),
        result.revision
    );
    let audit = super::audit::entry(who, "secrets.set", &format!("set:{set}"), &keys, &detail);
    let changed: Vec<String> = sorted(
        opened
            .iter()
            .filter(|e| existing.contains_key(&e.key))
            .map(|e| e.key.clone()),
    );
    let change = Change {
        set_id: row.id,
        org_id: org,
        set_name: set.as_str(),
        version: result.revision,
        action: "set",
        detail: "",
        opened: &opened,
        added: &sorted(result.added.iter().cloned()),
        changed: &changed,
        removed: &[],
    };
    history::record(&mut tx, &change, &audit, state.config.retention).await?;
    let result = store::finish(tx, audit, result).await?;
    tracing::info!(
        org = %who.org.name, user = who.user_id, set = %set,
        added = ?result.added, updated = ?result.updated, "secrets written"
    );
    Ok(result)
}

/// One page of the organization's sets, by name.
pub async fn page(
    state: &AppState,
    who: &Principal,
    q: &crate::model::ListQuery,
) -> Result<crate::model::SetPage, AppError> {
    state.store.set_page(who.org.id, q).await
}

/// A set with its keys; `NotFound` if missing.
pub async fn detail(state: &AppState, who: &Principal, set: &str) -> Result<SetDetail, AppError> {
    state
        .store
        .get_set(who.org.id, set)
        .await?
        .ok_or_else(|| set_not_found(set))
}

/// Removes one key from a set; returns the set's new revision.
pub async fn unset(
    state: &AppState,
    who: &Principal,
    set: &str,
    key: &str,
    expected: Option<i64>,
) -> Result<i64, AppError> {
    may_change(who)?;
    let key = SecretKey::parse(key)?;
    let mut tx = state.store.write().await?;
    let row = sets::lock_set(&mut tx, who.org.id, set)
        .await?
        .ok_or_else(|| set_not_found(set))?;
    may_change_set(who, &row)?;
    check_revision(set, expected, row.revision)?;
    if !sets::delete_key(&mut tx, row.id, key.as_str()).await? {
        return Err(AppError::NotFound(format!(
            "key \"{key}\" not found in set \"{set}\""
        )));
    }
    let revision = sets::bump(&mut tx, row.id, super::now()).await?;
    let audit = super::audit::entry(
        who,
        "secrets.unset",
        &format!("set:{set}"),
        &[key.to_string()],
        &format!("revision {revision}"),
    );
    let change = Change {
        set_id: row.id,
        org_id: who.org.id,
        set_name: set,
        version: revision,
        action: "unset",
        detail: "",
        opened: &[],
        added: &[],
        changed: &[],
        removed: &[key.to_string()],
    };
    history::record(&mut tx, &change, &audit, state.config.retention).await?;
    let revision = store::finish(tx, audit, revision).await?;
    tracing::info!(org = %who.org.name, user = who.user_id, set, key = %key, "secret unset");
    Ok(revision)
}

/// Deletes a whole set: it goes to the recently deleted, restorable until retention
/// purges it.
pub async fn delete(state: &AppState, who: &Principal, set: &str) -> Result<(), AppError> {
    who.require(Role::Admin, "deleting secret sets")?;
    let days = state.config.retention.deleted_days;
    let audit = super::audit::entry(
        who,
        "set.delete",
        &format!("set:{set}"),
        &[],
        &format!("restorable for {days} days"),
    );
    let mut tx = state.store.write().await?;
    let row = sets::lock_set(&mut tx, who.org.id, set)
        .await?
        .ok_or_else(|| set_not_found(set))?;
    super::deployments::refuse_if_used(&mut tx, who.org.id, "secret_set", "secret set", set).await?;
    let deleting = history::Deleting {
        id: row.id,
        org_id: who.org.id,
        revision: row.revision,
        protected: row.protected,
        deleted_by: &who.email,
        now: super::now(),
    };
    history::delete_set(&mut tx, &deleting).await?;
    store::finish(tx, audit, ()).await?;
    tracing::info!(org = %who.org.name, user = who.user_id, set, "secret set deleted");
    Ok(())
}

/// `keys` sorted (by bytes, as lists of keys are everywhere).
pub(crate) fn sorted(keys: impl Iterator<Item = String>) -> Vec<String> {
    let mut keys: Vec<String> = keys.collect();
    keys.sort();
    keys
}

/// Creates an empty set.
pub async fn create(state: &AppState, who: &Principal, set: &ResourceName) -> Result<(), AppError> {
    who.require(Role::Member, "creating secret sets")?;
    let audit = super::audit::entry(who, "set.create", &format!("set:{set}"), &[], "");
    state
        .store
        .create_set(who.org.id, set.as_str(), super::now(), audit)
        .await?;
    tracing::info!(org = %who.org.name, user = who.user_id, set = %set, "secret set created");
    Ok(())
}

/// Marks a set protected (only admins may then deploy it) or not; admins only.
pub async fn protect(state: &AppState, who: &Principal, set: &str, protected: bool) -> Result<(), AppError> {
    who.require(Role::Admin, "protecting secret sets")?;
    let action = if protected { "set.protect" } else { "set.unprotect" };
    let audit = super::audit::entry(who, action, &format!("set:{set}"), &[], "");
    state
        .store
        .set_protected(who.org.id, set, protected, audit)
        .await?;
    tracing::info!(org = %who.org.name, user = who.user_id, set, protected, "set protection changed");
    Ok(())
}

/// Decrypts one stored value. No route exposes values in this slice; tests use this
/// to prove values survive storage byte for byte.
pub async fn reveal(
    state: &AppState,
    who: &Principal,
    set: &str,
    key: &str,
) -> Result<SecretValue, AppError> {
    who.require(Role::Member, "reading secret values")?;
    if detail(state, who, set).await?.protected {
        who.require(Role::Admin, "reading the values of a protected set")?;
    }
    let sealed = state
        .store
        .sealed_value(who.org.id, set, key)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("key \"{key}\" not found in set \"{set}\"")))?;
    state.crypto.open(who.org.id, set, key, &sealed)
}

/// What a write changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutResult {
    pub created: bool,
    /// The set's revision after the write.
    pub revision: i64,
    pub added: Vec<String>,
    pub updated: Vec<String>,
}

pub fn stale(set: &str, expected: i64, actual: i64) -> AppError {
    AppError::Stale(format!(
        "secret set \"{set}\" changed since you loaded it (revision {expected}, now {actual}); \
         reload it and try again"
    ))
}

pub fn set_not_found(set: &str) -> AppError {
    AppError::NotFound(format!("secret set \"{set}\" not found"))
}
