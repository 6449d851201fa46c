//! Size limits on everything a stranger can make the server store or log.
//!
//! Requests are refused when a protocol field is over its limit (a redirect URI, `scope`,
//! `state`); free text that is only recorded (a user name typed on the sign-in form, a path) is
//! clipped with [`clip`] before it reaches the audit log or the server log. `docs/oauth-reference.md`
//! lists the figures.

/// User names (`names::valid_username` accepts at most 64 characters).
pub const MAX_USERNAME: usize = 64;
/// Client names (registration and metadata documents); longer names are cut.
pub const MAX_CLIENT_NAME: usize = 200;
/// Redirect URIs, `resource`, URL client ids, post-login destinations.
pub const MAX_URI: usize = 2048;
/// The `scope` parameter.
pub const MAX_SCOPE: usize = 1024;
/// The `state` parameter.
pub const MAX_STATE: usize = 2048;
/// Any other text field of an audit entry, and text written to the server log.
pub const MAX_LOGGED_FIELD: usize = 256;
/// The free-text detail of an audit entry.
pub const MAX_AUDIT_DETAIL: usize = 1024;

/// The hasher of the bounded in-process caches on a request's path whose entries are only ever
/// values this server minted or found in its store: validated tokens' hashes, their grant ids,
/// existing sessions' id hashes, existing workspaces' slugs; and of the metrics' handle tables,
/// keyed by the server's route templates and its own names (`ops::metrics`). A stranger's lookup
/// hashes their input but never inserts it, so no chosen key ever lands in one of these tables,
/// and foldhash
/// (fast, seeded per process and per cache, but not built to resist chosen-key collisions) costs
/// a fraction of std's SipHash on such short keys. A cache that stores keys callers choose (the
/// tool results, keyed by arguments) keeps std's hasher.
pub type FastHash = foldhash::fast::RandomState;

/// A bounded cache of the lookups every MCP request makes (token, grant, session, workspace):
/// `quick_cache` (S3-FIFO: scan-resistant, so a burst of one-off entries does not push out the
/// ones in use) with [`FastHash`]. A read takes a shard's read lock and clones the value. `moka`,
/// which these caches used before, also queues every read for its admission policy and checks
/// its timers: its four reads were 7 % of an authenticated `ping`'s CPU (`docs/performance.md`,
/// eighteenth round). These caches need no timer of the cache's own: every entry carries the
/// time it was made, and its reader judges it on the injected clock. Make one with
/// [`fast_cache`].
pub type FastCache<K, V> = quick_cache::sync::Cache<K, V, quick_cache::UnitWeighter, FastHash>;

/// A [`FastCache`] holding at most `capacity` entries.
pub fn fast_cache<K: Eq + std::hash::Hash, V: Clone>(capacity: u64) -> FastCache<K, V> {
    quick_cache::sync::Cache::with(
        usize::try_from(capacity).unwrap_or(usize::MAX),
        capacity,
        quick_cache::UnitWeighter,
        FastHash::default(),
        quick_cache::sync::DefaultLifecycle::default(),
    )
}

/// `s` without control characters, cut to at most `max` characters (marked with `…`).
pub fn clip(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    for (n, c) in s.chars().filter(|c| !c.is_control()).enumerate() {
        if n + 1 > max {
            out.pop();
            out.push('…');
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::clip;

    #[test]
    fn clipping() {
        assert_eq!(clip("alice", 64), "alice");
        assert_eq!(clip("a\tb\nc", 64), "abc");
        assert_eq!(clip(&"x".repeat(900_000), 64).chars().count(), 64);
        assert!(clip(&"x".repeat(65), 64).ends_with('…'));
        assert_eq!(clip(&"é".repeat(64), 64), "é".repeat(64));
    }
}
