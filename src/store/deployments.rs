//! Deployments, their revisions (sealed snapshots of a set) and runtime tokens.

use super::db::{Db, Row, ToArg};
use super::{RuntimeEnv, Store, StoredKey, TOKEN_LOCKED};
use crate::error::AppError;
use crate::model::{DeploymentSpec, DeploymentSummary};

/// A deployment as stored: its running revision's environment (keys and MACs, taken
/// from set `env_set`), its set's keys now, and whether either set is protected.
#[derive(Debug, Clone)]
pub struct StoredDeployment {
    pub summary: DeploymentSummary,
    pub env: Vec<StoredKey>,
    pub env_set: Option<String>,
    pub now: Vec<StoredKey>,
    pub protected: bool,
}

/// Names of the deployments whose `column` (secret_set or pull_secret) is `name`.
pub(crate) async fn users_of(
    tx: &mut Db,
    org_id: i64,
    column: &str,
    name: &str,
) -> Result<Vec<String>, AppError> {
    let sql = format!(
        "SELECT name FROM deployments WHERE org_id = $1 AND {column} = $2 ORDER BY name COLLATE \"C\""
    );
    Ok(tx.rows(&sql, &[&org_id, &name], |r| r.get(0)).await?)
}

const DEPLOYMENT_COLUMNS: &str = "d.name, d.image, d.secret_set, d.pull_secret, d.region, d.min_agents, \
     d.max_agents, d.revision, d.created_at, d.deployed_at, \
     (d.secret_set IS NOT NULL AND d.set_revision IS DISTINCT FROM (SELECT s.revision FROM secret_sets s \
        WHERE s.org_id = d.org_id AND s.name = d.secret_set)), d.rotate_token";

fn deployment(r: &Row) -> DeploymentSummary {
    DeploymentSummary {
        spec: DeploymentSpec {
            name: r.get(0),
            image: r.get(1),
            secret_set: r.get(2),
            pull_secret: r.get(3),
            region: r.get(4),
            min_agents: r.get(5),
            max_agents: r.get(6),
        },
        revision: r.get(7),
        created_at: r.get(8),
        deployed_at: r.get(9),
        needs_redeploy: r.get(10),
        rotate_token: r.get(11),
    }
}

fn key_info(r: &Row) -> StoredKey {
    StoredKey {
        key: r.get(0),
        mac: r.get(1),
        updated_at: r.get(2),
    }
}

/// Whether the pull secret exists, locked (shared) so it cannot be deleted under a deploy.
pub(crate) async fn lock_pull_secret(tx: &mut Db, org_id: i64, name: &str) -> Result<bool, AppError> {
    let sql = "SELECT 1 FROM image_pull_secrets WHERE org_id = $1 AND name = $2 FOR SHARE";
    Ok(tx.opt_value::<i64>(sql, &[&org_id, &name]).await?.is_some())
}

/// The deployment's id, without locking it.
pub(crate) async fn id_of(tx: &mut Db, org_id: i64, name: &str) -> Result<Option<i64>, AppError> {
    Ok(tx
        .opt_value(
            "SELECT id FROM deployments WHERE org_id = $1 AND name = $2",
            &[&org_id, &name],
        )
        .await?)
}

/// The deployment's `(id, revision)`, locked for the rest of the transaction.
pub(crate) async fn lock(tx: &mut Db, org_id: i64, name: &str) -> Result<Option<(i64, i64)>, AppError> {
    Ok(tx
        .row(
            "SELECT id, revision FROM deployments WHERE org_id = $1 AND name = $2 FOR UPDATE",
            &[&org_id, &name],
            |r| (r.get(0), r.get(1)),
        )
        .await?)
}

/// The protected set the deployment uses now, if it uses one.
pub(crate) async fn protected_set_used(
    tx: &mut Db,
    org_id: i64,
    name: &str,
) -> Result<Option<String>, AppError> {
    Ok(tx
        .opt_value(
            "SELECT d.secret_set FROM deployments d JOIN secret_sets s \
             ON s.org_id = d.org_id AND s.name = d.secret_set \
             WHERE d.org_id = $1 AND d.name = $2 AND s.protected",
            &[&org_id, &name],
        )
        .await?)
}

