//! Every request's way in: [`App`], the service `serve` runs and tests call, and the edge every
//! request passes: client address and request id (`net`), the `request` span, the HTTP metrics,
//! the request log line, the security headers (HSTS too when the public URL is https), and JSON
//! error bodies on API paths.
//!
//! [`App`] has two lanes. **The MCP lane** takes `POST /t/{slug}/mcp`, the call every MCP client
//! makes for every message, straight to the MCP handler (`mcp::transport::post_to`) through the
//! edge. **The router** ([`router`]) takes everything else; its routes carry the same edge
//! as one layer. The lane is a shortcut, never a second meaning: it takes only a request the
//! router would route to that same handler with the same slug (method `POST`, path
//! `/t/<segment>/mcp`, the segment non-empty and made of unreserved characters, so there is no
//! percent-encoding to decode), and answers it exactly as the router would
//! (`the_mcp_lane_answers_as_the_router_does` compares the two). What the lane skips is the
//! router's per-request machinery, which was most of the allocations of a `ping` (the route's
//! boxed service clones and futures, the matched path and URL parameters as request extensions,
//! the connect info as one more): 44 allocations a `ping` with it, 27 without, 21 with the trims
//! that followed (the twenty-first round in `docs/performance.md`).
use crate::ops::metrics::HttpLabels;
use crate::state::AppState;
use crate::{error, limits, mcp, net, ops};
use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use axum::serve::{IncomingStream, Listener};
use futures::future::Either;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::Service;
use tracing::Instrument;

/// The route template of the MCP lane (its metrics label, as the router's matched path).
pub const MCP_ROUTE: &str = "/t/{slug}/mcp";

/// The whole HTTP surface as one service: the MCP lane and the router (see the module docs).
/// Clone it per connection with [`App::with_peer`] (what [`App::into_make_service`] does).
#[derive(Clone)]
pub struct App {
    state: AppState,
    router: Router,
    /// The connection's peer, when served over a socket; in-process callers (tests) may set
    /// `ConnectInfo` on the request instead, as with a bare router.
    peer: Option<SocketAddr>,
}

impl App {
    pub fn new(state: AppState) -> Self {
        App {
            router: router(state.clone()),
            state,
            peer: None,
        }
    }

    /// The same surface for a connection from `peer`.
    pub fn with_peer(&self, peer: SocketAddr) -> Self {
        App {
            peer: Some(peer),
            ..self.clone()
        }
    }

    /// For `axum::serve`: one [`App`] per connection, knowing its peer.
    pub fn into_make_service(self) -> MakeApp {
        MakeApp(self)
    }

    /// Whether `req` goes by the MCP lane (the rest goes to the router).
    pub fn takes_by_lane<B>(req: &axum::http::Request<B>) -> bool {
        Self::lane_slug(req).is_some()
    }

    fn lane_slug<B>(req: &axum::http::Request<B>) -> Option<String> {
        if req.method() != Method::POST {
            return None;
        }
        let slug = req.uri().path().strip_prefix("/t/")?.strip_suffix("/mcp")?;
        let plain = !slug.is_empty()
            && slug
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        plain.then(|| slug.to_owned())
    }
}

impl<B> Service<axum::http::Request<B>> for App
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<
        Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>,
        RouteFuture<Infallible>,
    >;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::http::Request<B>) -> Self::Future {
        let mut req = req.map(Body::new);
        if let Some(slug) = Self::lane_slug(&req) {
            let state = self.state.clone();
            let peer = self
                .peer
                .or_else(|| connect_info(&req))
                .map(|p| p.ip().to_canonical());
            return Either::Left(Box::pin(async move {
                let id = net::request_id_for(&state, peer, req.headers());
                let labels = HttpLabels::route(MCP_ROUTE, req.method());
                let hsts = state.config.is_https();
                let mut resp = around(id, labels, hsts, req, |req| async move {
                    mcp::transport::post_to(state, slug, req)
                        .await
                        .into_response()
                })
                .await;
                set_content_length(&mut resp);
                Ok(resp)
            }));
        }
        if let Some(peer) = self.peer {
            req.extensions_mut().insert(ConnectInfo(peer));
        }
        Either::Right(self.router.call(req))
    }
}

/// Every route, each behind the edge (one layer: the edge middleware and the body limit,
/// composed in this order). [`crate::app`] sends everything but the MCP lane here.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .merge(crate::auth::prm::routes())
        .merge(mcp::routes())
        .merge(crate::oauth::http::routes())
        .merge(crate::web::routes::routes())
        .merge(ops::routes::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::middleware::from_fn_with_state(state.clone(), layer))
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

/// Makes an [`App`] per accepted connection (see [`App::into_make_service`]).
#[derive(Clone)]
pub struct MakeApp(App);

