//! The HTML shell and the routes.

use crate::pages::{
    DeploymentPage, DeploymentsPage, LoginPage, NotFound, PullSecretsPage, SecretSetPage, SecretSetsPage,
};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The document around every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::server::router::set_page_csp();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <link rel="stylesheet" id="leptos" href="/pkg/cloakroom.css" />
                <HydrationScripts options islands=true />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

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
                <Route path=path!("/secrets") view=SecretSetsPage ssr=SsrMode::Async />
                <Route path=path!("/secrets/:name") view=SecretSetPage ssr=SsrMode::Async />
                <Route path=path!("/image-pull-secrets") view=PullSecretsPage ssr=SsrMode::Async />
                <Route path=path!("/deployments") view=DeploymentsPage ssr=SsrMode::Async />
                <Route path=path!("/deployments/:name") view=DeploymentPage ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}
