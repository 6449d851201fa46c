//! Legacy (2025-03-26 … 2025-11-25) `Mcp-Session-Id` sessions, in memory only.
//!
//! A session is minted by `initialize`, is bound to the (workspace, user) that created it, and
//! records the negotiated version. It is never proof of authentication (SEC-06): every request is
//! authenticated with its bearer token, and a session presented by another user or at another
//! workspace is treated as unknown (404). Sessions are optional: requests without the header are
//! served statelessly. Nothing here touches the database.
use super::version::Version;
use crate::secrets::random_token;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

/// Sessions idle longer than this are forgotten.
pub const IDLE_TTL_SECS: i64 = 24 * 3600;
/// Upper bound on live sessions; the least recently used are evicted beyond it.
pub const CAPACITY: usize = 10_000;

#[derive(Debug)]
pub struct Session {
    pub id: String,
    pub workspace: String,
    pub user_id: String,
    pub version: Version,
    pub created_at: i64,
    last_seen: AtomicI64,
    /// `logging/setLevel` value (index into [`LOG_LEVELS`]); stored, used to filter log messages.
    log_level: AtomicU8,
    initialized: AtomicBool,
    /// Whether a GET stream is open (at most one per session).
    streaming: AtomicBool,
    /// Flips to `true` when the session ends; open GET streams watch it.
    ended: watch::Sender<bool>,
}

/// RFC 5424 severities as MCP names them, least severe first.
pub const LOG_LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

