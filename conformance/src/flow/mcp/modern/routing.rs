//! 2026-07-28 routing headers (streamable-http §Routing Headers, §Value Encoding): `Mcp-Method`
//! and `Mcp-Name` must match the body; a Base64-sentinel `Mcp-Name` is decoded first.

use crate::flow::common::headers::{encode_sentinel, set_header};
use crate::flow::common::json::{expect_error, rpc_error};
use crate::flow::common::{Run, describe};
use crate::model::Finding::*;
use serde_json::{Value, json};

impl Run {
    /// `mcp/modern/method-header`: `Mcp-Method` missing or mismatched → 400 / -32020.
    pub(crate) async fn method_header(&mut self, auth: &str) {
        self.header_must_match(
            "mcp/modern/method-header",
            auth,
            "mcp-method",
            "tools/list",
            json!({}),
            "resources/list",
        )
        .await;
    }

    /// `mcp/modern/name-header`: `Mcp-Name` missing or mismatched on `tools/call`.
    pub(crate) async fn name_header(&mut self, auth: &str) {
        let tool = self.chosen_tool();
        match &tool {
            None => self.rec(
                "mcp/modern/name-header",
                NotApplicable("no tool is marked readOnlyHint and no --call-tool was given".into()),
                &[],
            ),
            Some((name, args)) => {
                self.header_must_match(
                    "mcp/modern/name-header",
                    auth,
                    "mcp-name",
                    "tools/call",
                    json!({"name": name, "arguments": args}),
                    "conformance-other-tool",
                )
                .await;
            }
        }
    }

    /// `mcp/modern/name-header-resource`: `Mcp-Name` missing or mismatched on `resources/read`.
    pub(crate) async fn name_header_resource(&mut self, auth: &str) {
        match self.first_resource.clone() {
            None => self.rec(
                "mcp/modern/name-header-resource",
                NotApplicable("the target listed no resource to read".into()),
                &[],
            ),
            Some(uri) => {
                self.header_must_match(
                    "mcp/modern/name-header-resource",
                    auth,
                    "mcp-name",
                    "resources/read",
                    json!({"uri": uri}),
                    "conformance://other-resource",
                )
                .await;
            }
        }
    }

    /// `mcp/modern/name-header-base64`: an `Mcp-Name` in the Base64 sentinel form is decoded,
    /// then served.
    pub(crate) async fn name_header_base64(&mut self, auth: &str) {
        let url = self.mcp_url.to_string();
        let tool = self.chosen_tool();
        match &tool {
            None => self.rec(
                "mcp/modern/name-header-base64",
                NotApplicable("no tool is marked readOnlyHint and no --call-tool was given".into()),
                &[],
            ),
            Some((name, args)) => {
                let (mut req, id) = self.rpc_req(
                    "mcp: 2026-07-28 tools/call with a Base64-encoded Mcp-Name",
                    &url,
                    Some(auth),
                    "tools/call",
                    json!({"name": name, "arguments": args}),
                    false,
                );
                let encoded = encode_sentinel(name);
                set_header(&mut req, "mcp-name", Some(&encoded));
                if let Some(r) = self.send_rpc(req, &id).await {
                    let f = if r.result().is_some() {
                        Holds(format!("Mcp-Name: {encoded} decoded to {name} and served"))
                    } else {
                        let code =
                            rpc_error(&r.resp).and_then(|e| e.get("code").and_then(Value::as_i64));
                        Violated(format!(
                            "tools/call {name} with Mcp-Name: {encoded} got {}{}; the \
                             server must decode the =?base64?…?= form before comparing",
                            describe(&r.resp),
                            if code == Some(-32020) {
                                " with -32020 (the encoded value was compared as is)"
                            } else {
                                ""
                            }
                        ))
                    };
                    self.rec("mcp/modern/name-header-base64", f, &[r.resp.id]);
                }
            }
        }
    }

    /// Sends `method` twice, once without the `header` and once with it set to `wrong`; both
    /// must get 400 with JSON-RPC -32020. The first violation decides; evidence is every probe.
    pub(crate) async fn header_must_match(
        &mut self,
        check: &'static str,
        auth: &str,
        header: &str,
        method: &str,
        params: Value,
        wrong: &str,
    ) {
        let url = self.mcp_url.to_string();
        let mut ev = vec![];
        let mut f = None;
        for value in [None, Some(wrong)] {
            let step = match value {
                None => format!("mcp: 2026-07-28 {method} without {header}"),
                Some(v) => format!("mcp: 2026-07-28 {method} with {header}: {v}"),
            };
            let (mut req, _) = self.rpc_req(&step, &url, Some(auth), method, params.clone(), false);
            set_header(&mut req, header, value);
            let what = match value {
                None => format!("{method} without {header}"),
                Some(v) => format!("{method} with {header}: {v}"),
            };
            if let Ok(r) = self.http.send(req).await {
                ev.push(r.id);
                let g = expect_error(&r, 400, -32020, &what);
                let violated = matches!(g, Violated(_));
                if f.is_none() || violated {
                    f = Some(g);
                }
                if violated {
                    break;
                }
            }
        }
        let f = match f {
            Some(Holds(_)) if ev.len() == 2 => Holds(format!(
                "{method} without {header} and with {header}: {wrong}: 400 with -32020 both times"
            )),
            Some(f) => f,
            None => return,
        };
        self.rec(check, f, &ev);
    }
}
