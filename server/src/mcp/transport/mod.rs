//! Streamable HTTP for `/t/{slug}/mcp`: POST (JSON or single-shot SSE responses), GET (a
//! session's SSE stream) and DELETE (end a session).
//!
//! Every request passes, in order: the `Origin` check (403), the workspace lookup (404), bearer
//! authentication (401/400 challenges from `auth::authenticate`), then the transport rules below
//! and the scope check (403 `insufficient_scope`). Errors that cannot name a request id are
//! `AppError::JsonRpc` (rendered by `error.rs`); JSON-RPC responses that answer a request carry
//! its id and the status the transport prescribes (200, or 400/404 for 2026-07-28 rules).
//!
//! # Layout
//! - [`admission`]: Origin, workspace, bearer, scopes.
//! - [`negotiation`]: header rules, Accept and content type, the body limit.
//! - [`post`]: era selection, `initialize`, calls, batches, single-shot SSE.
//! - [`streams`]: the GET stream and DELETE.
//! - [`reply`]: response shapes shared by the above (a leaf: nothing here imports this file).
mod admission;
mod negotiation;
mod post;
mod reply;
mod streams;

use crate::error::{AppError, OAuthError};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::Response;

pub use negotiation::{SESSION_HEADER, VERSION_HEADER};
pub use post::{post, post_to};
pub use streams::{delete, get};

/// Any other method on the endpoint.
pub async fn other_method() -> Response {
    reply::method_not_allowed(
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
