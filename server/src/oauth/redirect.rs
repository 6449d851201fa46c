//! Redirect URI rules: what may be registered, and how an authorization request's
//! `redirect_uri` is matched (OAuth 2.1 §2.3.1, §7.12.2, §8.4; RFC 8252 §7; RFC 9700 §2.1, §4.1).
//!
//! A registered URI is one of:
//!
//! * **web**: `https` with a host;
//! * **loopback**: `http` on `127.0.0.1`, `[::1]` or `localhost` (RFC 8252 §7.3), matched with any
//!   port;
//! * **private-use scheme** (RFC 8252 §7.1, OAuth 2.1 §8.4.1), for public clients only (RFC 8252
//!   §8.4: a native app cannot keep a secret, so a confidential client has no business with one),
//!   when the scheme is a reverse domain name (`com.example.app:/cb`, the form §7.1 requires), a
//!   curated well-known native MCP client (`cursor`, `vscode` … see [`KNOWN_APP_SCHEMES`]), or
//!   one the operator allowed (`--allow-redirect-scheme`);
//! * an exact URI the operator allowed (`--allow-redirect-uri`).
//!
//! Never a fragment, userinfo or wildcard, and never a scheme a browser or the system executes or
//! reads locally (`javascript`, `data`, `file`, `vbscript`, `about`, `blob` … see
//! [`FORBIDDEN_SCHEMES`]) or one that looks like a web scheme (`https.evil`, `httpx`), whatever the
//! operator says. Matching is exact string comparison (RFC 9700 §4.1.3), except that a loopback
//! http URI matches with any port (RFC 8252 §7.3). PKCE S256 is mandatory for every client
//! (`authorize`), which is what makes a private-use redirect safe against another app claiming
//! the scheme (RFC 8252 §8.1). The reasoning is in `docs/oauth-reference.md`.
pub use crate::config::RedirectPolicy;
use url::Url;

const MAX_LEN: usize = 2000;

/// Schemes that execute code or read local/browser state when navigated to, or hand the URI to
/// the system in ways an authorization response must never reach. Refused in every form, also
/// as the first label of a longer scheme (`javascript.x`, `file+x`), and operators cannot allow
/// them.
pub const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript",
    "vbscript",
    "data",
    "file",
    "about",
    "blob",
    "filesystem",
    "view-source",
    "jar",
    "intent",
    "content",
    "chrome",
    "chrome-extension",
    "moz-extension",
    "resource",
    "ws",
    "wss",
    "ftp",
    "mailto",
    "tel",
    "sms",
];

/// Well-known native MCP clients whose private-use scheme is not a reverse domain name, with the
/// words the consent page uses for them. Sources in `docs/client-compatibility.md`.
pub const KNOWN_APP_SCHEMES: &[(&str, &str)] = &[
    ("cursor", "the Cursor app"),
    ("vscode", "the Visual Studio Code app"),
    ("vscode-insiders", "the Visual Studio Code Insiders app"),
    ("windsurf", "the Windsurf app"),
    ("claude", "the Claude desktop app"),
];

/// Hosted clients whose redirect host identifies them: the code can only reach that site, so
/// the consent page says where it goes and marks it verified (whatever name the client chose).
pub const KNOWN_HOSTS: &[(&str, &str)] = &[
    ("chatgpt.com", "ChatGPT"),
    ("claude.ai", "Claude"),
    ("claude.com", "Claude"),
    ("cursor.com", "Cursor"),
    ("www.cursor.com", "Cursor"),
    ("vscode.dev", "Visual Studio Code"),
    ("insiders.vscode.dev", "Visual Studio Code Insiders"),
];

/// What kind of redirect a URI is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectKind {
    Web,
    Loopback,
    PrivateUse,
}

fn is_loopback_host(url: &Url) -> bool {
    matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"))
}

fn is_loopback_http(url: &Url) -> bool {
    url.scheme() == "http" && is_loopback_host(url)
}

/// Why a scheme can never be a redirect target, if it cannot.
fn forbidden_scheme(scheme: &str) -> Option<&'static str> {
    let first = scheme.split(['.', '+', '-']).next().unwrap_or(scheme);
    if FORBIDDEN_SCHEMES.contains(&scheme) || FORBIDDEN_SCHEMES.contains(&first) {
        return Some("it executes or reads content locally, or is not an app callback");
    }
    if scheme != "http" && scheme != "https" && scheme.starts_with("http") {
        return Some("it imitates a web scheme");
    }
    None
}

