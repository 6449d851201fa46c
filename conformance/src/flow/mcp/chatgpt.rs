//! ChatGPT's `search`/`fetch` contract (deep research and company knowledge).

use crate::flow::common::{Run, describe};
use crate::model::Finding::*;
use serde_json::{Value, json};

impl Run {
    pub(crate) async fn search_fetch(&mut self, token: &str) {
        let ids = ["mcp/chatgpt/search-contract", "mcp/chatgpt/fetch-contract"];
        if !self.cfg.profile.search_fetch_contract {
            self.rec_all(
                &ids,
                NotApplicable(format!(
                    "profile {} does not use search/fetch",
                    self.cfg.profile.name
                )),
            );
            return;
        }
        let find = |n: &str| self.tools.iter().find(|t| t["name"] == json!(n)).cloned();
        let (Some(search), fetch) = (find("search"), find("fetch")) else {
            self.rec_all(
                &ids,
                NotApplicable(
                    "no `search` tool: only deep research and company knowledge need search/fetch"
                        .into(),
                ),
            );
            return;
        };
        let mut problems = Vec::new();
        if search.pointer("/inputSchema/properties/query/type") != Some(&json!("string")) {
            problems.push("inputSchema lacks a string `query`".to_string());
        }
        let mut first_id = None;
        let mut ev = vec![];
        if let Some(r) = self
            .rpc(
                "mcp: tools/call search",
                Some(token),
                "tools/call",
                json!({"name": "search", "arguments": {"query": "the"}}),
            )
            .await
        {
            ev.push(r.resp.id);
            match r.result().and_then(single_text_json) {
                Some(Ok(v)) => match v.get("results").and_then(Value::as_array) {
                    Some(results) => {
                        for (i, x) in results.iter().enumerate() {
                            for k in ["id", "title", "url"] {
                                if x.get(k).and_then(Value::as_str).is_none() {
                                    problems.push(format!("results[{i}] lacks string `{k}`"));
                                }
                            }
                        }
                        first_id = results
                            .first()
                            .and_then(|x| x.get("id"))
                            .and_then(Value::as_str)
                            .map(str::to_string);
                    }
                    None => problems.push("text is JSON but has no `results` array".into()),
                },
                Some(Err(e)) => problems.push(e),
                None => problems.push(format!("no result: {}", describe(&r.resp))),
            }
        }
        let f = if problems.is_empty() {
            Holds("search contract holds".into())
        } else {
            Violated(problems.join("; "))
        };
        self.rec("mcp/chatgpt/search-contract", f, &ev);
        let Some(fetch) = fetch else {
            self.rec(
                "mcp/chatgpt/fetch-contract",
                Violated("`search` exists but `fetch` does not".into()),
                &[],
            );
            return;
        };
        let Some(id) = first_id else {
            self.rec(
                "mcp/chatgpt/fetch-contract",
                CouldNotRun("search returned no result id to fetch".into()),
                &[],
            );
            return;
        };
        let mut problems = Vec::new();
        if fetch.pointer("/inputSchema/properties/id/type") != Some(&json!("string")) {
            problems.push("inputSchema lacks a string `id`".to_string());
        }
        let mut ev = vec![];
        if let Some(r) = self
            .rpc(
                "mcp: tools/call fetch",
                Some(token),
                "tools/call",
                json!({"name": "fetch", "arguments": {"id": id}}),
            )
            .await
        {
            ev.push(r.resp.id);
            match r.result().and_then(single_text_json) {
                Some(Ok(v)) => {
                    for k in ["id", "title", "text", "url"] {
                        if v.get(k).and_then(Value::as_str).is_none() {
                            problems.push(format!("document lacks string `{k}`"));
                        }
                    }
                }
                Some(Err(e)) => problems.push(e),
                None => problems.push(format!("no result: {}", describe(&r.resp))),
            }
        }
        let f = if problems.is_empty() {
            Holds("fetch contract holds".into())
        } else {
            Violated(problems.join("; "))
        };
        self.rec("mcp/chatgpt/fetch-contract", f, &ev);
    }
}

/// The deep-research shape: exactly one `text` content item holding JSON.
fn single_text_json(res: &Value) -> Option<Result<Value, String>> {
    let content = res.get("content")?.as_array()?;
    Some(match content.as_slice() {
        [one] if one["type"] == json!("text") => {
            serde_json::from_str(one["text"].as_str().unwrap_or(""))
                .map_err(|e| format!("text is not JSON: {e}"))
        }
        _ => Err(format!(
            "{} content items; expected exactly one text item",
            content.len()
        )),
    })
}
