//! History: every version of every set (its values sealed, never plain), deleted sets
//! until they are purged, and each deployment revision's settings.
//!
//! A set's values are kept once per change, not once per version: a row of
//! `secret_history` holds one key's value from version `since` until the version that
//! replaced or removed it (`until`, NULL while current). Version N of a set is the rows
//! with `since <= N < until`. Pruning removes versions, then every row no kept version
//! falls in.

use super::db::{Db, Row, ToArg};
use super::sets::CHUNK;
use super::ValueMac;
use super::{Audit, SealedEntry, Store};
use crate::error::AppError;
use crate::model::{DeletedSet, DeploymentRevision, DeploymentSpec, SetVersion};

const DAY: i64 = 86_400;

/// How long the history of sets is kept. A set version goes once it is both older than
/// `version_days` and not among the newest `versions_kept`, and never while a kept
/// deployment revision was taken from it. A deleted set can be restored for
/// `deleted_days`, then it is purged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub versions_kept: i64,
    pub version_days: i64,
    pub deleted_days: i64,
}

/// One change to a set, as its new version records it.
pub(crate) struct Change<'a> {
    pub set_id: i64,
    pub org_id: i64,
    /// The set's name now: the values of `opened` are sealed for it.
    pub set_name: &'a str,
    pub version: i64,
    pub action: &'a str,
    pub detail: &'a str,
    /// Keys that are new in this version, and keys whose value changed: their values
    /// as of this version.
    pub opened: &'a [SealedEntry],
    pub added: &'a [String],
    pub changed: &'a [String],
    pub removed: &'a [String],
}

/// Records version `change.version`: its values, what it changed, who made it (from
/// the change's audit entry); then prunes versions retention lets go, auditing that.
pub(crate) async fn record(
    tx: &mut Db,
    change: &Change<'_>,
    audit: &Audit,
    retention: Retention,
) -> Result<(), AppError> {
    let closing: Vec<&str> = change
        .changed
        .iter()
        .chain(change.removed)
        .map(String::as_str)
        .collect();
    if !closing.is_empty() {
        let sql = format!(
            "UPDATE secret_history SET until = $2 WHERE set_id = $1 AND until IS NULL AND {}",
            tx.in_list("key", 3)
        );
        tx.execute(&sql, &[&change.set_id, &change.version, &closing])
            .await?;
    }
    open_values(
        tx,
        (change.set_id, change.org_id, change.set_name),
        change.version,
        change.opened,
    )
    .await?;
    let e = &audit.entry;
    tx.execute(
        "INSERT INTO secret_versions (set_id, org_id, version, at, actor, source, action, detail, \
         added, changed, removed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &change.set_id,
            &change.org_id,
            &change.version,
            &e.at,
            &e.actor,
            &e.source,
            &change.action,
            &change.detail,
            &change.added.join("\n"),
            &change.changed.join("\n"),
            &change.removed.join("\n"),
        ],
    )
    .await?;
    let pruned = prune(tx, change.set_id, change.version, retention, e.at).await?;
    if let (Some(first), Some(last)) = (pruned.first(), pruned.last()) {
        let detail = if first == last {
            format!("pruned version {first} (retention)")
        } else {
            format!("pruned {} versions, {first} to {last} (retention)", pruned.len())
        };
        let mut entry = audit.clone();
        entry.entry.action = "set.prune".into();
        entry.entry.keys = Vec::new();
        entry.entry.detail = detail;
        super::audit::write(tx, &entry).await?;
    }
    Ok(())
}

