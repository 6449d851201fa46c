//! POST: one JSON-RPC message or a 2025-03-26 batch, answered as JSON or as a single-shot SSE
//! stream.
//!
//! Era selection: `initialize` is legacy; a request whose `_meta` carries a 2026-07-28 (or
//! unknown) `io.modelcontextprotocol/protocolVersion`, or whose `MCP-Protocol-Version` header says
//! 2026-07-28, is served statelessly under 2026-07-28; anything else is legacy, at the session's
//! negotiated version, else the header's, else 2025-03-26 (TRN-VER-03).
use super::admission::{admit, check_scopes};
use super::negotiation::{
    Accepts, SESSION_NAME, VERSION_NAME, accepts, header_version, is_json_content_type, read_body,
    single_header, unsupported_version,
};
use super::reply::{
    Result, accepted, json_pieces_reply, json_reply, json_text_reply, rpc_error, sse_headers,
    with_header,
};
use crate::auth::Principal;
use crate::mcp::context::Ctx;
use crate::mcp::dispatch;
use crate::mcp::jsonrpc::{
    self, Call, HEADER_MISMATCH, INVALID_REQUEST, Incoming, Message, PARSE_ERROR, RequestId,
    ResponseText, RpcError, SESSION_NOT_FOUND,
};
use crate::mcp::session::{Lookup, Session};
use crate::mcp::state::Workspace;
use crate::mcp::version::{self, META_PROTOCOL_VERSION, Version};
use crate::state::AppState;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use tracing::Instrument;

/// Largest JSON-RPC batch accepted (2025-03-26).
const MAX_BATCH: usize = 100;

/// The route's handler (the router's way in; most requests come by the MCP lane, `edge.rs`,
/// straight to [`post_to`]).
pub async fn post(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    request: Request,
) -> Result<Response> {
    post_to(state, slug, request).await
}

