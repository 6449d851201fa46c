//! 2026-07-28 `x-mcp-header` (server/tools §x-mcp-header; streamable-http §Schema Extension):
//! valid annotations, and `Mcp-Param-*` headers checked against the body.

use crate::flow::common::args::synthesize_args;
use crate::flow::common::headers::{encode_param, param_headers};
use crate::flow::common::json::rpc_error;
use crate::flow::common::{Run, describe};
use crate::model::Finding::{self, *};
use serde_json::{Value, json};

impl Run {
    /// Every `x-mcp-header` annotation in the 2026-07-28 `tools/list` obeys the constraints that
    /// make clients keep the tool (a client drops a tool whose annotation breaks them).
    pub(crate) fn param_annotations_valid(&self) -> Finding {
        let tools = self.modern_tools.clone().unwrap_or_default();
        let mut count = 0;
        let mut bad = vec![];
        for tool in &tools {
            let name = tool["name"].as_str().unwrap_or("?");
            match param_headers(tool) {
                Ok(h) => count += h.len(),
                Err(why) => bad.push(format!("tool `{name}`: {why}")),
            }
        }
        if !bad.is_empty() {
            return Violated(format!(
                "{}; conforming clients (ChatGPT included) must drop such a tool from tools/list",
                bad.join("; ")
            ));
        }
        if count == 0 {
            return NotApplicable("no tool annotates a parameter with x-mcp-header".into());
        }
        Holds(format!("{count} x-mcp-header annotation(s), all valid"))
    }

    /// Picks a tool the harness may call (read-only, or `--call-tool`) with a valid annotation
    /// whose parameter has a value in the call's arguments; proves a matching `Mcp-Param-*` is
    /// served, then that a missing and a wrong one get 400 / -32020.
    pub(crate) async fn param_header_check(&mut self, auth: &str) {
        let url = self.mcp_url.to_string();
        const ID: &str = "mcp/modern/param-header";
        let tools = self.modern_tools.clone().unwrap_or_default();
        let mut pick = None;
        for tool in &tools {
            let name = tool["name"].as_str().unwrap_or_default().to_string();
            let allowed = match &self.cfg.call_tool {
                Some(t) => *t == name,
                None => tool.pointer("/annotations/readOnlyHint") == Some(&json!(true)),
            };
            let Ok(headers) = param_headers(tool) else {
                continue;
            };
            if !allowed || headers.is_empty() {
                continue;
            }
            let args = match (&self.cfg.call_tool, &self.cfg.call_args) {
                (Some(_), Some(a)) => a.clone(),
                _ => synthesize_args(tool),
            };
            if let Some((h, v)) = headers
                .into_iter()
                .find_map(|h| h.value_in(&args).map(|v| (h, v)))
            {
                pick = Some((name, args, h, v));
                break;
            }
        }
        let Some((name, args, header, value)) = pick else {
            let why = "no tool the harness may call (read-only, or --call-tool) mirrors a \
                       parameter that has a value in its arguments into an Mcp-Param header";
            self.rec(ID, NotApplicable(why.into()), &[]);
            return;
        };
        let params = json!({"name": name, "arguments": args});
        let (req, id) = self.rpc_req(
            &format!("mcp: 2026-07-28 tools/call {name} with matching Mcp-Param headers"),
            &url,
            Some(auth),
            "tools/call",
            params.clone(),
            false,
        );
        let Some(control) = self.send_rpc(req, &id).await else {
            self.rec(ID, CouldNotRun("MCP endpoint unreachable".into()), &[]);
            return;
        };
        if control.result().is_none() {
            let code = rpc_error(&control.resp).and_then(|e| e.get("code").and_then(Value::as_i64));
            let f = if control.resp.status == 400 && code == Some(-32020) {
                Violated(format!(
                    "tools/call {name} with Mcp-Param-{}: {} (matching the body) got {}; a \
                     header that matches its argument must be accepted",
                    header.name,
                    encode_param(&value),
                    describe(&control.resp)
                ))
            } else {
                CouldNotRun(format!(
                    "tools/call {name} with matching headers got {}",
                    describe(&control.resp)
                ))
            };
            self.rec(ID, f, &[control.resp.id]);
            return;
        }
        let wrong = match &value {
            Value::Bool(b) => (!b).to_string(),
            Value::Number(n) => n
                .as_i64()
                .map_or("0".into(), |i| i.wrapping_add(1).to_string()),
            Value::String(s) if s == "conformance-mismatch" => "conformance-mismatch-2".into(),
            _ => "conformance-mismatch".into(),
        };
        let header_name = format!("mcp-param-{}", header.name.to_ascii_lowercase());
        self.header_must_match(ID, auth, &header_name, "tools/call", params, &wrong)
            .await;
    }
}