/// Adds rows for `entries`, current from `version`, sealed for `set_name`.
async fn open_values(
    tx: &mut Db,
    (set_id, org_id, set_name): (i64, i64, &str),
    version: i64,
    entries: &[SealedEntry],
) -> Result<(), AppError> {
    const INSERT: &str = "INSERT INTO secret_history (set_id, org_id, key, since, sealed_for, sealed, \
         value_mac, value_len) ";
    let lens: Vec<i64> = entries.iter().map(|e| e.value_len as i64).collect();
    add_usage(tx, org_id, lens.iter().map(|l| l + SEAL_OVERHEAD).sum()).await?;
    if tx.is_postgres() {
        let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        let sealed: Vec<&[u8]> = entries.iter().map(|e| e.sealed.as_slice()).collect();
        let prints: Vec<&str> = entries.iter().map(|e| e.mac.as_stored()).collect();
        tx.execute(
            &format!(
                "{INSERT} SELECT $1, $2, k, $3, $4, s, f, l \
                 FROM UNNEST($5::TEXT[], $6::BYTEA[], $7::TEXT[], $8::BIGINT[]) AS t(k, s, f, l)"
            ),
            &[
                &set_id, &org_id, &version, &set_name, &keys, &sealed, &prints, &lens,
            ],
        )
        .await?;
        return Ok(());
    }
    for (chunk, lens) in entries.chunks(CHUNK).zip(lens.chunks(CHUNK)) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = 5 + i * 4;
                format!("($1, $2, ${p}, $3, $4, ${}, ${}, ${})", p + 1, p + 2, p + 3)
            })
            .collect();
        let mut args: Vec<&dyn ToArg> = vec![&set_id, &org_id, &version, &set_name];
        for (e, len) in chunk.iter().zip(lens) {
            args.extend([&e.key as &dyn ToArg, &e.sealed, &e.mac, len]);
        }
        tx.execute(&format!("{INSERT} VALUES {}", rows.join(", ")), &args)
            .await?;
    }
    Ok(())
}

/// The versions of set `$1` below version `$2` and no newer than `$3` that no kept
/// deployment revision was taken from. Read by the set's time, not by version: the old
/// enough versions are the few that go now (and pinned ones), where every version below
/// `$2` is the set's whole history, read again by every write (`+ 0` keeps either
/// database from choosing that index).
const PRUNE_CANDIDATES: &str = "SELECT v.version FROM secret_versions v \
     WHERE v.set_id = $1 AND v.version + 0 < $2 AND v.at <= $3 \
     AND NOT EXISTS (SELECT 1 FROM deployment_revisions r \
         WHERE r.set_id = v.set_id AND r.set_version = v.version) \
     ORDER BY v.version";

/// Removes the versions of set `set_id` that retention lets go (older than its days,
/// not among the newest it keeps, and not the source of a kept deployment revision),
/// then the values no kept version holds. The versions removed, oldest first.
async fn prune(
    tx: &mut Db,
    set_id: i64,
    newest: i64,
    retention: Retention,
    now: i64,
) -> Result<Vec<i64>, AppError> {
    let below = newest - retention.versions_kept + 1;
    let before = now - retention.version_days * DAY;
    let doomed: Vec<i64> = tx
        .rows(PRUNE_CANDIDATES, &[&set_id, &below, &before], |r| r.get(0))
        .await?;
    if doomed.is_empty() {
        return Ok(doomed);
    }
    tx.execute(
        "DELETE FROM secret_versions WHERE set_id = $1 AND version + 0 < $2 AND at <= $3 \
         AND NOT EXISTS (SELECT 1 FROM deployment_revisions r \
             WHERE r.set_id = secret_versions.set_id AND r.set_version = secret_versions.version)",
        &[&set_id, &below, &before],
    )
    .await?;
    forget_unheld(tx, set_id).await?;
    Ok(doomed)
}

