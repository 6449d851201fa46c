//! Client profiles as data: what a given MCP host sends on the wire.
//!
//! Every profile replays one real client: how it gets a client id (its own Client ID Metadata
//! Document when the authorization server advertises support, else RFC 7591 DCR with its exact
//! body), its callback URIs, `state`, `resource` handling, User-Agent, and its `initialize`.
//! Each field carries its source (a public issue thread, the client's source code or its docs);
//! `../shared/spec/chatgpt-connector-flow.md` holds the captures and their confidence tags.
//! `strict` is a spec-only public client, the harness's own.
//!
//! A hosted client's callback (`https://chatgpt.com/…`) or a native app's private-use scheme
//! (`cursor://…`) cannot reach the harness: it reads the code from the `Location` header of the
//! redirect, exactly where the real client's browser would be sent.

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

/// How the client obtains its client id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientIdSource {
    /// RFC 7591 Dynamic Client Registration only.
    Dcr,
    /// Its own Client ID Metadata Document when the AS metadata advertises
    /// `client_id_metadata_document_supported: true` (and, with `needs_none`, lists `none` in
    /// `token_endpoint_auth_methods_supported`), DCR otherwise.
    CimdFirst { needs_none: bool },
}

/// The shape of the client's metadata document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CimdShape {
    /// ChatGPT's captured document: `private_key_jwt` singular, `none` in the plural list.
    ChatGpt,
    /// A public client's document (`token_endpoint_auth_method: none`) listing these redirect
    /// URIs (empty: the callback the client uses).
    Public(&'static [&'static str]),
}

#[derive(Clone, Copy, Debug)]
pub struct Profile {
    pub name: &'static str,
    /// The product the profile replays, for people ("Cursor", "VS Code (GitHub Copilot)").
    pub product: &'static str,
    pub user_agent: &'static str,
    pub client_name: &'static str,
    /// How it gets a client id.
    pub client_id_source: ClientIdSource,
    /// `token_endpoint_auth_method` requested at DCR.
    pub token_endpoint_auth_method: &'static str,
    /// Send `application_type` in the DCR body.
    pub application_type: Option<&'static str>,
    /// `client_uri` in the DCR body.
    pub client_uri: Option<&'static str>,
    /// DCR `grant_types`.
    pub grant_types: &'static [&'static str],
    /// Keep only the DCR `grant_types` the AS lists in `grant_types_supported` (VS Code).
    pub grant_types_from_as: bool,
    /// Put the scope it will request into the DCR body (VS Code, MCP Inspector).
    pub dcr_scope: bool,
    /// Every redirect URI of the DCR body, the callback it uses among them; empty = only the
    /// callback.
    pub dcr_redirect_uris: &'static [&'static str],
    pub redirect: Redirect,
    pub cimd: CimdShape,
    pub state: State,
    /// `resource` on authorize and token: the PRM `resource` verbatim (ChatGPT) rather than the
    /// URL as typed.
    pub resource_from_prm: bool,
    /// The browser `Origin` it calls the MCP endpoint from, if any.
    pub origin: Option<&'static str>,
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

const CODE_AND_REFRESH: &[&str] = &["authorization_code", "refresh_token"];

/// ChatGPT's connector client today. Sources: chatgpt-connector-flow.md steps 4a (DCR body:
/// django-oauth/django-oauth-toolkit#1845, Altinity/altinity-mcp#118), 4b (CIMD document,
/// `private_key_jwt`, "prioritizes CIMD when it is available": OpenAI Apps SDK "Authentication"),
/// 5 (`state=oauth_s_…`, `resource` verbatim from PRM: curityio/mcp-authorization-secured-api
/// `DEPLOYMENT.md`), 7 (`openai-mcp/1.0.0` User-Agent and clientInfo, `server/discover` probe,
/// capabilities: HarperFast/oauth#244 and the "Update, late 2026" captures).
pub const CHATGPT: Profile = Profile {
    name: "chatgpt",
    product: "ChatGPT",
    user_agent: "openai-mcp/1.0.0",
    client_name: "ChatGPT",
    client_id_source: ClientIdSource::CimdFirst { needs_none: false },
    token_endpoint_auth_method: "client_secret_post",
    application_type: None,
    client_uri: None,
    grant_types: CODE_AND_REFRESH,
    grant_types_from_as: false,
    dcr_scope: false,
    dcr_redirect_uris: &[],
    redirect: Redirect::ChatGpt,
    cimd: CimdShape::ChatGpt,
    state: State::ChatGpt,
    resource_from_prm: true,
    origin: Some("https://chatgpt.com"),
    discover_probe: true,
    initialize_version: "2025-11-25",
    client_info_name: "openai-mcp",
    client_info_version: "1.0.0",
    search_fetch_contract: true,
    cimd_private_key_jwt: true,
};

