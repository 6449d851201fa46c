//! The one SSE parser: the data of each event in a body, and the JSON-RPC messages of a response.

use crate::http::Resp;
use serde_json::Value;

/// The data of each event of a `text/event-stream` body (multi-line data joined with `\n`).
pub fn events(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut data = String::new();
    for line in body.lines().chain(std::iter::once("")) {
        if let Some(d) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(d.strip_prefix(' ').unwrap_or(d));
        } else if line.trim().is_empty() && !data.is_empty() {
            out.push(std::mem::take(&mut data));
        }
    }
    out
}

/// Every JSON-RPC message in a JSON (object or array) or SSE body.
pub fn all_messages(r: &Resp) -> Vec<Value> {
    let flatten = |v: Value| match v {
        Value::Array(a) => a,
        v => vec![v],
    };
    if r.content_type().starts_with("text/event-stream") {
        events(&r.body)
            .iter()
            .filter_map(|e| serde_json::from_str::<Value>(e).ok())
            .flat_map(flatten)
            .collect()
    } else {
        r.json().map(flatten).unwrap_or_default()
    }
}
