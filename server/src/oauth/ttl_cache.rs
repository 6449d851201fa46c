//! A bounded cache whose entries each live for their own time to live: documents fetched from
//! clients' servers (Client ID Metadata Documents, JWK Sets), each with the lifetime its
//! `Cache-Control` allowed. `moka` bounds the size (TinyLFU admission, so a flood of one-off
//! client ids cannot push out the documents in use) and drops an entry once its TTL has passed
//! (a per-entry [`Expiry`]). Validity as the flows see it is still judged on the injected
//! `Clock` (`until`), so expiry is tested by moving a `ManualClock`; moka's own timer only
//! reclaims memory. A leaf of the `oauth` module graph.

use moka::Expiry;
use moka::sync::Cache;
use std::time::{Duration, Instant};

/// One cached value and how long it is valid.
#[derive(Clone, Debug)]
pub struct Entry<V> {
    pub value: V,
    /// Valid until this `Clock` second.
    pub until: i64,
    /// When it was fetched (`Clock` seconds).
    pub fetched_at: i64,
}

/// Each entry expires `until - fetched_at` seconds after it was written.
struct PerEntryTtl;

fn ttl<V>(e: &Entry<V>) -> Duration {
    Duration::from_secs(u64::try_from(e.until - e.fetched_at).unwrap_or(0).max(1))
}

impl<V> Expiry<String, Entry<V>> for PerEntryTtl {
    fn expire_after_create(&self, _: &String, e: &Entry<V>, _: Instant) -> Option<Duration> {
        Some(ttl(e))
    }

    fn expire_after_update(
        &self,
        _: &String,
        e: &Entry<V>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(ttl(e))
    }
}

/// Entries keyed by URL (a client id, a `jwks_uri`).
pub struct TtlCache<V: Clone + Send + Sync + 'static> {
    inner: Cache<String, Entry<V>>,
}

impl<V: Clone + Send + Sync + 'static> TtlCache<V> {
    /// At most `capacity` entries.
    pub fn new(capacity: u64) -> Self {
        Self {
            inner: Cache::builder()
                .max_capacity(capacity)
                .expire_after(PerEntryTtl)
                .build(),
        }
    }

    /// The entry for `key`, valid or not (the caller judges `until` against its clock).
    pub fn get(&self, key: &str) -> Option<Entry<V>> {
        self.inner.get(key)
    }

    /// The value for `key` if it is still valid at `now`; an expired entry is dropped.
    pub fn get_valid(&self, key: &str, now: i64) -> Option<V> {
        match self.inner.get(key) {
            Some(e) if e.until > now => Some(e.value),
            Some(_) => {
                self.inner.invalidate(key);
                None
            }
            None => None,
        }
    }

    pub fn insert(&self, key: &str, value: V, fetched_at: i64, until: i64) {
        self.inner.insert(
            key.to_string(),
            Entry {
                value,
                until,
                fetched_at,
            },
        );
    }

    /// Entries held (after pending evictions have run).
    pub fn len(&self) -> u64 {
        self.inner.run_pending_tasks();
        self.inner.entry_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_follows_the_clock_and_size_is_bounded() {
        let c: TtlCache<u32> = TtlCache::new(100);
        c.insert("https://a/doc", 7, 1_000, 1_300);
        assert_eq!(c.get_valid("https://a/doc", 1_299), Some(7));
        assert_eq!(c.get("https://a/doc").map(|e| e.fetched_at), Some(1_000));
        assert_eq!(c.get_valid("https://a/doc", 1_300), None);
        assert!(
            c.get("https://a/doc").is_none(),
            "expired entries are dropped"
        );
        for i in 0..1_000 {
            c.insert(&format!("https://x/{i}"), i, 0, 60);
        }
        assert!(c.len() <= 100, "bounded: {}", c.len());
    }

    #[test]
    fn entries_expire_in_real_time_after_their_own_ttl() {
        let c: TtlCache<u32> = TtlCache::new(10);
        c.insert("short", 1, 0, 1);
        c.insert("long", 2, 0, 3_600);
        std::thread::sleep(Duration::from_millis(1_100));
        assert!(c.get("short").is_none());
        assert_eq!(c.get("long").map(|e| e.value), Some(2));
    }
}
