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

/// Where a successful server action sends the browser next.
pub(crate) trait Destination {
    fn destination(&self) -> &str;
}

impl Destination for String {
    fn destination(&self) -> &str {
        self
    }
}

impl Destination for crate::model::WriteOutcome {
    fn destination(&self) -> &str {
        &self.redirect
    }
}

/// The behaviour every form island shares: on success go to the result's page (a full
/// load, so server-rendered parts show the change); on failure return the lines to show
/// under the form. `initial` is what a no-JS attempt came back with.
pub(crate) fn follow<S>(action: ServerAction<S>, initial: Option<String>) -> Signal<Vec<String>>
where
    S: leptos::server_fn::ServerFn<Error = crate::error::AppError> + Clone + Send + Sync + 'static,
    S::Output: Destination + Clone + Send + Sync + 'static,
{
    let value = action.value();
    Effect::new(move |_| {
        value.with(|v| {
            if let Some(Ok(out)) = v {
                go_to(out.destination());
            }
        })
    });
    Signal::derive(move || {
        value.with(|v| match v {
            Some(Err(e)) => e.lines(),
            Some(Ok(_)) => Vec::new(),
            None => initial.clone().into_iter().collect(),
        })
    })
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
