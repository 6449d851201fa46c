//! The refresh-token grant (RFC 6749 §6, OAuth 2.1 §4.3) with rotation and a grace window.
//!
//! Every refresh rotates: the presented token T0 is marked rotated by a conditional UPDATE (the
//! database picks one winner among concurrent requests) and a successor pair (T1, A1) is stored.
//! The pair's plaintext is also kept *sealed* with a key derived from T0, so only a holder of T0
//! can read it back. Then:
//!
//! * T0 presented again within `refresh_grace` seconds of its rotation, while T1 is still unused:
//!   the same pair (T1, A1) is returned. N concurrent refreshes therefore all receive one and the
//!   same pair, and exactly one refresh token stays live; the grant is never touched.
//! * T0 presented within the grace window after T1 was used: `invalid_grant`, nothing revoked.
//! * T0 presented after the grace window: reuse of a rotated token means it leaked; the whole
//!   grant is revoked with all its tokens (OAuth 2.1 §4.3.1 / RFC 9700 §4.14.2).
//!
//! Scopes may narrow (the access token gets the narrower set; the refresh token keeps its own,
//! RFC 6749 §6) but never widen; `resource` must be the grant's (`invalid_target`).
use super::audit;
use super::client_auth::{ClientCredentials, claimed_client_id};
use super::context::{Ctx, Params, internal};
use super::grant::{TokenResponse, artifact_and_client, check_resource, invalid_grant, mint};
use crate::error::OAuthError;
use crate::names::parse_scopes;
use crate::secrets::{ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX, hash_secret};
use crate::store::audit::AuditEntry;
use crate::store::oauth::RefreshRecord;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};

const SEAL_LABEL: &[u8] = b"gigamcp refresh successor v2";

/// ChaCha20-Poly1305 keyed by SHA-256(label ‖ rotated token). Each rotated token seals exactly
/// one successor (the rotating UPDATE is conditional), so a fixed nonce never repeats under a key.
fn seal_cipher(rotated: &str) -> ChaCha20Poly1305 {
    let mut h = Sha256::new();
    h.update(SEAL_LABEL);
    h.update(rotated.as_bytes());
    ChaCha20Poly1305::new(&Key::from(<[u8; 32]>::from(h.finalize())))
}

const SEAL_NONCE: [u8; 12] = [0; 12];

/// Seals the successor pair under the rotated token (a 256-bit random secret).
pub fn seal(rotated: &str, refresh: &str, access: &str, access_expires_at: i64) -> String {
    let plain = format!("{refresh}\n{access}\n{access_expires_at}");
    let sealed = seal_cipher(rotated)
        .encrypt(&Nonce::from(SEAL_NONCE), plain.as_bytes())
        .expect("ChaCha20-Poly1305 encryption of a short message cannot fail");
    hex::encode(sealed)
}

/// Opens a sealed pair: (refresh token, access token, access expiry). `None` for the wrong
/// token or a tampered value (authenticated encryption).
pub fn unseal(rotated: &str, sealed: &str) -> Option<(String, String, i64)> {
    let bytes = hex::decode(sealed).ok()?;
    let plain = seal_cipher(rotated)
        .decrypt(&Nonce::from(SEAL_NONCE), bytes.as_slice())
        .ok()?;
    let plain = String::from_utf8(plain).ok()?;
    let mut parts = plain.splitn(3, '\n');
    let (r, a, e) = (parts.next()?, parts.next()?, parts.next()?.parse().ok()?);
    Some((r.to_string(), a.to_string(), e))
}

fn entry(rec: &RefreshRecord, event: &str, detail: impl Into<String>) -> AuditEntry {
    AuditEntry {
        user_id: Some(rec.user_id.clone()),
        username: Some(rec.username.clone()),
        workspace_slug: Some(rec.workspace_slug.clone()),
        client_id: Some(rec.client_id.clone()),
        grant_id: Some(rec.grant_id.clone()),
        ..AuditEntry::new(event, detail)
    }
}

