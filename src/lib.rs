//! Cloakroom: a self-hosted secrets dashboard. The same crate builds the server (feature
//! `ssr`) and the WASM islands (feature `hydrate`).

// Deeply nested view types (a page holding islands holding forms) need more than the default.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod components;
pub mod error;
pub mod model;
pub mod pages;
pub mod validate;

#[cfg(feature = "ssr")]
pub mod deploy_spec;
#[cfg(feature = "ssr")]
pub mod rest_types;

#[cfg(feature = "ssr")]
pub mod cli;
#[cfg(feature = "ssr")]
pub mod client;
#[cfg(feature = "ssr")]
pub mod domain;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod web;

/// Entry point of the WASM bundle: wakes up the islands on a server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
