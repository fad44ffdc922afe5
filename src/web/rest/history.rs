//! A set's history (versions, restores, pruning) and the recently deleted sets.

use super::extract::{if_match, with_etag, Caller, JsonBody, JsonExample, Query};
use super::{PageParams, CONTROL_BODY_BYTES};
use crate::domain::state::AppState;
use crate::domain::{history, secrets};
use crate::error::AppError;
use crate::rest_types as body;
use crate::validate::{version_number, FieldError, ResourceName};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

impl JsonExample for body::RestoreRequest {
    const EXAMPLE: &'static str = r#"{"set":"prod","version":3,"keys":["API_KEY"]}"#;
}

impl JsonExample for body::Prune {
    const EXAMPLE: &'static str = r#"{"keep":10}"#;
}

impl JsonExample for body::Undelete {
    const EXAMPLE: &'static str = r#"{"name":"new-name"}"#;
}

/// `?limit=&after=N`: versions older than N, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/secret-versions/{set}",
    tag = "history",
    params(("org" = String, Path, description = "The organization"),
        ("set" = String, Path, description = "The set's name", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("after" = Option<i64>, Query, description = "The `next` of the previous page: versions older than this", minimum = 1),
        ("limit" = Option<u32>, Query, description = "At most this many (default 100)", minimum = 1, maximum = 1000)),
    responses((status = 200, description = "A page of versions, newest first", body = body::VersionList,
        links(("next_page" = (operation_id = "list_versions",
            parameters(("org" = "$request.path.org"), ("set" = "$request.path.set"),
                ("after" = "$response.body#/next")),
            description = "The next (older) page (while `next` is not null)"))))),
)]
pub async fn list_versions(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, set)): Path<(String, String)>,
    Query(page): Query<PageParams>,
) -> Result<Json<body::VersionList>, AppError> {
    let q = page.query()?;
    let below = match q.after.as_deref() {
        None => None,
        Some(a) => Some(version_number(a).map_err(|_| {
            AppError::validation(FieldError {
                field: "after".into(),
                message: "after must be a version number".into(),
            })
        })?),
    };
    let page = history::versions(&state, &who, &set, below, q.limit).await?;
    Ok(Json(body::VersionList {
        versions: page.versions.iter().map(Into::into).collect(),
        next: page.next,
    }))
}

/// The keys of one version of a set with their fingerprints.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/secret-versions/{set}/{version}",
    tag = "history",
    params(("org" = String, Path, description = "The organization"),
        ("set" = String, Path, description = "The set's name", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("version" = i64, Path, description = "The version number", minimum = 1)),
    responses((status = 200, description = "The version's keys", body = body::VersionKeys)),
)]
pub async fn get_version(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, set, version)): Path<(String, String, String)>,
) -> Result<Json<body::VersionKeys>, AppError> {
    let version = version_number(&version)?;
    let keys = history::side(&state, &who, &set, Some(version)).await?;
    Ok(Json(body::VersionKeys {
        version,
        keys: keys.iter().map(Into::into).collect(),
    }))
}

/// `?dry_run=true`: only say what a restore would change.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DryRun {
    /// Only say what the restore would change.
    #[serde(default)]
    dry_run: bool,
}

