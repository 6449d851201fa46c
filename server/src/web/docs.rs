//! The user guide and the OAuth reference, kept in `docs/` in the repository and served here.
//! `https://mcp.example.com` in the Markdown is replaced with this server's public origin.
use super::templates::DocumentPage;
use super::{current_session, error_page, markdown, message, nonce, render, viewer_of};
use crate::error::{AppResult, PageError};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

pub const CONNECT_CHATGPT: &str = include_str!("../../../docs/connect-chatgpt.md");
pub const OAUTH_REFERENCE: &str = include_str!("../../../docs/oauth-reference.md");
const EXAMPLE_ORIGIN: &str = "https://mcp.example.com";

/// (slug, title, markdown)
const PAGES: [(&str, &str, &str); 2] = [
    ("connect-chatgpt", "Connect to ChatGPT", CONNECT_CHATGPT),
    (
        "oauth-reference",
        "OAuth for MCP reference",
        OAUTH_REFERENCE,
    ),
];

pub async fn index(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Response> {
    let session = current_session(&state, &headers).await?;
    let links = PAGES
        .iter()
        .map(|(slug, title, _)| (format!("/docs/{slug}"), title.to_string()))
        .collect();
    message(
        StatusCode::OK,
        viewer_of(&session),
        "Documentation",
        "Guides for connecting AI assistants to your workspaces.",
        links,
    )
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> AppResult<Response> {
    let session = current_session(&state, &headers).await?;
    let Some((_, title, md)) = PAGES.iter().find(|(s, _, _)| *s == slug) else {
        return error_page(
            PageError::NotFound,
            viewer_of(&session),
            "Page not found",
            "There is no documentation page with that name.",
            vec![("/docs".into(), "Documentation".into())],
        );
    };
    let n = nonce();
    let page = DocumentPage {
        nonce: n.clone(),
        viewer: viewer_of(&session),
        title: title.to_string(),
        body_html: markdown::to_html(&md.replace(EXAMPLE_ORIGIN, state.config.issuer())),
        breadcrumb: vec![("/docs".into(), "Docs".into())],
        footer: None,
    };
    render(StatusCode::OK, &page, &n)
}
