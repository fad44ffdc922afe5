//! Comparing sets, versions and deployments, and checking or finding a value (only
//! verdicts and places come back, never a value).

use super::extract::{Caller, JsonBody, JsonExample, Query};
use super::{MAX_BODY_BYTES, ONE_VALUE_BODY_BYTES};
use crate::domain::state::AppState;
use crate::error::AppError;
use crate::rest_types as body;
use crate::validate::validate_pairs;
use axum::extract::State;
use axum::Json;

impl JsonExample for body::CompareValues {
    const EXAMPLE: &'static str = r#"{"a":"prod","secrets":[{"key":"K","value":"V"}]}"#;
}

impl JsonExample for body::CheckValue {
    const EXAMPLE: &'static str = r#"{"set":"prod","key":"K","value":"V"}"#;
}

impl JsonExample for body::FindValue {
    const EXAMPLE: &'static str = r#"{"value":"the leaked value"}"#;
}

/// `?a=SIDE&b=SIDE`: the two sides compared.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Sides {
    /// `SET`, `SET@VERSION` or `deployment:NAME`
    #[serde(default)]
    #[param(
        required = true,
        pattern = r"^(deployment:[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(@[1-9][0-9]{0,17})?)$"
    )]
    a: String,
    /// `SET`, `SET@VERSION` or `deployment:NAME`
    #[serde(default)]
    #[param(
        required = true,
        pattern = r"^(deployment:[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(@[1-9][0-9]{0,17})?)$"
    )]
    b: String,
}

/// Keys only in one side, with the same value, with a different value.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/secrets-compare",
    tag = "compare",
    params(("org" = String, Path, description = "The organization"), Sides),
    responses((status = 200, description = "The comparison", body = crate::model::Comparison)),
)]
pub async fn compare_sides(
    State(state): State<AppState>,
    Caller(who): Caller,
    Query(q): Query<Sides>,
) -> Result<Json<crate::model::Comparison>, AppError> {
    use crate::domain::compare::{compare, Side};
    let (a, b) = (Side::parse("a", &q.a)?, Side::parse("b", &q.b)?);
    Ok(Json(compare(&state, &who, &a, &b).await?))
}

/// `{"a": SET, "secrets": [{"key","value"}]}`: the pairs compared with the set's values.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/secrets-compare",
    tag = "compare",
    params(("org" = String, Path, description = "The organization")),
    request_body = body::CompareValues,
    responses((status = 200, description = "A verdict per key", body = body::ValuesCompared)),
)]
pub async fn compare_values(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: JsonBody<body::CompareValues, MAX_BODY_BYTES>,
) -> Result<Json<body::ValuesCompared>, AppError> {
    who.require(crate::model::Role::Member, "comparing values")?;
    let req = body.read().await?;
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
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/secret-checks",
    tag = "compare",
    params(("org" = String, Path, description = "The organization")),
    request_body = body::CheckValue,
    responses((status = 200, description = "Whether the value matches", body = body::Checked)),
)]
pub async fn check_value(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: JsonBody<body::CheckValue, ONE_VALUE_BODY_BYTES>,
) -> Result<Json<body::Checked>, AppError> {
    who.require(crate::model::Role::Member, "comparing values")?;
    let req = body.read().await?;
    let matches = crate::domain::compare::check(&state, &who, &req.set, &req.key, req.value.0).await?;
    Ok(Json(body::Checked { matches }))
}

/// `{"value"}` (admins): every place in the organization holding exactly that value.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/secrets-find",
    tag = "compare",
    params(("org" = String, Path, description = "The organization")),
    request_body = body::FindValue,
    responses((status = 200, description = "Where the value lives", body = body::Found)),
)]
pub async fn find_value(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: JsonBody<body::FindValue, ONE_VALUE_BODY_BYTES>,
) -> Result<Json<body::Found>, AppError> {
    who.require(crate::model::Role::Admin, "finding where a value is used")?;
    let req = body.read().await?;
    let (places, total) = crate::domain::compare::find(&state, &who, req.value.0).await?;
    Ok(Json(body::Found { places, total }))
}
