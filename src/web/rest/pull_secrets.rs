//! Image pull secrets: registry credentials that deployments name (never shown again,
//! except as the `dockerconfigjson` a deployment needs).

use super::extract::{Caller, JsonBody, JsonExample};
use crate::domain::pull_secrets;
use crate::domain::state::AppState;
use crate::error::AppError;
use crate::rest_types as body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

impl JsonExample for body::NewPullSecret {
    const EXAMPLE: &'static str = r#"{"name":"n","registry":"ghcr.io","username":"u","password":"p"}"#;
}

/// The organization's image pull secrets (never their credentials).
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/image-pull-secrets",
    tag = "image pull secrets",
    params(("org" = String, Path, description = "The organization")),
    responses((status = 200, description = "The pull secrets", body = body::PullSecretList)),
)]
pub async fn list_pull_secrets(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<body::PullSecretList>, AppError> {
    let list = pull_secrets::list(&state, &who).await?;
    Ok(Json(body::PullSecretList {
        image_pull_secrets: list.iter().map(Into::into).collect(),
    }))
}

/// Creates an image pull secret (admins).
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/image-pull-secrets",
    tag = "image pull secrets",
    params(("org" = String, Path, description = "The organization")),
    request_body = body::NewPullSecret,
    responses((status = 201, description = "Created", body = body::PullSecretItem)),
)]
pub async fn create_pull_secret(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: JsonBody<body::NewPullSecret>,
) -> Result<Response, AppError> {
    who.require(crate::model::Role::Admin, "managing image pull secrets")?;
    let body = body.read().await?;
    let encode = body.auth.is_none();
    let auth = body.auth.map(|a| a.0).unwrap_or_default();
    let new = pull_secrets::validate_new(
        &body.name,
        &body.registry,
        &body.username,
        &body.password.0,
        &auth,
        encode,
    )?;
    let (created, _) = pull_secrets::create(&state, &who, new, false).await?;
    Ok((StatusCode::CREATED, Json(body::PullSecretItem::from(&created))).into_response())
}

/// Deletes an image pull secret no deployment uses (admins).
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/image-pull-secrets/{name}",
    tag = "image pull secrets",
    params(("org" = String, Path, description = "The organization"),
        ("name" = String, Path, description = "The pull secret's name", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 204, description = "Deleted")),
)]
pub async fn delete_pull_secret(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, name)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    pull_secrets::delete(&state, &who, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The pull secret as a Docker `config.json` (admins).
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/image-pull-secrets/{name}/dockerconfigjson",
    tag = "image pull secrets",
    params(("org" = String, Path, description = "The organization"),
        ("name" = String, Path, description = "The pull secret's name", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "A Docker config.json with the credentials",
        body = serde_json::Value, content_type = "application/json")),
)]
pub async fn export_pull_secret(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, name)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let json = pull_secrets::export(&state, &who, &name).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}
