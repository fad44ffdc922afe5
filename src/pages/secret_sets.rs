use super::route_org;
use crate::api::{list_set_page, org_url, set_url};
use crate::components::{Flash, Layout, ListSearch, NewSetForm, PageLinks};
use crate::model::{write_time, SetSummary};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SecretSetsPage() -> impl IntoView {
    let org = route_org();
    let link_org = org.clone();
    let form_org = org.clone();
    let place = super::ListPlace::read(org_url(&org, "/secrets"));
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
                action=place.url.clone()
                name="Search secret sets"
                label="Search sets by name"
                all="Show all sets"
                query=place.search.clone()
            />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    match list_set_page(org.clone(), place.q(), place.after.clone(), None).await {
                        Ok(page) if page.sets.is_empty() => {
                            let text = place
                                .empty_text("set", "sets", "No secret sets yet. Create one below, then add keys to it.");
                            view! {
                                <p class="empty">{text}</p>
                                <PageLinks name="Pages of secret sets" back=place.first_page() on=None />
                            }
                                .into_any()
                        }
                        Ok(page) => {
                            let next = place.next_page(page.next);
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
                                        <tbody inner_html=set_rows(&link_org, &sets)></tbody>
                                    </table>
                                </div>
                                <PageLinks
                                    name="Pages of secret sets"
                                    back=place.first_page()
                                    on=next
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

/// The list's rows, written into one buffer (see the set page's key rows); every text
/// is escaped.
fn set_rows(org: &str, sets: &[SetSummary]) -> String {
    let mut out = String::with_capacity(sets.len() * 160);
    for s in sets {
        out.push_str("<tr><td>");
        super::push_link(&mut out, &set_url(org, &s.name), &s.name);
        out.push_str("</td><td>");
        out.push_str(&s.key_count.to_string());
        out.push_str("</td><td>");
        write_time(&mut out, s.updated_at);
        out.push_str("</td></tr>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_rows_link_each_set_with_its_count_and_time() {
        let sets = [
            SetSummary {
                name: "app".into(),
                key_count: 12,
                updated_at: 86_400 + 3_600,
                protected: false,
            },
            SetSummary {
                name: "a\"b".into(),
                key_count: 0,
                updated_at: 0,
                protected: true,
            },
        ];
        assert_eq!(
            set_rows("acme", &sets),
            "<tr><td><a href=\"/orgs/acme/secrets/app\">app</a></td><td>12</td><td>1970-01-02 01:00 UTC</td></tr>\
             <tr><td><a href=\"/orgs/acme/secrets/a&quot;b\">a&quot;b</a></td><td>0</td><td>1970-01-01 00:00 UTC</td></tr>"
        );
    }
}
