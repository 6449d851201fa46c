//! Client ID Metadata Documents end to end: a URL `client_id` whose document is served by a
//! wiremock server on loopback (`allow_http_loopback`), the whole ChatGPT-shaped flow, and every
//! refusal (mismatched client_id, missing redirect_uris, oversized or non-JSON document,
//! private_key_jwt without keys, unlisted redirect, private addresses, disabled policy) plus caching.

use crate::support::{PUBLIC_URL, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::oauth_client::*;

// ---------------------------------------------------------------------------------------------
// CIMD fixtures.

use gigamcp_server::config::CimdPolicy;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const DOC_PATH: &str = "/oauth/client.json";

async fn cimd_app(enabled: bool, allow_http_loopback: bool) -> (TestApp, Browser) {
    let t = TestApp::with_config(|c| {
        c.cimd = CimdPolicy {
            enabled,
            allow_http_loopback,
        }
    })
    .await;
    t.seed_people().await;
    let base = t.serve().await;
    (t, Browser::new(&base))
}

/// ChatGPT's document (spec step 4b): singular `private_key_jwt`, plural list with `none` (Q14).
fn chatgpt_doc(client_id: &str) -> Value {
    json!({
        "client_id": client_id,
        "client_uri": "https://chatgpt.com/",
        "redirect_uris": [CHATGPT_REDIRECT],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": "ChatGPT",
        "logo_uri": "https://persistent.oaistatic.com/sonic/misc/openai-logo.png",
        "token_endpoint_auth_signing_alg": "RS256",
        "jwks_uri": "https://chatgpt.com/oauth/jwks.json"
    })
}

/// Serves `doc_for(url)` at `p` on `server`; returns the document URL (the client id).
async fn serve_doc(
    server: &MockServer,
    p: &str,
    template: impl FnOnce(&str) -> ResponseTemplate,
) -> String {
    let url = format!("{}{p}", server.uri());
    Mock::given(method("GET"))
        .and(path(p))
        .respond_with(template(&url))
        .mount(server)
        .await;
    url
}

fn json_doc(doc: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/json")
        .insert_header("cache-control", "public, max-age=60")
        .set_body_string(doc.to_string())
}

fn cimd_client(id: &str) -> Client {
    Client {
        id: id.into(),
        secret: None,
        redirect: CHATGPT_REDIRECT.into(),
    }
}

/// An authorize request that must end on the error page (400, never a redirect).
async fn refused_page(b: &Browser, client_id: &str, redirect: &str) -> String {
    let (_, challenge) = pkce();
    let r = b
        .get(&authorize_path(
            client_id,
            redirect,
            &challenge,
            "st",
            &[("resource", ACME)],
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.header("location").is_none());
    unescape(&r.text)
}

async fn fetches(server: &MockServer, p: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[tokio::test]
async fn metadata_advertises_cimd_when_enabled() {
    let (_t, b) = cimd_app(true, false).await;
    let asm = b.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(asm.status, StatusCode::OK);
    assert_eq!(asm.json()["client_id_metadata_document_supported"], true);
    insta::assert_json_snapshot!("authorization_server_metadata_cimd", asm.json());
}

#[tokio::test]
async fn chatgpt_cimd_client_full_flow() {
    let docs = MockServer::start().await;
    let id = serve_doc(&docs, DOC_PATH, |u| json_doc(chatgpt_doc(u))).await;
    let (t, b) = cimd_app(true, true).await;
    let c = cimd_client(&id);

    // The consent page names the verified domain and the redirect host.
    let (verifier, challenge) = pkce();
    let path = authorize_path(
        &c.id,
        &c.redirect,
        &challenge,
        "st-1",
        &[("resource", ACME), ("scope", "mcp:read mcp:tools")],
    );
    let r = b.get(&path).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let back = sign_in(&b, &r.location(), "alice").await;
    let page = b.get(&back).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let host = url::Url::parse(&id).unwrap();
    let host = format!("{}:{}", host.host_str().unwrap(), host.port().unwrap());
    assert!(
        page.text.contains(&format!("verified domain: {host}")),
        "{}",
        page.text
    );
    assert!(!page.text.contains(">self-registered<"));
    assert!(page.text.contains("<strong>chatgpt.com</strong>"));
    let r = consent(&b, &page, "approve", None).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
    let q = r.location_params();
    assert_eq!(q["state"], "st-1");
    assert_eq!(q["iss"], PUBLIC_URL);

    // Public client at the token endpoint; another client id cannot redeem the code.
    let other = cimd_client(&format!("{}/other/client.json", docs.uri()));
    let stolen = exchange(&b, &other, &q["code"], &verifier, ACME).await;
    assert_eq!(stolen.status, StatusCode::UNAUTHORIZED, "{}", stolen.text);
    assert_eq!(stolen.json()["error"], "invalid_client");
    let tok = exchange(&b, &c, &q["code"], &verifier, ACME).await;
    assert_eq!(tok.status, StatusCode::OK, "{}", tok.text);
    let tok = tok.json();
    let access = tok["access_token"].as_str().unwrap();
    assert_eq!(mcp_call(&b, "acme", access).await.status, StatusCode::OK);
    let rt = tok["refresh_token"].as_str().unwrap();
    let refreshed = refresh(&b, &c, rt, &[]).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);

    // The client row exists as kind 'cimd' (grants and Connected apps rely on it).
    let row = t.state.store.client(&id).await.unwrap().unwrap();
    assert_eq!(row.kind, "cimd");
    assert_eq!(row.client_name, "ChatGPT");
    assert_eq!(row.token_endpoint_auth_method, "none");

    // Reconnecting skips consent (grant remembered) and uses the cached document.
    let again = connect(&b, "alice", &c, ACME).await;
    assert!(again["access_token"].is_string());
    assert_eq!(fetches(&docs, DOC_PATH).await, 1);
}

#[tokio::test]
async fn bad_documents_are_refused_on_the_error_page() {
    let docs = MockServer::start().await;
    let (t, b) = cimd_app(true, true).await;
    let mismatch = serve_doc(&docs, "/mismatch.json", |u| {
        let mut d = chatgpt_doc(u);
        d["client_id"] = json!(format!("{u}x"));
        json_doc(d)
    })
    .await;
    let no_redirects = serve_doc(&docs, "/no-redirects.json", |u| {
        let mut d = chatgpt_doc(u);
        d.as_object_mut().unwrap().remove("redirect_uris");
        json_doc(d)
    })
    .await;
    let no_name = serve_doc(&docs, "/no-name.json", |u| {
        let mut d = chatgpt_doc(u);
        d.as_object_mut().unwrap().remove("client_name");
        json_doc(d)
    })
    .await;
    let oversized = serve_doc(&docs, "/big.json", |u| {
        let mut d = chatgpt_doc(u);
        d["padding"] = json!("x".repeat(6000));
        json_doc(d)
    })
    .await;
    let not_json = serve_doc(&docs, "/html.json", |_| {
        ResponseTemplate::new(200).set_body_string("<html>hello</html>")
    })
    .await;
    let jwt_only = serve_doc(&docs, "/jwt.json", |u| {
        let mut d = chatgpt_doc(u);
        d["token_endpoint_auth_methods_supported"] = json!(["private_key_jwt"]);
        d.as_object_mut().unwrap().remove("jwks_uri");
        json_doc(d)
    })
    .await;
    let bad_redirect = serve_doc(&docs, "/bad-redirect.json", |u| {
        let mut d = chatgpt_doc(u);
        d["redirect_uris"] = json!(["http://evil.example/cb"]);
        json_doc(d)
    })
    .await;
    let redirected = serve_doc(&docs, "/moved.json", |_| {
        ResponseTemplate::new(302).insert_header("location", "/oauth/client.json")
    })
    .await;
    let good = serve_doc(&docs, DOC_PATH, |u| json_doc(chatgpt_doc(u))).await;

    for (id, why) in [
        (&mismatch, "is not exactly the URL it was fetched from"),
        (&no_redirects, "it has no redirect_uris"),
        (&no_name, "it has no client_name"),
        (&oversized, "larger than 5120 bytes"),
        (&not_json, "it is not a JSON object"),
        (
            &jwt_only,
            "private_key_jwt client authentication without a jwks_uri",
        ),
        (&bad_redirect, "http is only allowed on loopback hosts"),
        (&redirected, "redirect (HTTP 302), which is not followed"),
    ] {
        let text = refused_page(&b, id, CHATGPT_REDIRECT).await;
        assert!(text.contains(why), "{id}: {text}");
        assert!(t.state.store.client(id).await.unwrap().is_none(), "{id}");
    }
    // A redirect_uri the document does not list.
    let text = refused_page(&b, &good, "https://evil.example/cb").await;
    assert!(text.contains("is not registered"), "{text}");
    // Malformed client id URLs are refused before any fetch.
    for bad in [
        format!("{}/a/../client.json", docs.uri()),
        format!("{}/client.json#frag", docs.uri()),
        format!("{}/", docs.uri()),
    ] {
        let text = refused_page(&b, &bad, CHATGPT_REDIRECT).await;
        assert!(text.contains("is not acceptable"), "{bad}: {text}");
    }
    // Without a successful fetch, the token endpoint does not know the client.
    let tok = token(
        &b,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("code_verifier", &"v".repeat(50)),
            ("client_id", &mismatch),
        ],
    )
    .await;
    assert_eq!(tok.status, StatusCode::UNAUTHORIZED, "{}", tok.text);
    assert_eq!(tok.json()["error"], "invalid_client");
}

#[tokio::test]
async fn private_addresses_are_refused_without_loopback_policy() {
    let docs = MockServer::start().await;
    let id = serve_doc(&docs, DOC_PATH, |u| json_doc(chatgpt_doc(u))).await;
    let port = url::Url::parse(&id).unwrap().port().unwrap();
    let (_t, b) = cimd_app(true, false).await;
    let text = refused_page(&b, &id, CHATGPT_REDIRECT).await;
    assert!(text.contains("must use https"), "{text}");
    for (bad, why) in [
        (
            format!("https://127.0.0.1:{port}{DOC_PATH}"),
            "non-public address (127.0.0.1)",
        ),
        (
            format!("https://localhost:{port}{DOC_PATH}"),
            "non-public address",
        ),
        (
            "https://10.0.0.7/client.json".to_string(),
            "non-public address (10.0.0.7)",
        ),
        (
            "https://169.254.169.254/latest/meta-data".to_string(),
            "non-public address",
        ),
        (
            "https://[::1]/client.json".to_string(),
            "non-public address",
        ),
    ] {
        let text = refused_page(&b, &bad, CHATGPT_REDIRECT).await;
        assert!(text.contains(why), "{bad}: {text}");
    }
    assert_eq!(fetches(&docs, DOC_PATH).await, 0);
}

#[tokio::test]
async fn documents_are_cached_per_max_age() {
    let docs = MockServer::start().await;
    let id = serve_doc(&docs, DOC_PATH, |u| json_doc(chatgpt_doc(u))).await;
    let (t, b) = cimd_app(true, true).await;
    let c = cimd_client(&id);
    connect(&b, "alice", &c, ACME).await;
    connect(&b, "alice", &c, ACME).await;
    assert_eq!(
        fetches(&docs, DOC_PATH).await,
        1,
        "cached within max-age=60"
    );
    t.clock.advance(61);
    connect(&b, "alice", &c, ACME).await;
    assert_eq!(fetches(&docs, DOC_PATH).await, 2, "refetched after max-age");
}

#[tokio::test]
async fn disabled_policy_advertises_nothing_and_refuses_url_client_ids() {
    let docs = MockServer::start().await;
    let id = serve_doc(&docs, DOC_PATH, |u| json_doc(chatgpt_doc(u))).await;
    let (_t, b) = cimd_app(false, true).await;
    let asm = b.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(asm.json()["client_id_metadata_document_supported"], false);
    let text = refused_page(&b, &id, CHATGPT_REDIRECT).await;
    assert!(
        text.contains("Client ID Metadata Documents are not enabled"),
        "{text}"
    );
    assert_eq!(fetches(&docs, DOC_PATH).await, 0);
    let tok = token(
        &b,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("code_verifier", &"v".repeat(50)),
            ("client_id", &id),
        ],
    )
    .await;
    assert_eq!(tok.json()["error"], "invalid_client");
}
