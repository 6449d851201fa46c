//! `cargo xtask fuzz [--cases N] [--seed S]`: generated requests against a real `gigamcp serve
//! --demo` (debug build, fresh data directory), across the MCP endpoint, the token,
//! registration, revocation and introspection endpoints, the authorization endpoint and the HTML
//! forms (sign-in, consent, sign-out, Connected apps). Requests mix valid material (a real bearer
//! token, registered clients, a signed-in session with its CSRF token) with mutations: wrong
//! methods and content types, truncated or random bodies, repeated and over-long parameters,
//! control characters, odd header values.
//!
//! The run fails on any 5xx answer, any request the server drops without an answer, or a panic
//! in the server log. Figures are printed per endpoint. Default 3000 cases (what CI runs);
//! `--cases 100000` for the full run. Deterministic for a given `--seed`.
use crate::util::{Server, build_bins};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

struct Req {
    endpoint: &'static str,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

struct Reply {
    status: u16,
    body: String,
}

fn send(base: &str, req: &Req) -> Result<Reply, String> {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n",
        req.method, req.path
    );
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", req.body.len()));
    s.write_all(head.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    s.write_all(&req.body).map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = s.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&chunk[..n]);
        // A GET SSE stream stays open by design: the status line and headers are the answer.
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            if req.method == "GET" && head.contains("content-type: text/event-stream") {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            format!(
                "no HTTP status in {:?}",
                text.chars().take(200).collect::<String>()
            )
        })?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok(Reply { status, body })
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn form(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Material the generator mixes in: real values and hostile ones.
struct Material {
    token: String,
    client_id: String,
    client_secret: String,
    public_client: String,
    session_cookie: String,
    csrf: String,
    mcp_urls: Vec<String>,
}

fn nasty(rng: &mut Rng) -> String {
    let pool = [
        "",
        " ",
        "%00",
        "\u{0}",
        "\t/evil.example",
        "//evil.example",
        "/\\evil.example",
        "https:evil.example",
        "javascript:alert(1)",
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "\"}]",
        "../../etc/passwd",
        "%2e%2e%2f",
        "\u{202e}",
        "\u{fffd}",
        "😀",
        "null",
        "-1",
        "18446744073709551616",
        "1e999",
        "[]",
        "{}",
        "https://[::a9fe:a9fe]/c.json",
        "http://127.0.0.1:1/x",
    ];
    let mut s = rng.pick(&pool).to_string();
    if rng.chance(10) {
        let n = [100, 5000, 70_000][rng.below(3)];
        s = rng.pick(&["a", "%", "é", "/"]).repeat(n);
    }
    s
}

fn value(rng: &mut Rng, good: &[&str]) -> String {
    if !good.is_empty() && rng.chance(60) {
        rng.pick(good).to_string()
    } else {
        nasty(rng)
    }
}

fn random_json(rng: &mut Rng, depth: u32) -> String {
    match rng.below(if depth > 3 { 4 } else { 7 }) {
        0 => "null".into(),
        1 => rng.next().to_string(),
        2 => format!("{:?}", nasty(rng)),
        3 => rng.pick(&["true", "false", "-0", "1.5e300"]).to_string(),
        4 => format!(
            "[{}]",
            (0..rng.below(4))
                .map(|_| random_json(rng, depth + 1))
                .collect::<Vec<_>>()
                .join(",")
        ),
        _ => {
            let keys = [
                "jsonrpc",
                "id",
                "method",
                "params",
                "name",
                "arguments",
                "query",
                "uri",
                "cursor",
                "_meta",
                "protocolVersion",
                "capabilities",
                "clientInfo",
                "redirect_uris",
                "client_name",
                "grant_types",
                "token_endpoint_auth_method",
                "response_types",
                "scope",
            ];
            format!(
                "{{{}}}",
                (0..rng.below(5))
                    .map(|_| format!("{:?}:{}", rng.pick(&keys), random_json(rng, depth + 1)))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
    }
}

fn mcp_body(rng: &mut Rng) -> String {
    let methods = [
        "initialize",
        "notifications/initialized",
        "ping",
        "tools/list",
        "tools/call",
        "resources/list",
        "resources/read",
        "resources/templates/list",
        "prompts/list",
        "server/discover",
        "completion/complete",
        "logging/setLevel",
        "nope",
    ];
    let tools = [
        "search",
        "fetch",
        "search_company_rag",
        "list_github_issues",
        "get_wiki_page",
        "nope",
    ];
    let method = if rng.chance(85) {
        rng.pick(&methods).to_string()
    } else {
        nasty(rng)
    };
    let params = match method.as_str() {
        "initialize" => format!(
            r#"{{"protocolVersion":{:?},"capabilities":{{}},"clientInfo":{{"name":"fuzz","version":"1"}}}}"#,
            value(
                rng,
                &[
                    "2025-03-26",
                    "2025-06-18",
                    "2025-11-25",
                    "2026-07-28",
                    "2024-11-05"
                ]
            )
        ),
        "tools/call" => format!(
            r#"{{"name":{:?},"arguments":{}}}"#,
            value(rng, &tools),
            if rng.chance(50) {
                format!(
                    r#"{{"query":{:?},"id":{:?},"repo":{:?},"limit":{}}}"#,
                    value(rng, &["oncall", "deploy", "wiki:runbook"]),
                    value(rng, &["wiki:onboarding", "github:acme/app#1"]),
                    value(rng, &["acme/app"]),
                    random_json(rng, 3)
                )
            } else {
                random_json(rng, 1)
            }
        ),
        "resources/read" => format!(
            r#"{{"uri":{:?}}}"#,
            value(
                rng,
                &["wiki://acme/onboarding", "github://acme/app/issues/1"]
            )
        ),
        _ => random_json(rng, 1),
    };
    let id = match rng.below(5) {
        0 => String::new(),
        1 => r#""id":null,"#.into(),
        2 => format!(r#""id":{:?},"#, nasty(rng)),
        _ => format!(r#""id":{},"#, rng.below(1000)),
    };
    let one = format!(r#"{{"jsonrpc":"2.0",{id}"method":{method:?},"params":{params}}}"#);
    match rng.below(12) {
        0 => format!("[{one},{one}]"),
        1 => "[]".into(),
        2 => {
            // Truncated in the middle (at a character boundary: bodies are text here).
            let mut cut = one.len() / 2;
            while !one.is_char_boundary(cut) {
                cut -= 1;
            }
            one[..cut].to_string()
        }
        3 => random_json(rng, 0),
        _ => one,
    }
}

fn generate(rng: &mut Rng, m: &Material) -> Req {
    let mut headers: Vec<(String, String)> = Vec::new();
    let kind = rng.below(100);
    let (endpoint, method, path, body): (&'static str, String, String, Vec<u8>) = if kind < 35 {
        // MCP endpoint.
        let slug = rng
            .pick(&["acme", "globex", "nope", "ACME", "acme%2f"])
            .to_string();
        if rng.chance(80) {
            headers.push((
                "Authorization".into(),
                if rng.chance(80) {
                    format!("Bearer {}", m.token)
                } else {
                    format!("Bearer {}", nasty(rng))
                },
            ));
        }
        headers.push((
            "Accept".into(),
            value(
                rng,
                &[
                    "application/json, text/event-stream",
                    "application/json",
                    "text/event-stream",
                    "*/*",
                ],
            ),
        ));
        headers.push((
            "Content-Type".into(),
            value(
                rng,
                &[
                    "application/json",
                    "application/json; charset=utf-8",
                    "text/plain",
                ],
            ),
        ));
        if rng.chance(70) {
            headers.push((
                "MCP-Protocol-Version".into(),
                value(
                    rng,
                    &[
                        "2025-03-26",
                        "2025-06-18",
                        "2025-11-25",
                        "2026-07-28",
                        "1999-01-01",
                    ],
                ),
            ));
        }
        if rng.chance(20) {
            headers.push(("Mcp-Session-Id".into(), value(rng, &["abc"])));
        }
        if rng.chance(15) {
            headers.push((
                "Origin".into(),
                value(rng, &["https://chatgpt.com", "https://evil.example"]),
            ));
        }
        if rng.chance(15) {
            headers.push(("Mcp-Method".into(), value(rng, &["tools/call", "ping"])));
            headers.push((
                "Mcp-Name".into(),
                value(rng, &["search", "=?base64?AAA=?="]),
            ));
        }
        let method = rng
            .pick(&[
                "POST", "POST", "POST", "POST", "GET", "DELETE", "PUT", "OPTIONS", "HEAD",
            ])
            .to_string();
        let body = if method == "POST" {
            mcp_body(rng)
        } else {
            String::new()
        };
        ("mcp", method, format!("/t/{slug}/mcp"), body.into_bytes())
    } else if kind < 50 {
        // Token endpoint.
        let grant = value(
            rng,
            &[
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "password",
            ],
        );
        let mut p = vec![("grant_type".to_string(), grant)];
        for (k, good) in [
            ("code", vec!["gmcp_ac_x"]),
            ("refresh_token", vec!["gmcp_rt_x"]),
            (
                "code_verifier",
                vec!["vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"],
            ),
            (
                "redirect_uri",
                vec!["https://chatgpt.com/connector_platform_oauth_redirect"],
            ),
            ("resource", m.mcp_urls.iter().map(|s| s.as_str()).collect()),
            (
                "client_id",
                vec![m.client_id.as_str(), m.public_client.as_str()],
            ),
            ("client_secret", vec![m.client_secret.as_str()]),
            ("scope", vec!["mcp:read", "mcp:read mcp:tools", "openid"]),
        ] {
            if rng.chance(50) {
                p.push((k.to_string(), value(rng, &good)));
            }
        }
        if rng.chance(10) {
            let dup = p[rng.below(p.len())].clone();
            p.push(dup);
        }
        if rng.chance(10) {
            headers.push(("Authorization".into(), format!("Basic {}", nasty(rng))));
        }
        headers.push((
            "Content-Type".into(),
            value(
                rng,
                &["application/x-www-form-urlencoded", "application/json"],
            ),
        ));
        (
            "token",
            "POST".into(),
            "/api/oauth/server/token".into(),
            form(&p).into_bytes(),
        )
    } else if kind < 60 {
        // Registration.
        headers.push(("Content-Type".into(), value(rng, &["application/json"])));
        let body = if rng.chance(60) {
            format!(
                r#"{{"client_name":{:?},"redirect_uris":[{:?}],"token_endpoint_auth_method":{:?},"grant_types":{}}}"#,
                value(rng, &["ChatGPT", "Claude"]),
                value(
                    rng,
                    &[
                        "https://chatgpt.com/cb",
                        "http://127.0.0.1:9/cb",
                        "http://evil.example/cb"
                    ]
                ),
                value(
                    rng,
                    &[
                        "none",
                        "client_secret_post",
                        "client_secret_basic",
                        "private_key_jwt"
                    ]
                ),
                value(
                    rng,
                    &[r#"["authorization_code","refresh_token"]"#, "[]", "null"]
                ),
            )
        } else {
            random_json(rng, 0)
        };
        (
            "register",
            "POST".into(),
            "/api/oauth/server/register".into(),
            body.into_bytes(),
        )
    } else if kind < 68 {
        let (endpoint, path) = if rng.chance(50) {
            ("revoke", "/api/oauth/server/revoke")
        } else {
            ("introspect", "/api/oauth/server/introspect")
        };
        let mut p = vec![];
        for (k, good) in [
            ("token", vec![m.token.as_str(), "gmcp_rt_x"]),
            ("token_type_hint", vec!["access_token", "refresh_token"]),
            (
                "client_id",
                vec![m.client_id.as_str(), m.public_client.as_str()],
            ),
            ("client_secret", vec![m.client_secret.as_str()]),
        ] {
            if rng.chance(60) {
                p.push((k.to_string(), value(rng, &good)));
            }
        }
        headers.push((
            "Content-Type".into(),
            value(rng, &["application/x-www-form-urlencoded"]),
        ));
        // Never revoke the token the MCP cases use.
        if endpoint == "revoke" {
            p.retain(|(k, v)| !(k == "token" && v == &m.token));
        }
        (endpoint, "POST".into(), path.into(), form(&p).into_bytes())
    } else if kind < 80 {
        // Authorization endpoint: GET, or the consent form POST (signed in, with CSRF).
        let mut p = vec![];
        for (k, good) in [
            ("response_type", vec!["code", "token"]),
            (
                "client_id",
                vec![
                    m.client_id.as_str(),
                    m.public_client.as_str(),
                    "https://chatgpt.com/oauth/client.json",
                ],
            ),
            (
                "redirect_uri",
                vec![
                    "https://chatgpt.com/connector_platform_oauth_redirect",
                    "http://127.0.0.1:9/cb",
                ],
            ),
            ("state", vec!["st"]),
            (
                "code_challenge",
                vec!["E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"],
            ),
            ("code_challenge_method", vec!["S256", "plain"]),
            ("resource", m.mcp_urls.iter().map(|s| s.as_str()).collect()),
            ("scope", vec!["mcp:read mcp:tools", "openid"]),
            ("prompt", vec!["none", "login"]),
            ("decision", vec!["approve", "deny"]),
            ("workspace", vec!["acme", "globex"]),
            ("csrf", vec![m.csrf.as_str()]),
        ] {
            if rng.chance(70) {
                p.push((k.to_string(), value(rng, &good)));
            }
        }
        if rng.chance(60) {
            headers.push((
                "Cookie".into(),
                format!("gigamcp_session={}", m.session_cookie),
            ));
        }
        if rng.chance(50) {
            (
                "authorize",
                "GET".into(),
                format!("/api/oauth/server/authorize?{}", form(&p)),
                vec![],
            )
        } else {
            headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
            (
                "authorize",
                "POST".into(),
                "/api/oauth/server/authorize".into(),
                form(&p).into_bytes(),
            )
        }
    } else {
        // HTML forms and pages.
        let page = rng.below(6);
        let mut p = vec![];
        for (k, good) in [
            ("username", vec!["alice", "bob", "nobody"]),
            ("password", vec!["xtask-demo-password", "wrong"]),
            ("csrf", vec![m.csrf.as_str(), "c"]),
            ("next", vec!["/", "/t/acme", "/settings/connected-apps"]),
        ] {
            if rng.chance(70) {
                p.push((k.to_string(), value(rng, &good)));
            }
        }
        // Never sign the fuzzing session itself out.
        if page != 5 && rng.chance(50) {
            headers.push((
                "Cookie".into(),
                format!("gigamcp_session={}; gigamcp_login=c", m.session_cookie),
            ));
        } else if rng.chance(50) {
            headers.push(("Cookie".into(), "gigamcp_login=c".into()));
        }
        headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        let (method, path) = match page {
            0 | 1 => ("POST", "/login".to_string()),
            2 => (
                "GET",
                format!("/login?next={}", enc(&value(rng, &["/t/acme"]))),
            ),
            3 => (
                "POST",
                format!("/settings/connected-apps/{}/revoke", enc(&nasty(rng))),
            ),
            4 => (
                "GET",
                rng.pick(&[
                    "/settings/connected-apps",
                    "/t/acme",
                    "/t/acme/audit",
                    "/t/acme/wiki/onboarding",
                    "/t/nope/wiki/%2e%2e",
                    "/docs/connect-chatgpt",
                    "/docs/..%2f..%2fCargo.toml",
                ])
                .to_string(),
            ),
            _ => ("POST", "/logout".to_string()),
        };
        let body = if method == "POST" {
            form(&p)
        } else {
            String::new()
        };
        ("forms", method.into(), path, body.into_bytes())
    };
    if rng.chance(3) {
        headers.push((
            rng.pick(&["X-Forwarded-For", "Accept-Language", "User-Agent"])
                .to_string(),
            "x".repeat(rng.below(9000)),
        ));
    }
    Req {
        endpoint,
        method,
        path,
        headers,
        body,
    }
}

/// Signs `alice` in through the real form; returns the session cookie and its CSRF token.
fn sign_in(base: &str, password: &str) -> Result<(String, String), String> {
    let req = Req {
        endpoint: "setup",
        method: "POST".into(),
        path: "/login".into(),
        headers: vec![
            (
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("Cookie".into(), "gigamcp_login=fuzz".into()),
        ],
        body: form(&[
            ("username".into(), "alice".into()),
            ("password".into(), password.into()),
            ("csrf".into(), "fuzz".into()),
            ("next".into(), "/settings/connected-apps".into()),
        ])
        .into_bytes(),
    };
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let mut head = format!("POST /login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", req.body.len()));
    s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    s.write_all(&req.body).map_err(|e| e.to_string())?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).map_err(|e| e.to_string())?;
    let cookie = raw
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: gigamcp_session="))
        .map(|v| v.split(';').next().unwrap_or("").to_string())
        .find(|v| !v.is_empty())
        .ok_or_else(|| format!("sign-in failed: {}", raw.lines().next().unwrap_or("")))?;
    // The CSRF token of the session: read it off the Connected apps page.
    let page = send(
        base,
        &Req {
            endpoint: "setup",
            method: "GET".into(),
            path: "/settings/connected-apps".into(),
            headers: vec![("Cookie".into(), format!("gigamcp_session={cookie}"))],
            body: vec![],
        },
    )?;
    let csrf = page
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("")
        .to_string();
    Ok((cookie, csrf))
}

fn register(base: &str, method: &str) -> Result<(String, String), String> {
    let r = send(
        base,
        &Req {
            endpoint: "setup",
            method: "POST".into(),
            path: "/api/oauth/server/register".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: format!(
                r#"{{"client_name":"fuzz","redirect_uris":["https://chatgpt.com/connector_platform_oauth_redirect"],"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"{method}"}}"#
            )
            .into_bytes(),
        },
    )?;
    let field = |k: &str| {
        r.body
            .split(&format!("\"{k}\":\""))
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("")
            .to_string()
    };
    if r.status != 201 {
        return Err(format!("registration failed: {} {}", r.status, r.body));
    }
    Ok((field("client_id"), field("client_secret")))
}

pub fn run(args: &[String]) -> Result<(), String> {
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let cases = arg("--cases").unwrap_or(3000);
    let seed = arg("--seed").unwrap_or(0x5eed_f00d);
    build_bins(false)?;
    let server = Server::start("debug", &["--registration-rate-limit", "1000000"])?;
    let token = server.admin(
        "debug",
        &[
            "token",
            "issue",
            "--workspace",
            "acme",
            "--user",
            "alice",
            "--public-url",
            &server.base,
        ],
    )?;
    let (client_id, client_secret) = register(&server.base, "client_secret_post")?;
    let (public_client, _) = register(&server.base, "none")?;
    let (session_cookie, csrf) = sign_in(&server.base, &server.password)?;
    let material = Material {
        token,
        client_id,
        client_secret,
        public_client,
        session_cookie,
        csrf,
        mcp_urls: vec![
            format!("{}/t/acme/mcp", server.base),
            format!("{}/t/globex/mcp", server.base),
            format!("{}/t/acme/mcp/", server.base),
        ],
    };
    let mut rng = Rng(seed | 1);
    let mut by_endpoint: BTreeMap<&str, BTreeMap<u16, u64>> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    let started = Instant::now();
    for i in 0..cases {
        let req = generate(&mut rng, &material);
        match send(&server.base, &req) {
            Ok(reply) => {
                *by_endpoint
                    .entry(req.endpoint)
                    .or_default()
                    .entry(reply.status)
                    .or_default() += 1;
                if reply.status >= 500 {
                    failures.push(format!(
                        "case {i}: {} {} -> {}: {}",
                        req.method,
                        req.path.chars().take(200).collect::<String>(),
                        reply.status,
                        reply.body.chars().take(300).collect::<String>()
                    ));
                }
            }
            Err(e) => failures.push(format!(
                "case {i}: {} {} -> no answer ({e})",
                req.method,
                req.path.chars().take(200).collect::<String>()
            )),
        }
        if (i + 1) % 10_000 == 0 {
            eprintln!("fuzz: {} cases, {} failures", i + 1, failures.len());
        }
    }
    let elapsed = started.elapsed();
    let log = std::fs::read_to_string(server.data_dir.join("server.log")).unwrap_or_default();
    let panics = log.matches("panicked").count();
    println!(
        "fuzz: {cases} cases (seed {seed:#x}) in {:.1} s against gigamcp serve --demo",
        elapsed.as_secs_f64()
    );
    let mut total_5xx = 0;
    for (endpoint, statuses) in &by_endpoint {
        let n: u64 = statuses.values().sum();
        let five: u64 = statuses
            .iter()
            .filter(|(s, _)| **s >= 500)
            .map(|(_, c)| c)
            .sum();
        total_5xx += five;
        let figures: Vec<String> = statuses.iter().map(|(s, c)| format!("{s}×{c}")).collect();
        println!(
            "  {endpoint:<10} {n:>7} requests  5xx {five:<4} {}",
            figures.join(" ")
        );
    }
    println!(
        "  5xx responses: {total_5xx}; dropped requests: {}; panics in the server log: {panics}",
        failures.iter().filter(|f| f.contains("no answer")).count()
    );
    if panics > 0 {
        failures.push(format!("{panics} panic(s) in the server log"));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        for f in failures.iter().take(30) {
            eprintln!("  {f}");
        }
        Err(format!("fuzz: {} failure(s)", failures.len()))
    }
}
