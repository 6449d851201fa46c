//! 2026-07-28 header values: the Base64 sentinel, `Mcp-Name`, `Mcp-Param-*` and `x-mcp-header`.

use crate::http::Req;
use serde_json::Value;

/// The 2026-07-28 Base64 sentinel form of a header value: `=?base64?{Base64 of the UTF-8}?=`.
pub fn encode_sentinel(value: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(value);
    format!("=?base64?{b64}?=")
}

/// An `Mcp-Name` value as a conforming client sends it: as is when it is plain visible ASCII
/// with no leading or trailing space and does not itself look like the sentinel; otherwise in
/// the Base64 sentinel form (2026-07-28 streamable-http §Value Encoding).
pub fn mcp_name_value(value: &str) -> String {
    let plain = value.bytes().all(|b| (0x20..0x7f).contains(&b))
        && value.trim() == value
        && !value.starts_with("=?base64?");
    if plain {
        value.to_string()
    } else {
        encode_sentinel(value)
    }
}

pub fn set_header(req: &mut Req, name: &str, value: Option<&str>) {
    req.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    if let Some(v) = value {
        req.headers.push((name.to_string(), v.to_string()));
    }
}

/// One `x-mcp-header` annotation: the `Mcp-Param-{name}` part and the `properties` path to the
/// annotated parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamHeader {
    pub name: String,
    pub path: Vec<String>,
}

impl ParamHeader {
    /// The argument at this annotation's exact property path, if present and not null.
    pub fn value_in(&self, args: &Value) -> Option<Value> {
        let mut v = args;
        for key in &self.path {
            v = v.get(key)?;
        }
        (!v.is_null()).then(|| v.clone())
    }
}

