//! A `curl` command that reproduces one recorded exchange.
//!
//! Built from the redacted evidence, so it never contains a secret: every
//! `[redacted:…]` mask becomes a shell variable named after where it stood (`$ACCESS_TOKEN` for a
//! bearer token, `$CODE_VERIFIER` for a form field, …), and the command starts with a comment
//! listing the variables to set.

use crate::http::Exchange;

/// Headers curl sets itself, or that only made sense on the original connection.
const SKIP: &[&str] = &["content-length", "host", "connection", "accept-encoding"];

/// Single-quotes a string for a POSIX shell, leaving `"$VAR"` placeholders (written as
/// `\u{1}NAME\u{2}` by [`placeholders`]) outside the quotes so the shell expands them.
fn quote(s: &str) -> String {
    let lit = |t: &str| format!("'{}'", t.replace('\'', "'\\''"));
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('\u{1}') {
        let Some(j) = rest[i..].find('\u{2}') else {
            break;
        };
        if i > 0 {
            out.push_str(&lit(&rest[..i]));
        }
        out.push_str(&format!("\"${}\"", &rest[i + 1..i + j]));
        rest = &rest[i + j + 1..];
    }
    if !rest.is_empty() || out.is_empty() {
        out.push_str(&lit(rest));
    }
    out
}

/// The variable name for a mask, from the text just before it.
fn name_for(before: &str) -> Option<String> {
    let b = before.trim_end_matches(['"', ':', ' ', '=']);
    if before.to_ascii_lowercase().ends_with("bearer ") {
        return Some("ACCESS_TOKEN".into());
    }
    if before.to_ascii_lowercase().ends_with("basic ") {
        return Some("CLIENT_CREDENTIALS_BASE64".into());
    }
    let key: String = b
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if key.is_empty() {
        None
    } else {
        Some(key.replace('-', "_").to_ascii_uppercase())
    }
}

/// Replaces every `[redacted:xxxxxxxx]` with a placeholder marker and collects the names.
fn placeholders(s: &str, names: &mut Vec<(String, String)>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("[redacted:") {
        let Some(j) = rest[i..].find(']') else { break };
        let mask = &rest[i..i + j + 1];
        let hash = mask.trim_start_matches("[redacted:").trim_end_matches(']');
        let before = format!("{out}{}", &rest[..i]);
        let name = match names.iter().find(|(_, m)| m == mask) {
            Some((n, _)) => n.clone(),
            None => {
                let base = name_for(&before).unwrap_or_else(|| "SECRET".into());
                let n = if names.iter().any(|(n, _)| *n == base) {
                    format!("{base}_{hash}")
                } else {
                    base
                };
                names.push((n.clone(), mask.to_string()));
                n
            }
        };
        out.push_str(&rest[..i]);
        out.push_str(&format!("\u{1}{name}\u{2}"));
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    out
}

/// The command, with a leading comment naming the variables to set.
pub fn command(ex: &Exchange) -> String {
    let mut names = Vec::new();
    let method = if ex.method != "GET" || ex.request_body.is_some() {
        format!("-X {} ", ex.method)
    } else {
        String::new()
    };
    let mut parts = vec![format!(
        "curl -i {method}{}",
        quote(&placeholders(&ex.url, &mut names))
    )];
    for (k, v) in &ex.request_headers {
        if SKIP.contains(&k.to_ascii_lowercase().as_str()) {
            continue;
        }
        parts.push(format!(
            "-H {}",
            quote(&placeholders(&format!("{k}: {v}"), &mut names))
        ));
    }
    if let Some(b) = &ex.request_body {
        parts.push(format!(
            "--data-raw {}",
            quote(&placeholders(b, &mut names))
        ));
    }
    let mut s = String::new();
    if !names.is_empty() {
        s.push_str(&format!(
            "# set first (redacted in the evidence): {}\n",
            names
                .iter()
                .map(|(n, m)| format!("{n} {m}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    s.push_str(&parts.join(" \\\n  "));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex() -> Exchange {
        Exchange {
            seq: 3,
            step: "token: replay".into(),
            method: "POST".into(),
            url: "https://as.example/token".into(),
            request_headers: vec![
                ("user-agent".into(), "openai-mcp/1.0".into()),
                ("authorization".into(), "Bearer [redacted:0123abcd]".into()),
                ("content-length".into(), "42".into()),
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
            ],
            request_body: Some(
                "grant_type=authorization_code&code=[redacted:11112222]&code_verifier=[redacted:33334444]&note=it's"
                    .into(),
            ),
            status: Some(500),
            response_headers: vec![],
            response_body: None,
            error: None,
            elapsed_ms: 1,
        }
    }

    #[test]
    fn secrets_become_named_variables_and_quotes_survive() {
        let c = command(&ex());
        assert!(c.starts_with("# set first (redacted in the evidence): ACCESS_TOKEN [redacted:0123abcd], CODE [redacted:11112222], CODE_VERIFIER [redacted:33334444]\n"), "{c}");
        assert!(
            c.contains("-H 'authorization: Bearer '\"$ACCESS_TOKEN\""),
            "{c}"
        );
        assert!(
            c.contains("code='\"$CODE\"'&code_verifier='\"$CODE_VERIFIER\"'&note=it'\\''s'"),
            "{c}"
        );
        assert!(!c.contains("content-length"), "{c}");
        assert!(c.contains("-X POST 'https://as.example/token'"), "{c}");
        assert!(!c.contains("[redacted:0123abcd]'"), "{c}");
    }

    #[test]
    fn the_command_runs_in_a_shell_with_the_variables_set() {
        // Parse the command with a real shell (echoing argv instead of running curl).
        let c = command(&ex()).replace("curl -i", "printf '%s\\n'");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ACCESS_TOKEN=tok CODE=c0de CODE_VERIFIER=v3r\n{}",
                c.lines().skip(1).collect::<Vec<_>>().join("\n")
            ))
            .output()
            .expect("sh");
        let argv = String::from_utf8_lossy(&out.stdout);
        assert!(argv.contains("authorization: Bearer tok\n"), "{argv}");
        assert!(
            argv.contains("grant_type=authorization_code&code=c0de&code_verifier=v3r&note=it's\n"),
            "{argv}"
        );
    }
}
