//! `cargo xtask scaleout`: two `gigamcp serve` replicas on a fresh PostgreSQL database behind
//! nginx (round robin, no stickiness, `deploy/scaleout/nginx.conf.in`), then:
//!
//! 1. the harness (`--profile chatgpt --login form`) through the balancer: every MUST holds;
//! 2. for 2025-03-26, 2025-06-18 and 2025-11-25: one session, 20 `tools/call`s through the
//!    balancer (both replicas must serve some; all 20 succeed without a new `initialize`), then
//!    DELETE on one replica ends the session on the other;
//! 3. 50 revocations through one replica's Connected apps page, each timed until the other
//!    replica refuses the token: p50/p99 printed, failing only above 1 s.
//!
//! PostgreSQL: `GIGAMCP_CI_POSTGRES_URL` (CI) or `GIGAMCP_TEST_POSTGRES_URL` names the server;
//! a fresh database is created with `psql` and dropped afterwards. Without PostgreSQL or nginx
//! the task is skipped locally and fails under `CI=true`.
use crate::util::{Server, build_bins, free_port, harness_run, root, target_dir};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const REVISIONS: [&str; 3] = ["2025-03-26", "2025-06-18", "2025-11-25"];
const TRIALS: usize = 50;
const CALLS: usize = 20;

pub fn run(_args: &[String]) -> Result<(), String> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let base = std::env::var("GIGAMCP_CI_POSTGRES_URL")
        .or_else(|_| std::env::var("GIGAMCP_TEST_POSTGRES_URL"))
        .ok();
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let (Some(base), Some(nginx)) = (base, nginx) else {
        let why = "scaleout needs PostgreSQL (GIGAMCP_CI_POSTGRES_URL) and nginx";
        return if ci {
            Err(why.into())
        } else {
            eprintln!("({why}: skipped)");
            Ok(())
        };
    };
    build_bins(false)?;
    let started = Instant::now();
    let db = Database::create(&base)?;
    let lb_port = free_port()?;
    let lb = format!("http://127.0.0.1:{lb_port}");
    let extra = [
        "--database-url",
        &db.url,
        "--public-url",
        &lb,
        "--trusted-proxy",
        "127.0.0.1/32",
        "--registration-rate-limit",
        "100000",
        "--refresh-grace",
        "1",
        "--duplicate-code-window",
        "1",
    ];
    let a = Server::start("debug", &extra)?;
    let b = Server::start("debug", &extra)?;
    let _nginx = Nginx::start(nginx, lb_port, &[&a.base, &b.base])?;
    eprintln!(
        "\n=== scaleout: 2 replicas ({}, {}) behind nginx at {lb} ===",
        a.base, b.base
    );
    conformance(&lb, &a.password)?;
    let token = a_token(&db.url, &lb)?;
    for version in REVISIONS {
        sessions(&lb, &a.base, &b.base, &token, version)?;
    }
    revocations(&db.url, &lb, &a, &b.base)?;
    eprintln!("scaleout: all checks held in {:.0?}", started.elapsed());
    Ok(())
}

/// A fresh database on the PostgreSQL server at `base`, dropped on drop.
struct Database {
    base: String,
    name: String,
    url: String,
}

