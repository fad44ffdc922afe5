//! The REST API's OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! attributes and the body types of [`crate::rest_types`]; served at
//! `GET /api/v1/openapi.json` and printed by `cloakroom openapi`.

use super::{audit, compare, deployments, history, orgs, pull_secrets, runtime, sets, tokens};
use crate::rest_types::ErrorBody;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{self, ContentBuilder, HeaderBuilder, OpenApi as Document, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cloakroom REST API",
        description = "Secret sets, image pull secrets and deployments. JSON over \
            `Authorization: Bearer <token>`; an organization the token does not belong to \
            answers 404, exactly like a missing one. Every refusal is `{\"error\",\"details\"}`.",
    ),
    paths(
        orgs::create_org, orgs::whoami,
        sets::list_sets, sets::get_set, sets::put_set, sets::patch_set, sets::delete_set, sets::unset_key,
        history::list_versions, history::get_version, history::restore_set, history::prune_versions,
        history::list_deleted, history::undelete, history::purge_deleted,
        compare::compare_sides, compare::compare_values, compare::check_value, compare::find_value,
        pull_secrets::list_pull_secrets, pull_secrets::create_pull_secret,
        pull_secrets::delete_pull_secret, pull_secrets::export_pull_secret,
        deployments::list_deployments, deployments::get_deployment, deployments::put_deployment,
        deployments::redeploy, deployments::rotate_runtime_token, deployments::delete_deployment,
        deployments::list_revisions, deployments::rollback,
        tokens::list_tokens, tokens::create_token, tokens::revoke_token,
        orgs::list_members, orgs::change_member, orgs::remove_member,
        orgs::create_invite, orgs::list_invites, orgs::revoke_invite,
        audit::list_audit,
        runtime::runtime_env,
        document,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Security, &Refusals),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

/// The document as JSON text.
pub fn json() -> String {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    camel_case_links(&mut doc);
    either_or(&mut doc);
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".to_owned())
}

/// Rules between fields that the derive cannot say: a deployment needs an image, given
/// directly or in its file; a pull secret needs a username and a password, or `auth`.
fn either_or(doc: &mut serde_json::Value) {
    let rules = [
        (
            "PutDeployment",
            serde_json::json!([{"required": ["image"]}, {"required": ["pcc_deploy_toml"]}]),
        ),
        (
            "NewPullSecret",
            serde_json::json!([{"required": ["username", "password"]}, {"required": ["auth"]}]),
        ),
    ];
    for (name, any_of) in rules {
        if let Some(schema) = doc.pointer_mut(&format!("/components/schemas/{name}")) {
            schema["anyOf"] = any_of;
        }
    }
}

/// utoipa 5.5 writes a link's fields in snake case (`operation_id`); OpenAPI spells them
/// `operationId`, `operationRef` and `requestBody`, and tools ignore the others.
fn camel_case_links(doc: &mut serde_json::Value) {
    let operations = doc
        .get_mut("paths")
        .and_then(|p| p.as_object_mut())
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut());
    for operation in operations {
        let responses = operation
            .get_mut("responses")
            .and_then(|r| r.as_object_mut())
            .into_iter()
            .flat_map(|r| r.values_mut());
        for response in responses {
            let Some(links) = response.get_mut("links").and_then(|l| l.as_object_mut()) else {
                continue;
            };
            for link in links.values_mut().filter_map(|l| l.as_object_mut()) {
                for (snake, camel) in [
                    ("operation_id", "operationId"),
                    ("operation_ref", "operationRef"),
                    ("request_body", "requestBody"),
                ] {
                    if let Some(v) = link.remove(snake) {
                        link.insert(camel.to_owned(), v);
                    }
                }
            }
        }
    }
}

