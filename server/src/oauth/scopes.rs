//! Scopes: the default when a client asks for none (ChatGPT on reconnect, quirk Q18), dropping
//! unknown values instead of failing (cached scope lists, Q19), and plain-language descriptions.
use crate::config::{DEFAULT_SCOPES, SUPPORTED_SCOPES};
use crate::error::OAuthError;
use crate::names::parse_scopes;

/// The scopes an authorization request gets: `scope` absent or blank → the default; unknown
/// values dropped (RFC 6749 §3.3 lets the server narrow); nothing valid left → `invalid_scope`.
pub fn resolve_requested(scope: Option<&str>) -> Result<Vec<String>, OAuthError> {
    let requested = match scope.map(str::trim) {
        None | Some("") => return Ok(parse_scopes(DEFAULT_SCOPES)),
        Some(s) => parse_scopes(s),
    };
    let known: Vec<String> = requested
        .into_iter()
        .filter(|s| SUPPORTED_SCOPES.contains(&s.as_str()))
        .collect();
    if known.is_empty() {
        return Err(OAuthError::new(
            "invalid_scope",
            format!(
                "none of the requested scopes is supported (supported: {})",
                SUPPORTED_SCOPES.join(" ")
            ),
        ));
    }
    Ok(known)
}

/// What a scope lets the client do, in words for the consent and Connected apps pages.
pub fn describe(scope: &str) -> &'static str {
    match scope {
        "mcp:read" => "Search and read this workspace's wiki pages and GitHub issues",
        "mcp:tools" => "Use this workspace's tools on your behalf",
        _ => "Unknown permission",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_narrowing_and_failure() {
        assert_eq!(
            resolve_requested(None).unwrap(),
            vec!["mcp:read", "mcp:tools"]
        );
        assert_eq!(
            resolve_requested(Some("  ")).unwrap(),
            vec!["mcp:read", "mcp:tools"]
        );
        assert_eq!(
            resolve_requested(Some("mcp:read openid old:scope")).unwrap(),
            vec!["mcp:read"]
        );
        assert_eq!(
            resolve_requested(Some("openid profile")).unwrap_err().code,
            "invalid_scope"
        );
    }
}
