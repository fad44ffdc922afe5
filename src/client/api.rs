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
/// or plain http to this very machine (127.0.0.0/8, ::1, `localhost`).
pub fn is_private_transport(server: &str) -> bool {
    // The host exactly as the HTTP client will connect to it: the same URL parser, so
    // `\\` in the authority ends the host the way a `/` would, userinfo is not the host,
    // and `0x7f000001` or `127.1` are the address 127.0.0.1 they connect to.
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

/// A server the client may send a token to: a normalized http(s) URL that is https or
/// on this machine, unless the user said the network is trusted (`--insecure`). The
/// only way to an [`Api`], so no command can skip the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server(String);

impl Server {
    pub fn parse(raw: &str, insecure: bool) -> Result<Self, Failure> {
        let url = normalize_server(raw)?;
        if !insecure && !is_private_transport(&url) {
            return Err(Failure::usage(format!(
                "refusing to talk to {url} over plain http: the token and secret values would \
                 cross the network unencrypted; use https:// (or add --insecure if the network \
                 between here and there is trusted)"
            )));
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Api {
    pub fn new(server: &Server, token: &str) -> Result<Self, Failure> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("cloakroom-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .map_err(|e| Failure::new(exit::SERVER, format!("could not set up HTTP: {e}")))?;
        Ok(Self {
            http,
            base: server.as_str().to_owned(),
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
        for bad in [
            "s.example.com",
            "ftp://x",
            "https://",
            "http://a b",
            "http://x/?q",
            "http://x#f",
        ] {
            assert_eq!(
                normalize_server(bad).map_err(|f| f.code),
                Err(exit::USAGE),
                "{bad}"
            );
            assert!(Server::parse(bad, true).is_err(), "{bad}");
        }
    }

    /// Which servers get a token without `--insecure`: https anywhere, plain http only
    /// to this machine, judged on the host the HTTP client will really connect to.
    /// Nothing here connects anywhere.
    #[test]
    fn plain_http_is_refused_unless_the_host_is_this_machine() {
        for (url, allowed) in [
            // https anywhere.
            ("https://example.com", true),
            ("https://secrets.example.com:8443/base", true),
            ("https://10.0.0.1", true),
            // Loopback: 127.0.0.0/8, ::1, localhost.
            ("http://127.0.0.1:3000", true),
            ("http://127.0.0.2", true),
            ("http://127.8.9.10", true),
            ("http://127.255.255.254:1", true),
            ("http://localhost:3000", true),
            ("http://LOCALHOST", true),
            ("http://[::1]:3000", true),
            ("http://[0:0:0:0:0:0:0:1]", true),
            ("http://127.0.0.1:3000/base/", true),
            // Other spellings of 127.0.0.1 that the URL parser (the HTTP client's own)
            // turns into 127.0.0.1 itself, which is where the request goes.
            ("http://0x7f000001", true),
            ("http://2130706433", true),
            ("http://127.1", true),
            ("http://0177.0.0.1", true),
            // Other machines over plain http.
            ("http://10.0.0.1", false),
            ("http://10.0.0.5:3000", false),
            ("http://192.168.1.10", false),
            ("http://example.com", false),
            ("http://secrets.example.com", false),
            ("http://0.0.0.0:3000", false),
            ("http://[::]:3000", false),
            ("http://[::ffff:127.0.0.1]", false),
            ("http://[::ffff:10.0.0.1]", false),
            ("http://128.0.0.1", false),
            ("http://0x0a000001", false),
            // Names that only start or end like loopback.
            ("http://localhost.", false),
            ("http://localhost.evil.example", false),
            ("http://localhost.evil.com:3000", false),
            ("http://127.0.0.1.evil.com", false),
            ("http://127.0.0.1.nip.io", false),
            ("http://evil-127.0.0.1.com", false),
            // Userinfo is not the host.
            ("http://127.0.0.1@evil.com", false),
            ("http://localhost@evil.com", false),
            ("http://localhost:3000@evil.com", false),
            ("http://user@127.0.0.1@evil.example", false),
            ("http://127.0.0.1:80@evil.com:80", false),
            ("http://[::1]@evil.com", false),
            // A backslash ends the host like a slash, for the URL parser and the client.
            ("http://evil.example\\@localhost", false),
            ("http://evil.example\\@127.0.0.1:3000", false),
        ] {
            let checked = normalize_server(url).map(|u| is_private_transport(&u));
            assert_eq!(checked, Ok(allowed), "{url}");
            let server = Server::parse(url, false);
            assert_eq!(server.is_ok(), allowed, "{url}");
            if let Err(refused) = server {
                assert_eq!(refused.code, exit::USAGE, "{url}");
                assert!(
                    refused.message.contains("use https://") && refused.message.contains("--insecure"),
                    "{url}: {}",
                    refused.message
                );
            }
            // Told the network is trusted, any well-formed URL is used as given.
            let trusted = Server::parse(url, true).map(|s| s.as_str().to_owned());
            assert_eq!(trusted, normalize_server(url), "{url}");
        }
    }
}
