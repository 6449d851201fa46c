//! Per-process MCP state: the session cache, the tool lists per revision, the workspace lookup
//! cache.
use super::session::SessionStore;
use super::version::Version;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The workspace an MCP request addresses.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub slug: String,
    pub name: String,
}

/// How long a workspace lookup is trusted (workspaces are never deleted; names rarely change).
const WORKSPACE_CACHE_SECS: i64 = 60;
const WORKSPACE_CACHE_CAPACITY: usize = 4096;

pub struct McpState {
    pub sessions: Arc<SessionStore>,
    tool_lists: HashMap<Version, Value>,
    workspaces: RwLock<HashMap<String, (Workspace, i64)>>,
}

impl McpState {
    /// `tool_lists`: the `tools` array per revision, computed once at start-up.
    /// `sessions`: the shared sessions behind this process's cache.
    pub fn new(tool_lists: HashMap<Version, Value>, sessions: SessionStore) -> Self {
        Self {
            sessions: Arc::new(sessions),
            tool_lists,
            workspaces: RwLock::new(HashMap::new()),
        }
    }

    /// The `tools` array for `version`, computed at start-up.
    pub fn tool_descriptions(&self, version: Version) -> Value {
        self.tool_lists
            .get(&version)
            .cloned()
            .unwrap_or_else(|| Value::Array(Vec::new()))
    }

    pub fn cached_workspace(&self, slug: &str, now: i64) -> Option<Workspace> {
        let m = self.workspaces.read().ok()?;
        let (ws, at) = m.get(slug)?;
        (now - at < WORKSPACE_CACHE_SECS).then(|| ws.clone())
    }

    pub fn cache_workspace(&self, ws: &Workspace, now: i64) {
        if let Ok(mut m) = self.workspaces.write() {
            if m.len() >= WORKSPACE_CACHE_CAPACITY {
                m.clear();
            }
            m.insert(ws.slug.clone(), (ws.clone(), now));
        }
    }
}