/// Removes every version of each of the organization's sets but its newest `keep`
/// (and those a kept deployment revision was taken from), with the values no kept
/// version holds; how many versions went.
pub(crate) async fn prune_org(tx: &mut Db, org_id: i64, keep: i64, now: i64) -> Result<usize, AppError> {
    let sets: Vec<(i64, i64)> = tx
        .rows(
            "SELECT id, revision FROM secret_sets WHERE org_id = $1 ORDER BY id FOR UPDATE",
            &[&org_id],
            |r| (r.get(0), r.get(1)),
        )
        .await?;
    let retention = Retention {
        versions_kept: keep,
        version_days: 0,
        deleted_days: 0,
    };
    let mut pruned = 0;
    for (set_id, newest) in sets {
        pruned += prune(tx, set_id, newest, retention, now + 1).await?.len();
    }
    Ok(pruned)
}

/// Deletes the set's replaced values that no kept version holds.
async fn forget_unheld(tx: &mut Db, set_id: i64) -> Result<(), AppError> {
    let gone = tx
        .rows(
            "DELETE FROM secret_history WHERE set_id = $1 AND until IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM secret_versions v WHERE v.set_id = secret_history.set_id \
                 AND v.version >= secret_history.since AND v.version < secret_history.until) \
             RETURNING org_id, value_len",
            &[&set_id],
            |r| (r.get::<i64>(0), r.get::<i64>(1)),
        )
        .await?;
    if let Some(&(org_id, _)) = gone.first() {
        add_usage(
            tx,
            org_id,
            -gone.iter().map(|(_, l)| l + SEAL_OVERHEAD).sum::<i64>(),
        )
        .await?;
    }
    Ok(())
}

/// What a sealed value keeps beyond its length: its nonce and tag.
const SEAL_OVERHEAD: i64 = 40;

/// Adds `bytes` (negative: removes) to the history the organization keeps.
async fn add_usage(tx: &mut Db, org_id: i64, bytes: i64) -> Result<(), AppError> {
    if bytes == 0 {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO org_usage (org_id, history_bytes) VALUES ($1, $2) \
         ON CONFLICT (org_id) DO UPDATE SET history_bytes = org_usage.history_bytes + excluded.history_bytes",
        &[&org_id, &bytes],
    )
    .await?;
    Ok(())
}

/// Counts one more set version of the organization on UTC day `day`, and answers what
/// it keeps and makes, for its quotas: the bytes of sealed values in its history, and
/// the versions it made that day (this one included). One statement on one row.
pub(crate) async fn count_version(tx: &mut Db, org_id: i64, day: i64) -> Result<(i64, i64), AppError> {
    Ok(tx
        .query_one(
            "INSERT INTO org_usage (org_id, day, versions) VALUES ($1, $2, 1) \
             ON CONFLICT (org_id) DO UPDATE SET \
                 versions = CASE WHEN org_usage.day = excluded.day THEN org_usage.versions + 1 ELSE 1 END, \
                 day = excluded.day \
             RETURNING history_bytes, versions",
            &[&org_id, &day],
        )
        .await
        .map(|r| (r.get(0), r.get(1)))?)
}

/// A value of some version, sealed for the set name `sealed_for`.
#[derive(Clone)]
pub(crate) struct HeldValue {
    pub key: String,
    pub sealed_for: String,
    pub sealed: Vec<u8>,
    pub mac: ValueMac,
    pub value_len: usize,
}

/// A key and its value's MAC: what a version or a set now holds, for comparing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMac {
    pub key: String,
    pub mac: ValueMac,
}

impl std::fmt::Debug for HeldValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HeldValue({})", self.key)
    }
}

/// Whether version `version` of set `set_id` is kept.
pub(crate) async fn version_kept(tx: &mut Db, set_id: i64, version: i64) -> Result<bool, AppError> {
    Ok(tx
        .opt_value::<i64>(
            "SELECT version FROM secret_versions WHERE set_id = $1 AND version = $2",
            &[&set_id, &version],
        )
        .await?
        .is_some())
}

const AT_VERSION: &str = "FROM secret_history WHERE set_id = $1 AND since <= $2 \
     AND (until IS NULL OR until > $2)";

