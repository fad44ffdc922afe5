//! Sessions: signing in and out, and who the signed-in user of a request is.

use super::*;

/// Checks an email and password and opens a session. Returns who logged in and the
/// session token for the cookie. Unknown emails cost the same time as wrong passwords.
/// Every attempt is counted *before* its password is checked, for the account from
/// `client` (the caller's address; an IPv6 address by its /64), for that address and
/// for the account (see [`sign_in_refusal`]), so however many arrive at once, no more
/// are evaluated than those limits allow; and a place in the bounded queue of password
/// checks is taken first of all, so a flood beyond it is refused before any work.
pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
    client: &str,
) -> Result<(Principal, String), AppError> {
    let slot = PasswordSlot::take(state)?;
    let now = crate::domain::now();
    let account = crate::validate::normalize_email(email);
    let address = address_scope(client);
    let scopes = [
        limit_scope(state, "account-address", &format!("{account}\0{address}")),
        limit_scope(state, "address", &address),
        limit_scope(state, "account", &account),
    ];
    // The account's failures in the window before this attempt, as counted under the
    // lock (the last call of the rule), for the audit below.
    let account_failures = std::sync::atomic::AtomicI64::new(0);
    let attempt = reserve_attempt(state, &scopes, now, "sign-in", |counts| {
        if let Some(account) = counts.get(2) {
            account_failures.store(account.count, std::sync::atomic::Ordering::Relaxed);
        }
        sign_in_refusal(counts, now, LOGIN_WINDOW_SECS)
    })
    .await?;
    let account_failures = account_failures.into_inner();
    let user = state.store.user_by_email(email.trim()).await?;
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| state.dummy_hash.to_string());
    let ok = check_password_in(state, slot, hash, password).await?;
    let user = match user {
        Some(user) if ok => user,
        known => {
            // The attempt stays counted as a failure.
            tracing::info!("failed login");
            // An existing account's organizations see the attempt (unknown emails have
            // none). Recorded after answering, so a known email takes no longer than an
            // unknown one; and, as audit rows are kept for good, only up to the point
            // where the account is slowed down (that point is recorded, then nothing
            // more within the window): many addresses cannot fill the log.
            let audited = account_failures < ACCOUNT_FAILURES_BEFORE_SLOWING;
            if let Some(user) = known.filter(|_| audited) {
                let state = state.clone();
                let slowed = account_failures + 1 == ACCOUNT_FAILURES_BEFORE_SLOWING;
                tokio::spawn(async move {
                    if let Err(e) = record_failed_login(&state, &user, slowed).await {
                        tracing::error!(error = %e, "could not record a failed sign-in in the audit log");
                    }
                });
            }
            return Err(AppError::BadCredentials);
        }
    };
    // The right password: this attempt was no failure, and this address has proven
    // itself for this account. The address's and the account's other failures stay.
    state.store.release_login_attempt(&attempt).await?;
    state.store.clear_login_failures(&scopes[0]).await?;
    // The right password, but no organization (removed from the last one, on an
    // instance without personal workspaces): say so rather than "wrong password".
    let home = state.store.home_org(user.id).await?.ok_or_else(|| {
        AppError::Forbidden(
            "this account belongs to no organization; ask an owner of one to invite you".into(),
        )
    })?;
    let (org, role) = state
        .store
        .membership(user.id, &home.name)
        .await?
        .ok_or(AppError::BadCredentials)?;
    let token = new_token("cks_");
    let object = format!("member:{}", user.email);
    let audit = crate::domain::audit::entry_as(org.id, &user.email, "ui", "login", &object, &[], "");
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

/// Records a failed sign-in at `user`'s account in each of their organizations;
/// `slowed` when it is the one past which the account is slowed down.
pub(super) async fn record_failed_login(
    state: &AppState,
    user: &crate::store::UserRecord,
    slowed: bool,
) -> Result<(), AppError> {
    let object = format!("member:{}", user.email);
    let detail = if slowed {
        format!(
            "{ACCOUNT_FAILURES_BEFORE_SLOWING} failed sign-ins within {LOGIN_WINDOW_SECS} s: each \
             address now gets one attempt per {LOGIN_WINDOW_SECS} s at this account, and further \
             failures within it are not recorded"
        )
    } else {
        String::new()
    };
    for workspace in state.store.workspaces(user.id).await? {
        if let Some((org, _)) = state.store.membership(user.id, &workspace.name).await? {
            crate::domain::audit::record_as(
                state,
                org.id,
                &user.email,
                "ui",
                "login.failed",
                &object,
                &[],
                &detail,
            )
            .await?;
        }
    }
    Ok(())
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
    // One-shot cookies left by this response are for the session it hands out.
    leptos::prelude::provide_context(GivenSession(token_hash(token)));
    res.append_header(
        header::SET_COOKIE,
        axum::http::HeaderValue::from_str(&cookie).map_err(|_| AppError::Internal)?,
    );
    Ok(())
}

/// The signed-in user of a request, if its session cookie is valid.
pub async fn session_principal(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, AppError> {
    let name = session_cookie_name(is_secure(state, headers));
    match cookie_value(headers, name) {
        Some(token) if !token.is_empty() => {
            let now = crate::domain::now();
            state
                .store
                .principal_for_session(&token_hash(token), now, now - state.config.session_idle_secs)
                .await
                .map(|found| found.map(|a| Principal::acting(a, Via::Ui)))
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
    let who = crate::domain::orgs::in_org(&state, &who, org).await?;
    Ok((state, who))
}
