//! gigamcp: a multi-workspace MCP server over Streamable HTTP with its own OAuth 2.1
//! authorization server.
//!
//! # Layout
//! - [`config`]: the public origin and every URL derived from it (issuer, MCP URLs, PRM URLs).
//! - [`clock`]: time as a dependency, so tests move it by hand.
//! - [`error`]: the one place errors become HTTP responses.
//! - [`secrets`], [`names`]: ground floor: CSPRNG secrets and hashing; slug, username and scope
//!   syntax.
//! - [`store`]: persistence (SQLite by default, PostgreSQL), one module per aggregate.
//! - [`auth`]: the resource-server half of OAuth: bearer validation, PRM, passwords, PATs.
//! - [`oauth`]: the authorization server: metadata, registration, authorize, token, revoke.
//! - [`mcp`]: the MCP endpoint: transport, version negotiation, sessions, dispatch, tools.
//! - [`knowledge`]: connectors (wiki, GitHub), chunking, the search index.
//! - [`web`]: HTML pages: login, consent, connected apps, workspace dashboard, docs.
//! - [`limits`]: size limits on fields that are stored or logged.
//! - [`net`]: the client address behind trusted proxies, request ids, and which addresses
//!   outbound fetches may dial (`net::outbound`: CIMD, GitHub connector).
//! - [`ops`]: health, readiness, Prometheus metrics.
//! - [`changes`]: PostgreSQL `LISTEN`/`NOTIFY` between replicas (wakes the pollers).
//! - [`cli`]: the `gigamcp` command line (serve, admin).
//! - [`tls`]: HTTPS in the binary: certificate files reloaded in place, or ACME (TLS-ALPN-01).
//! - [`fsperm`]: the data directory and database files, readable by the service user only.
pub mod auth;
pub mod changes;
pub mod cli;
pub mod clock;
pub mod config;
pub mod error;
pub mod fsperm;
pub mod knowledge;
pub mod limits;
pub mod mcp;
pub mod names;
pub mod net;
pub mod oauth;
pub mod ops;
pub mod secrets;
pub mod state;
pub mod store;
pub mod tls;
pub mod web;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tracing::Instrument;

pub use config::{Config, KnowledgeIndex};
pub use state::AppState;
pub use store::Store;

impl AppState {
    /// Builds the state: loads the knowledge index from the store.
    pub async fn new(
        config: Config,
        store: Store,
        clock: clock::SharedClock,
    ) -> anyhow::Result<Self> {
        let epoch = store.auth_epoch().await?;
        let sessions =
            mcp::session::SessionStore::new(store.clone(), store.last_session_end().await?);
        let knowledge = knowledge::KnowledgeBase::open(&config, &store).await?;
        Ok(Self::from_parts(state::Parts {
            tokens: Arc::new(auth::validator::TokenValidator::new(
                config.token_cache_ttl,
                epoch,
            )),
            knowledge: Arc::new(knowledge),
            mcp: Arc::new(mcp::state::McpState::new(
                mcp::dispatch::tool_list_results(),
                sessions,
            )),
            oauth: Arc::new(oauth::state::OAuthState::new(&config)),
            ops: Arc::new(ops::state::OpsState::default()),
            config: Arc::new(config),
            store,
            clock,
        }))
    }

    /// Starts background tasks (revocation epoch poller, knowledge refresher, retention). Call
    /// once per process.
    pub fn spawn_background(&self) {
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.spawn_checkpointer().await {
                tracing::warn!(error = %e, "starting the WAL checkpointer; SQLite checkpoints on commit");
            }
        });
        auth::bearer::spawn_epoch_poller(self.clone());
        changes::spawn_listener(self);
        let clock = self.clock.clone();
        tokio::spawn(mcp::session::SessionStore::follow(
            Arc::downgrade(&self.mcp.sessions),
            std::time::Duration::from_millis(self.config.auth_epoch_poll_ms.max(50)),
            move || clock.now(),
        ));
        oauth::audit::spawn_pruner(self.clone());
        self.knowledge.spawn_refresher();
    }
}

