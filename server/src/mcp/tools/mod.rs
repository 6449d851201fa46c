//! The MCP tools, one file each, behind one table. Every tool is read-only over the caller's
//! workspace; the knowledge layer filters by workspace, the tools only pass the slug through.
//!
//! Result shaping by revision: `structuredContent` and `outputSchema` for ≥ 2025-06-18 only (the
//! text mirror is always there); invalid arguments are an `isError` result for ≥ 2025-11-25
//! (SEP-1303) and JSON-RPC -32602 before that; an unknown tool is always -32602.
//!
//! 2026-07-28 only: parameters a tool lists in [`ToolDef::param_headers`] carry `x-mcp-header` in
//! its `inputSchema`, so clients mirror them into `Mcp-Param-{Name}` headers (checked against the
//! body by [`super::version::check_param_headers`]); older revisions get the schema without them.

/// `param_header!("Repo", ["repo"])`: a [`ParamHeader`] whose header name (`Mcp-Param-Repo`) is
/// spelled at compile time.
macro_rules! param_header {
    ($name:literal, [$($key:literal),+ $(,)?]) => {
        $crate::mcp::version::ParamHeader {
            name: $name,
            header: concat!("Mcp-Param-", $name),
            path: &[$($key),+],
        }
    };
}

mod def;
mod fetch;
mod list_github_issues;
mod search;
mod search_company_rag;

use super::jsonrpc::Payload;
use super::jsonrpc::RpcError;
use super::state::ResultKey;
use super::version::{ParamHeader, Version};
use crate::mcp::context::{Ctx, reject_cursor};
pub use def::{Structured, ToolDef, ToolError, ToolOutput};
use serde_json::{Map, Value, json};

/// Every tool, in the deterministic order `tools/list` returns them.
pub const TOOLS: [&ToolDef; 4] = [
    &search_company_rag::DEF,
    &list_github_issues::DEF,
    &search::DEF,
    &fetch::DEF,
];

/// The `x-mcp-header` annotations of the tool called `name` (2026-07-28), or `None` for an
/// unknown tool.
pub fn param_headers(name: &str) -> Option<&'static [ParamHeader]> {
    TOOLS
        .iter()
        .find(|d| d.name == name)
        .map(|d| d.param_headers)
}

/// `inputSchema` for `version`: 2026-07-28 adds the `x-mcp-header` annotations.
fn input_schema(def: &ToolDef, version: Version) -> Value {
    let mut schema = (def.input_schema)();
    if version.is_modern() {
        for p in def.param_headers {
            let mut at = &mut schema;
            for key in p.path {
                at = at
                    .get_mut("properties")
                    .and_then(|props| props.get_mut(*key))
                    .unwrap_or_else(|| {
                        panic!("{}: x-mcp-header {} names no property", def.name, p.name)
                    });
            }
            at["x-mcp-header"] = json!(p.name);
        }
    }
    schema
}

/// The `Tool` object for `version`.
fn describe(def: &ToolDef, version: Version) -> Value {
    let mut t = json!({
        "name": def.name,
        "description": def.description,
        "inputSchema": input_schema(def, version),
        "annotations": {
            "title": def.title,
            "readOnlyHint": true,
            "destructiveHint": false,
            "idempotentHint": true,
            "openWorldHint": false,
        },
    });
    if version.has_structured_content() {
        t["title"] = json!(def.title);
        t["outputSchema"] = (def.output_schema)();
        // OpenAI Apps SDK per-tool auth declaration (connector-flow quirks Q34/Q35).
        t["_meta"] = json!({ "securitySchemes": [{ "type": "oauth2", "scopes": ["mcp:tools"] }] });
    }
    t
}

/// The `tools` array for `version` (computed once per version by `McpState`).
pub fn descriptions(version: Version) -> Value {
    Value::Array(TOOLS.iter().map(|d| describe(d, version)).collect())
}

pub fn list(ctx: &Ctx, params: &Map<String, Value>) -> Result<Payload, RpcError> {
    reject_cursor(params)?;
    Ok(ctx.state.mcp.tool_list(ctx.version))
}

/// What `tools/call` produced: a shared result, a tool's output (shareable under `share_as`
/// once finished for the revision), or an error result (never shared: the next call tries
/// again).
pub enum Called {
    Shared(std::sync::Arc<str>),
    Output {
        output: ToolOutput,
        share_as: Option<ResultKey>,
    },
    Error(Value),
}

