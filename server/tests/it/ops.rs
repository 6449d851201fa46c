//! Operating the real `gigamcp` binary: client addresses behind a real reverse proxy (nginx),
//! request ids and JSON logs, readiness against a PostgreSQL cluster that goes down and comes
//! back, and Prometheus metrics that move as a full OAuth flow runs.
//!
//! nginx and PostgreSQL come from Debian's packages (`.ci/run` installs them). Locally a test
//! whose tool is missing says so and passes; under `CI=true` it fails instead.
use crate::support::free_port;
use crate::support::oauth_client::{self as oc, Browser};
use crate::support::process::Proc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gigamcp");
const PASSWORD: &str = "pw-alice";

/// `CI=true`: a missing tool is a failure, not a skip.
fn missing_tool(what: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is required in CI (.ci/run installs it)");
    }
    eprintln!("SKIPPED: {what} is not installed on this machine");
}

struct Server {
    proc: Proc,
    base: String,
    /// The database it runs on: SQLite in its data directory, or a fresh PostgreSQL database
    /// when `GIGAMCP_TEST_POSTGRES_URL` is set (the suite's PostgreSQL pass).
    db_url: String,
    log: PathBuf,
}

/// Starts `gigamcp serve --demo` on a free loopback port; stderr (the log) goes to a file.
async fn serve(dir: &Path, extra: &[&str]) -> Server {
    let db_url = match extra.iter().position(|a| *a == "--database-url") {
        Some(i) => extra[i + 1].to_string(),
        None => crate::support::test_database_url(dir).await,
    };
    let port = free_port();
    let log = dir.join(format!("gigamcp-{port}.log"));
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir)
        .args(extra);
    if !extra.contains(&"--database-url") {
        cmd.args(["--database-url", &db_url]);
    }
    let child = cmd
        .env("GIGAMCP_DEMO_PASSWORD", PASSWORD)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut proc = Proc::adopt("gigamcp", child);
    proc.wait_for_port(port, Duration::from_secs(90));
    Server {
        proc,
        base: format!("http://127.0.0.1:{port}"),
        db_url,
        log,
    }
}

/// A browser whose connections leave from `from` (any 127.0.0.0/8 address is loopback on
/// Linux, so each test client can be a different peer).
fn browser_from(base: &str, from: &str) -> Browser {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(from.parse::<IpAddr>().unwrap())
        .build()
        .unwrap();
    Browser {
        http,
        base: base.to_string(),
        cookies: Mutex::new(HashMap::new()),
    }
}

/// One sign-in through the form, with an optional `X-Forwarded-For` the client itself sends.
async fn sign_in(b: &Browser, user: &str, password: &str, xff: Option<&str>) -> StatusCode {
    let page = b.get("/login?next=/").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let mut fields = oc::form_fields(&page.text, "/login");
    for (k, v) in fields.iter_mut() {
        match k.as_str() {
            "username" => *v = user.into(),
            "password" => *v = password.into(),
            _ => {}
        }
    }
    let mut rb = b.http.post(b.url("/login")).form(&fields);
    if let Some(x) = xff {
        rb = rb.header("x-forwarded-for", x);
    }
    b.send(rb).await.status
}

/// The client addresses the audit log recorded for `event`, sorted.
async fn audit_ips(db_url: &str, event: &str) -> Vec<String> {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(db_url).await.unwrap();
    let rows = sqlx::query("SELECT COALESCE(ip, '') FROM audit_log WHERE event = $1")
        .bind(event)
        .fetch_all(&pool)
        .await
        .unwrap();
    let mut ips: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
    ips.sort();
    ips
}

// ---------------------------------------------------------------------------------------------
// Trusted proxies, with nginx in front.

/// nginx as a foreground child on a free loopback port, forwarding to `upstream` from
/// 127.0.0.2 (`proxy_bind`), the only address gigamcp is told to trust.
fn nginx(dir: &Path, upstream: &str) -> Option<(Proc, String)> {
    let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let port = free_port();
    let d = dir.display();
    for t in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        std::fs::create_dir_all(dir.join(t)).unwrap();
    }
    let conf = format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass {upstream};
            proxy_bind 127.0.0.2;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Request-Id $request_id;
        }}
    }}
}}
"#
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new(bin)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf_path)
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut proc = Proc::adopt("nginx", child);
    proc.wait_for_port(port, Duration::from_secs(90));
    Some((proc, format!("http://127.0.0.1:{port}")))
}