/// A protected set that deployment `name` uses or that one of its kept revisions was
/// taken from, if any.
pub(crate) async fn protected_set_in_history(
    tx: &mut Db,
    org_id: i64,
    name: &str,
) -> Result<Option<String>, AppError> {
    Ok(tx
        .opt_value(
            "SELECT s.name FROM deployments d JOIN secret_sets s ON s.org_id = d.org_id AND s.protected \
             AND (s.name = d.secret_set OR s.name IN (SELECT r.secret_set FROM deployment_revisions r \
                  WHERE r.deployment_id = d.id)) \
             WHERE d.org_id = $1 AND d.name = $2 ORDER BY s.name LIMIT 1",
            &[&org_id, &name],
        )
        .await?)
}

/// Deletes deployment `name` with all its revisions (the caller locked it).
pub(crate) async fn delete(tx: &mut Db, org_id: i64, name: &str) -> Result<(), AppError> {
    tx.execute(
        "DELETE FROM deployments WHERE org_id = $1 AND name = $2",
        &[&org_id, &name],
    )
    .await?;
    Ok(())
}

/// The columns of `spec` after its name, in table order.
fn spec_args(spec: &DeploymentSpec) -> [&dyn ToArg; 6] {
    [
        &spec.image,
        &spec.secret_set,
        &spec.pull_secret,
        &spec.region,
        &spec.min_agents,
        &spec.max_agents,
    ]
}

/// Points an existing deployment at `spec` as revision `revision`.
pub(crate) async fn update(
    tx: &mut Db,
    id: i64,
    spec: &DeploymentSpec,
    revision: i64,
    set_revision: Option<i64>,
    now: i64,
) -> Result<(), AppError> {
    tx.execute(
        "UPDATE deployments SET image = $2, secret_set = $3, pull_secret = $4, region = $5, \
         min_agents = $6, max_agents = $7, revision = $8, set_revision = $9, deployed_at = $10 WHERE id = $1",
        &[
            &[&id as &dyn ToArg],
            &spec_args(spec)[..],
            &[&revision, &set_revision, &now],
        ]
        .concat(),
    )
    .await?;
    Ok(())
}

