//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-00; MCP 2025-11-25
//! "Client ID Metadata Documents"): a `client_id` that is an https URL names a JSON document the
//! client hosts; the authorization server fetches it at the authorization endpoint.
//!
//! * The URL must be canonical https with a path, no fragment, userinfo or dot segments
//!   (`http://127.0.0.1` only with [`CimdPolicy::allow_http_loopback`], for tests).
//! * SSRF: the host is resolved here and the fetch is pinned to the checked address; private,
//!   loopback, link-local, unspecified and multicast addresses are refused. No redirects, 5 s,
//!   at most 5 KB, `Accept: application/json`.
//! * The document must be JSON with `client_id` byte-equal to the URL, `client_name` and
//!   `redirect_uris` (each acceptable at registration). Authentication is negotiated on the
//!   plural `token_endpoint_auth_methods_supported` (quirk Q14: ChatGPT's singular method is
//!   `private_key_jwt`, its list offers `none`); `none` and `private_key_jwt` (keys from the
//!   document's `jwks_uri`, see `client_assertion`) are supported.
//! * Documents are cached in memory per `Cache-Control: max-age` (capped at 24 h, default 5 min).
//!   The client row (kind `cimd`) is created only when a signed-in user's decision issues it a
//!   code, and refreshed by later fetches, so grants and Connected apps work as for registered
//!   clients while documents nobody approved leave no row.
//! * Fetches are limited per client address (`cimd_fetch_rate_per_minute`, counted in the
//!   database) and bounded in flight ([`MAX_CONCURRENT_FETCHES`]); JWK Set fetches for
//!   `private_key_jwt` go through the same fetcher and the same in-flight bound.
use super::client_keys::KeySource;
use super::context::{Ctx, internal};
use super::register::string_list;
use super::{audit, redirect};
use crate::config::CimdPolicy;
use crate::error::OAuthError;
use crate::store::audit::AuditEntry;
use crate::store::counters::Reservation;
use crate::store::oauth::ClientRecord;
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use url::Url;

pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_TTL: i64 = 300;
pub const MAX_TTL: i64 = 24 * 3600;
const MAX_REDIRECT_URIS: usize = 20;
const MAX_NAME: usize = 200;

/// Whether a `client_id` is URL-shaped (and so, if anything, a CIMD client id).
pub fn is_url_client_id(client_id: &str) -> bool {
    let lower = client_id.get(..8).unwrap_or("").to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// Checks the shape of a CIMD client id; `Err` says why it is refused.
pub fn validate_client_id_url(client_id: &str, policy: &CimdPolicy) -> Result<Url, String> {
    if client_id.len() > crate::limits::MAX_URI {
        return Err(format!(
            "a client ID metadata document URL must be at most {} bytes",
            crate::limits::MAX_URI
        ));
    }
    let url = Url::parse(client_id).map_err(|e| format!("not a valid URL ({e})"))?;
    let loopback_http =
        policy.allow_http_loopback && url.scheme() == "http" && url.host_str() == Some("127.0.0.1");
    if url.scheme() != "https" && !loopback_http {
        return Err("a client ID metadata document URL must use https".into());
    }
    if url.fragment().is_some() || client_id.contains('#') {
        return Err("a client ID metadata document URL must not contain a fragment".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a client ID metadata document URL must not contain userinfo".into());
    }
    let raw_path = client_id
        .split_once("://")
        .map(|(_, rest)| rest)
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("");
    let raw_path = raw_path.split(['?', '#']).next().unwrap_or("");
    if raw_path.split('/').any(|s| {
        matches!(
            s.to_ascii_lowercase().as_str(),
            "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e."
        )
    }) {
        return Err("a client ID metadata document URL must not contain dot segments".into());
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err("a client ID metadata document URL must have a path".into());
    }
    if url.as_str() != client_id {
        return Err(format!(
            "a client ID metadata document URL must be in canonical form ({})",
            url.as_str()
        ));
    }
    Ok(url)
}

/// Whether an address may be fetched: globally routable unicast only
/// ([`crate::net::outbound::is_global_address`]); loopback too when allowed (tests only).
pub fn address_allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    let loopback = match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    };
    (allow_loopback && loopback) || crate::net::outbound::is_global_address(ip)
}

