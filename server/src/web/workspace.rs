//! The home page, the workspace dashboard `/t/{slug}` (MCP URL with a copy button, connector
//! status, workspace switcher), the wiki page view and the admins' audit log.
use super::templates::{
    AuditPage, AuditRow, DashboardPage, DocumentPage, HomePage, Status, WorkspaceOption,
};
use super::{
    Session, current_session, error_page, format_time, login_url, markdown, nonce, render,
    see_other, viewer_of,
};
use crate::error::{AppResult, PageError};
use crate::state::AppState;
use crate::store::Membership;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Response> {
    let session = current_session(&state, &headers).await?;
    let workspaces = match &session {
        Some(s) => state
            .store
            .memberships_of(&s.user.id)
            .await?
            .into_iter()
            .map(|m| WorkspaceOption {
                slug: m.workspace_slug,
                name: m.workspace_name,
            })
            .collect(),
        None => Vec::new(),
    };
    let n = nonce();
    render(
        StatusCode::OK,
        &HomePage {
            nonce: n.clone(),
            viewer: viewer_of(&session),
            workspaces,
        },
        &n,
    )
}

/// The signed-in member's membership of `slug`, or the response to send instead.
async fn member(
    state: &AppState,
    headers: &HeaderMap,
    slug: &str,
    here: &str,
) -> AppResult<Result<(Session, Membership), Response>> {
    let Some(session) = current_session(state, headers).await? else {
        return Ok(Err(see_other(&login_url(here))));
    };
    match state.store.membership(slug, &session.user.id).await? {
        Some(m) => Ok(Ok((session, m))),
        None => Ok(Err(error_page(
            PageError::NotFound,
            session.viewer(),
            "Workspace not found",
            &format!(
                "There is no workspace {slug:?} that {} belongs to.",
                session.user.username
            ),
            vec![
                ("/".into(), "Your workspaces".into()),
                (login_url(here), "Use a different account".into()),
            ],
        )?)),
    }
}

pub async fn dashboard(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> AppResult<Response> {
    let (session, m) = match member(&state, &headers, &slug, &format!("/t/{slug}")).await? {
        Ok(x) => x,
        Err(resp) => return Ok(resp),
    };
    let status = match state.knowledge.connector_status(&slug).await {
        Ok(s) => Some(Status {
            wiki_pages: s.wiki_pages,
            github_issues: s.github_issues,
            repos: s.repos,
            last_sync: s
                .last_sync_at
                .map(format_time)
                .unwrap_or_else(|| "never".into()),
        }),
        Err(e) => {
            tracing::warn!(error = %e, workspace = %slug, "connector status");
            None
        }
    };
    let others = state
        .store
        .memberships_of(&session.user.id)
        .await?
        .into_iter()
        .filter(|o| o.workspace_slug != slug)
        .map(|o| WorkspaceOption {
            slug: o.workspace_slug,
            name: o.workspace_name,
        })
        .collect();
    let n = nonce();
    let page = DashboardPage {
        nonce: n.clone(),
        viewer: session.viewer(),
        mcp_url: state.config.mcp_url(&slug),
        is_admin: m.role == "admin",
        role: m.role,
        name: m.workspace_name,
        slug,
        status,
        others,
    };
    render(StatusCode::OK, &page, &n)
}

pub async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> AppResult<Response> {
    let (session, m) = match member(&state, &headers, &slug, &format!("/t/{slug}/audit")).await? {
        Ok(x) => x,
        Err(resp) => return Ok(resp),
    };
    if m.role != "admin" {
        return error_page(
            PageError::Forbidden,
            session.viewer(),
            "Admins only",
            "Only workspace admins can see the audit log.",
            vec![(format!("/t/{slug}"), "Back to the workspace".into())],
        );
    }
    let rows = state
        .store
        .audit_of_workspace(&slug, 200)
        .await?
        .into_iter()
        .map(|e| AuditRow {
            at: format_time(e.at),
            event: e.event,
            who: e.username.or(e.user_id).unwrap_or_default(),
            client: e.client_id.unwrap_or_default(),
            ip: e.ip.unwrap_or_default(),
            detail: e.detail,
        })
        .collect();
    let n = nonce();
    render(
        StatusCode::OK,
        &AuditPage {
            nonce: n.clone(),
            viewer: session.viewer(),
            slug,
            name: m.workspace_name,
            rows,
        },
        &n,
    )
}

pub async fn wiki_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, page)): Path<(String, String)>,
) -> AppResult<Response> {
    let (session, m) =
        match member(&state, &headers, &slug, &format!("/t/{slug}/wiki/{page}")).await? {
            Ok(x) => x,
            Err(resp) => return Ok(resp),
        };
    let doc = state
        .knowledge
        .document(&slug, &format!("wiki:{page}"))
        .await
        .map_err(crate::error::AppError::Internal)?;
    let Some(doc) = doc else {
        return error_page(
            PageError::NotFound,
            session.viewer(),
            "Page not found",
            &format!("The wiki of {} has no page {page:?}.", m.workspace_name),
            vec![(format!("/t/{slug}"), "Back to the workspace".into())],
        );
    };
    let n = nonce();
    let page = DocumentPage {
        nonce: n.clone(),
        viewer: session.viewer(),
        title: doc.title,
        body_html: markdown::to_html(&doc.text),
        breadcrumb: vec![(format!("/t/{slug}"), m.workspace_name)],
        footer: (doc.updated_at > 0)
            .then(|| format!("Last updated {}", format_time(doc.updated_at))),
    };
    render(StatusCode::OK, &page, &n)
}
