//! URL shapes the discovery dance depends on: canonical resource identifiers, RFC 9728 path
//! insertion, RFC 8414 / OIDC metadata locations in the MCP spec's order, and the `/mcp` vs
//! `/mcp/` variant.

use url::Url;

/// Parses a user-supplied MCP URL: absolute http(s), no fragment.
pub fn parse_mcp_url(s: &str) -> Result<Url, String> {
    let u = Url::parse(s.trim()).map_err(|e| format!("not an absolute URL ({e}): {s}"))?;
    if u.scheme() != "https" && u.scheme() != "http" {
        return Err(format!("MCP URL must be http(s), got {}", u.scheme()));
    }
    if u.fragment().is_some() {
        return Err("MCP URL must not carry a fragment (RFC 8707 §2)".into());
    }
    if u.host_str().is_none() {
        return Err("MCP URL has no host".into());
    }
    Ok(u)
}

/// `scheme://host[:port]` with the default port dropped.
pub fn origin(u: &Url) -> String {
    u.origin().ascii_serialization()
}

/// Compares two resource identifiers the way RFC 9728 §3.3 / RFC 3986 §6.2.2 allow: scheme and
/// host case-insensitive, default port elided, otherwise byte-identical (path case and trailing
/// slash matter).
pub fn same_resource(a: &str, b: &str) -> bool {
    match (Url::parse(a), Url::parse(b)) {
        (Ok(x), Ok(y)) => {
            // `Url` already lower-cases scheme and host and drops default ports; it also turns an
            // empty path into "/", which RFC 3986 §6.2.3 treats as equivalent.
            x.scheme() == y.scheme()
                && x.host_str() == y.host_str()
                && x.port_or_known_default() == y.port_or_known_default()
                && x.path() == y.path()
                && x.query() == y.query()
                && x.fragment() == y.fragment()
                && x.username() == y.username()
        }
        _ => a == b,
    }
}

/// RFC 9728 §3.1: insert `/.well-known/oauth-protected-resource` between host and path.
/// A root path yields the root well-known URL; the query is kept.
pub fn prm_path_inserted(resource: &Url) -> String {
    let path = resource.path();
    let path = if path == "/" { "" } else { path };
    let mut s = format!(
        "{}/.well-known/oauth-protected-resource{}",
        origin(resource),
        path
    );
    if let Some(q) = resource.query() {
        s.push('?');
        s.push_str(q);
    }
    s
}

/// The root PRM URL (the fallback clients try after the path-inserted one).
pub fn prm_root(resource: &Url) -> String {
    format!("{}/.well-known/oauth-protected-resource", origin(resource))
}

/// AS metadata URLs derived from the issuer, in the order MCP ≥ 2025-11-25 prescribes
/// (§Authorization Server Metadata Discovery): RFC 8414 insertion, OIDC insertion, OIDC
/// appending for a path issuer; RFC 8414 then OIDC for a root issuer. 2025-03-26/06-18 clients
/// only use RFC 8414.
pub fn as_metadata_candidates(issuer: &Url, oidc: bool) -> Vec<String> {
    let o = origin(issuer);
    let path = issuer.path().trim_end_matches('/');
    let mut v = Vec::new();
    if path.is_empty() {
        v.push(format!("{o}/.well-known/oauth-authorization-server"));
        if oidc {
            v.push(format!("{o}/.well-known/openid-configuration"));
        }
    } else {
        v.push(format!("{o}/.well-known/oauth-authorization-server{path}"));
        if oidc {
            v.push(format!("{o}/.well-known/openid-configuration{path}"));
            v.push(format!("{o}{path}/.well-known/openid-configuration"));
        }
    }
    v
}

/// The other shape of the URL: `/mcp` ↔ `/mcp/`. `None` for a root path.
pub fn trailing_slash_variant(u: &Url) -> Option<String> {
    let path = u.path();
    if path == "/" || path.is_empty() {
        return None;
    }
    let mut v = u.clone();
    if let Some(stripped) = path.strip_suffix('/') {
        v.set_path(stripped);
    } else {
        v.set_path(&format!("{path}/"));
    }
    Some(v.to_string())
}