/// The lifetime `Cache-Control` grants, capped at 24 h; 5 min by default; 0 for no-store/no-cache.
pub fn cache_ttl(cache_control: Option<&str>) -> i64 {
    let Some(cc) = cache_control else {
        return DEFAULT_TTL;
    };
    let mut ttl = None;
    for directive in cc.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" || lower == "private" {
            return 0;
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            ttl = v.trim_matches('"').parse::<i64>().ok();
        }
    }
    ttl.map_or(DEFAULT_TTL, |t| t.clamp(0, MAX_TTL))
}

pub use super::state::MAX_CONCURRENT_FETCHES;

/// Why resolving a CIMD client failed: shown on the authorize error page, or `invalid_client`.
#[derive(Debug)]
pub enum CimdError {
    Refused(String),
    /// Too many fetches from this address (429) or in flight (`busy`, 503); retry later.
    Later {
        busy: bool,
        retry_after: i64,
        text: String,
    },
    Internal(OAuthError),
}

fn refused(s: impl Into<String>) -> CimdError {
    CimdError::Refused(s.into())
}

/// Fetches, validates, caches and persists the client a CIMD `client_id` names.
pub async fn resolve(ctx: &Ctx<'_>, client_id: &str) -> Result<ClientRecord, CimdError> {
    let policy = &ctx.config.cimd;
    if !policy.enabled {
        return Err(refused(format!(
            "This server does not accept URL client IDs (Client ID Metadata Documents are not enabled), so the application {client_id:?} cannot be used. \
             Ask its developer to use dynamic client registration."
        )));
    }
    let url = validate_client_id_url(client_id, policy).map_err(|why| {
        refused(format!(
            "The client ID {client_id:?} is not acceptable: {why}."
        ))
    })?;
    if let Some(rec) = ctx.cimd.get(client_id, ctx.now) {
        return Ok(rec);
    }
    let _permit = admit_fetch(ctx).await?;
    let (body, ttl) = fetch(&url, policy).await.map_err(|why| {
        refused(format!(
            "The client ID metadata document at {client_id} could not be fetched: {why}."
        ))
    })?;
    let rec = parse_document(client_id, &body, ctx.now).map_err(|why| {
        refused(format!(
            "The client ID metadata document at {client_id} is not acceptable: {why}."
        ))
    })?;
    refresh_existing(ctx, &rec)
        .await
        .map_err(CimdError::Internal)?;
    if ttl > 0 {
        ctx.cimd.put(&rec, ctx.now, ctx.now + ttl);
    }
    Ok(rec)
}

/// Admission to one outbound fetch (a metadata document, or a `private_key_jwt` client's JWK
/// Set): fetching is work a stranger can trigger, so a per-address limit counted in the database
/// (every replica) and a bound on fetches in flight in this process. The permit is held for the
/// fetch.
pub(super) async fn admit_fetch<'c>(
    ctx: &'c Ctx<'_>,
) -> Result<tokio::sync::SemaphorePermit<'c>, CimdError> {
    let subject = format!("cimd:ip:{}", ctx.ip.as_deref().unwrap_or("unknown"));
    let limit = i64::from(ctx.config.cimd_fetch_rate_per_minute.max(1));
    if let Reservation::Refused { retry_after, .. } = ctx
        .store
        .reserve(&subject, ctx.now, 60, limit)
        .await
        .map_err(|e| CimdError::Internal(internal(e)))?
    {
        return Err(CimdError::Later {
            busy: false,
            retry_after,
            text: "Too many client metadata documents or keys were fetched for your address; try again later.".into(),
        });
    }
    ctx.oauth
        .cimd_fetches
        .try_acquire()
        .map_err(|_| CimdError::Later {
            busy: true,
            retry_after: 1,
            text: "The server is fetching other client metadata documents or keys right now; try again in a moment.".into(),
        })
}

