//! Streamable HTTP for `/t/{slug}/mcp`: POST (JSON or single-shot SSE responses), GET (a
//! session's SSE stream) and DELETE (end a session).
//!
//! Every request passes, in order: the `Origin` check (403), the workspace lookup (404), bearer
//! authentication (401/400 challenges from `auth::authenticate`), then the transport rules below
//! and the scope check (403 `insufficient_scope`). Errors that cannot name a request id are
//! `AppError::JsonRpc` (rendered by `error.rs`); JSON-RPC responses that answer a request carry
//! its id and the status the transport prescribes (200, or 400/404 for 2026-07-28 rules).
//!
//! Era selection for a POST: `initialize` is legacy; a request whose `_meta` carries a 2026-07-28
//! (or unknown) `io.modelcontextprotocol/protocolVersion`, or whose `MCP-Protocol-Version` header
//! says 2026-07-28, is served statelessly under 2026-07-28; anything else is legacy, at the
//! session's negotiated version, else the header's, else 2025-03-26 (TRN-VER-03).
use super::context::Ctx;
use super::dispatch;
use super::jsonrpc::{
    self, Call, HEADER_MISMATCH, INVALID_REQUEST, Incoming, PARSE_ERROR, RequestId, RpcError,
    SESSION_NOT_FOUND, UNSUPPORTED_PROTOCOL_VERSION,
};
use super::session::{Lookup, Session};
use super::state::Workspace;
use super::version::{self, META_PROTOCOL_VERSION, Version};
use crate::auth::{self, Principal};
use crate::error::{AppError, OAuthError};
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

pub const SESSION_HEADER: &str = "mcp-session-id";
pub const VERSION_HEADER: &str = "mcp-protocol-version";
/// Largest JSON-RPC batch accepted (2025-03-26).
const MAX_BATCH: usize = 100;
const KEEP_ALIVE: Duration = Duration::from_secs(15);

type Result<T, E = AppError> = std::result::Result<T, E>;

fn rpc_error(status: StatusCode, code: i64, message: impl Into<String>) -> AppError {
    AppError::jsonrpc(status, code, message)
}

fn with_header(mut resp: Response, name: HeaderName, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
    resp
}

/// 405 with the methods that do work here.
fn method_not_allowed(allow: &str, why: &str) -> Response {
    let resp = rpc_error(StatusCode::METHOD_NOT_ALLOWED, INVALID_REQUEST, why).into_response();
    with_header(resp, header::ALLOW, allow)
}

