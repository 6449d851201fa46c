//! The floor probe (`gigamcp-bench floor`): the least work an authenticated MCP `ping` needs,
//! written on plain axum, in a process of its own like the echo. It answers the bench's `ping`
//! request with the same status, body and header names as `gigamcp` (`run` compares one answer
//! of each before it measures), so its ratio to the echo is what a server doing that work, and
//! nothing more, reaches on this machine: the ceiling a `ping` target can honestly be set
//! against, where the echo (no authentication, no session, no headers) is not.
//!
//! Per request it does what the server's `ping` must: the Streamable HTTP header checks
//! (`Accept` naming both JSON and SSE, `Content-Type`, a known `MCP-Protocol-Version`), the
//! bearer token hashed (SHA-256) and looked up, its expiry and its workspace audience checked,
//! the session id hashed and looked up, bound to that workspace, the JSON-RPC message parsed
//! (borrowed, `id` and `params` left raw), the result written, and the security headers and a
//! request id set. Each check answers a failure with the status the server gives it, so the
//! probe can be told apart from an echo that answers everything (`tests/floor.rs`).
//!
//! Its credentials come from the environment (never the command line, which `ps` shows):
//! [`TOKEN_ENV`], [`SESSION_ENV`], [`WORKSPACE_ENV`]. Only their SHA-256 digests are kept.
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const TOKEN_ENV: &str = "GIGAMCP_BENCH_FLOOR_TOKEN";
pub const SESSION_ENV: &str = "GIGAMCP_BENCH_FLOOR_SESSION";
pub const WORKSPACE_ENV: &str = "GIGAMCP_BENCH_FLOOR_WORKSPACE";

/// The revisions `gigamcp` serves; any other `MCP-Protocol-Version` is a 400.
const VERSIONS: [&str; 4] = ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"];

/// How long the probe's one token lives (the bench's token is issued for a day).
const TOKEN_TTL: Duration = Duration::from_secs(86_400);

/// One bearer token's grant: the workspace it is for and when it expires.
struct Grant {
    workspace: Box<str>,
    expires: Instant,
}

/// Tokens and sessions by the SHA-256 digest of their secret, as the server keeps them.
struct Floor {
    tokens: HashMap<[u8; 32], Grant>,
    /// Session id digest → its workspace.
    sessions: HashMap<[u8; 32], Box<str>>,
    /// The request-id counter (the prefix is fixed per process, as the server's).
    next_id: AtomicU64,
}

/// The credentials the probe accepts.
pub struct Credentials {
    pub token: String,
    pub session: String,
    pub workspace: String,
}

impl Credentials {
    /// From [`TOKEN_ENV`], [`SESSION_ENV`] and [`WORKSPACE_ENV`].
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| anyhow::anyhow!("{name} is not set"))
        };
        Ok(Credentials {
            token: var(TOKEN_ENV)?,
            session: var(SESSION_ENV)?,
            workspace: var(WORKSPACE_ENV)?,
        })
    }
}

fn digest(secret: &[u8]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

/// The probe's router: `POST /t/{workspace}/mcp`.
pub fn router(creds: &Credentials) -> Router {
    let workspace: Box<str> = creds.workspace.as_str().into();
    let state = Floor {
        tokens: HashMap::from([(
            digest(creds.token.as_bytes()),
            Grant {
                workspace: workspace.clone(),
                expires: Instant::now() + TOKEN_TTL,
            },
        )]),
        sessions: HashMap::from([(digest(creds.session.as_bytes()), workspace)]),
        next_id: AtomicU64::new(1),
    };
    Router::new()
        .route("/t/{workspace}/mcp", post(mcp))
        .with_state(Arc::new(state))
}

/// Serves [`router`] at `bind` until killed.
pub async fn serve(bind: &str, creds: &Credentials) -> anyhow::Result<()> {
    crate::procs::serve_router(bind, router(creds)).await
}

/// A JSON-RPC message, borrowed from the body.
#[derive(Deserialize)]
struct Message<'a> {
    jsonrpc: &'a str,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    method: &'a str,
    /// Parsed (so a malformed one is an error), never read: `ping` takes none.
    #[serde(borrow, default, rename = "params")]
    _params: Option<&'a RawValue>,
}

async fn mcp(
    State(f): State<Arc<Floor>>,
    Path(workspace): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut resp = answer(&f, &workspace, &headers, &body);
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let n = f.next_id.fetch_add(1, Ordering::Relaxed);
    // Hex digits and `-` are always a valid header value.
    if let Ok(id) = HeaderValue::from_str(&format!("0123456789abcdef-{n:08x}")) {
        h.insert("x-request-id", id);
    }
    resp
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn answer(f: &Floor, workspace: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let accept = header_str(headers, header::ACCEPT);
    if !(accept.contains("application/json") && accept.contains("text/event-stream")) {
        return rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            None,
            -32600,
            "Accept must list application/json and text/event-stream",
        );
    }
    if !header_str(headers, header::CONTENT_TYPE).starts_with("application/json") {
        return rpc_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            -32600,
            "Content-Type must be application/json",
        );
    }
    if let Some(v) = headers.get("mcp-protocol-version")
        && !VERSIONS.iter().any(|known| v == known)
    {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            None,
            -32600,
            "unsupported MCP-Protocol-Version",
        );
    }
    let token = header_str(headers, header::AUTHORIZATION)
        .strip_prefix("Bearer ")
        .unwrap_or_default();
    let valid = f
        .tokens
        .get(&digest(token.as_bytes()))
        .is_some_and(|g| &*g.workspace == workspace && g.expires > Instant::now());
    if !valid {
        let mut r = (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":"invalid_token","error_description":"the access token is not valid here"}"#,
        )
            .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer error="invalid_token""#),
        );
        return r;
    }
    let Some(session) = headers.get("mcp-session-id") else {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            None,
            -32600,
            "Mcp-Session-Id missing",
        );
    };
    if f.sessions
        .get(&digest(session.as_bytes()))
        .is_none_or(|w| &**w != workspace)
    {
        return rpc_error(StatusCode::NOT_FOUND, None, -32001, "session not found");
    }
    let msg: Message = match serde_json::from_slice(body) {
        Ok(m) => m,
        Err(_) => return rpc_error(StatusCode::BAD_REQUEST, None, -32700, "parse error"),
    };
    if msg.jsonrpc != "2.0" {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            msg.id,
            -32600,
            "jsonrpc must be 2.0",
        );
    }
    let Some(id) = msg.id else {
        // A notification: accepted, nothing to answer.
        return StatusCode::ACCEPTED.into_response();
    };
    if msg.method != "ping" {
        return rpc_error(StatusCode::OK, Some(id), -32601, "method not found");
    }
    json_response(
        StatusCode::OK,
        format!(r#"{{"id":{},"jsonrpc":"2.0","result":{{}}}}"#, id.get()),
    )
}

fn rpc_error(status: StatusCode, id: Option<&RawValue>, code: i64, message: &str) -> Response {
    let id = id.map_or("null", RawValue::get);
    json_response(
        status,
        format!(r#"{{"error":{{"code":{code},"message":"{message}"}},"id":{id},"jsonrpc":"2.0"}}"#),
    )
}

fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}