/// The values of version `version` of set `set_id`, by key.
pub(crate) async fn values_at(tx: &mut Db, set_id: i64, version: i64) -> Result<Vec<HeldValue>, AppError> {
    Ok(tx
        .rows(
            &format!(
                "SELECT key, sealed_for, sealed, value_mac, value_len {AT_VERSION} ORDER BY key COLLATE \"C\""
            ),
            &[&set_id, &version],
            |r| HeldValue {
                key: r.get(0),
                sealed_for: r.get(1),
                sealed: r.get(2),
                mac: r.get(3),
                value_len: r.get::<i64>(4) as usize,
            },
        )
        .await?)
}

/// The current keys of set `set_id` with their values' MACs.
pub(crate) async fn prints_now(tx: &mut Db, set_id: i64) -> Result<Vec<KeyMac>, AppError> {
    Ok(tx
        .rows(
            "SELECT key, value_mac FROM secrets WHERE set_id = $1 ORDER BY key COLLATE \"C\"",
            &[&set_id],
            key_print,
        )
        .await?)
}

fn key_print(r: &Row) -> KeyMac {
    KeyMac {
        key: r.get(0),
        mac: r.get(1),
    }
}

fn lines(text: String) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

/// The live set's `(id, revision)`.
pub(crate) async fn live_set(tx: &mut Db, org_id: i64, set: &str) -> Result<Option<(i64, i64)>, AppError> {
    Ok(tx
        .row(
            "SELECT id, revision FROM secret_sets WHERE org_id = $1 AND name = $2",
            &[&org_id, &set],
            |r| (r.get(0), r.get(1)),
        )
        .await?)
}

/// The set's row as a deleted set keeps it.
pub(crate) struct Deleting<'a> {
    pub id: i64,
    pub org_id: i64,
    pub revision: i64,
    pub protected: bool,
    pub deleted_by: &'a str,
    pub now: i64,
}

/// Moves a live set (its row locked) to the recently deleted: its keys stay in its
/// history, its row and current values go.
pub(crate) async fn delete_set(tx: &mut Db, d: &Deleting<'_>) -> Result<(), AppError> {
    tx.execute(
        "INSERT INTO deleted_sets (id, org_id, name, revision, protected, created_at, key_count, \
         deleted_at, deleted_by) \
         SELECT s.id, s.org_id, s.name, $2, $3, s.created_at, \
             (SELECT COUNT(*) FROM secrets k WHERE k.set_id = s.id), $4, $5 \
         FROM secret_sets s WHERE s.id = $1 AND s.org_id = $6",
        &[&d.id, &d.revision, &d.protected, &d.now, &d.deleted_by, &d.org_id],
    )
    .await?;
    tx.execute(
        "DELETE FROM secret_sets WHERE id = $1 AND org_id = $2",
        &[&d.id, &d.org_id],
    )
    .await?;
    Ok(())
}

/// Deleted sets (of one organization, or all) whose retention has run out.
pub(crate) async fn expired(
    tx: &mut Db,
    org_id: Option<i64>,
    now: i64,
    retention: Retention,
) -> Result<Vec<(i64, i64)>, AppError> {
    let before = now - retention.deleted_days * DAY;
    Ok(tx
        .rows(
            "SELECT org_id, id FROM deleted_sets WHERE deleted_at <= $1 \
             AND (CAST($2 AS BIGINT) IS NULL OR org_id = $2) ORDER BY id",
            &[&before, &org_id],
            |r| (r.get(0), r.get(1)),
        )
        .await?)
}