/// A JSON-RPC response body with the given status.
fn json_reply(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// 202 Accepted, empty body (TRN-POST-02).
fn accepted() -> Response {
    StatusCode::ACCEPTED.into_response()
}

// ---- admission: origin, workspace, authentication ----

/// TRN-ORG-01/02: a present `Origin` must be allowed (the public origin or the configured list).
fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<()> {
    let mut values = headers.get_all(header::ORIGIN).iter();
    let Some(first) = values.next() else {
        return Ok(());
    };
    let allowed =
        values.next().is_none() && first.to_str().is_ok_and(|o| state.config.origin_allowed(o));
    if allowed {
        Ok(())
    } else {
        Err(rpc_error(
            StatusCode::FORBIDDEN,
            INVALID_REQUEST,
            "Forbidden: this Origin may not call the MCP endpoint",
        ))
    }
}

async fn workspace(state: &AppState, slug: &str) -> Result<Workspace> {
    let now = state.clock.now();
    if let Some(ws) = state.mcp.cached_workspace(slug, now) {
        return Ok(ws);
    }
    let found = if crate::names::valid_slug(slug) {
        state.store.workspace(slug).await?
    } else {
        None
    };
    let Some(rec) = found else {
        return Err(OAuthError::not_found(format!("no workspace {slug:?} on this server")).into());
    };
    let ws = Workspace {
        slug: rec.slug,
        name: rec.name,
    };
    state.mcp.cache_workspace(&ws, now);
    Ok(ws)
}

async fn admit(
    state: &AppState,
    slug: &str,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(Workspace, Principal)> {
    check_origin(state, headers)?;
    let ws = workspace(state, slug).await?;
    let principal = auth::authenticate(state, headers, uri.query(), slug).await?;
    Ok((ws, principal))
}

/// 403 `insufficient_scope` naming every scope the request needs (AUTH-SCP-02, D-AUTH-07).
fn check_scopes(
    state: &AppState,
    slug: &str,
    principal: &Principal,
    needed: &[&'static str],
) -> Result<()> {
    let mut needed = needed.to_vec();
    needed.sort_unstable();
    needed.dedup();
    if needed.iter().all(|s| principal.has_scope(s)) {
        Ok(())
    } else {
        Err(auth::bearer::insufficient_scope(state, slug, &needed))
    }
}

// ---- header helpers ----

fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>> {
    let mut it = headers.get_all(name).iter();
    let Some(v) = it.next() else { return Ok(None) };
    if it.next().is_some() {
        return Err(rpc_error(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            format!("more than one {name} header"),
        ));
    }
    v.to_str().map(|s| Some(s.trim())).map_err(|_| {
        rpc_error(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            format!("invalid {name} header"),
        )
    })
}

fn unsupported_version(requested: &str) -> RpcError {
    RpcError::new(UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version")
        .with_data(json!({ "supported": Version::supported_strings(), "requested": requested }))
}

/// TRN-VER-02: a header naming no supported revision is a 400.
fn header_version(headers: &HeaderMap) -> Result<Option<Version>> {
    match single_header(headers, VERSION_HEADER)? {
        None => Ok(None),
        Some(v) => match Version::parse(v) {
            Some(ver) => Ok(Some(ver)),
            None => {
                let e = unsupported_version(v);
                Err(AppError::JsonRpc {
                    status: StatusCode::BAD_REQUEST,
                    code: e.code,
                    message: e.message,
                    data: e.data,
                    id: None,
                })
            }
        },
    }
}

/// Accept negotiation: which response media types the client takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Accepts {
    json: bool,
    sse: bool,
}

fn accepts(headers: &HeaderMap) -> Accepts {
    let mut values = headers.get_all(header::ACCEPT).iter().peekable();
    if values.peek().is_none() {
        return Accepts {
            json: true,
            sse: true,
        };
    }
    let mut a = Accepts {
        json: false,
        sse: false,
    };
    for v in values {
        let Ok(v) = v.to_str() else { continue };
        for range in v.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q_zero = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .or_else(|| p.strip_prefix("Q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            if q_zero {
                continue;
            }
            match media.as_str() {
                "*/*" => {
                    a.json = true;
                    a.sse = true;
                }
                "application/*" | "application/json" => a.json = true,
                "text/*" | "text/event-stream" => a.sse = true,
                _ => {}
            }
        }
    }
    a
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(v) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = v.split(';');
    let media = parts.next().unwrap_or("").trim();
    media.eq_ignore_ascii_case("application/json")
        && parts.all(|p| {
            let (k, val) = p.split_once('=').unwrap_or((p, ""));
            !k.trim().eq_ignore_ascii_case("charset")
                || val.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        })
}

async fn read_body(body: Body, limit: usize, headers: &HeaderMap) -> Result<Bytes> {
    let too_large = || {
        rpc_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            INVALID_REQUEST,
            format!("request body exceeds {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(limit as u64) as usize);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            rpc_error(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                "could not read the request body",
            )
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

// ---- POST ----

pub async fn post(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let (ws, principal) = admit(&state, &slug, &headers, &uri).await?;
    if !is_json_content_type(&headers) {
        return Err(rpc_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            INVALID_REQUEST,
            "Content-Type must be application/json",
        ));
    }
    let acc = accepts(&headers);
    if !acc.json && !acc.sse {
        return Err(rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            INVALID_REQUEST,
            "Accept must allow application/json or text/event-stream",
        ));
    }
    let bytes = read_body(body, state.config.max_body_bytes, &headers).await?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        rpc_error(
            StatusCode::BAD_REQUEST,
            PARSE_ERROR,
            format!("Parse error: {e}"),
        )
    })?;
    let req = Req {
        state,
        ws,
        principal,
        headers,
        acc,
    };
    match value {
        Value::Array(items) => req.batch(items).await,
        single => req.single(single).await,
    }
}

/// One admitted POST.
struct Req {
    state: AppState,
    ws: Workspace,
    principal: Principal,
    headers: HeaderMap,
    acc: Accepts,
}

/// How a non-`initialize` message is to be served.
enum Era {
    Modern,
    Legacy(Version, Option<Arc<Session>>),
}

impl Req {
    fn ctx(&self, version: Version, session: Option<Arc<Session>>) -> Ctx {
        Ctx {
            state: self.state.clone(),
            principal: self.principal.clone(),
            workspace: self.ws.clone(),
            version,
            session,
        }
    }

    /// The legacy version and session for this request (session → header → 2025-03-26).
    fn legacy(&self, header: Option<Version>) -> Result<(Version, Option<Arc<Session>>)> {
        let Some(sid) = single_header(&self.headers, SESSION_HEADER)? else {
            return Ok((header.unwrap_or(Version::DEFAULT_LEGACY), None));
        };
        let now = self.state.clock.now();
        match self
            .state
            .mcp
            .sessions
            .get(sid, &self.ws.slug, &self.principal.user_id, now)
        {
            Lookup::NotFound => Err(rpc_error(
                StatusCode::NOT_FOUND,
                SESSION_NOT_FOUND,
                "Session not found: it ended or never existed; initialize again without Mcp-Session-Id",
            )),
            Lookup::Found(s) => match header {
                Some(h) if h != s.version => Err(rpc_error(
                    StatusCode::BAD_REQUEST,
                    INVALID_REQUEST,
                    format!(
                        "MCP-Protocol-Version {} does not match the session's version {}",
                        h.as_str(),
                        s.version.as_str()
                    ),
                )),
                _ => Ok((s.version, Some(s))),
            },
        }
    }

    async fn single(self, value: Value) -> Result<Response> {
        let call = match jsonrpc::classify(&value) {
            Incoming::Response => {
                check_scopes(&self.state, &self.ws.slug, &self.principal, &["mcp:read"])?;
                return Ok(accepted());
            }
            Incoming::Invalid { id, error } => {
                return Ok(json_reply(
                    StatusCode::BAD_REQUEST,
                    jsonrpc::error_response(id.as_ref(), &error),
                ));
            }
            Incoming::Call(c) => c,
        };
        if call.method == "initialize" {
            return self.initialize(call);
        }
        let request_id = call.id.as_ref().map(RequestId::to_value);
        match self.era(&call).map_err(|e| e.with_request_id(request_id))? {
            Ok(Era::Modern) => self.modern(call).await,
            Ok(Era::Legacy(version, session)) => self.legacy_call(call, version, session).await,
            Err(reply) => Ok(reply),
        }
    }

    /// Picks the era; `Ok(Err(reply))` is a 2026-07-28 validation failure answered with the id.
    fn era(&self, call: &Call) -> Result<std::result::Result<Era, Response>> {
        let meta_version = call.meta().and_then(|m| m.get(META_PROTOCOL_VERSION));
        let header_raw = single_header(&self.headers, VERSION_HEADER)?;
        // A 2026-07-28 header makes the request modern whatever the body says, so a legacy
        // `_meta` version under a modern header is a mismatch rather than a legacy request.
        let modern = header_raw == Some(Version::V2026_07_28.as_str())
            || match meta_version {
                Some(Value::String(v)) => Version::parse(v).is_none_or(Version::is_modern),
                Some(_) => true,
                None => false,
            };
        if !modern {
            let (v, s) = self.legacy(header_version(&self.headers)?)?;
            return Ok(Ok(Era::Legacy(v, s)));
        }
        let Some(id) = &call.id else {
            // Notifications have no header requirements in 2026-07-28; nothing to validate.
            return Ok(Ok(Era::Modern));
        };
        let fail = |status: StatusCode, e: RpcError| {
            Ok(Err(json_reply(
                status,
                jsonrpc::error_response(Some(id), &e),
            )))
        };
        let mismatch = |m: String| RpcError::new(HEADER_MISMATCH, format!("Header mismatch: {m}"));
        let Some(Value::String(body_version)) = meta_version else {
            return match meta_version {
                None => fail(
                    StatusCode::BAD_REQUEST,
                    mismatch(format!(
                        "MCP-Protocol-Version is {} but params._meta[\"{META_PROTOCOL_VERSION}\"] is missing",
                        header_raw.unwrap_or_default()
                    )),
                ),
                Some(_) => fail(
                    StatusCode::BAD_REQUEST,
                    RpcError::invalid_params(format!(
                        "_meta[\"{META_PROTOCOL_VERSION}\"] must be a string"
                    )),
                ),
            };
        };
        match header_raw {
            None => {
                return fail(
                    StatusCode::BAD_REQUEST,
                    mismatch("required header MCP-Protocol-Version is missing".into()),
                );
            }
            Some(h) if h != body_version => {
                return fail(
                    StatusCode::BAD_REQUEST,
                    mismatch(format!(
                        "MCP-Protocol-Version header value '{h}' does not match body value '{body_version}'"
                    )),
                );
            }
            Some(_) => {}
        }
        if Version::parse(body_version) != Some(Version::V2026_07_28) {
            return fail(StatusCode::BAD_REQUEST, unsupported_version(body_version));
        }
        if let Err(version::HeaderMismatch(m)) =
            version::check_standard_headers(&self.headers, &call.method, Some(&call.params))
        {
            return fail(StatusCode::BAD_REQUEST, mismatch(m));
        }
        // `Mcp-Param-*` for the called tool's `x-mcp-header` parameters; an unknown tool is left
        // to the tools/call error path.
        if call.method == "tools/call"
            && let Some(bindings) = call
                .params
                .get("name")
                .and_then(Value::as_str)
                .and_then(super::tools::param_headers)
            && let Err(version::HeaderMismatch(m)) =
                version::check_param_headers(&self.headers, bindings, call.params.get("arguments"))
        {
            return fail(StatusCode::BAD_REQUEST, mismatch(m));
        }
        Ok(Ok(Era::Modern))
    }

    /// Legacy `initialize`: negotiate (LIF-INIT-02), mint a session bound to (workspace, user).
    fn initialize(self, call: Call) -> Result<Response> {
        check_scopes(&self.state, &self.ws.slug, &self.principal, &["mcp:read"])?;
        let Some(id) = call.id.clone() else {
            return Err(rpc_error(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                "initialize must be a request (with an id)",
            ));
        };
        let Some(requested) = call.params.get("protocolVersion").and_then(Value::as_str) else {
            let e = RpcError::invalid_params("params.protocolVersion (string) is required")
                .with_data(json!({ "supported": Version::supported_strings() }));
            return Ok(json_reply(
                StatusCode::OK,
                jsonrpc::error_response(Some(&id), &e),
            ));
        };
        let version = match Version::parse(requested) {
            Some(v) if !v.is_modern() => v,
            _ => Version::NEWEST_LEGACY,
        };
        let now = self.state.clock.now();
        let session =
            self.state
                .mcp
                .sessions
                .create(&self.ws.slug, &self.principal.user_id, version, now);
        let ctx = self.ctx(version, Some(session.clone()));
        let body = jsonrpc::result_response(&id, dispatch::initialize_result(&ctx, version));
        Ok(with_header(
            json_reply(StatusCode::OK, body),
            HeaderName::from_static(SESSION_HEADER),
            &session.id,
        ))
    }

    async fn legacy_call(
        self,
        call: Call,
        version: Version,
        session: Option<Arc<Session>>,
    ) -> Result<Response> {
        check_scopes(
            &self.state,
            &self.ws.slug,
            &self.principal,
            &[dispatch::required_scope(&call.method)],
        )?;
        let Some(id) = call.id.clone() else {
            notification(&call, session.as_deref());
            return Ok(accepted());
        };
        let ctx = self.ctx(version, session);
        self.respond(ctx, call, id, StatusCode::OK).await
    }

    async fn modern(self, call: Call) -> Result<Response> {
        check_scopes(
            &self.state,
            &self.ws.slug,
            &self.principal,
            &[dispatch::required_scope(&call.method)],
        )?;
        let Some(id) = call.id.clone() else {
            // `notifications/cancelled` and friends: acknowledged; closing the stream is what cancels.
            return Ok(accepted());
        };
        let ctx = self.ctx(Version::V2026_07_28, None);
        // D-TRN-03: an unknown method is 404 + -32601 (distinct from a legacy server's plain 404).
        let status = if dispatch::is_known(&call.method, ctx.version) {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        self.respond(ctx, call, id, status).await
    }

    /// Answers a request as JSON, or as a single-shot SSE stream when the client asked for
    /// progress (and takes SSE) or takes only SSE.
    async fn respond(
        self,
        ctx: Ctx,
        call: Call,
        id: RequestId,
        status: StatusCode,
    ) -> Result<Response> {
        let token = call.progress_token().cloned();
        let streaming =
            status == StatusCode::OK && self.acc.sse && (token.is_some() || !self.acc.json);
        if streaming {
            return Ok(sse_response(ctx, call, id, token));
        }
        let body = run(&ctx, &call, &id).await;
        Ok(json_reply(status, body))
    }

    /// 2025-03-26 batches (TRN-POST-05); rejected with 400 for later revisions (TRN-POST-06).
    async fn batch(self, items: Vec<Value>) -> Result<Response> {
        let (version, session) = self.legacy(header_version(&self.headers)?)?;
        if !version.allows_batches() {
            return Err(rpc_error(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                format!(
                    "JSON-RPC batches are not supported in protocol version {}",
                    version.as_str()
                ),
            ));
        }
        if items.is_empty() || items.len() > MAX_BATCH {
            return Err(rpc_error(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                format!("a batch holds 1 to {MAX_BATCH} messages"),
            ));
        }
        let messages: Vec<Incoming> = items.iter().map(jsonrpc::classify).collect();
        let needed: Vec<&'static str> = messages
            .iter()
            .map(|m| match m {
                Incoming::Call(c) => dispatch::required_scope(&c.method),
                _ => "mcp:read",
            })
            .collect();
        check_scopes(&self.state, &self.ws.slug, &self.principal, &needed)?;
        let ctx = self.ctx(version, session.clone());
        let mut out = Vec::new();
        for m in messages {
            match m {
                Incoming::Response => {}
                Incoming::Invalid { id, error } => {
                    out.push(jsonrpc::error_response(id.as_ref(), &error))
                }
                Incoming::Call(c) => match c.id.clone() {
                    None => notification(&c, session.as_deref()),
                    Some(id) if c.method == "initialize" => out.push(jsonrpc::error_response(
                        Some(&id),
                        &RpcError::invalid_request(
                            "initialize must not be part of a JSON-RPC batch",
                        ),
                    )),
                    Some(id) => out.push(run(&ctx, &c, &id).await),
                },
            }
        }
        if out.is_empty() {
            return Ok(accepted());
        }
        let body = Value::Array(out);
        if !self.acc.json {
            let event = Event::default().event("message").data(body.to_string());
            let stream = futures::stream::once(async move { Ok::<_, Infallible>(event) });
            return Ok(sse_headers(Sse::new(stream).into_response()));
        }
        Ok(json_reply(StatusCode::OK, body))
    }
}

/// Client notifications: `initialized` marks the session; everything else (`cancelled`, roots,
/// unknown) is acknowledged. Our requests finish in milliseconds, so a cancellation always races
/// a completed request, which BASE-CAN-01 lets us ignore.
fn notification(call: &Call, session: Option<&Session>) {
    if call.method == "notifications/initialized"
        && let Some(s) = session
    {
        s.mark_initialized();
    }
}

/// Runs a request and renders its JSON-RPC response.
async fn run(ctx: &Ctx, call: &Call, id: &RequestId) -> Value {
    match dispatch::handle(ctx, call).await {
        Ok(result) => jsonrpc::result_response(id, result),
        Err(e) => jsonrpc::error_response(Some(id), &e),
    }
}

fn progress(token: &Value, progress: u32, message: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": { "progressToken": token, "progress": progress, "total": 1, "message": message },
    })
}

