//! GET, a legacy session's standalone SSE stream, and DELETE, which ends the session (and so
//! its stream).
use super::admission::{admit, check_scopes};
use super::negotiation::{SESSION_NAME, accepts, header_version, single_header};
use super::reply::{Result, method_not_allowed, rpc_error, sse_headers};
use crate::auth;
use crate::mcp::jsonrpc::{INVALID_REQUEST, SESSION_NOT_FOUND};
use crate::mcp::session::{Lookup, StreamClaim};
use crate::mcp::version::Version;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::convert::Infallible;
use std::time::Duration;

const KEEP_ALIVE: Duration = Duration::from_secs(15);

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
    let Some(sid) = single_header(&headers, &SESSION_NAME)? else {
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
        .await?
    else {
        return Err(rpc_error(
            StatusCode::NOT_FOUND,
            SESSION_NOT_FOUND,
            "Session not found",
        ));
    };
    // A supported revision other than the session's is served at the session's version.
    let Some(claim) = state.mcp.sessions.claim_stream(&session) else {
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
        revocations: state.tokens.revocations(),
        state: state.clone(),
        headers,
        uri,
        slug,
    };
    let first = futures::stream::once(async move { Ok::<_, Infallible>(Bytes::from(priming)) });
    let rest = futures::stream::unfold(ctl, |mut ctl| async move {
        loop {
            enum Wake {
                Ended,
                Tick,
                Revocation(bool),
            }
            let wake = tokio::select! {
                _ = ctl.ended.wait_for(|e| *e) => Wake::Ended,
                _ = ctl.tick.tick() => Wake::Tick,
                changed = ctl.revocations.changed() => Wake::Revocation(changed.is_ok()),
            };
            let keep_alive = match wake {
                Wake::Ended | Wake::Revocation(false) => false,
                Wake::Tick => true,
                // Any revocation or membership change (this process's, or another's seen through
                // the epoch poller): the stream lives only while its bearer token still does.
                Wake::Revocation(true) => {
                    let alive =
                        auth::authenticate(&ctl.state, &ctl.headers, ctl.uri.query(), &ctl.slug)
                            .await
                            .is_ok();
                    if alive {
                        continue;
                    }
                    false
                }
            };
            return keep_alive.then(|| (Ok(Bytes::from_static(b": keep-alive\n\n")), ctl));
        }
    });
    let mut resp = Body::from_stream(first.chain(rest)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    Ok(sse_headers(resp))
}

/// State of an open GET stream: it ends with its session, or as soon as its bearer token stops
/// being valid (revoked grant, removed member), re-checked on every revocation signal.
struct GetStream {
    ended: tokio::sync::watch::Receiver<bool>,
    tick: tokio::time::Interval,
    _claim: StreamClaim,
    revocations: tokio::sync::watch::Receiver<u64>,
    state: AppState,
    headers: HeaderMap,
    uri: Uri,
    slug: String,
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
    let Some(sid) = single_header(&headers, &SESSION_NAME)? else {
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
        .await?
    {
        // Ends it on every replica: the row goes, and the others follow the end log.
        Lookup::Found(s) => {
            state.mcp.sessions.remove(&s, now).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Lookup::NotFound => Err(rpc_error(
            StatusCode::NOT_FOUND,
            SESSION_NOT_FOUND,
            "Session not found",
        )),
    }
}
