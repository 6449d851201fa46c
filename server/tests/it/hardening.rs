//! Issue 8 regression tests (hardening): sign-in throttling reserved atomically in the database,
//! the bounded password queue, no lock-out by strangers, the post-login open redirect, field
//! limits and aggregated throttle events, audit retention, introspection rights, Client ID
//! Metadata Document limits, the error-redirect policy, `Retry-After` on every 429, and bounded
//! reads in the GitHub connector. Every test here failed on `main` before the fix, except the
//! last, which guards an optimization (no ping before using a hot PostgreSQL connection).
use crate::support;
use crate::support::oauth_client::*;
use crate::support::{START, TestApp, TestResponse};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use serde_json::json;
use std::net::SocketAddr;

// ---------------------------------------------------------------------------------------------
// Helpers: sign-in attempts straight into the router, from a chosen client address.

const LOGIN_COOKIE: &str = "__Host-gigamcp_login";

fn addr(n: u32) -> SocketAddr {
    SocketAddr::from(([10, (n >> 16) as u8, (n >> 8) as u8, n as u8], 40_000))
}

fn login_request(from: SocketAddr, username: &str, password: &str, next: &str) -> Request<Body> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("username", username)
        .append_pair("password", password)
        .append_pair("csrf", "csrf-token")
        .append_pair("next", next)
        .finish();
    let mut req = Request::post("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("{LOGIN_COOKIE}=csrf-token"))
        .body(Body::from(body))
        .unwrap();
    req.extensions_mut().insert(ConnectInfo(from));
    req
}

async fn login(t: &TestApp, from: SocketAddr, username: &str, password: &str) -> TestResponse {
    t.send(login_request(from, username, password, "/")).await
}

/// Sends every request at once (a multi-threaded runtime runs them in parallel) and returns the
/// statuses and `Retry-After` headers.
async fn burst(
    routers: &[gigamcp_server::edge::App],
    reqs: Vec<Request<Body>>,
) -> Vec<(StatusCode, Option<String>)> {
    use tower::ServiceExt;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(reqs.len()));
    let mut tasks = Vec::new();
    for (i, req) in reqs.into_iter().enumerate() {
        let router = routers[i % routers.len()].clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let resp = router.oneshot(req).await.unwrap();
            (
                resp.status(),
                resp.headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned()),
            )
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn count(results: &[(StatusCode, Option<String>)], s: StatusCode) -> usize {
    results.iter().filter(|(st, _)| *st == s).count()
}