/// A new deployment at revision 1 whose runtime token (`token_hash`) `actor` sees; its
/// id, or `None` if another transaction created one of that name first.
pub(crate) async fn insert(
    tx: &mut Db,
    org_id: i64,
    spec: &DeploymentSpec,
    set_revision: Option<i64>,
    token_hash: &[u8],
    (now, actor): (i64, i64),
) -> Result<Option<i64>, AppError> {
    let inserted = tx
        .query_one(
            "INSERT INTO deployments (org_id, name, image, secret_set, pull_secret, region, \
             min_agents, max_agents, revision, set_revision, runtime_token_hash, created_at, \
             deployed_at, token_seen_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $11, $11, $12) RETURNING id",
            &[
                &[&org_id as &dyn ToArg, &spec.name],
                &spec_args(spec)[..],
                &[&set_revision, &token_hash, &now, &actor],
            ]
            .concat(),
        )
        .await;
    match inserted {
        Ok(row) => Ok(Some(row.get(0))),
        Err(e) if e.is_unique_violation() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Records revision `revision`'s environment: a copy of set `set_id`'s sealed values;
/// then [`forget_old`].
pub(crate) async fn snapshot(
    tx: &mut Db,
    id: i64,
    revision: i64,
    set: Option<(i64, &str)>,
    keep: i64,
) -> Result<(), AppError> {
    if let Some((set_id, set_name)) = set {
        tx.execute(
            "INSERT INTO deployment_env (deployment_id, revision, key, set_name, sealed, value_mac) \
             SELECT $1, $2, key, $3, sealed, value_mac FROM secrets WHERE set_id = $4",
            &[&id, &revision, &set_name, &set_id],
        )
        .await?;
    }
    forget_old(tx, id, revision, keep).await
}

/// After revision `revision`: forgets the revisions older than the newest `keep`, and
/// flags the runtime token for rotation if the deployment now uses a protected set
/// while someone below admin holds it.
pub(crate) async fn forget_old(tx: &mut Db, id: i64, revision: i64, keep: i64) -> Result<(), AppError> {
    let oldest_gone = revision - keep.max(1);
    tx.execute(
        "DELETE FROM deployment_env WHERE deployment_id = $1 AND revision <= $2",
        &[&id, &oldest_gone],
    )
    .await?;
    tx.execute(
        "DELETE FROM deployment_revisions WHERE deployment_id = $1 AND revision <= $2",
        &[&id, &oldest_gone],
    )
    .await?;
    // Pointed at a protected set while someone below admin holds the token.
    tx.execute(
        &format!("UPDATE deployments AS d SET rotate_token = TRUE WHERE d.id = $1 AND {TOKEN_LOCKED}"),
        &[&id],
    )
    .await?;
    Ok(())
}

/// The set the deployment uses (`None` outside: the deployment is missing), its row
/// locked when `lock`.
pub(crate) async fn set_of(
    tx: &mut Db,
    org_id: i64,
    name: &str,
    lock: bool,
) -> Result<Option<Option<String>>, AppError> {
    let sql = "SELECT secret_set FROM deployments WHERE org_id = $1 AND name = $2";
    let sql = if lock {
        format!("{sql} FOR UPDATE")
    } else {
        sql.to_owned()
    };
    Ok(tx.opt_value(&sql, &[&org_id, &name]).await?)
}

/// Whether the set is protected, locked (shared) so protecting it waits for us.
pub(crate) async fn set_protected_shared(tx: &mut Db, org_id: i64, set: &str) -> Result<bool, AppError> {
    let sql = "SELECT protected FROM secret_sets WHERE org_id = $1 AND name = $2 FOR SHARE";
    Ok(tx.opt_value(sql, &[&org_id, &set]).await?.unwrap_or(false))
}

/// Replaces the runtime token, now seen by `actor`, and clears its rotation flag.
pub(crate) async fn replace_token(
    tx: &mut Db,
    org_id: i64,
    name: &str,
    token_hash: &[u8],
    actor: i64,
) -> Result<(), AppError> {
    tx.execute(
        "UPDATE deployments SET runtime_token_hash = $3, token_seen_by = $4, rotate_token = FALSE \
         WHERE org_id = $1 AND name = $2",
        &[&org_id, &name, &token_hash, &actor],
    )
    .await?;
    Ok(())
}

impl Store {
    /// (pull secret, deployment) for each of the organization's deployments that uses a
    /// pull secret, by deployment name: two columns, not whole deployments.
    pub async fn pull_secret_users(&self, org_id: i64) -> Result<Vec<(String, String)>, AppError> {
        self.rows(
            "SELECT pull_secret, name FROM deployments WHERE org_id = $1 AND pull_secret IS NOT NULL \
             ORDER BY name COLLATE \"C\"",
            &[&org_id],
            |r| (r.get(0), r.get(1)),
        )
        .await
    }

    /// One page of the organization's deployments, by name (see [`crate::model::ListQuery`]).
    pub async fn deployment_page(
        &self,
        org_id: i64,
        q: &crate::model::ListQuery,
    ) -> Result<crate::model::DeploymentPage, AppError> {
        let Some(page) = self
            .name_page("deployment", "deployments", "d", org_id, q)
            .await?
        else {
            return Ok(crate::model::DeploymentPage::default());
        };
        let rows = self
            .rows(
                &page.sql(DEPLOYMENT_COLUMNS),
                &page.args(&org_id, &q.after),
                deployment,
            )
            .await?;
        let (deployments, next) = super::page_cut(rows, q, |d| d.spec.name.clone());
        Ok(crate::model::DeploymentPage { deployments, next })
    }

    /// The deployments of secret set `set`, by name.
    pub async fn deployments_using(
        &self,
        org_id: i64,
        set: &str,
    ) -> Result<Vec<DeploymentSummary>, AppError> {
        let sql = format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments d WHERE d.org_id = $1 AND d.secret_set = $2 \
             ORDER BY d.name COLLATE \"C\""
        );
        self.rows(&sql, &[&org_id, &set], deployment).await
    }

    /// One deployment with its revision's env keys and its set's keys now (one snapshot).
    pub async fn get_deployment(
        &self,
        org_id: i64,
        name: &str,
    ) -> Result<Option<StoredDeployment>, AppError> {
        let mut tx = self.read().await?;
        let sql = format!(
            "SELECT {DEPLOYMENT_COLUMNS}, d.id FROM deployments d WHERE d.org_id = $1 AND d.name = $2"
        );
        let Some(row) = tx.query_opt(&sql, &[&org_id, &name]).await? else {
            return Ok(None);
        };
        let summary = deployment(&row);
        let id: i64 = row.get(12);
        let mut env_set = None;
        let env = tx
            .rows(
                "SELECT e.key, e.value_mac, d.deployed_at, e.set_name FROM deployment_env e \
                 JOIN deployments d ON d.id = e.deployment_id \
                 WHERE e.deployment_id = $1 AND e.revision = $2 ORDER BY e.key COLLATE \"C\"",
                &[&id, &summary.revision],
                |r| (key_info(r), r.get::<String>(3)),
            )
            .await?
            .into_iter()
            .map(|(k, set)| {
                env_set.get_or_insert(set);
                k
            })
            .collect::<Vec<_>>();
        let now = match &summary.spec.secret_set {
            Some(set) => tx
                .rows("SELECT k.key, k.value_mac, k.updated_at FROM secrets k JOIN secret_sets s ON s.id = k.set_id \
                     WHERE s.org_id = $1 AND s.name = $2 ORDER BY k.key COLLATE \"C\"",
                    &[&org_id, set], key_info).await?,
            None => Vec::new(),
        };
        // Protected if the set its environment came from, or the set it is configured
        // with, is protected now.
        let protected = tx
            .opt_value::<i64>(
                "SELECT 1 FROM secret_sets WHERE org_id = $1 AND protected AND name IN ($2, $3)",
                &[&org_id, &env_set, &summary.spec.secret_set],
            )
            .await?
            .is_some();
        tx.commit().await?;
        Ok(Some(StoredDeployment {
            summary,
            env,
            env_set,
            now,
            protected,
        }))
    }

    /// What the holder of a runtime token may read, or `None` for an unknown token.
    pub async fn runtime_env(&self, token_hash: &[u8]) -> Result<Option<RuntimeEnv>, AppError> {
        let mut tx = self.read().await?;
        let sql = format!(
            "SELECT d.id, d.org_id, o.name, d.name, d.revision, \
             CASE WHEN {TOKEN_LOCKED} THEN COALESCE(d.secret_set, '') END FROM deployments d \
             JOIN orgs o ON o.id = d.org_id WHERE d.runtime_token_hash = $1"
        );
        let Some(row) = tx.query_opt(&sql, &[&token_hash]).await? else {
            return Ok(None);
        };
        let (id, revision): (i64, i64) = (row.get(0), row.get(4));
        let entries = tx
            .rows("SELECT key, set_name, sealed FROM deployment_env WHERE deployment_id = $1 AND revision = $2 \
                 ORDER BY key COLLATE \"C\"",
                &[&id, &revision], |r| (r.get(0), r.get(1), r.get(2))).await?;
        tx.commit().await?;
        Ok(Some(RuntimeEnv {
            org_id: row.get(1),
            org: row.get(2),
            deployment: row.get(3),
            revision,
            locked_by: row.get(5),
            entries,
        }))
    }
}
