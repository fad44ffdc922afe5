//! Nothing is ever lost: a set's versions and their comparison, restoring a version (or
//! some keys of it), recently deleted sets, and rolling a deployment back. Values stay
//! sealed throughout: a value leaves the database only to be sealed again for another
//! set name, on the server.

use super::principal::Principal;
use super::secrets::{check_limits, check_revision, may_change, may_change_set, set_not_found, sorted};
use super::state::AppState;
pub use crate::error::version_not_kept;
use crate::error::AppError;
use crate::model::{Comparison, DeletedSet, KeyPrint, RestorePreview, Role};
use crate::store::history::{self, Change, HeldValue, KeyMac};
use crate::store::{self, sets, SealedEntry};
use crate::validate::{FieldError, Problems, ResourceName, SecretKey, SET_MAX_KEYS};
use std::collections::HashSet;

/// The set's versions, newest first.
pub async fn versions(
    state: &AppState,
    who: &Principal,
    set: &str,
    below: Option<i64>,
    limit: u32,
) -> Result<crate::model::VersionPage, AppError> {
    state
        .store
        .set_versions(who.org.id, set, below, limit)
        .await?
        .ok_or_else(|| set_not_found(set))
}

/// One side of a comparison within a set, as `who` sees it: a version (`None`: the set
/// now) with each key's shown fingerprint.
pub async fn side(
    state: &AppState,
    who: &Principal,
    set: &str,
    version: Option<i64>,
) -> Result<Vec<KeyPrint>, AppError> {
    let (keys, protected) = super::compare::side_macs(state, who, set, version).await?;
    let show = super::secrets::shows_fingerprints(who, protected);
    Ok(keys
        .into_iter()
        .map(|k| KeyPrint {
            fingerprint: show.then(|| state.crypto.shown_fingerprint(who.org.id, set, &k.key, &k.mac)),
            key: k.key,
        })
        .collect())
}

/// Two versions of a set (`None`: as it is now) compared key by key.
pub async fn compare_versions(
    state: &AppState,
    who: &Principal,
    set: &str,
    a: Option<i64>,
    b: Option<i64>,
) -> Result<Comparison, AppError> {
    use super::compare::Side;
    let side =
        |v: Option<i64>| v.map_or_else(|| Side::Set(set.to_owned()), |v| Side::Version(set.to_owned(), v));
    super::compare::compare(state, who, &side(a), &side(b)).await
}

/// Keys a restore adds back, changes back and removes.
type Plan = (Vec<String>, Vec<String>, Vec<String>);

/// What restoring `keys` (all when `None`) of `version` changes: (added, changed,
/// removed) against `now`, decided by the values' full MACs. Linear in the keys
/// named; a restore names at most as many keys as a set may hold.
fn plan(
    set: &str,
    version: i64,
    then: &[HeldValue],
    now: &[KeyMac],
    keys: Option<&[String]>,
) -> Result<Plan, AppError> {
    let mut diff = Comparison::of(
        then.iter().map(|v| (v.key.as_str(), &v.mac)),
        now.iter().map(|k| (k.key.as_str(), &k.mac)),
    );
    if let Some(keys) = keys {
        if keys.len() > SET_MAX_KEYS {
            return Err(too_many_keys(keys.len()));
        }
        let known: HashSet<&str> = then
            .iter()
            .map(|v| v.key.as_str())
            .chain(now.iter().map(|k| k.key.as_str()))
            .collect();
        let mut problems = Problems::default();
        for key in keys {
            if let Err(e) = SecretKey::parse(key) {
                problems.push(e);
            } else if !known.contains(key.as_str()) {
                problems.push(FieldError {
                    field: "keys".into(),
                    message: format!(
                        "key \"{key}\" is neither in version {version} of \"{set}\" nor in the set now"
                    ),
                });
            }
        }
        problems.result(())?;
        let keys: HashSet<&str> = keys.iter().map(String::as_str).collect();
        for list in [&mut diff.only_in_a, &mut diff.only_in_b, &mut diff.different] {
            list.retain(|k| keys.contains(k.as_str()));
        }
    }
    Ok((diff.only_in_a, diff.different, diff.only_in_b))
}

