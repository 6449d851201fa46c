//! Authorization server metadata (RFC 8414 §3; OpenID Connect Discovery; MCP authorization
//! §2.3.3): each issuer's candidates in the spec's order, required fields, S256, HEAD, and the
//! OpenID configuration when present.

use super::prm::Stop;
use crate::flow::common::{Run, strs};
use crate::http::{Req, Resp};
use crate::model::Finding::{self, *};
use crate::urls;
use serde_json::Value;

impl Run {
    /// Finds and grades the AS metadata; keeps the issuer and the document.
    pub(crate) async fn authorization_server(&mut self, valid: &[String]) -> Result<(), Stop> {
        let (issuer, asm_url, ar) = self.find_asm(valid).await?;
        let aev = [ar.id];
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
        self.grade_asm_fields(&asm, &aev);
        self.asm_head(&asm_url).await;
        self.oidc_configuration(&issuer).await;
        self.issuer = Some(issuer);
        self.asm = Some(asm);
        Ok(())
    }

    /// `discovery/asm/found`: for each issuer until one works (ChatGPT tries each), its
    /// candidate URLs in order. Returns the issuer, the URL and the response.
    async fn find_asm(&mut self, valid: &[String]) -> Result<(String, String, Resp), Stop> {
        let oidc = self.cfg.spec.as_deref().is_none_or(|s| s >= "2025-11-25");
        let mut tried = Vec::new();
        for iss in valid {
            let Ok(iss_url) = url::Url::parse(iss) else {
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
                    self.rec(
                        "discovery/asm/found",
                        Holds(format!(
                            "found at {cand}; tried in order: {}",
                            tried.join(", ")
                        )),
                        &[r.id],
                    );
                    return Ok((iss.clone(), cand, r));
                }
            }
        }
        let why = format!("no AS metadata found; tried {}", tried.join(", "));
        self.rec("discovery/asm/found", Violated(why.clone()), &[]);
        Err(Stop::Blocked(why))
    }

    /// `discovery/asm/required-fields` and `discovery/asm/s256`.
    fn grade_asm_fields(&mut self, asm: &Value, aev: &[usize]) {
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
        if !strs(asm, "response_types_supported")
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
            aev,
        );
        let methods = strs(asm, "code_challenge_methods_supported");
        self.rec(
            "discovery/asm/s256",
            if methods.iter().any(|m| m == "S256") { Holds(format!("code_challenge_methods_supported={methods:?}")) } else { Violated(format!("code_challenge_methods_supported={methods:?}: ChatGPT refuses servers without S256")) },
            aev,
        );
    }

    /// `discovery/asm/head`.
    async fn asm_head(&mut self, asm_url: &str) {
        if self.on("discovery/asm/head")
            && let Ok(h) = self
                .http
                .send(Req::new(
                    "discovery: HEAD AS metadata",
                    reqwest::Method::HEAD,
                    asm_url,
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
    }

    /// `discovery/oidc/valid-or-absent`.
    async fn oidc_configuration(&mut self, issuer: &str) {
        if !self.on("discovery/oidc/valid-or-absent") {
            return;
        }
        let iss_url = url::Url::parse(issuer).expect("validated above");
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
}

fn grade_oidc(o: &Resp) -> Finding {
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
