//! `fetch`: ChatGPT's deep-research contract (connector flow (b)). Input `{id}` (an id from
//! `search`, or a resource URI); output is one text item whose text is
//! `{"id","title","text","url","metadata"}`. An unknown id is a tool error (`isError`).
use super::def::{ToolDef, ToolError, ToolFuture, ToolOutput};
use serde_json::{Map, Value, json};

pub static DEF: ToolDef = ToolDef {
    name: "fetch",
    title: "Fetch document",
    description: "Fetch the full text of one document of this workspace by the id the search tool \
        returned (for example wiki:incident-response-runbook or github:owner/repo#123). A resource \
        URI (wiki://pages/… or github://…/issues/…) is accepted too.",
    input_schema,
    output_schema,
    param_headers: &[],
    cacheable: true,
    run: run_boxed,
};

fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": { "id": { "type": "string", "description": "Document id from search." } },
        "required": ["id"]
    })
}

fn output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "id": { "type": "string" },
            "title": { "type": "string" },
            "text": { "type": "string" },
            "url": { "type": "string" },
            "metadata": { "type": "object" }
        },
        "required": ["id", "title", "text", "url"]
    })
}

pub async fn run(
    ctx: &crate::mcp::context::Ctx,
    args: &Map<String, Value>,
) -> Result<ToolOutput, ToolError> {
    let id = super::def::required_str(args, "id")?;
    let kb = &ctx.state.knowledge;
    let ws = &ctx.workspace.slug;
    let doc = if id.starts_with("wiki://") || id.starts_with("github://") {
        kb.document_by_uri(ws, id).await?
    } else {
        kb.document(ws, id).await?
    };
    let Some(doc) = doc else {
        return Err(ToolError::Failed(format!(
            "No document with id {id:?} in workspace {ws}; use the search tool to find ids."
        )));
    };
    let mut metadata = doc.metadata.clone();
    metadata
        .entry("source")
        .or_insert_with(|| json!(doc.source.as_str()));
    metadata.entry("uri").or_insert_with(|| json!(doc.uri));
    metadata
        .entry("mime_type")
        .or_insert_with(|| json!(doc.mime_type));
    metadata
        .entry("updated_at")
        .or_insert_with(|| json!(doc.updated_at));
    let structured = json!({
        "id": doc.id,
        "title": doc.title,
        "text": doc.text,
        "url": doc.url,
        "metadata": metadata,
    });
    ToolOutput::json_mirror(&structured)
}

fn run_boxed<'a>(
    ctx: &'a crate::mcp::context::Ctx,
    args: &'a Map<String, Value>,
) -> ToolFuture<'a> {
    Box::pin(run(ctx, args))
}
