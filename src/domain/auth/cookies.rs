//! Cookies: the session cookie and the one-shot message cookies, MAC-bound to the page and session they were made for.

use super::*;

pub const SESSION_COOKIE: &str = "cloakroom_session";

/// The session cookie's name over https: the browser only accepts it from this very
/// host, `Secure`, for path `/` (no subdomain can plant one).
pub const HOST_SESSION_COOKIE: &str = "__Host-cloakroom_session";

pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookie_values(headers, name).next()
}

/// Every value the request carries for cookie `name` (a browser sends two cookies of
/// one name when they differ in path or domain).
pub(super) fn cookie_values<'h, 'n>(
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
pub(super) fn one_shot_mac(state: &AppState, name: &str, page: &str, value: &str, session: &[u8]) -> String {
    state
        .crypto
        .cookie_mac(&[name.as_bytes(), page.as_bytes(), value.as_bytes(), session])
}

/// The session a one-shot cookie is bound to: the one this response hands the browser
/// (see [`give_session`]), else the one the request came with, else none (the sign-in
/// page's messages).
pub(super) fn session_binding(state: &AppState, headers: &HeaderMap) -> Vec<u8> {
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
pub(super) struct GivenSession(pub(super) Vec<u8>);

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

/// `Set-Cookie` value that removes the session cookie.
pub fn clearing_cookie(secure: bool) -> String {
    session_cookie("", 0, secure)
}
