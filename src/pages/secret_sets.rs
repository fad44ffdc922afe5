use super::route_org;
use crate::api::{list_set_page, org_url, set_url, with_param};
use crate::components::{Flash, Layout, ListSearch, NewSetForm, PageLinks};
use crate::model::format_time;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SecretSetsPage() -> impl IntoView {
    let org = route_org();
    let link_org = org.clone();
    let form_org = org.clone();
    let query = use_query_map().get_untracked();
    let search = query.get("q").unwrap_or_default();
    let after = query.get("after").filter(|a| !a.is_empty());
    let list_url = org_url(&org, "/secrets");
    let searched = (!search.trim().is_empty()).then(|| with_param(&list_url, "q", search.trim()));
    let first_page = after
        .is_some()
        .then(|| searched.clone().unwrap_or_else(|| list_url.clone()));
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
            <ListSearch
                action=list_url.clone()
                name="Search secret sets"
                label="Search sets by name"
                all="Show all sets"
                query=search.clone()
            />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    let q = (!search.trim().is_empty()).then(|| search.trim().to_owned());
                    match list_set_page(org.clone(), q.clone(), after.clone()).await {
                        Ok(page) if page.sets.is_empty() => {
                            let text = match (&q, &after) {
                                (Some(q), _) => format!("No set name contains \"{q}\"."),
                                (None, Some(_)) => "No more sets.".to_owned(),
                                (None, None) => "No secret sets yet. Create one below, then add keys to it.".to_owned(),
                            };
                            view! {
                                <p class="empty">{text}</p>
                                <PageLinks name="Pages of secret sets" back=first_page.clone().map(|href| (href, "First page")) on=None />
                            }
                                .into_any()
                        }
                        Ok(page) => {
                            let next = page.next.map(|n| {
                                with_param(searched.as_deref().unwrap_or(&list_url), "after", &n)
                            });
                            let sets = page.sets;
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
                                <PageLinks
                                    name="Pages of secret sets"
                                    back=first_page.clone().map(|href| (href, "First page"))
                                    on=next.map(|href| (href, "Next page"))
                                />
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
