//! The authorization endpoint's HTTP side (`GET`/`POST /api/oauth/server/authorize`): sign-in
//! redirect, consent page, and the redirects back to the client. The decisions are made in
//! `oauth::authorize`; this file only maps them to pages and redirects.
use super::templates::{ConsentPage, ScopeLine, WorkspaceOption};
use super::{current_session, error_page, login_url, nonce, render, see_other, viewer_of};
use crate::error::{AppResult, PageError};
use crate::net::ClientIp;
use crate::oauth::authorize::{self, Decision, Prepared, Rejection};
use crate::oauth::metadata::AUTHORIZE_PATH;
use crate::oauth::{Ctx, Params};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// 302 Found to the client's redirect URI (RFC 6749 §4.1.2).
fn found(location: &str) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub async fn get(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> AppResult<Response> {
    let params = Params::parse(q.unwrap_or_default().as_bytes());
    handle(&state, ip, &headers, &params, false).await
}

/// The consent form posts back here with the request's parameters as hidden fields.
pub async fn post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let params = Params::parse(&body);
    handle(&state, ip, &headers, &params, true).await
}

async fn handle(
    state: &AppState,
    ip: Option<String>,
    headers: &HeaderMap,
    params: &Params,
    is_post: bool,
) -> AppResult<Response> {
    let ctx = Ctx::new(state, ip);
    let session = current_session(state, headers).await?;
    let req = match authorize::validate(&ctx, params).await {
        Ok(r) => r,
        Err(Rejection::Page(text)) => {
            return error_page(
                PageError::BadRequest,
                viewer_of(&session),
                "This authorization request cannot be completed",
                &text,
                vec![(
                    "/docs/connect-chatgpt#troubleshooting".into(),
                    "Troubleshooting".into(),
                )],
            );
        }
        Err(Rejection::Redirect(to)) => return Ok(found(&to)),
        Err(Rejection::Internal(e)) => return Err(e.into()),
    };
    // Where sign-in returns to: the same request as a GET.
    let here = {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&req.carried)
            .finish();
        format!("{AUTHORIZE_PATH}?{q}")
    };
    let Some(session) = session else {
        if req.prompt_none {
            return Ok(found(&req.error_redirect(
                &ctx,
                "login_required",
                "the user is not signed in",
            )));
        }
        return Ok(see_other(&login_url(&here)));
    };
    let prepared = if is_post {
        if !session.csrf_ok(params.get("csrf").ok().flatten()) {
            return error_page(
                PageError::Forbidden,
                session.viewer(),
                "This form has expired",
                "The consent form could not be verified (it may be from an older sign-in). Start the connection again from the application.",
                vec![],
            );
        }
        let decision = match params.get("decision").ok().flatten() {
            Some("approve") => Decision::Approve,
            Some("deny") => Decision::Deny,
            _ => {
                return error_page(
                    PageError::BadRequest,
                    session.viewer(),
                    "No decision",
                    "Choose Approve or Deny.",
                    vec![(here, "Back".into())],
                );
            }
        };
        let workspace = params.get("workspace").ok().flatten();
        authorize::decide(&ctx, &req, &session.user, decision, workspace).await?
    } else {
        authorize::prepare(&ctx, &req, &session.user).await?
    };
    let cancel = req.error_redirect(&ctx, "access_denied", "the user cancelled");
    match prepared {
        Prepared::Redirect(to) => Ok(found(&to)),
        Prepared::Consent(v) => {
            let n = nonce();
            let page = ConsentPage {
                nonce: n.clone(),
                viewer: session.viewer(),
                csrf: session.csrf.clone(),
                username: session.user.username.clone(),
                client_name: v.client_name,
                client_id: v.client_id,
                self_registered: v.self_registered,
                verified_domain: v.verified_domain,
                localhost_only: v.localhost_only,
                redirect_host: v.redirect_host,
                destination: v.destination,
                verified_host: v.verified_host,
                redirect_uri: v.redirect_uri,
                fixed_workspace: if v.workspace_fixed {
                    v.workspaces.first().map(|w| WorkspaceOption {
                        slug: w.slug.clone(),
                        name: w.name.clone(),
                    })
                } else {
                    None
                },
                workspaces: v
                    .workspaces
                    .into_iter()
                    .map(|w| WorkspaceOption {
                        slug: w.slug,
                        name: w.name,
                    })
                    .collect(),
                scopes: v
                    .scopes
                    .into_iter()
                    .map(|(scope, d)| ScopeLine {
                        scope,
                        description: d.into(),
                    })
                    .collect(),
                carried: req.carried.clone(),
                switch_url: login_url(&here),
            };
            render(StatusCode::OK, &page, &n)
        }
        // 403 pages offering a choice (switch account or cancel); never a redirect.
        Prepared::NotMember { slug, name } => error_page(
            PageError::Forbidden,
            session.viewer(),
            "You are not a member of this workspace",
            &format!(
                "You are signed in as {}, who is not a member of the workspace {name} ({slug}). Sign in with an account that belongs to it, or cancel.",
                session.user.username
            ),
            vec![
                (login_url(&here), "Use a different account".into()),
                (cancel, "Cancel and return to the application".into()),
            ],
        ),
        Prepared::NoWorkspace => error_page(
            PageError::Forbidden,
            session.viewer(),
            "You have no workspace to connect",
            &format!(
                "You are signed in as {}, who does not belong to any workspace yet. Ask an administrator to add you, or use a different account.",
                session.user.username
            ),
            vec![
                (login_url(&here), "Use a different account".into()),
                (cancel, "Cancel and return to the application".into()),
            ],
        ),
    }
}
