//! Resources: every document of the workspace (`wiki://pages/{page}`,
//! `github://{owner}/{repo}/issues/{number}`), listed with opaque cursors and read by URI.
use super::context::{Ctx, reject_cursor};
use super::jsonrpc::RpcError;
use super::version::Version;
use crate::knowledge::Document;
use base64::Engine;
use serde_json::{Map, Value, json};

pub const PAGE_SIZE: usize = 25;
const CURSOR_TAG: &str = "r1";

/// Cursor = base64url("r1\n<workspace>\n<last uri>"): opaque to clients, and bound to the
/// workspace so a cursor from one workspace is rejected in another.
fn encode_cursor(workspace: &str, after_uri: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{CURSOR_TAG}\n{workspace}\n{after_uri}"))
}

fn decode_cursor(workspace: &str, cursor: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let mut parts = s.splitn(3, '\n');
    (parts.next()? == CURSOR_TAG && parts.next()? == workspace)
        .then(|| parts.next().map(str::to_owned))
        .flatten()
        .filter(|u| !u.is_empty())
}

fn describe(doc: &Document, version: Version) -> Value {
    let kind = match doc.source {
        crate::knowledge::Source::Wiki => "Wiki page",
        crate::knowledge::Source::Github => "GitHub issue",
    };
    let mut r = json!({
        "uri": doc.uri,
        "mimeType": doc.mime_type,
        "description": format!("{kind}: {}", doc.title),
        "size": doc.text.len(),
    });
    if version.has_structured_content() {
        r["name"] = json!(doc.id);
        r["title"] = json!(doc.title);
    } else {
        // Before 2025-06-18 `name` is the display name.
        r["name"] = json!(doc.title);
    }
    r
}

pub async fn list(ctx: &Ctx, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let after = match params.get("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) => Some(
            decode_cursor(&ctx.workspace.slug, c)
                .ok_or_else(|| RpcError::invalid_params("invalid cursor"))?,
        ),
        Some(_) => return Err(RpcError::invalid_params("invalid cursor")),
    };
    let mut docs = ctx
        .state
        .knowledge
        .list_documents(&ctx.workspace.slug, after.as_deref(), PAGE_SIZE + 1)
        .await
        .map_err(|e| internal(ctx, e))?;
    let more = docs.len() > PAGE_SIZE;
    docs.truncate(PAGE_SIZE);
    let mut result =
        json!({ "resources": docs.iter().map(|d| describe(d, ctx.version)).collect::<Vec<_>>() });
    if more && let Some(last) = docs.last() {
        result["nextCursor"] = json!(encode_cursor(&ctx.workspace.slug, &last.uri));
    }
    Ok(result)
}

pub async fn read(ctx: &Ctx, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let uri = params
        .get("uri")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("params.uri (string) is required"))?;
    let not_found = || {
        RpcError::new(ctx.version.resource_not_found_code(), "Resource not found")
            .with_data(json!({ "uri": uri }))
    };
    if !(uri.starts_with("wiki://") || uri.starts_with("github://")) || uri.len() > 2048 {
        return Err(not_found());
    }
    let doc = ctx
        .state
        .knowledge
        .document_by_uri(&ctx.workspace.slug, uri)
        .await
        .map_err(|e| internal(ctx, e))?
        .ok_or_else(not_found)?;
    Ok(json!({ "contents": [{ "uri": doc.uri, "mimeType": doc.mime_type, "text": doc.text }] }))
}

pub fn templates(ctx: &Ctx, params: &Map<String, Value>) -> Result<Value, RpcError> {
    reject_cursor(params)?;
    let titled = ctx.version.has_structured_content();
    let mut wiki = json!({
        "uriTemplate": "wiki://pages/{page}",
        "name": "wiki-page",
        "description": "A page of the company wiki, by its page name (e.g. incident-response-runbook).",
        "mimeType": "text/markdown",
    });
    let mut issue = json!({
        "uriTemplate": "github://{owner}/{repo}/issues/{number}",
        "name": "github-issue",
        "description": "A GitHub issue of a repository synced into this workspace.",
    });
    if titled {
        wiki["title"] = json!("Wiki page");
        issue["title"] = json!("GitHub issue");
    }
    Ok(json!({ "resourceTemplates": [wiki, issue] }))
}

fn internal(ctx: &Ctx, e: anyhow::Error) -> RpcError {
    tracing::error!(workspace = %ctx.workspace.slug, error = ?e, "knowledge query failed");
    RpcError::internal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_opaque_and_workspace_bound() {
        let c = encode_cursor("acme", "wiki://pages/on-call");
        assert!(!c.contains("wiki"));
        assert_eq!(
            decode_cursor("acme", &c).as_deref(),
            Some("wiki://pages/on-call")
        );
        assert_eq!(decode_cursor("globex", &c), None);
        assert_eq!(decode_cursor("acme", "not a cursor!"), None);
        assert_eq!(decode_cursor("acme", &encode_cursor("acme", "")), None);
        assert_eq!(decode_cursor("acme", "cjE"), None);
    }
}
