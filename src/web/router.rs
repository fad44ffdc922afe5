//! The axum application: pages, server functions, the REST API, static files, and the
//! layers around them (session gate, security headers, compression).

use crate::app::{shell, App, CspNonce};
use crate::domain::auth::session_principal;
use crate::domain::state::AppState;
use crate::error::AppError;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::{CompressionLayer, CompressionLevel};

/// Largest request body any route accepts. The REST API reads at most
/// [`crate::web::rest::MAX_BODY_BYTES`] of it; forms are far smaller.
pub const MAX_REQUEST_BYTES: usize = crate::web::rest::MAX_BODY_BYTES + 64 * 1024;

/// Builds the whole application around `state`. Tests call this too.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    Router::new()
        .route("/", get(home_redirect))
        .route("/secrets", get(home_redirect))
        .route("/secrets/{*rest}", get(home_redirect))
        .route("/image-pull-secrets", get(home_redirect))
        .route("/deployments", get(home_redirect))
        .route("/deployments/{*rest}", get(home_redirect))
        .route("/new-deployment", get(home_redirect))
        .route("/healthz", get(healthz))
        .merge(crate::web::rest::routes())
        .leptos_routes_with_context(
            &state,
            routes,
            {
                let state = state.clone();
                move || {
                    provide_context(state.clone());
                    // One request asks "who is this, in which role" from the header and
                    // from the page; the answer is looked up once.
                    provide_context(crate::api::ViewerCache::default());
                }
            },
            move || shell(options.clone()),
        )
        // The built front end (WASM, JS, CSS) is the same bytes for everyone and fetched
        // once per browser: it is compressed at the default level. (The best level
        // would save 5 KB of the WASM's 191 KB gzip, but brotli's best took 1.2-1.4 s of
        // CPU per request for it, measured; precompressed files would give both.) Pages
        // and API answers are made per request, and compressing them at the default
        // level was 30% of a 100-key set page's CPU (a `perf` profile under wrk): they
        // get the fastest level (the outer layer leaves an encoded response alone).
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell).layer(CompressionLayer::new()))
        .layer(middleware::from_fn_with_state(state.clone(), session_gate))
        .layer(middleware::from_fn_with_state(state.clone(), same_origin_guard))
        // Server functions read their (already bounded) body through axum's default
        // limit, 2 MB unless told: the same bound as the gate's, so it never fails them.
        .layer(axum::extract::DefaultBodyLimit::max(SERVER_FN_MAX_BYTES))
        // No request body may be larger than this (413), whatever route it is for.
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_REQUEST_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), security_headers))
        .layer(CompressionLayer::new().quality(CompressionLevel::Fastest))
        .with_state(state)
}

/// Largest body a server function accepts: a whole set of values (1 MiB) as a form,
/// where percent-encoding can triple it, with room to spare.
pub const SERVER_FN_MAX_BYTES: usize = 4 * 1024 * 1024;

/// The server functions that work without a session: signing in and out, opening or
/// accepting an invitation (which may create the account) and claiming a new instance
/// with its setup link.
pub const PUBLIC_SERVER_FNS: &[&str] = &[
    "login",
    "logout",
    "invite_details",
    "accept_invite",
    "setup_open",
    "setup_instance",
];

