//! Runtime configuration shared by every part of the server.
use std::path::PathBuf;

/// Default scopes granted when a client asks for none, and advertised in challenges.
pub const DEFAULT_SCOPES: &str = "mcp:read mcp:tools";
/// Every scope this server knows.
pub const SUPPORTED_SCOPES: [&str; 2] = ["mcp:read", "mcp:tools"];

#[derive(Debug, Clone)]
pub struct Config {
    /// Externally visible origin, e.g. `https://mcp.example.com` (no path, no trailing slash).
    /// It is the OAuth issuer and the base of every URL in metadata and challenges.
    pub public_url: String,
    pub data_dir: PathBuf,
    /// Origins allowed to call the MCP endpoint from a browser (the public origin is always allowed).
    pub allowed_origins: Vec<String>,
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub auth_code_ttl: i64,
    /// Seconds a rotated refresh token still works (for clients that lost the response).
    pub refresh_grace: i64,
    /// Seconds within which a repeated redemption of a code by the same client, with a valid
    /// verifier and the same redirect URI, is a retry (ChatGPT quirk Q25): refused, nothing revoked.
    pub duplicate_code_window: i64,
    /// Largest accepted request body on API paths.
    pub max_body_bytes: usize,
    pub github_api_url: String,
    pub github_token: Option<String>,
    /// Seconds a validated bearer token may be served from the in-memory cache before the store is
    /// asked again; other processes' revocations reach this one within `auth_epoch_poll_ms`.
    pub token_cache_ttl: i64,
    pub auth_epoch_poll_ms: u64,
    /// Enable RFC 7591 registration rate limit (registrations per IP per minute).
    pub registration_rate_per_minute: u32,
    /// Client ID Metadata Documents (URL client ids); on by default (`--no-cimd`).
    pub cimd: CimdPolicy,
    /// Audit entries older than this many days are deleted in the background (0: kept forever).
    pub audit_retention_days: i64,
    /// Seconds between two retention passes.
    pub retention_interval_secs: u64,
    /// Client ID Metadata Document fetches allowed per client address per minute.
    pub cimd_fetch_rate_per_minute: u32,
    /// Operator additions to the redirect URI policy (`--allow-redirect-scheme/-uri`).
    pub redirect: RedirectPolicy,
    /// Reverse proxies whose forwarding header names the client (`--trusted-proxy`).
    pub trusted_proxies: crate::net::client_addr::TrustedProxies,
    /// Where the knowledge search indexes live.
    pub knowledge_index: KnowledgeIndex,
}

/// Where a process keeps its knowledge search indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum KnowledgeIndex {
    /// Built from the store at start-up, in RAM (tests, and the default of [`Config::new`]).
    #[default]
    Memory,
    /// On disk under this directory (`serve` uses `<data dir>/index`), memory-mapped, reopened
    /// at start-up when its stamp matches the store, updated incrementally from the change log.
    Disk(PathBuf),
    /// No index at all: admin commands only write the store (the servers' refreshers index).
    Off,
}

/// Whether URL-shaped client ids (Client ID Metadata Documents) are accepted. On by default:
/// ChatGPT, claude.ai, Claude Code and VS Code identify themselves with a metadata document
/// whenever it is advertised, and fall back to DCR otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CimdPolicy {
    pub enabled: bool,
    /// Tests only: also fetch documents from `http://127.0.0.1` (loopback is otherwise refused).
    pub allow_http_loopback: bool,
}

/// Operator additions to the redirect URI policy (`oauth::redirect`): `--allow-redirect-scheme`,
/// `--allow-redirect-uri`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedirectPolicy {
    /// Extra private-use schemes (lower case), for public clients.
    pub schemes: Vec<String>,
    /// Exact URIs accepted for any client (still never a forbidden scheme or a fragment).
    pub uris: Vec<String>,
}

impl Default for CimdPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            allow_http_loopback: false,
        }
    }
}

impl Config {
    /// A configuration for `public_url` with production defaults.
    pub fn new(public_url: &str, data_dir: PathBuf) -> anyhow::Result<Self> {
        let public_url = normalize_origin(public_url)?;
        Ok(Self {
            public_url,
            data_dir,
            allowed_origins: vec![
                "https://chatgpt.com".into(),
                "https://chat.openai.com".into(),
                "https://claude.ai".into(),
                "https://claude.com".into(),
            ],
            access_token_ttl: 3600,
            refresh_token_ttl: 30 * 24 * 3600,
            auth_code_ttl: 60,
            refresh_grace: 30,
            duplicate_code_window: 5,
            max_body_bytes: 1024 * 1024,
            github_api_url: "https://api.github.com".into(),
            github_token: None,
            token_cache_ttl: 30,
            auth_epoch_poll_ms: 1000,
            registration_rate_per_minute: 20,
            cimd: CimdPolicy::default(),
            audit_retention_days: 90,
            retention_interval_secs: 3600,
            cimd_fetch_rate_per_minute: 10,
            redirect: Default::default(),
            trusted_proxies: Default::default(),
            knowledge_index: KnowledgeIndex::default(),
        })
    }

