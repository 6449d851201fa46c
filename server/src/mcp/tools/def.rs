//! What every tool is made of: its definition (with its handler), its output and errors, the
//! argument helpers and the workspace-scoped search they share. Tools import this, never
//! `tools/mod.rs`, which only holds the table.
use crate::knowledge::{SearchHit, Source};
use crate::mcp::context::Ctx;
use crate::mcp::version::ParamHeader;
use futures::future::BoxFuture;
use serde_json::{Map, Value};

/// What a tool produced.
pub struct ToolOutput {
    /// The text content item (a readable mirror, or the JSON text ChatGPT's contract requires).
    pub text: String,
    /// `structuredContent`, conforming to the tool's `outputSchema`.
    pub structured: Structured,
}

/// A tool's `structuredContent`: a JSON value, or the JSON text `serde_json` writes for it
/// (a typed output serialized once, with its fields in the order a `Value`'s keys are written:
/// sorted, so the bytes are those of the value).
pub enum Structured {
    Value(Value),
    Json(String),
}

impl Structured {
    /// `value` serialized once (see [`Structured`] for the field order it must keep).
    pub(crate) fn json(value: &impl serde::Serialize) -> Result<Self, ToolError> {
        json_text(value).map(Self::Json)
    }
}

impl ToolOutput {
    /// ChatGPT's `search`/`fetch` contract: the text item is the structured result's JSON text,
    /// written once and used for both.
    pub(crate) fn json_mirror(value: &impl serde::Serialize) -> Result<Self, ToolError> {
        let text = json_text(value)?;
        Ok(Self {
            text: text.clone(),
            structured: Structured::Json(text),
        })
    }
}

fn json_text(value: &impl serde::Serialize) -> Result<String, ToolError> {
    serde_json::to_string(value).map_err(|e| ToolError::Internal(e.into()))
}

/// Why a tool did not produce output.
#[derive(Debug)]
pub enum ToolError {
    /// The arguments do not fit the input schema; the model can correct them.
    InvalidArguments(String),
    /// The call was well-formed but cannot be satisfied (e.g. unknown document id).
    Failed(String),
    /// Our fault; logged, hidden from the caller.
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for ToolError {
    fn from(e: anyhow::Error) -> Self {
        ToolError::Internal(e)
    }
}

/// A tool's static description.
pub struct ToolDef {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub input_schema: fn() -> Value,
    pub output_schema: fn() -> Value,
    /// Parameters mirrored into `Mcp-Param-{Name}` headers for 2026-07-28 clients: each must be a
    /// string, integer or boolean property, and names must differ regardless of case.
    pub param_headers: &'static [ParamHeader],
    /// The result depends only on the arguments and the workspace's knowledge at one version
    /// (no clock, no caller, no outside service): successful results are shared across the
    /// workspace's callers until its knowledge moves on (`McpState`'s result cache).
    pub cacheable: bool,
    /// Runs the tool (`tools/call`).
    pub run: for<'a> fn(&'a Ctx, &'a Map<String, Value>) -> ToolFuture<'a>,
}

/// What a tool's `run` returns.
pub type ToolFuture<'a> = BoxFuture<'a, Result<ToolOutput, ToolError>>;

/// Passages up to which a search runs on the async worker that received the call: a query over
/// an index this small takes tens of microseconds (`docs/performance.md`), less than handing it
/// to a blocking thread and back, and well under what a task may hold a worker for.
const INLINE_SEARCH_MAX_PASSAGES: usize = 5_000;

/// Runs a workspace-scoped search: inline over a small index, on the blocking pool over a larger
/// one, whose queries take milliseconds (tantivy is synchronous).
pub(crate) async fn search_hits(
    ctx: &Ctx,
    query: &str,
    source: Option<Source>,
    limit: usize,
    snippets: bool,
) -> Result<Vec<SearchHit>, ToolError> {
    let kb = &ctx.state.knowledge;
    let ws = &ctx.workspace.slug;
    if runs_inline(kb.index_stats(ws).as_ref()) {
        return kb
            .search_with(ws, query, source, limit, snippets)
            .map_err(ToolError::Internal);
    }
    let kb = kb.clone();
    let ws = ws.clone();
    let q = query.to_owned();
    tokio::task::spawn_blocking(move || kb.search_with(&ws, &q, source, limit, snippets))
        .await
        .map_err(|e| ToolError::Internal(anyhow::anyhow!("search task: {e}")))?
        .map_err(ToolError::Internal)
}

/// Whether a search over this index runs on the async worker (no index: nothing to search).
fn runs_inline(index: Option<&crate::knowledge::IndexStats>) -> bool {
    index.is_none_or(|s| s.chunks <= INLINE_SEARCH_MAX_PASSAGES)
}

// ---- argument helpers shared by the tools ----

/// Rejects arguments the schema does not declare (`additionalProperties: false`).
pub(crate) fn only_known(args: &Map<String, Value>, known: &[&str]) -> Result<(), ToolError> {
    match args.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ToolError::InvalidArguments(format!(
            "unknown argument {k:?}; expected {}",
            known.join(", ")
        ))),
        None => Ok(()),
    }
}

/// A required, non-blank string argument (trimmed).
pub(crate) fn required_str<'a>(
    args: &'a Map<String, Value>,
    key: &str,
) -> Result<&'a str, ToolError> {
    match args.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim()),
        Some(Value::String(_)) => Err(ToolError::InvalidArguments(format!(
            "{key} must not be empty"
        ))),
        Some(_) => Err(ToolError::InvalidArguments(format!(
            "{key} must be a string"
        ))),
        None => Err(ToolError::InvalidArguments(format!("{key} is required"))),
    }
}

/// An optional string argument (`null` counts as absent).
pub(crate) fn optional_str<'a>(
    args: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, ToolError> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim())),
        Some(_) => Err(ToolError::InvalidArguments(format!(
            "{key} must be a string"
        ))),
    }
}

/// An optional integer argument within `range` (`null` counts as absent; `5.0` is 5).
pub(crate) fn optional_int(
    args: &Map<String, Value>,
    key: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<Option<i64>, ToolError> {
    let v = match args.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    let n = v
        .as_i64()
        .or_else(|| {
            v.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        })
        .ok_or_else(|| ToolError::InvalidArguments(format!("{key} must be an integer")))?;
    if !range.contains(&n) {
        return Err(ToolError::InvalidArguments(format!(
            "{key} must be between {} and {}",
            range.start(),
            range.end()
        )));
    }
    Ok(Some(n))
}

/// A score as a finite number with three decimals.
pub(crate) fn score_value(score: f32) -> f64 {
    if score.is_finite() {
        (f64::from(score) * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::IndexStats;

    #[test]
    fn small_indexes_are_searched_inline_and_large_ones_on_the_blocking_pool() {
        let index = |chunks| IndexStats {
            version: 1,
            documents: chunks / 5,
            chunks,
        };
        assert!(runs_inline(None));
        assert!(runs_inline(Some(&index(0))));
        assert!(runs_inline(Some(&index(INLINE_SEARCH_MAX_PASSAGES))));
        assert!(!runs_inline(Some(&index(INLINE_SEARCH_MAX_PASSAGES + 1))));
        // The demo's knowledge is searched inline; the 20,000-document bench corpus is not.
        assert!(!runs_inline(Some(&index(95_933))));
    }
}
