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
pub use deployments::{DeploymentPage, DeploymentsPage};
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

use leptos::prelude::*;

/// The organization in the page's URL (`/orgs/:org/...`).
pub(crate) fn route_org() -> String {
    leptos_router::hooks::use_params_map().with_untracked(|p| p.get("org").unwrap_or_default())
}

/// The signed-in user's role in `org` (the weakest role if it cannot be read, so a
/// page never offers more than the server allows).
pub(crate) async fn role_in(org: &str) -> crate::model::Role {
    crate::api::current_viewer(org.to_owned())
        .await
        .map(|v| v.role)
        .unwrap_or_default()
}

/// Sets the HTTP status of the page being rendered.
pub(crate) fn set_status(code: u16) {
    #[cfg(feature = "ssr")]
    if let (Some(res), Ok(status)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        axum::http::StatusCode::from_u16(code),
    ) {
        res.set_status(status);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = code;
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
