//! Organizations through real HTTP: invitations, roles and the last owner, API tokens
//! that carry a role, personal workspaces, and the audit log.
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use crate::common;

use cloakroom::model::Role;
use common::{spawn_app, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app
        .http
        .request(method, app.url(&format!("/api/v1/orgs/acme{path}")))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Posts a server function as a browser form (JavaScript off) with an optional session.
async fn form(
    app: &TestApp,
    endpoint: &str,
    fields: &[(&str, &str)],
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .http
        .post(app.url(&format!("/api/{endpoint}")))
        .header("accept", "text/html")
        .form(fields);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

fn token_of(invite_url: &str) -> String {
    invite_url.rsplit('/').next().unwrap().to_owned()
}

fn session_from(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("cloakroom_session=cks_"))
        .map(|c| c.split(';').next().unwrap().to_owned())
}

async fn invitations_are_single_use_and_make_members(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = send(
        &app,
        Method::POST,
        "/invites",
        &app.token,
        Some(json!({"email": "new@example.com", "role": "member"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = token_of(body["invite_url"].as_str().unwrap());
    assert!(token.starts_with("cki_"));

    // A new person chooses a password, joins and is signed in.
    let res = form(
        &app,
        "accept_invite",
        &[("token", &token), ("password", "short")],
        None,
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::FOUND,
        "a too-short password goes back to the form"
    );
    assert!(session_from(&res).is_none());
    let res = form(
        &app,
        "accept_invite",
        &[("token", &token), ("password", "a-new-long-password")],
        None,
    )
    .await;
    assert_eq!(res.headers()["location"], "/orgs/acme/secrets");
    let session = session_from(&res).expect("signed in");
    let page = app
        .http
        .get(app.url("/orgs/acme/secrets"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let members = app.state.store.members(app.principal.org.id).await.unwrap();
    assert!(members
        .iter()
        .any(|m| m.email == "new@example.com" && m.role == Role::Member));
    // ... with a personal workspace of their own.
    let workspaces: Vec<String> = {
        let user = app
            .state
            .store
            .user_by_email("new@example.com")
            .await
            .unwrap()
            .unwrap();
        app.state
            .store
            .workspaces(user.id)
            .await
            .unwrap()
            .into_iter()
            .map(|w| w.name)
            .collect()
    };
    assert_eq!(workspaces, ["new-personal", "acme"]);

    // The link works once.
    let res = form(
        &app,
        "accept_invite",
        &[("token", &token), ("password", "another-password")],
        None,
    )
    .await;
    assert!(session_from(&res).is_none());
    let details = app
        .http
        .post(app.url("/api/invite_details"))
        .form(&[("token", &token)])
        .send()
        .await
        .unwrap();
    let err: cloakroom::error::AppError = details.json().await.unwrap();
    assert_eq!(err.status_code(), 404);

    // An existing account accepts while signed in as the invited email, and only then.
    common::user(&app.state, "existing@example.com", "elsewhere").await;
    let (_, body) = send(
        &app,
        Method::POST,
        "/invites",
        &app.token,
        Some(json!({"email": "existing@example.com", "role": "viewer"})),
    )
    .await;
    let token = token_of(body["invite_url"].as_str().unwrap());
    let res = form(&app, "accept_invite", &[("token", &token)], Some(&session)).await;
    assert_eq!(
        res.headers()["location"],
        format!("/invite/{token}"),
        "signed in as someone else"
    );
    let (_, existing) =
        cloakroom::domain::auth::login(&app.state, "existing@example.com", common::PASSWORD, "t")
            .await
            .unwrap();
    let existing = format!("cloakroom_session={existing}");
    let res = form(&app, "accept_invite", &[("token", &token)], Some(&existing)).await;
    assert_eq!(res.headers()["location"], "/orgs/acme/secrets");
    let members = app.state.store.members(app.principal.org.id).await.unwrap();
    assert!(members
        .iter()
        .any(|m| m.email == "existing@example.com" && m.role == Role::Viewer));

    // Expired links stop working.
    let (_, body) = send(
        &app,
        Method::POST,
        "/invites",
        &app.token,
        Some(json!({"email": "late@example.com", "role": "member"})),
    )
    .await;
    let token = token_of(body["invite_url"].as_str().unwrap());
    app.db.execute("UPDATE invites SET expires_at = created_at").await;
    let res = form(
        &app,
        "accept_invite",
        &[("token", &token), ("password", "a-long-password!")],
        None,
    )
    .await;
    assert!(session_from(&res).is_none());
    assert!(app
        .state
        .store
        .user_by_email("late@example.com")
        .await
        .unwrap()
        .is_none());

    // Bad input is named; members are not invited twice; personal workspaces have no guests.
    let (status, body) = send(
        &app,
        Method::POST,
        "/invites",
        &app.token,
        Some(json!({"email": "nope", "role": "member"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains("not an email address"),
        "{body}"
    );
    let (status, _) = send(
        &app,
        Method::POST,
        "/invites",
        &app.token,
        Some(json!({"email": "a@example.com", "role": "boss"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = send(
        &app,
        Method::POST,
        "/invites",
        &app.token,
        Some(json!({"email": "new@example.com", "role": "member"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let personal = app
        .state
        .store
        .membership(app.principal.user_id, "owner-personal")
        .await
        .unwrap()
        .unwrap();
    let who = cloakroom::domain::principal::Principal {
        org: personal.0,
        role: personal.1,
        ..app.principal.clone()
    };
    let err = cloakroom::domain::orgs::invite(&app.state, &who, "x@example.com", Role::Member)
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 409);
}

async fn roles_keep_an_owner_and_tokens_carry_at_most_their_creators_role(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = common::user_with_role(&app.state, "admin@example.com", "acme", Role::Admin).await;
    let admin_token = cloakroom::domain::auth::create_api_token(&app.state, &admin, "a")
        .await
        .unwrap();
    let member = common::user_with_role(&app.state, "member@example.com", "acme", Role::Member).await;
    let member_token = cloakroom::domain::auth::create_api_token(&app.state, &member, "m")
        .await
        .unwrap();

    // The only owner cannot leave or step down.
    let (status, body) = send(
        &app,
        Method::PATCH,
        "/members/owner@example.com",
        &app.token,
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"].as_str().unwrap().contains("last owner"));
    let (status, _) = send(
        &app,
        Method::DELETE,
        "/members/owner@example.com",
        &app.token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Admins manage members but not owners, and cannot make owners.
    let (status, _) = send(
        &app,
        Method::PATCH,
        "/members/member@example.com",
        &admin_token,
        Some(json!({"role": "owner"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(
        &app,
        Method::DELETE,
        "/members/owner@example.com",
        &admin_token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(
        &app,
        Method::PATCH,
        "/members/nobody@example.com",
        &admin_token,
        Some(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A member writes; demoted to viewer, the same token no longer may.
    let put = json!({"secrets": [{"key": "K", "value": "v"}]});
    let (status, _) = send(&app, Method::PUT, "/secrets/s", &member_token, Some(put.clone())).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = send(
        &app,
        Method::PATCH,
        "/members/member@example.com",
        &admin_token,
        Some(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = send(&app, Method::PUT, "/secrets/s", &member_token, Some(put.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("needs the member role"),
        "{body}"
    );
    // A token cannot make tokens; signed in as a viewer, the member makes one, and
    // promoted again, that token stays a viewer's token.
    let (status, _) = send(
        &app,
        Method::POST,
        "/tokens",
        &member_token,
        Some(json!({"name": "as viewer"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (signed_in, _) =
        cloakroom::domain::auth::login(&app.state, "member@example.com", common::PASSWORD, "test")
            .await
            .unwrap();
    assert_eq!(signed_in.role, Role::Viewer);
    let (_, viewer_made) = cloakroom::domain::orgs::create_token(&app.state, &signed_in, "as viewer")
        .await
        .unwrap();
    send(
        &app,
        Method::PATCH,
        "/members/member@example.com",
        &admin_token,
        Some(json!({"role": "member"})),
    )
    .await;
    let (status, _) = send(&app, Method::PUT, "/secrets/s", &member_token, Some(put.clone())).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(&app, Method::PUT, "/secrets/s", &viewer_made, Some(put.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Members see their own tokens; admins see everyone's and may revoke them.
    let (_, mine) = send(&app, Method::GET, "/tokens", &member_token, None).await;
    let owners: Vec<&str> = mine["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["owner"].as_str().unwrap())
        .collect();
    assert!(
        owners.iter().all(|o| *o == "member@example.com") && owners.len() == 2,
        "{owners:?}"
    );
    let (_, all) = send(&app, Method::GET, "/tokens", &admin_token, None).await;
    assert!(all["tokens"].as_array().unwrap().len() >= 4);
    let id = mine["tokens"][0]["id"].as_i64().unwrap();
    let (status, _) = send(&app, Method::DELETE, &format!("/tokens/{id}"), &admin_token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(&app, Method::GET, "/secrets", &member_token, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a revoked token stops working");

    // Ownership can be handed over; then the old owner may step down.
    let (status, _) = send(
        &app,
        Method::PATCH,
        "/members/admin@example.com",
        &app.token,
        Some(json!({"role": "owner"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(
        &app,
        Method::PATCH,
        "/members/owner@example.com",
        &app.token,
        Some(json!({"role": "member"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Removing a member ends their tokens too.
    let (status, _) = send(
        &app,
        Method::DELETE,
        "/members/owner@example.com",
        &admin_token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(&app, Method::GET, "/secrets", &app.token, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn the_audit_log_records_changes_never_values_and_only_grows(backend: Backend) {
    let app = spawn_app(backend).await;
    let value = "audit-secret-value-7f3a";
    // A change through the API, one through the CLI's user agent, one through a page form.
    let (status, _) = send(
        &app,
        Method::PUT,
        "/secrets/app",
        &app.token,
        Some(json!({"secrets": [{"key": "DB_URL", "value": value}]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let res = app
        .http
        .put(app.url("/api/v1/orgs/acme/secrets/app"))
        .bearer_auth(&app.token)
        .header("user-agent", "cloakroom-cli/0.1.0")
        .json(&json!({"secrets": [{"key": "API_KEY", "value": value}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (_, session) = cloakroom::domain::auth::login(&app.state, "owner@example.com", common::PASSWORD, "t")
        .await
        .unwrap();
    let cookie = format!("cloakroom_session={session}");
    let res = form(
        &app,
        "unset_key",
        &[("org", "acme"), ("set", "app"), ("key", "API_KEY")],
        Some(&cookie),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let _ = cloakroom::domain::auth::login(&app.state, "owner@example.com", "wrong-password", "t").await;
    // Failed sign-ins are recorded just after the answer (so they take no longer).
    let failed = cloakroom::model::AuditFilter {
        action: Some("login.failed".into()),
        limit: 1,
        ..Default::default()
    };
    for _ in 0..100 {
        if !app
            .state
            .store
            .audit(app.principal.org.id, &failed)
            .await
            .unwrap()
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (status, deployed) = send(
        &app,
        Method::PUT,
        "/deployments/web",
        &app.token,
        Some(json!({"image": "x/y:1", "secret_set": "app"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let runtime = app
        .http
        .get(app.url("/api/v1/runtime/env"))
        .bearer_auth(deployed["runtime_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(runtime.status(), StatusCode::OK);

    let (status, log) = send(&app, Method::GET, "/audit", &app.token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!log.to_string().contains(value), "no value in the audit log");
    let rows: Vec<(String, String, String, String)> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["source"].as_str().unwrap().to_owned(),
                e["object"].as_str().unwrap().to_owned(),
                e["keys"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(","),
            )
        })
        .collect();
    let expect = |action: &str, source: &str, object: &str, keys: &str| {
        assert!(
            rows.contains(&(action.into(), source.into(), object.into(), keys.into())),
            "missing {action} {source} {object} {keys} in {rows:?}"
        );
    };
    expect("secrets.set", "api", "set:app", "DB_URL");
    expect("secrets.set", "cli", "set:app", "API_KEY");
    expect("secrets.unset", "ui", "set:app", "API_KEY");
    expect("login", "ui", "member:owner@example.com", "");
    expect("login.failed", "ui", "member:owner@example.com", "");
    expect("deployment.create", "api", "deployment:web", "");
    expect("deployment.read-env", "runtime", "deployment:web", "DB_URL");
    assert_eq!(log["entries"][0]["action"], "deployment.read-env", "newest first");

    // Filters and paging.
    let (_, only) = send(
        &app,
        Method::GET,
        "/audit?object=set:app&action=secrets.",
        &app.token,
        None,
    )
    .await;
    assert_eq!(only["entries"].as_array().unwrap().len(), 3);
    let (_, page) = send(&app, Method::GET, "/audit?limit=2", &app.token, None).await;
    let before = page["next_before"].as_i64().unwrap();
    let (_, older) = send(
        &app,
        Method::GET,
        &format!("/audit?limit=2&before={before}"),
        &app.token,
        None,
    )
    .await;
    assert!(older["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["id"].as_i64().unwrap() < before));
    let (_, none) = send(
        &app,
        Method::GET,
        "/audit?user=nobody@example.com",
        &app.token,
        None,
    )
    .await;
    assert!(none["entries"].as_array().unwrap().is_empty());
    let (_, future) = send(
        &app,
        Method::GET,
        &format!("/audit?since={}", cloakroom::domain::now() + 3600),
        &app.token,
        None,
    )
    .await;
    assert!(future["entries"].as_array().unwrap().is_empty());

    // The set's page shows its own history.
    let html = app
        .http
        .get(app.url("/orgs/acme/secrets/app"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("History") && html.contains("secrets.unset") && !html.contains(value));

    // The database itself refuses to change or remove entries.
    assert!(app
        .db
        .try_execute("UPDATE audit_log SET actor = 'someone else'")
        .await
        .is_err());
    assert!(app.db.try_execute("DELETE FROM audit_log").await.is_err());
    let (_, after) = send(&app, Method::GET, "/audit?limit=500", &app.token, None).await;
    assert!(after["entries"].as_array().unwrap().len() >= rows.len());
}

async fn password_changes_end_other_sessions_and_owners_delete_organizations(backend: Backend) {
    let app = spawn_app(backend).await;
    let login = |password: &'static str| {
        let state = app.state.clone();
        async move {
            cloakroom::domain::auth::login(&state, "owner@example.com", password, "t")
                .await
                .map(|(_, s)| format!("cloakroom_session={s}"))
        }
    };
    let other_browser = login(common::PASSWORD).await.unwrap();
    let this_browser = login(common::PASSWORD).await.unwrap();
    let page = |cookie: String| {
        let http = common::http_client();
        let url = app.url("/orgs/acme/secrets");
        async move {
            http.get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let res = form(
        &app,
        "change_password",
        &[
            ("org", "acme"),
            ("current", "wrong-password"),
            ("new", "a-brand-new-password"),
        ],
        Some(&this_browser),
    )
    .await;
    assert!(
        session_from(&res).is_none(),
        "a wrong current password changes nothing"
    );
    assert_eq!(page(other_browser.clone()).await, StatusCode::OK);
    let res = form(
        &app,
        "change_password",
        &[
            ("org", "acme"),
            ("current", common::PASSWORD),
            ("new", "a-brand-new-password"),
        ],
        Some(&this_browser),
    )
    .await;
    let renewed = session_from(&res).expect("a new session for this browser");
    assert_eq!(
        page(other_browser).await,
        StatusCode::SEE_OTHER,
        "other sessions end"
    );
    assert_eq!(
        page(this_browser).await,
        StatusCode::SEE_OTHER,
        "the old id ends too"
    );
    assert_eq!(page(renewed.clone()).await, StatusCode::OK);
    assert!(login(common::PASSWORD).await.is_err());
    assert!(login("a-brand-new-password").await.is_ok());

    // Deleting the organization: owners only, by name, everything goes, the log stays.
    let (status, _) = send(
        &app,
        Method::PUT,
        "/secrets/s",
        &app.token,
        Some(json!({"secrets": [{"key": "K", "value": "v"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let res = form(
        &app,
        "delete_org",
        &[("org", "acme"), ("confirm", "acm")],
        Some(&renewed),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(
        app.state.store.org_by_name("acme").await.unwrap().is_some(),
        "a wrong name deletes nothing"
    );
    let org_id = app.principal.org.id;
    let res = form(
        &app,
        "delete_org",
        &[("org", "acme"), ("confirm", "acme")],
        Some(&renewed),
    )
    .await;
    assert_eq!(res.headers()["location"], "/secrets");
    assert!(app.state.store.org_by_name("acme").await.unwrap().is_none());
    assert!(app.state.store.get_set(org_id, "s").await.unwrap().is_none());
    let (status, _) = send(&app, Method::GET, "/secrets", &app.token, None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the organization's tokens are gone"
    );
    let log = app
        .state
        .store
        .audit(
            org_id,
            &cloakroom::model::AuditFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(log[0].action, "org.delete");
    // The owner is still signed in, now in their personal workspace.
    let home = common::http_client()
        .get(app.url("/secrets"))
        .header("cookie", &renewed)
        .send()
        .await
        .unwrap();
    assert_eq!(home.headers()["location"], "/orgs/owner-personal/secrets");
    let personal = app
        .state
        .store
        .membership(app.principal.user_id, "owner-personal")
        .await
        .unwrap()
        .unwrap();
    let who = cloakroom::domain::principal::Principal {
        org: personal.0,
        role: personal.1,
        ..app.principal.clone()
    };
    let err = cloakroom::domain::orgs::delete_org(&app.state, &who, "owner-personal")
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 409);
}

/// Someone holding a session (a laptop left open) must not learn the password by
/// guessing it on the account page: the current-password check has its own limit per
/// session holder, and counts toward the account-wide slowing of sign-ins.
async fn guessing_the_current_password_is_limited_like_signing_in(backend: Backend) {
    use cloakroom::domain::auth::{login, LOGIN_FAILURES_ALLOWED};
    let app = spawn_app(backend).await;
    let (_, session) = login(&app.state, "owner@example.com", common::PASSWORD, "t")
        .await
        .unwrap();
    let change = |current: &'static str| {
        let req = app
            .http
            .post(app.url("/api/change_password"))
            .header("accept", "application/json")
            .header("cookie", format!("cloakroom_session={session}"))
            .form(&[
                ("org", "acme"),
                ("current", current),
                ("new", "a-brand-new-password"),
            ]);
        async move { req.send().await.unwrap().status() }
    };
    for _ in 0..LOGIN_FAILURES_ALLOWED {
        let status = change("wrong-password").await;
        assert!(
            status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS,
            "{status}"
        );
    }
    assert_eq!(
        change(common::PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "past the limit even the right password is not checked"
    );
    // Guesses on the account page never lock the owner out of signing in.
    login(&app.state, "owner@example.com", common::PASSWORD, "elsewhere")
        .await
        .unwrap();
}

on_both_backends!(
    password_changes_end_other_sessions_and_owners_delete_organizations,
    guessing_the_current_password_is_limited_like_signing_in,
    invitations_are_single_use_and_make_members,
    roles_keep_an_owner_and_tokens_carry_at_most_their_creators_role,
    the_audit_log_records_changes_never_values_and_only_grows,
);
