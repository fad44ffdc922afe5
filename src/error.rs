//! The one error type of the app. Server functions and the REST layer both return it;
//! its messages are safe to show (they never contain secret values or database text).

use crate::validate::{FieldError, ProblemList};
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// Everything that can go wrong in a request, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Input broke one or more rules; each entry names the key/line and the rule (at
    /// most a capped number of them: see [`ProblemList`]).
    #[error("{}", summarize(.0))]
    Validation(ProblemList),
    /// The object does not exist (or belongs to another organization).
    #[error("{0}")]
    NotFound(String),
    /// The object already exists or changed under us.
    #[error("{0}")]
    Conflict(String),
    /// The writer demanded a revision the set has moved past.
    #[error("{0}")]
    Stale(String),
    /// No valid session or token.
    #[error("sign in to continue")]
    Unauthorized,
    /// Wrong email or password (deliberately vague).
    #[error("wrong email or password")]
    BadCredentials,
    /// Too many failed sign-ins; the number is how many seconds to wait.
    #[error("too many failed sign-ins; try again in {0} seconds")]
    RateLimited(u64),
    /// Too many lookups that say whether a value is right; seconds to wait.
    #[error("too many value checks (at most 10 a minute, each an attempt at guessing a value); try again in {0} seconds")]
    LookupLimited(u64),
    /// The server is too busy for this now (its queue of password checks is full);
    /// seconds to wait.
    #[error("the server is busy checking other sign-ins; try again in {0} seconds")]
    Busy(u64),
    /// An organization or account is over a quota (history kept, versions a day, writes
    /// a minute); the message names the setting and what to do.
    #[error("{0}")]
    Quota(String),
    /// The request came from a page of another site (cross-site request forgery).
    #[error("{0}")]
    Forbidden(String),
    /// The request or the resulting set is over a size limit.
    #[error("{0}")]
    TooLarge(String),
    /// Something failed on the server; the cause is in the server log only.
    #[error("something went wrong on the server; the change was not made")]
    Internal,
    /// The request never reached the server function, or its answer could not be read.
    #[error("{0}")]
    Transport(String),
}

fn summarize(errors: &[FieldError]) -> String {
    match errors {
        [] => "invalid input".to_string(),
        [one] => one.message.clone(),
        many => format!(
            "{} problems: {}",
            many.len(),
            many.iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

impl AppError {
    /// The HTTP status this error answers with, for REST and for pages.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::Validation(_) => 400,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::Stale(_) => 412,
            AppError::Unauthorized | AppError::BadCredentials => 401,
            AppError::TooLarge(_) => 413,
            AppError::RateLimited(_) | AppError::LookupLimited(_) | AppError::Quota(_) => 429,
            AppError::Forbidden(_) => 403,
            AppError::Internal => 500,
            AppError::Busy(_) => 503,
            AppError::Transport(_) => 502,
        }
    }

    /// The individual problems, for lists under a form.
    pub fn details(&self) -> Vec<String> {
        match self {
            AppError::Validation(errors) => errors.iter().map(|e| e.message.clone()).collect(),
            _ => Vec::new(),
        }
    }

    /// What to show under a form: each problem of a validation error, else the message.
    pub fn lines(&self) -> Vec<String> {
        match self {
            AppError::Validation(errors) if errors.len() > 1 => self.details(),
            _ => vec![self.to_string()],
        }
    }

    pub fn validation(error: FieldError) -> Self {
        AppError::Validation(error.into())
    }
}

/// The payload of a serialized [`AppError`] variant, as the browser reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorPayload {
    /// A variant without data (`"Unauthorized"`).
    None,
    Text(String),
    Number(u64),
    /// A validation error's problems, in order.
    Problems(Vec<FieldError>),
}

impl AppError {
    /// Rebuilds an error from the two parts of its JSON form (`{"NotFound": "…"}`,
    /// `"Internal"`): the variant's name and its payload. Islands read server function
    /// answers with the browser's own JSON parser and this, so the WASM carries no JSON
    /// deserializer. `None` for a shape no version of the server sends.
    pub fn from_parts(variant: &str, payload: ErrorPayload) -> Option<AppError> {
        use ErrorPayload as P;
        Some(match (variant, payload) {
            ("Validation", P::Problems(p)) => AppError::Validation(p.into()),
            ("NotFound", P::Text(t)) => AppError::NotFound(t),
            ("Conflict", P::Text(t)) => AppError::Conflict(t),
            ("Stale", P::Text(t)) => AppError::Stale(t),
            ("Forbidden", P::Text(t)) => AppError::Forbidden(t),
            ("TooLarge", P::Text(t)) => AppError::TooLarge(t),
            ("Transport", P::Text(t)) => AppError::Transport(t),
            ("RateLimited", P::Number(n)) => AppError::RateLimited(n),
            ("LookupLimited", P::Number(n)) => AppError::LookupLimited(n),
            ("Quota", P::Text(t)) => AppError::Quota(t),
            ("Busy", P::Number(n)) => AppError::Busy(n),
            ("Unauthorized", P::None) => AppError::Unauthorized,
            ("BadCredentials", P::None) => AppError::BadCredentials,
            ("Internal", P::None) => AppError::Internal,
            _ => return None,
        })
    }
}

