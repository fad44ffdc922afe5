//! Small forms: sign in (plain HTML), and the islands: new set, unset a key, delete a set.

use super::{FormState, MaskedInput, Problems, ReadyMarker};
use crate::api::{CreatePullSecret, CreateSet, DeleteSet, Login};
use crate::validate::{self, ResourceName};
use leptos::context::Provider;
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
#[component]
pub fn NewSetForm(org: String) -> impl IntoView {
    view! {
        <NewSetIsland>
            <input type="hidden" name="org" value=org />
        </NewSetIsland>
    }
}

/// [`NewSetForm`]'s interactive part; the organization's field comes as `children`.
#[island]
fn NewSetIsland(children: Children) -> impl IntoView {
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
            {children()}
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
            b.set_text_content(Some(&format!("Confirm {}", text.to_ascii_lowercase())));
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

    /// The verbs of the buttons ("Unset", "Remove") are ASCII: no Unicode case tables in
    /// the WASM for them.
    fn lowercase_first(s: &str) -> String {
        let mut s = s.to_owned();
        if let Some(first) = s.get_mut(..1) {
            first.make_ascii_lowercase();
        }
        s
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
#[component]
pub fn DeleteSetForm(org: String, set: String) -> impl IntoView {
    view! {
        <DeleteSetIsland>
            <input type="hidden" name="org" value=org />
            <input type="hidden" name="set" value=set.clone() />
            <label for="confirm-delete">{format!("Type \"{set}\" to confirm")}</label>
        </DeleteSetIsland>
    }
}

/// [`DeleteSetForm`]'s interactive part: the button is enabled once what is typed is
/// the set's name, read from the form's own `set` field.
#[island]
fn DeleteSetIsland(children: Children) -> impl IntoView {
    let state = FormState::new(None);
    // Until the island is awake the button stays enabled, so the form works without JS.
    let awake = RwSignal::new(false);
    Effect::new(move |_| awake.set(true));
    let matches = RwSignal::new(false);
    view! {
        <form method="post" action=DeleteSet::PATH on:submit=state.submit()>
            <ReadyMarker />
            {children()}
            <input
                id="confirm-delete"
                name="confirm"
                autocomplete="off"
                spellcheck="false"
                aria-describedby="delete-set-problems"
                on:input=move |ev| {
                    let fields = super::form_fields(&ev);
                    matches.set(fields("confirm") == fields("set"));
                }
            />
            <Problems lines=state.failures id="delete-set-problems" />
            <button
                type="submit"
                class="danger"
                disabled=move || state.pending.get() || (awake.get() && !matches.get())
            >
                "Delete set"
            </button>
        </form>
    }
}

/// New image pull secret, or (with `replace`) new credentials for an existing one.
/// Every field is checked with the shared rules as it is typed; the password never is
/// echoed.
#[component]
pub fn PullSecretForm(
    org: String,
    replace: Option<String>,
    registry: String,
    username: String,
) -> impl IntoView {
    let replacing = replace.is_some();
    let page = PullSecretPage {
        replace: replace.clone(),
        username,
    };
    view! {
        <Provider value=page>
            <PullSecretIsland>
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
                    value=replace.unwrap_or_default()
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
                />
            </PullSecretIsland>
        </Provider>
    }
}

/// What [`PullSecretIsland`] renders from its page (see [`super::from_page`]).
#[derive(Clone)]
struct PullSecretPage {
    /// The pull secret whose credentials are replaced.
    replace: Option<String>,
    username: String,
}

/// The live problems of the pull secret form, from its fields by name: each field is
/// checked once it holds something.
pub fn pull_secret_problems(field: impl Fn(&str) -> String) -> Vec<String> {
    let mut live = Vec::new();
    let mut check = |ok: Result<(), validate::FieldError>, value: &str| {
        if let (Err(e), false) = (ok, value.is_empty()) {
            live.push(e.message);
        }
    };
    let name = field("name");
    check(
        ResourceName::parse_as("pull secret name", &name).map(|_| ()),
        &name,
    );
    let host = field("registry");
    check(validate::check_registry(host.trim()), &host);
    if field("encode") == "on" {
        let user = field("username");
        check(validate::check_registry_username(&user), &user);
    } else {
        let auth = field("auth");
        check(validate::check_registry_auth(&auth).map(|_| ()), &auth);
    }
    live
}

/// [`PullSecretForm`]'s interactive part; the name and registry fields come as
/// `children`.
#[island]
fn PullSecretIsland(children: Children) -> impl IntoView {
    let page = super::from_page(|| PullSecretPage {
        replace: super::on_page("#pull-name[readonly]").then(String::new),
        username: String::new(),
    });
    let state = FormState::new(None);
    // Until the island runs, every field shows, so the form works without JavaScript.
    let awake = RwSignal::new(false);
    Effect::new(move |_| awake.set(true));
    let encode = RwSignal::new(true);
    let live = RwSignal::new(Vec::<String>::new());
    let lines = state.problems(live);
    let check = move |ev: leptos::ev::Event| {
        let field = super::form_fields(&ev);
        encode.set(field("encode") == "on");
        live.set(pull_secret_problems(field));
    };
    let replacing = page.replace.is_some();
    let confirm_text = page
        .replace
        .map(|r| format!("Delete the current credentials of \"{r}\" and use these"));
    view! {
        <form method="post" action=CreatePullSecret::PATH on:submit=state.submit() on:input=check on:change=check>
            <ReadyMarker />
            {children()}
            <label class="check">
                <input type="checkbox" name="encode" checked=true />
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
                    value=page.username
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
#[component]
pub fn DeployForm(
    org: String,
    /// The deployment being changed, or `None` for a new one.
    existing: Option<crate::model::DeploymentSpec>,
    /// Names of the organization's secret sets (the first ones, when it has many) and
    /// image pull secrets, for the pickers.
    sets: crate::model::Picker,
    pulls: Vec<String>,
) -> impl IntoView {
    // A new deployment starts with blank fields, so a pasted file's values can apply.
    let editing = existing.is_some();
    let spec = existing.unwrap_or(crate::model::DeploymentSpec {
        name: String::new(),
        image: String::new(),
        secret_set: None,
        pull_secret: None,
        region: "default".into(),
        min_agents: 0,
        max_agents: 1,
    });
    let initial = |v: String| if editing { v } else { String::new() };
    let (min_0, max_0, region_0) = (
        initial(spec.min_agents.to_string()),
        initial(spec.max_agents.to_string()),
        initial(spec.region.clone()),
    );
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
        <Provider value=DeployPage { editing }>
            <DeployIsland>
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
                            value=spec.name
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
                            value=spec.image
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
                    ></textarea>
                    <p class="hint">"Fields filled in above take precedence over the file."</p>
                </details>
            </DeployIsland>
        </Provider>
    }
}

/// What [`DeployIsland`] renders from its page (see [`super::from_page`]).
#[derive(Clone)]
struct DeployPage {
    /// Changing an existing deployment (its name is then read-only).
    editing: bool,
}

/// The live problems of the deployment form, from its fields by name. Nothing is
/// checked while a `pcc-deploy.toml` is pasted (the server merges it with the fields);
/// the name once it holds something; the agent counts and the image once both counts
/// are numbers.
pub fn deploy_problems(field: impl Fn(&str) -> String) -> Vec<String> {
    let mut live = Vec::new();
    if !field("pcc_deploy_toml").trim().is_empty() {
        return live;
    }
    let name = field("name");
    if !name.is_empty() {
        if let Err(e) = ResourceName::parse_as("deployment name", &name) {
            live.push(e.message);
        }
    }
    let count = |f: &str| field(f).trim().parse::<i64>();
    if let (Ok(lo), Ok(hi)) = (count("min_agents"), count("max_agents")) {
        let image = field("image");
        let probe = crate::model::DeploymentSpec {
            name: "x".into(),
            image: if image.is_empty() { "x".into() } else { image },
            secret_set: None,
            pull_secret: None,
            region: "x".into(),
            min_agents: lo,
            max_agents: hi,
        };
        if let Err(errs) = probe.check() {
            live.extend(errs.into_iter().map(|e| e.message));
        }
    }
    live
}

/// [`DeployForm`]'s interactive part: every field comes as `children`; one listener on
/// the form checks them all as they change.
#[island]
fn DeployIsland(children: Children) -> impl IntoView {
    let page = super::from_page(|| DeployPage {
        editing: super::on_page("#dep-name[readonly]"),
    });
    let state = FormState::new(None);
    let live = RwSignal::new(Vec::<String>::new());
    let lines = state.problems(live);
    view! {
        <form
            method="post"
            action=crate::api::Deploy::PATH
            on:submit=state.submit()
            on:input=move |ev| live.set(deploy_problems(super::form_fields(&ev)))
        >
            <ReadyMarker />
            {children()}
            <Problems lines=lines id="deploy-problems" />
            <button type="submit" disabled=move || state.pending.get()>
                {if page.editing { "Save and deploy" } else { "Create and deploy" }}
            </button>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form<'a>(fields: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> String + 'a {
        move |name| {
            fields
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
                .unwrap_or_default()
        }
    }

    #[test]
    fn pull_secret_fields_are_checked_once_they_hold_something() {
        assert!(pull_secret_problems(form(&[("encode", "on")])).is_empty());
        let good = [
            ("name", "ghcr"),
            ("registry", "ghcr.io"),
            ("encode", "on"),
            ("username", "bot"),
        ];
        assert!(pull_secret_problems(form(&good)).is_empty());
        let bad = pull_secret_problems(form(&[
            ("name", "Bad Name"),
            ("registry", "ghcr.io"),
            ("encode", "on"),
        ]));
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(bad[0].contains("pull secret name"), "{bad:?}");
        let bad_host = pull_secret_problems(form(&[("registry", "not a host/"), ("encode", "on")]));
        assert_eq!(bad_host.len(), 1, "{bad_host:?}");
        // Unticked, the encoded auth is checked instead of the username.
        let auth = pull_secret_problems(form(&[("username", "x y"), ("auth", "not base64!")]));
        assert_eq!(auth.len(), 1, "{auth:?}");
        assert_eq!(
            auth,
            pull_secret_problems(form(&[("auth", "not base64!")])),
            "the username is not looked at"
        );
    }

    #[test]
    fn deploy_fields_are_checked_unless_a_file_is_pasted() {
        assert!(deploy_problems(form(&[])).is_empty());
        let name = deploy_problems(form(&[("name", "Agent!")]));
        assert_eq!(name.len(), 1, "{name:?}");
        assert!(name[0].contains("deployment name"), "{name:?}");
        // The counts are checked together, once both are numbers.
        assert!(deploy_problems(form(&[("min_agents", "3")])).is_empty());
        let counts = deploy_problems(form(&[("min_agents", "3"), ("max_agents", "1")]));
        assert_eq!(counts.len(), 1, "{counts:?}");
        let pasted = [
            ("name", "Agent!"),
            ("min_agents", "3"),
            ("max_agents", "1"),
            ("pcc_deploy_toml", "image = \"x\""),
        ];
        assert!(deploy_problems(form(&pasted)).is_empty());
    }
}
