//! REST API and HTTP behaviour against the real router on a free port.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use crate::common;

use common::{spawn_app, Backend};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The `name=value` of the flash cookie a response sets.
fn flash_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("cloakroom_flash="))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned()
}

async fn body(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

async fn put_creates_then_modifies_and_get_lists_keys_without_values(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app
        .api(Method::PUT, "/secrets/prod")
        .json(&json!({"secrets":[{"key":"DB_URL","value":"postgres://u:p@h/db"},{"key":"EMPTY","value":""}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let text = res.text().await.unwrap();
    assert!(!text.contains("postgres://"), "a value came back: {text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["created"], json!(true));
    assert_eq!(v["name"], json!("prod"));
    assert_eq!(v["keys"].as_array().unwrap().len(), 2);
    assert_eq!(v["keys"][0]["fingerprint"].as_str().unwrap().len(), 12);

    let res = app
        .api(Method::PUT, "/secrets/prod")
        .header("content-type", "text/plain")
        .body("DB_URL='changed value'\nNEW=\"a b\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v = body(res).await;
    assert_eq!(v["created"], json!(false));
    assert_eq!(v["added"], json!(["NEW"]));
    assert_eq!(v["updated"], json!(["DB_URL"]));

    let list = body(app.api(Method::GET, "/secrets").send().await.unwrap()).await;
    assert_eq!(list["sets"][0]["name"], json!("prod"));
    assert_eq!(list["sets"][0]["key_count"], json!(3));
    assert!(list["sets"][0]["updated_at"].as_str().unwrap().ends_with('Z'));

    let res = app.api(Method::GET, "/secrets/prod").send().await.unwrap();
    let text = res.text().await.unwrap();
    assert!(!text.contains("changed value") && !text.contains("a b"));
    let keys: Vec<String> = serde_json::from_str::<Value>(&text).unwrap()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys, vec!["DB_URL", "EMPTY", "NEW"]);
    let stored = cloakroom::domain::secrets::reveal(&app.state, &app.principal, "prod", "DB_URL")
        .await
        .unwrap();
    assert_eq!(stored.expose(), "changed value");
}

async fn invalid_pairs_answer_400_listing_each_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    app.api(Method::PUT, "/secrets/s")
        .json(&json!({"secrets":[{"key":"A","value":"1"}]}))
        .send()
        .await
        .unwrap();
    let res = app
        .api(Method::PUT, "/secrets/s")
        .json(
            &json!({"secrets":[{"key":"A","value":"2"},{"key":"DB URL","value":"x"},{"key":"","value":"y"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let v = body(res).await;
    assert_eq!(
        v["details"],
        json!([
            "key \"DB URL\": keys may contain only letters, digits, \"_\" and \"-\"",
            "a key may not be empty"
        ])
    );
    assert!(v["error"].as_str().unwrap().starts_with("2 problems"));
    let a = cloakroom::domain::secrets::reveal(&app.state, &app.principal, "s", "A")
        .await
        .unwrap();
    assert_eq!(a.expose(), "1");

    let res = app
        .api(Method::PUT, "/secrets/s")
        .header("content-type", "text/plain")
        .body("A=3\nB=has spaces")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let v = body(res).await;
    assert_eq!(v["details"][0].as_str().unwrap(), "line 2, word 2: expected KEY=value but this word has no \"=\" (put quotes around a value that contains spaces)");
    let a = cloakroom::domain::secrets::reveal(&app.state, &app.principal, "s", "A")
        .await
        .unwrap();
    assert_eq!(a.expose(), "1");

    let res = app
        .api(Method::PUT, "/secrets/Bad_Name")
        .json(&json!({"secrets":[{"key":"A","value":"1"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(body(res).await["error"]
        .as_str()
        .unwrap()
        .starts_with("set name \"Bad_Name\""));

    let res = app
        .api(Method::PUT, "/secrets/s")
        .header("content-type", "application/json")
        .body("{\"secrets\": [ {\"key\": 1} ]}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(body(res).await["error"]
        .as_str()
        .unwrap()
        .contains("line 1, column"));
}

async fn too_large_answers_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let big = "x".repeat(64 * 1024);
    let secrets: Vec<Value> = (0..17)
        .map(|i| json!({"key": format!("K{i}"), "value": big}))
        .collect();
    let res = app
        .api(Method::PUT, "/secrets/big")
        .json(&json!({ "secrets": secrets }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "one write over 1 MiB is a validation error"
    );
    let secrets: Vec<Value> = (0..16)
        .map(|i| json!({"key": format!("K{i}"), "value": big}))
        .collect();
    let res = app
        .api(Method::PUT, "/secrets/big")
        .json(&json!({ "secrets": secrets }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app
        .api(Method::PUT, "/secrets/big")
        .json(&json!({"secrets":[{"key":"ONE_MORE","value":"x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body(res).await["error"]
        .as_str()
        .unwrap()
        .contains("at most 1048576"));
    let huge = "y".repeat(cloakroom::web::rest::MAX_BODY_BYTES + 1);
    let res = app
        .api(Method::PUT, "/secrets/big")
        .header("content-type", "text/plain")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

async fn unset_and_delete(backend: Backend) {
    let app = spawn_app(backend).await;
    app.api(Method::PUT, "/secrets/s")
        .header("content-type", "text/plain")
        .body("A=1 B=2")
        .send()
        .await
        .unwrap();
    let res = app.api(Method::DELETE, "/secrets/s/A").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.api(Method::DELETE, "/secrets/s/A").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        body(res).await["error"],
        json!("key \"A\" not found in set \"s\"")
    );
    let res = app.api(Method::DELETE, "/secrets/s").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.api(Method::GET, "/secrets/s").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.api(Method::DELETE, "/secrets/s").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

async fn credentials_are_required_and_other_orgs_look_missing(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.url("/api/v1/orgs/acme/secrets");
    let res = app.http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let res = app
        .http
        .get(&url)
        .bearer_auth("ckr_not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // A dashboard session cookie is not an API credential.
    let (_, session) =
        cloakroom::domain::auth::login(&app.state, "owner@example.com", common::PASSWORD, "127.0.0.1")
            .await
            .unwrap();
    let res = app
        .http
        .get(&url)
        .header("cookie", format!("cloakroom_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Another organization, existing or not, is simply not found.
    let other = common::user(&app.state, "x@example.com", "other").await;
    cloakroom::domain::secrets::create(
        &app.state,
        &other,
        &cloakroom::validate::ResourceName::parse("theirs").unwrap(),
    )
    .await
    .unwrap();
    for path in [
        "/api/v1/orgs/other/secrets",
        "/api/v1/orgs/other/secrets/theirs",
        "/api/v1/orgs/nope/secrets",
    ] {
        let res = app
            .http
            .get(app.url(path))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let res = app
        .http
        .delete(app.url("/api/v1/orgs/other/secrets/theirs"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(app
        .state
        .store
        .get_set(other.org.id, "theirs")
        .await
        .unwrap()
        .is_some());
}

async fn pages_redirect_to_login_and_login_sets_a_strict_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.http.get(app.url("/secrets/prod")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/login?next=/secrets/prod");
    // A plain form post (JavaScript off) to the login server function.
    let res = app
        .http
        .post(app.url("/api/login"))
        .header("accept", "text/html")
        .form(&[
            ("email", "owner@example.com"),
            ("password", common::PASSWORD),
            ("next", "/secrets"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/secrets");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"));
    let session = cookie.split(';').next().unwrap().to_owned();
    // X-Forwarded-Proto is believed only with trust_proxy (tests/it/hardening/security.rs
    // checks the trusted case): from anyone else it changes nothing.
    let res = app
        .http
        .post(app.url("/api/login"))
        .header("accept", "text/html")
        .header("x-forwarded-proto", "https")
        .form(&[("email", "owner@example.com"), ("password", common::PASSWORD)])
        .send()
        .await
        .unwrap();
    let plain = res.headers()["set-cookie"].to_str().unwrap();
    assert!(
        plain.starts_with("cloakroom_session=") && !plain.contains("Secure"),
        "{plain}"
    );
    assert!(!plain.contains("Domain"), "{plain}");
    // An off-site `next` is ignored.
    let res = app
        .http
        .post(app.url("/api/login"))
        .header("accept", "text/html")
        .form(&[
            ("email", "owner@example.com"),
            ("password", common::PASSWORD),
            ("next", "//evil.example"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/secrets");

    let res = app
        .http
        .get(app.url("/orgs/acme/secrets"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    let html = res.text().await.unwrap();
    assert!(html.contains("owner@example.com"));
}

async fn a_no_js_write_redirects_back_with_the_result_and_values_stay_out_of_html(backend: Backend) {
    let app = spawn_app(backend).await;
    let cookie = app.owner_session().await;
    let res = app
        .http
        .post(app.url("/api/save_paste"))
        .header("accept", "text/html")
        .header("cookie", &cookie)
        .form(&[
            ("org", "acme"),
            ("set", "web"),
            ("text", "TOKEN=\"s3cret-html-check\"\r\nOTHER=1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location, "/orgs/acme/secrets/web",
        "messages never travel in the URL"
    );
    let flash = flash_cookie(&res);
    let v = cloakroom::domain::secrets::reveal(&app.state, &app.principal, "web", "TOKEN")
        .await
        .unwrap();
    assert_eq!(
        v.expose(),
        "s3cret-html-check",
        "CRLF from the textarea did not leak into the value"
    );
    let page = app
        .http
        .get(app.url(&location))
        .header("cookie", format!("{cookie}; {flash}"))
        .send()
        .await
        .unwrap();
    assert!(
        page.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("cloakroom_flash=; Path=/; Max-Age=0"),
        "the page clears the message it showed"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("TOKEN") && !html.contains("s3cret-html-check"));
    assert!(
        html.contains("Saved &quot;web&quot;: added TOKEN, OTHER.")
            || html.contains("Saved \"web\": added TOKEN, OTHER.")
    );

    let res = app
        .http
        .post(app.url("/api/save_paste"))
        .header("accept", "text/html")
        .header("cookie", &cookie)
        .form(&[("org", "acme"), ("set", "web"), ("text", "TOKEN=new BAD")])
        .send()
        .await
        .unwrap();
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "/orgs/acme/secrets/web");
    let flash = flash_cookie(&res);
    let message = String::from_utf8(
        cloakroom::validate::base64_decode(
            flash
                .trim_start_matches("cloakroom_flash=")
                .split('.')
                .next()
                .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(message.contains("line 1, word 2"), "{message}");
    assert!(
        !message.contains("new"),
        "the error names the word's position, not its text"
    );
    let html = app
        .http
        .get(app.url(&location))
        .header("cookie", format!("{cookie}; {flash}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("line 1, word 2: expected KEY=value"));
    // A crafted link cannot make the page say anything.
    let html = app
        .http
        .get(app.url("/orgs/acme/secrets/web?error=Your+session+expired&notice=Visit+evil.example"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("evil.example") && !html.contains("session expired"));
    let v = cloakroom::domain::secrets::reveal(&app.state, &app.principal, "web", "TOKEN")
        .await
        .unwrap();
    assert_eq!(v.expose(), "s3cret-html-check");

    // Without a session the server function refuses.
    let res = app
        .http
        .post(app.url("/api/save_paste"))
        .header("accept", "application/json")
        .form(&[("org", "acme"), ("set", "web"), ("text", "A=1")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn responses_are_compressed_when_asked(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app
        .http
        .get(app.url("/login"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let res = app
        .http
        .get(app.url("/login"))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-encoding"], "br");
}

/// The pages before signing in are plain forms: no island, so no script module and
/// no WebAssembly to load. Pages with islands load them.
#[tokio::test]
async fn only_pages_with_islands_load_webassembly() {
    let app = spawn_app(Backend::Sqlite).await;
    for path in [
        "/login",
        "/login?next=/secrets",
        "/setup?code=wrong",
        "/invite/no-such-invitation",
    ] {
        let html = app
            .http
            .get(app.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("</html>"), "{path}: {html}");
        for loaded in ["<leptos-island", "type=\"module\"", ".wasm", "modulepreload"] {
            assert!(!html.contains(loaded), "{path} has {loaded}: {html}");
        }
    }
    let owner = app.owner_session().await;
    let html = app.page(&owner, "/orgs/acme/secrets").await;
    for loaded in ["<leptos-island", "type=\"module\"", ".wasm", "modulepreload"] {
        assert!(html.contains(loaded), "the sets page lacks {loaded}");
    }
}

async fn healthz_answers_without_a_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "ok");
}

async fn if_match_guards_against_lost_updates(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app
        .api(Method::PUT, "/secrets/s")
        .header("content-type", "text/plain")
        .body("A=1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["etag"], "\"1\"");
    let res = app.api(Method::GET, "/secrets/s").send().await.unwrap();
    assert_eq!(res.headers()["etag"], "\"1\"");
    assert_eq!(body(res).await["revision"], json!(1));
    let res = app
        .api(Method::PUT, "/secrets/s")
        .header("content-type", "text/plain")
        .header("if-match", "\"1\"")
        .body("B=2")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["etag"], "\"2\"");
    // A second writer that loaded revision 1 is refused and changes nothing.
    let res = app
        .api(Method::PUT, "/secrets/s")
        .header("content-type", "text/plain")
        .header("if-match", "1")
        .body("A=overwritten")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
    assert!(body(res).await["error"]
        .as_str()
        .unwrap()
        .contains("changed since you loaded it (revision 1, now 2)"));
    let a = cloakroom::domain::secrets::reveal(&app.state, &app.principal, "s", "A")
        .await
        .unwrap();
    assert_eq!(a.expose(), "1");
    let res = app
        .api(Method::DELETE, "/secrets/s/A")
        .header("if-match", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
    let res = app
        .api(Method::DELETE, "/secrets/s/A")
        .header("if-match", "\"2\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.headers()["etag"], "\"3\"");
    let res = app
        .api(Method::PUT, "/secrets/s")
        .header("if-match", "soon")
        .json(&json!({"secrets":[{"key":"A","value":"1"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// 120 sets, listed by REST in pages of 50 and on the dashboard in pages of 50, with a
/// search by name; every set appears exactly once, in name order.
async fn lists_of_sets_come_in_pages_with_a_search(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut names: Vec<String> = (0..120)
        .map(|i| format!("{}-{i:03}", if i % 3 == 0 { "prod" } else { "staging" }))
        .collect();
    for name in &names {
        cloakroom::domain::secrets::create(
            &app.state,
            &app.principal,
            &cloakroom::validate::ResourceName::parse(name).unwrap(),
        )
        .await
        .unwrap();
    }
    names.sort();

    // REST: follow `next` until it is null.
    let (mut seen, mut after, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let path = match &after {
            Some(a) => format!("/secrets?limit=50&after={a}"),
            None => "/secrets?limit=50".to_owned(),
        };
        let page = body(app.api(Method::GET, &path).send().await.unwrap()).await;
        pages += 1;
        let sets = page["sets"].as_array().unwrap();
        assert!(sets.len() <= 50);
        seen.extend(sets.iter().map(|s| s["name"].as_str().unwrap().to_owned()));
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!((pages, &seen), (3, &names));
    // Without a limit, a page holds 100; a search finds names containing the text.
    let page = body(app.api(Method::GET, "/secrets").send().await.unwrap()).await;
    assert_eq!(page["sets"].as_array().unwrap().len(), 100);
    let page = body(
        app.api(Method::GET, "/secrets?q=PROD-0&limit=1000")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let found: Vec<&str> = page["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(found.len(), 34, "{found:?}");
    assert!(found.iter().all(|n| n.starts_with("prod-0")));
    assert_eq!(page["next"], Value::Null);
    let page = body(app.api(Method::GET, "/secrets?q=no%20such").send().await.unwrap()).await;
    assert_eq!(page["sets"], json!([]));
    for bad in ["0", "1001", "ten"] {
        let res = app
            .api(Method::GET, &format!("/secrets?limit={bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "limit={bad}");
        assert!(body(res).await["error"]
            .as_str()
            .unwrap()
            .contains("limit must be a whole number from 1 to 1000"));
    }

    // The dashboard, without JavaScript: 50 rows, a link to the next page, a search.
    let cookie = app.owner_session().await;
    let html = app.page(&cookie, "/orgs/acme/secrets").await;
    let shown = |html: &str| {
        names
            .iter()
            .filter(|n| html.contains(&format!("/secrets/{n}\"")))
            .count()
    };
    assert_eq!(shown(&html), 50);
    let next = format!("/orgs/acme/secrets?after={}", names[49]);
    assert!(html.contains(&format!("href=\"{next}\"")), "a next-page link");
    let html = app.page(&cookie, &next).await;
    assert_eq!(shown(&html), 50);
    assert!(html.contains(&format!("/secrets/{}\"", names[50])));
    assert!(html.contains(">First page</a>"));
    let html = app.page(&cookie, "/orgs/acme/secrets?q=prod-11").await;
    assert_eq!(shown(&html), 3, "prod-111, prod-114, prod-117");
    assert!(!html.contains(">Next page</a>"));
    let html = app.page(&cookie, "/orgs/acme/secrets?q=zzz").await;
    assert!(
        html.contains("No set name contains &quot;zzz&quot;.")
            || html.contains("No set name contains \"zzz\"."),
        "{html}"
    );
}

/// 60 deployments, 5 of them using set `app`: REST pages and search, the dashboard's
/// pages, and the set page naming exactly its 5 users.
async fn deployments_come_in_pages_and_a_set_names_only_its_users(backend: Backend) {
    let app = spawn_app(backend).await;
    let set = cloakroom::validate::ResourceName::parse("app").unwrap();
    cloakroom::domain::secrets::create(&app.state, &app.principal, &set)
        .await
        .unwrap();
    let mut names = Vec::new();
    for i in 0..60 {
        let name = format!("agent-{i:02}");
        let spec = cloakroom::model::DeploymentSpec {
            name: name.clone(),
            image: "registry.example.com/agent:1".into(),
            secret_set: (i % 12 == 0).then(|| "app".to_owned()),
            pull_secret: None,
            region: "us-west".into(),
            min_agents: 0,
            max_agents: 1,
        };
        cloakroom::domain::deployments::deploy(&app.state, &app.principal, &spec)
            .await
            .unwrap();
        names.push(name);
    }
    let page = body(
        app.api(Method::GET, "/deployments?limit=25")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page["deployments"].as_array().unwrap().len(), 25);
    assert_eq!(page["next"], json!("agent-24"));
    let page = body(
        app.api(Method::GET, "/deployments?limit=25&after=agent-49")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let got: Vec<&str> = page["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(got, names[50..].iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(page["next"], Value::Null);
    let page = body(
        app.api(Method::GET, "/deployments?q=agent-1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page["deployments"].as_array().unwrap().len(), 10);

    let cookie = app.owner_session().await;
    let shown = |html: &str| {
        names
            .iter()
            .filter(|n| html.contains(&format!("/deployments/{n}\"")))
            .count()
    };
    let html = app.page(&cookie, "/orgs/acme/deployments").await;
    assert_eq!(shown(&html), 50);
    // The list reads no pickers: creating is a page of its own.
    assert!(!html.contains("id=\"dep-set\""));
    assert!(html.contains("href=\"/orgs/acme/new-deployment\""));
    assert!(html.contains("href=\"/orgs/acme/deployments?after=agent-49\""));
    let html = app.page(&cookie, "/orgs/acme/deployments?after=agent-49").await;
    assert_eq!(shown(&html), 10);
    let html = app.page(&cookie, "/orgs/acme/deployments?q=agent-5").await;
    assert_eq!(shown(&html), 10);
    let html = app.page(&cookie, "/orgs/acme/secrets/app").await;
    assert_eq!(shown(&html), 5, "agent-00, -12, -24, -36, -48 use the set");
    assert!(html.contains("Used by 5 deployments"));
}

/// The deploy form's set picker and the compare page's suggestions name at most
/// `PICKER_SIZE` sets: up to that a list to choose from, past it a field to type the
/// name into (a typed name past the suggestions deploys); the pages never read every set.
async fn pickers_stay_bounded_in_a_large_organization(backend: Backend) {
    let app = spawn_app(backend).await;
    let limit = cloakroom::model::PICKER_SIZE as usize;
    let create = |i: usize| {
        let (state, who) = (app.state.clone(), app.principal.clone());
        async move {
            let name = cloakroom::validate::ResourceName::parse(&format!("s-{i:03}")).unwrap();
            cloakroom::domain::secrets::create(&state, &who, &name)
                .await
                .unwrap();
        }
    };
    for i in 0..limit {
        create(i).await;
    }
    let cookie = app.owner_session().await;
    let options = |html: &str| html.matches("<option value=\"s-").count();
    let html = app.page(&cookie, "/orgs/acme/new-deployment").await;
    assert!(
        html.contains("<select id=\"dep-set\""),
        "a list while every set fits"
    );
    assert_eq!(options(&html), limit);

    create(limit).await;
    let last = format!("s-{limit:03}");
    let html = app.page(&cookie, "/orgs/acme/new-deployment").await;
    assert!(!html.contains("<select id=\"dep-set\""));
    assert!(
        html.contains("list=\"dep-set-names\""),
        "a field to type the name into"
    );
    assert!(html.contains("Too many sets to list"));
    assert_eq!(options(&html), limit, "the first {limit} suggested");
    assert!(!html.contains(&format!("<option value=\"{last}\"")));
    let html = app.page(&cookie, "/orgs/acme/secrets-compare").await;
    assert_eq!(options(&html), limit);

    // The typed name of a set past the suggestions deploys, as the form posts it.
    let res = app
        .http
        .post(app.url("/api/deploy"))
        .header("accept", "text/html")
        .header("cookie", &cookie)
        .form(&[
            ("org", "acme"),
            ("name", "typed"),
            ("image", "registry.example.com/agent:1"),
            ("secret_set", last.as_str()),
            ("region", "us-west"),
            ("min_agents", "0"),
            ("max_agents", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    let page = body(app.api(Method::GET, "/deployments/typed").send().await.unwrap()).await;
    assert_eq!(page["secret_set"], last.as_str(), "{page}");
}

/// Without JavaScript, a refused new deployment goes back to the form that creates
/// one (with the reason), not to the page of a deployment that does not exist; a
/// refused change of an existing one goes back to that deployment's page.
async fn a_refused_deploy_returns_to_the_form_it_came_from(backend: Backend) {
    let app = spawn_app(backend).await;
    let cookie = app.owner_session().await;
    let post = |fields: Vec<(&'static str, &'static str)>| {
        app.http
            .post(app.url("/api/deploy"))
            .header("accept", "text/html")
            .header("cookie", &cookie)
            .form(&fields)
            .send()
    };
    let base = vec![
        ("org", "acme"),
        ("image", "x/agent:1"),
        ("secret_set", "no-such-set"),
    ];
    let res = post([base.clone(), vec![("name", "ghost"), ("creating", "1")]].concat())
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/orgs/acme/new-deployment");
    let flash = flash_cookie(&res);
    let html = app
        .page(&format!("{cookie}; {flash}"), "/orgs/acme/new-deployment")
        .await;
    assert!(
        html.contains("no-such-set"),
        "the reason is shown on the form's page"
    );
    assert!(html.contains("id=\"dep-name\""), "with the form");
    let res = app.api(Method::GET, "/deployments/ghost").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "nothing was created");

    let res = app
        .api(Method::PUT, "/deployments/real")
        .json(&json!({"image": "x/agent:1"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let res = post([base, vec![("name", "real")]].concat()).await.unwrap();
    assert_eq!(res.headers()["location"], "/orgs/acme/deployments/real");
}

/// Creating a deployment is for members and up: a viewer's page says so and lists
/// none of the organization's set names.
async fn viewers_get_no_deploy_form(backend: Backend) {
    let app = spawn_app(backend).await;
    cloakroom::domain::secrets::create(
        &app.state,
        &app.principal,
        &cloakroom::validate::ResourceName::parse("app-env").unwrap(),
    )
    .await
    .unwrap();
    common::user_with_role(
        &app.state,
        "viewer@example.com",
        "acme",
        cloakroom::model::Role::Viewer,
    )
    .await;
    let viewer = app.session("viewer@example.com").await;
    let html = app.page(&viewer, "/orgs/acme/new-deployment").await;
    assert!(html.contains("Only members, admins and owners"), "{html}");
    assert!(!html.contains("app-env"));
    let html = app.page(&viewer, "/orgs/acme/deployments").await;
    assert!(!html.contains("/new-deployment\""));
    let owner = app.owner_session().await;
    let html = app.page(&owner, "/orgs/acme/new-deployment").await;
    assert!(html.contains("<option value=\"app-env\""));
}

/// Bodies are exact: a field the API does not know (a typo, a guess) is refused with
/// 400 naming it, and nothing is changed; a deployment given a misspelled credentials
/// field is not created without its credentials.
async fn a_misspelled_field_is_refused_by_name_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let refused = |v: Value, field: &str| {
        let text = v.to_string();
        assert!(v["error"].as_str().unwrap().contains(field), "{text}");
        assert!(
            v["details"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d.as_str().unwrap().contains(field)),
            "{text}"
        );
    };
    let res = app
        .api(Method::PUT, "/deployments/web")
        .json(&json!({"image": "x/agent:1", "image_pull_secret": "ghcr"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    refused(body(res).await, "image_pull_secret");
    let res = app.api(Method::GET, "/deployments/web").send().await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "the deployment was not created"
    );

    // The old name of the credentials field still works.
    app.api(Method::POST, "/image-pull-secrets")
        .json(&json!({"name": "ghcr", "registry": "ghcr.io", "username": "u", "password": "p"}))
        .send()
        .await
        .unwrap();
    let res = app
        .api(Method::PUT, "/deployments/web")
        .json(&json!({"image": "x/agent:1", "pull_secret": "ghcr"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(body(res).await["image_credentials"], json!("ghcr"));

    let res = app
        .api(Method::PUT, "/secrets/s")
        .json(&json!({"secrets": [{"key": "K", "value": "V", "comment": "c"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    refused(body(res).await, "comment");
    let res = app.api(Method::GET, "/secrets/s").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "the set was not created");

    let res = app
        .api(Method::POST, "/invites")
        .json(&json!({"email": "b@example.com", "role": "member", "expires_in_days": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    refused(body(res).await, "expires_in_days");
    let invites = body(app.api(Method::GET, "/invites").send().await.unwrap()).await;
    assert_eq!(invites["invites"], json!([]), "no invitation was made");
}

on_both_backends!(
    a_misspelled_field_is_refused_by_name_and_changes_nothing,
    pickers_stay_bounded_in_a_large_organization,
    a_refused_deploy_returns_to_the_form_it_came_from,
    viewers_get_no_deploy_form,
    deployments_come_in_pages_and_a_set_names_only_its_users,
    lists_of_sets_come_in_pages_with_a_search,
    put_creates_then_modifies_and_get_lists_keys_without_values,
    invalid_pairs_answer_400_listing_each_and_change_nothing,
    too_large_answers_413,
    unset_and_delete,
    credentials_are_required_and_other_orgs_look_missing,
    pages_redirect_to_login_and_login_sets_a_strict_cookie,
    a_no_js_write_redirects_back_with_the_result_and_values_stay_out_of_html,
    responses_are_compressed_when_asked,
    healthz_answers_without_a_session,
    if_match_guards_against_lost_updates,
);

#[tokio::test]
async fn oversized_bodies_are_refused_on_every_route() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(Backend::Sqlite).await;
    let too_big = cloakroom::web::router::MAX_REQUEST_BYTES + 1;
    for path in ["/api/save_paste", "/api/login", "/api/v1/orgs/acme/secrets/s"] {
        // Announce the size and send no body: the limit is enforced from the header,
        // before anything is read.
        let mut tcp = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
            .await
            .unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {too_big}\r\nConnection: close\r\n\r\n"
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut answer = vec![0u8; 64];
        let n = tcp.read(&mut answer).await.unwrap();
        let status_line = String::from_utf8_lossy(&answer[..n]).to_string();
        assert!(status_line.starts_with("HTTP/1.1 413"), "{path}: {status_line}");
    }
}
