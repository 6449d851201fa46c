//! Protocol revisions and the per-request version rules.
//!
//! Legacy revisions (2025-03-26, 2025-06-18, 2025-11-25) are chosen by `initialize` and carried by
//! the `MCP-Protocol-Version` header (or a session); the modern revision (2026-07-28) is declared on
//! every request in `params._meta` and mirrored in headers (`MCP-Protocol-Version`, `Mcp-Method`,
//! `Mcp-Name`, and `Mcp-Param-{Name}` for `x-mcp-header` tool parameters) that must match the body
//! (2026-07-28 `basic/transports/streamable-http.mdx`).
use base64::Engine;
use serde_json::Value;

/// `_meta` key carrying a modern request's protocol version.
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// `_meta` key carrying the server's identity on a modern result.
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// A protocol revision this server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    V2025_03_26,
    V2025_06_18,
    V2025_11_25,
    V2026_07_28,
}

impl Version {
    /// Every supported revision, newest first (the order `supported` lists use).
    pub const ALL: [Version; 4] = [
        Self::V2026_07_28,
        Self::V2025_11_25,
        Self::V2025_06_18,
        Self::V2025_03_26,
    ];
    /// The newest revision negotiated by `initialize` (the counter-offer for unknown requests).
    pub const NEWEST_LEGACY: Version = Self::V2025_11_25;
    /// The version assumed when a legacy request carries neither header nor session (TRN-VER-03).
    pub const DEFAULT_LEGACY: Version = Self::V2025_03_26;

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "2025-03-26" => Some(Self::V2025_03_26),
            "2025-06-18" => Some(Self::V2025_06_18),
            "2025-11-25" => Some(Self::V2025_11_25),
            "2026-07-28" => Some(Self::V2026_07_28),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2025_03_26 => "2025-03-26",
            Self::V2025_06_18 => "2025-06-18",
            Self::V2025_11_25 => "2025-11-25",
            Self::V2026_07_28 => "2026-07-28",
        }
    }

    /// Stateless, per-request-`_meta` revision (no `initialize`, no sessions, `resultType`).
    pub fn is_modern(self) -> bool {
        self == Self::V2026_07_28
    }

    /// `structuredContent`, `outputSchema`, `title` fields and `resource_link` exist.
    pub fn has_structured_content(self) -> bool {
        self >= Self::V2025_06_18
    }

    /// Tool input-validation failures are tool results (`isError`), not protocol errors (SEP-1303).
    pub fn validation_errors_are_results(self) -> bool {
        self >= Self::V2025_11_25
    }

    /// JSON-RPC batches may be received (2025-03-26 only).
    pub fn allows_batches(self) -> bool {
        self == Self::V2025_03_26
    }

    /// JSON-RPC error code for an unknown resource (RES-03).
    pub fn resource_not_found_code(self) -> i64 {
        if self.is_modern() {
            super::jsonrpc::INVALID_PARAMS
        } else {
            super::jsonrpc::RESOURCE_NOT_FOUND
        }
    }

    pub fn supported_strings() -> Vec<&'static str> {
        Self::ALL.iter().map(|v| v.as_str()).collect()
    }
}

/// A header-validation failure (2026-07-28 `HeaderMismatch`, -32020).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMismatch(pub String);

/// Decodes a header value that may use the `=?base64?…?=` sentinel (2026-07-28 "Value Encoding").
/// Plain values must be visible ASCII, space or tab; an encoded value must be valid base64 of UTF-8.
pub fn decode_header_value(raw: &[u8]) -> Result<String, HeaderMismatch> {
    let ok_plain = raw
        .iter()
        .all(|&b| b == b'\t' || (0x20..=0x7e).contains(&b));
    if !ok_plain {
        return Err(HeaderMismatch(
            "header value contains invalid characters".into(),
        ));
    }
    let s =
        std::str::from_utf8(raw).map_err(|_| HeaderMismatch("header value is not ASCII".into()))?;
    if let Some(inner) = s
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(inner)
            .map_err(|_| {
                HeaderMismatch("header value has an invalid =?base64?…?= encoding".into())
            })?;
        return String::from_utf8(bytes)
            .map_err(|_| HeaderMismatch("base64 header value is not UTF-8".into()));
    }
    Ok(s.to_owned())
}

