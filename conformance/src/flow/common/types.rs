//! The client, grant and session a run carries between phases.

use std::time::Instant;

/// A registered (or pre-registered) client.
#[derive(Clone, Debug)]
pub struct Client {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub redirect_uri: String,
    pub auth_method: String,
    /// `private_key_jwt`: the key that signs client assertions, and their `aud` (the token
    /// endpoint URL, as ChatGPT sends it).
    pub signer: Option<std::sync::Arc<crate::jwt::ClientKey>>,
    pub assertion_aud: Option<String>,
}

impl Client {
    /// Adds this client's authentication to a token-endpoint-style request: HTTP Basic with
    /// form-urlencoded credentials (RFC 6749 §2.3.1), secret in the form, or `client_id` alone
    /// for a public client.
    pub fn authenticate(
        &self,
        req: crate::http::Req,
        form: &mut Vec<(String, String)>,
    ) -> crate::http::Req {
        if let ("private_key_jwt", Some(key), Some(aud)) =
            (self.auth_method.as_str(), &self.signer, &self.assertion_aud)
        {
            form.push(("client_id".into(), self.client_id.clone()));
            form.push((
                "client_assertion_type".into(),
                crate::jwt::ASSERTION_TYPE.into(),
            ));
            form.push((
                "client_assertion".into(),
                key.assertion(&self.client_id, aud),
            ));
            return req;
        }
        match (self.auth_method.as_str(), &self.client_secret) {
            ("client_secret_basic", Some(s)) => {
                use base64::Engine;
                let enc = |v: &str| {
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                };
                let cred = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    enc(&self.client_id),
                    enc(s)
                ));
                req.header("authorization", format!("Basic {cred}"))
            }
            (_, Some(s)) => {
                form.push(("client_id".into(), self.client_id.clone()));
                form.push(("client_secret".into(), s.clone()));
                req
            }
            (_, None) => {
                form.push(("client_id".into(), self.client_id.clone()));
                req
            }
        }
    }
}

/// Tokens from one grant.
#[derive(Clone, Debug)]
pub struct Grant {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<u64>,
    pub obtained: Instant,
    pub resource: Option<String>,
}

/// Negotiated MCP session state.
#[derive(Clone, Debug, Default)]
pub struct Session {
    pub revision: String,
    pub session_id: Option<String>,
}
