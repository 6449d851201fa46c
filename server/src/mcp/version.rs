//! Protocol revisions and the per-request version rules.
//!
//! Legacy revisions (2025-03-26, 2025-06-18, 2025-11-25) are chosen by `initialize` and carried by
//! the `MCP-Protocol-Version` header (or a session); the modern revision (2026-07-28) is declared on
//! every request in `params._meta` and mirrored in headers (`MCP-Protocol-Version`, `Mcp-Method`,
//! `Mcp-Name`) that must match the body (2026-07-28 `basic/transports/streamable-http.mdx`).
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
}
