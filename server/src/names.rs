//! Ground-floor syntax rules shared by the store, config, the MCP transport and OAuth:
//! workspace slugs, usernames, and OAuth scope strings. Pure functions, no dependencies.

/// Workspace slugs: 2–40 chars of `[a-z0-9-]`, starting with a letter, no trailing hyphen.
pub fn valid_slug(slug: &str) -> bool {
    let b = slug.as_bytes();
    (2..=40).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1] != b'-'
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// Usernames: 1–64 chars of `[A-Za-z0-9._-]`.
pub fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// Space-separated scope string → sorted, de-duplicated list.
pub fn parse_scopes(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.split_ascii_whitespace().map(str::to_owned).collect();
    v.sort();
    v.dedup();
    v
}

pub fn join_scopes(scopes: &[String]) -> String {
    scopes.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_usernames() {
        for ok in ["acme", "globex", "a1", "my-team-2"] {
            assert!(valid_slug(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "Acme",
            "1abc",
            "ab-",
            "a_b",
            "a/b",
            "x".repeat(41).as_str(),
        ] {
            assert!(!valid_slug(bad), "{bad}");
        }
        assert!(valid_username("alice.smith-2"));
        assert!(!valid_username("al ice"));
        assert!(!valid_username(""));
    }

    #[test]
    fn scopes_normalise() {
        assert_eq!(
            parse_scopes(" mcp:tools  mcp:read mcp:read "),
            vec!["mcp:read", "mcp:tools"]
        );
    }
}
