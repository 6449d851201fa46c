//! Legacy (2025-03-26 … 2025-11-25) `Mcp-Session-Id` sessions, shared by every replica.
//!
//! A session is minted by `initialize`, is bound to the (workspace, user) that created it, and
//! records the negotiated version. It is never proof of authentication (SEC-06): every request is
//! authenticated with its bearer token, and a session presented by another user or at another
//! workspace is treated as unknown (404). Sessions are optional: requests without the header are
//! served statelessly.
//!
//! The source of truth is the `mcp_sessions` table (the id stored as its SHA-256). Each process
//! keeps a bounded cache ([`FastCache`](crate::limits::FastCache)) in front of it, so a session
//! this replica has seen costs no database round trip per request: its idle timer is written
//! back at most once a minute, off the request. A session minted on another replica costs one indexed read the first time this
//! replica sees it. Ending a session (DELETE on any replica, or the per-user cap) deletes the row
//! and appends to `mcp_session_ends`; every replica follows that log ([`SessionStore::follow`],
//! woken at once by PostgreSQL `NOTIFY`, else polled every `auth_epoch_poll_ms`), drops the
//! ended sessions from its cache and ends their GET streams. So a replica may serve an ended
//! session for at most one poll interval (one NOTIFY round trip on PostgreSQL).
use super::version::Version;
use crate::secrets::{SecretHash, hash_secret, random_token};
use crate::store::{SessionRow, Store};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Sessions idle longer than this are forgotten.
pub const IDLE_TTL_SECS: i64 = 24 * 3600;
/// Live sessions per user (across workspaces); a user's oldest session ends when they open one
/// more, so no user can evict another user's session.
pub const PER_USER_CAP: usize = 64;
/// A session's `last_seen` row is written at most this often per replica.
const TOUCH_EVERY_SECS: i64 = 60;
/// Sessions one process caches (about 300 bytes each); beyond it the least used are re-read.
const CACHE_CAPACITY: u64 = 100_000;
/// A cached session is re-read from the database after this long (`Clock` seconds) even if no
/// end was seen: the bound on staleness should the end log ever be missed.
const CACHE_TTL_SECS: i64 = 300;
/// End entries are kept this long; a replica further behind drops its whole cache.
const ENDS_KEPT_SECS: i64 = 3600;
/// How often the follower deletes idle sessions and old end entries.
const PRUNE_EVERY_SECS: i64 = 300;

#[derive(Debug)]
pub struct Session {
    /// The id as the client presents it.
    pub id: String,
    id_hash: String,
    pub workspace: String,
    pub user_id: String,
    pub version: Version,
    pub created_at: i64,
    last_seen: AtomicI64,
    /// The `last_seen` value last written to the database by this process.
    touched: AtomicI64,
    /// `logging/setLevel` value (index into [`LOG_LEVELS`]); stored, used to filter log messages.
    log_level: AtomicU8,
    initialized: AtomicBool,
    /// Whether a GET stream is open (at most one per session).
    streaming: AtomicBool,
    /// Flips to `true` when the session ends; open GET streams watch it.
    ended: watch::Sender<bool>,
    db: Store,
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
                self.persist(Some(i as i64));
                true
            }
            None => false,
        }
    }
    pub fn log_level(&self) -> &'static str {
        LOG_LEVELS[self.log_level.load(Ordering::Relaxed) as usize % LOG_LEVELS.len()]
    }
    pub fn mark_initialized(&self) {
        if !self.initialized.swap(true, Ordering::Relaxed) {
            self.persist(None);
        }
    }
    /// Writes a new log level (`Some`) or the `initialized` mark (`None`) to the row, off the
    /// request. Another replica that already cached the session keeps its copy's values until
    /// it re-reads the row (at most `CACHE_TTL_SECS`): neither changes what a request may do.
    fn persist(&self, level: Option<i64>) {
        let (db, hash) = (self.db.clone(), self.id_hash.clone());
        tokio::spawn(async move {
            let done = match level {
                Some(l) => db.set_session_log_level(&hash, l).await,
                None => db.mark_session_initialized(&hash).await,
            };
            if let Err(e) = done {
                tracing::warn!(error = %e, "storing MCP session state");
            }
        });
    }
    pub fn is_initialized(&self) -> bool {
        self.initialized.load(Ordering::Relaxed)
    }
    /// Resolves when the session ends (DELETE on any replica, expiry or the per-user cap).
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
    streams: Arc<Mutex<HashMap<String, Weak<Session>>>>,
    /// Counts the stream in `gigamcp_mcp_sse_streams` while it is open.
    _open: crate::ops::metrics::SseStream,
}

impl Drop for StreamClaim {
    fn drop(&mut self) {
        self.session.streaming.store(false, Ordering::SeqCst);
        if let Ok(mut m) = self.streams.lock() {
            m.remove(&self.session.id_hash);
        }
    }
}

