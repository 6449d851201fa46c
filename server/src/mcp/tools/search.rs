//! `search`: ChatGPT's deep-research / company-knowledge contract (connector flow (b)). Input
//! `{query}`; output is exactly one text item whose text is `{"results":[{"id","title","url"}]}`.
use super::def::search_hits;
use super::def::{ToolDef, ToolError, ToolFuture, ToolOutput};
use serde_json::{Map, Value, json};

const LIMIT: usize = 10;

pub static DEF: ToolDef = ToolDef {
    name: "search",
    title: "Search documents",
    description: "Search this workspace's wiki pages and GitHub issues. Returns a list of matching \
        documents (id, title, url); pass an id to the fetch tool to read the full document.",
    input_schema,
    output_schema,
    param_headers: &[],
    cacheable: false,
    run: run_boxed,
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
    ctx: &crate::mcp::context::Ctx,
    args: &Map<String, Value>,
) -> Result<ToolOutput, ToolError> {
    let query = match args.get("query") {
        Some(Value::String(s)) => s.trim(),
        None | Some(Value::Null) => "",
        Some(_) => return Err(ToolError::InvalidArguments("query must be a string".into())),
    };
    // The index already returns one hit per document (its best passage), and ids are what
    // fetch takes, so exactly LIMIT hits are asked for.
    let results: Vec<Value> = if query.is_empty() {
        Vec::new()
    } else {
        search_hits(ctx, query, None, LIMIT, false)
            .await?
            .into_iter()
            .map(|h| json!({ "id": h.doc_id, "title": h.title, "url": h.url }))
            .collect()
    };
    let structured = json!({ "results": results });
    Ok(ToolOutput {
        text: structured.to_string(),
        structured,
    })
}

fn run_boxed<'a>(
    ctx: &'a crate::mcp::context::Ctx,
    args: &'a Map<String, Value>,
) -> ToolFuture<'a> {
    Box::pin(run(ctx, args))
}