pub(super) async fn fetch(url: &Url, policy: &CimdPolicy) -> Result<(Vec<u8>, i64), String> {
    let host = url.host_str().ok_or("the URL has no host")?.to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let lookup_host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let addrs: Vec<SocketAddr> = tokio::time::timeout(
        FETCH_TIMEOUT,
        tokio::net::lookup_host((lookup_host.as_str(), port)),
    )
    .await
    .map_err(|_| "resolving the host timed out".to_string())?
    .map_err(|e| format!("the host does not resolve ({e})"))?
    .collect();
    if addrs.is_empty() {
        return Err("the host does not resolve".into());
    }
    if let Some(bad) = addrs
        .iter()
        .find(|a| !address_allowed(a.ip(), policy.allow_http_loopback))
    {
        return Err(format!(
            "the host resolves to a non-public address ({}), which this server refuses to fetch",
            bad.ip()
        ));
    }
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(FETCH_TIMEOUT)
        .connect_timeout(FETCH_TIMEOUT)
        .user_agent(concat!(
            "gigamcp/",
            env!("CARGO_PKG_VERSION"),
            " (CIMD fetch)"
        ))
        .no_proxy();
    if url
        .host()
        .is_some_and(|h| matches!(h, url::Host::Domain(_)))
    {
        // Pin the connection to the addresses checked above (no DNS rebinding in between).
        builder = builder.resolve_to_addrs(&host, &addrs);
    }
    let client = builder.build().map_err(|e| format!("client error ({e})"))?;
    let mut resp = client
        .get(url.as_str())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "the request timed out".to_string()
            } else {
                format!("the request failed ({e})")
            }
        })?;
    let status = resp.status();
    if status.is_redirection() {
        return Err(format!(
            "it answered with a redirect (HTTP {}), which is not followed",
            status.as_u16()
        ));
    }
    if !status.is_success() {
        return Err(format!("it answered HTTP {}", status.as_u16()));
    }
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(format!(
            "the document is larger than {MAX_DOCUMENT_BYTES} bytes"
        ));
    }
    let ttl = cache_ttl(
        resp.headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
    );
    let mut body = Vec::new();
    loop {
        let chunk = tokio::time::timeout(FETCH_TIMEOUT, resp.chunk())
            .await
            .map_err(|_| "reading the document timed out".to_string())?
            .map_err(|e| format!("reading the document failed ({e})"))?;
        let Some(chunk) = chunk else { break };
        body.extend_from_slice(&chunk);
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(format!(
                "the document is larger than {MAX_DOCUMENT_BYTES} bytes"
            ));
        }
    }
    Ok((body, ttl))
}

