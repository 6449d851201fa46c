//! Redaction of secrets in recorded evidence: tokens, codes, client secrets, passwords, cookies.
//!
//! Two layers: structural (known header names, query/form keys and JSON keys are always masked)
//! and learned (every secret the harness obtains is registered and masked wherever it appears
//! later, e.g. echoed in an error body). A mask keeps a short hash so one evidence bundle can
//! still show that two requests carried the same token.

use sha2::{Digest, Sha256};
use std::sync::Mutex;

const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];
const SECRET_KEYS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "code",
    "code_verifier",
    "client_secret",
    "password",
    "token",
    "client_assertion",
    "registration_access_token",
    "csrf",
    "csrf_token",
    "_csrf",
];

/// Masks a secret as `[redacted:<8 hex of sha256>]`.
pub fn mask(secret: &str) -> String {
    let h = Sha256::digest(secret.as_bytes());
    format!("[redacted:{}]", &hex::encode(h)[..8])
}

fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    SECRET_KEYS.contains(&k.as_str())
        || k.contains("secret")
        || k.contains("password")
        || k.contains("csrf")
}

/// Collects secrets learned during a run and masks them everywhere.
#[derive(Default)]
pub struct Redactor {
    learned: Mutex<Vec<String>>,
}

impl Redactor {
    /// Registers a secret; short values (< 6 chars) are ignored to avoid masking noise.
    pub fn learn(&self, secret: &str) {
        if secret.len() >= 6 {
            let mut l = self.learned.lock().expect("redactor lock");
            if !l.iter().any(|s| s == secret) {
                l.push(secret.to_string());
                // Longest first, so a secret containing another is masked whole.
                l.sort_by_key(|s| std::cmp::Reverse(s.len()));
            }
        }
    }

    /// Masks every learned secret in free text.
    pub fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for secret in self.learned.lock().expect("redactor lock").iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), &mask(secret));
            }
        }
        out
    }

    /// Masks a header value by name (the scheme of `Authorization` is kept).
    pub fn header(&self, name: &str, value: &str) -> String {
        let n = name.to_ascii_lowercase();
        if n == "authorization" || n == "proxy-authorization" {
            return match value.split_once(' ') {
                Some((scheme, cred)) => format!("{scheme} {}", mask(cred.trim())),
                None => mask(value),
            };
        }
        if SECRET_HEADERS.contains(&n.as_str()) {
            // Keep cookie names and attributes, mask values.
            return value
                .split(';')
                .map(|part| match part.split_once('=') {
                    Some((k, v)) if !is_cookie_attribute(k) => format!("{k}={}", mask(v)),
                    _ => part.to_string(),
                })
                .collect::<Vec<_>>()
                .join(";");
        }
        if n == "location" || n == "content-location" {
            return self.url(value);
        }
        self.text(value)
    }

    /// Masks secret query parameters of a URL (absolute or relative) and learned secrets.
    pub fn url(&self, u: &str) -> String {
        match u.split_once('?') {
            Some((base, rest)) => {
                let (query, frag) = match rest.split_once('#') {
                    Some((q, f)) => (q, Some(f)),
                    None => (rest, None),
                };
                let q = self.form_str(query);
                let mut out = format!("{base}?{q}");
                if let Some(f) = frag {
                    out.push('#');
                    out.push_str(&self.form_str(f));
                }
                self.text(&out)
            }
            None => self.text(u),
        }
    }

    /// Masks secret fields of an `application/x-www-form-urlencoded` string.
    pub fn form_str(&self, s: &str) -> String {
        s.split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) => {
                    let key = percent_encoding::percent_decode_str(k).decode_utf8_lossy();
                    if is_secret_key(&key) {
                        format!("{k}={}", mask(v))
                    } else {
                        pair.to_string()
                    }
                }
                None => pair.to_string(),
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Masks secret keys anywhere in a JSON document, then learned secrets.
    pub fn json(&self, v: &serde_json::Value) -> serde_json::Value {
        fn walk(v: &serde_json::Value) -> serde_json::Value {
            match v {
                serde_json::Value::Object(m) => serde_json::Value::Object(
                    m.iter()
                        .map(|(k, v)| {
                            let nv = match v {
                                serde_json::Value::String(s) if is_secret_key(k) => {
                                    serde_json::Value::String(mask(s))
                                }
                                other => walk(other),
                            };
                            (k.clone(), nv)
                        })
                        .collect(),
                ),
                serde_json::Value::Array(a) => {
                    serde_json::Value::Array(a.iter().map(walk).collect())
                }
                other => other.clone(),
            }
        }
        let walked = walk(v);
        match serde_json::from_str(&self.text(&walked.to_string())) {
            Ok(v) => v,
            Err(_) => walked,
        }
    }

    /// Masks a body given its content type.
    pub fn body(&self, content_type: Option<&str>, body: &str) -> String {
        let ct = content_type.unwrap_or("").to_ascii_lowercase();
        if ct.contains("json")
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(body)
        {
            return self.json(&v).to_string();
        }
        if ct.contains("x-www-form-urlencoded") {
            return self.text(&self.form_str(body));
        }
        if ct.contains("html") {
            return self.text(&mask_html_hidden_values(body));
        }
        self.text(body)
    }
}

