//! Compare any two of an organization's sets, set versions and deployments, key by
//! key, by fingerprint. A plain GET form: the same with and without JavaScript.

use super::route_org;
use crate::api::{compare_sets, compare_url, list_deployment_page, list_set_page, org_url};
use crate::components::{ComparisonView, Flash, Layout};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// `prod` → "prod", `prod@3` → "prod version 3", `deployment:web` → "deployment web".
fn label(side: &str) -> String {
    let side = side.trim();
    if let Some(d) = side.strip_prefix("deployment:") {
        return format!("deployment {d}");
    }
    match side.split_once('@') {
        Some((set, v)) => format!("{set} version {v}"),
        None => side.to_owned(),
    }
}

#[component]
pub fn SetsComparePage() -> impl IntoView {
    let org = route_org();
    let q = use_query_map().get_untracked();
    let (a, b) = (q.get("a").unwrap_or_default(), q.get("b").unwrap_or_default());
    view! {
        <Title text="Compare · Secret sets · Cloakroom" />
        <Layout>
            <p class="crumbs">
                <a href=org_url(&org, "/secrets")>"Secret sets"</a>
                " / "
            </p>
            <h1>"Compare"</h1>
            <Flash />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    // Suggestions only (any name can be typed): the first of each.
                    let limit = Some(crate::model::PICKER_SIZE);
                    let sets = list_set_page(org.clone(), None, None, limit).await.unwrap_or_default().sets;
                    let deployments = list_deployment_page(org.clone(), None, None, limit)
                        .await
                        .unwrap_or_default()
                        .deployments;
                    let result = if a.trim().is_empty() || b.trim().is_empty() {
                        None
                    } else {
                        Some(match compare_sets(org.clone(), a.clone(), b.clone()).await {
                            Ok(c) => view! { <ComparisonView a=label(&a) b=label(&b) comparison=c /> }.into_any(),
                            Err(e) => {
                                super::set_status(e.status_code());
                                view! {
                                    <ul class="problems" aria-label="Problems">
                                        {e.lines().into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
                                    </ul>
                                }
                                    .into_any()
                            }
                        })
                    };
                    view! {
                        <p class="meta">
                            "Compares keys by value, on the server: which keys only one side has, and which have the same or a different value. No value is shown. A side is a set ("
                            <code>"prod"</code>
                            "), a version of one ("
                            <code>"prod@3"</code>
                            ") or a deployment's running revision ("
                            <code>"deployment:web"</code>
                            ")."
                        </p>
                        <form method="get" action=compare_url(&org) class="inline-form">
                            <label for="compare-a">"Compare"</label>
                            <input id="compare-a" name="a" type="text" list="compare-sides" value=a.clone() required autocomplete="off" />
                            <label for="compare-b">"with"</label>
                            <input id="compare-b" name="b" type="text" list="compare-sides" value=b.clone() required autocomplete="off" />
                            <datalist id="compare-sides">
                                {sets.iter().map(|s| view! { <option value=s.name.clone()></option> }).collect_view()}
                                {deployments
                                    .iter()
                                    .map(|d| view! { <option value=format!("deployment:{}", d.spec.name)></option> })
                                    .collect_view()}
                            </datalist>
                            <button type="submit">"Compare"</button>
                        </form>
                        {result}
                    }
                        .into_any()
                })}
            </Suspense>
        </Layout>
    }
}

/// The page a place links to.
fn place_link(org: &str, p: &crate::model::Place) -> (String, String) {
    use crate::api::{deleted_url, deployment_url, set_url, version_url};
    let set = p.set.clone().unwrap_or_default();
    match (p.kind.as_str(), p.version, &p.deployment, p.revision) {
        (_, _, _, _) if p.deleted => (deleted_url(org), format!("{set} (deleted)")),
        ("set_version", Some(v), _, _) => (version_url(org, &set, v), format!("{set} version {v}")),
        ("deployment_revision", _, Some(d), Some(r)) => {
            (deployment_url(org, d), format!("deployment {d} revision {r}"))
        }
        _ => (set_url(org, &set), set),
    }
}

#[component]
pub fn FindValuePage() -> impl IntoView {
    use crate::api::{take_found, FindValue};
    use leptos::server_fn::ServerFn;
    let org = route_org();
    let found = take_found();
    view! {
        <Title text="Find a value · Cloakroom" />
        <Layout>
            <p class="crumbs">
                <a href=org_url(&org, "/secrets")>"Secret sets"</a>
                " / "
            </p>
            <h1>"Find where a value is used"</h1>
            <Flash />
            <p class="meta">
                "After a leak: every set, kept set version and kept deployment revision holding exactly this value, so each can be rotated. The value is compared on the server and never shown; each search is audited (without the value) and counts toward 10 value lookups a minute. Admins only."
            </p>
            <form method="post" action=FindValue::PATH class="card">
                <input type="hidden" name="org" value=org.clone() />
                <label for="find-value">"Value to find"</label>
                <input id="find-value" name="value" type="password" autocomplete="off" required />
                <button type="submit">"Find"</button>
            </form>
            {found
                .map(|f| {
                    let shown = f.places.len();
                    let summary = match (f.total, shown == f.total) {
                        (0, _) => "The value is in no set, kept set version or kept deployment revision.".to_owned(),
                        (n, true) => format!("Found in {n} place{}.", if n == 1 { "" } else { "s" }),
                        (n, false) => format!(
                            "Found in {n} places; the first {shown} are listed here (cloakroom secrets find and the API list up to 1,000)."
                        ),
                    };
                    view! {
                        <section class="card" aria-labelledby="found-heading">
                            <h2 id="found-heading">"Places holding the value"</h2>
                            <p>{summary}</p>
                            {(shown > 0)
                                .then(|| {
                                    view! {
                                        <div class="table-box" role="region" aria-label="Places" tabindex="0">
                                            <table class="list" aria-label="Places">
                                                <thead>
                                                    <tr>
                                                        <th scope="col">"Where"</th>
                                                        <th scope="col">"Key"</th>
                                                        <th scope="col">"Kind"</th>
                                                    </tr>
                                                </thead>
                                                <tbody>
                                                    {f
                                                        .places
                                                        .iter()
                                                        .map(|p| {
                                                            let (href, text) = place_link(&org, p);
                                                            view! {
                                                                <tr>
                                                                    <td>
                                                                        <a href=href>{text}</a>
                                                                    </td>
                                                                    <td>
                                                                        <code>{p.key.clone()}</code>
                                                                    </td>
                                                                    <td>{p.kind.replace('_', " ")}</td>
                                                                </tr>
                                                            }
                                                        })
                                                        .collect_view()}
                                                </tbody>
                                            </table>
                                        </div>
                                    }
                                })}
                        </section>
                    }
                })}
        </Layout>
    }
}