impl<L> Service<IncomingStream<'_, L>> for MakeApp
where
    L: Listener<Addr = SocketAddr>,
{
    type Response = App;
    type Error = Infallible;
    type Future = std::future::Ready<Result<App, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, stream: IncomingStream<'_, L>) -> Self::Future {
        std::future::ready(Ok(self.0.with_peer(*stream.remote_addr())))
    }
}

/// `axum::serve(listener, app)` without the peer's address, as with a bare [`Router`].
impl<L: Listener> Service<IncomingStream<'_, L>> for App {
    type Response = App;
    type Error = Infallible;
    type Future = std::future::Ready<Result<App, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: IncomingStream<'_, L>) -> Self::Future {
        std::future::ready(Ok(self.clone()))
    }
}

/// `Content-Length` from the body's exact size when the response has none, as the router's
/// routes set it (so a response is the same whichever way it came, in process too).
fn set_content_length(resp: &mut Response) {
    if resp.headers().contains_key(header::CONTENT_LENGTH) {
        return;
    }
    if let Some(size) = resp.body().size_hint().exact() {
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
}

/// `Strict-Transport-Security` sent on every response when the public URL is https.
pub const HSTS: &str = "max-age=31536000";

fn connect_info(req: &Request) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

/// The edge as the router's layer (`crate::router`): the client address becomes a request
/// extension for the handlers that throttle or audit by it.
pub(crate) async fn layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let id = net::begin(&state, &mut req);
    let labels = HttpLabels::of(&req);
    around(id, labels, state.config.is_https(), req, |req| {
        next.run(req)
    })
    .await
}

/// The edge around `inner`, in this order from the outside in: the `request` span with the
/// request id, the HTTP metrics, the log line, the security headers (with `hsts`, HSTS too),
/// JSON error bodies on API paths; `X-Request-Id` on the response.
async fn around<F, Fut>(
    id: HeaderValue,
    labels: Option<HttpLabels>,
    hsts: bool,
    req: Request,
    inner: F,
) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let span = tracing::info_span!("request", request_id = %id.to_str().unwrap_or_default());
    let mut resp = handle(labels, hsts, req, inner).instrument(span).await;
    net::finish(&mut resp, id);
    resp
}

async fn handle<F, Fut>(labels: Option<HttpLabels>, hsts: bool, req: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let method = req.method().clone();
    // The URI shares its buffer (a reference count, no copy); the path is clipped for the log
    // line only when that line is written.
    let uri = req.uri().clone();
    let api = is_api_path(uri.path());
    let authorize = uri.path() == "/api/oauth/server/authorize";
    let start = std::time::Instant::now();
    let resp = inner(req).await;
    let mut resp = json_error_body(api, authorize, resp).await;
    security_headers(&mut resp, hsts);
    let (status, took) = (resp.status().as_u16(), start.elapsed());
    log_request(&method, uri.path(), status, took);
    if let Some(l) = labels {
        l.record(status, took);
    }
    resp
}

fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/")
        || path.starts_with("/.well-known/")
        || path.ends_with("/mcp")
        || path.ends_with("/mcp/")
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

fn security_headers(resp: &mut Response, hsts: bool) {
    error::default_retry_after(resp);
    let h = resp.headers_mut();
    if hsts {
        h.entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(HeaderValue::from_static(HSTS));
    }
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
}

#[cfg(test)]
mod tests {
    use super::App;
    use axum::http::Request;

    fn takes(method: &str, uri: &str) -> Option<String> {
        App::lane_slug(&Request::builder().method(method).uri(uri).body(()).unwrap())
    }

    #[test]
    fn the_lane_takes_only_plain_posts_to_an_endpoint() {
        assert_eq!(takes("POST", "/t/acme/mcp").as_deref(), Some("acme"));
        assert_eq!(takes("POST", "/t/acme/mcp?x=1").as_deref(), Some("acme"));
        assert_eq!(
            takes("POST", "http://mcp.test/t/a-b_c.d~e/mcp").as_deref(),
            Some("a-b_c.d~e")
        );
        for (method, uri) in [
            ("GET", "/t/acme/mcp"),
            ("DELETE", "/t/acme/mcp"),
            ("PUT", "/t/acme/mcp"),
            ("POST", "/t/acme/mcp/"),
            ("POST", "/t//mcp"),
            ("POST", "/t/a/b/mcp"),
            ("POST", "/t/ac%6De/mcp"),
            ("POST", "/t/acme/mcpx"),
            ("POST", "/x/acme/mcp"),
            ("POST", "/t/acme"),
            ("POST", "/api/oauth/server/token"),
        ] {
            assert_eq!(takes(method, uri), None, "{method} {uri}");
        }
    }
}
