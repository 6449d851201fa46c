//! The authorization-code grant (RFC 6749 §4.1.3, OAuth 2.1 §4.1.3).
//!
//! Codes are single use. A second redemption always fails with `invalid_grant`; whether it also
//! revokes what the first redemption issued (RFC 6749 §4.1.2) depends on how it looks:
//!
//! * **Tolerated retry** (quirk Q25): the same client, a `code_verifier` that matches the code's
//!   challenge, the same `redirect_uri`, within `config.duplicate_code_window` seconds of the first
//!   redemption. Only the legitimate client knows the verifier, so this is its own duplicate POST;
//!   the grant is left alone and the event is audited.
//! * **Anything else** (late, wrong verifier, different redirect): treated as a stolen code; the
//!   grant it produced is revoked with all its tokens.
use super::client_auth::{ClientCredentials, claimed_client_id};
use super::context::{Ctx, Params, internal};
use super::{audit, pkce};
use crate::error::OAuthError;
use crate::secrets::{ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX, hash_secret, new_id};
use crate::store::audit::AuditEntry;
use crate::store::oauth::{AuthCodeRecord, NewGrant, RedeemOutcome};

use super::grant::{TokenResponse, artifact_and_client, check_resource, invalid_grant, mint};

fn code_entry(rec: &AuthCodeRecord, event: &str, detail: impl Into<String>) -> AuditEntry {
    AuditEntry {
        user_id: Some(rec.code.user_id.clone()),
        workspace_slug: Some(rec.code.workspace_slug.clone()),
        client_id: Some(rec.code.client_id.clone()),
        grant_id: rec.grant_id.clone(),
        ..AuditEntry::new(event, detail)
    }
}

pub(super) async fn authorization_code(
    ctx: &Ctx<'_>,
    params: &Params,
    creds: &ClientCredentials,
) -> Result<TokenResponse, OAuthError> {
    let code = params.required("code")?;
    let claimed = claimed_client_id(creds, None);
    let read = ctx
        .store
        .auth_code_with_client(&hash_secret(code), claimed.as_deref())
        .await
        .map_err(internal)?;
    let (rec, client) = artifact_and_client(
        ctx,
        creds,
        claimed.as_deref(),
        read,
        |rec: &AuthCodeRecord| &rec.code.client_id,
        "unknown or expired authorization code",
    )
    .await?;
    if !client.grant_types.iter().any(|g| g == "authorization_code") {
        return Err(OAuthError::new(
            "unauthorized_client",
            "this client did not register the authorization_code grant",
        ));
    }
    let verifier = params.get("code_verifier")?;
    let pkce_ok = verifier.is_some_and(|v| pkce::verify(v, &rec.code.code_challenge));
    let redirect_ok = match params.get("redirect_uri")? {
        Some(r) => r == rec.code.redirect_uri,
        None => !rec.code.redirect_uri_explicit,
    };

    if let Some(redeemed_at) = rec.redeemed_at {
        let retry =
            pkce_ok && redirect_ok && ctx.now - redeemed_at <= ctx.config.duplicate_code_window;
        return Err(replayed(ctx, &rec, retry).await);
    }
    if ctx.now >= rec.code.expires_at {
        return Err(invalid_grant(
            "the authorization code expired; authorize again",
        ));
    }
    if !redirect_ok {
        return Err(invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    if verifier.is_none() {
        return Err(OAuthError::invalid_request(
            "missing parameter code_verifier (PKCE is required)",
        ));
    }
    if !pkce_ok {
        return Err(invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    check_resource(params, &rec.code.resource)?;
    if !rec.member {
        return Err(invalid_grant(
            "the user is no longer a member of this workspace",
        ));
    }

    let scopes = rec.code.scopes.clone();
    let (access, access_row) = mint(
        ACCESS_TOKEN_PREFIX,
        &scopes,
        ctx.now + ctx.config.access_token_ttl,
    );
    let refresh = client
        .grant_types
        .iter()
        .any(|g| g == "refresh_token")
        .then(|| {
            mint(
                REFRESH_TOKEN_PREFIX,
                &scopes,
                ctx.now + ctx.config.refresh_token_ttl,
            )
        });
    let grant = NewGrant {
        id: format!("g_{}", new_id()),
        client_id: client.client_id.clone(),
        user_id: rec.code.user_id.clone(),
        workspace_slug: rec.code.workspace_slug.clone(),
        resource: rec.code.resource.clone(),
        scopes: scopes.clone(),
    };
    // Written with the grant, in its transaction; the store appends the number superseded.
    let detail = format!("code exchanged; scopes {}; superseded ", scopes.join(" "));
    let mut issued = audit::prepare(
        ctx,
        AuditEntry {
            grant_id: Some(grant.id.clone()),
            ..code_entry(&rec, "token_issued", detail)
        },
    );
    let outcome = ctx
        .store
        .redeem_auth_code(
            &rec.code.code_hash,
            &grant,
            &access_row,
            refresh.as_ref().map(|r| &r.1),
            &issued,
            client.last_used_at,
            ctx.now,
        )
        .await
        .map_err(internal)?;
    match outcome {
        RedeemOutcome::LostRace => {
            // A concurrent request with the same code won a moment ago: a duplicate POST.
            audit::record(
                ctx,
                code_entry(
                    &rec,
                    "code_replay_tolerated",
                    "concurrent redemption of one code",
                ),
            )
            .await;
            return Err(invalid_grant("the authorization code was already used"));
        }
        RedeemOutcome::Redeemed { superseded } => {
            if superseded > 0 {
                ctx.tokens.invalidate_all();
            }
            issued.detail = format!("{}{superseded} older grant(s)", issued.detail);
            audit::announce(&issued);
        }
    }
    Ok(TokenResponse {
        access_token: access,
        token_type: "Bearer",
        expires_in: ctx.config.access_token_ttl,
        refresh_token: refresh.map(|r| r.0),
        scope: scopes.join(" "),
    })
}

/// A second redemption (see module docs). Always `invalid_grant`.
async fn replayed(ctx: &Ctx<'_>, rec: &AuthCodeRecord, tolerated_retry: bool) -> OAuthError {
    if tolerated_retry {
        audit::record(
            ctx,
            code_entry(
                rec,
                "code_replay_tolerated",
                "duplicate redemption by the same client within the retry window",
            ),
        )
        .await;
        return invalid_grant("the authorization code was already used");
    }
    if let Some(g) = &rec.grant_id {
        match ctx.store.revoke_grant(g, ctx.now).await {
            Ok(_) => ctx.tokens.invalidate_all(),
            Err(e) => return internal(e),
        }
    }
    audit::record(
        ctx,
        code_entry(
            rec,
            "code_replay_revoked",
            "authorization code reused; the grant it produced was revoked",
        ),
    )
    .await;
    invalid_grant(
        "the authorization code was already used; the tokens issued from it have been revoked",
    )
}
