//! Secret set operations shared by server functions, the REST API and tests: validated
//! input in, sealed values to the store.

use super::crypto::SecretValue;
use super::state::AppState;
use super::store::{set_not_found, Principal, PutResult, SealedEntry};
use crate::error::AppError;
use crate::model::Role;
use crate::model::SetDetail;
use crate::validate::{Pair, ResourceName, SecretKey};

/// Seals each pair for (org, set, key) and writes them all in one transaction.
pub async fn write(
    state: &AppState,
    who: &Principal,
    set: &ResourceName,
    pairs: Vec<Pair>,
    expected: Option<i64>,
) -> Result<PutResult, AppError> {
    who.require(Role::Member, "changing secret sets")?;
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
    let result = state
        .store
        .put_secrets(org, set.as_str(), entries, super::now(), expected)
        .await?;
    tracing::info!(
        org = %who.org.name, user = who.user_id, set = %set,
        added = ?result.added, updated = ?result.updated, "secrets written"
    );
    let keys: Vec<String> = result.added.iter().chain(&result.updated).cloned().collect();
    let detail = format!(
        "{}added {}, updated {}, revision {}",
        if result.created { "created; " } else { "" },
        result.added.len(),
        result.updated.len(),
        result.revision
    );
    super::audit::record(state, who, "secrets.set", &format!("set:{set}"), &keys, &detail).await?;
    Ok(result)
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
    who.require(Role::Member, "changing secret sets")?;
    let key = SecretKey::parse(key)?;
    let revision = state
        .store
        .unset_secret(who.org.id, set, key.as_str(), super::now(), expected)
        .await?;
    tracing::info!(org = %who.org.name, user = who.user_id, set, key = %key, "secret unset");
    let detail = format!("revision {revision}");
    super::audit::record(
        state,
        who,
        "secrets.unset",
        &format!("set:{set}"),
        &[key.to_string()],
        &detail,
    )
    .await?;
    Ok(revision)
}

/// Deletes a whole set.
pub async fn delete(state: &AppState, who: &Principal, set: &str) -> Result<(), AppError> {
    who.require(Role::Admin, "deleting secret sets")?;
    state.store.delete_set(who.org.id, set).await?;
    tracing::info!(org = %who.org.name, user = who.user_id, set, "secret set deleted");
    super::audit::record(state, who, "set.delete", &format!("set:{set}"), &[], "").await?;
    Ok(())
}

/// Creates an empty set.
pub async fn create(state: &AppState, who: &Principal, set: &ResourceName) -> Result<(), AppError> {
    who.require(Role::Member, "creating secret sets")?;
    state
        .store
        .create_set(who.org.id, set.as_str(), super::now())
        .await?;
    tracing::info!(org = %who.org.name, user = who.user_id, set = %set, "secret set created");
    super::audit::record(state, who, "set.create", &format!("set:{set}"), &[], "").await?;
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
    let sealed = state
        .store
        .sealed_value(who.org.id, set, key)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("key \"{key}\" not found in set \"{set}\"")))?;
    state.crypto.open(who.org.id, set, key, &sealed)
}