/// A parameter value as an `Mcp-Param-*` header carries it (streamable-http §Value Encoding):
/// strings as is (or in the Base64 sentinel form), integers in decimal, booleans in lower case.
pub fn encode_param(value: &Value) -> String {
    match value {
        Value::String(s) => mcp_name_value(s),
        other => other.to_string(),
    }
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The `x-mcp-header` annotations of a tool's `inputSchema`, or why the definition is invalid
/// (2026-07-28 streamable-http §Schema Extension; server/tools §x-mcp-header): each value a
/// non-empty token, unique regardless of case, on a string, integer or boolean parameter that is
/// reachable from the root through `properties` keys alone.
pub fn param_headers(tool: &Value) -> Result<Vec<ParamHeader>, String> {
    fn walk(
        schema: &Value,
        path: &mut Vec<String>,
        reachable: bool,
        out: &mut Vec<ParamHeader>,
    ) -> Result<(), String> {
        let Some(obj) = schema.as_object() else {
            return Ok(());
        };
        if let Some(h) = obj.get("x-mcp-header") {
            let at = if path.is_empty() {
                "the schema root".to_string()
            } else {
                format!("`{}`", path.join("."))
            };
            let name = h
                .as_str()
                .ok_or_else(|| format!("x-mcp-header at {at} is not a string"))?;
            if name.is_empty() || !name.bytes().all(is_tchar) {
                return Err(format!(
                    "x-mcp-header {name:?} at {at} is not an HTTP token"
                ));
            }
            if !reachable {
                return Err(format!(
                    "x-mcp-header {name:?} at {at} is not reachable through `properties` alone"
                ));
            }
            match obj.get("type").and_then(Value::as_str) {
                Some("string" | "integer" | "boolean") => {}
                other => {
                    return Err(format!(
                        "x-mcp-header {name:?} at {at} is on a parameter of type {}; only \
                         string, integer and boolean may be mirrored",
                        other.map_or("(none)".to_string(), |t| format!("`{t}`"))
                    ));
                }
            }
            if let Some(dup) = out.iter().find(|p| p.name.eq_ignore_ascii_case(name)) {
                return Err(format!(
                    "x-mcp-header {name:?} repeats {:?} (compared without case)",
                    dup.name
                ));
            }
            out.push(ParamHeader {
                name: name.to_string(),
                path: path.clone(),
            });
        }
        for (key, sub) in obj {
            match key.as_str() {
                "properties" => {
                    for (prop, s) in sub.as_object().into_iter().flatten() {
                        path.push(prop.clone());
                        walk(s, path, reachable, out)?;
                        path.pop();
                    }
                }
                "items"
                | "prefixItems"
                | "additionalProperties"
                | "patternProperties"
                | "oneOf"
                | "anyOf"
                | "allOf"
                | "not"
                | "if"
                | "then"
                | "else"
                | "$defs"
                | "definitions"
                | "dependentSchemas"
                | "contains"
                | "unevaluatedItems"
                | "unevaluatedProperties"
                | "propertyNames" => {
                    let subs: Vec<&Value> = match sub {
                        Value::Array(a) => a.iter().collect(),
                        Value::Object(o)
                            if matches!(
                                key.as_str(),
                                "patternProperties" | "$defs" | "definitions" | "dependentSchemas"
                            ) =>
                        {
                            o.values().collect()
                        }
                        other => vec![other],
                    };
                    for s in subs {
                        walk(s, path, false, out)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
    let mut out = vec![];
    if let Some(schema) = tool.get("inputSchema") {
        walk(schema, &mut vec![], true, &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mcp_name_values_are_encoded_only_when_a_plain_header_cannot_carry_them() {
        assert_eq!(mcp_name_value("search_company_rag"), "search_company_rag");
        assert_eq!(
            mcp_name_value("wiki://acme/incident-response"),
            "wiki://acme/incident-response"
        );
        // The specification's own examples (streamable-http §Value Encoding).
        assert_eq!(
            mcp_name_value("Hello, 世界"),
            "=?base64?SGVsbG8sIOS4lueVjA==?="
        );
        assert_eq!(mcp_name_value(" padded "), "=?base64?IHBhZGRlZCA=?=");
        assert_eq!(
            mcp_name_value("line1\nline2"),
            "=?base64?bGluZTEKbGluZTI=?="
        );
        assert_eq!(
            mcp_name_value("=?base64?literal?="),
            "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="
        );
    }

    fn tool(props: Value) -> Value {
        json!({"name": "t", "inputSchema": {"type": "object", "properties": props}})
    }

    #[test]
    fn x_mcp_header_annotations_are_found_along_properties_chains() {
        let t = tool(json!({
            "region": {"type": "string", "x-mcp-header": "Region"},
            "filter": {"type": "object", "properties": {
                "tenant": {"type": "integer", "x-mcp-header": "Tenant"},
                "dry_run": {"type": "boolean", "x-mcp-header": "Dry-Run"}
            }},
            "query": {"type": "string"}
        }));
        let h = param_headers(&t).unwrap();
        let got: Vec<(String, String)> = h
            .iter()
            .map(|p| (p.name.clone(), p.path.join(".")))
            .collect();
        assert!(got.contains(&("Region".into(), "region".into())));
        assert!(got.contains(&("Tenant".into(), "filter.tenant".into())));
        assert!(got.contains(&("Dry-Run".into(), "filter.dry_run".into())));
        assert_eq!(got.len(), 3);
        let args = json!({"region": "us-west1", "filter": {"tenant": 42, "dry_run": null}});
        let by = |n: &str| h.iter().find(|p| p.name == n).unwrap().value_in(&args);
        assert_eq!(by("Region"), Some(json!("us-west1")));
        assert_eq!(by("Tenant"), Some(json!(42)));
        assert_eq!(by("Dry-Run"), None, "a null value sends no header");
        assert_eq!(encode_param(&json!(42)), "42");
        assert_eq!(encode_param(&json!(true)), "true");
        assert_eq!(encode_param(&json!(" padded ")), "=?base64?IHBhZGRlZCA=?=");
    }

    #[test]
    fn invalid_x_mcp_header_annotations_invalidate_the_tool() {
        for (props, why) in [
            (
                json!({"n": {"type": "number", "x-mcp-header": "N"}}),
                "type `number`",
            ),
            (
                json!({"o": {"type": "object", "x-mcp-header": "O"}}),
                "type `object`",
            ),
            (
                json!({"s": {"type": "string", "x-mcp-header": ""}}),
                "not an HTTP token",
            ),
            (
                json!({"s": {"type": "string", "x-mcp-header": "a b"}}),
                "not an HTTP token",
            ),
            (
                json!({"s": {"type": "string", "x-mcp-header": "A\r\nX"}}),
                "not an HTTP token",
            ),
            (
                json!({"a": {"type": "string", "x-mcp-header": "Dup"},
                       "b": {"type": "string", "x-mcp-header": "dup"}}),
                "repeats",
            ),
            (
                json!({"list": {"type": "array", "items": {"type": "string", "x-mcp-header": "I"}}}),
                "not reachable",
            ),
            (
                json!({"u": {"anyOf": [{"type": "string", "x-mcp-header": "U"}]}}),
                "not reachable",
            ),
        ] {
            let err = param_headers(&tool(props.clone())).unwrap_err();
            assert!(err.contains(why), "{props}: {err}");
        }
        assert_eq!(
            param_headers(&json!({"name": "no-schema"})).unwrap(),
            vec![]
        );
    }
}
