//! `search_company_rag`: passages for a query with citations (title, URL, resource URI, snippet,
//! score), optionally restricted to one source.
use super::def::{
    Structured, ToolDef, ToolError, ToolFuture, ToolOutput, only_known, optional_int, optional_str,
    required_str, score_value, search_hits,
};
use crate::knowledge::{SearchHit, Source};
use crate::mcp::context::Ctx;
use serde::Serialize;
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
    let ws = &ctx.workspace.slug;
    let structured = structured(query, ws, &hits)?;

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
                // Written as JSON writes the number (`2.0`, not `2`).
                Value::from(score_value(h.score)),
                h.url,
                h.uri,
                h.snippet.trim()
            );
        }
        text.push_str("\nCite sources by their number and URL.");
    }
    Ok(ToolOutput { text, structured })
}

/// `structuredContent`, serialized straight from the hits.
fn structured(query: &str, ws: &str, hits: &[SearchHit]) -> Result<Structured, ToolError> {
    Structured::json(&Output {
        query,
        results: hits
            .iter()
            .enumerate()
            .map(|(i, h)| Citation {
                id: &h.doc_id,
                rank: i + 1,
                score: score_value(h.score),
                snippet: &h.snippet,
                source: h.source.as_str(),
                title: &h.title,
                uri: &h.uri,
                url: &h.url,
            })
            .collect(),
        workspace: ws,
    })
}

/// The result's shape (fields in the order `serde_json` writes an object's keys: sorted, so the
/// bytes are those of the same object as a `Value`).
#[derive(Serialize)]
struct Output<'a> {
    query: &'a str,
    results: Vec<Citation<'a>>,
    workspace: &'a str,
}

/// One result of [`Output`] (fields sorted, as there).
#[derive(Serialize)]
struct Citation<'a> {
    id: &'a str,
    rank: usize,
    score: f64,
    snippet: &'a str,
    source: &'static str,
    title: &'a str,
    uri: &'a str,
    url: &'a str,
}

fn run_boxed<'a>(
    ctx: &'a crate::mcp::context::Ctx,
    args: &'a Map<String, Value>,
) -> ToolFuture<'a> {
    Box::pin(run(ctx, args))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_content_is_the_bytes_of_the_value() {
        let hits = [
            SearchHit {
                doc_id: "wiki/on-call".into(),
                title: "On-call \"runbook\" — ü".into(),
                url: "https://example.test/wiki/on-call?x=1&y=<2>".into(),
                uri: "wiki://pages/on-call".into(),
                source: Source::Wiki,
                snippet: "line\nbreak \u{1} tab\t".into(),
                score: 2.0,
            },
            SearchHit {
                doc_id: "github/acme/api#7".into(),
                title: String::new(),
                url: "/relative".into(),
                uri: "github://acme/api/issues/7".into(),
                source: Source::Github,
                snippet: "é".into(),
                score: 0.123_456,
            },
        ];
        for hits in [&hits[..], &[]] {
            let Structured::Json(text) = structured("q \"x\"", "acme", hits).unwrap() else {
                panic!("typed output is written as text");
            };
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
            let value = json!({ "query": "q \"x\"", "workspace": "acme", "results": results });
            assert_eq!(text, value.to_string());
        }
    }
}