fn sse_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store"),
    );
    h.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    resp
}

/// Aborts the request's task when the response stream is dropped (client went away): in
/// 2026-07-28 closing the stream is the cancellation (D-TRN-07).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Single-shot SSE: progress notifications related to the request, then its response; the
/// stream ends after the response (TRN-SSE-01/04).
fn sse_response(ctx: Ctx, call: Call, id: RequestId, token: Option<Value>) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Value>(4);
    let task = tokio::spawn(
        async move {
            if let Some(t) = &token {
                let _ = tx.send(progress(t, 0, "started")).await;
            }
            let response = run(&ctx, &call, &id).await;
            if let Some(t) = &token {
                let _ = tx.send(progress(t, 1, "done")).await;
            }
            let _ = tx.send(response).await;
        }
        .in_current_span(),
    );
    let guard = (
        AbortOnDrop(task.abort_handle()),
        crate::ops::metrics::SseStream::open("post"),
    );
    let stream = futures::stream::unfold((rx, guard), |(mut rx, guard)| async move {
        let msg = rx.recv().await?;
        Some((
            Ok::<_, Infallible>(Event::default().event("message").data(msg.to_string())),
            (rx, guard),
        ))
    });
    sse_headers(Sse::new(stream).into_response())
}

// ---- GET: the session's standalone SSE stream ----