/// This document. Public: it describes the API and holds no data.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "This OpenAPI document", body = serde_json::Value)),
)]
pub async fn document() -> Response {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let text = TEXT.get_or_init(json).clone();
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// The bearer schemes: API tokens for everything but `runtime/env`, which takes a
/// deployment's runtime token (`ckd_…`).
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        components.add_security_scheme(
            "runtime_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// What each operation can refuse with, by status (every refusal is an [`ErrorBody`]).
/// An operation missing here fails the document's test.
pub const REFUSALS: &[(&str, &[u16])] = &[
    ("create_org", &[400, 401, 409, 413, 429]),
    ("whoami", &[401]),
    ("list_sets", &[400, 401, 404]),
    ("get_set", &[401, 404]),
    ("put_set", &[400, 401, 403, 404, 409, 412, 413, 429]),
    ("patch_set", &[400, 401, 403, 404, 413]),
    ("delete_set", &[401, 403, 404, 409]),
    ("unset_key", &[400, 401, 403, 404, 412, 429]),
    ("list_versions", &[400, 401, 404]),
    ("get_version", &[400, 401, 404]),
    ("restore_set", &[400, 401, 403, 404, 409, 412, 413, 429]),
    ("prune_versions", &[400, 401, 403, 404, 413]),
    ("list_deleted", &[401, 404]),
    ("undelete", &[400, 401, 403, 404, 409, 413, 429]),
    ("purge_deleted", &[401, 403, 404]),
    ("compare_sides", &[400, 401, 403, 404]),
    ("compare_values", &[400, 401, 403, 404, 413, 429]),
    ("check_value", &[400, 401, 403, 404, 413, 429]),
    ("find_value", &[400, 401, 403, 404, 413, 429]),
    ("list_pull_secrets", &[401, 404]),
    ("create_pull_secret", &[400, 401, 403, 404, 409, 413]),
    ("delete_pull_secret", &[401, 403, 404, 409]),
    ("export_pull_secret", &[401, 403, 404]),
    ("list_deployments", &[400, 401, 404]),
    ("get_deployment", &[401, 404]),
    ("put_deployment", &[400, 401, 403, 404, 409, 413, 429]),
    ("redeploy", &[401, 403, 404, 429]),
    ("rotate_runtime_token", &[401, 403, 404]),
    ("delete_deployment", &[401, 403, 404]),
    ("list_revisions", &[401, 404]),
    ("rollback", &[400, 401, 403, 404, 409, 413, 429]),
    ("list_tokens", &[401, 403, 404]),
    ("create_token", &[400, 401, 403, 404, 409, 413, 429]),
    ("revoke_token", &[401, 403, 404]),
    ("list_members", &[401, 404]),
    ("change_member", &[400, 401, 403, 404, 409, 413]),
    ("remove_member", &[401, 403, 404, 409]),
    ("create_invite", &[400, 401, 403, 404, 409, 413, 429]),
    ("list_invites", &[401, 403, 404]),
    ("revoke_invite", &[401, 403, 404]),
    ("list_audit", &[400, 401, 403, 404]),
    ("runtime_env", &[401, 404]),
    ("document", &[]),
];

/// Adds each operation's refusals from [`REFUSALS`].
struct Refusals;

impl Modify for Refusals {
    fn modify(&self, doc: &mut Document) {
        for item in doc.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let id = operation.operation_id.clone().unwrap_or_default();
                let Some((_, codes)) = REFUSALS.iter().find(|(op, _)| *op == id) else {
                    continue;
                };
                for code in *codes {
                    operation
                        .responses
                        .responses
                        .insert(code.to_string(), refusal(*code).into());
                }
            }
        }
    }
}

/// The response of a refusal with `code`.
fn refusal(code: u16) -> openapi::Response {
    let description = match code {
        400 => "Invalid input: each problem in `details`",
        401 => "No valid bearer token",
        403 => "The caller's role may not do this",
        404 => "No such organization (or not the token's) or object",
        409 => "Conflicts with what exists (a name taken, an object in use)",
        412 => "`If-Match` names a revision the set has moved past",
        413 => "The request body is over the route's limit",
        429 => "Over a rate limit or quota; `Retry-After` says when to try again where it applies",
        503 => "The server is busy; `Retry-After` says when to try again",
        _ => "Refused",
    };
    let content = ContentBuilder::new()
        .schema(Some(openapi::Ref::from_schema_name(ErrorBody::name())))
        .build();
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", content);
    let seconds = || {
        HeaderBuilder::new()
            .schema(<u64 as PartialSchema>::schema())
            .description(Some("Seconds to wait"))
            .build()
    };
    match code {
        401 => {
            response = response.header(
                "WWW-Authenticate",
                HeaderBuilder::new()
                    .schema(<String as PartialSchema>::schema())
                    .description(Some("`Bearer`"))
                    .build(),
            );
        }
        429 | 503 => response = response.header("Retry-After", seconds()),
        _ => {}
    }
    response.build()
}
