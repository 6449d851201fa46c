//! The authorization server end to end, over a real socket with `reqwest` (no redirect
//! following, cookies handled by hand so `__Host-`/`Secure` cookies work over the test's plain
//! HTTP): discovery → DCR → authorize → sign-in → consent → token → MCP → refresh → revoke,
//! every negative the issue names, and insta snapshots of the metadata and error bodies.
use crate::support;

use crate::support::{ClockExt, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::oauth_client::*;

async fn setup() -> (TestApp, Browser) {
    let t = TestApp::with_people().await;
    let base = t.serve().await;
    (t, Browser::new(&base))
}

// ---------------------------------------------------------------------------------------------
// The "Done when" flow.

#[tokio::test]
async fn chatgpt_full_flow_over_a_real_socket() {
    let (t, b) = setup().await;

    // 1. Unauthenticated MCP probe → 401 pointing at the PRM.
    let probe = b
        .send(
            b.http
                .post(b.url("/t/acme/mcp"))
                .header("accept", "application/json, text/event-stream")
                .json(&json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{}})),
        )
        .await;
    assert_eq!(probe.status, StatusCode::UNAUTHORIZED);
    assert!(probe.header("www-authenticate").unwrap().contains(
        "resource_metadata=\"https://mcp.test/.well-known/oauth-protected-resource/t/acme/mcp\""
    ));

    // 2. PRM and AS metadata; issuer byte-equal to authorization_servers[0].
    let prm = b
        .get("/.well-known/oauth-protected-resource/t/acme/mcp")
        .await
        .json();
    let head = b
        .send(
            b.http
                .head(b.url("/.well-known/oauth-authorization-server")),
        )
        .await;
    assert_eq!(head.status, StatusCode::OK);
    let asm = b
        .get("/.well-known/oauth-authorization-server")
        .await
        .json();
    assert_eq!(asm["issuer"], prm["authorization_servers"][0]);
    assert_eq!(asm["issuer"], "https://mcp.test");
    assert_eq!(prm["resource"], ACME);
    let oidc = b.get("/.well-known/openid-configuration").await;
    assert_eq!(oidc.status, StatusCode::NOT_FOUND);
    assert_eq!(oidc.json()["error"], "not_found");

    // 3. DCR with ChatGPT's exact body.
    let c = register_chatgpt(&b).await;
    assert!(c.secret.as_deref().unwrap().starts_with("gmcp_cs_"));

    // 4. Authorize → sign-in page.
    let (verifier, challenge) = pkce();
    let state = chatgpt_state();
    let path = authorize_path(
        &c.id,
        CHATGPT_REDIRECT,
        &challenge,
        &state,
        &[
            ("scope", "mcp:read mcp:tools"),
            ("resource", ACME),
            ("ui_locales", "en-US"),
        ],
    );
    let r = b.get(&path).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let login = r.location();
    assert!(
        login.starts_with("/login?next=%2Fapi%2Foauth%2Fserver%2Fauthorize"),
        "{login}"
    );

    // 5. Login form (no JavaScript needed) → session cookie.
    let back = sign_in(&b, &login, "alice").await;
    assert!(b.has_cookie("__Host-gigamcp_session"));
    assert!(back.starts_with("/api/oauth/server/authorize?"));

    // 6. Consent page.
    let page = b.get(&back).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    for needle in [
        "ChatGPT",
        // A registered client whose redirect goes to chatgpt.com: verified by that domain.
        "verified: ChatGPT (chatgpt.com)",
        "chatgpt.com",
        "Acme Cloud",
        "name=\"decision\" value=\"approve\"",
        "name=\"decision\" value=\"deny\"",
        "Search and read",
    ] {
        assert!(page.text.contains(needle), "consent page lacks {needle:?}");
    }

    // 7. Approve → 302 to ChatGPT's callback with code, state and iss.
    let r = consent(&b, &page, "approve", None).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert!(
        r.location()
            .starts_with(&format!("{CHATGPT_REDIRECT}?code=gmcp_ac_"))
    );
    let q = r.location_params();
    assert_eq!(q["state"], state);
    assert_eq!(q["iss"], "https://mcp.test");

    // 8. Token exchange as ChatGPT sends it.
    let tok = exchange(&b, &c, &q["code"], &verifier, ACME).await;
    assert_eq!(tok.status, StatusCode::OK, "{}", tok.text);
    assert_eq!(tok.header("cache-control").as_deref(), Some("no-store"));
    let tj = tok.json();
    assert_eq!(tj["token_type"], "Bearer");
    assert_eq!(tj["expires_in"], 3600);
    assert_eq!(tj["scope"], "mcp:read mcp:tools");
    let at = tj["access_token"].as_str().unwrap().to_string();
    let rt = tj["refresh_token"].as_str().unwrap().to_string();
    assert!(at.starts_with("gmcp_at_") && rt.starts_with("gmcp_rt_"));

    // 9. MCP tools/call with the token; the token is bound to acme only.
    let call = mcp_call(&b, "acme", &at).await;
    assert_eq!(call.status, StatusCode::OK, "{}", call.text);
    assert!(call.text.contains("\"result\""), "{}", call.text);
    assert_eq!(
        mcp_call(&b, "globex", &at).await.status,
        StatusCode::UNAUTHORIZED
    );

    // 10. Refresh (rotation) → new pair works.
    let r2 = refresh(&b, &c, &rt, &[("resource", ACME)]).await;
    assert_eq!(r2.status, StatusCode::OK, "{}", r2.text);
    let j2 = r2.json();
    let (at2, rt2) = (
        j2["access_token"].as_str().unwrap().to_string(),
        j2["refresh_token"].as_str().unwrap().to_string(),
    );
    assert_ne!(rt2, rt);
    assert_eq!(mcp_call(&b, "acme", &at2).await.status, StatusCode::OK);

    // 11. Revoke the refresh token (RFC 7009) → the grant ends → 401 on the very next request.
    let rv = b
        .post_form(
            "/api/oauth/server/revoke",
            &[
                ("token", &rt2),
                ("token_type_hint", "refresh_token"),
                ("client_id", &c.id),
                ("client_secret", c.secret.as_deref().unwrap()),
            ],
        )
        .await;
    assert_eq!(rv.status, StatusCode::OK);
    let dead = mcp_call(&b, "acme", &at2).await;
    assert_eq!(dead.status, StatusCode::UNAUTHORIZED);
    assert!(
        dead.header("www-authenticate")
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    let again = refresh(&b, &c, &rt2, &[]).await;
    assert_eq!(error_body(&again)["error"], "invalid_grant");

    // The audit log has the story, and no secrets.
    let audit = t.state.store.audit_all(100).await.unwrap();
    let events: Vec<&str> = audit.iter().rev().map(|e| e.event.as_str()).collect();
    for e in [
        "client_registered",
        "login",
        "authorization_approved",
        "token_issued",
        "token_refreshed",
        "grant_revoked",
    ] {
        assert!(events.contains(&e), "audit lacks {e}: {events:?}");
    }
    let dump = format!("{audit:?}");
    for secret in [
        &at,
        &rt,
        &at2,
        &rt2,
        c.secret.as_ref().unwrap(),
        &q["code"],
        &verifier,
    ] {
        assert!(!dump.contains(secret.as_str()), "audit log leaks a secret");
    }
}

