//! The HTTP adapter of the authorization server: the only file under `oauth/` that imports axum.
//! Handlers parse the request, call one flow with a [`Ctx`], and render its outcome; every error
//! becomes an RFC 6749 §5.2 JSON body with `Cache-Control: no-store` in `error.rs`. The
//! authorization endpoint itself is HTML (sign-in and consent) and lives in `web::authorize`.
use super::context::{Ctx, Params};
use super::metadata::{
    INTROSPECT_PATH, REGISTER_PATH, REVOKE_PATH, TOKEN_PATH, authorization_server_metadata,
};
use crate::error::{AppError, AppResult, OAuthError, no_store};
use crate::net::ClientIp;
use crate::ops::metrics;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route(
            "/.well-known/openid-configuration",
            get(no_openid_configuration),
        )
        .route(REGISTER_PATH, post(register))
        .route(TOKEN_PATH, post(token))
        .route(REVOKE_PATH, post(revoke))
        .route(INTROSPECT_PATH, post(introspect))
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// Token, revocation and introspection requests are form-encoded (RFC 6749 §3.2).
fn form(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    if content_type(headers).as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "send the parameters as application/x-www-form-urlencoded",
        ));
    }
    Ok(Params::parse(body))
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// `/.well-known/oauth-authorization-server` (GET and HEAD).
async fn metadata(State(state): State<AppState>) -> Response {
    let mut resp = Json(authorization_server_metadata(&state.config)).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

/// We serve no OpenID Connect discovery document: a JSON 404 is better than a partial one
/// (quirk Q7), and HEAD/GET both answer fast (Q5).
async fn no_openid_configuration(State(state): State<AppState>) -> AppError {
    OAuthError::not_found(format!(
        "this server is an OAuth 2.0 authorization server without OpenID Connect; see {}/.well-known/oauth-authorization-server",
        state.config.issuer()
    ))
    .into()
}

async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let ctx = Ctx::new(&state, ip);
    let doc = admit_and_register(&state, &ctx, &headers, &body).await;
    metrics::registration(&doc);
    Ok(no_store((StatusCode::CREATED, Json(doc?)).into_response()))
}

async fn admit_and_register(
    state: &AppState,
    ctx: &Ctx<'_>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, OAuthError> {
    if let Err(wait) = state
        .oauth
        .registrations
        .check(ctx.ip.as_deref().unwrap_or("unknown"), ctx.now)
    {
        return Err(OAuthError::new(
            "too_many_requests",
            format!("too many client registrations from this address; try again in {wait} s"),
        )
        .with_retry_after(wait));
    }
    if content_type(headers).is_some_and(|c| c != "application/json") {
        return Err(OAuthError::new(
            "invalid_client_metadata",
            "send the client metadata as application/json",
        ));
    }
    super::register::register(ctx, body).await
}

async fn token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let ctx = Ctx::new(&state, ip);
    let (grant_type, resp) = match form(&headers, &body) {
        Ok(params) => (
            metrics::grant_type_label(params.get("grant_type").ok().flatten()),
            super::token::token(&ctx, &params, authorization(&headers)).await,
        ),
        Err(e) => ("missing", Err(e)),
    };
    metrics::token_request(grant_type, &resp);
    Ok(no_store(Json(resp?).into_response()))
}

async fn revoke(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let ctx = Ctx::new(&state, ip);
    let outcome = match form(&headers, &body) {
        Ok(params) => super::revoke::revoke(&ctx, &params, authorization(&headers)).await,
        Err(e) => Err(e),
    };
    metrics::revocation(&outcome);
    outcome?;
    Ok(no_store(StatusCode::OK.into_response()))
}

async fn introspect(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let ctx = Ctx::new(&state, ip);
    let doc = match form(&headers, &body) {
        Ok(params) => super::introspect::introspect(&ctx, &params, authorization(&headers)).await,
        Err(e) => Err(e),
    };
    metrics::introspection(&doc);
    Ok(no_store(Json(doc?).into_response()))
}
