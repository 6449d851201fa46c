//! `AppState`: everything a request handler may need. Cheap to clone.
//!
//! A leaf of the module graph: it names the per-process pieces it holds and nothing that handles
//! requests, so every handler can take `State<AppState>` without an import cycle. The
//! constructor, which needs the whole crate, lives in `lib.rs`.
use crate::auth::validator::TokenValidator;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::knowledge::KnowledgeBase;
use crate::mcp::state::McpState;
use crate::oauth::state::OAuthState;
use crate::ops::state::OpsState;
use crate::store::Store;
use std::sync::Arc;

/// Everything a request handler may need. Cheap to clone: one reference count, however many
/// parts it holds (every request clones it several times: middleware, extractors, contexts).
#[derive(Clone)]
pub struct AppState(Arc<Parts>);

impl AppState {
    pub fn from_parts(parts: Parts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = Parts;
    fn deref(&self) -> &Parts {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Parts {
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: SharedClock,
    pub tokens: Arc<TokenValidator>,
    pub knowledge: Arc<KnowledgeBase>,
    pub mcp: Arc<McpState>,
    pub oauth: Arc<OAuthState>,
    pub ops: Arc<OpsState>,
}
