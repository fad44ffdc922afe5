//! Server functions for history: set versions and restores, recently deleted sets,
//! deployment revisions and rollback. None of them carries a value.

use crate::error::AppError;
use crate::model::{DeletedSet, DeploymentRevision, KeyPrint, RestorePreview, WriteOutcome};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::{finish, set_url};

/// The history page of a set.
pub fn history_url(org: &str, set: &str) -> String {
    super::org_url(org, &format!("/secret-versions/{set}"))
}

/// The page of one version of a set.
pub fn version_url(org: &str, set: &str, version: i64) -> String {
    super::org_url(org, &format!("/secret-versions/{set}/{version}"))
}

/// The recently deleted sets.
pub fn deleted_url(org: &str) -> String {
    super::org_url(org, "/deleted-secrets")
}

/// The set's versions, newest first.
#[server(endpoint = "list_set_versions")]
pub async fn list_set_versions(
    org: String,
    set: String,
    before: Option<i64>,
) -> Result<crate::model::VersionPage, AppError> {
    let (state, who) = crate::domain::auth::caller(&org).await?;
    crate::domain::history::versions(&state, &who, &set, before, crate::model::PAGE_SIZE).await
}

/// The keys and fingerprints of one version of a set (`None`: the set now).
#[server(endpoint = "get_set_version")]
pub async fn get_set_version(
    org: String,
    set: String,
    version: Option<i64>,
) -> Result<Vec<KeyPrint>, AppError> {
    let (state, who) = crate::domain::auth::caller(&org).await?;
    crate::domain::history::side(&state, &who, &set, version).await
}

/// What restoring version `version` (only `key`, when given) would change now.
#[server(endpoint = "preview_restore")]
pub async fn preview_restore(
    org: String,
    set: String,
    version: i64,
    #[server(default)] key: String,
) -> Result<RestorePreview, AppError> {
    let (state, who) = crate::domain::auth::caller(&org).await?;
    let keys = (!key.is_empty()).then(|| vec![key]);
    crate::domain::history::preview(&state, &who, &set, version, keys.as_deref()).await
}

/// Restores version `version` of a set (only `key`, when given) as a new version, if
/// the set is still at `revision`.
#[server(endpoint = "restore_set")]
pub async fn restore_set(
    org: String,
    set: String,
    version: String,
    #[server(default)] revision: Option<i64>,
    #[server(default)] key: String,
) -> Result<WriteOutcome, AppError> {
    let n = version.trim().parse::<i64>().unwrap_or(0);
    let mut back = version_url(&org, &set, n);
    if !key.is_empty() {
        back = super::with_param(&back, "key", &key);
    }
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        crate::domain::secrets::may_change(&who)?;
        let version = crate::validate::version_number(&version).map_err(AppError::validation)?;
        let name = crate::validate::ResourceName::parse(&set)?;
        let keys = (!key.is_empty()).then(|| vec![key.clone()]);
        let done =
            crate::domain::history::restore(&state, &who, &name, version, keys.as_deref(), revision).await?;
        Ok(WriteOutcome {
            redirect: set_url(&org, &set),
            notice: restore_notice(&set, version, &done),
            set: set.clone(),
            added: done.added,
            updated: done.changed,
            ..Default::default()
        })
    }
    .await;
    finish(result, &back)
}

#[cfg(feature = "ssr")]
fn restore_notice(set: &str, version: i64, done: &crate::domain::history::Restored) -> String {
    let mut parts = Vec::new();
    for (what, keys) in [
        ("added back", &done.added),
        ("changed back", &done.changed),
        ("removed", &done.removed),
    ] {
        if !keys.is_empty() {
            parts.push(format!("{what} {}", keys.join(", ")));
        }
    }
    if parts.is_empty() {
        return format!("\"{set}\" already holds those values of version {version}: nothing changed.");
    }
    let mut notice = format!(
        "Restored \"{set}\" from version {version} as version {}: {}.",
        done.revision,
        parts.join("; ")
    );
    if !done.deployments.is_empty() {
        notice.push_str(&format!(
            " Redeploy {} to use the restored values.",
            done.deployments.join(", ")
        ));
    }
    notice
}

/// The organization's recently deleted sets.
#[server(endpoint = "list_deleted_sets")]
pub async fn list_deleted_sets(org: String) -> Result<Vec<DeletedSet>, AppError> {
    let (state, who) = crate::domain::auth::caller(&org).await?;
    crate::domain::history::deleted(&state, &who).await
}

/// Restores a deleted set, under `name` when given (else its old name).
#[server(endpoint = "undelete_set")]
pub async fn undelete_set(
    org: String,
    id: String,
    #[server(default)] name: String,
) -> Result<WriteOutcome, AppError> {
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        let id = id
            .trim()
            .parse::<i64>()
            .map_err(|_| crate::domain::history::deleted_not_found_text(&id))?;
        let new_name = match name.trim() {
            "" => None,
            n => Some(crate::validate::ResourceName::parse(n)?),
        };
        let restored = crate::domain::history::undelete(&state, &who, id, new_name.as_ref()).await?;
        Ok(WriteOutcome {
            redirect: set_url(&org, &restored),
            notice: format!("Restored secret set \"{restored}\" with its keys and history."),
            set: restored,
            ..Default::default()
        })
    }
    .await;
    finish(result, &deleted_url(&org))
}

