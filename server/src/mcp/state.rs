//! Per-process MCP state: the session cache, the tool lists per revision (serialized once), the
//! shared results of cacheable tools, the workspace lookup cache.
use super::jsonrpc::Payload;
use super::session::SessionStore;
use super::version::Version;
use std::collections::HashMap;
use std::sync::Arc;

/// The workspace an MCP request addresses.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub slug: String,
    pub name: String,
}

/// How long a workspace lookup is trusted (workspaces are never deleted; names rarely change).
const WORKSPACE_CACHE_SECS: i64 = 60;
const WORKSPACE_CACHE_CAPACITY: u64 = 4096;

/// What a cacheable tool's result is a function of: the workspace's knowledge at one version,
/// the protocol revision (the result's shape) and the call's arguments (canonical JSON text:
/// `serde_json` writes an object's keys sorted).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResultKey {
    pub workspace: String,
    pub knowledge_version: i64,
    pub version: Version,
    pub tool: &'static str,
    pub arguments: String,
}

/// Bytes of shared tool results kept per process.
const RESULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;
/// About how many results that is (a fetched document's text is a few KiB).
const RESULT_CACHE_ITEMS: usize = 16 * 1024;

/// A cached result weighs its bytes: the text, the key's strings and a fixed overhead.
#[derive(Clone)]
struct ResultWeight;

impl quick_cache::Weighter<ResultKey, Arc<str>> for ResultWeight {
    fn weight(&self, k: &ResultKey, v: &Arc<str>) -> u64 {
        (v.len() + k.arguments.len() + k.workspace.len() + 64) as u64
    }
}

pub struct McpState {
    pub sessions: Arc<SessionStore>,
    tool_lists: HashMap<Version, Arc<str>>,
    /// Results of tools whose output depends only on a [`ResultKey`] (`fetch`), as response
    /// text. A new knowledge version makes new keys; old entries age out.
    /// Its keys hold callers' arguments, so it keeps std's DoS-resistant hasher (see
    /// [`FastHash`](crate::limits::FastHash)).
    results: quick_cache::sync::Cache<ResultKey, Arc<str>, ResultWeight, std::hash::RandomState>,
    /// Workspace lookups with the (injectable) clock's time they were made, which its reader
    /// judges them by.
    workspaces: crate::limits::FastCache<String, (Arc<Workspace>, i64)>,
}

impl McpState {
    /// `tool_lists`: the finished `tools/list` result per revision, serialized once at start-up.
    /// `sessions`: the shared sessions behind this process's cache.
    pub fn new(tool_lists: HashMap<Version, Arc<str>>, sessions: SessionStore) -> Self {
        Self {
            sessions: Arc::new(sessions),
            tool_lists,
            results: quick_cache::sync::Cache::with(
                RESULT_CACHE_ITEMS,
                RESULT_CACHE_BYTES,
                ResultWeight,
                std::hash::RandomState::new(),
                quick_cache::sync::DefaultLifecycle::default(),
            ),
            workspaces: crate::limits::fast_cache(WORKSPACE_CACHE_CAPACITY),
        }
    }

    /// The `tools/list` result for `version`.
    pub fn tool_list(&self, version: Version) -> Payload {
        match self.tool_lists.get(&version) {
            Some(text) => Payload::Json(text.clone()),
            None => Payload::Value(serde_json::json!({ "tools": [] })),
        }
    }

    pub fn cached_result(&self, key: &ResultKey) -> Option<Arc<str>> {
        self.results.get(key)
    }

    pub fn cache_result(&self, key: ResultKey, text: Arc<str>) {
        self.results.insert(key, text);
    }

    pub fn cached_workspace(&self, slug: &str, now: i64) -> Option<Arc<Workspace>> {
        let (ws, at) = self.workspaces.get(slug)?;
        (now - at < WORKSPACE_CACHE_SECS).then_some(ws)
    }

    pub fn cache_workspace(&self, ws: &Arc<Workspace>, now: i64) {
        self.workspaces.insert(ws.slug.clone(), (ws.clone(), now));
    }
}
