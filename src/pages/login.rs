use crate::api::{safe_next, take_flash};
use crate::components::LoginForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let next = use_query_map().with_untracked(|q| q.get("next"));
    let error = take_flash().filter(|f| f.error).map(|f| f.lines.join(" "));
    let next = safe_next(&next.unwrap_or_default());
    view! {
        <Title text="Sign in · Cloakroom" />
        <main class="narrow">
            <h1>"Sign in to Cloakroom"</h1>
            <div class="card">
                <LoginForm next=next error=error />
            </div>
            <p class="hint">
                "No account yet? Ask an owner of your organization for an invitation. A new instance is set up through the one-time link its server prints when it starts."
            </p>
        </main>
    }
}