/// Why a presented session id cannot be used.
#[derive(Debug)]
pub enum Lookup {
    Found(Arc<Session>),
    /// Unknown, ended, expired, or belonging to another user or workspace: all look the same (404).
    NotFound,
}

/// The sessions of every replica (in the database) behind this process's cache.
pub struct SessionStore {
    db: Store,
    /// Id hash → the session and when it was cached (`Clock` seconds).
    cache: crate::limits::FastCache<String, (Arc<Session>, i64)>,
    /// Sessions with an open GET stream here, by id hash: an end reaches them even when the
    /// cache has already let the session go.
    streams: Arc<Mutex<HashMap<String, Weak<Session>>>>,
    /// Orders sessions minted by this process within one second.
    ordinal: AtomicI64,
    /// The last `mcp_session_ends.seq` applied here.
    last_end: AtomicI64,
    last_prune: AtomicI64,
    /// Wakes [`follow`](Self::follow) before its next tick (a PostgreSQL notification).
    wake: Notify,
}

impl SessionStore {
    /// `last_end`: the newest end entry at start-up ([`Store::last_session_end`]).
    pub fn new(db: Store, last_end: i64) -> Self {
        Self {
            db,
            cache: crate::limits::fast_cache(CACHE_CAPACITY),
            streams: Arc::default(),
            ordinal: AtomicI64::new(0),
            last_end: AtomicI64::new(last_end),
            last_prune: AtomicI64::new(0),
            wake: Notify::new(),
        }
    }

    /// Sessions cached by this process.
    pub fn cached_len(&self) -> u64 {
        self.cache.len() as u64
    }

    /// Mints a session: 256 bits from the OS CSPRNG, base64url (visible ASCII, TRN-SES-02/03),
    /// stored as its SHA-256. Ends the user's oldest sessions beyond [`PER_USER_CAP`].
    pub async fn create(
        &self,
        workspace: &str,
        user_id: &str,
        version: Version,
        now: i64,
    ) -> Result<Arc<Session>, sqlx::Error> {
        let id = format!("mcps_{}", random_token(32));
        let row = SessionRow {
            id_hash: hash_secret(&id),
            workspace: workspace.to_owned(),
            user_id: user_id.to_owned(),
            version: version.as_str().to_owned(),
            created_at: now,
            ordinal: self.ordinal.fetch_add(1, Ordering::Relaxed),
            last_seen: now,
            log_level: 1,
            initialized: false,
        };
        let ended = self.db.insert_session(&row, PER_USER_CAP).await?;
        for hash in &ended {
            self.forget(hash);
        }
        let session = self.session_from(id, row, version);
        self.cache
            .insert(session.id_hash.clone(), (session.clone(), now));
        Ok(session)
    }

    fn session_from(&self, id: String, row: SessionRow, version: Version) -> Arc<Session> {
        let (ended, _) = watch::channel(false);
        Arc::new(Session {
            id,
            id_hash: row.id_hash,
            workspace: row.workspace,
            user_id: row.user_id,
            version,
            created_at: row.created_at,
            last_seen: AtomicI64::new(row.last_seen),
            touched: AtomicI64::new(row.last_seen),
            log_level: AtomicU8::new(u8::try_from(row.log_level).unwrap_or(1)),
            initialized: AtomicBool::new(row.initialized),
            streaming: AtomicBool::new(false),
            ended,
            db: self.db.clone(),
        })
    }

    /// Finds a live session of `user_id` at `workspace` and refreshes its idle timer. A cached
    /// session costs no database round trip; otherwise one indexed read.
    pub async fn get(
        &self,
        id: &str,
        workspace: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Lookup, sqlx::Error> {
        let hash = SecretHash::of(id);
        let hash = hash.as_str();
        let cached = self
            .cache
            .get(hash)
            .filter(|(s, at)| {
                now - at < CACHE_TTL_SECS
                    && now - s.last_seen.load(Ordering::Relaxed) < IDLE_TTL_SECS
            })
            .map(|(s, _)| s);
        let session = match cached {
            Some(s) => s,
            // Not cached here, or idle by this replica's reckoning: another replica may have
            // used it since, so the row decides.
            None => {
                let row = self.db.session_by_hash(hash).await?;
                let Some((row, version)) = row
                    .filter(|r| now - r.last_seen < IDLE_TTL_SECS)
                    .and_then(|r| Version::parse(&r.version).map(|v| (r, v)))
                else {
                    self.cache.remove(hash);
                    return Ok(Lookup::NotFound);
                };
                let s = self.session_from(id.to_owned(), row, version);
                self.cache.insert(hash.to_owned(), (s.clone(), now));
                s
            }
        };
        if session.workspace != workspace || session.user_id != user_id {
            return Ok(Lookup::NotFound);
        }
        self.touch(&session, now);
        Ok(Lookup::Found(session))
    }

    /// Refreshes the idle timer; the row's copy at most once a minute, off the request.
    fn touch(&self, s: &Session, now: i64) {
        s.last_seen.fetch_max(now, Ordering::Relaxed);
        let last = s.touched.load(Ordering::Relaxed);
        if now - last >= TOUCH_EVERY_SECS
            && s.touched
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let (db, hash) = (self.db.clone(), s.id_hash.clone());
            tokio::spawn(async move {
                if let Err(e) = db.touch_session(&hash, now).await {
                    tracing::warn!(error = %e, "touching MCP session");
                }
            });
        }
    }

