use super::{load_error, role_in, route_org};
use crate::api::{deployment_url, deployments_using, get_set, org_url};
use crate::api::{ProtectSet, UnsetKey};
use crate::components::{DeleteSetForm, Flash, Layout, PastePreview, RowEditor};
use crate::model::Role;
use crate::model::{format_time, write_time, KeyInfo};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn SecretSetPage() -> impl IntoView {
    let name = use_params_map().with_untracked(|p| p.get("name").unwrap_or_default());
    let org = route_org();
    let sets_url = org_url(&org, "/secrets");
    let title = format!("{name} · Secret sets · Cloakroom");
    let deleted_days = super::deleted_set_days();
    view! {
        <Title text=title />
        <Layout>
            <p class="crumbs">
                <a href=sets_url.clone()>"Secret sets"</a>
                " / "
            </p>
            <h1>{name.clone()}</h1>
            <Flash />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    let role = role_in(&org).await;
                    let object = format!("set:{name}");
                    let history = crate::api::list_audit(
                            org.clone(),
                            crate::model::AuditFilter {
                                object: Some(object.clone()),
                                limit: 10,
                                ..Default::default()
                            },
                        )
                        .await;
                    let history_link = crate::api::with_param(&crate::api::audit_url(&org), "object", &object);
                    match get_set(org.clone(), name.clone()).await {
                        Ok(set) => {
                            let users = deployments_using(org.clone(), set.name.clone()).await.unwrap_or_default();
                            let usage = (!users.is_empty()).then(|| {
                                let stale = users.iter().filter(|d| d.needs_redeploy).count();
                                let names: Vec<String> = users.iter().map(|d| d.spec.name.clone()).collect();
                                let used = format!(
                                    "Used by {} deployment{}, {} need{} redeploy.",
                                    users.len(),
                                    if users.len() == 1 { "" } else { "s" },
                                    stale,
                                    if stale == 1 { "s" } else { "" },
                                );
                                let warn = format!(
                                    "Saving a change here affects {}: they keep their current values until redeployed.",
                                    names.join(", ")
                                );
                                view! {
                                    <p class="meta usage">
                                        {used}
                                        " "
                                        {users
                                            .iter()
                                            .map(|d| {
                                                view! {
                                                    <a href=deployment_url(&org, &d.spec.name)>{d.spec.name.clone()}</a>
                                                    " "
                                                }
                                            })
                                            .collect_view()}
                                    </p>
                                    <p class="warning" role="note">{warn}</p>
                                }
                            });
                            let can_write = role >= Role::Admin || (role >= Role::Member && !set.protected);
                            let protection = set.protected.then(|| {
                                view! {
                                    <p class="note" role="note">
                                        <span class="badge protected">"Protected"</span>
                                        " Only admins may change this set, deploy it, or change, redeploy or rotate the runtime token of a deployment that uses it."
                                    </p>
                                }
                            });
                            view! {
                                {usage}
                                {protection}
                                <p class="meta">
                                    {format!(
                                        "{} {} · last change {}",
                                        set.keys.len(),
                                        if set.keys.len() == 1 { "key" } else { "keys" },
                                        format_time(set.updated_at),
                                    )}
                                </p>
                                {if set.keys.is_empty() {
                                    view! {
                                        <p class="empty">
                                            "This set has no keys yet. Add rows or paste KEY=value lines below."
                                        </p>
                                    }
                                        .into_any()
                                } else {
                                    let table = view! {
                                        <div class="table-box" role="region" aria-label="Keys" tabindex="0">
                                            <table class="list keys" id="keys" aria-label="Keys">
                                                <thead>
                                                    <tr>
                                                        <th scope="col">"Key"</th>
                                                        <th
                                                            scope="col"
                                                            title="HMAC fingerprint of the value in this set and key: it changes when the value changes"
                                                        >
                                                            "Fingerprint"
                                                        </th>
                                                        <th scope="col">"Last change"</th>
                                                        <th scope="col">
                                                            <span class="visually-hidden">"Actions"</span>
                                                        </th>
                                                    </tr>
                                                </thead>
                                                <tbody inner_html=key_rows(&set.keys, can_write)></tbody>
                                            </table>
                                        </div>
                                    };
                                    // One form for every row's "Unset": each button adds its key.
                                    if can_write {
                                        view! {
                                            <form method="post" action=UnsetKey::PATH>
                                                <input type="hidden" name="org" value=org.clone() />
                                                <input type="hidden" name="set" value=set.name.clone() />
                                                {table}
                                            </form>
                                        }
                                            .into_any()
                                    } else {
                                        table.into_any()
                                    }
                                }}
                                {can_write
                                    .then(|| {
                                        view! {
                                            <section class="card">
                                                <h2>"Add or change keys"</h2>
                                                <p class="hint">
                                                    "Values are write-only: they are encrypted on save and never shown again."
                                                </p>
                                                <RowEditor
                                                    org=org.clone()
                                                    set=set.name.clone()
                                                    revision=set.revision
                                                />
                                            </section>
                                            <section class="card">
                                                <h2>"Paste"</h2>
                                                <PastePreview
                                                    org=org.clone()
                                                    set=set.name.clone()
                                                    revision=set.revision
                                                />
                                            </section>
                                        }
                                    })}
                                {(!can_write)
                                    .then(|| {
                                        let why = if set.protected && role >= Role::Member {
                                            "this set is protected, so only admins change it".to_owned()
                                        } else {
                                            format!("you are a {role} here")
                                        };
                                        view! {
                                            <p class="hint">
                                                {format!("You can see keys and fingerprints, not change them: {why}.")}
                                            </p>
                                        }
                                    })}
                                <section class="card">
                                    <h2>"History"</h2>
                                    <p>
                                        "Every change is kept as a version (keys and fingerprints, never values) that can be compared and restored. "
                                        <a href=crate::api::history_url(&org, &set.name)>
                                            {format!("Versions of {}", set.name)}
                                        </a>
                                    </p>
                                    <p>
                                        <a href=crate::api::with_param(&crate::api::compare_url(&org), "a", &set.name)>
                                            {format!("Compare {} with another set or a deployment", set.name)}
                                        </a>
                                    </p>
                                    <h3>"Recent activity"</h3>
                                    {match history {
                                        Ok(entries) if !entries.is_empty() => {
                                            view! {
                                                <div class="table-box" role="region" aria-label="Recent activity" tabindex="0">
                                                    <table class="list" aria-label="Recent activity">
                                                        {super::audit::audit_head()}
                                                        <tbody inner_html=super::audit::audit_rows(&entries)></tbody>
                                                    </table>
                                                </div>
                                                <p>
                                                    <a href=history_link.clone()>"Full history in the audit log"</a>
                                                </p>
                                            }
                                                .into_any()
                                        }
                                        _ => view! { <p class="empty">"No recorded changes yet."</p> }.into_any(),
                                    }}
                                </section>
                                {(role >= Role::Admin)
                                    .then(|| {
                                        let (next, button, hint) = if set.protected {
                                            (
                                                "false",
                                                "Stop protecting this set",
                                                "Members may then change and deploy it, and so read its values through a runtime token.",
                                            )
                                        } else {
                                            (
                                                "true",
                                                "Protect this set",
                                                "Whoever holds a deployment's runtime token can read every value of its set. Protected sets are changed and deployed only by admins; the runtime tokens members hold stop reading it, and their deployments are flagged for rotation.",
                                            )
                                        };
                                        view! {
                                            <section class="card">
                                                <h2>"Protection"</h2>
                                                <p class="hint">{hint}</p>
                                                <form method="post" action=ProtectSet::PATH>
                                                    <input type="hidden" name="org" value=org.clone() />
                                                    <input type="hidden" name="set" value=set.name.clone() />
                                                    <input type="hidden" name="protected" value=next />
                                                    <button type="submit">{button}</button>
                                                </form>
                                            </section>
                                        }
                                    })}
                                {(role >= Role::Admin)
                                    .then(|| {
                                        view! {
                                            <section class="card danger-zone">
                                                <h2>"Delete this set"</h2>
                                                {
                                                    let (lead, tail) = super::delete_set_text(deleted_days);
                                                    let link = tail.map(|tail| {
                                                        view! {
                                                            <a href=crate::api::deleted_url(&org)>"Recently deleted"</a>
                                                            {tail}
                                                        }
                                                    });
                                                    view! { <p class="delete-effect">{lead} {link}</p> }
                                                }
                                                <DeleteSetForm org=org.clone() set=set.name.clone() />
                                            </section>
                                        }
                                    })}
                            }
                                .into_any()
                        }
                        Err(e) => load_error(e, sets_url.clone(), "Back to secret sets"),
                    }
                })}
            </Suspense>
        </Layout>
    }
}

