//! History pages: a set's versions with a comparison of any two, one version with what
//! restoring it (or one key of it) would do, and the recently deleted sets. Plain links
//! and forms: everything works without JavaScript. Values never appear, only keys and
//! fingerprints.

use super::{load_error, role_in, route_org};
use crate::api::{
    compare_sets, get_set, get_set_version, history_url, list_deleted_sets, list_set_versions, org_url,
    preview_restore, set_url, version_url, with_param, PurgeSet, RestoreSet, UndeleteSet,
};
use crate::components::{ComparisonView, ConfirmButton, Flash, Layout, PageLinks};
use crate::model::{format_time, Role, SetVersion};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// "added A, B; changed C; removed D" (or "no key changed").
fn change_text(v: &SetVersion) -> String {
    let mut parts = Vec::new();
    for (what, keys) in [
        ("added", &v.added),
        ("changed", &v.changed),
        ("removed", &v.removed),
    ] {
        if !keys.is_empty() {
            parts.push(format!("{what} {}", keys.join(", ")));
        }
    }
    if parts.is_empty() {
        "no key changed".to_owned()
    } else {
        parts.join("; ")
    }
}

/// `a` or `b` of the compare form: a version number, or empty/"now" for the set now.
fn side_param(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

fn side_label(set: &str, side: Option<i64>) -> String {
    match side {
        Some(v) => format!("{set} version {v}"),
        None => format!("{set} now"),
    }
}

/// The version before the newest of `numbers` (newest first; the newest is what the
/// set holds now), else the only one.
fn previous_version(numbers: &[i64]) -> Option<i64> {
    numbers.get(1).or(numbers.first()).copied()
}

/// One `<select>` of the compare form.
fn side_select(
    id: &'static str,
    label: &'static str,
    versions: &[i64],
    chosen: Option<i64>,
) -> impl IntoView {
    view! {
        <label for=id>{label}</label>
        <select id=id name=id>
            <option value="now" selected=chosen.is_none()>
                "The set now"
            </option>
            {versions
                .iter()
                .map(|v| {
                    let v = *v;
                    view! {
                        <option value=v.to_string() selected=chosen == Some(v)>
                            {format!("Version {v}")}
                        </option>
                    }
                })
                .collect_view()}
        </select>
    }
}

#[component]
pub fn SetHistoryPage() -> impl IntoView {
    let name = use_params_map().with_untracked(|p| p.get("name").unwrap_or_default());
    let org = route_org();
    let q = use_query_map().get_untracked();
    let comparing = q.get("a").is_some() || q.get("b").is_some();
    let a = side_param(&q.get("a").unwrap_or_default());
    let b = side_param(&q.get("b").unwrap_or_default());
    let before = q.get("before").and_then(|v| v.parse::<i64>().ok());
    let title = format!("History of {name} · Cloakroom");
    let here = history_url(&org, &name);
    view! {
        <Title text=title />
        <Layout>
            <p class="crumbs">
                <a href=org_url(&org, "/secrets")>"Secret sets"</a>
                " / "
                <a href=set_url(&org, &name)>{name.clone()}</a>
                " / "
            </p>
            <h1>{format!("History of {name}")}</h1>
            <Flash />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    let page = match list_set_versions(org.clone(), name.clone(), before).await {
                        Ok(v) => v,
                        Err(e) => return load_error(e, org_url(&org, "/secrets"), "Back to secret sets"),
                    };
                    let (versions, numbers) = (page.versions, page.numbers);
                    // Until a comparison is asked for, the form offers the one worth
                    // making: the version before the newest (the set now) with now.
                    let form_a = if comparing { a } else { previous_version(&numbers) };
                    let older = page.next.map(|n| with_param(&here, "before", &n.to_string()));
                    let newest = before.is_some().then(|| here.clone());
                    let pages = view! {
                        <PageLinks
                            name="Pages of versions"
                            back=newest.map(|href| (href, "Newest versions"))
                            on=older.map(|href| (href, "Older versions"))
                        />
                    };
                    let comparison = if comparing {
                        // Compared on the server, by the values' full MACs.
                        let side = |v: Option<i64>| v.map_or_else(|| name.clone(), |v| format!("{name}@{v}"));
                        Some(match compare_sets(org.clone(), side(a), side(b)).await {
                            Ok(comparison) => {
                                view! {
                                    <ComparisonView
                                        a=side_label(&name, a)
                                        b=side_label(&name, b)
                                        comparison=comparison
                                    />
                                }
                                    .into_any()
                            }
                            Err(e) => {
                                super::set_status(e.status_code());
                                view! { <p class="problems">{e.to_string()}</p> }.into_any()
                            }
                        })
                    } else {
                        None
                    };
                    view! {
                        <p class="meta">
                            "Every change makes a new version. Versions show keys and fingerprints, never values. "
                            <a href=set_url(&org, &name)>"Back to the set"</a>
                        </p>
                        <section class="card" aria-labelledby="compare-heading">
                            <h2 id="compare-heading">"Compare two versions"</h2>
                            <form method="get" action=here.clone() class="inline-form">
                                {side_select("a", "Compare", &numbers, form_a)}
                                {side_select("b", "with", &numbers, b)}
                                <button type="submit">"Compare"</button>
                            </form>
                            {comparison}
                        </section>
                        {if versions.is_empty() && before.is_some() {
                            view! {
                                <p class="empty">"No older versions."</p>
                                <p><a href=here.clone()>"Newest versions"</a></p>
                            }
                                .into_any()
                        } else if versions.is_empty() {
                            view! {
                                <p class="empty">"No versions yet: the set has not been changed since it was created."</p>
                            }
                                .into_any()
                        } else {
                            view! {
                                <div class="table-box" role="region" aria-label="Versions" tabindex="0">
                                    <table class="list" aria-label="Versions">
                                        <thead>
                                            <tr>
                                                <th scope="col">"Version"</th>
                                                <th scope="col">"When"</th>
                                                <th scope="col">"Who"</th>
                                                <th scope="col">"From"</th>
                                                <th scope="col">"What changed"</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {versions
                                                .iter()
                                                .map(|v| {
                                                    let what = change_text(v);
                                                    let detail = (!v.detail.is_empty())
                                                        .then(|| format!(" ({})", v.detail));
                                                    view! {
                                                        <tr>
                                                            <td>
                                                                <a href=version_url(&org, &name, v.version)>
                                                                    {format!("Version {}", v.version)}
                                                                </a>
                                                            </td>
                                                            <td>{format_time(v.at)}</td>
                                                            <td>{v.actor.clone()}</td>
                                                            <td>{v.source.clone()}</td>
                                                            <td>
                                                                <span class="badge">{v.action.clone()}</span>
                                                                " "
                                                                {what}
                                                                {detail}
                                                            </td>
                                                        </tr>
                                                    }
                                                })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                                {pages}
                            }
                                .into_any()
                        }}
                    }
                        .into_any()
                })}
            </Suspense>
        </Layout>
    }
}

