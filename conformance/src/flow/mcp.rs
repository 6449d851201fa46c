//! MCP after authorization: the JSON-RPC client (JSON and SSE responses, per-revision headers
//! and `_meta`) and the checks that diagnose "token issued but never used".

use super::{Run, Session, describe};
use crate::http::{Req, Resp};
use crate::model::Finding::*;
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
        super::batch::all_messages(r).into_iter().rev().find(|v| {
            v.get("id") == Some(id) && (v.get("result").is_some() || v.get("error").is_some())
        })
    } else {
        r.json()
    }
}

impl Run {
    pub(super) fn revision(&self) -> String {
        self.session
            .as_ref()
            .map(|s| s.revision.clone())
            .unwrap_or_else(|| self.cfg.spec.clone().unwrap_or_else(|| "2025-11-25".into()))
    }

    /// Builds an MCP POST for `method`. `auth` is the full Authorization header value.
    pub(super) fn rpc_req(
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
                req = req.header("mcp-name", super::modern::mcp_name_value(n));
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
    pub(super) async fn send_rpc(&mut self, req: Req, id: &Value) -> Option<Rpc> {
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

    pub(super) async fn rpc(
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
    pub(super) fn handshake_req(
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
    pub(super) async fn probe_token(
        &mut self,
        token: &str,
        step: &str,
    ) -> (Option<u16>, Vec<usize>) {
        let url = self.mcp_url.to_string();
        self.probe_auth(step, &url, Some(&format!("Bearer {token}")), true)
            .await
    }

    pub(super) async fn probe_auth(
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

    /// Handshake with the main token; decides the negotiated revision.
    async fn handshake(&mut self, token: &str) -> bool {
        let p = self.cfg.profile;
        let explicit = self.cfg.spec.clone();
        let mut discover_ok = None;
        if explicit.as_deref() == Some("2026-07-28") || (explicit.is_none() && p.discover_probe) {
            self.session = Some(Session {
                revision: "2026-07-28".into(),
                session_id: None,
            });
            if let Some(rpc) = self
                .rpc(
                    "mcp: server/discover",
                    Some(token),
                    "server/discover",
                    json!({}),
                )
                .await
            {
                self.discover = Some(match rpc.result() {
                    Some(res) => Ok(res.clone()),
                    None => Err(format!("server/discover got {}", describe(&rpc.resp))),
                });
                if let Some(res) = rpc.result().cloned() {
                    discover_ok = Some((res, rpc.resp.id));
                } else if explicit.is_some() {
                    self.rec(
                        "mcp/lifecycle/handshake",
                        Violated(format!("server/discover failed: {}", describe(&rpc.resp))),
                        &[rpc.resp.id],
                    );
                    return self.handshake_failed(&rpc.resp);
                }
            }
            if explicit.is_some() {
                return self.finish_discover(discover_ok);
            }
        }
        // initialize (ChatGPT: after the discover probe, with 2025-11-25)
        let version = explicit
            .clone()
            .unwrap_or_else(|| p.initialize_version.to_string());
        self.session = Some(Session {
            revision: version.clone(),
            session_id: None,
        });
        let Some(rpc) = self.rpc("mcp: initialize", Some(token), "initialize", json!({"protocolVersion": version, "capabilities": p.capabilities(), "clientInfo": p.client_info()})).await else {
            self.rec("mcp/lifecycle/handshake", CouldNotRun("MCP endpoint unreachable".into()), &[]);
            return false;
        };
        let ev = [rpc.resp.id];
        let Some(res) = rpc.result().cloned() else {
            if discover_ok.is_some() {
                return self.finish_discover(discover_ok);
            }
            self.rec(
                "mcp/lifecycle/handshake",
                Violated(format!("initialize failed: {}", describe(&rpc.resp))),
                &ev,
            );
            return self.handshake_failed(&rpc.resp);
        };
        let negotiated = res
            .get("protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let f = if negotiated == version {
            Holds(format!("protocolVersion {negotiated} as requested"))
        } else if schema::REVISIONS.contains(&negotiated.as_str()) {
            Holds(format!(
                "requested {version}, server counter-offered {negotiated}"
            ))
        } else {
            Violated(format!(
                "protocolVersion {negotiated:?} is not a known revision (requested {version})"
            ))
        };
        self.rec("mcp/lifecycle/version", f, &ev);
        let rev = if schema::REVISIONS.contains(&negotiated.as_str()) {
            negotiated
        } else {
            version
        };
        let f = match schema::validate(&rev, "InitializeResult", &res) {
            Ok(()) => Holds(format!("InitializeResult valid under {rev}")),
            Err(e) => Violated(format!(
                "InitializeResult invalid under {rev}: {}",
                e.join("; ")
            )),
        };
        self.rec("mcp/lifecycle/handshake", f, &ev);
        let sid = rpc.resp.header("mcp-session-id").map(str::to_string);
        match &sid {
            Some(s) => {
                let f = if !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
                    Holds("visible ASCII".into())
                } else {
                    Violated(format!("session id {s:?} has characters outside 0x21–0x7E"))
                };
                self.rec("mcp/transport/session-id-ascii", f, &ev);
            }
            None => {
                self.rec(
                    "mcp/transport/session-id-ascii",
                    NotApplicable("no Mcp-Session-Id issued (stateless server)".into()),
                    &ev,
                );
                self.rec(
                    "mcp/transport/unknown-session-404",
                    NotApplicable("no Mcp-Session-Id issued (stateless server)".into()),
                    &ev,
                );
            }
        }
        self.server_capabilities = res.get("capabilities").cloned().unwrap_or(Value::Null);
        self.session = Some(Session {
            revision: rev,
            session_id: sid,
        });
        // notifications/initialized → 202
        let url = self.mcp_url.to_string();
        let auth = format!("Bearer {token}");
        let (req, _) = self.rpc_req(
            "mcp: notifications/initialized",
            &url,
            Some(&auth),
            "notifications/initialized",
            Value::Null,
            true,
        );
        if let Ok(r) = self.http.send(req).await {
            let f = if r.status == 202 && r.body.trim().is_empty() {
                Holds("202, empty body".into())
            } else {
                Violated(format!(
                    "{} with {} body bytes; expected 202 and no body",
                    r.status,
                    r.body.len()
                ))
            };
            self.rec("mcp/transport/notification-202", f, &[r.id]);
        }
        true
    }

    fn finish_discover(&mut self, d: Option<(Value, usize)>) -> bool {
        let Some((res, id)) = d else {
            self.rec(
                "mcp/lifecycle/handshake",
                Violated("server/discover returned no result".into()),
                &[],
            );
            return false;
        };
        let f = match schema::validate("2026-07-28", "DiscoverResult", &res) {
            Ok(()) => Holds("DiscoverResult valid under 2026-07-28".into()),
            Err(e) => Violated(format!("DiscoverResult invalid: {}", e.join("; "))),
        };
        self.rec("mcp/lifecycle/handshake", f, &[id]);
        let versions = super::discovery::strs(&res, "supportedVersions");
        let f = if versions.iter().any(|v| v == "2026-07-28") {
            Holds(format!("supportedVersions={versions:?}"))
        } else {
            Violated(format!(
                "server/discover answered but supportedVersions={versions:?} lacks 2026-07-28"
            ))
        };
        self.rec("mcp/lifecycle/version", f, &[id]);
        let na = NotApplicable(
            "2026-07-28 is stateless: no initialized notification or sessions".into(),
        );
        self.rec_all(
            &[
                "mcp/transport/notification-202",
                "mcp/transport/session-id-ascii",
                "mcp/transport/unknown-session-404",
            ],
            na,
        );
        self.server_capabilities = res.get("capabilities").cloned().unwrap_or(Value::Null);
        self.session = Some(Session {
            revision: "2026-07-28".into(),
            session_id: None,
        });
        true
    }

    fn handshake_failed(&mut self, r: &Resp) -> bool {
        if r.status == 401 {
            self.rec(
                "rs/token/valid-accepted",
                Violated("the token from the target's own AS was rejected with 401".into()),
                &[r.id],
            );
        }
        false
    }

    /// Everything a host does after authorization, with the new token, at the URL as entered.
    pub(super) async fn mcp_after_auth(&mut self) {
        let Some(token) = self.grant.as_ref().map(|g| g.access_token.clone()) else {
            return;
        };
        if !self.handshake(&token).await {
            return;
        }
        self.rec(
            "rs/token/valid-accepted",
            Holds("handshake succeeded with the new token".into()),
            &[],
        );
        let rev = self.revision();

        // Unknown session → 404.
        if self
            .session
            .as_ref()
            .is_some_and(|s| s.session_id.is_some())
            && self.on("mcp/transport/unknown-session-404")
        {
            let real = self.session.as_mut().and_then(|s| {
                s.session_id
                    .replace("conformance-unknown-session-0000".into())
            });
            let r = self
                .rpc(
                    "mcp: unknown session id",
                    Some(&token),
                    "tools/list",
                    json!({}),
                )
                .await;
            if let Some(s) = self.session.as_mut() {
                s.session_id = real;
            }
            if let Some(r) = r {
                let f = if r.resp.status == 404 {
                    Holds("404".into())
                } else {
                    Violated(format!(
                        "got {} for an unknown session id",
                        describe(&r.resp)
                    ))
                };
                self.rec("mcp/transport/unknown-session-404", f, &[r.resp.id]);
            }
        }

        // Unsupported protocol version header → 400.
        if rev.as_str() < "2025-06-18" {
            self.rec(
                "mcp/transport/protocol-version-400",
                NotApplicable("2025-03-26 has no MCP-Protocol-Version header".into()),
                &[],
            );
        } else if self.on("mcp/transport/protocol-version-400") {
            let url = self.mcp_url.to_string();
            let auth = format!("Bearer {token}");
            let (mut req, _) = self.rpc_req(
                "mcp: unsupported MCP-Protocol-Version",
                &url,
                Some(&auth),
                "tools/list",
                json!({}),
                false,
            );
            req.headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("mcp-protocol-version"));
            req = req.header("mcp-protocol-version", "1999-01-01");
            if let Ok(r) = self.http.send(req).await {
                let f = if r.status == 400 {
                    Holds("400".into())
                } else {
                    Violated(format!("got {}", describe(&r)))
                };
                self.rec("mcp/transport/protocol-version-400", f, &[r.id]);
            }
        }

        // GET → SSE or 405.
        if self.on("mcp/transport/get-sse-or-405") {
            let mut req = Req::get("mcp: GET the endpoint", self.mcp_url.as_str())
                .header("accept", "text/event-stream")
                .header("authorization", format!("Bearer {token}"));
            if rev.as_str() >= "2025-06-18" {
                req = req.header("mcp-protocol-version", rev.clone());
            }
            if let Some(s) = self.session.as_ref().and_then(|s| s.session_id.clone()) {
                req = req.header("mcp-session-id", s);
            }
            // An SSE stream may stay open: give it a short timeout and grade the headers.
            let sent =
                tokio::time::timeout(std::time::Duration::from_secs(3), self.http.send(req)).await;
            let f = match sent {
                Ok(Ok(r)) if r.status == 405 => (Holds("405".into()), vec![r.id]),
                Ok(Ok(r))
                    if r.status == 200 && r.content_type().starts_with("text/event-stream") =>
                {
                    (Holds("200 text/event-stream".into()), vec![r.id])
                }
                Ok(Ok(r)) => (Violated(format!("got {}", describe(&r))), vec![r.id]),
                Ok(Err(e)) if e.0.contains("timed out") => (
                    Holds("an event stream was opened and kept open".into()),
                    vec![],
                ),
                Ok(Err(e)) => (CouldNotRun(e.0), vec![]),
                Err(_) => (
                    Holds("an event stream was opened and kept open".into()),
                    vec![],
                ),
            };
            self.rec("mcp/transport/get-sse-or-405", f.0, &f.1);
        }

        // Foreign Origin (Host untouched) → 403.
        if self.on("mcp/transport/origin-403") {
            let url = self.mcp_url.to_string();
            let auth = format!("Bearer {token}");
            let (req, _) = self.rpc_req(
                "mcp: foreign Origin",
                &url,
                Some(&auth),
                "tools/list",
                json!({}),
                false,
            );
            if let Ok(r) = self
                .http
                .send(req.header("origin", "https://attacker.example"))
                .await
            {
                let f = match r.status {
                    403 => Holds("403".into()),
                    s if (400..500).contains(&s) && rev.as_str() < "2025-11-25" => Holds(format!(
                        "rejected with {s} (403 is required from 2025-11-25)"
                    )),
                    s if (200..300).contains(&s) => Violated(
                        "a request from https://attacker.example was served (DNS rebinding)".into(),
                    ),
                    s => Violated(format!("got {s}; expected 403")),
                };
                self.rec("mcp/transport/origin-403", f, &[r.id]);
            }
        }

        // ChatGPT's own Origin must not be caught by that check.
        if self.on("mcp/transport/origin-chatgpt-accepted") {
            if self.cfg.profile.name != "chatgpt" {
                self.rec(
                    "mcp/transport/origin-chatgpt-accepted",
                    NotApplicable(format!(
                        "profile {} does not connect from https://chatgpt.com",
                        self.cfg.profile.name
                    )),
                    &[],
                );
            } else {
                let url = self.mcp_url.to_string();
                let auth = format!("Bearer {token}");
                let (req, id) = self.rpc_req(
                    "mcp: Origin https://chatgpt.com",
                    &url,
                    Some(&auth),
                    "tools/list",
                    json!({}),
                    false,
                );
                if let Some(r) = self
                    .send_rpc(req.header("origin", "https://chatgpt.com"), &id)
                    .await
                {
                    let f = match r.resp.status {
                        s if (200..300).contains(&s) && r.result().is_some() => {
                            Holds(format!("served ({s})"))
                        }
                        403 => Violated(
                            "Origin https://chatgpt.com was refused with 403: ChatGPT's browser-side requests would fail; allow-list it".into(),
                        ),
                        _ => Violated(format!(
                            "with Origin https://chatgpt.com, tools/list got {}",
                            describe(&r.resp)
                        )),
                    };
                    self.rec("mcp/transport/origin-chatgpt-accepted", f, &[r.resp.id]);
                }
            }
        }

        // Unknown method → -32601.
        if let Some(r) = self
            .rpc(
                "mcp: unknown method",
                Some(&token),
                "conformance/no-such-method",
                json!({}),
            )
            .await
        {
            let f = match r.error_code() {
                Some(-32601) => Holds("-32601".into()),
                Some(c) => Violated(format!("error code {c}; expected -32601")),
                None => Violated(format!("no JSON-RPC error: {}", describe(&r.resp))),
            };
            self.rec("mcp/errors/method-not-found", f, &[r.resp.id]);
        }

        // tools/list
        match self
            .rpc("mcp: tools/list", Some(&token), "tools/list", json!({}))
            .await
        {
            Some(r) => match r.result().cloned() {
                Some(res) => {
                    let f = match schema::validate(&rev, "ListToolsResult", &res) {
                        Ok(()) => Holds(format!(
                            "{} tools, ListToolsResult valid under {rev}",
                            res["tools"].as_array().map_or(0, Vec::len)
                        )),
                        Err(e) => Violated(format!(
                            "ListToolsResult invalid under {rev}: {}",
                            e.join("; ")
                        )),
                    };
                    self.rec("mcp/tools/list", f, &[r.resp.id]);
                    self.tools = res
                        .get("tools")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                }
                None => self.rec(
                    "mcp/tools/list",
                    Violated(format!("tools/list failed: {}", describe(&r.resp))),
                    &[r.resp.id],
                ),
            },
            None => self.rec(
                "mcp/tools/list",
                CouldNotRun("MCP endpoint unreachable".into()),
                &[],
            ),
        }

        // tools/call
        self.call_tool(&token).await;
        self.search_fetch(&token).await;

        // resources
        if self.server_capabilities.get("resources").is_none() {
            let na = NotApplicable("the server does not declare the resources capability".into());
            self.rec_all(&["mcp/resources/list", "mcp/resources/read"], na);
        } else if let Some(r) = self
            .rpc(
                "mcp: resources/list",
                Some(&token),
                "resources/list",
                json!({}),
            )
            .await
        {
            match r.result().cloned() {
                Some(res) => {
                    let f = match schema::validate(&rev, "ListResourcesResult", &res) {
                        Ok(()) => Holds("ListResourcesResult valid".into()),
                        Err(e) => Violated(format!(
                            "ListResourcesResult invalid under {rev}: {}",
                            e.join("; ")
                        )),
                    };
                    self.rec("mcp/resources/list", f, &[r.resp.id]);
                    match res
                        .get("resources")
                        .and_then(Value::as_array)
                        .and_then(|a| a.first())
                        .and_then(|x| x.get("uri"))
                        .and_then(Value::as_str)
                    {
                        None => self.rec(
                            "mcp/resources/read",
                            NotApplicable("resources/list returned no resources".into()),
                            &[],
                        ),
                        Some(uri) => {
                            let uri = uri.to_string();
                            self.first_resource = Some(uri.clone());
                            if let Some(rr) = self
                                .rpc(
                                    "mcp: resources/read",
                                    Some(&token),
                                    "resources/read",
                                    json!({"uri": uri}),
                                )
                                .await
                            {
                                let f = match rr.result() {
                                    Some(res) => {
                                        match schema::validate(&rev, "ReadResourceResult", res) {
                                            Ok(()) => Holds(format!("read {uri}")),
                                            Err(e) => Violated(format!(
                                                "ReadResourceResult invalid under {rev}: {}",
                                                e.join("; ")
                                            )),
                                        }
                                    }
                                    None => Violated(format!(
                                        "resources/read {uri} failed: {}",
                                        describe(&rr.resp)
                                    )),
                                };
                                self.rec("mcp/resources/read", f, &[rr.resp.id]);
                            }
                        }
                    }
                }
                None => {
                    self.rec(
                        "mcp/resources/list",
                        Violated(format!("resources/list failed: {}", describe(&r.resp))),
                        &[r.resp.id],
                    );
                    self.rec(
                        "mcp/resources/read",
                        CouldNotRun("resources/list failed".into()),
                        &[],
                    );
                }
            }
        }

        // JSON-RPC batches (accepted in 2025-03-26, removed since).
        self.batch_checks(&token).await;

        // 2026-07-28 transport rules (when the target speaks it).
        self.modern_checks(&token).await;
    }

    /// `Mcp-Param-*` headers a conforming client sends with this 2026-07-28 `tools/call`: one per
    /// valid `x-mcp-header` annotation of the tool whose argument has a value.
    fn param_headers_for(&self, params: &Value) -> Vec<(String, String)> {
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
        let Ok(headers) = super::modern::param_headers(tool) else {
            return vec![];
        };
        headers
            .iter()
            .filter_map(|h| {
                let v = h.value_in(args)?;
                Some((
                    format!("mcp-param-{}", h.name),
                    super::modern::encode_param(&v),
                ))
            })
            .collect()
    }

    /// The tool to call: `--call-tool`, else the first tool marked `readOnlyHint: true`.
    pub(super) fn chosen_tool(&self) -> Option<(String, Value)> {
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

    async fn call_tool(&mut self, token: &str) {
        let rev = self.revision();
        let Some((name, args)) = self.chosen_tool() else {
            self.rec("mcp/tools/call", NotApplicable("no tool is marked readOnlyHint and no --call-tool was given (nothing is called without consent)".into()), &[]);
            return;
        };
        let Some(r) = self
            .rpc(
                &format!("mcp: tools/call {name}"),
                Some(token),
                "tools/call",
                json!({"name": name, "arguments": args}),
            )
            .await
        else {
            return;
        };
        let f = match (r.result(), r.resp.status) {
            (Some(res), _) => match schema::validate(&rev, "CallToolResult", res) {
                Ok(()) => Holds(format!(
                    "{name}: CallToolResult valid{}",
                    if res["isError"] == json!(true) {
                        " (isError: true)"
                    } else {
                        ""
                    }
                )),
                Err(e) => Violated(format!(
                    "{name}: CallToolResult invalid under {rev}: {}",
                    e.join("; ")
                )),
            },
            (None, 401) => Violated(format!("{name}: 401 with the token just issued")),
            (None, _) => Violated(format!(
                "{name}: {} {}",
                describe(&r.resp),
                r.message
                    .as_ref()
                    .and_then(|m| m.get("error"))
                    .map(|e| e.to_string())
                    .unwrap_or_default()
            )),
        };
        self.rec("mcp/tools/call", f, &[r.resp.id]);
    }

    async fn search_fetch(&mut self, token: &str) {
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

/// Minimal arguments satisfying a tool's required properties.
pub fn synthesize_args(tool: &Value) -> Value {
    let mut args = serde_json::Map::new();
    let props = tool
        .pointer("/inputSchema/properties")
        .cloned()
        .unwrap_or(json!({}));
    for req in tool
        .pointer("/inputSchema/required")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let Some(name) = req.as_str() else { continue };
        let p = &props[name];
        let v = if let Some(d) = p.get("default") {
            d.clone()
        } else if let Some(e) = p
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
        {
            e.clone()
        } else {
            match p["type"].as_str() {
                Some("integer") | Some("number") => json!(1),
                Some("boolean") => json!(false),
                Some("array") => json!([]),
                Some("object") => json!({}),
                _ => json!("conformance"),
            }
        };
        args.insert(name.to_string(), v);
    }
    Value::Object(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_synthesis() {
        let t = json!({"name":"x","inputSchema":{"type":"object","properties":{"query":{"type":"string"},"limit":{"type":"integer"},"state":{"type":"string","enum":["open","closed"]},"opt":{"type":"string"}},"required":["query","limit","state"]}});
        assert_eq!(
            synthesize_args(&t),
            json!({"query":"conformance","limit":1,"state":"open"})
        );
        assert_eq!(synthesize_args(&json!({"name":"y"})), json!({}));
    }
}