/// Single value of a header; several values are ambiguous and rejected.
fn single<'a>(
    headers: &'a axum::http::HeaderMap,
    name: &str,
) -> Result<Option<&'a [u8]>, HeaderMismatch> {
    let mut it = headers.get_all(name).iter();
    let first = it.next();
    if it.next().is_some() {
        return Err(HeaderMismatch(format!("more than one {name} header")));
    }
    Ok(first.map(|v| v.as_bytes()))
}

/// Checks `Mcp-Method` and `Mcp-Name` against a modern request body (D-TRN-04).
pub fn check_standard_headers(
    headers: &axum::http::HeaderMap,
    method: &str,
    params: Option<&serde_json::Map<String, Value>>,
) -> Result<(), HeaderMismatch> {
    let Some(raw) = single(headers, "mcp-method")? else {
        return Err(HeaderMismatch(
            "required header Mcp-Method is missing".into(),
        ));
    };
    let header_method = decode_header_value(raw)?;
    if header_method != method {
        return Err(HeaderMismatch(format!(
            "Mcp-Method header value '{}' does not match body value '{method}'",
            clip(&header_method)
        )));
    }
    let name_field = match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    };
    let Some(field) = name_field else {
        return Ok(());
    };
    let body_value = params.and_then(|p| p.get(field)).and_then(Value::as_str);
    let Some(raw) = single(headers, "mcp-name")? else {
        return Err(HeaderMismatch(format!(
            "required header Mcp-Name is missing for {method}"
        )));
    };
    let header_name = decode_header_value(raw)?;
    match body_value {
        Some(b) if b == header_name => Ok(()),
        Some(b) => Err(HeaderMismatch(format!(
            "Mcp-Name header value '{}' does not match body value '{}'",
            clip(&header_name),
            clip(b)
        ))),
        None => Err(HeaderMismatch(format!(
            "Mcp-Name header present but params.{field} is missing"
        ))),
    }
}

/// A tool parameter mirrored into an HTTP header: `"x-mcp-header": name` on the property reached
/// from the `inputSchema` root through `properties[path[0]].properties[path[1]]…` (2026-07-28
/// `server/tools.mdx` §x-mcp-header). Tools declare theirs with `param_header!` (see `tools`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamHeader {
    /// The `x-mcp-header` value, e.g. `Repo`.
    pub name: &'static str,
    /// The HTTP header carrying it, `Mcp-Param-{name}` (matched case-insensitively).
    pub header: &'static str,
    /// Property keys from the schema root to the annotated parameter (and from `arguments` to
    /// its value).
    pub path: &'static [&'static str],
}

/// Checks every `Mcp-Param-{Name}` of a `tools/call` against the body's `arguments` (2026-07-28
/// streamable-http §Server Behavior for Custom Headers): an argument with a non-null value needs
/// exactly one header that, decoded, equals it (strings exactly, booleans as `true`/`false`,
/// numbers numerically so `42.0` matches `42`); an absent or null argument must come without its
/// header. `bindings` are the called tool's annotations; headers no annotation names are ignored.
pub fn check_param_headers(
    headers: &axum::http::HeaderMap,
    bindings: &[ParamHeader],
    arguments: Option<&Value>,
) -> Result<(), HeaderMismatch> {
    for b in bindings {
        let value = arguments
            .and_then(|a| b.path.iter().try_fold(a, |v, key| v.get(key)))
            .filter(|v| !v.is_null());
        let raw = single(headers, b.header)?;
        let (value, raw) = match (value, raw) {
            (None, None) => continue,
            (Some(_), None) => {
                return Err(HeaderMismatch(format!(
                    "required header {} is missing (arguments.{} has a value)",
                    b.header,
                    b.path.join(".")
                )));
            }
            (None, Some(_)) => {
                return Err(HeaderMismatch(format!(
                    "{} header present but arguments.{} has no value",
                    b.header,
                    b.path.join(".")
                )));
            }
            (Some(v), Some(r)) => (v, r),
        };
        let sent = decode_header_value(raw)
            .map_err(|HeaderMismatch(m)| HeaderMismatch(format!("{}: {m}", b.header)))?;
        let same = match value {
            Value::String(s) => *s == sent,
            Value::Bool(x) => sent == if *x { "true" } else { "false" },
            Value::Number(n) => same_number(&sent, n),
            // No header encoding exists for objects or arrays, so nothing can match them.
            _ => false,
        };
        if !same {
            let body = match value {
                Value::String(s) => clip(s),
                other => clip(&other.to_string()),
            };
            return Err(HeaderMismatch(format!(
                "{} header value '{}' does not match arguments.{} value '{body}'",
                b.header,
                clip(&sent),
                b.path.join(".")
            )));
        }
    }
    Ok(())
}