/// Validates a fetched document for `client_id` and builds the client row.
pub fn parse_document(client_id: &str, body: &[u8], now: i64) -> Result<ClientRecord, String> {
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) else {
        return Err("it is not a JSON object".into());
    };
    match obj.get("client_id") {
        Some(Value::String(s)) if s == client_id => {}
        Some(Value::String(s)) => {
            return Err(format!(
                "its client_id {s:?} is not exactly the URL it was fetched from"
            ));
        }
        _ => return Err("it has no client_id".into()),
    }
    let client_name: String = match obj.get("client_name") {
        Some(Value::String(s)) => s
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_NAME)
            .collect::<String>()
            .trim()
            .to_string(),
        _ => String::new(),
    };
    if client_name.is_empty() {
        return Err("it has no client_name".into());
    }
    let redirect_uris = string_list(&obj, "redirect_uris")?
        .filter(|v| !v.is_empty())
        .ok_or("it has no redirect_uris")?;
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(format!(
            "it lists more than {MAX_REDIRECT_URIS} redirect_uris"
        ));
    }
    for uri in &redirect_uris {
        redirect::validate_registered(uri)?;
    }
    // Quirk Q14: negotiate on the plural list; the singular field is only a fallback.
    let singular = match obj.get("token_endpoint_auth_method") {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let plural = string_list(&obj, "token_endpoint_auth_methods_supported")?;
    let offered: Vec<String> = match (&plural, &singular) {
        (Some(list), s) => list.iter().cloned().chain(s.iter().cloned()).collect(),
        (None, Some(s)) => vec![s.clone()],
        // A CIMD client has no shared secret: without any method it is a public client.
        (None, None) => vec!["none".into()],
    };
    // `private_key_jwt` (RFC 7523 §2.2) needs the keys: a `jwks_uri` (inline `jwks` is not
    // accepted, so keys can rotate without a new document).
    let jwks_uri = match obj.get("jwks_uri") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 2000 => Some(s.clone()),
        None | Some(Value::Null) => None,
        Some(_) => return Err("its jwks_uri is not a URL string".into()),
    };
    let signing_alg = match obj.get("token_endpoint_auth_signing_alg") {
        Some(Value::String(s)) => {
            if !super::client_keys::SIGNING_ALGS.contains(&s.as_str()) {
                return Err(format!(
                    "its token_endpoint_auth_signing_alg {s:?} is not supported (RS256 or ES256)"
                ));
            }
            Some(s.clone())
        }
        _ => None,
    };
    let offers_jwt = offered.iter().any(|m| m == "private_key_jwt");
    if offers_jwt && jwks_uri.is_none() && !offered.iter().any(|m| m == "none") {
        return Err(
            "it offers private_key_jwt client authentication without a jwks_uri for its keys"
                .to_string(),
        );
    }
    // A document that lists `none` stays a public client (quirk Q14) and may still present an
    // assertion; one that offers only `private_key_jwt` must.
    let method = if offered.iter().any(|m| m == "none") {
        "none"
    } else if offers_jwt {
        "private_key_jwt"
    } else {
        return Err(format!(
            "it offers no supported client authentication method ({}); this server accepts \"none\" and \"private_key_jwt\" for metadata-document clients",
            offered.join(", ")
        ));
    };
    let jwks_uri = jwks_uri.filter(|_| offers_jwt);
    let grant_types = super::register::supported_grant_types(string_list(&obj, "grant_types")?);
    if !grant_types.iter().any(|g| g == "authorization_code") {
        return Err("its grant_types do not include authorization_code".into());
    }
    if let Some(rt) = string_list(&obj, "response_types")?
        && !rt.iter().any(|r| r == "code")
    {
        return Err("its response_types do not include code".into());
    }
    let metadata = json!({
        "client_id": client_id,
        "client_name": client_name,
        "redirect_uris": redirect_uris,
        "grant_types": grant_types,
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
        "client_uri": obj.get("client_uri").and_then(Value::as_str),
        "jwks_uri": jwks_uri,
        "token_endpoint_auth_signing_alg": signing_alg.filter(|_| offers_jwt),
        "fetched_at": now,
    });
    Ok(ClientRecord {
        client_id: client_id.to_string(),
        client_secret_hash: None,
        client_name,
        kind: "cimd".into(),
        redirect_uris,
        token_endpoint_auth_method: method.into(),
        grant_types,
        response_types: vec!["code".into()],
        metadata: metadata.to_string(),
        created_at: now,
        last_used_at: None,
    })
}

/// Whether a fetched document changes what the stored row says (name, redirect URIs, grant
/// types, authentication method or key source).
fn changed(existing: &ClientRecord, rec: &ClientRecord) -> bool {
    existing.client_name != rec.client_name
        || existing.redirect_uris != rec.redirect_uris
        || existing.grant_types != rec.grant_types
        || existing.token_endpoint_auth_method != rec.token_endpoint_auth_method
        || KeySource::of(existing) != KeySource::of(rec)
}

/// Refreshes the row of a client that already has one (it reached a user's consent before);
/// never creates one: a document nobody approved leaves nothing behind.
async fn refresh_existing(ctx: &Ctx<'_>, rec: &ClientRecord) -> Result<(), OAuthError> {
    match ctx.store.client(&rec.client_id).await.map_err(internal)? {
        Some(existing) if existing.kind != "cimd" => {
            Err(internal("a non-CIMD client row has a URL client_id"))
        }
        Some(existing) if changed(&existing, rec) => {
            ctx.store.refresh_cimd_client(rec).await.map_err(internal)
        }
        _ => Ok(()),
    }
}