/// Refuses a restore, or its preview, to whoever may not change the set: what a preview
/// tells (which keys differ) is a comparison, so it needs the same role as the restore.
fn may_restore(who: &Principal, protected: bool) -> Result<(), AppError> {
    may_change(who)?;
    if protected {
        who.require(Role::Admin, "restoring a protected set")?;
    }
    Ok(())
}

/// What restoring `keys` (all when `None`) of `version` would do to the set now, and
/// which deployments would need a redeploy.
pub async fn preview(
    state: &AppState,
    who: &Principal,
    set: &str,
    version: i64,
    keys: Option<&[String]>,
) -> Result<RestorePreview, AppError> {
    may_change(who)?;
    if let Some(keys) = keys {
        if keys.len() > SET_MAX_KEYS {
            return Err(too_many_keys(keys.len()));
        }
    }
    may_restore(who, super::secrets::stored(state, who, set).await?.protected)?;
    let mut tx = state.store.read().await?;
    let (id, revision) = history::live_set(&mut tx, who.org.id, set)
        .await?
        .ok_or_else(|| set_not_found(set))?;
    if !history::version_kept(&mut tx, id, version).await? {
        return Err(version_not_kept(set, version));
    }
    let then = history::values_at(&mut tx, id, version).await?;
    let now = history::prints_now(&mut tx, id).await?;
    let deployments = store::deployments::users_of(&mut tx, who.org.id, "secret_set", set).await?;
    tx.commit().await?;
    let (added, changed, removed) = plan(set, version, &then, &now, keys)?;
    Ok(RestorePreview {
        set: set.to_owned(),
        version,
        revision,
        added,
        changed,
        removed,
        deployments,
    })
}

/// What a restore did; `revision` is the set's revision after it (unchanged when the
/// set already held those values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub revision: i64,
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    /// Deployments that use the set: they need a redeploy to get the restored values.
    pub deployments: Vec<String>,
}

/// Restores `keys` (all when `None`) of `version` as a new version of the set, if the
/// set is still at revision `expected` (when given). Nothing changes on any refusal.
pub async fn restore(
    state: &AppState,
    who: &Principal,
    set: &ResourceName,
    version: i64,
    keys: Option<&[String]>,
    expected: Option<i64>,
) -> Result<Restored, AppError> {
    may_change(who)?;
    if let Some(keys) = keys {
        if keys.len() > SET_MAX_KEYS {
            return Err(too_many_keys(keys.len()));
        }
    }
    super::secrets::count_write(state, who)?;
    let (org, name) = (who.org.id, set.as_str());
    let now = super::now();
    let mut tx = state.store.write().await?;
    let row = sets::lock_set(&mut tx, org, name)
        .await?
        .ok_or_else(|| set_not_found(name))?;
    may_change_set(who, &row)?;
    check_revision(name, expected, row.revision)?;
    if !history::version_kept(&mut tx, row.id, version).await? {
        return Err(version_not_kept(name, version));
    }
    let then = history::values_at(&mut tx, row.id, version).await?;
    let current = history::prints_now(&mut tx, row.id).await?;
    let (added, changed, removed) = plan(name, version, &then, &current, keys)?;
    let deployments = store::deployments::users_of(&mut tx, org, "secret_set", name).await?;
    if added.is_empty() && changed.is_empty() && removed.is_empty() {
        tx.commit().await?;
        return Ok(Restored {
            revision: row.revision,
            added,
            changed,
            removed,
            deployments,
        });
    }
    let mut entries = Vec::with_capacity(added.len() + changed.len());
    let opened: HashSet<&str> = added.iter().chain(&changed).map(String::as_str).collect();
    for value in then.iter().filter(|v| opened.contains(v.key.as_str())) {
        entries.push(seal_for(state, org, name, value)?);
    }
    sets::upsert(&mut tx, row.id, org, &entries, now).await?;
    let gone: Vec<&str> = removed.iter().map(String::as_str).collect();
    sets::delete_keys(&mut tx, row.id, &gone).await?;
    check_limits(name, sets::size(&mut tx, row.id).await?)?;
    let revision = sets::bump(&mut tx, row.id, now).await?;
    let detail = match keys {
        None => format!("restored from v{version}"),
        Some(_) => format!(
            "restored from v{version} (only {})",
            sorted(added.iter().chain(&changed).chain(&removed).cloned()).join(", ")
        ),
    };
    let touched = sorted(added.iter().chain(&changed).chain(&removed).cloned());
    let audit = super::audit::entry(
        who,
        "secrets.restore",
        &format!("set:{name}"),
        &touched,
        &format!("{detail}, revision {revision}"),
    );
    let change = Change {
        set_id: row.id,
        org_id: org,
        set_name: name,
        version: revision,
        action: "restore",
        detail: &detail,
        opened: &entries,
        added: &added,
        changed: &changed,
        removed: &removed,
    };
    super::secrets::record_version(&mut tx, state, &change, &audit).await?;
    let out = Restored {
        revision,
        added,
        changed,
        removed,
        deployments,
    };
    let out = store::finish(tx, audit, out).await?;
    tracing::info!(org = %who.org.name, user = who.user_id, set = name, version, revision, "set restored");
    Ok(out)
}

