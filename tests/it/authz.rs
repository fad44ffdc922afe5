//! Every REST endpoint and every server function, called as a user of another
//! organization (must answer exactly like a missing object: 404) and as a viewer, a
//! member and an admin (each gets what the README's role table says), over a protected
//! and an unprotected set; every plaintext value any answer gives away (directly or
//! through a runtime token it carries) is compared with the README's list of the ways a
//! role can read values. Two further tests fail when an endpoint or a server function
//! exists that these tables do not list.
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use crate::common;

use cloakroom::error::AppError;
use cloakroom::model::Role;
use common::{spawn_app, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// What a role gets from an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Allowed (2xx).
    Ok,
    /// Refused with 403: the role does not allow it.
    Refused,
    /// The object is not theirs to see (another member's API token): 404.
    NotFound,
    /// Allowed, but the input given is refused (400) before anything changes.
    Invalid,
    /// Allowed, but the object is in use (409), so nothing changes.
    InUse,
}

/// What (viewer, member, admin) of `acme` get.
type Row3 = (Expect, Expect, Expect);

const READ: Row3 = (Expect::Ok, Expect::Ok, Expect::Ok);
const MEMBER: Row3 = (Expect::Refused, Expect::Ok, Expect::Ok);
const ADMIN: Row3 = (Expect::Refused, Expect::Refused, Expect::Ok);
const NOBODY: Row3 = (Expect::Refused, Expect::Refused, Expect::Refused);

/// A secret value and a registry password of `acme`: no answer may contain them except
/// through the paths the README's role table lists.
const SET_VALUE: &str = "MARKER-SET-VALUE-5f1c";
const PULL_PASSWORD: &str = "MARKER-PULL-PASSWORD-9e2a";

