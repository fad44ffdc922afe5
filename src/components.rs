//! Reusable widgets. The interactive ones are `#[island]`s: only they ship as WASM.
//! Islands take no props (each would bring a JSON deserializer into the WASM): what
//! an island shows from its page comes as server-rendered `children`, or, where it
//! decides the island's own markup, through [`from_page`]. Nothing secret is ever in
//! either.
//!
//! Every form is a plain HTML form posting to its server function, so it works with
//! JavaScript off. With JavaScript, [`FormState::submit`] sends the very same fields to
//! the same URL asking for JSON, and the island shows errors in place or moves on to
//! the result's page. One non-generic submit path keeps the WASM small: no per-function
//! client code, no query-string serializer and no JSON library in the bundle.

pub mod editor;
pub mod forms;
pub mod layout;

pub use editor::*;
pub use forms::*;
pub use layout::*;

#[cfg(feature = "hydrate")]
use crate::error::AppError;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

/// Whether a form's request is in flight, and what its last attempt went wrong with.
#[derive(Clone, Copy)]
pub(crate) struct FormState {
    pub pending: RwSignal<bool>,
    pub failures: RwSignal<Vec<String>>,
}

impl FormState {
    /// `initial`: the error a no-JS attempt came back with (shown until the next try).
    pub fn new(initial: Option<String>) -> Self {
        Self {
            pending: RwSignal::new(false),
            failures: RwSignal::new(initial.into_iter().collect()),
        }
    }

    /// What the form's list of problems shows: the live check's findings while there
    /// are any, else the server's answer to the last attempt.
    pub fn problems(self, live: RwSignal<Vec<String>>) -> Signal<Vec<String>> {
        Signal::derive(move || {
            let live = live.get();
            if live.is_empty() {
                self.failures.get()
            } else {
                live
            }
        })
    }

    /// The `on:submit` handler: post the form in the background; on success load the
    /// page the server names (so server-rendered parts show the change), on failure
    /// show the problems and keep what the user typed.
    pub fn submit(self) -> impl Fn(SubmitEvent) + Clone + 'static {
        move |ev: SubmitEvent| {
            #[cfg(feature = "hydrate")]
            {
                use wasm_bindgen::JsCast;
                let Some(form) = ev
                    .target()
                    .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
                else {
                    return;
                };
                ev.prevent_default();
                self.pending.set(true);
                leptos::task::spawn_local(async move {
                    match post_form(&form).await {
                        Ok(redirect) => go_to(&redirect),
                        Err(e) => {
                            self.failures.set(e.lines());
                            self.pending.set(false);
                            focus_problems(&form);
                        }
                    }
                });
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = ev;
        }
    }
}

/// Posts a form's fields, url-encoded exactly as the browser would, to its action, and
/// answers where to go next. The answer is read with the browser's JSON parser (see
/// [`AppError::from_parts`]), so no JSON deserializer ships in the WASM.
#[cfg(feature = "hydrate")]
async fn post_form(form: &web_sys::HtmlFormElement) -> Result<String, AppError> {
    let unreachable = || AppError::Transport("the server could not be reached; nothing was changed".into());
    let data = web_sys::FormData::new_with_form(form).map_err(|_| unreachable())?;
    let body = web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data)
        .map_err(|_| unreachable())?
        .to_string();
    let res = gloo_net::http::Request::post(&form.action())
        .header("Accept", "application/json")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(String::from(body))
        .map_err(|_| unreachable())?
        .send()
        .await
        .map_err(|_| unreachable())?;
    let answered = || {
        AppError::Transport(format!(
            "the server answered {}; nothing was changed",
            res.status()
        ))
    };
    let json = res.text().await.ok().and_then(|t| js_sys::JSON::parse(&t).ok());
    if res.ok() {
        // The write went through; only where to go next is unknown.
        let unread = || {
            AppError::Transport(
                "the server's answer could not be read; reload the page to see the change".into(),
            )
        };
        json.and_then(|j| js_sys::Reflect::get(&j, &"redirect".into()).ok())
            .and_then(|r| r.as_string())
            .ok_or_else(unread)
    } else {
        Err(json.as_ref().and_then(error_from_js).unwrap_or_else(answered))
    }
}

