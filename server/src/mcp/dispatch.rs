//! Method dispatch: one JSON-RPC call in, one result (or JSON-RPC error) out, shaped for the
//! protocol revision in force. No HTTP here; the transport decides statuses and framing.
use super::jsonrpc::{Call, RpcError};
use super::session::Session;
use super::version::{META_SERVER_INFO, Version};
use super::{resources, tools};
use crate::AppState;
use crate::auth::Principal;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The workspace an MCP request addresses.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub slug: String,
    pub name: String,
}

/// Everything a method needs: who asks, where, under which revision. Owned so a request can run
/// on its own task (SSE responses).
#[derive(Clone)]
pub struct Ctx {
    pub state: AppState,
    pub principal: Principal,
    pub workspace: Workspace,
    pub version: Version,
    pub session: Option<Arc<Session>>,
}

/// Cache lifetimes (2026-07-28 `ttlMs`) per cacheable method.
fn ttl_ms(method: &str) -> Option<u64> {
    match method {
        "tools/list" | "resources/templates/list" | "server/discover" => Some(300_000),
        "resources/list" | "resources/read" => Some(60_000),
        _ => None,
    }
}

/// The OAuth scope a method needs (`tools/call` executes tools; everything else reads).
pub fn required_scope(method: &str) -> &'static str {
    if method == "tools/call" {
        "mcp:tools"
    } else {
        "mcp:read"
    }
}

/// Whether `method` exists as a request under `version`.
pub fn is_known(method: &str, version: Version) -> bool {
    match method {
        "tools/list"
        | "tools/call"
        | "resources/list"
        | "resources/read"
        | "resources/templates/list" => true,
        "ping" | "logging/setLevel" => !version.is_modern(),
        "server/discover" => version.is_modern(),
        _ => false,
    }
}

/// Runs one request (never `initialize`, which the transport handles because it mints a session)
/// and records it in the metrics (method and tool labels from our own lists only).
pub async fn handle(ctx: &Ctx, call: &Call) -> Result<Value, RpcError> {
    let start = std::time::Instant::now();
    let result = run(ctx, call).await;
    let method = KNOWN_METHODS
        .iter()
        .find(|m| **m == call.method)
        .copied()
        .unwrap_or("unknown");
    let tool = if method == "tools/call" {
        let name = call.params.get("name").and_then(Value::as_str);
        tools::TOOLS
            .iter()
            .find(|d| Some(d.name) == name)
            .map_or("unknown", |d| d.name)
    } else {
        ""
    };
    let outcome = match &result {
        Err(_) => "error",
        Ok(r) if r.get("isError") == Some(&Value::Bool(true)) => "tool_error",
        Ok(_) => "ok",
    };
    crate::ops::metrics::mcp_request(method, tool, outcome, start.elapsed());
    result
}

/// Every method [`handle`] serves in some revision (metric labels).
const KNOWN_METHODS: [&str; 8] = [
    "ping",
    "server/discover",
    "logging/setLevel",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
];

async fn run(ctx: &Ctx, call: &Call) -> Result<Value, RpcError> {
    if !is_known(&call.method, ctx.version) {
        return Err(RpcError::method_not_found(&call.method));
    }
    let p = &call.params;
    let result = match call.method.as_str() {
        "ping" => Ok(json!({})),
        "server/discover" => Ok(discover(ctx)),
        "logging/setLevel" => set_level(ctx, p),
        "tools/list" => tools::list(ctx, p),
        "tools/call" => tools::call(ctx, p).await,
        "resources/list" => resources::list(ctx, p).await,
        "resources/read" => resources::read(ctx, p).await,
        "resources/templates/list" => resources::templates(ctx, p),
        _ => Err(RpcError::method_not_found(&call.method)),
    }?;
    Ok(finish(ctx.version, &call.method, result))
}

/// Adds the 2026-07-28 result envelope: `resultType` everywhere, cache hints on list/read results.
pub fn finish(version: Version, method: &str, mut result: Value) -> Value {
    if version.is_modern()
        && let Some(obj) = result.as_object_mut()
    {
        obj.insert("resultType".into(), json!("complete"));
        if let Some(ttl) = ttl_ms(method) {
            obj.insert("ttlMs".into(), json!(ttl));
            // Results depend on the caller's workspace and membership: never share across tokens.
            obj.insert("cacheScope".into(), json!("private"));
        }
    }
    result
}

