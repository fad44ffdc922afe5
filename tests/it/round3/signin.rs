//! Finding 10 (anyone locks anyone out of sign-in; argon2's queue is unbounded; an
//! IPv6 /64 is unlimited addresses) and part of finding 11 (one-shot cookies that a
//! sibling subdomain can plant; a session gate that takes any dotted path for a file).
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use crate::common::{self, spawn_app_with, Backend, TestApp};
use cloakroom::domain::auth::{
    ACCOUNT_FAILURES_BEFORE_SLOWING, ADDRESS_FAILURES_ALLOWED, LOGIN_FAILURES_ALLOWED,
};
use reqwest::StatusCode;

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

async fn status(app: &TestApp, email: &str, password: &str, address: &str) -> StatusCode {
    sign_in(app, email, password, address).await.status()
}

async fn proxied_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |c| c.trust_proxy = true).await
}

// ---- Finding 10: nobody locks anybody else out -------------------------------------

async fn sign_in_from_address_b_succeeds_after_five_failures_from_a(backend: Backend) {
    let app = proxied_app(backend).await;
    for i in 1..=LOGIN_FAILURES_ALLOWED {
        let s = status(&app, "owner@example.com", "wrong-password", "10.1.0.1").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // Address A has used its guesses at this account: even the right password waits.
    let res = sign_in(&app, "owner@example.com", common::PASSWORD, "10.1.0.1").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("set-cookie").is_none());
    // The owner, from address B, signs in at once.
    let res = sign_in(&app, "Owner@Example.com", common::PASSWORD, "10.1.0.2").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("set-cookie").is_some());
    // The success from B forgives nothing at A.
    let s = status(&app, "owner@example.com", common::PASSWORD, "10.1.0.1").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
}

