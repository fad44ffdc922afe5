//! Secret set operations shared by server functions, the REST API and tests: validated
//! input in, sealed values to the store.

use super::auth::Principal;
use super::crypto::SecretValue;
use super::state::AppState;
use super::store::{set_not_found, PutResult, SealedEntry};
use crate::error::AppError;
use crate::model::Role;
use crate::model::SetDetail;
use crate::validate::{Pair, ResourceName, SecretKey};

/// Refuses (403) callers who may not change secret sets. Entry points call it before
/// they read or parse a write's input; the changes below check it again.
pub fn may_change(who: &Principal) -> Result<(), AppError> {
    who.require(Role::Member, "changing secret sets")
}

/// Refuses members a change to a protected set: a value they write (a database host of
/// their own, `NODE_OPTIONS`) would run in production with every other value of the
/// set, so writing one is as good as reading them.
async fn may_change_set(state: &AppState, who: &Principal, set: &str) -> Result<(), AppError> {
    may_change(who)?;
    if who.role < Role::Admin && state.store.is_protected(who.org.id, set).await? {
        who.require(Role::Admin, "changing a protected set")?;
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
    may_change_set(state, who, set.as_str()).await?;
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
    let audit = {
        let (who, object) = (who.clone(), format!("set:{set}"));
        Box::new(move |result: &PutResult| {
            let keys: Vec<String> = result.added.iter().chain(&result.updated).cloned().collect();
            let detail = format!(
                "{}added {}, updated {}, revision {}",
                if result.created { "created; " } else { "" },
                result.added.len(),
                result.updated.len(),
                result.revision
            );
            super::audit::entry(&who, "secrets.set", &object, &keys, &detail)
        })
    };
    let result = state
        .store
        .put_secrets(org, set.as_str(), entries, super::now(), expected, audit)
        .await?;
    tracing::info!(
        org = %who.org.name, user = who.user_id, set = %set,
        added = ?result.added, updated = ?result.updated, "secrets written"
    );
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
    may_change_set(state, who, set).await?;
    let key = SecretKey::parse(key)?;
    let audit = {
        let (who, object, keys) = (who.clone(), format!("set:{set}"), vec![key.to_string()]);
        Box::new(move |revision: &i64| {
            super::audit::entry(
                &who,
                "secrets.unset",
                &object,
                &keys,
                &format!("revision {revision}"),
            )
        })
    };
    let revision = state
        .store
        .unset_secret(who.org.id, set, key.as_str(), super::now(), expected, audit)
        .await?;
    tracing::info!(org = %who.org.name, user = who.user_id, set, key = %key, "secret unset");
    Ok(revision)
}

/// Deletes a whole set.
pub async fn delete(state: &AppState, who: &Principal, set: &str) -> Result<(), AppError> {
    who.require(Role::Admin, "deleting secret sets")?;
    let audit = super::audit::entry(who, "set.delete", &format!("set:{set}"), &[], "");
    state.store.delete_set(who.org.id, set, audit).await?;
    tracing::info!(org = %who.org.name, user = who.user_id, set, "secret set deleted");
    Ok(())
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
