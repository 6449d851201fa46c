//! Shared fixture for the server's integration tests: a real router on a real SQLite file in a
//! temporary directory, with a clock the test controls.
pub mod knowledge;
pub mod oauth_client;
pub mod process;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use gigamcp_server::clock::ManualClock;
use gigamcp_server::edge::App as Router;
use gigamcp_server::{AppState, Config, Store, app};
use std::sync::Arc;
use tower::ServiceExt;

pub const PUBLIC_URL: &str = "https://mcp.test";
pub const START: i64 = 1_790_000_000;

pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub clock: ManualClock,
    /// The data directory (and SQLite file), removed when the app is dropped.
    _dir: tempfile::TempDir,
    /// The database this app runs on (SQLite in the data directory, or a fresh PostgreSQL
    /// database).
    pub db_url: String,
}

/// SQLite in `dir`, or, when `GIGAMCP_TEST_POSTGRES_URL` names a PostgreSQL server, a fresh
/// database created on it for this test alone, so the whole suite runs on either backend.
///
/// PostgreSQL databases are named `gmcp_test_<pid>_<random>`. The first test of each process
/// drops those whose process has ended, so repeated local runs keep at most one test binary's
/// databases. (Dropping in `Drop` would block the test's single-threaded runtime while its pool
/// is mid-handshake, and PostgreSQL then waits for the authentication timeout.)
pub async fn test_database_url(dir: &std::path::Path) -> String {
    let Ok(base) = std::env::var("GIGAMCP_TEST_POSTGRES_URL") else {
        return Store::sqlite_url_for(dir);
    };
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(&base)
        .await
        .expect("connecting to GIGAMCP_TEST_POSTGRES_URL");
    static REAPED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !REAPED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        reap_databases_of_ended_processes(&mut admin).await;
    }
    let name = format!(
        "gmcp_test_{}_{}",
        std::process::id(),
        gigamcp_server::secrets::new_id()
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(&base).unwrap();
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// Best effort: a database left behind costs disk, never a test result. Only where `/proc`
/// tells which processes live (Linux); elsewhere nothing is dropped.
async fn reap_databases_of_ended_processes(admin: &mut sqlx::AnyConnection) {
    use sqlx::Row;
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(rows) = sqlx::query(
        "SELECT CAST(datname AS TEXT) FROM pg_database WHERE datname LIKE 'gmcp_test_%'",
    )
    .fetch_all(&mut *admin)
    .await
    else {
        return;
    };
    for row in rows {
        let Ok(name) = row.try_get::<String, _>(0) else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix("gmcp_test_")
            .and_then(|rest| rest.split_once('_'))
            .map(|(pid, _)| pid)
            .filter(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if proc.join(pid).exists() {
            continue;
        }
        let sql = format!("DROP DATABASE IF EXISTS {name}");
        let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *admin)
            .await;
    }
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

impl TestApp {
    /// An empty server at [`PUBLIC_URL`].
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    pub async fn with_config(f: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(PUBLIC_URL, dir.path().to_path_buf()).unwrap();
        f(&mut config);
        let db_url = test_database_url(dir.path()).await;
        let store = Store::connect(&db_url).await.unwrap();
        let clock = ManualClock::new(START);
        let state = AppState::new(config, store, Arc::new(clock.clone()))
            .await
            .unwrap();
        let router = app(state.clone());
        Self {
            state,
            router,
            clock,
            _dir: dir,
            db_url,
        }
    }

    /// Workspaces `acme` and `globex`; `alice` in both, `bob` in `globex` (password "pw-<name>").
    /// Uses a fast, fixed argon2 hash so tests do not spend time hashing.
    pub async fn with_people() -> Self {
        let t = Self::new().await;
        t.seed_people().await;
        t
    }

    pub async fn seed_people(&self) {
        let s = &self.state.store;
        s.create_workspace("acme", "Acme Cloud", START)
            .await
            .unwrap();
        s.create_workspace("globex", "Globex Logistics", START)
            .await
            .unwrap();
        for (name, spaces) in [("alice", vec!["acme", "globex"]), ("bob", vec!["globex"])] {
            let hash =
                gigamcp_server::auth::password::hash_password_blocking(&format!("pw-{name}"))
                    .unwrap();
            let u = s.create_user(name, &hash, START).await.unwrap();
            for ws in spaces {
                s.add_member(ws, &u.id, "member", START).await.unwrap();
            }
        }
    }

    /// Ingests the demo knowledge fixture (`fixtures/knowledge/<slug>`) into `slug`.
    pub async fn ingest_fixture(&self, slug: &str) {
        self.state
            .knowledge
            .ingest_dir(slug, &knowledge::fixtures_dir(slug), START)
            .await
            .expect("ingest the demo fixture");
    }

    /// The stored user named `name` (who must exist).
    pub async fn user(&self, name: &str) -> gigamcp_server::store::UserRecord {
        self.state
            .store
            .user_by_username(name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no user {name}"))
    }

    /// A personal access token for `user` on `slug`.
    pub async fn token(&self, slug: &str, user: &str, scope: &str) -> String {
        gigamcp_server::auth::pat::issue_personal_token(
            &self.state.store,
            &self.state.config,
            slug,
            user,
            scope,
            3600,
            self.clock.now_secs(),
        )
        .await
        .unwrap()
        .token
    }

    pub async fn send(&self, req: Request<Body>) -> TestResponse {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        TestResponse {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str) -> TestResponse {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    /// Binds the real router on 127.0.0.1:0 and returns its base URL (for reqwest-driven tests).
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = self.router.clone();
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        format!("http://{addr}")
    }
}

pub trait ClockExt {
    fn now_secs(&self) -> i64;
}

impl ClockExt for ManualClock {
    fn now_secs(&self) -> i64 {
        use gigamcp_server::clock::Clock;
        self.now()
    }
}

/// A loopback port that was free a moment ago, for a child process (a real binary, nginx,
/// pebble, PostgreSQL) to listen on.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
