//! The organization's audit log.

use super::extract::{Caller, Query};
use crate::domain::state::AppState;
use crate::error::AppError;
use crate::rest_types as body;
use axum::extract::State;
use axum::Json;

/// Filters of the audit log.
#[derive(serde::Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The object, e.g. `set:prod`
    object: Option<String>,
    /// The actor's email
    user: Option<String>,
    /// An action or its prefix, e.g. `secrets.`
    action: Option<String>,
    /// Entries older than this id (the `next_before` of the previous page)
    before: Option<i64>,
    /// From this Unix time
    since: Option<i64>,
    /// Until this Unix time
    until: Option<i64>,
    /// At most this many entries
    limit: Option<usize>,
}

/// `?object=set:prod&user=a@example.com&action=secrets.&before=ID&since=UNIX&until=UNIX&limit=N`;
/// answers the entries and `next_before` for the next (older) page.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/audit",
    tag = "audit",
    params(("org" = String, Path, description = "The organization"), AuditQuery),
    responses((status = 200, description = "A page of entries, newest first", body = body::AuditPage,
        links(("next_page" = (operation_id = "list_audit",
            parameters(("org" = "$request.path.org"), ("before" = "$response.body#/next_before")),
            description = "The next (older) page (while `next_before` is not null)"))))),
)]
pub async fn list_audit(
    State(state): State<AppState>,
    Caller(who): Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Json<body::AuditPage>, AppError> {
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