/// Removes every trace of deleted set `id` but the audit log: its entry, its versions
/// and values, and the environments of kept deployment revisions taken from it (those
/// revisions go with them, except a deployment's current one: a set in use cannot be
/// deleted, so that does not happen, and if it ever did the deployment keeps running). Its name, if there was such a deleted set.
pub(crate) async fn purge(tx: &mut Db, org_id: i64, id: i64) -> Result<Option<String>, AppError> {
    let Some(name) = tx
        .opt_value::<String>(
            "DELETE FROM deleted_sets WHERE org_id = $1 AND id = $2 RETURNING name",
            &[&org_id, &id],
        )
        .await?
    else {
        return Ok(None);
    };
    // A deployment's current revision is never taken away, whatever it was built from.
    const NOT_CURRENT: &str = "NOT EXISTS (SELECT 1 FROM deployments d \
         WHERE d.id = r.deployment_id AND d.revision = r.revision)";
    tx.execute(
        &format!(
            "DELETE FROM deployment_env WHERE EXISTS (SELECT 1 FROM deployment_revisions r \
             WHERE r.deployment_id = deployment_env.deployment_id AND r.revision = deployment_env.revision \
             AND r.set_id = $1 AND {NOT_CURRENT})"
        ),
        &[&id],
    )
    .await?;
    tx.execute(
        &format!("DELETE FROM deployment_revisions AS r WHERE r.set_id = $1 AND {NOT_CURRENT}"),
        &[&id],
    )
    .await?;
    let gone: Vec<i64> = tx
        .rows(
            "DELETE FROM secret_history WHERE org_id = $1 AND set_id = $2 RETURNING value_len",
            &[&org_id, &id],
            |r| r.get(0),
        )
        .await?;
    add_usage(tx, org_id, -gone.iter().map(|l| l + SEAL_OVERHEAD).sum::<i64>()).await?;
    tx.execute(
        "DELETE FROM secret_versions WHERE org_id = $1 AND set_id = $2",
        &[&org_id, &id],
    )
    .await?;
    Ok(Some(name))
}

/// A deleted set's row, removed from the deleted list (for restoring it).
pub(crate) struct Undeleting {
    pub id: i64,
    pub name: String,
    pub revision: i64,
    pub protected: bool,
    pub created_at: i64,
}

/// Takes deleted set `id` off the deleted list, if it is there and not expired.
pub(crate) async fn take_deleted(
    tx: &mut Db,
    org_id: i64,
    id: i64,
    now: i64,
    retention: Retention,
) -> Result<Option<Undeleting>, AppError> {
    let before = now - retention.deleted_days * DAY;
    let row = tx
        .row(
            "SELECT id, name, revision, protected, created_at FROM deleted_sets \
             WHERE org_id = $1 AND id = $2 AND deleted_at > $3 FOR UPDATE",
            &[&org_id, &id, &before],
            |r| Undeleting {
                id: r.get(0),
                name: r.get(1),
                revision: r.get(2),
                protected: r.get(3),
                created_at: r.get(4),
            },
        )
        .await?;
    if row.is_some() {
        tx.execute("DELETE FROM deleted_sets WHERE id = $1", &[&id])
            .await?;
    }
    Ok(row)
}

/// Puts a deleted set's row back under `name` at revision `revision`; false if a
/// live set has that name.
pub(crate) async fn revive(
    tx: &mut Db,
    org_id: i64,
    set: &Undeleting,
    name: &str,
    revision: i64,
    now: i64,
) -> Result<bool, AppError> {
    Ok(tx
        .execute(
            "INSERT INTO secret_sets (id, org_id, name, revision, created_at, updated_at, protected) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (org_id, name) DO NOTHING",
            &[
                &set.id,
                &org_id,
                &name,
                &revision,
                &set.created_at,
                &now,
                &set.protected,
            ],
        )
        .await?
        > 0)
}

/// A deployment revision as recorded.
pub(crate) struct RevisionRecord<'a> {
    pub deployment_id: i64,
    pub revision: i64,
    pub spec: &'a DeploymentSpec,
    /// The set (id, version) its environment was taken from.
    pub set: Option<(i64, i64)>,
    pub at: i64,
    pub actor: &'a str,
    pub rollback_of: Option<i64>,
}