/// ChatGPT when the app creator picks DCR although CIMD is offered ("the app creator can choose
/// DCR when both CIMD and DCR are available": OpenAI Apps SDK "Authentication"), or against an
/// AS without CIMD. Same sources as [`CHATGPT`], step 4a.
pub const CHATGPT_DCR: Profile = Profile {
    name: "chatgpt-dcr",
    client_id_source: ClientIdSource::Dcr,
    ..CHATGPT
};

/// claude.ai (and Claude Desktop, whose connectors run in claude.ai's backend). Sources:
/// chatgpt-connector-flow.md "Claude … for comparison": callback and client name (Anthropic help
/// article 11503834, claude.com/docs/connectors/building/authentication), CIMD only when the AS
/// lists `none` (same page), DCR body with `client_secret_post` (appstrate/appstrate#1267,
/// garrytan/gbrain#746), `Claude-User` User-Agent (anthropics/claude-ai-mcp#653, #836), resource
/// = the URL as typed (claude.com authentication page). clientInfo `claude-ai` and protocol
/// 2025-06-18: server logs quoted in anthropics/claude-ai-mcp#228.
pub const CLAUDE: Profile = Profile {
    name: "claude",
    product: "Claude (claude.ai, Desktop)",
    user_agent: "Claude-User",
    client_name: "Claude",
    client_id_source: ClientIdSource::CimdFirst { needs_none: true },
    token_endpoint_auth_method: "client_secret_post",
    application_type: None,
    client_uri: None,
    grant_types: CODE_AND_REFRESH,
    grant_types_from_as: false,
    dcr_scope: false,
    dcr_redirect_uris: &[],
    redirect: Redirect::Fixed("https://claude.ai/api/mcp/auth_callback"),
    cimd: CimdShape::Public(&[]),
    state: State::Random,
    resource_from_prm: false,
    origin: None,
    discover_probe: false,
    initialize_version: "2025-06-18",
    client_info_name: "claude-ai",
    client_info_version: "0.1.0",
    search_fetch_contract: false,
    cimd_private_key_jwt: false,
};

/// claude.ai against an AS without CIMD (or without `none`): DCR with the same body.
pub const CLAUDE_DCR: Profile = Profile {
    name: "claude-dcr",
    client_id_source: ClientIdSource::Dcr,
    ..CLAUDE
};

/// Claude Code (the CLI, and the desktop app's Code tab). CIMD
/// `https://claude.ai/oauth/claude-code-client-metadata` whose document lists
/// `http://localhost/callback` and `http://127.0.0.1/callback` (a public client; the port it
/// listens on is its own choice, so the AS must ignore loopback ports, RFC 8252 §7.3):
/// chatgpt-connector-flow.md "Claude Code" row, and the document as read on 2026-08-20 quoted in
/// a public integration write-up. The harness cannot serve claude.ai's URL: against a local
/// target it serves the same document at its own loopback URL; elsewhere it registers with Claude
/// Code's DCR body (`client_name` "Claude Code", one `http://localhost:<port>/callback`,
/// `token_endpoint_auth_method: none`, no `scope`: appstrate/appstrate#1267 and server tests
/// replaying it). clientInfo `claude-code` 2.1.x proposing 2025-11-25: probes quoted in public
/// write-ups (Claude Code 2.1.261). User-Agent `claude-code/<version>`: the CLI's HTTP client.
pub const CLAUDE_CODE: Profile = Profile {
    name: "claude-code",
    product: "Claude Code",
    user_agent: "claude-code/2.1.261",
    client_name: "Claude Code",
    client_id_source: ClientIdSource::CimdFirst { needs_none: true },
    token_endpoint_auth_method: "none",
    application_type: None,
    client_uri: None,
    grant_types: CODE_AND_REFRESH,
    grant_types_from_as: false,
    dcr_scope: false,
    dcr_redirect_uris: &[],
    redirect: Redirect::Fixed("http://localhost:54212/callback"),
    cimd: CimdShape::Public(&["http://localhost/callback", "http://127.0.0.1/callback"]),
    state: State::Random,
    resource_from_prm: false,
    origin: None,
    discover_probe: false,
    initialize_version: "2025-11-25",
    client_info_name: "claude-code",
    client_info_version: "2.1.261",
    search_fetch_contract: false,
    cimd_private_key_jwt: false,
};

