//! Passwords, sessions and API tokens.

use super::crypto::{new_token, token_hash};
use super::state::{app_state, AppState};
use super::store::Org;
use crate::error::AppError;
use crate::model::Role;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::{header, HeaderMap};

pub const SESSION_COOKIE: &str = "cloakroom_session";
/// The session cookie's name over https: the browser only accepts it from this very
/// host, `Secure`, for path `/` (no subdomain can plant one).
pub const HOST_SESSION_COOKIE: &str = "__Host-cloakroom_session";
/// Failed sign-ins allowed per account and per client address within the window;
/// the next attempt is refused with 429 until the oldest failure leaves the window.
pub const LOGIN_FAILURES_ALLOWED: i64 = 5;
pub const LOGIN_WINDOW_SECS: i64 = 60;
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

/// Runs argon2 work (19 MiB and tens of milliseconds each) on the blocking pool, at
/// most [`AppState::password_work`]'s number of them at once: a flood of sign-ins
/// queues here and slows sign-ins only, never the rest of the app.
async fn password_work<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let _permit = state
        .password_work
        .acquire()
        .await
        .map_err(|_| AppError::Internal)?;
    state
        .password_checks
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(tokio::task::spawn_blocking(work).await?)
}

/// Checks `password` against an argon2id hash, in the bounded pool.
pub async fn check_password(state: &AppState, hash: String, password: &str) -> Result<bool, AppError> {
    let password = zeroize::Zeroizing::new(password.to_owned());
    password_work(state, move || verify_password(&hash, &password)).await
}

/// Hashes a new password, in the bounded pool.
pub async fn new_password_hash(state: &AppState, password: &str) -> Result<String, AppError> {
    let password = zeroize::Zeroizing::new(password.to_owned());
    password_work(state, move || hash_password(&password)).await?
}

/// A rate-limit scope: a keyed hash (HMAC under a key derived from the master key), so
/// typed emails (perhaps a password typed into the wrong field) and addresses are never
/// stored, and a stored scope cannot be tested against guesses without the key.
fn limit_scope(state: &AppState, kind: &str, text: &str) -> String {
    format!("{kind}:{}", state.crypto.keyed_name(kind, text))
}

/// Counts a password attempt in `scopes` before the password is checked (see
/// [`super::store::Store::reserve_login_attempt`]); a scope at its limit refuses it.
/// The rows it returns are released when the password was right.
async fn reserve_attempt(
    state: &AppState,
    scopes: &[String],
    now: i64,
    what: &str,
) -> Result<Vec<i64>, AppError> {
    match state
        .store
        .reserve_login_attempt(scopes, now, LOGIN_WINDOW_SECS, LOGIN_FAILURES_ALLOWED)
        .await?
    {
        LoginAttempt::Counted(ids) => Ok(ids),
        LoginAttempt::Refused { until } => {
            tracing::warn!("{what} refused: too many wrong passwords");
            Err(AppError::RateLimited((until - now).max(1).unsigned_abs()))
        }
    }
}

/// Counts one lookup that answers whether a value is right (a check, a comparison with
/// given values) against the caller's limit of
/// [`super::compare::ORACLE_LOOKUPS_PER_MINUTE`] a minute; over it, 429.
pub async fn count_oracle_lookup(state: &AppState, who: &Principal) -> Result<(), AppError> {
    let now = super::now();
    let scope = limit_scope(state, "oracle", &who.user_id.to_string());
    let limit = super::compare::ORACLE_LOOKUPS_PER_MINUTE;
    match state
        .store
        .reserve_login_attempt(&[scope], now, 60, limit)
        .await?
    {
        LoginAttempt::Counted(_) => Ok(()),
        LoginAttempt::Refused { until } => {
            tracing::warn!(user = who.user_id, "value lookup refused: over the limit");
            Err(AppError::LookupLimited((until - now).max(1).unsigned_abs()))
        }
    }
}

/// Checks an email and password and opens a session. Returns who logged in and the
/// session token for the cookie. Unknown emails cost the same time as wrong passwords;
/// `client` (the caller's address) and the account are rate limited separately, and
/// every attempt is counted *before* its password is checked, so however many arrive
/// at once, at most [`LOGIN_FAILURES_ALLOWED`] per window are ever evaluated.
pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
    client: &str,
) -> Result<(Principal, String), AppError> {
    let now = super::now();
    let scopes = [
        limit_scope(state, "account", &crate::validate::normalize_email(email)),
        limit_scope(state, "address", client),
    ];
    let attempt = reserve_attempt(state, &scopes, now, "sign-in").await?;
    let user = state.store.user_by_email(email.trim()).await?;
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| state.dummy_hash.to_string());
    let ok = check_password(state, hash, password).await?;
    let user = match user {
        Some(user) if ok => user,
        known => {
            // The attempt stays counted as a failure.
            tracing::info!("failed login");
            // An existing account's organizations see the attempt (unknown emails have
            // none). Recorded after answering, so a known email takes no longer than an
            // unknown one.
            if let Some(user) = known {
                let state = state.clone();
                tokio::spawn(async move {
                    if let Err(e) = record_failed_login(&state, &user).await {
                        tracing::error!(error = %e, "could not record a failed sign-in in the audit log");
                    }
                });
            }
            return Err(AppError::BadCredentials);
        }
    };
    state.store.release_login_attempt(&attempt).await?;
    state.store.clear_login_failures(&scopes[0]).await?;
    let home = state
        .store
        .home_org(user.id)
        .await?
        .ok_or(AppError::BadCredentials)?;
    let (org, role) = state
        .store
        .membership(user.id, &home.name)
        .await?
        .ok_or(AppError::BadCredentials)?;
    let token = new_token("cks_");
    let object = format!("member:{}", user.email);
    let audit = super::audit::entry_as(org.id, &user.email, "ui", "login", &object, &[], "");
    state
        .store
        .create_session(
            &token_hash(&token),
            user.id,
            org.id,
            now,
            now + state.config.session_ttl_secs,
            Some(audit),
        )
        .await?;
    tracing::info!(user = user.id, org = %org.name, "login");
    Ok((
        Principal {
            user_id: user.id,
            email: user.email,
            org,
            role,
            via: Via::Ui,
        },
        token,
    ))
}

