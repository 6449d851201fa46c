//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, RFC 7521 §4.2; OpenID Connect
//! Core §9) for Client ID Metadata Document clients.
//!
//! The client sends `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`
//! and `client_assertion=<JWT>` signed with a key published at its document's `jwks_uri`. The
//! assertion is accepted when:
//!
//! * its header names RS256 or ES256 (and the document's `token_endpoint_auth_signing_alg`, if
//!   any), and the signature verifies with a key of the client's JWKS (by `kid`, or any key of the
//!   right type when the header has none);
//! * `iss` and `sub` are the client id (§3 items 1–2), `aud` contains this server's issuer or its
//!   token endpoint URL (§3 item 3);
//! * `exp` is in the future (30 s leeway) and at most [`MAX_LIFETIME`] ahead, `nbf`/`iat` are not
//!   in the future (§3 items 4–6; time comes from the server's clock, not the JWT library's);
//! * `jti` is present and was never seen before for this client (§3 item 7). Used `jti`s are
//!   stored (hashed) in the database until the assertion expires, so a replay is refused by every
//!   replica.
//!
//! Keys come from `jwks_uri` through the CIMD fetcher (same SSRF guard, no redirects, size and
//! time bounds), cached per `Cache-Control: max-age` (5 min by default, 24 h at most). An unknown
//! `kid` triggers one refetch (at most one per [`REFETCH_INTERVAL`] per JWKS, so a client cannot
//! make the server fetch on every request).
use super::cimd;
use super::context::{Ctx, internal};
use super::metadata::TOKEN_PATH;
use crate::error::OAuthError;
use crate::secrets::hash_secret;
use crate::store::oauth::ClientRecord;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The signing algorithms advertised in `token_endpoint_auth_signing_alg_values_supported`.
pub const SIGNING_ALGS: [&str; 2] = ["RS256", "ES256"];
/// The longest an assertion may live (`exp` − now); also bounds how long a `jti` is stored.
pub const MAX_LIFETIME: i64 = 10 * 60;
pub const LEEWAY: i64 = 30;
pub const REFETCH_INTERVAL: i64 = 10;
const MAX_ASSERTION_BYTES: usize = 8 * 1024;
const MAX_KEYS: usize = 20;

/// Fetched JWKS documents, keyed by `jwks_uri`: (keys, valid until, fetched at).
#[derive(Default)]
pub struct JwksCache {
    entries: Mutex<HashMap<String, (JwkSet, i64, i64)>>,
}

impl JwksCache {
    pub fn new() -> Self {
        Self::default()
    }

    fn get(&self, uri: &str) -> Option<(JwkSet, i64, i64)> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.get(uri).cloned()
    }

    fn put(&self, uri: &str, set: JwkSet, until: i64, fetched_at: i64) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(uri.to_string(), (set, until, fetched_at));
    }
}

/// What the CIMD document said about `private_key_jwt` (kept in the client row's metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySource {
    pub jwks_uri: String,
    pub alg: Option<String>,
}

impl KeySource {
    /// Reads `jwks_uri` (and the optional `token_endpoint_auth_signing_alg`) from a client row.
    pub fn of(client: &ClientRecord) -> Option<Self> {
        if client.kind != "cimd" {
            return None;
        }
        let meta: serde_json::Value = serde_json::from_str(&client.metadata).ok()?;
        Some(Self {
            jwks_uri: meta.get("jwks_uri")?.as_str()?.to_string(),
            alg: meta
                .get("token_endpoint_auth_signing_alg")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
        })
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: Option<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    jti: Option<String>,
}

fn invalid_client(d: impl Into<String>) -> OAuthError {
    OAuthError::new("invalid_client", d)
}

/// The client id an assertion claims (`iss`), read without verification: only used to find the
/// client whose keys then verify it, when the request has no `client_id`.
pub fn claimed_client_id(assertion: &str) -> Option<String> {
    jsonwebtoken::dangerous::insecure_decode_claims::<Claims>(assertion)
        .ok()
        .and_then(|c| c.iss)
}

/// Verifies `assertion` for `client` (see module docs).
pub async fn verify(
    ctx: &Ctx<'_>,
    jwks: &JwksCache,
    client: &ClientRecord,
    assertion: &str,
) -> Result<(), OAuthError> {
    let source = KeySource::of(client).ok_or_else(|| {
        invalid_client(
            "this client has no jwks_uri in its metadata document, so it cannot use private_key_jwt",
        )
    })?;
    if assertion.len() > MAX_ASSERTION_BYTES {
        return Err(invalid_client("client_assertion is too large"));
    }
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|e| invalid_client(format!("client_assertion is not a JWT ({e})")))?;
    let alg = match header.alg {
        Algorithm::RS256 => "RS256",
        Algorithm::ES256 => "ES256",
        other => {
            return Err(invalid_client(format!(
                "client_assertion algorithm {other:?} is not supported (use RS256 or ES256)"
            )));
        }
    };
    if let Some(want) = &source.alg
        && want != alg
    {
        return Err(invalid_client(format!(
            "client_assertion is signed with {alg}, but the client's document says token_endpoint_auth_signing_alg {want}"
        )));
    }

