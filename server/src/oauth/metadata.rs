//! Authorization server metadata (RFC 8414 §2), served at `/.well-known/oauth-authorization-server`.
//!
//! `issuer` is the public origin, byte-equal to `authorization_servers[0]` of every workspace's
//! Protected Resource Metadata (quirk Q9). CIMD is advertised only when `config.cimd.enabled`
//! (it is then implemented by `cimd`; quirk Q13: never advertise what is not implemented). It is
//! off by default because ChatGPT prefers CIMD whenever it is advertised, and DCR is our tested
//! default path.
use crate::config::Config;
use crate::config::SUPPORTED_SCOPES;
use serde_json::{Value, json};

pub const AUTHORIZE_PATH: &str = "/api/oauth/server/authorize";
pub const TOKEN_PATH: &str = "/api/oauth/server/token";
pub const REGISTER_PATH: &str = "/api/oauth/server/register";
pub const REVOKE_PATH: &str = "/api/oauth/server/revoke";
pub const INTROSPECT_PATH: &str = "/api/oauth/server/introspect";

pub const CLIENT_AUTH_METHODS: [&str; 3] = ["none", "client_secret_post", "client_secret_basic"];

pub fn authorization_server_metadata(config: &Config) -> Value {
    let iss = config.issuer();
    json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{iss}{TOKEN_PATH}"),
        "registration_endpoint": format!("{iss}{REGISTER_PATH}"),
        "revocation_endpoint": format!("{iss}{REVOKE_PATH}"),
        "introspection_endpoint": format!("{iss}{INTROSPECT_PATH}"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "scopes_supported": SUPPORTED_SCOPES,
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": config.cimd.enabled,
        "service_documentation": format!("{iss}/docs/oauth-reference"),
    })
}
