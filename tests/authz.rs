//! Every REST endpoint and every server function, called as a user of another
//! organization (must answer exactly like a missing object: 404) and as a viewer (reads
//! work, changes are refused with 403). Two further tests fail when an endpoint or a
//! server function exists that these tables do not list.
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

mod common;

use cloakroom::error::AppError;
use cloakroom::model::Role;
use common::{spawn_app, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// What a viewer of `acme` gets from an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Viewer {
    /// Reading is allowed.
    Reads,
    /// Refused with 403: the viewer role does not allow it.
    Refused,
    /// Allowed for anyone in the organization (e.g. creating one's own API token).
    Allowed,
    /// The object is not theirs to see (another member's API token): 404.
    NotFound,
    /// Allowed, but the input given is refused (400) before anything changes.
    Invalid,
}

/// The REST endpoints of `acme`, as (method, path, body, what a viewer gets). Paths use
/// the objects [`world`] creates.
fn rest_table(owner_token_id: i64) -> Vec<(&'static str, String, Option<Value>, Viewer)> {
    use Viewer::*;
    let o = "/api/v1/orgs/acme";
    vec![
        ("GET", format!("{o}/secrets"), None, Reads),
        ("GET", format!("{o}/secrets/s"), None, Reads),
        (
            "PUT",
            format!("{o}/secrets/s"),
            Some(json!({"secrets": [{"key": "X", "value": "1"}]})),
            Refused,
        ),
        ("DELETE", format!("{o}/secrets/s/K"), None, Refused),
        ("DELETE", format!("{o}/secrets/s"), None, Refused),
        ("GET", format!("{o}/image-pull-secrets"), None, Reads),
        (
            "POST",
            format!("{o}/image-pull-secrets"),
            Some(json!({"name": "q", "registry": "ghcr.io", "username": "u", "password": "p"})),
            Refused,
        ),
        ("DELETE", format!("{o}/image-pull-secrets/p"), None, Refused),
        (
            "GET",
            format!("{o}/image-pull-secrets/p/dockerconfigjson"),
            None,
            Refused,
        ),
        ("GET", format!("{o}/deployments"), None, Reads),
        ("GET", format!("{o}/deployments/d"), None, Reads),
        (
            "PUT",
            format!("{o}/deployments/d"),
            Some(json!({"image": "x/y:2", "secret_set": "s"})),
            Refused,
        ),
        ("DELETE", format!("{o}/deployments/d"), None, Refused),
        ("POST", format!("{o}/deployments/d/redeploy"), None, Refused),
        ("POST", format!("{o}/deployments/d/runtime-token"), None, Refused),
        ("GET", format!("{o}/tokens"), None, Reads),
        (
            "POST",
            format!("{o}/tokens"),
            Some(json!({"name": "mine"})),
            Allowed,
        ),
        ("DELETE", format!("{o}/tokens/{owner_token_id}"), None, NotFound),
        ("GET", format!("{o}/members"), None, Reads),
        (
            "PATCH",
            format!("{o}/members/owner@example.com"),
            Some(json!({"role": "viewer"})),
            Refused,
        ),
        ("DELETE", format!("{o}/members/owner@example.com"), None, Refused),
        (
            "POST",
            format!("{o}/invites"),
            Some(json!({"email": "new@example.com", "role": "member"})),
            Refused,
        ),
        ("GET", format!("{o}/audit"), None, Reads),
    ]
}

/// REST routes that are not about one organization, with why they need no row above.
const REST_UNSCOPED: &[(&str, &str)] = &[
    (
        "GET /api/v1/runtime/env",
        "runtime tokens only; tested in tests/deployments.rs",
    ),
    ("GET /api/v1/whoami", "answers about the caller's own token"),
];

