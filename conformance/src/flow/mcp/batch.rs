//! JSON-RPC batches: 2025-03-26 servers must receive them; from 2025-06-18 they were removed (a
//! client MUST NOT send one, a server MAY reject one: graded SHOULD); `initialize` never belongs
//! in a batch.

use crate::flow::common::sse::all_messages;
use crate::flow::common::{Run, describe};
use crate::http::Body;
use crate::model::Finding::*;
use serde_json::{Value, json};

const IDS: [&str; 3] = [
    "mcp/batch/accepted-2025-03-26",
    "mcp/batch/rejected",
    "mcp/batch/initialize-rejected",
];

fn response_for<'a>(msgs: &'a [Value], id: &Value) -> Option<&'a Value> {
    msgs.iter().find(|m| m.get("id") == Some(id))
}

impl Run {
    /// Two requests (built like ordinary ones, so headers and `_meta` match the session) and
    /// their ids.
    fn batch_body(&mut self, token: &str, first: (&str, Value)) -> (crate::http::Req, Vec<Value>) {
        let url = self.mcp_url.to_string();
        let auth = format!("Bearer {token}");
        let (mut req, _) = self.rpc_req(
            "mcp: batch",
            &url,
            Some(&auth),
            "tools/list",
            json!({}),
            false,
        );
        let mut items = Vec::new();
        let mut ids = Vec::new();
        for (method, params) in [first, ("tools/list", json!({}))] {
            let (r, id) = self.rpc_req("", &url, None, method, params, false);
            if let Body::Json(b) = r.body {
                items.push(b);
            }
            ids.push(id);
        }
        req.body = Body::Json(Value::Array(items));
        (req, ids)
    }

    pub(crate) async fn batch_checks(&mut self, token: &str) {
        if !self.any_on(&IDS) {
            return;
        }
        let rev = self.revision();
        let legacy = rev.as_str() < "2025-06-18";

        // 2025-03-26: a batch of two requests is answered; later: rejected with 4xx.
        if legacy {
            self.rec(
                "mcp/batch/rejected",
                NotApplicable(
                    "the session negotiated 2025-03-26, where batches are allowed".into(),
                ),
                &[],
            );
        } else {
            self.rec(
                "mcp/batch/accepted-2025-03-26",
                NotApplicable(format!(
                    "the session negotiated {rev}, which removed batching"
                )),
                &[],
            );
        }
        if self.any_on(&IDS[..2]) {
            let mut ping = ("tools/list", json!({}));
            if legacy {
                ping = ("ping", Value::Null);
            }
            let (mut req, ids) = self.batch_body(token, ping);
            req.step = "mcp: batch of two requests".into();
            if let Ok(r) = self.http.send(req).await {
                if legacy {
                    let msgs = all_messages(&r);
                    let missing: Vec<String> = ids
                        .iter()
                        .filter(|id| {
                            response_for(&msgs, id).is_none_or(|m| m.get("result").is_none())
                        })
                        .map(|id| id.to_string())
                        .collect();
                    let f = if r.status == 200 && missing.is_empty() {
                        Holds(format!("200 with results for ids {ids:?}"))
                    } else if r.status == 200 {
                        Violated(format!(
                            "200, but no result for request id(s) {}",
                            missing.join(", ")
                        ))
                    } else {
                        Violated(format!(
                            "a batch of two requests got {}; 2025-03-26 servers must receive batches",
                            describe(&r)
                        ))
                    };
                    self.rec("mcp/batch/accepted-2025-03-26", f, &[r.id]);
                } else {
                    let f = match r.status {
                        400..=499 => Holds(format!("rejected with {}", r.status)),
                        s if (200..300).contains(&s) => Violated(format!(
                            "a JSON array was served ({s}); batching was removed in 2025-06-18 and should be rejected with 400"
                        )),
                        _ => Violated(format!("got {}; expected a 4xx", describe(&r))),
                    };
                    self.rec("mcp/batch/rejected", f, &[r.id]);
                }
            }
        }

        // initialize inside a batch.
        if self.on("mcp/batch/initialize-rejected") {
            if rev == "2026-07-28" {
                self.rec(
                    "mcp/batch/initialize-rejected",
                    NotApplicable("2026-07-28 has no initialize".into()),
                    &[],
                );
                return;
            }
            let p = self.cfg.profile;
            let (mut req, ids) = self.batch_body(
                token,
                (
                "initialize",
                json!({"protocolVersion": rev, "capabilities": p.capabilities(), "clientInfo": p.client_info()}),
                ),
            );
            req.step = "mcp: initialize inside a batch".into();
            if let Ok(r) = self.http.send(req).await {
                let msgs = all_messages(&r);
                let init = response_for(&msgs, &ids[0]);
                let f = match r.status {
                    400..=499 => Holds(format!("the batch was rejected with {}", r.status)),
                    200 if init.is_some_and(|m| m.get("error").is_some()) => {
                        Holds("initialize answered with a JSON-RPC error".into())
                    }
                    200 if init.is_some_and(|m| m.get("result").is_some()) => Violated(
                        "initialize inside a batch was answered with a result (clients MUST NOT batch it; the server should refuse)".into(),
                    ),
                    200 => Holds("initialize inside the batch was not answered".into()),
                    _ => Violated(format!("got {}", describe(&r))),
                };
                self.rec("mcp/batch/initialize-rejected", f, &[r.id]);
            }
        }
    }
}
