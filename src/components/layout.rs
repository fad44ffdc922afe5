//! Server-rendered page furniture: header, navigation, workspace switcher, notices.

use crate::api::{current_viewer, org_url, take_flash, Logout};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// Header with the organization's navigation, the signed-in user and the workspace
/// switcher (a plain disclosure: it works without JavaScript), then the page. An
/// organization the user does not belong to answers 404, exactly like one that does not
/// exist, and nothing of the page is rendered.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let org = crate::pages::route_org();
    let link = {
        let org = org.clone();
        move |path: &str| org_url(&org, path)
    };
    let nav = view! {
        <a class="brand" href=link("/secrets")>"Cloakroom"</a>
        <nav aria-label="Main">
            <a href=link("/secrets")>"Secret sets"</a>
            <a href=link("/image-pull-secrets")>"Image pull secrets"</a>
            <a href=link("/deployments")>"Deployments"</a>
            <a href=link("/members")>"Members"</a>
            <a href=link("/tokens")>"API tokens"</a>
            <a href=link("/audit")>"Audit log"</a>
        </nav>
    };
    view! {
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                let v = match current_viewer(org.clone()).await {
                    Ok(v) => v,
                    Err(e) => {
                        crate::pages::set_status(e.status_code());
                        return view! {
                            <main class="narrow">
                                <h1>"Not found"</h1>
                                <p class="problems">{e.to_string()}</p>
                                <p>
                                    <a href="/secrets">"Back to your workspace"</a>
                                </p>
                            </main>
                        }
                            .into_any();
                    }
                };
                let new_org = crate::api::new_org_url(&v.org);
                view! {
                    <header class="topbar">
                        {nav}
                        <div class="who">
                            <a class="who-email" href=org_url(&v.org, "/account") title="Your account">{v.email}</a>
                            <details class="switcher">
                                <summary aria-label="Switch workspace">
                                    <span class="who-org">{v.org}</span>
                                    " "
                                    <span class="badge">{v.role.as_str()}</span>
                                </summary>
                                <ul>
                                    {v
                                        .workspaces
                                        .into_iter()
                                        .map(|w| {
                                            let label = if w.personal {
                                                format!("{} (personal)", w.name)
                                            } else {
                                                w.name.clone()
                                            };
                                            view! {
                                                <li>
                                                    <a href=org_url(&w.name, "/secrets")>{label}</a>
                                                    " "
                                                    <span class="badge">{w.role.as_str()}</span>
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                    <li>
                                        <a href=new_org>"New organization…"</a>
                                    </li>
                                </ul>
                            </details>
                            <form method="post" action=Logout::PATH>
                                <button type="submit" class="link">"Sign out"</button>
                            </form>
                        </div>
                    </header>
                    <main>{children()}</main>
                }
                    .into_any()
            })}
        </Suspense>
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