/// The key table's rows, written into one buffer: a row per key is most of the page,
/// and a view per row cost more to render than the rest of the page (`perf` on the
/// 100-key page). Every text is escaped. With `can_write`, each row's "Unset" button
/// submits the form around the table with its key, so the hidden fields are there once;
/// the page's `Confirmations` island asks first, as for a `ConfirmButton`.
/// What stands for a fingerprint the caller may not see (a protected set's, below admin).
pub const HIDDEN: &str = "hidden";

fn key_rows(keys: &[KeyInfo], can_write: bool) -> String {
    let mut out = String::with_capacity(keys.len() * if can_write { 170 } else { 80 });
    // Keys written together share their time: it is formatted once for each run of them.
    let mut time = (i64::MIN, String::new());
    for k in keys {
        if time.0 != k.updated_at {
            time.1.clear();
            write_time(&mut time.1, k.updated_at);
            time.0 = k.updated_at;
        }
        out.push_str("<tr><td>");
        super::push_escaped(&mut out, &k.key);
        out.push_str("</td><td>");
        super::push_escaped(&mut out, k.fingerprint.as_deref().unwrap_or(HIDDEN));
        out.push_str("</td><td>");
        out.push_str(&time.1);
        out.push_str("</td><td>");
        if can_write {
            // A submit button of the form around the table (styled as `button.danger`
            // by the table's own rule, so the class is not repeated on every row).
            out.push_str(r#"<button name="key" value=""#);
            super::push_escaped(&mut out, &k.key);
            out.push_str(r#"" aria-label="Unset "#);
            super::push_escaped(&mut out, &k.key);
            out.push_str(r#"" data-confirm>Unset</button>"#);
        }
        out.push_str("</td></tr>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, fingerprint: &str) -> KeyInfo {
        KeyInfo {
            key: name.into(),
            fingerprint: Some(fingerprint.into()),
            updated_at: 86_400 + 3_600 + 60,
        }
    }

    #[test]
    fn key_rows_are_escaped_and_carry_a_button_only_for_writers() {
        let keys = [key("API_KEY", "0a1b"), key("<b>\"&'", "ff")];
        assert_eq!(
            key_rows(&keys, false),
            "<tr><td>API_KEY</td><td>0a1b</td><td>1970-01-02 01:01 UTC</td><td></td></tr>\
             <tr><td>&lt;b&gt;&quot;&amp;&#39;</td><td>ff</td><td>1970-01-02 01:01 UTC</td><td></td></tr>"
        );
        let rows = key_rows(&keys[..1], true);
        assert_eq!(
            rows,
            "<tr><td>API_KEY</td><td>0a1b</td><td>1970-01-02 01:01 UTC</td><td>\
             <button name=\"key\" value=\"API_KEY\" \
             aria-label=\"Unset API_KEY\" data-confirm>Unset</button></td></tr>"
        );
        assert!(key_rows(&keys[1..], true).contains(r#"value="&lt;b&gt;&quot;&amp;&#39;""#));
    }
}
