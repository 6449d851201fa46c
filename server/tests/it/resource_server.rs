//! The MCP endpoint as an OAuth protected resource: RFC 9728 metadata, RFC 6750 challenges,
//! RFC 8707 audience binding, revocation and membership changes, on the real router and SQLite.

use crate::support::{ClockExt, PUBLIC_URL, TestApp};
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use gigamcp_server::auth::authenticate;
use gigamcp_server::error::AppError;
use gigamcp_server::{AppState, Config, Store};
use std::sync::Arc;

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    h
}

/// Renders an authentication failure the way a client sees it.
async fn rejection(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
    slug: &str,
) -> (StatusCode, String, serde_json::Value) {
    use axum::response::IntoResponse;
    let err = authenticate(state, headers, query, slug)
        .await
        .expect_err("expected rejection");
    assert!(matches!(err, AppError::Bearer(_)), "{err:?}");
    let resp = err.into_response();
    let status = resp.status();
    let www = resp
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .expect("challenge")
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        resp.headers().get(header::CACHE_CONTROL).unwrap(),
        "no-store"
    );
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, www, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn protected_resource_metadata_per_workspace() {
    let t = TestApp::with_people().await;
    let r = t
        .get("/.well-known/oauth-protected-resource/t/acme/mcp")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    insta::assert_json_snapshot!("prm_acme", r.json());
    assert_eq!(r.json()["resource"], format!("{PUBLIC_URL}/t/acme/mcp"));
    assert_eq!(r.json()["authorization_servers"][0], PUBLIC_URL);

    let head = t
        .send(
            Request::head("/.well-known/oauth-protected-resource/t/globex/mcp")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());

    let unknown = t
        .get("/.well-known/oauth-protected-resource/t/nope/mcp")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["error"], "not_found");

    let root = t.get("/.well-known/oauth-protected-resource").await;
    assert_eq!(root.status, StatusCode::NOT_FOUND);
    insta::assert_json_snapshot!("prm_root_404", root.json());
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json() {
    let t = TestApp::new().await;
    let r = t.get("/api/does-not-exist").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"], "not_found");
    let r = t
        .send(
            Request::post("/.well-known/oauth-protected-resource")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.json()["error"], "method_not_allowed");
    assert_eq!(
        r.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
}

#[tokio::test]
async fn valid_token_authenticates_for_its_workspace_only() {
    let t = TestApp::with_people().await;
    let token = t.token("acme", "alice", "mcp:read mcp:tools").await;
    let p = authenticate(&t.state, &bearer(&token), None, "acme")
        .await
        .unwrap();
    assert_eq!(p.username, "alice");
    assert_eq!(p.workspace_slug, "acme");
    assert!(p.has_scope("mcp:tools"));

    // RFC 8707: a token for acme presented at globex (where alice is also a member) is rejected.
    let (status, www, body) = rejection(&t.state, &bearer(&token), None, "globex").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(www.contains("error=\"invalid_token\""), "{www}");
    assert!(
        www.contains(&format!(
            "resource_metadata=\"{PUBLIC_URL}/.well-known/oauth-protected-resource/t/globex/mcp\""
        )),
        "{www}"
    );
    assert_eq!(body["error"], "invalid_token");

    // Lower-case scheme is the same scheme (RFC 9110 §11.1).
    let mut h = HeaderMap::new();
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("bearer {token}")).unwrap(),
    );
    assert!(authenticate(&t.state, &h, None, "acme").await.is_ok());
}

