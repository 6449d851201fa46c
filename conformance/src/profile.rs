//! Client profiles as data: what a given MCP host sends on the wire.
//!
//! `chatgpt` replays ChatGPT's connector client (discovery order, DCR body, callback URIs,
//! `state=oauth_s_<32 hex>`, `resource` verbatim from the metadata, User-Agent, `server/discover`
//! probe then `initialize` 2025-11-25 with its client info and capabilities). `claude` replays
//! claude.ai's connector client. `strict` is a spec-only public client.
//! Sources: ../shared/spec/chatgpt-connector-flow.md (confidence tags there).

use serde_json::{Value, json};

/// How the client picks its callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redirect {
    /// Always this URI.
    Fixed(&'static str),
    /// ChatGPT: the stable legacy URI when the AS supports RFC 9207 `iss`, otherwise a
    /// per-connector `https://chatgpt.com/connector/oauth/{callback_id}`.
    ChatGpt,
}

/// How `state` is minted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// `oauth_s_` + 32 hex.
    ChatGpt,
    /// 32 random bytes, base64url.
    Random,
}

#[derive(Clone, Copy, Debug)]
pub struct Profile {
    pub name: &'static str,
    pub user_agent: &'static str,
    pub client_name: &'static str,
    /// `token_endpoint_auth_method` requested at DCR.
    pub token_endpoint_auth_method: &'static str,
    /// Send `application_type` in the DCR body (MCP 2026-07-28 clients).
    pub application_type: Option<&'static str>,
    pub redirect: Redirect,
    pub state: State,
    /// Probe `server/discover` (2026-07-28) before falling back to `initialize`.
    pub discover_probe: bool,
    /// `protocolVersion` sent in `initialize` when `--spec auto`.
    pub initialize_version: &'static str,
    pub client_info_name: &'static str,
    pub client_info_version: &'static str,
    /// Check the deep-research `search`/`fetch` contract.
    pub search_fetch_contract: bool,
    /// With a harness-served metadata document: authenticate with `private_key_jwt` when the AS
    /// advertises it (ChatGPT's document offers it and ChatGPT prefers it, spec step 4b).
    pub cimd_private_key_jwt: bool,
}

pub const CHATGPT_LEGACY_REDIRECT: &str = "https://chatgpt.com/connector_platform_oauth_redirect";

pub const CHATGPT: Profile = Profile {
    name: "chatgpt",
    user_agent: "openai-mcp/1.0.0",
    client_name: "ChatGPT",
    token_endpoint_auth_method: "client_secret_post",
    application_type: None,
    redirect: Redirect::ChatGpt,
    state: State::ChatGpt,
    discover_probe: true,
    initialize_version: "2025-11-25",
    client_info_name: "openai-mcp",
    client_info_version: "1.0.0",
    search_fetch_contract: true,
    cimd_private_key_jwt: true,
};

pub const CLAUDE: Profile = Profile {
    name: "claude",
    user_agent: "Claude-User",
    client_name: "Claude",
    token_endpoint_auth_method: "client_secret_post",
    application_type: None,
    redirect: Redirect::Fixed("https://claude.ai/api/mcp/auth_callback"),
    state: State::Random,
    discover_probe: false,
    initialize_version: "2025-06-18",
    client_info_name: "claude-ai",
    client_info_version: "0.1.0",
    search_fetch_contract: false,
    cimd_private_key_jwt: false,
};

pub const STRICT: Profile = Profile {
    name: "strict",
    user_agent: concat!("gigamcp-conformance/", env!("CARGO_PKG_VERSION")),
    client_name: "gigamcp-conformance",
    token_endpoint_auth_method: "none",
    application_type: Some("native"),
    redirect: Redirect::Fixed("http://127.0.0.1:8976/callback"),
    state: State::Random,
    discover_probe: false,
    initialize_version: "2025-11-25",
    client_info_name: "gigamcp-conformance",
    client_info_version: env!("CARGO_PKG_VERSION"),
    search_fetch_contract: false,
    cimd_private_key_jwt: false,
};

pub const ALL: &[Profile] = &[CHATGPT, CLAUDE, STRICT];

pub fn by_name(name: &str) -> Option<Profile> {
    ALL.iter()
        .copied()
        .find(|p| p.name.eq_ignore_ascii_case(name))
}

