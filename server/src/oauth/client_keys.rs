//! What `private_key_jwt` (RFC 7523 §2.2) knows of a client's keys: the signing algorithms we
//! accept, where a CIMD client's keys live, and the per-process cache of fetched JWKS documents.
//! A leaf of the `oauth` module graph, so the request context, metadata and CIMD can use it.

use super::ttl_cache::TtlCache;
use crate::store::oauth::ClientRecord;
use jsonwebtoken::jwk::JwkSet;

/// The signing algorithms advertised in `token_endpoint_auth_signing_alg_values_supported`.
pub const SIGNING_ALGS: [&str; 2] = ["RS256", "ES256"];

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

/// Fetched JWKS documents, keyed by `jwks_uri`: bounded, each for its own TTL.
pub struct JwksCache {
    entries: TtlCache<JwkSet>,
}

impl Default for JwksCache {
    fn default() -> Self {
        Self {
            entries: TtlCache::new(10_000),
        }
    }
}

impl JwksCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// (keys, valid until, fetched at).
    pub(super) fn get(&self, uri: &str) -> Option<(JwkSet, i64, i64)> {
        self.entries
            .get(uri)
            .map(|e| (e.value, e.until, e.fetched_at))
    }

    pub(super) fn put(&self, uri: &str, set: JwkSet, until: i64, fetched_at: i64) {
        self.entries.insert(uri, set, fetched_at, until);
    }
}
