//! The MCP endpoint `/t/{slug}/mcp` end to end: the real router on real SQLite (and once over a
//! real socket), every response checked against the official JSON Schema of the revision in use.

use crate::support::{PUBLIC_URL, TestApp, TestResponse};
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};
use tower::ServiceExt;

const V0326: &str = "2025-03-26";
const V0618: &str = "2025-06-18";
const V1125: &str = "2025-11-25";
const V0728: &str = "2026-07-28";
const LEGACY: [&str; 3] = [V0326, V0618, V1125];
const RUNBOOK_URI: &str = "wiki://pages/incident-response-runbook";
const RW: &str = "mcp:read mcp:tools";

// ---------------------------------------------------------------------------------------------
// JSON Schema validation against the official schema of each revision (compiled once per test
// binary and definition).

static SCHEMAS: LazyLock<HashMap<&'static str, Value>> = LazyLock::new(|| {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/mcp-schema");
    [V0326, V0618, V1125, V0728]
        .into_iter()
        .map(|v| {
            let text =
                std::fs::read_to_string(format!("{root}/{v}/schema.json")).expect("schema fixture");
            (v, serde_json::from_str(&text).expect("schema JSON"))
        })
        .collect()
});

type Validators = Mutex<HashMap<(String, String), Arc<jsonschema::Validator>>>;
static VALIDATORS: LazyLock<Validators> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn validator(version: &str, def: &str) -> Arc<jsonschema::Validator> {
    let key = (version.to_owned(), def.to_owned());
    if let Some(v) = VALIDATORS.lock().unwrap().get(&key) {
        return v.clone();
    }
    let mut schema = SCHEMAS[version].clone();
    let draft7 = matches!(version, V0326 | V0618);
    let defs = if draft7 { "definitions" } else { "$defs" };
    assert!(
        schema[defs].get(def).is_some(),
        "{version} has no definition {def}"
    );
    schema["allOf"] = json!([{ "$ref": format!("#/{defs}/{def}") }]);
    let opts = if draft7 {
        jsonschema::draft7::options()
    } else {
        jsonschema::draft202012::options()
    };
    let v = Arc::new(
        opts.should_validate_formats(true)
            .build(&schema)
            .expect("schema compiles"),
    );
    VALIDATORS.lock().unwrap().insert(key, v.clone());
    v
}

#[track_caller]
fn assert_valid(version: &str, def: &str, instance: &Value) {
    let v = validator(version, def);
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "not a valid {version} {def}: {errors:#?}\n{instance:#}"
    );
}

fn error_def(version: &str) -> &'static str {
    if matches!(version, V0326 | V0618) {
        "JSONRPCError"
    } else {
        "JSONRPCErrorResponse"
    }
}

/// A JSON-RPC response to a request: the envelope, then `result` against `result_def`.
#[track_caller]
fn assert_result(version: &str, body: &Value, result_def: &str) -> Value {
    assert!(body.get("error").is_none(), "unexpected error: {body:#}");
    let envelope = if matches!(version, V0326 | V0618) {
        "JSONRPCResponse"
    } else {
        "JSONRPCResultResponse"
    };
    assert_valid(version, envelope, body);
    assert_valid(version, result_def, &body["result"]);
    if version == V0728 {
        assert_eq!(body["result"]["resultType"], "complete");
    } else {
        assert!(body["result"].get("resultType").is_none());
    }
    body["result"].clone()
}

/// A JSON-RPC error response that answers a request (so it carries the id).
#[track_caller]
fn assert_rpc_error(version: &str, body: &Value, code: i64) {
    assert_valid(version, error_def(version), body);
    assert_eq!(body["error"]["code"], code, "{body:#}");
    assert!(body["id"].is_string() || body["id"].is_i64(), "{body:#}");
}

