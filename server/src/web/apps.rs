//! `/settings/connected-apps`: the signed-in user's grants, and for workspace admins every
//! member's grants on that workspace, each with a CSRF-protected Revoke that ends the grant and
//! all its tokens in one transaction.
use super::templates::{AdminSection, ConnectedAppsPage, GrantRow, ScopeLine};
use super::{current_session, error_page, format_time, login_url, nonce, render, see_other};
use crate::error::{AppResult, PageError};
use crate::net::ClientIp;
use crate::oauth::{Ctx, Params, audit, scopes};
use crate::state::AppState;
use crate::store::GrantRecord;
use crate::store::audit::AuditEntry;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

const PAGE: &str = "/settings/connected-apps";

fn row(g: GrantRecord) -> GrantRow {
    GrantRow {
        self_registered: g.client_kind == "dcr",
        client_name: g.client_name,
        username: g.username,
        workspace: g.workspace_slug,
        scopes: g
            .scopes
            .iter()
            .map(|s| ScopeLine {
                scope: s.clone(),
                description: scopes::describe(s).into(),
            })
            .collect(),
        created: format_time(g.created_at),
        last_used: g
            .last_used_at
            .map(format_time)
            .unwrap_or_else(|| "never".into()),
        id: g.id,
    }
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> AppResult<Response> {
    let Some(session) = current_session(&state, &headers).await? else {
        return Ok(see_other(&login_url(PAGE)));
    };
    let me = &session.user.id;
    let grants = state
        .store
        .grants_of_user(me)
        .await?
        .into_iter()
        .map(row)
        .collect();
    let mut admin = Vec::new();
    for m in state.store.memberships_of(me).await? {
        if m.role == "admin" {
            let others = state.store.grants_of_workspace(&m.workspace_slug).await?;
            admin.push(AdminSection {
                workspace: m.workspace_slug,
                grants: others
                    .into_iter()
                    .filter(|g| &g.user_id != me)
                    .map(row)
                    .collect(),
            });
        }
    }
    let revoked = Params::parse(q.unwrap_or_default().as_bytes())
        .get("revoked")
        .ok()
        .flatten()
        .is_some();
    let n = nonce();
    let page = ConnectedAppsPage {
        nonce: n.clone(),
        viewer: session.viewer(),
        notice: revoked.then(|| "Access revoked. The application has been signed out.".to_string()),
        grants,
        admin,
    };
    render(StatusCode::OK, &page, &n)
}

pub async fn revoke(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(grant_id): Path<String>,
    body: Bytes,
) -> AppResult<Response> {
    let Some(session) = current_session(&state, &headers).await? else {
        return Ok(see_other(&login_url(PAGE)));
    };
    let params = Params::parse(&body);
    if !session.csrf_ok(params.get("csrf").ok().flatten()) {
        return error_page(
            PageError::Forbidden,
            session.viewer(),
            "This form has expired",
            "Reload Connected apps and try again.",
            vec![(PAGE.into(), "Connected apps".into())],
        );
    }
    let not_found = || {
        error_page(
            PageError::NotFound,
            session.viewer(),
            "No such connection",
            "This connection does not exist or was already revoked.",
            vec![(PAGE.into(), "Connected apps".into())],
        )
    };
    let Some(grant) = state
        .store
        .grant(&grant_id)
        .await?
        .filter(|g| g.revoked_at.is_none())
    else {
        return not_found();
    };
    let own = grant.user_id == session.user.id;
    let admin = state
        .store
        .membership(&grant.workspace_slug, &session.user.id)
        .await?
        .is_some_and(|m| m.role == "admin");
    if !own && !admin {
        return not_found();
    }
    let ctx = Ctx::new(&state, ip);
    state.store.revoke_grant(&grant.id, ctx.now).await?;
    state.tokens.invalidate_all();
    let by = if own {
        "the user".to_string()
    } else {
        format!("workspace admin {}", session.user.username)
    };
    audit::record(
        &ctx,
        AuditEntry {
            user_id: Some(grant.user_id.clone()),
            username: Some(grant.username.clone()),
            workspace_slug: Some(grant.workspace_slug.clone()),
            client_id: Some(grant.client_id.clone()),
            grant_id: Some(grant.id.clone()),
            ..AuditEntry::new(
                "grant_revoked",
                format!("revoked in Connected apps by {by}"),
            )
        },
    )
    .await;
    Ok(see_other(&format!("{PAGE}?revoked=1")))
}
