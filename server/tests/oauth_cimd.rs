//! Client ID Metadata Documents end to end: a URL `client_id` whose document is served by a
//! wiremock server on loopback (`allow_http_loopback`), the whole ChatGPT-shaped flow, and every
//! refusal (mismatched client_id, missing redirect_uris, oversized or non-JSON document,
//! private_key_jwt only, unlisted redirect, private addresses, disabled policy) plus caching.
mod support;

use base64::Engine;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use support::{PUBLIC_URL, TestApp};

const CHATGPT_REDIRECT: &str = "https://chatgpt.com/connector_platform_oauth_redirect";
const ACME: &str = "https://mcp.test/t/acme/mcp";

// ---------------------------------------------------------------------------------------------
// A minimal browser / OAuth client.

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }
    fn location(&self) -> String {
        self.header("location")
            .unwrap_or_else(|| panic!("no Location ({}): {}", self.status, self.text))
    }
    /// Query parameters of the Location header.
    fn location_params(&self) -> HashMap<String, String> {
        let loc = url::Url::parse(&self.location()).expect("absolute Location");
        loc.query_pairs().into_owned().collect()
    }
}

struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: Mutex<HashMap<String, String>>,
}

impl Browser {
    fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            http,
            base: base.to_string(),
            cookies: Mutex::new(HashMap::new()),
        }
    }

    /// A path on the server, or a `https://mcp.test/…` URL mapped onto the test socket.
    fn url(&self, path: &str) -> String {
        match path.strip_prefix(PUBLIC_URL) {
            Some(rest) => format!("{}{rest}", self.base),
            None if path.starts_with('/') => format!("{}{path}", self.base),
            None => path.to_string(),
        }
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let cookie = {
            let c = self.cookies.lock().unwrap();
            c.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let rb = if cookie.is_empty() {
            rb
        } else {
            rb.header("cookie", cookie)
        };
        let r = rb.send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        for sc in headers.get_all("set-cookie") {
            let sc = sc.to_str().unwrap();
            let (kv, attrs) = sc.split_once(';').unwrap_or((sc, ""));
            let (k, v) = kv.split_once('=').unwrap();
            let mut c = self.cookies.lock().unwrap();
            if v.is_empty() || attrs.contains("Max-Age=0") {
                c.remove(k);
            } else {
                c.insert(k.to_string(), v.to_string());
            }
        }
        Resp {
            status,
            headers,
            text: r.text().await.unwrap(),
        }
    }

    async fn get(&self, path: &str) -> Resp {
        self.send(self.http.get(self.url(path))).await
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.send(self.http.post(self.url(path)).form(form)).await
    }
}

fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// The successful controls of the form posting to `action` (hidden/text inputs and the first
/// option of each select), as a browser would submit them.
fn form_fields(html: &str, action: &str) -> Vec<(String, String)> {
    let start = html
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form for {action}:\n{html}"));
    let end = html[start..].find("</form>").unwrap() + start;
    let form = &html[start..end];
    let mut out = Vec::new();
    for part in form.split('<').skip(1) {
        let tag = part.split('>').next().unwrap_or("");
        if tag.starts_with("input ") && !tag.contains("type=\"submit\"") {
            if let Some(n) = attr(tag, "name") {
                out.push((n, attr(tag, "value").unwrap_or_default()));
            }
        } else if tag.starts_with("select ") {
            let n = attr(tag, "name").unwrap();
            let opt = form[form.find(tag).unwrap()..]
                .split("<option ")
                .nth(1)
                .unwrap();
            out.push((n, attr(&format!(" {opt}"), "value").unwrap()));
        }
    }
    out
}

