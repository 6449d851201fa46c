//! The validation cache in front of the store, and the principal it yields. Plain data and
//! locks: no HTTP, no store access (that is `bearer`).
//!
//! Validated tokens live in a bounded [`FastCache`] (S3-FIFO, so a flood of one-off tokens
//! cannot push out the ones in use). Whether an entry is still good is judged on the injected
//! `Clock` (`ttl` seconds after it was read) and on the revocation generation it was read under;
//! the cache itself keeps no time.
//!
//! The generation closes a race a plain "clear on revoke" cache has: a request reads a token
//! from the store, a revocation commits and clears the cache, and only then does the request
//! store what it read. Here a request takes a [`Ticket`] (the current generation) before it
//! reads, and the entry it stores carries that ticket; every [`TokenValidator::invalidate_all`]
//! moves the generation first, so an entry read before a revocation is never served after it.
use crate::limits::{FastCache, fast_cache};
use crate::store::TokenRecord;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The authenticated caller of an MCP request: the validated token's record, shared with the
/// validation cache (cloning it, once per request and per context, copies no string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal(Arc<TokenRecord>);

impl Principal {
    /// Only `bearer::authenticate` makes one, from a record it has just validated.
    pub(super) fn validated(record: Arc<TokenRecord>) -> Self {
        Self(record)
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.0.scopes.iter().any(|s| s == scope)
    }
}

impl std::ops::Deref for Principal {
    type Target = TokenRecord;

    fn deref(&self) -> &TokenRecord {
        &self.0
    }
}

const CACHE_CAPACITY: u64 = 10_000;
/// A grant's last-used time is written at most this often (seconds).
const TOUCH_INTERVAL: i64 = 60;

/// A validated token, shared by the cache and the requests that found it there.
pub(super) struct Entry {
    pub(super) record: Arc<TokenRecord>,
    fetched_at: i64,
    /// The generation the record was read under (see module docs).
    generation: u64,
    /// When a request with this token last found its grant's last-used time due or recently
    /// written ([`TokenValidator::should_touch`]): later requests within the interval skip the
    /// grant lookup.
    touch_checked: AtomicI64,
}

/// The revocation generation taken before reading a token from the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// Bounded cache of validated tokens, keyed by token hash.
pub struct TokenValidator {
    cache: FastCache<String, Arc<Entry>>,
    /// Grant id → when this process last wrote its last-used time (`Clock` seconds).
    touched: FastCache<String, i64>,
    /// Moved by every [`invalidate_all`](Self::invalidate_all), before the cache is cleared.
    generation: AtomicU64,
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
            cache: fast_cache(CACHE_CAPACITY),
            touched: fast_cache(CACHE_CAPACITY),
            generation: AtomicU64::new(0),
            epoch: AtomicI64::new(epoch),
            ttl,
            revoked: tokio::sync::watch::Sender::new(0),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Drops every cached validation. Call after any revocation or membership change, once it
    /// has committed.
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.cache.clear();
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

    /// Validations cached by this process (expired ones still count until evicted for room or
    /// cleared by a revocation).
    pub fn cached_len(&self) -> usize {
        self.cache.len()
    }

    /// The cached record for token hash `hash`, if it was read less than `ttl` seconds ago and
    /// no revocation happened since.
    pub(super) fn get(&self, hash: &str, now: i64) -> Option<Arc<Entry>> {
        let e = self.cache.get(hash)?;
        (now - e.fetched_at < self.ttl && e.generation == self.generation.load(Ordering::SeqCst))
            .then_some(e)
    }

