//! Server-rendered page furniture: header, navigation, notices.

use crate::api::{current_viewer, Logout};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::use_query_map;

/// Header with navigation (only pages that exist) and the signed-in user, then the page.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <header class="topbar">
            <a class="brand" href="/secrets">"Cloakroom"</a>
            <nav aria-label="Main">
                <a href="/secrets">"Secret sets"</a>
                <a href="/image-pull-secrets">"Image pull secrets"</a>
                <a href="/deployments">"Deployments"</a>
            </nav>
            <Suspense fallback=|| ()>
                {Suspend::new(async move {
                    current_viewer()
                        .await
                        .ok()
                        .map(|v| {
                            view! {
                                <div class="who">
                                    <span class="who-email">{v.email}</span>
                                    <span class="who-org">{v.org}</span>
                                    <form method="post" action=Logout::PATH>
                                        <button type="submit" class="link">"Sign out"</button>
                                    </form>
                                </div>
                            }
                        })
                })}
            </Suspense>
        </header>
        <main>{children()}</main>
    }
}

/// The notice or errors a no-JavaScript form submission was redirected back with.
#[component]
pub fn Flash() -> impl IntoView {
    let query = use_query_map();
    let (notice, error) = query.with_untracked(|q| (q.get("notice"), q.get("error")));
    view! {
        {notice.map(|n| view! { <p class="notice" role="status">{n}</p> })}
        {error
            .map(|e| {
                view! {
                    <ul class="problems flash" role="alert">
                        {e.lines().map(|l| view! { <li>{l.to_owned()}</li> }).collect_view()}
                    </ul>
                }
            })}
    }
}
