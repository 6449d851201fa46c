//! JSON-RPC 2.0 framing as MCP uses it: classifying incoming messages, error codes, responses.
use serde_json::{Map, Value, json};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// Legacy (≤ 2025-11-25) "resource not found".
pub const RESOURCE_NOT_FOUND: i64 = -32002;
/// Legacy transport: the `Mcp-Session-Id` is unknown or ended (the code the official SDKs use).
pub const SESSION_NOT_FOUND: i64 = -32001;
/// 2026-07-28 `HeaderMismatch`.
pub const HEADER_MISMATCH: i64 = -32020;
/// 2026-07-28 `UnsupportedProtocolVersion`.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// A JSON-RPC request id: a string or an integer, never null (BASE-01).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestId {
    Str(String),
    Int(i64),
}

impl RequestId {
    pub fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::String(s) => Some(Self::Str(s.clone())),
            Value::Number(n) => n.as_i64().map(Self::Int),
            _ => None,
        }
    }
    pub fn to_value(&self) -> Value {
        match self {
            Self::Str(s) => Value::String(s.clone()),
            Self::Int(i) => Value::from(*i),
        }
    }
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
    pub fn invalid_request(m: impl Into<String>) -> Self {
        Self::new(INVALID_REQUEST, m)
    }
    pub fn invalid_params(m: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, m)
    }
    pub fn method_not_found(method: &str) -> Self {
        Self::new(METHOD_NOT_FOUND, format!("Method not found: {method}"))
    }
    pub fn internal() -> Self {
        Self::new(INTERNAL_ERROR, "Internal error")
    }
    pub fn to_value(&self) -> Value {
        let mut e = json!({ "code": self.code, "message": self.message });
        if let Some(d) = &self.data {
            e["data"] = d.clone();
        }
        e
    }
}

/// A JSON-RPC request (has an id) or notification (has none).
#[derive(Debug, Clone)]
pub struct Call {
    pub id: Option<RequestId>,
    pub method: String,
    /// Always an object (absent params are an empty object).
    pub params: Map<String, Value>,
    /// Whether the message carried `params` at all.
    pub has_params: bool,
}

impl Call {
    pub fn meta(&self) -> Option<&Map<String, Value>> {
        self.params.get("_meta").and_then(Value::as_object)
    }
    pub fn progress_token(&self) -> Option<&Value> {
        self.meta()
            .and_then(|m| m.get("progressToken"))
            .filter(|t| t.is_string() || t.as_i64().is_some())
    }
}

/// What one incoming JSON value is.
#[derive(Debug, Clone)]
pub enum Incoming {
    Call(Call),
    /// A JSON-RPC response from the client (we never send requests, so it is acknowledged and dropped).
    Response,
    /// Not a valid JSON-RPC message; the id is echoed when it could be read.
    Invalid {
        id: Option<RequestId>,
        error: RpcError,
    },
}

/// One POST body: a batch (an array, 2025-03-26) or one message.
#[derive(Debug)]
pub enum Message {
    Batch(Vec<Value>),
    Single(Incoming),
}

/// Parses a POST body. A well-formed request or notification (an object with `"jsonrpc":
/// "2.0"`, a string or integer id or none, a string method, object params or none) is read
/// straight into a [`Call`] without building a `Value` of the whole message; anything else,
/// including every malformed message, goes through `Value` and [`classify`], so it gets exactly
/// the classification and error it always did (`fast_path_classifies_as_classify` compares the
/// two on generated messages).
pub fn parse(bytes: &[u8]) -> Result<Message, serde_json::Error> {
    let object = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{');
    // Only an object: serde would also read a struct from an array, positionally.
    if object
        && let Ok(plain) = serde_json::from_slice::<Plain<'_>>(bytes)
        && let Some(call) = plain.into_call()
    {
        return Ok(Message::Single(Incoming::Call(call)));
    }
    Ok(match serde_json::from_slice(bytes)? {
        Value::Array(items) => Message::Batch(items),
        single => Message::Single(classify(single)),
    })
}

/// The plain shape of a request or notification (see [`parse`]). A field of any other type, a
/// null id, a duplicated field or a non-`2.0` version fails or declines it, and the message
/// goes the `Value` way.
#[derive(serde::Deserialize)]
struct Plain<'a> {
    #[serde(borrow)]
    jsonrpc: std::borrow::Cow<'a, str>,
    #[serde(default)]
    id: IdSlot,
    method: String,
    #[serde(default)]
    params: ParamsSlot,
}

impl Plain<'_> {
    fn into_call(self) -> Option<Call> {
        (self.jsonrpc == "2.0").then(|| Call {
            id: self.id.0,
            method: self.method,
            has_params: self.params.0.is_some(),
            params: self.params.0.unwrap_or_default(),
        })
    }
}

