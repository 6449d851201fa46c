//! Per-process authorization-server state. Limits shared by replicas are not here but in the
//! database (`store::counters`); these bound this process's own work.
use crate::config::Config;
use crate::store::oauth::ClientRecord;

/// Client ID Metadata Document and JWK Set fetches in flight at once, across all callers (a
/// global bound on outbound work; `cimd::admit_fetch`).
pub const MAX_CONCURRENT_FETCHES: usize = 4;

/// Per-process authorization-server state.
pub struct OAuthState {
    /// Fetched Client ID Metadata Documents.
    pub cimd: CimdCache,
    /// Admission to password verification (bounded queue).
    pub logins: crate::auth::password::VerifyQueue,
    /// Client ID Metadata Document fetches in flight at once.
    pub cimd_fetches: tokio::sync::Semaphore,
    /// Fetched JWK Sets (`private_key_jwt`).
    pub jwks: super::client_keys::JwksCache,
}

impl OAuthState {
    pub fn new(_config: &Config) -> Self {
        Self {
            cimd: CimdCache::new(),
            logins: crate::auth::password::VerifyQueue::default(),
            cimd_fetches: tokio::sync::Semaphore::new(MAX_CONCURRENT_FETCHES),
            jwks: super::client_keys::JwksCache::new(),
        }
    }
}

/// In-memory cache of validated documents, keyed by client id URL: bounded, each for the
/// lifetime its `Cache-Control` allowed.
pub struct CimdCache {
    entries: super::ttl_cache::TtlCache<ClientRecord>,
}

impl Default for CimdCache {
    fn default() -> Self {
        Self {
            entries: super::ttl_cache::TtlCache::new(10_000),
        }
    }
}

impl CimdCache {
    pub fn new() -> Self {
        Self::default()
    }

    pub(super) fn get(&self, client_id: &str, now: i64) -> Option<ClientRecord> {
        self.entries.get_valid(client_id, now)
    }

    /// Valid from `now` until `until`.
    pub(super) fn put(&self, rec: &ClientRecord, now: i64, until: i64) {
        self.entries.insert(&rec.client_id, rec.clone(), now, until);
    }
}
