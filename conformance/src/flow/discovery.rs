//! Discovery: the unauthenticated probe and its 401 challenge, protected resource metadata
//! (RFC 9728), authorization server metadata (RFC 8414 / OIDC) in the spec's order.

use super::{Run, describe};
use crate::http::Req;
use crate::model::Finding::{self, *};
use crate::urls;
use crate::wwwauth;
use serde_json::{Value, json};

impl Run {
    /// The first request a host sends, without credentials.
    pub(super) fn probe_body(&self) -> Value {
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

    fn probe_req(&self, step: &str, url: &str) -> Req {
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

    pub(super) async fn discovery(&mut self) -> Result<(), String> {
        let url = self.mcp_url.to_string();
        let probe = self
            .http
            .send(self.probe_req("discovery: unauthenticated probe", &url))
            .await
            .map_err(|e| format!("target unreachable: {e}"))?;
        let ev = [probe.id];
        let mut header_prm: Option<String> = None;
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
        let challenge_ids = [
            "discovery/challenge/resource-metadata",
            "discovery/challenge/scope",
            "discovery/challenge/no-error-without-credentials",
            "discovery/challenge/json-body",
        ];
        if probe.status == 401 {
            self.note_rs_401(&probe, false);
            self.rec(
                "discovery/challenge/status-401",
                Holds("401 without credentials".into()),
                &ev,
            );
            let parsed = wwwauth::parse_all(probe.headers_all("www-authenticate"));
            match parsed.bearer() {
                Some(b) => {
                    match b.param("resource_metadata") {
                        Some(u) if url::Url::parse(u).is_ok() => {
                            header_prm = Some(u.to_string());
                            self.rec(
                                "discovery/challenge/resource-metadata",
                                Holds(format!("resource_metadata={u}")),
                                &ev,
                            );
                        }
                        Some(u) => self.rec(
                            "discovery/challenge/resource-metadata",
                            Violated(format!("resource_metadata is not an absolute URL: {u:?}")),
                            &ev,
                        ),
                        None => {} // graded after the well-known fetch
                    }
                    match b.param("scope") {
                        Some(s) if !s.trim().is_empty() => {
                            self.challenge_scope = Some(s.to_string());
                            self.rec(
                                "discovery/challenge/scope",
                                Holds(format!("scope={s:?}")),
                                &ev,
                            );
                        }
                        _ => self.rec(
                            "discovery/challenge/scope",
                            Violated("no `scope` parameter in the challenge".into()),
                            &ev,
                        ),
                    }
                    match b.param("error") {
                        None => self.rec(
                            "discovery/challenge/no-error-without-credentials",
                            Holds("no error code".into()),
                            &ev,
                        ),
                        Some(e) => self.rec(
                            "discovery/challenge/no-error-without-credentials",
                            Violated(format!(
                                "error={e:?} sent although no credentials were presented"
                            )),
                            &ev,
                        ),
                    }
                }
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
                }
            }
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
        } else if !probe.is_redirect() {
            let why = if (200..300).contains(&probe.status) {
                "the endpoint answered without credentials: authorization is not enforced"
                    .to_string()
            } else {
                format!("expected 401, got {}", describe(&probe))
            };
            self.rec("discovery/challenge/status-401", Violated(why.clone()), &ev);
            for id in challenge_ids {
                self.rec(id, CouldNotRun(format!("no 401 to inspect: {why}")), &ev);
            }
        } else {
            for id in challenge_ids {
                self.rec(id, CouldNotRun("the probe was redirected".into()), &ev);
            }
        }

        // `/mcp` vs `/mcp/`
        if self.on("discovery/url/trailing-slash") {
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

        // Protected resource metadata.
        let inserted = urls::prm_path_inserted(&self.mcp_url);
        let r = self
            .http
            .send(Req::get("discovery: PRM (path-inserted)", &inserted))
            .await
            .map_err(|e| format!("target unreachable: {e}"))?;
        let inserted_doc = if r.status == 200 {
            r.json().filter(|v| v.is_object())
        } else {
            None
        };
        let f = match &inserted_doc {
            Some(_) => Holds(format!("{inserted} → 200")),
            None => Violated(format!("{inserted} → {}", describe(&r))),
        };
        self.rec("discovery/prm/path-inserted", f, &[r.id]);
        if !self.recorded("discovery/challenge/resource-metadata") && probe.status == 401 {
            let modern = self.cfg.spec.as_deref().is_some_and(|s| s >= "2025-11-25");
            let f = if modern && inserted_doc.is_some() {
                Advisory("no resource_metadata in the challenge; allowed since 2025-11-25 because the well-known PRM exists, but ChatGPT relies on the header".into())
            } else {
                Violated("the Bearer challenge has no resource_metadata".into())
            };
            self.rec("discovery/challenge/resource-metadata", f, &[probe.id]);
        }
        let (prm_resp, prm_url) = match &header_prm {
            Some(h) if *h != inserted => match self
                .http
                .send(Req::get("discovery: PRM (from challenge)", h))
                .await
            {
                Ok(hr) => (hr, h.clone()),
                Err(e) => return Err(format!("PRM URL from the challenge unreachable: {e}")),
            },
            _ => (r.clone(), inserted.clone()),
        };
        let root = urls::prm_root(&self.mcp_url);
        if self.on("discovery/prm/root-fallback") {
            if root == inserted {
                self.rec(
                    "discovery/prm/root-fallback",
                    NotApplicable(
                        "the MCP URL has a root path; the root PRM is the path-inserted one".into(),
                    ),
                    &[],
                );
            } else if let Ok(rr) = self
                .http
                .send(Req::get("discovery: PRM (root)", &root))
                .await
            {
                let f = if rr.is_html() {
                    Violated(format!("{root} answers an HTML page ({})", rr.status))
                } else if rr.status == 200 && rr.json().is_some() {
                    Holds(format!("{root} → 200 JSON document"))
                } else if rr.status == 404 && (rr.body.trim().is_empty() || rr.json().is_some()) {
                    Holds(format!("{root} → JSON 404"))
                } else {
                    Violated(format!("{root} → {}", describe(&rr)))
                };
                self.rec("discovery/prm/root-fallback", f, &[rr.id]);
            }
        }
        let prm_ev = [prm_resp.id];
        let doc = if prm_resp.status == 200 {
            prm_resp.json().filter(|v| v.is_object())
        } else {
            None
        };
        let Some(doc) = doc else {
            let why = format!(
                "no protected resource metadata at {prm_url}: {}",
                describe(&prm_resp)
            );
            self.rec("discovery/prm/json", Violated(why.clone()), &prm_ev);
            return self.discovery_blocked(&why);
        };
        self.rec(
            "discovery/prm/json",
            if prm_resp.is_json_type() {
                Holds("200 application/json".into())
            } else {
                Violated(format!("Content-Type {:?}", prm_resp.content_type()))
            },
            &prm_ev,
        );
        let resource = doc
            .get("resource")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let f = if resource.is_empty() {
            Violated("PRM has no `resource`".into())
        } else if urls::same_resource(&resource, self.mcp_url.as_str()) {
            Holds(format!("resource={resource}"))
        } else {
            Violated(format!(
                "resource={resource:?} but the MCP URL is {}",
                self.mcp_url
            ))
        };
        self.rec("discovery/prm/resource-matches", f, &prm_ev);
        let servers: Vec<String> = doc
            .get("authorization_servers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let valid: Vec<&String> = servers
            .iter()
            .filter(|s| {
                url::Url::parse(s).is_ok_and(|u| u.scheme() == "https" || u.scheme() == "http")
            })
            .collect();
        let f = if servers.is_empty() {
            Violated("`authorization_servers` missing or empty".into())
        } else if valid.len() != servers.len() {
            Violated(format!("not absolute http(s) URLs: {servers:?}"))
        } else {
            Holds(format!("authorization_servers={servers:?}"))
        };
        self.rec("discovery/prm/authorization-servers", f, &prm_ev);
        self.prm = Some(doc);
        if valid.is_empty() {
            return self.discovery_blocked("no usable authorization server in the PRM");
        }

        // Authorization server metadata, for each issuer until one works (ChatGPT tries each).
        let oidc = self.cfg.spec.as_deref().is_none_or(|s| s >= "2025-11-25");
        let mut tried = Vec::new();
        let mut found = None;
        'issuers: for iss in valid.iter().map(|s| s.to_string()) {
            let Ok(iss_url) = url::Url::parse(&iss) else {
                continue;
            };
            for cand in urls::as_metadata_candidates(&iss_url, oidc) {
                let Ok(r) = self
                    .http
                    .send(Req::get("discovery: AS metadata", &cand))
                    .await
                else {
                    tried.push(format!("{cand} (unreachable)"));
                    continue;
                };
                tried.push(format!("{cand} → {}", r.status));
                if r.status == 200 && r.json().is_some_and(|v| v.is_object()) {
                    found = Some((iss.clone(), cand, r));
                    break 'issuers;
                }
            }
        }
        let Some((issuer, asm_url, ar)) = found else {
            let why = format!("no AS metadata found; tried {}", tried.join(", "));
            self.rec("discovery/asm/found", Violated(why.clone()), &[]);
            return self.discovery_blocked(&why);
        };
        let aev = [ar.id];
        self.rec(
            "discovery/asm/found",
            Holds(format!(
                "found at {asm_url}; tried in order: {}",
                tried.join(", ")
            )),
            &aev,
        );
        self.rec(
            "discovery/asm/json",
            if ar.is_json_type() {
                Holds("200 application/json".into())
            } else {
                Violated(format!("Content-Type {:?}", ar.content_type()))
            },
            &aev,
        );
        let asm = ar.json().unwrap_or_default();
        let got_iss = asm.get("issuer").and_then(Value::as_str).unwrap_or("");
        self.rec(
            "discovery/asm/issuer-match",
            if got_iss == issuer { Holds(format!("issuer={got_iss}")) } else { Violated(format!("metadata issuer {got_iss:?} ≠ {issuer:?} (the PRM entry the URL was built from)")) },
            &aev,
        );
        let mut missing = Vec::new();
        for k in ["authorization_endpoint", "token_endpoint"] {
            if asm
                .get(k)
                .and_then(Value::as_str)
                .is_none_or(|u| url::Url::parse(u).is_err())
            {
                missing.push(k.to_string());
            }
        }
        if !strs(&asm, "response_types_supported")
            .iter()
            .any(|s| s == "code")
        {
            missing.push("response_types_supported ∋ code".into());
        }
        self.rec(
            "discovery/asm/required-fields",
            if missing.is_empty() {
                Holds("all present".into())
            } else {
                Violated(format!("missing: {}", missing.join(", ")))
            },
            &aev,
        );
        let methods = strs(&asm, "code_challenge_methods_supported");
        self.rec(
            "discovery/asm/s256",
            if methods.iter().any(|m| m == "S256") { Holds(format!("code_challenge_methods_supported={methods:?}")) } else { Violated(format!("code_challenge_methods_supported={methods:?}: ChatGPT refuses servers without S256")) },
            &aev,
        );
        if self.on("discovery/asm/head")
            && let Ok(h) = self
                .http
                .send(Req::new(
                    "discovery: HEAD AS metadata",
                    reqwest::Method::HEAD,
                    &asm_url,
                ))
                .await
        {
            let f = if h.status == 200 {
                Holds("HEAD → 200".into())
            } else {
                Violated(format!("HEAD → {}", h.status))
            };
            self.rec("discovery/asm/head", f, &[h.id]);
        }
        if self.on("discovery/oidc/valid-or-absent") {
            let iss_url = url::Url::parse(&issuer).expect("validated above");
            let oidc_url = urls::as_metadata_candidates(&iss_url, true)
                .into_iter()
                .find(|c| c.contains("openid-configuration"))
                .expect("oidc candidate");
            if let Ok(o) = self
                .http
                .send(Req::get("discovery: OpenID configuration", &oidc_url))
                .await
            {
                self.rec("discovery/oidc/valid-or-absent", grade_oidc(&o), &[o.id]);
            }
        }
        self.issuer = Some(issuer);
        self.asm = Some(asm);
        Ok(())
    }

    /// Discovery could not finish: every later check that needs it could not run.
    fn discovery_blocked(&mut self, why: &str) -> Result<(), String> {
        for def in crate::checks::CHECKS {
            if !def.id.starts_with("discovery/")
                && !def.id.starts_with("mcp/")
                && !def.id.starts_with("rs/")
            {
                self.rec(def.id, CouldNotRun(format!("discovery failed: {why}")), &[]);
            }
        }
        if self.cfg.access_token.is_some() {
            return Ok(());
        }
        for def in crate::checks::CHECKS {
            if !def.id.starts_with("discovery/") {
                self.rec(def.id, CouldNotRun(format!("discovery failed: {why}")), &[]);
            }
        }
        Ok(())
    }
}

fn grade_oidc(o: &crate::http::Resp) -> Finding {
    if o.is_html() {
        return Violated(format!("answers an HTML page ({})", o.status));
    }
    match o.status {
        404 | 410 => Holds("absent (404)".into()),
        200 => match o.json() {
            Some(d) => {
                let mut missing = Vec::new();
                for k in [
                    "issuer",
                    "authorization_endpoint",
                    "token_endpoint",
                    "jwks_uri",
                    "response_types_supported",
                    "subject_types_supported",
                    "id_token_signing_alg_values_supported",
                ] {
                    if d.get(k).is_none() {
                        missing.push(k);
                    }
                }
                if !strs(&d, "code_challenge_methods_supported")
                    .iter()
                    .any(|m| m == "S256")
                {
                    missing.push("code_challenge_methods_supported ∋ S256");
                }
                if missing.is_empty() {
                    Holds("complete OpenID configuration".into())
                } else {
                    Violated(format!(
                        "partial OpenID configuration, missing {}",
                        missing.join(", ")
                    ))
                }
            }
            None => Violated("200 but not JSON".into()),
        },
        s => Violated(format!("answers {s}; expected a document or 404")),
    }
}

/// String array field of a JSON object.
pub fn strs(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
