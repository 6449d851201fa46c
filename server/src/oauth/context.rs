//! What every authorization-server flow takes: the `Ctx` and the request `Params`.
use super::client_assertion::JwksCache;
use super::state::CimdCache;
use crate::auth::validator::TokenValidator;
use crate::config::Config;
use crate::error::OAuthError;
use crate::state::AppState;
use crate::store::Store;

/// What every flow needs: persistence, configuration, the bearer cache to invalidate after a
/// revocation, the current time (from the clock) and the caller's address (for the audit log).
pub struct Ctx<'a> {
    pub store: &'a Store,
    pub config: &'a Config,
    pub tokens: &'a TokenValidator,
    pub now: i64,
    pub ip: Option<String>,
    pub cimd: &'a CimdCache,
    /// Fetched JWK Sets of `private_key_jwt` clients.
    pub jwks: &'a JwksCache,
}

impl<'a> Ctx<'a> {
    pub fn new(state: &'a AppState, ip: Option<String>) -> Self {
        Self {
            store: &state.store,
            config: &state.config,
            tokens: &state.tokens,
            now: state.clock.now(),
            ip,
            cimd: &state.oauth.cimd,
            jwks: &state.oauth.jwks,
        }
    }
}

/// Request parameters (query or form) in arrival order. RFC 6749 §3.1/§3.2: a parameter must
/// not appear more than once, so [`Params::get`] refuses repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(encoded: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(encoded).into_owned().collect())
    }

    /// The value of `name`, if present once; empty values count as absent.
    pub fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut found = self.0.iter().filter(|(k, _)| k == name);
        let first = found.next();
        if found.next().is_some() {
            return Err(OAuthError::invalid_request(format!(
                "parameter {name} must not be repeated"
            )));
        }
        Ok(first.map(|(_, v)| v.as_str()).filter(|v| !v.is_empty()))
    }

    pub fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)?
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter {name}")))
    }

    /// How many times `name` appears (for RFC 8707's multiple `resource` values).
    pub fn count(&self, name: &str) -> usize {
        self.0.iter().filter(|(k, _)| k == name).count()
    }
}

/// A storage failure inside a flow: logged here, shown to the client only as `server_error`.
pub(crate) fn internal(e: impl std::fmt::Display) -> OAuthError {
    tracing::error!(error = %e, "authorization server storage error");
    OAuthError::new("server_error", "internal error")
}
