//! The validation cache in front of the store, and the principal it yields. Plain data and
//! locks: no HTTP, no store access (that is `bearer`).
use crate::store::TokenRecord;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

/// The authenticated caller of an MCP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub username: String,
    pub workspace_slug: String,
    pub scopes: Vec<String>,
    pub expires_at: i64,
}

impl Principal {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

const CACHE_CAPACITY: usize = 10_000;
const TOUCH_INTERVAL: i64 = 60;

struct Entry {
    record: Arc<TokenRecord>,
    fetched_at: i64,
}

/// Bounded cache of validated tokens, keyed by token hash.
pub struct TokenValidator {
    cache: RwLock<HashMap<String, Entry>>,
    touched: RwLock<HashMap<String, i64>>,
    epoch: AtomicI64,
    ttl: i64,
    /// Bumped whenever the cache is dropped for a revocation or membership change, so open
    /// streams can re-check their token at once.
    revoked: tokio::sync::watch::Sender<u64>,
    /// Wakes the epoch poller before its next tick (a PostgreSQL change notification).
    wake: tokio::sync::Notify,
}

impl TokenValidator {
    pub fn new(ttl: i64, epoch: i64) -> Self {
        Self {
            cache: RwLock::new(HashMap::new()),
            touched: RwLock::new(HashMap::new()),
            epoch: AtomicI64::new(epoch),
            ttl,
            revoked: tokio::sync::watch::Sender::new(0),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Drops every cached validation. Call after any revocation or membership change.
    pub fn invalidate_all(&self) {
        if let Ok(mut c) = self.cache.write() {
            c.clear();
        }
        self.revoked.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that changes after every [`invalidate_all`](Self::invalidate_all).
    pub fn revocations(&self) -> tokio::sync::watch::Receiver<u64> {
        self.revoked.subscribe()
    }

    /// Wakes the epoch poller now (another process revoked something).
    pub fn wake_poller(&self) {
        self.wake.notify_one();
    }

    /// Resolves when [`wake_poller`](Self::wake_poller) is called.
    pub async fn poller_woken(&self) {
        self.wake.notified().await
    }

    /// Applies an `auth_epoch` read from the store; clears the cache when it moved.
    pub fn observe_epoch(&self, epoch: i64) {
        if self.epoch.swap(epoch, Ordering::SeqCst) != epoch {
            self.invalidate_all();
        }
    }

    pub fn cached_len(&self) -> usize {
        self.cache.read().map(|c| c.len()).unwrap_or(0)
    }

    pub(super) fn get(&self, hash: &str, now: i64) -> Option<Arc<TokenRecord>> {
        let c = self.cache.read().ok()?;
        let e = c.get(hash)?;
        (now - e.fetched_at < self.ttl).then(|| e.record.clone())
    }

    pub(super) fn put(&self, hash: String, record: Arc<TokenRecord>, now: i64) {
        if let Ok(mut c) = self.cache.write() {
            if c.len() >= CACHE_CAPACITY {
                c.retain(|_, e| now - e.fetched_at < self.ttl);
                if c.len() >= CACHE_CAPACITY {
                    c.clear();
                }
            }
            c.insert(
                hash,
                Entry {
                    record,
                    fetched_at: now,
                },
            );
        }
    }

    /// Whether `grant_id`'s last-used time is due an update (at most once a minute per grant).
    pub(super) fn should_touch(&self, grant_id: &str, now: i64) -> bool {
        if let Ok(t) = self.touched.read()
            && t.get(grant_id)
                .is_some_and(|last| now - last < TOUCH_INTERVAL)
        {
            return false;
        }
        let Ok(mut t) = self.touched.write() else {
            return false;
        };
        if t.len() >= CACHE_CAPACITY {
            t.clear();
        }
        t.insert(grant_id.to_owned(), now);
        true
    }
}