pub const CURSOR_SCHEME_REDIRECT: &str = "cursor://anysphere.cursor-mcp/oauth/callback";

/// Cursor (desktop). DCR only, one request with three redirect URIs (the desktop app's
/// private-use scheme, the hosted agents' callback, a loopback one) as a public client:
/// erp-mafia/accounted#2225, different-ai/openwork#3059, Altinity/altinity-mcp#169
/// (chatgpt-connector-flow.md "Update, late 2026"). The desktop app uses its `cursor://`
/// callback. clientInfo `cursor-vscode` 1.0.0 proposing 2025-11-25: Cursor's `initialize` as
/// logged in public server write-ups. Cursor's User-Agent is not in a public capture: the harness
/// sends `Cursor/1.0` (a placeholder, not graded anywhere).
pub const CURSOR: Profile = Profile {
    name: "cursor",
    product: "Cursor",
    user_agent: "Cursor/1.0",
    client_name: "Cursor",
    client_id_source: ClientIdSource::Dcr,
    token_endpoint_auth_method: "none",
    application_type: None,
    client_uri: None,
    grant_types: CODE_AND_REFRESH,
    grant_types_from_as: false,
    dcr_scope: false,
    dcr_redirect_uris: &[
        CURSOR_SCHEME_REDIRECT,
        "https://www.cursor.com/agents/mcp/oauth/callback",
        "http://localhost:8787/callback",
    ],
    redirect: Redirect::Fixed(CURSOR_SCHEME_REDIRECT),
    cimd: CimdShape::Public(&[]),
    state: State::Random,
    resource_from_prm: false,
    origin: None,
    discover_probe: false,
    initialize_version: "2025-11-25",
    client_info_name: "cursor-vscode",
    client_info_version: "1.0.0",
    search_fetch_contract: false,
    cimd_private_key_jwt: false,
};

/// VS Code (GitHub Copilot agent mode). microsoft/vscode `src/vs/base/common/oauth.ts`
/// `fetchDynamicRegistration`: `client_name` "Visual Studio Code", `client_uri`
/// `https://code.visualstudio.com`, `grant_types` = AS `grant_types_supported` ∩
/// {authorization_code, refresh_token, device_code}, redirect URIs
/// `https://insiders.vscode.dev/redirect`, `https://vscode.dev/redirect`, `http://127.0.0.1/`
/// and `http://127.0.0.1:33418/` (`DEFAULT_AUTH_FLOW_PORT`), `scope` = the scopes it asks for,
/// `token_endpoint_auth_method: none`, `application_type: native`. The desktop flow listens on
/// the loopback port 33418 (same file). The Node fetch it uses sends `node` as User-Agent.
/// clientInfo "Visual Studio Code" and protocol 2025-11-25: its MCP client
/// (`src/vs/workbench/contrib/mcp`).
pub const VSCODE: Profile = Profile {
    name: "vscode",
    product: "VS Code (GitHub Copilot)",
    user_agent: "node",
    client_name: "Visual Studio Code",
    client_id_source: ClientIdSource::Dcr,
    token_endpoint_auth_method: "none",
    application_type: Some("native"),
    client_uri: Some("https://code.visualstudio.com"),
    grant_types: &[
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:device_code",
    ],
    grant_types_from_as: true,
    dcr_scope: true,
    dcr_redirect_uris: &[
        "https://insiders.vscode.dev/redirect",
        "https://vscode.dev/redirect",
        "http://127.0.0.1/",
        "http://127.0.0.1:33418/",
    ],
    redirect: Redirect::Fixed("http://127.0.0.1:33418/"),
    cimd: CimdShape::Public(&[]),
    state: State::Random,
    resource_from_prm: false,
    origin: None,
    discover_probe: false,
    initialize_version: "2025-11-25",
    client_info_name: "Visual Studio Code",
    client_info_version: "1.107.0",
    search_fetch_contract: false,
    cimd_private_key_jwt: false,
};