/// Pages other than the login page need a session; without one the browser is sent to
/// the login page (and back afterwards). Server functions other than the public ones
/// need one too, checked here before their body is read, so no one who is not signed
/// in can make the server parse or validate anything. The REST API checks its bearer
/// token before reading a body; static files are public.
async fn session_gate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Some(name) = server_fn_name(req.uri().path()) {
        let public = PUBLIC_SERVER_FNS.contains(&name);
        return server_fn_gate(&state, req, next, public).await;
    }
    /// Whether `path` names a file of the built site, which anyone may fetch: the pkg
    /// dir (the WASM, JS and CSS), or a file that exists under the site root (the
    /// copied `public/` assets). Only a last segment with a `.` can name such a file,
    /// but not every such path does: `/orgs/acme/secrets/a.b` is a page.
    async fn is_site_file(options: &leptos::config::LeptosOptions, path: &str) -> bool {
        let pkg = options.site_pkg_dir.trim_matches('/');
        let in_pkg = !pkg.is_empty()
            && path
                .strip_prefix('/')
                .and_then(|p| p.strip_prefix(pkg))
                .is_some_and(|rest| rest.starts_with('/'));
        if in_pkg {
            return true;
        }
        let relative = path.trim_start_matches('/');
        let plain = relative.rsplit('/').next().is_some_and(|last| last.contains('.'))
            && relative.split('/').all(|segment| {
                !segment.is_empty() && segment != "." && segment != ".." && !segment.contains(['\\', '%'])
            });
        plain
            && tokio::fs::metadata(std::path::Path::new(&*options.site_root).join(relative))
                .await
                .is_ok_and(|m| m.is_file())
    }
    let path = req.uri().path();
    let is_page = req.method() == axum::http::Method::GET
        && !path.starts_with("/api/")
        && path != "/healthz"
        && !is_site_file(&state.leptos_options, path).await;
    if !is_page {
        return next.run(req).await;
    }
    let principal = session_principal(&state, req.headers()).await.ok().flatten();
    let signed_in = principal.is_some();
    let path = req.uri().path().to_owned();
    if let Some(p) = principal {
        // The page's server functions read the caller from here instead of asking the
        // database again (see `auth::caller`).
        req.extensions_mut().insert(p);
    }
    if path.starts_with("/invite/") || path == "/setup" {
        return next.run(req).await;
    }
    if path == "/login" {
        if signed_in {
            return Redirect::to("/secrets").into_response();
        }
        return next.run(req).await;
    }
    if !signed_in {
        let target = format!("/login?next={}", encode_component(&path));
        return Redirect::to(&target).into_response();
    }
    next.run(req).await
}

/// The endpoint name of a server function's URL (`/api/save_paste` → `save_paste`);
/// `None` for the REST API and everything else.
fn server_fn_name(path: &str) -> Option<&str> {
    path.strip_prefix("/api/").filter(|rest| !rest.starts_with("v1/"))
}

/// Resolves the session of a server function call before anything reads its body
/// (refusing the call without one unless `public`), then reads the body with a bound so
/// an over-long one answers 413 instead of failing inside the function.
async fn server_fn_gate(state: &AppState, mut req: Request, next: Next, public: bool) -> Response {
    match session_principal(state, req.headers()).await {
        Ok(Some(p)) => {
            // `auth::signed_in` reads it from here instead of asking the database again.
            req.extensions_mut().insert(p);
        }
        Ok(None) if public => {}
        Ok(None) => return refuse_server_fn(&req, AppError::Unauthorized),
        Err(e) => return refuse_server_fn(&req, e),
    }
    let too_large = || {
        AppError::TooLarge(format!(
            "the request is over {} MiB; nothing was read or changed",
            SERVER_FN_MAX_BYTES / (1024 * 1024)
        ))
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > SERVER_FN_MAX_BYTES) {
        return refuse_server_fn(&req, too_large());
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, SERVER_FN_MAX_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let req = Request::from_parts(parts, axum::body::Body::empty());
            return refuse_server_fn(&req, too_large());
        }
    };
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// A refused server function call: a plain form (JavaScript off) is sent to the login
/// page when it lacks a session; an island gets the error as server functions encode
/// it, with its status.
fn refuse_server_fn(req: &Request, e: AppError) -> Response {
    let from_form = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if from_form && e == AppError::Unauthorized {
        return Redirect::to("/login").into_response();
    }
    let status =
        axum::http::StatusCode::from_u16(e.status_code()).unwrap_or(axum::http::StatusCode::BAD_REQUEST);
    let body = serde_json::to_string(&e).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Cross-site request forgery: browsers attach cookies to requests that other sites'
/// pages make, so every state-changing request except the bearer-token REST API (which
/// never reads cookies) must come from a page of Cloakroom's own origin.
async fn same_origin_guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    use axum::http::Method;
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || req.uri().path().starts_with("/api/v1/") {
        return next.run(req).await;
    }
    match check_origin(&state, req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => {
            tracing::warn!(path = %req.uri().path(), "refused a cross-origin request");
            e.into_response()
        }
    }
}

/// `scheme://host[:port]` of a URL, lowercased.
fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    format!("{scheme}://{authority}").to_ascii_lowercase()
}