/// The whole HTTP surface: the single seam tests and `serve` use.
pub fn app(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .merge(auth::prm::routes())
        .merge(mcp::routes())
        .merge(oauth::http::routes())
        .merge(web::routes::routes())
        .merge(ops::routes::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            tower::ServiceBuilder::new()
                .layer(middleware::from_fn_with_state(state.clone(), edge))
                .layer(axum::extract::DefaultBodyLimit::max(limit)),
        )
        .with_state(state)
}

async fn not_found() -> error::AppError {
    error::OAuthError::not_found("no such endpoint").into()
}

async fn method_not_allowed() -> error::AppError {
    error::OAuthError::new("method_not_allowed", "method not allowed on this endpoint").into()
}

fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/")
        || path.starts_with("/.well-known/")
        || path.ends_with("/mcp")
        || path.ends_with("/mcp/")
}

/// Every request's edge, as one middleware (one boxed future and one clone of the route's stack
/// per request, where five layers cost five of each: 12 % of a cached call), in this order from
/// the outside in: client address and request id (`net`), the `request` span, the HTTP metrics,
/// the request log line, the security headers, and JSON error bodies on API paths.
async fn edge(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let id = net::begin(&state, &mut req);
    let span = tracing::info_span!("request", request_id = %id.to_str().unwrap_or_default());
    let mut resp = handle(req, next).instrument(span).await;
    net::finish(&mut resp, id);
    resp
}

async fn handle(req: Request, next: Next) -> Response {
    let labels = ops::metrics::HttpLabels::of(&req);
    let method = req.method().clone();
    // The URI shares its buffer (a reference count, no copy); the path is clipped for the log
    // line only when that line is written.
    let uri = req.uri().clone();
    let api = is_api_path(uri.path());
    let authorize = uri.path() == "/api/oauth/server/authorize";
    let start = std::time::Instant::now();
    let resp = next.run(req).await;
    let mut resp = json_error_body(api, authorize, resp).await;
    security_headers(&mut resp);
    let (status, took) = (resp.status().as_u16(), start.elapsed());
    log_request(&method, uri.path(), status, took);
    if let Some(l) = labels {
        l.record(status, took);
    }
    resp
}

/// Safety net: an error response on an API path that is not JSON (an extractor's plain-text
/// rejection, a body-limit 413) is rendered again by `error.rs` as a JSON error with the same
/// status, so API clients never get HTML/text.
async fn json_error_body(api: bool, authorize: bool, resp: Response) -> Response {
    let status = resp.status();
    if !api || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // The authorization endpoint is the one API path a person's browser visits; its deliberate
    // error pages (unknown client, unregistered redirect URI: never redirected) stay HTML.
    let browser_page = authorize && content_type.starts_with("text/html");
    if content_type.starts_with("application/json") || browser_page {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let rejection = error::OAuthError::from_rejection(status, &String::from_utf8_lossy(&text));
    let mut out = error::AppError::from(rejection).into_response();
    for (k, v) in parts.headers.iter() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

/// One log line per request: method, path (never the query string, which may carry codes or a
/// misplaced token), status and latency. The path is clipped (`limits::clip`) inside each
/// macro, so only when the line is written.
fn log_request(method: &Method, raw_path: &str, status: u16, took: std::time::Duration) {
    let ms = took.as_secs_f64() * 1000.0;
    let probe = matches!(
        raw_path,
        ops::routes::HEALTH_PATH | ops::routes::READY_PATH | ops::routes::METRICS_PATH
    );
    let path = || limits::clip(raw_path, limits::MAX_LOGGED_FIELD);
    if probe && status < 500 {
        tracing::debug!(%method, path = %path(), status, ms, "request");
    } else if status >= 500 {
        tracing::warn!(%method, path = %path(), status, ms, "request");
    } else {
        tracing::info!(%method, path = %path(), status, ms, "request");
    }
}

fn security_headers(resp: &mut Response) {
    error::default_retry_after(resp);
    let h = resp.headers_mut();
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
}
