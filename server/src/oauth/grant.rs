//! What both grants share (fosite's shape): the token response, minting, `invalid_grant`, client
//! resolution and the RFC 8707 resource check. `token` dispatches; `code` and `refresh` are the
//! grants.
use super::client_auth::{ClientCredentials, authenticate_as};
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

/// The artifact (code or refresh token) a grant request presents, and its authenticated client.
/// `read` is both, from one query (`store`'s `*_with_client`): the artifact, and the client
/// `claimed` ([`claimed_client_id`](super::client_auth::claimed_client_id)`(creds, None)`) or,
/// with none claimed, the artifact's owner. A client the request names is judged first, so a bad
/// one gets `invalid_client` (Claude re-registers on that) whatever the artifact; a request that
/// names none is the artifact's owner (quirk Q26), and its artifact must exist.
pub(super) async fn artifact_and_client<T>(
    ctx: &Ctx<'_>,
    creds: &ClientCredentials,
    claimed: Option<&str>,
    read: (Option<T>, Option<ClientRecord>),
    owner: impl Fn(&T) -> &str,
    unknown: &str,
) -> Result<(T, ClientRecord), OAuthError> {
    let (artifact, mut record) = read;
    let named = match creds.client_id {
        Some(_) => Some(authenticate_as(ctx, creds, claimed, record.take()).await?),
        None => None,
    };
    let artifact = artifact.ok_or_else(|| invalid_grant(unknown))?;
    let owner = owner(&artifact);
    let client = match named {
        Some(client) => client,
        None => authenticate_as(ctx, creds, Some(claimed.unwrap_or(owner)), record).await?,
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
    Ok((artifact, client))
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
