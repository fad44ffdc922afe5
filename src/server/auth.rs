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
/// Sign-in attempts allowed per account *from one client address* (an IPv6 /64 counts
/// as one address, see [`address_scope`]) within the window; the next one from there is
/// refused with 429 until the oldest leaves the window. Counted per address so that a
/// stranger's wrong guesses never lock the owner out: from their own address the owner
/// signs in as usual.
pub const LOGIN_FAILURES_ALLOWED: i64 = 5;
/// Sign-in attempts allowed from one client address, whatever the accounts, within the
/// window: one address tries a few accounts (an office behind one NAT shares it), not
/// thousands.
pub const ADDRESS_FAILURES_ALLOWED: i64 = 20;
/// Failed sign-ins at one account, from all addresses together, within the window past
/// which that account is *slowed down*, never locked: each address then gets one attempt
/// per window at it instead of [`LOGIN_FAILURES_ALLOWED`]. Refusing every attempt past an
/// account-wide threshold would let anyone with a few addresses lock the owner out; not
/// counting account-wide at all would give a guesser with many addresses five guesses
/// per address. This way a guesser gets about one guess per address and window, and the
/// owner, from an address that made no attempt at the account in the last window, is
/// checked at once (after one typo there, they wait at most the window).
pub const ACCOUNT_FAILURES_BEFORE_SLOWING: i64 = 20;
pub const LOGIN_WINDOW_SECS: i64 = 60;
/// Password checks and hashes that may be waiting or running at once, per core: beyond
/// it a sign-in is refused (429, retry in a second) at once instead of queueing without
/// end. Each check takes tens of milliseconds, so a full queue is under a second of work.
pub const PASSWORD_QUEUE_PER_CORE: usize = 8;
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

/// A place in the bounded queue of argon2 work (see [`PasswordSlot::take`]); freed when
/// dropped, which is when the work it was taken for has finished.
pub struct PasswordSlot(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl PasswordSlot {
    /// A place in `state`'s queue of password work, or 503 at once when
    /// [`PASSWORD_QUEUE_PER_CORE`] per core are already waiting or running.
    pub fn take(state: &AppState) -> Result<Self, AppError> {
        use std::sync::atomic::Ordering;
        // Read once: finding the cores may read cgroup files.
        static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let capacity = PASSWORD_QUEUE_PER_CORE * cores;
        let in_queue = std::sync::Arc::clone(&state.password_queue);
        let taken = in_queue
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < capacity).then_some(n + 1)
            })
            .is_ok();
        if !taken {
            tracing::warn!("password check refused: {capacity} already waiting or running");
            return Err(AppError::Busy(1));
        }
        Ok(Self(in_queue))
    }
}

impl Drop for PasswordSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Runs argon2 work (19 MiB and tens of milliseconds each) on the blocking pool, at
/// most [`AppState::password_work`]'s number of them at once, holding `slot` of the
/// bounded queue: a flood of sign-ins slows sign-ins only, never the rest of the app, and
/// past the queue's end is refused at once. The permit and the slot go with the work
/// into the blocking pool: a caller that gives up (a closed connection) frees neither
/// before its hash has finished.
async fn password_work<T: Send + 'static>(
    state: &AppState,
    slot: PasswordSlot,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let permit = std::sync::Arc::clone(&state.password_work)
        .acquire_owned()
        .await
        .map_err(|_| AppError::Internal)?;
    state
        .password_checks
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(tokio::task::spawn_blocking(move || {
        let _held = (permit, slot);
        work()
    })
    .await?)
}

/// Checks `password` against an argon2id hash, in the bounded pool.
pub async fn check_password(state: &AppState, hash: String, password: &str) -> Result<bool, AppError> {
    check_password_in(state, PasswordSlot::take(state)?, hash, password).await
}

/// [`check_password`] in a place of the queue taken beforehand.
async fn check_password_in(
    state: &AppState,
    slot: PasswordSlot,
    hash: String,
    password: &str,
) -> Result<bool, AppError> {
    let password = zeroize::Zeroizing::new(password.to_owned());
    password_work(state, slot, move || verify_password(&hash, &password)).await
}

/// Hashes a new password, in the bounded pool.
pub async fn new_password_hash(state: &AppState, password: &str) -> Result<String, AppError> {
    let slot = PasswordSlot::take(state)?;
    let password = zeroize::Zeroizing::new(password.to_owned());
    password_work(state, slot, move || hash_password(&password)).await?
}

/// A rate-limit scope: a keyed hash (HMAC under a key derived from the master key), so
/// typed emails (perhaps a password typed into the wrong field) and addresses are never
/// stored, and a stored scope cannot be tested against guesses without the key.
fn limit_scope(state: &AppState, kind: &str, text: &str) -> String {
    format!("{kind}:{}", state.crypto.keyed_name(kind, text))
}

