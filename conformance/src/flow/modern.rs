//! 2026-07-28 (stateless) transport rules: header/`_meta` consistency, version errors, the
//! `Mcp-Method`/`Mcp-Name` routing headers, 404 for unknown methods, GET → 405 and `resultType`.
//!
//! Applicable when the target speaks 2026-07-28, i.e. `server/discover` succeeded (probed here
//! if the profile did not probe it). Each probe mutates exactly one thing of a request that a
//! control probe showed to be accepted, so a rejection is attributable to that one thing.

use super::{Run, Session, describe};
use crate::http::{Body, Req, Resp};
use crate::model::Finding::{self, *};
use serde_json::{Value, json};

pub const MODERN: &str = "2026-07-28";

const IDS: [&str; 7] = [
    "mcp/modern/version-header-mismatch",
    "mcp/modern/unsupported-version",
    "mcp/modern/unknown-method",
    "mcp/modern/method-header",
    "mcp/modern/name-header",
    "mcp/modern/get-405",
    "mcp/modern/result-type",
];

/// The JSON-RPC error object of a response body, if any.
fn rpc_error(r: &Resp) -> Option<Value> {
    r.json()?.get("error").filter(|e| e.is_object()).cloned()
}

/// HTTP `status` with JSON-RPC `code` in the body.
fn expect_error(r: &Resp, status: u16, code: i64, what: &str) -> Finding {
    let got = rpc_error(r).and_then(|e| e.get("code").and_then(Value::as_i64));
    if r.status == status && got == Some(code) {
        return Holds(format!("{what}: {status} with {code}"));
    }
    Violated(format!(
        "{what}: got {}{}; expected HTTP {status} with JSON-RPC {code}{}",
        describe(r),
        got.map(|c| format!(" with JSON-RPC {c}"))
            .unwrap_or_else(|| " without a JSON-RPC error code".into()),
        if (200..300).contains(&r.status) {
            " (the request was served)"
        } else {
            ""
        }
    ))
}

fn set_header(req: &mut Req, name: &str, value: Option<&str>) {
    req.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    if let Some(v) = value {
        req.headers.push((name.to_string(), v.to_string()));
    }
}

impl Run {
    /// Runs the 2026-07-28 transport checks with `token` (after the main handshake).
    pub(super) async fn modern_checks(&mut self, token: &str) {
        if !self.any_on(&IDS) {
            return;
        }
        if let Some(s) = self.cfg.spec.clone()
            && s != MODERN
        {
            self.rec_all(
                &IDS,
                NotApplicable(format!(
                    "--spec {s}: the 2026-07-28 transport rules do not apply"
                )),
            );
            return;
        }
        let saved = self.session.replace(Session {
            revision: MODERN.into(),
            session_id: None,
        });
        self.modern_inner(token).await;
        self.session = saved;
    }

