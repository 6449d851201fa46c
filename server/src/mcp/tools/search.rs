//! `search`: ChatGPT's deep-research / company-knowledge contract (connector flow (b)). Input
//! `{query}`; output is exactly one text item whose text is `{"results":[{"id","title","url"}]}`.
use super::search_company_rag::search_hits;
use super::{ToolDef, ToolError, ToolOutput};
use serde_json::{Map, Value, json};

const LIMIT: usize = 10;

pub static DEF: ToolDef = ToolDef {
    name: "search",
    title: "Search documents",
    description: "Search this workspace's wiki pages and GitHub issues. Returns a list of matching \
        documents (id, title, url); pass an id to the fetch tool to read the full document.",
    input_schema,
    output_schema,
};

fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": { "query": { "type": "string", "description": "Search query." } },
        "required": ["query"]
    })
}

fn output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": { "type": "string" },
                        "title": { "type": "string" },
                        "url": { "type": "string" }
                    },
                    "required": ["id", "title", "url"]
                }
            }
        },
        "required": ["results"]
    })
}

pub async fn run(
    ctx: &crate::mcp::dispatch::Ctx,
    args: &Map<String, Value>,
) -> Result<ToolOutput, ToolError> {
    let query = match args.get("query") {
        Some(Value::String(s)) => s.trim(),
        None | Some(Value::Null) => "",
        Some(_) => return Err(ToolError::InvalidArguments("query must be a string".into())),
    };
    let mut results = Vec::new();
    if !query.is_empty() {
        // Passages of one document collapse into one result: ids are what fetch takes.
        let mut seen = std::collections::HashSet::new();
        for h in search_hits(ctx, query, None, LIMIT * 3).await? {
            if results.len() == LIMIT {
                break;
            }
            if seen.insert(h.doc_id.clone()) {
                results.push(json!({ "id": h.doc_id, "title": h.title, "url": h.url }));
            }
        }
    }
    let structured = json!({ "results": results });
    Ok(ToolOutput {
        text: structured.to_string(),
        structured,
    })
}
