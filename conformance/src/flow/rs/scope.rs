//! Insufficient scope (RFC 6750 §3.1; MCP authorization §Scope Challenge): a token for the
//! first advertised scope alone, then the chosen tool: 403 with `insufficient_scope`.

use crate::flow::common::{Rpc, Run, describe};
use crate::model::Finding::*;
use serde_json::{Value, json};

const IDS: [&str; 2] = ["rs/scope/insufficient-403", "rs/scope/insufficient-error"];

impl Run {
    /// `rs/scope/insufficient-403` and `rs/scope/insufficient-error`.
    pub(crate) async fn rs_insufficient_scope(&mut self) {
        let ids = IDS;
        let scopes: Vec<String> = self
            .scope_param()
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        let tool = self.chosen_tool();
        if scopes.len() < 2 {
            self.rec_all(
                &ids,
                NotApplicable(format!(
                    "only {} scope(s) advertised: no narrower token to try",
                    scopes.len()
                )),
            );
            return;
        }
        let Some((name, args)) = tool else {
            self.rec_all(&ids, NotApplicable("no tool to call".into()));
            return;
        };
        let resource = self.resource_param();
        match self
            .obtain(
                "authorize: narrow scope",
                Some(resource),
                Some(scopes[0].clone()),
                None,
            )
            .await
        {
            Ok(g) => {
                if let Some(r) = self.narrow_call(&g.access_token, &name, args).await {
                    self.grade_narrow_call(&r, &name, &scopes[0]);
                }
            }
            Err(e) => self.rec_all(&ids, CouldNotRun(e)),
        }
    }

    /// Calls `name` with the narrow token (after a handshake of its own on a stateful revision).
    async fn narrow_call(&mut self, token: &str, name: &str, args: Value) -> Option<Rpc> {
        let url = self.mcp_url.to_string();
        // The handshake may itself need the narrow scope only.
        let saved = self.session.clone();
        if let Some(s) = self.session.as_mut() {
            s.session_id = None;
        }
        let mut new_sid = None;
        if self.revision_is_stateful() {
            let (req, id) = self.handshake_req(
                "rs: narrow-scope handshake",
                &url,
                Some(&format!("Bearer {token}")),
            );
            if let Some(r) = self.send_rpc(req, &id).await {
                new_sid = r.resp.header("mcp-session-id").map(str::to_string);
            }
        }
        if let Some(s) = self.session.as_mut() {
            s.session_id = new_sid;
        }
        let r = self
            .rpc(
                "rs: tools/call with a narrow token",
                Some(token),
                "tools/call",
                json!({"name": name, "arguments": args}),
            )
            .await;
        self.session = saved;
        r
    }

    /// Grades the narrow call's response.
    fn grade_narrow_call(&mut self, r: &Rpc, name: &str, scope: &str) {
        let ids = IDS;
        let ev = [r.resp.id];
        let p = crate::wwwauth::parse_all(r.resp.headers_all("www-authenticate"));
        let b = p.bearer();
        match r.resp.status {
            403 => {
                self.rec("rs/scope/insufficient-403", Holds("403".into()), &ev);
                let f = match (
                    b.and_then(|b| b.param("error")),
                    b.and_then(|b| b.param("scope")),
                ) {
                    (Some("insufficient_scope"), Some(s)) if !s.is_empty() => {
                        Holds(format!("insufficient_scope, scope={s:?}"))
                    }
                    (e, s) => Violated(format!("403 challenge error={e:?} scope={s:?}")),
                };
                self.rec("rs/scope/insufficient-error", f, &ev);
            }
            s if (200..300).contains(&s) => {
                let na = NotApplicable(format!(
                    "{name} works with scope {:?} alone: no operation needing more was found",
                    scope
                ));
                self.rec_all(&ids, na);
            }
            s => {
                self.rec(
                    "rs/scope/insufficient-403",
                    Violated(format!(
                        "a valid token lacking scope got {}; expected 403",
                        describe(&r.resp)
                    )),
                    &ev,
                );
                self.rec(
                    "rs/scope/insufficient-error",
                    CouldNotRun(format!("no 403 (got {s})")),
                    &ev,
                );
            }
        }
    }

    fn revision_is_stateful(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| s.revision != "2026-07-28")
    }
}
