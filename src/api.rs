//! Server functions: what the pages and islands call. Each one works both from an
//! island (JSON answer) and from a plain HTML form with JavaScript off, in which case
//! it answers with a redirect back to the page carrying a notice or the errors.

pub mod auth;
pub mod deployments;
pub mod history;
pub mod orgs;
pub mod pull_secrets;
pub mod secrets;

pub use auth::*;
pub use deployments::*;
pub use history::*;
pub use orgs::*;
pub use pull_secrets::*;
pub use secrets::*;

/// Cookie carrying the notice or errors to show once on the next page. Messages never
/// travel in URLs, where anyone could craft a link that makes our pages say anything.
pub const FLASH_COOKIE: &str = "cloakroom_flash";

/// A message for the next page: a notice, or the errors a form came back with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Flash {
    pub error: bool,
    pub lines: Vec<String>,
}

/// Most bytes of a flash cookie's value: with its attributes the cookie stays under the
/// 4 KB browsers keep.
pub const FLASH_MAX_BYTES: usize = 3500;

/// The flash cookie's value for `flash`: lines are dropped from the end (and counted in
/// a last line) until it fits in [`FLASH_MAX_BYTES`].
pub fn flash_value(flash: &Flash) -> String {
    let encode = |f: &Flash| {
        let json = serde_json::to_string(f).unwrap_or_default();
        crate::validate::base64_encode(json.as_bytes())
    };
    let mut shown = flash.clone();
    let mut value = encode(&shown);
    let mut dropped = 0;
    while value.len() > FLASH_MAX_BYTES && !shown.lines.is_empty() {
        shown.lines.truncate(shown.lines.len() - 1);
        dropped += 1;
        let mut with_note = shown.clone();
        with_note
            .lines
            .push(format!("({dropped} more not shown: fix these and try again)"));
        value = encode(&with_note);
    }
    value
}

#[cfg(feature = "ssr")]
fn set_flash(flash: &Flash) {
    use crate::domain::auth::{message_cookie, set_cookie};
    set_cookie(&message_cookie(FLASH_COOKIE, &flash_value(flash), "/", 60));
}

/// The message left for this page view, if any; reading it clears it. Always `None`
/// in the browser (pages render on the server).
pub fn take_flash() -> Option<Flash> {
    #[cfg(feature = "ssr")]
    {
        // The response of the page that shows it removes the cookie (see
        // `server::router::security_headers`).
        let raw = crate::domain::auth::request_cookie(FLASH_COOKIE)?;
        let bytes = crate::validate::base64_decode(&raw)?;
        serde_json::from_slice(&bytes).ok()
    }
    #[cfg(not(feature = "ssr"))]
    None
}

/// Cookie that carries a new credential (runtime token, API token, invitation link) to
/// the one page view that shows it, so it never travels in a URL or a log.
pub const REVEAL_COOKIE: &str = "cloakroom_reveal";

/// Leaves `secret` for the next view of the page at `path` (a two-minute HttpOnly
/// cookie scoped to that page).
#[cfg(feature = "ssr")]
pub(crate) fn reveal_once(path: &str, secret: &str) {
    use crate::domain::auth::{message_cookie, set_cookie};
    set_cookie(&message_cookie(REVEAL_COOKIE, secret, path, 120));
}

/// The credential left for this page (the cookie's path scopes it to the page it was
/// left for), if it has the expected `prefix`. The response of the page that shows it
/// removes the cookie (see `server::router::security_headers`). Always `None` in the
/// browser (pages render on the server).
pub fn take_revealed(prefix: &str) -> Option<String> {
    #[cfg(feature = "ssr")]
    {
        crate::domain::auth::request_cookie(REVEAL_COOKIE).filter(|t| t.starts_with(prefix))
    }
    #[cfg(not(feature = "ssr"))]
    {
        let _ = prefix;
        None
    }
}

/// Where a write goes next. Plain HTML forms (JavaScript off) get a redirect: on
/// success to the result's page, on failure back to `back`; islands get the result
/// itself. Either way the notice or the errors reach the next page through the flash
/// cookie, and islands get a meaningful status code on failure.
#[cfg(feature = "ssr")]
pub(crate) fn finish(
    result: Result<crate::model::WriteOutcome, crate::error::AppError>,
    back: &str,
) -> Result<crate::model::WriteOutcome, crate::error::AppError> {
    let from_form = leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|p| {
            p.headers
                .get(axum::http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.contains("text/html"))
        })
        .unwrap_or(false);
    // A target built from request input (a set name, an invitation token) that cannot
    // be a Location header is a bad request, never a panic or a redirect elsewhere.
    let bad_target = |t: &str| !crate::validate::is_redirect_target(t);
    let result = match result {
        Ok(o) if bad_target(&o.redirect) => Ok(crate::model::WriteOutcome {
            redirect: "/secrets".into(),
            ..o
        }),
        other => other,
    };
    let back_ok = !bad_target(back);
    match result {
        Ok(outcome) => {
            if !outcome.notice.is_empty() {
                set_flash(&Flash {
                    error: false,
                    lines: vec![outcome.notice.clone()],
                });
            }
            if from_form {
                leptos_axum::redirect(&outcome.redirect);
            }
            Ok(outcome)
        }
        Err(e) => {
            let e = if back_ok { e } else { unusable_address() };
            if from_form && back_ok {
                set_flash(&Flash {
                    error: true,
                    lines: e.lines(),
                });
                leptos_axum::redirect(back);
            } else if let (Some(res), Ok(status)) = (
                leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
                axum::http::StatusCode::from_u16(e.status_code()),
            ) {
                res.set_status(status);
            }
            Err(e)
        }
    }
}

#[cfg(feature = "ssr")]
fn unusable_address() -> crate::error::AppError {
    crate::error::AppError::validation(crate::validate::FieldError {
        field: "address".into(),
        message: "the request names a page that cannot exist (control characters or \
                  another site in its address)"
            .into(),
    })
}

/// Appends `name=value` (percent-encoded) to a local URL.
pub fn with_param(url: &str, name: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    let mut out = format!("{url}{sep}{name}=");
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A page of organization `org`: `org_url("acme", "/secrets")` is `/orgs/acme/secrets`.
pub fn org_url(org: &str, path: &str) -> String {
    format!("/orgs/{org}{path}")
}

/// The page of a set.
pub fn set_url(org: &str, set: &str) -> String {
    org_url(org, &format!("/secrets/{set}"))
}

/// A one-line summary of a write, for the notice after saving.
pub fn write_notice(set: &str, added: &[String], updated: &[String]) -> String {
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("added {}", added.join(", ")));
    }
    if !updated.is_empty() {
        parts.push(format!("updated {}", updated.join(", ")));
    }
    let mut notice = format!("Saved \"{set}\": {}.", parts.join("; "));
    for warning in crate::validate::loader_key_warnings(added.iter().chain(updated).map(String::as_str)) {
        notice.push_str(" Warning: ");
        notice.push_str(&warning);
        notice.push('.');
    }
    notice
}

/// Sets the HTTP status of the page being rendered.
pub(crate) fn set_status(code: u16) {
    #[cfg(feature = "ssr")]
    if let (Some(res), Ok(status)) = (
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        axum::http::StatusCode::from_u16(code),
    ) {
        res.set_status(status);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = code;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_appended_and_encoded() {
        assert_eq!(with_param("/a", "error", "x y&z"), "/a?error=x%20y%26z");
        assert_eq!(with_param("/a?b=1", "n", "é"), "/a?b=1&n=%C3%A9");
    }
}
