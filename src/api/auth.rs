//! Server functions for signing in and out.

use crate::error::AppError;
use crate::model::{Viewer, WriteOutcome};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::{finish, with_param};

/// The viewers already looked up while rendering one page, by organization.
#[cfg(feature = "ssr")]
#[derive(Clone, Default)]
pub struct ViewerCache(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Viewer>>>);

/// Who is signed in, their role in `org` and the workspaces they can switch to.
#[server(endpoint = "current_viewer")]
pub async fn current_viewer(org: String) -> Result<Viewer, AppError> {
    let cache = use_context::<ViewerCache>();
    if let Some(hit) = cache
        .as_ref()
        .and_then(|c| c.0.lock().ok().and_then(|m| m.get(&org).cloned()))
    {
        return Ok(hit);
    }
    let (state, who) = crate::domain::auth::caller(&org).await?;
    let workspaces = crate::domain::orgs::workspaces(&state, &who).await?;
    let viewer = Viewer {
        email: who.email,
        org: who.org.name,
        role: who.role,
        workspaces,
    };
    if let Some(mut map) = cache.as_ref().and_then(|c| c.0.lock().ok()) {
        map.insert(org, viewer.clone());
    }
    Ok(viewer)
}

/// Only local paths are followed after login, so a crafted link cannot send a user
/// elsewhere (see [`crate::validate::is_local_path`]); anything else goes home.
pub fn safe_next(next: &str) -> String {
    if crate::validate::is_local_path(next) {
        next.to_owned()
    } else {
        "/secrets".to_owned()
    }
}

/// Checks the credentials, sets the session cookie and answers where to go next.
#[server(endpoint = "login")]
pub async fn login(
    email: String,
    // Concealed: the generated argument struct's Debug must never print it.
    password: crate::model::Concealed,
    #[server(default)] next: String,
) -> Result<WriteOutcome, AppError> {
    let back = with_param("/login", "next", &safe_next(&next));
    let result = async {
        let state = crate::domain::state::app_state()?;
        let parts = use_context::<axum::http::request::Parts>().ok_or(AppError::Internal)?;
        let client = crate::domain::auth::client_address(&state, &parts);
        let res = expect_context::<leptos_axum::ResponseOptions>();
        let (_, token) = match crate::domain::auth::login(&state, &email, &password.0, &client).await {
            Err(e @ (AppError::RateLimited(wait) | AppError::Busy(wait))) => {
                res.insert_header(axum::http::header::RETRY_AFTER, wait.into());
                return Err(e);
            }
            other => other?,
        };
        // A new session id at every sign-in; a session the browser still held ends.
        crate::domain::auth::end_session(&state, &parts.headers).await?;
        crate::domain::auth::give_session(&state, &token)?;
        Ok(WriteOutcome {
            redirect: safe_next(&next),
            ..Default::default()
        })
    }
    .await;
    finish(result, &back)
}

/// Ends the session and clears the cookie.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<WriteOutcome, AppError> {
    let result = async {
        let state = crate::domain::state::app_state()?;
        let parts = use_context::<axum::http::request::Parts>().ok_or(AppError::Internal)?;
        crate::domain::auth::end_session(&state, &parts.headers).await?;
        let secure = crate::domain::auth::is_secure(&state, &parts.headers);
        let res = expect_context::<leptos_axum::ResponseOptions>();
        res.append_header(
            axum::http::header::SET_COOKIE,
            axum::http::HeaderValue::from_str(&crate::domain::auth::clearing_cookie(secure))
                .map_err(|_| AppError::Internal)?,
        );
        Ok(WriteOutcome {
            redirect: "/login".to_owned(),
            ..Default::default()
        })
    }
    .await;
    finish(result, "/secrets")
}
