//! Passwords, sessions and API tokens.

use super::crypto::{new_token, token_hash};
use super::state::{app_state, AppState};
use super::store::Principal;
use crate::error::AppError;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::{header, HeaderMap};

pub const SESSION_COOKIE: &str = "cloakroom_session";
/// Shortest password the admin command accepts.
pub const MIN_PASSWORD_LEN: usize = 10;

/// argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane: OWASP's recommendation).
pub fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| AppError::Internal)
}

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// Checks an email and password and opens a session. Returns who logged in and the
/// session token for the cookie. Unknown emails cost the same time as wrong passwords.
pub async fn login(state: &AppState, email: &str, password: &str) -> Result<(Principal, String), AppError> {
    let user = state.store.user_by_email(email.trim()).await?;
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| state.dummy_hash.to_string());
    let password = zeroize::Zeroizing::new(password.to_owned());
    let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &password)).await?;
    let Some(user) = user.filter(|_| ok) else {
        tracing::info!("failed login");
        return Err(AppError::BadCredentials);
    };
    let org = state
        .store
        .home_org(user.id)
        .await?
        .ok_or(AppError::BadCredentials)?;
    let token = new_token("cks_");
    let now = super::now();
    state
        .store
        .create_session(
            &token_hash(&token),
            user.id,
            org.id,
            now,
            now + state.config.session_ttl_secs,
        )
        .await?;
    tracing::info!(user = user.id, org = %org.name, "login");
    Ok((
        Principal {
            user_id: user.id,
            email: user.email,
            org,
        },
        token,
    ))
}

pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A non-empty cookie of the request being handled (server function or page render).
pub fn request_cookie(name: &str) -> Option<String> {
    let parts = leptos::prelude::use_context::<axum::http::request::Parts>()?;
    cookie_value(&parts.headers, name)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Adds a `Set-Cookie` header to the response being built (server function or page).
pub fn set_cookie(cookie: &str) {
    if let (Some(res), Ok(value)) = (
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        axum::http::HeaderValue::from_str(cookie),
    ) {
        res.append_header(header::SET_COOKIE, value);
    }
}

/// `Set-Cookie` value for a short-lived message cookie (HttpOnly, SameSite=Strict)
/// scoped to `path`; `max_age` 0 removes it.
pub fn message_cookie(name: &str, value: &str, path: &str, max_age: i64) -> String {
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict")
}

/// Whether this request reached us over https (directly or through a proxy that says so).
pub fn is_secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.https()
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// `Set-Cookie` value for a new session: HttpOnly, SameSite=Strict, Secure over https.
pub fn session_cookie(token: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` value that removes the session cookie.
pub fn clearing_cookie(secure: bool) -> String {
    session_cookie("", 0, secure)
}

/// The signed-in user of a request, if its session cookie is valid.
pub async fn session_principal(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, AppError> {
    match cookie_value(headers, SESSION_COOKIE) {
        Some(token) if !token.is_empty() => {
            state
                .store
                .principal_for_session(&token_hash(token), super::now())
                .await
        }
        _ => Ok(None),
    }
}

/// Ends the session named by the request's cookie, if any.
pub async fn end_session(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    if let Some(token) = cookie_value(headers, SESSION_COOKIE) {
        state.store.delete_session(&token_hash(token)).await?;
    }
    Ok(())
}

/// Who an `Authorization: Bearer` token acts for. Never looks at cookies.
pub async fn bearer_principal(state: &AppState, headers: &HeaderMap) -> Result<Principal, AppError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AppError::Unauthorized)?;
    state
        .store
        .principal_for_token(&token_hash(token), super::now())
        .await?
        .ok_or(AppError::Unauthorized)
}

/// The one accessor server functions use: the app state and the signed-in caller,
/// taken from the request's session (never from the function's arguments).
pub async fn caller() -> Result<(AppState, Principal), AppError> {
    let state = app_state()?;
    let parts = leptos::prelude::use_context::<axum::http::request::Parts>().ok_or(AppError::Unauthorized)?;
    // Pages: the session gate already resolved the session for this very request.
    if let Some(p) = parts.extensions.get::<Principal>() {
        return Ok((state, p.clone()));
    }
    let principal = session_principal(&state, &parts.headers)
        .await?
        .ok_or(AppError::Unauthorized)?;
    Ok((state, principal))
}

/// Creates an API token for a member of an organization; returns the token (shown once).
pub async fn create_api_token(
    state: &AppState,
    principal: &Principal,
    name: &str,
) -> Result<String, AppError> {
    let token = new_token("ckr_");
    state
        .store
        .create_api_token(
            principal.org.id,
            principal.user_id,
            name,
            &token_hash(&token),
            super::now(),
        )
        .await?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "correct horsE"));
        assert!(!verify_password("not a hash", "x"));
    }

    #[test]
    fn the_session_cookie_is_httponly_strict_and_secure_over_https() {
        let c = session_cookie("abc", 60, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.ends_with("; Secure"));
        assert!(!session_cookie("abc", 60, false).contains("Secure"));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; cloakroom_session=tok; b=2".parse().unwrap());
        assert_eq!(cookie_value(&h, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie_value(&h, "c"), None);
    }
}
