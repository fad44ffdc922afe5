//! REST API v1: JSON over `Authorization: Bearer <token>`. Organizations a token does not
//! belong to answer 404, exactly like missing ones.

use crate::domain::auth::bearer_principal;
use crate::domain::history;
use crate::domain::principal::Principal;
use crate::domain::secrets;
use crate::domain::state::AppState;
use crate::error::AppError;
use crate::model::rfc3339;
use crate::rest_types as body;
use crate::validate::{parse_pairs, validate_pairs, version_number, ResourceName};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};

/// Largest request body the API reads. Values are capped per set well below this; the
/// headroom is for JSON escaping.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The body limit of a control request (a restore naming keys, a rollback, an
/// invitation): a set's worth of key names fits many times over.
pub const CONTROL_BODY_BYTES: usize = 128 * 1024;

/// The body limit of a request carrying one value (a check, a find): the largest value
/// written as JSON escapes, and room for the rest.
pub const ONE_VALUE_BODY_BYTES: usize = 8 * crate::validate::VALUE_MAX_BYTES;

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (
            status,
            Json(body::ErrorBody {
                error: self.to_string(),
                details: self.details(),
            }),
        )
            .into_response();
        if let AppError::RateLimited(wait) | AppError::LookupLimited(wait) | AppError::Busy(wait) = self {
            res.headers_mut().insert(header::RETRY_AFTER, wait.into());
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        res
    }
}

/// Every path of the REST API, in the order the router is built from. Tests probe the
/// real router at each of them for its methods, so a route cannot be added without
/// appearing in their authorization tables.
pub const PATHS: &[&str] = &[
    "/api/v1/orgs",
    "/api/v1/orgs/{org}/secrets",
    "/api/v1/orgs/{org}/secrets/{set}",
    "/api/v1/orgs/{org}/secrets/{set}/{key}",
    "/api/v1/orgs/{org}/secret-versions/{set}",
    "/api/v1/orgs/{org}/secret-versions/{set}/{version}",
    "/api/v1/orgs/{org}/secret-restores",
    "/api/v1/orgs/{org}/secret-versions-prune",
    "/api/v1/orgs/{org}/secrets-compare",
    "/api/v1/orgs/{org}/secret-checks",
    "/api/v1/orgs/{org}/secrets-find",
    "/api/v1/orgs/{org}/deleted-secrets",
    "/api/v1/orgs/{org}/deleted-secrets/{id}",
    "/api/v1/orgs/{org}/deleted-secrets/{id}/restore",
    "/api/v1/orgs/{org}/image-pull-secrets",
    "/api/v1/orgs/{org}/image-pull-secrets/{name}",
    "/api/v1/orgs/{org}/image-pull-secrets/{name}/dockerconfigjson",
    "/api/v1/orgs/{org}/deployments",
    "/api/v1/orgs/{org}/deployments/{name}",
    "/api/v1/orgs/{org}/deployments/{name}/redeploy",
    "/api/v1/orgs/{org}/deployments/{name}/runtime-token",
    "/api/v1/orgs/{org}/deployments/{name}/revisions",
    "/api/v1/orgs/{org}/deployments/{name}/rollback",
    "/api/v1/orgs/{org}/tokens",
    "/api/v1/orgs/{org}/tokens/{id}",
    "/api/v1/orgs/{org}/members",
    "/api/v1/orgs/{org}/members/{email}",
    "/api/v1/orgs/{org}/invites",
    "/api/v1/orgs/{org}/invites/{id}",
    "/api/v1/orgs/{org}/audit",
    "/api/v1/runtime/env",
    "/api/v1/whoami",
];

