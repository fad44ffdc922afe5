//! Small forms: sign in (plain HTML), and the islands: new set, unset a key, delete a set.

use super::{FormState, MaskedInput, Problems, ReadyMarker};
use crate::api::{CreatePullSecret, CreateSet, DeleteSet, Login};
use crate::validate::{self, ResourceName};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// Sign-in form: plain HTML, so the sign-in page loads no WebAssembly. `error` is the
/// message a refused attempt came back with; the list of problems takes the focus.
#[component]
pub fn LoginForm(next: String, error: Option<String>) -> impl IntoView {
    let lines: Vec<String> = error.into_iter().collect();
    view! {
        <form method="post" action=Login::PATH>
            <input type="hidden" name="next" value=next />
            <label for="email">"Email"</label>
            <input
                id="email"
                type="email"
                name="email"
                autocomplete="username"
                required
                aria-describedby="login-problems"
            />
            <label for="password">"Password"</label>
            <input
                id="password"
                type="password"
                name="password"
                autocomplete="current-password"
                required
                aria-describedby="login-problems"
            />
            <Problems lines=lines id="login-problems" />
            <button type="submit">"Sign in"</button>
        </form>
    }
}

/// "New secret set": a name checked against the shared rule as it is typed.
#[island]
pub fn NewSetForm(org: String) -> impl IntoView {
    let state = FormState::new(None);
    let name = RwSignal::new(String::new());
    // The name as typed comes first; the server's answer shows once the name is valid.
    let lines = Signal::derive(move || {
        let n = name.get();
        match ResourceName::parse(&n) {
            Err(e) if !n.is_empty() => vec![e.message],
            _ => state.failures.get(),
        }
    });
    view! {
        <form method="post" action=CreateSet::PATH on:submit=state.submit()>
            <ReadyMarker />
            <input type="hidden" name="org" value=org />
            <label for="new-set-name">"Set name"</label>
            <input
                id="new-set-name"
                name="name"
                required
                maxlength="63"
                placeholder="e.g. production"
                autocomplete="off"
                spellcheck="false"
                aria-describedby="new-set-hint new-set-problems"
                aria-invalid=move || (ResourceName::parse(&name.get()).is_err() && !name.get().is_empty()).to_string()
                on:input=move |ev| name.set(event_target_value(&ev))
            />
            <p class="hint" id="new-set-hint">
                "Lowercase letters, digits and \"-\"; starts and ends with a letter or digit."
            </p>
            <Problems lines=lines id="new-set-problems" />
            <button type="submit" disabled=move || state.pending.get()>
                "Create set"
            </button>
        </form>
    }
}

/// A one-button form (delete a pull secret, remove a member). Plain server-rendered
/// HTML: without JavaScript the click submits; with it, the page's one
/// [`Confirmations`] island turns the first click into "Confirm …" and only the second
/// one submits. A table of a hundred rows is then a hundred small forms and one island,
/// not a hundred islands each carrying its props.
#[component]
pub fn ConfirmButton(
    /// The server function's URL.
    action: String,
    /// Hidden fields: (name, value). Never secret values (they end up in the HTML).
    fields: Vec<(String, String)>,
    /// The button's text, e.g. "Unset"; armed it reads "Confirm unset".
    text: String,
    /// Accessible name, e.g. "Unset DB_URL"; armed: "Confirm unset DB_URL".
    label: String,
) -> impl IntoView {
    view! {
        <form method="post" action=action>
            {fields
                .into_iter()
                .map(|(name, value)| view! { <input type="hidden" name=name value=value /> })
                .collect_view()}
            <button type="submit" class="danger" aria-label=label data-confirm="">
                {text}
            </button>
        </form>
    }
}

/// What makes every [`ConfirmButton`] of the page ask twice: one island per page whose
/// listeners on the document arm a button on its first click (text, accessible name
/// and style change; the focus stays on the same element), disarm it on Escape or when
/// the focus leaves, and let the second click submit the form once.
#[island]
pub fn Confirmations() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    confirm::listen();
    view! { <ReadyMarker /> }
}

#[cfg(feature = "hydrate")]
mod confirm {
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{Document, Element, Event, KeyboardEvent};

