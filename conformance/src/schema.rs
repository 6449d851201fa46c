//! JSON Schema validation of MCP messages against the official schema of the negotiated revision.
//!
//! The four schemas are embedded in the binary (`fixtures/mcp-schema/<rev>/schema.json`):
//! draft-07 for 2025-03-26 and 2025-06-18, 2020-12 for 2025-11-25 and 2026-07-28. The files
//! have no root type, so a definition is validated by wrapping the document with a root `$ref`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// MCP revisions the harness knows, oldest first.
pub const REVISIONS: &[&str] = &["2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"];

/// The embedded schema text of a revision.
pub fn schema_text(rev: &str) -> Option<&'static str> {
    Some(match rev {
        "2025-03-26" => include_str!("../../fixtures/mcp-schema/2025-03-26/schema.json"),
        "2025-06-18" => include_str!("../../fixtures/mcp-schema/2025-06-18/schema.json"),
        "2025-11-25" => include_str!("../../fixtures/mcp-schema/2025-11-25/schema.json"),
        "2026-07-28" => include_str!("../../fixtures/mcp-schema/2026-07-28/schema.json"),
        _ => return None,
    })
}

/// Name of the JSON-RPC error envelope definition in a revision.
pub fn error_def(rev: &str) -> &'static str {
    match rev {
        "2025-03-26" | "2025-06-18" => "JSONRPCError",
        _ => "JSONRPCErrorResponse",
    }
}

/// Name of the JSON-RPC success envelope definition in a revision.
pub fn result_def(rev: &str) -> &'static str {
    match rev {
        "2025-03-26" | "2025-06-18" => "JSONRPCResponse",
        _ => "JSONRPCResultResponse",
    }
}

type Cache = Mutex<HashMap<(String, String), Arc<jsonschema::Validator>>>;

fn cache() -> &'static Cache {
    static C: OnceLock<Cache> = OnceLock::new();
    C.get_or_init(|| Mutex::new(HashMap::new()))
}

fn validator(rev: &str, def: &str) -> Result<Arc<jsonschema::Validator>, String> {
    if let Some(v) = cache()
        .lock()
        .expect("schema cache")
        .get(&(rev.to_string(), def.to_string()))
    {
        return Ok(v.clone());
    }
    let text = schema_text(rev).ok_or_else(|| format!("no embedded schema for revision {rev}"))?;
    let mut doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("embedded schema {rev}: {e}"))?;
    let key = if doc.get("$defs").is_some() {
        "$defs"
    } else {
        "definitions"
    };
    if doc.get(key).and_then(|d| d.get(def)).is_none() {
        return Err(format!("schema {rev} has no definition {def}"));
    }
    doc.as_object_mut()
        .expect("schema root is an object")
        .insert(
            "$ref".into(),
            serde_json::Value::String(format!("#/{key}/{def}")),
        );
    let v = Arc::new(
        jsonschema::validator_for(&doc).map_err(|e| format!("compiling {rev}#{def}: {e}"))?,
    );
    cache()
        .lock()
        .expect("schema cache")
        .insert((rev.to_string(), def.to_string()), v.clone());
    Ok(v)
}

/// Validates `value` against `#/<defs>/<def>` of revision `rev`. `Err` lists the violations
/// (at most 5, each with its instance path) or a setup problem.
pub fn validate(rev: &str, def: &str, value: &serde_json::Value) -> Result<(), Vec<String>> {
    let v = validator(rev, def).map_err(|e| vec![e])?;
    let errs: Vec<String> = v
        .iter_errors(value)
        .take(5)
        .map(|e| format!("{}: {}", e.instance_path(), e))
        .collect();
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn embedded_schemas_declare_their_dialects() {
        for rev in REVISIONS {
            let doc: serde_json::Value = serde_json::from_str(schema_text(rev).unwrap()).unwrap();
            let dialect = doc["$schema"].as_str().unwrap();
            if rev.starts_with("2025-03") || rev.starts_with("2025-06") {
                assert!(dialect.contains("draft-07"), "{rev}: {dialect}");
            } else {
                assert!(dialect.contains("2020-12"), "{rev}: {dialect}");
            }
        }
    }

    #[test]
    fn initialize_result_validates_per_revision() {
        for rev in &REVISIONS[..3] {
            let ok = json!({"protocolVersion": rev, "capabilities": {"tools": {}}, "serverInfo": {"name": "s", "version": "1"}});
            assert_eq!(validate(rev, "InitializeResult", &ok), Ok(()), "{rev}");
            let bad =
                json!({"protocolVersion": rev, "capabilities": {}, "serverInfo": {"name": "s"}});
            assert!(
                validate(rev, "InitializeResult", &bad).is_err(),
                "{rev}: missing serverInfo.version must fail"
            );
        }
    }

    #[test]
    fn revision_specific_requirements() {
        // resultType is required only from 2026-07-28.
        let r = json!({"content": [{"type": "text", "text": "hi"}]});
        assert_eq!(validate("2025-11-25", "CallToolResult", &r), Ok(()));
        assert!(validate("2026-07-28", "CallToolResult", &r).is_err());
        // Error envelope names differ.
        let e = json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "nope"}});
        assert_eq!(validate("2025-03-26", error_def("2025-03-26"), &e), Ok(()));
        assert_eq!(validate("2025-11-25", error_def("2025-11-25"), &e), Ok(()));
        assert!(validate("2025-11-25", "NoSuchDefinition", &e).is_err());
        assert!(validate("1999-01-01", "InitializeResult", &e).is_err());
    }
}
