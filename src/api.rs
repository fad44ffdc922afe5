//! Server functions: what the pages and islands call. Each one works both from an
//! island (JSON answer) and from a plain HTML form with JavaScript off, in which case
//! it answers with a redirect back to the page carrying a notice or the errors.

pub mod auth;
pub mod deployments;
pub mod pull_secrets;
pub mod secrets;

pub use auth::*;
pub use deployments::*;
pub use pull_secrets::*;
pub use secrets::*;

/// Where a result goes when the request came from a plain HTML form: on success to the
/// page named by `ok`, on failure back to `back` with the error in the query string.
/// Requests from islands get the result itself.
#[cfg(feature = "ssr")]
pub(crate) fn finish<T>(
    result: Result<T, crate::error::AppError>,
    ok: impl FnOnce(&T) -> String,
    back: &str,
) -> Result<T, crate::error::AppError> {
    let from_form = leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|p| {
            p.headers
                .get(axum::http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.contains("text/html"))
        })
        .unwrap_or(false);
    if !from_form {
        // Give island callers a meaningful status too (server functions default to 500).
        if let (Err(e), Some(res)) = (
            &result,
            leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        ) {
            if let Ok(status) = axum::http::StatusCode::from_u16(e.status_code()) {
                res.set_status(status);
            }
        }
    } else {
        match &result {
            Ok(value) => leptos_axum::redirect(&ok(value)),
            Err(e) => {
                leptos_axum::redirect(&with_param(back, "error", &e.lines().join("\n")));
            }
        }
    }
    result
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

/// The page of a set.
pub fn set_url(set: &str) -> String {
    format!("/secrets/{set}")
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
    format!("Saved \"{set}\": {}.", parts.join("; "))
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