/// The REST endpoints of `acme`, in the order they are called, as (method, path, body,
/// what viewer/member/admin get). Paths use the objects [`world`] creates.
fn rest_table(w: &WorldIds) -> Vec<(&'static str, String, Option<Value>, Row3)> {
    use Expect::*;
    let o = "/api/v1/orgs/acme";
    vec![
        ("GET", format!("{o}/secrets"), None, READ),
        ("GET", format!("{o}/secrets/s"), None, READ),
        (
            "PUT",
            format!("{o}/secrets/s"),
            Some(json!({"secrets": [{"key": "X", "value": "1"}]})),
            w.writes_s(),
        ),
        (
            "PATCH",
            format!("{o}/secrets/s"),
            Some(json!({"protected": w.protected})),
            ADMIN,
        ),
        ("DELETE", format!("{o}/secrets/s/X"), None, w.writes_s()),
        ("GET", format!("{o}/secret-versions/s"), None, READ),
        ("GET", format!("{o}/secret-versions/s/1"), None, READ),
        (
            "POST",
            format!("{o}/secret-restores?dry_run=true"),
            Some(json!({"set": "s", "version": 1})),
            w.writes_s(),
        ),
        (
            "POST",
            format!("{o}/secret-restores"),
            Some(json!({"set": "s", "version": 1})),
            w.writes_s(),
        ),
        (
            "POST",
            format!("{o}/secret-versions-prune"),
            Some(json!({"keep": 50})),
            NOBODY,
        ),
        (
            "GET",
            format!("{o}/secrets-compare?a=s&b=s"),
            None,
            w.compares_s(),
        ),
        (
            "POST",
            format!("{o}/secrets-compare"),
            Some(json!({"a": "s", "secrets": [{"key": "K", "value": "guess"}]})),
            w.writes_s(),
        ),
        (
            "POST",
            format!("{o}/secret-checks"),
            Some(json!({"set": "s", "key": "K", "value": "guess"})),
            w.writes_s(),
        ),
        (
            "POST",
            format!("{o}/secrets-find"),
            Some(json!({"value": "guess"})),
            ADMIN,
        ),
        ("GET", format!("{o}/deleted-secrets"), None, READ),
        (
            "DELETE",
            format!("{o}/deleted-secrets/{}", w.deleted_id),
            None,
            NOBODY,
        ),
        (
            "POST",
            format!("{o}/deleted-secrets/{}/restore", w.deleted_id),
            Some(json!({})),
            w.writes_s(),
        ),
        (
            "DELETE",
            format!("{o}/secrets/s"),
            None,
            (Refused, Refused, InUse),
        ),
        ("GET", format!("{o}/image-pull-secrets"), None, READ),
        (
            "POST",
            format!("{o}/image-pull-secrets"),
            Some(json!({"name": "q", "registry": "ghcr.io", "username": "u", "password": "p"})),
            ADMIN,
        ),
        (
            "DELETE",
            format!("{o}/image-pull-secrets/p"),
            None,
            (Refused, Refused, InUse),
        ),
        (
            "GET",
            format!("{o}/image-pull-secrets/p/dockerconfigjson"),
            None,
            ADMIN,
        ),
        ("GET", format!("{o}/deployments"), None, READ),
        ("GET", format!("{o}/deployments/d"), None, READ),
        (
            "PUT",
            format!("{o}/deployments/e"),
            Some(json!({"image": "x/y:2", "secret_set": "s"})),
            w.deploys_s(),
        ),
        (
            "PUT",
            format!("{o}/deployments/d"),
            Some(json!({"image": "x/y:2", "secret_set": "s", "image_credentials": "p"})),
            w.deploys_s(),
        ),
        ("POST", format!("{o}/deployments/d/redeploy"), None, w.deploys_s()),
        (
            "POST",
            format!("{o}/deployments/d/runtime-token"),
            None,
            w.deploys_s(),
        ),
        ("GET", format!("{o}/deployments/d/revisions"), None, READ),
        (
            "POST",
            format!("{o}/deployments/d/rollback"),
            Some(json!({"revision": 1})),
            w.deploys_s(),
        ),
        ("GET", format!("{o}/tokens"), None, READ),
        // Only a signed-in person creates API tokens, never a token.
        (
            "POST",
            format!("{o}/tokens"),
            Some(json!({"name": "mine"})),
            NOBODY,
        ),
        (
            "DELETE",
            format!("{o}/tokens/{}", w.owner_token_id),
            None,
            (NotFound, NotFound, Ok),
        ),
        ("GET", format!("{o}/members"), None, READ),
        (
            "PATCH",
            format!("{o}/members/owner@example.com"),
            Some(json!({"role": "viewer"})),
            NOBODY,
        ),
        ("DELETE", format!("{o}/members/owner@example.com"), None, NOBODY),
        ("GET", format!("{o}/invites"), None, ADMIN),
        (
            "POST",
            format!("{o}/invites"),
            Some(json!({"email": "new@example.com", "role": "member"})),
            ADMIN,
        ),
        ("DELETE", format!("{o}/invites/{}", w.invite_id), None, ADMIN),
        ("GET", format!("{o}/audit"), None, READ),
        ("DELETE", format!("{o}/deployments/d"), None, w.deploys_s()),
    ]
}

/// REST routes that are not about one organization, with why they need no row above.
const REST_UNSCOPED: &[(&str, &str)] = &[
    (
        "GET /api/v1/runtime/env",
        "runtime tokens only; reached below through every runtime token an answer carries",
    ),
    ("GET /api/v1/whoami", "answers about the caller's own token"),
    (
        "GET /api/v1/openapi.json",
        "public: the API's description, no data; tested in tests/it/openapi.rs",
    ),
    (
        "POST /api/v1/orgs",
        "creates a new organization of the caller's own; tested in tests/it/hardening/security.rs",
    ),
];

