//! Property-based robustness of the MCP endpoint: whatever framing, headers or bytes a client
//! sends, the answer is never a 5xx, every error body is JSON, and the endpoint keeps working.
//! proptest shrinks any failure to a minimal request.

use crate::support::TestApp;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode};
use proptest::prelude::*;
use serde_json::{Value, json};

const VERSIONS: [&str; 6] = [
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
    "2024-11-05",
    "bogus",
];
const METHODS: [&str; 14] = [
    "initialize",
    "server/discover",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "logging/setLevel",
    "notifications/initialized",
    "notifications/cancelled",
    "prompts/list",
    "",
    "rpc.internal",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[a-z_/.]{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Plausible JSON-RPC messages with random holes: the interesting part of the input space.
fn rpc_message() -> impl Strategy<Value = Value> {
    (
        prop::option::of(prop_oneof![Just(json!("2.0")), json_value()]),
        prop::option::of(prop_oneof![
            any::<i64>().prop_map(Value::from),
            "[a-z0-9-]{0,8}".prop_map(Value::from),
            json_value()
        ]),
        prop::option::of(prop_oneof![
            prop::sample::select(&METHODS[..]).prop_map(Value::from),
            json_value()
        ]),
        prop::option::of(prop_oneof![
            (
                prop::sample::select(
                    &[
                        "search_company_rag",
                        "search",
                        "fetch",
                        "list_github_issues",
                        "nope"
                    ][..]
                ),
                json_value()
            )
                .prop_map(|(name, arguments)| json!({"name": name, "arguments": arguments})),
            ("[a-z:/._-]{0,30}").prop_map(|uri| json!({"uri": uri})),
            json_value(),
        ]),
    )
        .prop_map(|(jsonrpc, id, method, params)| {
            let mut m = serde_json::Map::new();
            for (k, v) in [
                ("jsonrpc", jsonrpc),
                ("id", id),
                ("method", method),
                ("params", params),
            ] {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            Value::Object(m)
        })
}

#[derive(Debug, Clone)]
enum Payload {
    Message(Value),
    Batch(Vec<Value>),
    Bytes(Vec<u8>),
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        4 => rpc_message().prop_map(Payload::Message),
        1 => prop::collection::vec(rpc_message(), 0..4).prop_map(Payload::Batch),
        1 => json_value().prop_map(Payload::Message),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Payload::Bytes),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    (
        prop::option::of(prop::sample::select(&VERSIONS[..])),
        prop::option::of(prop_oneof!["[ -~]{0,20}", Just("mcps_unknown".to_string())]),
        prop::option::of(prop::sample::select(
            &[
                "application/json",
                "text/plain",
                "application/json; charset=utf-8",
                "",
            ][..],
        )),
        prop::option::of(prop::sample::select(
            &[
                "application/json",
                "text/event-stream",
                "text/html",
                "*/*",
                "",
            ][..],
        )),
        prop::option::of(prop::sample::select(&["tools/list", "tools/call", "x"][..])),
    )
        .prop_map(|(v, sid, ct, acc, method)| {
            let mut h = Vec::new();
            if let Some(v) = v {
                h.push(("mcp-protocol-version", v.to_string()));
            }
            if let Some(s) = sid {
                h.push(("mcp-session-id", s));
            }
            h.push(("content-type", ct.unwrap_or("application/json").to_string()));
            h.push((
                "accept",
                acc.unwrap_or("application/json, text/event-stream")
                    .to_string(),
            ));
            if let Some(m) = method {
                h.push(("mcp-method", m.to_string()));
            }
            h
        })
}

fn request(token: &str, payload: &Payload, headers: &[(&'static str, String)]) -> Request<Body> {
    let body = match payload {
        Payload::Message(v) => serde_json::to_vec(v).unwrap(),
        Payload::Batch(items) => serde_json::to_vec(items).unwrap(),
        Payload::Bytes(b) => b.clone(),
    };
    let mut req = Request::post("/t/acme/mcp").body(Body::from(body)).unwrap();
    let h = req.headers_mut();
    h.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    for (k, v) in headers {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(HeaderName::from_static(k), v);
        }
    }
    req
}

#[test]
fn arbitrary_requests_never_break_the_endpoint() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, token) = rt.block_on(async {
        let t = TestApp::with_people().await;
        t.ingest_fixture("acme").await;
        let token = t.token("acme", "alice", "mcp:read mcp:tools").await;
        (t, token)
    });
    let config = ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(p in payload(), h in headers())| {
        let r = rt.block_on(t.send(request(&token, &p, &h)));
        prop_assert!(!r.status.is_server_error(), "{} for {p:?} {h:?}: {}", r.status, r.text());
        if r.status == StatusCode::ACCEPTED {
            prop_assert!(r.body.is_empty());
        } else if !r.body.is_empty() {
            let ct = r.header("content-type").unwrap_or_default();
            prop_assert!(ct.starts_with("application/json") || ct.starts_with("text/event-stream"), "content-type {ct:?} for {p:?}");
            if ct.starts_with("application/json") {
                let body: Result<Value, _> = serde_json::from_slice(&r.body);
                prop_assert!(body.is_ok(), "non-JSON body for {p:?}: {}", r.text());
                // No MCP schema accepts a null id.
                prop_assert!(body.unwrap().get("id") != Some(&Value::Null), "null id for {p:?}");
            }
        }
        // The endpoint still serves a well-formed request afterwards.
        let ok = rt.block_on(t.send(request(
            &token,
            &Payload::Message(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})),
            &[("mcp-protocol-version", "2025-11-25".into()), ("content-type", "application/json".into()), ("accept", "application/json".into())],
        )));
        prop_assert_eq!(ok.status, StatusCode::OK);
    });
}
