//! The floor probe (`gigamcp-bench floor`), the real binary: it answers a correct `ping` as
//! gigamcp does and refuses everything the server refuses, each with the server's status, so
//! its figure is for the whole of an authenticated request and it cannot pass as an echo.
use bytes::Bytes;
use gigamcp_bench::floor::Credentials;
use gigamcp_bench::load::{self, Req};
use gigamcp_bench::procs;
use hyper::{Method, StatusCode};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_gigamcp-bench");
const TOKEN: &str = "floor-test-token-0123456789abcdef";
const SESSION: &str = "floor-test-session-0123456789";

fn creds() -> Credentials {
    Credentials {
        token: TOKEN.into(),
        session: SESSION.into(),
        workspace: "acme".into(),
    }
}

/// A request as the bench's `ping` scenario sends it, with `change` applied to its headers.
fn request(path: &str, body: &str, change: impl FnOnce(&mut Vec<(&'static str, String)>)) -> Req {
    let mut headers = vec![
        ("authorization", format!("Bearer {TOKEN}")),
        ("content-type", "application/json".to_owned()),
        ("accept", "application/json, text/event-stream".to_owned()),
        ("mcp-protocol-version", "2025-11-25".to_owned()),
        ("mcp-session-id", SESSION.to_owned()),
    ];
    change(&mut headers);
    Req::new(Method::POST, path, &headers, Bytes::from(body.to_owned()))
}

const PING: &str = r#"{"jsonrpc":"2.0","id":7,"method":"ping","params":{}}"#;
const MCP: &str = "/t/acme/mcp";

fn set(headers: &mut Vec<(&'static str, String)>, name: &'static str, value: Option<&str>) {
    headers.retain(|(n, _)| *n != name);
    if let Some(v) = value {
        headers.push((name, v.to_owned()));
    }
}

#[tokio::test]
async fn the_probe_answers_ping_as_the_server_does_and_refuses_what_it_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let probe = procs::floor_at(std::path::Path::new(BIN), dir.path(), Some(1), &creds()).unwrap();
    let send = |req: Req| {
        let addr = probe.addr.clone();
        async move { load::once(&addr, req).await.unwrap() }
    };

    let (status, headers, body) = send(request(MCP, PING, |_| {})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], br#"{"id":7,"jsonrpc":"2.0","result":{}}"#);
    for (name, value) in [
        ("content-type", "application/json"),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert_eq!(headers.get(name).unwrap(), value, "{name}");
    }
    let first_id = headers.get("x-request-id").unwrap().clone();
    let (_, again, _) = send(request(MCP, PING, |_| {})).await;
    assert_ne!(again.get("x-request-id").unwrap(), first_id);

    // Every refusal, with the status gigamcp gives it.
    let cases: Vec<(&str, Req, StatusCode)> = vec![
        (
            "unknown token",
            request(MCP, PING, |h| {
                set(h, "authorization", Some("Bearer not-the-token"))
            }),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "no token",
            request(MCP, PING, |h| set(h, "authorization", None)),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "the token on another workspace",
            request("/t/globex/mcp", PING, |_| {}),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "unknown session",
            request(MCP, PING, |h| set(h, "mcp-session-id", Some("other"))),
            StatusCode::NOT_FOUND,
        ),
        (
            "no session",
            request(MCP, PING, |h| set(h, "mcp-session-id", None)),
            StatusCode::BAD_REQUEST,
        ),
        (
            "Accept without SSE",
            request(MCP, PING, |h| set(h, "accept", Some("application/json"))),
            StatusCode::NOT_ACCEPTABLE,
        ),
        (
            "a form body",
            request(MCP, PING, |h| {
                set(h, "content-type", Some("application/x-www-form-urlencoded"))
            }),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "an unknown revision",
            request(MCP, PING, |h| {
                set(h, "mcp-protocol-version", Some("1999-01-01"))
            }),
            StatusCode::BAD_REQUEST,
        ),
        (
            "a body that is not JSON",
            request(MCP, "{not json", |_| {}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "jsonrpc 1.0",
            request(MCP, r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, |_| {}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "a notification",
            request(
                MCP,
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                |_| {},
            ),
            StatusCode::ACCEPTED,
        ),
    ];
    for (what, req, want) in cases {
        let (status, headers, body) = send(req).await;
        assert_eq!(status, want, "{what}: {body:?}");
        assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(
                headers.get("www-authenticate").unwrap(),
                r#"Bearer error="invalid_token""#,
                "{what}"
            );
        }
    }

    // Any method but ping is unknown to it: a JSON-RPC error, never a result.
    let (status, _, body) = send(request(
        MCP,
        r#"{"jsonrpc":"2.0","id":"a","method":"tools/list"}"#,
        |_| {},
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["id"], "a");
    assert_eq!(v["error"]["code"], -32601);
    assert!(v.get("result").is_none(), "{v}");
}

#[test]
fn the_probe_will_not_start_without_its_credentials() {
    let out = Command::new(BIN)
        .args(["floor", "--bind", "127.0.0.1:0"])
        .env_remove(gigamcp_bench::floor::TOKEN_ENV)
        .env_remove(gigamcp_bench::floor::SESSION_ENV)
        .env_remove(gigamcp_bench::floor::WORKSPACE_ENV)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(gigamcp_bench::floor::TOKEN_ENV), "{err}");
}