/// Changes the signed-in user's password after checking the current one; every session
/// of theirs ends, and a new one (returned) replaces the caller's.
pub async fn change_password(
    state: &AppState,
    who: &Principal,
    current: &str,
    new: &str,
) -> Result<String, AppError> {
    let user = state
        .store
        .user_by_email(&who.email)
        .await?
        .ok_or(AppError::Unauthorized)?;
    // A guess at the current password is a guess at the account's password: it counts
    // against the account's sign-in limit, before the password is checked.
    let scope = [limit_scope(
        state,
        "account",
        &crate::validate::normalize_email(&who.email),
    )];
    let attempt = reserve_attempt(state, &scope, super::now(), "password change").await?;
    if !check_password(state, user.password_hash.clone(), current).await? {
        // The attempt stays counted as a failure.
        return Err(AppError::validation(crate::validate::FieldError {
            field: "current".into(),
            message: "the current password is not right".into(),
        }));
    }
    state.store.release_login_attempt(&attempt).await?;
    if new.chars().count() < MIN_PASSWORD_LEN {
        return Err(AppError::validation(crate::validate::FieldError {
            field: "new".into(),
            message: format!("the new password must be at least {MIN_PASSWORD_LEN} characters"),
        }));
    }
    let new_hash = new_password_hash(state, new).await?;
    let object = format!("member:{}", who.email);
    let audit = super::audit::entry(who, "password.change", &object, &[], "all sessions ended");
    state.store.set_password(user.id, &new_hash, audit).await?;
    let token = new_token("cks_");
    let now = super::now();
    state
        .store
        .create_session(
            &token_hash(&token),
            user.id,
            who.org.id,
            now,
            now + state.config.session_ttl_secs,
            None,
        )
        .await?;
    Ok(token)
}

async fn record_failed_login(state: &AppState, user: &super::store::UserRecord) -> Result<(), AppError> {
    let object = format!("member:{}", user.email);
    for workspace in state.store.workspaces(user.id).await? {
        if let Some((org, _)) = state.store.membership(user.id, &workspace.name).await? {
            super::audit::record_as(state, org.id, &user.email, "ui", "login.failed", &object, &[], "")
                .await?;
        }
    }
    Ok(())
}

/// The address a request came from: the socket's peer, or behind a trusted proxy the
/// last `X-Forwarded-For` entry (the one that proxy added).
pub fn client_address(state: &AppState, parts: &axum::http::request::Parts) -> String {
    if state.config.trust_proxy {
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|v| !v.is_empty());
        if let Some(addr) = forwarded {
            return addr.to_owned();
        }
    }
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
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

/// `Set-Cookie` value for a short-lived message cookie (HttpOnly, SameSite=Strict,
/// Secure over https) scoped to `path`; `max_age` 0 removes it.
pub fn message_cookie(name: &str, value: &str, path: &str, max_age: i64) -> String {
    let secure = leptos::prelude::use_context::<axum::http::request::Parts>()
        .zip(app_state().ok())
        .is_some_and(|(parts, state)| is_secure(&state, &parts.headers));
    message_cookie_for(name, value, path, max_age, secure)
}

