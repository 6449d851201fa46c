//! Protected resource metadata (RFC 9728 §3; MCP authorization §2.3): the path-inserted and root
//! well-known URLs, the challenge's `resource_metadata`, the document's `resource` and
//! `authorization_servers`.

use crate::flow::common::{Run, describe};
use crate::http::{Req, Resp};
use crate::model::Finding::*;
use crate::urls;
use serde_json::Value;

/// Why discovery stopped early.
pub(crate) enum Stop {
    /// The run cannot proceed at all.
    Fatal(String),
    /// Discovery failed: the checks that need it could not run.
    Blocked(String),
}

impl Run {
    /// Fetches and grades the PRM; returns the usable authorization servers.
    pub(crate) async fn protected_resource(
        &mut self,
        probe: &Resp,
        header_prm: Option<String>,
    ) -> Result<Vec<String>, Stop> {
        let inserted = urls::prm_path_inserted(&self.mcp_url);
        let (r, inserted_found) = self.prm_path_inserted(&inserted).await?;
        if !self.recorded("discovery/challenge/resource-metadata") && probe.status == 401 {
            let modern = self.cfg.spec.as_deref().is_some_and(|s| s >= "2025-11-25");
            let f = if modern && inserted_found {
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
                Err(e) => {
                    return Err(Stop::Fatal(format!(
                        "PRM URL from the challenge unreachable: {e}"
                    )));
                }
            },
            _ => (r, inserted.clone()),
        };
        self.prm_root_fallback(&inserted).await;
        self.grade_prm(&prm_resp, &prm_url)
    }

    /// `discovery/prm/path-inserted`; returns the response and whether it held a document.
    async fn prm_path_inserted(&mut self, inserted: &str) -> Result<(Resp, bool), Stop> {
        let r = self
            .http
            .send(Req::get("discovery: PRM (path-inserted)", inserted))
            .await
            .map_err(|e| Stop::Fatal(format!("target unreachable: {e}")))?;
        let found = r.status == 200 && r.json().is_some_and(|v| v.is_object());
        let f = if found {
            Holds(format!("{inserted} → 200"))
        } else {
            Violated(format!("{inserted} → {}", describe(&r)))
        };
        self.rec("discovery/prm/path-inserted", f, &[r.id]);
        Ok((r, found))
    }

    /// `discovery/prm/root-fallback`: the root well-known URL answers a document or a JSON 404.
    async fn prm_root_fallback(&mut self, inserted: &str) {
        let root = urls::prm_root(&self.mcp_url);
        if !self.on("discovery/prm/root-fallback") {
            return;
        }
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

    /// `discovery/prm/{json,resource-matches,authorization-servers}`; keeps the document.
    fn grade_prm(&mut self, prm_resp: &Resp, prm_url: &str) -> Result<Vec<String>, Stop> {
        let prm_ev = [prm_resp.id];
        let doc = if prm_resp.status == 200 {
            prm_resp.json().filter(|v| v.is_object())
        } else {
            None
        };
        let Some(doc) = doc else {
            let why = format!(
                "no protected resource metadata at {prm_url}: {}",
                describe(prm_resp)
            );
            self.rec("discovery/prm/json", Violated(why.clone()), &prm_ev);
            return Err(Stop::Blocked(why));
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
        self.grade_prm_resource(&doc, &prm_ev);
        let valid = self.grade_authorization_servers(&doc, &prm_ev);
        self.prm = Some(doc);
        if valid.is_empty() {
            return Err(Stop::Blocked(
                "no usable authorization server in the PRM".into(),
            ));
        }
        Ok(valid)
    }

    /// `discovery/prm/resource-matches`.
    fn grade_prm_resource(&mut self, doc: &Value, prm_ev: &[usize]) {
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
        self.rec("discovery/prm/resource-matches", f, prm_ev);
    }

    /// `discovery/prm/authorization-servers`; returns the absolute http(s) ones.
    fn grade_authorization_servers(&mut self, doc: &Value, prm_ev: &[usize]) -> Vec<String> {
        let servers = crate::flow::common::strs(doc, "authorization_servers");
        let valid: Vec<String> = servers
            .iter()
            .filter(|s| {
                url::Url::parse(s).is_ok_and(|u| u.scheme() == "https" || u.scheme() == "http")
            })
            .cloned()
            .collect();
        let f = if servers.is_empty() {
            Violated("`authorization_servers` missing or empty".into())
        } else if valid.len() != servers.len() {
            Violated(format!("not absolute http(s) URLs: {servers:?}"))
        } else {
            Holds(format!("authorization_servers={servers:?}"))
        };
        self.rec("discovery/prm/authorization-servers", f, prm_ev);
        valid
    }
}