/// A kept value as an entry of set `set`: its sealed bytes as they are when it was
/// sealed for that name, else opened and sealed again for it (a set restored under a
/// new name). Only the server ever holds the value, for that moment.
fn seal_for(state: &AppState, org: i64, set: &str, value: &HeldValue) -> Result<SealedEntry, AppError> {
    let sealed = if value.sealed_for == set {
        value.sealed.clone()
    } else {
        let plain = state
            .crypto
            .open(org, &value.sealed_for, &value.key, &value.sealed)?;
        state.crypto.seal(org, set, &value.key, &plain)?
    };
    Ok(SealedEntry {
        key: value.key.clone(),
        sealed,
        mac: value.mac.clone(),
        value_len: value.value_len,
    })
}

/// The organization's recently deleted sets, newest first.
pub async fn deleted(state: &AppState, who: &Principal) -> Result<Vec<DeletedSet>, AppError> {
    state
        .store
        .deleted_sets(who.org.id, super::now(), state.config.retention)
        .await
}

/// Restores deleted set `id` under its old name or `as_name`; the name it has now.
pub async fn undelete(
    state: &AppState,
    who: &Principal,
    id: i64,
    as_name: Option<&ResourceName>,
) -> Result<String, AppError> {
    who.require(Role::Member, "restoring deleted secret sets")?;
    super::secrets::count_write(state, who)?;
    let (org, now) = (who.org.id, super::now());
    let mut tx = state.store.write().await?;
    let gone = history::take_deleted(&mut tx, org, id, now, state.config.retention)
        .await?
        .ok_or_else(|| deleted_not_found(id))?;
    if gone.protected {
        who.require(Role::Admin, "restoring a protected set")?;
    }
    let name = as_name.map_or(gone.name.clone(), |n| n.to_string());
    let revision = gone.revision + 1;
    if !history::revive(&mut tx, org, &gone, &name, revision, now).await? {
        return Err(AppError::Conflict(format!(
            "a secret set named \"{name}\" exists now; restore \"{}\" under another name",
            gone.name
        )));
    }
    let kept = history::values_at(&mut tx, id, i64::MAX).await?;
    let mut entries = Vec::with_capacity(kept.len());
    for value in &kept {
        entries.push(seal_for(state, org, &name, value)?);
    }
    sets::upsert(&mut tx, id, org, &entries, now).await?;
    let detail = if name == gone.name {
        "restored after deletion".to_owned()
    } else {
        format!("restored after deletion as \"{name}\" (was \"{}\")", gone.name)
    };
    let audit = super::audit::entry(who, "set.undelete", &format!("set:{name}"), &[], &detail);
    let change = Change {
        set_id: id,
        org_id: org,
        set_name: &name,
        version: revision,
        action: "undelete",
        detail: &detail,
        opened: &[],
        added: &[],
        changed: &[],
        removed: &[],
    };
    super::secrets::record_version(&mut tx, state, &change, &audit).await?;
    let name = store::finish(tx, audit, name).await?;
    tracing::info!(org = %who.org.name, user = who.user_id, set = %name, "deleted set restored");
    Ok(name)
}

