//! The MCP endpoint `/t/{slug}/mcp`: Streamable HTTP for protocol revisions 2025-03-26,
//! 2025-06-18 and 2025-11-25 (negotiated by `initialize`, optional sessions) and 2026-07-28
//! (stateless, per-request `_meta`), all on one URL.
//!
//! # Layout
//! - [`transport`]: HTTP: origin, workspace and bearer admission, media types, body limit, era
//!   selection, sessions, SSE, batches. The only module that knows about axum requests.
//! - [`version`]: revisions, feature predicates, 2026-07-28 header validation.
//! - [`jsonrpc`]: message classification, error codes, response objects.
//! - [`session`]: in-memory legacy sessions bound to (workspace, user).
//! - [`dispatch`]: method → handler, revision-specific result envelopes.
//! - [`tools`]: one file per tool; [`resources`]: documents as resources.
//!
//! Invariants: the endpoint writes nothing to the database (only `auth::authenticate` may touch
//! a grant's last-used time); tools and resources pass the workspace slug to `knowledge`, which
//! filters by it; tool lists are computed once per revision.
pub mod dispatch;
pub mod jsonrpc;
pub mod resources;
pub mod session;
pub mod tools;
pub mod transport;
pub mod version;

use crate::{AppState, Config};
use axum::Router;
use axum::routing::{any, post};
use dispatch::Workspace;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::RwLock;
use version::Version;

/// How long a workspace lookup is trusted (workspaces are never deleted; names rarely change).
const WORKSPACE_CACHE_SECS: i64 = 60;
const WORKSPACE_CACHE_CAPACITY: usize = 4096;

pub struct McpState {
    pub sessions: session::SessionStore,
    tool_lists: HashMap<Version, Value>,
    workspaces: RwLock<HashMap<String, (Workspace, i64)>>,
}

impl McpState {
    pub fn new(_config: &Config) -> Self {
        Self {
            sessions: session::SessionStore::new(),
            tool_lists: Version::ALL
                .iter()
                .map(|v| (*v, tools::descriptions(*v)))
                .collect(),
            workspaces: RwLock::new(HashMap::new()),
        }
    }

    /// The `tools` array for `version`, computed at start-up.
    pub fn tool_descriptions(&self, version: Version) -> Value {
        self.tool_lists
            .get(&version)
            .cloned()
            .unwrap_or_else(|| tools::descriptions(version))
    }

    fn cached_workspace(&self, slug: &str, now: i64) -> Option<Workspace> {
        let m = self.workspaces.read().ok()?;
        let (ws, at) = m.get(slug)?;
        (now - at < WORKSPACE_CACHE_SECS).then(|| ws.clone())
    }

    fn cache_workspace(&self, ws: &Workspace, now: i64) {
        if let Ok(mut m) = self.workspaces.write() {
            if m.len() >= WORKSPACE_CACHE_CAPACITY {
                m.clear();
            }
            m.insert(ws.slug.clone(), (ws.clone(), now));
        }
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/t/{slug}/mcp",
            post(transport::post)
                .get(transport::get)
                .delete(transport::delete)
                .fallback(transport::other_method),
        )
        .route("/t/{slug}/mcp/", any(transport::trailing_slash))
}
