//! The real `gigamcp` binary: `serve --demo` on a real socket, admin commands against its
//! database while it runs, and the README's curl walkthrough done with reqwest.
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gigamcp");
const PASSWORD: &str = "cli-test-password";

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(dir: &Path) -> Server {
    let port = free_port();
    let child = Command::new(BIN)
        .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir)
        .env("GIGAMCP_DEMO_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

fn admin(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .arg("admin")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        pipe.write_all(s.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

async fn rpc(base: &str, slug: &str, token: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/t/{slug}/mcp"))
        .bearer_auth(token)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn demo_server_answers_the_readme_walkthrough() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let token = stdout(&admin(
        dir.path(),
        &["token", "issue", "--workspace", "acme", "--user", "alice"],
        None,
    ));
    assert!(token.starts_with("gmcp_at_"));

    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}});
    let (status, body) = rpc(&server.base, "acme", &token, init).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["protocolVersion"], "2025-11-25");

    let (status, body) = rpc(
        &server.base,
        "acme",
        &token,
        json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}),
    )
    .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for n in [
        "search_company_rag",
        "search",
        "fetch",
        "list_github_issues",
    ] {
        assert!(names.contains(&n), "{names:?}");
    }

    let call = json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"search_company_rag","arguments":{"query":"incident response runbook"}}});
    let (status, body) = rpc(&server.base, "acme", &token, call).await;
    assert_eq!(status, 200);
    let results = body["result"]["structuredContent"]["results"]
        .as_array()
        .expect("results");
    assert!(!results.is_empty());
    assert_eq!(
        results[0]["uri"], "wiki://pages/incident-response-runbook",
        "{body}"
    );
    assert!(
        results[0]["url"]
            .as_str()
            .unwrap()
            .starts_with(&server.base)
    );

    // The acme token is refused by globex (RFC 8707), with a challenge naming globex's metadata.
    let r = reqwest::Client::new()
        .post(format!("{}/t/globex/mcp", server.base))
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let www = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        www.contains("error=\"invalid_token\"") && www.contains("/t/globex/mcp"),
        "{www}"
    );

    // Removing alice from acme with the admin CLI, while the server runs, cuts her off within
    // the epoch poll interval.
    stdout(&admin(
        dir.path(),
        &["member", "remove", "acme", "alice"],
        None,
    ));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _) = rpc(
            &server.base,
            "acme",
            &token,
            json!({"jsonrpc":"2.0","id":4,"method":"tools/list"}),
        )
        .await;
        if status == 401 {
            break;
        }
        assert!(Instant::now() < deadline, "removed member kept access");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn demo_seeding_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let count = |dir: &Path| -> String {
        let ws = stdout(&admin(dir, &["workspace", "list"], None));
        ws.lines().count().to_string()
    };
    drop(serve(dir.path()));
    let first = count(dir.path());
    drop(serve(dir.path()));
    assert_eq!(first, count(dir.path()));
    assert_eq!(first, "2");
    // Users were not duplicated: creating alice again is refused.
    let o = admin(
        dir.path(),
        &["user", "create", "alice", "--password-stdin"],
        Some("another-password\n"),
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
}

#[test]
fn admin_commands_report_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let err = |args: &[&str], stdin: Option<&str>| {
        let o = admin(d, args, stdin);
        assert!(!o.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    assert!(
        err(&["workspace", "create", "Bad_Slug", "--name", "x"], None)
            .contains("invalid workspace slug")
    );
    stdout(&admin(
        d,
        &["workspace", "create", "acme", "--name", "Acme"],
        None,
    ));
    assert!(
        err(&["workspace", "create", "acme", "--name", "Acme"], None).contains("already exists")
    );
    assert!(
        err(
            &["user", "create", "carol", "--password-stdin"],
            Some("short\n")
        )
        .contains("at least 8")
    );
    stdout(&admin(
        d,
        &["user", "create", "carol", "--password-stdin"],
        Some("carol-password\n"),
    ));
    assert!(err(&["member", "add", "nope", "carol"], None).contains("no workspace"));
    assert!(err(&["member", "add", "acme", "dave"], None).contains("no user"));
    assert!(
        err(
            &["token", "issue", "--workspace", "acme", "--user", "carol"],
            None
        )
        .contains("not a member")
    );
    stdout(&admin(
        d,
        &["member", "add", "acme", "carol", "--role", "admin"],
        None,
    ));
    let token = stdout(&admin(
        d,
        &[
            "token",
            "issue",
            "--workspace",
            "acme",
            "--user",
            "carol",
            "--scope",
            "mcp:read",
        ],
        None,
    ));
    assert!(token.starts_with("gmcp_at_"));
    assert!(
        err(
            &[
                "token",
                "issue",
                "--workspace",
                "acme",
                "--user",
                "carol",
                "--scope",
                "root"
            ],
            None
        )
        .contains("unknown scope")
    );
    assert!(err(&["ingest", "nope", "/tmp"], None).contains("no workspace"));
    // The plaintext token is nowhere in the database file.
    let db = std::fs::read(d.join("gigamcp.db")).unwrap();
    assert!(!db.windows(token.len()).any(|w| w == token.as_bytes()));
}
