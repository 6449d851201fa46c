//! Scale-out (issue 9): two replicas (two `AppState`s, two routers) on one database. A session
//! minted on one is served by the other, DELETE on either ends it everywhere, one user's session
//! flood leaves everyone else's sessions alone, and a revocation through one replica is refused
//! by the other within a second (PostgreSQL: `LISTEN`/`NOTIFY`; SQLite: the polled epoch).
use crate::support::{ClockExt, TestApp};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use gigamcp_server::edge::App as Router;
use gigamcp_server::mcp::session::{Lookup, PER_USER_CAP};
use gigamcp_server::mcp::version::Version;
use gigamcp_server::{AppState, Config, Store, app};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// A second replica on `t`'s database (same configuration and clock).
async fn replica(t: &TestApp) -> (AppState, Router) {
    let store = Store::connect(&t.db_url).await.unwrap();
    let config: Config = (*t.state.config).clone();
    let state = AppState::new(config, store, Arc::new(t.clock.clone()))
        .await
        .unwrap();
    (state.clone(), app(state))
}

struct Resp {
    status: StatusCode,
    session: Option<String>,
    body: String,
}

async fn send(router: &Router, req: Request<Body>) -> Resp {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let session = resp
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let is_sse = resp
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let body = if is_sse && status == StatusCode::OK && session.is_none() {
        // A GET stream never ends by itself: read its first frame only.
        let mut s = resp.into_body().into_data_stream();
        use futures::StreamExt;
        let first = tokio::time::timeout(Duration::from_secs(5), s.next())
            .await
            .expect("priming event")
            .unwrap()
            .unwrap();
        String::from_utf8_lossy(&first).into_owned()
    } else {
        let b = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8_lossy(&b).into_owned()
    };
    Resp {
        status,
        session,
        body,
    }
}

fn req(method: &str, token: &str, session: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri("/t/acme/mcp")
        .header("authorization", format!("Bearer {token}"))
        .header("accept", "application/json, text/event-stream");
    if let Some(s) = session {
        b = b.header("mcp-session-id", s);
    }
    match body {
        Some(v) => b
            .header("content-type", "application/json")
            .body(Body::from(v.to_string()))
            .unwrap(),
        None => b
            .header("accept", "text/event-stream")
            .body(Body::empty())
            .unwrap(),
    }
}

/// Pings `router` with `token` until it answers 401, which must come within a second of
/// `started` (every answer before it 200, `what` said otherwise); returns how long it took.
async fn refused_within_a_second(
    router: &Router,
    token: &str,
    started: Instant,
    what: &str,
) -> Duration {
    loop {
        let r = send(
            router,
            req("POST", token, None, Some(call(2, "ping", json!({})))),
        )
        .await;
        if r.status == StatusCode::UNAUTHORIZED {
            return started.elapsed();
        }
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{what} after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn initialize(version: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": version,
        "clientInfo": { "name": "openai-mcp", "version": "1.0.0" },
        "capabilities": {},
    }})
}