/// Counts a password attempt in `scopes` before the password is checked (see
/// [`super::store::Store::reserve_attempt`]), unless `refuse` (given each scope's
/// attempts in the window) answers a time to wait until. The rows it returns are
/// released when the password was right.
async fn reserve_attempt(
    state: &AppState,
    scopes: &[String],
    now: i64,
    what: &str,
    refuse: impl Fn(&[ScopeCount]) -> Option<i64> + Send + Sync,
) -> Result<Vec<i64>, AppError> {
    match state
        .store
        .reserve_attempt(scopes, now, LOGIN_WINDOW_SECS, refuse)
        .await?
    {
        LoginAttempt::Counted(ids) => Ok(ids),
        LoginAttempt::Refused { until } => {
            tracing::warn!("{what} refused: too many wrong passwords");
            Err(AppError::RateLimited((until - now).max(1).unsigned_abs()))
        }
    }
}

/// The sign-in rule over the attempts of the scopes [`login`] counts in, in this order:
/// the account from this address, this address, the account. `Some(until)` refuses.
/// See [`LOGIN_FAILURES_ALLOWED`], [`ADDRESS_FAILURES_ALLOWED`] and
/// [`ACCOUNT_FAILURES_BEFORE_SLOWING`] for why each limit is what it is.
pub fn sign_in_refusal(counts: &[ScopeCount], now: i64, window: i64) -> Option<i64> {
    let [here, address, account] = counts else {
        return Some(now + window);
    };
    let mut until = [
        limit_refusal(std::slice::from_ref(here), now, window, LOGIN_FAILURES_ALLOWED),
        limit_refusal(
            std::slice::from_ref(address),
            now,
            window,
            ADDRESS_FAILURES_ALLOWED,
        ),
    ];
    // Slowed down: one attempt per address and window, so this address waits until
    // its last attempt at the account has left the window.
    if account.count >= ACCOUNT_FAILURES_BEFORE_SLOWING && here.count > 0 {
        until[0] = until[0].max(Some(here.newest.unwrap_or(now) + window));
    }
    until.into_iter().flatten().max()
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
    let now = super::now();
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
    // A guess at the current password is a guess at the account's password: it is
    // limited like a sign-in from one address (whoever holds the session is one
    // guesser), and counts toward the account's failures (which slow sign-ins down).
    let scopes = [
        limit_scope(state, "password-change", &who.user_id.to_string()),
        limit_scope(state, "account", &crate::validate::normalize_email(&who.email)),
    ];
    let now = super::now();
    let attempt = reserve_attempt(state, &scopes, now, "password change", |counts| {
        limit_refusal(
            counts.get(..1).unwrap_or_default(),
            now,
            LOGIN_WINDOW_SECS,
            LOGIN_FAILURES_ALLOWED,
        )
    })
    .await?;
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

/// Records a failed sign-in at `user`'s account in each of their organizations;
/// `slowed` when it is the one past which the account is slowed down.
async fn record_failed_login(
    state: &AppState,
    user: &super::store::UserRecord,
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
            super::audit::record_as(
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

/// The address a request came from: the socket's peer, or behind a trusted proxy the
/// last `X-Forwarded-For` entry (the one that proxy added). Rate limits take it through
/// [`address_scope`].
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

/// What one client is, for rate limits: an IPv4 address (also written IPv4-mapped), or
/// an IPv6 address's /64, the block one subscriber line or one host is given (anyone
/// holding one /64 holds 2^64 addresses, so counting single addresses would give them
/// that many tries). A port or brackets are ignored; text that is no address is taken
/// as it is.
pub fn address_scope(address: &str) -> String {
    use std::net::{IpAddr, SocketAddr};
    let text = address.trim();
    let ip = text
        .parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            text.strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse().ok())
        });
    match ip {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => text.to_owned(),
    }
}

pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookie_values(headers, name).next()
}