/// The key a [`ToolDef::cacheable`] tool's result is shared under: only while the workspace's
/// knowledge has a live index (its version names what the result reflects).
fn share_key(ctx: &Ctx, def: &ToolDef, args: &Map<String, Value>) -> Option<ResultKey> {
    if !def.cacheable {
        return None;
    }
    let stats = ctx.state.knowledge.index_stats(&ctx.workspace.slug)?;
    Some(ResultKey {
        workspace: ctx.workspace.slug.clone(),
        knowledge_version: stats.version,
        version: ctx.version,
        tool: def.name,
        arguments: serde_json::to_string(args).ok()?,
    })
}

pub async fn call(ctx: &Ctx, params: &Map<String, Value>) -> Result<Called, RpcError> {
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("params.name (the tool name) is required"))?;
    static NO_ARGUMENTS: std::sync::LazyLock<Map<String, Value>> =
        std::sync::LazyLock::new(Map::new);
    let args: &Map<String, Value> = match params.get("arguments") {
        None | Some(Value::Null) => &NO_ARGUMENTS,
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(RpcError::invalid_params(
                "params.arguments must be an object",
            ));
        }
    };
    let Some(def) = TOOLS.iter().find(|d| d.name == name) else {
        return Err(RpcError::invalid_params(format!("Unknown tool: {name}")));
    };
    let share_as = share_key(ctx, def, args);
    if let Some(text) = share_as
        .as_ref()
        .and_then(|k| ctx.state.mcp.cached_result(k))
    {
        return Ok(Called::Shared(text));
    }
    let outcome = (def.run)(ctx, args).await;
    let error = match outcome {
        Ok(output) => return Ok(Called::Output { output, share_as }),
        Err(ToolError::InvalidArguments(msg)) if !ctx.version.validation_errors_are_results() => {
            return Err(RpcError::invalid_params(format!(
                "Invalid arguments for tool {name}: {msg}"
            )));
        }
        Err(ToolError::InvalidArguments(msg)) => {
            error_result(format!("Invalid arguments for tool {name}: {msg}"))
        }
        Err(ToolError::Failed(msg)) => error_result(msg),
        Err(ToolError::Internal(e)) => {
            tracing::error!(tool = name, workspace = %ctx.workspace.slug, error = ?e, "tool failed");
            error_result(format!(
                "The {name} tool failed because of an internal error; try again later."
            ))
        }
    };
    Ok(Called::Error(error))
}

fn error_result(text: String) -> Value {
    json!({ "content": [{ "type": "text", "text": text }], "isError": true })
}

#[cfg(test)]
mod tests {
    use super::def::{only_known, optional_int, required_str, score_value};
    use super::*;