/// Rejects a pagination cursor on lists that never hand one out.
pub fn reject_cursor(params: &Map<String, Value>) -> Result<(), RpcError> {
    match params.get("cursor") {
        None | Some(Value::Null) => Ok(()),
        Some(_) => Err(RpcError::invalid_params(
            "invalid cursor: this list has a single page",
        )),
    }
}

pub fn capabilities(version: Version) -> Value {
    if version.is_modern() {
        json!({ "tools": {}, "resources": {} })
    } else {
        json!({ "tools": {}, "resources": {}, "logging": {} })
    }
}

pub fn server_info(ctx: &Ctx, version: Version) -> Value {
    let mut info = json!({ "name": "gigamcp", "version": env!("CARGO_PKG_VERSION") });
    if version.has_structured_content() {
        info["title"] = json!(format!("gigamcp — {}", ctx.workspace.name));
    }
    if version >= Version::V2025_11_25 {
        info["description"] = json!(
            "Company knowledge (wiki and GitHub issues) of one workspace, with cited search."
        );
        info["websiteUrl"] = json!(ctx.state.config.public_url);
    }
    info
}

pub fn instructions(ctx: &Ctx) -> String {
    let ws = &ctx.workspace;
    format!(
        "This server answers from the internal knowledge of the \"{name}\" workspace ({slug}): its \
         company wiki and its GitHub issues. Everything returned belongs to this workspace only. \
         Use search_company_rag to find passages with citations (title, URL, resource URI) and cite \
         them in answers; list_github_issues for a repository's recent issues (for example to \
         summarise what is open); search and fetch for deep research (search returns ids, fetch \
         returns a full document). Documents are also resources: wiki://pages/{{page}} and \
         github://{{owner}}/{{repo}}/issues/{{number}}.",
        name = ws.name,
        slug = ws.slug
    )
}

/// The legacy `initialize` result for the negotiated `version`.
pub fn initialize_result(ctx: &Ctx, version: Version) -> Value {
    json!({
        "protocolVersion": version.as_str(),
        "capabilities": capabilities(version),
        "serverInfo": server_info(ctx, version),
        "instructions": instructions(ctx),
    })
}

/// 2026-07-28 `server/discover`: versions, capabilities, identity (in `_meta`), instructions.
fn discover(ctx: &Ctx) -> Value {
    json!({
        "supportedVersions": Version::supported_strings(),
        "capabilities": capabilities(Version::V2026_07_28),
        "instructions": instructions(ctx),
        "_meta": { META_SERVER_INFO: server_info(ctx, Version::V2026_07_28) },
    })
}

/// Legacy `logging/setLevel`: validated and remembered per session (no session: accepted, no effect).
fn set_level(ctx: &Ctx, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let level = params
        .get("level")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !super::session::LOG_LEVELS.contains(&level) {
        return Err(RpcError::invalid_params(format!(
            "invalid log level; expected one of {}",
            super::session::LOG_LEVELS.join(", ")
        )));
    }
    if let Some(s) = &ctx.session {
        s.set_log_level(level);
    }
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_per_era() {
        assert!(is_known("ping", Version::V2025_03_26));
        assert!(!is_known("ping", Version::V2026_07_28));
        assert!(is_known("server/discover", Version::V2026_07_28));
        assert!(!is_known("server/discover", Version::V2025_11_25));
        assert!(!is_known("logging/setLevel", Version::V2026_07_28));
        assert!(!is_known("prompts/list", Version::V2025_06_18));
        assert_eq!(required_scope("tools/call"), "mcp:tools");
        assert_eq!(required_scope("tools/list"), "mcp:read");
    }

    #[test]
    fn modern_envelope() {
        let r = finish(Version::V2026_07_28, "tools/list", json!({"tools": []}));
        assert_eq!(r["resultType"], "complete");
        assert_eq!(r["cacheScope"], "private");
        assert!(r["ttlMs"].as_u64().is_some());
        let r = finish(Version::V2026_07_28, "tools/call", json!({"content": []}));
        assert_eq!(r["resultType"], "complete");
        assert!(r.get("ttlMs").is_none());
        let r = finish(Version::V2025_11_25, "tools/list", json!({"tools": []}));
        assert!(r.get("resultType").is_none());
    }
}