/// An id that is present is a string or an integer (not `Option`, which would read `null` as
/// absent).
#[derive(Default)]
struct IdSlot(Option<RequestId>);

impl<'de> serde::Deserialize<'de> for IdSlot {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        RequestId::from_value(&v)
            .map(|id| IdSlot(Some(id)))
            .ok_or_else(|| serde::de::Error::custom("not a string or integer id"))
    }
}

/// Params that are present are an object (`null` is not absent).
#[derive(Default)]
struct ParamsSlot(Option<Map<String, Value>>);

impl<'de> serde::Deserialize<'de> for ParamsSlot {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Map::deserialize(d).map(|m| ParamsSlot(Some(m)))
    }
}

/// Classifies one JSON value as a JSON-RPC 2.0 message (taking it: a call's params are moved
/// out, not copied).
pub fn classify(v: Value) -> Incoming {
    let Value::Object(mut obj) = v else {
        return Incoming::Invalid {
            id: None,
            error: RpcError::invalid_request("a JSON-RPC message must be an object"),
        };
    };
    let raw_id = obj.get("id");
    let id = raw_id.and_then(RequestId::from_value);
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Incoming::Invalid {
            id,
            error: RpcError::invalid_request("jsonrpc must be \"2.0\""),
        };
    }
    if let Some(raw) = raw_id
        && id.is_none()
    {
        let why = if raw.is_null() {
            "id must not be null"
        } else {
            "id must be a string or an integer"
        };
        return Incoming::Invalid {
            id: None,
            error: RpcError::invalid_request(why),
        };
    }
    let Some(method) = obj.get("method") else {
        if id.is_some() && (obj.contains_key("result") ^ obj.contains_key("error")) {
            return Incoming::Response;
        }
        return Incoming::Invalid {
            id,
            error: RpcError::invalid_request("missing method"),
        };
    };
    let Some(method) = method.as_str() else {
        return Incoming::Invalid {
            id,
            error: RpcError::invalid_request("method must be a string"),
        };
    };
    let method = method.to_owned();
    let (params, has_params) = match obj.remove("params") {
        None => (Map::new(), false),
        Some(Value::Object(m)) => (m, true),
        Some(Value::Array(_)) => {
            return Incoming::Invalid {
                id,
                error: RpcError::invalid_params("params must be an object"),
            };
        }
        Some(_) => {
            return Incoming::Invalid {
                id,
                error: RpcError::invalid_request("params must be an object"),
            };
        }
    };
    Incoming::Call(Call {
        id,
        method,
        params,
        has_params,
    })
}

/// A success response.
pub fn result_response(id: &RequestId, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id.to_value(), "result": result })
}

/// A method's result: a JSON value, or JSON text: serialized once and shared (the tool list of a
/// revision, a fetched document at a knowledge version) or written for this call (a tool's
/// result assembled from its typed output). All render to the same bytes as the value would.
#[derive(Debug, Clone)]
pub enum Payload {
    Value(Value),
    Json(std::sync::Arc<str>),
    Text(String),
}

/// A success response's JSON text, in pieces so that a result's text is sent as it is: a shared
/// one (a whole fetched document, the tool list) is never copied, an owned one is moved.
/// Byte-identical to serializing [`result_response`]: the object's keys are written in the order
/// `serde_json` writes a map's (`id`, `jsonrpc`, `result`), and result text was itself written by
/// `serde_json` (or to its bytes, see `dispatch::tool_result_text`).
#[derive(Debug)]
pub struct ResponseText {
    /// `{"id":…,"jsonrpc":"2.0","result":`; for a `Value` result also the result and `}`.
    head: String,
    /// The result's text, between `head` and the closing `}`, when it is not in `head`.
    result: Option<ResultText>,
}

#[derive(Debug)]
enum ResultText {
    Shared(std::sync::Arc<str>),
    Owned(String),
}

/// A shared result text as the bytes of a response body, without a copy.
struct SharedText(std::sync::Arc<str>);

impl AsRef<[u8]> for SharedText {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl ResponseText {
    /// Text that is already the whole response (an error response).
    pub fn whole(text: String) -> Self {
        Self {
            head: text,
            result: None,
        }
    }

    /// The whole text in one string (a copy of a shared result; for SSE events and batches).
    pub fn into_string(self) -> String {
        let mut out = self.head;
        match self.result {
            None => return out,
            Some(ResultText::Shared(t)) => out.push_str(&t),
            Some(ResultText::Owned(t)) => out.push_str(&t),
        }
        out.push('}');
        out
    }