/// `{"set","version"[,"keys"]}` (with `If-Match`): restores a version of a set, or some
/// keys of it, as a new version; `?dry_run=true` only says what it would change.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/secret-restores",
    tag = "history",
    params(("org" = String, Path, description = "The organization"), DryRun,
        ("If-Match" = Option<String>, Header, nullable = false, description = "Restore only at this revision of the set", pattern = r#"^\s*(\*|(W/)*"*[0-9]{1,18}"*)\s*$"#)),
    request_body = body::RestoreRequest,
    responses(
        (status = 200, description = "Restored (`RestoreDone`), or with `dry_run` the plan (`RestorePlan`)",
            content((body::RestoreDone = "application/json"), (body::RestorePlan = "application/json")),
            headers(("ETag" = String, description = "The set's new revision (not on a dry run)")),
            links(("read_set" = (operation_id = "get_set",
                parameters(("org" = "$request.path.org"), ("set" = "$request.body#/set")),
                description = "The restored set"))))),
)]
pub async fn restore_set(
    State(state): State<AppState>,
    Caller(who): Caller,
    Query(q): Query<DryRun>,
    headers: HeaderMap,
    body: JsonBody<body::RestoreRequest, CONTROL_BODY_BYTES>,
) -> Result<Response, AppError> {
    // The role first: a body is read only for someone who may restore (or preview).
    secrets::may_change(&who)?;
    let req = body.read().await?;
    if q.dry_run {
        let p = history::preview(&state, &who, &req.set, req.version, req.keys.as_deref()).await?;
        return Ok(Json(body::RestorePlan {
            set: p.set,
            version: p.version,
            revision: p.revision,
            added: p.added,
            changed: p.changed,
            removed: p.removed,
            deployments: p.deployments,
        })
        .into_response());
    }
    let name = ResourceName::parse(&req.set)?;
    let done = history::restore(
        &state,
        &who,
        &name,
        req.version,
        req.keys.as_deref(),
        if_match(&headers)?,
    )
    .await?;
    let detail = secrets::detail(&state, &who, name.as_str()).await?;
    let out = body::RestoreDone {
        set: body::SetBody::from(&detail),
        restored_from: req.version,
        added: done.added,
        changed: done.changed,
        removed: done.removed,
    };
    Ok(with_etag(detail.revision, Json(out).into_response()))
}

/// `{"keep": N}` (owners): every set keeps only its newest N versions.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/secret-versions-prune",
    tag = "history",
    params(("org" = String, Path, description = "The organization")),
    request_body = body::Prune,
    responses((status = 200, description = "How many versions went", body = body::Pruned)),
)]
pub async fn prune_versions(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: JsonBody<body::Prune>,
) -> Result<Json<body::Pruned>, AppError> {
    who.require(crate::model::Role::Owner, "pruning secret history")?;
    let req = body.read().await?;
    let pruned = history::prune_now(&state, &who, req.keep).await?;
    Ok(Json(body::Pruned { pruned }))
}

/// The recently deleted sets, which can still be restored.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/deleted-secrets",
    tag = "history",
    params(("org" = String, Path, description = "The organization")),
    responses((status = 200, description = "The deleted sets", body = body::DeletedList)),
)]
pub async fn list_deleted(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<body::DeletedList>, AppError> {
    let deleted = history::deleted(&state, &who).await?;
    Ok(Json(body::DeletedList {
        deleted: deleted.iter().map(Into::into).collect(),
    }))
}

fn deleted_id(text: &str) -> Result<i64, AppError> {
    text.parse().map_err(|_| history::deleted_not_found_text(text))
}

/// `{}` or `{"name":"new"}`: restores a deleted set, under its old name or a new one.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/deleted-secrets/{id}/restore",
    tag = "history",
    params(("org" = String, Path, description = "The organization"),
        ("id" = i64, Path, description = "The deleted set's id")),
    request_body(content = body::Undelete, description = "Optionally a new name; an empty body restores under the old one"),
    responses((status = 200, description = "The restored set", body = body::SetBody,
        headers(("ETag" = String, description = "The set's revision")),
        links(("read_set" = (operation_id = "get_set",
            parameters(("org" = "$request.path.org"), ("set" = "$response.body#/name")),
            description = "The restored set"))))),
)]
pub async fn undelete(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, id)): Path<(String, String)>,
    body: JsonBody<body::Undelete>,
) -> Result<Response, AppError> {
    who.require(crate::model::Role::Member, "restoring deleted secret sets")?;
    let id = deleted_id(&id)?;
    let req = body.read_or_default().await?;
    let new_name = req
        .name
        .as_deref()
        .map(|n| ResourceName::parse(n.trim()))
        .transpose()?;
    let name = history::undelete(&state, &who, id, new_name.as_ref()).await?;
    let detail = secrets::detail(&state, &who, &name).await?;
    Ok(with_etag(
        detail.revision,
        Json(body::SetBody::from(&detail)).into_response(),
    ))
}

/// Purges a deleted set for good (owners).
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/deleted-secrets/{id}",
    tag = "history",
    params(("org" = String, Path, description = "The organization"),
        ("id" = i64, Path, description = "The deleted set's id")),
    responses((status = 204, description = "Purged")),
)]
pub async fn purge_deleted(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    who.require(crate::model::Role::Owner, "purging deleted secret sets")?;
    history::purge(&state, &who, deleted_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