fn is_cookie_attribute(k: &str) -> bool {
    matches!(
        k.trim().to_ascii_lowercase().as_str(),
        "path" | "domain" | "expires" | "max-age" | "samesite" | "secure" | "httponly"
    )
}

/// Hidden inputs in login pages usually carry CSRF tokens: mask their values.
fn mask_html_hidden_values(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("input[type=hidden][value], input[type=password][value]")
        .expect("static selector");
    let mut out = html.to_string();
    for el in doc.select(&sel) {
        if let Some(v) = el.value().attr("value")
            && v.len() >= 6
        {
            out = out.replace(v, &mask(v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_keep_scheme_and_cookie_names() {
        let r = Redactor::default();
        let a = r.header("Authorization", "Bearer abc.def.ghi");
        assert!(a.starts_with("Bearer [redacted:"), "{a}");
        let c = r.header("Set-Cookie", "sid=s3cr3tvalue; Path=/; HttpOnly");
        assert!(
            c.starts_with("sid=[redacted:") && c.contains("Path=/") && !c.contains("s3cr3t"),
            "{c}"
        );
    }

    #[test]
    fn urls_forms_and_json_are_masked() {
        let r = Redactor::default();
        let u = r.url("https://chatgpt.com/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=oauth_s_1&iss=https%3A%2F%2Fa");
        assert!(
            !u.contains("SplxlOBeZQQYbYS6WxSbIA") && u.contains("state=oauth_s_1"),
            "{u}"
        );
        let f = r.form_str(
            "grant_type=authorization_code&code_verifier=xyzxyzxyz&client_secret=zzzzzzz",
        );
        assert!(
            f.contains("grant_type=authorization_code")
                && !f.contains("xyzxyzxyz")
                && !f.contains("zzzzzzz")
        );
        let j = r.json(&serde_json::json!({"access_token":"tok123456","nested":{"client_secret":"s3cr3t!!"},"token_type":"Bearer"}));
        let s = j.to_string();
        assert!(
            !s.contains("tok123456") && !s.contains("s3cr3t!!") && s.contains("Bearer"),
            "{s}"
        );
    }

    #[test]
    fn learned_secrets_are_masked_in_free_text() {
        let r = Redactor::default();
        r.learn("opaque-token-value");
        r.learn("abc"); // too short: ignored
        let t = r.text("error: token opaque-token-value is revoked; abc");
        assert!(
            !t.contains("opaque-token-value") && t.contains("abc"),
            "{t}"
        );
    }

    #[test]
    fn hidden_form_values_are_masked() {
        let r = Redactor::default();
        let html = r#"<form><input type="hidden" name="csrf" value="csrf-secret-123"><input name="username" value="alice"></form>"#;
        let out = r.body(Some("text/html"), html);
        assert!(
            !out.contains("csrf-secret-123") && out.contains("alice"),
            "{out}"
        );
    }
}
