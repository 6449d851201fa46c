//! The handshake (MCP lifecycle §Initialization; 2026-07-28 `server/discover`): the negotiated
//! revision, session ids and the initialized notification.

use crate::flow::common::{Run, Session, describe, strs};
use crate::http::Resp;
use crate::model::Finding::*;
use crate::schema;
use serde_json::{Value, json};

impl Run {
    /// Handshake with the main token; decides the negotiated revision.
    pub(crate) async fn handshake(&mut self, token: &str) -> bool {
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
        self.grade_initialize(&rpc.resp, &res, version);
        self.notification_initialized(token).await;
        true
    }

    /// `mcp/lifecycle/{version,handshake}` and `mcp/transport/session-id-ascii` of an
    /// `initialize` result; keeps the negotiated session.
    fn grade_initialize(&mut self, resp: &Resp, res: &Value, version: String) {
        let ev = [resp.id];
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
        let f = match schema::validate(&rev, "InitializeResult", res) {
            Ok(()) => Holds(format!("InitializeResult valid under {rev}")),
            Err(e) => Violated(format!(
                "InitializeResult invalid under {rev}: {}",
                e.join("; ")
            )),
        };
        self.rec("mcp/lifecycle/handshake", f, &ev);
        let sid = resp.header("mcp-session-id").map(str::to_string);
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
    }

    /// `mcp/transport/notification-202`: `notifications/initialized` → 202 with no body.
    async fn notification_initialized(&mut self, token: &str) {
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
        let versions = strs(&res, "supportedVersions");
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
}