    /// The confirm button an event happened on (or inside).
    fn button(ev: &Event) -> Option<Element> {
        let target: Element = ev.target()?.dyn_into().ok()?;
        target.closest("button[data-confirm]").ok()?
    }

    fn armed(b: &Element) -> bool {
        b.has_attribute("data-armed")
    }

    /// Arms (`on`) or disarms the button. Arming keeps its text and accessible name
    /// in `data-text` and `data-label` and shows "Confirm …" instead; disarming puts
    /// them back.
    fn arm(b: &Element, on: bool) {
        if on == armed(b) {
            return;
        }
        if on {
            let text = b.text_content().unwrap_or_default();
            let label = b.get_attribute("aria-label").unwrap_or_else(|| text.clone());
            b.set_text_content(Some(&format!("Confirm {}", text.to_lowercase())));
            let _ = b.set_attribute("aria-label", &format!("Confirm {}", lowercase_first(&label)));
            let _ = b.set_attribute("data-text", &text);
            let _ = b.set_attribute("data-label", &label);
            b.set_class_name("danger armed");
            let _ = b.set_attribute("data-armed", "");
        } else {
            if let Some(text) = b.get_attribute("data-text") {
                b.set_text_content(Some(&text));
            }
            if let Some(label) = b.get_attribute("data-label") {
                let _ = b.set_attribute("aria-label", &label);
            }
            b.set_class_name("danger");
            let _ = b.remove_attribute("data-armed");
        }
    }

    fn lowercase_first(s: &str) -> String {
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_lowercase().chain(c).collect())
            .unwrap_or_default()
    }

    fn on(doc: &Document, name: &str, f: impl Fn(Event) + 'static) {
        let f = Closure::<dyn Fn(Event)>::new(f);
        let _ = doc.add_event_listener_with_callback(name, f.as_ref().unchecked_ref());
        // The listeners live as long as the page.
        f.forget();
    }

    pub fn listen() {
        let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        // Once per document, however often the island is rendered.
        let Some(root) = doc.document_element() else {
            return;
        };
        if root.has_attribute("data-confirmations") {
            return;
        }
        let _ = root.set_attribute("data-confirmations", "");
        on(&doc, "click", |ev| {
            if let Some(b) = button(&ev).filter(|b| !armed(b)) {
                ev.prevent_default();
                arm(&b, true);
            }
        });
        on(&doc, "keydown", |ev| {
            let escape = ev.dyn_ref::<KeyboardEvent>().is_some_and(|k| k.key() == "Escape");
            if let Some(b) = button(&ev).filter(|b| escape && armed(b)) {
                ev.prevent_default();
                arm(&b, false);
            }
        });
        on(&doc, "focusout", |ev| {
            if let Some(b) = button(&ev) {
                arm(&b, false);
            }
        });
        // A second press while the first is on its way posts nothing more.
        on(&doc, "submit", |ev| {
            let Some(form) = ev.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
                return;
            };
            if form
                .query_selector("button[data-confirm]")
                .ok()
                .flatten()
                .is_none()
            {
                return;
            }
            if form.has_attribute("data-sent") {
                ev.prevent_default();
            } else {
                let _ = form.set_attribute("data-sent", "");
            }
        });
        // A page restored from the back-forward cache can be used again.
        if let Some(window) = web_sys::window() {
            let again = Closure::<dyn Fn(Event)>::new(move |_: Event| {
                if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
                    if let Ok(sent) = doc.query_selector_all("form[data-sent]") {
                        for i in 0..sent.length() {
                            if let Some(f) = sent.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                                let _ = f.remove_attribute("data-sent");
                            }
                        }
                    }
                }
            });
            let _ = window.add_event_listener_with_callback("pageshow", again.as_ref().unchecked_ref());
            again.forget();
        }
    }
}

/// A `<select>` of names with "(none)" first; `chosen` is selected.
fn name_select(
    id: &'static str,
    name: &'static str,
    chosen: Option<&str>,
    names: Vec<String>,
) -> impl IntoView {
    let options = names
        .into_iter()
        .map(|n| {
            let selected = chosen == Some(n.as_str());
            let value = n.clone();
            view! {
                <option value=value selected=selected>
                    {n}
                </option>
            }
        })
        .collect_view();
    view! {
        <select id=id name=name>
            <option value="" selected=chosen.is_none()>
                "(none)"
            </option>
            {options}
        </select>
    }
}