    /// Take before reading a token from the store; hand to [`put`](Self::put) with what was read.
    pub(super) fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::SeqCst))
    }

    /// Caches `record`, read from the store after `ticket` was taken. If a revocation happened
    /// in between (before or after this call), [`get`](Self::get) never serves the entry.
    /// Returns the entry made for it (whether or not it will be served).
    pub(super) fn put(
        &self,
        hash: String,
        record: Arc<TokenRecord>,
        now: i64,
        ticket: Ticket,
    ) -> Arc<Entry> {
        let entry = Arc::new(Entry {
            record,
            fetched_at: now,
            generation: ticket.0,
            touch_checked: AtomicI64::new(i64::MIN),
        });
        self.cache.insert(hash, entry.clone());
        entry
    }

    /// Whether the last-used time of `entry`'s grant is due an update: at most once a minute per
    /// grant. Within a minute of the last time a request with this token asked, the answer is
    /// no without a lookup.
    pub(super) fn should_touch(&self, entry: &Entry, now: i64) -> bool {
        let checked = entry.touch_checked.load(Ordering::Relaxed);
        if now.saturating_sub(checked) < TOUCH_INTERVAL {
            return false;
        }
        let grant = &entry.record.grant_id;
        if let Some(last) = self.touched.get(grant.as_str())
            && now - last < TOUCH_INTERVAL
        {
            // Another token of the grant wrote it: this one asks again when that write is due.
            entry.touch_checked.fetch_max(last, Ordering::Relaxed);
            return false;
        }
        // Of the requests that found it due, only the one that moves the mark touches.
        if entry
            .touch_checked
            .compare_exchange(checked, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        self.touched.insert(grant.clone(), now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(grant: &str) -> Arc<TokenRecord> {
        Arc::new(TokenRecord {
            grant_id: grant.into(),
            client_id: "c".into(),
            user_id: "u".into(),
            username: "alice".into(),
            workspace_slug: "acme".into(),
            resource: "https://h/t/acme/mcp".into(),
            scopes: vec!["mcp:read".into()],
            expires_at: 10_000,
            token_revoked: false,
            grant_revoked: false,
            is_member: true,
        })
    }

    #[test]
    fn a_record_read_before_a_revocation_is_not_served_after_it() {
        let v = TokenValidator::new(30, 0);
        // Read, revocation commits and clears the cache, then the stale read is stored.
        let before = v.ticket();
        v.invalidate_all();
        v.put("h1".into(), record("g1"), 100, before);
        assert!(v.get("h1", 100).is_none(), "a stale read was served");
        // A read after the revocation is cached as usual, and only until the next one.
        v.put("h1".into(), record("g1"), 100, v.ticket());
        assert_eq!(v.get("h1", 100).unwrap().record.grant_id, "g1");
        v.invalidate_all();
        assert!(v.get("h1", 100).is_none());
    }

    #[test]
    fn a_record_is_served_for_ttl_seconds_of_the_clock() {
        let v = TokenValidator::new(30, 0);
        v.put("h1".into(), record("g1"), 100, v.ticket());
        assert!(v.get("h1", 129).is_some());
        assert!(v.get("h1", 130).is_none());
        assert!(v.get("h2", 100).is_none());
    }

    #[test]
    fn an_epoch_that_moved_clears_the_cache() {
        let v = TokenValidator::new(30, 7);
        v.put("h1".into(), record("g1"), 100, v.ticket());
        v.observe_epoch(7);
        assert!(v.get("h1", 100).is_some());
        v.observe_epoch(8);
        assert!(v.get("h1", 100).is_none());
    }

    #[test]
    fn a_grant_is_touched_at_most_once_a_minute() {
        let v = TokenValidator::new(30, 0);
        let t = |grant: &str| v.put(format!("h-{grant}"), record(grant), 100, v.ticket());
        let (g1, g2) = (t("g1"), t("g2"));
        assert!(v.should_touch(&g1, 100));
        assert!(!v.should_touch(&g1, 159));
        assert!(v.should_touch(&g2, 159));
        assert!(v.should_touch(&g1, 160));
        assert!(!v.should_touch(&g1, 200));
        // A second token of a grant (a refresh rotated it) finds the grant's write and waits
        // for it to be due, without touching.
        let g1b = v.put("h-g1-rotated".into(), record("g1"), 200, v.ticket());
        assert!(!v.should_touch(&g1b, 200));
        // It remembers when that write is due, even if the grant's entry is evicted meanwhile.
        v.touched.clear();
        assert!(!v.should_touch(&g1b, 219));
        // Due again for the grant: whichever of its tokens asks first touches, once.
        assert!(v.should_touch(&g1b, 220));
        assert!(!v.should_touch(&g1, 220));
        assert!(!v.should_touch(&g1, 279));
        assert!(v.should_touch(&g1, 280));
    }

    #[test]
    fn of_concurrent_requests_that_find_a_grant_due_one_touches() {
        let v = TokenValidator::new(30, 0);
        let entries: Vec<_> = (0..2000)
            .map(|i| v.put(format!("h{i}"), record(&format!("g{i}")), 100, v.ticket()))
            .collect();
        let start = std::sync::Barrier::new(4);
        let touched: usize = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        entries.iter().filter(|e| v.should_touch(e, 100)).count()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(
            touched,
            entries.len(),
            "a grant was touched twice in one minute"
        );
    }
}
