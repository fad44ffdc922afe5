//! Limits on guessing: sign-in and password-change attempts counted per account, per address and account-wide, and the oracle lookups of compare and check.

use super::*;

/// Lookups that answer whether a value is right (checks, file comparisons) each person
/// may make per minute: each is an oracle for guessing values.
pub const ORACLE_LOOKUPS_PER_MINUTE: i64 = 10;

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

/// A rate-limit scope: a keyed hash (HMAC under a key derived from the master key), so
/// typed emails (perhaps a password typed into the wrong field) and addresses are never
/// stored, and a stored scope cannot be tested against guesses without the key.
pub(super) fn limit_scope(state: &AppState, kind: &str, text: &str) -> String {
    format!("{kind}:{}", state.crypto.keyed_name(kind, text))
}

/// Counts a password attempt in `scopes` before the password is checked (see
/// [`crate::store::Store::reserve_attempt`]), unless `refuse` (given each scope's
/// attempts in the window) answers a time to wait until. The rows it returns are
/// released when the password was right.
pub(super) async fn reserve_attempt(
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
/// [`ORACLE_LOOKUPS_PER_MINUTE`] a minute; over it, 429.
pub async fn count_oracle_lookup(state: &AppState, who: &Principal) -> Result<(), AppError> {
    let now = crate::domain::now();
    let scope = limit_scope(state, "oracle", &who.user_id.to_string());
    let limit = ORACLE_LOOKUPS_PER_MINUTE;
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