/// Records a deployment revision's settings.
pub(crate) async fn record_revision(tx: &mut Db, r: &RevisionRecord<'_>) -> Result<(), AppError> {
    let (set_id, set_version) = (r.set.map(|s| s.0), r.set.map(|s| s.1));
    tx.execute(
        "INSERT INTO deployment_revisions (deployment_id, revision, image, secret_set, set_id, \
         set_version, pull_secret, region, min_agents, max_agents, at, actor, rollback_of) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        &[
            &r.deployment_id,
            &r.revision,
            &r.spec.image,
            &r.spec.secret_set,
            &set_id,
            &set_version,
            &r.spec.pull_secret,
            &r.spec.region,
            &r.spec.min_agents,
            &r.spec.max_agents,
            &r.at,
            &r.actor,
            &r.rollback_of,
        ],
    )
    .await?;
    Ok(())
}

const REVISION_COLUMNS: &str = "r.revision, r.image, r.secret_set, r.set_version, r.pull_secret, \
     r.region, r.min_agents, r.max_agents, r.at, r.actor, r.rollback_of, \
     (SELECT COUNT(*) FROM deployment_env e WHERE e.deployment_id = r.deployment_id \
         AND e.revision = r.revision), r.set_id";

fn revision(r: &Row) -> DeploymentRevision {
    DeploymentRevision {
        revision: r.get(0),
        image: r.get(1),
        secret_set: r.get(2),
        set_version: r.get(3),
        pull_secret: r.get(4),
        region: r.get(5),
        min_agents: r.get(6),
        max_agents: r.get(7),
        at: r.get(8),
        actor: r.get(9),
        rollback_of: r.get(10),
        keys: r.get(11),
    }
}

/// Revision `n` of deployment `deployment_id` with the id of the set it was taken from.
pub(crate) async fn revision_of(
    tx: &mut Db,
    deployment_id: i64,
    n: i64,
) -> Result<Option<(DeploymentRevision, Option<i64>)>, AppError> {
    Ok(tx
        .row(
            &format!("SELECT {REVISION_COLUMNS} FROM deployment_revisions r WHERE r.deployment_id = $1 AND r.revision = $2"),
            &[&deployment_id, &n],
            |r| (revision(r), r.get(12)),
        )
        .await?)
}

/// Copies revision `from`'s environment, sealed bytes as they are, to revision `to`.
pub(crate) async fn copy_env(tx: &mut Db, deployment_id: i64, from: i64, to: i64) -> Result<(), AppError> {
    tx.execute(
        "INSERT INTO deployment_env (deployment_id, revision, key, set_name, sealed, value_mac) \
         SELECT deployment_id, $3, key, set_name, sealed, value_mac FROM deployment_env \
         WHERE deployment_id = $1 AND revision = $2",
        &[&deployment_id, &from, &to],
    )
    .await?;
    Ok(())
}

impl Store {
    /// The versions of the organization's set `set`, newest first; `None` if there is
    /// no such set.
    pub async fn set_versions(
        &self,
        org_id: i64,
        set: &str,
        below: Option<i64>,
        limit: u32,
    ) -> Result<Option<crate::model::VersionPage>, AppError> {
        let mut tx = self.read().await?;
        let Some((id, _)) = live_set(&mut tx, org_id, set).await? else {
            return Ok(None);
        };
        let limit = limit.clamp(1, crate::model::MAX_PAGE_SIZE) as usize;
        let mut versions = tx
            .rows(
                "SELECT version, at, actor, source, action, detail, added, changed, removed \
                 FROM secret_versions WHERE set_id = $1 AND (CAST($2 AS BIGINT) IS NULL OR version < $2) \
                 ORDER BY version DESC LIMIT $3",
                &[&id, &below, &(limit as i64 + 1)],
                |r| SetVersion {
                    version: r.get(0),
                    at: r.get(1),
                    actor: r.get(2),
                    source: r.get(3),
                    action: r.get(4),
                    detail: r.get(5),
                    added: lines(r.get(6)),
                    changed: lines(r.get(7)),
                    removed: lines(r.get(8)),
                },
            )
            .await?;
        let next = (versions.len() > limit).then(|| {
            versions.truncate(limit);
            versions[limit - 1].version
        });
        let numbers = tx
            .rows(
                "SELECT version FROM secret_versions WHERE set_id = $1 ORDER BY version DESC",
                &[&id],
                |r| r.get(0),
            )
            .await?;
        tx.commit().await?;
        Ok(Some(crate::model::VersionPage {
            versions,
            next,
            numbers,
        }))
    }

