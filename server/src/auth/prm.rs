//! OAuth 2.0 Protected Resource Metadata (RFC 9728), one document per workspace at the
//! path-inserted well-known URL (§3.1). The root well-known URL cannot describe every workspace,
//! so it answers a JSON 404 that points at the per-workspace form.
use crate::config::SUPPORTED_SCOPES;
use crate::error::{AppError, AppResult, OAuthError};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/oauth-protected-resource", get(root))
        .route(
            "/.well-known/oauth-protected-resource/t/{slug}/mcp",
            get(workspace_metadata),
        )
}

/// `/.well-known/oauth-protected-resource/t/{slug}/mcp` (GET and HEAD).
pub async fn workspace_metadata(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> AppResult<Response> {
    let Some(ws) = state.store.workspace(&slug).await? else {
        return Err(AppError::OAuth(OAuthError::not_found(format!(
            "no workspace {slug:?} on this server"
        ))));
    };
    let doc = json!({
        "resource": state.config.mcp_url(&ws.slug),
        "authorization_servers": [state.config.issuer()],
        "scopes_supported": SUPPORTED_SCOPES,
        "bearer_methods_supported": ["header"],
        "resource_name": format!("{} (gigamcp workspace)", ws.name),
        "resource_documentation": format!("{}/docs/connect-chatgpt", state.config.issuer()),
    });
    let mut resp = Json(doc).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(resp)
}

async fn root(State(state): State<AppState>) -> AppError {
    AppError::OAuth(OAuthError::not_found(format!(
        "this server hosts one protected resource per workspace; fetch {}/.well-known/oauth-protected-resource/t/<workspace>/mcp",
        state.config.issuer()
    )))
}
