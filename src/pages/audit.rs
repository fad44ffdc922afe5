//! The audit log of an organization, filtered by object, user, action and time, newest
//! first, a page at a time. The filter form is a plain GET form.

use super::route_org;
use crate::api::{audit_url, list_audit, with_param};
use crate::components::{Flash, Layout};
use crate::model::{AuditEntry, AuditFilter};
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

/// The rows of an audit table, written into one buffer (see the set page's key rows);
/// every text is escaped.
pub fn audit_rows(entries: &[AuditEntry]) -> String {
    use super::push_escaped;
    let mut out = String::with_capacity(entries.len() * 240);
    for e in entries {
        out.push_str("<tr><td>");
        crate::model::write_time(&mut out, e.at);
        out.push_str("</td><td>");
        push_escaped(&mut out, &e.actor);
        out.push_str("</td><td>");
        push_escaped(&mut out, &e.source);
        out.push_str("</td><td><code>");
        push_escaped(&mut out, &e.action);
        out.push_str("</code></td><td>");
        push_escaped(&mut out, &e.object);
        out.push_str("</td><td>");
        for (i, key) in e.keys.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            push_escaped(&mut out, key);
        }
        out.push_str("</td><td>");
        push_escaped(&mut out, &e.detail);
        out.push_str("</td></tr>");
    }
    out
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
                                        <tbody inner_html=audit_rows(&entries)></tbody>
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

    #[test]
    fn audit_rows_are_escaped() {
        let entry = AuditEntry {
            id: 1,
            at: 60,
            actor: "a@example.com".into(),
            source: "ui".into(),
            action: "secrets.set".into(),
            object: "set:<x>".into(),
            keys: vec!["A".into(), "B&C".into()],
            detail: "revision \"2\"".into(),
        };
        assert_eq!(
            audit_rows(&[entry]),
            "<tr><td>1970-01-01 00:01 UTC</td><td>a@example.com</td><td>ui</td>\
             <td><code>secrets.set</code></td><td>set:&lt;x&gt;</td><td>A, B&amp;C</td>\
             <td>revision &quot;2&quot;</td></tr>"
        );
    }
}