    /// The keys and MACs of version `version` of set `set`: `Ok(None)` if the
    /// set is missing, `Ok(Some(None))` if the version is not kept.
    pub async fn set_version_keys(
        &self,
        org_id: i64,
        set: &str,
        version: i64,
    ) -> Result<Option<Option<Vec<KeyMac>>>, AppError> {
        let mut tx = self.read().await?;
        let Some((id, _)) = live_set(&mut tx, org_id, set).await? else {
            return Ok(None);
        };
        if !version_kept(&mut tx, id, version).await? {
            return Ok(Some(None));
        }
        let keys = tx
            .rows(
                &format!("SELECT key, value_mac {AT_VERSION} ORDER BY key COLLATE \"C\""),
                &[&id, &version],
                key_print,
            )
            .await?;
        tx.commit().await?;
        Ok(Some(Some(keys)))
    }

    /// The organization's deleted sets not yet purged, newest deletion first.
    pub async fn deleted_sets(
        &self,
        org_id: i64,
        now: i64,
        retention: Retention,
    ) -> Result<Vec<DeletedSet>, AppError> {
        let before = now - retention.deleted_days * DAY;
        self.rows(
            "SELECT d.id, d.name, d.deleted_at, d.deleted_by, d.key_count, d.protected, \
             EXISTS (SELECT 1 FROM secret_sets s WHERE s.org_id = d.org_id AND s.name = d.name) \
             FROM deleted_sets d WHERE d.org_id = $1 AND d.deleted_at > $2 \
             ORDER BY d.deleted_at DESC, d.id DESC",
            &[&org_id, &before],
            |r| DeletedSet {
                id: r.get(0),
                name: r.get(1),
                deleted_at: r.get(2),
                deleted_by: r.get(3),
                keys: r.get(4),
                protected: r.get(5),
                name_taken: r.get(6),
                purge_at: r.get::<i64>(2) + retention.deleted_days * DAY,
            },
        )
        .await
    }

    /// The kept revisions of the organization's deployment `name`, newest first;
    /// `None` if there is no such deployment.
    pub async fn deployment_revisions(
        &self,
        org_id: i64,
        name: &str,
    ) -> Result<Option<Vec<DeploymentRevision>>, AppError> {
        let mut tx = self.read().await?;
        let Some(id) = tx
            .opt_value::<i64>(
                "SELECT id FROM deployments WHERE org_id = $1 AND name = $2",
                &[&org_id, &name],
            )
            .await?
        else {
            return Ok(None);
        };
        let list = tx
            .rows(
                &format!(
                    "SELECT {REVISION_COLUMNS} FROM deployment_revisions r WHERE r.deployment_id = $1 \
                     ORDER BY r.revision DESC"
                ),
                &[&id],
                revision,
            )
            .await?;
        tx.commit().await?;
        Ok(Some(list))
    }
}

