//! The key/value editor and the paste preview: both validate with the shared rules as
//! the user types, and both write atomically through a server function.

use super::{focus_after_render, FormState, MaskedInput, Problems, ReadyMarker, SetFields};
use crate::api::{SavePaste, SaveRows};
use crate::validate::{parse_pairs, preview_write, SecretKey};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// The keys the set has now, read in the browser from the first column of the page's
/// key table (`#keys`): the editors tell a new key from a replaced one without the key
/// list travelling in the page a second and third time as island props. On the server
/// (which renders the editors empty, before anything is typed) the list is not needed.
fn existing_keys() -> Vec<String> {
    #[cfg(feature = "hydrate")]
    {
        let cells = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.query_selector_all("#keys tbody tr > td:first-child").ok());
        if let Some(cells) = cells {
            return (0..cells.length())
                .filter_map(|i| cells.item(i)?.text_content())
                .collect();
        }
    }
    Vec::new()
}

/// Rows of key + value (masked, with a show toggle). Existing keys are updated, new
/// ones added; the whole form is one atomic write.
#[component]
pub fn RowEditor(org: String, set: String, revision: i64) -> impl IntoView {
    view! {
        <RowEditorIsland>
            <SetFields org=org set=set revision=revision />
        </RowEditorIsland>
    }
}

/// [`RowEditor`]'s interactive part; the fields naming the set come as `children`.
#[island]
fn RowEditorIsland(children: Children) -> impl IntoView {
    let state = FormState::new(None);
    let rows = RwSignal::new(vec![0usize]);
    let next_id = StoredValue::new(1usize);
    let existing = StoredValue::new(existing_keys());
    // Adding and removing rows needs JavaScript; without it the form saves one row.
    let awake = RwSignal::new(false);
    Effect::new(move |_| awake.set(true));
    // Removing a row moves the focus to the key of the row before it (or to "Add row").
    let remove = move |id: usize| {
        let before = rows.with_untracked(|r| {
            let at = r.iter().position(|x| *x == id).unwrap_or(0);
            at.checked_sub(1).map(|i| r[i]).or_else(|| r.get(at + 1).copied())
        });
        rows.update(|r| r.retain(|x| *x != id));
        focus_after_render(before.map_or_else(|| "rows-add".to_owned(), |b| format!("row-{b}-key")));
    };
    view! {
        <form method="post" action=SaveRows::PATH on:submit=state.submit()>
            <ReadyMarker />
            {children()}
            <For each=move || rows.get() key=|id| *id let:id>
                <KvRow
                    id=id
                    existing=existing.get_value()
                    awake=awake
                    on_remove=Callback::new(move |_| remove(id))
                />
            </For>
            <Problems lines=state.failures id="rows-problems" />
            <div class="actions">
                <button
                    type="button"
                    id="rows-add"
                    class="secondary"
                    hidden=move || !awake.get()
                    on:click=move |_| {
                        let id = next_id.get_value();
                        next_id.set_value(id + 1);
                        rows.update(|r| r.push(id));
                        focus_after_render(format!("row-{id}-key"));
                    }
                >
                    "Add row"
                </button>
                <button type="submit" disabled=move || state.pending.get()>
                    "Save"
                </button>
            </div>
        </form>
    }
}