pub async fn refresh(
    ctx: &Ctx<'_>,
    params: &Params,
    creds: &ClientCredentials,
) -> Result<TokenResponse, OAuthError> {
    let presented = params.required("refresh_token")?;
    let hash = hash_secret(presented);
    let claimed = claimed_client_id(creds, None);
    let read = ctx
        .store
        .refresh_token_with_client(&hash, claimed.as_deref())
        .await
        .map_err(internal)?;
    let (mut rec, client) = artifact_and_client(
        ctx,
        creds,
        claimed.as_deref(),
        read,
        |rec: &RefreshRecord| &rec.client_id,
        "unknown refresh token",
    )
    .await?;
    if !client.grant_types.iter().any(|g| g == "refresh_token") {
        return Err(OAuthError::new(
            "unauthorized_client",
            "this client did not register the refresh_token grant",
        ));
    }
    if rec.grant_revoked || rec.revoked_at.is_some() {
        return Err(invalid_grant(
            "the refresh token was revoked; authorize again",
        ));
    }
    if !rec.is_member {
        return Err(invalid_grant(
            "the user is no longer a member of this workspace",
        ));
    }
    check_resource(params, &rec.resource)?;
    let access_scopes = match params.get("scope")? {
        None => rec.scopes.clone(),
        Some(s) => {
            let wanted = parse_scopes(s);
            if wanted.is_empty() || wanted.iter().any(|w| !rec.scopes.contains(w)) {
                return Err(OAuthError::new(
                    "invalid_scope",
                    format!(
                        "a refresh may only narrow the granted scopes ({})",
                        rec.scopes.join(" ")
                    ),
                ));
            }
            wanted
        }
    };

    // At most two rounds: try to rotate; if another request rotated first, serve the grace path.
    for _ in 0..2 {
        let Some(rotated_at) = rec.rotated_at else {
            if ctx.now >= rec.expires_at {
                return Err(invalid_grant("the refresh token expired; authorize again"));
            }
            let (new_refresh, refresh_row) = mint(
                REFRESH_TOKEN_PREFIX,
                &rec.scopes,
                ctx.now + ctx.config.refresh_token_ttl,
            );
            let access_exp = ctx.now + ctx.config.access_token_ttl;
            let (new_access, access_row) = mint(ACCESS_TOKEN_PREFIX, &access_scopes, access_exp);
            let sealed = seal(presented, &new_refresh, &new_access, access_exp);
            let refreshed = audit::prepare(
                ctx,
                entry(
                    &rec,
                    "token_refreshed",
                    format!("scopes {}", access_scopes.join(" ")),
                ),
            );
            if ctx
                .store
                .rotate_refresh_token(
                    &hash,
                    &rec.grant_id,
                    &refresh_row,
                    &access_row,
                    &sealed,
                    &refreshed,
                    ctx.now,
                )
                .await
                .map_err(internal)?
            {
                audit::announce(&refreshed);
                return Ok(TokenResponse {
                    access_token: new_access,
                    token_type: "Bearer",
                    expires_in: ctx.config.access_token_ttl,
                    refresh_token: Some(new_refresh),
                    scope: access_scopes.join(" "),
                });
            }
            rec = ctx
                .store
                .refresh_token(&hash)
                .await
                .map_err(internal)?
                .ok_or_else(|| invalid_grant("unknown refresh token"))?;
            if rec.grant_revoked || rec.revoked_at.is_some() {
                return Err(invalid_grant(
                    "the refresh token was revoked; authorize again",
                ));
            }
            continue;
        };
        return rotated(ctx, &rec, presented, rotated_at).await;
    }
    Err(invalid_grant(
        "the refresh token could not be rotated; try again",
    ))
}

/// A rotated token presented again (see module docs).
async fn rotated(
    ctx: &Ctx<'_>,
    rec: &RefreshRecord,
    presented: &str,
    rotated_at: i64,
) -> Result<TokenResponse, OAuthError> {
    if ctx.now - rotated_at > ctx.config.refresh_grace {
        ctx.store
            .revoke_grant(&rec.grant_id, ctx.now)
            .await
            .map_err(internal)?;
        ctx.tokens.invalidate_all();
        audit::record(
            ctx,
            entry(
                rec,
                "refresh_replay_revoked",
                "a rotated refresh token was reused after the grace window; grant revoked",
            ),
        )
        .await;
        return Err(invalid_grant(
            "the refresh token was already used; the grant has been revoked, authorize again",
        ));
    }
    let already_used = || invalid_grant("the refresh token was already used");
    let (Some(successor_hash), Some(sealed)) = (&rec.successor_hash, &rec.successor_sealed) else {
        return Err(already_used());
    };
    let (refresh, access, access_exp) = unseal(presented, sealed).ok_or_else(already_used)?;
    if &hash_secret(&refresh) != successor_hash {
        return Err(already_used());
    }
    let successor = ctx
        .store
        .refresh_token(successor_hash)
        .await
        .map_err(internal)?
        .ok_or_else(already_used)?;
    if successor.rotated_at.is_some() || successor.revoked_at.is_some() || successor.grant_revoked {
        return Err(already_used());
    }
    let live_access = ctx
        .store
        .access_token_by_hash(&hash_secret(&access))
        .await
        .map_err(internal)?;
    let Some(at) =
        live_access.filter(|a| !a.token_revoked && !a.grant_revoked && ctx.now < a.expires_at)
    else {
        return Err(already_used());
    };
    audit::record(
        ctx,
        entry(
            rec,
            "token_refresh_retry",
            "rotated refresh token presented within the grace window; same pair returned",
        ),
    )
    .await;
    Ok(TokenResponse {
        access_token: access,
        token_type: "Bearer",
        expires_in: access_exp - ctx.now,
        refresh_token: Some(refresh),
        scope: at.scopes.join(" "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_needs_the_rotated_token() {
        let s = seal("gmcp_rt_old", "gmcp_rt_new", "gmcp_at_new", 1234);
        assert_eq!(
            unseal("gmcp_rt_old", &s),
            Some(("gmcp_rt_new".into(), "gmcp_at_new".into(), 1234))
        );
        // The wrong token, or any tampering, opens nothing (authenticated encryption).
        assert_eq!(unseal("gmcp_rt_other", &s), None);
        let mut tampered = hex::decode(&s).unwrap();
        tampered[0] ^= 1;
        assert_eq!(unseal("gmcp_rt_old", &hex::encode(tampered)), None);
        assert_eq!(unseal("gmcp_rt_old", "not hex"), None);
        assert!(!s.contains(&hex::encode("gmcp_rt_new")));
    }
}