impl Store {
    /// The places in the organization holding a value with MAC `mac` (the full MAC
    /// decides: no value is opened): sets now, kept set versions (of live and deleted
    /// sets) and kept deployment revisions, found through the MAC indexes, in that
    /// order, at most `limit` of them; and how many there are in all.
    pub(crate) async fn places_with(
        &self,
        org_id: i64,
        mac: &ValueMac,
        limit: usize,
    ) -> Result<(Vec<crate::model::Place>, usize), AppError> {
        use crate::model::Place;
        let place = |kind: &str| Place {
            kind: kind.to_owned(),
            set: None,
            key: String::new(),
            version: None,
            deployment: None,
            revision: None,
            deleted: false,
        };
        const IN_SETS: &str = "FROM secrets k JOIN secret_sets s ON s.id = k.set_id \
             WHERE k.org_id = $1 AND k.value_mac = $2";
        const IN_VERSIONS: &str = "FROM secret_history h \
             JOIN secret_versions v ON v.set_id = h.set_id AND v.version >= h.since \
                 AND (h.until IS NULL OR v.version < h.until) \
             LEFT JOIN secret_sets s ON s.id = h.set_id LEFT JOIN deleted_sets d ON d.id = h.set_id \
             WHERE h.org_id = $1 AND h.value_mac = $2 AND COALESCE(s.name, d.name) IS NOT NULL";
        const IN_DEPLOYMENTS: &str = "FROM deployment_env e JOIN deployments d ON d.id = e.deployment_id \
             WHERE d.org_id = $1 AND e.value_mac = $2";
        let mut tx = self.read().await?;
        let mut total = 0usize;
        for from in [IN_SETS, IN_VERSIONS, IN_DEPLOYMENTS] {
            let n: i64 = tx
                .value(&format!("SELECT COUNT(*) {from}"), &[&org_id, mac])
                .await?;
            total += n as usize;
        }
        let left = |out: &Vec<Place>| (limit.saturating_sub(out.len())) as i64;
        let mut out = tx
            .rows(
                &format!("SELECT s.name, k.key {IN_SETS} ORDER BY s.name COLLATE \"C\", k.key COLLATE \"C\" LIMIT $3"),
                &[&org_id, mac, &(limit as i64)],
                |r| Place {
                    set: Some(r.get(0)),
                    key: r.get(1),
                    ..place("set")
                },
            )
            .await?;
        let n = left(&out);
        out.extend(
            tx.rows(
                &format!(
                    "SELECT COALESCE(s.name, d.name), h.key, v.version, d.id IS NOT NULL {IN_VERSIONS} \
                     ORDER BY 1, h.key, v.version LIMIT $3"
                ),
                &[&org_id, mac, &n],
                |r| Place {
                    set: Some(r.get(0)),
                    key: r.get(1),
                    version: Some(r.get(2)),
                    deleted: r.get(3),
                    ..place("set_version")
                },
            )
            .await?,
        );
        let n = left(&out);
        out.extend(
            tx.rows(
                &format!(
                    "SELECT d.name, e.revision, e.key, e.set_name {IN_DEPLOYMENTS} \
                     ORDER BY d.name COLLATE \"C\", e.revision, e.key LIMIT $3"
                ),
                &[&org_id, mac, &n],
                |r| Place {
                    deployment: Some(r.get(0)),
                    revision: Some(r.get(1)),
                    key: r.get(2),
                    set: Some(r.get(3)),
                    ..place("deployment_revision")
                },
            )
            .await?,
        );
        tx.commit().await?;
        Ok((out, total))
    }
}

#[cfg(test)]
mod tests {
    use super::PRUNE_CANDIDATES;

    /// Every write looks for versions to prune: that read must come from the time
    /// index, so that it reads the few old versions, not the set's whole history.
    #[tokio::test]
    async fn prune_reads_versions_by_time() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let store = crate::store::open(&url, 1).await.unwrap();
        let mut db = store.conn().await.unwrap();
        let plan: Vec<String> = db
            .rows(
                &format!("EXPLAIN QUERY PLAN {PRUNE_CANDIDATES}"),
                &[&1i64, &10i64, &0i64],
                |r| r.get(3),
            )
            .await
            .unwrap();
        let plan = plan.join("\n");
        assert!(
            plan.contains("SEARCH v USING INDEX secret_versions_at (set_id=? AND at<?)"),
            "{plan}"
        );
    }
}
