//! Authorization server metadata (RFC 8414 §2), served at `/.well-known/oauth-authorization-server`.
//!
//! `issuer` is the public origin, byte-equal to `authorization_servers[0]` of every workspace's
//! Protected Resource Metadata (quirk Q9). CIMD is advertised when `config.cimd.enabled` (the
//! default; `--no-cimd` turns it off), implemented by `cimd` (quirk Q13: never advertise what is
//! not implemented). DCR is always advertised.
use crate::config::Config;
use crate::config::SUPPORTED_SCOPES;
use serde_json::{Value, json};

pub const AUTHORIZE_PATH: &str = "/api/oauth/server/authorize";
pub const TOKEN_PATH: &str = "/api/oauth/server/token";
pub const REGISTER_PATH: &str = "/api/oauth/server/register";
pub const REVOKE_PATH: &str = "/api/oauth/server/revoke";
pub const INTROSPECT_PATH: &str = "/api/oauth/server/introspect";

pub const CLIENT_AUTH_METHODS: [&str; 3] = ["none", "client_secret_post", "client_secret_basic"];

/// The client authentication methods of the token, revocation and introspection endpoints:
/// DCR's three, plus `private_key_jwt` (RFC 7523 §2.2) for metadata-document clients while CIMD is
/// on.
pub fn endpoint_auth_methods(config: &Config) -> Vec<&'static str> {
    let mut methods = CLIENT_AUTH_METHODS.to_vec();
    if config.cimd.enabled {
        methods.push("private_key_jwt");
    }
    methods
}

pub fn authorization_server_metadata(config: &Config) -> Value {
    let iss = config.issuer();
    let methods = endpoint_auth_methods(config);
    let mut doc = json!({
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
        "token_endpoint_auth_methods_supported": methods,
        "revocation_endpoint_auth_methods_supported": methods,
        "introspection_endpoint_auth_methods_supported": methods,
        "scopes_supported": SUPPORTED_SCOPES,
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": config.cimd.enabled,
        "service_documentation": format!("{iss}/docs/oauth-reference"),
    });
    if config.cimd.enabled {
        let algs = super::client_assertion::SIGNING_ALGS;
        doc["token_endpoint_auth_signing_alg_values_supported"] = json!(algs);
        doc["revocation_endpoint_auth_signing_alg_values_supported"] = json!(algs);
        doc["introspection_endpoint_auth_signing_alg_values_supported"] = json!(algs);
    }
    doc
}