// ---------------------------------------------------------------------------------------------
// Discovery and registration.

#[tokio::test]
async fn metadata_documents_snapshot() {
    let (_t, b) = setup().await;
    let asm = b.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(asm.status, StatusCode::OK);
    insta::assert_json_snapshot!("authorization_server_metadata", asm.json());
    insta::assert_json_snapshot!(
        "openid_configuration_404",
        b.get("/.well-known/openid-configuration").await.json()
    );
    let head = b
        .send(b.http.head(b.url("/.well-known/openid-configuration")))
        .await;
    assert_eq!(head.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn registration_accepts_chatgpt_claude_and_public_clients() {
    let (_t, b) = setup().await;
    let r = register(&b, &chatgpt_registration()).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    insta::assert_json_snapshot!("register_chatgpt", r.json(), { ".client_id" => "[client_id]", ".client_secret" => "[client_secret]" });

    let claude = register(&b, &json!({"client_name":"Claude","redirect_uris":["https://claude.ai/api/mcp/auth_callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"client_secret_post","scope":"mcp:read"})).await;
    assert_eq!(claude.status, StatusCode::CREATED);
    assert!(claude.json()["client_secret"].is_string());

    let public = register(&b, &json!({"redirect_uris":["http://127.0.0.1/callback","http://localhost/callback"],"token_endpoint_auth_method":"none","application_type":"native"})).await;
    assert_eq!(public.status, StatusCode::CREATED);
    let pj = public.json();
    assert!(pj.get("client_secret").is_none());
    assert_eq!(pj["token_endpoint_auth_method"], "none");
    assert_eq!(pj["grant_types"], json!(["authorization_code"]));
}

#[tokio::test]
async fn registration_errors() {
    let (_t, b) = setup().await;
    let cases: [(&str, Value); 7] = [
        (
            "register_http_non_loopback",
            json!({"redirect_uris":["http://example.com/cb"]}),
        ),
        (
            "register_fragment",
            json!({"redirect_uris":["https://example.com/cb#x"]}),
        ),
        (
            "register_javascript",
            json!({"redirect_uris":["javascript:alert(1)"]}),
        ),
        (
            "register_wildcard",
            json!({"redirect_uris":["https://*.example.com/cb"]}),
        ),
        ("register_no_redirect_uris", json!({"client_name":"x"})),
        (
            "register_bad_auth_method",
            json!({"redirect_uris":["https://example.com/cb"],"token_endpoint_auth_method":"private_key_jwt"}),
        ),
        (
            "register_bad_grant_types",
            json!({"redirect_uris":["https://example.com/cb"],"grant_types":["client_credentials"]}),
        ),
    ];
    for (name, body) in cases {
        let r = register(&b, &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name}");
        insta::assert_json_snapshot!(name, error_body(&r));
    }
    let not_json = b
        .send(
            b.http
                .post(b.url("/api/oauth/server/register"))
                .header("content-type", "application/json")
                .body("{nope"),
        )
        .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(not_json.json()["error"], "invalid_client_metadata");
}

#[tokio::test]
async fn registration_is_rate_limited_per_ip() {
    let t = TestApp::with_config(|c| c.registration_rate_per_minute = 2).await;
    t.seed_people().await;
    // `serve()` has no connect info, so every caller counts as one unknown address.
    let b = Browser::new(&t.serve().await);
    for _ in 0..2 {
        assert_eq!(
            register(&b, &chatgpt_registration()).await.status,
            StatusCode::CREATED
        );
    }
    let r = register(&b, &chatgpt_registration()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // RFC 9110 §10.2.3: how long until the window lets the next registration through.
    assert_eq!(r.header("retry-after").as_deref(), Some("60"));
    insta::assert_json_snapshot!("register_rate_limited", error_body(&r));
    t.clock.advance(30);
    let r = register(&b, &chatgpt_registration()).await;
    assert_eq!(r.header("retry-after").as_deref(), Some("30"));
    t.clock.advance(31);
    assert_eq!(
        register(&b, &chatgpt_registration()).await.status,
        StatusCode::CREATED
    );
}

// ---------------------------------------------------------------------------------------------
// Authorization endpoint.

#[tokio::test]
async fn untrusted_client_or_redirect_gets_a_page_never_a_redirect() {
    let (_t, b) = setup().await;
    let c = register_chatgpt(&b).await;
    let (_, ch) = pkce();
    for path in [
        authorize_path("c_unknown", CHATGPT_REDIRECT, &ch, "s", &[]),
        authorize_path(&c.id, "https://evil.example/cb", &ch, "s", &[]),
        authorize_path(
            &c.id,
            "https://chatgpt.com/connector_platform_oauth_redirect/",
            &ch,
            "s",
            &[],
        ),
        authorize_path(
            &c.id,
            "https://chatgpt.com/connector/oauth/other",
            &ch,
            "s",
            &[],
        ),
    ] {
        let r = b.get(&path).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(r.header("location").is_none());
        // A page for the person in the browser, not a JSON error and not a redirect.
        assert!(
            r.header("content-type").unwrap().starts_with("text/html"),
            "{path}"
        );
        assert!(
            r.text.contains("<html") || r.text.contains("<!DOCTYPE"),
            "{}",
            r.text
        );
    }
    // The per-connection URI is an ordinary exact match.
    let r = b
        .get(&authorize_path(
            &c.id,
            "https://chatgpt.com/connector/oauth/HQfKFmhTEJCq",
            &ch,
            "s",
            &[("resource", ACME)],
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn request_errors_redirect_with_state_and_iss() {
    let (_t, b) = setup().await;
    let c = register_chatgpt(&b).await;
    // Errors redirect to a client the signed-in user approved (docs/oauth-reference.md "Error
    // redirects"); tests/it/hardening.rs covers unapproved clients and signed-out browsers.
    connect(&b, "alice", &c, ACME).await;
    let (_, ch) = pkce();
    let base = |extra: &[(&str, &str)], challenge: &str, method: Option<&str>| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("client_id", &c.id)
            .append_pair("redirect_uri", CHATGPT_REDIRECT)
            .append_pair("state", "st-1");
        if !challenge.is_empty() {
            q.append_pair("code_challenge", challenge);
        }
        if let Some(m) = method {
            q.append_pair("code_challenge_method", m);
        }
        for (k, v) in extra {
            q.append_pair(k, v);
        }
        format!("/api/oauth/server/authorize?{}", q.finish())
    };
    let cases = [
        (
            "authorize_unsupported_response_type",
            base(&[("response_type", "token")], &ch, Some("S256")),
        ),
        (
            "authorize_missing_response_type",
            base(&[], &ch, Some("S256")),
        ),
        (
            "authorize_missing_pkce",
            base(&[("response_type", "code")], "", None),
        ),
        (
            "authorize_plain_pkce",
            base(&[("response_type", "code")], &ch, Some("plain")),
        ),
        (
            "authorize_pkce_method_absent",
            base(&[("response_type", "code")], &ch, None),
        ),
        (
            "authorize_foreign_resource",
            base(
                &[
                    ("response_type", "code"),
                    ("resource", "https://evil.example/t/acme/mcp"),
                ],
                &ch,
                Some("S256"),
            ),
        ),
        (
            "authorize_unknown_workspace",
            base(
                &[
                    ("response_type", "code"),
                    ("resource", "https://mcp.test/t/nope/mcp"),
                ],
                &ch,
                Some("S256"),
            ),
        ),
        (
            "authorize_trailing_slash_resource",
            base(
                &[
                    ("response_type", "code"),
                    ("resource", "https://mcp.test/t/acme/mcp/"),
                ],
                &ch,
                Some("S256"),
            ),
        ),
        (
            "authorize_resource_with_query",
            base(
                &[
                    ("response_type", "code"),
                    ("resource", "https://mcp.test/t/acme/mcp?utm_source=x"),
                ],
                &ch,
                Some("S256"),
            ),
        ),
        (
            "authorize_only_unknown_scopes",
            base(
                &[
                    ("response_type", "code"),
                    ("resource", ACME),
                    ("scope", "openid profile"),
                ],
                &ch,
                Some("S256"),
            ),
        ),
    ];
    for (name, path) in cases {
        let r = b.get(&path).await;
        assert_eq!(r.status, StatusCode::FOUND, "{name}: {}", r.text);
        assert!(r.location().starts_with(CHATGPT_REDIRECT), "{name}");
        let q = r.location_params();
        assert_eq!(q["state"], "st-1", "{name}");
        assert_eq!(q["iss"], "https://mcp.test", "{name}");
        let mut sorted: Vec<(String, String)> = q.into_iter().collect();
        sorted.sort();
        insta::assert_json_snapshot!(name, sorted);
    }
}

#[tokio::test]
async fn scope_defaults_narrowing_and_ignored_parameters() {
    let (_t, b) = setup().await;
    let c = register_chatgpt(&b).await;
    // Reconnect without `scope` (Q18) plus parameters we do not know.
    let (v, ch) = pkce();
    let r = authorize(
        &b,
        "alice",
        &c,
        &ch,
        "s1",
        &[
            ("resource", ACME),
            ("ui_locales", "en-US"),
            ("id_token_hint", "eyJ.x.y"),
            ("response_mode", "query"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
    let t1 = exchange(&b, &c, &r.location_params()["code"], &v, ACME)
        .await
        .json();
    assert_eq!(t1["scope"], "mcp:read mcp:tools");
    // A cached list with a removed scope (Q19): unknown values dropped.
    let (v, ch) = pkce();
    let r = authorize(
        &b,
        "alice",
        &c,
        &ch,
        "s2",
        &[("resource", GLOBEX), ("scope", "mcp:read legacy:write")],
    )
    .await;
    let t2 = exchange(&b, &c, &r.location_params()["code"], &v, GLOBEX)
        .await
        .json();
    assert_eq!(t2["scope"], "mcp:read");
}

#[tokio::test]
async fn deny_returns_access_denied_with_state_and_iss() {
    let (_t, b) = setup().await;
    let c = register_chatgpt(&b).await;
    let (_, ch) = pkce();
    let r = b
        .get(&authorize_path(
            &c.id,
            CHATGPT_REDIRECT,
            &ch,
            "st-deny",
            &[("resource", ACME)],
        ))
        .await;
    let back = sign_in(&b, &r.location(), "alice").await;
    let page = b.get(&back).await;
    let r = consent(&b, &page, "deny", None).await;
    assert_eq!(r.status, StatusCode::FOUND);
    let q = r.location_params();
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st-deny");
    assert_eq!(q["iss"], "https://mcp.test");
}

#[tokio::test]
async fn consent_requires_the_session_csrf_token() {
    let (_t, b) = setup().await;
    let c = register_chatgpt(&b).await;
    let (_, ch) = pkce();
    let r = b
        .get(&authorize_path(
            &c.id,
            CHATGPT_REDIRECT,
            &ch,
            "s",
            &[("resource", ACME)],
        ))
        .await;
    let back = sign_in(&b, &r.location(), "alice").await;
    let page = b.get(&back).await;
    let mut fields = form_fields(&page.text, "/api/oauth/server/authorize");
    fields.retain(|(k, _)| k != "csrf");
    fields.push(("csrf".into(), "forged".into()));
    fields.push(("decision".into(), "approve".into()));
    let f: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = b.post_form("/api/oauth/server/authorize", &f).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.header("location").is_none());
}

#[tokio::test]
async fn existing_grant_skips_consent_but_not_sign_in() {
    let (t, b) = setup().await;
    let c = register_chatgpt(&b).await;
    let first = connect(&b, "alice", &c, ACME).await;
    // Same browser, same client, same scopes: straight back with a code.
    let (v, ch) = pkce();
    let r = b
        .get(&authorize_path(
            &c.id,
            CHATGPT_REDIRECT,
            &ch,
            "again",
            &[("resource", ACME)],
        ))
        .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
    let code = r.location_params()["code"].clone();
    let epoch = t.state.store.auth_epoch().await.unwrap();
    let second = exchange(&b, &c, &code, &v, ACME).await.json();
    // Other processes learn of it: the epoch (the sum of its rows, one of which the redemption
    // bumped) moved by one.
    assert_eq!(t.state.store.auth_epoch().await.unwrap(), epoch + 1);
    // Every row counts, whichever the redemption bumped.
    let db = sqlx::AnyPool::connect(&t.db_url).await.unwrap();
    sqlx::query("UPDATE auth_epoch SET epoch = epoch + 5 WHERE id = 16")
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(t.state.store.auth_epoch().await.unwrap(), epoch + 6);
    // The new grant supersedes the old one: one connection per client and workspace.
    assert_eq!(
        mcp_call(&b, "acme", first["access_token"].as_str().unwrap())
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        mcp_call(&b, "acme", second["access_token"].as_str().unwrap())
            .await
            .status,
        StatusCode::OK
    );
    // Its refresh token went with it, and the grant's audit entry, written in the same
    // transaction as the grant, counts what it superseded.
    let stale = refresh(&b, &c, first["refresh_token"].as_str().unwrap(), &[]).await;
    assert_eq!(error_body(&stale)["error"], "invalid_grant");
    let mut issued: Vec<String> = t
        .state
        .store
        .audit_all(100)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .filter(|e| e.event == "token_issued")
        .map(|e| e.detail)
        .collect();
    issued.sort(); // both in the same second: order within a second is not kept
    assert_eq!(
        issued,
        [
            "code exchanged; scopes mcp:read mcp:tools; superseded 0 older grant(s)",
            "code exchanged; scopes mcp:read mcp:tools; superseded 1 older grant(s)"
        ]
    );
    // A fresh browser must still sign in.
    let other = Browser::new(&b.base);
    let r = other
        .get(&authorize_path(
            &c.id,
            CHATGPT_REDIRECT,
            &ch,
            "again",
            &[("resource", ACME)],
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location().starts_with("/login"));
}

/// A client's last use (`oauth_clients.last_used_at`, kept for operators) is written by a
/// redemption only once it is more than a minute old: on PostgreSQL a written row stays locked
/// until commit, so writing it every time made one client's concurrent redemptions queue on it.
#[tokio::test]
async fn a_clients_last_use_is_written_at_most_once_a_minute() {
    use sqlx::Row;
    let (t, b) = setup().await;
    let c = register_chatgpt(&b).await;
    let db = sqlx::AnyPool::connect(&t.db_url).await.unwrap();
    let last_used = || async {
        sqlx::query("SELECT last_used_at FROM oauth_clients WHERE client_id = $1")
            .bind(&c.id)
            .fetch_one(&db)
            .await
            .unwrap()
            .try_get::<Option<i64>, _>(0)
            .unwrap()
    };
    assert_eq!(last_used().await, None);
    let first = t.clock.now_secs();
    connect(&b, "alice", &c, ACME).await;
    assert_eq!(last_used().await, Some(first));
    // Signed in and approved once: later redemptions come straight back with a code.
    t.clock.advance(60);
    connect(&b, "alice", &c, ACME).await;
    assert_eq!(last_used().await, Some(first), "a minute old is not older");
    t.clock.advance(1);
    connect(&b, "alice", &c, ACME).await;
    assert_eq!(last_used().await, Some(first + 61));
}

#[tokio::test]
async fn non_member_gets_a_clear_page_with_a_way_to_switch() {
    let (_t, b) = setup().await;
    let c = register_chatgpt(&b).await;
    let (v, ch) = pkce();
    let path = authorize_path(&c.id, CHATGPT_REDIRECT, &ch, "s", &[("resource", ACME)]);
    let r = b.get(&path).await;
    let back = sign_in(&b, &r.location(), "bob").await;
    let page = b.get(&back).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.header("location").is_none());
    assert!(page.text.contains("not a member"), "{}", page.text);
    assert!(page.text.contains("Use a different account"));
    assert!(page.text.contains("/login?next="));
    // Switch to alice from there.
    let back = sign_in(
        &b,
        &format!(
            "/login?next={}",
            url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
        ),
        "alice",
    )
    .await;
    let page = b.get(&back).await;
    let r = consent(&b, &page, "approve", None).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(
        exchange(&b, &c, &r.location_params()["code"], &v, ACME)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn without_resource_the_user_picks_a_workspace() {
    let (_t, b) = setup().await;
    let c = register_public(&b, "http://127.0.0.1/callback").await;
    let (v, ch) = pkce();
    // Loopback redirect: the port may vary (RFC 8252 §7.3).
    let redirect = "http://127.0.0.1:49152/callback";
    let path = authorize_path(&c.id, redirect, &ch, "s", &[]);
    let r = b.get(&path).await;
    let back = sign_in(&b, &r.location(), "alice").await;
    let page = b.get(&back).await;
    assert!(
        page.text
            .contains("<select id=\"workspace\" name=\"workspace\">"),
        "{}",
        page.text
    );
    let r = consent(&b, &page, "approve", Some("globex")).await;
    assert!(r.location().starts_with(redirect));
    let code = r.location_params()["code"].clone();
    // A public client needs no secret; the redirect must be the one used.
    let t = token(
        &b,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", &v),
            ("client_id", &c.id),
        ],
    )
    .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    let at = t.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(mcp_call(&b, "globex", &at).await.status, StatusCode::OK);
    assert_eq!(
        mcp_call(&b, "acme", &at).await.status,
        StatusCode::UNAUTHORIZED
    );
}

// ---------------------------------------------------------------------------------------------
// Sign-in.

#[tokio::test]
async fn sign_in_cookies_csrf_generic_failures_and_throttling() {
    let (_t, b) = setup().await;
    let page = b.get("/login?next=%2Fsettings%2Fconnected-apps").await;
    assert_eq!(page.status, StatusCode::OK);
    let fields = form_fields(&page.text, "/login");
    let csrf = fields.iter().find(|(k, _)| k == "csrf").unwrap().1.clone();
    // Missing CSRF token.
    let r = b
        .post_form("/login", &[("username", "alice"), ("password", "pw-alice")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let csrf2 = form_fields(&r.text, "/login")
        .into_iter()
        .find(|(k, _)| k == "csrf")
        .unwrap()
        .1;
    assert!(!csrf2.is_empty());
    let _ = csrf;
    // Generic failure for a wrong password and for an unknown user.
    let bad = b
        .post_form(
            "/login",
            &[
                ("username", "alice"),
                ("password", "nope"),
                ("csrf", &csrf2),
                ("next", "/"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    let unknown = b
        .post_form(
            "/login",
            &[
                ("username", "mallory"),
                ("password", "nope"),
                ("csrf", &csrf2),
                ("next", "/"),
            ],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(
        bad.text.contains("Incorrect username or password.")
            && unknown.text.contains("Incorrect username or password.")
    );
    // Five failures for one account → throttled, even with the right password.
    for _ in 0..4 {
        b.post_form(
            "/login",
            &[
                ("username", "alice"),
                ("password", "nope"),
                ("csrf", &csrf2),
            ],
        )
        .await;
    }
    let r = b
        .post_form(
            "/login",
            &[
                ("username", "alice"),
                ("password", "pw-alice"),
                ("csrf", &csrf2),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // Other accounts are unaffected; the session cookie has the right attributes.
    let r = b
        .post_form(
            "/login",
            &[
                ("username", "bob"),
                ("password", "pw-bob"),
                ("csrf", &csrf2),
                ("next", "//evil.example"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/");
    let cookie = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("__Host-gigamcp_session="))
        .unwrap();
    for attr in ["Path=/", "HttpOnly", "SameSite=Lax", "Secure"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Domain="));
}

#[tokio::test]
async fn throttling_expires_with_the_clock() {
    let (t, b) = setup().await;
    let page = b.get("/login").await;
    let csrf = form_fields(&page.text, "/login")
        .into_iter()
        .find(|(k, _)| k == "csrf")
        .unwrap()
        .1;
    for _ in 0..5 {
        b.post_form(
            "/login",
            &[("username", "alice"), ("password", "nope"), ("csrf", &csrf)],
        )
        .await;
    }
    assert_eq!(
        b.post_form(
            "/login",
            &[
                ("username", "alice"),
                ("password", "pw-alice"),
                ("csrf", &csrf)
            ]
        )
        .await
        .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    t.clock.advance(15 * 60 + 1);
    assert_eq!(
        b.post_form(
            "/login",
            &[
                ("username", "alice"),
                ("password", "pw-alice"),
                ("csrf", &csrf)
            ]
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
}

// ---------------------------------------------------------------------------------------------
// Codes and the token endpoint.

#[tokio::test]
async fn token_endpoint_errors() {
    let (t, b) = setup().await;
    let c = register_chatgpt(&b).await;
    let secret = c.secret.clone().unwrap();
    let (code, v) = code_for(&b, &c, "alice", ACME).await;
    let base = |extra: &[(&'static str, String)]| {
        let mut f: Vec<(&'static str, String)> = vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.clone()),
            ("redirect_uri", CHATGPT_REDIRECT.into()),
            ("code_verifier", v.clone()),
            ("client_id", c.id.clone()),
            ("client_secret", secret.clone()),
        ];
        for (k, val) in extra {
            f.retain(|(n, _)| n != k);
            if !val.is_empty() {
                f.push((k, val.clone()));
            }
        }
        f
    };
    type Form = Vec<(&'static str, String)>;
    let cases: Vec<(&str, Form, StatusCode)> = vec![
        (
            "token_wrong_verifier",
            base(&[("code_verifier", "x".repeat(43))]),
            StatusCode::BAD_REQUEST,
        ),
        (
            "token_missing_verifier",
            base(&[("code_verifier", String::new())]),
            StatusCode::BAD_REQUEST,
        ),
        (
            "token_wrong_redirect",
            base(&[(
                "redirect_uri",
                "https://chatgpt.com/connector/oauth/HQfKFmhTEJCq".into(),
            )]),
            StatusCode::BAD_REQUEST,
        ),
        (
            "token_wrong_resource",
            base(&[("resource", GLOBEX.into())]),
            StatusCode::BAD_REQUEST,
        ),
        (
            "token_unknown_code",
            base(&[("code", "gmcp_ac_nope".into())]),
            StatusCode::BAD_REQUEST,
        ),
        (
            "token_wrong_secret",
            base(&[("client_secret", "gmcp_cs_wrong".into())]),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "token_missing_secret",
            base(&[("client_secret", String::new())]),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "token_unknown_client",
            base(&[("client_id", "c_unknown".into())]),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "token_unsupported_grant_type",
            base(&[("grant_type", "password".into())]),
            StatusCode::BAD_REQUEST,
        ),
        (
            "token_missing_grant_type",
            base(&[("grant_type", String::new())]),
            StatusCode::BAD_REQUEST,
        ),
        (
            "token_repeated_parameter",
            {
                let mut f = base(&[]);
                f.push(("code", "again".into()));
                f
            },
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (name, form, status) in cases {
        let f: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = token(&b, &f).await;
        assert_eq!(r.status, status, "{name}: {}", r.text);
        insta::assert_json_snapshot!(name, error_body(&r));
    }
    // Basic with a wrong secret: 401 with a Basic challenge.
    let r = b
        .send(
            b.http
                .post(b.url("/api/oauth/server/token"))
                .basic_auth(&c.id, Some("gmcp_cs_wrong"))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("code_verifier", v.as_str()),
                ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some("Basic realm=\"gigamcp\"")
    );
    insta::assert_json_snapshot!("token_basic_wrong_secret", error_body(&r));
    // Not a form.
    let r = b
        .send(
            b.http
                .post(b.url("/api/oauth/server/token"))
                .json(&json!({"grant_type":"authorization_code"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    insta::assert_json_snapshot!("token_not_a_form", error_body(&r));
    // None of those consumed the code: Basic auth with the right secret still works (ChatGPT
    // has been seen using Basic although it registered client_secret_post).
    let r = b
        .send(
            b.http
                .post(b.url("/api/oauth/server/token"))
                .basic_auth(&c.id, Some(&secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("code_verifier", v.as_str()),
                    ("redirect_uri", CHATGPT_REDIRECT),
                    ("resource", ACME),
                ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Code expiry follows the injected clock (60 s).
    let (code2, v2) = code_for(&b, &c, "alice", ACME).await;
    t.clock.advance(61);
    let r = exchange(&b, &c, &code2, &v2, ACME).await;
    insta::assert_json_snapshot!("token_expired_code", error_body(&r));
}

/// The code is read with its user's membership (one query): a user removed from the workspace
/// between approval and redemption gets `invalid_grant`, and the code stays unredeemed.
#[tokio::test]
async fn a_code_is_refused_once_its_user_left_the_workspace() {
    let (t, b) = setup().await;
    let c = register_chatgpt(&b).await;
    let (code, v) = code_for(&b, &c, "alice", ACME).await;
    let alice = t.user("alice").await;
    assert!(
        t.state
            .store
            .remove_member("acme", &alice.id, t.clock.now_secs())
            .await
            .unwrap()
    );
    let r = exchange(&b, &c, &code, &v, ACME).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.json()["error"], "invalid_grant");
    assert_eq!(
        r.json()["error_description"],
        "the user is no longer a member of this workspace"
    );
    let rec = t
        .state
        .store
        .auth_code_with_client(&gigamcp_server::secrets::hash_secret(&code), None)
        .await
        .unwrap()
        .0
        .unwrap();
    assert!(!rec.member);
    assert_eq!(rec.redeemed_at, None);
}

/// The code and its client are read together (one query). What the request names decides which
/// client that is, and a named client is still judged before the code.
#[tokio::test]
async fn a_code_is_redeemed_only_by_the_client_it_was_issued_to() {
    let (t, b) = setup().await;
    let owner = register_public(&b, "http://localhost/callback").await;
    let thief = register_public(&b, "http://localhost/callback").await;
    let (code, v) = code_for(&b, &owner, "alice", ACME).await;
    let form = |client_id: Option<&'static str>, code: &str| {
        let mut f = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.to_string()),
            ("redirect_uri", "http://localhost/callback".to_string()),
            ("code_verifier", v.clone()),
        ];
        if let Some(id) = client_id {
            f.push(("client_id", id.to_string()));
        }
        f
    };
    let send = |f: Vec<(&'static str, String)>| {
        let b = &b;
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            token(b, &pairs).await
        }
    };
    let thief_id: &'static str = Box::leak(thief.id.clone().into_boxed_str());
    let owner_id: &'static str = Box::leak(owner.id.clone().into_boxed_str());

    // An unknown client is refused as a client, whether the code is good or not.
    for c in [code.as_str(), "not-a-code"] {
        let r = send(form(Some("nobody"), c)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
        assert_eq!(
            error_body(&r)["error_description"],
            "unknown client; register again"
        );
    }
    // A known client with an unknown code: the code is what is wrong.
    let r = send(form(Some(thief_id), "not-a-code")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(
        error_body(&r)["error_description"],
        "unknown or expired authorization code"
    );
    // Another registered client cannot redeem it.
    let r = send(form(Some(thief_id), &code)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let e = error_body(&r);
    assert_eq!(e["error"], "invalid_grant");
    assert_eq!(
        e["error_description"],
        "the grant was issued to another client"
    );
    // No client named and no such code: invalid_grant, not a client error.
    let r = send(form(None, "not-a-code")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(error_body(&r)["error"], "invalid_grant");
    // None of that consumed the code; its own client redeems it, and a token names that client.
    let r = send(form(Some(owner_id), &code)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let access = r.json()["access_token"].as_str().unwrap().to_string();
    let rec = t
        .state
        .store
        .access_token_by_hash(&gigamcp_server::secrets::hash_secret(&access))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.client_id, owner_id);
}

#[tokio::test]
async fn missing_client_id_is_recovered_from_the_code() {
    let (_t, b) = setup().await;
    // Public client: the code identifies it (Q26).
    let c = register_public(&b, "http://localhost/callback").await;
    let (code, v) = code_for(&b, &c, "alice", ACME).await;
    let r = token(
        &b,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost/callback"),
            ("code_verifier", &v),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rt = r.json()["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(
        token(
            &b,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)]
        )
        .await
        .status,
        StatusCode::OK
    );
    // Confidential client: still needs its secret.
    let cc = register_chatgpt(&b).await;
    let (code, v) = code_for(&b, &cc, "alice", ACME).await;
    let r = token(
        &b,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CHATGPT_REDIRECT),
            ("code_verifier", &v),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = token(
        &b,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CHATGPT_REDIRECT),
            ("code_verifier", &v),
            ("client_secret", cc.secret.as_deref().unwrap()),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // A code is bound to its client.
    let (code, v) = code_for(&b, &cc, "alice", GLOBEX).await;
    let r = token(
        &b,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CHATGPT_REDIRECT),
            ("code_verifier", &v),
            ("client_id", &c.id),
        ],
    )
    .await;
    assert_eq!(error_body(&r)["error"], "invalid_grant");
}

#[tokio::test]
async fn duplicate_code_post_within_the_window_keeps_the_tokens() {
    let (t, b) = setup().await;
    let c = register_chatgpt(&b).await;
    let (code, v) = code_for(&b, &c, "alice", ACME).await;
    let first = exchange(&b, &c, &code, &v, ACME).await;
    assert_eq!(first.status, StatusCode::OK);
    let at = first.json()["access_token"].as_str().unwrap().to_string();
    t.clock.advance(2);
    let second = exchange(&b, &c, &code, &v, ACME).await;
    insta::assert_json_snapshot!("token_code_retry", error_body(&second));
    assert_eq!(
        mcp_call(&b, "acme", &at).await.status,
        StatusCode::OK,
        "a retry must not revoke"
    );

    // Two simultaneous POSTs of one code: exactly one wins, the grant survives.
    let (code, v) = code_for(&b, &c, "alice", GLOBEX).await;
    let (r1, r2) = tokio::join!(
        exchange(&b, &c, &code, &v, GLOBEX),
        exchange(&b, &c, &code, &v, GLOBEX)
    );
    let ok: Vec<&Resp> = [&r1, &r2]
        .into_iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect();
    assert_eq!(ok.len(), 1, "{} / {}", r1.text, r2.text);
    let at = ok[0].json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(mcp_call(&b, "globex", &at).await.status, StatusCode::OK);
}

#[tokio::test]
async fn replayed_code_revokes_the_tokens_it_produced() {
    let (t, b) = setup().await;
    let c = register_chatgpt(&b).await;
    // Late replay with the right verifier.
    let (code, v) = code_for(&b, &c, "alice", ACME).await;
    let at = exchange(&b, &c, &code, &v, ACME).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    t.clock.advance(10);
    let r = exchange(&b, &c, &code, &v, ACME).await;
    insta::assert_json_snapshot!("token_code_replay", error_body(&r));
    assert_eq!(
        mcp_call(&b, "acme", &at).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Immediate replay with a wrong verifier (a thief) also revokes.
    let (code, v) = code_for(&b, &c, "alice", GLOBEX).await;
    let at = exchange(&b, &c, &code, &v, GLOBEX).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = exchange(&b, &c, &code, &"y".repeat(43), GLOBEX).await;
    assert_eq!(error_body(&r)["error"], "invalid_grant");
    assert_eq!(
        mcp_call(&b, "globex", &at).await.status,
        StatusCode::UNAUTHORIZED
    );
    let events: Vec<String> = t
        .state
        .store
        .audit_all(200)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert!(
        events
            .iter()
            .filter(|e| *e == "code_replay_revoked")
            .count()
            == 2,
        "{events:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Refresh.

#[tokio::test]
async fn refresh_rotation_grace_and_replay() {
    let (t, b) = setup().await;
    let c = register_chatgpt(&b).await;
    let tj = connect(&b, "alice", &c, ACME).await;
    let rt0 = tj["refresh_token"].as_str().unwrap().to_string();
    let r1 = refresh(&b, &c, &rt0, &[]).await.json();
    let rt1 = r1["refresh_token"].as_str().unwrap().to_string();
    // Within the grace window, the rotated token returns the same successor pair.
    t.clock.advance(5);
    let again = refresh(&b, &c, &rt0, &[]).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    let again = again.json();
    assert_eq!(again["refresh_token"], r1["refresh_token"]);
    assert_eq!(again["access_token"], r1["access_token"]);
    assert_eq!(again["expires_in"], 3595);
    // Once the successor is used, the old one is refused without harming the grant.
    let r2 = refresh(&b, &c, &rt1, &[]).await.json();
    let at2 = r2["access_token"].as_str().unwrap().to_string();
    let rt2 = r2["refresh_token"].as_str().unwrap().to_string();
    let r = refresh(&b, &c, &rt0, &[]).await;
    assert_eq!(error_body(&r)["error"], "invalid_grant");
    assert_eq!(mcp_call(&b, "acme", &at2).await.status, StatusCode::OK);
    // After the grace window, a rotated token is a stolen token: the grant is revoked.
    t.clock.advance(31);
    let r = refresh(&b, &c, &rt1, &[]).await;
    insta::assert_json_snapshot!("refresh_replay_after_grace", error_body(&r));
    assert_eq!(
        mcp_call(&b, "acme", &at2).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        error_body(&refresh(&b, &c, &rt2, &[]).await)["error"],
        "invalid_grant"
    );
}

#[tokio::test]
async fn eight_concurrent_refreshes_yield_one_pair_and_keep_the_grant() {
    let (_t, b) = setup().await;
    let c = register_chatgpt(&b).await;
    let tj = connect(&b, "alice", &c, ACME).await;
    let rt0 = tj["refresh_token"].as_str().unwrap().to_string();
    let results = futures::future::join_all((0..8).map(|_| refresh(&b, &c, &rt0, &[]))).await;
    for r in &results {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
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
    assert_eq!(pairs.len(), 1, "all eight got the same pair");
    let (at, rt) = pairs.into_iter().next().unwrap();
    assert_eq!(mcp_call(&b, "acme", &at).await.status, StatusCode::OK);
    let next = refresh(&b, &c, &rt, &[]).await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.text);
}

#[tokio::test]
async fn refresh_checks_resource_scope_and_expiry() {
    let (t, b) = setup().await;
    let c = register_chatgpt(&b).await;
    let tj = connect(&b, "alice", &c, ACME).await;
    let at = tj["access_token"].as_str().unwrap().to_string();
    let rt = tj["refresh_token"].as_str().unwrap().to_string();
    let r = refresh(&b, &c, &rt, &[("resource", GLOBEX)]).await;
    insta::assert_json_snapshot!("refresh_wrong_resource", error_body(&r));
    let r = refresh(&b, &c, &rt, &[("scope", "mcp:read mcp:admin")]).await;
    insta::assert_json_snapshot!("refresh_widen_scope", error_body(&r));
    let r = refresh(&b, &c, &rt, &[("unknown", "x")]).await;
    insta::assert_json_snapshot!("refresh_unknown_token_client_mismatch", {
        let other = register_chatgpt(&b).await;
        error_body(&refresh(&b, &other, &rt, &[]).await)
    });
    // (the request with an unknown parameter was fine and rotated the token)
    assert_eq!(r.status, StatusCode::OK);
    let rt = r.json()["refresh_token"].as_str().unwrap().to_string();
    // Access tokens expire with the clock; refresh brings a fresh one, narrowed on request.
    t.clock.advance(3601);
    assert_eq!(
        mcp_call(&b, "acme", &at).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = refresh(&b, &c, &rt, &[("scope", "mcp:read")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let j = r.json();
    assert_eq!(j["scope"], "mcp:read");
    // Authenticated (not 401); the narrowed token lacks mcp:tools for a tool call.
    let narrowed = mcp_call(&b, "acme", j["access_token"].as_str().unwrap()).await;
    assert_eq!(narrowed.status, StatusCode::FORBIDDEN, "{}", narrowed.text);
    assert!(
        narrowed
            .header("www-authenticate")
            .unwrap()
            .contains("insufficient_scope")
    );
    let unknown = refresh(&b, &c, "gmcp_rt_unknown", &[]).await;
    insta::assert_json_snapshot!("refresh_unknown_token", error_body(&unknown));
}

// ---------------------------------------------------------------------------------------------
// Revocation and introspection.

#[tokio::test]
async fn revocation_endpoint() {
    let (_t, b) = setup().await;
    let c = register_chatgpt(&b).await;
    let secret = c.secret.clone().unwrap();
    let tj = connect(&b, "alice", &c, ACME).await;
    let at = tj["access_token"].as_str().unwrap().to_string();
    let rt = tj["refresh_token"].as_str().unwrap().to_string();
    // Unknown tokens: 200.
    let r = b
        .post_form(
            "/api/oauth/server/revoke",
            &[
                ("token", "gmcp_at_unknown"),
                ("client_id", &c.id),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Client authentication is required.
    let r = b
        .post_form("/api/oauth/server/revoke", &[("token", &at)])
        .await;
    insta::assert_json_snapshot!("revoke_without_client", error_body(&r));
    let r = b
        .post_form(
            "/api/oauth/server/revoke",
            &[
                ("token", &at),
                ("client_id", &c.id),
                ("client_secret", "gmcp_cs_wrong"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = b
        .post_form(
            "/api/oauth/server/revoke",
            &[("client_id", &c.id), ("client_secret", &secret)],
        )
        .await;
    insta::assert_json_snapshot!("revoke_missing_token", error_body(&r));
    // Another client cannot revoke it (200, nothing happens).
    let other = register_chatgpt(&b).await;
    let r = b
        .post_form(
            "/api/oauth/server/revoke",
            &[
                ("token", &at),
                ("client_id", &other.id),
                ("client_secret", other.secret.as_deref().unwrap()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(mcp_call(&b, "acme", &at).await.status, StatusCode::OK);
    // Revoking the access token: rejected on the very next request; the refresh token lives on.
    let r = b
        .post_form(
            "/api/oauth/server/revoke",
            &[
                ("token", &at),
                ("token_type_hint", "access_token"),
                ("client_id", &c.id),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let dead = mcp_call(&b, "acme", &at).await;
    assert_eq!(dead.status, StatusCode::UNAUTHORIZED, "{}", dead.text);
    let fresh = refresh(&b, &c, &rt, &[]).await;
    assert_eq!(fresh.status, StatusCode::OK);
}

#[tokio::test]
async fn introspection_endpoint() {
    let (_t, b) = setup().await;
    let c = register_chatgpt(&b).await;
    let secret = c.secret.clone().unwrap();
    let tj = connect(&b, "alice", &c, ACME).await;
    let at = tj["access_token"].as_str().unwrap().to_string();
    let r = b
        .post_form(
            "/api/oauth/server/introspect",
            &[
                ("token", &at),
                ("client_id", &c.id),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let j = r.json();
    assert_eq!(j["active"], true);
    assert_eq!(j["aud"], ACME);
    assert_eq!(j["username"], "alice");
    assert_eq!(j["scope"], "mcp:read mcp:tools");
    assert_eq!(j["iss"], "https://mcp.test");
    let r = b
        .post_form("/api/oauth/server/introspect", &[("token", &at)])
        .await;
    insta::assert_json_snapshot!("introspect_without_client", error_body(&r));
    // A public client sees only its own tokens.
    let p = register_public(&b, "http://localhost/cb").await;
    let r = b
        .post_form(
            "/api/oauth/server/introspect",
            &[("token", &at), ("client_id", &p.id)],
        )
        .await;
    assert_eq!(r.json(), json!({"active": false}));
    b.post_form(
        "/api/oauth/server/revoke",
        &[
            ("token", &at),
            ("client_id", &c.id),
            ("client_secret", &secret),
        ],
    )
    .await;
    let r = b
        .post_form(
            "/api/oauth/server/introspect",
            &[
                ("token", &at),
                ("client_id", &c.id),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert_eq!(r.json(), json!({"active": false}));
}

// ---------------------------------------------------------------------------------------------
// Pages.

fn csrf_of(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    html[i..i + html[i..].find('"').unwrap()].to_string()
}

#[tokio::test]
async fn connected_apps_lists_and_revokes() {
    let (t, b) = setup().await;
    let c = register_chatgpt(&b).await;
    let tj = connect(&b, "alice", &c, ACME).await;
    let at = tj["access_token"].as_str().unwrap().to_string();
    let rt = tj["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(mcp_call(&b, "acme", &at).await.status, StatusCode::OK);
    let page = b.get("/settings/connected-apps").await;
    assert_eq!(page.status, StatusCode::OK);
    for needle in [
        "ChatGPT",
        "self-registered",
        "acme",
        "Search and read",
        "Revoke",
        "2026-09-21",
    ] {
        assert!(
            page.text.contains(needle),
            "connected apps lacks {needle:?}"
        );
    }
    let grant = &t
        .state
        .store
        .grants_of_user(&t.user("alice").await.id)
        .await
        .unwrap()[0];
    let action = format!("/settings/connected-apps/{}/revoke", grant.id);
    assert!(page.text.contains(&action));
    // Without the CSRF token nothing happens.
    let r = b.post_form(&action, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(mcp_call(&b, "acme", &at).await.status, StatusCode::OK);
    let r = b
        .post_form(&action, &[("csrf", &csrf_of(&page.text))])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        mcp_call(&b, "acme", &at).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        error_body(&refresh(&b, &c, &rt, &[]).await)["error"],
        "invalid_grant"
    );
    let page = b.get("/settings/connected-apps?revoked=1").await;
    assert!(page.text.contains("No applications are connected."));
    // Signed out → sign-in redirect.
    let anon = Browser::new(&b.base);
    let r = anon.get("/settings/connected-apps").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn workspace_admins_see_and_revoke_members_grants_and_the_audit_log() {
    let (t, b) = setup().await;
    let alice = t.user("alice").await;
    t.state
        .store
        .add_member("globex", &alice.id, "admin", support::START)
        .await
        .unwrap();
    let c = register_chatgpt(&b).await;
    let bob = Browser::new(&b.base);
    let tj = connect(&bob, "bob", &c, GLOBEX).await;
    let at = tj["access_token"].as_str().unwrap().to_string();

    // Alice (admin of globex) sees bob's grant.
    let login = b.get("/settings/connected-apps").await.location();
    let back = sign_in(&b, &login, "alice").await;
    let page = b.get(&back).await;
    assert!(page.text.contains("All connections to globex"));
    assert!(page.text.contains("<td>bob</td>"), "{}", page.text);
    let grant = &t.state.store.grants_of_workspace("globex").await.unwrap()[0];
    // Bob cannot revoke someone else's grant on a workspace he does not administer.
    let r = b
        .post_form(
            &format!("/settings/connected-apps/{}/revoke", grant.id),
            &[("csrf", &csrf_of(&page.text))],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        mcp_call(&b, "globex", &at).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Audit log: admin only.
    let audit = b.get("/t/globex/audit").await;
    assert_eq!(audit.status, StatusCode::OK);
    assert!(audit.text.contains("grant_revoked") && audit.text.contains("workspace admin alice"));
    assert_eq!(b.get("/t/acme/audit").await.status, StatusCode::FORBIDDEN);
    // A member who is not an admin cannot revoke others' grants.
    let tj = connect(&b, "alice", &c, GLOBEX).await;
    let alices = t.state.store.grants_of_user(&alice.id).await.unwrap();
    let bob_page = bob.get("/settings/connected-apps").await;
    let r = bob
        .post_form(
            &format!("/settings/connected-apps/{}/revoke", alices[0].id),
            &[("csrf", &csrf_of(&bob_page.text))],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        mcp_call(&b, "globex", tj["access_token"].as_str().unwrap())
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn dashboard_wiki_and_docs_pages() {
    let (t, b) = setup().await;
    t.ingest_fixture("acme").await;
    let anon = b.get("/t/acme").await;
    assert_eq!(anon.status, StatusCode::SEE_OTHER);
    let back = sign_in(&b, &anon.location(), "alice").await;
    assert_eq!(back, "/t/acme");
    let page = b.get("/t/acme").await;
    assert_eq!(page.status, StatusCode::OK);
    for needle in [
        "value=\"https://mcp.test/t/acme/mcp\"",
        "id=\"copy-url\"",
        "wiki pages",
        "GitHub issues",
        "last sync",
        "Globex Logistics",
        "href=\"/t/globex\"",
    ] {
        assert!(page.text.contains(needle), "dashboard lacks {needle:?}");
    }
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'nonce-"));
    let wiki = b.get("/t/acme/wiki/sla-and-uptime").await;
    assert_eq!(wiki.status, StatusCode::OK, "{}", wiki.text);
    assert!(wiki.text.contains("<h"), "{}", wiki.text);
    assert_eq!(
        b.get("/t/acme/wiki/no-such-page").await.status,
        StatusCode::NOT_FOUND
    );
    // Bob is not in acme.
    let bob = Browser::new(&b.base);
    let r = bob.get("/t/acme").await;
    let back = sign_in(&bob, &r.location(), "bob").await;
    assert_eq!(bob.get(&back).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        bob.get("/t/acme/wiki/sla-and-uptime").await.status,
        StatusCode::NOT_FOUND
    );
    for doc in [
        "/docs",
        "/docs/connect-chatgpt",
        "/docs/oauth-reference",
        "/",
    ] {
        let r = b.get(doc).await;
        assert_eq!(r.status, StatusCode::OK, "{doc}");
    }
    let r = b.get("/docs/connect-chatgpt").await;
    assert!(r.text.contains("Connect to ChatGPT"));
    assert_eq!(b.get("/docs/nope").await.status, StatusCode::NOT_FOUND);
}