fn pkce() -> (String, String) {
    let verifier = gigamcp_server::auth::secrets::random_token(32);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn chatgpt_state() -> String {
    format!(
        "oauth_s_{}",
        hex::encode(gigamcp_server::auth::secrets::random_bytes(16))
    )
}

fn authorize_path(
    client_id: &str,
    redirect: &str,
    challenge: &str,
    state: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("state", state)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("/api/oauth/server/authorize?{}", q.finish())
}

/// ChatGPT's registration body as observed (spec step 4a), plus the 2026 per-connection URI.
/// A registered client: id, secret (if confidential) and its first redirect URI.
struct Client {
    id: String,
    secret: Option<String>,
    redirect: String,
}

/// Signs `user` in through the login form reached by following `login_location`; returns where
/// sign-in redirects to.
async fn sign_in(b: &Browser, login_location: &str, user: &str) -> String {
    let page = b.get(login_location).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let mut fields = form_fields(&page.text, "/login");
    for (k, v) in fields.iter_mut() {
        match k.as_str() {
            "username" => *v = user.into(),
            "password" => *v = format!("pw-{user}"),
            _ => {}
        }
    }
    let f: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = b.post_form("/login", &f).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    r.location()
}

/// Submits the consent page with `decision` and the first workspace offered (or `workspace`).
async fn consent(b: &Browser, page: &Resp, decision: &str, workspace: Option<&str>) -> Resp {
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let mut fields = form_fields(&page.text, "/api/oauth/server/authorize");
    if let Some(w) = workspace {
        for (k, v) in fields.iter_mut() {
            if k == "workspace" {
                *v = w.into();
            }
        }
    }
    fields.push(("decision".into(), decision.into()));
    let f: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    b.post_form("/api/oauth/server/authorize", &f).await
}

/// Authorize → (sign in if needed) → consent (if shown) → the redirect back to the client.
async fn authorize(
    b: &Browser,
    user: &str,
    c: &Client,
    challenge: &str,
    state: &str,
    extra: &[(&str, &str)],
) -> Resp {
    let path = authorize_path(&c.id, &c.redirect, challenge, state, extra);
    let mut r = b.get(&path).await;
    if r.status == StatusCode::SEE_OTHER && r.location().starts_with("/login") {
        let back = sign_in(b, &r.location(), user).await;
        r = b.get(&back).await;
    }
    if r.status == StatusCode::OK && r.text.contains("name=\"decision\"") {
        r = consent(b, &r, "approve", None).await;
    }
    r
}

async fn token(b: &Browser, form: &[(&str, &str)]) -> Resp {
    b.post_form("/api/oauth/server/token", form).await
}

/// The code exchange as ChatGPT sends it (client_secret_post, resource, redirect_uri).
async fn exchange(b: &Browser, c: &Client, code: &str, verifier: &str, resource: &str) -> Resp {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", c.redirect.as_str()),
        ("code_verifier", verifier),
        ("resource", resource),
        ("client_id", c.id.as_str()),
    ];
    if let Some(s) = &c.secret {
        form.push(("client_secret", s));
    }
    token(b, &form).await
}

async fn refresh(b: &Browser, c: &Client, rt: &str, extra: &[(&str, &str)]) -> Resp {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", rt),
        ("client_id", c.id.as_str()),
    ];
    if let Some(s) = &c.secret {
        form.push(("client_secret", s));
    }
    form.extend_from_slice(extra);
    token(b, &form).await
}

/// Full authorization for `user` on `resource`: returns the token response JSON.
async fn connect(b: &Browser, user: &str, c: &Client, resource: &str) -> Value {
    let (verifier, challenge) = pkce();
    let r = authorize(
        b,
        user,
        c,
        &challenge,
        &chatgpt_state(),
        &[("resource", resource), ("scope", "mcp:read mcp:tools")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
    let code = r.location_params()["code"].clone();
    let t = exchange(b, c, &code, &verifier, resource).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    t.json()
}

/// An MCP `tools/call` (ChatGPT's headers) with `token` on workspace `slug`.
async fn mcp_call(b: &Browser, slug: &str, token: &str) -> Resp {
    let body = json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search","arguments":{"query":"oncall"}}});
    b.send(
        b.http
            .post(b.url(&format!("/t/{slug}/mcp")))
            .header("authorization", format!("Bearer {token}"))
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .header("user-agent", "openai-mcp/1.0.0")
            .json(&body),
    )
    .await
}

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
        (&jwt_only, "only private_key_jwt"),
        (
            &bad_redirect,
            "http redirect URIs are only allowed on loopback",
        ),
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
