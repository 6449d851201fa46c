//! `search_company_rag`: passages for a query with citations (title, URL, resource URI, snippet,
//! score), optionally restricted to one source.
use super::def::{
    ToolDef, ToolError, ToolFuture, ToolOutput, only_known, optional_int, optional_str,
    required_str, score_value, search_hits,
};
use crate::knowledge::Source;
use crate::mcp::context::Ctx;
use serde_json::{Map, Value, json};
use std::fmt::Write;

const DEFAULT_LIMIT: i64 = 5;
const MAX_LIMIT: i64 = 20;

pub static DEF: ToolDef = ToolDef {
    name: "search_company_rag",
    title: "Search company knowledge",
    description: "Search this workspace's company knowledge (wiki pages and GitHub issues) and return the \
        most relevant passages, each with a citation: title, URL, resource URI, snippet and relevance \
        score. Cite the returned URLs when answering. Optionally restrict to one source.",
    input_schema,
    output_schema,
    param_headers: &[],
    cacheable: false,
    run: run_boxed,
};

fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "query": { "type": "string", "minLength": 1, "description": "What to look for, in natural language or keywords." },
            "source": { "type": "string", "enum": ["wiki", "github"], "description": "Only search this source." },
            "limit": { "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT, "description": "Maximum number of passages." }
        },
        "required": ["query"],
        "additionalProperties": false
    })
}

fn output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "query": { "type": "string" },
            "workspace": { "type": "string" },
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "rank": { "type": "integer", "minimum": 1 },
                        "id": { "type": "string" },
                        "title": { "type": "string" },
                        "url": { "type": "string" },
                        "uri": { "type": "string" },
                        "source": { "type": "string", "enum": ["wiki", "github"] },
                        "snippet": { "type": "string" },
                        "score": { "type": "number" }
                    },
                    "required": ["rank", "id", "title", "url", "uri", "source", "snippet", "score"]
                }
            }
        },
        "required": ["query", "workspace", "results"]
    })
}

fn parse_source(s: Option<&str>) -> Result<Option<Source>, ToolError> {
    match s {
        None => Ok(None),
        Some(name) => Source::from_name(name).map(Some).ok_or_else(|| {
            ToolError::InvalidArguments("source must be \"wiki\" or \"github\"".into())
        }),
    }
}

pub async fn run(ctx: &Ctx, args: &Map<String, Value>) -> Result<ToolOutput, ToolError> {
    only_known(args, &["query", "source", "limit"])?;
    let query = required_str(args, "query")?;
    let source = parse_source(optional_str(args, "source")?)?;
    let limit = optional_int(args, "limit", 1..=MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT) as usize;
    let hits = search_hits(ctx, query, source, limit, true).await?;

    let results: Vec<Value> = hits
        .iter()
        .enumerate()
        .map(|(i, h)| {
            json!({
                "rank": i + 1,
                "id": h.doc_id,
                "title": h.title,
                "url": h.url,
                "uri": h.uri,
                "source": h.source.as_str(),
                "snippet": h.snippet,
                "score": score_value(h.score),
            })
        })
        .collect();

    let ws = &ctx.workspace.slug;
    let mut text = String::new();
    if hits.is_empty() {
        let _ = write!(text, "No results for \"{query}\" in workspace {ws}.");
    } else {
        let _ = writeln!(
            text,
            "{} result(s) for \"{query}\" in workspace {ws}:",
            hits.len()
        );
        for (i, h) in hits.iter().enumerate() {
            let _ = write!(
                text,
                "\n[{}] {} ({}, score {})\n    {}\n    resource: {}\n    \"{}\"\n",
                i + 1,
                h.title,
                h.source.as_str(),
                score_value(h.score),
                h.url,
                h.uri,
                h.snippet.trim()
            );
        }
        text.push_str("\nCite sources by their number and URL.");
    }
    Ok(ToolOutput {
        text,
        structured: json!({ "query": query, "workspace": ws, "results": results }),
    })
}

fn run_boxed<'a>(
    ctx: &'a crate::mcp::context::Ctx,
    args: &'a Map<String, Value>,
) -> ToolFuture<'a> {
    Box::pin(run(ctx, args))
}