#[tokio::test]
async fn behind_nginx_each_forwarded_client_has_its_own_limits() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &[
            "--trusted-proxy",
            "127.0.0.2/32",
            "--registration-rate-limit",
            "3",
        ],
    )
    .await;
    let ngx_dir = tempfile::tempdir().unwrap();
    let Some((_nginx, proxy)) = nginx(ngx_dir.path(), &server.base) else {
        return missing_tool("nginx");
    };
    // Two clients reach nginx from different addresses; nginx appends each one's address to
    // X-Forwarded-For and connects to gigamcp from 127.0.0.2.
    let a = browser_from(&proxy, "127.0.0.10");
    let b = browser_from(&proxy, "127.0.0.11");
    for i in 0..20 {
        // Client A also tries to pick a fresh address each time: nginx keeps the one it saw.
        let spoof = format!("198.51.100.{i}");
        let s = sign_in(&a, &format!("nobody{i}"), "wrong-password", Some(&spoof)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    assert_eq!(
        sign_in(&a, "alice", PASSWORD, Some("203.0.113.77")).await,
        StatusCode::TOO_MANY_REQUESTS,
        "A is throttled, whatever it claims to be"
    );
    assert_eq!(
        sign_in(&b, "alice", PASSWORD, None).await,
        StatusCode::SEE_OTHER,
        "B signs in while A is throttled"
    );
    let failed = audit_ips(&server.db_url, "login_failed").await;
    assert_eq!(failed.len(), 20);
    assert!(failed.iter().all(|ip| ip == "127.0.0.10"), "{failed:?}");
    assert_eq!(audit_ips(&server.db_url, "login").await, vec!["127.0.0.11"]);

    // Registration limits are per forwarded client too.
    let body = json!({"client_name": "Probe", "redirect_uris": ["https://app.example/cb"]});
    for i in 0..3 {
        assert_eq!(
            oc::register(&a, &body).await.status,
            StatusCode::CREATED,
            "{i}"
        );
    }
    assert_eq!(
        oc::register(&a, &body).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(oc::register(&b, &body).await.status, StatusCode::CREATED);

    // nginx's $request_id comes back: the id of a trusted proxy is kept.
    let r = a.get("/healthz").await;
    let id = r.header("x-request-id").unwrap();
    assert_eq!(id.len(), 32, "nginx request ids are 32 hex digits: {id}");
    assert!(id.bytes().all(|c| c.is_ascii_hexdigit()));
}

#[tokio::test]
async fn forwarding_headers_from_untrusted_peers_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &["--trusted-proxy", "127.0.0.2/32"]).await;
    // The same headers nginx would send, straight from an untrusted peer.
    let direct = browser_from(&server.base, "127.0.0.1");
    for i in 0..20 {
        let xff = format!("203.0.113.{i}, 127.0.0.2");
        let s = sign_in(&direct, &format!("nobody{i}"), "wrong-password", Some(&xff)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    assert_eq!(
        sign_in(&direct, "alice", PASSWORD, Some("203.0.113.99")).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the headers did not give the peer new addresses"
    );
    let failed = audit_ips(&server.db_url, "login_failed").await;
    assert!(failed.iter().all(|ip| ip == "127.0.0.1"), "{failed:?}");
    // Forwarded (RFC 7239) is not believed either.
    let r = direct
        .send(
            direct
                .http
                .get(direct.url("/healthz"))
                .header("forwarded", "for=203.0.113.5")
                .header("x-request-id", "chosen-by-the-client"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_ne!(r.header("x-request-id").unwrap(), "chosen-by-the-client");
}

#[tokio::test]
async fn rfc7239_forwarded_when_configured_and_only_then() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &[
            "--trusted-proxy",
            "127.0.0.2",
            "--proxy-header",
            "forwarded",
        ],
    )
    .await;
    let proxy = browser_from(&server.base, "127.0.0.2");
    let body = json!({"client_name": "Probe", "redirect_uris": ["https://app.example/cb"]});
    // The proxy's element is the right-most; the client's own X-Forwarded-For is not read.
    let r = proxy
        .send(
            proxy
                .http
                .post(proxy.url("/api/oauth/server/register"))
                .header("x-forwarded-for", "6.6.6.6")
                .header(
                    "forwarded",
                    "for=192.0.2.1, for=\"[2001:db8::7]:4711\";proto=https",
                )
                .json(&body),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // An obfuscated hop next to the proxy: the proxy's own address, never the spoof further left.
    let r = proxy
        .send(
            proxy
                .http
                .post(proxy.url("/api/oauth/server/register"))
                .header("forwarded", "for=192.0.2.1, for=_hidden")
                .json(&body),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        audit_ips(&server.db_url, "client_registered").await,
        vec!["127.0.0.2", "2001:db8::7"]
    );
}

// ---------------------------------------------------------------------------------------------
// Request ids and JSON logs.

#[tokio::test]
async fn request_ids_reach_every_log_line_of_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &["--log-format", "json", "--trusted-proxy", "127.0.0.2"],
    )
    .await;
    let proxy = browser_from(&server.base, "127.0.0.2");
    let direct = browser_from(&server.base, "127.0.0.1");

    // Generated for an untrusted peer (even when it sends one), unique per response.
    let r1 = direct
        .send(
            direct
                .http
                .get(direct.url("/healthz"))
                .header("x-request-id", "mine"),
        )
        .await;
    let r2 = direct.get("/.well-known/oauth-authorization-server").await;
    let (id1, id2) = (
        r1.header("x-request-id").unwrap(),
        r2.header("x-request-id").unwrap(),
    );
    assert_ne!(id1, "mine");
    assert_ne!(id1, id2);
    // Errors carry one too.
    let r = direct.get("/no/such/path").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.header("x-request-id").is_some());

    // A trusted proxy's id is kept, unless it is not a plausible id.
    let traced = "trace-7f3a9c";
    let r = proxy
        .send(
            proxy
                .http
                .post(proxy.url("/api/oauth/server/register"))
                .header("x-request-id", traced)
                .json(
                    &json!({"client_name": "Traced", "redirect_uris": ["https://app.example/cb"]}),
                ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.header("x-request-id").as_deref(), Some(traced));
    let r = proxy
        .send(
            proxy
                .http
                .get(proxy.url("/healthz"))
                .header("x-request-id", "has spaces\"and quotes"),
        )
        .await;
    assert_ne!(r.header("x-request-id").unwrap(), "has spaces\"and quotes");

    // Every line of the log is one JSON object; the request's audit line and its request line
    // both carry the id.
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let text = std::fs::read_to_string(&server.log).unwrap();
        let lines = text
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l)
                    .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l}"))
            })
            .collect::<Vec<_>>();
        let with_id = lines
            .iter()
            .filter(|l| l["span"]["request_id"] == traced)
            .count();
        if with_id >= 2 || Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(lines.iter().all(Value::is_object));
    let of_traced: Vec<&Value> = lines
        .iter()
        .filter(|l| l["span"]["request_id"] == traced)
        .collect();
    let messages: Vec<&str> = of_traced
        .iter()
        .filter_map(|l| l["fields"]["message"].as_str())
        .collect();
    assert!(messages.contains(&"audit"), "{of_traced:#?}");
    assert!(messages.contains(&"request"), "{of_traced:#?}");
    let request_line = of_traced
        .iter()
        .find(|l| l["fields"]["message"] == "request")
        .unwrap();
    assert_eq!(request_line["fields"]["path"], "/api/oauth/server/register");
    assert_eq!(request_line["fields"]["status"], 201);
    // The request log of the untrusted peer's request carries the generated id.
    assert!(
        lines
            .iter()
            .any(|l| l["span"]["request_id"] == id2.as_str() && l["fields"]["message"] == "request"),
        "no request line for {id2}"
    );
}