    /// Ends a session everywhere: deletes its row (other replicas follow the end log); later
    /// requests carrying its id get 404 on every replica.
    pub async fn remove(&self, session: &Session, now: i64) -> Result<bool, sqlx::Error> {
        let existed = self.db.end_session(&session.id_hash, now).await?;
        self.forget(&session.id_hash);
        Ok(existed)
    }

    /// Claims the session's GET stream on this replica; `None` if one is already open here.
    pub fn claim_stream(&self, session: &Arc<Session>) -> Option<StreamClaim> {
        session
            .streaming
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .ok()?;
        if let Ok(mut m) = self.streams.lock() {
            m.insert(session.id_hash.clone(), Arc::downgrade(session));
        }
        Some(StreamClaim {
            session: session.clone(),
            streams: self.streams.clone(),
            _open: crate::ops::metrics::SseStream::open("get"),
        })
    }

    /// Drops an ended session from this process: the cache, and any open GET stream.
    fn forget(&self, hash: &str) {
        if let Some((_, (s, _))) = self.cache.remove(hash) {
            s.end();
        }
        let open = self.streams.lock().ok().and_then(|m| m.get(hash).cloned());
        if let Some(s) = open.and_then(|w| w.upgrade()) {
            s.end();
        }
    }

    /// Wakes [`follow`](Self::follow) now (a change notification arrived).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Applies the end entries other processes wrote since the last call, and every
    /// `PRUNE_EVERY_SECS` deletes idle sessions and old entries.
    pub async fn sync(&self, now: i64) -> Result<(), sqlx::Error> {
        const BATCH: i64 = 1000;
        loop {
            let last = self.last_end.load(Ordering::SeqCst);
            let ends = self.db.session_ends_after(last, BATCH).await?;
            // Sequence numbers are gapless (bumped under the ending transaction's row lock), so
            // a gap means entries this replica never read were pruned.
            if ends.first().is_some_and(|e| e.0 > last + 1) {
                tracing::warn!("MCP session end log fell behind; dropping the session cache");
                self.cache.clear();
            }
            for (seq, hash) in &ends {
                self.forget(hash);
                self.last_end.fetch_max(*seq, Ordering::SeqCst);
            }
            if (ends.len() as i64) < BATCH {
                break;
            }
        }
        if now - self.last_prune.load(Ordering::Relaxed) >= PRUNE_EVERY_SECS {
            self.last_prune.store(now, Ordering::Relaxed);
            self.db
                .prune_sessions(now - IDLE_TTL_SECS, now - ENDS_KEPT_SECS)
                .await?;
        }
        Ok(())
    }

