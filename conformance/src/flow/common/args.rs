//! Argument synthesis for tool calls.

use serde_json::{Value, json};

/// Minimal arguments satisfying a tool's required properties.
pub fn synthesize_args(tool: &Value) -> Value {
    let mut args = serde_json::Map::new();
    let props = tool
        .pointer("/inputSchema/properties")
        .cloned()
        .unwrap_or(json!({}));
    for req in tool
        .pointer("/inputSchema/required")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let Some(name) = req.as_str() else { continue };
        let p = &props[name];
        let v = if let Some(d) = p.get("default") {
            d.clone()
        } else if let Some(e) = p
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
        {
            e.clone()
        } else {
            match p["type"].as_str() {
                Some("integer") | Some("number") => json!(1),
                Some("boolean") => json!(false),
                Some("array") => json!([]),
                Some("object") => json!({}),
                _ => json!("conformance"),
            }
        };
        args.insert(name.to_string(), v);
    }
    Value::Object(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_synthesis() {
        let t = json!({"name":"x","inputSchema":{"type":"object","properties":{"query":{"type":"string"},"limit":{"type":"integer"},"state":{"type":"string","enum":["open","closed"]},"opt":{"type":"string"}},"required":["query","limit","state"]}});
        assert_eq!(
            synthesize_args(&t),
            json!({"query":"conformance","limit":1,"state":"open"})
        );
        assert_eq!(synthesize_args(&json!({"name":"y"})), json!({}));
    }
}
