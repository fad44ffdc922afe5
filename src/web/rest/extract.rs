//! What every route reads from a request: the caller in the path's organization, a JSON
//! body within the route's size limit, the query, `If-Match`; and what several answer
//! with (`ETag`). Refusals are [`AppError`]s, so they answer `{"error","details"}`.

use crate::domain::auth::bearer_principal;
use crate::domain::principal::Principal;
use crate::domain::secrets::off_workers;
use crate::domain::state::AppState;
use crate::error::AppError;
use crate::validate::FieldError;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;

/// The body limit of a small JSON request (a name, a role, a few fields).
pub const SMALL_BODY_BYTES: usize = 64 * 1024;

/// The caller of a route under `/api/v1/orgs/{org}`: the bearer token's principal,
/// which must belong to that organization. Another organization answers 404, exactly
/// like a missing one. Only the token is checked here: a route checks the role itself,
/// before it reads a body.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let who = bearer_principal(state, &parts.headers).await?;
        let org = RawPathParams::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|params| {
                params
                    .iter()
                    .find(|(name, _)| *name == "org")
                    .map(|(_, value)| value.to_owned())
            })
            .unwrap_or_default();
        if who.org.name != org {
            return Err(AppError::NotFound(format!("organization \"{org}\" not found")));
        }
        Ok(Caller(who))
    }
}

/// A request type's example, shown when its JSON cannot be read.
pub trait JsonExample {
    const EXAMPLE: &'static str;
}

/// A JSON body of at most `LIMIT` bytes, read only when the route asks for it
/// ([`JsonBody::read`]): a route checks the caller's role first, so no one who may not
/// make the change can make the server read or parse a large body. A body without a
/// `Content-Type` is taken as JSON; another type than JSON is refused.
pub struct JsonBody<T, const LIMIT: usize = SMALL_BODY_BYTES> {
    body: RawBody<LIMIT>,
    _type: PhantomData<fn() -> T>,
}

impl<S: Send + Sync, T, const LIMIT: usize> FromRequest<S> for JsonBody<T, LIMIT> {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            body: RawBody::from_request(req, state).await?,
            _type: PhantomData,
        })
    }
}

impl<T: DeserializeOwned + JsonExample + Send + 'static, const LIMIT: usize> JsonBody<T, LIMIT> {
    /// The body as `T`; a large one is parsed off the async workers.
    pub async fn read(self) -> Result<T, AppError> {
        let bytes = self.json_bytes().await?;
        if bytes.len() <= SMALL_BODY_BYTES {
            return parse_json(&bytes, T::EXAMPLE);
        }
        off_workers(move || parse_json(&bytes, T::EXAMPLE)).await
    }

    /// The body as `T`, or `T::default()` for an empty (or blank) body.
    pub async fn read_or_default(self) -> Result<T, AppError>
    where
        T: Default,
    {
        let bytes = self.json_bytes().await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        parse_json(&bytes, T::EXAMPLE)
    }

    async fn json_bytes(self) -> Result<Bytes, AppError> {
        if !self.body.is_json() {
            return Err(AppError::validation(FieldError {
                field: "content-type".into(),
                message: "send application/json".into(),
            }));
        }
        self.body.bytes().await
    }
}

/// A request body of at most `LIMIT` bytes in whatever type it declares, read only when
/// the route asks for it (after its role check).
pub struct RawBody<const LIMIT: usize> {
    body: Body,
    content_type: Option<String>,
}

impl<S: Send + Sync, const LIMIT: usize> FromRequest<S> for RawBody<LIMIT> {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Self {
            body: req.into_body(),
            content_type,
        })
    }
}

impl<const LIMIT: usize> RawBody<LIMIT> {
    /// The declared media type; a body without one is taken as JSON.
    pub fn content_type(&self) -> &str {
        self.content_type.as_deref().unwrap_or("application/json")
    }

    pub fn is_json(&self) -> bool {
        self.content_type().starts_with("application/json")
    }

    /// The bytes; over `LIMIT` answers 413.
    pub async fn bytes(self) -> Result<Bytes, AppError> {
        axum::body::to_bytes(self.body, LIMIT)
            .await
            .map_err(|_| AppError::TooLarge(format!("the request body is over {LIMIT} bytes")))
    }
}

/// The query string as `T`; a refusal is a 400 like any other invalid input.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| {
                AppError::validation(FieldError {
                    field: "query".into(),
                    message: format!("the query string is not valid: {}", e.body_text()),
                })
            })
    }
}

/// `If-Match: <revision>` (bare or as an ETag, `"3"`); `*` or no header: any revision.
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, AppError> {
    let Some(raw) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = raw.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text.trim_start_matches("W/").trim_matches('"');
    bare.parse::<i64>().map(Some).map_err(|_| {
        AppError::validation(FieldError {
            field: "if-match".into(),
            message: format!("If-Match must be a set revision such as \"3\", not {text:?}"),
        })
    })
}

/// `res` with `ETag: "<revision>"`.
pub fn with_etag(revision: i64, mut res: Response) -> Response {
    if let Ok(v) = header::HeaderValue::from_str(&format!("\"{revision}\"")) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// `bytes` as JSON; a refusal says where the problem is and shows `example`, never
/// quoting the input.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8], example: &str) -> Result<T, AppError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let at = format!("(problem at line {}, column {})", e.line(), e.column());
        json_refusal(&e, &format!("the body must be JSON like {example} {at}"))
    })
}

/// A body serde refused: `what` (saying where the problem is), and for a field the body
/// may not have, that field's name (a name, never a value; a long or odd one is not
/// quoted).
pub fn json_refusal(e: &serde_json::Error, what: &str) -> AppError {
    let unknown = e
        .to_string()
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_owned());
    AppError::validation(match unknown {
        Some(name) if name.len() <= 64 && name.chars().all(|c| c.is_ascii_graphic()) => FieldError {
            message: format!("unknown field \"{name}\": {what}"),
            field: name,
        },
        Some(_) => FieldError {
            field: "body".into(),
            message: format!("unknown field: {what}"),
        },
        None => FieldError {
            field: "body".into(),
            message: what.to_owned(),
        },
    })
}