#[component]
pub fn SetVersionPage() -> impl IntoView {
    let (name, version_text) = use_params_map().with_untracked(|p| {
        (
            p.get("name").unwrap_or_default(),
            p.get("version").unwrap_or_default(),
        )
    });
    let org = route_org();
    let key = use_query_map().get_untracked().get("key").unwrap_or_default();
    let title = format!("{name} version {version_text} · Cloakroom");
    let history = history_url(&org, &name);
    view! {
        <Title text=title />
        <Layout>
            <p class="crumbs">
                <a href=org_url(&org, "/secrets")>"Secret sets"</a>
                " / "
                <a href=set_url(&org, &name)>{name.clone()}</a>
                " / "
                <a href=history.clone()>"History"</a>
                " / "
            </p>
            <h1>{format!("{name}, version {version_text}")}</h1>
            <Flash />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    let Some(version) = version_text.parse::<i64>().ok().filter(|v| *v >= 1) else {
                        return load_error(
                            crate::error::AppError::NotFound(format!("\"{version_text}\" is not a version")),
                            history.clone(),
                            "Back to the history",
                        );
                    };
                    let keys = match get_set_version(org.clone(), name.clone(), Some(version)).await {
                        Ok(k) => k,
                        Err(e) => return load_error(e, history.clone(), "Back to the history"),
                    };
                    let role = role_in(&org).await;
                    let set = match get_set(org.clone(), name.clone()).await {
                        Ok(s) => s,
                        Err(e) => return load_error(e, history.clone(), "Back to the history"),
                    };
                    let can_write = role >= Role::Admin || (role >= Role::Member && !set.protected);
                    let only = (!key.is_empty()).then(|| key.clone());
                    // What a restore would do is a comparison too: only for whoever may restore.
                    let preview = if can_write {
                        Some(preview_restore(org.clone(), name.clone(), version, key.clone()).await)
                    } else {
                        None
                    };
                    // Compared on the server, by the values' full MACs; refused (and
                    // left unsaid) where the caller may not compare this set.
                    let versus_now = compare_sets(org.clone(), format!("{name}@{version}"), name.clone())
                        .await
                        .ok();
                    let restore_box = match preview {
                        None => {
                            let why = if role < Role::Member {
                                "restoring needs the member role"
                            } else {
                                "restoring a protected set needs the admin role"
                            };
                            view! { <p class="meta">{format!("You can see this version, not restore it: {why}.")}</p> }
                                .into_any()
                        }
                        Some(Err(e)) => {
                            super::set_status(e.status_code());
                            view! { <p class="problems">{e.to_string()}</p> }.into_any()
                        }
                        Some(Ok(p)) => {
                            let what = match &only {
                                Some(k) => format!("Restore {k} from version {version}"),
                                None => format!("Restore version {version}"),
                            };
                            let list = |label: &'static str, class: &'static str, keys: &Vec<String>| {
                                (!keys.is_empty())
                                    .then(|| {
                                        view! {
                                            <li class=class>{format!("{label} {}", keys.join(", "))}</li>
                                        }
                                    })
                            };
                            let body = if p.changes_nothing() {
                                view! {
                                    <p>
                                        {match &only {
                                            Some(k) => format!("{k} is the same now as in version {version}: restoring it changes nothing."),
                                            None => format!("The set holds exactly version {version}'s values now: restoring it changes nothing."),
                                        }}
                                    </p>
                                }
                                    .into_any()
                            } else {
                                let mut fields = vec![
                                    ("org".to_owned(), org.clone()),
                                    ("set".to_owned(), name.clone()),
                                    ("version".to_owned(), version.to_string()),
                                    ("revision".to_owned(), p.revision.to_string()),
                                ];
                                if let Some(k) = &only {
                                    fields.push(("key".to_owned(), k.clone()));
                                }
                                let redeploy = (!p.deployments.is_empty())
                                    .then(|| {
                                        view! {
                                            <p class="warning" role="note">
                                                {format!(
                                                    "{} keep{} the current values until redeployed: {}.",
                                                    if p.deployments.len() == 1 { "One deployment uses this set and" } else { "The deployments using this set" },
                                                    if p.deployments.len() == 1 { "s" } else { "" },
                                                    p.deployments.join(", "),
                                                )}
                                            </p>
                                        }
                                    });
                                view! {
                                    <p>"Restoring makes a new version of the set that:"</p>
                                    <ul class="diff-list">
                                        {list("adds back", "added", &p.added)}
                                        {list("changes back", "changed", &p.changed)}
                                        {list("removes", "removed", &p.removed)}
                                    </ul>
                                    {redeploy}
                                    {if can_write {
                                        view! {
                                            <ConfirmButton
                                                action=RestoreSet::PATH.to_owned()
                                                fields=fields
                                                text="Restore".to_owned()
                                                label=format!("{what} of {name}")
                                            />
                                        }
                                            .into_any()
                                    } else {
                                        view! {
                                            <p class="note">
                                                {if set.protected {
                                                    "Only admins may restore a protected set."
                                                } else {
                                                    "Restoring needs the member role."
                                                }}
                                            </p>
                                        }
                                            .into_any()
                                    }}
                                }
                                    .into_any()
                            };
                            let whole = only
                                .as_ref()
                                .map(|_| {
                                    view! {
                                        <p>
                                            <a href=version_url(&org, &name, version)>
                                                {format!("Restore all of version {version} instead")}
                                            </a>
                                        </p>
                                    }
                                });
                            view! {
                                <section class="card" aria-labelledby="restore-heading">
                                    <h2 id="restore-heading">{what.clone()}</h2>
                                    {body}
                                    {whole}
                                </section>
                            }
                                .into_any()
                        }
                    };
                    let compare = with_param(&with_param(&history, "a", &version.to_string()), "b", "now");
                    view! {
                        <p class="meta">
                            {format!("{} {} in this version. ", keys.len(), if keys.len() == 1 { "key" } else { "keys" })}
                            <a href=compare>"Compare with the set now"</a>
                        </p>
                        {restore_box}
                        <div class="table-box" role="region" aria-label="Keys of this version" tabindex="0">
                            <table class="list" aria-label="Keys of this version">
                                <thead>
                                    <tr>
                                        <th scope="col">"Key"</th>
                                        <th scope="col">"Fingerprint"</th>
                                        <th scope="col">"The set now"</th>
                                        <th scope="col">
                                            <span class="visually-hidden">"Actions"</span>
                                        </th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {keys
                                        .iter()
                                        .map(|k| {
                                            let state = match &versus_now {
                                                None => "not shown",
                                                Some(c) if c.same.contains(&k.key) => "same value",
                                                Some(c) if c.different.contains(&k.key) => "different value",
                                                Some(_) => "not in the set",
                                            };
                                            let link = with_param(&version_url(&org, &name, version), "key", &k.key);
                                            view! {
                                                <tr>
                                                    <td>
                                                        <code>{k.key.clone()}</code>
                                                    </td>
                                                    <td>
                                                        <code class="fingerprint">{k.fingerprint.clone().unwrap_or_else(|| super::secret_set::HIDDEN.into())}</code>
                                                    </td>
                                                    <td>{state}</td>
                                                    <td>
                                                        {(state != "same value")
                                                            .then(|| {
                                                                view! {
                                                                    <a href=link>{format!("Restore {}…", k.key)}</a>
                                                                }
                                                            })}
                                                    </td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }
                        .into_any()
                })}
            </Suspense>
        </Layout>
    }
}

#[component]
pub fn DeletedSetsPage() -> impl IntoView {
    let org = route_org();
    view! {
        <Title text="Recently deleted sets · Cloakroom" />
        <Layout>
            <p class="crumbs">
                <a href=org_url(&org, "/secrets")>"Secret sets"</a>
                " / "
            </p>
            <h1>"Recently deleted sets"</h1>
            <Flash />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    let deleted = match list_deleted_sets(org.clone()).await {
                        Ok(d) => d,
                        Err(e) => return load_error(e, org_url(&org, "/secrets"), "Back to secret sets"),
                    };
                    let role = role_in(&org).await;
                    if deleted.is_empty() {
                        return view! {
                            <p class="empty">"No deleted sets. A deleted set stays here, restorable, until it is purged."</p>
                        }
                            .into_any();
                    }
                    view! {
                        <p class="meta">
                            "A deleted set keeps its keys, values and history until the date shown, then it is purged."
                        </p>
                        <div class="table-box" role="region" aria-label="Deleted sets" tabindex="0">
                            <table class="list" aria-label="Deleted sets">
                                <thead>
                                    <tr>
                                        <th scope="col">"Name"</th>
                                        <th scope="col">"Keys"</th>
                                        <th scope="col">"Deleted"</th>
                                        <th scope="col">"By"</th>
                                        <th scope="col">"Purged on"</th>
                                        <th scope="col">
                                            <span class="visually-hidden">"Actions"</span>
                                        </th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {deleted
                                        .into_iter()
                                        .map(|d| {
                                            let may_restore = role >= Role::Admin || (role >= Role::Member && !d.protected);
                                            let input_id = format!("restore-name-{}", d.id);
                                            let restore = may_restore
                                                .then(|| {
                                                    view! {
                                                        <form method="post" action=UndeleteSet::PATH class="inline-form">
                                                            <input type="hidden" name="org" value=org.clone() />
                                                            <input type="hidden" name="id" value=d.id.to_string() />
                                                            <label for=input_id.clone()>
                                                                {if d.name_taken { "New name (the old one is taken)" } else { "Name (optional)" }}
                                                            </label>
                                                            <input
                                                                id=input_id.clone()
                                                                name="name"
                                                                type="text"
                                                                placeholder=d.name.clone()
                                                                required=d.name_taken
                                                                autocomplete="off"
                                                            />
                                                            <button type="submit" aria-label=format!("Restore {}", d.name)>
                                                                "Restore"
                                                            </button>
                                                        </form>
                                                    }
                                                });
                                            let purge = (role >= Role::Owner)
                                                .then(|| {
                                                    view! {
                                                        <ConfirmButton
                                                            action=PurgeSet::PATH.to_owned()
                                                            fields=vec![
                                                                ("org".to_owned(), org.clone()),
                                                                ("id".to_owned(), d.id.to_string()),
                                                            ]
                                                            text="Purge".to_owned()
                                                            label=format!("Purge {}", d.name)
                                                        />
                                                    }
                                                });
                                            view! {
                                                <tr>
                                                    <td>
                                                        {d.name.clone()}
                                                        {d.protected.then(|| view! { " " <span class="badge protected">"Protected"</span> })}
                                                    </td>
                                                    <td>{d.keys}</td>
                                                    <td>{format_time(d.deleted_at)}</td>
                                                    <td>{d.deleted_by.clone()}</td>
                                                    <td>{format_time(d.purge_at)}</td>
                                                    <td class="row-actions">{restore} {purge}</td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }
                        .into_any()
                })}
            </Suspense>
        </Layout>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_compare_form_starts_with_the_previous_version_and_now() {
        assert_eq!(super::previous_version(&[7, 5, 4]), Some(5));
        assert_eq!(super::previous_version(&[1]), Some(1));
        assert_eq!(super::previous_version(&[]), None);
    }
}
