//! Organizations, who the caller is, members and invitations.

use super::extract::{Caller, JsonBody, JsonExample};
use crate::domain::auth::bearer_principal;
use crate::domain::orgs;
use crate::domain::state::AppState;
use crate::error::AppError;
use crate::model::{rfc3339, Role};
use crate::rest_types as body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

impl JsonExample for body::NewOrg {
    const EXAMPLE: &'static str = r#"{"name":"acme"}"#;
}

impl JsonExample for body::RoleChange {
    const EXAMPLE: &'static str = r#"{"role":"member"}"#;
}

impl JsonExample for body::NewInvite {
    const EXAMPLE: &'static str = r#"{"email":"a@example.com","role":"member"}"#;
}

/// `{"name"}`: a new organization owned by the token's user.
#[utoipa::path(
    post,
    path = "/api/v1/orgs",
    tag = "organizations",
    request_body = body::NewOrg,
    responses((status = 201, description = "Created; the caller is its owner", body = body::OrgCreated)),
)]
pub async fn create_org(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonBody<body::NewOrg>,
) -> Result<Response, AppError> {
    let who = bearer_principal(&state, &headers).await?;
    let new = body.read().await?;
    let org = orgs::create_org(&state, &who, &new.name).await?;
    let created = body::OrgCreated {
        name: org.name,
        role: Role::Owner,
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Who the token belongs to and which organization it is for (the CLI's default org).
#[utoipa::path(
    get,
    path = "/api/v1/whoami",
    tag = "organizations",
    responses((status = 200, description = "The token's owner, organization and role", body = body::WhoAmI)),
)]
pub async fn whoami(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<body::WhoAmI>, AppError> {
    let who = bearer_principal(&state, &headers).await?;
    Ok(Json(body::WhoAmI {
        email: who.email,
        org: who.org.name,
        role: who.role,
    }))
}

/// The organization's members.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/members",
    tag = "members",
    params(("org" = String, Path, description = "The organization")),
    responses((status = 200, description = "The members", body = body::MemberList)),
)]
pub async fn list_members(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<body::MemberList>, AppError> {
    let members = orgs::members(&state, &who).await?;
    Ok(Json(body::MemberList {
        members: members.iter().map(Into::into).collect(),
    }))
}

/// `{"role"}`: changes a member's role.
#[utoipa::path(
    patch,
    path = "/api/v1/orgs/{org}/members/{email}",
    tag = "members",
    params(("org" = String, Path, description = "The organization"),
        ("email" = String, Path, description = "The member's email")),
    request_body = body::RoleChange,
    responses((status = 200, description = "The new role", body = body::RoleChanged)),
)]
pub async fn change_member(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, email)): Path<(String, String)>,
    body: JsonBody<body::RoleChange>,
) -> Result<Json<body::RoleChanged>, AppError> {
    let body = body.read().await?;
    let role = Role::parse(&body.role)?;
    orgs::change_role(&state, &who, &email, role).await?;
    Ok(Json(body::RoleChanged { email, role }))
}

/// Removes a member from the organization.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/members/{email}",
    tag = "members",
    params(("org" = String, Path, description = "The organization"),
        ("email" = String, Path, description = "The member's email")),
    responses((status = 204, description = "Removed")),
)]
pub async fn remove_member(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((_, email)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    orgs::remove_member(&state, &who, &email).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{"email","role"}` (admins): an invitation link, shown this once.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/invites",
    tag = "members",
    params(("org" = String, Path, description = "The organization")),
    request_body = body::NewInvite,
    responses((status = 201, description = "The invitation; `invite_url` is shown this once", body = body::InviteCreated)),
)]
pub async fn create_invite(
    State(state): State<AppState>,
    Caller(who): Caller,
    body: JsonBody<body::NewInvite>,
) -> Result<Response, AppError> {
    who.require(Role::Admin, "managing members")?;
    let new = body.read().await?;
    let role = Role::parse(&new.role)?;
    let token = orgs::invite(&state, &who, &new.email, role).await?;
    let expires = crate::domain::now() + orgs::INVITE_TTL_SECS;
    let created = body::InviteCreated {
        email: new.email.trim().to_owned(),
        role,
        expires_at: rfc3339(expires),
        invite_url: orgs::invite_link(&state, &token),
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// The pending invitations.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/invites",
    tag = "members",
    params(("org" = String, Path, description = "The organization")),
    responses((status = 200, description = "The pending invitations", body = body::InviteList)),
)]
pub async fn list_invites(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<body::InviteList>, AppError> {
    let invites = orgs::invites(&state, &who).await?;
    Ok(Json(body::InviteList {
        invites: invites.iter().map(Into::into).collect(),
    }))
}

/// Revokes a pending invitation.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/invites/{id}",
    tag = "members",
    params(("org" = String, Path, description = "The organization"),
        ("id" = i64, Path, description = "The invitation's id")),
    responses((status = 204, description = "Revoked")),
)]
pub async fn revoke_invite(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let id = id
        .parse::<i64>()
        .map_err(|_| AppError::NotFound(format!("no pending invitation {id} in \"{org}\"")))?;
    orgs::revoke_invite(&state, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
