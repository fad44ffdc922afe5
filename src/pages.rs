//! Route components. They render on the server only; the islands inside them are the
//! interactive parts.

pub mod deployments;
pub mod login;
pub mod pull_secrets;
pub mod secret_set;
pub mod secret_sets;

pub use deployments::{DeploymentPage, DeploymentsPage};
pub use login::LoginPage;
pub use pull_secrets::PullSecretsPage;
pub use secret_set::SecretSetPage;
pub use secret_sets::SecretSetsPage;

use leptos::prelude::*;

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
pub(crate) fn load_error(
    e: crate::error::AppError,
    back_href: &'static str,
    back_text: &'static str,
) -> AnyView {
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