impl Session {
    pub fn set_log_level(&self, level: &str) -> bool {
        match LOG_LEVELS.iter().position(|l| *l == level) {
            Some(i) => {
                self.log_level.store(i as u8, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }
    pub fn log_level(&self) -> &'static str {
        LOG_LEVELS[self.log_level.load(Ordering::Relaxed) as usize % LOG_LEVELS.len()]
    }
    pub fn mark_initialized(&self) {
        self.initialized.store(true, Ordering::Relaxed);
    }
    pub fn is_initialized(&self) -> bool {
        self.initialized.load(Ordering::Relaxed)
    }
    /// Claims the session's GET stream; `None` if one is already open.
    pub fn claim_stream(self: &Arc<Self>) -> Option<StreamClaim> {
        self.streaming
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .ok()
            .map(|_| StreamClaim {
                session: self.clone(),
                _open: crate::ops::metrics::SseStream::open("get"),
            })
    }
    /// Resolves when the session ends (DELETE, expiry or eviction).
    pub fn ended(&self) -> watch::Receiver<bool> {
        self.ended.subscribe()
    }
    fn end(&self) {
        let _ = self.ended.send(true);
    }
}

/// Held by an open GET stream; releases the session's stream slot when dropped.
pub struct StreamClaim {
    session: Arc<Session>,
    /// Counts the stream in `gigamcp_mcp_sse_streams` while it is open.
    _open: crate::ops::metrics::SseStream,
}

impl Drop for StreamClaim {
    fn drop(&mut self) {
        self.session.streaming.store(false, Ordering::SeqCst);
    }
}

/// Why a presented session id cannot be used.
#[derive(Debug)]
pub enum Lookup {
    Found(Arc<Session>),
    /// Unknown, ended, expired, or belonging to another user or workspace: all look the same (404).
    NotFound,
}

#[derive(Default)]
pub struct SessionStore {
    map: RwLock<HashMap<String, Arc<Session>>>,
}

impl SessionStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.map.read().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Mints a session: 256 bits from the OS CSPRNG, base64url (visible ASCII, TRN-SES-02/03).
    pub fn create(
        &self,
        workspace: &str,
        user_id: &str,
        version: Version,
        now: i64,
    ) -> Arc<Session> {
        let id = format!("mcps_{}", random_token(32));
        let (ended, _) = watch::channel(false);
        let session = Arc::new(Session {
            id: id.clone(),
            workspace: workspace.to_owned(),
            user_id: user_id.to_owned(),
            version,
            created_at: now,
            last_seen: AtomicI64::new(now),
            log_level: AtomicU8::new(1),
            initialized: AtomicBool::new(false),
            streaming: AtomicBool::new(false),
            ended,
        });
        if let Ok(mut m) = self.map.write() {
            if m.len() >= CAPACITY {
                Self::evict(&mut m, now);
            }
            m.insert(id, session.clone());
        }
        session
    }

    /// Drops expired sessions, then the least recently used tenth if still full.
    fn evict(m: &mut HashMap<String, Arc<Session>>, now: i64) {
        m.retain(|_, s| {
            let keep = now - s.last_seen.load(Ordering::Relaxed) < IDLE_TTL_SECS;
            if !keep {
                s.end();
            }
            keep
        });
        if m.len() >= CAPACITY {
            let mut by_age: Vec<(i64, String)> = m
                .iter()
                .map(|(k, s)| (s.last_seen.load(Ordering::Relaxed), k.clone()))
                .collect();
            by_age.sort();
            for (_, k) in by_age.into_iter().take(CAPACITY / 10 + 1) {
                if let Some(s) = m.remove(&k) {
                    s.end();
                }
            }
        }
    }

    /// Finds a live session of `user_id` at `workspace` and refreshes its idle timer.
    pub fn get(&self, id: &str, workspace: &str, user_id: &str, now: i64) -> Lookup {
        let found = self.map.read().ok().and_then(|m| m.get(id).cloned());
        let Some(s) = found else {
            return Lookup::NotFound;
        };
        if now - s.last_seen.load(Ordering::Relaxed) >= IDLE_TTL_SECS {
            self.remove(id);
            return Lookup::NotFound;
        }
        if s.workspace != workspace || s.user_id != user_id {
            return Lookup::NotFound;
        }
        s.last_seen.store(now, Ordering::Relaxed);
        Lookup::Found(s)
    }

    /// Ends a session; later requests carrying its id get 404.
    pub fn remove(&self, id: &str) -> bool {
        let removed = self.map.write().ok().and_then(|mut m| m.remove(id));
        match removed {
            Some(s) => {
                s.end();
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_and_binding() {
        let store = SessionStore::new();
        let s = store.create("acme", "u1", Version::V2025_06_18, 100);
        assert!(s.id.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        assert!(s.id.len() > 40);
        assert_ne!(
            store.create("acme", "u1", Version::V2025_06_18, 100).id,
            s.id
        );
        assert!(matches!(
            store.get(&s.id, "acme", "u1", 101),
            Lookup::Found(_)
        ));
        assert!(matches!(
            store.get(&s.id, "globex", "u1", 101),
            Lookup::NotFound
        ));
        assert!(matches!(
            store.get(&s.id, "acme", "u2", 101),
            Lookup::NotFound
        ));
        assert!(matches!(
            store.get("nope", "acme", "u1", 101),
            Lookup::NotFound
        ));
        let ended = s.ended();
        assert!(store.remove(&s.id));
        assert!(*ended.borrow());
        assert!(matches!(
            store.get(&s.id, "acme", "u1", 102),
            Lookup::NotFound
        ));
        assert!(!store.remove(&s.id));
    }

    #[test]
    fn idle_sessions_expire() {
        let store = SessionStore::new();
        let s = store.create("acme", "u1", Version::V2025_03_26, 0);
        assert!(matches!(
            store.get(&s.id, "acme", "u1", IDLE_TTL_SECS - 1),
            Lookup::Found(_)
        ));
        assert!(
            matches!(
                store.get(&s.id, "acme", "u1", 2 * IDLE_TTL_SECS - 2),
                Lookup::Found(_)
            ),
            "use refreshes"
        );
        assert!(matches!(
            store.get(&s.id, "acme", "u1", 4 * IDLE_TTL_SECS),
            Lookup::NotFound
        ));
        assert!(store.is_empty());
    }

    #[test]
    fn one_stream_per_session_and_levels() {
        let store = SessionStore::new();
        let s = store.create("acme", "u1", Version::V2025_03_26, 0);
        let claim = s.claim_stream().expect("first stream");
        assert!(s.claim_stream().is_none());
        drop(claim);
        assert!(s.claim_stream().is_some());
        assert_eq!(s.log_level(), "info");
        assert!(s.set_log_level("error"));
        assert_eq!(s.log_level(), "error");
        assert!(!s.set_log_level("loud"));
    }
}
