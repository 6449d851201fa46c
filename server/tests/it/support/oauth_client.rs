//! A minimal browser and OAuth client for the authorization-server tests: a cookie jar, no
//! redirect following, HTML form parsing, PKCE, and the flow steps (register, sign in, consent,
//! token, refresh, MCP call). Shared by the `oauth` and `oauth_cimd` modules.
use super::PUBLIC_URL;
use base64::Engine;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
pub const CHATGPT_REDIRECT: &str = "https://chatgpt.com/connector_platform_oauth_redirect";
pub const ACME: &str = "https://mcp.test/t/acme/mcp";
pub const GLOBEX: &str = "https://mcp.test/t/globex/mcp";

// ---------------------------------------------------------------------------------------------
// A minimal browser / OAuth client.

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }
    pub fn location(&self) -> String {
        self.header("location")
            .unwrap_or_else(|| panic!("no Location ({}): {}", self.status, self.text))
    }
    /// Query parameters of the Location header.
    pub fn location_params(&self) -> HashMap<String, String> {
        let loc = url::Url::parse(&self.location()).expect("absolute Location");
        loc.query_pairs().into_owned().collect()
    }
}

pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
    pub cookies: Mutex<HashMap<String, String>>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
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
    pub fn url(&self, path: &str) -> String {
        match path.strip_prefix(PUBLIC_URL) {
            Some(rest) => format!("{}{rest}", self.base),
            None if path.starts_with('/') => format!("{}{path}", self.base),
            None => path.to_string(),
        }
    }

    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
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

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.send(self.http.post(self.url(path)).form(form)).await
    }

    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.lock().unwrap().contains_key(name)
    }
}

pub fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
}

pub fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// The successful controls of the form posting to `action` (hidden/text inputs and the first
/// option of each select), as a browser would submit them.
pub fn form_fields(html: &str, action: &str) -> Vec<(String, String)> {
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

pub fn pkce() -> (String, String) {
    let verifier = gigamcp_server::secrets::random_token(32);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub fn chatgpt_state() -> String {
    format!(
        "oauth_s_{}",
        hex::encode(gigamcp_server::secrets::random_bytes(16))
    )
}

pub fn authorize_path(
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
pub fn chatgpt_registration() -> Value {
    json!({
        "client_name": "ChatGPT",
        "redirect_uris": [CHATGPT_REDIRECT, "https://chatgpt.com/connector/oauth/HQfKFmhTEJCq"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_post"
    })
}

pub async fn register(b: &Browser, body: &Value) -> Resp {
    b.send(b.http.post(b.url("/api/oauth/server/register")).json(body))
        .await
}

/// A registered client: id, secret (if confidential) and its first redirect URI.
pub struct Client {
    pub id: String,
    pub secret: Option<String>,
    pub redirect: String,
}

pub async fn register_chatgpt(b: &Browser) -> Client {
    let r = register(b, &chatgpt_registration()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let j = r.json();
    Client {
        id: j["client_id"].as_str().unwrap().into(),
        secret: j["client_secret"].as_str().map(Into::into),
        redirect: CHATGPT_REDIRECT.into(),
    }
}

pub async fn register_public(b: &Browser, redirect: &str) -> Client {
    let r = register(
        b,
        &json!({"client_name": "CLI", "redirect_uris": [redirect], "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    Client {
        id: r.json()["client_id"].as_str().unwrap().into(),
        secret: None,
        redirect: redirect.into(),
    }
}

/// Signs `user` in through the login form reached by following `login_location`; returns where
/// sign-in redirects to.
pub async fn sign_in(b: &Browser, login_location: &str, user: &str) -> String {
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
pub async fn consent(b: &Browser, page: &Resp, decision: &str, workspace: Option<&str>) -> Resp {
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
pub async fn authorize(
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

/// Signs `user` in, approves `c` for `resource` and returns (authorization code, PKCE verifier).
pub async fn code_for(b: &Browser, c: &Client, user: &str, resource: &str) -> (String, String) {
    let (v, ch) = pkce();
    let r = authorize(b, user, c, &ch, "s", &[("resource", resource)]).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
    (r.location_params()["code"].clone(), v)
}

pub async fn token(b: &Browser, form: &[(&str, &str)]) -> Resp {
    b.post_form("/api/oauth/server/token", form).await
}

/// The code exchange as ChatGPT sends it (client_secret_post, resource, redirect_uri).
pub async fn exchange(b: &Browser, c: &Client, code: &str, verifier: &str, resource: &str) -> Resp {
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

pub async fn refresh(b: &Browser, c: &Client, rt: &str, extra: &[(&str, &str)]) -> Resp {
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
pub async fn connect(b: &Browser, user: &str, c: &Client, resource: &str) -> Value {
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
pub async fn mcp_call(b: &Browser, slug: &str, token: &str) -> Resp {
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

pub fn error_body(r: &Resp) -> Value {
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json"),
        "{}",
        r.text
    );
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    r.json()
}
