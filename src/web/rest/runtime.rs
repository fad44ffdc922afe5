//! The one route by which secret values leave the server: a deployment's runtime token
//! reads its current revision.

use crate::domain::state::AppState;
use crate::error::AppError;
use crate::rest_types as body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;

/// The environment of the deployment whose runtime token (`ckd_…`) is presented.
#[utoipa::path(
    get,
    path = "/api/v1/runtime/env",
    tag = "runtime",
    security(("runtime_token" = [])),
    responses((status = 200, description = "The current revision's environment", body = body::RuntimeEnv)),
)]
pub async fn runtime_env(
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
