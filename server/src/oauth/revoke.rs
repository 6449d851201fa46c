//! Token revocation (RFC 7009) with client authentication.
//!
//! * An access token: that token stops working (the MCP endpoint rejects it on the next request).
//! * A refresh token (current or rotated): the whole grant ends, with every token issued under it.
//! * Unknown tokens, and tokens that belong to another client, get the same empty 200, so the
//!   endpoint reveals nothing about tokens the caller does not own (§2.2).
//! * `token_type_hint` only changes the lookup order; unknown hints are ignored (§2.1).
use super::audit;
use super::client_auth::{ClientCredentials, authenticate};
use super::context::{Ctx, Params, internal};
use crate::error::OAuthError;
use crate::secrets::hash_secret;
use crate::store::audit::AuditEntry;

enum Found {
    Access {
        grant_id: String,
        client_id: String,
        user_id: String,
        slug: String,
    },
    Refresh {
        grant_id: String,
        client_id: String,
        user_id: String,
        slug: String,
    },
}

async fn find(ctx: &Ctx<'_>, hash: &str, refresh_first: bool) -> Result<Option<Found>, OAuthError> {
    for refresh in [refresh_first, !refresh_first] {
        if refresh {
            if let Some(r) = ctx.store.refresh_token(hash).await.map_err(internal)? {
                return Ok(Some(Found::Refresh {
                    grant_id: r.grant_id,
                    client_id: r.client_id,
                    user_id: r.user_id,
                    slug: r.workspace_slug,
                }));
            }
        } else if let Some(a) = ctx
            .store
            .access_token_by_hash(hash)
            .await
            .map_err(internal)?
        {
            return Ok(Some(Found::Access {
                grant_id: a.grant_id,
                client_id: a.client_id,
                user_id: a.user_id,
                slug: a.workspace_slug,
            }));
        }
    }
    Ok(None)
}

pub async fn revoke(
    ctx: &Ctx<'_>,
    params: &Params,
    authorization: Option<&str>,
) -> Result<(), OAuthError> {
    let creds = ClientCredentials::from_params(authorization, params)?;
    let token = params.required("token")?;
    let named = match creds.client_id {
        Some(_) => Some(authenticate(ctx, &creds, None).await?),
        None => None,
    };
    let hash = hash_secret(token);
    let refresh_first = params.get("token_type_hint")? == Some("refresh_token");
    let Some(found) = find(ctx, &hash, refresh_first).await? else {
        if named.is_none() {
            // Nothing identifies the caller: still authenticate (fails for lack of client_id).
            authenticate(ctx, &creds, None).await?;
        }
        return Ok(());
    };
    let (Found::Access { client_id, .. } | Found::Refresh { client_id, .. }) = &found;
    let client = match named {
        Some(c) => c,
        None => authenticate(ctx, &creds, Some(client_id)).await?,
    };
    if &client.client_id != client_id {
        return Ok(());
    }
    let (event, grant_id, user_id, slug) = match found {
        Found::Access {
            grant_id,
            user_id,
            slug,
            ..
        } => {
            ctx.store
                .revoke_access_token_hash(&hash, ctx.now)
                .await
                .map_err(internal)?;
            ("access_token_revoked", grant_id, user_id, slug)
        }
        Found::Refresh {
            grant_id,
            user_id,
            slug,
            ..
        } => {
            ctx.store
                .revoke_grant(&grant_id, ctx.now)
                .await
                .map_err(internal)?;
            ("grant_revoked", grant_id, user_id, slug)
        }
    };
    ctx.tokens.invalidate_all();
    let entry = AuditEntry {
        user_id: Some(user_id),
        workspace_slug: Some(slug),
        client_id: Some(client.client_id),
        grant_id: Some(grant_id),
        ..AuditEntry::new(event, "revoked by the client (RFC 7009)")
    };
    audit::record(ctx, entry).await;
    Ok(())
}
