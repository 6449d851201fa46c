//! Redirect URI rules: what may be registered, and how an authorization request's
//! `redirect_uri` is matched (OAuth 2.1 §2.3.1, §7.12.2; RFC 8252 §7.3 for loopback ports).
//!
//! Registered URIs are https, or http on a loopback host (127.0.0.1, [::1], localhost); never a
//! fragment, userinfo, wildcard, or a `javascript:`/`data:`/custom scheme. Matching is exact
//! string comparison, except that a loopback http URI matches with any port.
use url::Url;

const MAX_LEN: usize = 2000;

fn is_loopback_host(url: &Url) -> bool {
    matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"))
}

fn is_loopback_http(url: &Url) -> bool {
    url.scheme() == "http" && is_loopback_host(url)
}

/// Checks one URI offered at registration; `Err` carries the reason (for `invalid_redirect_uri`).
pub fn validate_registered(uri: &str) -> Result<(), String> {
    if uri.is_empty() || uri.len() > MAX_LEN {
        return Err("redirect URIs must be 1-2000 characters".into());
    }
    if uri.contains('*') {
        return Err(format!("wildcards are not allowed in redirect URIs: {uri}"));
    }
    if uri.contains('#') {
        return Err(format!("redirect URIs must not contain a fragment: {uri}"));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "redirect URIs must not contain whitespace: {uri:?}"
        ));
    }
    let url = Url::parse(uri).map_err(|e| format!("not an absolute URI ({e}): {uri}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("redirect URIs must not contain userinfo: {uri}"));
    }
    match url.scheme() {
        "https" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        "http" if is_loopback_http(&url) => Ok(()),
        "http" => Err(format!(
            "http redirect URIs are only allowed on loopback hosts; use https: {uri}"
        )),
        other => Err(format!(
            "redirect URI scheme {other:?} is not allowed (https, or http on loopback): {uri}"
        )),
    }
}

/// Finds the registered URI `requested` matches. Exact string match, or for loopback http URIs
/// the same scheme, host, path and query with any port (RFC 8252 §7.3).
pub fn find_match<'a>(registered: &'a [String], requested: &str) -> Option<&'a str> {
    if let Some(r) = registered.iter().find(|r| r.as_str() == requested) {
        return Some(r);
    }
    let req = Url::parse(requested).ok()?;
    if !is_loopback_http(&req)
        || requested.contains('#')
        || !req.username().is_empty()
        || req.password().is_some()
    {
        return None;
    }
    registered.iter().map(String::as_str).find(|r| {
        Url::parse(r).is_ok_and(|reg| {
            is_loopback_http(&reg)
                && reg.host_str() == req.host_str()
                && reg.path() == req.path()
                && reg.query() == req.query()
        })
    })
}

/// Whether a URI points at a loopback host (any scheme).
pub fn is_loopback_uri(uri: &str) -> bool {
    Url::parse(uri).is_ok_and(|u| is_loopback_host(&u))
}

/// The host a redirect goes to, for the consent screen.
pub fn host_of(uri: &str) -> String {
    Url::parse(uri)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
        })
        .unwrap_or_else(|| uri.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_policy() {
        for ok in [
            "https://chatgpt.com/connector_platform_oauth_redirect",
            "https://chatgpt.com/connector/oauth/HQfKFmhTEJCq",
            "https://claude.ai/api/mcp/auth_callback",
            "http://127.0.0.1:33418/callback",
            "http://localhost/callback",
            "http://[::1]:8080/cb",
            "https://app.example/cb?x=1",
        ] {
            assert!(validate_registered(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/cb",
            "https://example.com/cb#frag",
            "https://user:pw@example.com/cb",
            "https://*.example.com/cb",
            "javascript:alert(1)",
            "data:text/html,hi",
            "com.example.app:/cb",
            "/relative",
            "",
        ] {
            assert!(validate_registered(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn matching() {
        let reg = vec![
            "https://chatgpt.com/connector_platform_oauth_redirect".to_string(),
            "http://127.0.0.1/callback".to_string(),
            "http://localhost:3000/cb".to_string(),
        ];
        assert!(
            find_match(
                &reg,
                "https://chatgpt.com/connector_platform_oauth_redirect"
            )
            .is_some()
        );
        assert!(
            find_match(
                &reg,
                "https://chatgpt.com/connector_platform_oauth_redirect/"
            )
            .is_none()
        );
        assert!(
            find_match(
                &reg,
                "https://CHATGPT.com/connector_platform_oauth_redirect"
            )
            .is_none()
        );
        assert!(
            find_match(
                &reg,
                "https://chatgpt.com/connector_platform_oauth_redirect?x=1"
            )
            .is_none()
        );
        assert_eq!(
            find_match(&reg, "http://127.0.0.1:51234/callback"),
            Some("http://127.0.0.1/callback")
        );
        assert_eq!(
            find_match(&reg, "http://localhost:4000/cb"),
            Some("http://localhost:3000/cb")
        );
        assert!(find_match(&reg, "http://127.0.0.1:51234/other").is_none());
        assert!(find_match(&reg, "http://localhost:51234/callback").is_none());
        assert!(find_match(&reg, "https://127.0.0.1:51234/callback").is_none());
        assert_eq!(host_of("https://chatgpt.com/x"), "chatgpt.com");
        assert_eq!(host_of("http://127.0.0.1:9/x"), "127.0.0.1:9");
    }
}
