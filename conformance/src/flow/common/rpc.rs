//! The JSON-RPC client: requests with per-revision headers and `_meta`, JSON and SSE
//! responses, envelope validation.

use super::args::synthesize_args;
use super::headers::{encode_param, mcp_name_value, param_headers};
use super::run::Run;
use super::sse::all_messages;
use crate::http::{Req, Resp};
use crate::schema;
use serde_json::{Value, json};

/// One JSON-RPC exchange.
#[derive(Clone, Debug)]
pub struct Rpc {
    pub resp: Resp,
    /// The JSON-RPC response object, from a JSON body or an SSE stream.
    pub message: Option<Value>,
}

impl Rpc {
    pub fn result(&self) -> Option<&Value> {
        self.message.as_ref()?.get("result")
    }
    pub fn error_code(&self) -> Option<i64> {
        self.message.as_ref()?.get("error")?.get("code")?.as_i64()
    }
}

/// Extracts the JSON-RPC response with `id` from a JSON or SSE body (the last such response on a
/// stream).
pub fn extract_message(r: &Resp, id: &Value) -> Option<Value> {
    if r.content_type().starts_with("text/event-stream") {
        all_messages(r).into_iter().rev().find(|v| {
            v.get("id") == Some(id) && (v.get("result").is_some() || v.get("error").is_some())
        })
    } else {
        r.json()
    }
}

impl Run {
    pub(crate) fn revision(&self) -> String {
        self.session
            .as_ref()
            .map(|s| s.revision.clone())
            .unwrap_or_else(|| self.cfg.spec.clone().unwrap_or_else(|| "2025-11-25".into()))
    }

