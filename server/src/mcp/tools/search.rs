//! `search`: ChatGPT's deep-research / company-knowledge contract (connector flow (b)). Input
//! `{query}`; output is exactly one text item whose text is `{"results":[{"id","title","url"}]}`.
use super::def::search_hits;
use super::def::{ToolDef, ToolError, ToolFuture, ToolOutput};
use crate::knowledge::SearchHit;
use serde::Serialize;
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
    let hits = if query.is_empty() {
        Vec::new()
    } else {
        search_hits(ctx, query, None, LIMIT, false).await?
    };
    output(&hits)
}

/// `{"results": [{"id", "title", "url"}]}`, serialized straight from the hits, as both the text
/// item and `structuredContent`.
fn output(hits: &[SearchHit]) -> Result<ToolOutput, ToolError> {
    let results = hits
        .iter()
        .map(|h| Found {
            id: &h.doc_id,
            title: &h.title,
            url: &h.url,
        })
        .collect();
    ToolOutput::json_mirror(&Output { results })
}

/// The result's shape (fields in the order `serde_json` writes an object's keys: sorted, so the
/// bytes are those of the same object as a `Value`).
#[derive(Serialize)]
struct Output<'a> {
    results: Vec<Found<'a>>,
}

#[derive(Serialize)]
struct Found<'a> {
    id: &'a str,
    title: &'a str,
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
    use crate::knowledge::Source;
    use crate::mcp::tools::Structured;

    #[test]
    fn the_result_text_is_the_bytes_of_the_value() {
        let hit = |id: &str, title: &str, url: &str| SearchHit {
            doc_id: id.into(),
            title: title.into(),
            url: url.into(),
            uri: "wiki://pages/x".into(),
            source: Source::Wiki,
            snippet: "unused".into(),
            score: 1.0,
        };
        let hits = [
            hit(
                "wiki/a",
                "A \"quoted\" title — ü",
                "https://example.test/a?x=<1>&y=2",
            ),
            hit("github/acme/api#1", "", "\u{1}\n"),
        ];
        for hits in [&hits[..], &[]] {
            let results: Vec<Value> = hits
                .iter()
                .map(|h| json!({ "id": h.doc_id, "title": h.title, "url": h.url }))
                .collect();
            let value = json!({ "results": results });
            let out = output(hits).unwrap();
            assert_eq!(out.text, value.to_string());
            assert!(matches!(out.structured, Structured::Json(s) if s == out.text));
        }
    }
}
