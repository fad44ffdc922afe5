//! Secret set operations shared by server functions, the REST API and tests: validated
//! input in, sealed values to the store.

use super::crypto::SecretValue;
use super::principal::Principal;
use super::state::AppState;
pub use crate::error::set_not_found;
use crate::error::AppError;
use crate::model::Role;
use crate::model::SetDetail;
use crate::store::history::{self, Change};
use crate::store::{self, sets, SealedEntry};
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
    count_write(state, who)?;
    let org = who.org.id;
    let mut entries = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let key = pair.key.into_string();
        let value = SecretValue::new(pair.value);
        entries.push(SealedEntry {
            sealed: state.crypto.seal(org, set.as_str(), &key, &value)?,
            mac: state.crypto.value_mac(org, &value),
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
        .filter(|e| existing.get(&e.key) != Some(&e.mac))
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
    record_version(&mut tx, state, &change, &audit).await?;
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

/// A set with its keys and shown fingerprints; `NotFound` if missing.
pub async fn detail(state: &AppState, who: &Principal, set: &str) -> Result<SetDetail, AppError> {
    let stored = stored(state, who, set).await?;
    Ok(SetDetail {
        keys: shown_keys(state, who, &stored.name, stored.protected, &stored.keys),
        name: stored.name,
        revision: stored.revision,
        created_at: stored.created_at,
        updated_at: stored.updated_at,
        protected: stored.protected,
    })
}

/// A set with its keys' MACs, for decisions on the server; `NotFound` if missing.
pub(crate) async fn stored(
    state: &AppState,
    who: &Principal,
    set: &str,
) -> Result<sets::StoredSet, AppError> {
    state
        .store
        .get_set(who.org.id, set)
        .await?
        .ok_or_else(|| set_not_found(set))
}

/// Whether `who` may read the values of a set (protected or not): members read, and
/// a protected set's values are for admins.
pub(crate) fn may_read(who: &Principal, protected: bool) -> bool {
    who.role >= Role::Member && (!protected || who.role >= Role::Admin)
}

/// Whether `who` sees the fingerprints of a set's values: everyone, but a protected
/// set's only from admins up (a fingerprint says when a value changes back).
pub(crate) fn shows_fingerprints(who: &Principal, protected: bool) -> bool {
    !protected || who.role >= Role::Admin
}

/// Stored keys of set `set` as `who` sees them: each with the fingerprint bound to its
/// place, or none where [`shows_fingerprints`] says so.
pub(crate) fn shown_keys(
    state: &AppState,
    who: &Principal,
    set: &str,
    protected: bool,
    keys: &[store::StoredKey],
) -> Vec<crate::model::KeyInfo> {
    let show = shows_fingerprints(who, protected);
    keys.iter()
        .map(|k| crate::model::KeyInfo {
            key: k.key.clone(),
            fingerprint: show.then(|| state.crypto.shown_fingerprint(who.org.id, set, &k.key, &k.mac)),
            updated_at: k.updated_at,
        })
        .collect()
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
    count_write(state, who)?;
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
    record_version(&mut tx, state, &change, &audit).await?;
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
    refuse_if_used(&mut tx, who.org.id, "secret_set", "secret set", set).await?;
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
    if stored(state, who, set).await?.protected {
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

/// Records `change` as a new version of its set (see `history::record`), in the
/// change's transaction, then refuses the whole change if its organization is now over
/// a quota: more versions in a UTC day than `versions_per_day`, or (for a change that keeps
/// new values) more history than `history_max_bytes`. A hard cap that does not wait for
/// retention: an owner prunes, or the operator raises the setting.
pub(crate) async fn record_version(
    tx: &mut crate::store::db::Db,
    state: &AppState,
    change: &Change<'_>,
    audit: &store::Audit,
) -> Result<(), AppError> {
    history::record(tx, change, audit, state.config.retention).await?;
    let day = super::now().div_euclid(86_400);
    let (bytes, versions) = history::count_version(tx, change.org_id, day).await?;
    check_quotas(state, bytes, versions, !change.opened.is_empty())
}

/// Refuses a change its organization is over a quota for: `versions` made today (UTC), `bytes` of history kept (only for a change that keeps new values).
fn check_quotas(state: &AppState, bytes: i64, versions: i64, keeps_values: bool) -> Result<(), AppError> {
    let quotas = state.config.quotas;
    if versions > quotas.versions_per_day {
        return Err(AppError::Quota(format!(
            "this organization made {} set versions today (UTC), its quota \
             (versions_per_day); try again later or ask the operator to raise it",
            quotas.versions_per_day
        )));
    }
    if keeps_values && bytes > quotas.history_bytes {
        return Err(AppError::Quota(format!(
            "this change would keep {bytes} bytes of secret history in this organization, over \
             its quota of {} (history_max_bytes); an owner can prune old versions, or the \
             operator can raise the quota",
            quotas.history_bytes
        )));
    }
    Ok(())
}

/// Admits a write of `who`, before any sealing or locking: counts it toward the
/// per-account write rate (`writes_per_minute`). (The organization's quotas are
/// checked in the change's own transaction, [`record_version`].)
///
/// The rate is counted in this process's memory, a minute at a time: it brakes one
/// account's flood of writes without a database write of its own on every write
/// (which cost single-key writes most of their throughput). With several instances
/// each counts its own share; the organization quotas are exact across instances.
pub(crate) fn count_write(state: &AppState, who: &Principal) -> Result<(), AppError> {
    let now = super::now();
    let limit = state.config.quotas.writes_per_minute;
    let mut counts = state.write_counts.lock();
    if counts.len() > 10_000 {
        counts.retain(|_, (since, _)| now - *since < 60);
    }
    let (since, writes) = counts.entry(who.user_id).or_insert((now, 0));
    if now - *since >= 60 {
        (*since, *writes) = (now, 0);
    }
    if *writes >= limit {
        return Err(AppError::Quota(format!(
            "more than {limit} secret writes a minute (writes_per_minute); try again in {} seconds",
            (*since + 60 - now).max(1)
        )));
    }
    *writes += 1;
    Ok(())
}

/// Runs CPU-heavy input work (reading a paste or a large JSON body) on the blocking
/// pool instead of the async workers, so a long paste never holds up other requests
/// (`/healthz` among them); at most one such job per core at once, so many large
/// bodies at once wait their turn instead of each growing the memory in use.
pub async fn off_workers<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    static JOBS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let jobs = JOBS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    });
    let _turn = jobs.acquire().await.map_err(|_| AppError::Internal)?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| AppError::Internal)?
}

/// Refuses to delete a set or pull secret (`what`, named by deployments' `column`)
/// while deployments use it, naming them. Runs in the deletion's transaction, after the
/// row is locked.
pub(crate) async fn refuse_if_used(
    tx: &mut crate::store::db::Db,
    org_id: i64,
    column: &str,
    what: &str,
    name: &str,
) -> Result<(), AppError> {
    let users = crate::store::deployments::users_of(tx, org_id, column, name).await?;
    if users.is_empty() {
        return Ok(());
    }
    Err(in_use(&format!("{what} \"{name}\""), &users))
}
/// Refusal to delete something deployments still use.
pub fn in_use(what: &str, users: &[String]) -> AppError {
    AppError::Conflict(format!(
        "{what} is used by deployment{} {}; change or delete {} first",
        if users.len() == 1 { "" } else { "s" },
        users.join(", "),
        if users.len() == 1 { "it" } else { "them" }
    ))
}