/// A transport-level JSON-RPC error: it echoes the request's id when the body was readable and
/// omits it otherwise (no MCP schema accepts a null id; ≥ 2025-11-25 makes it optional).
#[track_caller]
fn assert_transport_error(resp: &TestResponse, status: StatusCode, code: i64) {
    assert_eq!(resp.status, status, "{}", resp.text());
    assert!(
        resp.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let body = resp.json();
    assert!(
        body.get("id")
            .is_none_or(|id| id.is_string() || id.is_i64()),
        "{body:#}"
    );
    assert_valid(V1125, "JSONRPCErrorResponse", &body);
    assert_eq!(body["error"]["code"], code, "{body:#}");
}

// ---------------------------------------------------------------------------------------------
// Request helpers.

fn mcp_path(slug: &str) -> String {
    format!("/t/{slug}/mcp")
}

/// A POST with ChatGPT's default headers; `extra` overrides them (an empty value removes one).
fn post_req(
    slug: &str,
    token: Option<&str>,
    body: impl Into<Body>,
    extra: &[(&str, &str)],
) -> Request<Body> {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert(
        "accept",
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    if let Some(t) = token {
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {t}")).unwrap(),
        );
    }
    for (k, v) in extra {
        let name = HeaderName::from_bytes(k.as_bytes()).unwrap();
        h.remove(&name);
        if !v.is_empty() {
            h.insert(name, HeaderValue::from_bytes(v.as_bytes()).unwrap());
        }
    }
    let mut req = Request::post(mcp_path(slug)).body(body.into()).unwrap();
    *req.headers_mut() = h;
    req
}

fn msg(id: i64, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

/// 2026-07-28 request body: `_meta` with version, client info and capabilities.
fn modern_msg(id: i64, method: &str, mut params: Value) -> Value {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": V0728,
        "io.modelcontextprotocol/clientInfo": { "name": "openai-mcp", "version": "1.0.0" },
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    msg(id, method, params)
}

struct Env {
    app: TestApp,
    /// alice@acme with both scopes.
    acme: String,
    /// alice@globex with both scopes.
    globex: String,
}

impl Env {
    async fn new() -> Self {
        let app = TestApp::with_people().await;
        let acme = app.token("acme", "alice", RW).await;
        let globex = app.token("globex", "alice", RW).await;
        Self { app, acme, globex }
    }

    /// With both fixture knowledge bases ingested.
    async fn with_knowledge() -> Self {
        let env = Self::new().await;
        for slug in ["acme", "globex"] {
            env.app.ingest_fixture(slug).await;
        }
        env
    }

    async fn send(&self, req: Request<Body>) -> TestResponse {
        self.app.send(req).await
    }

    /// A POST at acme with alice's token and ChatGPT's headers, `extra` overriding them.
    fn post(&self, body: impl Into<Body>, extra: &[(&str, &str)]) -> Request<Body> {
        post_req("acme", Some(&self.acme), body, extra)
    }

    /// A sessionless POST at acme under `version` (the request [`Env::call`] sends).
    fn post_v(&self, version: &str, body: &Value) -> Request<Body> {
        self.post(body.to_string(), &[("mcp-protocol-version", version)])
    }

    /// A POST at acme on session `sid`, with an optional `MCP-Protocol-Version`.
    fn post_s(&self, version: Option<&str>, sid: &str, body: &Value) -> Request<Body> {
        let mut extra = vec![("mcp-session-id", sid)];
        if let Some(v) = version {
            extra.push(("mcp-protocol-version", v));
        }
        self.post(body.to_string(), &extra)
    }

    /// A legacy POST at acme with an optional `MCP-Protocol-Version` and session.
    async fn legacy(
        &self,
        version: Option<&str>,
        session: Option<&str>,
        body: Value,
    ) -> TestResponse {
        let mut extra = vec![];
        if let Some(v) = version {
            extra.push(("mcp-protocol-version", v));
        }
        if let Some(s) = session {
            extra.push(("mcp-session-id", s));
        }
        self.send(post_req("acme", Some(&self.acme), body.to_string(), &extra))
            .await
    }

    /// Sessionless legacy request at acme under `version`.
    async fn call(&self, version: &str, body: Value) -> TestResponse {
        self.legacy(Some(version), None, body).await
    }

    /// A legacy tool call; returns the whole JSON-RPC response.
    async fn tool(&self, version: &str, name: &str, args: Value) -> Value {
        let r = self
            .call(
                version,
                msg(9, "tools/call", json!({ "name": name, "arguments": args })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()
    }

    /// A 2026-07-28 request at `slug` with correct headers (plus `extra`).
    async fn modern(&self, slug: &str, body: Value, extra: &[(&str, &str)]) -> TestResponse {
        self.send(self.modern_req(slug, &body, extra)).await
    }

    /// The request [`Env::modern`] sends: `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name`
    /// derived from the body, `extra` overriding them (an empty value removes one).
    fn modern_req(&self, slug: &str, body: &Value, extra: &[(&str, &str)]) -> Request<Body> {
        let token = if slug == "acme" {
            &self.acme
        } else {
            &self.globex
        };
        let method = body["method"].as_str().unwrap_or_default().to_owned();
        let name = body["params"]["name"]
            .as_str()
            .or(body["params"]["uri"].as_str())
            .map(str::to_owned);
        let mut headers: Vec<(&str, &str)> =
            vec![("mcp-protocol-version", V0728), ("mcp-method", &method)];
        if let Some(n) = &name {
            headers.push(("mcp-name", n));
        }
        headers.extend_from_slice(extra);
        post_req(slug, Some(token), body.to_string(), &headers)
    }

    /// `initialize` at acme; returns (session id, result).
    async fn initialize(&self, version: &str) -> (String, Value) {
        let r = self
            .send(post_req(
                "acme",
                Some(&self.acme),
                initialize_body(version).to_string(),
                &[],
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let sid = r.header("mcp-session-id").expect("session id");
        (sid, r.json())
    }

    /// Proof that the endpoint still works after a bad request.
    async fn still_works(&self) {
        let r = self.call(V1125, msg(77, "ping", json!({}))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_result(V1125, &r.json(), "EmptyResult");
    }
}

fn initialize_body(version: &str) -> Value {
    msg(
        1,
        "initialize",
        json!({
            "protocolVersion": version,
            "clientInfo": { "name": "openai-mcp", "version": "1.0.0" },
            "capabilities": { "experimental": { "openai/visibility": { "enabled": true } } },
        }),
    )
}

fn text_of(result: &Value) -> String {
    let content = result["content"].as_array().expect("content");
    assert_eq!(content.len(), 1, "exactly one content item: {result:#}");
    assert_eq!(content[0]["type"], "text");
    content[0]["text"].as_str().unwrap().to_owned()
}

fn output_schema(env_tools: &Value, name: &str) -> Value {
    env_tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap()["outputSchema"]
        .clone()
}

#[track_caller]
fn assert_conforms(schema: &Value, instance: &Value) {
    let v = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(schema)
        .expect("outputSchema compiles");
    let errors: Vec<String> = v.iter_errors(instance).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "structuredContent does not match outputSchema: {errors:?}\n{instance:#}"
    );
}

/// Every resource URI of a workspace, following cursors.
async fn all_resource_uris(env: &Env, slug: &str) -> Vec<String> {
    let token = if slug == "acme" {
        &env.acme
    } else {
        &env.globex
    };
    let mut uris = vec![];
    let mut cursor: Option<String> = None;
    for page in 0.. {
        assert!(page < 100, "runaway pagination");
        let params = match &cursor {
            Some(c) => json!({ "cursor": c }),
            None => json!({}),
        };
        let r = env
            .send(post_req(
                slug,
                Some(token),
                msg(page, "resources/list", params).to_string(),
                &[("mcp-protocol-version", V1125)],
            ))
            .await;
        let result = assert_result(V1125, &r.json(), "ListResourcesResult");
        let resources = result["resources"].as_array().unwrap();
        assert!(resources.len() <= 25);
        uris.extend(
            resources
                .iter()
                .map(|r| r["uri"].as_str().unwrap().to_owned()),
        );
        match result.get("nextCursor").and_then(Value::as_str) {
            Some(c) => {
                assert_eq!(resources.len(), 25, "a non-final page is full");
                cursor = Some(c.to_owned());
            }
            None => break,
        }
    }
    uris
}

// ---------------------------------------------------------------------------------------------
// Case tables: rows of (name, request, expected answer) run by one loop that names the failing
// row and proves the endpoint still works after each.

/// The answer a [`Case`] must get.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// This status; the body is not checked (a success, or an error that is not JSON-RPC).
    Status(StatusCode),
    /// A transport-level JSON-RPC error with this status and code ([`assert_transport_error`]).
    Transport(StatusCode, i64),
    /// A JSON-RPC error answering the request by id under `revision`: HTTP status and code.
    Rpc(&'static str, StatusCode, i64),
    /// A 2026-07-28 `HeaderMismatchError` (400, -32020) answering request id 1.
    Mismatch,
}

use Expect::{Mismatch, Rpc, Status, Transport};

struct Case {
    name: String,
    req: Request<Body>,
    expect: Expect,
}

fn case(name: impl Into<String>, req: Request<Body>, expect: Expect) -> Case {
    Case {
        name: name.into(),
        req,
        expect,
    }
}

#[track_caller]
fn check(r: &TestResponse, expect: Expect) {
    match expect {
        Status(status) => assert_eq!(r.status, status, "{}", r.text()),
        Transport(status, code) => assert_transport_error(r, status, code),
        Rpc(version, status, code) => {
            assert_eq!(r.status, status, "{}", r.text());
            assert_rpc_error(version, &r.json(), code);
        }
        Mismatch => {
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
            let b = r.json();
            assert_valid(V0728, "HeaderMismatchError", &b);
            assert_valid(V0728, "JSONRPCErrorResponse", &b);
            assert_eq!(b["error"]["code"], -32020);
            assert_eq!(b["id"], 1);
        }
    }
}

impl Env {
    /// Sends each case, checks its answer, then checks that the endpoint still works; a failure
    /// names its row. Returns the responses in order, for checks particular to one row.
    async fn run(&self, cases: impl IntoIterator<Item = Case>) -> Vec<TestResponse> {
        let mut responses = vec![];
        for Case { name, req, expect } in cases {
            let r = self.send(req).await;
            let checked =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&r, expect)));
            if checked.is_err() {
                panic!(
                    "case {name:?} (expected {expect:?}) failed; its answer: {} {}",
                    r.status,
                    r.text()
                );
            }
            self.still_works().await;
            responses.push(r);
        }
        responses
    }
}

// ---------------------------------------------------------------------------------------------
// The done-when scenario.

#[tokio::test]
async fn chatgpt_scenario_initialize_list_and_cited_search_stays_in_its_workspace() {
    let env = Env::with_knowledge().await;
    let (sid, init) = env.initialize(V1125).await;
    let result = assert_result(V1125, &init, "InitializeResult");
    assert_eq!(result["protocolVersion"], V1125);
    assert_eq!(result["serverInfo"]["name"], "gigamcp");
    assert_eq!(result["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        result["capabilities"]["tools"].is_object()
            && result["capabilities"]["resources"].is_object()
    );
    assert!(
        result["instructions"]
            .as_str()
            .unwrap()
            .contains("Acme Cloud")
    );

    let r = env
        .legacy(
            Some(V1125),
            Some(&sid),
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(r.body.is_empty());

    let tools = env
        .legacy(Some(V1125), Some(&sid), msg(2, "tools/list", json!({})))
        .await
        .json();
    let list = assert_result(V1125, &tools, "ListToolsResult");
    let names: Vec<&str> = list["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "search_company_rag",
            "list_github_issues",
            "search",
            "fetch"
        ]
    );

    let call = msg(
        3,
        "tools/call",
        json!({"name": "search_company_rag", "arguments": {"query": "incident response runbook"}}),
    );
    let resp = env
        .legacy(Some(V1125), Some(&sid), call.clone())
        .await
        .json();
    let result = assert_result(V1125, &resp, "CallToolResult");
    assert_eq!(result["isError"], false);
    assert_conforms(
        &output_schema(&tools, "search_company_rag"),
        &result["structuredContent"],
    );
    let results = result["structuredContent"]["results"].as_array().unwrap();
    assert!(!results.is_empty() && results.len() <= 5);
    let top = &results[0];
    assert_eq!(
        top["uri"], RUNBOOK_URI,
        "the runbook ranks first: {results:#?}"
    );
    assert_eq!(top["source"], "wiki");
    assert!(top["url"].as_str().unwrap().starts_with("https://"));
    assert!(
        !top["title"].as_str().unwrap().is_empty() && !top["snippet"].as_str().unwrap().is_empty()
    );
    assert!(top["score"].as_f64().unwrap() > 0.0);
    let text = text_of(&result);
    assert!(
        text.contains("[1]")
            && text.contains(top["url"].as_str().unwrap())
            && text.contains(RUNBOOK_URI),
        "{text}"
    );

    // The same query in globex never returns acme data.
    let globex_uris: HashSet<String> = all_resource_uris(&env, "globex")
        .await
        .into_iter()
        .collect();
    let acme_uris: HashSet<String> = all_resource_uris(&env, "acme").await.into_iter().collect();
    assert!(acme_uris.contains(RUNBOOK_URI));
    for query in [
        "incident response runbook",
        "auth-service",
        "acme",
        "on-call rotation",
        "deploy",
    ] {
        let body = msg(
            4,
            "tools/call",
            json!({"name": "search_company_rag", "arguments": {"query": query, "limit": 20}}),
        );
        let r = env
            .send(post_req(
                "globex",
                Some(&env.globex),
                body.to_string(),
                &[("mcp-protocol-version", V1125)],
            ))
            .await
            .json();
        let result = assert_result(V1125, &r, "CallToolResult");
        for hit in result["structuredContent"]["results"].as_array().unwrap() {
            let uri = hit["uri"].as_str().unwrap();
            assert!(
                globex_uris.contains(uri),
                "globex search for {query:?} returned {uri}"
            );
            assert!(!hit["url"].as_str().unwrap().contains("/t/acme/"));
        }
        assert!(!text_of(&result).contains("/t/acme/"));
    }
}

// ---------------------------------------------------------------------------------------------
// Lifecycle and versions.

#[tokio::test]
async fn initialize_negotiates_every_legacy_version_and_counter_offers() {
    let env = Env::new().await;
    for v in LEGACY {
        let (sid, body) = env.initialize(v).await;
        let result = assert_result(v, &body, "InitializeResult");
        assert_eq!(result["protocolVersion"], v);
        assert!(
            sid.len() >= 32 && sid.bytes().all(|b| (0x21..=0x7e).contains(&b)),
            "{sid}"
        );
        assert_eq!(result["capabilities"]["logging"], json!({}));
        assert!(
            result["capabilities"]["resources"]
                .get("subscribe")
                .is_none_or(|s| s == false)
        );
        if v == V0326 {
            assert!(result["serverInfo"].get("title").is_none());
        } else {
            assert!(result["serverInfo"]["title"].is_string());
        }
    }
    for unsupported in ["2024-11-05", "1999-01-01", V0728] {
        let (_, body) = env.initialize(unsupported).await;
        assert_eq!(
            assert_result(V1125, &body, "InitializeResult")["protocolVersion"],
            V1125
        );
    }
    // Distinct sessions each time.
    let (a, _) = env.initialize(V0618).await;
    let (b, _) = env.initialize(V0618).await;
    assert_ne!(a, b);
    let notification = json!({"jsonrpc":"2.0","method":"initialize","params":{}});
    env.run([
        case(
            "no protocolVersion: invalid params, answered with the id",
            env.post(msg(5, "initialize", json!({})).to_string(), &[]),
            Rpc(V1125, StatusCode::OK, -32602),
        ),
        case(
            "initialize as a notification",
            env.post(notification.to_string(), &[]),
            Transport(StatusCode::BAD_REQUEST, -32600),
        ),
    ])
    .await;
}

#[tokio::test]
async fn ping_logging_notifications_and_client_responses() {
    let env = Env::new().await;
    let (sid, _) = env.initialize(V0618).await;
    let r = env
        .legacy(Some(V0618), Some(&sid), msg(2, "ping", json!({})))
        .await;
    assert_eq!(assert_result(V0618, &r.json(), "EmptyResult"), json!({}));
    let r = env
        .legacy(
            Some(V0618),
            Some(&sid),
            msg(3, "logging/setLevel", json!({"level": "warning"})),
        )
        .await;
    assert_result(V0618, &r.json(), "EmptyResult");
    let bad_levels = [json!({"level": "loud"}), json!({}), json!({"level": 3})];
    env.run(bad_levels.map(|bad| {
        case(
            format!("logging/setLevel {bad}"),
            env.post_s(Some(V0618), &sid, &msg(4, "logging/setLevel", bad)),
            Rpc(V0618, StatusCode::OK, -32602),
        )
    }))
    .await;
    let accepted = [
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2, "reason": "user"}}),
        json!({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}),
        json!({"jsonrpc": "2.0", "id": "server-1", "result": {}}),
        json!({"jsonrpc": "2.0", "id": "server-2", "error": {"code": -1, "message": "no"}}),
    ];
    let answers = env
        .run(accepted.iter().map(|body| {
            case(
                body.to_string(),
                env.post_s(Some(V0618), &sid, body),
                Status(StatusCode::ACCEPTED),
            )
        }))
        .await;
    assert!(answers.iter().all(|r| r.body.is_empty()));
}

#[tokio::test]
async fn protocol_version_header_rules() {
    let env = Env::with_knowledge().await;
    let bad_versions = ["garbage", "2024-11-05", "2025-13-01"];
    let answers = env
        .run(bad_versions.map(|bad| {
            case(
                bad,
                env.post_v(bad, &msg(1, "tools/list", json!({}))),
                Transport(StatusCode::BAD_REQUEST, -32022),
            )
        }))
        .await;
    for (bad, r) in bad_versions.iter().zip(&answers) {
        let data = &r.json()["error"]["data"];
        assert_eq!(data["requested"], *bad);
        assert!(
            data["supported"]
                .as_array()
                .unwrap()
                .contains(&json!(V1125))
        );
    }
    // No header, no session: 2025-03-26 (no structuredContent, no outputSchema).
    let args = json!({"name": "search_company_rag", "arguments": {"query": "runbook"}});
    let r = env
        .legacy(None, None, msg(2, "tools/call", args.clone()))
        .await
        .json();
    let result = assert_result(V0326, &r, "CallToolResult");
    assert!(result.get("structuredContent").is_none());
    assert!(text_of(&result).contains("[1]"));
    let r = env
        .legacy(None, None, msg(3, "tools/list", json!({})))
        .await
        .json();
    for t in assert_result(V0326, &r, "ListToolsResult")["tools"]
        .as_array()
        .unwrap()
    {
        assert!(t.get("outputSchema").is_none() && t.get("title").is_none());
    }
    // Header 2025-06-18, sessionless: structured content.
    let r = env.call(V0618, msg(4, "tools/call", args)).await.json();
    assert!(assert_result(V0618, &r, "CallToolResult")["structuredContent"].is_object());
    env.still_works().await;
}

#[tokio::test]
async fn sessions_are_bound_to_user_and_workspace_and_end_with_delete() {
    let env = Env::new().await;
    let (sid, _) = env.initialize(V0618).await;
    // Works with the session (and without the optional version header, taken from the session).
    let r = env
        .legacy(None, Some(&sid), msg(2, "tools/list", json!({})))
        .await;
    let tools = assert_result(V0618, &r.json(), "ListToolsResult");
    assert!(
        tools["tools"][0]["outputSchema"].is_object(),
        "session version 2025-06-18 applies"
    );
    let bob = env.app.token("globex", "bob", RW).await;
    let alice_globex = env
        .send(post_req(
            "globex",
            Some(&env.globex),
            initialize_body(V1125).to_string(),
            &[],
        ))
        .await
        .header("mcp-session-id")
        .unwrap();
    let ping = |id| msg(id, "ping", json!({})).to_string();
    let del = |sid: Option<&str>| {
        let mut b = Request::delete(mcp_path("acme"))
            .header("authorization", format!("Bearer {}", env.acme));
        if let Some(s) = sid {
            b = b.header("mcp-session-id", s);
        }
        b.body(Body::empty()).unwrap()
    };
    // In order: the DELETE rows end the session the last rows reuse. After every row,
    // sessionless requests keep working (ChatGPT sends no session id).
    let answers = env
        .run([
            case(
                "header naming another supported revision: served at the session's version",
                env.post_s(Some(V1125), &sid, &msg(3, "ping", json!({}))),
                Status(StatusCode::OK),
            ),
            case(
                "unknown session",
                env.post_s(Some(V0618), "mcps_nope", &msg(4, "ping", json!({}))),
                Transport(StatusCode::NOT_FOUND, -32001),
            ),
            case(
                "same user at another workspace",
                post_req(
                    "globex",
                    Some(&env.globex),
                    ping(5),
                    &[("mcp-session-id", &sid)],
                ),
                Transport(StatusCode::NOT_FOUND, -32001),
            ),
            case(
                "another user at that workspace",
                post_req(
                    "globex",
                    Some(&bob),
                    ping(6),
                    &[("mcp-session-id", &alice_globex)],
                ),
                Transport(StatusCode::NOT_FOUND, -32001),
            ),
            case(
                "DELETE without a session header",
                del(None),
                Transport(StatusCode::BAD_REQUEST, -32600),
            ),
            case("DELETE", del(Some(&sid)), Status(StatusCode::NO_CONTENT)),
            case(
                "the deleted session",
                env.post_s(Some(V0618), &sid, &msg(7, "ping", json!({}))),
                Transport(StatusCode::NOT_FOUND, -32001),
            ),
            case(
                "DELETE again",
                del(Some(&sid)),
                Transport(StatusCode::NOT_FOUND, -32001),
            ),
        ])
        .await;
    // The unknown session's request was readable, so the error answers it by id (valid for
    // 2025-06-18's schema).
    assert_eq!(answers[1].json()["id"], 4);
    assert_valid(V0618, "JSONRPCError", &answers[1].json());
    assert_eq!(
        env.app.state.store.session_count().await.unwrap(),
        1,
        "alice's globex session remains"
    );
}

#[tokio::test]
async fn batches_only_for_2025_03_26() {
    let env = Env::new().await;
    let (sid, _) = env.initialize(V0326).await;
    let batch = json!([
        msg(1, "ping", json!({})),
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        msg(2, "tools/list", json!({})),
        {"jsonrpc": "2.0", "id": 11, "method": "initialize", "params": initialize_body(V0326)["params"].clone()},
        {"jsonrpc": "2.0", "id": 3, "method": 7},
        msg(4, "nope/nothing", json!({})),
    ]);
    let r = env.legacy(Some(V0326), Some(&sid), batch).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let body = r.json();
    assert_valid(V0326, "JSONRPCBatchResponse", &body);
    let by_id: HashMap<i64, &Value> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_i64().unwrap(), m))
        .collect();
    assert_eq!(
        by_id.len(),
        5,
        "one response per request, none for the notification"
    );
    assert_valid(V0326, "EmptyResult", &by_id[&1]["result"]);
    assert_valid(V0326, "ListToolsResult", &by_id[&2]["result"]);
    assert_eq!(by_id[&1]["result"], json!({}));
    assert_eq!(by_id[&1]["error"], Value::Null);
    assert_eq!(
        by_id[&11]["error"]["code"], -32600,
        "initialize inside a batch is refused"
    );
    assert_eq!(by_id[&3]["error"]["code"], -32600);
    assert_eq!(by_id[&4]["error"]["code"], -32601);
    // Sessionless without header defaults to 2025-03-26: batches accepted.
    let r = env
        .legacy(None, None, json!([msg(8, "ping", json!({}))]))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_valid(V0326, "JSONRPCBatchResponse", &r.json());
    // Only notifications: 202.
    let r = env
        .legacy(
            Some(V0326),
            Some(&sid),
            json!([{"jsonrpc": "2.0", "method": "notifications/initialized"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(r.body.is_empty());
    // An empty batch, and batches under later versions: 400.
    let (s1125, _) = env.initialize(V1125).await;
    let refused = Transport(StatusCode::BAD_REQUEST, -32600);
    env.run([
        case("empty batch", env.post_v(V0326, &json!([])), refused),
        case(
            "batch under 2025-06-18",
            env.post_v(V0618, &json!([msg(9, "ping", json!({}))])),
            refused,
        ),
        case(
            "batch under 2025-11-25",
            env.post_v(V1125, &json!([msg(9, "ping", json!({}))])),
            refused,
        ),
        case(
            "batch on a 2025-11-25 session",
            env.post_s(None, &s1125, &json!([msg(10, "ping", json!({}))])),
            refused,
        ),
    ])
    .await;
}

// ---------------------------------------------------------------------------------------------
// Bad input: every case gets a spec-shaped error and the next good request works.

#[tokio::test]
async fn malformed_json_rpc_gets_spec_shaped_errors() {
    let env = Env::new().await;
    let v1125 = [("mcp-protocol-version", V1125)];
    let not_json: [&'static [u8]; 5] = [
        b"{not json",
        b"",
        b"[1,",
        b"\xff\xfe{}",
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} trailing",
    ];
    env.run(not_json.map(|body| {
        case(
            String::from_utf8_lossy(body),
            env.post(Body::from(body), &v1125),
            Transport(StatusCode::BAD_REQUEST, -32700),
        )
    }))
    .await;
    // Valid JSON, not a JSON-RPC message: 400 -32600; the id is echoed when it can be read.
    let not_rpc = [
        (json!({"foo": 1}), None),
        (json!("ping"), None),
        (json!(42), None),
        (
            json!({"jsonrpc": "1.0", "id": 7, "method": "ping"}),
            Some(7),
        ),
        (json!({"id": 7, "method": "ping"}), Some(7)),
        (
            json!({"jsonrpc": "2.0", "id": null, "method": "ping"}),
            None,
        ),
        (
            json!({"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"}),
            None,
        ),
        (
            json!({"jsonrpc": "2.0", "id": 8, "method": ["ping"]}),
            Some(8),
        ),
        (json!({"jsonrpc": "2.0", "id": 9}), Some(9)),
        (
            json!({"jsonrpc": "2.0", "id": 10, "method": "ping", "params": "x"}),
            Some(10),
        ),
    ];
    let answers = env
        .run(not_rpc.iter().map(|(body, _)| {
            case(
                body.to_string(),
                env.post_v(V1125, body),
                Transport(StatusCode::BAD_REQUEST, -32600),
            )
        }))
        .await;
    for ((body, id), r) in not_rpc.iter().zip(&answers) {
        assert_eq!(r.json().get("id").and_then(Value::as_i64), *id, "{body}");
    }
    // Params as an array: invalid params. Unknown methods (legacy): HTTP 200 + -32601; prompts
    // are not offered; discover needs _meta. Bad params on known methods: -32602.
    let mut cases = vec![case(
        "params as an array",
        env.post_v(
            V1125,
            &json!({"jsonrpc": "2.0", "id": 11, "method": "ping", "params": [1]}),
        ),
        Rpc(V1125, StatusCode::BAD_REQUEST, -32602),
    )];
    for v in LEGACY {
        for m in [
            "does/not/exist",
            "prompts/list",
            "server/discover",
            "resources/subscribe",
        ] {
            cases.push(case(
                format!("{m} under {v}"),
                env.post_v(v, &msg(12, m, json!({}))),
                Rpc(v, StatusCode::OK, -32601),
            ));
        }
    }
    for (name, body) in [
        (
            "tools/call without a name",
            msg(13, "tools/call", json!({})),
        ),
        (
            "tools/call with string arguments",
            msg(
                14,
                "tools/call",
                json!({"name": "search", "arguments": "q"}),
            ),
        ),
        (
            "tools/list with a cursor never issued",
            msg(15, "tools/list", json!({"cursor": "abc"})),
        ),
    ] {
        cases.push(case(
            name,
            env.post_v(V1125, &body),
            Rpc(V1125, StatusCode::OK, -32602),
        ));
    }
    env.run(cases).await;
}

#[tokio::test]
async fn media_types_and_body_limit() {
    let env = Env::new().await;
    let ping = msg(1, "ping", json!({})).to_string();
    let mut cases = vec![];
    for ct in [
        "text/plain",
        "",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin1",
    ] {
        cases.push(case(
            format!("content-type {ct:?}"),
            env.post(ping.clone(), &[("content-type", ct)]),
            Transport(StatusCode::UNSUPPORTED_MEDIA_TYPE, -32600),
        ));
    }
    cases.push(case(
        "content-type application/json; charset=utf-8",
        env.post(
            ping.clone(),
            &[("content-type", "application/json; charset=utf-8")],
        ),
        Status(StatusCode::OK),
    ));
    for accept in ["text/html", "application/json;q=0"] {
        cases.push(case(
            format!("accept {accept:?}"),
            env.post(ping.clone(), &[("accept", accept)]),
            Transport(StatusCode::NOT_ACCEPTABLE, -32600),
        ));
    }
    env.run(cases).await;
    // Accepting only JSON, only SSE, or anything all work.
    let answers = env
        .run(["application/json", "*/*", ""].map(|accept| {
            case(
                format!("accept {accept:?}"),
                env.post(ping.clone(), &[("accept", accept)]),
                Status(StatusCode::OK),
            )
        }))
        .await;
    for r in answers {
        assert_eq!(r.header("content-type").unwrap(), "application/json");
    }
    // Oversized body: 413, with or without a truthful Content-Length. Just under the limit is
    // fine.
    let limit = env.app.state.config.max_body_bytes;
    let padded = |pad: usize| {
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{}"}}}}"#,
            "x".repeat(pad)
        )
    };
    let big = padded(limit);
    let too_large = Transport(StatusCode::PAYLOAD_TOO_LARGE, -32600);
    env.run([
        case(
            "oversized with Content-Length",
            env.post(big.clone(), &[("content-length", &big.len().to_string())]),
            too_large,
        ),
        case(
            "oversized without Content-Length",
            env.post(big, &[]),
            too_large,
        ),
        case(
            "just under the limit",
            env.post(padded(limit - 200), &[]),
            Status(StatusCode::OK),
        ),
    ])
    .await;
}

#[tokio::test]
async fn origin_is_checked_first() {
    let env = Env::new().await;
    let ping = msg(1, "ping", json!({})).to_string();
    let mut cases = vec![];
    for bad in ["https://evil.example", "null", "http://mcp.test"] {
        cases.push(case(
            format!("origin {bad}"),
            env.post(ping.clone(), &[("origin", bad)]),
            Transport(StatusCode::FORBIDDEN, -32600),
        ));
        // Before authentication and the workspace lookup.
        cases.push(case(
            format!("origin {bad}, unknown workspace, no token"),
            post_req("nope", None, ping.clone(), &[("origin", bad)]),
            Status(StatusCode::FORBIDDEN),
        ));
    }
    for good in ["https://chatgpt.com", PUBLIC_URL] {
        cases.push(case(
            format!("origin {good}"),
            env.post(ping.clone(), &[("origin", good)]),
            Status(StatusCode::OK),
        ));
    }
    cases.push(case(
        "GET from a foreign origin",
        Request::get(mcp_path("acme"))
            .header("origin", "https://evil.example")
            .body(Body::empty())
            .unwrap(),
        Status(StatusCode::FORBIDDEN),
    ));
    env.run(cases).await;
}

#[tokio::test]
async fn workspace_and_path_errors_are_json() {
    let env = Env::new().await;
    let ping = msg(1, "ping", json!({})).to_string();
    let slugs = ["nope", "UPPER", "a"];
    let answers = env
        .run(slugs.map(|slug| {
            case(
                format!("workspace {slug:?}"),
                post_req(slug, Some(&env.acme), ping.clone(), &[]),
                Status(StatusCode::NOT_FOUND),
            )
        }))
        .await;
    for r in answers {
        assert_eq!(r.json()["error"], "not_found");
        assert!(
            r.header("www-authenticate").is_none(),
            "404 comes before authentication"
        );
    }
    let answers = env
        .run([
            case(
                "trailing slash",
                Request::post("/t/acme/mcp/")
                    .body(Body::from(ping.clone()))
                    .unwrap(),
                Status(StatusCode::NOT_FOUND),
            ),
            case(
                "PUT",
                Request::put(mcp_path("acme"))
                    .body(Body::from(ping))
                    .unwrap(),
                Status(StatusCode::METHOD_NOT_ALLOWED),
            ),
        ])
        .await;
    assert!(
        answers[0].json()["error_description"]
            .as_str()
            .unwrap()
            .contains("https://mcp.test/t/acme/mcp")
    );
    assert_eq!(answers[1].header("allow").unwrap(), "GET, POST, DELETE");
    assert!(answers[1].json().is_object());
}

// ---------------------------------------------------------------------------------------------
// The endpoint as an OAuth protected resource.

#[tokio::test]
async fn bearer_challenges_and_scopes() {
    let env = Env::new().await;
    let ping = msg(1, "ping", json!({})).to_string();
    let prm = "https://mcp.test/.well-known/oauth-protected-resource/t/acme/mcp";

    let r = env.send(post_req("acme", None, ping.clone(), &[])).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let www = r.header("www-authenticate").unwrap();
    assert_eq!(
        www,
        format!("Bearer resource_metadata=\"{prm}\", scope=\"mcp:read mcp:tools\"")
    );
    assert!(r.json().is_object());

    let expect_invalid = |r: &TestResponse| {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
        let www = r.header("www-authenticate").unwrap();
        assert!(
            www.contains("error=\"invalid_token\"") && www.contains("resource_metadata="),
            "{www}"
        );
    };
    let unauthorized = Status(StatusCode::UNAUTHORIZED);
    let answers = env
        .run([
            case(
                "garbage token",
                post_req("acme", Some("garbage"), ping.clone(), &[]),
                unauthorized,
            ),
            case(
                "unknown token",
                post_req("acme", Some("gmcp_at_notarealtoken"), ping.clone(), &[]),
                unauthorized,
            ),
            case(
                "quote in the token",
                post_req(
                    "acme",
                    None,
                    ping.clone(),
                    &[("authorization", "Bearer a\"b")],
                ),
                unauthorized,
            ),
            case(
                "another workspace's token",
                post_req("acme", Some(&env.globex), ping.clone(), &[]),
                unauthorized,
            ),
        ])
        .await;
    answers.iter().for_each(expect_invalid);
    // Query-string token.
    let mut req = post_req("acme", None, ping.clone(), &[]);
    *req.uri_mut() = format!("/t/acme/mcp?access_token={}", env.acme)
        .parse()
        .unwrap();
    env.run([case(
        "query-string token",
        req,
        Status(StatusCode::BAD_REQUEST),
    )])
    .await;

    // Insufficient scope: 403 naming every scope the request needs.
    let read_only = env.app.token("acme", "alice", "mcp:read").await;
    let tools_only = env.app.token("acme", "alice", "mcp:tools").await;
    let search = json!({"name": "search", "arguments": {"query": "x"}});
    let batch = json!([
        msg(5, "tools/list", json!({})),
        msg(6, "tools/call", search.clone())
    ]);
    let modern_headers = [
        ("mcp-protocol-version", V0728),
        ("mcp-method", "tools/call"),
        ("mcp-name", "search"),
    ];
    let forbidden = Status(StatusCode::FORBIDDEN);
    // (case, the scope its challenge must name: None when the request is served)
    let rows = [
        (
            case(
                "tools/call with mcp:read",
                post_req(
                    "acme",
                    Some(&read_only),
                    msg(2, "tools/call", search.clone()).to_string(),
                    &[("mcp-protocol-version", V1125)],
                ),
                forbidden,
            ),
            Some("mcp:tools"),
        ),
        (
            case(
                "tools/list with mcp:read",
                post_req(
                    "acme",
                    Some(&read_only),
                    msg(3, "tools/list", json!({})).to_string(),
                    &[],
                ),
                Status(StatusCode::OK),
            ),
            None,
        ),
        (
            case(
                "tools/list with mcp:tools",
                post_req(
                    "acme",
                    Some(&tools_only),
                    msg(4, "tools/list", json!({})).to_string(),
                    &[],
                ),
                forbidden,
            ),
            Some("mcp:read"),
        ),
        (
            case(
                "initialize with mcp:tools",
                post_req(
                    "acme",
                    Some(&tools_only),
                    initialize_body(V1125).to_string(),
                    &[],
                ),
                forbidden,
            ),
            Some("mcp:read"),
        ),
        (
            case(
                "a batch needing both scopes names both in one challenge",
                post_req(
                    "acme",
                    Some(&read_only),
                    batch.to_string(),
                    &[("mcp-protocol-version", V0326)],
                ),
                forbidden,
            ),
            Some("mcp:read mcp:tools"),
        ),
        (
            case(
                "2026-07-28 tools/call with mcp:read",
                post_req(
                    "acme",
                    Some(&read_only),
                    modern_msg(7, "tools/call", search.clone()).to_string(),
                    &modern_headers,
                ),
                forbidden,
            ),
            Some("mcp:tools"),
        ),
    ];
    let (cases, scopes): (Vec<Case>, Vec<Option<&str>>) = rows.into_iter().unzip();
    for (r, scope) in env.run(cases).await.iter().zip(scopes) {
        let Some(scope) = scope else { continue };
        let www = r.header("www-authenticate").unwrap();
        assert!(
            www.contains("error=\"insufficient_scope\"")
                && www.contains(&format!("scope=\"{scope}\""))
                && www.contains(prm),
            "{www}"
        );
    }

    // Expiry: the token stops working once the clock passes its lifetime.
    env.app.clock.advance(3601);
    expect_invalid(
        &env.send(post_req("acme", Some(&env.acme), ping.clone(), &[]))
            .await,
    );
    let fresh = env.app.token("acme", "alice", RW).await;
    let r = env.send(post_req("acme", Some(&fresh), ping, &[])).await;
    assert_eq!(r.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Tools.

#[tokio::test]
async fn tools_list_per_version_and_result_shapes() {
    let env = Env::with_knowledge().await;
    for v in LEGACY {
        let tools = env.call(v, msg(1, "tools/list", json!({}))).await.json();
        let list = assert_result(v, &tools, "ListToolsResult");
        for t in list["tools"].as_array().unwrap() {
            assert_eq!(t["annotations"]["readOnlyHint"], true);
            assert_eq!(t["annotations"]["destructiveHint"], false);
            assert_eq!(t["annotations"]["openWorldHint"], false);
            assert!(t["annotations"]["title"].is_string());
            assert_eq!(t["inputSchema"]["type"], "object");
            assert!(
                t["inputSchema"]["properties"].is_object(),
                "never `properties: []`"
            );
            // Input schemas are valid JSON Schema (2020-12, also fine as draft-07).
            jsonschema::draft202012::options()
                .build(&t["inputSchema"])
                .expect("inputSchema compiles");
            assert_eq!(t.get("outputSchema").is_some(), v != V0326);
        }
        let r = env
            .tool(
                v,
                "search_company_rag",
                json!({"query": "on-call", "source": "wiki", "limit": 3}),
            )
            .await;
        let result = assert_result(v, &r, "CallToolResult");
        assert_eq!(result["isError"], false);
        if v == V0326 {
            assert!(result.get("structuredContent").is_none());
        } else {
            let sc = &result["structuredContent"];
            assert_conforms(&output_schema(&tools, "search_company_rag"), sc);
            let hits = sc["results"].as_array().unwrap();
            assert!(!hits.is_empty() && hits.len() <= 3);
            assert!(hits.iter().all(|h| h["source"] == "wiki"));
        }
        let r = env
            .tool(
                v,
                "search_company_rag",
                json!({"query": "login", "source": "github"}),
            )
            .await;
        let result = assert_result(v, &r, "CallToolResult");
        if v != V0326 {
            assert!(
                result["structuredContent"]["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|h| h["source"] == "github")
            );
        }
        // No hits is a normal (non-error) result.
        let r = env
            .tool(v, "search_company_rag", json!({"query": "zzqxjvw"}))
            .await;
        let result = assert_result(v, &r, "CallToolResult");
        assert_eq!(result["isError"], false);
        assert!(text_of(&result).starts_with("No results"));
    }
}

#[tokio::test]
async fn tool_input_validation_errors_depend_on_version() {
    let env = Env::with_knowledge().await;
    let bad_calls = [
        ("search_company_rag", json!({})),
        ("search_company_rag", json!({"query": "   "})),
        ("search_company_rag", json!({"query": 5})),
        ("search_company_rag", json!({"query": "x", "limit": 0})),
        ("search_company_rag", json!({"query": "x", "limit": 21})),
        ("search_company_rag", json!({"query": "x", "limit": "5"})),
        (
            "search_company_rag",
            json!({"query": "x", "source": "jira"}),
        ),
        ("search_company_rag", json!({"query": "x", "extra": true})),
        ("list_github_issues", json!({})),
        ("list_github_issues", json!({"repo": "not a repo"})),
        (
            "list_github_issues",
            json!({"repo": "acme-cloud/auth-service", "state": "merged"}),
        ),
        (
            "list_github_issues",
            json!({"repo": "acme-cloud/auth-service", "since": "last week"}),
        ),
        (
            "list_github_issues",
            json!({"repo": "acme-cloud/auth-service", "limit": 51}),
        ),
        ("fetch", json!({})),
        ("fetch", json!({"id": ""})),
        ("search", json!({"query": ["x"]})),
    ];
    for (name, args) in &bad_calls {
        for v in [V0326, V0618] {
            let r = env.tool(v, name, args.clone()).await;
            assert_rpc_error(v, &r, -32602);
        }
        let r = env.tool(V1125, name, args.clone()).await;
        let result = assert_result(V1125, &r, "CallToolResult");
        assert_eq!(result["isError"], true, "{name} {args}");
        assert!(text_of(&result).contains("Invalid arguments"));
        assert!(result.get("structuredContent").is_none());
    }
    // Unknown tool: a protocol error in every version.
    for v in LEGACY {
        let r = env.tool(v, "rm_rf", json!({})).await;
        assert_rpc_error(v, &r, -32602);
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Unknown tool")
        );
    }
    env.still_works().await;
}

#[tokio::test]
async fn search_and_fetch_follow_chatgpts_contract() {
    let env = Env::with_knowledge().await;
    let tools = env
        .call(V1125, msg(1, "tools/list", json!({})))
        .await
        .json();
    for name in ["search", "fetch"] {
        let t = tools["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap();
        let key = if name == "search" { "query" } else { "id" };
        assert_eq!(t["inputSchema"]["required"], json!([key]));
        assert_eq!(t["inputSchema"]["properties"][key]["type"], "string");
    }
    let r = env
        .tool(
            V1125,
            "search",
            json!({"query": "incident response runbook"}),
        )
        .await;
    let result = assert_result(V1125, &r, "CallToolResult");
    let parsed: Value = serde_json::from_str(&text_of(&result)).expect("text is JSON");
    assert_eq!(parsed, result["structuredContent"]);
    assert_conforms(&output_schema(&tools, "search"), &parsed);
    let results = parsed["results"].as_array().unwrap();
    assert!(!results.is_empty() && results.len() <= 10);
    let ids: HashSet<&str> = results.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), results.len(), "ids are unique");
    for r in results {
        assert_eq!(
            r.as_object().unwrap().len(),
            3,
            "exactly id, title, url: {r}"
        );
        assert!(r["url"].as_str().unwrap().starts_with("http"));
    }
    assert_eq!(results[0]["id"], "wiki:incident-response-runbook");

    let r = env
        .tool(
            V1125,
            "fetch",
            json!({"id": "wiki:incident-response-runbook"}),
        )
        .await;
    let result = assert_result(V1125, &r, "CallToolResult");
    let doc: Value = serde_json::from_str(&text_of(&result)).unwrap();
    assert_conforms(&output_schema(&tools, "fetch"), &doc);
    assert_eq!(doc["id"], "wiki:incident-response-runbook");
    assert_eq!(doc["url"], results[0]["url"]);
    assert!(doc["text"].as_str().unwrap().len() > 200);
    assert_eq!(doc["metadata"]["source"], "wiki");
    assert_eq!(doc["metadata"]["uri"], RUNBOOK_URI);
    // By resource URI, and a GitHub issue id from search.
    let r = env.tool(V1125, "fetch", json!({"id": RUNBOOK_URI})).await;
    assert_eq!(
        serde_json::from_str::<Value>(&text_of(&r["result"])).unwrap()["id"],
        "wiki:incident-response-runbook"
    );
    let r = env
        .tool(
            V1125,
            "search",
            json!({"query": "refresh token rotation race invalid_grant"}),
        )
        .await;
    let found: Value = serde_json::from_str(&text_of(&r["result"])).unwrap();
    let gh = found["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"].as_str().unwrap().starts_with("github:"));
    let gh = gh.expect("a GitHub issue among the results")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = env.tool(V1125, "fetch", json!({"id": gh})).await;
    assert_eq!(
        serde_json::from_str::<Value>(&text_of(&r["result"])).unwrap()["metadata"]["source"],
        "github"
    );

    // Empty query: {"results":[]}.
    for q in ["", "   "] {
        let r = env.tool(V1125, "search", json!({"query": q})).await;
        assert_eq!(
            text_of(&assert_result(V1125, &r, "CallToolResult")),
            r#"{"results":[]}"#
        );
    }
    // Unknown id: a tool error, in every version (not a protocol error).
    for v in LEGACY {
        let r = env
            .tool(v, "fetch", json!({"id": "wiki:does-not-exist"}))
            .await;
        assert_eq!(assert_result(v, &r, "CallToolResult")["isError"], true);
    }
    // Another workspace's id is unknown here.
    let body = msg(
        2,
        "tools/call",
        json!({"name": "fetch", "arguments": {"id": "wiki:incident-response-runbook"}}),
    );
    let r = env
        .send(post_req(
            "globex",
            Some(&env.globex),
            body.to_string(),
            &[("mcp-protocol-version", V1125)],
        ))
        .await;
    let r = r.json();
    let result = assert_result(V1125, &r, "CallToolResult");
    if result["isError"] == false {
        let doc: Value = serde_json::from_str(&text_of(&result)).unwrap();
        assert!(
            !doc["url"].as_str().unwrap().contains("/t/acme/"),
            "{doc:#}"
        );
    }
    // 2025-03-26: text only, still the JSON text.
    let r = env.tool(V0326, "search", json!({"query": "runbook"})).await;
    let result = assert_result(V0326, &r, "CallToolResult");
    assert!(result.get("structuredContent").is_none());
    assert!(serde_json::from_str::<Value>(&text_of(&result)).unwrap()["results"].is_array());
}

/// `fetch` results are shared text keyed by the knowledge version: repeated fetches answer the
/// same bytes, every revision keeps its own shape, and an ingest that changes the document is
/// what the next fetch returns.
#[tokio::test]
async fn fetch_results_are_shared_until_the_knowledge_changes() {
    use crate::support::knowledge::{page, tiny_fixture, write};
    let env = Env::new().await;
    let root = tempfile::tempdir().unwrap();
    let dir = tiny_fixture(root.path());
    let kb = &env.app.state.knowledge;
    kb.ingest_dir("acme", &dir, crate::support::START)
        .await
        .unwrap();
    let args = json!({"id": "wiki:deploy-process"});
    let fetch = async |v: &str| {
        let body = msg(9, "tools/call", json!({"name": "fetch", "arguments": args}));
        env.send(env.post_v(v, &body)).await.text()
    };
    let first = fetch(V1125).await;
    assert!(first.contains("Argo Rollouts"), "{first}");
    // Sent in pieces around the shared text (never copied), with its exact length.
    let body = msg(9, "tools/call", json!({"name": "fetch", "arguments": args}));
    let r = env.send(env.post_v(V1125, &body)).await;
    assert_eq!(r.header("content-length"), Some(r.body.len().to_string()));
    assert_eq!(r.text(), first);
    assert_eq!(
        fetch(V1125).await,
        first,
        "a shared result is the same bytes"
    );
    // The same document under another revision keeps that revision's shape.
    let old = fetch(V0326).await;
    assert!(
        old.contains("Argo Rollouts") && !old.contains("structuredContent"),
        "{old}"
    );
    assert!(first.contains("structuredContent"));
    let modern = env
        .modern(
            "acme",
            modern_msg(9, "tools/call", json!({"name": "fetch", "arguments": args})),
            &[],
        )
        .await
        .text();
    assert!(modern.contains("\"resultType\":\"complete\""), "{modern}");
    assert_eq!(
        env.modern(
            "acme",
            modern_msg(9, "tools/call", json!({"name": "fetch", "arguments": args})),
            &[]
        )
        .await
        .text(),
        modern
    );

    write(
        &dir.join("wiki/deploy-process.md"),
        &page(
            "Deploy Process",
            "2026-12-01T00:00:00Z",
            "Deploys now go through Flux.",
        ),
    );
    kb.ingest_dir("acme", &dir, crate::support::START + 60)
        .await
        .unwrap();
    let after = fetch(V1125).await;
    assert!(after.contains("Flux") && !after.contains("Argo"), "{after}");
    assert!(fetch(V0326).await.contains("Flux"));
}

#[tokio::test]
async fn list_github_issues_newest_activity_first_with_filters() {
    let env = Env::with_knowledge().await;
    let tools = env
        .call(V1125, msg(1, "tools/list", json!({})))
        .await
        .json();
    let schema = output_schema(&tools, "list_github_issues");
    let list = |args: Value| {
        let env = &env;
        async move {
            let r = env.tool(V1125, "list_github_issues", args).await;
            let result = assert_result(V1125, &r, "CallToolResult");
            assert_eq!(result["isError"], false, "{result:#}");
            result
        }
    };
    let check_order = |issues: &[Value]| {
        let dates: Vec<&str> = issues
            .iter()
            .map(|i| i["updated_at"].as_str().unwrap())
            .collect();
        let mut sorted = dates.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(dates, sorted, "newest activity first");
    };

    let result = list(json!({"repo": "acme-cloud/auth-service"})).await;
    let sc = &result["structuredContent"];
    assert_conforms(&schema, sc);
    let open = sc["issues"].as_array().unwrap();
    assert!(!open.is_empty() && open.len() <= 20);
    assert!(open.iter().all(|i| i["state"] == "open"));
    assert_eq!(sc["count"], open.len());
    check_order(open);
    let text = text_of(&result);
    assert!(
        text.contains(&format!("#{}", open[0]["number"]))
            && text.contains(open[0]["url"].as_str().unwrap())
    );

    let closed =
        list(json!({"repo": "acme-cloud/auth-service", "state": "closed", "limit": 50})).await;
    let closed = closed["structuredContent"]["issues"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        !closed.is_empty()
            && closed
                .iter()
                .all(|i| i["state"] == "closed" && i["closed_at"].is_string())
    );
    check_order(&closed);
    let all = list(json!({"repo": "acme-cloud/auth-service", "state": "all", "limit": 50})).await;
    let all = all["structuredContent"]["issues"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        all.len() >= 40,
        "fixture has at least 40 issues: {}",
        all.len()
    );
    check_order(&all);
    let three = list(json!({"repo": "acme-cloud/auth-service", "state": "all", "limit": 3})).await;
    assert_eq!(
        three["structuredContent"]["issues"].as_array().unwrap(),
        &all[..3]
    );

    let since = all[5]["updated_at"].as_str().unwrap().to_owned();
    let recent = list(
        json!({"repo": "acme-cloud/auth-service", "state": "all", "since": since, "limit": 50}),
    )
    .await;
    let recent = recent["structuredContent"]["issues"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!recent.is_empty() && recent.len() < all.len());
    assert!(
        recent
            .iter()
            .all(|i| i["updated_at"].as_str().unwrap() >= since.as_str())
    );

    // Unknown repository, or another workspace's: empty, not an error.
    let none = list(json!({"repo": "acme-cloud/nothing-here"})).await;
    assert_eq!(none["structuredContent"]["count"], 0);
    let body = msg(
        2,
        "tools/call",
        json!({"name": "list_github_issues", "arguments": {"repo": "acme-cloud/auth-service", "state": "all"}}),
    );
    let r = env
        .send(post_req(
            "globex",
            Some(&env.globex),
            body.to_string(),
            &[("mcp-protocol-version", V1125)],
        ))
        .await;
    let result = assert_result(V1125, &r.json(), "CallToolResult");
    assert_eq!(
        result["structuredContent"]["count"], 0,
        "globex never sees acme's issues"
    );
}

// ---------------------------------------------------------------------------------------------
// Resources.

#[tokio::test]
async fn resources_list_read_and_templates() {
    let env = Env::with_knowledge().await;
    let uris = all_resource_uris(&env, "acme").await;
    assert!(uris.len() > 25, "more than one page: {}", uris.len());
    let unique: HashSet<&String> = uris.iter().collect();
    assert_eq!(unique.len(), uris.len(), "no duplicates across pages");
    assert!(
        uris.iter()
            .any(|u| u.starts_with("github://acme-cloud/auth-service/issues/"))
    );

    for v in LEGACY {
        let r = env
            .call(v, msg(1, "resources/list", json!({})))
            .await
            .json();
        let result = assert_result(v, &r, "ListResourcesResult");
        let first = &result["resources"][0];
        assert!(first["name"].is_string() && first["mimeType"].is_string());
        assert_eq!(first.get("title").is_some(), v != V0326);
        let read = env
            .call(v, msg(2, "resources/read", json!({"uri": RUNBOOK_URI})))
            .await
            .json();
        let result = assert_result(v, &read, "ReadResourceResult");
        assert_eq!(result["contents"][0]["uri"], RUNBOOK_URI);
        assert!(result["contents"][0]["text"].as_str().unwrap().len() > 200);
        let t = env
            .call(v, msg(3, "resources/templates/list", json!({})))
            .await
            .json();
        let result = assert_result(v, &t, "ListResourceTemplatesResult");
        let templates: Vec<&str> = result["resourceTemplates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["uriTemplate"].as_str().unwrap())
            .collect();
        assert_eq!(
            templates,
            [
                "wiki://pages/{page}",
                "github://{owner}/{repo}/issues/{number}"
            ]
        );
        for missing in [
            "wiki://pages/nope",
            "file:///etc/passwd",
            "github://acme-cloud/auth-service/issues/999999",
        ] {
            let r = env
                .call(v, msg(4, "resources/read", json!({"uri": missing})))
                .await
                .json();
            assert_rpc_error(v, &r, -32002);
            assert_eq!(r["error"]["data"]["uri"], missing);
        }
        let r = env
            .call(v, msg(5, "resources/read", json!({})))
            .await
            .json();
        assert_rpc_error(v, &r, -32602);
    }
    // Invalid cursors: garbage, and a cursor minted for another workspace.
    let page1 = env
        .call(V1125, msg(6, "resources/list", json!({})))
        .await
        .json();
    let cursor = page1["result"]["nextCursor"].as_str().unwrap().to_owned();
    for bad in [json!("garbage!"), json!(""), json!(5)] {
        let r = env
            .call(V1125, msg(7, "resources/list", json!({"cursor": bad})))
            .await
            .json();
        assert_rpc_error(V1125, &r, -32602);
    }
    let r = env
        .send(post_req(
            "globex",
            Some(&env.globex),
            msg(8, "resources/list", json!({"cursor": cursor})).to_string(),
            &[],
        ))
        .await;
    assert_rpc_error(V0326, &r.json(), -32602);
    // Another workspace's document is not found here.
    let r = env
        .send(post_req(
            "globex",
            Some(&env.globex),
            msg(9, "resources/read", json!({"uri": RUNBOOK_URI})).to_string(),
            &[],
        ))
        .await;
    assert_rpc_error(V0326, &r.json(), -32002);
}

// ---------------------------------------------------------------------------------------------
// Streaming.

/// Parses an SSE body into its `data:` payloads (comments and other fields skipped).
fn sse_messages(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            (!data.is_empty() && data.iter().any(|d| !d.is_empty()))
                .then(|| serde_json::from_str(&data.join("\n")).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn progress_requests_get_a_single_shot_sse_response() {
    let env = Env::with_knowledge().await;
    let call = |token: Value| {
        msg(
            5,
            "tools/call",
            json!({"name": "search_company_rag", "arguments": {"query": "runbook"}, "_meta": {"progressToken": token}}),
        )
    };
    for (version, token) in [
        (V1125, json!("p-1")),
        (V0618, json!(42)),
        (V0326, json!("t")),
    ] {
        let r = env.call(version, call(token.clone())).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("text/event-stream")
        );
        assert_eq!(r.header("x-accel-buffering").unwrap(), "no");
        let messages = sse_messages(&r.text());
        assert_eq!(messages.len(), 3, "{}", r.text());
        for (i, p) in messages[..2].iter().enumerate() {
            assert_valid(version, "ProgressNotification", p);
            assert_eq!(p["params"]["progressToken"], token);
            assert_eq!(p["params"]["progress"], i as u64);
        }
        assert_eq!(messages[2]["id"], 5);
        assert_result(version, &messages[2], "CallToolResult");
    }
    // Client takes only SSE: the response alone, as SSE.
    let r = env
        .send(post_req(
            "acme",
            Some(&env.acme),
            msg(6, "ping", json!({})).to_string(),
            &[("accept", "text/event-stream")],
        ))
        .await;
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    let messages = sse_messages(&r.text());
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["id"], 6);
    // Client takes only JSON: JSON even with a progress token.
    let r = env
        .send(post_req(
            "acme",
            Some(&env.acme),
            call(json!("p")).to_string(),
            &[("accept", "application/json")],
        ))
        .await;
    assert_eq!(r.header("content-type").unwrap(), "application/json");
    assert_result(V0326, &r.json(), "CallToolResult");
    // 2026-07-28 with a progress token.
    let mut body = modern_msg(7, "tools/list", json!({}));
    body["params"]["_meta"]["progressToken"] = json!("m-1");
    let r = env.modern("acme", body, &[]).await;
    let messages = sse_messages(&r.text());
    assert_eq!(messages.len(), 3);
    assert_valid(V0728, "ProgressNotification", &messages[0]);
    assert_result(V0728, &messages[2], "ListToolsResult");
}

/// Opens a streaming GET and returns the response (body unread).
async fn open_get(env: &Env, extra: &[(&str, &str)]) -> axum::response::Response {
    env.app
        .router
        .clone()
        .oneshot(get_req(env, extra))
        .await
        .unwrap()
}

/// A GET at acme with alice's token and `extra` headers.
fn get_req(env: &Env, extra: &[(&str, &str)]) -> Request<Body> {
    let mut b =
        Request::get(mcp_path("acme")).header("authorization", format!("Bearer {}", env.acme));
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    b.body(Body::empty()).unwrap()
}

async fn next_chunk(body: &mut axum::body::BodyDataStream) -> Option<String> {
    tokio::time::timeout(std::time::Duration::from_secs(5), body.next())
        .await
        .expect("stream made progress")
        .map(|c| String::from_utf8(c.unwrap().to_vec()).unwrap())
}

#[tokio::test]
async fn get_stream_belongs_to_a_session() {
    let env = Env::new().await;
    let sse = ("accept", "text/event-stream");
    let modern_delete = Request::delete(mcp_path("acme"))
        .header("authorization", format!("Bearer {}", env.acme))
        .header("mcp-protocol-version", V0728)
        .header("mcp-session-id", "whatever")
        .body(Body::empty())
        .unwrap();
    let (sid, _) = env.initialize(V1125).await;
    let not_allowed = Status(StatusCode::METHOD_NOT_ALLOWED);
    let answers = env
        .run([
            case(
                "GET without a session: 405 with Allow",
                get_req(&env, &[sse]),
                not_allowed,
            ),
            case(
                "GET under 2026-07-28",
                get_req(&env, &[sse, ("mcp-protocol-version", V0728)]),
                not_allowed,
            ),
            case("DELETE under 2026-07-28", modern_delete, not_allowed),
            case(
                "unauthenticated GET: a 401 challenge, like every request",
                Request::get(mcp_path("acme")).body(Body::empty()).unwrap(),
                Status(StatusCode::UNAUTHORIZED),
            ),
            case(
                "GET accepting only JSON",
                get_req(
                    &env,
                    &[("accept", "application/json"), ("mcp-session-id", &sid)],
                ),
                Status(StatusCode::NOT_ACCEPTABLE),
            ),
            case(
                "GET on an unknown session",
                get_req(&env, &[sse, ("mcp-session-id", "mcps_unknown")]),
                Status(StatusCode::NOT_FOUND),
            ),
            case(
                "GET with an unsupported version (another supported one is served at the session's)",
                get_req(
                    &env,
                    &[
                        sse,
                        ("mcp-session-id", &sid),
                        ("mcp-protocol-version", "2024-11-05"),
                    ],
                ),
                Status(StatusCode::BAD_REQUEST),
            ),
        ])
        .await;
    assert_eq!(answers[0].header("allow").unwrap(), "POST, DELETE");

    let r = open_get(
        &env,
        &[
            sse,
            ("mcp-session-id", &sid),
            ("mcp-protocol-version", V1125),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_eq!(r.headers()["x-accel-buffering"], "no");
    let mut body = r.into_body().into_data_stream();
    let priming = next_chunk(&mut body).await.unwrap();
    assert!(
        priming.starts_with("id: g-")
            && priming.contains("\nretry: 5000\n")
            && priming.ends_with("\ndata: \n\n"),
        "{priming:?}"
    );
    // One stream per session.
    assert_eq!(
        open_get(&env, &[sse, ("mcp-session-id", &sid)])
            .await
            .status(),
        StatusCode::CONFLICT
    );
    // POSTs on the session keep working while the stream is open.
    assert_eq!(
        env.legacy(None, Some(&sid), msg(2, "ping", json!({})))
            .await
            .status,
        StatusCode::OK
    );
    // Ending the session ends the stream, and frees nothing twice.
    let del = Request::delete(mcp_path("acme"))
        .header("authorization", format!("Bearer {}", env.acme))
        .header("mcp-session-id", &sid)
        .body(Body::empty())
        .unwrap();
    assert_eq!(env.send(del).await.status, StatusCode::NO_CONTENT);
    assert_eq!(next_chunk(&mut body).await, None);
    assert_eq!(
        open_get(&env, &[sse, ("mcp-session-id", &sid)])
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

// ---------------------------------------------------------------------------------------------
// 2026-07-28.

#[tokio::test]
async fn modern_clients_are_served_statelessly() {
    let env = Env::with_knowledge().await;
    let r = env
        .modern("acme", modern_msg(1, "server/discover", json!({})), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.header("mcp-session-id").is_none());
    let d = assert_result(V0728, &r.json(), "DiscoverResult");
    assert_eq!(d["supportedVersions"], json!([V0728, V1125, V0618, V0326]));
    assert_eq!(d["cacheScope"], "private");
    assert_eq!(
        d["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "gigamcp"
    );
    assert!(d["capabilities"]["tools"].is_object() && d["capabilities"].get("logging").is_none());

    let r = env
        .modern("acme", modern_msg(2, "tools/list", json!({})), &[])
        .await;
    let list = assert_result(V0728, &r.json(), "ListToolsResult");
    assert_eq!(list["cacheScope"], "private");
    assert!(list["ttlMs"].as_u64().is_some());
    let tools_resp = r.json();

    let r = env
        .modern("acme", modern_msg(3, "tools/call", json!({"name": "search_company_rag", "arguments": {"query": "incident response runbook"}})), &[])
        .await;
    let result = assert_result(V0728, &r.json(), "CallToolResult");
    assert_conforms(
        &output_schema(&tools_resp, "search_company_rag"),
        &result["structuredContent"],
    );
    assert_eq!(
        result["structuredContent"]["results"][0]["uri"],
        RUNBOOK_URI
    );
    let r = env
        .modern(
            "acme",
            modern_msg(4, "tools/call", json!({"name": "fetch", "arguments": {}})),
            &[],
        )
        .await;
    assert_eq!(
        assert_result(V0728, &r.json(), "CallToolResult")["isError"],
        true
    );

    let r = env
        .modern("acme", modern_msg(5, "resources/list", json!({})), &[])
        .await;
    let res = assert_result(V0728, &r.json(), "ListResourcesResult");
    assert_eq!(res["cacheScope"], "private");
    let r = env
        .modern(
            "acme",
            modern_msg(6, "resources/read", json!({"uri": RUNBOOK_URI})),
            &[],
        )
        .await;
    assert_result(V0728, &r.json(), "ReadResourceResult");
    let r = env
        .modern(
            "acme",
            modern_msg(7, "resources/templates/list", json!({})),
            &[],
        )
        .await;
    assert_result(V0728, &r.json(), "ListResourceTemplatesResult");
    // Unknown resource: -32602 in 2026-07-28.
    let r = env
        .modern(
            "acme",
            modern_msg(8, "resources/read", json!({"uri": "wiki://pages/nope"})),
            &[],
        )
        .await;
    assert_rpc_error(V0728, &r.json(), -32602);
    // Unknown method (and removed legacy ones): 404 + -32601.
    let unknown = ["nope/nothing", "ping", "logging/setLevel", "prompts/list"];
    env.run(unknown.map(|m| {
        case(
            m,
            env.modern_req("acme", &modern_msg(9, m, json!({})), &[]),
            Rpc(V0728, StatusCode::NOT_FOUND, -32601),
        )
    }))
    .await;
    // A Mcp-Name that needs base64 encoding.
    let r = env
        .modern(
            "acme",
            modern_msg(
                10,
                "tools/call",
                json!({"name": "search", "arguments": {"query": "runbook"}}),
            ),
            &[("mcp-name", "=?base64?c2VhcmNo?=")],
        )
        .await;
    assert_result(V0728, &r.json(), "CallToolResult");
    let n =
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 3}});
    env.run([
        case(
            "an Mcp-Session-Id from a 2026-07-28 client is ignored, not looked up",
            env.modern_req(
                "acme",
                &modern_msg(11, "tools/list", json!({})),
                &[("mcp-session-id", "mcps_stale")],
            ),
            Status(StatusCode::OK),
        ),
        case(
            "a notification is accepted",
            env.modern_req("acme", &n, &[]),
            Status(StatusCode::ACCEPTED),
        ),
    ])
    .await;
    // Globex gets globex.
    let r = env
        .modern(
            "globex",
            modern_msg(
                12,
                "tools/call",
                json!({"name": "search", "arguments": {"query": "incident response runbook"}}),
            ),
            &[],
        )
        .await;
    let found: Value =
        serde_json::from_str(&text_of(&assert_result(V0728, &r.json(), "CallToolResult"))).unwrap();
    for hit in found["results"].as_array().unwrap() {
        assert!(!hit["url"].as_str().unwrap().contains("/t/acme/"), "{hit}");
        assert!(
            !hit["url"].as_str().unwrap().contains("acme-cloud"),
            "{hit}"
        );
    }
}

#[tokio::test]
async fn modern_header_validation() {
    let env = Env::new().await;
    let list = modern_msg(1, "tools/list", json!({}));
    let call = modern_msg(
        1,
        "tools/call",
        json!({"name": "search", "arguments": {"query": "x"}}),
    );
    let read = modern_msg(1, "resources/read", json!({"uri": RUNBOOK_URI}));
    let row = |name: &str, body: &Value, extra: &[(&str, &str)]| {
        case(name, env.modern_req("acme", body, extra), Mismatch)
    };
    let mut cases = vec![
        row(
            "MCP-Protocol-Version missing",
            &list,
            &[("mcp-protocol-version", "")],
        ),
        row(
            "MCP-Protocol-Version other than _meta's",
            &list,
            &[("mcp-protocol-version", V1125)],
        ),
        row(
            "header says 2026-07-28, body has no _meta version",
            &msg(1, "tools/list", json!({})),
            &[],
        ),
    ];
    for m in ["", "tools/call", "Tools/List", "=?base64?%%%?="] {
        cases.push(row(
            &format!("Mcp-Method {m:?}"),
            &list,
            &[("mcp-method", m)],
        ));
    }
    cases.extend([
        case(
            "Mcp-Method with a non-ASCII byte",
            env.post(
                list.to_string(),
                &[
                    ("mcp-protocol-version", V0728),
                    ("mcp-method", "tools/listé"),
                ],
            ),
            Mismatch,
        ),
        row("tools/call without Mcp-Name", &call, &[("mcp-name", "")]),
        row(
            "tools/call naming another tool",
            &call,
            &[("mcp-name", "fetch")],
        ),
        row(
            "tools/call naming another tool in Base64",
            &call,
            &[("mcp-name", "=?base64?ZmV0Y2g=?=")],
        ),
        row(
            "resources/read naming another URI",
            &read,
            &[("mcp-name", "wiki://pages/other")],
        ),
    ]);
    env.run(cases).await;
    // Unsupported version in both places: -32022 with the supported list.
    let mut future = modern_msg(1, "tools/list", json!({}));
    future["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
    let r = env
        .modern("acme", future, &[("mcp-protocol-version", "2099-01-01")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let b = r.json();
    assert_valid(V0728, "UnsupportedProtocolVersionError", &b);
    assert_eq!(b["error"]["data"]["requested"], "2099-01-01");
    assert!(
        b["error"]["data"]["supported"]
            .as_array()
            .unwrap()
            .contains(&json!(V0728))
    );
    // Each failure left the endpoint usable.
    let r = env.modern("acme", list, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    env.still_works().await;
}

#[tokio::test]
async fn modern_param_headers_mirror_x_mcp_header_arguments() {
    let env = Env::with_knowledge().await;
    // Only 2026-07-28 tool lists carry the annotation: list_github_issues' repo → Mcp-Param-Repo.
    let r = env
        .modern("acme", modern_msg(1, "tools/list", json!({})), &[])
        .await;
    let list = assert_result(V0728, &r.json(), "ListToolsResult");
    let issues_tool = list["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "list_github_issues")
        .unwrap();
    assert_eq!(
        issues_tool["inputSchema"]["properties"]["repo"]["x-mcp-header"],
        "Repo"
    );
    assert_eq!(list.to_string().matches("x-mcp-header").count(), 1);
    jsonschema::draft202012::options()
        .build(&issues_tool["inputSchema"])
        .expect("annotated inputSchema compiles");
    for v in LEGACY {
        let tools = env.call(v, msg(1, "tools/list", json!({}))).await.json();
        assert_result(v, &tools, "ListToolsResult");
        assert!(!tools.to_string().contains("x-mcp-header"), "{v}");
    }

    let repo = "acme-cloud/auth-service";
    let call = |args: Value| {
        modern_msg(
            1,
            "tools/call",
            json!({"name": "list_github_issues", "arguments": args}),
        )
    };
    let served = |r: &TestResponse| {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_result(V0728, &r.json(), "CallToolResult")
    };
    let names_the_header = |r: &TestResponse| {
        let b = r.json();
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Mcp-Param-Repo"),
            "{b:#}"
        );
    };
    // A matching header (any case of the name, plain or Base64) is served.
    for (name, value) in [
        ("mcp-param-repo", repo),
        ("MCP-Param-Repo", repo),
        (
            "mcp-param-repo",
            "=?base64?YWNtZS1jbG91ZC9hdXRoLXNlcnZpY2U=?=",
        ),
    ] {
        let r = env
            .modern(
                "acme",
                call(json!({"repo": repo, "limit": 2})),
                &[(name, value)],
            )
            .await;
        let result = served(&r);
        assert_eq!(result["isError"], false, "{result:#}");
        assert_eq!(result["structuredContent"]["repo"], repo);
        assert!(
            !result["structuredContent"]["issues"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
    // Missing, different, differently cased or invalid: 400 + -32020. A header for an absent
    // or null argument claims a value the body does not have.
    let with_repo = call(json!({"repo": repo}));
    let mut cases = vec![case(
        "Mcp-Param-Repo missing",
        env.modern_req("acme", &with_repo, &[]),
        Mismatch,
    )];
    for wrong in [
        "acme-cloud/billing",
        "ACME-CLOUD/AUTH-SERVICE",
        "=?base64?YWNtZQ==?=",
    ] {
        cases.push(case(
            format!("Mcp-Param-Repo {wrong:?}"),
            env.modern_req("acme", &with_repo, &[("mcp-param-repo", wrong)]),
            Mismatch,
        ));
    }
    cases.push(case(
        "a repo that needs Base64, sent raw",
        env.modern_req(
            "acme",
            &call(json!({"repo": "acme-cloud/authé"})),
            &[("mcp-param-repo", "acme-cloud/authé")],
        ),
        Mismatch,
    ));
    for args in [json!({}), json!({"repo": null})] {
        cases.push(case(
            format!("Mcp-Param-Repo for arguments {args}"),
            env.modern_req("acme", &call(args), &[("mcp-param-repo", repo)]),
            Mismatch,
        ));
    }
    env.run(cases).await.iter().for_each(names_the_header);
    // No value, no header expected: the tool reports the missing argument itself.
    for args in [json!({}), json!({"repo": null})] {
        let result = served(&env.modern("acme", call(args), &[]).await);
        assert_eq!(result["isError"], true, "{result:#}");
    }
    // Other tools and unknown tools do not look at Mcp-Param-Repo.
    let r = env
        .modern(
            "acme",
            modern_msg(
                1,
                "tools/call",
                json!({"name": "search", "arguments": {"query": "runbook"}}),
            ),
            &[("mcp-param-repo", "whatever")],
        )
        .await;
    assert_eq!(served(&r)["isError"], false);
    let r = env
        .modern(
            "acme",
            modern_msg(
                1,
                "tools/call",
                json!({"name": "nope", "arguments": {"repo": repo}}),
            ),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_rpc_error(V0728, &r.json(), -32602);
    // Legacy revisions never ask for the header.
    let r = env
        .tool(
            V1125,
            "list_github_issues",
            json!({"repo": repo, "limit": 1}),
        )
        .await;
    assert_eq!(assert_result(V1125, &r, "CallToolResult")["isError"], false);
    env.still_works().await;
}

// ---------------------------------------------------------------------------------------------
// Over a real socket.

#[tokio::test]
async fn over_a_real_socket_with_reqwest() {
    let env = Env::with_knowledge().await;
    let base = env.app.serve().await;
    let url = format!("{base}/t/acme/mcp");
    let client = reqwest::Client::new();
    let post = |body: Value, session: Option<String>| {
        let mut rb = client
            .post(&url)
            .bearer_auth(&env.acme)
            .header("accept", "application/json, text/event-stream")
            .header("user-agent", "openai-mcp/1.0.0")
            .json(&body);
        if let Some(s) = session {
            rb = rb
                .header("mcp-session-id", s)
                .header("mcp-protocol-version", V1125);
        }
        rb.send()
    };
    let r = client
        .post(&url)
        .json(&initialize_body(V1125))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("resource_metadata=")
    );

    let r = post(initialize_body(V1125), None).await.unwrap();
    assert_eq!(r.status(), 200);
    let sid = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    assert_result(V1125, &r.json::<Value>().await.unwrap(), "InitializeResult");
    let r = post(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        Some(sid.clone()),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    assert!(r.bytes().await.unwrap().is_empty());
    let r = post(msg(2, "tools/list", json!({})), Some(sid.clone()))
        .await
        .unwrap();
    assert_result(V1125, &r.json::<Value>().await.unwrap(), "ListToolsResult");
    let call = msg(
        3,
        "tools/call",
        json!({"name": "search_company_rag", "arguments": {"query": "incident response runbook"}, "_meta": {"progressToken": 1}}),
    );
    let r = post(call, Some(sid.clone())).await.unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let messages = sse_messages(&r.text().await.unwrap());
    let result = assert_result(V1125, messages.last().unwrap(), "CallToolResult");
    assert_eq!(
        result["structuredContent"]["results"][0]["uri"],
        RUNBOOK_URI
    );
    let r = client
        .delete(&url)
        .bearer_auth(&env.acme)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = post(msg(4, "ping", json!({})), Some(sid)).await.unwrap();
    assert_eq!(r.status(), 404);
}

// ---------------------------------------------------------------------------------------------
// The MCP lane (`edge::App`): POSTs to the endpoint skip the router, answered as it would.

/// Sends `req` over a new connection to `addr` as HTTP/1.1 bytes and returns the response's
/// bytes as sent, the `date` and `x-request-id` lines removed and a new session's id masked.
async fn on_the_wire(addr: std::net::SocketAddr, req: Request<Body>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: mcp.test\r\n",
        parts.method, parts.uri
    );
    for (k, v) in &parts.headers {
        head.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap()));
    }
    if !parts.headers.contains_key("content-length") {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    head.push_str("connection: close\r\n\r\n");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&body).await.unwrap();
    let mut out = Vec::new();
    tcp.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        let name = line.split(':').next().unwrap().to_ascii_lowercase();
        match name.as_str() {
            "date" | "x-request-id" => {
                assert!(line.len() > name.len() + 2, "{line}");
            }
            "mcp-session-id" => lines.push("mcp-session-id: <new>".into()),
            _ => lines.push(line.to_owned()),
        }
    }
    format!("{}\r\n\r\n{body}", lines.join("\r\n"))
}

async fn listen(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let make = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, make).await.unwrap() });
    addr
}

/// Every kind of POST the endpoint answers, sent both to `gigamcp_server::app` (which takes them
/// by the MCP lane) and to `gigamcp_server::router` on the same state: the same bytes on the
/// wire (status line, every header in order, body), but the date, the request id and a new
/// session's id.
#[tokio::test]
async fn the_mcp_lane_answers_as_the_router_does() {
    let env = Env::with_knowledge().await;
    let state = env.app.state.clone();
    let lane = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = gigamcp_server::app(state.clone()).into_make_service();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    };
    let routed = listen(gigamcp_server::router(state)).await;
    let (sid, _) = env.initialize(V1125).await;
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(1024 * 1024)
    );
    let rag =
        json!({"name": "search_company_rag", "arguments": {"query": "incident response runbook"}});
    let fetch = json!({"name": "fetch", "arguments": {"id": RUNBOOK_URI}});
    let ping = msg(1, "ping", json!({}));
    let cases: Vec<(&str, Request<Body>)> = vec![
        ("initialize", post_req("acme", Some(&env.acme), initialize_body(V0618).to_string(), &[])),
        ("ping on a session", env.post_s(Some(V1125), &sid, &ping)),
        ("ping on a session, no version header", env.post_s(None, &sid, &ping)),
        ("tools/list", env.post_v(V0618, &msg(2, "tools/list", json!({})))),
        ("search_company_rag", env.post_v(V1125, &msg(3, "tools/call", rag.clone()))),
        ("fetch", env.post_v(V0326, &msg(4, "tools/call", fetch))),
        ("resources/list", env.post_v(V1125, &msg(5, "resources/list", json!({})))),
        ("unknown tool", env.post_v(V1125, &msg(6, "tools/call", json!({"name": "nope", "arguments": {}})))),
        ("unknown method", env.post_v(V1125, &msg(7, "no/such", json!({})))),
        ("modern tools/list", env.modern_req("acme", &modern_msg(8, "tools/list", json!({})), &[])),
        ("modern search", env.modern_req("acme", &modern_msg(9, "tools/call", rag), &[])),
        ("modern unknown method", env.modern_req("acme", &modern_msg(10, "no/such", json!({})), &[])),
        ("modern header mismatch", env.modern_req("acme", &modern_msg(11, "tools/list", json!({})), &[("mcp-method", "ping")])),
        ("notification", env.post_v(V1125, &json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {}}))),
        ("client response", env.post_v(V1125, &json!({"jsonrpc": "2.0", "id": 1, "result": {}}))),
        ("batch", env.post(json!([msg(1, "ping", json!({})), msg(2, "tools/list", json!({}))]).to_string(), &[("mcp-protocol-version", V0326)])),
        ("batch under a later revision", env.post(json!([msg(1, "ping", json!({}))]).to_string(), &[("mcp-protocol-version", V1125)])),
        ("SSE only", env.post(ping.to_string(), &[("accept", "text/event-stream"), ("mcp-protocol-version", V1125)])),
        ("progress", env.post_v(V1125, &msg(12, "tools/call", json!({"name": "search_company_rag", "arguments": {"query": "deploy"}, "_meta": {"progressToken": "p1"}})))),
        ("no token", post_req("acme", None, ping.to_string(), &[])),
        ("another workspace's token", post_req("acme", Some(&env.globex), ping.to_string(), &[])),
        ("malformed authorization", post_req("acme", None, ping.to_string(), &[("authorization", "Bearer a b")])),
        ("unknown workspace", post_req("nope", Some(&env.acme), ping.to_string(), &[])),
        ("invalid slug", post_req("No.Such~Slug", Some(&env.acme), ping.to_string(), &[])),
        ("token in the query", {
            let mut r = env.post_v(V1125, &ping);
            *r.uri_mut() = "/t/acme/mcp?access_token=abc".parse().unwrap();
            r
        }),
        ("foreign origin", env.post(ping.to_string(), &[("origin", "https://evil.example")])),
        ("unknown session", env.post_s(Some(V1125), "no-such-session", &ping)),
        ("unsupported version header", env.post(ping.to_string(), &[("mcp-protocol-version", "1999-01-01")])),
        ("bad JSON", env.post("{\"jsonrpc\": ", &[])),
        ("empty body", env.post("", &[])),
        ("jsonrpc 1.0", env.post(r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, &[])),
        ("form body", env.post("a=b", &[("content-type", "application/x-www-form-urlencoded")])),
        ("no acceptable type", env.post(ping.to_string(), &[("accept", "text/html")])),
        ("too large", env.post(big, &[])),
    ];
    let mut statuses = HashSet::new();
    for (name, req) in cases {
        assert!(gigamcp_server::edge::App::takes_by_lane(&req), "{name}");
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let copy = || {
            let mut r = Request::from_parts(parts.clone(), Body::from(body.clone()));
            *r.headers_mut() = parts.headers.clone();
            r
        };
        let by_lane = on_the_wire(lane, copy()).await;
        let by_router = on_the_wire(routed, copy()).await;
        assert_eq!(by_lane, by_router, "{name}");
        statuses.insert(by_lane.split(' ').nth(1).unwrap().to_owned());
    }
    // The cases reach every status the endpoint answers a POST with.
    for s in [
        "200", "202", "400", "401", "403", "404", "406", "413", "415",
    ] {
        assert!(statuses.contains(s), "no case answered {s}: {statuses:?}");
    }
}