    #[test]
    fn descriptions_per_version() {
        let old = descriptions(Version::V2025_03_26);
        let new = descriptions(Version::V2025_11_25);
        let names: Vec<&str> = new
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "search_company_rag",
                "list_github_issues",
                "search",
                "fetch"
            ]
        );
        for t in old.as_array().unwrap() {
            assert!(t.get("outputSchema").is_none() && t.get("title").is_none());
            assert_eq!(t["annotations"]["readOnlyHint"], true);
            assert_eq!(t["inputSchema"]["type"], "object");
        }
        for t in new.as_array().unwrap() {
            assert_eq!(t["outputSchema"]["type"], "object");
            assert_eq!(t["annotations"]["destructiveHint"], false);
            assert_eq!(t["annotations"]["openWorldHint"], false);
            let name = t["name"].as_str().unwrap();
            assert!(
                name.len() <= 128
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
            );
        }
    }

    /// Every `x-mcp-header` along `schema`'s `properties` chains as (name, property path, type);
    /// one anywhere else (under `items`, `anyOf`, …) fails the test.
    fn annotations(schema: &Value, path: &mut Vec<String>, out: &mut Vec<(String, String, Value)>) {
        let Some(obj) = schema.as_object() else {
            return;
        };
        if let Some(h) = obj.get("x-mcp-header") {
            let ty = obj.get("type").cloned().unwrap_or(Value::Null);
            out.push((h.as_str().unwrap().to_owned(), path.join("."), ty));
        }
        for (key, sub) in obj {
            if key == "properties" {
                for (prop, s) in sub.as_object().unwrap() {
                    path.push(prop.clone());
                    annotations(s, path, out);
                    path.pop();
                }
            } else if sub.is_object() || sub.is_array() {
                // Anywhere else (items, anyOf, …) an annotation would be unreachable.
                assert!(
                    !sub.to_string().contains("x-mcp-header"),
                    "x-mcp-header off the properties chain under {key}"
                );
            }
        }
    }

    #[test]
    fn x_mcp_header_only_for_2026_07_28_and_valid() {
        let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        let modern = descriptions(Version::V2026_07_28);
        let mut served = vec![];
        for (def, tool) in TOOLS.iter().zip(modern.as_array().unwrap()) {
            assert_eq!(tool["name"], def.name);
            let mut found = vec![];
            annotations(&tool["inputSchema"], &mut vec![], &mut found);
            // What is served is exactly what `check_param_headers` validates.
            let declared: Vec<(String, String)> = def
                .param_headers
                .iter()
                .map(|p| (p.name.to_owned(), p.path.join(".")))
                .collect();
            let got: Vec<(String, String)> = found
                .iter()
                .map(|(n, p, _)| (n.clone(), p.clone()))
                .collect();
            assert_eq!(got, declared, "{}", def.name);
            assert_eq!(param_headers(def.name), Some(def.param_headers));
            for (name, _, ty) in &found {
                assert!(!name.is_empty() && name.bytes().all(is_tchar), "{name:?}");
                assert!(
                    ["string", "integer", "boolean"].contains(&ty.as_str().unwrap_or("")),
                    "{name}: {ty}"
                );
            }
            for p in def.param_headers {
                assert_eq!(
                    p.header.to_ascii_lowercase(),
                    format!("mcp-param-{}", p.name.to_ascii_lowercase())
                );
            }
            served.extend(found.into_iter().map(|(n, _, _)| n.to_ascii_lowercase()));
        }
        let mut unique = served.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            served.len(),
            "names are unique regardless of case"
        );
        assert_eq!(
            modern[1]["inputSchema"]["properties"]["repo"]["x-mcp-header"],
            "Repo"
        );
        assert_eq!(param_headers("nope"), None);
        // Older revisions keep their schemas byte for byte; 2026-07-28 only adds the annotations.
        for v in [
            Version::V2025_03_26,
            Version::V2025_06_18,
            Version::V2025_11_25,
        ] {
            let legacy = descriptions(v);
            assert!(!legacy.to_string().contains("x-mcp-header"), "{v:?}");
            for def in TOOLS {
                assert_eq!(
                    input_schema(def, v).to_string(),
                    (def.input_schema)().to_string()
                );
            }
        }
        for (def, tool) in TOOLS.iter().zip(modern.as_array().unwrap()) {
            let mut stripped = tool["inputSchema"].clone();
            for p in def.param_headers {
                let mut at = &mut stripped;
                for key in p.path {
                    at = &mut at["properties"][*key];
                }
                at.as_object_mut().unwrap().remove("x-mcp-header");
            }
            assert_eq!(stripped, (def.input_schema)(), "{}", def.name);
        }
    }

    #[test]
    fn argument_helpers() {
        let args: Map<String, Value> =
            serde_json::from_value(json!({"q": "  x ", "n": 5.0, "b": 3.5, "e": ""})).unwrap();
        assert_eq!(required_str(&args, "q").unwrap(), "x");
        assert!(required_str(&args, "e").is_err());
        assert!(required_str(&args, "missing").is_err());
        assert!(required_str(&args, "n").is_err());
        assert_eq!(optional_int(&args, "n", 1..=20).unwrap(), Some(5));
        assert!(optional_int(&args, "b", 1..=20).is_err());
        assert!(optional_int(&args, "n", 6..=20).is_err());
        assert_eq!(optional_int(&args, "zz", 1..=20).unwrap(), None);
        assert!(only_known(&args, &["q", "n", "b", "e"]).is_ok());
        assert!(only_known(&args, &["q"]).is_err());
        assert_eq!(score_value(f32::NAN), 0.0);
        assert_eq!(score_value(1.23456), 1.235);
    }
}
