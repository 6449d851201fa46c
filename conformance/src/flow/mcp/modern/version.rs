//! 2026-07-28 version and method errors (streamable-http §Protocol Version, §Errors): header ≠
//! `_meta` version, an unsupported version, an unknown method, GET.

use super::control::MODERN;
use crate::flow::common::headers::set_header;
use crate::flow::common::json::{expect_error, rpc_error};
use crate::flow::common::{Run, describe};
use crate::http::{Body, Req};
use crate::model::Finding::*;
use serde_json::{Value, json};

impl Run {
    /// `mcp/modern/version-header-mismatch`: MCP-Protocol-Version ≠ `_meta` → 400 / -32020.
    pub(crate) async fn version_header_mismatch(&mut self, auth: &str) {
        let url = self.mcp_url.to_string();
        let (mut req, _) = self.rpc_req(
            "mcp: 2026-07-28 header ≠ _meta version",
            &url,
            Some(auth),
            "tools/list",
            json!({}),
            false,
        );
        set_header(&mut req, "mcp-protocol-version", Some("2025-11-25"));
        if let Ok(r) = self.http.send(req).await {
            let f = expect_error(&r, 400, -32020, "header 2025-11-25, _meta 2026-07-28");
            self.rec("mcp/modern/version-header-mismatch", f, &[r.id]);
        }
    }

    /// `mcp/modern/unsupported-version`: header and `_meta` agree on an unsupported version →
    /// 400 / -32022 with `data.supported`.
    pub(crate) async fn unsupported_version(&mut self, auth: &str) {
        let url = self.mcp_url.to_string();
        let (mut req, _) = self.rpc_req(
            "mcp: 2026-07-28 unsupported version",
            &url,
            Some(auth),
            "tools/list",
            json!({}),
            false,
        );
        set_header(&mut req, "mcp-protocol-version", Some("1999-01-01"));
        if let Body::Json(b) = &mut req.body {
            b["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("1999-01-01");
        }
        if let Ok(r) = self.http.send(req).await {
            let f = match expect_error(&r, 400, -32022, "version 1999-01-01") {
                Holds(d) => {
                    let supported = rpc_error(&r)
                        .and_then(|e| e.pointer("/data/supported").cloned())
                        .unwrap_or(Value::Null);
                    match supported.as_array() {
                        Some(a) if !a.is_empty() && a.iter().all(Value::is_string) => {
                            Holds(format!("{d}, data.supported={supported}"))
                        }
                        _ => Violated(format!(
                            "{d}, but `data.supported` is {supported}; expected a non-empty array of versions"
                        )),
                    }
                }
                f => f,
            };
            self.rec("mcp/modern/unsupported-version", f, &[r.id]);
        }
    }

    /// `mcp/modern/unknown-method`: HTTP 404 with -32601.
    pub(crate) async fn modern_unknown_method(&mut self, auth: &str) {
        let url = self.mcp_url.to_string();
        let (req, id) = self.rpc_req(
            "mcp: 2026-07-28 unknown method",
            &url,
            Some(auth),
            "conformance/no-such-method",
            json!({}),
            false,
        );
        if let Some(r) = self.send_rpc(req, &id).await {
            let f = expect_error(&r.resp, 404, -32601, "conformance/no-such-method");
            self.rec("mcp/modern/unknown-method", f, &[r.resp.id]);
        }
    }

    /// `mcp/modern/get-405`: a 2026-07-28 server has no GET stream.
    pub(crate) async fn modern_get_405(&mut self, auth: &str) {
        let url = self.mcp_url.to_string();
        let req = Req::get("mcp: 2026-07-28 GET the endpoint", url.as_str())
            .header("accept", "text/event-stream")
            .header("authorization", auth)
            .header("mcp-protocol-version", MODERN);
        let sent =
            tokio::time::timeout(std::time::Duration::from_secs(3), self.http.send(req)).await;
        let (f, ev) = match sent {
            Ok(Ok(r)) if r.status == 405 => (Holds("405".into()), vec![r.id]),
            Ok(Ok(r)) => (
                Violated(format!(
                    "got {}; a 2026-07-28 server has no GET stream and answers 405",
                    describe(&r)
                )),
                vec![r.id],
            ),
            Ok(Err(e)) if !e.0.contains("timed out") => (CouldNotRun(e.0), vec![]),
            _ => (
                Violated("GET opened an event stream; 2026-07-28 expects 405".into()),
                vec![],
            ),
        };
        self.rec("mcp/modern/get-405", f, &ev);
    }
}