// ---------------------------------------------------------------------------------------------
// Readiness against a PostgreSQL cluster of our own.

struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
    log: PathBuf,
}

impl Postgres {
    fn pg_ctl(&self, args: &[&str]) -> std::process::Output {
        let pg_ctl = self.bin.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&pg_ctl);
            c
        } else {
            Command::new(&pg_ctl)
        };
        cmd.arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn start(&self) {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{}'",
            self.port,
            self.data.parent().unwrap().display()
        );
        let out = self.pg_ctl(&["-o", &opts, "-w", "-t", "60", "start"]);
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    fn stop(&self) {
        let out = self.pg_ctl(&["-m", "fast", "-w", "stop"]);
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m", "immediate", "-w", "stop"]);
    }
}

/// A throwaway cluster in `dir` (never the shared server on 5432), run as the `postgres` user
/// when we are root.
fn throwaway_postgres(dir: &Path) -> Option<Postgres> {
    // The newest installed major version (Debian: /usr/lib/postgresql/<major>/bin).
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse::<u32>().ok()?, e.path())))
        .filter(|(_, p)| p.join("bin/initdb").exists())
        .max_by_key(|(major, _)| *major)?
        .1
        .join("bin");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let cluster = dir.join("pg");
    std::fs::create_dir_all(&cluster).unwrap();
    if root {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let chown = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&cluster)
            .status()
            .unwrap();
        assert!(chown.success());
    }
    let data = cluster.join("data");
    let mut initdb = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join("initdb"));
        c
    } else {
        Command::new(bin.join("initdb"))
    };
    let out = initdb
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "postgres", "--no-sync"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pg = Postgres {
        bin,
        data,
        port: free_port(),
        as_postgres: root,
        log: cluster.join("server.log"),
    };
    pg.start();
    Some(pg)
}