/// Form fields of a server function call.
type Fields = Vec<(&'static str, String)>;

/// The server functions of `acme`, in the order they are called, as (endpoint, form
/// fields, what viewer/member/admin get).
fn server_fn_table(w: &WorldIds) -> Vec<(&'static str, Fields, Row3)> {
    use Expect::*;
    let f = |pairs: &[(&'static str, &str)]| -> Fields {
        let mut v = vec![("org", "acme".to_owned())];
        v.extend(pairs.iter().map(|(k, val)| (*k, (*val).to_owned())));
        v
    };
    let token_id = w.owner_token_id.to_string();
    let invite_id = w.invite_id.to_string();
    let deleted_id = w.deleted_id.to_string();
    let protected = w.protected.to_string();
    vec![
        ("current_viewer", f(&[]), READ),
        ("list_set_page", f(&[("q", "s")]), READ),
        ("get_set", f(&[("set", "s")]), READ),
        ("create_set", f(&[("name", "new-set")]), MEMBER),
        (
            "save_rows",
            f(&[("set", "s"), ("rows[0][key]", "X"), ("rows[0][value]", "1")]),
            w.writes_s(),
        ),
        ("save_paste", f(&[("set", "s"), ("text", "Y=1")]), w.writes_s()),
        (
            "protect_set",
            f(&[("set", "s"), ("protected", &protected)]),
            ADMIN,
        ),
        ("unset_key", f(&[("set", "s"), ("key", "X")]), w.writes_s()),
        ("list_set_versions", f(&[("set", "s")]), READ),
        ("get_set_version", f(&[("set", "s"), ("version", "1")]), READ),
        (
            "preview_restore",
            f(&[("set", "s"), ("version", "1")]),
            w.writes_s(),
        ),
        ("restore_set", f(&[("set", "s"), ("version", "1")]), w.writes_s()),
        ("list_deleted_sets", f(&[]), READ),
        ("compare_sets", f(&[("a", "s"), ("b", "s@1")]), w.compares_s()),
        ("find_value", f(&[("value", "guess")]), ADMIN),
        ("purge_set", f(&[("id", &deleted_id)]), NOBODY),
        ("undelete_set", f(&[("id", &deleted_id)]), w.writes_s()),
        (
            "delete_set",
            f(&[("set", "s"), ("confirm", "s")]),
            (Refused, Refused, InUse),
        ),
        ("list_pull_secrets", f(&[]), READ),
        (
            "create_pull_secret",
            f(&[
                ("name", "q"),
                ("registry", "ghcr.io"),
                ("username", "u"),
                ("password", "p"),
                ("encode", "on"),
            ]),
            ADMIN,
        ),
        (
            "delete_pull_secret",
            f(&[("name", "p")]),
            (Refused, Refused, InUse),
        ),
        ("list_deployment_page", f(&[("q", "d")]), READ),
        ("deployments_using", f(&[("set", "s")]), READ),
        ("get_deployment", f(&[("name", "d")]), READ),
        (
            "deploy",
            f(&[("name", "e"), ("image", "x/y:2"), ("secret_set", "s")]),
            w.deploys_s(),
        ),
        ("redeploy", f(&[("name", "d")]), w.deploys_s()),
        ("rotate_runtime_token", f(&[("name", "d")]), w.deploys_s()),
        ("list_deployment_revisions", f(&[("name", "d")]), READ),
        (
            "rollback_deployment",
            f(&[("name", "d"), ("revision", "1")]),
            w.deploys_s(),
        ),
        ("delete_deployment", f(&[("name", "d")]), w.deploys_s()),
        ("list_members", f(&[]), READ),
        ("list_invites", f(&[]), ADMIN),
        (
            "invite_member",
            f(&[("email", "new@example.com"), ("role", "member")]),
            ADMIN,
        ),
        ("revoke_invite", f(&[("id", &invite_id)]), ADMIN),
        (
            "change_member_role",
            f(&[("email", "owner@example.com"), ("role", "viewer")]),
            NOBODY,
        ),
        ("remove_member", f(&[("email", "owner@example.com")]), NOBODY),
        ("list_tokens", f(&[]), READ),
        ("create_token", f(&[("name", "mine")]), READ),
        ("revoke_token", f(&[("id", &token_id)]), (NotFound, NotFound, Ok)),
        ("list_audit", f(&[]), READ),
        (
            "change_password",
            f(&[("current", "not-the-password"), ("new", "a-new-long-password")]),
            (Invalid, Invalid, Invalid),
        ),
        ("create_org", f(&[("name", "their-own")]), READ),
        ("delete_org", f(&[("confirm", "acme")]), NOBODY),
    ]
}

/// Server functions that are not about one organization, with why.
const SERVER_FN_UNSCOPED: &[(&str, &str)] = &[
    ("login", "signs in; no organization yet"),
    ("logout", "ends the caller's own session"),
    (
        "invite_details",
        "the invitation link is the credential; tested in tests/it/orgs.rs",
    ),
    (
        "accept_invite",
        "the invitation link is the credential; tested in tests/it/orgs.rs",
    ),
    (
        "setup_open",
        "the setup link is the credential; tested in tests/it/hardening/security.rs",
    ),
    (
        "setup_instance",
        "the setup link is the credential; tested in tests/it/hardening/security.rs",
    ),
];

/// The ids of the objects a [`World`] was made with.
struct WorldIds {
    owner_token_id: i64,
    invite_id: i64,
    /// The deleted set `gone` (protected like `s`).
    deleted_id: i64,
    /// Whether set `s` is protected.
    protected: bool,
}

impl WorldIds {
    /// Changing the values of `s`: members may unless it is protected (a value written
    /// into a protected set would run with all of its others).
    fn writes_s(&self) -> Row3 {
        self.deploys_s()
    }

    /// Comparing `s` with its own versions: everyone sees what its fingerprints show,
    /// but a protected set's fingerprints and comparisons are for admins.
    fn compares_s(&self) -> Row3 {
        if self.protected {
            ADMIN
        } else {
            READ
        }
    }

    /// Deploying `s` (and redeploying, rotating or deleting `d`, which uses it):
    /// members may unless `s` is protected.
    fn deploys_s(&self) -> Row3 {
        if self.protected {
            ADMIN
        } else {
            MEMBER
        }
    }
}

struct World {
    app: TestApp,
    ids: WorldIds,
    /// API tokens and session cookies of the viewer, member and admin of `acme`.
    tokens: [String; 3],
    cookies: [String; 3],
    outsider_token: String,
    outsider_cookie: String,
}

const ROLES: [(Role, &str); 3] = [
    (Role::Viewer, "viewer@example.com"),
    (Role::Member, "member@example.com"),
    (Role::Admin, "admin@example.com"),
];

/// `acme` with a set (protected or not), a pull secret, a deployment of both made by
/// the owner, a pending invitation; a viewer, a member and an admin of `acme`; the owner
/// of another organization.
async fn world(backend: Backend, protected: bool) -> World {
    let app = spawn_app(backend).await;
    for (method, path, body) in [
        (
            Method::PUT,
            "/secrets/s",
            json!({"secrets": [{"key": "K", "value": SET_VALUE}]}),
        ),
        (Method::PATCH, "/secrets/s", json!({ "protected": protected })),
        (
            Method::POST,
            "/image-pull-secrets",
            json!({"name": "p", "registry": "ghcr.io", "username": "u", "password": PULL_PASSWORD}),
        ),
        (
            Method::PUT,
            "/deployments/d",
            json!({"image": "x/y:1", "secret_set": "s", "image_credentials": "p"}),
        ),
        (
            Method::POST,
            "/invites",
            json!({"email": "pending@example.com", "role": "viewer"}),
        ),
        (
            Method::PUT,
            "/secrets/gone",
            json!({"secrets": [{"key": "G", "value": SET_VALUE}]}),
        ),
        (Method::PATCH, "/secrets/gone", json!({ "protected": protected })),
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
    let invite_id = app.state.store.invites(app.principal.org.id, 0).await.unwrap()[0].id;
    let res = app.api(Method::DELETE, "/secrets/gone").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let deleted_id = cloakroom::domain::history::deleted(&app.state, &app.principal)
        .await
        .unwrap()[0]
        .id;
    let mut tokens = Vec::new();
    let mut cookies = Vec::new();
    for (role, email) in ROLES {
        let who = common::user_with_role(&app.state, email, "acme", role).await;
        tokens.push(
            cloakroom::domain::auth::create_api_token(&app.state, &who, "t")
                .await
                .unwrap(),
        );
        cookies.push(app.session(email).await);
    }
    let outsider = common::user(&app.state, "outsider@example.com", "other").await;
    let outsider_token = cloakroom::domain::auth::create_api_token(&app.state, &outsider, "o")
        .await
        .unwrap();
    World {
        outsider_cookie: app.session("outsider@example.com").await,
        app,
        ids: WorldIds {
            owner_token_id,
            invite_id,
            deleted_id,
            protected,
        },
        tokens: tokens.try_into().unwrap(),
        cookies: cookies.try_into().unwrap(),
        outsider_token,
    }
}

/// An answer: its status (the error's own status for a failed server function) and
/// everything a client could read from it (headers and body).
struct Answer {
    status: u16,
    text: String,
}

fn answer_text(res: &reqwest::Response) -> String {
    res.headers()
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", v.to_str().unwrap_or("")))
        .collect()
}

async fn rest_call(w: &World, method: &str, path: &str, body: &Option<Value>, token: &str) -> Answer {
    let mut req = w
        .app
        .http
        .request(Method::from_bytes(method.as_bytes()).unwrap(), w.app.url(path))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let mut text = answer_text(&res);
    text.push_str(&res.text().await.unwrap());
    Answer { status, text }
}

/// Calls a server function as a form post from an island.
async fn server_fn_call(w: &World, endpoint: &str, fields: &[(&str, String)], cookie: &str) -> Answer {
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
    let mut text = answer_text(&res);
    let body = res.text().await.unwrap();
    text.push_str(&body);
    let status = if status.is_success() {
        status.as_u16()
    } else {
        match serde_json::from_str::<AppError>(&body) {
            Ok(e) => e.status_code(),
            Err(_) => status.as_u16(),
        }
    };
    Answer { status, text }
}

fn status_of(expect: Expect) -> fn(u16) -> bool {
    match expect {
        Expect::Ok => |s| (200..300).contains(&s),
        Expect::Refused => |s| s == 403,
        Expect::NotFound => |s| s == 404,
        Expect::Invalid => |s| s == 400,
        Expect::InUse => |s| s == 409,
    }
}

/// The plaintext values an answer gives away: directly, or through a runtime token it
/// carries (in its body or in a cookie), which is then used the way a deployment
/// would.
async fn values_obtained(w: &World, answer: &Answer) -> Vec<&'static str> {
    use base64::Engine;
    let mut found = Vec::new();
    // The text itself, and whatever its base64-looking runs decode to (twice: a
    // dockerconfigjson holds base64 of JSON that holds base64 of user:password).
    let mut layers = vec![answer.text.clone()];
    for depth in 0..2 {
        let decoded: Vec<String> = layers[depth..]
            .iter()
            .flat_map(|t| {
                t.split(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '='))
                    .filter(|run| run.len() >= 12)
                    .filter_map(|run| base64::engine::general_purpose::STANDARD.decode(run).ok())
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        layers.extend(decoded);
    }
    if layers.iter().any(|t| t.contains(SET_VALUE)) {
        found.push("set value in the answer");
    }
    if layers.iter().any(|t| t.contains(PULL_PASSWORD)) {
        found.push("registry password in the answer");
    }
    let mut rest = answer.text.as_str();
    while let Some(at) = rest.find("ckd_") {
        let token: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        rest = &rest[at + 4..];
        let res = w
            .app
            .http
            .get(w.app.url("/api/v1/runtime/env"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if res.status().is_success() && res.text().await.unwrap().contains(SET_VALUE) {
            found.push("set value through a runtime token");
        }
    }
    found
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
            ("admin@example.com".to_owned(), Role::Admin),
            ("member@example.com".to_owned(), Role::Member),
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
    let invites: Vec<String> = w
        .app
        .state
        .store
        .invites(w.app.principal.org.id, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.email)
        .collect();
    assert_eq!(invites, ["pending@example.com"]);
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
    let w = world(backend, false).await;
    for (method, path, body, _) in rest_table(&w.ids) {
        let a = rest_call(&w, method, &path, &body, &w.outsider_token).await;
        assert_eq!(a.status, 404, "REST {method} {path}");
    }
    for (endpoint, fields, _) in server_fn_table(&w.ids) {
        if endpoint == "create_org" {
            // Not about acme: it makes an organization of the caller's own.
            continue;
        }
        let a = server_fn_call(&w, endpoint, &fields, &w.outsider_cookie).await;
        assert_eq!(a.status, 404, "server function {endpoint}");
    }
    // The organization's pages answer like missing ones too.
    for page in [
        "/orgs/acme/secrets",
        "/orgs/acme/secrets/s",
        "/orgs/acme/members",
        "/orgs/acme/new-deployment",
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

/// Which role obtains a plaintext value through which entry point: exactly the list
/// of the README's role table ("Who can read values").
fn documented_value_paths(protected: bool) -> Vec<(Role, &'static str, &'static str)> {
    let mut paths = vec![
        (
            Role::Admin,
            "REST GET /api/v1/orgs/acme/image-pull-secrets/p/dockerconfigjson",
            "registry password in the answer",
        ),
        (
            Role::Admin,
            "REST PUT /api/v1/orgs/acme/deployments/e",
            "set value through a runtime token",
        ),
        (
            Role::Admin,
            "REST POST /api/v1/orgs/acme/deployments/d/runtime-token",
            "set value through a runtime token",
        ),
        (
            Role::Admin,
            "server function deploy",
            "set value through a runtime token",
        ),
        (
            Role::Admin,
            "server function rotate_runtime_token",
            "set value through a runtime token",
        ),
    ];
    if !protected {
        for (_, route, how) in paths.clone().into_iter().skip(1) {
            paths.push((Role::Member, route, how));
        }
    }
    paths.sort();
    paths
}

/// Every route as viewer, member and admin of `acme`: the expected status for each
/// role, and every plaintext value any answer gives away, directly or through a
/// runtime token, compared with the documented list.
async fn each_role_gets_what_the_role_table_says(backend: Backend, protected: bool) {
    let mut obtained = Vec::new();
    for (i, (role, _)) in ROLES.into_iter().enumerate() {
        let w = world(backend, protected).await;
        for (method, path, body, expect) in rest_table(&w.ids) {
            let expect = [expect.0, expect.1, expect.2][i];
            let a = rest_call(&w, method, &path, &body, &w.tokens[i]).await;
            assert!(
                status_of(expect)(a.status),
                "{role} REST {method} {path}: {} (expected {expect:?}, protected {protected})",
                a.status
            );
            for how in values_obtained(&w, &a).await {
                obtained.push((role, format!("REST {method} {path}"), how));
            }
        }
        if role == Role::Viewer {
            acme_is_intact(&w).await;
        }
        let w = world(backend, protected).await;
        for (endpoint, fields, expect) in server_fn_table(&w.ids) {
            let expect = [expect.0, expect.1, expect.2][i];
            let a = server_fn_call(&w, endpoint, &fields, &w.cookies[i]).await;
            assert!(
                status_of(expect)(a.status),
                "{role} server function {endpoint}: {} (expected {expect:?}, protected {protected})",
                a.status
            );
            for how in values_obtained(&w, &a).await {
                obtained.push((role, format!("server function {endpoint}"), how));
            }
        }
        if role == Role::Viewer {
            acme_is_intact(&w).await;
        }
    }
    let mut obtained: Vec<(Role, &str, &str)> =
        obtained.iter().map(|(r, p, h)| (*r, p.as_str(), *h)).collect();
    obtained.sort();
    obtained.dedup();
    assert_eq!(obtained, documented_value_paths(protected));
}

async fn roles_over_an_unprotected_set(backend: Backend) {
    each_role_gets_what_the_role_table_says(backend, false).await;
}

async fn roles_over_a_protected_set(backend: Backend) {
    each_role_gets_what_the_role_table_says(backend, true).await;
}

/// A member writes `s`'s own value, under its own key, into a set of their own: the
/// fingerprint they see there never matches the one an admin sees in protected `s`,
/// which they cannot see at all.
async fn a_members_written_guess_never_matches_a_protected_fingerprint(backend: Backend) {
    let w = world(backend, true).await;
    let (viewer, member, admin) = (&w.tokens[0], &w.tokens[1], &w.tokens[2]);
    async fn print(w: &World, token: &str, set: &str) -> Value {
        let answer = rest_call(
            w,
            "GET",
            &format!("/api/v1/orgs/acme/secrets/{set}"),
            &None,
            token,
        )
        .await;
        // The answer's text is its headers, a line each, then its body.
        let body = &answer.text[answer.text.find("\n{").unwrap() + 1..];
        let v: Value = serde_json::from_str(body).unwrap();
        v["keys"][0]["fingerprint"].clone()
    }
    let protected = print(&w, admin, "s").await;
    assert!(protected.is_string(), "{protected}");
    assert_eq!(print(&w, member, "s").await, Value::Null);
    assert_eq!(print(&w, viewer, "s").await, Value::Null);
    let guess = rest_call(
        &w,
        "PUT",
        "/api/v1/orgs/acme/secrets/guess",
        &Some(json!({"secrets": [{"key": "K", "value": SET_VALUE}]})),
        member,
    )
    .await;
    assert_eq!(guess.status, 201, "{}", guess.text);
    for token in [viewer, member, admin] {
        let seen = print(&w, token, "guess").await;
        assert!(seen.is_string());
        assert_ne!(seen, protected);
    }
}

on_both_backends!(
    another_orgs_user_gets_404_from_every_endpoint,
    roles_over_an_unprotected_set,
    roles_over_a_protected_set,
    a_members_written_guess_never_matches_a_protected_fingerprint,
);

/// `METHOD /path` for every route of the real router: each REST path it is built from,
/// probed with each method (405 means "no such route").
async fn declared_rest_routes() -> Vec<String> {
    let app = spawn_app(Backend::Sqlite).await;
    let mut out = Vec::new();
    for path in cloakroom::web::rest::PATHS {
        let concrete = path
            .split('/')
            .map(|part| if part.starts_with('{') { "x" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let res = app
                .http
                .request(Method::from_bytes(method.as_bytes()).unwrap(), app.url(&concrete))
                .send()
                .await
                .unwrap();
            if res.status() != StatusCode::METHOD_NOT_ALLOWED {
                out.push(format!("{method} {path}"));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn every_rest_route_is_in_the_table() {
    let ids = WorldIds {
        owner_token_id: 1,
        invite_id: 1,
        deleted_id: 1,
        protected: false,
    };
    let listed: Vec<String> = rest_table(&ids)
        .into_iter()
        .map(|(m, p, _, _)| {
            // Back to the route template: the objects of `world` become parameters.
            let template = p
                .replace("/api/v1/orgs/acme", "/api/v1/orgs/{org}")
                .replace("/secret-versions/s/1", "/secret-versions/{set}/{version}")
                .replace("/secret-versions/s", "/secret-versions/{set}")
                .replace("/secret-restores?dry_run=true", "/secret-restores")
                .replace("/secrets-compare?a=s&b=s", "/secrets-compare")
                .replace("/deleted-secrets/1", "/deleted-secrets/{id}")
                .replace("/secrets/s/X", "/secrets/{set}/{key}")
                .replace("/secrets/s", "/secrets/{set}")
                .replace("/image-pull-secrets/p", "/image-pull-secrets/{name}")
                .replace("/deployments/d", "/deployments/{name}")
                .replace("/tokens/1", "/tokens/{id}")
                .replace("/invites/1", "/invites/{id}")
                .replace("/members/owner@example.com", "/members/{email}");
            format!("{m} {template}")
        })
        .chain(REST_UNSCOPED.iter().map(|(r, _)| (*r).to_owned()))
        .collect();
    let declared = declared_rest_routes().await;
    assert!(
        declared.len() >= 20,
        "the route scan found too little: {declared:?}"
    );
    for route in &declared {
        assert!(
            listed.contains(route),
            "{route} is not in the authorization table of tests/it/authz.rs"
        );
    }
}

#[test]
fn every_server_function_is_in_the_table() {
    // Registering the app's routes registers its server functions.
    let _ = cloakroom::web::router::server_fn_paths();
    let ids = WorldIds {
        owner_token_id: 1,
        invite_id: 1,
        deleted_id: 1,
        protected: false,
    };
    let listed: Vec<String> = server_fn_table(&ids)
        .into_iter()
        .map(|(e, _, _)| format!("/api/{e}"))
        .chain(SERVER_FN_UNSCOPED.iter().map(|(e, _)| format!("/api/{e}")))
        .collect();
    let registered = cloakroom::web::router::server_fn_paths();
    assert!(
        registered.len() >= 25,
        "too few server functions found: {registered:?}"
    );
    for path in &registered {
        assert!(
            listed.contains(path),
            "server function {path} is not in the authorization table of tests/it/authz.rs"
        );
    }
}