/// Every value the request carries for cookie `name` (a browser sends two cookies of
/// one name when they differ in path or domain).
fn cookie_values<'h, 'n>(
    headers: &'h HeaderMap,
    name: &'n str,
) -> impl Iterator<Item = &'h str> + use<'h, 'n> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The content of one-shot cookie `name` (see [`message_cookie`]) that the request being
/// handled (a page render) carries, if it was made by this server for this browser's
/// session and this page: a cookie planted by another host, or left for another session
/// or page, or changed, reads as absent.
pub fn request_cookie(name: &str) -> Option<String> {
    let parts = leptos::prelude::use_context::<axum::http::request::Parts>()?;
    let state = app_state().ok()?;
    let secure = is_secure(&state, &parts.headers);
    let session = session_binding(&state, &parts.headers);
    let travelling = message_cookie_name(name, secure);
    let path = parts.uri.path();
    let verified = cookie_values(&parts.headers, &travelling)
        .filter_map(|raw| raw.rsplit_once('.'))
        .find(|(value, tag)| {
            !value.is_empty()
                && [path, "/"].iter().any(|page| {
                    let expected = one_shot_mac(&state, name, page, value, &session);
                    subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), tag.as_bytes()).into()
                })
        })
        .map(|(value, _)| value.to_owned());
    verified
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

/// The MAC a one-shot cookie's value carries: over its name, the page it is for, its
/// value and the session it was left for (see [`session_binding`]).
fn one_shot_mac(state: &AppState, name: &str, page: &str, value: &str, session: &[u8]) -> String {
    state
        .crypto
        .cookie_mac(&[name.as_bytes(), page.as_bytes(), value.as_bytes(), session])
}

/// The session a one-shot cookie is bound to: the one this response hands the browser
/// (see [`give_session`]), else the one the request came with, else none (the sign-in
/// page's messages).
fn session_binding(state: &AppState, headers: &HeaderMap) -> Vec<u8> {
    if let Some(GivenSession(hash)) = leptos::prelude::use_context::<GivenSession>() {
        return hash;
    }
    cookie_value(headers, session_cookie_name(is_secure(state, headers)))
        .filter(|t| !t.is_empty())
        .map(token_hash)
        .unwrap_or_default()
}

/// The hash of the session [`give_session`] handed the browser in this response.
#[derive(Clone)]
struct GivenSession(Vec<u8>);

/// The name one-shot cookie `name` travels under: over https `__Host-` prefixed, so the
/// browser takes it only from this very host (`Secure`, `Path=/`, no `Domain`): no
/// sibling subdomain can set one.
pub fn message_cookie_name(name: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}

/// `Set-Cookie` value for a one-shot message cookie (HttpOnly, SameSite=Strict; over
/// https `__Host-` and Secure) that carries `value` to the next view of the page at
/// `path` (`/`: any page) of the request being handled; `max_age` 0 removes it. The value
/// carries a MAC binding it to the cookie's name, that page and the browser's session,
/// so [`request_cookie`] ignores one that was planted, replayed into another session or
/// changed. Over http the cookie is also scoped to `path`; over https `__Host-` needs
/// `Path=/`, and the MAC alone keeps it to its page.
pub fn message_cookie(name: &str, value: &str, path: &str, max_age: i64) -> String {
    let context = leptos::prelude::use_context::<axum::http::request::Parts>().zip(app_state().ok());
    let Some((parts, state)) = context else {
        // Nothing to bind it to (never in a request): a cookie that removes itself.
        return message_cookie_for(name, "", path, 0, false);
    };
    let secure = is_secure(&state, &parts.headers);
    if value.is_empty() || max_age <= 0 {
        return message_cookie_for(name, "", path, 0, secure);
    }
    let session = session_binding(&state, &parts.headers);
    let mac = one_shot_mac(&state, name, path, value, &session);
    message_cookie_for(name, &format!("{value}.{mac}"), path, max_age, secure)
}