/// Form fields of a server function call.
type Fields = Vec<(&'static str, String)>;

/// The server functions of `acme`, as (endpoint, form fields, what a viewer gets).
fn server_fn_table(owner_token_id: i64) -> Vec<(&'static str, Fields, Viewer)> {
    use Viewer::*;
    let f = |pairs: &[(&'static str, &str)]| -> Fields {
        let mut v = vec![("org", "acme".to_owned())];
        v.extend(pairs.iter().map(|(k, val)| (*k, (*val).to_owned())));
        v
    };
    let id = owner_token_id.to_string();
    vec![
        ("current_viewer", f(&[]), Reads),
        ("list_sets", f(&[]), Reads),
        ("get_set", f(&[("set", "s")]), Reads),
        ("create_set", f(&[("name", "new-set")]), Refused),
        (
            "save_rows",
            f(&[("set", "s"), ("rows[0][key]", "X"), ("rows[0][value]", "1")]),
            Refused,
        ),
        ("save_paste", f(&[("set", "s"), ("text", "X=1")]), Refused),
        ("unset_key", f(&[("set", "s"), ("key", "K")]), Refused),
        ("delete_set", f(&[("set", "s"), ("confirm", "s")]), Refused),
        ("list_pull_secrets", f(&[]), Reads),
        (
            "create_pull_secret",
            f(&[
                ("name", "q"),
                ("registry", "ghcr.io"),
                ("username", "u"),
                ("password", "p"),
                ("encode", "on"),
            ]),
            Refused,
        ),
        ("delete_pull_secret", f(&[("name", "p")]), Refused),
        ("list_deployments", f(&[]), Reads),
        ("get_deployment", f(&[("name", "d")]), Reads),
        (
            "deploy",
            f(&[("name", "d"), ("image", "x/y:2"), ("secret_set", "s")]),
            Refused,
        ),
        ("redeploy", f(&[("name", "d")]), Refused),
        ("rotate_runtime_token", f(&[("name", "d")]), Refused),
        ("delete_deployment", f(&[("name", "d")]), Refused),
        ("list_members", f(&[]), Reads),
        ("list_invites", f(&[]), Refused),
        (
            "invite_member",
            f(&[("email", "new@example.com"), ("role", "member")]),
            Refused,
        ),
        (
            "change_member_role",
            f(&[("email", "owner@example.com"), ("role", "viewer")]),
            Refused,
        ),
        ("remove_member", f(&[("email", "owner@example.com")]), Refused),
        ("list_tokens", f(&[]), Reads),
        ("create_token", f(&[("name", "mine")]), Allowed),
        ("revoke_token", f(&[("id", &id)]), NotFound),
        ("list_audit", f(&[]), Reads),
        (
            "change_password",
            f(&[("current", "not-the-password"), ("new", "a-new-long-password")]),
            Invalid,
        ),
        ("delete_org", f(&[("confirm", "acme")]), Refused),
    ]
}

/// Server functions that are not about one organization, with why.
const SERVER_FN_UNSCOPED: &[(&str, &str)] = &[
    ("login", "signs in; no organization yet"),
    ("logout", "ends the caller's own session"),
    (
        "invite_details",
        "the invitation link is the credential; tested in tests/orgs.rs",
    ),
    (
        "accept_invite",
        "the invitation link is the credential; tested in tests/orgs.rs",
    ),
];

struct World {
    app: TestApp,
    owner_token_id: i64,
    viewer_token: String,
    viewer_cookie: String,
    outsider_token: String,
    outsider_cookie: String,
}

async fn session_cookie(app: &TestApp, email: &str) -> String {
    let (_, session) = cloakroom::server::auth::login(&app.state, email, common::PASSWORD, "test")
        .await
        .unwrap();
    format!("cloakroom_session={session}")
}

/// `acme` with a set, a pull secret and a deployment; a viewer of `acme`; the owner of
/// another organization.
async fn world(backend: Backend) -> World {
    let app = spawn_app(backend).await;
    for (method, path, body) in [
        (
            Method::PUT,
            "/secrets/s",
            json!({"secrets": [{"key": "K", "value": "v"}]}),
        ),
        (
            Method::POST,
            "/image-pull-secrets",
            json!({"name": "p", "registry": "ghcr.io", "username": "u", "password": "pw"}),
        ),
        (
            Method::PUT,
            "/deployments/d",
            json!({"image": "x/y:1", "secret_set": "s", "image_credentials": "p"}),
        ),
    ] {
        let res = app.api(method, path).json(&body).send().await.unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
    }
    let owner_token_id = app
        .state
        .store
        .api_tokens(app.principal.org.id, None)
        .await
        .unwrap()[0]
        .id;
    let viewer = common::user_with_role(&app.state, "viewer@example.com", "acme", Role::Viewer).await;
    let viewer_token = cloakroom::server::auth::create_api_token(&app.state, &viewer, "v")
        .await
        .unwrap();
    let outsider = common::user(&app.state, "outsider@example.com", "other").await;
    let outsider_token = cloakroom::server::auth::create_api_token(&app.state, &outsider, "o")
        .await
        .unwrap();
    World {
        viewer_cookie: session_cookie(&app, "viewer@example.com").await,
        outsider_cookie: session_cookie(&app, "outsider@example.com").await,
        app,
        owner_token_id,
        viewer_token,
        outsider_token,
    }
}

async fn rest_call(w: &World, method: &str, path: &str, body: &Option<Value>, token: &str) -> StatusCode {
    let mut req = w
        .app
        .http
        .request(Method::from_bytes(method.as_bytes()).unwrap(), w.app.url(path))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await.unwrap().status()
}

/// Calls a server function as a form post from an island; returns the status the
/// answer stands for (the error's own status when the function failed).
async fn server_fn_call(w: &World, endpoint: &str, fields: &[(&str, String)], cookie: &str) -> u16 {
    let res = w
        .app
        .http
        .post(w.app.url(&format!("/api/{endpoint}")))
        .header("accept", "application/json")
        .header("cookie", cookie)
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body = res.text().await.unwrap();
    if status.is_success() {
        return status.as_u16();
    }
    match serde_json::from_str::<AppError>(&body) {
        Ok(e) => e.status_code(),
        Err(_) => status.as_u16(),
    }
}

/// Nothing in `acme` changed.
async fn acme_is_intact(w: &World) {
    let set: Value = w
        .app
        .api(Method::GET, "/secrets/s")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys: Vec<&str> = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["K"]);
    assert_eq!(set["revision"], 1);
    let d: Value = w
        .app
        .api(Method::GET, "/deployments/d")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (d["image"].as_str(), d["revision"].as_i64()),
        (Some("x/y:1"), Some(1))
    );
    let members = w.app.state.store.members(w.app.principal.org.id).await.unwrap();
    let roles: Vec<(String, Role)> = members.into_iter().map(|m| (m.email, m.role)).collect();
    assert_eq!(
        roles,
        [
            ("owner@example.com".to_owned(), Role::Owner),
            ("viewer@example.com".to_owned(), Role::Viewer)
        ]
    );
    assert_eq!(
        w.app
            .state
            .store
            .list_pull_secrets(w.app.principal.org.id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(w
        .app
        .state
        .store
        .invites(w.app.principal.org.id, 0)
        .await
        .unwrap()
        .is_empty());
    assert!(w
        .app
        .state
        .store
        .get_set(w.app.principal.org.id, "new-set")
        .await
        .unwrap()
        .is_none());
}

async fn another_orgs_user_gets_404_from_every_endpoint(backend: Backend) {
    let w = world(backend).await;
    for (method, path, body, _) in rest_table(w.owner_token_id) {
        let status = rest_call(&w, method, &path, &body, &w.outsider_token).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "REST {method} {path}");
    }
    for (endpoint, fields, _) in server_fn_table(w.owner_token_id) {
        let status = server_fn_call(&w, endpoint, &fields, &w.outsider_cookie).await;
        assert_eq!(status, 404, "server function {endpoint}");
    }
    // The organization's pages answer like missing ones too.
    for page in [
        "/orgs/acme/secrets",
        "/orgs/acme/secrets/s",
        "/orgs/acme/members",
        "/orgs/nosuch/secrets",
    ] {
        let res = w
            .app
            .http
            .get(w.app.url(page))
            .header("cookie", &w.outsider_cookie)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let html = res.text().await.unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND, "page {page}");
        assert!(
            !html.contains("viewer@example.com") && !html.contains(">K<"),
            "page {page} leaks"
        );
    }
    acme_is_intact(&w).await;
}

