//! API tokens of the organization.

use super::extract::{Caller, JsonBody, JsonExample};
use crate::domain::orgs;
use crate::domain::state::AppState;
use crate::error::AppError;
use crate::rest_types as body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

impl JsonExample for body::NewToken {
    const EXAMPLE: &'static str = r#"{"name":"ci"}"#;
}

/// The organization's API tokens (never the tokens themselves).
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/tokens",
    tag = "tokens",
    params(("org" = String, Path, description = "The organization")),
    responses((status = 200, description = "The tokens", body = body::TokenList)),
)]
pub async fn list_tokens(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<body::TokenList>, AppError> {
    let tokens = orgs::tokens(&state, &who).await?;
    Ok(Json(body::TokenList {
        tokens: tokens.iter().map(Into::into).collect(),
    }))
}

/// `{"name"}`: a new token with the caller's role, shown this once.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/tokens",
    tag = "tokens",
    params(("org" = String, Path, description = "The organization")),
    request_body = body::NewToken,
    responses((status = 201, description = "The token, shown this once", body = body::TokenCreated)),
)]
pub async fn create_token(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: JsonBody<body::NewToken>,
) -> Result<Response, AppError> {
    orgs::may_create_tokens(&who)?;
    let new = body.read().await?;
    let (id, token) = orgs::create_token(&state, &who, &new.name).await?;
    let created = body::TokenCreated {
        id,
        name: new.name.trim().to_owned(),
        role: who.role,
        token,
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Revokes a token.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/tokens/{id}",
    tag = "tokens",
    params(("org" = String, Path, description = "The organization"),
        ("id" = i64, Path, description = "The token's id")),
    responses((status = 204, description = "Revoked")),
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let id = id
        .parse::<i64>()
        .map_err(|_| AppError::NotFound(format!("no API token {id} in \"{org}\"")))?;
    orgs::revoke_token(&state, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