/// "Delete set": the user types the set's name to confirm (checked by the server too).
#[island]
pub fn DeleteSetForm(org: String, set: String) -> impl IntoView {
    let state = FormState::new(None);
    // Until the island is awake the button stays enabled, so the form works without JS.
    let awake = RwSignal::new(false);
    Effect::new(move |_| awake.set(true));
    let typed = RwSignal::new(String::new());
    let expected = set.clone();
    view! {
        <form method="post" action=DeleteSet::PATH on:submit=state.submit()>
            <ReadyMarker />
            <input type="hidden" name="org" value=org />
            <input type="hidden" name="set" value=set.clone() />
            <label for="confirm-delete">{format!("Type \"{set}\" to confirm")}</label>
            <input
                id="confirm-delete"
                name="confirm"
                autocomplete="off"
                spellcheck="false"
                aria-describedby="delete-set-problems"
                on:input=move |ev| typed.set(event_target_value(&ev))
            />
            <Problems lines=state.failures id="delete-set-problems" />
            <button
                type="submit"
                class="danger"
                disabled=move || state.pending.get() || (awake.get() && typed.get() != expected)
            >
                "Delete set"
            </button>
        </form>
    }
}

/// New image pull secret, or (with `replace`) new credentials for an existing one.
/// Every field is checked with the shared rules as it is typed; the password never is
/// echoed.
#[island]
pub fn PullSecretForm(
    org: String,
    replace: Option<String>,
    registry: String,
    username: String,
) -> impl IntoView {
    let state = FormState::new(None);
    // Until the island runs, every field shows, so the form works without JavaScript.
    let awake = RwSignal::new(false);
    Effect::new(move |_| awake.set(true));
    let encode = RwSignal::new(true);
    let name = RwSignal::new(replace.clone().unwrap_or_default());
    let host = RwSignal::new(registry.clone());
    let user = RwSignal::new(username.clone());
    let auth = RwSignal::new(String::new());
    let lines = Signal::derive(move || {
        let mut live = Vec::new();
        let check = |ok: Result<(), validate::FieldError>, typed: bool, out: &mut Vec<String>| {
            if let (Err(e), true) = (ok, typed) {
                out.push(e.message);
            }
        };
        let n = name.get();
        check(
            ResourceName::parse_as("pull secret name", &n).map(|_| ()),
            !n.is_empty(),
            &mut live,
        );
        let h = host.get();
        check(validate::check_registry(h.trim()), !h.is_empty(), &mut live);
        if encode.get() {
            let u = user.get();
            check(validate::check_registry_username(&u), !u.is_empty(), &mut live);
        } else {
            let a = auth.get();
            check(
                validate::check_registry_auth(&a).map(|_| ()),
                !a.is_empty(),
                &mut live,
            );
        }
        if live.is_empty() {
            state.failures.get()
        } else {
            live
        }
    });
    let replacing = replace.is_some();
    let confirm_text = replace
        .as_ref()
        .map(|r| format!("Delete the current credentials of \"{r}\" and use these"));
    view! {
        <form method="post" action=CreatePullSecret::PATH on:submit=state.submit()>
            <ReadyMarker />
            <input type="hidden" name="org" value=org />
            {replace.clone().map(|r| view! { <input type="hidden" name="replace" value=r /> })}
            <label for="pull-name">"Name"</label>
            <input
                id="pull-name"
                aria-describedby="pull-problems"
                name="name"
                required
                maxlength="63"
                autocomplete="off"
                spellcheck="false"
                readonly=replacing
                value=replace.clone().unwrap_or_default()
                on:input=move |ev| name.set(event_target_value(&ev))
            />
            <label for="pull-registry">"Registry"</label>
            <input
                id="pull-registry"
                aria-describedby="pull-problems"
                name="registry"
                required
                placeholder="ghcr.io, registry.example.com:5000 or https://index.docker.io/v1/"
                autocomplete="off"
                spellcheck="false"
                value=registry
                on:input=move |ev| host.set(event_target_value(&ev))
            />
            <label class="check">
                <input
                    type="checkbox"
                    name="encode"
                    checked=true
                    on:change=move |ev| encode.set(event_target_checked(&ev))
                />
                "Encode username and password for me"
            </label>
            <div class="field" hidden=move || awake.get() && !encode.get()>
                <label for="pull-username">"Username"</label>
                <input
                    id="pull-username"
                    aria-describedby="pull-problems"
                    name="username"
                    autocomplete="off"
                    spellcheck="false"
                    value=username
                    on:input=move |ev| user.set(event_target_value(&ev))
                />
                <label for="pull-password">"Password or token"</label>
                <MaskedInput
                    id="pull-password".to_owned()
                    name="password".to_owned()
                    autocomplete="new-password"
                    describedby="pull-problems"
                />
            </div>
            <div class="field" hidden=move || awake.get() && encode.get()>
                <label for="pull-auth">"Encoded auth (base64 of username:password)"</label>
                <input
                    id="pull-auth"
                    aria-describedby="pull-problems"
                    name="auth"
                    type="password"
                    autocomplete="off"
                    spellcheck="false"
                    on:input=move |ev| auth.set(event_target_value(&ev))
                />
                <p class="hint">"As found under \"auths\" in ~/.docker/config.json; untick the box above to use it."</p>
            </div>
            {confirm_text
                .map(|t| {
                    view! {
                        <label class="check">
                            <input type="checkbox" name="confirm_replace" required=true />
                            {t}
                        </label>
                    }
                })}
            <Problems lines=lines id="pull-problems" />
            <button type="submit" disabled=move || state.pending.get()>
                {if replacing { "Replace pull secret" } else { "Create pull secret" }}
            </button>
        </form>
    }
}

