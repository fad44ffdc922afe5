//! Upgrading stored value MACs: databases from before security round 3 stored 12 hex
//! characters of a MAC; each such row is recomputed from its sealed value, in batches,
//! by `domain::state::upgrade_macs` at start-up.

use super::db::Row;
use super::Store;
use super::ValueMac;
use crate::error::AppError;

/// Where a stored value lives, as its table identifies the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Secrets,
    History,
    DeploymentEnv,
}

impl Table {
    pub const ALL: [Table; 3] = [Table::Secrets, Table::History, Table::DeploymentEnv];

    /// Reads `(id, key, n, org, sealed for, sealed)` of rows with a short MAC, `$1` at most.
    fn select(self) -> &'static str {
        match self {
            Table::Secrets => {
                "SELECT k.set_id, k.key, 0, k.org_id, s.name, k.sealed FROM secrets k \
                 JOIN secret_sets s ON s.id = k.set_id WHERE length(k.value_mac) <> 64 LIMIT $1"
            }
            Table::History => {
                "SELECT set_id, key, since, org_id, sealed_for, sealed FROM secret_history \
                 WHERE length(value_mac) <> 64 LIMIT $1"
            }
            Table::DeploymentEnv => {
                "SELECT e.deployment_id, e.key, e.revision, d.org_id, e.set_name, e.sealed FROM deployment_env e \
                 JOIN deployments d ON d.id = e.deployment_id WHERE length(e.value_mac) <> 64 LIMIT $1"
            }
        }
    }

    /// Sets the MAC `$1` of the row (`$2` id, `$3` key, `$4` n).
    fn update(self) -> &'static str {
        match self {
            Table::Secrets => "UPDATE secrets SET value_mac = $1 WHERE set_id = $2 AND key = $3 AND 0 = $4",
            Table::History => {
                "UPDATE secret_history SET value_mac = $1 WHERE set_id = $2 AND key = $3 AND since = $4"
            }
            Table::DeploymentEnv => {
                "UPDATE deployment_env SET value_mac = $1 WHERE deployment_id = $2 AND key = $3 AND revision = $4"
            }
        }
    }
}

/// A stored value whose MAC is to be recomputed.
pub struct ShortMac {
    pub id: i64,
    pub key: String,
    pub n: i64,
    pub org_id: i64,
    /// The set name the value is sealed for.
    pub sealed_for: String,
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for ShortMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ShortMac({}, {})", self.id, self.key)
    }
}

fn short_mac(r: &Row) -> ShortMac {
    ShortMac {
        id: r.get(0),
        key: r.get(1),
        n: r.get(2),
        org_id: r.get(3),
        sealed_for: r.get(4),
        sealed: r.get(5),
    }
}

impl Store {
    /// Up to `limit` rows of `table` whose MAC is short.
    pub async fn short_macs(&self, table: Table, limit: i64) -> Result<Vec<ShortMac>, AppError> {
        self.rows(table.select(), &[&limit], short_mac).await
    }

    /// Stores recomputed MACs, in one transaction.
    pub async fn set_macs(&self, table: Table, rows: &[(&ShortMac, ValueMac)]) -> Result<(), AppError> {
        let mut tx = self.write().await?;
        for (row, mac) in rows {
            tx.execute(table.update(), &[mac, &row.id, &row.key, &row.n])
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