    async fn modern_inner(&mut self, token: &str) {
        let url = self.mcp_url.to_string();
        let auth = format!("Bearer {token}");
        if self.discover.is_none() {
            let r = self
                .rpc(
                    "mcp: server/discover probe (2026-07-28 checks)",
                    Some(token),
                    "server/discover",
                    json!({}),
                )
                .await;
            self.discover = Some(match r {
                Some(r) => match r.result() {
                    Some(res) => Ok(res.clone()),
                    None => Err(format!("server/discover got {}", describe(&r.resp))),
                },
                None => Err("server/discover: MCP endpoint unreachable".into()),
            });
        }
        if let Some(Err(why)) = self.discover.clone() {
            self.rec_all(
                &IDS,
                NotApplicable(format!("the target does not speak 2026-07-28 ({why})")),
            );
            return;
        }

        // Control: a well-formed 2026-07-28 tools/list must be served.
        let (control, id) = self.rpc_req(
            "mcp: 2026-07-28 control tools/list",
            &url,
            Some(&auth),
            "tools/list",
            json!({}),
            false,
        );
        match self.send_rpc(control.clone(), &id).await {
            Some(r) if r.result().is_some() => {}
            Some(r) => {
                let why = format!(
                    "a well-formed 2026-07-28 tools/list got {}",
                    describe(&r.resp)
                );
                for id in &IDS[..5] {
                    self.rec(id, CouldNotRun(why.clone()), &[r.resp.id]);
                }
                return;
            }
            None => {
                self.rec_all(&IDS[..5], CouldNotRun("MCP endpoint unreachable".into()));
                return;
            }
        }

        // MCP-Protocol-Version ≠ _meta protocolVersion → 400 / -32020.
        if self.on("mcp/modern/version-header-mismatch") {
            let (mut req, _) = self.rpc_req(
                "mcp: 2026-07-28 header ≠ _meta version",
                &url,
                Some(&auth),
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

        // Unsupported version (header and _meta agree) → 400 / -32022 with data.supported.
        if self.on("mcp/modern/unsupported-version") {
            let (mut req, _) = self.rpc_req(
                "mcp: 2026-07-28 unsupported version",
                &url,
                Some(&auth),
                "tools/list",
                json!({}),
                false,
            );
            set_header(&mut req, "mcp-protocol-version", Some("1999-01-01"));
            if let Body::Json(b) = &mut req.body {
                b["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] =
                    json!("1999-01-01");
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

        // Unknown method → HTTP 404 with -32601.
        if self.on("mcp/modern/unknown-method") {
            let (req, id) = self.rpc_req(
                "mcp: 2026-07-28 unknown method",
                &url,
                Some(&auth),
                "conformance/no-such-method",
                json!({}),
                false,
            );
            if let Some(r) = self.send_rpc(req, &id).await {
                let f = expect_error(&r.resp, 404, -32601, "conformance/no-such-method");
                self.rec("mcp/modern/unknown-method", f, &[r.resp.id]);
            }
        }

        // Mcp-Method missing / mismatched → 400 / -32020.
        if self.on("mcp/modern/method-header") {
            let mut ev = vec![];
            let mut f = None;
            for (step, value) in [
                ("mcp: 2026-07-28 without Mcp-Method", None),
                (
                    "mcp: 2026-07-28 mismatched Mcp-Method",
                    Some("resources/list"),
                ),
            ] {
                let (mut req, _) =
                    self.rpc_req(step, &url, Some(&auth), "tools/list", json!({}), false);
                set_header(&mut req, "mcp-method", value);
                let what = match value {
                    None => "no Mcp-Method".to_string(),
                    Some(v) => format!("Mcp-Method: {v} for tools/list"),
                };
                if let Ok(r) = self.http.send(req).await {
                    ev.push(r.id);
                    let g = expect_error(&r, 400, -32020, &what);
                    if f.is_none() || matches!(g, Violated(_)) {
                        f = Some(g);
                    }
                    if matches!(f, Some(Violated(_))) {
                        break;
                    }
                }
            }
            if let Some(f) = f {
                self.rec("mcp/modern/method-header", f, &ev);
            }
        }

        // Mcp-Name missing / mismatched on tools/call → 400 / -32020.
        if self.on("mcp/modern/name-header") {
            match self.chosen_tool() {
                None => self.rec(
                    "mcp/modern/name-header",
                    NotApplicable(
                        "no tool is marked readOnlyHint and no --call-tool was given".into(),
                    ),
                    &[],
                ),
                Some((name, args)) => {
                    let mut ev = vec![];
                    let mut f = None;
                    for (step, value) in [
                        ("mcp: 2026-07-28 tools/call without Mcp-Name", None),
                        (
                            "mcp: 2026-07-28 tools/call mismatched Mcp-Name",
                            Some("conformance-other-tool"),
                        ),
                    ] {
                        let (mut req, _) = self.rpc_req(
                            step,
                            &url,
                            Some(&auth),
                            "tools/call",
                            json!({"name": name, "arguments": args}),
                            false,
                        );
                        set_header(&mut req, "mcp-name", value);
                        let what = match value {
                            None => format!("tools/call {name} without Mcp-Name"),
                            Some(v) => format!("tools/call {name} with Mcp-Name: {v}"),
                        };
                        if let Ok(r) = self.http.send(req).await {
                            ev.push(r.id);
                            let g = expect_error(&r, 400, -32020, &what);
                            if f.is_none() || matches!(g, Violated(_)) {
                                f = Some(g);
                            }
                            if matches!(f, Some(Violated(_))) {
                                break;
                            }
                        }
                    }
                    if let Some(f) = f {
                        self.rec("mcp/modern/name-header", f, &ev);
                    }
                }
            }
        }

        // GET → 405.
        if self.on("mcp/modern/get-405") {
            let req = Req::get("mcp: 2026-07-28 GET the endpoint", url.as_str())
                .header("accept", "text/event-stream")
                .header("authorization", auth.clone())
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
}