fn call(id: i64, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

async fn open_session(router: &Router, token: &str, version: &str) -> String {
    let r = send(router, req("POST", token, None, Some(initialize(version)))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let sid = r.session.expect("Mcp-Session-Id");
    let r = send(
        router,
        req(
            "POST",
            token,
            Some(&sid),
            Some(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" })),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    sid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_minted_on_one_replica_is_served_and_ended_by_another() {
    let t = TestApp::with_config(|c| c.auth_epoch_poll_ms = 100).await;
    t.seed_people().await;
    t.ingest_fixture("acme").await;
    let (b_state, b) = replica(&t).await;
    let a = t.router.clone();
    t.state.spawn_background();
    b_state.spawn_background();
    let token = t.token("acme", "alice", "mcp:read mcp:tools").await;
    for version in ["2025-03-26", "2025-06-18", "2025-11-25"] {
        let sid = open_session(&a, &token, version).await;
        // POST on B, alternating with A: every call is served in the session, no re-initialize.
        for i in 0..10 {
            let router = if i % 2 == 0 { &b } else { &a };
            let body = call(
                i + 2,
                "tools/call",
                json!({ "name": "search_company_rag", "arguments": { "query": "deploy" } }),
            );
            let r = send(router, req("POST", &token, Some(&sid), Some(body))).await;
            assert_eq!(r.status, StatusCode::OK, "{version} call {i}: {}", r.body);
            assert!(
                r.body.contains("\"result\""),
                "{version} call {i}: {}",
                r.body
            );
        }
        // The GET stream on B.
        let r = send(&b, req("GET", &token, Some(&sid), None)).await;
        assert_eq!(r.status, StatusCode::OK, "{version} GET on B: {}", r.body);
        assert!(r.body.starts_with("id: "), "priming event: {}", r.body);
        // Another user cannot use it on either replica.
        let bob = t.token("globex", "bob", "mcp:read").await;
        let r = send(
            &b,
            req("POST", &bob, Some(&sid), Some(call(50, "ping", json!({})))),
        )
        .await;
        assert_ne!(r.status, StatusCode::OK);
        // DELETE on B ends it on A too.
        let r = send(&b, req("DELETE", &token, Some(&sid), None)).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        let started = Instant::now();
        loop {
            let r = send(
                &a,
                req(
                    "POST",
                    &token,
                    Some(&sid),
                    Some(call(60, "ping", json!({}))),
                ),
            )
            .await;
            if r.status == StatusCode::NOT_FOUND {
                break;
            }
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "A still serves the ended session"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        println!(
            "{version}: DELETE on B reached A after {:?} ({:?})",
            started.elapsed(),
            t.state.store.backend()
        );
        let r = send(
            &b,
            req(
                "POST",
                &token,
                Some(&sid),
                Some(call(61, "ping", json!({}))),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    }
}

/// A GET stream open on A ends when B deletes the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_stream_on_one_replica_ends_when_another_deletes_the_session() {
    let t = TestApp::with_config(|c| c.auth_epoch_poll_ms = 100).await;
    t.seed_people().await;
    let (b_state, b) = replica(&t).await;
    t.state.spawn_background();
    b_state.spawn_background();
    let token = t.token("acme", "alice", "mcp:read").await;
    let sid = open_session(&b, &token, "2025-06-18").await;
    let resp = t
        .router
        .clone()
        .oneshot(req("GET", &token, Some(&sid), None))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let r = send(&b, req("DELETE", &token, Some(&sid), None)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // The stream's body ends (priming event, then nothing) within the follower's bound.
    let body = tokio::time::timeout(
        Duration::from_secs(3),
        axum::body::to_bytes(resp.into_body(), usize::MAX),
    )
    .await
    .expect("the GET stream on A ended")
    .unwrap();
    assert!(body.starts_with(b"id: "));
}

/// 20,000 sessions opened by one user end only that user's oldest: every other user's sessions
/// stay usable on both replicas, and the database holds at most `PER_USER_CAP` of the flooder's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_thousand_sessions_of_one_user_leave_other_users_sessions_intact() {
    let t = TestApp::with_people().await;
    let (b_state, b) = replica(&t).await;
    let alice = t.token("acme", "alice", "mcp:read").await;
    let theirs = open_session(&b, &alice, "2025-11-25").await;
    let flooder = t.user("bob").await;
    let now = t.clock.now_secs();
    let started = Instant::now();
    // Writers on both replicas: four at once on PostgreSQL; on SQLite, whose writers take turns
    // on one file lock, one after the other (contending writers there only add lock waits).
    let writers = match t.state.store.backend() {
        gigamcp_server::store::Backend::Postgres => 4,
        gigamcp_server::store::Backend::Sqlite => 1,
    };
    let per_writer = 20_000 / writers;
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let sessions = if w % 2 == 0 {
                t.state.mcp.sessions.clone()
            } else {
                b_state.mcp.sessions.clone()
            };
            let user = flooder.id.clone();
            let other = if w % 2 == 0 {
                b_state.mcp.sessions.clone()
            } else {
                t.state.mcp.sessions.clone()
            };
            tokio::spawn(async move {
                for i in 0..per_writer {
                    let on = if i % 2 == 0 { &sessions } else { &other };
                    on.create("globex", &user, Version::V2025_06_18, now)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "20,000 sessions by one user in {elapsed:?} ({:?}, {writers} writers)",
        t.state.store.backend()
    );
    let stored = t.state.store.session_count().await.unwrap();
    assert!(
        (PER_USER_CAP as i64 + 1..=PER_USER_CAP as i64 + 1 + writers as i64).contains(&stored),
        "{stored} sessions stored (the flooder's {PER_USER_CAP} plus alice's one, give or take \
         the writers racing at the end)"
    );
    for router in [&t.router, &b] {
        let r = send(
            router,
            req(
                "POST",
                &alice,
                Some(&theirs),
                Some(call(2, "ping", json!({}))),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    // The flooder's newest session still works.
    let last = t
        .state
        .mcp
        .sessions
        .create("globex", &flooder.id, Version::V2025_06_18, now)
        .await
        .unwrap();
    assert!(matches!(
        b_state
            .mcp
            .sessions
            .get(&last.id, "globex", &flooder.id, now)
            .await
            .unwrap(),
        Lookup::Found(_)
    ));
}

/// A revocation through replica A is refused by replica B within a second. On PostgreSQL the
/// epoch poll is set to 30 s, so only the `NOTIFY` can make it in time; on SQLite (no listener)
/// the poll is 200 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_through_one_replica_is_refused_by_the_other_within_a_second() {
    let pg = std::env::var("GIGAMCP_TEST_POSTGRES_URL").is_ok();
    let poll = if pg { 30_000 } else { 200 };
    let t = TestApp::with_config(|c| c.auth_epoch_poll_ms = poll).await;
    t.seed_people().await;
    let (b_state, b) = replica(&t).await;
    t.state.spawn_background();
    b_state.spawn_background();
    // Let both listeners connect (their first wake-up polls once).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut figures = Vec::new();
    for _ in 0..5 {
        let token = t.token("acme", "alice", "mcp:read").await;
        let ping = || Some(call(1, "ping", json!({})));
        let r = send(&b, req("POST", &token, None, ping())).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let grant = t
            .state
            .store
            .access_token_by_hash(&gigamcp_server::secrets::hash_secret(&token))
            .await
            .unwrap()
            .unwrap()
            .grant_id;
        // Revoke through A, as A's revocation endpoint does.
        let started = Instant::now();
        assert!(
            t.state
                .store
                .revoke_grant(&grant, t.clock.now_secs())
                .await
                .unwrap()
        );
        t.state.tokens.invalidate_all();
        figures.push(
            refused_within_a_second(
                &b,
                &token,
                started,
                "replica B still accepts a token revoked through A",
            )
            .await,
        );
    }
    println!(
        "revocation through A refused by B after {figures:?} ({:?}, epoch poll {poll} ms)",
        t.state.store.backend()
    );
}

/// PostgreSQL: when the listening connections are killed, the listeners reconnect and the next
/// revocation still reaches the other replica within a second (the epoch poll is 30 s, so only
/// a reconnected listener can make it). SQLite has no listener: its processes poll (see
/// `resource_server::background_poller_follows_other_processes`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_listener_reconnects_after_its_connection_is_killed() {
    if std::env::var("GIGAMCP_TEST_POSTGRES_URL").is_err() {
        return;
    }
    let t = TestApp::with_config(|c| c.auth_epoch_poll_ms = 30_000).await;
    t.seed_people().await;
    let (b_state, b) = replica(&t).await;
    t.state.spawn_background();
    b_state.spawn_background();
    let listening = "SELECT COUNT(*) FROM pg_stat_activity \
                     WHERE datname = current_database() AND query ILIKE 'LISTEN%'";
    let count = |sql: &'static str| {
        let pool = t.state.store.pool().clone();
        async move {
            use sqlx::Row;
            sqlx::query(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
                .try_get::<i64, _>(0)
                .unwrap()
        }
    };
    let wait_for_listeners = || async {
        for _ in 0..100 {
            if count(listening).await == 2 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the two replicas' listeners are not connected");
    };
    wait_for_listeners().await;
    let killed = count(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .await;
    assert_eq!(killed, 2);
    wait_for_listeners().await;
    let token = t.token("acme", "alice", "mcp:read").await;
    let r = send(
        &b,
        req("POST", &token, None, Some(call(1, "ping", json!({})))),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let grant = t
        .state
        .store
        .access_token_by_hash(&gigamcp_server::secrets::hash_secret(&token))
        .await
        .unwrap()
        .unwrap()
        .grant_id;
    let started = Instant::now();
    assert!(
        t.state
            .store
            .revoke_grant(&grant, t.clock.now_secs())
            .await
            .unwrap()
    );
    t.state.tokens.invalidate_all();
    let took = refused_within_a_second(
        &b,
        &token,
        started,
        "no reconnected listener: B still accepts the revoked token",
    )
    .await;
    println!("after the listeners were killed and reconnected: refused in {took:?}");
}

/// PostgreSQL: a code redemption through A that supersedes the grant of a token B has cached is
/// refused by B within a second. The epoch poll is 30 s and B's cached validation lives 30 s,
/// so only the notification A sends after the redemption's commit (`store::signal`) can make it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_superseding_redemption_through_one_replica_is_refused_by_another_within_a_second() {
    use crate::support::oauth_client::{
        ACME, Browser, code_for, connect, exchange, register_chatgpt,
    };
    if std::env::var("GIGAMCP_TEST_POSTGRES_URL").is_err() {
        return;
    }
    let t = TestApp::with_config(|c| {
        c.auth_epoch_poll_ms = 30_000;
        c.token_cache_ttl = 30;
    })
    .await;
    t.seed_people().await;
    let (b_state, b) = replica(&t).await;
    t.state.spawn_background();
    b_state.spawn_background();
    let browser = Browser::new(&t.serve().await);
    let client = register_chatgpt(&browser).await;
    let first = connect(&browser, "alice", &client, ACME).await;
    let token = first["access_token"].as_str().unwrap();
    let r = send(
        &b,
        req("POST", token, None, Some(call(1, "ping", json!({})))),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The same browser and client again: a new grant, superseding the first.
    let (code, verifier) = code_for(&browser, &client, "alice", ACME).await;
    let epoch = t.state.store.auth_epoch().await.unwrap();
    let started = Instant::now();
    let second = exchange(&browser, &client, &code, &verifier, ACME).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert_eq!(t.state.store.auth_epoch().await.unwrap(), epoch + 1);
    let took = refused_within_a_second(
        &b,
        token,
        started,
        "no signal: B still accepts the superseded grant's token",
    )
    .await;
    println!("superseded through A, refused by B after {took:?}");
}

/// The refresh race across replicas: 16 refreshes of one refresh token at once, half through
/// each replica's socket, get one identical token pair, and the grant lives on (10 rounds, each
/// refreshing the pair the previous round got).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_refreshes_across_two_replicas_yield_one_pair_and_keep_the_grant() {
    use crate::support::oauth_client::{
        ACME, Browser, connect, mcp_call, refresh, register_chatgpt,
    };
    let t = TestApp::with_people().await;
    let (_b_state, b_router) = replica(&t).await;
    let base_a = t.serve().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_b = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, b_router).await.unwrap();
    });
    let a = Browser::new(&base_a);
    let b = Browser::new(&base_b);
    let c = register_chatgpt(&a).await;
    let first = connect(&a, "alice", &c, ACME).await;
    let mut rt = first["refresh_token"].as_str().unwrap().to_string();
    for round in 0..10 {
        let results = futures::future::join_all((0..16).map(|i| {
            let via = if i % 2 == 0 { &a } else { &b };
            refresh(via, &c, &rt, &[])
        }))
        .await;
        for r in &results {
            assert_eq!(r.status, StatusCode::OK, "round {round}: {}", r.text);
        }
        let pairs: std::collections::HashSet<(String, String)> = results
            .iter()
            .map(|r| {
                let j = r.json();
                (
                    j["access_token"].as_str().unwrap().to_string(),
                    j["refresh_token"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            pairs.len(),
            1,
            "round {round}: every refresh got the same pair"
        );
        let (at, next) = pairs.into_iter().next().unwrap();
        for via in [&a, &b] {
            assert_eq!(mcp_call(via, "acme", &at).await.status, StatusCode::OK);
        }
        rt = next;
    }
}
