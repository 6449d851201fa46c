//! Method dispatch: one JSON-RPC call in, one result (or JSON-RPC error) out, shaped for the
//! protocol revision in force. No HTTP here; the transport decides statuses and framing.
use super::context::Ctx;
use super::jsonrpc::{Call, Payload, RpcError};
use super::tools::{Structured, ToolOutput};
use super::version::{META_SERVER_INFO, Version};
use super::{resources, tools};
use serde_json::{Map, Value, json};

/// Every request method this server answers (besides `initialize`, which the transport handles
/// because it mints a session): one row per method with its scope, revisions and cache lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Ping,
    ServerDiscover,
    LoggingSetLevel,
    ToolsList,
    ToolsCall,
    ResourcesList,
    ResourcesRead,
    ResourcesTemplatesList,
}

impl Method {
    pub const ALL: [Method; 8] = [
        Method::Ping,
        Method::ServerDiscover,
        Method::LoggingSetLevel,
        Method::ToolsList,
        Method::ToolsCall,
        Method::ResourcesList,
        Method::ResourcesRead,
        Method::ResourcesTemplatesList,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::Ping => "ping",
            Method::ServerDiscover => "server/discover",
            Method::LoggingSetLevel => "logging/setLevel",
            Method::ToolsList => "tools/list",
            Method::ToolsCall => "tools/call",
            Method::ResourcesList => "resources/list",
            Method::ResourcesRead => "resources/read",
            Method::ResourcesTemplatesList => "resources/templates/list",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The OAuth scope the method needs (`tools/call` executes tools; everything else reads).
    pub fn required_scope(self) -> &'static str {
        match self {
            Method::ToolsCall => "mcp:tools",
            _ => "mcp:read",
        }
    }

    /// Whether the method exists under `version`.
    pub fn known_in(self, version: Version) -> bool {
        match self {
            Method::Ping | Method::LoggingSetLevel => !version.is_modern(),
            Method::ServerDiscover => version.is_modern(),
            _ => true,
        }
    }

    /// Cache lifetime of the result (2026-07-28 `ttlMs`), for cacheable methods.
    pub fn ttl_ms(self) -> Option<u64> {
        match self {
            Method::ToolsList | Method::ResourcesTemplatesList | Method::ServerDiscover => {
                Some(300_000)
            }
            Method::ResourcesList | Method::ResourcesRead => Some(60_000),
            _ => None,
        }
    }
}

/// The OAuth scope `method` needs (unknown methods: `mcp:read`; they fail as not found).
pub fn required_scope(method: &str) -> &'static str {
    Method::from_name(method).map_or("mcp:read", Method::required_scope)
}

/// Whether `method` exists as a request under `version`.
pub fn is_known(method: &str, version: Version) -> bool {
    Method::from_name(method).is_some_and(|m| m.known_in(version))
}

/// Runs one request (never `initialize`, which the transport handles because it mints a session)
/// and records it in the metrics (method and tool labels from our own lists only).
pub async fn handle(ctx: &Ctx, call: &Call) -> Result<Payload, RpcError> {
    let start = std::time::Instant::now();
    let result = run(ctx, call).await;
    let method = Method::from_name(&call.method).map_or("unknown", Method::name);
    let tool = if method == Method::ToolsCall.name() {
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
        Ok(Payload::Value(r)) if r.get("isError") == Some(&Value::Bool(true)) => "tool_error",
        // Result text (shared or written for this call) is only ever a successful result.
        Ok(_) => "ok",
    };
    crate::ops::metrics::mcp_request(method, tool, outcome, start.elapsed());
    result
}

async fn run(ctx: &Ctx, call: &Call) -> Result<Payload, RpcError> {
    let Some(method) = Method::from_name(&call.method).filter(|m| m.known_in(ctx.version)) else {
        return Err(RpcError::method_not_found(&call.method));
    };
    let p = &call.params;
    let result = match method {
        Method::Ping => Ok(json!({})),
        Method::ServerDiscover => Ok(discover(ctx)),
        Method::LoggingSetLevel => set_level(ctx, p),
        // Shared text, already finished for the revision.
        Method::ToolsList => return tools::list(ctx, p),
        Method::ToolsCall => return tool_call(ctx, p).await,
        Method::ResourcesList => resources::list(ctx, p).await,
        Method::ResourcesRead => resources::read(ctx, p).await,
        Method::ResourcesTemplatesList => resources::templates(ctx, p),
    }?;
    Ok(Payload::Value(finish(ctx.version, &call.method, result)))
}

