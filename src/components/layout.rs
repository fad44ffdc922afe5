//! Server-rendered page furniture: header, navigation, notices.

use crate::api::{current_viewer, take_flash, Logout};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

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

/// The notice or errors left for this page view (see [`crate::api::take_flash`]).
#[component]
pub fn Flash() -> impl IntoView {
    take_flash().map(|flash| {
        if flash.error {
            view! {
                <ul class="problems flash" role="alert">
                    {flash.lines.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
                </ul>
            }
            .into_any()
        } else {
            view! { <p class="notice" role="status">{flash.lines.join(" ")}</p> }.into_any()
        }
    })
}
