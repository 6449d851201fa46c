//! Admission, in order: the `Origin` check (403), the workspace lookup (404), bearer
//! authentication (401/400 challenges from `auth::authenticate`); and the scope check
//! (403 `insufficient_scope`) once the transport knows what the request needs.
use super::reply::{Result, rpc_error};
use crate::auth::{self, Principal};
use crate::error::OAuthError;
use crate::mcp::jsonrpc::INVALID_REQUEST;
use crate::mcp::state::Workspace;
use crate::state::AppState;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use std::sync::Arc;

/// TRN-ORG-01/02: a present `Origin` must be allowed (the public origin or the configured list).
pub(super) fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<()> {
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

pub(super) async fn workspace(state: &AppState, slug: &str) -> Result<Arc<Workspace>> {
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
    let ws = Arc::new(Workspace {
        slug: rec.slug,
        name: rec.name,
    });
    state.mcp.cache_workspace(&ws, now);
    Ok(ws)
}

pub(super) async fn admit(
    state: &AppState,
    slug: &str,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(Arc<Workspace>, Principal)> {
    check_origin(state, headers)?;
    let ws = workspace(state, slug).await?;
    let principal = auth::authenticate(state, headers, uri.query(), slug).await?;
    Ok((ws, principal))
}

/// 403 `insufficient_scope` naming every scope the request needs (AUTH-SCP-02, D-AUTH-07).
pub(super) fn check_scopes(
    state: &AppState,
    slug: &str,
    principal: &Principal,
    needed: &[&'static str],
) -> Result<()> {
    if needed.iter().all(|s| principal.has_scope(s)) {
        return Ok(());
    }
    let mut needed = needed.to_vec();
    needed.sort_unstable();
    needed.dedup();
    Err(auth::bearer::insufficient_scope(state, slug, &needed))
}