/// `tools/call`: a shared result as it is; a tool's output finished for the revision (and shared
/// from now on when the tool allows it); an error result finished for the revision.
async fn tool_call(ctx: &Ctx, params: &Map<String, Value>) -> Result<Payload, RpcError> {
    match tools::call(ctx, params).await? {
        tools::Called::Shared(text) => Ok(Payload::Json(text)),
        tools::Called::Output { output, share_as } => {
            let text = tool_result_text(ctx.version, &output).map_err(|e| {
                tracing::error!(error = %e, "tool result not serializable");
                RpcError::internal()
            })?;
            match share_as {
                Some(key) => {
                    let text: std::sync::Arc<str> = text.into();
                    ctx.state.mcp.cache_result(key, text.clone());
                    Ok(Payload::Json(text))
                }
                None => Ok(Payload::Text(text)),
            }
        }
        tools::Called::Error(result) => Ok(Payload::Value(finish(
            ctx.version,
            Method::ToolsCall.name(),
            result,
        ))),
    }
}

/// A tool's output as the finished `tools/call` result's JSON text, written into one buffer:
/// the bytes `serde_json` writes for [`finish`] of `{"content": [{"type": "text", "text": …}],
/// "isError": false, "structuredContent": …}` (keys sorted, as it writes an object's; the
/// 2026-07-28 envelope adds only `resultType` to a `tools/call` result, which has no TTL), without
/// building that value (`tests` compares the two for every revision).
pub fn tool_result_text(version: Version, out: &ToolOutput) -> serde_json::Result<String> {
    let structured = match &out.structured {
        Structured::Json(text) => Some(text.as_str()),
        Structured::Value(_) => None,
    };
    let mut buf = Vec::with_capacity(out.text.len() + structured.map_or(256, str::len) + 96);
    buf.extend_from_slice(b"{\"content\":[{\"text\":");
    serde_json::to_writer(&mut buf, &out.text)?;
    buf.extend_from_slice(b",\"type\":\"text\"}],\"isError\":false");
    if version.is_modern() {
        buf.extend_from_slice(b",\"resultType\":\"complete\"");
    }
    if version.has_structured_content() {
        buf.extend_from_slice(b",\"structuredContent\":");
        match &out.structured {
            Structured::Json(text) => buf.extend_from_slice(text.as_bytes()),
            Structured::Value(v) => serde_json::to_writer(&mut buf, v)?,
        }
    }
    buf.push(b'}');
    String::from_utf8(buf).map_err(serde::ser::Error::custom)
}

/// The finished `tools/list` result of every revision, serialized once (for `McpState`).
pub fn tool_list_results() -> std::collections::HashMap<Version, std::sync::Arc<str>> {
    Version::ALL
        .iter()
        .map(|v| {
            let result = finish(
                *v,
                Method::ToolsList.name(),
                json!({ "tools": tools::descriptions(*v) }),
            );
            (*v, result.to_string().into())
        })
        .collect()
}

/// Adds the 2026-07-28 result envelope: `resultType` everywhere, cache hints on list/read results.
pub fn finish(version: Version, method: &str, mut result: Value) -> Value {
    if version.is_modern()
        && let Some(obj) = result.as_object_mut()
    {
        obj.insert("resultType".into(), json!("complete"));
        if let Some(ttl) = Method::from_name(method).and_then(Method::ttl_ms) {
            obj.insert("ttlMs".into(), json!(ttl));
            // Results depend on the caller's workspace and membership: never share across tokens.
            obj.insert("cacheScope".into(), json!("private"));
        }
    }
    result
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
    fn tool_result_text_is_the_finished_value_serialized() {
        let structured = json!({
            "query": "a \"quoted\"\n query ü \u{1}",
            "results": [{ "id": "wiki/x", "rank": 1, "score": 2.0, "snippet": "</script> é" },
                        { "id": "wiki/y", "rank": 2, "score": 0.125, "snippet": "" }],
            "workspace": "acme",
        });
        let outputs = [
            ToolOutput {
                text: "text \"mirror\"\t ü".into(),
                structured: Structured::Value(structured.clone()),
            },
            ToolOutput {
                text: structured.to_string(),
                structured: Structured::Json(serde_json::to_string(&structured).unwrap()),
            },
        ];
        for version in Version::ALL {
            for out in &outputs {
                let mut value = json!({
                    "content": [{ "type": "text", "text": out.text }],
                    "isError": false,
                });
                if version.has_structured_content() {
                    value["structuredContent"] = structured.clone();
                }
                let expected = finish(version, Method::ToolsCall.name(), value).to_string();
                assert_eq!(
                    tool_result_text(version, out).unwrap(),
                    expected,
                    "{version:?}"
                );
            }
        }
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