/// MCP Inspector (`npx @modelcontextprotocol/inspector`), through the TypeScript SDK's OAuth
/// client. modelcontextprotocol/inspector `client/src/lib/auth.ts` `clientMetadata`:
/// `redirect_uris` [origin + `/oauth/callback`] (default port 6274), public client,
/// `grant_types` code + refresh, `client_name` "MCP Inspector", `client_uri`
/// `https://github.com/modelcontextprotocol/inspector`, `scope` (the scope it will ask for).
/// It runs in the browser (User-Agent: the browser's; the harness sends a Chromium-like one).
/// clientInfo `mcp-inspector`, protocol: the SDK's latest (2025-11-25).
pub const MCP_INSPECTOR: Profile = Profile {
    name: "mcp-inspector",
    product: "MCP Inspector",
    user_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36",
    client_name: "MCP Inspector",
    client_id_source: ClientIdSource::Dcr,
    token_endpoint_auth_method: "none",
    application_type: None,
    client_uri: Some("https://github.com/modelcontextprotocol/inspector"),
    grant_types: CODE_AND_REFRESH,
    grant_types_from_as: false,
    dcr_scope: true,
    dcr_redirect_uris: &[],
    redirect: Redirect::Fixed("http://localhost:6274/oauth/callback"),
    cimd: CimdShape::Public(&[]),
    state: State::Random,
    resource_from_prm: false,
    origin: Some("http://localhost:6274"),
    discover_probe: false,
    initialize_version: "2025-11-25",
    client_info_name: "mcp-inspector",
    client_info_version: "0.17.0",
    search_fetch_contract: false,
    cimd_private_key_jwt: false,
};

/// A spec-only public client (MCP 2026-07-28 DCR with `application_type`), the harness's own.
pub const STRICT: Profile = Profile {
    name: "strict",
    product: "spec-only client",
    user_agent: concat!("gigamcp-conformance/", env!("CARGO_PKG_VERSION")),
    client_name: "gigamcp-conformance",
    client_id_source: ClientIdSource::Dcr,
    token_endpoint_auth_method: "none",
    application_type: Some("native"),
    client_uri: None,
    grant_types: CODE_AND_REFRESH,
    grant_types_from_as: false,
    dcr_scope: false,
    dcr_redirect_uris: &[],
    redirect: Redirect::Fixed("http://127.0.0.1:8976/callback"),
    cimd: CimdShape::Public(&[]),
    state: State::Random,
    resource_from_prm: false,
    origin: None,
    discover_probe: false,
    initialize_version: "2025-11-25",
    client_info_name: "gigamcp-conformance",
    client_info_version: env!("CARGO_PKG_VERSION"),
    search_fetch_contract: false,
    cimd_private_key_jwt: false,
};

pub const ALL: &[Profile] = &[
    CHATGPT,
    CHATGPT_DCR,
    CLAUDE,
    CLAUDE_DCR,
    CLAUDE_CODE,
    CURSOR,
    VSCODE,
    MCP_INSPECTOR,
    STRICT,
];

/// The names, for usage messages.
pub fn names() -> String {
    ALL.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}

pub fn by_name(name: &str) -> Option<Profile> {
    ALL.iter()
        .copied()
        .find(|p| p.name.eq_ignore_ascii_case(name))
}

/// What the DCR body depends on besides the profile.
#[derive(Clone, Debug, Default)]
pub struct DcrInput<'a> {
    pub redirect_uris: &'a [String],
    /// The scope the client will request (sent by profiles with `dcr_scope`).
    pub scope: Option<&'a str>,
    /// The AS's `grant_types_supported`, if it lists them.
    pub as_grant_types: Option<&'a [String]>,
}

impl Profile {
    /// The callback this client uses.
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

    /// Every redirect URI its DCR body lists for `callback` (the callback first if the client's
    /// list does not have it).
    pub fn dcr_redirect_uris(&self, callback: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .dcr_redirect_uris
            .iter()
            .map(|s| s.to_string())
            .collect();
        if !v.iter().any(|u| u == callback) {
            v.insert(0, callback.to_string());
        }
        v
    }