/// RFC 8252 §7.1: "a URI scheme based on a domain name under their control, expressed in reverse
/// order" — at least two dot-separated labels of letters, digits and hyphens, the first (the
/// top-level domain) alphabetic.
pub fn is_reverse_domain_scheme(scheme: &str) -> bool {
    let labels: Vec<&str> = scheme.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
        && labels[0].len() >= 2
        && labels[0].chars().all(|c| c.is_ascii_lowercase())
}

impl RedirectPolicy {
    /// Checks one URI offered at registration (or in a metadata document) by a client that is
    /// `public` (`token_endpoint_auth_method: none`). `Err` names the URI and says why.
    pub fn validate(&self, uri: &str, public: bool) -> Result<RedirectKind, String> {
        let refuse = |why: &str| format!("redirect URI {uri:?} is not allowed: {why}");
        if uri.is_empty() || uri.len() > MAX_LEN {
            return Err("redirect URIs must be 1-2000 characters".into());
        }
        if uri.contains('*') {
            return Err(refuse(
                "wildcards are not allowed (redirects match exactly)",
            ));
        }
        if uri.contains('#') {
            return Err(refuse("it contains a fragment"));
        }
        if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(refuse("it contains whitespace or control characters"));
        }
        let url =
            Url::parse(uri).map_err(|e| refuse(&format!("it is not an absolute URI ({e})")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refuse("it contains userinfo"));
        }
        let scheme = url.scheme();
        if let Some(why) = forbidden_scheme(scheme) {
            return Err(refuse(&format!(
                "the scheme {scheme:?} is never accepted: {why}"
            )));
        }
        let kind = match scheme {
            "https" if url.host_str().is_some_and(|h| !h.is_empty()) => RedirectKind::Web,
            "https" => return Err(refuse("an https redirect URI needs a host")),
            "http" if is_loopback_http(&url) => RedirectKind::Loopback,
            // Plain http elsewhere: only as an exact operator-allowed URI.
            "http" => RedirectKind::Web,
            _ => RedirectKind::PrivateUse,
        };
        if self.uris.iter().any(|u| u == uri) {
            return Ok(kind);
        }
        match kind {
            RedirectKind::Web if scheme == "http" => Err(refuse(
                "http is only allowed on loopback hosts (127.0.0.1, [::1], localhost); use https",
            )),
            RedirectKind::Web | RedirectKind::Loopback => Ok(kind),
            RedirectKind::PrivateUse => {
                let known = KNOWN_APP_SCHEMES.iter().any(|(s, _)| *s == scheme)
                    || self.schemes.iter().any(|s| s == scheme)
                    || is_reverse_domain_scheme(scheme);
                if !known {
                    return Err(refuse(&format!(
                        "the private-use scheme {scheme:?} is neither a reverse domain name (RFC 8252 §7.1, e.g. com.example.app:/callback) \
                         nor a known native client's scheme; the server operator can allow it with --allow-redirect-scheme {scheme}"
                    )));
                }
                if !public {
                    return Err(refuse(
                        "private-use scheme redirects are for native apps, which are public clients (RFC 8252 §8.4); \
                         register with token_endpoint_auth_method \"none\"",
                    ));
                }
                Ok(kind)
            }
        }
    }
}

