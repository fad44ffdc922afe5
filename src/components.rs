//! Reusable widgets. The interactive ones are `#[island]`s: only they ship as WASM.
//! Island props end up in the HTML, so none of them ever carries a secret value.

pub mod editor;
pub mod forms;
pub mod layout;

pub use editor::*;
pub use forms::*;
pub use layout::*;

use leptos::prelude::*;

/// Full page load of `url`, used after a successful write so the server-rendered parts
/// of the page show the new state.
pub(crate) fn go_to(url: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_href(url);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = url;
}

/// A live list of problems under a form (announced to screen readers).
#[component]
pub fn Problems(#[prop(into)] lines: Signal<Vec<String>>) -> impl IntoView {
    view! {
        <ul class="problems" role="alert">
            {move || lines.get().into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
        </ul>
    }
}

/// `data-ready="true"` once the surrounding island runs in the browser; end-to-end
/// tests wait for it before typing into an island.
#[component]
pub fn ReadyMarker() -> impl IntoView {
    let awake = RwSignal::new(false);
    Effect::new(move |_| awake.set(true));
    view! { <span hidden class="ready-marker" data-ready=move || if awake.get() { "true" } else { "false" }></span> }
}
