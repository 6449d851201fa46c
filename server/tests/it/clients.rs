//! Popular MCP clients against the real router over a real socket: their exact registration
//! bodies (Cursor's three-URI request, VS Code's), RFC 8252 §7.1 private-use and reverse-domain
//! redirects, every refused scheme (RFC 7591 `invalid_redirect_uri` naming the URI and why), the
//! operator's `--allow-redirect-*` additions, and the consent page's words for each destination.

use crate::support::TestApp;
use crate::support::oauth_client::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const CURSOR_SCHEME_REDIRECT: &str = "cursor://anysphere.cursor-mcp/oauth/callback";
const CURSOR_WEB_REDIRECT: &str = "https://www.cursor.com/agents/mcp/oauth/callback";
const CURSOR_LOOPBACK_REDIRECT: &str = "http://localhost:8787/callback";

/// Cursor's registration body as reported in public issue threads (three redirect URIs in one
/// request; a public client). Sources in docs/client-compatibility.md.
fn cursor_registration() -> Value {
    json!({
        "client_name": "Cursor",
        "redirect_uris": [CURSOR_SCHEME_REDIRECT, CURSOR_WEB_REDIRECT, CURSOR_LOOPBACK_REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none"
    })
}

/// VS Code (GitHub Copilot) registration body: microsoft/vscode `src/vs/base/common/oauth.ts`
/// (`fetchDynamicRegistration`), with the loopback port 33418 and the vscode.dev relay its docs
/// ask servers to allow.
fn vscode_registration() -> Value {
    json!({
        "client_name": "Visual Studio Code",
        "client_uri": "https://code.visualstudio.com",
        "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
        "response_types": ["code"],
        "redirect_uris": [
            "https://insiders.vscode.dev/redirect",
            "https://vscode.dev/redirect",
            "http://localhost",
            "http://127.0.0.1",
            "http://localhost:33418",
            "http://127.0.0.1:33418"
        ],
        "token_endpoint_auth_method": "none"
    })
}

async fn app(f: impl FnOnce(&mut gigamcp_server::Config)) -> (TestApp, Browser) {
    let t = TestApp::with_config(f).await;
    t.seed_people().await;
    let base = t.serve().await;
    (t, Browser::new(&base))
}

fn registered(r: &Resp, redirect: &str) -> Client {
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let j = r.json();
    assert!(
        j["client_secret"].is_null(),
        "a public client gets no secret"
    );
    Client {
        id: j["client_id"].as_str().unwrap().into(),
        secret: None,
        redirect: redirect.into(),
    }
}

/// Signs alice in, shows the consent page for `c` and returns its text (unescaped).
async fn consent_page(b: &Browser, c: &Client, challenge: &str) -> (Resp, String) {
    consent_page_for(b, c, challenge, ACME).await
}

async fn consent_page_for(
    b: &Browser,
    c: &Client,
    challenge: &str,
    resource: &str,
) -> (Resp, String) {
    let path = authorize_path(
        &c.id,
        &c.redirect,
        challenge,
        "st",
        &[("resource", resource)],
    );
    let mut r = b.get(&path).await;
    if r.status == StatusCode::SEE_OTHER && r.location().starts_with("/login") {
        let back = sign_in(b, &r.location(), "alice").await;
        r = b.get(&back).await;
    }
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let text = unescape(&r.text);
    (r, text)
}

/// Approves on `page`, checks the redirect goes to exactly `c.redirect` with code, state and iss,
/// exchanges the code and calls a tool with the token.
async fn approve_exchange_call(b: &Browser, c: &Client, page: &Resp, verifier: &str) {
    let r = consent(b, page, "approve", None).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
    let loc = r.location();
    assert!(
        loc.starts_with(&format!("{}?", c.redirect)),
        "redirected to the registered URI exactly: {loc}"
    );
    let q = r.location_params();
    assert_eq!(q["state"], "st");
    assert_eq!(q["iss"], "https://mcp.test");
    let t = exchange(b, c, &q["code"], verifier, ACME).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    let access = t.json()["access_token"].as_str().unwrap().to_string();
    let call = mcp_call(b, "acme", &access).await;
    assert_eq!(call.status, StatusCode::OK, "{}", call.text);
}

#[tokio::test]
async fn cursor_three_uri_registration_completes_authorize_code_token() {
    let (t, b) = app(|_| {}).await;
    let r = register(&b, &cursor_registration()).await;
    let mut c = registered(&r, CURSOR_SCHEME_REDIRECT);
    assert_eq!(
        r.json()["redirect_uris"],
        cursor_registration()["redirect_uris"],
        "every URI kept verbatim"
    );

    // The native app's private-use redirect: the consent page says where the code goes.
    let (verifier, challenge) = pkce();
    let (page, text) = consent_page(&b, &c, &challenge).await;
    assert!(
        text.contains("you will be sent to <strong>the Cursor app on this computer</strong>"),
        "{text}"
    );
    assert!(text.contains("self-registered"), "{text}");
    approve_exchange_call(&b, &c, &page, &verifier).await;

    // Its hosted callback: verified by the redirect's domain.
    c.redirect = CURSOR_WEB_REDIRECT.into();
    let (_, challenge) = pkce();
    let (_, text) = consent_page_for(&b, &c, &challenge, GLOBEX).await;
    assert!(text.contains("verified: Cursor (www.cursor.com)"), "{text}");
    assert!(!text.contains(">self-registered<"), "{text}");
    assert!(
        text.contains("sent to <strong>www.cursor.com</strong>"),
        "{text}"
    );

    // The loopback callback, on whatever port the app picked (RFC 8252 §7.3).
    c.redirect = "http://localhost:49152/callback".into();
    let (verifier, challenge) = pkce();
    let r = authorize(&b, "alice", &c, &challenge, "st", &[("resource", ACME)]).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
    assert!(r.location().starts_with("http://localhost:49152/callback?"));
    let code = r.location_params()["code"].clone();
    let tok = exchange(&b, &c, &code, &verifier, ACME).await;
    assert_eq!(tok.status, StatusCode::OK, "{}", tok.text);

    // Exact matching: near misses of the private-use URI are refused as a page, never redirected.
    for near in [
        "cursor://anysphere.cursor-mcp/oauth/callback/",
        "cursor://anysphere.cursor-mcp/oauth/callback?x=1",
        "cursor://evil.cursor-mcp/oauth/callback",
        "Cursor://anysphere.cursor-mcp/oauth/callback",
        "cursor:/anysphere.cursor-mcp/oauth/callback",
    ] {
        let (_, challenge) = pkce();
        let r = b
            .get(&authorize_path(
                &c.id,
                near,
                &challenge,
                "st",
                &[("resource", ACME)],
            ))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{near}: {}", r.text);
        assert!(r.header("location").is_none(), "{near}");
    }

    // PKCE stays mandatory: without a challenge the error goes back to the app, no code.
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", &c.id)
        .append_pair("redirect_uri", CURSOR_SCHEME_REDIRECT)
        .append_pair("state", "st")
        .append_pair("resource", ACME);
    let r = b
        .get(&format!("/api/oauth/server/authorize?{}", q.finish()))
        .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
    let p = r.location_params();
    assert_eq!(p["error"], "invalid_request");
    assert!(p["error_description"].contains("PKCE"), "{p:?}");
    assert!(!p.contains_key("code"));
    drop(t);
}

#[tokio::test]
async fn vscode_registration_completes_through_its_loopback_callback() {
    let (_t, b) = app(|_| {}).await;
    let r = register(&b, &vscode_registration()).await;
    // VS Code asks for the device-code grant too; it is dropped, the rest kept.
    assert_eq!(
        r.json()["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    // VS Code listens on 127.0.0.1:33418 and sends the root path with a trailing slash.
    let c = registered(&r, "http://127.0.0.1:33418/");
    let (verifier, challenge) = pkce();
    let (page, text) = consent_page(&b, &c, &challenge).await;
    assert!(
        text.contains("sent to <strong>a program on this computer (127.0.0.1:33418)</strong>"),
        "{text}"
    );
    approve_exchange_call(&b, &c, &page, &verifier).await;

    // The vscode.dev relay is a known hosted destination.
    let web = Client {
        redirect: "https://vscode.dev/redirect".into(),
        ..c
    };
    let (_, challenge) = pkce();
    let (_, text) = consent_page_for(&b, &web, &challenge, GLOBEX).await;
    assert!(
        text.contains("verified: Visual Studio Code (vscode.dev)"),
        "{text}"
    );
}

#[tokio::test]
async fn reverse_domain_scheme_of_a_public_client_gets_its_code() {
    let (_t, b) = app(|_| {}).await;
    let redirect = "com.example.mcpclient:/oauth2redirect/gigamcp";
    let r = register(
        &b,
        &json!({"client_name": "Example app", "redirect_uris": [redirect],
                "grant_types": ["authorization_code"], "token_endpoint_auth_method": "none"}),
    )
    .await;
    let c = registered(&r, redirect);
    let (verifier, challenge) = pkce();
    let (page, text) = consent_page(&b, &c, &challenge).await;
    assert!(
        text.contains("the app that handles com.example.mcpclient: links on this computer"),
        "{text}"
    );
    approve_exchange_call(&b, &c, &page, &verifier).await;
}

#[tokio::test]
async fn refused_redirects_name_the_uri_and_the_reason() {
    let (t, b) = app(|_| {}).await;
    let public = |uris: Vec<&str>| json!({"client_name": "X", "redirect_uris": uris, "token_endpoint_auth_method": "none"});
    let cases: Vec<(&str, &str)> = vec![
        ("javascript:alert(document.cookie)", "never accepted"),
        ("JAVASCRIPT:alert(1)", "never accepted"),
        ("vbscript:msgbox(1)", "never accepted"),
        ("data:text/html,<script>alert(1)</script>", "never accepted"),
        ("file:///etc/passwd", "never accepted"),
        ("about:blank", "never accepted"),
        ("blob:https://mcp.test/1", "never accepted"),
        ("javascript.example:/cb", "never accepted"),
        ("https.evil.example:/cb", "imitates a web scheme"),
        ("httpx://evil.example/cb", "imitates a web scheme"),
        ("myapp://callback", "--allow-redirect-scheme myapp"),
        ("http://evil.example/cb", "loopback"),
        ("https://app.example/cb#x", "fragment"),
        ("https://u:p@app.example/cb", "userinfo"),
        ("https://*.app.example/cb", "wildcard"),
    ];
    for (bad, why) in &cases {
        // A mix of acceptable and unacceptable URIs: the whole registration is refused (RFC
        // 7591 §3.2.2) and the error names the offending URI.
        let r = register(
            &b,
            &public(vec![CURSOR_SCHEME_REDIRECT, "https://app.example/cb", bad]),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
        let e = error_body(&r);
        assert_eq!(e["error"], "invalid_redirect_uri", "{bad}");
        let d = e["error_description"].as_str().unwrap();
        assert!(d.contains(&format!("{bad:?}")), "{bad}: {d}");
        assert!(d.contains(why), "{bad}: {d}");
    }
    // A confidential client may not use a private-use scheme (RFC 8252 §8.4).
    let r = register(
        &b,
        &json!({"client_name": "X", "redirect_uris": [CURSOR_SCHEME_REDIRECT],
                "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    let e = error_body(&r);
    assert_eq!(e["error"], "invalid_redirect_uri");
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("public clients"),
        "{e}"
    );
    // Nothing was stored by any refused registration.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oauth_clients WHERE kind = 'dcr'")
        .fetch_one(t.state.store.pool())
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn operators_allow_more_schemes_and_exact_uris_but_never_dangerous_ones() {
    let (_t, b) = app(|c| {
        c.redirect.schemes = vec!["myapp".into()];
        c.redirect.uris = vec![
            "http://dev.internal:8080/cb".into(),
            "javascript:alert(1)".into(),
        ];
    })
    .await;
    let reg = |uri: &str, method: &str| json!({"client_name": "X", "redirect_uris": [uri], "token_endpoint_auth_method": method});
    let c = registered(
        &register(&b, &reg("myapp://callback", "none")).await,
        "myapp://callback",
    );
    let (verifier, challenge) = pkce();
    let (page, text) = consent_page(&b, &c, &challenge).await;
    assert!(text.contains("the app that handles myapp: links"), "{text}");
    approve_exchange_call(&b, &c, &page, &verifier).await;

    let r = register(
        &b,
        &reg("http://dev.internal:8080/cb", "client_secret_post"),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for (bad, method) in [
        ("javascript:alert(1)", "none"),
        ("http://dev.internal:8080/other", "client_secret_post"),
        ("otherapp://callback", "none"),
    ] {
        let r = register(&b, &reg(bad, method)).await;
        assert_eq!(error_body(&r)["error"], "invalid_redirect_uri", "{bad}");
    }
}

#[tokio::test]
async fn consent_marks_known_hosted_clients_verified_and_the_rest_self_registered() {
    let (_t, b) = app(|_| {}).await;
    let chatgpt = register_chatgpt(&b).await;
    let (_, challenge) = pkce();
    let (_, text) = consent_page(&b, &chatgpt, &challenge).await;
    assert!(text.contains("verified: ChatGPT (chatgpt.com)"), "{text}");
    assert!(!text.contains(">self-registered<"), "{text}");

    // A look-alike host is not verified, and the name it chose is flagged.
    let r = register(
        &b,
        &json!({"client_name": "ChatGPT", "redirect_uris": ["https://chatgpt.com.evil.example/cb"],
                "token_endpoint_auth_method": "none"}),
    )
    .await;
    let fake = registered(&r, "https://chatgpt.com.evil.example/cb");
    let (_, challenge) = pkce();
    let (_, text) = consent_page(&b, &fake, &challenge).await;
    assert!(text.contains(">self-registered<"), "{text}");
    assert!(!text.contains("verified:"), "{text}");
    assert!(
        text.contains("sent to <strong>chatgpt.com.evil.example</strong>"),
        "{text}"
    );
}

/// Every client profile of the conformance harness (`conformance/src/profile.rs`: ChatGPT,
/// Claude, Claude Code's DCR fallback, Cursor, VS Code, MCP Inspector, the spec-only client)
/// registers with its exact DCR body — all its redirect URIs, its scope and grant types as the
/// client computes them from our metadata — and goes through sign-in, consent, the code on its own
/// callback, the token and a tool call.
#[tokio::test]
async fn every_harness_profile_registers_its_exact_dcr_body_and_reaches_a_tool_call() {
    use gigamcp_conformance::profile::{self, DcrInput};
    let (_t, b) = app(|_| {}).await;
    let asm = b
        .get("/.well-known/oauth-authorization-server")
        .await
        .json();
    let grants: Vec<String> = asm["grant_types_supported"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g.as_str().map(String::from))
        .collect();
    assert_eq!(asm["authorization_response_iss_parameter_supported"], true);
    for p in profile::ALL {
        let callback = p.redirect_uri(true);
        let uris = p.dcr_redirect_uris(&callback);
        let body = p.dcr_body_for(&DcrInput {
            redirect_uris: &uris,
            scope: Some("mcp:read mcp:tools"),
            as_grant_types: Some(&grants),
        });
        let r = register(&b, &body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {}", p.name, r.text);
        let j = r.json();
        assert_eq!(j["redirect_uris"], json!(uris), "{}", p.name);
        let c = Client {
            id: j["client_id"].as_str().unwrap().into(),
            secret: j["client_secret"].as_str().map(Into::into),
            redirect: callback,
        };
        assert_eq!(
            c.secret.is_some(),
            p.token_endpoint_auth_method != "none",
            "{}",
            p.name
        );
        let (verifier, challenge) = pkce();
        let (page, _) = consent_page(&b, &c, &challenge).await;
        approve_exchange_call(&b, &c, &page, &verifier).await;
    }
}