/// The handlers of one path of [`PATHS`].
fn handlers(path: &str) -> axum::routing::MethodRouter<AppState> {
    use axum::routing::patch;
    match path {
        "/api/v1/orgs" => post(create_org),
        "/api/v1/orgs/{org}/secrets" => get(list_sets),
        "/api/v1/orgs/{org}/secrets/{set}" => get(get_set).put(put_set).patch(patch_set).delete(delete_set),
        "/api/v1/orgs/{org}/secrets/{set}/{key}" => delete(unset_key),
        "/api/v1/orgs/{org}/secret-versions/{set}" => get(list_versions),
        "/api/v1/orgs/{org}/secret-versions/{set}/{version}" => get(get_version),
        "/api/v1/orgs/{org}/secret-restores" => post(restore_set),
        "/api/v1/orgs/{org}/secret-versions-prune" => post(prune_versions),
        "/api/v1/orgs/{org}/secrets-compare" => get(compare_sides).post(compare_values),
        "/api/v1/orgs/{org}/secret-checks" => post(check_value),
        "/api/v1/orgs/{org}/secrets-find" => post(find_value),
        "/api/v1/orgs/{org}/deleted-secrets" => get(list_deleted),
        "/api/v1/orgs/{org}/deleted-secrets/{id}" => delete(purge_deleted),
        "/api/v1/orgs/{org}/deleted-secrets/{id}/restore" => post(undelete),
        "/api/v1/orgs/{org}/image-pull-secrets" => get(list_pull_secrets).post(create_pull_secret),
        "/api/v1/orgs/{org}/image-pull-secrets/{name}" => delete(delete_pull_secret),
        "/api/v1/orgs/{org}/image-pull-secrets/{name}/dockerconfigjson" => get(export_pull_secret),
        "/api/v1/orgs/{org}/deployments" => get(list_deployments),
        "/api/v1/orgs/{org}/deployments/{name}" => {
            get(get_deployment).put(put_deployment).delete(delete_deployment)
        }
        "/api/v1/orgs/{org}/deployments/{name}/redeploy" => post(redeploy),
        "/api/v1/orgs/{org}/deployments/{name}/runtime-token" => post(rotate_runtime_token),
        "/api/v1/orgs/{org}/deployments/{name}/revisions" => get(list_revisions),
        "/api/v1/orgs/{org}/deployments/{name}/rollback" => post(rollback),
        "/api/v1/orgs/{org}/tokens" => get(list_tokens).post(create_token),
        "/api/v1/orgs/{org}/tokens/{id}" => delete(revoke_token),
        "/api/v1/orgs/{org}/members" => get(list_members),
        "/api/v1/orgs/{org}/members/{email}" => patch(change_member).delete(remove_member),
        "/api/v1/orgs/{org}/invites" => get(list_invites).post(create_invite),
        "/api/v1/orgs/{org}/invites/{id}" => delete(revoke_invite),
        "/api/v1/orgs/{org}/audit" => get(list_audit),
        "/api/v1/runtime/env" => get(runtime_env),
        "/api/v1/whoami" => get(whoami),
        // A path listed without handlers answers 405 to everything.
        _ => axum::routing::MethodRouter::new(),
    }
}

pub fn routes() -> Router<AppState> {
    PATHS
        .iter()
        .fold(Router::new(), |router, path| router.route(path, handlers(path)))
}

