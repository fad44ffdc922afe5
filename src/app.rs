//! The HTML shell and the routes.

use crate::pages::{
    AccountPage, AuditPage, DeletedSetsPage, DeploymentPage, DeploymentsPage, FindValuePage, InvitePage,
    LoginPage, MembersPage, NewDeploymentPage, NewOrgPage, NotFound, PullSecretsPage, SecretSetPage,
    SecretSetsPage, SetHistoryPage, SetVersionPage, SetsComparePage, SetupPage, TokensPage,
};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The document around every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    use_response_nonce();
    #[cfg(feature = "ssr")]
    let islands = leptos::prelude::use_context::<axum::http::request::Parts>()
        .is_none_or(|p| has_islands(p.uri.path()));
    #[cfg(not(feature = "ssr"))]
    let islands = true;
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <link rel="stylesheet" id="leptos" href="/pkg/cloakroom.css" />
                {islands.then(|| view! { <HydrationScripts options islands=true /> })}
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Whether the page at `path` has islands. The pages before signing in are plain
/// forms: they load no script and no WebAssembly (the sign-in page's first load is
/// 3.9 KB gzip instead of 199 KB). A test checks that these pages render no island.
pub fn has_islands(path: &str) -> bool {
    !(path == "/login" || path == "/setup" || path.starts_with("/invite/"))
}

/// Pages of an organization live under `/orgs/NAME/`, so links can be shared; the
/// short paths (`/secrets`, …) redirect to the signed-in user's home organization.
/// Pages render completely on the server before anything is sent (`SsrMode::Async`),
/// so they work without JavaScript and can still set status codes and redirects.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Cloakroom" />
        <Router>
            <Routes fallback=|| view! { <NotFound /> }>
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                <Route path=path!("/invite/:token") view=InvitePage ssr=SsrMode::Async />
                <Route path=path!("/setup") view=SetupPage ssr=SsrMode::Async />
                <Route path=path!("/orgs/:org/secrets") view=SecretSetsPage ssr=SsrMode::Async />
                <Route path=path!("/orgs/:org/secrets/:name") view=SecretSetPage ssr=SsrMode::Async />
                <Route path=path!("/orgs/:org/secret-versions/:name") view=SetHistoryPage ssr=SsrMode::Async />
                <Route path=path!("/orgs/:org/secret-versions/:name/:version") view=SetVersionPage ssr=SsrMode::Async />
                <Route path=path!("/orgs/:org/secrets-compare") view=SetsComparePage ssr=SsrMode::Async />
                <Route path=path!("/orgs/:org/secrets-find") view=FindValuePage ssr=SsrMode::Async />
                <Route path=path!("/orgs/:org/deleted-secrets") view=DeletedSetsPage ssr=SsrMode::Async />
                <Route path=path!("/orgs/:org/image-pull-secrets") view=PullSecretsPage ssr=SsrMode::Async />
                <Route path=path!("/orgs/:org/deployments") view=DeploymentsPage ssr=SsrMode::Async />
                <Route path=path!("/orgs/:org/deployments/:name") view=DeploymentPage ssr=SsrMode::Async />
                <Route path=path!("/orgs/:org/new-deployment") view=NewDeploymentPage ssr=SsrMode::Async />
                <Route path=path!("/orgs/:org/members") view=MembersPage ssr=SsrMode::Async />
                <Route path=path!("/orgs/:org/tokens") view=TokensPage ssr=SsrMode::Async />
                <Route path=path!("/orgs/:org/audit") view=AuditPage ssr=SsrMode::Async />
                <Route path=path!("/orgs/:org/account") view=AccountPage ssr=SsrMode::Async />
                <Route path=path!("/orgs/:org/new-organization") view=NewOrgPage ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}

#[cfg(feature = "ssr")]
/// This response's CSP nonce, made by the router's security headers and handed to the page
/// render through the request's extensions.
#[derive(Clone)]
pub struct CspNonce(pub String);

#[cfg(feature = "ssr")]
/// Called while a page renders: makes the inline scripts carry the nonce that
/// the router's security headers puts in this response's Content-Security-Policy.
pub fn use_response_nonce() {
    let nonce = leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<CspNonce>().cloned());
    if let Some(CspNonce(nonce)) = nonce {
        leptos::prelude::provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}