/// `localhost`, `127.0.0.0/8` or `[::1]`.
pub fn is_loopback(u: &Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Query parameters of a URL as pairs (decoded).
pub fn query_pairs(u: &Url) -> Vec<(String, String)> {
    u.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The single value of a query parameter; `Err` when repeated (RFC 6749 §3.1).
pub fn single_param(u: &Url, name: &str) -> Result<Option<String>, String> {
    let vals: Vec<String> = u
        .query_pairs()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .collect();
    match vals.len() {
        0 => Ok(None),
        1 => Ok(vals.into_iter().next()),
        n => Err(format!("parameter {name} appears {n} times")),
    }
}

/// Does `location` point at `callback` (same scheme/host/port/path; query ignored)?
pub fn is_callback(location: &Url, callback: &Url) -> bool {
    location.scheme() == callback.scheme()
        && location.host_str() == callback.host_str()
        && location.port_or_known_default() == callback.port_or_known_default()
        && location.path() == callback.path()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn prm_path_insertion() {
        assert_eq!(
            prm_path_inserted(&u("https://app.example.io/t/acme/mcp")),
            "https://app.example.io/.well-known/oauth-protected-resource/t/acme/mcp"
        );
        assert_eq!(
            prm_path_inserted(&u("https://app.example.io/t/acme/mcp/")),
            "https://app.example.io/.well-known/oauth-protected-resource/t/acme/mcp/"
        );
        assert_eq!(
            prm_path_inserted(&u("https://app.example.io")),
            "https://app.example.io/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            prm_path_inserted(&u("http://127.0.0.1:8080/mcp?x=1")),
            "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp?x=1"
        );
        assert_eq!(
            prm_path_inserted(&u("HTTPS://APP.example.io:443/mcp")),
            "https://app.example.io/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            prm_root(&u("http://127.0.0.1:8080/t/acme/mcp")),
            "http://127.0.0.1:8080/.well-known/oauth-protected-resource"
        );
    }

    #[test]
    fn resource_identity() {
        assert!(same_resource(
            "https://app.example.io/t/acme/mcp",
            "HTTPS://App.Example.io:443/t/acme/mcp"
        ));
        assert!(!same_resource(
            "https://app.example.io/t/acme/mcp",
            "https://app.example.io/t/acme/mcp/"
        ));
        assert!(!same_resource(
            "https://app.example.io/t/acme/mcp",
            "https://app.example.io/t/ACME/mcp"
        ));
        assert!(!same_resource(
            "https://app.example.io/mcp",
            "https://app.example.io/mcp#frag"
        ));
        assert!(!same_resource(
            "https://app.example.io/mcp",
            "http://app.example.io/mcp"
        ));
        assert!(same_resource(
            "https://app.example.io",
            "https://app.example.io/"
        ));
        assert!(!same_resource("not a url", "https://x/"));
    }

    #[test]
    fn as_metadata_order() {
        assert_eq!(
            as_metadata_candidates(&u("https://app.example.io"), true),
            [
                "https://app.example.io/.well-known/oauth-authorization-server",
                "https://app.example.io/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            as_metadata_candidates(&u("https://auth.example.com/tenant1/"), true),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/.well-known/openid-configuration/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            as_metadata_candidates(&u("https://a.example/t"), false),
            ["https://a.example/.well-known/oauth-authorization-server/t"]
        );
    }

    #[test]
    fn trailing_slash_variants() {
        assert_eq!(
            trailing_slash_variant(&u("https://h/t/acme/mcp")).as_deref(),
            Some("https://h/t/acme/mcp/")
        );
        assert_eq!(
            trailing_slash_variant(&u("https://h/t/acme/mcp/")).as_deref(),
            Some("https://h/t/acme/mcp")
        );
        assert_eq!(trailing_slash_variant(&u("https://h/")), None);
        assert_eq!(
            trailing_slash_variant(&u("https://h/mcp?a=b")).as_deref(),
            Some("https://h/mcp/?a=b")
        );
    }

    #[test]
    fn user_input_validation() {
        assert!(parse_mcp_url(" https://h/mcp ").is_ok());
        assert!(parse_mcp_url("h/mcp").is_err());
        assert!(parse_mcp_url("ftp://h/mcp").is_err());
        assert!(parse_mcp_url("https://h/mcp#x").is_err());
        assert!(parse_mcp_url("").is_err());
    }

    #[test]
    fn loopback_and_callback_matching() {
        assert!(is_loopback(&u("http://localhost:3000/cb")));
        assert!(is_loopback(&u("http://127.0.0.2/cb")));
        assert!(is_loopback(&u("http://[::1]/cb")));
        assert!(!is_loopback(&u("http://localhost.evil.example/cb")));
        assert!(is_callback(
            &u("https://chatgpt.com/connector_platform_oauth_redirect?code=x"),
            &u("https://chatgpt.com/connector_platform_oauth_redirect")
        ));
        assert!(!is_callback(
            &u("https://chatgpt.com/connector_platform_oauth_redirect/x?code=x"),
            &u("https://chatgpt.com/connector_platform_oauth_redirect")
        ));
        let cb = u("https://cb.example/x?code=1&code=2");
        assert!(single_param(&cb, "code").is_err());
        assert_eq!(single_param(&cb, "state"), Ok(None));
    }
}