/// Creates or refreshes the `cimd` client row (never touches a row of another kind). Called when
/// a signed-in user's decision issues a code to the client: only then is a row kept.
pub async fn persist(ctx: &Ctx<'_>, rec: &ClientRecord) -> Result<(), OAuthError> {
    match ctx.store.client(&rec.client_id).await.map_err(internal)? {
        None => {
            ctx.store.insert_client(rec).await.map_err(internal)?;
            audit::record(
                ctx,
                AuditEntry {
                    client_id: Some(rec.client_id.clone()),
                    ..AuditEntry::new(
                        "client_registered",
                        format!("{:?} from its client ID metadata document", rec.client_name),
                    )
                },
            )
            .await;
        }
        Some(existing) if existing.kind != "cimd" => {
            return Err(internal("a non-CIMD client row has a URL client_id"));
        }
        Some(existing) => {
            if changed(&existing, rec) {
                ctx.store.refresh_cimd_client(rec).await.map_err(internal)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(loopback: bool) -> CimdPolicy {
        CimdPolicy {
            enabled: true,
            allow_http_loopback: loopback,
        }
    }

    #[test]
    fn client_id_urls() {
        let p = policy(false);
        assert!(validate_client_id_url("https://chatgpt.com/oauth/client.json", &p).is_ok());
        assert!(validate_client_id_url("https://app.example/c?x=1", &p).is_ok());
        for bad in [
            "https://chatgpt.com",
            "https://chatgpt.com/",
            "https://chatgpt.com/a/../client.json",
            "https://chatgpt.com/./client.json",
            "https://chatgpt.com/c.json#x",
            "https://u:p@chatgpt.com/c.json",
            "https://CHATGPT.com/c.json",
            "http://chatgpt.com/c.json",
            "http://127.0.0.1:9/c.json",
        ] {
            assert!(validate_client_id_url(bad, &p).is_err(), "{bad}");
        }
        assert!(validate_client_id_url("http://127.0.0.1:9/c.json", &policy(true)).is_ok());
        assert!(validate_client_id_url("http://localhost:9/c.json", &policy(true)).is_err());
    }

    #[test]
    fn addresses() {
        for bad in [
            "10.0.0.1",
            "172.16.3.4",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "192.0.0.8",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!address_allowed(bad.parse().unwrap(), false), "{bad}");
        }
        assert!(address_allowed("127.0.0.1".parse().unwrap(), true));
        assert!(address_allowed("::1".parse().unwrap(), true));
        assert!(!address_allowed("10.0.0.1".parse().unwrap(), true));
        assert!(address_allowed("104.18.32.47".parse().unwrap(), false));
        assert!(address_allowed(
            "2606:4700::6812:202f".parse().unwrap(),
            false
        ));
    }

    #[test]
    fn caching_headers() {
        assert_eq!(cache_ttl(None), 300);
        assert_eq!(cache_ttl(Some("public, max-age=60")), 60);
        assert_eq!(cache_ttl(Some("max-age=999999")), 86_400);
        assert_eq!(cache_ttl(Some("no-store")), 0);
        assert_eq!(cache_ttl(Some("public")), 300);
    }

    #[test]
    fn chatgpt_document_negotiates_none() {
        let id = "https://chatgpt.com/oauth/client.json";
        let doc = json!({
            "client_id": id,
            "client_uri": "https://chatgpt.com/",
            "redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect"],
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "ChatGPT",
            "token_endpoint_auth_signing_alg": "RS256",
            "jwks_uri": "https://chatgpt.com/oauth/jwks.json"
        });
        let rec = parse_document(id, doc.to_string().as_bytes(), 7).unwrap();
        assert_eq!(rec.kind, "cimd");
        assert_eq!(rec.token_endpoint_auth_method, "none");
        let only_jwt = json!({
            "client_id": id, "client_name": "X",
            "redirect_uris": ["https://chatgpt.com/cb"],
            "token_endpoint_auth_method": "private_key_jwt",
        });
        let err = parse_document(id, only_jwt.to_string().as_bytes(), 7).unwrap_err();
        assert!(err.contains("without a jwks_uri"), "{err}");
        let mut with_keys = only_jwt.clone();
        with_keys["jwks_uri"] = json!("https://chatgpt.com/oauth/jwks.json");
        let rec = parse_document(id, with_keys.to_string().as_bytes(), 7).unwrap();
        assert_eq!(rec.token_endpoint_auth_method, "private_key_jwt");
        let src = KeySource::of(&rec).unwrap();
        assert_eq!(src.jwks_uri, "https://chatgpt.com/oauth/jwks.json");
    }
}
