//! The unauthenticated probe and its 401 challenge (MCP authorization §2.3; RFC 6750 §3;
//! RFC 9728 §5.1), and the exact-URL checks.

use crate::flow::common::{Run, describe};
use crate::http::{Req, Resp};
use crate::model::Finding::*;
use crate::urls;
use crate::wwwauth::{self, Challenge};
use serde_json::{Value, json};

const CHALLENGE_IDS: [&str; 4] = [
    "discovery/challenge/resource-metadata",
    "discovery/challenge/scope",
    "discovery/challenge/no-error-without-credentials",
    "discovery/challenge/json-body",
];

impl Run {
    /// The first request a host sends, without credentials.
    pub(crate) fn probe_body(&self) -> Value {
        let p = &self.cfg.profile;
        let modern = self.cfg.spec.as_deref() == Some("2026-07-28")
            || (self.cfg.spec.is_none() && p.discover_probe);
        if modern {
            json!({"jsonrpc":"2.0","id":"conformance-discover","method":"server/discover","params":{"_meta":{
                "io.modelcontextprotocol/protocolVersion":"2026-07-28",
                "io.modelcontextprotocol/clientInfo": p.client_info(),
                "io.modelcontextprotocol/clientCapabilities": p.capabilities()}}})
        } else {
            let v = self
                .cfg
                .spec
                .clone()
                .unwrap_or_else(|| p.initialize_version.to_string());
            json!({"jsonrpc":"2.0","id":"conformance-probe","method":"initialize","params":{
                "protocolVersion": v, "capabilities": p.capabilities(), "clientInfo": p.client_info()}})
        }
    }

