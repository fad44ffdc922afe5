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
    let org = crate::components::route_org();
    let link = {
        let org = org.clone();
        move |path: &str| org_url(&org, path)
    };
    // The page being shown is marked in the navigation (`aria-current`), for screen
    // readers and, through the style sheet, with more than a colour.
    let here = leptos_router::hooks::use_location().pathname.get_untracked();
    let item = |path: &str, text: &'static str| {
        let href = link(path);
        // "page" on the page itself, "true" on the section a page below it is in.
        let current = if here == href {
            Some("page")
        } else {
            here.starts_with(&format!("{href}/")).then_some("true")
        };
        view! { <a href=href aria-current=current>{text}</a> }
    };
    let nav = view! {
        <a class="brand" href=link("/secrets")>"Cloakroom"</a>
        <nav aria-label="Main">
            {item("/secrets", "Secret sets")}
            {item("/image-pull-secrets", "Image pull secrets")}
            {item("/deployments", "Deployments")}
            {item("/members", "Members")}
            {item("/tokens", "API tokens")}
            {item("/audit", "Audit log")}
        </nav>
    };
    view! {
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                let v = match current_viewer(org.clone()).await {
                    Ok(v) => v,
                    Err(e) => {
                        crate::api::set_status(e.status_code());
                        return view! {
                            <main class="narrow" id="main" tabindex="-1">
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
                let here_org = v.org.clone();
                view! {
                    <a class="skip" href="#main">"Skip to main content"</a>
                    <header class="topbar">
                        {nav}
                        <div class="who">
                            <a class="who-email" href=org_url(&v.org, "/account") title="Your account">{v.email}</a>
                            <details class="switcher">
                                // The visible text starts the accessible name (WCAG 2.5.3).
                                <summary>
                                    <span class="who-org">{v.org}</span>
                                    " "
                                    <span class="badge">{v.role.as_str()}</span>
                                    <span class="visually-hidden">" (your role): switch workspace"</span>
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
                                                    <a
                                                        href=org_url(&w.name, "/secrets")
                                                        aria-current=(w.name == here_org).then_some("true")
                                                    >
                                                        {label}
                                                    </a>
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
                    <main id="main" tabindex="-1">{children()}</main>
                    <super::Confirmations />
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
                // Focus lands on the errors of a refused form (no JavaScript needed).
                <ul class="problems flash" aria-label="Problems" tabindex="-1" autofocus>
                    {flash.lines.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
                </ul>
            }
            .into_any()
        } else {
            // A status that arrives with the page is not announced by itself: it takes
            // the focus, so it is read, and Tab goes on from there.
            view! {
                <p class="notice" role="status" tabindex="-1" autofocus>
                    {flash.lines.join(" ")}
                </p>
            }
            .into_any()
        }
    })
}

/// A credential shown once (an API token, a runtime token, an invitation link): a
/// read-only field with a visible label and a note on copying it from the keyboard.
/// Tabbing into a text field selects all of it, so Tab then Ctrl+C copies it whole.
#[component]
pub fn ShownOnce(
    heading: &'static str,
    /// The field's label, e.g. "API token".
    label: &'static str,
    value: String,
    children: Children,
) -> impl IntoView {
    let id = format!("shown-{}", label.to_ascii_lowercase().replace(' ', "-"));
    let help = format!("{id}-help");
    let help_ref = help.clone();
    let input_id = id.clone();
    view! {
        <section class="card reveal">
            <h2>{heading}</h2>
            {children()}
            <label for=id>{label}</label>
            <input
                id=input_id
                class="token"
                readonly
                value=value
                autocomplete="off"
                spellcheck="false"
                aria-describedby=help_ref
            />
            <p class="hint" id=help>
                "To copy it, Tab to the field (that selects all of it) and press Ctrl+C (⌘C on a Mac), or click it, press Ctrl+A, then Ctrl+C."
            </p>
        </section>
    }
}

/// A list's search by name: a GET form to `action` with `q`, so it works without
/// JavaScript; while a search is shown, a link back to the whole list.
#[component]
pub fn ListSearch(
    /// The list page.
    action: String,
    /// The form's accessible name, e.g. "Search secret sets".
    name: &'static str,
    /// The field's label, e.g. "Search sets by name".
    label: &'static str,
    /// The text of the link back to the whole list.
    all: &'static str,
    /// The current search, as typed.
    query: String,
) -> impl IntoView {
    let whole_list = (!query.trim().is_empty()).then(|| action.clone());
    view! {
        <form method="get" action=action class="inline-form" role="search" aria-label=name>
            <label>{label} <input name="q" type="search" value=query /></label>
            <button type="submit">"Search"</button>
            {whole_list.map(|href| view! { <a href=href>{all}</a> })}
        </form>
    }
}

/// The links between the pages of a list: `back` (to its first page) and `on` (to the
/// next), each an `(href, text)`; nothing when the list fits on one page.
#[component]
pub fn PageLinks(
    /// The navigation's accessible name, e.g. "Pages of secret sets".
    name: &'static str,
    back: Option<(String, &'static str)>,
    on: Option<(String, &'static str)>,
) -> impl IntoView {
    let both = back.is_some() && on.is_some();
    (back.is_some() || on.is_some()).then(|| {
        view! {
            <nav class="meta" aria-label=name>
                {back.map(|(href, text)| view! { <a href=href>{text}</a> })}
                {both.then_some(" · ")}
                {on.map(|(href, text)| view! { <a href=href>{text}</a> })}
            </nav>
        }
    })
}