/// `{"name"}`: a new organization owned by the token's user.
async fn create_org(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let who = bearer_principal(&state, &headers).await?;
    let new: body::NewOrg = small_json(body, r#"{"name":"acme"}"#).await?;
    let org = crate::domain::orgs::create_org(&state, &who, &new.name).await?;
    let created = body::OrgCreated {
        name: org.name,
        role: crate::model::Role::Owner,
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Who the token belongs to and which organization it is for (the CLI's default org).
async fn whoami(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<body::WhoAmI>, AppError> {
    let who = bearer_principal(&state, &headers).await?;
    Ok(Json(body::WhoAmI {
        email: who.email,
        org: who.org.name,
        role: who.role,
    }))
}

async fn authorize(state: &AppState, headers: &HeaderMap, org: &str) -> Result<Principal, AppError> {
    let who = bearer_principal(state, headers).await?;
    if who.org.name != org {
        return Err(AppError::NotFound(format!("organization \"{org}\" not found")));
    }
    Ok(who)
}

/// `If-Match: <revision>` (bare or as an ETag, `"3"`); `*` or no header: any revision.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, AppError> {
    let Some(raw) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = raw.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text.trim_start_matches("W/").trim_matches('"');
    bare.parse::<i64>().map(Some).map_err(|_| {
        AppError::validation(crate::validate::FieldError {
            field: "if-match".into(),
            message: format!("If-Match must be a set revision such as \"3\", not {text:?}"),
        })
    })
}

fn with_etag(revision: i64, mut res: Response) -> Response {
    if let Ok(v) = header::HeaderValue::from_str(&format!("\"{revision}\"")) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// `?limit=&after=&q=` of a list: a page of at most `limit` names after `after` that
/// contain `q`.
#[derive(serde::Deserialize)]
struct PageParams {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

impl PageParams {
    fn query(self) -> Result<crate::model::ListQuery, AppError> {
        use crate::model::{API_PAGE_SIZE, MAX_PAGE_SIZE};
        let limit = match self.limit.as_deref() {
            None | Some("") => API_PAGE_SIZE,
            Some(l) => l
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                .ok_or_else(|| {
                    AppError::validation(crate::validate::FieldError {
                        field: "limit".into(),
                        message: format!("limit must be a whole number from 1 to {MAX_PAGE_SIZE}"),
                    })
                })?,
        };
        Ok(crate::model::ListQuery {
            q: self.q,
            after: self.after.filter(|a| !a.is_empty()),
            limit,
        })
    }
}

async fn list_sets(
    State(state): State<AppState>,
    Path(org): Path<String>,
    axum::extract::Query(page): axum::extract::Query<PageParams>,
    headers: HeaderMap,
) -> Result<Json<body::SetList>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let page = crate::domain::secrets::page(&state, &who, &page.query()?).await?;
    Ok(Json(body::SetList {
        sets: page.sets.iter().map(Into::into).collect(),
        next: page.next,
    }))
}

async fn get_set(
    State(state): State<AppState>,
    Path((org, set)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let detail = secrets::detail(&state, &who, &set).await?;
    Ok(with_etag(
        detail.revision,
        Json(body::SetBody::from(&detail)).into_response(),
    ))
}

async fn put_set(
    State(state): State<AppState>,
    Path((org, set)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    // Who may write comes before any look at the body.
    secrets::may_change(&who)?;
    let name = ResourceName::parse(&set)?;
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| AppError::TooLarge(format!("the request body is over {MAX_BODY_BYTES} bytes")))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    // Reading up to 8 MiB of pairs is CPU work: off the async workers.
    let pairs = secrets::off_workers(move || pairs_of(&bytes, &content_type)).await?;
    let result = secrets::write(&state, &who, &name, pairs, if_match(&headers)?).await?;
    let detail = secrets::detail(&state, &who, name.as_str()).await?;
    let mut set = body::SetBody::from(&detail);
    set.revision = result.revision;
    let written = body::SetWritten {
        set,
        created: result.created,
        added: result.added,
        updated: result.updated,
    };
    let status = if result.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(with_etag(
        result.revision,
        (status, Json(written)).into_response(),
    ))
}

/// `{"protected": true|false}`: admins mark a set protected or not.
async fn patch_set(
    State(state): State<AppState>,
    Path((org, set)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    who.require(crate::model::Role::Admin, "protecting secret sets")?;
    let body: body::PatchSet = small_json(body, r#"{"protected":true}"#).await?;
    secrets::protect(&state, &who, &set, body.protected).await?;
    let detail = secrets::detail(&state, &who, &set).await?;
    Ok(with_etag(
        detail.revision,
        Json(body::SetBody::from(&detail)).into_response(),
    ))
}

async fn delete_set(
    State(state): State<AppState>,
    Path((org, set)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    secrets::delete(&state, &who, &set).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unset_key(
    State(state): State<AppState>,
    Path((org, set, key)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let revision = secrets::unset(&state, &who, &set, &key, if_match(&headers)?).await?;
    Ok(with_etag(revision, StatusCode::NO_CONTENT.into_response()))
}

/// `?limit=&after=N`: versions older than N, newest first.
async fn list_versions(
    State(state): State<AppState>,
    Path((org, set)): Path<(String, String)>,
    axum::extract::Query(page): axum::extract::Query<PageParams>,
    headers: HeaderMap,
) -> Result<Json<body::VersionList>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let q = page.query()?;
    let below = match q.after.as_deref() {
        None => None,
        Some(a) => Some(version_number(a).map_err(|_| {
            AppError::validation(crate::validate::FieldError {
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

async fn get_version(
    State(state): State<AppState>,
    Path((org, set, version)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Json<body::VersionKeys>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let version = version_number(&version)?;
    let keys = history::side(&state, &who, &set, Some(version)).await?;
    Ok(Json(body::VersionKeys {
        version,
        keys: keys.iter().map(Into::into).collect(),
    }))
}

#[derive(serde::Deserialize)]
struct DryRun {
    #[serde(default)]
    dry_run: bool,
}

/// `{"set","version"[,"keys"]}` (with `If-Match`): restores a version of a set, or some
/// keys of it, as a new version; `?dry_run=true` only says what it would change.
async fn restore_set(
    State(state): State<AppState>,
    Path(org): Path<String>,
    axum::extract::Query(q): axum::extract::Query<DryRun>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    // The role first: a body is read only for someone who may restore (or preview).
    secrets::may_change(&who)?;
    let req: body::RestoreRequest = json_body(
        body,
        CONTROL_BODY_BYTES,
        r#"{"set":"prod","version":3,"keys":["API_KEY"]}"#,
    )
    .await?;
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
    secrets::may_change(&who)?;
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

#[derive(serde::Deserialize)]
struct Sides {
    #[serde(default)]
    a: String,
    #[serde(default)]
    b: String,
}

/// `?a=SIDE&b=SIDE` (`SET`, `SET@VERSION` or `deployment:NAME`): keys only in one side,
/// with the same value, with a different value.
async fn compare_sides(
    State(state): State<AppState>,
    Path(org): Path<String>,
    axum::extract::Query(q): axum::extract::Query<Sides>,
    headers: HeaderMap,
) -> Result<Json<crate::model::Comparison>, AppError> {
    use crate::domain::compare::{compare, Side};
    let who = authorize(&state, &headers, &org).await?;
    let (a, b) = (Side::parse("a", &q.a)?, Side::parse("b", &q.b)?);
    Ok(Json(compare(&state, &who, &a, &b).await?))
}

/// `{"a": SET, "secrets": [{"key","value"}]}`: the pairs compared with the set's values.
async fn compare_values(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<body::ValuesCompared>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    who.require(crate::model::Role::Member, "comparing values")?;
    let req: body::CompareValues = json_body(
        body,
        MAX_BODY_BYTES,
        r#"{"a":"prod","secrets":[{"key":"K","value":"V"}]}"#,
    )
    .await?;
    let pairs = validate_pairs(req.secrets.iter().map(|p| (p.key.as_str(), p.value.0.as_str())))?;
    let out = crate::domain::compare::compare_values(&state, &who, &req.a, pairs).await?;
    Ok(Json(body::ValuesCompared {
        set: req.a,
        same: out.same,
        different: out.different,
        missing: out.missing,
        extra: out.extra,
    }))
}

/// `{"set","key","value"}`: `{"match": true|false}`.
async fn check_value(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<body::Checked>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    who.require(crate::model::Role::Member, "comparing values")?;
    let req: body::CheckValue = json_body(
        body,
        ONE_VALUE_BODY_BYTES,
        r#"{"set":"prod","key":"K","value":"V"}"#,
    )
    .await?;
    let matches = crate::domain::compare::check(&state, &who, &req.set, &req.key, req.value.0).await?;
    Ok(Json(body::Checked { matches }))
}

/// `{"keep": N}` (owners): every set keeps only its newest N versions.
async fn prune_versions(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<body::Pruned>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    who.require(crate::model::Role::Owner, "pruning secret history")?;
    let req: body::Prune = small_json(body, r#"{"keep":10}"#).await?;
    let pruned = history::prune_now(&state, &who, req.keep).await?;
    Ok(Json(body::Pruned { pruned }))
}

/// `{"value"}` (admins): every place in the organization holding exactly that value.
async fn find_value(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<body::Found>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    who.require(crate::model::Role::Admin, "finding where a value is used")?;
    let req: body::FindValue =
        json_body(body, ONE_VALUE_BODY_BYTES, r#"{"value":"the leaked value"}"#).await?;
    let (places, total) = crate::domain::compare::find(&state, &who, req.value.0).await?;
    Ok(Json(body::Found { places, total }))
}

async fn list_deleted(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Result<Json<body::DeletedList>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let deleted = history::deleted(&state, &who).await?;
    Ok(Json(body::DeletedList {
        deleted: deleted.iter().map(Into::into).collect(),
    }))
}

fn deleted_id(text: &str) -> Result<i64, AppError> {
    text.parse().map_err(|_| history::deleted_not_found_text(text))
}

/// `{}` or `{"name":"new"}`: restores a deleted set, under its old name or a new one.
async fn undelete(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    who.require(crate::model::Role::Member, "restoring deleted secret sets")?;
    let id = deleted_id(&id)?;
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map_err(|_| AppError::TooLarge("the request body is over 64 KiB".into()))?;
    let req: body::Undelete = if bytes.iter().all(u8::is_ascii_whitespace) {
        body::Undelete::default()
    } else {
        parse_json(&bytes, r#"{"name":"new-name"}"#)?
    };
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

async fn purge_deleted(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    who.require(crate::model::Role::Owner, "purging deleted secret sets")?;
    history::purge(&state, &who, deleted_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_revisions(
    State(state): State<AppState>,
    Path((org, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<body::RevisionList>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let current = crate::domain::deployments::detail(&state, &who, &name).await?;
    let list = crate::domain::deployments::revisions(&state, &who, &name).await?;
    let revision = current.summary.revision;
    Ok(Json(body::RevisionList {
        name,
        revision,
        revisions: list
            .iter()
            .map(|r| body::RevisionItem::new(r, revision))
            .collect(),
    }))
}

/// `{"revision": n}`: a new revision that serves revision n again.
async fn rollback(
    State(state): State<AppState>,
    Path((org, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<body::RolledBack>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    who.require(crate::model::Role::Member, "changing deployments")?;
    let req: body::Rollback = small_json(body, r#"{"revision":3}"#).await?;
    let revision = crate::domain::deployments::rollback(&state, &who, &name, req.revision).await?;
    Ok(Json(body::RolledBack {
        name,
        revision,
        rolled_back_to: req.revision,
    }))
}

async fn list_pull_secrets(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Result<Json<body::PullSecretList>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let list = crate::domain::pull_secrets::list(&state, &who).await?;
    Ok(Json(body::PullSecretList {
        image_pull_secrets: list.iter().map(Into::into).collect(),
    }))
}

async fn create_pull_secret(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    who.require(crate::model::Role::Admin, "managing image pull secrets")?;
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map_err(|_| AppError::TooLarge("the request body is over 64 KiB".into()))?;
    let body: body::NewPullSecret = serde_json::from_slice(&bytes).map_err(|e| {
        AppError::validation(crate::validate::FieldError {
            field: "body".into(),
            message: format!(
                "the body must be JSON like {{\"name\":\"n\",\"registry\":\"ghcr.io\",\"username\":\"u\",\"password\":\"p\"}} \
                 (problem at line {}, column {})",
                e.line(),
                e.column()
            ),
        })
    })?;
    let encode = body.auth.is_none();
    let auth = body.auth.map(|a| a.0).unwrap_or_default();
    let new = crate::domain::pull_secrets::validate_new(
        &body.name,
        &body.registry,
        &body.username,
        &body.password.0,
        &auth,
        encode,
    )?;
    let (created, _) = crate::domain::pull_secrets::create(&state, &who, new, false).await?;
    Ok((StatusCode::CREATED, Json(body::PullSecretItem::from(&created))).into_response())
}

async fn delete_pull_secret(
    State(state): State<AppState>,
    Path((org, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    crate::domain::pull_secrets::delete(&state, &who, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn export_pull_secret(
    State(state): State<AppState>,
    Path((org, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let json = crate::domain::pull_secrets::export(&state, &who, &name).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

async fn list_deployments(
    State(state): State<AppState>,
    Path(org): Path<String>,
    axum::extract::Query(page): axum::extract::Query<PageParams>,
    headers: HeaderMap,
) -> Result<Json<body::DeploymentList>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let page = crate::domain::deployments::page(&state, &who, &page.query()?).await?;
    Ok(Json(body::DeploymentList {
        deployments: page.deployments.iter().map(Into::into).collect(),
        next: page.next,
    }))
}

async fn get_deployment(
    State(state): State<AppState>,
    Path((org, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<body::DeploymentBody>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let d = crate::domain::deployments::detail(&state, &who, &name).await?;
    Ok(Json(body::DeploymentBody {
        deployment: (&d.summary).into(),
        env: d.env.iter().map(|k| body::KeyItem::new(k, false)).collect(),
        since_revision: body::SinceRevision {
            added: d.added,
            removed: d.removed,
            changed: d.changed,
        },
    }))
}

/// JSON ([`body::PutDeployment`]): the fields and optionally `pcc_deploy_toml` (the
/// file's text), whose values the fields override. `application/toml` or `text/plain`:
/// the file alone.
async fn put_deployment(
    State(state): State<AppState>,
    Path((org, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    use crate::deploy_spec::{merge_spec, parse_deploy_file, DeployFields};
    use crate::domain::deployments::deploy;
    let who = authorize(&state, &headers, &org).await?;
    who.require(crate::model::Role::Member, "changing deployments")?;
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map_err(|_| AppError::TooLarge("the request body is over 64 KiB".into()))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let (file, fields) = if content_type.starts_with("application/json") {
        let body: body::PutDeployment = serde_json::from_slice(&bytes).map_err(|e| {
            AppError::validation(crate::validate::FieldError {
                field: "body".into(),
                message: format!("the body must be a JSON object of deployment fields ({e})"),
            })
        })?;
        let file = body
            .pcc_deploy_toml
            .as_deref()
            .map(parse_deploy_file)
            .transpose()?;
        (file, body.fields)
    } else {
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            AppError::validation(crate::validate::FieldError {
                field: "body".into(),
                message: "pcc-deploy.toml must be UTF-8 text".into(),
            })
        })?;
        (Some(parse_deploy_file(text)?), DeployFields::default())
    };
    let spec = merge_spec(&name, file, fields)?;
    let outcome = deploy(&state, &who, &spec).await?;
    let d = crate::domain::deployments::detail(&state, &who, &name).await?;
    let mut deployment = body::DeploymentItem::from(&d.summary);
    deployment.revision = outcome.revision;
    let deployed = body::Deployed {
        deployment,
        created: outcome.created,
        runtime_token: outcome.runtime_token,
    };
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(deployed)).into_response())
}

async fn redeploy(
    State(state): State<AppState>,
    Path((org, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<body::Redeployed>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let revision = crate::domain::deployments::redeploy(&state, &who, &name).await?;
    Ok(Json(body::Redeployed { name, revision }))
}

async fn rotate_runtime_token(
    State(state): State<AppState>,
    Path((org, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<body::RuntimeToken>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let runtime_token = crate::domain::deployments::rotate_token(&state, &who, &name).await?;
    Ok(Json(body::RuntimeToken { name, runtime_token }))
}

async fn delete_deployment(
    State(state): State<AppState>,
    Path((org, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    crate::domain::deployments::delete(&state, &who, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The one route by which secret values leave the server: a deployment's runtime
/// token reads its current revision.
async fn runtime_env(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<body::RuntimeEnv>, AppError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| t.starts_with("ckd_"))
        .ok_or(AppError::Unauthorized)?;
    let (revision, env) = crate::domain::deployments::runtime_env(&state, token).await?;
    let env = env
        .iter()
        .map(|(k, v)| (k.clone(), v.expose().to_owned()))
        .collect();
    Ok(Json(body::RuntimeEnv { revision, env }))
}

/// The pairs of a `PUT …/secrets/{set}` body: `KEY=value` text or JSON.
fn pairs_of(bytes: &[u8], content_type: &str) -> Result<Vec<crate::validate::Pair>, AppError> {
    Ok(if content_type.starts_with("text/plain") {
        let text = std::str::from_utf8(bytes).map_err(|_| {
            AppError::validation(crate::validate::FieldError {
                field: "body".into(),
                message: "the body is not valid UTF-8 text".into(),
            })
        })?;
        parse_pairs(text)?
    } else if content_type.starts_with("application/json") {
        let body: body::PutSecrets = serde_json::from_slice(bytes).map_err(|e| {
            // serde's message could quote the input; say where, not what.
            AppError::validation(crate::validate::FieldError {
                field: "body".into(),
                message: format!(
                    "the body must be JSON like {{\"secrets\":[{{\"key\":\"K\",\"value\":\"V\"}}]}} \
                     (problem at line {}, column {})",
                    e.line(),
                    e.column()
                ),
            })
        })?;
        validate_pairs(body.secrets.iter().map(|p| (p.key.as_str(), p.value.0.as_str())))?
    } else {
        return Err(AppError::validation(crate::validate::FieldError {
            field: "content-type".into(),
            message: "send application/json or text/plain (KEY=value pairs)".into(),
        }));
    })
}

/// Reads a small JSON body into `T`, saying where it went wrong (never echoing it).
async fn small_json<T: serde::de::DeserializeOwned + Send + 'static>(
    body: Body,
    example: &str,
) -> Result<T, AppError> {
    json_body(body, 64 * 1024, example).await
}

/// A JSON body of at most `limit` bytes; refusals show `example`. A large body is
/// parsed off the async workers.
async fn json_body<T: serde::de::DeserializeOwned + Send + 'static>(
    body: Body,
    limit: usize,
    example: &str,
) -> Result<T, AppError> {
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| AppError::TooLarge(format!("the request body is over {limit} bytes")))?;
    if bytes.len() <= 64 * 1024 {
        return parse_json(&bytes, example);
    }
    let example = example.to_owned();
    secrets::off_workers(move || parse_json(&bytes, &example)).await
}

/// `bytes` as JSON; a refusal says where the problem is and shows `example`, never
/// quoting the input.
fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8], example: &str) -> Result<T, AppError> {
    serde_json::from_slice(bytes).map_err(|e| {
        AppError::validation(crate::validate::FieldError {
            field: "body".into(),
            message: format!(
                "the body must be JSON like {example} (problem at line {}, column {})",
                e.line(),
                e.column()
            ),
        })
    })
}

async fn list_tokens(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Result<Json<body::TokenList>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let tokens = crate::domain::orgs::tokens(&state, &who).await?;
    Ok(Json(body::TokenList {
        tokens: tokens.iter().map(Into::into).collect(),
    }))
}

async fn create_token(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    crate::domain::orgs::may_create_tokens(&who)?;
    let new: body::NewToken = small_json(body, r#"{"name":"ci"}"#).await?;
    let (id, token) = crate::domain::orgs::create_token(&state, &who, &new.name).await?;
    let created = body::TokenCreated {
        id,
        name: new.name.trim().to_owned(),
        role: who.role,
        token,
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn revoke_token(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let id = id
        .parse::<i64>()
        .map_err(|_| AppError::NotFound(format!("no API token {id} in \"{org}\"")))?;
    crate::domain::orgs::revoke_token(&state, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_members(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Result<Json<body::MemberList>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let members = crate::domain::orgs::members(&state, &who).await?;
    Ok(Json(body::MemberList {
        members: members.iter().map(Into::into).collect(),
    }))
}

async fn change_member(
    State(state): State<AppState>,
    Path((org, email)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<body::RoleChanged>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let body: body::RoleChange = small_json(body, r#"{"role":"member"}"#).await?;
    let role = crate::model::Role::parse(&body.role)?;
    crate::domain::orgs::change_role(&state, &who, &email, role).await?;
    Ok(Json(body::RoleChanged { email, role }))
}

async fn remove_member(
    State(state): State<AppState>,
    Path((org, email)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    crate::domain::orgs::remove_member(&state, &who, &email).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn create_invite(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    who.require(crate::model::Role::Admin, "managing members")?;
    let new: body::NewInvite = small_json(body, r#"{"email":"a@example.com","role":"member"}"#).await?;
    let role = crate::model::Role::parse(&new.role)?;
    let token = crate::domain::orgs::invite(&state, &who, &new.email, role).await?;
    let expires = crate::domain::now() + crate::domain::orgs::INVITE_TTL_SECS;
    let created = body::InviteCreated {
        email: new.email.trim().to_owned(),
        role,
        expires_at: rfc3339(expires),
        invite_url: crate::domain::orgs::invite_link(&state, &token),
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn list_invites(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Result<Json<body::InviteList>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let invites = crate::domain::orgs::invites(&state, &who).await?;
    Ok(Json(body::InviteList {
        invites: invites.iter().map(Into::into).collect(),
    }))
}

async fn revoke_invite(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let id = id
        .parse::<i64>()
        .map_err(|_| AppError::NotFound(format!("no pending invitation {id} in \"{org}\"")))?;
    crate::domain::orgs::revoke_invite(&state, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize, Default)]
struct AuditQuery {
    object: Option<String>,
    user: Option<String>,
    action: Option<String>,
    before: Option<i64>,
    since: Option<i64>,
    until: Option<i64>,
    limit: Option<usize>,
}

/// `?object=set:prod&user=a@example.com&action=secrets.&before=ID&since=UNIX&until=UNIX&limit=N`;
/// answers the entries and `next_before` for the next (older) page.
async fn list_audit(
    State(state): State<AppState>,
    Path(org): Path<String>,
    axum::extract::Query(q): axum::extract::Query<AuditQuery>,
    headers: HeaderMap,
) -> Result<Json<body::AuditPage>, AppError> {
    let who = authorize(&state, &headers, &org).await?;
    let filter = crate::model::AuditFilter {
        object: q.object,
        actor: q.user,
        action: q.action,
        before: q.before,
        since: q.since,
        until: q.until,
        limit: q.limit.unwrap_or(0),
    };
    let entries = crate::domain::audit::list(&state, &who, filter).await?;
    Ok(Json(body::AuditPage {
        next_before: entries.last().map(|e| e.id),
        entries: entries.iter().map(Into::into).collect(),
    }))
}