    pub(crate) fn probe_req(&self, step: &str, url: &str) -> Req {
        let mut r = Req::post(step, url)
            .header("accept", "application/json, text/event-stream")
            .json(self.probe_body());
        if self.probe_body()["method"] == "server/discover" {
            r = r
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "server/discover");
        }
        r
    }

    /// Sends the unauthenticated probe and grades the URL and challenge checks. Returns the
    /// response and the `resource_metadata` URL of the challenge, if valid.
    pub(crate) async fn probe(&mut self) -> Result<(Resp, Option<String>), String> {
        let url = self.mcp_url.to_string();
        let probe = self
            .http
            .send(self.probe_req("discovery: unauthenticated probe", &url))
            .await
            .map_err(|e| format!("target unreachable: {e}"))?;
        self.grade_no_redirect(&probe);
        let header_prm = if probe.status == 401 {
            self.grade_challenge(&probe)
        } else {
            self.challenge_missing(&probe);
            None
        };
        Ok((probe, header_prm))
    }

    /// `discovery/url/exact-no-redirect` (and `status-401` for a redirect).
    fn grade_no_redirect(&mut self, probe: &Resp) {
        let ev = [probe.id];
        if probe.is_redirect() {
            let loc = probe.header("location").unwrap_or_default().to_string();
            self.rec("discovery/url/exact-no-redirect", Violated(format!("HTTP {} redirect to {loc}: hosts POST to the URL as entered and drop Authorization across redirects", probe.status)), &ev);
            self.rec(
                "discovery/challenge/status-401",
                Violated(format!("got a {} redirect instead of 401", probe.status)),
                &ev,
            );
        } else {
            self.rec(
                "discovery/url/exact-no-redirect",
                Holds(format!("answered {} directly", probe.status)),
                &ev,
            );
        }
    }

    /// No 401: `status-401` fails (unless redirected, graded above); the challenge checks could
    /// not run.
    fn challenge_missing(&mut self, probe: &Resp) {
        let ev = [probe.id];
        if probe.is_redirect() {
            for id in CHALLENGE_IDS {
                self.rec(id, CouldNotRun("the probe was redirected".into()), &ev);
            }
            return;
        }
        let why = if (200..300).contains(&probe.status) {
            "the endpoint answered without credentials: authorization is not enforced".to_string()
        } else {
            format!("expected 401, got {}", describe(probe))
        };
        self.rec("discovery/challenge/status-401", Violated(why.clone()), &ev);
        for id in CHALLENGE_IDS {
            self.rec(id, CouldNotRun(format!("no 401 to inspect: {why}")), &ev);
        }
    }

    /// The 401: `status-401`, the Bearer challenge's parameters, and `json-body`.
    fn grade_challenge(&mut self, probe: &Resp) -> Option<String> {
        let ev = [probe.id];
        self.note_rs_401(probe, false);
        self.rec(
            "discovery/challenge/status-401",
            Holds("401 without credentials".into()),
            &ev,
        );
        let parsed = wwwauth::parse_all(probe.headers_all("www-authenticate"));
        let header_prm = match parsed.bearer() {
            Some(b) => self.grade_bearer(b, &ev),
            None => {
                let why = if parsed.challenges.is_empty() {
                    "no WWW-Authenticate header".to_string()
                } else {
                    format!(
                        "no Bearer challenge ({:?})",
                        parsed
                            .challenges
                            .iter()
                            .map(|c| c.scheme.clone())
                            .collect::<Vec<_>>()
                    )
                };
                self.rec(
                    "discovery/challenge/resource-metadata",
                    Violated(why.clone()),
                    &ev,
                );
                self.rec("discovery/challenge/scope", Violated(why.clone()), &ev);
                self.rec(
                    "discovery/challenge/no-error-without-credentials",
                    CouldNotRun(why),
                    &ev,
                );
                None
            }
        };
        let f = if probe.is_html() {
            Violated("the 401 body is an HTML page".into())
        } else {
            Holds(format!(
                "body is {}",
                if probe.body.is_empty() {
                    "empty".into()
                } else {
                    probe.content_type()
                }
            ))
        };
        self.rec("discovery/challenge/json-body", f, &ev);
        header_prm
    }

    /// `resource_metadata`, `scope` and no `error` in the Bearer challenge. A missing
    /// `resource_metadata` is graded after the well-known PRM fetch.
    fn grade_bearer(&mut self, b: &Challenge, ev: &[usize]) -> Option<String> {
        let mut header_prm = None;
        match b.param("resource_metadata") {
            Some(u) if url::Url::parse(u).is_ok() => {
                header_prm = Some(u.to_string());
                self.rec(
                    "discovery/challenge/resource-metadata",
                    Holds(format!("resource_metadata={u}")),
                    ev,
                );
            }
            Some(u) => self.rec(
                "discovery/challenge/resource-metadata",
                Violated(format!("resource_metadata is not an absolute URL: {u:?}")),
                ev,
            ),
            None => {} // graded after the well-known fetch
        }
        match b.param("scope") {
            Some(s) if !s.trim().is_empty() => {
                self.challenge_scope = Some(s.to_string());
                self.rec(
                    "discovery/challenge/scope",
                    Holds(format!("scope={s:?}")),
                    ev,
                );
            }
            _ => self.rec(
                "discovery/challenge/scope",
                Violated("no `scope` parameter in the challenge".into()),
                ev,
            ),
        }
        match b.param("error") {
            None => self.rec(
                "discovery/challenge/no-error-without-credentials",
                Holds("no error code".into()),
                ev,
            ),
            Some(e) => self.rec(
                "discovery/challenge/no-error-without-credentials",
                Violated(format!(
                    "error={e:?} sent although no credentials were presented"
                )),
                ev,
            ),
        }
        header_prm
    }

    /// `discovery/url/trailing-slash`: `/mcp` vs `/mcp/`.
    pub(crate) async fn trailing_slash(&mut self) {
        if !self.on("discovery/url/trailing-slash") {
            return;
        }
        match urls::trailing_slash_variant(&self.mcp_url) {
            None => self.rec(
                "discovery/url/trailing-slash",
                NotApplicable("the MCP URL has a root path".into()),
                &[],
            ),
            Some(v) => match self
                .http
                .send(self.probe_req("discovery: trailing-slash variant", &v))
                .await
            {
                Ok(r) => {
                    let f = if r.is_html() {
                        Violated(format!("{v} answers an HTML page ({})", r.status))
                    } else if r.status >= 500 {
                        Violated(format!("{v} answers {}", describe(&r)))
                    } else if (200..300).contains(&r.status) {
                        Violated(format!("{v} answers {} without credentials", r.status))
                    } else if r.is_redirect() {
                        Advisory(format!(
                            "{v} redirects ({}) to {}: POST bodies and Authorization may be dropped",
                            r.status,
                            r.header("location").unwrap_or("")
                        ))
                    } else {
                        Holds(format!("{v} answers {}", describe(&r)))
                    };
                    self.rec("discovery/url/trailing-slash", f, &[r.id]);
                }
                Err(e) => self.rec(
                    "discovery/url/trailing-slash",
                    CouldNotRun(e.to_string()),
                    &[],
                ),
            },
        }
    }
}
