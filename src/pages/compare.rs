//! Compare any two of an organization's sets, set versions and deployments, key by
//! key, by fingerprint. A plain GET form: the same with and without JavaScript.

use super::route_org;
use crate::api::{compare_sets, compare_url, list_deployments, list_sets, org_url};
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
                    let sets = list_sets(org.clone()).await.unwrap_or_default();
                    let deployments = list_deployments(org.clone()).await.unwrap_or_default();
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
                            "Compares keys by fingerprint: which keys only one side has, and which have the same or a different value. No value is shown. A side is a set ("
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
