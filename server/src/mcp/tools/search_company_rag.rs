//! `search_company_rag`: passages for a query with citations (title, URL, resource URI, snippet,
//! score), optionally restricted to one source.
use super::{
    ToolDef, ToolError, ToolOutput, only_known, optional_int, optional_str, required_str,
    score_value,
};
use crate::knowledge::{SearchHit, Source};
use crate::mcp::dispatch::Ctx;
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

pub fn source_name(s: Source) -> &'static str {
    match s {
        Source::Wiki => "wiki",
        Source::Github => "github",
    }
}

fn parse_source(s: Option<&str>) -> Result<Option<Source>, ToolError> {
    match s {
        None => Ok(None),
        Some("wiki") => Ok(Some(Source::Wiki)),
        Some("github") => Ok(Some(Source::Github)),
        Some(_) => Err(ToolError::InvalidArguments(
            "source must be \"wiki\" or \"github\"".into(),
        )),
    }
}

/// Runs a workspace-scoped search off the async workers (tantivy is synchronous).
pub(crate) async fn search_hits(
    ctx: &Ctx,
    query: &str,
    source: Option<Source>,
    limit: usize,
) -> Result<Vec<SearchHit>, ToolError> {
    let kb = ctx.state.knowledge.clone();
    let ws = ctx.workspace.slug.clone();
    let q = query.to_owned();
    tokio::task::spawn_blocking(move || kb.search(&ws, &q, source, limit))
        .await
        .map_err(|e| ToolError::Internal(anyhow::anyhow!("search task: {e}")))?
        .map_err(ToolError::Internal)
}

pub async fn run(ctx: &Ctx, args: &Map<String, Value>) -> Result<ToolOutput, ToolError> {
    only_known(args, &["query", "source", "limit"])?;
    let query = required_str(args, "query")?;
    let source = parse_source(optional_str(args, "source")?)?;
    let limit = optional_int(args, "limit", 1..=MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT) as usize;
    let hits = search_hits(ctx, query, source, limit).await?;

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
                "source": source_name(h.source),
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
                source_name(h.source),
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
