//! Small JSON and error-body helpers.

use crate::http::Resp;
use crate::model::Finding::{self, *};
use serde_json::Value;

/// Short description of a response for verdict details.
pub fn describe(r: &Resp) -> String {
    let mut s = format!("HTTP {}", r.status);
    if let Some(ct) = r.header("content-type") {
        s.push_str(&format!(" ({ct})"));
    }
    if let Some(v) = r.json() {
        if let Some(e) = v.get("error").and_then(Value::as_str) {
            s.push_str(&format!(" error={e}"));
        }
    } else if r.is_html() {
        s.push_str(" HTML body");
    }
    s
}

/// The `error` field of a JSON body.
pub fn json_error(r: &Resp) -> Option<String> {
    r.json()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
}

/// String array field of a JSON object.
pub fn strs(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The JSON-RPC error object of a response body, if any.
pub fn rpc_error(r: &Resp) -> Option<Value> {
    r.json()?.get("error").filter(|e| e.is_object()).cloned()
}

/// HTTP `status` with JSON-RPC `code` in the body.
pub fn expect_error(r: &Resp, status: u16, code: i64, what: &str) -> Finding {
    let got = rpc_error(r).and_then(|e| e.get("code").and_then(Value::as_i64));
    if r.status == status && got == Some(code) {
        return Holds(format!("{what}: {status} with {code}"));
    }
    Violated(format!(
        "{what}: got {}{}; expected HTTP {status} with JSON-RPC {code}{}",
        describe(r),
        got.map(|c| format!(" with JSON-RPC {c}"))
            .unwrap_or_else(|| " without a JSON-RPC error code".into()),
        if (200..300).contains(&r.status) {
            " (the request was served)"
        } else {
            ""
        }
    ))
}

/// Grades a token-endpoint response that must be a rejection with `code`.
pub fn grade_rejection(r: &Resp, code: &str, accepted: &str) -> Finding {
    match (r.status, json_error(r)) {
        (200..=299, _) => Violated(accepted.to_string()),
        (400, Some(e)) if e == code => Holds(format!("400 {e}")),
        (s, e) => Advisory(format!(
            "rejected with HTTP {s} error={e:?}; expected 400 {code}"
        )),
    }
}
