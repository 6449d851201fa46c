//! The token endpoint (RFC 6749 §3.2): parses client credentials and dispatches by
//! `grant_type` to `code` (authorization code) or `refresh` (refresh token). Shared issuance
//! helpers are in `grant`.
use super::client_auth::ClientCredentials;
use super::context::{Ctx, Params};
use super::grant::TokenResponse;
use super::{code, refresh};
use crate::error::OAuthError;

/// The token endpoint: dispatches on `grant_type`.
pub async fn token(
    ctx: &Ctx<'_>,
    params: &Params,
    authorization: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let creds = ClientCredentials::from_params(authorization, params)?;
    match params.get("grant_type")? {
        None => Err(OAuthError::invalid_request("missing parameter grant_type")),
        Some("authorization_code") => code::authorization_code(ctx, params, &creds).await,
        Some("refresh_token") => refresh::refresh(ctx, params, &creds).await,
        Some(other) => Err(OAuthError::new(
            "unsupported_grant_type",
            format!(
                "grant_type {other:?} is not supported (use authorization_code or refresh_token)"
            ),
        )),
    }
}