/// GET opens an SSE stream for a legacy session (TRN-GET-01). We never originate server
/// messages, so it carries a priming event (id, empty data, `retry`) and keep-alive comments, and
/// ends with the session. Without a session, and for 2026-07-28 clients, GET is 405.
pub async fn get(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response> {
    let (ws, principal) = admit(&state, &slug, &headers, &uri).await?;
    check_scopes(&state, &slug, &principal, &["mcp:read"])?;
    let header = header_version(&headers)?;
    if header == Some(Version::V2026_07_28) {
        return Ok(method_not_allowed(
            "POST",
            "GET is not part of protocol version 2026-07-28; POST requests instead",
        ));
    }
    if !accepts(&headers).sse {
        return Err(rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            INVALID_REQUEST,
            "GET requires Accept: text/event-stream",
        ));
    }
    let Some(sid) = single_header(&headers, SESSION_HEADER)? else {
        return Ok(method_not_allowed(
            "POST, DELETE",
            "No standalone SSE stream without a session: this server sends no server-initiated messages; POST requests instead",
        ));
    };
    let now = state.clock.now();
    let Lookup::Found(session) = state
        .mcp
        .sessions
        .get(sid, &ws.slug, &principal.user_id, now)
    else {
        return Err(rpc_error(
            StatusCode::NOT_FOUND,
            SESSION_NOT_FOUND,
            "Session not found",
        ));
    };
    if header.is_some_and(|h| h != session.version) {
        return Err(rpc_error(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "MCP-Protocol-Version does not match the session's version",
        ));
    }
    let Some(claim) = session.claim_stream() else {
        return Err(rpc_error(
            StatusCode::CONFLICT,
            INVALID_REQUEST,
            "this session already has an open GET stream",
        ));
    };
    // Priming event (SEP-1699): an id and an empty `data` field, so the client has a
    // Last-Event-ID; then comment keep-alives until the session ends or the client leaves.
    let priming = format!(
        "id: g-{}\nretry: 5000\ndata: \n\n",
        crate::secrets::random_token(12)
    );
    let ctl = GetStream {
        ended: session.ended(),
        tick: tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE),
        _claim: claim,
    };
    let first = futures::stream::once(async move { Ok::<_, Infallible>(Bytes::from(priming)) });
    let rest = futures::stream::unfold(ctl, |mut ctl| async move {
        let keep_alive = tokio::select! {
            _ = ctl.ended.wait_for(|e| *e) => false,
            _ = ctl.tick.tick() => true,
        };
        keep_alive.then(|| (Ok(Bytes::from_static(b": keep-alive\n\n")), ctl))
    });
    let mut resp = Body::from_stream(first.chain(rest)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    Ok(sse_headers(resp))
}

