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

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: SharedClock,
    pub tokens: Arc<TokenValidator>,
    pub knowledge: Arc<KnowledgeBase>,
    pub mcp: Arc<McpState>,
    pub oauth: Arc<OAuthState>,
    pub ops: Arc<OpsState>,
}