impl From<Vec<FieldError>> for AppError {
    /// Keeps at most [`crate::validate::MAX_REPORTED_ERRORS`] problems (and a count of
    /// the rest), whatever produced the list.
    fn from(errors: Vec<FieldError>) -> Self {
        AppError::Validation(errors.into())
    }
}

impl From<FieldError> for AppError {
    fn from(error: FieldError) -> Self {
        AppError::Validation(error.into())
    }
}

impl From<crate::validate::Problems> for AppError {
    fn from(problems: crate::validate::Problems) -> Self {
        AppError::Validation(problems.into())
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<rusqlite::Error> for AppError {
    fn from(e: rusqlite::Error) -> Self {
        tracing::error!(error = %e, "database error");
        AppError::Internal
    }
}

#[cfg(feature = "ssr")]
impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        tracing::error!(error = %e, "background task failed");
        AppError::Internal
    }
}

// The messages a missing or taken resource answers, named once for every floor.

/// A secret set that does not exist (or was deleted).
pub fn set_not_found(set: &str) -> AppError {
    AppError::NotFound(format!("secret set \"{set}\" not found"))
}

/// An image pull secret name already taken.
pub fn pull_secret_exists(name: &str) -> AppError {
    AppError::Conflict(format!(
        "image pull secret \"{name}\" already exists, and pull secrets cannot be changed: \
         delete it and create it again (the dashboard's Replace does both in one step)"
    ))
}

/// An organization name already taken.
pub fn org_exists(name: &str) -> AppError {
    AppError::Conflict(format!(
        "an organization named \"{name}\" already exists; choose another name"
    ))
}

/// An invitation link that cannot be accepted (any reason answers alike).
pub fn invite_gone() -> AppError {
    AppError::NotFound("this invitation link was already used, has expired or does not exist".into())
}

/// A version of a set that retention removed or that never existed.
pub fn version_not_kept(set: &str, version: i64) -> AppError {
    AppError::NotFound(format!(
        "version {version} of secret set \"{set}\" is not kept (it never existed or retention removed it)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the browser does with the JSON (`error_from_js` in `components.rs`, which
    /// walks the browser's parse and cannot run here), done on serde_json's reading of
    /// it with the same rules: one key, whole numbers, every problem with both texts.
    fn rebuild(json: &serde_json::Value) -> Option<AppError> {
        use serde_json::Value;
        let (variant, payload) = match json {
            Value::String(v) => (v.as_str(), ErrorPayload::None),
            Value::Object(o) if o.len() == 1 => {
                let (k, v) = o.iter().next()?;
                let payload = match v {
                    Value::String(t) => ErrorPayload::Text(t.clone()),
                    Value::Number(n) => ErrorPayload::Number(n.as_u64()?),
                    Value::Array(items) => ErrorPayload::Problems(
                        items
                            .iter()
                            .map(|i| {
                                Some(FieldError {
                                    field: i["field"].as_str()?.to_owned(),
                                    message: i["message"].as_str()?.to_owned(),
                                })
                            })
                            .collect::<Option<Vec<_>>>()?,
                    ),
                    _ => return None,
                };
                (k.as_str(), payload)
            }
            _ => return None,
        };
        AppError::from_parts(variant, payload)
    }

    #[test]
    fn every_variant_is_rebuilt_from_its_json_parts() {
        let problems = vec![
            FieldError {
                field: "key \"A B\"".into(),
                message: "key \"A B\" has a space".into(),
            },
            FieldError {
                field: "line 2".into(),
                message: "line 2 has no \"=\"".into(),
            },
        ];
        let all = [
            AppError::Validation(problems.into()),
            AppError::Validation(Vec::new().into()),
            AppError::NotFound("no set \"x\"".into()),
            AppError::Conflict("exists".into()),
            AppError::Stale("moved on".into()),
            AppError::Unauthorized,
            AppError::BadCredentials,
            AppError::RateLimited(30),
            AppError::LookupLimited(7),
            AppError::Quota("over".into()),
            AppError::Busy(1),
            AppError::Forbidden("cross-site".into()),
            AppError::TooLarge("too big".into()),
            AppError::Internal,
            AppError::Transport("down".into()),
        ];
        for e in all {
            let json = serde_json::to_value(&e).unwrap();
            assert_eq!(rebuild(&json).as_ref(), Some(&e), "{json}");
        }
        assert_eq!(AppError::from_parts("NotFound", ErrorPayload::Number(1)), None);
        assert_eq!(AppError::from_parts("Gone", ErrorPayload::None), None);
    }
}
