//! `/login` and `/logout`: HTML forms that work without JavaScript. The sign-in form's CSRF
//! token is double-submitted against a short-lived pre-session cookie; after sign-in, forms use
//! the session-derived token. Failures show one generic message; throttling answers 429.
use super::templates::LoginPage;
use super::{
    anonymous, cookie, current_session, device_cookie_name, error_page, error_page_retry_after,
    login_cookie_name, nonce, render, safe_next, see_other, session_cookie_name, set_cookie,
};
use crate::error::{AppResult, PageError};
use crate::net::ClientIp;
use crate::oauth::login::{self as flow, LoginOutcome, SESSION_TTL};
use crate::oauth::metadata::AUTHORIZE_PATH;
use crate::oauth::{Ctx, Params};
use crate::secrets::{ct_eq, random_token};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

const LOGIN_COOKIE_TTL: i64 = 3600;

fn login_page(
    state: &AppState,
    status: StatusCode,
    token: &str,
    next: &str,
    username: &str,
    error: Option<&str>,
) -> AppResult<Response> {
    let n = nonce();
    let page = LoginPage {
        nonce: n.clone(),
        viewer: anonymous(),
        csrf: token.to_string(),
        next: next.to_string(),
        username: username.to_string(),
        error: error.map(str::to_owned),
        for_authorization: next.starts_with(AUTHORIZE_PATH),
    };
    let mut resp = render(status, &page, &n)?;
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, login_cookie_name(state), token, LOGIN_COOKIE_TTL),
    );
    Ok(resp)
}

pub async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> AppResult<Response> {
    let params = Params::parse(q.unwrap_or_default().as_bytes());
    let next = safe_next(state.config.issuer(), params.get("next").ok().flatten());
    let token = cookie(&headers, login_cookie_name(&state))
        .map(str::to_owned)
        .unwrap_or_else(|| random_token(32));
    login_page(&state, StatusCode::OK, &token, &next, "", None)
}

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let params = Params::parse(&body);
    let field = |k: &str| params.get(k).ok().flatten();
    let next = safe_next(state.config.issuer(), field("next"));
    let typed = field("username").unwrap_or("").trim();
    let username = crate::limits::clip(typed, crate::limits::MAX_USERNAME);
    let cookie_token = cookie(&headers, login_cookie_name(&state));
    let csrf_ok = matches!((cookie_token, field("csrf")), (Some(c), Some(f)) if ct_eq(c, f));
    if !csrf_ok {
        let fresh = random_token(32);
        return login_page(
            &state,
            PageError::Forbidden.status(),
            &fresh,
            &next,
            &username,
            Some("Your sign-in form expired. Please try again."),
        );
    }
    let token = cookie_token.unwrap_or_default().to_string();
    let Some(password) = field("password").filter(|_| !username.is_empty()) else {
        return login_page(
            &state,
            PageError::BadRequest.status(),
            &token,
            &next,
            &username,
            Some("Enter your username and password."),
        );
    };
    let ctx = Ctx::new(&state, ip);
    let device = cookie(&headers, device_cookie_name(&state));
    let outcome = flow::login(&ctx, typed, password, device).await?;
    crate::ops::metrics::login_attempt(match &outcome {
        LoginOutcome::SignedIn { .. } => "success",
        LoginOutcome::Failed => "failed",
        LoginOutcome::Throttled { .. } => "throttled",
        LoginOutcome::Busy { .. } => "busy",
    });
    match outcome {
        LoginOutcome::SignedIn {
            session, device, ..
        } => {
            // Signing in again (switching account) ends the previous session.
            if let Some(old) = cookie(&headers, session_cookie_name(&state)) {
                flow::logout(&ctx, old).await?;
            }
            let mut resp = see_other(&next);
            let h = resp.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(&state, session_cookie_name(&state), &session, SESSION_TTL),
            );
            h.append(
                header::SET_COOKIE,
                set_cookie(&state, login_cookie_name(&state), "", 0),
            );
            if let Some(device) = device {
                h.append(
                    header::SET_COOKIE,
                    set_cookie(
                        &state,
                        device_cookie_name(&state),
                        &device,
                        flow::DEVICE_TTL,
                    ),
                );
            }
            Ok(resp)
        }
        LoginOutcome::Failed => login_page(
            &state,
            PageError::BadCredentials.status(),
            &token,
            &next,
            &username,
            Some("Incorrect username or password."),
        ),
        LoginOutcome::Throttled { retry_after } => {
            let minutes = (retry_after + 59) / 60;
            error_page_retry_after(
                PageError::Throttled,
                retry_after,
                anonymous(),
                "Too many attempts",
                &format!(
                    "There have been too many failed sign-in attempts. Wait {minutes} minute(s) and try again."
                ),
            )
        }
        LoginOutcome::Busy { retry_after } => error_page_retry_after(
            PageError::Busy,
            retry_after,
            anonymous(),
            "Busy",
            "The server is checking many sign-ins right now. Try again in a moment.",
        ),
    }
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let params = Params::parse(&body);
    if let Some(session) = current_session(&state, &headers).await? {
        if !session.csrf_ok(params.get("csrf").ok().flatten()) {
            return error_page(
                PageError::Forbidden,
                session.viewer(),
                "This form has expired",
                "Reload the page and try again.",
                vec![],
            );
        }
        flow::logout(&Ctx::new(&state, None), &session.id).await?;
    }
    let mut resp = see_other("/");
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, session_cookie_name(&state), "", 0),
    );
    Ok(resp)
}
