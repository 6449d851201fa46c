//! Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3).
//!
//! Public clients (`none`) identify themselves with `client_id`. Confidential clients send their
//! secret with HTTP Basic or in the form; both carry the same secret over TLS, so either is
//! accepted whatever was registered (ChatGPT registers `client_secret_post` and has been seen
//! sending Basic). Using both at once is refused. When a request names no client at all (quirk
//! Q26), the caller may pass the client the code or token was issued to: a public client is then
//! identified by its artifact, a confidential one still has to present its secret.
//!
//! Metadata-document clients may instead send a `private_key_jwt` assertion
//! (`client_assertion`), verified by `client_assertion`; one whose document offers only
//! `private_key_jwt` must.
use super::client_assertion::{self, ASSERTION_TYPE};
use super::context::{Ctx, Params, internal};
use crate::error::OAuthError;
use crate::secrets::{ct_eq, hash_secret};
use crate::store::oauth::ClientRecord;
use base64::Engine;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    Nothing,
    Form,
    Basic,
}

/// The credentials a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub client_id: Option<String>,
    pub secret: Option<String>,
    pub presented: Presented,
    /// A `private_key_jwt` client assertion (RFC 7523 §2.2).
    pub assertion: Option<String>,
}

impl ClientCredentials {
    /// Reads every form of client authentication a token, revocation or introspection request
    /// may carry: Basic, `client_id`/`client_secret`, or `client_assertion_type` +
    /// `client_assertion` (RFC 7521 §4.2). Two methods at once are `invalid_request`.
    pub fn from_params(authorization: Option<&str>, params: &Params) -> Result<Self, OAuthError> {
        let mut creds = Self::from_request(
            authorization,
            params.get("client_id")?,
            params.get("client_secret")?,
        )?;
        let assertion_type = params.get("client_assertion_type")?;
        let assertion = params.get("client_assertion")?;
        match (assertion_type, assertion) {
            (None, None) => {}
            (Some(ASSERTION_TYPE), Some(a)) => {
                if creds.secret.is_some() || creds.via_basic() {
                    return Err(OAuthError::invalid_request(
                        "use one client authentication method, not a client secret and client_assertion together",
                    ));
                }
                creds.assertion = Some(a.to_string());
            }
            (Some(t), Some(_)) if t != ASSERTION_TYPE => {
                return Err(OAuthError::invalid_request(format!(
                    "client_assertion_type {t:?} is not supported (use {ASSERTION_TYPE})"
                )));
            }
            _ => {
                return Err(OAuthError::invalid_request(
                    "send client_assertion_type and client_assertion together",
                ));
            }
        }
        Ok(creds)
    }

    /// Reads `Authorization: Basic` (RFC 6749 §2.3.1: both parts form-urlencoded) and the form's
    /// `client_id` / `client_secret`.
    pub fn from_request(
        authorization: Option<&str>,
        form_id: Option<&str>,
        form_secret: Option<&str>,
    ) -> Result<Self, OAuthError> {
        let basic = match authorization.map(str::trim) {
            Some(v) if v.len() > 6 && v[..6].eq_ignore_ascii_case("basic ") => {
                Some(decode_basic(&v[6..])?)
            }
            _ => None,
        };
        match basic {
            Some((id, secret)) => {
                if form_secret.is_some() {
                    return Err(OAuthError::invalid_request(
                        "use one client authentication method, not Basic and client_secret together",
                    ));
                }
                if form_id.is_some_and(|f| f != id) {
                    return Err(invalid_client(
                        "client_id does not match the Basic credentials",
                        true,
                    ));
                }
                Ok(Self {
                    client_id: Some(id),
                    secret: Some(secret).filter(|s| !s.is_empty()),
                    presented: Presented::Basic,
                    assertion: None,
                })
            }
            None => Ok(Self {
                client_id: form_id.map(str::to_owned),
                secret: form_secret.map(str::to_owned),
                presented: if form_secret.is_some() {
                    Presented::Form
                } else {
                    Presented::Nothing
                },
                assertion: None,
            }),
        }
    }

    pub fn via_basic(&self) -> bool {
        self.presented == Presented::Basic
    }
}

fn decode_basic(b64: &str) -> Result<(String, String), OAuthError> {
    let bad = || invalid_client("malformed Basic credentials", true);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (id, secret) = raw.split_once(':').ok_or_else(bad)?;
    let dec = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad())
    };
    Ok((dec(id)?, dec(secret)?))
}