/// Create or change a deployment. Fields are checked with the shared rules as they are
/// typed; a pasted `pcc-deploy.toml` fills what the fields leave empty.
#[island]
pub fn DeployForm(
    org: String,
    /// The deployment being changed, or `None` for a new one.
    existing: Option<crate::model::DeploymentSpec>,
    /// Names of the organization's secret sets (the first ones, when it has many) and
    /// image pull secrets, for the pickers.
    sets: crate::model::Picker,
    pulls: Vec<String>,
) -> impl IntoView {
    let state = FormState::new(None);
    let spec = existing.clone().unwrap_or(crate::model::DeploymentSpec {
        name: String::new(),
        image: String::new(),
        secret_set: None,
        pull_secret: None,
        region: "default".into(),
        min_agents: 0,
        max_agents: 1,
    });
    let name = RwSignal::new(spec.name.clone());
    let image = RwSignal::new(spec.image.clone());
    // A new deployment starts with blank fields, so a pasted file's values can apply.
    let editing = existing.is_some();
    let initial = |v: String| if editing { v } else { String::new() };
    let (min_0, max_0, region_0) = (
        initial(spec.min_agents.to_string()),
        initial(spec.max_agents.to_string()),
        initial(spec.region.clone()),
    );
    let min = RwSignal::new(min_0.clone());
    let max = RwSignal::new(max_0.clone());
    let toml = RwSignal::new(String::new());
    let lines = Signal::derive(move || {
        // Until something is typed, only the server's answer shows.
        if !toml.get().trim().is_empty() {
            return state.failures.get();
        }
        let mut live = Vec::new();
        let n = name.get();
        if !n.is_empty() {
            if let Err(e) = ResourceName::parse_as("deployment name", &n) {
                live.push(e.message);
            }
        }
        if let (Ok(lo), Ok(hi)) = (min.get().trim().parse::<i64>(), max.get().trim().parse::<i64>()) {
            let probe = crate::model::DeploymentSpec {
                name: "x".into(),
                image: if image.get().is_empty() {
                    "x".into()
                } else {
                    image.get()
                },
                secret_set: None,
                pull_secret: None,
                region: "x".into(),
                min_agents: lo,
                max_agents: hi,
            };
            if let Err(errs) = validate::check_deployment(&probe) {
                live.extend(errs.into_iter().map(|e| e.message));
            }
        }
        if live.is_empty() {
            state.failures.get()
        } else {
            live
        }
    });
    // Up to a few hundred sets a list to choose from; past that a field to type the name
    // into, suggesting the first ones (the server checks that the set exists).
    let set_picker = if sets.more {
        view! {
            <input
                id="dep-set"
                name="secret_set"
                list="dep-set-names"
                autocomplete="off"
                spellcheck="false"
                placeholder="the set's name; empty for none"
                aria-describedby="dep-set-hint deploy-problems"
                value=spec.secret_set.clone().unwrap_or_default()
            />
            <datalist id="dep-set-names">
                {sets.names.into_iter().map(|s| view! { <option value=s></option> }).collect_view()}
            </datalist>
            <p class="hint" id="dep-set-hint">
                "Too many sets to list: type the name (the first ones are suggested)."
            </p>
        }
        .into_any()
    } else {
        name_select("dep-set", "secret_set", spec.secret_set.as_deref(), sets.names).into_any()
    };
    let pull_picker = name_select(
        "dep-pull",
        "image_credentials",
        spec.pull_secret.as_deref(),
        pulls,
    );
    view! {
        <form method="post" action=crate::api::Deploy::PATH on:submit=state.submit()>
            <ReadyMarker />
            <input type="hidden" name="org" value=org />
            {(!editing).then(|| view! { <input type="hidden" name="creating" value="1" /> })}
            <div class="grid2">
                <div>
                    <label for="dep-name">"Name"</label>
                    <input
                        id="dep-name"
                        aria-describedby="deploy-problems"
                        name="name"
                        maxlength="63"
                        autocomplete="off"
                        spellcheck="false"
                        readonly=editing
                        value=spec.name.clone()
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                </div>
                <div>
                    <label for="dep-image">"Image"</label>
                    <input
                        id="dep-image"
                        aria-describedby="deploy-problems"
                        name="image"
                        autocomplete="off"
                        spellcheck="false"
                        placeholder="ghcr.io/acme/agent:1.2"
                        value=spec.image.clone()
                        on:input=move |ev| image.set(event_target_value(&ev))
                    />
                </div>
                <div>
                    <label for="dep-set">"Secret set"</label>
                    {set_picker}
                </div>
                <div>
                    <label for="dep-pull">"Image pull secret"</label>
                    {pull_picker}
                </div>
                <div>
                    <label for="dep-region">"Region"</label>
                    <input
                        id="dep-region"
                        aria-describedby="deploy-problems"
                        name="region"
                        autocomplete="off"
                        placeholder="default"
                        value=region_0
                    />
                </div>
                <div class="grid2">
                    <div>
                        <label for="dep-min">"Min agents"</label>
                        <input
                            id="dep-min"
                            aria-describedby="deploy-problems"
                            name="min_agents"
                            type="number"
                            min="0"
                            placeholder="0"
                            value=min_0
                            on:input=move |ev| min.set(event_target_value(&ev))
                        />
                    </div>
                    <div>
                        <label for="dep-max">"Max agents"</label>
                        <input
                            id="dep-max"
                            aria-describedby="deploy-problems"
                            name="max_agents"
                            type="number"
                            min="0"
                            placeholder="1"
                            value=max_0
                            on:input=move |ev| max.set(event_target_value(&ev))
                        />
                    </div>
                </div>
            </div>
            <details>
                <summary>"Or paste a pcc-deploy.toml"</summary>
                <label for="dep-toml">"pcc-deploy.toml"</label>
                <textarea
                    id="dep-toml"
                    aria-describedby="deploy-problems"
                    name="pcc_deploy_toml"
                    rows="7"
                    spellcheck="false"
                    placeholder="agent_name = \"my-agent\"\nimage = \"…\"\nsecret_set = \"…\"\n[scaling]\nmin_agents = 1\nmax_agents = 2"
                    on:input=move |ev| toml.set(event_target_value(&ev))
                ></textarea>
                <p class="hint">"Fields filled in above take precedence over the file."</p>
            </details>
            <Problems lines=lines id="deploy-problems" />
            <button type="submit" disabled=move || state.pending.get()>
                {if editing { "Save and deploy" } else { "Create and deploy" }}
            </button>
        </form>
    }
}
