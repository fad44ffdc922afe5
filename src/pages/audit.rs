//! The audit log of an organization, filtered by object, user, action and time, newest
//! first, a page at a time. The filter form is a plain GET form.

use super::route_org;
use crate::api::{audit_url, list_audit, with_param};
use crate::components::{Flash, Layout};
use crate::model::{format_time, AuditEntry, AuditFilter};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Parses `YYYY-MM-DD` as the Unix time of that day's start (UTC).
fn day_start(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400)
}

/// The rows of an audit table.
pub fn audit_rows(entries: Vec<AuditEntry>) -> impl IntoView {
    entries
        .into_iter()
        .map(|e| {
            view! {
                <tr>
                    <td>{format_time(e.at)}</td>
                    <td>{e.actor}</td>
                    <td>{e.source}</td>
                    <td>
                        <code>{e.action}</code>
                    </td>
                    <td>{e.object}</td>
                    <td>{e.keys.join(", ")}</td>
                    <td>{e.detail}</td>
                </tr>
            }
        })
        .collect_view()
}

pub fn audit_head() -> impl IntoView {
    view! {
        <thead>
            <tr>
                <th scope="col">"When"</th>
                <th scope="col">"Who"</th>
                <th scope="col">"From"</th>
                <th scope="col">"Action"</th>
                <th scope="col">"Object"</th>
                <th scope="col">"Keys"</th>
                <th scope="col">"Detail"</th>
            </tr>
        </thead>
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let org = route_org();
    let q = use_query_map().get_untracked();
    let text = |name: &str| q.get(name).unwrap_or_default();
    let (object, user, action, from, to) = (
        text("object"),
        text("user"),
        text("action"),
        text("from"),
        text("to"),
    );
    let filter = AuditFilter {
        object: Some(object.clone()),
        actor: Some(user.clone()),
        action: Some(action.clone()),
        before: q.get("before").and_then(|b| b.parse().ok()),
        since: day_start(&from),
        until: day_start(&to).map(|t| t + 86_400),
        limit: 50,
    };
    // The "older" link keeps the filters and moves the cursor.
    let mut older = audit_url(&org);
    for (name, value) in [
        ("object", &object),
        ("user", &user),
        ("action", &action),
        ("from", &from),
        ("to", &to),
    ] {
        if !value.is_empty() {
            older = with_param(&older, name, value);
        }
    }
    view! {
        <Title text="Audit log · Cloakroom" />
        <Layout>
            <h1>"Audit log"</h1>
            <p class="hint">"Every change and sign-in in this organization: who, when, from where and which keys. Never a value."</p>
            <Flash />
            <form method="get" action=audit_url(&org) class="filters" aria-label="Filter the audit log">
                <label>"Object" <input name="object" value=object placeholder="set:production" /></label>
                <label>"User" <input name="user" value=user placeholder="a@example.com" /></label>
                <label>"Action" <input name="action" value=action placeholder="secrets. or set.delete" /></label>
                <label>"From" <input name="from" type="date" value=from /></label>
                <label>"To" <input name="to" type="date" value=to /></label>
                <button type="submit">"Filter"</button>
            </form>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    match list_audit(org.clone(), filter).await {
                        Ok(entries) if entries.is_empty() => {
                            view! { <p class="empty">"No entries match."</p> }.into_any()
                        }
                        Ok(entries) => {
                            let next = (entries.len() == 50)
                                .then(|| entries.last().map(|e| with_param(&older, "before", &e.id.to_string())))
                                .flatten();
                            view! {
                                <div class="table-box" role="region" aria-label="Audit log" tabindex="0">
                                    <table class="list" aria-label="Audit log">
                                        {audit_head()}
                                        <tbody>{audit_rows(entries)}</tbody>
                                    </table>
                                </div>
                                {next.map(|href| view! { <p><a href=href>"Older entries"</a></p> })}
                            }
                                .into_any()
                        }
                        Err(e) => super::load_error(e, "/secrets".into(), "Back to your workspace"),
                    }
                })}
            </Suspense>
        </Layout>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_to_the_start_of_their_day() {
        assert_eq!(day_start("1970-01-01"), Some(0));
        assert_eq!(day_start("2026-11-26"), Some(1_795_651_200));
        assert_eq!(crate::model::format_time(1_795_651_200), "2026-11-26 00:00 UTC");
        assert_eq!(day_start("2026-13-01"), None);
        assert_eq!(day_start("yesterday"), None);
    }
}
