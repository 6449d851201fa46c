//! 2026-07-28 (stateless) transport rules: header/`_meta` consistency, version errors, the
//! `Mcp-Method`/`Mcp-Name` routing headers, 404 for unknown methods, GET → 405 and `resultType`.
//!
//! Applicable when the target speaks 2026-07-28, i.e. `server/discover` succeeded (probed here
//! if the profile did not probe it). Each probe mutates exactly one thing of a request that a
//! control probe showed to be accepted, so a rejection is attributable to that one thing.

use super::{Run, Session, describe};
use crate::http::{Body, Req, Resp};
use crate::model::Finding::{self, *};
use serde_json::{Value, json};

pub const MODERN: &str = "2026-07-28";

const IDS: [&str; 11] = [
    "mcp/modern/version-header-mismatch",
    "mcp/modern/unsupported-version",
    "mcp/modern/unknown-method",
    "mcp/modern/method-header",
    "mcp/modern/name-header",
    "mcp/modern/name-header-resource",
    "mcp/modern/name-header-base64",
    "mcp/modern/param-header",
    "mcp/modern/param-header-valid",
    "mcp/modern/get-405",
    "mcp/modern/result-type",
];
/// The first `CONTROLLED` ids mutate a request that the control probe showed to be served.
const CONTROLLED: usize = 9;

/// The JSON-RPC error object of a response body, if any.
fn rpc_error(r: &Resp) -> Option<Value> {
    r.json()?.get("error").filter(|e| e.is_object()).cloned()
}