/// Checks one URI under the built-in policy for a public client (metadata documents).
pub fn validate_registered(uri: &str) -> Result<(), String> {
    RedirectPolicy::default().validate(uri, true).map(|_| ())
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

/// Where the browser goes after consent, in plain words for the consent page, and the known
/// hosted client the redirect host belongs to (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub words: String,
    pub known_host: Option<(String, &'static str)>,
}

/// Describes a (registered, matched) redirect URI for the consent page.
pub fn destination(uri: &str) -> Destination {
    let Ok(url) = Url::parse(uri) else {
        return Destination {
            words: uri.to_string(),
            known_host: None,
        };
    };
    let scheme = url.scheme();
    let words = match scheme {
        "https" | "http" if is_loopback_host(&url) => {
            format!("a program on this computer ({})", host_of(uri))
        }
        "https" | "http" => host_of(uri),
        _ => match KNOWN_APP_SCHEMES.iter().find(|(s, _)| *s == scheme) {
            Some((_, app)) => format!("{app} on this computer"),
            None => format!("the app that handles {scheme}: links on this computer"),
        },
    };
    let known_host = (scheme == "https")
        .then(|| url.host_str())
        .flatten()
        .and_then(|h| {
            KNOWN_HOSTS
                .iter()
                .find(|(k, _)| *k == h)
                .map(|(k, name)| (k.to_string(), *name))
        });
    Destination { words, known_host }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_policy() {
        let p = RedirectPolicy::default();
        for ok in [
            "https://chatgpt.com/connector_platform_oauth_redirect",
            "https://chatgpt.com/connector/oauth/HQfKFmhTEJCq",
            "https://claude.ai/api/mcp/auth_callback",
            "http://127.0.0.1:33418/callback",
            "http://localhost/callback",
            "http://[::1]:8080/cb",
            "https://app.example/cb?x=1",
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "vscode://vscode.github-authentication/did-authenticate",
            "com.example.app:/oauth2redirect/example-provider",
            "io.modelcontextprotocol.inspector:/cb",
        ] {
            assert!(
                p.validate(ok, true).is_ok(),
                "{ok}: {:?}",
                p.validate(ok, true)
            );
        }
        for (bad, why) in [
            ("http://example.com/cb", "loopback"),
            ("https://example.com/cb#frag", "fragment"),
            ("https://user:pw@example.com/cb", "userinfo"),
            ("https://*.example.com/cb", "wildcard"),
            ("javascript:alert(1)", "never accepted"),
            ("JavaScript:alert(1)", "never accepted"),
            ("javascript.evil:/x", "never accepted"),
            ("vbscript:msgbox", "never accepted"),
            ("data:text/html,hi", "never accepted"),
            ("file:///etc/passwd", "never accepted"),
            ("about:blank", "never accepted"),
            ("blob:https://x/1", "never accepted"),
            ("https.evil.com:/cb", "imitates a web scheme"),
            ("httpx://host/cb", "imitates a web scheme"),
            ("ws://localhost/cb", "never accepted"),
            ("myapp://cb", "reverse domain"),
            ("myapp:/cb", "--allow-redirect-scheme myapp"),
            ("com.:/cb", "reverse domain"),
            ("example1.com:/cb", "reverse domain"),
            ("/relative", "absolute"),
            ("", "1-2000"),
        ] {
            let err = p.validate(bad, true).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
            if !bad.is_empty() {
                assert!(
                    err.contains(&format!("{bad:?}")),
                    "{bad}: names the URI: {err}"
                );
            }
        }
        // Private-use schemes are for public clients only.
        let err = p
            .validate("cursor://anysphere.cursor-mcp/oauth/callback", false)
            .unwrap_err();
        assert!(err.contains("public clients"), "{err}");
        assert!(p.validate("https://app.example/cb", false).is_ok());
        // Operator additions, never for forbidden schemes.
        let op = RedirectPolicy {
            schemes: vec!["myapp".into()],
            uris: vec![
                "http://dev.internal:8080/cb".into(),
                "javascript:alert(1)".into(),
            ],
        };
        assert_eq!(op.validate("myapp:/cb", true), Ok(RedirectKind::PrivateUse));
        assert!(op.validate("myapp:/cb", false).is_err());
        assert_eq!(
            op.validate("http://dev.internal:8080/cb", false),
            Ok(RedirectKind::Web)
        );
        assert!(
            op.validate("http://dev.internal:8080/other", false)
                .is_err()
        );
        assert!(op.validate("javascript:alert(1)", true).is_err());
    }

    #[test]
    fn consent_destinations() {
        let d = destination("cursor://anysphere.cursor-mcp/oauth/callback");
        assert_eq!(d.words, "the Cursor app on this computer");
        assert_eq!(d.known_host, None);
        assert_eq!(
            destination("com.example.app:/cb").words,
            "the app that handles com.example.app: links on this computer"
        );
        assert_eq!(
            destination("http://127.0.0.1:8787/callback").words,
            "a program on this computer (127.0.0.1:8787)"
        );
        let web = destination("https://chatgpt.com/connector_platform_oauth_redirect");
        assert_eq!(web.words, "chatgpt.com");
        assert_eq!(web.known_host, Some(("chatgpt.com".into(), "ChatGPT")));
        assert_eq!(destination("https://chatgpt.com.evil/cb").known_host, None);
        assert_eq!(destination("https://evil.example/cb").known_host, None);
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