async fn a_viewer_reads_but_changes_nothing(backend: Backend) {
    let w = world(backend).await;
    for (method, path, body, expect) in rest_table(w.owner_token_id) {
        let status = rest_call(&w, method, &path, &body, &w.viewer_token).await;
        match expect {
            Viewer::Reads | Viewer::Allowed => assert!(status.is_success(), "REST {method} {path}: {status}"),
            Viewer::Refused => assert_eq!(status, StatusCode::FORBIDDEN, "REST {method} {path}"),
            Viewer::NotFound => assert_eq!(status, StatusCode::NOT_FOUND, "REST {method} {path}"),
            Viewer::Invalid => assert_eq!(status, StatusCode::BAD_REQUEST, "REST {method} {path}"),
        }
    }
    for (endpoint, fields, expect) in server_fn_table(w.owner_token_id) {
        let status = server_fn_call(&w, endpoint, &fields, &w.viewer_cookie).await;
        match expect {
            Viewer::Reads | Viewer::Allowed => assert!(
                (200..300).contains(&status),
                "server function {endpoint}: {status}"
            ),
            Viewer::Refused => assert_eq!(status, 403, "server function {endpoint}"),
            Viewer::NotFound => assert_eq!(status, 404, "server function {endpoint}"),
            Viewer::Invalid => assert_eq!(status, 400, "server function {endpoint}"),
        }
    }
    acme_is_intact(&w).await;
    // The viewer's own tokens carry the viewer role: they cannot do more than a session.
    let tokens = w
        .app
        .state
        .store
        .api_tokens(w.app.principal.org.id, None)
        .await
        .unwrap();
    assert!(tokens
        .iter()
        .filter(|t| t.owner == "viewer@example.com")
        .all(|t| t.role == Role::Viewer));
}