/// Purges deleted set `id` now: its versions and sealed values leave the database.
/// Owners only.
pub async fn purge(state: &AppState, who: &Principal, id: i64) -> Result<String, AppError> {
    who.require(Role::Owner, "purging deleted secret sets")?;
    let mut tx = state.store.write().await?;
    let name = history::purge(&mut tx, who.org.id, id)
        .await?
        .ok_or_else(|| deleted_not_found(id))?;
    let audit = super::audit::entry(who, "set.purge", &format!("set:{name}"), &[], "purged now");
    let name = store::finish(tx, audit, name).await?;
    tracing::info!(org = %who.org.name, user = who.user_id, set = %name, "deleted set purged");
    Ok(name)
}

/// Prunes the organization's history now, whatever its age: each set keeps its newest
/// `keep` versions (at least 1) and those a kept deployment revision needs. Owners
/// only (what goes cannot be restored); audited. How many versions went.
pub async fn prune_now(state: &AppState, who: &Principal, keep: i64) -> Result<usize, AppError> {
    who.require(Role::Owner, "pruning secret history")?;
    if keep < 1 {
        return Err(AppError::validation(FieldError {
            field: "keep".into(),
            message: "keep: each set keeps at least its newest version (keep 1 or more)".into(),
        }));
    }
    let mut tx = state.store.write().await?;
    let pruned = history::prune_org(&mut tx, who.org.id, keep, super::now()).await?;
    let detail = format!("pruned {pruned} versions, keeping the newest {keep} of each set");
    let audit = super::audit::entry(who, "history.prune", "org", &[], &detail);
    let pruned = store::finish(tx, audit, pruned).await?;
    tracing::info!(org = %who.org.name, user = who.user_id, pruned, keep, "history pruned");
    Ok(pruned)
}

/// Purges every deleted set whose retention has run out (run hourly, and by tests);
/// how many.
pub async fn purge_expired(state: &AppState, now: i64) -> Result<usize, AppError> {
    let mut tx = state.store.write().await?;
    let expired = history::expired(&mut tx, None, now, state.config.retention).await?;
    for &(org, id) in &expired {
        if let Some(name) = history::purge(&mut tx, org, id).await? {
            let days = state.config.retention.deleted_days;
            let entry = super::audit::entry_as(
                org,
                "cloakroom",
                "retention",
                "set.purge",
                &format!("set:{name}"),
                &[],
                &format!("deleted more than {days} days ago"),
            );
            store::audit_in(&mut tx, &entry).await?;
        }
    }
    tx.commit().await?;
    Ok(expired.len())
}

/// Runs [`purge_expired`] now and every hour after, in the background.
pub fn purge_hourly(state: AppState) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            match purge_expired(&state, super::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sets = n, "purged deleted sets past retention"),
                Err(e) => tracing::warn!(error = %e, "could not purge deleted sets past retention"),
            }
        }
    });
}

fn too_many_keys(n: usize) -> AppError {
    AppError::TooLarge(format!(
        "a restore names {n} keys; it may name at most {SET_MAX_KEYS} (a set holds no more)"
    ))
}

pub fn deleted_not_found(id: i64) -> AppError {
    deleted_not_found_text(&id.to_string())
}

pub fn deleted_not_found_text(id: &str) -> AppError {
    AppError::NotFound(format!(
        "no deleted secret set with id {id:?} (it was restored, purged, or never existed)"
    ))
}
