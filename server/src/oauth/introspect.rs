//! Token introspection (RFC 7662) for other resource servers.
//!
//! Callers authenticate as clients. A confidential client (a resource server registered with a
//! secret) may introspect any token; a public client only tokens issued to it. Everything else,
//! and every unknown, expired, revoked or rotated token, is `{"active": false}`.
use super::client_auth::{ClientCredentials, authenticate};
use super::context::{Ctx, Params, internal};
use crate::error::OAuthError;
use crate::secrets::hash_secret;
use serde_json::{Value, json};

pub async fn introspect(
    ctx: &Ctx<'_>,
    params: &Params,
    authorization: Option<&str>,
) -> Result<Value, OAuthError> {
    let creds = ClientCredentials::from_params(authorization, params)?;
    let caller = authenticate(ctx, &creds, None).await?;
    let token = params.required("token")?;
    // Only clients holding a secret this server issued may look at other clients' tokens; a
    // metadata-document client (its own keys, anyone can publish one) sees only its own.
    let may_see = |owner: &str| {
        !matches!(
            caller.token_endpoint_auth_method.as_str(),
            "none" | "private_key_jwt"
        ) || caller.client_id == owner
    };
    let hash = hash_secret(token);
    let inactive = json!({ "active": false });
    if let Some(a) = ctx
        .store
        .access_token_by_hash(&hash)
        .await
        .map_err(internal)?
    {
        let live = !a.token_revoked && !a.grant_revoked && a.is_member && ctx.now < a.expires_at;
        if !live || !may_see(&a.client_id) {
            return Ok(inactive);
        }
        return Ok(json!({
            "active": true,
            "token_type": "Bearer",
            "scope": a.scopes.join(" "),
            "client_id": a.client_id,
            "username": a.username,
            "sub": a.user_id,
            "aud": a.resource,
            "iss": ctx.config.issuer(),
            "exp": a.expires_at,
            "workspace": a.workspace_slug,
        }));
    }
    if let Some(r) = ctx.store.refresh_token(&hash).await.map_err(internal)? {
        let live = r.revoked_at.is_none()
            && r.rotated_at.is_none()
            && !r.grant_revoked
            && r.is_member
            && ctx.now < r.expires_at;
        if !live || !may_see(&r.client_id) {
            return Ok(inactive);
        }
        return Ok(json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": r.scopes.join(" "),
            "client_id": r.client_id,
            "username": r.username,
            "sub": r.user_id,
            "aud": r.resource,
            "iss": ctx.config.issuer(),
            "exp": r.expires_at,
            "iat": r.created_at,
            "workspace": r.workspace_slug,
        }));
    }
    Ok(inactive)
}