/// State of an open GET stream.
struct GetStream {
    ended: tokio::sync::watch::Receiver<bool>,
    tick: tokio::time::Interval,
    _claim: super::session::StreamClaim,
}

// ---- DELETE: end a session ----

pub async fn delete(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response> {
    let (ws, principal) = admit(&state, &slug, &headers, &uri).await?;
    check_scopes(&state, &slug, &principal, &["mcp:read"])?;
    if header_version(&headers)? == Some(Version::V2026_07_28) {
        return Ok(method_not_allowed(
            "POST",
            "DELETE is not part of protocol version 2026-07-28 (no sessions)",
        ));
    }
    let Some(sid) = single_header(&headers, SESSION_HEADER)? else {
        return Err(rpc_error(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "DELETE needs the Mcp-Session-Id header of the session to end",
        ));
    };
    let now = state.clock.now();
    match state
        .mcp
        .sessions
        .get(sid, &ws.slug, &principal.user_id, now)
    {
        Lookup::Found(s) => {
            state.mcp.sessions.remove(&s.id);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Lookup::NotFound => Err(rpc_error(
            StatusCode::NOT_FOUND,
            SESSION_NOT_FOUND,
            "Session not found",
        )),
    }
}

/// Any other method on the endpoint.
pub async fn other_method() -> Response {
    method_not_allowed(
        "GET, POST, DELETE",
        "method not allowed on the MCP endpoint",
    )
}

/// `/t/{slug}/mcp/`: not the endpoint; say which URL is.
pub async fn trailing_slash(State(state): State<AppState>, Path(slug): Path<String>) -> AppError {
    if crate::names::valid_slug(&slug) {
        OAuthError::not_found(format!(
            "no such endpoint; the MCP endpoint is {} (no trailing slash)",
            state.config.mcp_url(&slug)
        ))
        .into()
    } else {
        OAuthError::not_found("no such endpoint").into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn accept_negotiation() {
        assert_eq!(
            accepts(&h(&[])),
            Accepts {
                json: true,
                sse: true
            }
        );
        assert_eq!(
            accepts(&h(&[("accept", "application/json, text/event-stream")])),
            Accepts {
                json: true,
                sse: true
            }
        );
        assert_eq!(
            accepts(&h(&[("accept", "text/event-stream")])),
            Accepts {
                json: false,
                sse: true
            }
        );
        assert_eq!(
            accepts(&h(&[("accept", "application/json;q=0.9")])),
            Accepts {
                json: true,
                sse: false
            }
        );
        assert_eq!(
            accepts(&h(&[("accept", "application/json;q=0, text/html")])),
            Accepts {
                json: false,
                sse: false
            }
        );
        assert_eq!(
            accepts(&h(&[("accept", "*/*")])),
            Accepts {
                json: true,
                sse: true
            }
        );
        assert_eq!(
            accepts(&h(&[("accept", "text/html")])),
            Accepts {
                json: false,
                sse: false
            }
        );
    }

    #[test]
    fn content_types() {
        assert!(is_json_content_type(&h(&[(
            "content-type",
            "application/json"
        )])));
        assert!(is_json_content_type(&h(&[(
            "content-type",
            "Application/JSON; charset=UTF-8"
        )])));
        assert!(!is_json_content_type(&h(&[(
            "content-type",
            "application/json; charset=latin1"
        )])));
        assert!(!is_json_content_type(&h(&[("content-type", "text/plain")])));
        assert!(!is_json_content_type(&h(&[(
            "content-type",
            "application/jsonx"
        )])));
        assert!(!is_json_content_type(&h(&[])));
    }
}