    let keys = keys_for(ctx, jwks, &source, header.kid.as_deref(), alg).await?;
    let mut validation = Validation::new(header.alg);
    // Time claims are checked below against the server's clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.required_spec_claims.clear();
    let token_endpoint = format!("{}{TOKEN_PATH}", ctx.config.issuer());
    validation.set_audience(&[ctx.config.issuer(), token_endpoint.as_str()]);
    validation.validate_aud = true;
    validation.set_issuer(&[client.client_id.as_str()]);
    validation.sub = Some(client.client_id.clone());
    validation.set_required_spec_claims(&["aud", "iss", "sub"]);

    let mut last_err = None;
    let mut claims = None;
    for key in &keys {
        match jsonwebtoken::decode::<Claims>(assertion, key, &validation) {
            Ok(data) => {
                claims = Some(data.claims);
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let claims = claims.ok_or_else(|| {
        use jsonwebtoken::errors::ErrorKind as K;
        let why = match last_err.as_ref().map(|e| e.kind()) {
            Some(K::InvalidAudience) => format!(
                "its aud must be this server's issuer ({}) or token endpoint ({token_endpoint})",
                ctx.config.issuer()
            ),
            Some(K::InvalidIssuer) | Some(K::InvalidSubject) => {
                "its iss and sub must both be the client_id".to_string()
            }
            Some(K::MissingRequiredClaim(c)) => format!("it has no {c} claim"),
            Some(K::InvalidSignature) | None => {
                "its signature does not verify with the client's published keys".to_string()
            }
            Some(other) => format!("it is not valid ({other:?})"),
        };
        invalid_client(format!("client_assertion refused: {why}"))
    })?;
    let now = ctx.now;
    let exp = claims
        .exp
        .ok_or_else(|| invalid_client("client_assertion refused: it has no exp claim"))?;
    if exp + LEEWAY <= now {
        return Err(invalid_client("client_assertion refused: it has expired"));
    }
    if exp > now + MAX_LIFETIME + LEEWAY {
        return Err(invalid_client(format!(
            "client_assertion refused: its exp is more than {} minutes ahead",
            MAX_LIFETIME / 60
        )));
    }
    if claims.nbf.is_some_and(|nbf| nbf > now + LEEWAY)
        || claims.iat.is_some_and(|iat| iat > now + LEEWAY)
    {
        return Err(invalid_client(
            "client_assertion refused: it is not valid yet (nbf or iat in the future)",
        ));
    }
    let jti = claims
        .jti
        .filter(|j| !j.is_empty() && j.len() <= 512)
        .ok_or_else(|| invalid_client("client_assertion refused: it has no jti claim"))?;
    let fresh = ctx
        .store
        .record_assertion_jti(&client.client_id, &hash_secret(&jti), exp + LEEWAY, now)
        .await
        .map_err(internal)?;
    if !fresh {
        return Err(invalid_client(
            "client_assertion refused: its jti was already used (assertions are single use)",
        ));
    }
    Ok(())
}

/// The decoding keys that may verify an assertion with `kid` and `alg`: from the cache, or
/// fetched (again, once, when `kid` is unknown).
async fn keys_for(
    ctx: &Ctx<'_>,
    jwks: &JwksCache,
    source: &KeySource,
    kid: Option<&str>,
    alg: &str,
) -> Result<Vec<DecodingKey>, OAuthError> {
    let cached = jwks.get(&source.jwks_uri);
    let (set, fetched_at) = match cached {
        Some((set, until, fetched_at)) if until > ctx.now => (set, fetched_at),
        _ => (fetch(ctx, jwks, &source.jwks_uri).await?, ctx.now),
    };
    let mut keys = matching(&set, kid, alg);
    if keys.is_empty() && kid.is_some() && ctx.now - fetched_at >= REFETCH_INTERVAL {
        // A new kid: the client may have rotated its keys since we cached them.
        let set = fetch(ctx, jwks, &source.jwks_uri).await?;
        keys = matching(&set, kid, alg);
    }
    if keys.is_empty() {
        return Err(invalid_client(match kid {
            Some(k) => format!(
                "client_assertion refused: no {alg} key with kid {k:?} at {}",
                source.jwks_uri
            ),
            None => format!(
                "client_assertion refused: no {alg} key at {}",
                source.jwks_uri
            ),
        }));
    }
    keys.iter()
        .map(|k| {
            DecodingKey::from_jwk(k).map_err(|e| {
                invalid_client(format!(
                    "client_assertion refused: the client's key is unusable ({e})"
                ))
            })
        })
        .collect()
}

/// Keys of `set` usable for `alg` (RSA for RS256, P-256 for ES256), with `kid` if given, and
/// without a conflicting `alg` or a `use` other than `sig`.
fn matching(set: &JwkSet, kid: Option<&str>, alg: &str) -> Vec<Jwk> {
    set.keys
        .iter()
        .filter(|k| kid.is_none() || k.common.key_id.as_deref() == kid)
        .filter(|k| match (&k.algorithm, alg) {
            (AlgorithmParameters::RSA(_), "RS256") => true,
            (AlgorithmParameters::EllipticCurve(p), "ES256") => p.curve == EllipticCurve::P256,
            _ => false,
        })
        .filter(|k| {
            k.common
                .key_algorithm
                .is_none_or(|a| format!("{a:?}") == alg)
        })
        .filter(|k| {
            k.common
                .public_key_use
                .as_ref()
                .is_none_or(|u| matches!(u, jsonwebtoken::jwk::PublicKeyUse::Signature))
        })
        .take(MAX_KEYS)
        .cloned()
        .collect()
}

async fn fetch(ctx: &Ctx<'_>, jwks: &JwksCache, uri: &str) -> Result<JwkSet, OAuthError> {
    let policy = &ctx.config.cimd;
    let refuse = |why: String| {
        invalid_client(format!(
            "the client's keys could not be fetched from {uri}: {why}"
        ))
    };
    let url = url::Url::parse(uri).map_err(|e| refuse(format!("not a URL ({e})")))?;
    let loopback_http =
        policy.allow_http_loopback && url.scheme() == "http" && url.host_str() == Some("127.0.0.1");
    if (url.scheme() != "https" && !loopback_http)
        || !url.username().is_empty()
        || url.password().is_some()
        || url.fragment().is_some()
    {
        return Err(refuse(
            "jwks_uri must be an https URL without userinfo or fragment".into(),
        ));
    }
    let (body, ttl) = cimd::fetch(&url, policy).await.map_err(refuse)?;
    let set: JwkSet =
        serde_json::from_slice(&body).map_err(|e| refuse(format!("it is not a JWK Set ({e})")))?;
    jwks.put(uri, set.clone(), ctx.now + ttl, ctx.now);
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_selection() {
        let set: JwkSet = serde_json::from_value(serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "r2", "use": "enc", "n": "sXch", "e": "AQAB"},
            {"kty": "EC", "kid": "e1", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "kid": "e2", "crv": "P-384", "x": "AA", "y": "AA"}
        ]}))
        .unwrap();
        let ids = |kid, alg| {
            matching(&set, kid, alg)
                .into_iter()
                .map(|k| k.common.key_id.unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(None, "RS256"), ["r1"]);
        assert_eq!(ids(Some("r1"), "RS256"), ["r1"]);
        assert!(ids(Some("r2"), "RS256").is_empty(), "encryption key");
        assert!(ids(Some("r1"), "ES256").is_empty());
        assert_eq!(ids(None, "ES256"), ["e1"]);
        assert!(ids(Some("e2"), "ES256").is_empty(), "P-384 is not ES256");
        assert!(ids(Some("nope"), "RS256").is_empty());
    }
}