    /// The OAuth issuer: the public origin, byte-equal everywhere it appears.
    pub fn issuer(&self) -> &str {
        &self.public_url
    }

    /// Canonical MCP URL of a workspace: the RFC 8707 resource and token audience.
    pub fn mcp_url(&self, slug: &str) -> String {
        format!("{}/t/{slug}/mcp", self.public_url)
    }

    /// RFC 9728 path-inserted protected resource metadata URL of a workspace.
    pub fn prm_url(&self, slug: &str) -> String {
        format!(
            "{}/.well-known/oauth-protected-resource/t/{slug}/mcp",
            self.public_url
        )
    }

    /// The workspace slug a resource URL designates, if it is exactly one of our MCP URLs.
    pub fn slug_for_resource<'a>(&self, resource: &'a str) -> Option<&'a str> {
        let rest = resource.strip_prefix(self.public_url.as_str())?;
        let slug = rest.strip_prefix("/t/")?.strip_suffix("/mcp")?;
        crate::names::valid_slug(slug).then_some(slug)
    }

    /// Whether `origin` (an `Origin` header value) may call the MCP endpoint.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        origin == self.public_url || self.allowed_origins.iter().any(|o| o == origin)
    }

    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// Accepts `https://host[:port]` (or `http://` for loopback/dev) and returns it without a
/// trailing slash; anything with a path, query or fragment is refused.
pub fn normalize_origin(input: &str) -> anyhow::Result<String> {
    let url =
        url::Url::parse(input).map_err(|e| anyhow::anyhow!("invalid public URL {input:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        anyhow::bail!("public URL must be http(s): {input}");
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        anyhow::bail!("public URL must be an origin without path, query or fragment: {input}");
    }
    if url.host_str().is_none() {
        anyhow::bail!("public URL needs a host: {input}");
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_resources() {
        let c = Config::new("https://MCP.example.com/", "/tmp".into()).unwrap();
        assert_eq!(c.issuer(), "https://mcp.example.com");
        assert_eq!(c.mcp_url("acme"), "https://mcp.example.com/t/acme/mcp");
        assert_eq!(
            c.prm_url("acme"),
            "https://mcp.example.com/.well-known/oauth-protected-resource/t/acme/mcp"
        );
        assert_eq!(
            c.slug_for_resource("https://mcp.example.com/t/acme/mcp"),
            Some("acme")
        );
        assert_eq!(
            c.slug_for_resource("https://mcp.example.com/t/acme/mcp/"),
            None
        );
        assert_eq!(
            c.slug_for_resource("https://evil.example.com/t/acme/mcp"),
            None
        );
        assert_eq!(
            c.slug_for_resource("https://mcp.example.com/t/a/b/mcp"),
            None
        );
        assert_eq!(
            c.slug_for_resource("https://mcp.example.com/t/acme/mcp?x=1"),
            None
        );
        for url in [
            "https://mcp.example.com/t/acme/mcp",
            "https://mcp.example.com/t/acme/mcp/",
            "https://mcp.example.com/t/acme/mcp/mcp",
            "https://mcp.example.com/t/acm/mcp",
            "https://mcp.example.com/t/acmee/mcp",
            "https://mcp.example.com/t/acme/mc",
            "https://mcp.example.com/t//mcp",
            "https://mcp.example.com/t/acme",
            "https://mcp.example.com:443/t/acme/mcp",
            "https://evil.example.com/t/acme/mcp",
            "https://mcp.example.comt/acme/mcp",
            "",
        ] {
            for slug in ["acme", "acm", "acme/mcp", ""] {
                // The bearer check's audience test, without building the URL: for a valid slug
                // (a workspace's), the same as comparing with `mcp_url`.
                assert_eq!(
                    c.slug_for_resource(url) == Some(slug),
                    url == c.mcp_url(slug) && crate::names::valid_slug(slug),
                    "{url:?} {slug:?}"
                );
            }
        }
        assert_eq!(
            c.slug_for_resource("https://mcp.example.com/t/acme/mcp"),
            Some("acme")
        );
        assert!(normalize_origin("https://x.example/path").is_err());
        assert!(normalize_origin("ftp://x.example").is_err());
        assert_eq!(
            normalize_origin("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(c.origin_allowed("https://chatgpt.com"));
        assert!(c.origin_allowed("https://mcp.example.com"));
        assert!(!c.origin_allowed("https://evil.example"));
    }
}
