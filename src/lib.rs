//! Cloakroom: a self-hosted secrets dashboard. The same crate builds the server (feature
//! `ssr`) and the WASM islands (feature `hydrate`).

pub mod api;
pub mod app;
pub mod components;
pub mod error;
pub mod model;
pub mod pages;
pub mod validate;

#[cfg(feature = "ssr")]
pub mod server;

/// Entry point of the WASM bundle: wakes up the islands on a server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