/// HTTP `status` with JSON-RPC `code` in the body.
fn expect_error(r: &Resp, status: u16, code: i64, what: &str) -> Finding {
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

/// The 2026-07-28 Base64 sentinel form of a header value: `=?base64?{Base64 of the UTF-8}?=`.
pub(super) fn encode_sentinel(value: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(value);
    format!("=?base64?{b64}?=")
}

/// An `Mcp-Name` value as a conforming client sends it: as is when it is plain visible ASCII
/// with no leading or trailing space and does not itself look like the sentinel; otherwise in
/// the Base64 sentinel form (2026-07-28 streamable-http §Value Encoding).
pub(super) fn mcp_name_value(value: &str) -> String {
    let plain = value.bytes().all(|b| (0x20..0x7f).contains(&b))
        && value.trim() == value
        && !value.starts_with("=?base64?");
    if plain {
        value.to_string()
    } else {
        encode_sentinel(value)
    }
}

fn set_header(req: &mut Req, name: &str, value: Option<&str>) {
    req.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    if let Some(v) = value {
        req.headers.push((name.to_string(), v.to_string()));
    }
}

/// One `x-mcp-header` annotation: the `Mcp-Param-{name}` part and the `properties` path to the
/// annotated parameter.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ParamHeader {
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
pub(super) fn encode_param(value: &Value) -> String {
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
pub(super) fn param_headers(tool: &Value) -> Result<Vec<ParamHeader>, String> {
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

impl Run {
    /// Runs the 2026-07-28 transport checks with `token` (after the main handshake).
    pub(super) async fn modern_checks(&mut self, token: &str) {
        if !self.any_on(&IDS) {
            return;
        }
        if let Some(s) = self.cfg.spec.clone()
            && s != MODERN
        {
            self.rec_all(
                &IDS,
                NotApplicable(format!(
                    "--spec {s}: the 2026-07-28 transport rules do not apply"
                )),
            );
            return;
        }
        let saved = self.session.replace(Session {
            revision: MODERN.into(),
            session_id: None,
        });
        self.modern_inner(token).await;
        self.session = saved;
    }

    async fn modern_inner(&mut self, token: &str) {
        let url = self.mcp_url.to_string();
        let auth = format!("Bearer {token}");
        if self.discover.is_none() {
            let r = self
                .rpc(
                    "mcp: server/discover probe (2026-07-28 checks)",
                    Some(token),
                    "server/discover",
                    json!({}),
                )
                .await;
            self.discover = Some(match r {
                Some(r) => match r.result() {
                    Some(res) => Ok(res.clone()),
                    None => Err(format!("server/discover got {}", describe(&r.resp))),
                },
                None => Err("server/discover: MCP endpoint unreachable".into()),
            });
        }
        if let Some(Err(why)) = self.discover.clone() {
            self.rec_all(
                &IDS,
                NotApplicable(format!("the target does not speak 2026-07-28 ({why})")),
            );
            return;
        }

        // Control: a well-formed 2026-07-28 tools/list must be served.
        let (control, id) = self.rpc_req(
            "mcp: 2026-07-28 control tools/list",
            &url,
            Some(&auth),
            "tools/list",
            json!({}),
            false,
        );
        match self.send_rpc(control.clone(), &id).await {
            Some(r) if r.result().is_some() => {
                self.modern_tools = r
                    .result()
                    .and_then(|res| res.get("tools"))
                    .and_then(Value::as_array)
                    .cloned();
            }
            Some(r) => {
                let why = format!(
                    "a well-formed 2026-07-28 tools/list got {}",
                    describe(&r.resp)
                );
                for id in &IDS[..CONTROLLED] {
                    self.rec(id, CouldNotRun(why.clone()), &[r.resp.id]);
                }
                return;
            }
            None => {
                self.rec_all(
                    &IDS[..CONTROLLED],
                    CouldNotRun("MCP endpoint unreachable".into()),
                );
                return;
            }
        }

        // MCP-Protocol-Version ≠ _meta protocolVersion → 400 / -32020.
        if self.on("mcp/modern/version-header-mismatch") {
            let (mut req, _) = self.rpc_req(
                "mcp: 2026-07-28 header ≠ _meta version",
                &url,
                Some(&auth),
                "tools/list",
                json!({}),
                false,
            );
            set_header(&mut req, "mcp-protocol-version", Some("2025-11-25"));
            if let Ok(r) = self.http.send(req).await {
                let f = expect_error(&r, 400, -32020, "header 2025-11-25, _meta 2026-07-28");
                self.rec("mcp/modern/version-header-mismatch", f, &[r.id]);
            }
        }

        // Unsupported version (header and _meta agree) → 400 / -32022 with data.supported.
        if self.on("mcp/modern/unsupported-version") {
            let (mut req, _) = self.rpc_req(
                "mcp: 2026-07-28 unsupported version",
                &url,
                Some(&auth),
                "tools/list",
                json!({}),
                false,
            );
            set_header(&mut req, "mcp-protocol-version", Some("1999-01-01"));
            if let Body::Json(b) = &mut req.body {
                b["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] =
                    json!("1999-01-01");
            }
            if let Ok(r) = self.http.send(req).await {
                let f = match expect_error(&r, 400, -32022, "version 1999-01-01") {
                    Holds(d) => {
                        let supported = rpc_error(&r)
                            .and_then(|e| e.pointer("/data/supported").cloned())
                            .unwrap_or(Value::Null);
                        match supported.as_array() {
                            Some(a) if !a.is_empty() && a.iter().all(Value::is_string) => {
                                Holds(format!("{d}, data.supported={supported}"))
                            }
                            _ => Violated(format!(
                                "{d}, but `data.supported` is {supported}; expected a non-empty array of versions"
                            )),
                        }
                    }
                    f => f,
                };
                self.rec("mcp/modern/unsupported-version", f, &[r.id]);
            }
        }

        // Unknown method → HTTP 404 with -32601.
        if self.on("mcp/modern/unknown-method") {
            let (req, id) = self.rpc_req(
                "mcp: 2026-07-28 unknown method",
                &url,
                Some(&auth),
                "conformance/no-such-method",
                json!({}),
                false,
            );
            if let Some(r) = self.send_rpc(req, &id).await {
                let f = expect_error(&r.resp, 404, -32601, "conformance/no-such-method");
                self.rec("mcp/modern/unknown-method", f, &[r.resp.id]);
            }
        }

        // Mcp-Method missing / mismatched → 400 / -32020.
        if self.on("mcp/modern/method-header") {
            self.header_must_match(
                "mcp/modern/method-header",
                &auth,
                "mcp-method",
                "tools/list",
                json!({}),
                "resources/list",
            )
            .await;
        }

        // Mcp-Name missing / mismatched on tools/call → 400 / -32020.
        let tool = self.chosen_tool();
        if self.on("mcp/modern/name-header") {
            match &tool {
                None => self.rec(
                    "mcp/modern/name-header",
                    NotApplicable(
                        "no tool is marked readOnlyHint and no --call-tool was given".into(),
                    ),
                    &[],
                ),
                Some((name, args)) => {
                    self.header_must_match(
                        "mcp/modern/name-header",
                        &auth,
                        "mcp-name",
                        "tools/call",
                        json!({"name": name, "arguments": args}),
                        "conformance-other-tool",
                    )
                    .await;
                }
            }
        }

        // Mcp-Name missing / mismatched on resources/read → 400 / -32020.
        if self.on("mcp/modern/name-header-resource") {
            match self.first_resource.clone() {
                None => self.rec(
                    "mcp/modern/name-header-resource",
                    NotApplicable("the target listed no resource to read".into()),
                    &[],
                ),
                Some(uri) => {
                    self.header_must_match(
                        "mcp/modern/name-header-resource",
                        &auth,
                        "mcp-name",
                        "resources/read",
                        json!({"uri": uri}),
                        "conformance://other-resource",
                    )
                    .await;
                }
            }
        }

        // Mcp-Name sent in the Base64 sentinel form → decoded, then served.
        if self.on("mcp/modern/name-header-base64") {
            match &tool {
                None => self.rec(
                    "mcp/modern/name-header-base64",
                    NotApplicable(
                        "no tool is marked readOnlyHint and no --call-tool was given".into(),
                    ),
                    &[],
                ),
                Some((name, args)) => {
                    let (mut req, id) = self.rpc_req(
                        "mcp: 2026-07-28 tools/call with a Base64-encoded Mcp-Name",
                        &url,
                        Some(&auth),
                        "tools/call",
                        json!({"name": name, "arguments": args}),
                        false,
                    );
                    let encoded = encode_sentinel(name);
                    set_header(&mut req, "mcp-name", Some(&encoded));
                    if let Some(r) = self.send_rpc(req, &id).await {
                        let f = if r.result().is_some() {
                            Holds(format!("Mcp-Name: {encoded} decoded to {name} and served"))
                        } else {
                            let code = rpc_error(&r.resp)
                                .and_then(|e| e.get("code").and_then(Value::as_i64));
                            Violated(format!(
                                "tools/call {name} with Mcp-Name: {encoded} got {}{}; the \
                                 server must decode the =?base64?…?= form before comparing",
                                describe(&r.resp),
                                if code == Some(-32020) {
                                    " with -32020 (the encoded value was compared as is)"
                                } else {
                                    ""
                                }
                            ))
                        };
                        self.rec("mcp/modern/name-header-base64", f, &[r.resp.id]);
                    }
                }
            }
        }

        // x-mcp-header annotations: valid definitions, and Mcp-Param-{Name} checked against the body.
        if self.on("mcp/modern/param-header-valid") {
            let f = self.param_annotations_valid();
            self.rec("mcp/modern/param-header-valid", f, &[]);
        }
        if self.on("mcp/modern/param-header") {
            self.param_header_check(&url, &auth).await;
        }

        // GET → 405.
        if self.on("mcp/modern/get-405") {
            let req = Req::get("mcp: 2026-07-28 GET the endpoint", url.as_str())
                .header("accept", "text/event-stream")
                .header("authorization", auth.clone())
                .header("mcp-protocol-version", MODERN);
            let sent =
                tokio::time::timeout(std::time::Duration::from_secs(3), self.http.send(req)).await;
            let (f, ev) = match sent {
                Ok(Ok(r)) if r.status == 405 => (Holds("405".into()), vec![r.id]),
                Ok(Ok(r)) => (
                    Violated(format!(
                        "got {}; a 2026-07-28 server has no GET stream and answers 405",
                        describe(&r)
                    )),
                    vec![r.id],
                ),
                Ok(Err(e)) if !e.0.contains("timed out") => (CouldNotRun(e.0), vec![]),
                _ => (
                    Violated("GET opened an event stream; 2026-07-28 expects 405".into()),
                    vec![],
                ),
            };
            self.rec("mcp/modern/get-405", f, &ev);
        }
    }

    /// Every `x-mcp-header` annotation in the 2026-07-28 `tools/list` obeys the constraints that
    /// make clients keep the tool (a client drops a tool whose annotation breaks them).
    fn param_annotations_valid(&self) -> Finding {
        let tools = self.modern_tools.clone().unwrap_or_default();
        let mut count = 0;
        let mut bad = vec![];
        for tool in &tools {
            let name = tool["name"].as_str().unwrap_or("?");
            match param_headers(tool) {
                Ok(h) => count += h.len(),
                Err(why) => bad.push(format!("tool `{name}`: {why}")),
            }
        }
        if !bad.is_empty() {
            return Violated(format!(
                "{}; conforming clients (ChatGPT included) must drop such a tool from tools/list",
                bad.join("; ")
            ));
        }
        if count == 0 {
            return NotApplicable("no tool annotates a parameter with x-mcp-header".into());
        }
        Holds(format!("{count} x-mcp-header annotation(s), all valid"))
    }

    /// Picks a tool the harness may call (read-only, or `--call-tool`) with a valid annotation
    /// whose parameter has a value in the call's arguments; proves a matching `Mcp-Param-*` is
    /// served, then that a missing and a wrong one get 400 / -32020.
    async fn param_header_check(&mut self, url: &str, auth: &str) {
        const ID: &str = "mcp/modern/param-header";
        let tools = self.modern_tools.clone().unwrap_or_default();
        let mut pick = None;
        for tool in &tools {
            let name = tool["name"].as_str().unwrap_or_default().to_string();
            let allowed = match &self.cfg.call_tool {
                Some(t) => *t == name,
                None => tool.pointer("/annotations/readOnlyHint") == Some(&json!(true)),
            };
            let Ok(headers) = param_headers(tool) else {
                continue;
            };
            if !allowed || headers.is_empty() {
                continue;
            }
            let args = match (&self.cfg.call_tool, &self.cfg.call_args) {
                (Some(_), Some(a)) => a.clone(),
                _ => super::mcp::synthesize_args(tool),
            };
            if let Some((h, v)) = headers
                .into_iter()
                .find_map(|h| h.value_in(&args).map(|v| (h, v)))
            {
                pick = Some((name, args, h, v));
                break;
            }
        }
        let Some((name, args, header, value)) = pick else {
            let why = "no tool the harness may call (read-only, or --call-tool) mirrors a \
                       parameter that has a value in its arguments into an Mcp-Param header";
            self.rec(ID, NotApplicable(why.into()), &[]);
            return;
        };
        let params = json!({"name": name, "arguments": args});
        let (req, id) = self.rpc_req(
            &format!("mcp: 2026-07-28 tools/call {name} with matching Mcp-Param headers"),
            url,
            Some(auth),
            "tools/call",
            params.clone(),
            false,
        );
        let Some(control) = self.send_rpc(req, &id).await else {
            self.rec(ID, CouldNotRun("MCP endpoint unreachable".into()), &[]);
            return;
        };
        if control.result().is_none() {
            let code = rpc_error(&control.resp).and_then(|e| e.get("code").and_then(Value::as_i64));
            let f = if control.resp.status == 400 && code == Some(-32020) {
                Violated(format!(
                    "tools/call {name} with Mcp-Param-{}: {} (matching the body) got {}; a \
                     header that matches its argument must be accepted",
                    header.name,
                    encode_param(&value),
                    describe(&control.resp)
                ))
            } else {
                CouldNotRun(format!(
                    "tools/call {name} with matching headers got {}",
                    describe(&control.resp)
                ))
            };
            self.rec(ID, f, &[control.resp.id]);
            return;
        }
        let wrong = match &value {
            Value::Bool(b) => (!b).to_string(),
            Value::Number(n) => n
                .as_i64()
                .map_or("0".into(), |i| i.wrapping_add(1).to_string()),
            Value::String(s) if s == "conformance-mismatch" => "conformance-mismatch-2".into(),
            _ => "conformance-mismatch".into(),
        };
        let header_name = format!("mcp-param-{}", header.name.to_ascii_lowercase());
        self.header_must_match(ID, auth, &header_name, "tools/call", params, &wrong)
            .await;
    }

    /// Sends `method` twice, once without the `header` and once with it set to `wrong`; both
    /// must get 400 with JSON-RPC -32020. The first violation decides; evidence is every probe.
    async fn header_must_match(
        &mut self,
        check: &'static str,
        auth: &str,
        header: &str,
        method: &str,
        params: Value,
        wrong: &str,
    ) {
        let url = self.mcp_url.to_string();
        let mut ev = vec![];
        let mut f = None;
        for value in [None, Some(wrong)] {
            let step = match value {
                None => format!("mcp: 2026-07-28 {method} without {header}"),
                Some(v) => format!("mcp: 2026-07-28 {method} with {header}: {v}"),
            };
            let (mut req, _) = self.rpc_req(&step, &url, Some(auth), method, params.clone(), false);
            set_header(&mut req, header, value);
            let what = match value {
                None => format!("{method} without {header}"),
                Some(v) => format!("{method} with {header}: {v}"),
            };
            if let Ok(r) = self.http.send(req).await {
                ev.push(r.id);
                let g = expect_error(&r, 400, -32020, &what);
                let violated = matches!(g, Violated(_));
                if f.is_none() || violated {
                    f = Some(g);
                }
                if violated {
                    break;
                }
            }
        }
        let f = match f {
            Some(Holds(_)) if ev.len() == 2 => Holds(format!(
                "{method} without {header} and with {header}: {wrong}: 400 with -32020 both times"
            )),
            Some(f) => f,
            None => return,
        };
        self.rec(check, f, &ev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