    /// The text as up to three buffers in order (empty ones where there is no piece), none of
    /// them a copy of the result.
    pub fn into_bytes(self) -> [bytes::Bytes; 3] {
        let head = bytes::Bytes::from(self.head);
        let close = bytes::Bytes::from_static(b"}");
        match self.result {
            None => [head, bytes::Bytes::new(), bytes::Bytes::new()],
            Some(ResultText::Shared(t)) => [head, bytes::Bytes::from_owner(SharedText(t)), close],
            Some(ResultText::Owned(t)) => [head, bytes::Bytes::from(t), close],
        }
    }
}

/// The success response's JSON text (see [`ResponseText`]).
pub fn result_response_text(id: &RequestId, result: Payload) -> ResponseText {
    let mut head = Vec::with_capacity(64);
    head.extend_from_slice(b"{\"id\":");
    // Writing into a `Vec` cannot fail; an integer is written by `itoa`, a string escaped, as
    // `serde_json::to_string` writes them.
    let _ = match id {
        RequestId::Int(i) => serde_json::to_writer(&mut head, i),
        RequestId::Str(s) => serde_json::to_writer(&mut head, s),
    };
    head.extend_from_slice(b",\"jsonrpc\":\"2.0\",\"result\":");
    let result = match result {
        Payload::Value(v) => {
            let _ = serde_json::to_writer(&mut head, &v);
            head.push(b'}');
            None
        }
        Payload::Json(t) => Some(ResultText::Shared(t)),
        Payload::Text(t) => Some(ResultText::Owned(t)),
    };
    // Only ASCII and `serde_json`'s UTF-8 went in: the lossy fallback is never taken.
    let head = String::from_utf8(head)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    ResponseText { head, result }
}

/// An error response; `id` is omitted when it could not be read (MCP ≥ 2025-11-25 `JSONRPCErrorResponse`).
pub fn error_response(id: Option<&RequestId>, error: &RpcError) -> Value {
    let mut v = json!({ "jsonrpc": "2.0", "error": error.to_value() });
    if let Some(id) = id {
        v["id"] = id.to_value();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the `Value` way makes of a body: the reference [`parse`] must agree with.
    fn by_value(bytes: &[u8]) -> String {
        match serde_json::from_slice(bytes) {
            Err(e) => format!("parse error: {e}"),
            Ok(Value::Array(items)) => format!("{:?}", Message::Batch(items)),
            Ok(v) => format!("{:?}", Message::Single(classify(v))),
        }
    }

    fn parsed(bytes: &[u8]) -> String {
        match parse(bytes) {
            Err(e) => format!("parse error: {e}"),
            Ok(m) => format!("{m:?}"),
        }
    }

    #[test]
    fn fast_path_agrees_on_every_shape_of_message() {
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{}}"#,
            r#"  {"method":"tools/call","params":{"name":"x","arguments":{"a":[1,{"b":null}]}},"id":"s","jsonrpc":"2.0"}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":2.0,"id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2\u002e0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"1.0","jsonrpc":"2.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":null}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":"s"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
            r#"{"jsonrpc":"2.0","id":1}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","result":{},"extra":[]}"#,
            r#"["2.0",1,"ping",{}]"#,
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            r#"[]"#,
            r#"7"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"} x"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping""#,
            "",
        ] {
            assert_eq!(parsed(body.as_bytes()), by_value(body.as_bytes()), "{body}");
        }
    }

