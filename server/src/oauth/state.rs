//! Per-process authorization-server state.
use super::ratelimit::RateLimiter;
use crate::config::Config;
use crate::store::oauth::ClientRecord;
use std::collections::HashMap;
use std::sync::Mutex;

/// Per-process authorization-server state.
pub struct OAuthState {
    /// Client registrations per client IP per minute.
    pub registrations: RateLimiter,
    /// Fetched Client ID Metadata Documents.
    pub cimd: CimdCache,
    /// Fetched JWK Sets (`private_key_jwt`).
    pub jwks: super::client_assertion::JwksCache,
}

impl OAuthState {
    pub fn new(config: &Config) -> Self {
        Self {
            registrations: RateLimiter::new(config.registration_rate_per_minute.max(1), 60),
            cimd: CimdCache::new(),
            jwks: super::client_assertion::JwksCache::new(),
        }
    }
}

/// In-memory cache of validated documents, keyed by client id URL.
#[derive(Default)]
pub struct CimdCache {
    entries: Mutex<HashMap<String, (ClientRecord, i64)>>,
}

impl CimdCache {
    pub fn new() -> Self {
        Self::default()
    }

    pub(super) fn get(&self, client_id: &str, now: i64) -> Option<ClientRecord> {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(client_id) {
            Some((rec, until)) if *until > now => Some(rec.clone()),
            Some(_) => {
                map.remove(client_id);
                None
            }
            None => None,
        }
    }

    pub(super) fn put(&self, rec: &ClientRecord, until: i64) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(rec.client_id.clone(), (rec.clone(), until));
    }
}