/// An [`AppError`] from the browser's parse of its JSON form: a variant's name, or an
/// object with exactly one key whose value is a text, a whole number of seconds or a
/// list of `{field, message}`. Anything else is `None`, as serde would refuse it.
#[cfg(feature = "hydrate")]
fn error_from_js(json: &wasm_bindgen::JsValue) -> Option<AppError> {
    use crate::error::ErrorPayload;
    use js_sys::{Array, Object, Reflect};
    use wasm_bindgen::JsCast;
    if let Some(variant) = json.as_string() {
        return AppError::from_parts(&variant, ErrorPayload::None);
    }
    let entries = Object::entries(json.dyn_ref::<Object>()?);
    if entries.length() != 1 {
        return None;
    }
    let entry: Array = entries.get(0).dyn_into().ok()?;
    let (variant, value) = (entry.get(0).as_string()?, entry.get(1));
    let text = |v: &wasm_bindgen::JsValue, key: &str| Reflect::get(v, &key.into()).ok()?.as_string();
    let payload = if let Some(t) = value.as_string() {
        ErrorPayload::Text(t)
    } else if let Some(n) = value.as_f64() {
        // Whole, non-negative and exact in a double (serde_json's `as_u64` reading).
        if !(n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_992.0) {
            return None;
        }
        ErrorPayload::Number(n as u64)
    } else {
        let items: &Array = value.dyn_ref()?;
        ErrorPayload::Problems(
            items
                .iter()
                .map(|i| {
                    Some(crate::validate::FieldError {
                        field: text(&i, "field")?,
                        message: text(&i, "message")?,
                    })
                })
                .collect::<Option<Vec<_>>>()?,
        )
    };
    AppError::from_parts(&variant, payload)
}

/// Moves keyboard focus to the form's list of problems after a refused submit, so a
/// screen reader reads them and the keyboard user starts from there.
#[cfg(feature = "hydrate")]
fn focus_problems(form: &web_sys::HtmlFormElement) {
    let form = form.clone();
    focus_when_rendered(move || form.query_selector(".problems").ok().flatten());
}

/// Focuses what `find` finds as soon as the render that makes it has run (the signal
/// change that leads to it was just made, so a few executor ticks at most).
#[cfg(feature = "hydrate")]
fn focus_when_rendered(find: impl Fn() -> Option<web_sys::Element> + 'static) {
    use wasm_bindgen::JsCast;
    leptos::task::spawn_local(async move {
        for _ in 0..10 {
            leptos::task::tick().await;
            if let Some(el) = find().and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
                let _ = el.focus();
                return;
            }
        }
    });
}

/// Full page load of `url`.
#[cfg(feature = "hydrate")]
fn go_to(url: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_href(url);
    }
}

/// A secret input, masked while typing, with a Show/Hide toggle. Its value never
/// leaves the browser except in the form's own submission. The toggle needs
/// JavaScript, so it appears only once the island runs.
#[component]
pub fn MaskedInput(
    id: String,
    name: String,
    autocomplete: &'static str,
    /// Ids of the texts that describe the field (its errors).
    #[prop(optional, into)]
    describedby: Option<String>,
) -> impl IntoView {
    let shown = RwSignal::new(false);
    let awake = RwSignal::new(false);
    Effect::new(move |_| awake.set(true));
    view! {
        <div class="masked">
            <input
                id=id.clone()
                name=name
                type=move || if shown.get() { "text" } else { "password" }
                autocomplete=autocomplete
                spellcheck="false"
                aria-describedby=describedby
            />
            <button
                type="button"
                class="secondary"
                hidden=move || !awake.get()
                aria-controls=id
                aria-pressed=move || shown.get().to_string()
                on:click=move |_| shown.update(|s| *s = !*s)
            >
                "Show"
            </button>
        </div>
    }
}

/// What an island shows that depends on its page, without island props (each would
/// put a JSON deserializer in the WASM). On the server the page provides it as context
/// (with `Provider`); in the browser, where the island hydrates over that server-rendered
/// HTML, `from_html` reads back what the island's own code needs. Hydration never
/// rewrites server-rendered text or static attributes, so only what decides the
/// island's structure has to be right there.
pub(crate) fn from_page<T: Clone + 'static>(from_html: impl FnOnce() -> T) -> T {
    #[cfg(feature = "hydrate")]
    return from_html();
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = from_html;
        expect_context::<T>()
    }
}

/// In the browser, whether the page has an element matching `selector` (islands look
/// for their own fields by id: a page shows each such form once); on the server (which
/// never calls it for an answer) `false`.
pub(crate) fn on_page(selector: &str) -> bool {
    #[cfg(feature = "hydrate")]
    return document().query_selector(selector).ok().flatten().is_some();
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = selector;
        false
    }
}