/// Every answer is a checked failure (401), a throttle (429) or a full queue (503); both of the
/// latter say when to come back.
fn assert_only_checked_throttled_or_busy(results: &[(StatusCode, Option<String>)]) {
    for (status, retry) in results {
        match *status {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                let secs: i64 = retry
                    .as_deref()
                    .unwrap_or_else(|| panic!("{status} without Retry-After"))
                    .parse()
                    .unwrap();
                assert!(secs >= 1, "{status} Retry-After {secs}");
            }
            other => panic!("unexpected status {other}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sign-in throttling.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_wrong_passwords_for_one_account_check_only_the_limit() {
    let t = TestApp::with_people().await;
    let from = addr(1);
    let reqs = (0..40)
        .map(|_| login_request(from, "alice", "wrong", "/"))
        .collect();
    let results = burst(std::slice::from_ref(&t.router), reqs).await;
    assert_only_checked_throttled_or_busy(&results);
    let checked = count(&results, StatusCode::UNAUTHORIZED);
    assert!(
        (1..=5).contains(&checked),
        "{checked} passwords checked; the limit per account and address is 5"
    );
    // With the limit used up, the pair stays throttled, even for the right password.
    if checked == 5 {
        let r = login(&t, from, "alice", "pw-alice").await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_guesses_from_one_address_check_only_the_limit() {
    let t = TestApp::with_people().await;
    let from = addr(2);
    let reqs = (0..100)
        .map(|i| login_request(from, &format!("user{i}"), "wrong", "/"))
        .collect();
    let results = burst(std::slice::from_ref(&t.router), reqs).await;
    assert_only_checked_throttled_or_busy(&results);
    let checked = count(&results, StatusCode::UNAUTHORIZED);
    assert!(
        (1..=20).contains(&checked),
        "{checked} passwords checked; the limit per address is 20"
    );
    assert!(count(&results, StatusCode::TOO_MANY_REQUESTS) >= 80 - 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_throttle_holds_across_replicas_on_one_database() {
    let a = TestApp::with_people().await;
    // A second server process on the same database.
    let store = gigamcp_server::Store::connect(&a.db_url).await.unwrap();
    let config = (*a.state.config).clone();
    let b_state =
        gigamcp_server::AppState::new(config, store, std::sync::Arc::new(a.clock.clone()))
            .await
            .unwrap();
    let b = gigamcp_server::app(b_state);
    let from = addr(3);
    let reqs = (0..40)
        .map(|_| login_request(from, "bob", "wrong", "/"))
        .collect();
    let results = burst(&[a.router.clone(), b], reqs).await;
    assert_only_checked_throttled_or_busy(&results);
    let checked = count(&results, StatusCode::UNAUTHORIZED);
    assert!(
        (1..=5).contains(&checked),
        "{checked} checked across two replicas"
    );
}

#[tokio::test]
async fn a_stranger_cannot_lock_the_owner_out() {
    let t = TestApp::with_people().await;
    let stranger = addr(4);
    for _ in 0..5 {
        assert_eq!(
            login(&t, stranger, "alice", "guess").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = login(&t, stranger, "alice", "pw-alice").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=15 * 60).contains(&retry), "{retry}");
    // The owner, from their own address, still gets in (at most slowed down).
    let owner = addr(5);
    let r = login(&t, owner, "alice", "pw-alice").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
}

#[test]
fn account_wide_failures_slow_down_and_never_lock() {
    use gigamcp_server::oauth::login::{MAX_ACCOUNT_DELAY, account_delay};
    use std::time::Duration;
    assert_eq!(account_delay(1), Duration::ZERO);
    assert_eq!(account_delay(5), Duration::ZERO);
    assert_eq!(account_delay(6), Duration::from_secs(1));
    assert_eq!(account_delay(7), Duration::from_secs(2));
    assert_eq!(account_delay(9), Duration::from_secs(8));
    assert_eq!(
        account_delay(10_000),
        Duration::from_secs(MAX_ACCOUNT_DELAY)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_password_queue_is_bounded_and_answers_busy_at_once() {
    let t = TestApp::with_people().await;
    // Distinct accounts from distinct addresses: no throttle applies, only the queue.
    let reqs = (0..40)
        .map(|i| login_request(addr(100 + i), &format!("nobody{i}"), "wrong", "/"))
        .collect();
    let results = burst(std::slice::from_ref(&t.router), reqs).await;
    assert_only_checked_throttled_or_busy(&results);
    let busy = count(&results, StatusCode::SERVICE_UNAVAILABLE);
    assert!(busy > 0, "40 concurrent verifications were all queued");
    assert_eq!(count(&results, StatusCode::TOO_MANY_REQUESTS), 0);
    // A busy answer gave its reservation back: the address can try again at once.
    let r = login(&t, addr(100), "alice", "pw-alice").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
}

/// A flood from one address holds one verification slot, not the queue: a correct sign-in from
/// another address in the middle of it is admitted and verified (before this, the flood filled
/// the queue and the owner got 503).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_from_one_address_leaves_the_queue_to_everyone_else() {
    let t = TestApp::with_people().await;
    let attacker = addr(200);
    let mut reqs: Vec<_> = (0..30)
        .map(|i| login_request(attacker, &format!("sprayed{i}"), "wrong", "/"))
        .collect();
    reqs.push(login_request(addr(201), "alice", "pw-alice", "/"));
    let results = burst(std::slice::from_ref(&t.router), reqs).await;
    let owner = results.last().unwrap().0;
    assert_eq!(owner, StatusCode::SEE_OTHER, "the owner's sign-in: {owner}");
    let flood = &results[..30];
    assert_only_checked_throttled_or_busy(flood);
    assert_eq!(count(flood, StatusCode::SERVICE_UNAVAILABLE), 0);
    let checked = count(flood, StatusCode::UNAUTHORIZED);
    assert!(
        checked >= 1 && count(flood, StatusCode::TOO_MANY_REQUESTS) == 30 - checked,
        "{flood:?}"
    );
}

const DEVICE_COOKIE: &str = "__Host-gigamcp_device";

/// A sign-in request that also sends the browser's device cookie.
fn login_request_from_device(
    from: SocketAddr,
    username: &str,
    password: &str,
    device: &str,
) -> Request<Body> {
    let mut req = login_request(from, username, password, "/");
    req.headers_mut().insert(
        "cookie",
        format!("{LOGIN_COOKIE}=csrf-token; {DEVICE_COOKIE}={device}")
            .parse()
            .unwrap(),
    );
    req
}

/// The device cookie a response sets, if any (its value and attributes).
fn device_cookie(r: &TestResponse) -> Option<(String, String)> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{DEVICE_COOKIE}=")))
        .map(|v| {
            let (value, attrs) = v.split_once(';').unwrap_or((v, ""));
            (value.to_string(), attrs.to_string())
        })
}

/// A sign-in from address `from` by a browser that sends `device`.
async fn login_from_device(
    t: &TestApp,
    from: u32,
    username: &str,
    password: &str,
    device: &str,
) -> TestResponse {
    t.send(login_request_from_device(
        addr(from),
        username,
        password,
        device,
    ))
    .await
}

/// The sign-in succeeded from a browser the server knew: it set no new device cookie.
fn assert_known(r: &TestResponse, why: &str) {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{why}: {}", r.text());
    assert_eq!(device_cookie(r), None, "{why}");
}

/// A successful sign-in gives the browser a device cookie bound to the account; the account's
/// next sign-in from it is recognised (no new cookie), another account's is not.
#[tokio::test]
async fn a_sign_in_gives_the_browser_a_device_cookie_of_that_account() {
    let t = TestApp::with_people().await;
    let first = login(&t, addr(210), "alice", "pw-alice").await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let (device, attrs) = device_cookie(&first).expect("a device cookie");
    assert!(device.starts_with("gmcp_dv_"), "{device}");
    for a in ["Max-Age=7776000", "HttpOnly", "Secure", "Path=/"] {
        assert!(attrs.contains(a), "{a} in {attrs}");
    }
    let known = login_from_device(&t, 211, "alice", "pw-alice", &device).await;
    assert_known(&known, "alice's browser was recognised");
    let other = login_from_device(&t, 212, "bob", "pw-bob", &device).await;
    assert_eq!(other.status, StatusCode::SEE_OTHER);
    let (bobs, _) = device_cookie(&other).expect("bob's own device cookie");
    assert_ne!(bobs, device);
    // A wrong password from a known browser is still a failure.
    let wrong = login_from_device(&t, 213, "alice", "guess", &device).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
}

/// A device cookie is known for 90 days from the sign-in that gave it out, then the browser is
/// a new one again (and gets a new cookie); the retention pass forgets the expired one.
#[tokio::test]
async fn a_device_cookie_is_known_for_ninety_days_then_pruned() {
    use gigamcp_server::oauth::login::DEVICE_TTL;
    let t = TestApp::with_people().await;
    let first = login(&t, addr(219), "alice", "pw-alice").await;
    let (device, _) = device_cookie(&first).expect("a device cookie");
    t.clock.advance(DEVICE_TTL - 1);
    let known = login_from_device(&t, 220, "alice", "pw-alice", &device).await;
    assert_known(&known, "known a second before it expires");
    t.clock.advance(1);
    let expired = login_from_device(&t, 221, "alice", "pw-alice", &device).await;
    assert_eq!(expired.status, StatusCode::SEE_OTHER);
    let (renewed, _) = device_cookie(&expired).expect("an expired device is a new browser");
    assert_ne!(renewed, device);
    let pruned = gigamcp_server::oauth::audit::prune(
        &t.state.store,
        &t.state.config,
        START + DEVICE_TTL + 1,
    )
    .await
    .unwrap();
    assert_eq!(pruned.devices, 1, "the expired device, not the renewed one");
}

/// 8 strangers send wrong passwords from ever new addresses, each trying again a millisecond
/// after a 503, so the shared verification queue stays full (a stranger's sign-in gets 503)
/// without the test taking every core from the tests beside it; in the middle of it the owner's
/// browser, known by its device cookie, signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_known_browser_signs_in_while_a_distributed_flood_fills_the_queue() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use tower::ServiceExt;
    let t = TestApp::with_people().await;
    let first = login(&t, addr(214), "alice", "pw-alice").await;
    let (device, _) = device_cookie(&first).expect("a device cookie");
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU32::new(1_000));
    let flooders: Vec<_> = (0..8)
        .map(|_| {
            let (router, stop, next) = (t.router.clone(), stop.clone(), next.clone());
            tokio::spawn(async move {
                let mut busy = 0;
                while !stop.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let req = login_request(addr(n), &format!("spray{n}"), "wrong", "/");
                    let status = router.clone().oneshot(req).await.unwrap().status();
                    if status == StatusCode::SERVICE_UNAVAILABLE {
                        busy += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    }
                }
                busy
            })
        })
        .collect();
    // A stranger probes until the queue turns them away; the owner follows at once.
    let mut full = false;
    for k in 0..200 {
        let probe = login(&t, addr(400 + k), &format!("probe{k}"), "wrong").await;
        if probe.status == StatusCode::SERVICE_UNAVAILABLE {
            full = true;
            break;
        }
    }
    let owner = login_from_device(&t, 215, "alice", "pw-alice", &device).await;
    stop.store(true, Ordering::Relaxed);
    let mut busy = 0;
    for f in flooders {
        busy += f.await.unwrap();
    }
    assert!(full && busy > 0, "the flood never filled the queue");
    assert_eq!(owner.status, StatusCode::SEE_OTHER, "{}", owner.text());
}

/// With the shared queue full (here: of size 0), a stranger's sign-in is answered 503 before
/// anything is written (no rate counter of its address, account or pair), and the account's
/// known browser still verifies in its own lane.
#[tokio::test]
async fn a_full_queue_answers_before_writing_and_a_known_browser_still_gets_in() {
    use gigamcp_server::auth::password::VerifyQueue;
    use gigamcp_server::oauth::state::OAuthState;
    let t = TestApp::with_people().await;
    let first = login(&t, addr(216), "alice", "pw-alice").await;
    let (device, _) = device_cookie(&first).expect("a device cookie");
    let s = &t.state;
    let full = gigamcp_server::app(gigamcp_server::state::AppState::from_parts(
        gigamcp_server::state::Parts {
            config: s.config.clone(),
            store: s.store.clone(),
            clock: s.clock.clone(),
            tokens: s.tokens.clone(),
            knowledge: s.knowledge.clone(),
            mcp: s.mcp.clone(),
            oauth: std::sync::Arc::new(OAuthState {
                logins: VerifyQueue::with_lane(0, 1),
                ..OAuthState::new(&s.config)
            }),
            ops: s.ops.clone(),
        },
    ));
    let send = |req| {
        use tower::ServiceExt;
        full.clone().oneshot(req)
    };
    let counters = || async {
        let rows = t.state.store.counters("login:", 100).await.unwrap();
        let mut v: Vec<_> = rows
            .into_iter()
            .map(|c| (c.subject, c.window_start, c.hits, c.refused))
            .collect();
        v.sort();
        v
    };
    let before = counters().await;
    let busy = send(login_request(addr(217), "alice", "pw-alice", "/"))
        .await
        .unwrap();
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(busy.headers()["retry-after"], "1");
    assert_eq!(counters().await, before, "a busy answer wrote a counter");
    let known = send(login_request_from_device(
        addr(218),
        "alice",
        "pw-alice",
        &device,
    ))
    .await
    .unwrap();
    assert_eq!(known.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn admin_throttle_clear_lets_a_throttled_user_in() {
    let t = TestApp::with_people().await;
    let from = addr(6);
    for _ in 0..5 {
        login(&t, from, "alice", "guess").await;
    }
    assert_eq!(
        login(&t, from, "alice", "pw-alice").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gigamcp"))
        .args([
            "admin",
            "--database-url",
            &t.db_url,
            "throttle",
            "clear",
            "--user",
            "ALICE",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("cleared"));
    assert_eq!(
        login(&t, from, "alice", "pw-alice").await.status,
        StatusCode::SEE_OTHER
    );
    // By address too.
    for i in 0..20 {
        login(&t, addr(7), &format!("x{i}"), "guess").await;
    }
    assert_eq!(
        login(&t, addr(7), "bob", "pw-bob").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gigamcp"))
        .args([
            "admin",
            "--database-url",
            &t.db_url,
            "throttle",
            "clear",
            "--address",
            "10.0.0.7",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        login(&t, addr(7), "bob", "pw-bob").await.status,
        StatusCode::SEE_OTHER
    );
}

// ---------------------------------------------------------------------------------------------
// Open redirect after sign-in.

#[tokio::test]
async fn post_login_destination_is_a_same_origin_path_or_slash() {
    let t = TestApp::with_people().await;
    let table: &[(&str, &str)] = &[
        ("/t/acme", "/t/acme"),
        (
            "/settings/connected-apps?tab=1",
            "/settings/connected-apps?tab=1",
        ),
        ("/t/acme/../globex", "/t/globex"),
        ("/\t/evil.example", "/"),
        ("/%09/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("/\r\nSet-Cookie: x=1", "/"),
        ("/ /evil.example", "/"),
        ("/\u{3000}/evil.example", "/"),
        ("/\u{0085}/evil.example", "/"),
        ("//evil.example", "/"),
        ("///evil.example", "/"),
        ("/\\evil.example", "/"),
        ("\\/evil.example", "/"),
        ("/%5Cevil.example", "/"),
        ("/%2F%2Fevil.example", "/"),
        ("/.//evil.example", "/"),
        ("https:evil.example", "/"),
        ("https://evil.example/", "/"),
        ("https://mcp.test/t/acme", "/"),
        ("javascript:alert(1)", "/"),
        ("evil.example", "/"),
        ("", "/"),
    ];
    for (i, (next, want)) in table.iter().enumerate() {
        let r = t
            .send(login_request(addr(1000 + i as u32), "bob", "pw-bob", next))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{next:?}: {}", r.text());
        assert_eq!(
            r.header("location").as_deref(),
            Some(*want),
            "next={next:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Field limits, aggregated throttle events, retention.

#[tokio::test]
async fn user_supplied_fields_are_capped_before_they_are_stored() {
    let t = TestApp::with_people().await;
    let huge = "u".repeat(900_000);
    for i in 0..3 {
        let r = login(&t, addr(10 + i), &huge, "x").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(
            r.body.len() < 100_000,
            "the page echoes {} bytes",
            r.body.len()
        );
    }
    let rows = t.state.store.audit_all(100).await.unwrap();
    assert!(!rows.is_empty());
    for e in &rows {
        let n = e.username.as_deref().unwrap_or("").chars().count();
        assert!(n <= 64, "audit username of {n} characters");
        assert!(e.detail.len() <= 4096);
    }
    // Registration: an over-long client name is cut, an over-long redirect URI refused.
    let b = Browser::new(&t.serve().await);
    let r = register(
        &b,
        &json!({"client_name": "n".repeat(100_000), "redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(r.json()["client_name"].as_str().unwrap().chars().count() <= 200);
    let long_uri = format!("https://app.example/{}", "p".repeat(10_000));
    let r = register(
        &b,
        &json!({"client_name": "x", "redirect_uris": [long_uri], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"], "invalid_redirect_uri");
}

#[tokio::test]
async fn refused_sign_ins_are_aggregated_in_the_audit_log() {
    let t = TestApp::with_people().await;
    let from = addr(20);
    for _ in 0..5 {
        login(&t, from, "alice", "guess").await;
    }
    for _ in 0..60 {
        assert_eq!(
            login(&t, from, "alice", "guess").await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    let rows = t.state.store.audit_all(1000).await.unwrap();
    let throttled: Vec<_> = rows
        .iter()
        .filter(|e| e.event == "login_throttled")
        .collect();
    // The 1st and the 10th refusal of the window, not one row per attempt.
    assert_eq!(throttled.len(), 2, "{throttled:#?}");
    assert!(throttled.iter().any(|e| e.detail.starts_with("10 ")));
}

#[tokio::test]
async fn audit_retention_prunes_old_entries_in_the_background() {
    let t = TestApp::with_config(|c| {
        c.audit_retention_days = 90;
        c.retention_interval_secs = 1;
    })
    .await;
    let store = &t.state.store;
    for (at, event) in [
        (START - 91 * 86_400, "old"),
        (START - 89 * 86_400, "recent"),
    ] {
        store
            .record_audit(&gigamcp_server::store::audit::AuditEntry {
                at,
                ..gigamcp_server::store::audit::AuditEntry::new(event, "x")
            })
            .await
            .unwrap();
    }
    t.state.spawn_background();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let events: Vec<String> = store
            .audit_all(10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect();
        if !events.contains(&"old".to_string()) {
            assert!(events.contains(&"recent".to_string()), "{events:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never pruned");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Authorization codes are kept a day after they expire (a late replay is still recognised) and
/// then dropped by the retention pass, not by the authorization endpoint.
#[tokio::test]
async fn retention_drops_authorization_codes_a_day_after_they_expired() {
    use gigamcp_server::store::audit::AuditEntry;
    use gigamcp_server::store::oauth::{ClientRecord, NewAuthCode};
    let t = TestApp::with_people().await;
    let store = &t.state.store;
    store
        .insert_client(&ClientRecord {
            client_id: "retention-client".into(),
            client_secret_hash: None,
            client_name: "retention".into(),
            kind: "dcr".into(),
            redirect_uris: vec!["https://client.example/cb".into()],
            token_endpoint_auth_method: "none".into(),
            grant_types: vec!["authorization_code".into()],
            response_types: vec!["code".into()],
            metadata: "{}".into(),
            created_at: START,
            last_used_at: None,
        })
        .await
        .unwrap();
    let alice = store.user_by_username("alice").await.unwrap().unwrap();
    let code = |hash: &str, expires_at: i64| NewAuthCode {
        code_hash: hash.into(),
        client_id: "retention-client".into(),
        user_id: alice.id.clone(),
        workspace_slug: "acme".into(),
        resource: "https://mcp.example.test/t/acme/mcp".into(),
        scopes: vec!["mcp:read".into()],
        redirect_uri: "https://client.example/cb".into(),
        redirect_uri_explicit: true,
        code_challenge: "c".into(),
        created_at: expires_at - 60,
        expires_at,
    };
    let day = gigamcp_server::oauth::audit::CODE_RETENTION;
    for (hash, expires_at) in [("long-gone", START - day - 1), ("late", START - day + 60)] {
        store
            .insert_auth_code(&code(hash, expires_at), &AuditEntry::new("test", "x"))
            .await
            .unwrap();
    }
    let pruned = gigamcp_server::oauth::audit::prune(store, &t.state.config, START)
        .await
        .unwrap();
    assert_eq!(pruned.codes, 1);
    let read = |hash| store.auth_code_with_client(hash, None);
    let (gone, no_client) = read("long-gone").await.unwrap();
    assert!(gone.is_none() && no_client.is_none());
    let (late, client) = read("late").await.unwrap();
    assert_eq!(late.unwrap().code.client_id, "retention-client");
    // With no client named, the code's own client is read with it.
    assert_eq!(client.unwrap().client_name, "retention");
    // A named client is read instead, known or not.
    let (late, client) = store
        .auth_code_with_client("late", Some("nobody"))
        .await
        .unwrap();
    assert!(late.is_some() && client.is_none());
    let (none, client) = store
        .auth_code_with_client("long-gone", Some("retention-client"))
        .await
        .unwrap();
    assert!(none.is_none());
    assert_eq!(client.unwrap().redirect_uris, ["https://client.example/cb"]);
}

// ---------------------------------------------------------------------------------------------
// Every 429 carries Retry-After; the registration limit is shared by replicas.

#[tokio::test]
async fn registration_limit_is_shared_and_says_when_to_retry() {
    let a = TestApp::new().await;
    let store = gigamcp_server::Store::connect(&a.db_url).await.unwrap();
    let b_state = gigamcp_server::AppState::new(
        (*a.state.config).clone(),
        store,
        std::sync::Arc::new(a.clock.clone()),
    )
    .await
    .unwrap();
    let b = gigamcp_server::app(b_state);
    let register_from = |router: gigamcp_server::edge::App| async move {
        use tower::ServiceExt;
        let mut req = Request::post("/api/oauth/server/register")
            .header("content-type", "application/json")
            .body(Body::from(
                json!({"client_name": "c", "redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "none"})
                    .to_string(),
            ))
            .unwrap();
        req.extensions_mut().insert(ConnectInfo(addr(30)));
        router.oneshot(req).await.unwrap()
    };
    let mut created = 0;
    let mut refused = None;
    for i in 0..45 {
        let router = if i % 2 == 0 {
            a.router.clone()
        } else {
            b.clone()
        };
        let resp = register_from(router).await;
        match resp.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                refused = resp
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().parse::<i64>().unwrap())
            }
            s => panic!("{s}"),
        }
    }
    assert_eq!(created, 20, "two replicas together allow 20 a minute");
    let retry = refused.expect("429 without Retry-After");
    assert!((1..=60).contains(&retry), "{retry}");
    a.clock.advance(61);
    assert_eq!(register_from(b).await.status(), StatusCode::CREATED);
}

// ---------------------------------------------------------------------------------------------
// Introspection rights (RFC 7662 §4).

async fn introspect(b: &Browser, id: &str, secret: Option<&str>, token: &str) -> Resp {
    let mut form = vec![("token", token), ("client_id", id)];
    if let Some(s) = secret {
        form.push(("client_secret", s));
    }
    b.post_form("/api/oauth/server/introspect", &form).await
}

#[tokio::test]
async fn only_resource_servers_and_the_owner_may_introspect() {
    let t = TestApp::with_people().await;
    let b = Browser::new(&t.serve().await);
    let chatgpt = register_chatgpt(&b).await;
    let token = connect(&b, "alice", &chatgpt, ACME).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    // Another self-registered confidential client learns nothing.
    let stranger = register_chatgpt(&b).await;
    let r = introspect(&b, &stranger.id, stranger.secret.as_deref(), &token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"active": false}));
    // The client the token was issued to sees it.
    let r = introspect(&b, &chatgpt.id, chatgpt.secret.as_deref(), &token).await;
    assert_eq!(r.json()["active"], true);
    // A resource server created by an administrator sees every token.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gigamcp"))
        .args([
            "admin",
            "--database-url",
            &t.db_url,
            "client",
            "create",
            "Billing API",
            "--introspection",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap()
            .to_string()
    };
    let (rs_id, rs_secret) = (field("client_id"), field("client_secret"));
    let r = introspect(&b, &rs_id, Some(&rs_secret), &token).await;
    let j = r.json();
    assert_eq!(j["active"], true, "{j}");
    assert_eq!(j["aud"], ACME);
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    // Its secret is needed (RFC 7662 §2.3: 401 invalid_client).
    let r = introspect(&b, &rs_id, Some("gmcp_cs_wrong"), &token).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"], "invalid_client");
    // Without --introspection a created client sees only its own tokens (none).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gigamcp"))
        .args([
            "admin",
            "--database-url",
            &t.db_url,
            "client",
            "create",
            "Other",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let get = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap()
            .to_string()
    };
    let r = introspect(&b, &get("client_id"), Some(&get("client_secret")), &token).await;
    assert_eq!(r.json(), json!({"active": false}));
}

// ---------------------------------------------------------------------------------------------
// Error redirects at the authorization endpoint (RFC 6749 §4.1.2.1, RFC 9700 §4.11.2).

#[tokio::test]
async fn request_errors_of_an_unapproved_client_never_redirect_before_the_user_acts() {
    let t = TestApp::with_people().await;
    let b = Browser::new(&t.serve().await);
    let phisher = register_public(&b, "https://phish.example/cb").await;
    let (_, ch) = pkce();
    let bad = authorize_path(
        &phisher.id,
        &phisher.redirect,
        &ch,
        "st",
        &[("resource", ACME), ("scope", "openid only-unknown")],
    );
    // Not signed in: sign in first, never a redirect to the client.
    let r = b.get(&bad).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location().starts_with("/login"), "{}", r.location());
    let back = sign_in(&b, &r.location(), "alice").await;
    // Signed in, but alice never approved this client: a page naming the error, with a link.
    let r = b.get(&back).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.header("location").is_none());
    assert!(r.text.contains("invalid_scope"), "{}", r.text);
    assert!(
        r.text
            .contains("https://phish.example/cb?error=invalid_scope"),
        "{}",
        r.text
    );
    // prompt=none without a session: a page too (no silent redirect to an unknown client).
    let fresh = Browser::new(&b.base);
    let r = fresh
        .get(&authorize_path(
            &phisher.id,
            &phisher.redirect,
            &ch,
            "st",
            &[("resource", ACME), ("prompt", "none")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("login_required"));
    // Deny on the consent page (which names the destination) redirects with access_denied.
    let page = b
        .get(&authorize_path(
            &phisher.id,
            &phisher.redirect,
            &ch,
            "st",
            &[("resource", ACME)],
        ))
        .await;
    assert!(page.text.contains("phish.example"));
    let r = consent(&b, &page, "deny", None).await;
    assert_eq!(r.status, StatusCode::FOUND);
    let p = r.location_params();
    assert_eq!(p["error"], "access_denied");
    assert_eq!(p["state"], "st");
    assert_eq!(p["iss"], "https://mcp.test");
}

#[tokio::test]
async fn request_errors_of_an_approved_client_redirect_with_state_and_iss() {
    let t = TestApp::with_people().await;
    let b = Browser::new(&t.serve().await);
    let chatgpt = register_chatgpt(&b).await;
    connect(&b, "alice", &chatgpt, ACME).await;
    let (_, ch) = pkce();
    let r = b
        .get(&authorize_path(
            &chatgpt.id,
            CHATGPT_REDIRECT,
            &ch,
            "st-2",
            &[("resource", "https://mcp.test/t/nope/mcp")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
    let p = r.location_params();
    assert_eq!(p["error"], "invalid_target");
    assert_eq!(p["state"], "st-2");
    assert_eq!(p["iss"], "https://mcp.test");
}

// ---------------------------------------------------------------------------------------------
// Client ID Metadata Documents.

mod cimd {
    use super::*;
    use gigamcp_server::config::CimdPolicy;
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, Request as WireRequest, Respond, ResponseTemplate};

    /// Serves a valid document for whatever path is asked (the field is the server's base URL).
    struct AnyDocument(String);
    impl Respond for AnyDocument {
        fn respond(&self, req: &WireRequest) -> ResponseTemplate {
            let id = format!("{}{}", self.0, req.url.path());
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string(
                    json!({"client_id": id, "client_name": "Doc", "redirect_uris": [CHATGPT_REDIRECT], "token_endpoint_auth_method": "none"})
                        .to_string(),
                )
        }
    }

    async fn app() -> (TestApp, MockServer) {
        let t = TestApp::with_config(|c| {
            c.cimd = CimdPolicy {
                enabled: true,
                allow_http_loopback: true,
            }
        })
        .await;
        t.seed_people().await;
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(AnyDocument(server.uri()))
            .mount(&server)
            .await;
        (t, server)
    }

    async fn cimd_rows(t: &TestApp) -> i64 {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) FROM oauth_clients WHERE kind = 'cimd'")
            .fetch_one(t.state.store.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }

    fn authorize_get(client_id: &str, from: SocketAddr) -> Request<Body> {
        let (_, ch) = pkce();
        let mut req = Request::get(authorize_path(
            client_id,
            CHATGPT_REDIRECT,
            &ch,
            "s",
            &[("resource", ACME)],
        ))
        .body(Body::empty())
        .unwrap();
        req.extensions_mut().insert(ConnectInfo(from));
        req
    }

    #[tokio::test]
    async fn fetches_are_rate_limited_per_address_and_leave_no_rows() {
        let (t, server) = app().await;
        let mut fetched = 0;
        let mut limited = 0;
        for i in 0..30 {
            let id = format!("{}/clients/{i}.json", server.uri());
            let r = t.send(authorize_get(&id, addr(40))).await;
            match r.status {
                // Sign-in page first: the document was fetched and accepted.
                StatusCode::SEE_OTHER => fetched += 1,
                StatusCode::TOO_MANY_REQUESTS => {
                    limited += 1;
                    assert!(r.header("retry-after").is_some());
                }
                s => panic!("{s}: {}", r.text()),
            }
        }
        assert_eq!(fetched, 10, "10 fetches a minute per address");
        assert_eq!(limited, 20);
        assert_eq!(server.received_requests().await.unwrap().len(), 10);
        // Nobody consented: nothing was stored.
        assert_eq!(cimd_rows(&t).await, 0);
        // Another address is not affected.
        let id = format!("{}/clients/other.json", server.uri());
        assert_eq!(
            t.send(authorize_get(&id, addr(41))).await.status,
            StatusCode::SEE_OTHER
        );
    }

    #[tokio::test]
    async fn the_client_row_is_created_by_the_users_approval() {
        let (t, server) = app().await;
        let b = Browser::new(&t.serve().await);
        let id = format!("{}/clients/approved.json", server.uri());
        let c = Client {
            id: id.clone(),
            secret: None,
            redirect: CHATGPT_REDIRECT.into(),
        };
        let (_, ch) = pkce();
        let path = authorize_path(&id, CHATGPT_REDIRECT, &ch, "s", &[("resource", ACME)]);
        let r = b.get(&path).await;
        let back = sign_in(&b, &r.location(), "alice").await;
        let page = b.get(&back).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert_eq!(
            cimd_rows(&t).await,
            0,
            "the consent page alone stores nothing"
        );
        let r = consent(&b, &page, "deny", None).await;
        assert_eq!(r.status, StatusCode::FOUND);
        assert_eq!(cimd_rows(&t).await, 0, "a denied client leaves nothing");
        let tokens = connect(&b, "alice", &c, ACME).await;
        assert!(tokens["access_token"].is_string());
        assert_eq!(cimd_rows(&t).await, 1);
    }

    #[tokio::test]
    async fn ipv4_compatible_and_6to4_addresses_are_never_dialled() {
        let t = TestApp::with_config(|c| {
            c.cimd = CimdPolicy {
                enabled: true,
                allow_http_loopback: false,
            }
        })
        .await;
        for host in [
            "[::a9fe:a9fe]",
            "[2002:a9fe:a9fe::1]",
            "192.0.0.8",
            "[64:ff9b::a9fe:a9fe]",
        ] {
            let id = format!("https://{host}/client.json");
            let r = t.send(authorize_get(&id, addr(50))).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{host}");
            assert!(
                r.text().contains("non-public address"),
                "{host}: {}",
                r.text()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// GitHub connector: bounded reads, global addresses only.

mod github {
    use super::*;
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[tokio::test]
    async fn an_oversized_page_is_refused_not_buffered() {
        let t = TestApp::with_people().await;
        let server = MockServer::start().await;
        // A valid (empty) issue list padded past the 32 MiB page limit.
        let mut body = String::with_capacity(33 * 1024 * 1024 + 2);
        body.push('[');
        body.push_str(&" ".repeat(33 * 1024 * 1024));
        body.push(']');
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
            .mount(&server)
            .await;
        let err = t
            .state
            .knowledge
            .sync_github("acme", &server.uri(), None, "acme/app", START)
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("larger than"), "{err:#}");
    }

    #[tokio::test]
    async fn a_host_name_resolving_to_a_private_address_is_refused() {
        let t = TestApp::with_people().await;
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_raw("[]", "application/json"))
            .mount(&server)
            .await;
        let port = server.address().port();
        let err = t
            .state
            .knowledge
            .sync_github(
                "acme",
                &format!("http://localhost:{port}"),
                Some("ghp_secret"),
                "acme/app",
                START,
            )
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("non-public address"), "{err:#}");
        assert!(server.received_requests().await.unwrap().is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// Durability: a process killed with SIGKILL during a stream of registrations and token grants
// loses no write it acknowledged (SQLite WAL, or PostgreSQL with GIGAMCP_TEST_POSTGRES_URL).

mod durability {
    use super::*;
    use std::process::{Command, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    const BIN: &str = env!("CARGO_BIN_EXE_gigamcp");

    use crate::support::process::Proc;

    fn admin(db: &str, args: &[&str], stdin: Option<&str>) {
        use std::io::Write;
        let mut child = Command::new(BIN)
            .args(["admin", "--database-url", db])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn serve(db: &str) -> (Proc, String) {
        let port = support::free_port();
        let child = Command::new(BIN)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .args(["--public-url", "https://mcp.test", "--database-url", db])
            .args(["--registration-rate-limit", "100000"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut proc = Proc::adopt("gigamcp", child);
        proc.wait_for_port(port, Duration::from_secs(60));
        (proc, format!("http://127.0.0.1:{port}"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn kill_9_loses_no_acknowledged_registration_or_grant() {
        let dir = tempfile::tempdir().unwrap();
        let db = support::test_database_url(dir.path()).await;
        admin(
            &db,
            &["workspace", "create", "acme", "--name", "Acme"],
            None,
        );
        admin(
            &db,
            &["user", "create", "alice", "--password-stdin"],
            Some("pw-alice\n"),
        );
        admin(&db, &["member", "add", "acme", "alice"], None);

        let (proc_, base) = serve(&db);
        let b = Arc::new(Browser::new(&base));
        let client = register_chatgpt(&b).await;
        let first = connect(&b, "alice", &client, ACME).await;
        let client = Arc::new(client);

        // Registrations from 4 tasks and a chain of refresh rotations, until the kill.
        let acked_clients = Arc::new(Mutex::new(Vec::<String>::new()));
        let acked_pair = Arc::new(Mutex::new((
            first["refresh_token"].as_str().unwrap().to_string(),
            first["access_token"].as_str().unwrap().to_string(),
        )));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let (b, acked, stop) = (b.clone(), acked_clients.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let body = json!({"client_name": "d", "redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "none"});
                    let Ok(r) = b.http.post(b.url("/api/oauth/server/register")).json(&body).send().await else {
                        break;
                    };
                    if r.status() != StatusCode::CREATED {
                        break;
                    }
                    let Ok(j) = r.json::<serde_json::Value>().await else { break };
                    acked.lock().unwrap().push(j["client_id"].as_str().unwrap().to_string());
                }
            }));
        }
        {
            let (b, pair, stop, client) =
                (b.clone(), acked_pair.clone(), stop.clone(), client.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let rt = pair.lock().unwrap().0.clone();
                    let form = [
                        ("grant_type", "refresh_token"),
                        ("refresh_token", rt.as_str()),
                        ("client_id", client.id.as_str()),
                        ("client_secret", client.secret.as_deref().unwrap()),
                    ];
                    let Ok(r) = b
                        .http
                        .post(b.url("/api/oauth/server/token"))
                        .form(&form)
                        .send()
                        .await
                    else {
                        break;
                    };
                    if r.status() != StatusCode::OK {
                        break;
                    }
                    let Ok(j) = r.json::<serde_json::Value>().await else {
                        break;
                    };
                    *pair.lock().unwrap() = (
                        j["refresh_token"].as_str().unwrap().to_string(),
                        j["access_token"].as_str().unwrap().to_string(),
                    );
                }
            }));
        }
        // Let writes stream, then SIGKILL mid-stream.
        let deadline = Instant::now() + Duration::from_secs(20);
        while acked_clients.lock().unwrap().len() < 60 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(proc_);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
        let clients = acked_clients.lock().unwrap().clone();
        let (rt, at) = acked_pair.lock().unwrap().clone();
        assert!(
            clients.len() >= 20,
            "only {} registrations before the kill",
            clients.len()
        );

        // Restart on the same database: every acknowledged write is there.
        let store = gigamcp_server::Store::connect(&db).await.unwrap();
        for id in &clients {
            assert!(
                store.client(id).await.unwrap().is_some(),
                "registration {id} lost"
            );
        }
        let (_proc2, base2) = serve(&db);
        let b2 = Browser::new(&base2);
        assert_eq!(
            mcp_call(&b2, "acme", &at).await.status,
            StatusCode::OK,
            "the last acknowledged access token"
        );
        // The last acknowledged refresh token still refreshes (if the killed process had rotated
        // it without answering, the grace window returns that successor).
        let r = refresh(&b2, &client, &rt, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
}

// ---------------------------------------------------------------------------------------------
// MCP transport: protocol version on a session, GET streams outliving revocation.

mod transport {
    use super::*;
    use std::time::{Duration, Instant};
    use tower::ServiceExt;

    fn mcp_post(
        token: &str,
        version: Option<&str>,
        sid: Option<&str>,
        body: serde_json::Value,
    ) -> Request<Body> {
        let mut b = Request::post("/t/acme/mcp")
            .header("authorization", format!("Bearer {token}"))
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json");
        if let Some(v) = version {
            b = b.header("mcp-protocol-version", v);
        }
        if let Some(s) = sid {
            b = b.header("mcp-session-id", s);
        }
        b.body(Body::from(body.to_string())).unwrap()
    }

    async fn initialize(t: &TestApp, token: &str, version: &str) -> String {
        let r = t
            .send(mcp_post(
                token,
                None,
                None,
                json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.header("mcp-session-id").expect("a session id")
    }

    #[tokio::test]
    async fn a_supported_revision_other_than_the_sessions_is_served_at_the_sessions_version() {
        let t = TestApp::with_people().await;
        let token = t.token("acme", "alice", "mcp:read mcp:tools").await;
        let sid = initialize(&t, &token, "2025-03-26").await;
        for header in ["2025-06-18", "2025-11-25"] {
            let r = t
                .send(mcp_post(
                    &token,
                    Some(header),
                    Some(&sid),
                    json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}),
                ))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{header}: {}", r.text());
            let text = r.text();
            let json_part = text
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap_or(&text);
            let j: serde_json::Value = serde_json::from_str(json_part).unwrap();
            // 2025-03-26 tools carry no outputSchema or title: the session's version applies.
            for tool in j["result"]["tools"].as_array().unwrap() {
                assert!(tool.get("outputSchema").is_none(), "{header}: {tool}");
            }
        }
        // An unsupported version is still a 400.
        let r = t
            .send(mcp_post(
                &token,
                Some("1999-01-01"),
                Some(&sid),
                json!({"jsonrpc": "2.0", "id": 3, "method": "ping", "params": {}}),
            ))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }

    /// Opens the session's GET stream on a real socket; returns a task that resolves when the
    /// server ends the stream.
    async fn open_stream(base: &str, token: &str, sid: &str) -> tokio::task::JoinHandle<Instant> {
        let resp = reqwest::Client::new()
            .get(format!("{base}/t/acme/mcp"))
            .header("authorization", format!("Bearer {token}"))
            .header("accept", "text/event-stream")
            .header("mcp-session-id", sid)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let mut resp = resp;
        tokio::spawn(async move {
            while let Ok(Some(_)) = resp.chunk().await {}
            Instant::now()
        })
    }

    #[tokio::test]
    async fn a_get_stream_closes_within_a_second_of_its_grant_being_revoked() {
        let t = TestApp::with_people().await;
        let base = t.serve().await;
        let b = Browser::new(&base);
        let chatgpt = register_chatgpt(&b).await;
        let token = connect(&b, "alice", &chatgpt, ACME).await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let sid = initialize(&t, &token, "2025-06-18").await;
        let ended = open_stream(&base, &token, &sid).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !ended.is_finished(),
            "the stream must stay open while the grant lives"
        );
        let r = b
            .post_form(
                "/api/oauth/server/revoke",
                &[
                    ("token", token.as_str()),
                    ("client_id", chatgpt.id.as_str()),
                    ("client_secret", chatgpt.secret.as_deref().unwrap()),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let revoked = Instant::now();
        let closed = tokio::time::timeout(Duration::from_secs(5), ended)
            .await
            .expect("the stream outlived its revoked grant")
            .unwrap();
        let after = closed.saturating_duration_since(revoked);
        assert!(
            after < Duration::from_secs(1),
            "closed {after:?} after revocation"
        );
    }

    #[tokio::test]
    async fn a_get_stream_closes_within_a_second_of_its_member_being_removed_elsewhere() {
        // Removal by another process (the admin CLI): seen through the epoch poller.
        let t = TestApp::with_config(|c| c.auth_epoch_poll_ms = 200).await;
        t.seed_people().await;
        t.state.spawn_background();
        let base = t.serve().await;
        let token = t.token("acme", "alice", "mcp:read mcp:tools").await;
        let sid = initialize(&t, &token, "2025-11-25").await;
        let ended = open_stream(&base, &token, &sid).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!ended.is_finished());
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gigamcp"))
            .args([
                "admin",
                "--database-url",
                &t.db_url,
                "member",
                "remove",
                "acme",
                "alice",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let removed = Instant::now();
        let closed = tokio::time::timeout(Duration::from_secs(5), ended)
            .await
            .expect("the stream outlived the membership")
            .unwrap();
        let after = closed.saturating_duration_since(removed);
        assert!(
            after < Duration::from_secs(1),
            "closed {after:?} after the removal"
        );
        // And the session's POSTs are refused too.
        let r = t
            .router
            .clone()
            .oneshot(mcp_post(
                &token,
                None,
                Some(&sid),
                json!({"jsonrpc": "2.0", "id": 9, "method": "ping", "params": {}}),
            ))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
}

/// Ordinary writes commit relaxed (in the log, not yet on disk) and everything that takes access
/// away commits fully (`store::Durability`), as the database itself reports it.
#[tokio::test]
async fn ordinary_writes_are_relaxed_and_revocations_wait_for_the_disk() {
    let t = TestApp::with_people().await;
    let (relaxed, full) = t.state.store.durability_settings().await.unwrap();
    match t.state.store.backend() {
        gigamcp_server::store::Backend::Sqlite => {
            assert_eq!((relaxed.as_str(), full.as_str()), ("NORMAL", "FULL"));
        }
        gigamcp_server::store::Backend::Postgres => {
            assert_eq!((relaxed.as_str(), full.as_str()), ("off", "on"));
        }
    }
    // A revocation through the durable connection while the relaxed writer is busy: both land.
    let token = t.token("acme", "alice", "mcp:read mcp:tools").await;
    let hash = gigamcp_server::secrets::hash_secret(&token);
    let (revoked, issued) = tokio::join!(
        t.state.store.revoke_access_token_hash(&hash, START + 1),
        t.token("globex", "bob", "mcp:read"),
    );
    assert!(revoked.unwrap());
    let still = t
        .state
        .store
        .access_token_by_hash(&hash)
        .await
        .unwrap()
        .unwrap();
    assert!(still.token_revoked);
    let other = gigamcp_server::secrets::hash_secret(&issued);
    let live = t
        .state
        .store
        .access_token_by_hash(&other)
        .await
        .unwrap()
        .unwrap();
    assert!(!live.token_revoked);
}

/// `serve` checkpoints SQLite's write-ahead log off the writer (no fsync inside a token grant's
/// commit), and the log still stays bounded under a stream of writes that never pauses.
#[tokio::test(flavor = "multi_thread")]
async fn the_wal_is_checkpointed_off_the_writer_and_stays_bounded() {
    use gigamcp_server::store::{Backend, Store, audit::AuditEntry};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&Store::sqlite_url_for(dir.path()))
        .await
        .unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    store.spawn_checkpointer().await.unwrap();
    let auto: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
        .fetch_one(store.writer())
        .await
        .unwrap();
    assert_eq!(auto, 0, "the writer must not checkpoint in its commits");
    // About 5 pages per entry (the table and its four indexes): 60,000 pages, 240 MB of log if
    // nothing checkpointed it.
    let wal = dir.path().join("gigamcp.db-wal");
    let mut largest = 0;
    for i in 0..12_000 {
        let entry = AuditEntry {
            at: START + i,
            workspace_slug: Some(format!("ws-{}", i % 97)),
            user_id: Some(format!("u-{}", i % 89)),
            ..AuditEntry::new("wal_test", "x".repeat(1_000))
        };
        store.record_audit(&entry).await.unwrap();
        if i % 500 == 0 {
            largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        }
    }
    // Without the checkpointer the log reached 73,194 pages. With it, it stays within a few
    // resets (`WAL_RESET_PAGES`, 2,048) of the writes between two 200 ms ticks; on a 2-core
    // machine running the suite's other tests beside it, one run reached 12,264 pages, so the
    // bound is a third of the unchecked log, not a sixth.
    let pages = largest / 4_096;
    assert!(
        pages < 24_000,
        "the log grew to {pages} pages: the checkpointer is not keeping it bounded"
    );
}

/// PostgreSQL only: a pooled or leased connection the database dropped while it sat idle (a
/// restarted server, a proxy's idle timeout) is replaced when next handed out, and the query
/// succeeds. Hot connections skip the ping before use (`store::db`, `store::lease`), so this
/// holds only because connections idle for a while are still pinged first.
#[tokio::test(flavor = "multi_thread")]
async fn a_postgresql_connection_dropped_while_idle_is_replaced_not_failed() {
    use sqlx::Row;
    if std::env::var("GIGAMCP_TEST_POSTGRES_URL").is_err() {
        eprintln!("skipped: GIGAMCP_TEST_POSTGRES_URL is not set");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = support::test_database_url(dir.path()).await;
    let store = gigamcp_server::Store::connect(&url).await.unwrap();
    let backend = |store: &gigamcp_server::Store| {
        let pool = store.pool().clone();
        async move {
            sqlx::query("SELECT pg_backend_pid()")
                .fetch_one(&pool)
                .await
                .map(|r| r.get::<i32, _>(0))
        }
    };
    let before = backend(&store).await.unwrap();
    // A point read on a leased connection (`store::lease`), which then sits idle too.
    assert!(store.client("no-such-client").await.unwrap().is_none());
    // Every backend of this database but the killer's own goes away.
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let killed = sqlx::query(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()) AS t",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap()
    .get::<i64, _>(0);
    assert!(killed >= 2, "no pooled and leased connections to drop");
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let after = backend(&store)
        .await
        .expect("a dropped idle connection was handed out");
    assert_ne!(after, before);
    let leased = store.client("no-such-client").await;
    assert!(
        matches!(leased, Ok(None)),
        "a dropped leased connection was used: {leased:?}"
    );
}