/// The `Set-Cookie` text of one-shot cookie `name` as it travels (see
/// [`message_cookie_name`]), with `value` as given: [`message_cookie`] for a value, or
/// this with `""` and 0 to remove one outside a render.
pub fn message_cookie_for(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
        message_cookie_name(name, secure),
        if secure { "/" } else { path },
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` values that remove the one-shot cookies of `names` (each with the
/// page path it was left for) that a request carried: for the response of the page
/// that was sent them, which has shown them.
pub fn clear_message_cookies(state: &AppState, headers: &HeaderMap, names: &[(&str, &str)]) -> Vec<String> {
    let secure = is_secure(state, headers);
    names
        .iter()
        .filter(|(name, _)| {
            cookie_value(headers, &message_cookie_name(name, secure)).is_some_and(|v| !v.is_empty())
        })
        .map(|(name, path)| message_cookie_for(name, "", path, 0, secure))
        .collect()
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
    // One-shot cookies left by this response are for the session it hands out.
    leptos::prelude::provide_context(GivenSession(token_hash(token)));
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

/// API tokens one person may hold in one organization.
pub const API_TOKENS_MAX: i64 = 100;

/// Creates an API token acting with `principal`'s role at most, audited in the same
/// transaction; returns its id and the token (shown once; only its hash is kept).
pub async fn issue_api_token(
    state: &AppState,
    principal: &Principal,
    name: &str,
) -> Result<(i64, String), AppError> {
    if state
        .store
        .api_token_count(principal.org.id, principal.user_id)
        .await?
        >= API_TOKENS_MAX
    {
        return Err(AppError::Quota(format!(
            "you hold {API_TOKENS_MAX} API tokens in \"{}\", as many as one person may; revoke one first",
            principal.org.name
        )));
    }
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

/// One scope's attempts within the window of [`super::store::Store::reserve_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScopeCount {
    pub count: i64,
    /// When the oldest and the newest of them were made (Unix seconds).
    pub oldest: Option<i64>,
    pub newest: Option<i64>,
}

/// The plain rule: refused while some scope has `limit` attempts in the window, until
/// its oldest leaves the window.
pub fn limit_refusal(counts: &[ScopeCount], now: i64, window: i64, limit: i64) -> Option<i64> {
    counts
        .iter()
        .filter(|c| c.count >= limit)
        .map(|c| c.oldest.unwrap_or(now) + window)
        .max()
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
    fn an_ipv6_address_is_limited_by_its_64() {
        let scope = address_scope("2001:db8:1:2::1");
        assert_eq!(scope, "2001:db8:1:2::/64");
        for same in [
            "2001:db8:1:2:ffff:ffff:ffff:ffff",
            "2001:0db8:0001:0002::abcd",
            " 2001:DB8:1:2::9 ",
            "[2001:db8:1:2::1]",
            "[2001:db8:1:2::1]:443",
        ] {
            assert_eq!(address_scope(same), scope, "{same}");
        }
        for other in ["2001:db8:1:3::1", "2001:db8:1::1", "2001:db9:1:2::1"] {
            assert_ne!(address_scope(other), scope, "{other}");
        }
    }

    #[test]
    fn an_ipv4_address_is_limited_by_itself_however_it_is_written() {
        assert_eq!(address_scope("192.0.2.7"), "192.0.2.7");
        assert_eq!(address_scope("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(address_scope("192.0.2.7:5000"), "192.0.2.7");
        assert_ne!(address_scope("192.0.2.8"), "192.0.2.7");
        // Text that is no address (a test's label, a proxy's `unknown`) stays itself.
        assert_eq!(address_scope("unknown"), "unknown");
    }

    fn counts(here: i64, address: i64, account: i64) -> [ScopeCount; 3] {
        let c = |count| ScopeCount {
            count,
            oldest: (count > 0).then_some(100),
            newest: (count > 0).then_some(130),
        };
        [c(here), c(address), c(account)]
    }

    #[test]
    fn a_sign_in_waits_only_for_the_limits_of_its_own_address() {
        let refusal = |h, a, acc| sign_in_refusal(&counts(h, a, acc), 150, 60);
        assert_eq!(refusal(0, 0, 0), None);
        assert_eq!(refusal(LOGIN_FAILURES_ALLOWED - 1, 0, 0), None);
        assert_eq!(
            refusal(LOGIN_FAILURES_ALLOWED, 0, 0),
            Some(160),
            "until the oldest leaves"
        );
        assert_eq!(refusal(0, ADDRESS_FAILURES_ALLOWED, 0), Some(160));
        // However many failures the account has, a fresh address is checked...
        assert_eq!(refusal(0, 0, 10_000), None);
        // ... and an address that tried already waits until its last try leaves.
        assert_eq!(refusal(1, 1, ACCOUNT_FAILURES_BEFORE_SLOWING), Some(190));
        assert_eq!(refusal(1, 1, ACCOUNT_FAILURES_BEFORE_SLOWING - 1), None);
    }

    #[test]
    fn over_https_one_shot_cookies_are_host_only() {
        let c = message_cookie_for("cloakroom_reveal", "v.mac", "/orgs/acme/tokens", 120, true);
        assert_eq!(
            c,
            "__Host-cloakroom_reveal=v.mac; Path=/; Max-Age=120; HttpOnly; SameSite=Strict; Secure"
        );
        let c = message_cookie_for("cloakroom_reveal", "v.mac", "/orgs/acme/tokens", 120, false);
        assert!(
            c.starts_with("cloakroom_reveal=v.mac; Path=/orgs/acme/tokens;"),
            "{c}"
        );
    }

    #[test]
    fn every_cookie_of_a_name_is_seen() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=planted; b=2; a=real".parse().unwrap());
        assert_eq!(cookie_values(&h, "a").collect::<Vec<_>>(), ["planted", "real"]);
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; cloakroom_session=tok; b=2".parse().unwrap());
        assert_eq!(cookie_value(&h, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie_value(&h, "c"), None);
    }
}