    /// Follows other replicas' session ends until `sessions` is dropped: every `every`, or at
    /// once when [`wake`](Self::wake)d. `now` reads the clock.
    pub async fn follow(sessions: Weak<Self>, every: Duration, now: impl Fn() -> i64) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let Some(s) = sessions.upgrade() else { break };
            tokio::select! {
                _ = tick.tick() => {}
                _ = s.wake.notified() => {}
            }
            if let Err(e) = s.sync(now()).await {
                tracing::warn!(error = %e, "following MCP session ends");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn stores(n: usize) -> (tempfile::TempDir, Vec<SessionStore>) {
        let dir = tempfile::tempdir().unwrap();
        let url = Store::sqlite_url_for(dir.path());
        let mut out = Vec::new();
        for _ in 0..n {
            let db = Store::connect(&url).await.unwrap();
            let last = db.last_session_end().await.unwrap();
            out.push(SessionStore::new(db, last));
        }
        (dir, out)
    }

    fn found(l: Lookup) -> Arc<Session> {
        match l {
            Lookup::Found(s) => s,
            Lookup::NotFound => panic!("session not found"),
        }
    }

    #[tokio::test]
    async fn lifecycle_and_binding() {
        let (_dir, s) = stores(1).await;
        let store = &s[0];
        let a = store
            .create("acme", "u1", Version::V2025_06_18, 100)
            .await
            .unwrap();
        assert!(a.id.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        assert!(a.id.len() > 40);
        let row = store.db.session_by_hash(&hash_secret(&a.id)).await.unwrap();
        assert!(row.is_some(), "stored under the id's hash");
        assert!(
            store.db.session_by_hash(&a.id).await.unwrap().is_none(),
            "never in plaintext"
        );
        let b = store
            .create("acme", "u1", Version::V2025_06_18, 100)
            .await
            .unwrap();
        assert_ne!(a.id, b.id);
        found(store.get(&a.id, "acme", "u1", 101).await.unwrap());
        for (ws, user) in [("globex", "u1"), ("acme", "u2")] {
            assert!(matches!(
                store.get(&a.id, ws, user, 101).await.unwrap(),
                Lookup::NotFound
            ));
        }
        assert!(matches!(
            store.get("nope", "acme", "u1", 101).await.unwrap(),
            Lookup::NotFound
        ));
        let ended = a.ended();
        assert!(store.remove(&a, 102).await.unwrap());
        assert!(*ended.borrow());
        assert!(matches!(
            store.get(&a.id, "acme", "u1", 102).await.unwrap(),
            Lookup::NotFound
        ));
        assert!(!store.remove(&a, 103).await.unwrap());
    }

    #[tokio::test]
    async fn idle_sessions_expire_but_use_on_another_replica_counts() {
        let (_dir, s) = stores(2).await;
        let (a, b) = (&s[0], &s[1]);
        let x = a
            .create("acme", "u1", Version::V2025_03_26, 0)
            .await
            .unwrap();
        found(a.get(&x.id, "acme", "u1", IDLE_TTL_SECS - 1).await.unwrap());
        // Replica B uses it near the end of A's idle window and writes the row's timer back.
        found(b.get(&x.id, "acme", "u1", IDLE_TTL_SECS - 1).await.unwrap());
        // Touches are written off the request: wait for the row.
        for _ in 0..100 {
            let row = a.db.session_by_hash(&x.id_hash).await.unwrap().unwrap();
            if row.last_seen == IDLE_TTL_SECS - 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        found(
            a.get(&x.id, "acme", "u1", 2 * IDLE_TTL_SECS - 2)
                .await
                .unwrap(),
        );
        assert!(matches!(
            a.get(&x.id, "acme", "u1", 4 * IDLE_TTL_SECS).await.unwrap(),
            Lookup::NotFound
        ));
    }

    /// An end on one replica reaches another's cache and its open GET stream.
    #[tokio::test]
    async fn an_end_on_one_replica_reaches_the_others() {
        let (_dir, s) = stores(2).await;
        let (a, b) = (&s[0], &s[1]);
        let x = a
            .create("acme", "u1", Version::V2025_06_18, 0)
            .await
            .unwrap();
        let on_b = found(b.get(&x.id, "acme", "u1", 1).await.unwrap());
        let claim = b.claim_stream(&on_b).expect("stream");
        assert!(b.claim_stream(&on_b).is_none(), "one stream per session");
        let stream_ended = on_b.ended();
        assert!(a.remove(&x, 2).await.unwrap());
        // Until B follows the log its cache still serves the session (the documented bound).
        b.sync(2).await.unwrap();
        assert!(*stream_ended.borrow());
        assert!(matches!(
            b.get(&x.id, "acme", "u1", 3).await.unwrap(),
            Lookup::NotFound
        ));
        drop(claim);
        assert!(b.streams.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn levels_and_initialized_are_stored() {
        let (_dir, s) = stores(1).await;
        let x = s[0]
            .create("acme", "u1", Version::V2025_03_26, 0)
            .await
            .unwrap();
        assert_eq!(x.log_level(), "info");
        assert!(x.set_log_level("error"));
        assert_eq!(x.log_level(), "error");
        assert!(!x.set_log_level("loud"));
        x.mark_initialized();
        for _ in 0..100 {
            let row = s[0].db.session_by_hash(&x.id_hash).await.unwrap().unwrap();
            if row.initialized && row.log_level == 4 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("session state never reached the row");
    }

    #[tokio::test]
    async fn a_cached_session_is_read_again_after_the_cache_ttl_of_the_clock() {
        let (_dir, s) = stores(2).await;
        let a = s[0]
            .create("acme", "u1", Version::V2025_06_18, 100)
            .await
            .unwrap();
        found(s[1].get(&a.id, "acme", "u1", 101).await.unwrap());
        // The row goes with no end entry (an end log this replica missed).
        assert_eq!(s[0].db.prune_sessions(102, 0).await.unwrap(), 1);
        found(
            s[1].get(&a.id, "acme", "u1", 101 + CACHE_TTL_SECS - 1)
                .await
                .unwrap(),
        );
        assert!(matches!(
            s[1].get(&a.id, "acme", "u1", 101 + CACHE_TTL_SECS)
                .await
                .unwrap(),
            Lookup::NotFound
        ));
    }
}