async fn readyz(base: &str) -> (StatusCode, Value) {
    let r = reqwest::get(format!("{base}/readyz")).await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

async fn wait_ready(base: &str, want: StatusCode) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = readyz(base).await;
        if status == want {
            return body;
        }
        assert!(Instant::now() < deadline, "/readyz stayed {status}: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn readiness_follows_postgres_down_and_back_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pg) = throwaway_postgres(dir.path()) else {
        return missing_tool("PostgreSQL server binaries (initdb, pg_ctl)");
    };
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port);
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut server = serve(&data, &["--database-url", &url]).await;

    let health = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.json::<Value>().await.unwrap()["status"], "ok");
    let body = wait_ready(&server.base, StatusCode::OK).await;
    assert_eq!(body["status"], "ready");
    assert_eq!(body["not_ready"], json!([]));
    for check in ["database", "migrations", "knowledge"] {
        assert_eq!(body["checks"][check]["ok"], true, "{body}");
    }

    pg.stop();
    let body = wait_ready(&server.base, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["status"], "not_ready");
    assert!(
        body["not_ready"]
            .as_array()
            .unwrap()
            .contains(&json!("database")),
        "{body}"
    );
    assert_eq!(body["checks"]["database"]["ok"], false);
    assert!(!body.to_string().contains("postgres://"), "{body}");
    // Liveness is not readiness: the process still serves.
    let health = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    pg.start();
    let body = wait_ready(&server.base, StatusCode::OK).await;
    assert_eq!(body["status"], "ready");
    server.proc.assert_running();
}

