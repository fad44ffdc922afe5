//! Secret sets: list, read, write (JSON or `KEY=value` text), protect, delete, unset a key.

use super::extract::{if_match, parse_json, with_etag, Caller, JsonBody, JsonExample, Query, RawBody};
use super::{PageParams, MAX_BODY_BYTES};
use crate::domain::secrets;
use crate::domain::state::AppState;
use crate::error::AppError;
use crate::rest_types as body;
use crate::validate::{parse_pairs, validate_pairs, FieldError, ResourceName};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

impl JsonExample for body::PutSecrets {
    const EXAMPLE: &'static str = r#"{"secrets":[{"key":"K","value":"V"}]}"#;
}

impl JsonExample for body::PatchSet {
    const EXAMPLE: &'static str = r#"{"protected":true}"#;
}

/// A page of the organization's sets by name.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/secrets",
    tag = "secret sets",
    params(("org" = String, Path, description = "The organization"), PageParams),
    responses((status = 200, description = "A page of sets", body = body::SetList,
        links(("next_page" = (operation_id = "list_sets",
            parameters(("org" = "$request.path.org"), ("after" = "$response.body#/next")),
            description = "The next page (while `next` is not null)"))))),
)]
pub async fn list_sets(
    State(state): State<AppState>,
    Caller(who): Caller,
    Query(page): Query<PageParams>,
) -> Result<Json<body::SetList>, AppError> {
    let page = secrets::page(&state, &who, &page.query()?).await?;
    Ok(Json(body::SetList {
        sets: page.sets.iter().map(Into::into).collect(),
        next: page.next,
    }))
}

/// A set's keys and fingerprints (never its values); `ETag` is its revision.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/secrets/{set}",
    tag = "secret sets",
    params(("org" = String, Path, description = "The organization"),
        ("set" = String, Path, description = "The set's name", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "The set", body = body::SetBody,
        headers(("ETag" = String, description = "The set's revision, for `If-Match`")))),
)]
pub async fn get_set(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, set)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let detail = secrets::detail(&state, &who, &set).await?;
    Ok(with_etag(
        detail.revision,
        Json(body::SetBody::from(&detail)).into_response(),
    ))
}

/// Adds or changes keys of a set (creating it): JSON, or `KEY=value` lines as
/// `text/plain`. With `If-Match`, only at that revision.
#[utoipa::path(
    put,
    path = "/api/v1/orgs/{org}/secrets/{set}",
    tag = "secret sets",
    params(("org" = String, Path, description = "The organization"),
        ("set" = String, Path, description = "The set's name", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Write only at this revision (`\"3\"`, `3` or `*`)", pattern = r#"^\s*(\*|(W/)*"*[0-9]{1,18}"*)\s*$"#)),
    request_body(description = "The pairs to write", content(
        (body::PutSecrets = "application/json"),
        (body::EnvText = "text/plain"))),
    responses(
        (status = 200, description = "The set changed", body = body::SetWritten,
            headers(("ETag" = String, description = "The set's new revision"))),
        (status = 201, description = "The set was created", body = body::SetWritten,
            headers(("ETag" = String, description = "The set's new revision")),
            links(("read_set" = (operation_id = "get_set",
                parameters(("org" = "$request.path.org"), ("set" = "$response.body#/name")),
                description = "The new set"))))),
)]
pub async fn put_set(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, set)): Path<(String, String)>,
    headers: HeaderMap,
    body: RawBody<MAX_BODY_BYTES>,
) -> Result<Response, AppError> {
    // Who may write comes before any look at the body.
    secrets::may_change(&who)?;
    let name = ResourceName::parse(&set)?;
    let content_type = body.content_type().to_owned();
    let bytes = body.bytes().await?;
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
#[utoipa::path(
    patch,
    path = "/api/v1/orgs/{org}/secrets/{set}",
    tag = "secret sets",
    params(("org" = String, Path, description = "The organization"),
        ("set" = String, Path, description = "The set's name", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    request_body = body::PatchSet,
    responses((status = 200, description = "The set", body = body::SetBody,
        headers(("ETag" = String, description = "The set's revision")))),
)]
pub async fn patch_set(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, set)): Path<(String, String)>,
    body: JsonBody<body::PatchSet>,
) -> Result<Response, AppError> {
    who.require(crate::model::Role::Admin, "protecting secret sets")?;
    let body = body.read().await?;
    secrets::protect(&state, &who, &set, body.protected).await?;
    let detail = secrets::detail(&state, &who, &set).await?;
    Ok(with_etag(
        detail.revision,
        Json(body::SetBody::from(&detail)).into_response(),
    ))
}

/// Deletes a set (it can be restored for a while: see the deleted sets).
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/secrets/{set}",
    tag = "secret sets",
    params(("org" = String, Path, description = "The organization"),
        ("set" = String, Path, description = "The set's name", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 204, description = "Deleted")),
)]
pub async fn delete_set(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, set)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    secrets::delete(&state, &who, &set).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes one key of a set; with `If-Match`, only at that revision.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/secrets/{set}/{key}",
    tag = "secret sets",
    params(("org" = String, Path, description = "The organization"),
        ("set" = String, Path, description = "The set's name", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
        ("key" = String, Path, description = "The key", pattern = r"^[A-Za-z0-9_-]{1,64}$"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Remove only at this revision (`\"3\"`, `3` or `*`)", pattern = r#"^\s*(\*|(W/)*"*[0-9]{1,18}"*)\s*$"#)),
    responses((status = 204, description = "Removed",
        headers(("ETag" = String, description = "The set's new revision")))),
)]
pub async fn unset_key(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, set, key)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let revision = secrets::unset(&state, &who, &set, &key, if_match(&headers)?).await?;
    Ok(with_etag(revision, StatusCode::NO_CONTENT.into_response()))
}

/// The pairs of a `PUT …/secrets/{set}` body: `KEY=value` text or JSON.
fn pairs_of(bytes: &[u8], content_type: &str) -> Result<Vec<crate::validate::Pair>, AppError> {
    use body::PutSecrets;
    Ok(if content_type.starts_with("text/plain") {
        let text = std::str::from_utf8(bytes).map_err(|_| {
            AppError::validation(FieldError {
                field: "body".into(),
                message: "the body is not valid UTF-8 text".into(),
            })
        })?;
        parse_pairs(text)?
    } else if content_type.starts_with("application/json") {
        // serde's message could quote the input; say where, not what.
        let body: PutSecrets = parse_json(bytes, PutSecrets::EXAMPLE)?;
        validate_pairs(body.secrets.iter().map(|p| (p.key.as_str(), p.value.0.as_str())))?
    } else {
        return Err(AppError::validation(FieldError {
            field: "content-type".into(),
            message: "send application/json or text/plain (KEY=value pairs)".into(),
        }));
    })
}
