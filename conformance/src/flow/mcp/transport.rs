//! Streamable HTTP rules with the authorized token (MCP transports §Streamable HTTP): unknown
//! sessions, the protocol version header, GET, Origin, and unknown methods.

use crate::flow::common::{Run, describe};
use crate::http::Req;
use crate::model::Finding::*;
use serde_json::json;

impl Run {
    /// The transport checks, in the order a host would meet them.
    pub(crate) async fn transport_checks(&mut self, token: &str) {
        self.unknown_session_404(token).await;
        self.protocol_version_400(token).await;
        self.get_sse_or_405(token).await;
        self.origin_403(token).await;
        self.origin_chatgpt_accepted(token).await;
        self.method_not_found(token).await;
    }

    /// `mcp/transport/unknown-session-404`.
    async fn unknown_session_404(&mut self, token: &str) {
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
                    Some(token),
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
    }

    /// `mcp/transport/protocol-version-400`.
    async fn protocol_version_400(&mut self, token: &str) {
        let rev = self.revision();
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
    }

    /// `mcp/transport/get-sse-or-405`.
    async fn get_sse_or_405(&mut self, token: &str) {
        let rev = self.revision();
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
    }

    /// `mcp/transport/origin-403`: a foreign Origin (Host untouched) is refused.
    async fn origin_403(&mut self, token: &str) {
        let rev = self.revision();
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
    }

    /// `mcp/transport/origin-chatgpt-accepted`: ChatGPT's own Origin is not caught by that check.
    async fn origin_chatgpt_accepted(&mut self, token: &str) {
        if self.on("mcp/transport/origin-chatgpt-accepted") {
            if self.cfg.profile.origin != Some("https://chatgpt.com") {
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
    }

    /// `mcp/errors/method-not-found`: an unknown method → -32601.
    async fn method_not_found(&mut self, token: &str) {
        if let Some(r) = self
            .rpc(
                "mcp: unknown method",
                Some(token),
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
    }
}
