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

/// Cookie carrying the notice or errors to show once on the next page. Messages never
/// travel in URLs, where anyone could craft a link that makes our pages say anything.
pub const FLASH_COOKIE: &str = "cloakroom_flash";

/// A message for the next page: a notice, or the errors a form came back with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Flash {
    pub error: bool,
    pub lines: Vec<String>,
}

#[cfg(feature = "ssr")]
fn set_flash(flash: &Flash) {
    let Ok(json) = serde_json::to_string(flash) else {
        return;
    };
    let cookie = format!(
        "{FLASH_COOKIE}={}; Path=/; Max-Age=60; HttpOnly; SameSite=Strict",
        crate::validate::base64_encode(json.as_bytes())
    );
    if let (Some(res), Ok(v)) = (
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        axum::http::HeaderValue::from_str(&cookie),
    ) {
        res.append_header(axum::http::header::SET_COOKIE, v);
    }
}

/// The message left for this page view, if any; reading it clears it. Always `None`
/// in the browser (pages render on the server).
pub fn take_flash() -> Option<Flash> {
    #[cfg(feature = "ssr")]
    {
        let parts = leptos::prelude::use_context::<axum::http::request::Parts>()?;
        let raw = parts
            .headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, v)| *k == FLASH_COOKIE && !v.is_empty())
            .map(|(_, v)| v.to_owned())?;
        if let (Some(res), Ok(v)) = (
            leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
            axum::http::HeaderValue::from_str(&format!(
                "{FLASH_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
            )),
        ) {
            res.append_header(axum::http::header::SET_COOKIE, v);
        }
        let bytes = crate::validate::base64_decode(&raw)?;
        serde_json::from_slice(&bytes).ok()
    }
    #[cfg(not(feature = "ssr"))]
    None
}

/// Splits `?notice=…` off a local URL: (the URL without it, the decoded notice).
pub fn split_notice(url: &str) -> (String, Option<String>) {
    let Some((path, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let mut notice = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.strip_prefix("notice=") {
            Some(v) => {
                notice = Some(percent_decode(v));
                false
            }
            None => true,
        })
        .collect();
    if rest.is_empty() {
        (path.to_owned(), notice)
    } else {
        (format!("{path}?{}", rest.join("&")), notice)
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
    match result {
        Ok(mut outcome) => {
            let (clean, notice) = split_notice(&outcome.redirect);
            if let Some(notice) = notice {
                set_flash(&Flash {
                    error: false,
                    lines: vec![notice],
                });
            }
            outcome.redirect = clean;
            if from_form {
                leptos_axum::redirect(&outcome.redirect);
            }
            Ok(outcome)
        }
        Err(e) => {
            if from_form {
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
    fn a_notice_is_split_off_and_decoded() {
        let url = with_param("/secrets/a?x=1", "notice", "Saved \"a\": added K, L.");
        assert_eq!(
            split_notice(&url),
            ("/secrets/a?x=1".into(), Some("Saved \"a\": added K, L.".into()))
        );
        assert_eq!(split_notice("/s?notice=%C3%A9"), ("/s".into(), Some("é".into())));
        assert_eq!(split_notice("/s"), ("/s".into(), None));
    }

    #[test]
    fn params_are_appended_and_encoded() {
        assert_eq!(with_param("/a", "error", "x y&z"), "/a?error=x%20y%26z");
        assert_eq!(with_param("/a?b=1", "n", "é"), "/a?b=1&n=%C3%A9");
    }
}