    /// Builds an MCP POST for `method`. `auth` is the full Authorization header value.
    pub(crate) fn rpc_req(
        &mut self,
        step: &str,
        url: &str,
        auth: Option<&str>,
        method: &str,
        params: Value,
        notification: bool,
    ) -> (Req, Value) {
        let rev = self.revision();
        let mut params = params;
        if rev == "2026-07-28" {
            let p = &self.cfg.profile;
            if !params.is_object() {
                params = json!({});
            }
            params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": rev,
                "io.modelcontextprotocol/clientInfo": p.client_info(),
                "io.modelcontextprotocol/clientCapabilities": p.capabilities()});
        }
        let id = json!(self.next_rpc_id());
        let mut body = json!({"jsonrpc": "2.0", "method": method});
        if !params.is_null() {
            body["params"] = params.clone();
        }
        if !notification {
            body["id"] = id.clone();
        }
        let mut req = Req::post(step, url)
            .header("accept", "application/json, text/event-stream")
            .json(body);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        if method != "initialize" && rev.as_str() >= "2025-06-18" {
            req = req.header("mcp-protocol-version", rev.clone());
        }
        if let Some(s) = self.session.as_ref().and_then(|s| s.session_id.clone()) {
            req = req.header("mcp-session-id", s);
        }
        if rev == "2026-07-28" {
            req = req.header("mcp-method", method);
            if let Some(n) = params
                .get("name")
                .or_else(|| params.get("uri"))
                .and_then(Value::as_str)
            {
                req = req.header("mcp-name", mcp_name_value(n));
            }
            if method == "tools/call" {
                for (k, v) in self.param_headers_for(&params) {
                    req = req.header(&k, v);
                }
            }
        }
        (req, id)
    }

    /// Sends a request and validates the envelope against the schema.
    pub(crate) async fn send_rpc(&mut self, req: Req, id: &Value) -> Option<Rpc> {
        let r = self.http.send(req).await.ok()?;
        if r.status == 401 {
            self.note_rs_401(&r, true);
        }
        // Only JSON-RPC-shaped bodies are envelopes; an OAuth error body on a 401/403 is not.
        let message = if (200..300).contains(&r.status) || r.is_json_type() {
            extract_message(&r, id).filter(|m| m.get("jsonrpc").is_some())
        } else {
            None
        };
        if r.status == 200 {
            self.rpc_count += 1;
            let ct = r.content_type();
            if !(ct.starts_with("application/json") || ct.starts_with("text/event-stream")) {
                self.content_type_problems
                    .push((r.id, format!("Content-Type {ct:?}")));
            }
        }
        if let Some(m) = &message {
            let rev = self.revision();
            if rev == "2026-07-28"
                && let Some(res) = m.get("result")
            {
                self.modern_results += 1;
                match res.get("resultType") {
                    Some(Value::String(_)) => {}
                    Some(other) => self
                        .result_type_problems
                        .push((r.id, format!("`resultType` is {other}, not a string"))),
                    None => self
                        .result_type_problems
                        .push((r.id, "result has no `resultType`".into())),
                }
            }
            let def = if m.get("error").is_some() {
                schema::error_def(&rev)
            } else {
                schema::result_def(&rev)
            };
            self.envelope_count += 1;
            if let Err(e) = schema::validate(&rev, def, m) {
                self.envelope_problems
                    .push((r.id, format!("{def}: {}", e.join("; "))));
            }
        }
        Some(Rpc { resp: r, message })
    }

    pub(crate) async fn rpc(
        &mut self,
        step: &str,
        token: Option<&str>,
        method: &str,
        params: Value,
    ) -> Option<Rpc> {
        let url = self.mcp_url.to_string();
        let auth = token.map(|t| format!("Bearer {t}"));
        let (req, id) = self.rpc_req(step, &url, auth.as_deref(), method, params, false);
        self.send_rpc(req, &id).await
    }

    /// The handshake request (initialize or server/discover) with a given Authorization value and URL.
    pub(crate) fn handshake_req(
        &mut self,
        step: &str,
        url: &str,
        auth: Option<&str>,
    ) -> (Req, Value) {
        let rev = self.revision();
        let p = self.cfg.profile;
        if rev == "2026-07-28" {
            self.rpc_req(step, url, auth, "server/discover", json!({}), false)
        } else {
            let saved = self.session.as_mut().and_then(|s| s.session_id.take());
            let out = self.rpc_req(step, url, auth, "initialize", json!({"protocolVersion": rev, "capabilities": p.capabilities(), "clientInfo": p.client_info()}), false);
            if let (Some(s), Some(id)) = (self.session.as_mut(), saved) {
                s.session_id = Some(id);
            }
            out
        }
    }

    /// Sends the handshake with `token` to the MCP URL; returns the HTTP status.
    pub(crate) async fn probe_token(
        &mut self,
        token: &str,
        step: &str,
    ) -> (Option<u16>, Vec<usize>) {
        let url = self.mcp_url.to_string();
        self.probe_auth(step, &url, Some(&format!("Bearer {token}")), true)
            .await
    }

    pub(crate) async fn probe_auth(
        &mut self,
        step: &str,
        url: &str,
        auth: Option<&str>,
        presented: bool,
    ) -> (Option<u16>, Vec<usize>) {
        let (req, _) = self.handshake_req(step, url, auth);
        match self.http.send(req).await {
            Ok(r) => {
                self.note_rs_401(&r, presented);
                (Some(r.status), vec![r.id])
            }
            Err(_) => (None, vec![]),
        }
    }

    /// `Mcp-Param-*` headers a conforming client sends with this 2026-07-28 `tools/call`: one per
    /// valid `x-mcp-header` annotation of the tool whose argument has a value.
    pub(crate) fn param_headers_for(&self, params: &Value) -> Vec<(String, String)> {
        let name = params.get("name").and_then(Value::as_str);
        let tool = self
            .modern_tools
            .iter()
            .flatten()
            .chain(self.tools.iter())
            .find(|t| t.get("name").and_then(Value::as_str) == name);
        let (Some(tool), Some(args)) = (tool, params.get("arguments")) else {
            return vec![];
        };
        let Ok(headers) = param_headers(tool) else {
            return vec![];
        };
        headers
            .iter()
            .filter_map(|h| {
                let v = h.value_in(args)?;
                Some((format!("mcp-param-{}", h.name), encode_param(&v)))
            })
            .collect()
    }

    /// The tool to call: `--call-tool`, else the first tool marked `readOnlyHint: true`.
    pub(crate) fn chosen_tool(&self) -> Option<(String, Value)> {
        let tool = match &self.cfg.call_tool {
            Some(n) => self
                .tools
                .iter()
                .find(|t| t["name"] == json!(n))
                .cloned()
                .or_else(|| Some(json!({"name": n}))),
            None => self
                .tools
                .iter()
                .find(|t| t.pointer("/annotations/readOnlyHint") == Some(&json!(true)))
                .cloned(),
        }?;
        let name = tool["name"].as_str()?.to_string();
        let args = self
            .cfg
            .call_args
            .clone()
            .unwrap_or_else(|| synthesize_args(&tool));
        Some((name, args))
    }
}
