//! The web floor: the axum router (pages, server functions, static files, security
//! headers) and the REST API. It calls only [`crate::domain`].

pub mod rest;
pub mod router;