/// Numeric equality of a header value and a JSON number: integers exactly, anything else (`42.0`,
/// `4.2e1`) as finite floats.
fn same_number(sent: &str, n: &serde_json::Number) -> bool {
    let body_int = n
        .as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from));
    if let (Ok(h), Some(b)) = (sent.parse::<i128>(), body_int) {
        return h == b;
    }
    match (sent.parse::<f64>(), n.as_f64()) {
        (Ok(h), Some(b)) => h.is_finite() && h == b,
        _ => false,
    }
}

/// Keeps echoed header values short in error messages.
fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};
    use serde_json::json;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_bytes(v.as_bytes()).unwrap());
        }
        h
    }

    #[test]
    fn versions_round_trip_and_order() {
        for v in Version::ALL {
            assert_eq!(Version::parse(v.as_str()), Some(v));
        }
        assert_eq!(Version::parse("2024-11-05"), None);
        assert!(Version::V2025_03_26 < Version::V2026_07_28);
        assert!(!Version::V2025_03_26.has_structured_content());
        assert!(Version::V2025_06_18.has_structured_content());
        assert!(!Version::V2025_06_18.validation_errors_are_results());
        assert!(Version::V2025_11_25.validation_errors_are_results());
        assert!(Version::V2025_03_26.allows_batches() && !Version::V2025_06_18.allows_batches());
        assert_eq!(Version::V2026_07_28.resource_not_found_code(), -32602);
        assert_eq!(Version::V2025_11_25.resource_not_found_code(), -32002);
    }

    #[test]
    fn base64_sentinel_decoding() {
        assert_eq!(decode_header_value(b"us-west1").unwrap(), "us-west1");
        assert_eq!(
            decode_header_value(b"=?base64?SGVsbG8sIOS4lueVjA==?=").unwrap(),
            "Hello, 世界"
        );
        assert_eq!(
            decode_header_value(b"=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=").unwrap(),
            "=?base64?literal?="
        );
        assert!(decode_header_value(b"=?base64?!!!?=").is_err());
        assert!(
            decode_header_value(b"=?base64?/w==?=").is_err(),
            "not UTF-8"
        );
        assert!(
            decode_header_value(b"caf\xc3\xa9").is_err(),
            "raw non-ASCII"
        );
        // Wrong-case sentinel is just a plain value.
        assert_eq!(
            decode_header_value(b"=?BASE64?eA==?=").unwrap(),
            "=?BASE64?eA==?="
        );
    }

    #[test]
    fn standard_headers_checked() {
        let p = json!({"name": "search", "_meta": {}});
        assert!(
            check_standard_headers(
                &headers(&[("mcp-method", "tools/call"), ("mcp-name", "search")]),
                "tools/call",
                p.as_object()
            )
            .is_ok()
        );
        assert!(
            check_standard_headers(
                &headers(&[
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "=?base64?c2VhcmNo?=")
                ]),
                "tools/call",
                p.as_object()
            )
            .is_ok()
        );
        assert!(
            check_standard_headers(
                &headers(&[("mcp-method", "tools/call")]),
                "tools/call",
                p.as_object()
            )
            .is_err()
        );
        assert!(
            check_standard_headers(
                &headers(&[("mcp-method", "tools/call"), ("mcp-name", "fetch")]),
                "tools/call",
                p.as_object()
            )
            .is_err()
        );
        assert!(
            check_standard_headers(
                &headers(&[("mcp-method", "tools/list")]),
                "tools/call",
                p.as_object()
            )
            .is_err()
        );
        assert!(
            check_standard_headers(
                &headers(&[("mcp-method", "Tools/List")]),
                "tools/list",
                None
            )
            .is_err(),
            "values are case-sensitive"
        );
        assert!(check_standard_headers(&headers(&[]), "tools/list", None).is_err());
        assert!(
            check_standard_headers(
                &headers(&[("mcp-method", "tools/list"), ("mcp-method", "tools/list")]),
                "tools/list",
                None
            )
            .is_err()
        );
        assert!(
            check_standard_headers(
                &headers(&[("mcp-method", "tools/list")]),
                "tools/list",
                None
            )
            .is_ok()
        );
        let r = json!({"uri": "wiki://pages/a"});
        assert!(
            check_standard_headers(
                &headers(&[
                    ("mcp-method", "resources/read"),
                    ("mcp-name", "wiki://pages/a")
                ]),
                "resources/read",
                r.as_object()
            )
            .is_ok()
        );
    }

    const REPO: ParamHeader = ParamHeader {
        name: "Repo",
        header: "Mcp-Param-Repo",
        path: &["repo"],
    };
    const LIMIT: ParamHeader = ParamHeader {
        name: "Limit",
        header: "Mcp-Param-Limit",
        path: &["limit"],
    };
    const DRY_RUN: ParamHeader = ParamHeader {
        name: "Dry-Run",
        header: "Mcp-Param-Dry-Run",
        path: &["options", "dry_run"],
    };
    const ALL: &[ParamHeader] = &[REPO, LIMIT, DRY_RUN];

    fn params(h: &[(&'static str, &str)], args: Value) -> Result<(), HeaderMismatch> {
        check_param_headers(&headers(h), ALL, Some(&args))
    }

    #[test]
    fn param_headers_match_the_body() {
        let args = json!({"repo": "acme/auth", "limit": 42, "options": {"dry_run": true}});
        let full = [
            ("mcp-param-repo", "acme/auth"),
            ("mcp-param-limit", "42"),
            ("mcp-param-dry-run", "true"),
        ];
        assert_eq!(params(&full, args.clone()), Ok(()));
        // Header names are case-insensitive (HeaderMap stores them lower-cased).
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("MCP-PARAM-REPO", "acme/auth"),
            ("Mcp-Param-Limit", "42"),
            ("mcp-PARAM-dry-RUN", "true"),
        ] {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_static(v),
            );
        }
        assert_eq!(check_param_headers(&h, ALL, Some(&args)), Ok(()));
        // Base64 sentinel form is decoded before comparing.
        let b64 = [
            ("mcp-param-repo", "=?base64?YWNtZS9hdXRo?="),
            ("mcp-param-limit", "42"),
            ("mcp-param-dry-run", "true"),
        ];
        assert_eq!(params(&b64, args.clone()), Ok(()));
        let unicode = json!({"repo": " Grüße, 世界 "});
        assert_eq!(
            params(
                &[("mcp-param-repo", "=?base64?IEdyw7zDn2UsIOS4lueVjCA=?=")],
                unicode
            ),
            Ok(())
        );
        // Integers compare numerically, either side may use a decimal point.
        for (sent, body) in [
            ("42.0", json!(42)),
            ("42", json!(42.0)),
            ("4.2e1", json!(42)),
            ("-7", json!(-7)),
        ] {
            assert_eq!(
                params(&[("mcp-param-limit", sent)], json!({"limit": body})),
                Ok(()),
                "{sent} vs {body}"
            );
        }
        for (sent, body) in [
            ("43", json!(42)),
            ("42.5", json!(42)),
            ("forty-two", json!(42)),
            ("NaN", json!(42)),
            ("9007199254740993", json!(9007199254740992_i64)),
        ] {
            assert!(
                params(&[("mcp-param-limit", sent)], json!({"limit": body})).is_err(),
                "{sent} vs {body}"
            );
        }
        // Absent or null arguments expect no header; headers no annotation names are ignored.
        assert_eq!(params(&[], json!({})), Ok(()));
        assert_eq!(
            params(&[], json!({"repo": null, "options": {"dry_run": null}})),
            Ok(())
        );
        assert_eq!(params(&[("mcp-param-other", "x")], json!({})), Ok(()));
        assert_eq!(
            check_param_headers(&headers(&[]), ALL, None),
            Ok(()),
            "no arguments at all"
        );
        assert_eq!(check_param_headers(&headers(&full), &[], None), Ok(()));
    }

    #[test]
    fn param_header_mismatches_are_rejected() {
        let err = |h: &[(&'static str, &str)], args: Value| params(h, args).unwrap_err().0;
        // Value in the body, header missing.
        let m = err(&[], json!({"repo": "acme/auth"}));
        assert!(m.contains("Mcp-Param-Repo") && m.contains("missing"), "{m}");
        let m = err(&[], json!({"options": {"dry_run": false}}));
        assert!(m.contains("Mcp-Param-Dry-Run"), "{m}");
        // Header differs from the body.
        let m = err(
            &[("mcp-param-repo", "acme/billing")],
            json!({"repo": "acme/auth"}),
        );
        assert!(
            m.contains("Mcp-Param-Repo") && m.contains("acme/billing") && m.contains("acme/auth"),
            "{m}"
        );
        assert!(
            params(
                &[("mcp-param-repo", "ACME/AUTH")],
                json!({"repo": "acme/auth"})
            )
            .is_err()
        );
        assert!(
            params(
                &[("mcp-param-dry-run", "True")],
                json!({"options": {"dry_run": true}})
            )
            .is_err()
        );
        assert!(
            params(
                &[("mcp-param-dry-run", "1")],
                json!({"options": {"dry_run": true}})
            )
            .is_err()
        );
        // Whitespace the client should have Base64-encoded does not survive HTTP.
        assert!(
            params(
                &[("mcp-param-repo", "acme/auth")],
                json!({"repo": " acme/auth"})
            )
            .is_err()
        );
        // A literal that looks like the sentinel must itself be encoded.
        assert!(
            params(
                &[("mcp-param-repo", "=?base64?eA==?=")],
                json!({"repo": "=?base64?eA==?="})
            )
            .is_err()
        );
        // Header sent for an argument that is absent, null, or not at the annotated path.
        for args in [
            json!({}),
            json!({"repo": null}),
            json!({"other": {"repo": "acme/auth"}}),
        ] {
            let m = err(&[("mcp-param-repo", "acme/auth")], args);
            assert!(
                m.contains("Mcp-Param-Repo") && m.contains("no value"),
                "{m}"
            );
        }
        assert!(
            params(
                &[("mcp-param-dry-run", "true")],
                json!({"dry_run": true, "options": "x"})
            )
            .is_err()
        );
        // Invalid characters, a broken sentinel, or the header twice.
        let m = err(
            &[("mcp-param-repo", "acme/authé")],
            json!({"repo": "acme/authé"}),
        );
        assert!(m.contains("Mcp-Param-Repo") && m.contains("invalid"), "{m}");
        assert!(params(&[("mcp-param-repo", "=?base64?%%?=")], json!({"repo": "x"})).is_err());
        let m = err(
            &[
                ("mcp-param-repo", "acme/auth"),
                ("mcp-param-repo", "acme/auth"),
            ],
            json!({"repo": "acme/auth"}),
        );
        assert!(m.contains("more than one"), "{m}");
        // Objects and arrays have no header form.
        assert!(params(&[("mcp-param-repo", "[]")], json!({"repo": []})).is_err());
        assert!(params(&[], json!({"repo": {"a": 1}})).is_err());
        // Long values are clipped in the message.
        let long = "a".repeat(500);
        let m = err(&[("mcp-param-repo", &long)], json!({"repo": "b"}));
        assert!(m.len() < 300, "{m}");
    }
}