#[component]
fn KvRow(id: usize, existing: Vec<String>, awake: RwSignal<bool>, on_remove: Callback<()>) -> impl IntoView {
    let key = RwSignal::new(String::new());
    let key_id = format!("row-{id}-key");
    let value_id = format!("row-{id}-value");
    let note_id = format!("row-{id}-note");
    let note = Memo::new(move |_| {
        let k = key.get();
        if k.is_empty() {
            return (String::new(), false);
        }
        match SecretKey::parse(&k) {
            Err(e) => (e.message, true),
            Ok(_) if existing.contains(&k) => ("replaces the current value".to_string(), false),
            Ok(_) => ("new key".to_string(), false),
        }
    });
    view! {
        <div class="kv-row">
            <div class="field">
                <label for=key_id.clone()>"Key"</label>
                <input
                    id=key_id
                    name=format!("rows[{id}][key]")
                    autocomplete="off"
                    spellcheck="false"
                    maxlength="64"
                    aria-describedby=format!("{note_id} rows-problems")
                    aria-invalid=move || note.get().1.to_string()
                    on:input=move |ev| key.set(event_target_value(&ev))
                />
                <p id=note_id.clone() class=move || if note.get().1 { "field-error" } else { "hint" } aria-live="polite">
                    {move || note.get().0}
                </p>
            </div>
            <div class="field">
                <label for=value_id.clone()>"Value"</label>
                <MaskedInput
                    id=value_id
                    name=format!("rows[{id}][value]")
                    autocomplete="off"
                    describedby="rows-problems"
                />
            </div>
            <button
                type="button"
                class="link remove"
                hidden=move || !awake.get()
                aria-label="Remove row"
                on:click=move |_| on_remove.run(())
            >
                "×"
            </button>
        </div>
    }
}

/// "Paste KEY=value lines": shows what will be added and updated, or exactly what is
/// wrong (line and word), before anything is sent.
#[component]
pub fn PastePreview(org: String, set: String, revision: i64) -> impl IntoView {
    view! {
        <PastePreviewIsland>
            <SetFields org=org set=set revision=revision />
        </PastePreviewIsland>
    }
}

/// [`PastePreview`]'s interactive part; the fields naming the set come as `children`.
#[island]
fn PastePreviewIsland(children: Children) -> impl IntoView {
    let state = FormState::new(None);
    let existing = existing_keys();
    let text = RwSignal::new(String::new());
    let preview = Memo::new(move |_| {
        let t = text.get();
        if t.trim().is_empty() {
            return Ok(None);
        }
        parse_pairs(&t)
            .map(|pairs| Some(preview_write(pairs.iter().map(|p| &p.key), &existing)))
            .map_err(|errs| errs.into_iter().map(|e| e.message).collect::<Vec<_>>())
    });
    // What the text says now comes first; the server's answer shows once the text parses.
    let lines = Signal::derive(move || match preview.get() {
        Err(errs) => errs,
        Ok(_) => state.failures.get(),
    });
    let summary = move || match preview.get() {
        Ok(Some(p)) => {
            let mut parts = Vec::new();
            if !p.added.is_empty() {
                parts.push(format!("add {}", p.added.join(", ")));
            }
            if !p.updated.is_empty() {
                parts.push(format!("update {}", p.updated.join(", ")));
            }
            format!("Will {}.", parts.join(" and "))
        }
        _ => String::new(),
    };
    let warnings = move || match preview.get() {
        Ok(Some(p)) => {
            crate::validate::loader_key_warnings(p.added.iter().chain(&p.updated).map(String::as_str))
                .join(" ")
        }
        _ => String::new(),
    };
    view! {
        <form method="post" action=SavePaste::PATH on:submit=state.submit()>
            <ReadyMarker />
            {children()}
            <label for="paste">"Paste KEY=value lines"</label>
            <textarea
                id="paste"
                name="text"
                rows="6"
                spellcheck="false"
                autocomplete="off"
                placeholder="DATABASE_URL=\"postgres://…\"\nAPI_KEY=abc123"
                aria-describedby="paste-preview paste-warnings paste-problems"
                aria-invalid=move || preview.get().is_err().to_string()
                on:input=move |ev| text.set(event_target_value(&ev))
            ></textarea>
            <p class="preview" id="paste-preview" aria-live="polite">{summary}</p>
            // The live region is always there; the box inside only when it has words.
            <div id="paste-warnings" aria-live="polite">
                {move || {
                    let w = warnings();
                    (!w.is_empty()).then(|| view! { <p class="warning" role="note">{w}</p> })
                }}
            </div>
            <Problems lines=lines id="paste-problems" />
            <button type="submit" disabled=move || state.pending.get()>
                "Save pasted pairs"
            </button>
        </form>
    }
}