/// The origin browsers use for this server: the configured public URL, else the
/// request's own host (behind a trusted proxy, the host it forwarded).
fn expected_origin(state: &AppState, headers: &axum::http::HeaderMap) -> Option<String> {
    if let Some(url) = &state.config.public_url {
        return Some(origin_of(url));
    }
    let forwarded = state
        .config
        .trust_proxy
        .then(|| headers.get("x-forwarded-host"))
        .flatten();
    let host = forwarded.or_else(|| headers.get(header::HOST))?.to_str().ok()?;
    let scheme = if crate::domain::auth::is_secure(state, headers) {
        "https"
    } else {
        "http"
    };
    Some(origin_of(&format!("{scheme}://{host}")))
}

/// Accepts a request whose `Origin` (or, lacking one, `Referer`) is this server's.
pub fn check_origin(state: &AppState, headers: &axum::http::HeaderMap) -> Result<(), AppError> {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let sent = text(header::ORIGIN)
        .filter(|o| *o != "null")
        .map(origin_of)
        .or_else(|| text(header::REFERER).map(origin_of));
    let Some(sent) = sent else {
        return Err(AppError::Forbidden(
            "refused: the request has no Origin or Referer header, so it cannot be told apart from \
             one sent by another site; nothing was changed"
                .into(),
        ));
    };
    if expected_origin(state, headers).is_some_and(|e| e == sent) {
        return Ok(());
    }
    Err(AppError::Forbidden(
        "refused: the request came from a page of another origin; nothing was changed (behind a \
         proxy, set public_url to the address browsers use)"
            .into(),
    ))
}

/// Content-Security-Policy of a page: scripts only from this origin or carrying this
/// response's nonce (the hydration script), WebAssembly allowed, no inline styles.
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// Everything that is not a page (JSON, redirects, files) may load nothing at all.
const NON_PAGE_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn new_nonce() -> String {
    use base64::Engine;
    use rand::RngCore;
    // The thread's ChaCha CSPRNG (seeded from the OS): no system call per request.
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The short paths (`/`, `/secrets/…`, `/deployments/…`) lead to the same page of the
/// signed-in user's home organization (the session gate has made sure there is one).
async fn home_redirect(req: Request) -> Response {
    let Some(who) = req.extensions().get::<crate::domain::principal::Principal>() else {
        return Redirect::to("/login").into_response();
    };
    let path = match req.uri().path() {
        "/" => "/secrets",
        other => other,
    };
    let target = crate::api::org_url(&who.org.name, path);
    let target = match req.uri().query() {
        Some(q) => format!("{target}?{q}"),
        None => target,
    };
    Redirect::to(&target).into_response()
}

/// The URL of every server function the app registers (for tests that must cover them
/// all).
pub fn server_fn_paths() -> Vec<String> {
    let mut paths: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .collect();
    paths.sort();
    paths
}

/// For load balancers and process supervisors: 200 `ok` when the database answers.
async fn healthz(State(state): State<AppState>) -> Response {
    match state.check_database().await {
        Ok(_) => "ok".into_response(),
        Err(_) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "database unavailable",
        )
            .into_response(),
    }
}

/// Headers every answer gets (CSP with a fresh nonce on pages), and the end of the
/// one-shot message cookies: a page that was sent the flash or a revealed credential
/// shows it, and its response removes the cookie, so it is shown exactly once.
async fn security_headers(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    use crate::api::{FLASH_COOKIE, REVEAL_COOKIE};
    let is_static = req.uri().path().starts_with("/pkg/");
    let nonce = new_nonce();
    req.extensions_mut().insert(CspNonce(nonce.clone()));
    let page_view = req.method() == axum::http::Method::GET;
    let path = req.uri().path().to_owned();
    let clear = crate::domain::auth::clear_message_cookies(
        &state,
        req.headers(),
        &[(FLASH_COOKIE, "/"), (REVEAL_COOKIE, &path)],
    );
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    if !is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let is_html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html && page_view {
        for cookie in clear {
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                h.append(header::SET_COOKIE, v);
            }
        }
    }
    let csp = if is_html {
        HeaderValue::from_str(&page_csp(&nonce)).unwrap_or(HeaderValue::from_static(NON_PAGE_CSP))
    } else {
        HeaderValue::from_static(NON_PAGE_CSP)
    };
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    res
}

/// Percent-encodes a URL component (RFC 3986 unreserved characters pass through).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Serves `app` on `listener` with TCP_NODELAY on every connection (without it,
/// streamed pages stall ~40 ms on delayed ACKs) until ctrl-c or SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    // The peer address reaches handlers as ConnectInfo (sign-in rate limits use it).
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