on_both_backends!(
    another_orgs_user_gets_404_from_every_endpoint,
    a_viewer_reads_but_changes_nothing
);

/// `METHOD /path` for every route `rest::routes()` declares, read from its source.
fn declared_rest_routes() -> Vec<String> {
    let src = include_str!("../src/server/rest.rs");
    let start = src.find("pub fn routes()").unwrap();
    let body = &src[start..start + src[start..].find("\n}\n").unwrap()];
    let mut out = Vec::new();
    for chunk in body.split(".route(").skip(1) {
        let path = chunk.split('"').nth(1).unwrap();
        for method in ["get", "post", "put", "delete", "patch"] {
            // `get(handler)`, `.put(handler)`, `axum::routing::patch(handler)`, but not
            // a handler whose name merely ends in the method (`budget(`).
            let called = chunk.match_indices(&format!("{method}(")).any(|(i, _)| {
                !chunk[..i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            if called {
                out.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn every_rest_route_is_in_the_table() {
    let listed: Vec<String> = rest_table(1)
        .into_iter()
        .map(|(m, p, _, _)| {
            // Back to the route template: the objects of `world` become parameters.
            let template = p
                .replace("/api/v1/orgs/acme", "/api/v1/orgs/{org}")
                .replace("/secrets/s/K", "/secrets/{set}/{key}")
                .replace("/secrets/s", "/secrets/{set}")
                .replace("/image-pull-secrets/p", "/image-pull-secrets/{name}")
                .replace("/deployments/d", "/deployments/{name}")
                .replace("/tokens/1", "/tokens/{id}")
                .replace("/members/owner@example.com", "/members/{email}");
            format!("{m} {template}")
        })
        .chain(REST_UNSCOPED.iter().map(|(r, _)| (*r).to_owned()))
        .collect();
    let declared = declared_rest_routes();
    assert!(
        declared.len() >= 20,
        "the route scan found too little: {declared:?}"
    );
    for route in &declared {
        assert!(
            listed.contains(route),
            "{route} is not in the authorization table of tests/authz.rs"
        );
    }
}

#[test]
fn every_server_function_is_in_the_table() {
    // Registering the app's routes registers its server functions.
    let _ = cloakroom::server::router::server_fn_paths();
    let listed: Vec<String> = server_fn_table(1)
        .into_iter()
        .map(|(e, _, _)| format!("/api/{e}"))
        .chain(SERVER_FN_UNSCOPED.iter().map(|(e, _)| format!("/api/{e}")))
        .collect();
    let registered = cloakroom::server::router::server_fn_paths();
    assert!(
        registered.len() >= 25,
        "too few server functions found: {registered:?}"
    );
    for path in &registered {
        assert!(
            listed.contains(path),
            "server function {path} is not in the authorization table of tests/authz.rs"
        );
    }
}
