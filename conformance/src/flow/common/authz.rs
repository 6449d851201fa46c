//! The authorization-code client: requests, the login driver, callbacks.

use super::json::strs;
use super::run::Run;
use crate::flow::login::{AuthzEnd, drive};
use crate::pkce;
use crate::urls;
use serde_json::Value;
use url::Url;

/// Parameters of one authorization request.
#[derive(Clone, Debug)]
pub struct AuthzRequest {
    pub redirect_uri: String,
    pub resource: Option<String>,
    pub scope: Option<String>,
    pub state: String,
    /// `(challenge, method)`; `None` omits PKCE entirely.
    pub pkce: Option<(String, String)>,
    pub client_id: String,
}

/// A callback's parameters.
#[derive(Clone, Debug, Default)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
}

impl CallbackParams {
    pub fn from(u: &Url) -> CallbackParams {
        let one = |k: &str| urls::single_param(u, k).ok().flatten();
        CallbackParams {
            code: one("code"),
            state: one("state"),
            iss: one("iss"),
            error: one("error"),
        }
    }
}

impl Run {
    pub(crate) fn asm_str(&self, k: &str) -> Option<String> {
        self.asm
            .as_ref()
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    pub(crate) fn iss_supported(&self) -> bool {
        self.asm
            .as_ref()
            .and_then(|a| a.get("authorization_response_iss_parameter_supported"))
            .and_then(Value::as_bool)
            == Some(true)
    }

    /// The `resource` this profile sends: ChatGPT sends the PRM value verbatim; others the URL.
    pub(crate) fn resource_param(&self) -> String {
        let prm = self
            .prm
            .as_ref()
            .and_then(|p| p.get("resource"))
            .and_then(Value::as_str);
        match (self.cfg.profile.resource_from_prm, prm) {
            (true, Some(r)) => r.to_string(),
            _ => self.mcp_url.to_string(),
        }
    }

    /// Scope selection per MCP: the challenge's `scope`, else PRM `scopes_supported`, else none.
    pub(crate) fn scope_param(&self) -> Option<String> {
        self.challenge_scope.clone().or_else(|| {
            let s = strs(self.prm.as_ref()?, "scopes_supported");
            if s.is_empty() {
                None
            } else {
                Some(s.join(" "))
            }
        })
    }

    /// Builds the authorization URL.
    pub(crate) fn authorization_url(&self, a: &AuthzRequest) -> Option<Url> {
        let mut u = Url::parse(&self.asm_str("authorization_endpoint")?).ok()?;
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &a.client_id)
                .append_pair("redirect_uri", &a.redirect_uri)
                .append_pair("state", &a.state);
            if let Some(s) = &a.scope {
                q.append_pair("scope", s);
            }
            if let Some((c, m)) = &a.pkce {
                q.append_pair("code_challenge", c)
                    .append_pair("code_challenge_method", m);
            }
            if let Some(r) = &a.resource {
                q.append_pair("resource", r);
            }
        }
        Some(u)
    }

    /// A standard request for the run's client with fresh state and PKCE; returns the verifier.
    pub(crate) fn standard_request(
        &self,
        resource: Option<String>,
        scope: Option<String>,
    ) -> Option<(AuthzRequest, String)> {
        let c = self.client.as_ref()?;
        let verifier = pkce::verifier();
        Some((
            AuthzRequest {
                redirect_uri: c.redirect_uri.clone(),
                resource,
                scope,
                state: self.cfg.profile.new_state(),
                pkce: Some((pkce::s256(&verifier), "S256".into())),
                client_id: c.client_id.clone(),
            },
            verifier,
        ))
    }

    /// Runs one authorization request through the login driver, stopping at `stops`.
    pub(crate) async fn attempt(&mut self, a: &AuthzRequest, extra_stops: &[&str]) -> AuthzEnd {
        let Some(url) = self.authorization_url(a) else {
            return AuthzEnd::Broken("no authorization_endpoint".into());
        };
        let mut stops: Vec<Url> = vec![];
        for s in std::iter::once(a.redirect_uri.as_str()).chain(extra_stops.iter().copied()) {
            if let Ok(u) = Url::parse(s) {
                stops.push(u);
            }
        }
        if let Some(c) = &self.client
            && let Ok(u) = Url::parse(&c.redirect_uri)
        {
            stops.push(u);
        }
        drive(&self.http, &self.cfg.login, &url, &stops).await
    }

    /// Is a second authorization possible without a human?
    pub(crate) fn can_reauthorize(&self) -> Result<(), String> {
        match &self.cfg.login {
            crate::config::Login::Manual => Err("--login manual: only the main authorization is played; use --login form or command for negative checks".into()),
            crate::config::Login::None => Err("no login driver".into()),
            crate::config::Login::Browser(b) if b.script.is_none() => Err("--headed without a login script: only the main authorization is played (a person signs in once); add --login-script for negative checks".into()),
            _ => Ok(()),
        }
    }
}
