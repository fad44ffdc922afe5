//! The OpenAPI document and the router agree: every `/api/v1` route the live router
//! answers is documented with its method, and every documented operation is a route.

#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

use crate::common::{spawn_app, Backend};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::BTreeSet;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// `METHOD /path` of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method.to_lowercase()).is_some() {
                out.insert(format!("{method} {path}"));
            }
        }
    }
    out
}

/// `METHOD /path` of every route the live router answers, probing each path of the
/// router's list and of the document with each method without credentials: a route
/// answers 401 (or, for a public one, 200); a method a path lacks answers 405 and a
/// path no route has answers 404.
async fn routed(base: &str, http: &reqwest::Client, paths: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for path in paths {
        let concrete = path
            .split('/')
            .map(|part| if part.starts_with('{') { "x" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        for method in METHODS {
            let res = http
                .request(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    format!("{base}{concrete}"),
                )
                .send()
                .await
                .unwrap();
            if ![StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&res.status()) {
                out.insert(format!("{method} {path}"));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_of_the_router() {
    let app = spawn_app(Backend::Sqlite).await;
    // Served without credentials.
    let res = reqwest::get(app.url("/api/v1/openapi.json")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"].as_str().unwrap().get(..3), Some("3.1"));
    let documented = documented(&doc);
    let paths: BTreeSet<String> = cloakroom::web::rest::PATHS
        .iter()
        .map(|p| (*p).to_owned())
        .chain(doc["paths"].as_object().unwrap().keys().cloned())
        .collect();
    let routed = routed(&app.base, &app.http, &paths).await;
    assert!(routed.len() >= 40, "the route scan found too little: {routed:?}");
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routes missing from the OpenAPI document: {undocumented:?}; documented operations \
         the router lacks: {unrouted:?}"
    );
}

#[test]
fn every_operation_names_its_refusals_and_bodies_are_exact() {
    use cloakroom::web::rest::openapi::REFUSALS;
    let doc: Value = serde_json::from_str(&cloakroom::web::rest::openapi::json()).unwrap();
    let mut ids = BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for method in METHODS {
            let Some(op) = item.get(method.to_lowercase()) else {
                continue;
            };
            let id = op["operationId"].as_str().unwrap().to_owned();
            assert!(
                REFUSALS.iter().any(|(op, _)| *op == id),
                "{id} is not in REFUSALS"
            );
            assert!(ids.insert(id.clone()), "operation id {id} twice");
            // Every operation that can be refused answers with the error body.
            for (code, response) in op["responses"].as_object().unwrap() {
                if code.starts_with('4') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{id} {code}"
                    );
                }
            }
            // A JSON request body refuses fields it does not know.
            if let Some(schema) = op.pointer("/requestBody/content/application~1json/schema") {
                let name = schema["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
                let body = &doc["components"]["schemas"][name];
                assert_eq!(body["additionalProperties"], false, "{id}: {name}");
            }
        }
    }
    // Links name operations that exist, in OpenAPI's spelling.
    let mut links = 0;
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            for response in op["responses"].as_object().into_iter().flat_map(|r| r.values()) {
                for link in response["links"].as_object().into_iter().flat_map(|l| l.values()) {
                    let target = link["operationId"].as_str().unwrap();
                    assert!(ids.contains(target), "a link to {target}, which does not exist");
                    links += 1;
                }
            }
        }
    }
    assert!(links >= 5, "only {links} links");
    for (op, _) in REFUSALS {
        assert!(ids.contains(*op), "REFUSALS names {op}, which the document lacks");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}