/// Purges a deleted set now (owners only): its values leave the database.
#[server(endpoint = "purge_set")]
pub async fn purge_set(org: String, id: String) -> Result<WriteOutcome, AppError> {
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        who.require(crate::model::Role::Owner, "purging deleted secret sets")?;
        let id = id
            .trim()
            .parse::<i64>()
            .map_err(|_| crate::domain::history::deleted_not_found_text(&id))?;
        let name = crate::domain::history::purge(&state, &who, id).await?;
        Ok(WriteOutcome {
            redirect: deleted_url(&org),
            notice: format!("Purged \"{name}\": its values and history are gone for good."),
            set: name,
            ..Default::default()
        })
    }
    .await;
    finish(result, &deleted_url(&org))
}

/// The deployment's kept revisions, newest first.
#[server(endpoint = "list_deployment_revisions")]
pub async fn list_deployment_revisions(
    org: String,
    name: String,
) -> Result<Vec<DeploymentRevision>, AppError> {
    let (state, who) = crate::domain::auth::caller(&org).await?;
    crate::domain::deployments::revisions(&state, &who, &name).await
}

/// Makes a new revision of the deployment that serves revision `revision` again.
#[server(endpoint = "rollback_deployment")]
pub async fn rollback_deployment(
    org: String,
    name: String,
    revision: String,
) -> Result<WriteOutcome, AppError> {
    let back = super::deployment_url(&org, &name);
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        let to = crate::validate::version_number(&revision).map_err(AppError::validation)?;
        let new = crate::domain::deployments::rollback(&state, &who, &name, to).await?;
        Ok(WriteOutcome {
            redirect: super::deployment_url(&org, &name),
            notice: format!("Rolled \"{name}\" back to revision {to}: it runs as revision {new} now."),
            set: name.clone(),
            ..Default::default()
        })
    }
    .await;
    finish(result, &back)
}

/// The page comparing two sides (sets, set versions, deployments).
pub fn compare_url(org: &str) -> String {
    super::org_url(org, "/secrets-compare")
}

/// Two sides compared by fingerprint: `SET`, `SET@VERSION` or `deployment:NAME`.
#[server(endpoint = "compare_sets")]
pub async fn compare_sets(org: String, a: String, b: String) -> Result<crate::model::Comparison, AppError> {
    use crate::domain::compare::{compare, Side};
    let (state, who) = crate::domain::auth::caller(&org).await?;
    let (a, b) = (Side::parse("a", &a)?, Side::parse("b", &b)?);
    compare(&state, &who, &a, &b).await
}

/// The page that finds where a value lives.
pub fn find_url(org: &str) -> String {
    super::org_url(org, "/secrets-find")
}

/// What a search found, carried to the one page view that shows it (see
/// [`super::reveal_once`]): the places, as many as fit in a cookie, and how many in all.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct FoundPlaces {
    pub total: usize,
    pub places: Vec<crate::model::Place>,
}

/// Prefix of the one-shot cookie value that carries [`FoundPlaces`].
pub const FOUND_PREFIX: &str = "found:";

/// The places a search left for this page view, if any.
pub fn take_found() -> Option<FoundPlaces> {
    let raw = super::take_revealed(FOUND_PREFIX)?;
    let bytes = crate::validate::base64_decode(raw.strip_prefix(FOUND_PREFIX)?)?;
    serde_json::from_slice(&bytes).ok()
}

/// Finds every place holding exactly `value` (admins); the find page shows them once.
#[server(endpoint = "find_value")]
pub async fn find_value(org: String, value: crate::model::Concealed) -> Result<WriteOutcome, AppError> {
    let result = async {
        let (state, who) = crate::domain::auth::caller(&org).await?;
        let (mut places, total) = crate::domain::compare::find(&state, &who, value.0).await?;
        // As many as fit in a cookie (the API and the CLI list up to 1,000): every place
        // takes at most its own JSON length plus a comma, so one pass finds the cut.
        let room = (super::FLASH_MAX_BYTES - FOUND_PREFIX.len()) / 4 * 3 - 160;
        let mut used = 0;
        let fit = places
            .iter()
            .take_while(|p| {
                used += serde_json::to_string(p).map_or(usize::MAX / 2, |j| j.len() + 1);
                used <= room
            })
            .count();
        places.truncate(fit);
        let found = FoundPlaces { total, places };
        let json = serde_json::to_string(&found).unwrap_or_default();
        let cookie = format!(
            "{FOUND_PREFIX}{}",
            crate::validate::base64_encode(json.as_bytes())
        );
        super::reveal_once(&find_url(&org), &cookie);
        Ok(WriteOutcome {
            redirect: find_url(&org),
            ..Default::default()
        })
    }
    .await;
    finish(result, &find_url(&org))
}