    /// A JSON value of the kinds a message's fields may hold, and of the kinds they must not.
    fn any_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            2 => Just(Value::Null),
            1 => any::<bool>().prop_map(Value::from),
            1 => any::<i64>().prop_map(Value::from),
            1 => any::<u64>().prop_map(Value::from),
            1 => (-1e6f64..1e6).prop_map(Value::from),
            3 => prop_oneof![
                Just("2.0".to_string()),
                Just("2.1".to_string()),
                Just("ping".to_string()),
                "[a-z/\"\\\\é]{0,8}"
            ]
            .prop_map(Value::from),
            1 => Just(json!({})),
            1 => Just(json!({"name": "fetch", "arguments": {"id": "wiki:x"}, "_meta": {"progressToken": 1}})),
            1 => Just(json!([1, "x"])),
        ]
    }

    /// Each key absent, with its usual value, or with any value.
    fn slot() -> impl Strategy<Value = Option<Option<Value>>> {
        prop_oneof![
            1 => Just(None),
            4 => Just(Some(None)),
            2 => any_value().prop_map(|v| Some(Some(v))),
        ]
    }

    const KEYS: [&str; 7] = ["jsonrpc", "id", "method", "params", "result", "error", "x"];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Objects of the message's keys (most with their usual values, some missing, some
        /// repeated, some unknown) holding values of every kind, and arrays of them: `parse`
        /// says what the `Value` way says.
        #[test]
        fn fast_path_classifies_as_classify(
            slots in proptest::collection::vec(slot(), KEYS.len()),
            repeated in proptest::option::of((0..KEYS.len(), any_value())),
            reversed in any::<bool>(),
            array in any::<bool>(),
        ) {
            // The keys' usual values, so that many messages are valid.
            let usual = |k: &str| match k {
                "jsonrpc" => json!("2.0"),
                "id" => json!(1),
                "method" => json!("ping"),
                "params" => json!({"a": 1}),
                _ => json!({}),
            };
            let mut members: Vec<String> = KEYS
                .iter()
                .zip(slots)
                .filter_map(|(k, slot)| slot.map(|v| format!("{}:{}", json!(k), v.unwrap_or_else(|| usual(k)))))
                .collect();
            if let Some((k, v)) = repeated {
                members.push(format!("{}:{}", json!(KEYS[k]), v));
            }
            if reversed {
                members.reverse();
            }
            let object = format!("{{{}}}", members.join(","));
            let body = if array { format!("[{object}]") } else { object };
            prop_assert_eq!(parsed(body.as_bytes()), by_value(body.as_bytes()), "{}", body);
        }
    }

    fn code(v: Value) -> i64 {
        match classify(v) {
            Incoming::Invalid { error, .. } => error.code,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn classification() {
        match classify(json!({"jsonrpc":"2.0","id":1,"method":"ping"})) {
            Incoming::Call(c) => {
                assert_eq!(c.id, Some(RequestId::Int(1)));
                assert!(!c.has_params);
            }
            o => panic!("{o:?}"),
        }
        match classify(json!({"jsonrpc":"2.0","method":"notifications/initialized"})) {
            Incoming::Call(c) => assert_eq!(c.id, None),
            o => panic!("{o:?}"),
        }
        assert!(matches!(
            classify(json!({"jsonrpc":"2.0","id":"x","result":{}})),
            Incoming::Response
        ));
        assert!(matches!(
            classify(json!({"jsonrpc":"2.0","id":"x","error":{"code":1,"message":"m"}})),
            Incoming::Response
        ));
        assert_eq!(code(json!([])), INVALID_REQUEST);
        assert_eq!(code(json!(5)), INVALID_REQUEST);
        assert_eq!(
            code(json!({"jsonrpc":"1.0","id":1,"method":"ping"})),
            INVALID_REQUEST
        );
        assert_eq!(code(json!({"id":1,"method":"ping"})), INVALID_REQUEST);
        assert_eq!(
            code(json!({"jsonrpc":"2.0","id":null,"method":"ping"})),
            INVALID_REQUEST
        );
        assert_eq!(
            code(json!({"jsonrpc":"2.0","id":1.5,"method":"ping"})),
            INVALID_REQUEST
        );
        assert_eq!(
            code(json!({"jsonrpc":"2.0","id":1,"method":5})),
            INVALID_REQUEST
        );
        assert_eq!(code(json!({"jsonrpc":"2.0","id":1})), INVALID_REQUEST);
        assert_eq!(
            code(json!({"jsonrpc":"2.0","id":1,"method":"x","params":"s"})),
            INVALID_REQUEST
        );
        assert_eq!(
            code(json!({"jsonrpc":"2.0","id":1,"method":"x","params":[1]})),
            INVALID_PARAMS
        );
    }

    #[test]
    fn shared_result_text_renders_like_the_value() {
        let result =
            json!({"content": [{"type": "text", "text": "a \"quoted\" ü"}], "isError": false});
        for id in [
            RequestId::Int(7),
            RequestId::Int(-9_007_199_254_740_993),
            RequestId::Str("x\"y\u{1}ü".into()),
        ] {
            let value = || Payload::Value(result.clone());
            let from_value = result_response_text(&id, value());
            assert!(
                from_value.result.is_none(),
                "a value is written into the head"
            );
            let from_value = from_value.into_string();
            assert_eq!(from_value, result_response(&id, result.clone()).to_string());
            let bytes = result_response_text(&id, value()).into_bytes();
            assert_eq!(bytes.concat(), from_value.as_bytes());
            let kept = || {
                [
                    Payload::Json(result.to_string().into()),
                    Payload::Text(result.to_string()),
                ]
            };
            for (a, b) in kept().into_iter().zip(kept()) {
                let text = result_response_text(&id, a);
                assert!(text.result.is_some(), "the result text is kept apart");
                assert_eq!(text.into_string(), from_value);
                let bytes = result_response_text(&id, b).into_bytes();
                assert_eq!(bytes.concat(), from_value.as_bytes());
            }
        }
    }

    #[test]
    fn responses_shape() {
        let e = error_response(None, &RpcError::new(PARSE_ERROR, "Parse error"));
        assert!(e.get("id").is_none());
        let e = error_response(
            Some(&RequestId::Str("a".into())),
            &RpcError::internal().with_data(json!({"x":1})),
        );
        assert_eq!(e["id"], "a");
        assert_eq!(e["error"]["data"]["x"], 1);
        assert_eq!(result_response(&RequestId::Int(7), json!({}))["id"], 7);
    }
}
