//! Web-security hardening through real HTTP: cross-site request forgery, sign-in rate
//! limits, session expiry and rotation, the Content-Security-Policy and size limits.
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use crate::common;
mod pg_tls;
mod security;

use common::{spawn_app, spawn_app_with, Backend, TestApp};
use reqwest::StatusCode;
use serde_json::json;

/// Signs in through the login server function from `address` (sent as
/// X-Forwarded-For, which the app trusts when configured to).
async fn sign_in(app: &TestApp, email: &str, password: &str, address: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/login"))
        .header("accept", "application/json")
        .header("x-forwarded-for", address)
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
}

fn session_of(res: &reqwest::Response) -> String {
    res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

async fn key_count(app: &TestApp, set: &str) -> usize {
    let res = app
        .api(reqwest::Method::GET, &format!("/secrets/{set}"))
        .send()
        .await
        .unwrap();
    if res.status() == StatusCode::NOT_FOUND {
        return 0;
    }
    let body: serde_json::Value = res.json().await.unwrap();
    body["keys"].as_array().unwrap().len()
}

async fn cross_origin_posts_with_a_session_cookie_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = session_of(&sign_in(&app, "owner@example.com", common::PASSWORD, "10.0.0.1").await);
    let post = |origin: Option<&str>, referer: Option<&str>, key: &str| {
        // A client without the default Origin, to control exactly what is sent.
        let mut req = common::http_client()
            .post(app.url("/api/save_paste"))
            .header("accept", "application/json")
            .header("cookie", &session)
            .form(&[("org", "acme"), ("set", "web"), ("text", &format!("{key}=1"))]);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(r) = referer {
            req = req.header("referer", r);
        }
        req.send()
    };
    let res = post(Some("http://evil.example"), None, "A").await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("another origin"),
        "{body}"
    );
    assert_eq!(
        post(None, None, "A").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(Some("null"), None, "A").await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "sandboxed frames send Origin: null"
    );
    assert_eq!(
        post(None, Some("http://evil.example/page"), "A")
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(key_count(&app, "web").await, 0, "nothing was written");
    // A look-alike host with the right prefix is another origin.
    let lookalike = format!("{}.evil.example", app.base);
    assert_eq!(
        post(Some(&lookalike), None, "A").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    assert_eq!(
        post(Some(&app.base), None, "A").await.unwrap().status(),
        StatusCode::OK
    );
    let referer = format!("{}/orgs/acme/secrets/web", app.base);
    assert_eq!(
        post(None, Some(&referer), "B").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(key_count(&app, "web").await, 2);

    // Logging in from another site is refused too (login CSRF).
    let res = common::http_client()
        .post(app.url("/api/login"))
        .header("origin", "http://evil.example")
        .form(&[("email", "owner@example.com"), ("password", common::PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get("set-cookie").is_none());

    // The bearer-token API never reads cookies, so the Origin does not matter there.
    let res = app
        .api(reqwest::Method::PUT, "/secrets/web")
        .header("origin", "http://evil.example")
        .json(&json!({"secrets": [{"key": "C", "value": "1"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // ... and a session cookie does not authorize it.
    let res = common::http_client()
        .get(app.url("/api/v1/orgs/acme/secrets"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn with_a_public_url_only_that_origin_is_accepted(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.public_url = Some("https://secrets.example.com".into());
    })
    .await;
    // The request's own host is no longer enough: the browser's origin must be the public one.
    let res = sign_in(&app, "owner@example.com", common::PASSWORD, "10.0.0.1").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .http
        .post(app.url("/api/login"))
        .header("origin", "https://secrets.example.com")
        .form(&[("email", "owner@example.com"), ("password", common::PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-cloakroom_session="), "{cookie}");
    assert!(
        cookie.contains("; Secure") && cookie.contains("; Path=/;"),
        "{cookie}"
    );
}

async fn sign_in_is_rate_limited_per_account_and_per_address(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.trust_proxy = true).await;
    // Per account and address: five failures from one address, then even the right
    // password waits there (from another address it goes through: round3::signin).
    for i in 1..=cloakroom::domain::auth::LOGIN_FAILURES_ALLOWED {
        let res = sign_in(&app, "owner@example.com", "wrong-password", "10.0.1.1").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let res = sign_in(&app, "Owner@Example.com", common::PASSWORD, "10.0.1.1").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(res.headers().get("set-cookie").is_none());
    // The island shows the error's own text; the answer does not confirm the account.
    let body: cloakroom::error::AppError = res.json().await.unwrap();
    assert!(
        body.to_string()
            .starts_with("too many failed sign-ins; try again in"),
        "{body}"
    );

    // Per address: failures for many accounts from one address block that address only.
    for i in 1..=cloakroom::domain::auth::ADDRESS_FAILURES_ALLOWED {
        let res = sign_in(
            &app,
            &format!("guess{i}@example.com"),
            "wrong-password",
            "10.0.2.1",
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let other = common::user(&app.state, "second@example.com", "acme").await;
    let res = sign_in(&app, &other.email, common::PASSWORD, "10.0.2.1").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let res = sign_in(&app, &other.email, common::PASSWORD, "10.0.2.2").await;
    assert_eq!(res.status(), StatusCode::OK);

    // Typed emails are never stored, only keyed hashes of them.
    if backend == Backend::Sqlite {
        for file in ["cloakroom.db", "cloakroom.db-wal"] {
            let bytes = std::fs::read(app.db.dir.path().join(file)).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&bytes).contains("guess1@example.com"),
                "{file}"
            );
        }
    }

    // Once the failures are more than a minute old, the account may sign in again.
    app.db.execute("UPDATE login_failures SET at = at - 61").await;
    let res = sign_in(&app, "owner@example.com", common::PASSWORD, "10.0.1.1").await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn sessions_end_when_idle_expired_or_replaced(backend: Backend) {
    let app = spawn_app(backend).await;
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
    let first = session_of(&sign_in(&app, "owner@example.com", common::PASSWORD, "x").await);
    assert_eq!(page(first.clone()).await, StatusCode::OK);

    // Signing in again from the same browser replaces the session id.
    let res = app
        .http
        .post(app.url("/api/login"))
        .header("cookie", &first)
        .form(&[("email", "owner@example.com"), ("password", common::PASSWORD)])
        .send()
        .await
        .unwrap();
    let second = session_of(&res);
    assert_ne!(first, second);
    assert_eq!(
        page(first).await,
        StatusCode::SEE_OTHER,
        "the old id no longer works"
    );
    assert_eq!(page(second.clone()).await, StatusCode::OK);

    // Unused for longer than the idle timeout: gone.
    let idle = app.state.config.session_idle_secs + 1;
    app.db
        .execute(&format!("UPDATE sessions SET last_seen = last_seen - {idle}"))
        .await;
    assert_eq!(page(second).await, StatusCode::SEE_OTHER);

    // Past the absolute lifetime: gone, however recently used.
    let third = session_of(&sign_in(&app, "owner@example.com", common::PASSWORD, "x").await);
    assert_eq!(page(third.clone()).await, StatusCode::OK);
    app.db
        .execute("UPDATE sessions SET expires_at = created_at")
        .await;
    assert_eq!(page(third).await, StatusCode::SEE_OTHER);
}

async fn sets_refuse_more_keys_than_the_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    let max = cloakroom::validate::SET_MAX_KEYS;
    let pairs = |from: usize, to: usize| {
        (from..to)
            .map(|i| json!({"key": format!("K{i}"), "value": "v"}))
            .collect::<Vec<_>>()
    };
    let res = app
        .api(reqwest::Method::PUT, "/secrets/many")
        .json(&json!({ "secrets": pairs(0, max + 1) }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "one write over the limit");
    let res = app
        .api(reqwest::Method::PUT, "/secrets/many")
        .json(&json!({ "secrets": pairs(0, max) }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app
        .api(reqwest::Method::PUT, "/secrets/many")
        .json(&json!({ "secrets": pairs(max, max + 1) }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "the set would go over"
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("would hold 1001 keys; a set may hold at most 1000"),
        "{body}"
    );
    assert_eq!(key_count(&app, "many").await, max, "the set is as it was");
}

on_both_backends!(
    cross_origin_posts_with_a_session_cookie_are_refused,
    with_a_public_url_only_that_origin_is_accepted,
    sign_in_is_rate_limited_per_account_and_per_address,
    sessions_end_when_idle_expired_or_replaced,
    sets_refuse_more_keys_than_the_limit,
);

fn csp_nonce(csp: &str) -> String {
    let start = csp.find("'nonce-").unwrap() + "'nonce-".len();
    csp[start..].split('\'').next().unwrap().to_owned()
}

#[tokio::test]
async fn pages_carry_a_csp_with_a_fresh_nonce_and_everything_else_a_closed_one() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let res = app.http.get(app.url("/login")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let h = res.headers().clone();
        let csp = h["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("script-src 'self' 'nonce-"), "{csp}");
        assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["cache-control"], "no-store");
        let nonce = csp_nonce(&csp);
        assert!(nonce.len() >= 22, "at least 128 bits: {nonce}");
        let html = res.text().await.unwrap();
        // Every inline script carries this response's nonce.
        let inline_scripts = html.matches("<script").count();
        assert!(inline_scripts > 0);
        assert_eq!(
            html.matches(&format!("<script nonce=\"{nonce}\"")).count()
                + html.matches("<script type=\"module\" nonce=\"").count(),
            inline_scripts,
            "{html}"
        );
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "a new nonce for every response");

    // Pages that need a session, and the not-found page, get the same policy.
    for (method, path, body) in [
        (
            reqwest::Method::PUT,
            "/secrets/web",
            json!({"secrets": [{"key": "A", "value": "1"}]}),
        ),
        (
            reqwest::Method::PUT,
            "/deployments/api",
            json!({"image": "x/y:1", "secret_set": "web"}),
        ),
    ] {
        assert!(app
            .api(method, path)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .is_success());
    }
    let session = session_of(&sign_in(&app, "owner@example.com", common::PASSWORD, "x").await);
    for path in [
        "/orgs/acme/secrets",
        "/orgs/acme/secrets/web",
        "/orgs/acme/deployments",
        "/orgs/acme/deployments/api",
        "/orgs/acme/image-pull-secrets",
        "/orgs/acme/members",
        "/orgs/acme/tokens",
        "/orgs/acme/audit",
        "/no/such/page",
    ] {
        let res = app
            .http
            .get(app.url(path))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("'nonce-"), "{path}: {csp}");
    }

    // JSON answers load nothing at all.
    let res = app.api(reqwest::Method::GET, "/secrets").send().await.unwrap();
    assert_eq!(
        res.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
}