impl Profile {
    /// The callback this client registers and uses.
    pub fn redirect_uri(&self, iss_supported: bool) -> String {
        match self.redirect {
            Redirect::Fixed(u) => u.to_string(),
            Redirect::ChatGpt if iss_supported => CHATGPT_LEGACY_REDIRECT.to_string(),
            Redirect::ChatGpt => format!(
                "https://chatgpt.com/connector/oauth/{}",
                crate::pkce::opaque(9)
            ),
        }
    }

    /// The exact DCR body this client sends (RFC 7591 §2). No `scope`, like the real clients.
    pub fn dcr_body(&self, redirect_uris: &[String]) -> Value {
        let mut b = json!({
            "client_name": self.client_name,
            "redirect_uris": redirect_uris,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
        });
        if let Some(t) = self.application_type {
            b["application_type"] = json!(t);
        }
        b
    }

    /// The Client ID Metadata Document this client publishes at `client_id`. ChatGPT's is the
    /// captured one (spec step 4b): singular `private_key_jwt`, plural list offering `none`.
    pub fn cimd_document(&self, client_id: &str, redirect_uris: &[String]) -> Value {
        match self.name {
            "chatgpt" => json!({
                "client_id": client_id,
                "client_uri": "https://chatgpt.com/",
                "redirect_uris": redirect_uris,
                "token_endpoint_auth_method": "private_key_jwt",
                "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "client_name": self.client_name,
                "logo_uri": "https://persistent.oaistatic.com/sonic/misc/openai-logo.png",
                "token_endpoint_auth_signing_alg": "RS256",
                "jwks_uri": "https://chatgpt.com/oauth/jwks.json"
            }),
            _ => json!({
                "client_id": client_id,
                "client_name": self.client_name,
                "redirect_uris": redirect_uris,
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none"
            }),
        }
    }

    pub fn new_state(&self) -> String {
        match self.state {
            State::ChatGpt => crate::pkce::chatgpt_state(),
            State::Random => crate::pkce::opaque(32),
        }
    }

    pub fn client_info(&self) -> Value {
        json!({"name": self.client_info_name, "version": self.client_info_version})
    }

    /// Client capabilities sent at `initialize` / in `_meta`.
    pub fn capabilities(&self) -> Value {
        match self.name {
            "chatgpt" => json!({
                "experimental": {"openai/visibility": {"enabled": true}},
                "extensions": {"io.modelcontextprotocol/ui": {"mimeTypes": ["text/html;profile=mcp-app"]}}
            }),
            _ => json!({}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatgpt_dcr_body_is_the_captured_one() {
        let b = CHATGPT.dcr_body(&[CHATGPT_LEGACY_REDIRECT.to_string()]);
        assert_eq!(
            b,
            json!({"client_name":"ChatGPT","redirect_uris":["https://chatgpt.com/connector_platform_oauth_redirect"],
                   "grant_types":["authorization_code","refresh_token"],"response_types":["code"],
                   "token_endpoint_auth_method":"client_secret_post"})
        );
        assert!(b.get("scope").is_none());
    }

    #[test]
    fn chatgpt_callback_depends_on_rfc9207() {
        assert_eq!(CHATGPT.redirect_uri(true), CHATGPT_LEGACY_REDIRECT);
        let per = CHATGPT.redirect_uri(false);
        let id = per
            .strip_prefix("https://chatgpt.com/connector/oauth/")
            .unwrap();
        assert!(
            id.len() == 12
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{per}"
        );
    }

    #[test]
    fn chatgpt_cimd_document_is_the_captured_shape() {
        let id = "https://chatgpt.com/oauth/client.json";
        let d = CHATGPT.cimd_document(id, &[CHATGPT_LEGACY_REDIRECT.to_string()]);
        assert_eq!(d["client_id"], id);
        assert_eq!(d["client_name"], "ChatGPT");
        assert_eq!(d["token_endpoint_auth_method"], "private_key_jwt");
        assert_eq!(
            d["token_endpoint_auth_methods_supported"],
            json!(["none", "private_key_jwt"])
        );
        assert_eq!(d["redirect_uris"], json!([CHATGPT_LEGACY_REDIRECT]));
        assert_eq!(
            STRICT.cimd_document(id, &[])["token_endpoint_auth_method"],
            "none"
        );
    }

    #[test]
    fn lookup() {
        assert_eq!(by_name("ChatGPT").unwrap().name, "chatgpt");
        assert!(by_name("gemini").is_none());
        assert_eq!(
            STRICT.dcr_body(&[]).get("application_type"),
            Some(&json!("native"))
        );
    }
}
