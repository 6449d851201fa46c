//! The token endpoint client: code redemption, grants, and the graded "must fail" redemption.

use super::authz::CallbackParams;
use super::json::{describe, grade_rejection};
use super::run::Run;
use super::types::{Client, Grant};
use crate::flow::login::AuthzEnd;
use crate::http::{Req, Resp};
use serde_json::Value;
use std::time::Instant;

/// One authorization-code redemption (RFC 6749 §4.1.3, with PKCE and RFC 8707 `resource`).
#[derive(Clone, Copy, Debug)]
pub struct Redeem<'a> {
    pub code: &'a str,
    pub redirect_uri: &'a str,
    pub verifier: Option<&'a str>,
    pub resource: Option<&'a str>,
    /// `None` = the run's client.
    pub client: Option<&'a Client>,
}

impl<'a> Redeem<'a> {
    /// `code` for `redirect_uri`, without verifier, resource, or a client other than the run's.
    pub fn new(code: &'a str, redirect_uri: &'a str) -> Redeem<'a> {
        Redeem {
            code,
            redirect_uri,
            verifier: None,
            resource: None,
            client: None,
        }
    }

    /// With `code_verifier` and `resource`, the redemption a conforming client sends.
    pub fn full(self, verifier: &'a str, resource: &'a str) -> Redeem<'a> {
        Redeem {
            verifier: Some(verifier),
            resource: Some(resource),
            ..self
        }
    }
}

impl Run {
    /// POSTs to the token endpoint with the client's authentication.
    pub(crate) async fn token_request(
        &mut self,
        step: &str,
        mut form: Vec<(String, String)>,
        client: Option<&Client>,
    ) -> Option<Resp> {
        let url = self.asm_str("token_endpoint")?;
        let c = client.cloned().or_else(|| self.client.clone())?;
        let req = c.authenticate(Req::post(step, &url), &mut form);
        let r = self
            .http
            .send(req.header("accept", "application/json").form(form))
            .await
            .ok()?;
        self.note_token_error(&r);
        if r.status == 200
            && let Some(v) = r.json()
        {
            for k in ["access_token", "refresh_token", "id_token"] {
                if let Some(t) = v.get(k).and_then(Value::as_str) {
                    self.http.secret(t);
                }
            }
        }
        Some(r)
    }

    /// Redeems an authorization code.
    pub async fn exchange(&mut self, step: &str, x: Redeem<'_>) -> Option<Resp> {
        let mut f = vec![
            ("grant_type".to_string(), "authorization_code".to_string()),
            ("code".into(), x.code.into()),
            ("redirect_uri".into(), x.redirect_uri.into()),
        ];
        if let Some(v) = x.verifier {
            f.push(("code_verifier".into(), v.into()));
        }
        if let Some(r) = x.resource {
            f.push(("resource".into(), r.into()));
        }
        self.token_request(step, f, x.client).await
    }

    /// Redeems with one parameter wrong and grades check `id`: the exchange must be refused with
    /// `invalid_grant` (`violation` names what a success would mean).
    pub async fn exchange_must_fail(
        &mut self,
        id: &'static str,
        step: &str,
        x: Redeem<'_>,
        violation: &str,
    ) {
        if let Some(r) = self.exchange(step, x).await {
            self.note_mistake(super::run::Endpoint::Token, step, &r);
            self.rec(id, grade_rejection(&r, "invalid_grant", violation), &[r.id]);
        }
    }

    /// A refresh-token grant (RFC 6749 §6) with an optional `resource` (RFC 8707 §2.2).
    pub async fn refresh(
        &mut self,
        step: &str,
        rt: &str,
        resource: Option<&str>,
        client: Option<&Client>,
    ) -> Option<Resp> {
        let mut f = vec![
            ("grant_type".to_string(), "refresh_token".to_string()),
            ("refresh_token".into(), rt.into()),
        ];
        if let Some(r) = resource {
            f.push(("resource".into(), r.into()));
        }
        self.token_request(step, f, client).await
    }

    /// Full authorization + exchange for a fresh grant.
    pub(crate) async fn obtain(
        &mut self,
        step: &str,
        resource: Option<String>,
        scope: Option<String>,
        client: Option<&Client>,
    ) -> Result<Grant, String> {
        self.can_reauthorize()?;
        let (mut a, verifier) = self
            .standard_request(resource.clone(), scope)
            .ok_or("no client")?;
        if let Some(c) = client {
            a.client_id = c.client_id.clone();
            a.redirect_uri = c.redirect_uri.clone();
        }
        let cb = match self.attempt(&a, &[]).await {
            AuthzEnd::Callback { location, .. } => CallbackParams::from(&location),
            AuthzEnd::Page { status, .. } => {
                return Err(format!(
                    "{step}: authorization stopped on an HTTP {status} page"
                ));
            }
            AuthzEnd::Broken(e) => return Err(format!("{step}: {e}")),
        };
        let code = cb.code.ok_or_else(|| {
            format!(
                "{step}: callback without code ({})",
                cb.error.unwrap_or_default()
            )
        })?;
        let r = self
            .exchange(
                step,
                Redeem {
                    verifier: Some(&verifier),
                    resource: resource.as_deref(),
                    client,
                    ..Redeem::new(&code, &a.redirect_uri)
                },
            )
            .await
            .ok_or("token endpoint unreachable")?;
        grant_from(&r, resource)
            .ok_or_else(|| format!("{step}: token request failed: {}", describe(&r)))
    }
}

/// A grant from a successful token response.
pub fn grant_from(r: &Resp, resource: Option<String>) -> Option<Grant> {
    if r.status != 200 {
        return None;
    }
    let v = r.json()?;
    Some(Grant {
        access_token: v.get("access_token")?.as_str()?.to_string(),
        refresh_token: v
            .get("refresh_token")
            .and_then(Value::as_str)
            .map(str::to_string),
        expires_in: v.get("expires_in").and_then(Value::as_u64),
        obtained: Instant::now(),
        resource,
    })
}