#[tokio::test]
async fn challenges_are_rfc6750_shaped() {
    let t = TestApp::with_people().await;
    // No credentials: 401, resource_metadata and scope, and no error code (RFC 6750 §3.1).
    let (status, www, _) = rejection(&t.state, &HeaderMap::new(), None, "acme").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        www,
        format!(
            "Bearer resource_metadata=\"{PUBLIC_URL}/.well-known/oauth-protected-resource/t/acme/mcp\", scope=\"mcp:read mcp:tools\""
        )
    );
    // Another scheme is not bearer credentials.
    let mut basic = HeaderMap::new();
    basic.insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("Basic YWxpY2U6cHc="),
    );
    let (status, www, _) = rejection(&t.state, &basic, None, "acme").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!www.contains("error="));
    // Garbage and malformed tokens.
    for garbage in ["gmcp_at_not-a-real-token", "x", "eyJhbGciOiJub25lIn0.e30."] {
        let (status, www, _) = rejection(&t.state, &bearer(garbage), None, "acme").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{garbage}");
        assert!(www.contains("error=\"invalid_token\""));
    }
    let mut bad = HeaderMap::new();
    bad.insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("Bearer two words"),
    );
    let (status, _, body) = rejection(&t.state, &bad, None, "acme").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_token");
    // Token in the query string never authenticates (RFC 6750 §2.3 not supported; MCP forbids it).
    let token = t.token("acme", "alice", "mcp:read").await;
    let (status, www, _) = rejection(
        &t.state,
        &HeaderMap::new(),
        Some(&format!("access_token={token}")),
        "acme",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(www.contains("error=\"invalid_request\""));
    let (status, _, _) = rejection(
        &t.state,
        &bearer(&token),
        Some(&format!("access_token={token}")),
        "acme",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn expiry_follows_the_injected_clock() {
    let t = TestApp::with_people().await;
    let token = t.token("acme", "alice", "mcp:read").await;
    assert!(
        authenticate(&t.state, &bearer(&token), None, "acme")
            .await
            .is_ok()
    );
    t.clock.advance(3599);
    assert!(
        authenticate(&t.state, &bearer(&token), None, "acme")
            .await
            .is_ok()
    );
    t.clock.advance(1);
    let (status, www, body) = rejection(&t.state, &bearer(&token), None, "acme").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(www.contains("invalid_token"));
    assert_eq!(body["error_description"], "the access token expired");
}

#[tokio::test]
async fn revocation_and_membership_removal_take_effect_on_the_next_request() {
    let t = TestApp::with_people().await;
    let token = t.token("globex", "bob", "mcp:read").await;
    let p = authenticate(&t.state, &bearer(&token), None, "globex")
        .await
        .unwrap();
    assert_eq!(t.state.tokens.cached_len(), 1);

    // In-process revocation: revoke + invalidate, the very next request fails.
    t.state
        .store
        .revoke_grant(&p.grant_id, t.clock.now_secs())
        .await
        .unwrap();
    t.state.tokens.invalidate_all();
    let (status, _, body) = rejection(&t.state, &bearer(&token), None, "globex").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_description"], "the access token was revoked");

    // Membership removal by another process sharing the database (the admin CLI): the cached
    // validation is dropped as soon as the auth epoch is observed.
    let token = t.token("globex", "alice", "mcp:read").await;
    authenticate(&t.state, &bearer(&token), None, "globex")
        .await
        .unwrap();
    let other = Store::connect(&t.db_url).await.unwrap();
    let alice = other.user_by_username("alice").await.unwrap().unwrap();
    assert!(
        other
            .remove_member("globex", &alice.id, t.clock.now_secs())
            .await
            .unwrap()
    );
    // Still cached until the poller observes the epoch (bounded by auth_epoch_poll_ms)…
    assert!(
        authenticate(&t.state, &bearer(&token), None, "globex")
            .await
            .is_ok()
    );
    t.state
        .tokens
        .observe_epoch(t.state.store.auth_epoch().await.unwrap());
    let (status, _, _) = rejection(&t.state, &bearer(&token), None, "globex").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // …and alice's acme access is untouched.
    let acme = t.token("acme", "alice", "mcp:read").await;
    assert!(
        authenticate(&t.state, &bearer(&acme), None, "acme")
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn background_poller_follows_other_processes() {
    let t = TestApp::with_config(|c: &mut Config| c.auth_epoch_poll_ms = 50).await;
    t.seed_people().await;
    t.state.spawn_background();
    let token = t.token("acme", "alice", "mcp:read").await;
    let p = authenticate(&t.state, &bearer(&token), None, "acme")
        .await
        .unwrap();
    let other = Store::connect(&t.db_url).await.unwrap();
    other
        .revoke_grant(&p.grant_id, t.clock.now_secs())
        .await
        .unwrap();
    let mut rejected = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if authenticate(&t.state, &bearer(&token), None, "acme")
            .await
            .is_err()
        {
            rejected = true;
            break;
        }
    }
    assert!(rejected, "revocation by another process was never observed");
}

#[tokio::test]
async fn personal_tokens_are_validated_against_the_store() {
    let t = TestApp::with_people().await;
    use gigamcp_server::auth::pat::{PatError, issue_personal_token};
    let s = &t.state.store;
    let c: &Arc<Config> = &t.state.config;
    let now = t.clock.now_secs();
    assert!(matches!(
        issue_personal_token(s, c, "acme", "bob", "mcp:read", 3600, now).await,
        Err(PatError::NotMember(..))
    ));
    assert!(matches!(
        issue_personal_token(s, c, "nope", "bob", "mcp:read", 3600, now).await,
        Err(PatError::UnknownWorkspace(_))
    ));
    assert!(matches!(
        issue_personal_token(s, c, "acme", "carol", "mcp:read", 3600, now).await,
        Err(PatError::UnknownUser(_))
    ));
    assert!(matches!(
        issue_personal_token(s, c, "acme", "alice", "admin", 3600, now).await,
        Err(PatError::UnknownScope(_))
    ));
    assert!(matches!(
        issue_personal_token(s, c, "acme", "alice", "mcp:read", 5, now).await,
        Err(PatError::BadTtl)
    ));
    let issued = issue_personal_token(s, c, "acme", "alice", "mcp:read", 600, now)
        .await
        .unwrap();
    // Only the hash is stored.
    let plain: Option<(String,)> =
        sqlx::query_as("SELECT token_hash FROM access_tokens WHERE token_hash = $1")
            .bind(&issued.token)
            .fetch_optional(s.pool())
            .await
            .unwrap();
    assert!(plain.is_none());
    let grants = s
        .grants_of_user(&s.user_by_username("alice").await.unwrap().unwrap().id)
        .await
        .unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].client_kind, "builtin");
    assert_eq!(grants[0].resource, format!("{PUBLIC_URL}/t/acme/mcp"));
}
