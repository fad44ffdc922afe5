//! One HTTP client for REST API v1: bearer token, JSON in and out, and every answer
//! that is not a success turned into a [`Failure`] with the server's own message.

use super::{exit, Failure};
use crate::rest_types::ErrorBody;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use zeroize::Zeroizing;

pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Zeroizing<String>,
}

/// The server's base URL without a trailing slash; only http and https.
pub fn normalize_server(raw: &str) -> Result<String, Failure> {
    let url = raw.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            Failure::usage(format!(
                "the server must be an http:// or https:// URL, not {url:?}"
            ))
        })?;
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(Failure::usage(format!("{url:?} is not a server URL")));
    }
    Ok(url.to_owned())
}

/// Whether requests to `server` (a normalized URL) cannot be read on the way: https,
/// or plain http to this very machine.
pub fn is_private_transport(server: &str) -> bool {
    // The host exactly as the HTTP client will connect to it (a `\\` in the authority,
    // for one, ends the host the way a `/` would).
    let Ok(url) = reqwest::Url::parse(server) else {
        return false;
    };
    let host = url.host_str().unwrap_or("");
    match url.scheme() {
        "https" => !host.is_empty(),
        "http" => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host.eq_ignore_ascii_case("localhost")
                || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

impl Api {
    pub fn new(server: &str, token: &str) -> Result<Self, Failure> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("cloakroom-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .map_err(|e| Failure::new(exit::SERVER, format!("could not set up HTTP: {e}")))?;
        Ok(Self {
            http,
            base: normalize_server(server)?,
            token: Zeroizing::new(token.trim().to_owned()),
        })
    }

    pub fn server(&self) -> &str {
        &self.base
    }

    /// Sends one request (`body` as JSON); `if_match` pins the set revision the caller
    /// previewed. The answer's bytes, or the server's own refusal as a [`Failure`].
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        if_match: Option<i64>,
    ) -> Result<bytes::Bytes, Failure> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token.as_str());
        if let Some(body) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        if let Some(rev) = if_match {
            req = req.header(reqwest::header::IF_MATCH, format!("\"{rev}\""));
        }
        let res = req.send().await.map_err(|e| self.unreachable(&e))?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(|e| self.unreachable(&e))?;
        if status.is_success() {
            return Ok(bytes);
        }
        let message = serde_json::from_slice::<ErrorBody>(&bytes)
            .map(|e| e.error)
            .unwrap_or_else(|_| format!("{} answered {status}", self.base));
        let message = match status.as_u16() {
            401 => format!("{message}: the server did not accept the token (run `cloakroom login`, or check CLOAKROOM_TOKEN)"),
            _ => message,
        };
        Err(Failure::new(Failure::code_for_status(status.as_u16()), message))
    }

    /// Sends `body` (if any) and reads the answer as `T`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
        if_match: Option<i64>,
    ) -> Result<T, Failure> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| Failure::new(exit::SERVER, format!("could not encode the request: {e}")))?;
        let bytes = self.send(method, path, body, if_match).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Failure::new(
                exit::SERVER,
                format!(
                    "{} gave an answer to {path} this client does not understand: {e}",
                    self.base
                ),
            )
        })
    }

    /// A request whose answer has no body (a deletion).
    pub async fn call_empty(&self, method: Method, path: &str, if_match: Option<i64>) -> Result<(), Failure> {
        self.send(method, path, None, if_match).await.map(drop)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
        self.call(Method::GET, path, None::<&()>, None).await
    }

    /// A GET where "not found" is an answer, not a failure.
    pub async fn get_opt<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, Failure> {
        match self.get(path).await {
            Ok(v) => Ok(Some(v)),
            Err(f) if f.code == exit::NOT_FOUND => Ok(None),
            Err(f) => Err(f),
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> Failure {
        // The innermost cause says what happened ("Connection refused", a TLS problem).
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        let what = if e.is_timeout() {
            "timed out".to_owned()
        } else {
            cause.to_string()
        };
        Failure::new(exit::SERVER, format!("could not reach {}: {what}", self.base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_checked_and_trimmed() {
        assert_eq!(
            normalize_server("https://s.example.com/").as_deref(),
            Ok("https://s.example.com")
        );
        assert_eq!(
            normalize_server(" http://127.0.0.1:3000 ").as_deref(),
            Ok("http://127.0.0.1:3000")
        );
        for (url, private) in [
            ("https://secrets.example.com", true),
            ("http://127.0.0.1:3000", true),
            ("http://127.8.9.10", true),
            ("http://localhost:3000", true),
            ("http://[::1]:3000", true),
            ("http://secrets.example.com", false),
            ("http://10.0.0.5:3000", false),
            ("http://localhost.evil.example", false),
            ("http://127.0.0.1.evil.example", false),
            ("http://user@127.0.0.1@evil.example", false),
            ("http://evil.example\\@localhost", false),
            ("http://evil.example\\@127.0.0.1:3000", false),
        ] {
            assert_eq!(is_private_transport(url), private, "{url}");
        }
        for bad in ["s.example.com", "ftp://x", "https://", "http://a b"] {
            assert_eq!(
                normalize_server(bad).map_err(|f| f.code),
                Err(exit::USAGE),
                "{bad}"
            );
        }
    }
}
