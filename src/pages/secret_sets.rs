use super::route_org;
use crate::api::{list_sets, set_url};
use crate::components::{Flash, Layout, NewSetForm};
use crate::model::format_time;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SecretSetsPage() -> impl IntoView {
    let org = route_org();
    let link_org = org.clone();
    let form_org = org.clone();
    view! {
        <Title text="Secret sets · Cloakroom" />
        <Layout>
            <h1>"Secret sets"</h1>
            <Flash />
            <p class="meta">
                <a href=crate::api::compare_url(&org)>"Compare two sets"</a>
                " · "
                <a href=crate::api::find_url(&org)>"Find where a value is used"</a>
                " · "
                <a href=crate::api::deleted_url(&org)>"Recently deleted sets"</a>
            </p>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    match list_sets(org.clone()).await {
                        Ok(sets) if sets.is_empty() => {
                            view! {
                                <p class="empty">
                                    "No secret sets yet. Create one below, then add keys to it."
                                </p>
                            }
                                .into_any()
                        }
                        Ok(sets) => {
                            view! {
                                <div class="table-box" role="region" aria-label="Secret sets" tabindex="0">
                                    <table class="list" aria-label="Secret sets">
                                        <thead>
                                            <tr>
                                                <th scope="col">"Name"</th>
                                                <th scope="col">"Keys"</th>
                                                <th scope="col">"Last change"</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {sets
                                                .into_iter()
                                                .map(|s| {
                                                    view! {
                                                        <tr>
                                                            <td>
                                                                <a href=set_url(&link_org, &s.name)>{s.name.clone()}</a>
                                                            </td>
                                                            <td>{s.key_count}</td>
                                                            <td>{format_time(s.updated_at)}</td>
                                                        </tr>
                                                    }
                                                })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            }
                                .into_any()
                        }
                        Err(e) => view! { <p class="problems">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
            <Suspense fallback=|| ()>
                {Suspend::new(async move {
                    (super::role_in(&form_org).await >= crate::model::Role::Member)
                        .then(|| {
                            view! {
                                <section class="card">
                                    <h2>"New secret set"</h2>
                                    <NewSetForm org=form_org.clone() />
                                </section>
                            }
                        })
                })}
            </Suspense>
        </Layout>
    }
}
