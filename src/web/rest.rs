//! REST API v1: JSON over `Authorization: Bearer <token>`. Organizations a token does not
//! belong to answer 404, exactly like missing ones.

//!
//! One module per resource; [`extract`] holds what every route reads (the caller in the
//! path's organization, a JSON body within the route's limit) and [`openapi`] the API's
//! description, generated from the handlers and the body types.

pub mod audit;
pub mod compare;
pub mod deployments;
pub mod extract;
pub mod history;
pub mod openapi;
pub mod orgs;
pub mod pull_secrets;
pub mod runtime;
pub mod sets;
pub mod tokens;

use crate::domain::state::AppState;
use crate::error::AppError;
use crate::rest_types as body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
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
    "/api/v1/openapi.json",
];

/// The handlers of one path of [`PATHS`].
fn handlers(path: &str) -> axum::routing::MethodRouter<AppState> {
    use self::{
        audit::*, compare::*, deployments::*, history::*, orgs::*, pull_secrets::*, sets::*, tokens::*,
    };
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
        "/api/v1/runtime/env" => get(runtime::runtime_env),
        "/api/v1/whoami" => get(whoami),
        "/api/v1/openapi.json" => get(openapi::document),
        // A path listed without handlers answers 405 to everything.
        _ => axum::routing::MethodRouter::new(),
    }
}

pub fn routes() -> Router<AppState> {
    PATHS
        .iter()
        .fold(Router::new(), |router, path| router.route(path, handlers(path)))
}

/// `?limit=&after=&q=` of a list: a page of at most `limit` names after `after` that
/// contain `q`.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Only names that contain this
    #[serde(default)]
    q: Option<String>,
    /// The `next` of the previous page
    #[serde(default)]
    after: Option<String>,
    /// At most this many (default 100)
    #[serde(default)]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
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
