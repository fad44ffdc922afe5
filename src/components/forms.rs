//! Small form islands: sign in, new set, unset a key, delete a set.

use super::{FormState, Problems, ReadyMarker};
use crate::api::{CreateSet, DeleteSet, Login, UnsetKey};
use crate::validate::ResourceName;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// Sign-in form. `error` is the message a no-JS attempt came back with.
#[island]
pub fn LoginForm(next: String, error: Option<String>) -> impl IntoView {
    let state = FormState::new(error);
    view! {
        <form method="post" action=Login::PATH on:submit=state.submit()>
            <ReadyMarker />
            <input type="hidden" name="next" value=next />
            <label for="email">"Email"</label>
            <input id="email" type="email" name="email" autocomplete="username" required />
            <label for="password">"Password"</label>
            <input
                id="password"
                type="password"
                name="password"
                autocomplete="current-password"
                required
            />
            <Problems lines=state.failures />
            <button type="submit" disabled=move || state.pending.get()>
                "Sign in"
            </button>
        </form>
    }
}

/// "New secret set": a name checked against the shared rule as it is typed.
#[island]
pub fn NewSetForm() -> impl IntoView {
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
            <label for="new-set-name">"Set name"</label>
            <input
                id="new-set-name"
                name="name"
                required
                maxlength="63"
                placeholder="e.g. production"
                autocomplete="off"
                spellcheck="false"
                on:input=move |ev| name.set(event_target_value(&ev))
            />
            <p class="hint">
                "Lowercase letters, digits and \"-\"; starts and ends with a letter or digit."
            </p>
            <Problems lines=lines />
            <button type="submit" disabled=move || state.pending.get()>
                "Create set"
            </button>
        </form>
    }
}

/// Per-key "Unset". With JavaScript the first click asks for confirmation.
#[island]
pub fn UnsetButton(set: String, key: String) -> impl IntoView {
    let state = FormState::new(None);
    let armed = RwSignal::new(false);
    let label = format!("Unset {key}");
    let confirm_label = format!("Confirm unset {key}");
    view! {
        <form method="post" action=UnsetKey::PATH on:submit=state.submit()>
            <ReadyMarker />
            <input type="hidden" name="set" value=set />
            <input type="hidden" name="key" value=key />
            <button
                type="submit"
                class=move || if armed.get() { "danger armed" } else { "danger" }
                aria-label=move || if armed.get() { confirm_label.clone() } else { label.clone() }
                disabled=move || state.pending.get()
                on:click=move |ev| {
                    if !armed.get_untracked() {
                        ev.prevent_default();
                        armed.set(true);
                    }
                }
            >
                {move || if armed.get() { "Confirm unset" } else { "Unset" }}
            </button>
            <Problems lines=state.failures />
        </form>
    }
}

/// "Delete set": the user types the set's name to confirm (checked by the server too).
#[island]
pub fn DeleteSetForm(set: String) -> impl IntoView {
    let state = FormState::new(None);
    // Until the island is awake the button stays enabled, so the form works without JS.
    let awake = RwSignal::new(false);
    Effect::new(move |_| awake.set(true));
    let typed = RwSignal::new(String::new());
    let expected = set.clone();
    view! {
        <form method="post" action=DeleteSet::PATH on:submit=state.submit()>
            <ReadyMarker />
            <input type="hidden" name="set" value=set.clone() />
            <label for="confirm-delete">{format!("Type \"{set}\" to confirm")}</label>
            <input
                id="confirm-delete"
                name="confirm"
                autocomplete="off"
                spellcheck="false"
                on:input=move |ev| typed.set(event_target_value(&ev))
            />
            <Problems lines=state.failures />
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
