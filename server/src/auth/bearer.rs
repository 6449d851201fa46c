//! Bearer token validation for the MCP endpoint (RFC 6750 §2.1, §3; RFC 8707 audience).
//!
//! Hot path: one SHA-256, one cache lookup; on a miss one indexed query. No password hashing.
//! Revocations in this process call [`TokenValidator::invalidate_all`]; revocations by another
//! process (admin CLI, a second replica) bump `auth_epoch`, which a background task polls, and on
//! PostgreSQL also `NOTIFY` it, which wakes the poller at once (`changes.rs`).
use super::validator::Principal;
use crate::config::DEFAULT_SCOPES;
use crate::error::{AppError, BearerChallenge};
use crate::secrets::SecretHash;
use crate::state::AppState;
use axum::http::{HeaderMap, header};
use std::sync::Arc;

/// Starts the task that follows other processes' revocations (see module docs).
pub fn spawn_epoch_poller(state: AppState) {
    let every = std::time::Duration::from_millis(state.config.auth_epoch_poll_ms.max(50));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = state.tokens.poller_woken() => {}
            }
            match state.store.auth_epoch().await {
                Ok(e) => state.tokens.observe_epoch(e),
                Err(e) => tracing::warn!(error = %e, "reading auth epoch"),
            }
        }
    });
}

/// A challenge for workspace `slug`; `error.rs` answers it with the status its code calls for.
fn challenge(
    state: &AppState,
    slug: &str,
    error: Option<&'static str>,
    description: Option<&str>,
) -> AppError {
    AppError::Bearer(BearerChallenge {
        resource_metadata: state.config.prm_url(slug),
        error,
        description: description.map(str::to_owned),
        scope: DEFAULT_SCOPES.to_owned(),
    })
}

/// 403 `insufficient_scope` naming every scope the operation needs (MCP step-up, RFC 6750 §3.1).
pub fn insufficient_scope(state: &AppState, slug: &str, needed: &[&str]) -> AppError {
    AppError::Bearer(BearerChallenge {
        resource_metadata: state.config.prm_url(slug),
        error: Some("insufficient_scope"),
        description: Some(format!("this request needs scope {}", needed.join(" "))),
        scope: needed.join(" "),
    })
}

/// Whether the query string carries an access token (RFC 6750 §2.3, which we do not support).
fn query_has_token(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "access_token")
    })
}

/// Extracts the bearer token from `Authorization` (scheme case-insensitive, RFC 9110 §11.1).
/// `Ok(None)`: no bearer credentials at all. `Err(())`: present but malformed.
fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, ()> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(());
    }
    let value = value.to_str().map_err(|_| ())?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim_matches(' ');
    // RFC 6750 §2.1 b64token.
    let valid = !token.is_empty()
        && token
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-._~+/=".contains(&c));
    if valid { Ok(Some(token)) } else { Err(()) }
}

/// Authenticates an MCP request for workspace `slug`.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
    slug: &str,
) -> Result<Principal, AppError> {
    let in_query = query_has_token(query);
    let token = match bearer_token(headers) {
        Ok(Some(_)) if in_query => {
            return Err(challenge(
                state,
                slug,
                Some("invalid_request"),
                Some("more than one method used to send the access token"),
            ));
        }
        Ok(Some(t)) => t,
        Ok(None) if in_query => {
            return Err(challenge(
                state,
                slug,
                Some("invalid_request"),
                Some(
                    "access tokens in the query string are not accepted; use the Authorization header",
                ),
            ));
        }
        Ok(None) => return Err(challenge(state, slug, None, None)),
        Err(()) => {
            return Err(challenge(
                state,
                slug,
                Some("invalid_token"),
                Some("malformed Authorization header"),
            ));
        }
    };
    let now = state.clock.now();
    let hash = SecretHash::of(token);
    let hash = hash.as_str();
    let cached = state.tokens.get(hash, now);
    crate::ops::metrics::bearer_cache(cached.is_some());
    let entry = match cached {
        Some(e) => e,
        None => {
            // Taken before the read: a revocation that commits meanwhile keeps it uncached.
            let ticket = state.tokens.ticket();
            match state.store.access_token_by_hash(hash).await? {
                Some(r) => state.tokens.put(hash.to_owned(), Arc::new(r), now, ticket),
                None => {
                    return Err(challenge(
                        state,
                        slug,
                        Some("invalid_token"),
                        Some("unknown access token"),
                    ));
                }
            }
        }
    };
    let record = &entry.record;
    let invalid = |why: &str| challenge(state, slug, Some("invalid_token"), Some(why));
    if record.token_revoked || record.grant_revoked {
        return Err(invalid("the access token was revoked"));
    }
    if now >= record.expires_at {
        return Err(invalid("the access token expired"));
    }
    // RFC 8707: the audience is exactly this workspace's MCP URL.
    if record.workspace_slug != slug
        || state.config.slug_for_resource(&record.resource) != Some(slug)
    {
        return Err(invalid(
            "the access token was issued for a different resource",
        ));
    }
    if !record.is_member {
        return Err(invalid("the user is no longer a member of this workspace"));
    }
    if state.tokens.should_touch(&entry, now) {
        let store = state.store.clone();
        let grant = record.grant_id.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_grant(&grant, now).await {
                tracing::debug!(error = %e, "touching grant");
            }
        });
    }
    Ok(Principal::validated(entry.record.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h(v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token(&HeaderMap::new()), Ok(None));
        assert_eq!(
            bearer_token(&h("Bearer abc.DEF-_~+/=")),
            Ok(Some("abc.DEF-_~+/="))
        );
        assert_eq!(bearer_token(&h("bearer abc")), Ok(Some("abc")));
        assert_eq!(bearer_token(&h("BEARER abc")), Ok(Some("abc")));
        assert_eq!(bearer_token(&h("Basic dXNlcjpwYXNz")), Ok(None));
        assert_eq!(bearer_token(&h("Bearer")), Err(()));
        assert_eq!(bearer_token(&h("Bearer a b")), Err(()));
        assert_eq!(bearer_token(&h("Bearer a\"b")), Err(()));
    }

    #[test]
    fn query_tokens_detected() {
        assert!(query_has_token(Some("access_token=abc")));
        assert!(query_has_token(Some("x=1&access_token=abc")));
        assert!(!query_has_token(Some("x=1")));
        assert!(!query_has_token(None));
    }
}