/// `/readyz` on the real router: each check can fail and names what is not ready; answers are
/// reused within one second of the injected clock.
#[tokio::test]
async fn readiness_names_unloaded_indexes_and_missing_migrations() {
    use crate::support::{ClockExt, TestApp};
    let t = TestApp::with_people().await;
    let ready = t.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text());
    assert_eq!(ready.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(ready.json()["status"], "ready");

    // Another process (an admin command) ingests knowledge: this process has no index for it
    // until its refresher runs.
    let other = gigamcp_server::Store::connect(&t.db_url).await.unwrap();
    let admin = gigamcp_server::AppState::new(
        (*t.state.config).clone(),
        other,
        std::sync::Arc::new(t.clock.clone()),
    )
    .await
    .unwrap();
    admin
        .knowledge
        .ingest_dir(
            "acme",
            &crate::support::knowledge::fixtures_dir("acme"),
            t.clock.now_secs(),
        )
        .await
        .unwrap();
    // Within the same second the cached answer stands.
    assert_eq!(t.get("/readyz").await.status, StatusCode::OK);
    t.clock.advance(1);
    let r = t.get("/readyz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    let body = r.json();
    assert_eq!(body["not_ready"], json!(["knowledge"]), "{body}");
    assert!(
        body["checks"]["knowledge"]["detail"]
            .as_str()
            .unwrap()
            .contains("acme"),
        "{body}"
    );
    t.state.knowledge.refresh().await.unwrap();
    t.clock.advance(1);
    assert_eq!(t.get("/readyz").await.status, StatusCode::OK);

    // A database whose migrations lag this build is not ready either.
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(t.state.store.pool())
    .await
    .unwrap();
    t.clock.advance(1);
    let r = t.get("/readyz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = r.json();
    assert_eq!(body["not_ready"], json!(["migrations"]), "{body}");
    assert!(
        body["checks"]["migrations"]["detail"]
            .as_str()
            .unwrap()
            .starts_with("not applied: "),
        "{body}"
    );
    // Liveness does not depend on any of it.
    assert_eq!(t.get("/healthz").await.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Metrics.

type Scrape = prometheus_parse::Scrape;

async fn scrape(base: &str) -> Scrape {
    let r = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = r.text().await.unwrap();
    // The parser skips lines it cannot read; make sure there are none.
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        assert!(
            line.matches('}').count() <= 1 && line.matches('{').count() <= 1,
            "sample line the parser would skip: {line}"
        );
    }
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text format")
}

/// The value of the sample `name` whose labels include every pair of `labels` (0 if none).
fn value(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == name)
        .filter(|x| labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match x.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(ref h) => {
                h.iter().map(|b| b.count).fold(0.0, f64::max)
            }
            prometheus_parse::Value::Summary(_) => 0.0,
        })
        .sum()
}

#[tokio::test]
async fn metrics_move_with_an_oauth_flow_and_tool_calls() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &["--public-url", "https://mcp.test", "--refresh-grace", "0"],
    )
    .await;
    let b = Browser::new(&server.base);
    let before = scrape(&server.base).await;

    let client = oc::register_chatgpt(&b).await;
    let tokens = oc::connect(&b, "alice", &client, oc::ACME).await;
    let access = tokens["access_token"].as_str().unwrap();
    for _ in 0..3 {
        let r = oc::mcp_call(&b, "acme", access).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let rt = tokens["refresh_token"].as_str().unwrap();
    let refreshed = oc::refresh(&b, &client, rt, &[]).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    let fresh = refreshed.json();
    let secret = client
        .secret
        .clone()
        .expect("ChatGPT registers a confidential client");
    let auth = |token: &str| {
        vec![
            ("token".to_string(), token.to_string()),
            ("client_id".to_string(), client.id.clone()),
            ("client_secret".to_string(), secret.clone()),
        ]
    };
    let form = |v: &Vec<(String, String)>| {
        v.iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    let new_access = fresh["access_token"].as_str().unwrap();
    let r = b
        .send(
            b.http
                .post(b.url("/api/oauth/server/introspect"))
                .form(&form(&auth(new_access))),
        )
        .await;
    assert_eq!(r.json()["active"], true, "{}", r.text);
    // Presenting the rotated refresh token again once the (zero-second) grace window has
    // passed is a replay.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let replay = oc::refresh(&b, &client, rt, &[]).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{}", replay.text);
    let r = b
        .send(
            b.http
                .post(b.url("/api/oauth/server/revoke"))
                .form(&form(&auth(new_access))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let bad = oc::token(
        &b,
        &[("grant_type", "authorization_code"), ("code", "nope")],
    )
    .await;
    assert!(bad.status.is_client_error(), "{}", bad.text);
    assert_eq!(
        sign_in(&b, "alice", "not-her-password", None).await,
        StatusCode::UNAUTHORIZED
    );

    for path in ["/no/such/page", "/another/unknown/path"] {
        assert_eq!(b.get(path).await.status, StatusCode::NOT_FOUND);
    }
    let after = scrape(&server.base).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert_eq!(
        moved(
            "gigamcp_oauth_registrations_total",
            &[("outcome", "created")]
        ),
        1.0
    );
    assert_eq!(
        moved(
            "gigamcp_oauth_authorizations_total",
            &[("decision", "approved")]
        ),
        1.0
    );
    assert_eq!(
        moved(
            "gigamcp_oauth_token_requests_total",
            &[("grant_type", "authorization_code"), ("outcome", "issued")]
        ),
        1.0
    );
    assert_eq!(
        moved(
            "gigamcp_oauth_token_requests_total",
            &[("grant_type", "refresh_token"), ("outcome", "issued")]
        ),
        1.0
    );
    assert_eq!(
        moved(
            "gigamcp_oauth_token_requests_total",
            &[
                ("grant_type", "refresh_token"),
                ("outcome", "invalid_grant")
            ]
        ),
        1.0
    );
    assert_eq!(
        moved(
            "gigamcp_oauth_replay_detections_total",
            &[("kind", "refresh_token")]
        ),
        1.0
    );
    assert_eq!(
        moved(
            "gigamcp_oauth_introspections_total",
            &[("outcome", "active")]
        ),
        1.0
    );
    assert_eq!(
        moved("gigamcp_oauth_revocations_total", &[("outcome", "ok")]),
        1.0
    );
    // An unknown code: refused with its RFC 6749 error code as the outcome.
    assert_eq!(
        moved(
            "gigamcp_oauth_token_requests_total",
            &[
                ("grant_type", "authorization_code"),
                ("outcome", "invalid_grant")
            ]
        ),
        1.0
    );
    assert_eq!(
        moved("gigamcp_login_attempts_total", &[("outcome", "success")]),
        1.0
    );
    assert_eq!(
        moved("gigamcp_login_attempts_total", &[("outcome", "failed")]),
        1.0
    );
    assert_eq!(
        moved(
            "gigamcp_mcp_requests_total",
            &[
                ("method", "tools/call"),
                ("tool", "search"),
                ("outcome", "ok")
            ]
        ),
        3.0
    );
    assert_eq!(
        moved(
            "gigamcp_mcp_request_duration_seconds",
            &[("method", "tools/call"), ("tool", "search")]
        ),
        3.0
    );
    assert_eq!(
        moved(
            "gigamcp_http_requests_total",
            &[
                ("route", "/t/:slug/mcp"),
                ("method", "POST"),
                ("status", "200")
            ]
        ),
        3.0
    );
    assert_eq!(
        moved(
            "gigamcp_http_request_duration_seconds",
            &[("route", "/api/oauth/server/token"), ("method", "POST")]
        ),
        4.0
    );
    // One miss validated the token, the next calls hit the cache.
    assert!(moved("gigamcp_bearer_cache_lookups_total", &[("result", "hit")]) >= 2.0);
    assert!(moved("gigamcp_bearer_cache_lookups_total", &[("result", "miss")]) >= 1.0);
    // State gauges.
    assert!(
        value(
            &after,
            "gigamcp_knowledge_documents",
            &[("workspace", "acme")]
        ) > 0.0
    );
    assert!(
        value(
            &after,
            "gigamcp_knowledge_passages",
            &[("workspace", "acme")]
        ) >= value(
            &after,
            "gigamcp_knowledge_documents",
            &[("workspace", "acme")]
        )
    );
    assert!(value(&after, "gigamcp_db_pool_max_connections", &[]) >= 1.0);
    assert_eq!(value(&after, "gigamcp_build_info", &[]), 1.0);

    // No secret and no personal name in any label.
    let text = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for secret in [access, rt, client.id.as_str(), "alice", "ChatGPT"] {
        assert!(!text.contains(secret), "/metrics mentions {secret}");
    }
    // Unknown paths share one label instead of growing a series per path.
    assert_eq!(
        moved(
            "gigamcp_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        2.0
    );
}

/// `serve --worker-threads N` sizes the runtime that runs requests: the gauge reports it. Two
/// sizes, so at least one differs from the default of one per core. Zero is refused at once.
#[tokio::test]
async fn worker_threads_size_the_runtime() {
    for n in ["1", "3"] {
        let dir = tempfile::tempdir().unwrap();
        let server = serve(dir.path(), &["--worker-threads", n]).await;
        let s = scrape(&server.base).await;
        assert_eq!(
            value(&s, "gigamcp_runtime_worker_threads", &[]),
            n.parse::<f64>().unwrap(),
            "--worker-threads {n}"
        );
        // The runtime it sized serves requests as usual.
        assert_eq!(
            reqwest::get(format!("{}/readyz", server.base))
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--worker-threads", "0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--worker-threads"), "{err}");
}

#[tokio::test]
async fn metrics_listener_of_its_own_and_metrics_off() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let server = serve(dir.path(), &["--metrics-bind", &bind]).await;
    // Off the main listener...
    let r = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // ...on its own.
    let s = scrape(&format!("http://{bind}")).await;
    assert_eq!(value(&s, "gigamcp_build_info", &[]), 1.0);
    drop(server);

    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &["--metrics", "off"]).await;
    let r = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
}