impl Database {
    fn create(base: &str) -> Result<Self, String> {
        let name = format!("gmcp_scaleout_{}", std::process::id());
        psql(base, &format!("DROP DATABASE IF EXISTS {name}"))?;
        psql(base, &format!("CREATE DATABASE {name}"))?;
        let (head, _) = base
            .rsplit_once('/')
            .filter(|(h, _)| h.contains("://") && h.len() > "postgres://".len())
            .ok_or_else(|| format!("no database path in the PostgreSQL URL {base:?}"))?;
        let url = format!("{head}/{name}");
        Ok(Self {
            base: base.into(),
            name,
            url,
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = psql(
            &self.base,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn psql(url: &str, sql: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .map_err(|e| format!("running psql: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// nginx in the foreground on `port`, round robin over `upstreams`; killed on drop.
struct Nginx(Child);

impl Nginx {
    fn start(bin: &str, port: u16, upstreams: &[&str]) -> Result<Self, String> {
        let dir = target_dir()
            .join("xtask-data")
            .join(format!("nginx-{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        for t in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            std::fs::create_dir_all(dir.join(t)).map_err(|e| e.to_string())?;
        }
        let template = root().join("deploy/scaleout/nginx.conf.in");
        let servers: String = upstreams
            .iter()
            .map(|u| format!("server {};\n        ", u.trim_start_matches("http://")))
            .collect();
        let conf = std::fs::read_to_string(&template)
            .map_err(|e| format!("{}: {e}", template.display()))?
            .replace("@PREFIX@", &dir.display().to_string())
            .replace("@LISTEN@", &format!("127.0.0.1:{port}"))
            .replace("@UPSTREAMS@", servers.trim_end())
            .replace("worker_processes auto;", "worker_processes 1;");
        let conf_path: PathBuf = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
        let child = Command::new(bin)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting nginx: {e}"))?;
        let nginx = Nginx(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
                return Err(format!("nginx did not listen on {port}:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(nginx)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The ChatGPT profile's whole flow through the balancer.
fn conformance(lb: &str, password: &str) -> Result<(), String> {
    eprintln!("\n=== scaleout: conformance (profile chatgpt) through the balancer ===");
    let out = target_dir().join("conformance");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let harness = target_dir().join("debug").join("gigamcp-conformance");
    let status = harness_run(&harness, &format!("{lb}/t/acme/mcp"), "chatgpt", password)
        .args(["--second-resource", &format!("{lb}/t/globex/mcp")])
        .args(["--replay-delay", "2", "--skip", "rs/token/expired"])
        .arg("--report")
        .arg(format!("json={}", out.join("scaleout.json").display()))
        .status()
        .map_err(|e| format!("running {}: {e}", harness.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "conformance through the balancer failed ({status})"
        ))
    }
}

/// An access token for alice at acme, bound to the balancer's MCP URL.
fn a_token(db: &str, lb: &str) -> Result<String, String> {
    let bin = target_dir().join("debug").join("gigamcp");
    let out = Command::new(bin)
        .args(["admin", "--database-url", db, "token", "issue"])
        .args(["--workspace", "acme", "--user", "alice", "--public-url", lb])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.head.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with(&prefix)
                .then(|| l[prefix.len()..].trim())
        })
    }
}

/// One HTTP/1.1 request on its own connection (`Connection: close`).
fn http(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Reply, String> {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            format!(
                "no HTTP status from {addr}: {:?}",
                head.chars().take(100).collect::<String>()
            )
        })?;
    Ok(Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    })
}

fn mcp(
    base: &str,
    method: &str,
    token: &str,
    sid: Option<&str>,
    body: &str,
) -> Result<Reply, String> {
    let auth = format!("Bearer {token}");
    let mut h = vec![
        ("Authorization", auth.as_str()),
        ("Accept", "application/json, text/event-stream"),
        ("Content-Type", "application/json"),
    ];
    if let Some(s) = sid {
        h.push(("Mcp-Session-Id", s));
    }
    http(base, method, "/t/acme/mcp", &h, body)
}

const PING: &str = r#"{"jsonrpc":"2.0","id":7,"method":"ping","params":{}}"#;

/// One session through the balancer, served by both replicas; DELETE on A ends it on B.
fn sessions(lb: &str, a: &str, b: &str, token: &str, version: &str) -> Result<(), String> {
    let init = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"{version}","clientInfo":{{"name":"xtask-scaleout","version":"1"}},"capabilities":{{}}}}}}"#
    );
    let r = mcp(lb, "POST", token, None, &init)?;
    let sid = r
        .header("mcp-session-id")
        .filter(|_| r.status == 200)
        .ok_or_else(|| format!("{version}: initialize answered {}: {}", r.status, r.body))?
        .to_string();
    let done = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let r = mcp(lb, "POST", token, Some(&sid), done)?;
    if r.status != 202 {
        return Err(format!("{version}: initialized answered {}", r.status));
    }
    let mut served_by = std::collections::BTreeMap::<String, usize>::new();
    let mut ok = 0;
    for i in 0..CALLS {
        let call = format!(
            r#"{{"jsonrpc":"2.0","id":{},"method":"tools/call","params":{{"name":"search_company_rag","arguments":{{"query":"deploy"}}}}}}"#,
            i + 10
        );
        let r = mcp(lb, "POST", token, Some(&sid), &call)?;
        if r.status == 200 && r.body.contains("\"result\"") && !r.body.contains("\"isError\":true")
        {
            ok += 1;
        } else {
            eprintln!("{version}: call {i} answered {}: {}", r.status, r.body);
        }
        *served_by
            .entry(r.header("x-upstream").unwrap_or("?").to_string())
            .or_default() += 1;
    }
    println!(
        "{version}: {ok} of {CALLS} tool calls succeeded in one session; served by {served_by:?}"
    );
    if ok != CALLS {
        return Err(format!("{version}: {ok} of {CALLS} tool calls succeeded"));
    }
    if served_by.len() < 2 {
        return Err(format!(
            "{version}: the balancer used one replica only: {served_by:?}"
        ));
    }
    let r = mcp(a, "DELETE", token, Some(&sid), "")?;
    if r.status != 204 {
        return Err(format!(
            "{version}: DELETE on A answered {}: {}",
            r.status, r.body
        ));
    }
    let t = Instant::now();
    loop {
        let r = mcp(b, "POST", token, Some(&sid), PING)?;
        match r.status {
            404 => break,
            200 if t.elapsed() < Duration::from_secs(2) => {
                std::thread::sleep(Duration::from_millis(5))
            }
            s => {
                return Err(format!(
                    "{version}: B answered {s} {:?} after the DELETE on A",
                    t.elapsed()
                ));
            }
        }
    }
    println!(
        "{version}: DELETE on replica A ended the session on replica B within {:.1?}",
        t.elapsed()
    );
    Ok(())
}

/// Signs alice in (the login form's double-submit CSRF) and reads the Connected apps CSRF.
fn sign_in(base: &str, password: &str) -> Result<(String, String), String> {
    let body =
        format!("username=alice&password={password}&csrf=x&next=%2Fsettings%2Fconnected-apps");
    let r = http(
        base,
        "POST",
        "/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", "gigamcp_login=x"),
        ],
        &body,
    )?;
    let cookie = r
        .head
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: gigamcp_session="))
        .filter_map(|v| v.split(';').next())
        .find(|v| !v.is_empty())
        .ok_or_else(|| format!("sign-in answered {}", r.status))?
        .to_string();
    let page = apps_page(base, &cookie)?;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .ok_or("no CSRF token on Connected apps")?
        .to_string();
    Ok((cookie, csrf))
}

fn apps_page(base: &str, cookie: &str) -> Result<String, String> {
    let c = format!("gigamcp_session={cookie}");
    Ok(http(
        base,
        "GET",
        "/settings/connected-apps",
        &[("Cookie", &c)],
        "",
    )?
    .body)
}

/// Grant ids with a revoke form on the Connected apps page.
fn grant_ids(page: &str) -> Vec<String> {
    page.split("/settings/connected-apps/")
        .skip(1)
        .filter_map(|r| r.split_once("/revoke").map(|(id, _)| id.to_string()))
        .filter(|id| !id.is_empty() && !id.contains(['"', '<', ' ']))
        .collect()
}

/// Revokes a fresh token through A's Connected apps page `TRIALS` times and times how long B
/// (whose validation cache holds the token) keeps accepting it.
fn revocations(db: &str, lb: &str, a: &Server, b: &str) -> Result<(), String> {
    let (cookie, csrf) = sign_in(&a.base, &a.password)?;
    let session = format!("gigamcp_session={cookie}");
    let mut figures = Vec::with_capacity(TRIALS);
    for trial in 0..TRIALS {
        let before = grant_ids(&apps_page(&a.base, &cookie)?);
        let token = a_token(db, lb)?;
        let grant = grant_ids(&apps_page(&a.base, &cookie)?)
            .into_iter()
            .find(|g| !before.contains(g))
            .ok_or("the new token's grant is not on Connected apps")?;
        let r = mcp(b, "POST", &token, None, PING)?;
        if r.status != 200 {
            return Err(format!(
                "trial {trial}: B refused a fresh token ({})",
                r.status
            ));
        }
        let r = http(
            &a.base,
            "POST",
            &format!("/settings/connected-apps/{grant}/revoke"),
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", &session),
            ],
            &format!("csrf={csrf}"),
        )?;
        if r.status != 303 {
            return Err(format!(
                "trial {trial}: revoking on A answered {}: {}",
                r.status, r.body
            ));
        }
        let t = Instant::now();
        loop {
            let r = mcp(b, "POST", &token, None, PING)?;
            match r.status {
                401 => break,
                200 if t.elapsed() < Duration::from_secs(5) => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                s => {
                    return Err(format!(
                        "trial {trial}: B answered {s} after {:?}",
                        t.elapsed()
                    ));
                }
            }
        }
        figures.push(t.elapsed());
    }
    figures.sort();
    let pct = |p: usize| figures[(figures.len() * p / 100).min(figures.len() - 1)];
    let (p50, p99) = (pct(50), pct(99));
    println!(
        "revocation through replica A refused by replica B: p50 {p50:.1?}, p99 {p99:.1?}, max {:.1?} over {TRIALS} trials",
        figures[figures.len() - 1]
    );
    if p99 > Duration::from_secs(1) {
        return Err(format!(
            "revocation reached the other replica in p99 {p99:?} (> 1 s)"
        ));
    }
    Ok(())
}
