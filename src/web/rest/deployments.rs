//! Deployments: deploy (JSON fields or the `pcc-deploy.toml` text), read, list, redeploy,
//! rotate the runtime token, revisions and rollback, delete.

use super::extract::{json_refusal, Caller, JsonBody, JsonExample, Query, RawBody};
use super::PageParams;
use crate::domain::deployments;
use crate::domain::state::AppState;
use crate::error::AppError;
use crate::rest_types as body;
use crate::validate::FieldError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The body limit of a deployment: its fields and a `pcc-deploy.toml`.
const DEPLOY_BODY_BYTES: usize = 64 * 1024;

impl JsonExample for body::Rollback {
    const EXAMPLE: &'static str = r#"{"revision":3}"#;
}

/// A page of the organization's deployments by name.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/deployments",
    tag = "deployments",
    params(("org" = String, Path, description = "The organization"), PageParams),
    responses((status = 200, description = "A page of deployments", body = body::DeploymentList,
        links(("next_page" = (operation_id = "list_deployments",
            parameters(("org" = "$request.path.org"), ("after" = "$response.body#/next")),
            description = "The next page (while `next` is not null)"))))),
)]
pub async fn list_deployments(
    State(state): State<AppState>,
    Caller(who): Caller,
    Query(page): Query<PageParams>,
) -> Result<Json<body::DeploymentList>, AppError> {
    let page = deployments::page(&state, &who, &page.query()?).await?;
    Ok(Json(body::DeploymentList {
        deployments: page.deployments.iter().map(Into::into).collect(),
        next: page.next,
    }))
}

/// A deployment, the keys of its environment and what changed in its set since.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/deployments/{name}",
    tag = "deployments",
    params(("org" = String, Path, description = "The organization"),
        ("name" = String, Path, description = "The deployment's name", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "The deployment", body = body::DeploymentBody)),
)]
pub async fn get_deployment(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, name)): Path<(String, String)>,
) -> Result<Json<body::DeploymentBody>, AppError> {
    let d = deployments::detail(&state, &who, &name).await?;
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
#[utoipa::path(
    put,
    path = "/api/v1/orgs/{org}/deployments/{name}",
    tag = "deployments",
    params(("org" = String, Path, description = "The organization"),
        ("name" = String, Path, description = "The deployment's name", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    request_body(description = "The fields, or the pcc-deploy.toml file alone", content(
        (body::PutDeployment = "application/json"),
        (String = "application/toml"),
        (String = "text/plain"))),
    responses(
        (status = 200, description = "Deployed again", body = body::Deployed,
            links(("deployment" = (operation_id = "get_deployment",
                parameters(("org" = "$request.path.org"), ("name" = "$response.body#/name")),
                description = "The deployment")))),
        (status = 201, description = "Created; `runtime_token` is shown this once", body = body::Deployed,
            links(("deployment" = (operation_id = "get_deployment",
                parameters(("org" = "$request.path.org"), ("name" = "$response.body#/name")),
                description = "The new deployment"))))),
)]
pub async fn put_deployment(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, name)): Path<(String, String)>,
    body: RawBody<DEPLOY_BODY_BYTES>,
) -> Result<Response, AppError> {
    use crate::deploy_spec::{merge_spec, parse_deploy_file, DeployFields};
    who.require(crate::model::Role::Member, "changing deployments")?;
    let json = body.is_json();
    let bytes = body.bytes().await?;
    let (file, fields) = if json {
        let body: body::PutDeployment = serde_json::from_slice(&bytes).map_err(|e| {
            json_refusal(
                &e,
                &format!("the body must be a JSON object of deployment fields ({e})"),
            )
        })?;
        let file = body
            .pcc_deploy_toml
            .as_deref()
            .map(parse_deploy_file)
            .transpose()?;
        (file, body.fields())
    } else {
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            AppError::validation(FieldError {
                field: "body".into(),
                message: "pcc-deploy.toml must be UTF-8 text".into(),
            })
        })?;
        (Some(parse_deploy_file(text)?), DeployFields::default())
    };
    let spec = merge_spec(&name, file, fields)?;
    let outcome = deployments::deploy(&state, &who, &spec).await?;
    let d = deployments::detail(&state, &who, &name).await?;
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

/// A new revision with the set's current values.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/deployments/{name}/redeploy",
    tag = "deployments",
    params(("org" = String, Path, description = "The organization"),
        ("name" = String, Path, description = "The deployment's name", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "Redeployed", body = body::Redeployed)),
)]
pub async fn redeploy(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, name)): Path<(String, String)>,
) -> Result<Json<body::Redeployed>, AppError> {
    let revision = deployments::redeploy(&state, &who, &name).await?;
    Ok(Json(body::Redeployed { name, revision }))
}

/// A new runtime token for the deployment (the old one stops working).
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/deployments/{name}/runtime-token",
    tag = "deployments",
    params(("org" = String, Path, description = "The organization"),
        ("name" = String, Path, description = "The deployment's name", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "The new token, shown this once", body = body::RuntimeToken)),
)]
pub async fn rotate_runtime_token(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, name)): Path<(String, String)>,
) -> Result<Json<body::RuntimeToken>, AppError> {
    let runtime_token = deployments::rotate_token(&state, &who, &name).await?;
    Ok(Json(body::RuntimeToken { name, runtime_token }))
}

/// Deletes a deployment.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/deployments/{name}",
    tag = "deployments",
    params(("org" = String, Path, description = "The organization"),
        ("name" = String, Path, description = "The deployment's name", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 204, description = "Deleted")),
)]
pub async fn delete_deployment(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, name)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    deployments::delete(&state, &who, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The deployment's kept revisions, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/deployments/{name}/revisions",
    tag = "deployments",
    params(("org" = String, Path, description = "The organization"),
        ("name" = String, Path, description = "The deployment's name", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "The revisions", body = body::RevisionList)),
)]
pub async fn list_revisions(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, name)): Path<(String, String)>,
) -> Result<Json<body::RevisionList>, AppError> {
    let current = deployments::detail(&state, &who, &name).await?;
    let list = deployments::revisions(&state, &who, &name).await?;
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
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/deployments/{name}/rollback",
    tag = "deployments",
    params(("org" = String, Path, description = "The organization"),
        ("name" = String, Path, description = "The deployment's name", pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")),
    request_body = body::Rollback,
    responses((status = 200, description = "Rolled back", body = body::RolledBack)),
)]
pub async fn rollback(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, name)): Path<(String, String)>,
    body: JsonBody<body::Rollback>,
) -> Result<Json<body::RolledBack>, AppError> {
    who.require(crate::model::Role::Member, "changing deployments")?;
    let req = body.read().await?;
    let revision = deployments::rollback(&state, &who, &name, req.revision).await?;
    Ok(Json(body::RolledBack {
        name,
        revision,
        rolled_back_to: req.revision,
    }))
}