/// [`message_cookie`] outside a render, with `secure` decided by the caller.
pub fn message_cookie_for(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Whether this request reached us over https: the public URL says so, or (only with
/// `trust_proxy`, since anyone can send the header) the proxy in front says so.
pub fn is_secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.https()
        || state.config.trust_proxy
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// The session cookie's name: `__Host-` prefixed over https.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        HOST_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// `Set-Cookie` value for a new session: HttpOnly, SameSite=Strict, and over https
/// Secure with the `__Host-` name.
pub fn session_cookie(token: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
        session_cookie_name(secure),
        if secure { "; Secure" } else { "" }
    )
}

/// Hands the browser of the request being handled the cookie of session `token`; an
/// error (not silence) if the response cannot carry it.
pub fn give_session(state: &AppState, token: &str) -> Result<(), AppError> {
    let parts = leptos::prelude::use_context::<axum::http::request::Parts>().ok_or(AppError::Internal)?;
    let res = leptos::prelude::use_context::<leptos_axum::ResponseOptions>().ok_or(AppError::Internal)?;
    let cookie = session_cookie(
        token,
        state.config.session_ttl_secs,
        is_secure(state, &parts.headers),
    );
    res.append_header(
        header::SET_COOKIE,
        axum::http::HeaderValue::from_str(&cookie).map_err(|_| AppError::Internal)?,
    );
    Ok(())
}

/// `Set-Cookie` value that removes the session cookie.
pub fn clearing_cookie(secure: bool) -> String {
    session_cookie("", 0, secure)
}

/// The signed-in user of a request, if its session cookie is valid.
pub async fn session_principal(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, AppError> {
    let name = session_cookie_name(is_secure(state, headers));
    match cookie_value(headers, name) {
        Some(token) if !token.is_empty() => {
            let now = super::now();
            state
                .store
                .principal_for_session(&token_hash(token), now, now - state.config.session_idle_secs)
                .await
        }
        _ => Ok(None),
    }
}

/// Ends the session named by the request's cookie, if any.
pub async fn end_session(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    let name = session_cookie_name(is_secure(state, headers));
    if let Some(token) = cookie_value(headers, name).filter(|t| !t.is_empty()) {
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
    let mut who = state
        .store
        .principal_for_token(&token_hash(token), super::now())
        .await?
        .ok_or(AppError::Unauthorized)?;
    let from_cli = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("cloakroom-cli/"));
    who.via = if from_cli { Via::Cli } else { Via::Api };
    Ok(who)
}

/// The signed-in user of the request being handled (server function or page render),
/// in their home organization. Never taken from a function's arguments.
pub async fn signed_in() -> Result<(AppState, Principal), AppError> {
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

/// The one accessor org-scoped server functions use: the signed-in user acting in
/// `org`, with their role there; 404 if they do not belong to it.
pub async fn caller(org: &str) -> Result<(AppState, Principal), AppError> {
    let (state, who) = signed_in().await?;
    let who = super::orgs::in_org(&state, &who, org).await?;
    Ok((state, who))
}

/// Creates an API token for a member of an organization (the admin command and
/// tests); returns the token.
pub async fn create_api_token(
    state: &AppState,
    principal: &Principal,
    name: &str,
) -> Result<String, AppError> {
    Ok(issue_api_token(state, principal, name).await?.1)
}

/// Creates an API token acting with `principal`'s role at most, audited in the same
/// transaction; returns its id and the token (shown once; only its hash is kept).
pub async fn issue_api_token(
    state: &AppState,
    principal: &Principal,
    name: &str,
) -> Result<(i64, String), AppError> {
    let token = new_token("ckr_");
    let audit = {
        let (who, object) = (principal.clone(), format!("token:{name}"));
        Box::new(move |id: &i64| {
            let detail = format!("id {id}, role {}", who.role);
            super::audit::entry(&who, "token.create", &object, &[], &detail)
        })
    };
    let id = state
        .store
        .create_api_token(
            principal.org.id,
            principal.user_id,
            name,
            &token_hash(&token),
            super::now(),
            principal.role,
            audit,
        )
        .await?;
    Ok((id, token))
}

/// The answer to [`super::store::Store::reserve_login_attempt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginAttempt {
    /// The attempt is counted (as a failure until released); these are its rows.
    Counted(Vec<i64>),
    /// A scope is at its limit until this time (Unix seconds); nothing was recorded.
    Refused { until: i64 },
}

/// The decision of [`super::store::Store::reserve_login_attempt`] from each scope's attempt count in
/// the window and the time of its oldest one.
pub fn login_refusal(
    counts: &[(i64, Option<i64>)],
    now: i64,
    window: i64,
    limit: i64,
) -> Option<LoginAttempt> {
    counts
        .iter()
        .filter(|(count, _)| *count >= limit)
        .map(|(_, oldest)| oldest.unwrap_or(now) + window)
        .max()
        .map(|until| LoginAttempt::Refused { until })
}

/// Who a session or token acts for, in which organization, with which role there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub email: String,
    pub org: Org,
    pub role: Role,
    /// Where the request came from, for the audit log.
    pub via: Via,
}

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Via {
    /// The dashboard (a session).
    #[default]
    Ui,
    /// The REST API with a token.
    Api,
    /// The `cloakroom` command line (the REST API with its user agent).
    Cli,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Ui => "ui",
            Via::Api => "api",
            Via::Cli => "cli",
        }
    }
}

impl Principal {
    /// Refuses (403) unless the caller's role is at least `min`; `action` completes
    /// "… needs the member role", e.g. "changing secret sets".
    pub fn require(&self, min: Role, action: &str) -> Result<(), AppError> {
        if self.role >= min {
            return Ok(());
        }
        Err(AppError::Forbidden(format!(
            "{action} needs the {min} role or higher; you are {} in \"{}\"",
            self.role, self.org.name
        )))
    }
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
