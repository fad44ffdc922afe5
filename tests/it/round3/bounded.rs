//! Bounded work on every path (issue 30): input whose size an attacker chooses costs
//! work that grows linearly with it, or is refused before any work at all.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use crate::common::{self, spawn_app, Backend};
use cloakroom::model::{DeploymentPage, SetPage};
use cloakroom::rest_types::{DeploymentList, SetList};
use cloakroom::validate::{ResourceName, NAME_MAX_LEN};
use reqwest::{Method, StatusCode};

/// `GET {path}` of the REST API, with its status and, on success, its body.
async fn get<T: serde::de::DeserializeOwned>(app: &common::TestApp, path: &str) -> (StatusCode, Option<T>) {
    let res = app.api(Method::GET, path).send().await.unwrap();
    let status = res.status();
    let body = if status.is_success() {
        Some(res.json().await.unwrap())
    } else {
        None
    };
    (status, body)
}

/// A search longer than any name can match nothing: it answers an empty page at once,
/// without touching the search index (taken away here, so that any search reaching the
/// database fails), through REST and through the dashboard's server function. The
/// longest possible name is still found by its whole text.
async fn a_search_longer_than_any_name_answers_an_empty_page_without_the_database(backend: Backend) {
    let app = spawn_app(backend).await;
    let longest = format!("{}-end", "a".repeat(NAME_MAX_LEN - 4));
    for name in [longest.as_str(), "short"] {
        cloakroom::domain::secrets::create(&app.state, &app.principal, &ResourceName::parse(name).unwrap())
            .await
            .unwrap();
    }
    let (status, page) = get::<SetList>(&app, &format!("/secrets?q=%20{}%20", longest.to_uppercase())).await;
    let found: Vec<String> = page.unwrap().sets.into_iter().map(|s| s.name).collect();
    assert_eq!((status, found), (StatusCode::OK, vec![longest.clone()]));

    app.db.execute(&common::undo_search_index(backend)).await;
    let (status, _) = get::<SetList>(&app, "/secrets?q=aaa").await;
    assert!(
        !status.is_success(),
        "with the index gone, a search that reaches the database fails ({status})"
    );

    let over = format!("{longest}a");
    let huge = "ab-".repeat(20_000);
    for q in [&over, &huge] {
        let (status, page) = get::<SetList>(&app, &format!("/secrets?q={q}")).await;
        let page = page.unwrap_or_else(|| panic!("a {}-character search answered {status}", q.len()));
        assert!(
            page.sets.is_empty() && page.next.is_none(),
            "{} characters",
            q.len()
        );
        let (status, page) = get::<DeploymentList>(&app, &format!("/deployments?q={q}")).await;
        let page = page.unwrap_or_else(|| panic!("a {}-character search answered {status}", q.len()));
        assert!(
            page.deployments.is_empty() && page.next.is_none(),
            "{} characters",
            q.len()
        );
    }

    // The dashboard's lists ask through server functions.
    let cookie = app.owner_session().await;
    let call = |endpoint: &'static str| {
        app.http
            .post(app.url(&format!("/api/{endpoint}")))
            .header("accept", "application/json")
            .header("cookie", &cookie)
            .form(&[("org", "acme"), ("q", huge.as_str())])
            .send()
    };
    let res = call("list_set_page").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page: SetPage = res.json().await.unwrap();
    assert!(page.sets.is_empty() && page.next.is_none());
    let res = call("list_deployment_page").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page: DeploymentPage = res.json().await.unwrap();
    assert!(page.deployments.is_empty() && page.next.is_none());
}

crate::on_both_backends!(a_search_longer_than_any_name_answers_an_empty_page_without_the_database);
