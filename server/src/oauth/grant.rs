//! What both grants share (fosite's shape): the token response, minting, `invalid_grant`, client
//! resolution and the RFC 8707 resource check. `token` dispatches; `code` and `refresh` are the
//! grants.
use super::client_auth::{ClientCredentials, authenticate};
use super::context::{Ctx, Params};
use crate::error::OAuthError;
use crate::secrets::{hash_secret, new_secret};
use crate::store::oauth::{ClientRecord, NewToken};
use serde::Serialize;

/// RFC 6749 §5.1 successful response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

pub(super) fn invalid_grant(d: impl Into<String>) -> OAuthError {
    OAuthError::new("invalid_grant", d)
}

/// A freshly generated token: plaintext for the response, hash for the store.
pub(super) fn mint(prefix: &str, scopes: &[String], expires_at: i64) -> (String, NewToken) {
    let plain = new_secret(prefix);
    let stored = NewToken {
        hash: hash_secret(&plain),
        scopes: scopes.to_vec(),
        expires_at,
    };
    (plain, stored)
}

/// Authenticates the client that presents an artifact (code or refresh token) issued to
/// `owner`. A request that named a client was already authenticated (`named`).
pub(super) async fn client_for(
    ctx: &Ctx<'_>,
    creds: &ClientCredentials,
    named: Option<ClientRecord>,
    owner: &str,
) -> Result<ClientRecord, OAuthError> {
    let client = match named {
        Some(c) => c,
        None => authenticate(ctx, creds, Some(owner)).await?,
    };
    // CIMD clients (public, or `private_key_jwt`) only while the policy accepts URL client ids.
    if client.kind == "cimd" && !ctx.config.cimd.enabled {
        return Err(OAuthError::new(
            "invalid_client",
            "URL client ids (Client ID Metadata Documents) are not accepted by this server",
        ));
    }
    if client.client_id != owner {
        return Err(invalid_grant("the grant was issued to another client"));
    }
    Ok(client)
}

/// Authenticates up front when the request names its client, so a bad client gets
/// `invalid_client` (Claude re-registers on that) whatever else is wrong.
pub(super) async fn named_client(
    ctx: &Ctx<'_>,
    creds: &ClientCredentials,
) -> Result<Option<ClientRecord>, OAuthError> {
    match creds.client_id {
        Some(_) => Ok(Some(authenticate(ctx, creds, None).await?)),
        None => Ok(None),
    }
}

/// Checks an optional RFC 8707 `resource` against the grant's.
pub(super) fn check_resource(params: &Params, bound: &str) -> Result<(), OAuthError> {
    if params.count("resource") > 1 {
        return Err(OAuthError::new(
            "invalid_target",
            "only one resource may be requested",
        ));
    }
    match params.get("resource")? {
        Some(r) if r != bound => Err(OAuthError::new(
            "invalid_target",
            format!("this grant is for {bound}, not {r}"),
        )),
        _ => Ok(()),
    }
}
