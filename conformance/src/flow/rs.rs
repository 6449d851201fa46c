//! Resource-server negative matrix with real tokens from the target's own AS.
//! Status codes are graded here; error codes and challenges are graded apart in `rs/errors/*`.

use super::{Run, describe};
use crate::model::Finding::{self, *};
use serde_json::json;

fn expect_401(status: Option<u16>, what: &str) -> Finding {
    match status {
        Some(401) => Holds("401".into()),
        Some(s) if (200..300).contains(&s) => Violated(format!("{what} was accepted ({s})")),
        Some(s) => Violated(format!("{what} got {s}; expected 401")),
        None => CouldNotRun("MCP endpoint unreachable".into()),
    }
}

impl Run {
    pub(super) async fn rs_matrix(&mut self) {
        let Some(token) = self.grant.as_ref().map(|g| g.access_token.clone()) else {
            return;
        };
        let url = self.mcp_url.to_string();

        if self.on("rs/token/garbage") {
            let (s, ev) = self
                .probe_auth(
                    "rs: garbage token",
                    &url,
                    Some("Bearer conformance-garbage-token-0123456789"),
                    true,
                )
                .await;
            self.rec("rs/token/garbage", expect_401(s, "a garbage token"), &ev);
        }
        if self.on("rs/token/scheme-case-insensitive") {
            let (s, ev) = self
                .probe_auth(
                    "rs: lower-case scheme",
                    &url,
                    Some(&format!("bearer {token}")),
                    true,
                )
                .await;
            let f = match s {
                Some(s) if (200..300).contains(&s) => Holds(format!("`bearer` accepted ({s})")),
                Some(s) => Violated(format!(
                    "`bearer <valid token>` got {s}: auth schemes are case-insensitive"
                )),
                None => CouldNotRun("MCP endpoint unreachable".into()),
            };
            self.rec("rs/token/scheme-case-insensitive", f, &ev);
        }
        if self.on("rs/token/query-string") {
            let mut u = self.mcp_url.clone();
            u.query_pairs_mut().append_pair("access_token", &token);
            let (s, ev) = self
                .probe_auth("rs: token in query string", u.as_str(), None, false)
                .await;
            let f = match s {
                Some(s) if (200..300).contains(&s) => {
                    Violated("a token in the query string authenticated the request".into())
                }
                Some(s) if (400..500).contains(&s) => Holds(format!("not accepted ({s})")),
                Some(s) => Violated(format!("got {s}")),
                None => CouldNotRun("MCP endpoint unreachable".into()),
            };
            self.rec("rs/token/query-string", f, &ev);
        }

        // Cross-audience: a token for the second workspace, or one the AS minted for a foreign URI.
        if self.on("rs/audience/cross-workspace")
            && self.cfg.access_token.is_none()
            && let Some(second) = self.cfg.second_resource.clone()
        {
            match self
                .obtain(
                    "authorize: token for the second resource",
                    Some(second.clone()),
                    self.scope_param(),
                    None,
                )
                .await
            {
                Ok(g) => {
                    let (own, _) = self
                        .probe_auth(
                            "rs: second token at its own resource",
                            &second,
                            Some(&format!("Bearer {}", g.access_token)),
                            true,
                        )
                        .await;
                    let (s, ev) = self
                        .probe_token(&g.access_token, "rs: second workspace's token here")
                        .await;
                    let f = match (own, s) {
                        (Some(o), _) if !(200..300).contains(&o) => {
                            CouldNotRun(format!("the second resource rejects its own token ({o})"))
                        }
                        _ => expect_401(s, &format!("a token for {second}")),
                    };
                    self.rec("rs/audience/cross-workspace", f, &ev);
                }
                Err(e) => self.rec("rs/audience/cross-workspace", CouldNotRun(e), &[]),
            }
        }
        // Otherwise graded after the AS negatives (`authorize/resource-foreign`).

        // Insufficient scope: a token for the first scope only, then the chosen tool.
        if self.any_on(&["rs/scope/insufficient-403", "rs/scope/insufficient-error"])
            && self.cfg.access_token.is_none()
        {
            let ids = ["rs/scope/insufficient-403", "rs/scope/insufficient-error"];
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
            } else if tool.is_none() {
                self.rec_all(&ids, NotApplicable("no tool to call".into()));
            } else {
                let (name, args) = tool.expect("checked");
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
                                Some(&format!("Bearer {}", g.access_token)),
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
                                Some(&g.access_token),
                                "tools/call",
                                json!({"name": name, "arguments": args}),
                            )
                            .await;
                        self.session = saved;
                        if let Some(r) = r {
                            let ev = [r.resp.id];
                            let p =
                                crate::wwwauth::parse_all(r.resp.headers_all("www-authenticate"));
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
                                        (e, s) => Violated(format!(
                                            "403 challenge error={e:?} scope={s:?}"
                                        )),
                                    };
                                    self.rec("rs/scope/insufficient-error", f, &ev);
                                }
                                s if (200..300).contains(&s) => {
                                    let na = NotApplicable(format!(
                                        "{name} works with scope {:?} alone: no operation needing more was found",
                                        scopes[0]
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
                    }
                    Err(e) => self.rec_all(&ids, CouldNotRun(e)),
                }
            }
        }
    }

    fn revision_is_stateful(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| s.revision != "2026-07-28")
    }

    /// Cross-audience on a single-resource deployment, after `authorize/resource-foreign`.
    pub(super) async fn cross_audience_fallback(&mut self) {
        if self.recorded("rs/audience/cross-workspace") || !self.on("rs/audience/cross-workspace") {
            return;
        }
        match self.foreign_token.clone() {
            Some(t) => {
                let (s, ev) = self
                    .probe_token(&t, "rs: token minted for a foreign resource")
                    .await;
                self.rec(
                    "rs/audience/cross-workspace",
                    expect_401(s, "a token minted for https://resource.invalid/mcp"),
                    &ev,
                );
            }
            None => {
                let f = if self.foreign_refused {
                    NotApplicable("no --second-resource, and the AS refuses to mint tokens for a foreign resource".into())
                } else {
                    CouldNotRun(
                        "no --second-resource and no scripted login to mint a foreign token".into(),
                    )
                };
                self.rec("rs/audience/cross-workspace", f, &[]);
            }
        }
    }
}
