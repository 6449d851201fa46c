//! Change signals between replicas on PostgreSQL (`LISTEN gigamcp`).
//!
//! Revocations and membership changes (`auth`), session ends (`sessions`) and knowledge
//! re-ingests (`knowledge`) are written together with a `pg_notify` in the same transaction
//! (`store::notify`); a superseding code redemption, the one hot write among them, sends its
//! `auth` signal right after its commit, coalesced with its peers' (`store::signal`). Every
//! replica holds one dedicated listening connection and, on a notification, wakes the poller
//! that re-reads that state (the auth epoch, the session end log, the knowledge versions) at
//! once instead of at its next tick. The signal carries nothing but
//! its topic: the pollers remain the source of truth and the fallback, so a notification lost
//! while the listening connection is down costs latency (one poll interval), never correctness.
//! A dropped connection is reopened with backoff, and every poller is woken after each
//! (re)connection to catch what was sent while nobody listened.
use crate::auth::validator::TokenValidator;
use crate::knowledge::KnowledgeBase;
use crate::mcp::session::SessionStore;
use crate::state::AppState;
use crate::store::Store;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// First wait before reconnecting; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the listener checks that the process still wants it (tests drop their states).
const ALIVE_CHECK: Duration = Duration::from_secs(1);

struct Targets {
    tokens: Weak<TokenValidator>,
    sessions: Weak<SessionStore>,
    knowledge: Weak<KnowledgeBase>,
}

impl Targets {
    fn alive(&self) -> bool {
        self.tokens.strong_count() > 0
    }

    fn wake(&self, topic: Option<&str>) {
        let all = topic.is_none();
        if (all || topic == Some(crate::store::tokens::AUTH_TOPIC))
            && let Some(t) = self.tokens.upgrade()
        {
            t.wake_poller();
        }
        if (all || topic == Some(crate::store::sessions::SESSIONS_TOPIC))
            && let Some(s) = self.sessions.upgrade()
        {
            s.wake();
        }
        if (all || topic == Some(crate::knowledge::KNOWLEDGE_TOPIC))
            && let Some(k) = self.knowledge.upgrade()
        {
            k.wake_refresher();
        }
    }
}

/// Starts the listener on PostgreSQL; does nothing on SQLite (whose processes poll).
pub fn spawn_listener(state: &AppState) {
    if state.store.backend() != crate::store::Backend::Postgres {
        return;
    }
    let targets = Targets {
        tokens: Arc::downgrade(&state.tokens),
        sessions: Arc::downgrade(&state.mcp.sessions),
        knowledge: Arc::downgrade(&state.knowledge),
    };
    tokio::spawn(listen(state.store.clone(), targets));
}

async fn listen(store: Store, targets: Targets) {
    let mut backoff = MIN_BACKOFF;
    while targets.alive() {
        let mut listener = match store.listener().await {
            None => return,
            Some(Ok(l)) => l,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "change listener: connecting (pollers continue)");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = MIN_BACKOFF;
        targets.wake(None);
        while targets.alive() {
            match tokio::time::timeout(ALIVE_CHECK, listener.try_recv()).await {
                Err(_) => {}
                Ok(Ok(Some(n))) => targets.wake(Some(n.payload())),
                Ok(Ok(None)) => {
                    tracing::warn!("change listener: connection lost, reconnecting");
                    break;
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "change listener: reconnecting");
                    break;
                }
            }
        }
    }
}