async fn many_addresses_slow_an_account_down_but_never_lock_its_owner_out(backend: Backend) {
    let app = proxied_app(backend).await;
    // A distributed guesser: five guesses from each of several addresses, up to the
    // account-wide threshold.
    for n in 0..ACCOUNT_FAILURES_BEFORE_SLOWING {
        let address = format!("10.2.{}.1", n / LOGIN_FAILURES_ALLOWED);
        let s = status(&app, "owner@example.com", "wrong-password", &address).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "failure {n} from {address}");
    }
    // Past the threshold each address gets one guess a window at this account, not five:
    // the guesser is slowed down, yet its first guess from a new address is checked.
    let s = status(&app, "owner@example.com", "wrong-password", "10.3.0.1").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let s = status(&app, "owner@example.com", "wrong-password", "10.3.0.1").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "a second guess waits");
    // The audit log shows the failures up to the slow-down and that it began, not each
    // guess past it (its rows are kept for good: many addresses must not fill it).
    let failed = cloakroom::model::AuditFilter {
        action: Some("login.failed".into()),
        limit: 100,
        ..Default::default()
    };
    let audited = || async {
        app.state
            .store
            .audit(app.principal.org.id, &failed)
            .await
            .unwrap()
    };
    for _ in 0..100 {
        if audited().await.len() >= ACCOUNT_FAILURES_BEFORE_SLOWING as usize {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let entries = audited().await;
    assert_eq!(entries.len(), ACCOUNT_FAILURES_BEFORE_SLOWING as usize);
    let slowed = entries
        .iter()
        .filter(|e| e.detail.contains("one attempt per"))
        .count();
    assert_eq!(slowed, 1, "{entries:?}");
    // The owner's right password from an address of their own goes through.
    let res = sign_in(&app, "owner@example.com", common::PASSWORD, "10.4.0.1").await;
    assert_eq!(res.status(), StatusCode::OK);
    // Another account is not affected at all.
    let other = common::user(&app.state, "second@example.com", "acme").await;
    for i in 1..LOGIN_FAILURES_ALLOWED {
        let s = status(&app, &other.email, "wrong-password", "10.5.0.1").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let s = status(&app, &other.email, common::PASSWORD, "10.5.0.1").await;
    assert_eq!(s, StatusCode::OK);
}

async fn the_addresses_of_one_ipv6_64_share_one_limit(backend: Backend) {
    let app = proxied_app(backend).await;
    let other = common::user(&app.state, "second@example.com", "acme").await;
    // Guesses at many accounts, each from another address of one /64: one address.
    for i in 1..=ADDRESS_FAILURES_ALLOWED {
        let (email, address) = (format!("guess{i}@example.com"), format!("2001:db8:1:2::{i:x}"));
        let s = status(&app, &email, "wrong-password", &address).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let s = status(&app, &other.email, common::PASSWORD, "2001:db8:1:2:ffff:1:2:3").await;
    assert_eq!(
        s,
        StatusCode::TOO_MANY_REQUESTS,
        "another address of the same /64"
    );
    // The next /64 is another client.
    let s = status(&app, &other.email, common::PASSWORD, "2001:db8:1:3::1").await;
    assert_eq!(s, StatusCode::OK);
    // One account from one /64: the same.
    for i in 1..=LOGIN_FAILURES_ALLOWED {
        let address = format!("2001:db8:5:6:{i:x}::1");
        let s = status(&app, "owner@example.com", "wrong-password", &address).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let s = status(&app, "owner@example.com", common::PASSWORD, "2001:db8:5:6::9").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    // An IPv4 address written IPv4-mapped is that IPv4 address.
    for i in 1..=LOGIN_FAILURES_ALLOWED {
        let s = status(&app, &other.email, "wrong-password", "192.0.2.7").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let s = status(&app, &other.email, common::PASSWORD, "::ffff:192.0.2.7").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
}

/// The argon2 queue is bounded: a flood of sign-ins that each need a password check
/// (every one from its own address, for its own email) is answered 503 ("busy", with
/// Retry-After) at once once the queue is full, instead of waiting behind every other
/// one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_sign_ins_is_refused_at_once_when_the_password_queue_is_full() {
    let app = proxied_app(Backend::Sqlite).await;
    let checks = || {
        app.state
            .password_checks
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let before = checks();
    let flood = 300;
    let handles: Vec<_> = (0..flood)
        .map(|i| {
            let http = app.http.clone();
            let url = app.url("/api/login");
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let status = http
                    .post(url)
                    .header("accept", "application/json")
                    .header("x-forwarded-for", format!("10.6.{}.{}", i / 200, i % 200))
                    .form(&[
                        ("email", format!("user{i}@example.com")),
                        ("password", "wrong-password".into()),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status();
                (status, started.elapsed())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for h in handles {
        answers.push(h.await.unwrap());
    }
    let refused: Vec<_> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    let checked = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(refused.len() + checked, flood, "{answers:?}");
    assert!(!refused.is_empty(), "the queue never filled: {answers:?}");
    assert_eq!(
        checks() - before,
        checked as u64,
        "only the answered sign-ins reached argon2"
    );
    // Refusals are at once: none waited as long as the slowest checked sign-in.
    let slowest = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::UNAUTHORIZED)
        .map(|(_, t)| *t)
        .max()
        .unwrap();
    let fastest_refusal = refused.iter().map(|(_, t)| *t).min().unwrap();
    assert!(fastest_refusal < slowest, "{fastest_refusal:?} vs {slowest:?}");
    // Afterwards the owner signs in as usual.
    let s = status(&app, "owner@example.com", common::PASSWORD, "10.7.0.1").await;
    assert_eq!(s, StatusCode::OK);
}

on_both_backends!(
    sign_in_from_address_b_succeeds_after_five_failures_from_a,
    many_addresses_slow_an_account_down_but_never_lock_its_owner_out,
    the_addresses_of_one_ipv6_64_share_one_limit,
);

// ---- Finding 11: one-shot cookies are this host's and this session's ----------------

/// The `name=value` of the cookie `name` a response sets.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn pair(cookie: &str) -> String {
    cookie.split(';').next().unwrap().to_owned()
}

/// Creates an API token through the dashboard's form (JavaScript off) with session
/// `cookie`; returns the response (its cookies carry the token to the tokens page).
async fn create_token_by_form(app: &TestApp, cookie: &str, origin: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/create_token"))
        .header("accept", "text/html")
        .header("origin", origin)
        .header("cookie", cookie)
        .form(&[("org", "acme"), ("name", "laptop")])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_and_replayed_one_shot_cookies_are_ignored() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let session = app.owner_session().await;
    let tokens = "/orgs/acme/tokens";
    // A sibling subdomain plants its own token for the victim to copy: not shown.
    let planted = "ckr_planted0000000000000000000000";
    let html = app
        .page(&format!("{session}; cloakroom_reveal={planted}"), tokens)
        .await;
    assert!(html.contains("API tokens"), "{html}");
    assert!(!html.contains(planted), "a planted token was shown");
    // ... nor a planted notice on the sign-in page.
    let flash = cloakroom::api::flash_value(&cloakroom::api::Flash {
        error: true,
        lines: vec!["Your account is locked: call +1 555 0100".into()],
    });
    let html = app.page(&format!("cloakroom_flash={flash}"), "/login").await;
    assert!(!html.contains("call +1 555 0100"), "a planted notice was shown");

    // A real one, left for this session, is shown to it...
    let res = create_token_by_form(&app, &session, &app.base).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let reveal = pair(&set_cookie(&res, "cloakroom_reveal").unwrap());
    let token = reveal
        .trim_start_matches("cloakroom_reveal=")
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    assert!(token.starts_with("ckr_"), "{reveal}");
    let html = app.page(&format!("{session}; {reveal}"), tokens).await;
    assert!(html.contains(&token), "the session's own token is shown");
    // ... but not to another session (of the same account, another browser), ...
    let other = app.owner_session().await;
    let html = app.page(&format!("{other}; {reveal}"), tokens).await;
    assert!(!html.contains(&token), "replayed into another session");
    // ... and not as another one-shot cookie, or with its value changed.
    let as_flash = reveal.replace("cloakroom_reveal=", "cloakroom_flash=");
    let html = app.page(&format!("{session}; {as_flash}"), tokens).await;
    assert!(!html.contains(&token));
    let (value, tag) = reveal.rsplit_once('.').unwrap();
    let tampered = format!("{value}x.{tag}");
    let html = app.page(&format!("{session}; {tampered}"), tokens).await;
    assert!(!html.contains(&token[..20]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_one_shot_cookies_are_host_only() {
    let origin = "https://secrets.example.com";
    let app = spawn_app_with(Backend::Sqlite, |c| c.public_url = Some(origin.into())).await;
    let res = app
        .http
        .post(app.url("/api/login"))
        .header("origin", origin)
        .form(&[("email", "owner@example.com"), ("password", common::PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let session = pair(&set_cookie(&res, "__Host-cloakroom_session").unwrap());
    let res = create_token_by_form(&app, &session, origin).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(set_cookie(&res, "cloakroom_reveal").is_none());
    for name in ["__Host-cloakroom_reveal", "__Host-cloakroom_flash"] {
        let cookie = set_cookie(&res, name).unwrap_or_else(|| panic!("{name}: {res:?}"));
        assert!(
            cookie.contains("; Path=/;") && cookie.ends_with("; Secure") && !cookie.contains("Domain"),
            "{cookie}"
        );
    }
    let reveal = pair(&set_cookie(&res, "__Host-cloakroom_reveal").unwrap());
    let flash = pair(&set_cookie(&res, "__Host-cloakroom_flash").unwrap());
    let token = reveal
        .trim_start_matches("__Host-cloakroom_reveal=")
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    let page = app
        .http
        .get(app.url("/orgs/acme/tokens"))
        .header("cookie", format!("{session}; {reveal}; {flash}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(&token), "shown to its own session");
    assert!(html.contains("Created API token"), "the notice is shown");
    // The same cookies without the prefix (as a sibling host could set them) are not.
    let unprefixed = format!(
        "{session}; {}; {}",
        reveal.trim_start_matches("__Host-"),
        flash.trim_start_matches("__Host-")
    );
    let html = app
        .http
        .get(app.url("/orgs/acme/tokens"))
        .header("cookie", unprefixed)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains(&token) && !html.contains("Created API token"));
}

// ---- Finding 11: the session gate knows its files -----------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_last_segment_holds_a_dot_is_behind_the_session_gate() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("favicon.svg"), "<svg/>").unwrap();
    let root = site.path().to_str().unwrap().to_owned();
    let app = spawn_app_with(Backend::Sqlite, |c| c.site_root = root).await;
    let anonymous = common::http_client();
    for path in [
        "/orgs/acme/secrets/a.b",
        "/orgs/acme/secret-versions/web.prod",
        "/orgs/acme/deployments/v1.2",
        "/orgs/acme/secrets/favicon.svg",
    ] {
        let res = anonymous.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        let location = res.headers()["location"].to_str().unwrap();
        assert!(location.starts_with("/login?next="), "{path}: {location}");
    }
    // Real files of the site are still served to anyone.
    let res = anonymous.get(app.url("/favicon.svg")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "<svg/>");
    // Signed in, the dotted page renders as a page.
    let session = app.owner_session().await;
    let res = anonymous
        .get(app.url("/orgs/acme/secrets/a.b"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), StatusCode::SEE_OTHER);
}

/// Over https the one-shot cookies travel as `__Host-…` with `Path=/`: the page that
/// shows one removes it under that name, so a reload does not show it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_the_page_that_shows_a_one_shot_cookie_removes_it() {
    let origin = "https://secrets.example.com";
    let app = spawn_app_with(Backend::Sqlite, |c| c.public_url = Some(origin.into())).await;
    let res = app
        .http
        .post(app.url("/api/login"))
        .header("origin", origin)
        .form(&[("email", "owner@example.com"), ("password", common::PASSWORD)])
        .send()
        .await
        .unwrap();
    let session = pair(&set_cookie(&res, "__Host-cloakroom_session").unwrap());
    let res = create_token_by_form(&app, &session, origin).await;
    let reveal = pair(&set_cookie(&res, "__Host-cloakroom_reveal").unwrap());
    let flash = pair(&set_cookie(&res, "__Host-cloakroom_flash").unwrap());
    let page = app
        .http
        .get(app.url("/orgs/acme/tokens"))
        .header("cookie", format!("{session}; {reveal}; {flash}"))
        .send()
        .await
        .unwrap();
    for name in ["__Host-cloakroom_reveal", "__Host-cloakroom_flash"] {
        let cleared = set_cookie(&page, name).unwrap_or_else(|| panic!("{name} not removed"));
        assert!(
            cleared.starts_with(&format!("{name}=; Path=/; Max-Age=0;")) && cleared.ends_with("; Secure"),
            "{cleared}"
        );
    }
}