fn invalid_client(description: &str, basic: bool) -> OAuthError {
    let e = OAuthError::new("invalid_client", description);
    if basic { e.with_basic_challenge() } else { e }
}

/// The client id a request authenticates as: its `client_id`, else the `iss` of its assertion
/// (RFC 7523 §3: with an assertion, `client_id` is optional), else `fallback_client_id`, the
/// client the presented code or token belongs to.
pub fn claimed_client_id(
    creds: &ClientCredentials,
    fallback_client_id: Option<&str>,
) -> Option<String> {
    match (&creds.client_id, &creds.assertion) {
        (Some(id), _) => Some(id.clone()),
        (None, Some(a)) => client_assertion::claimed_client_id(a),
        (None, None) => None,
    }
    .or_else(|| fallback_client_id.map(str::to_owned))
}

/// Authenticates the client. `fallback_client_id` is the client the presented code or token
/// belongs to, used only when the request names no client.
pub async fn authenticate(
    ctx: &Ctx<'_>,
    creds: &ClientCredentials,
    fallback_client_id: Option<&str>,
) -> Result<ClientRecord, OAuthError> {
    let client_id = claimed_client_id(creds, fallback_client_id);
    let record = match &client_id {
        Some(id) => ctx.store.client(id).await.map_err(internal)?,
        None => None,
    };
    authenticate_as(ctx, creds, client_id.as_deref(), record).await
}

/// Authenticates the client `client_id` (from [`claimed_client_id`]) whose row the caller has
/// already read (`record`; `None` when there is none).
pub async fn authenticate_as(
    ctx: &Ctx<'_>,
    creds: &ClientCredentials,
    client_id: Option<&str>,
    record: Option<ClientRecord>,
) -> Result<ClientRecord, OAuthError> {
    let basic = creds.via_basic();
    let Some(client_id) = client_id else {
        return Err(invalid_client(
            "client authentication required: send client_id (and the client secret if one was issued)",
            basic,
        ));
    };
    let client = record
        .filter(|c| c.kind != "builtin" && c.client_id == client_id)
        .ok_or_else(|| {
            if super::cimd::is_url_client_id(client_id) {
                invalid_client(
                    "unknown client: a URL client id is accepted here only after its metadata document was fetched at the authorization endpoint",
                    basic,
                )
            } else {
                invalid_client("unknown client; register again", basic)
            }
        })?;
    if let Some(assertion) = &creds.assertion {
        // A presented assertion is always checked, even for a client that may also use `none`.
        client_assertion::verify(ctx, ctx.jwks, &client, assertion).await?;
        return Ok(client);
    }
    match client.token_endpoint_auth_method.as_str() {
        "none" => Ok(client),
        "private_key_jwt" => Err(invalid_client(
            "this client must authenticate with private_key_jwt: send client_assertion_type and client_assertion",
            basic,
        )),
        _ => {
            let (Some(secret), Some(stored)) = (
                creds.secret.as_deref(),
                client.client_secret_hash.as_deref(),
            ) else {
                return Err(invalid_client(
                    "this client must authenticate with its client secret",
                    basic,
                ));
            };
            if !ct_eq(&hash_secret(secret), stored) {
                return Err(invalid_client("client authentication failed", basic));
            }
            Ok(client)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_parsing() {
        let h = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("my%20id:s%3Acret")
        );
        let c = ClientCredentials::from_request(Some(&h), None, None).unwrap();
        assert_eq!(c.client_id.as_deref(), Some("my id"));
        assert_eq!(c.secret.as_deref(), Some("s:cret"));
        assert!(c.via_basic());
        assert_eq!(
            ClientCredentials::from_request(Some("Basic !!!"), None, None)
                .unwrap_err()
                .code,
            "invalid_client"
        );
        assert_eq!(
            ClientCredentials::from_request(Some(&h), None, Some("x"))
                .unwrap_err()
                .code,
            "invalid_request"
        );
        assert_eq!(
            ClientCredentials::from_request(Some(&h), Some("other"), None)
                .unwrap_err()
                .code,
            "invalid_client"
        );
        let f = ClientCredentials::from_request(Some("Bearer x"), Some("id"), None).unwrap();
        assert_eq!(f.presented, Presented::Nothing);
    }
}