    /// The exact DCR body this client sends (RFC 7591 §2) with these redirect URIs.
    pub fn dcr_body(&self, redirect_uris: &[String]) -> Value {
        self.dcr_body_for(&DcrInput {
            redirect_uris,
            ..DcrInput::default()
        })
    }

    /// The exact DCR body, with the scope and the AS's grant types where the client uses them.
    pub fn dcr_body_for(&self, input: &DcrInput<'_>) -> Value {
        let grants: Vec<&str> = match (self.grant_types_from_as, input.as_grant_types) {
            (true, Some(listed)) => self
                .grant_types
                .iter()
                .copied()
                .filter(|g| listed.iter().any(|l| l == g))
                .collect(),
            _ => self.grant_types.to_vec(),
        };
        let mut b = json!({
            "client_name": self.client_name,
            "redirect_uris": input.redirect_uris,
            "grant_types": grants,
            "response_types": ["code"],
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
        });
        if let Some(u) = self.client_uri {
            b["client_uri"] = json!(u);
        }
        if let Some(t) = self.application_type {
            b["application_type"] = json!(t);
        }
        if self.dcr_scope {
            b["scope"] = json!(input.scope.unwrap_or_default());
        }
        b
    }

    /// The Client ID Metadata Document this client publishes at `client_id`. ChatGPT's is the
    /// captured one (spec step 4b): singular `private_key_jwt`, plural list offering `none`.
    pub fn cimd_document(&self, client_id: &str, redirect_uris: &[String]) -> Value {
        match self.cimd {
            CimdShape::ChatGpt => json!({
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
            CimdShape::Public(listed) => {
                let uris: Vec<String> = if listed.is_empty() {
                    redirect_uris.to_vec()
                } else {
                    listed.iter().map(|s| s.to_string()).collect()
                };
                json!({
                    "client_id": client_id,
                    "client_name": self.client_name,
                    "redirect_uris": uris,
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none"
                })
            }
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
        match self.cimd {
            CimdShape::ChatGpt => json!({
                "experimental": {"openai/visibility": {"enabled": true}},
                "extensions": {"io.modelcontextprotocol/ui": {"mimeTypes": ["text/html;profile=mcp-app"]}}
            }),
            CimdShape::Public(_) => json!({}),
        }
    }

    /// Is `uri` a private-use scheme redirect (RFC 8252 §7.1), i.e. neither http(s)?
    pub fn is_private_use(uri: &str) -> bool {
        url::Url::parse(uri).is_ok_and(|u| !matches!(u.scheme(), "http" | "https"))
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
    fn cursor_dcr_body_is_the_reported_three_uri_request() {
        let uris = CURSOR.dcr_redirect_uris(&CURSOR.redirect_uri(true));
        assert_eq!(
            CURSOR.dcr_body(&uris),
            json!({"client_name":"Cursor","redirect_uris":["cursor://anysphere.cursor-mcp/oauth/callback",
                   "https://www.cursor.com/agents/mcp/oauth/callback","http://localhost:8787/callback"],
                   "grant_types":["authorization_code","refresh_token"],"response_types":["code"],
                   "token_endpoint_auth_method":"none"})
        );
        assert!(Profile::is_private_use(&uris[0]) && !Profile::is_private_use(&uris[1]));
    }

    #[test]
    fn claude_code_document_lists_port_less_loopback_callbacks() {
        let d = CLAUDE_CODE.cimd_document("http://127.0.0.1:1/oauth/client.json", &[]);
        assert_eq!(
            d["redirect_uris"],
            json!(["http://localhost/callback", "http://127.0.0.1/callback"])
        );
        assert_eq!(d["token_endpoint_auth_method"], "none");
        assert_eq!(
            CLAUDE_CODE.client_id_source,
            ClientIdSource::CimdFirst { needs_none: true }
        );
    }

    #[test]
    fn every_profile_has_a_unique_name_and_dcr_twins_differ_only_in_registration() {
        let mut names: Vec<_> = ALL.iter().map(|p| p.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert_eq!(CHATGPT_DCR.client_id_source, ClientIdSource::Dcr);
        assert_eq!(CHATGPT_DCR.dcr_body(&[]), CHATGPT.dcr_body(&[]));
        assert_eq!(CLAUDE_DCR.redirect, CLAUDE.redirect);
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