/// A POST to workspace `slug`'s endpoint. Takes the whole request and keeps its parts: axum's
/// `HeaderMap` and `Uri` extractors would copy them (the header map's clone and drop were 2 % of
/// a `ping`).
pub async fn post_to(state: AppState, slug: String, request: Request) -> Result<Response> {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let (ws, principal) = admit(&state, &slug, &headers, &parts.uri).await?;
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
    let message = jsonrpc::parse(&bytes).map_err(|e| {
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
    match message {
        Message::Batch(items) => req.batch(items).await,
        Message::Single(incoming) => req.single(incoming).await,
    }
}

/// One admitted POST.
struct Req {
    state: AppState,
    ws: Arc<Workspace>,
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
    async fn legacy(&self, header: Option<Version>) -> Result<(Version, Option<Arc<Session>>)> {
        let Some(sid) = single_header(&self.headers, &SESSION_NAME)? else {
            return Ok((header.unwrap_or(Version::DEFAULT_LEGACY), None));
        };
        let now = self.state.clock.now();
        match self
            .state
            .mcp
            .sessions
            .get(sid, &self.ws.slug, &self.principal.user_id, now)
            .await?
        {
            Lookup::NotFound => Err(rpc_error(
                StatusCode::NOT_FOUND,
                SESSION_NOT_FOUND,
                "Session not found: it ended or never existed; initialize again without Mcp-Session-Id",
            )),
            // A header naming another *supported* revision is served at the session's
            // negotiated version: the transport requires 400 only for an invalid or unsupported
            // version (already refused by `header_version`), and widely used clients send the
            // header that way.
            Lookup::Found(s) => Ok((s.version, Some(s))),
        }
    }

    async fn single(self, incoming: Incoming) -> Result<Response> {
        let call = match incoming {
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
            return self.initialize(call).await;
        }
        let request_id = call.id.as_ref().map(RequestId::to_value);
        match self
            .era(&call)
            .await
            .map_err(|e| e.with_request_id(request_id))?
        {
            Ok(Era::Modern) => self.modern(call).await,
            Ok(Era::Legacy(version, session)) => self.legacy_call(call, version, session).await,
            Err(reply) => Ok(reply),
        }
    }

    /// Picks the era; `Ok(Err(reply))` is a 2026-07-28 validation failure answered with the id.
    async fn era(&self, call: &Call) -> Result<std::result::Result<Era, Response>> {
        let meta_version = call.meta().and_then(|m| m.get(META_PROTOCOL_VERSION));
        let header_raw = single_header(&self.headers, &VERSION_NAME)?;
        // A 2026-07-28 header makes the request modern whatever the body says, so a legacy
        // `_meta` version under a modern header is a mismatch rather than a legacy request.
        let modern = header_raw == Some(Version::V2026_07_28.as_str())
            || match meta_version {
                Some(Value::String(v)) => Version::parse(v).is_none_or(Version::is_modern),
                Some(_) => true,
                None => false,
            };
        if !modern {
            let (v, s) = self.legacy(header_version(&self.headers)?).await?;
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
                .and_then(crate::mcp::tools::param_headers)
            && let Err(version::HeaderMismatch(m)) =
                version::check_param_headers(&self.headers, bindings, call.params.get("arguments"))
        {
            return fail(StatusCode::BAD_REQUEST, mismatch(m));
        }
        Ok(Ok(Era::Modern))
    }

    /// Legacy `initialize`: negotiate (LIF-INIT-02), mint a session bound to (workspace, user).
    async fn initialize(self, call: Call) -> Result<Response> {
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
        let session = self
            .state
            .mcp
            .sessions
            .create(&self.ws.slug, &self.principal.user_id, version, now)
            .await?;
        let ctx = self.ctx(version, Some(session.clone()));
        let body = jsonrpc::result_response(&id, dispatch::initialize_result(&ctx, version));
        Ok(with_header(
            json_reply(StatusCode::OK, body),
            SESSION_NAME.clone(),
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
        let text = run(&ctx, &call, &id).await;
        Ok(json_pieces_reply(status, text))
    }

    /// 2025-03-26 batches (TRN-POST-05); rejected with 400 for later revisions (TRN-POST-06).
    async fn batch(self, items: Vec<Value>) -> Result<Response> {
        let (version, session) = self.legacy(header_version(&self.headers)?).await?;
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
        let messages: Vec<Incoming> = items.into_iter().map(jsonrpc::classify).collect();
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
                    out.push(jsonrpc::error_response(id.as_ref(), &error).to_string())
                }
                Incoming::Call(c) => match c.id.clone() {
                    None => notification(&c, session.as_deref()),
                    Some(id) if c.method == "initialize" => out.push(
                        jsonrpc::error_response(
                            Some(&id),
                            &RpcError::invalid_request(
                                "initialize must not be part of a JSON-RPC batch",
                            ),
                        )
                        .to_string(),
                    ),
                    Some(id) => out.push(run(&ctx, &c, &id).await.into_string()),
                },
            }
        }
        if out.is_empty() {
            return Ok(accepted());
        }
        // The array of serialized responses, as `serde_json` writes an array.
        let body = format!("[{}]", out.join(","));
        if !self.acc.json {
            let event = Event::default().event("message").data(body);
            let stream = futures::stream::once(async move { Ok::<_, Infallible>(event) });
            return Ok(sse_headers(Sse::new(stream).into_response()));
        }
        Ok(json_text_reply(StatusCode::OK, body))
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

/// Runs a request and renders its JSON-RPC response as JSON text.
async fn run(ctx: &Ctx, call: &Call, id: &RequestId) -> ResponseText {
    match dispatch::handle(ctx, call).await {
        Ok(result) => jsonrpc::result_response_text(id, result),
        Err(e) => ResponseText::whole(jsonrpc::error_response(Some(id), &e).to_string()),
    }
}

fn progress(token: &Value, progress: u32, message: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": { "progressToken": token, "progress": progress, "total": 1, "message": message },
    })
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
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(4);
    let task = tokio::spawn(
        async move {
            if let Some(t) = &token {
                let _ = tx.send(progress(t, 0, "started").to_string()).await;
            }
            let response = run(&ctx, &call, &id).await;
            if let Some(t) = &token {
                let _ = tx.send(progress(t, 1, "done").to_string()).await;
            }
            let _ = tx.send(response.into_string()).await;
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
            Ok::<_, Infallible>(Event::default().event("message").data(msg)),
            (rx, guard),
        ))
    });
    sse_headers(Sse::new(stream).into_response())
}
