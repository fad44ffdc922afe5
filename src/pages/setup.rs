//! The first-run page: reached only through the one-time link the server prints while
//! no account exists. It creates the owner account and the first organization.

use crate::api::{setup_open, SetupInstance};
use crate::components::Flash;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SetupPage() -> impl IntoView {
    let code = use_query_map().with_untracked(|q| q.get("code").unwrap_or_default());
    view! {
        <Title text="Set up Cloakroom" />
        <main class="narrow">
            <h1>"Set up Cloakroom"</h1>
            <Flash />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    if let Err(e) = setup_open(code.clone()).await {
                        return view! {
                            <ul class="problems flash" aria-label="Problems" tabindex="-1" autofocus>
                                <li>{e.to_string()}</li>
                            </ul>
                            <p>
                                <a href="/login">"Sign in"</a>
                            </p>
                        }
                            .into_any();
                    }
                    view! {
                        <p>
                            "Create the owner account and the first organization. This link works once; after that, sign in and invite your team."
                        </p>
                        <div class="card">
                            <form method="post" action=SetupInstance::PATH>
                                <input type="hidden" name="code" value=code.clone() />
                                <label for="setup-email">"Your email"</label>
                                <input id="setup-email" type="email" name="email" autocomplete="username" required />
                                <label for="setup-password">"Password (at least 10 characters)"</label>
                                <input
                                    id="setup-password"
                                    type="password"
                                    name="password"
                                    autocomplete="new-password"
                                    minlength="10"
                                    required
                                />
                                <label for="setup-org">"Organization name"</label>
                                <input
                                    id="setup-org"
                                    name="org"
                                    required
                                    maxlength="63"
                                    autocomplete="off"
                                    spellcheck="false"
                                    placeholder="e.g. acme"
                                />
                                <p class="hint">{crate::validate::NAME_RULE} " Names ending in \"-personal\" are kept for personal workspaces."</p>
                                <button type="submit">"Create owner and organization"</button>
                            </form>
                        </div>
                    }
                        .into_any()
                })}
            </Suspense>
        </main>
    }
}