/// The fields of the form an input event happened in, read by name (empty when
/// absent): what a form's live check looks at, whichever field changed.
pub(crate) fn form_fields(ev: &leptos::ev::Event) -> impl Fn(&str) -> String {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let data = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|e| e.closest("form").ok().flatten())
            .and_then(|f| f.dyn_into::<web_sys::HtmlFormElement>().ok())
            .and_then(|f| web_sys::FormData::new_with_form(&f).ok());
        move |name: &str| {
            data.as_ref()
                .and_then(|d| d.get(name).as_string())
                .unwrap_or_default()
        }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        |_: &str| String::new()
    }
}

/// The hidden fields that name a set and the revision a form was rendered from.
#[component]
pub fn SetFields(org: String, set: String, revision: i64) -> impl IntoView {
    view! {
        <input type="hidden" name="org" value=org />
        <input type="hidden" name="set" value=set />
        <input type="hidden" name="revision" value=revision />
    }
}

/// Moves keyboard focus to the element with `id` once the current render is done
/// (a row the user just added, or the neighbour of a row they removed).
pub(crate) fn focus_after_render(id: String) {
    #[cfg(feature = "hydrate")]
    focus_when_rendered(move || document().get_element_by_id(&id));
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

/// The problems of a form: a polite live region (always in the page, the target of
/// fields' `aria-describedby` through `id`) holding, while there are any, a list named
/// "Problems". Nothing is announced or listed while there are none. Errors a page was
/// rendered with (a refused form without JavaScript) take the focus on load; the
/// island moves the focus to the list after a refused submit ([`FormState::submit`]).
#[component]
pub fn Problems(
    #[prop(into)] lines: Signal<Vec<String>>,
    #[prop(optional, into)] id: Option<String>,
) -> impl IntoView {
    // Only the list the page arrives with may take the focus by itself.
    let arrived = StoredValue::new(!lines.with_untracked(Vec::is_empty));
    view! {
        <div class="problems-live" id=id aria-live="polite">
            {move || {
                let lines = lines.get();
                let autofocus = arrived.get_value();
                arrived.set_value(false);
                (!lines.is_empty())
                    .then(|| {
                        view! {
                            <ul class="problems" aria-label="Problems" tabindex="-1" autofocus=autofocus>
                                {lines.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
                            </ul>
                        }
                    })
            }}
        </div>
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

/// Two sides' keys compared by fingerprint (a set with another, with one of its
/// versions, or with a deployment's revision): keys only in A, only in B, with a
/// different value, with the same value. Never a value.
#[component]
pub fn ComparisonView(
    /// What side A is, e.g. "prod version 3".
    a: String,
    /// What side B is, e.g. "prod now".
    b: String,
    comparison: crate::model::Comparison,
) -> impl IntoView {
    let summary = if comparison.equal() {
        format!("{a} and {b} hold the same keys with the same values.")
    } else {
        format!(
            "{} only in {a}, {} only in {b}, {} different, {} the same.",
            comparison.only_in_a.len(),
            comparison.only_in_b.len(),
            comparison.different.len(),
            comparison.same.len()
        )
    };
    let group = |title: String, class: &'static str, keys: Vec<String>| {
        view! {
            <div class=format!("compare-group {class}")>
                <h3>{format!("{title} ({})", keys.len())}</h3>
                {if keys.is_empty() {
                    view! { <p class="empty">"None"</p> }.into_any()
                } else {
                    view! {
                        <ul aria-label=title.clone()>
                            {keys.into_iter().map(|k| view! { <li><code>{k}</code></li> }).collect_view()}
                        </ul>
                    }
                        .into_any()
                }}
            </div>
        }
    };
    view! {
        <section class="comparison" aria-labelledby="comparison-heading">
            <h2 id="comparison-heading">{format!("{a} compared with {b}")}</h2>
            <p class="compare-summary">{summary}</p>
            <div class="compare-groups">
                {group(format!("Only in {a}"), "removed", comparison.only_in_a)}
                {group(format!("Only in {b}"), "added", comparison.only_in_b)}
                {group("Different value".to_owned(), "changed", comparison.different)}
                {group("Same value".to_owned(), "same", comparison.same)}
            </div>
        </section>
    }
}

/// The organization in the page's URL (`/orgs/:org/...`).
pub(crate) fn route_org() -> String {
    leptos_router::hooks::use_params_map().with_untracked(|p| p.get("org").unwrap_or_default())
}
