//! Route components. They render on the server only; the islands inside them are the
//! interactive parts.

pub mod account;
pub mod audit;
pub mod compare;
pub mod deployments;
pub mod history;
pub mod invite;
pub mod login;
pub mod members;
pub mod new_org;
pub mod pull_secrets;
pub mod secret_set;
pub mod secret_sets;
pub mod setup;
pub mod tokens;

pub use account::AccountPage;
pub use audit::AuditPage;
pub use compare::{FindValuePage, SetsComparePage};
pub use deployments::{DeploymentPage, DeploymentsPage, NewDeploymentPage};
pub use history::{DeletedSetsPage, SetHistoryPage, SetVersionPage};
pub use invite::InvitePage;
pub use login::LoginPage;
pub use members::MembersPage;
pub use new_org::NewOrgPage;
pub use pull_secrets::PullSecretsPage;
pub use secret_set::SecretSetPage;
pub use secret_sets::SecretSetsPage;
pub use setup::SetupPage;
pub use tokens::TokensPage;

pub(crate) use crate::api::set_status;
pub(crate) use crate::components::route_org;
use leptos::prelude::*;

/// Appends `text` to HTML written by hand, escaped for element text and for a
/// double-quoted attribute alike.
pub(crate) fn push_escaped(out: &mut String, text: &str) {
    // A byte scan (no decoding of characters): the five are ASCII, so every match is a
    // character boundary and the slices below are whole characters.
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&text[start..i]);
        out.push_str(entity);
        start = i + 1;
    }
    out.push_str(&text[start..]);
}

/// Appends a link, `href` and `text` escaped, to HTML written by hand.
pub(crate) fn push_link(out: &mut String, href: &str, text: &str) {
    out.push_str("<a href=\"");
    push_escaped(out, href);
    out.push_str("\">");
    push_escaped(out, text);
    out.push_str("</a>");
}

/// Where a paged list page with a search stands (`?q=&after=` of the URL), and the
/// links that follow from it; shared by the sets and deployments lists.
#[derive(Clone)]
pub(crate) struct ListPlace {
    /// The list page's URL, without a query.
    pub url: String,
    /// The search as typed.
    pub search: String,
    /// The page's cursor: the last name of the page before.
    pub after: Option<String>,
}

impl ListPlace {
    pub fn read(url: String) -> Self {
        let query = leptos_router::hooks::use_query_map().get_untracked();
        Self {
            url,
            search: query.get("q").unwrap_or_default(),
            after: query.get("after").filter(|a| !a.is_empty()),
        }
    }

    /// The search to ask for, or `None`.
    pub fn q(&self) -> Option<String> {
        Some(self.search.trim().to_owned()).filter(|q| !q.is_empty())
    }

    /// The first page of the list with the current search.
    fn searched(&self) -> String {
        match self.q() {
            Some(q) => crate::api::with_param(&self.url, "q", &q),
            None => self.url.clone(),
        }
    }

    /// The link back to the first page, when this is not it.
    pub fn first_page(&self) -> Option<(String, &'static str)> {
        self.after.is_some().then(|| (self.searched(), "First page"))
    }

    /// The link to the page after cursor `next`.
    pub fn next_page(&self, next: Option<String>) -> Option<(String, &'static str)> {
        next.map(|n| (crate::api::with_param(&self.searched(), "after", &n), "Next page"))
    }

    /// What an empty page says: `what` names the list's items ("set", "deployment").
    pub fn empty_text(&self, what: &str, plural: &str, none_yet: &str) -> String {
        match (self.q(), &self.after) {
            (Some(q), _) => format!("No {what} name contains \"{q}\"."),
            (None, Some(_)) => format!("No more {plural}."),
            (None, None) => none_yet.to_owned(),
        }
    }
}

/// The signed-in user's role in `org` (the weakest role if it cannot be read, so a
/// page never offers more than the server allows).
pub(crate) async fn role_in(org: &str) -> crate::model::Role {
    crate::api::current_viewer(org.to_owned())
        .await
        .map(|v| v.role)
        .unwrap_or_default()
}

/// Days a deleted set stays restorable on this server (`deleted_set_days`, from the
/// configuration in force). Pages render on the server; the browser build never asks.
pub(crate) fn deleted_set_days() -> i64 {
    #[cfg(feature = "ssr")]
    {
        crate::domain::state::app_state().map_or(crate::domain::config::DEFAULT_DELETED_SET_DAYS, |s| {
            s.config.retention.deleted_days
        })
    }
    #[cfg(not(feature = "ssr"))]
    0
}

/// What deleting a set does, on a server keeping deleted sets for `days`: the text
/// before the link to Recently deleted and the text after it (where it can be restored
/// and for how long), or, when nothing is kept, one text saying it cannot be undone.
pub(crate) fn delete_set_text(days: i64) -> (String, Option<String>) {
    if days == 0 {
        return (
            "Removes the set and every value in it at once: this server keeps no deleted sets \
             (deleted_set_days is 0), so this cannot be undone."
                .to_owned(),
            None,
        );
    }
    let period = if days == 1 {
        "1 day".to_owned()
    } else {
        format!("{days} days")
    };
    (
        "Moves the set, its values and its history to ".to_owned(),
        Some(format!(
            ", where it can be restored for {period}. After that it is purged, and that cannot be undone."
        )),
    )
}

/// A page's data could not be loaded: the message, the matching status, and (for a
/// missing object) a way back to its list.
pub(crate) fn load_error(e: crate::error::AppError, back_href: String, back_text: &'static str) -> AnyView {
    set_status(e.status_code());
    let back = matches!(e, crate::error::AppError::NotFound(_)).then(|| {
        view! {
            <p>
                <a href=back_href>{back_text}</a>
            </p>
        }
    });
    view! {
        <p class="problems">{e.to_string()}</p>
        {back}
    }
    .into_any()
}

/// Shown for any path that is not a page.
#[component]
pub fn NotFound() -> impl IntoView {
    set_status(404);
    view! {
        <main class="narrow">
            <h1>"Page not found"</h1>
            <p>
                <a href="/secrets">"Back to secret sets"</a>
            </p>
        </main>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_delete_card_says_how_long_a_set_stays_restorable() {
        let (lead, tail) = super::delete_set_text(30);
        let tail = tail.unwrap();
        assert!(
            lead.ends_with("to ") && tail.contains("restored for 30 days"),
            "{lead}{tail}"
        );
        assert!(super::delete_set_text(1).1.unwrap().contains("for 1 day."));
        // "Cannot be undone" is said of the purge, and of the deletion only when no
        // deleted set is kept.
        assert!(tail.contains("purged, and that cannot be undone"));
        let (now, none) = super::delete_set_text(0);
        assert!(now.contains("at once") && now.contains("cannot be undone") && none.is_none());
    }

    #[test]
    fn escaping_keeps_every_other_character_whole() {
        let mut out = String::from("x");
        super::push_escaped(&mut out, "é<ü>&\"'∑");
        assert_eq!(out, "xé&lt;ü&gt;&amp;&quot;&#39;∑");
        let mut plain = String::new();
        super::push_escaped(&mut plain, "no entities, ünïcödé");
        assert_eq!(plain, "no entities, ünïcödé");
    }
}
