//! Interop check: the official Rust MCP SDK (`rmcp`) OAuth client against `gigamcp serve --demo`.
//!
//! ```text
//! gigamcp-interop-rmcp <mcp-url> <username> <password>
//! ```
//!
//! rmcp does everything OAuth itself: the first, unauthenticated connection gets the server's 401
//! challenge; `OAuthState::start_authorization` follows it to the protected resource metadata
//! (RFC 9728) and the authorization server metadata (RFC 8414), registers a client (RFC 7591) and
//! builds the PKCE S256 authorization URL; `handle_callback_with_issuer` checks `state` and `iss`
//! (RFC 9207) and redeems the code. This program only plays the user's browser: it fetches the
//! authorization URL with a cookie-keeping client, posts the login and consent forms and stops at
//! the redirect back to the loopback redirect URI. With the one token, two sessions follow: rmcp's
//! default lifecycle (`initialize`) and the 2026-07-28 revision's (`server/discover`). Exits 0
//! when in both the authorized rmcp client lists tools and `search_company_rag` returns text and
//! ranks the incident response runbook first.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use reqwest::header::{CONTENT_TYPE, LOCATION, ORIGIN};
use reqwest::{Method, StatusCode, redirect};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientConfig, Implementation, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::auth::{AuthClient, AuthorizationManager, AuthorizationRequest, OAuthState};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use scraper::{ElementRef, Html, Selector};
use url::Url;

const TAG: &str = "[rust-sdk]";
/// Nothing listens here: the "browser" stops at the redirect and hands the code over directly.
/// (The TypeScript and Python clients use 53682 and 53683.)
const REDIRECT_URI: &str = "http://127.0.0.1:53684/callback";
/// The whole flow, sign-in included, takes well under a second; this only bounds a hang.
const DEADLINE: Duration = Duration::from_secs(120);

macro_rules! log {
    ($($arg:tt)*) => { eprintln!("{TAG} {}", format!($($arg)*)) };
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mcp_url, username, password] = args.as_slice() else {
        eprintln!("usage: gigamcp-interop-rmcp <mcp-url> <username> <password>");
        return ExitCode::from(2);
    };
    match tokio::time::timeout(DEADLINE, run(mcp_url, username, password)).await {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("{TAG} FAIL: {e:#}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("{TAG} FAIL: the flow did not finish within {DEADLINE:?}");
            ExitCode::FAILURE
        }
    }
}

/// rmcp's own implementation info: the crate name and the version compiled into this binary.
fn rmcp_version() -> String {
    Implementation::from_build_env().version
}

fn client_config() -> ClientConfig {
    let mut info = ClientConfig::default();
    info.client_info = Implementation::new("gigamcp-interop-rmcp", rmcp_version());
    info
}

async fn run(mcp_url: &str, username: &str, password: &str) -> Result<()> {
    log!("rmcp {}", rmcp_version());
    let challenge = challenge(mcp_url).await?;
    let manager = authorize(mcp_url, challenge, username, password).await?;
    // One token, two sessions: rmcp's default lifecycle (`initialize`), then the 2026-07-28
    // revision's `server/discover` with per-request metadata.
    let auth = AuthClient::new(reqwest::Client::new(), manager);
    let first = call_tools(mcp_url, auth.clone(), ClientLifecycleMode::Initialize).await?;
    let modern = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    call_tools(mcp_url, auth, modern).await?;
    println!(
        "{TAG} PASS: OAuth flow completed with rmcp {}; over initialize and server/discover, search_company_rag ranked \"{first}\" first",
        rmcp_version()
    );
    Ok(())
}

fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The real connection, unauthenticated: the server's 401 challenge starts the flow.
async fn challenge(mcp_url: &str) -> Result<String> {
    let challenge = match client_config()
        .serve(StreamableHttpClientTransport::with_client(
            reqwest::Client::new(),
            StreamableHttpClientTransportConfig::with_uri(mcp_url),
        ))
        .await
    {
        Ok(_) => bail!("connected without authorization: expected a 401 challenge first"),
        Err(e) => e.auth_challenge().map(str::to_owned).ok_or_else(|| {
            anyhow!("the unauthenticated connection failed without a 401 challenge: {e}")
        })?,
    };
    log!("401 challenge: WWW-Authenticate: {challenge}");
    Ok(challenge)
}

/// rmcp authorizes; this program only plays the user's browser in the middle.
async fn authorize(
    mcp_url: &str,
    challenge: String,
    username: &str,
    password: &str,
) -> Result<AuthorizationManager> {
    // rmcp: discovery (protected resource metadata -> AS metadata), DCR, PKCE authorization URL.
    // No scopes given: rmcp selects them from the challenge and the metadata.
    let mut oauth = OAuthState::new(mcp_url, None)
        .await
        .context("rmcp OAuthState::new")?;
    oauth
        .start_authorization(
            AuthorizationRequest::new(REDIRECT_URI)
                .with_client_name("gigamcp interop (Rust SDK rmcp)")
                .with_challenge(challenge),
        )
        .await
        .context("rmcp start_authorization (discovery, client registration, authorization URL)")?;
    let (client_id, _) = oauth
        .get_credentials()
        .await
        .context("rmcp get_credentials")?;
    log!("registered client {client_id}");
    let auth_url = Url::parse(&oauth.get_authorization_url().await?)
        .context("rmcp produced an unparsable authorization URL")?;
    log!(
        "authorization request: resource={} scope={} code_challenge_method={}",
        query_param(&auth_url, "resource").unwrap_or_default(),
        query_param(&auth_url, "scope").unwrap_or_default(),
        query_param(&auth_url, "code_challenge_method").unwrap_or_default()
    );

    // The user's browser: sign in, approve, stop at the redirect to REDIRECT_URI.
    let back = Browser::new(username, password)?
        .authorize(auth_url)
        .await?;
    if let Some(error) = query_param(&back, "error") {
        bail!(
            "authorization error: {error}: {}",
            query_param(&back, "error_description").unwrap_or_default()
        );
    }
    let code = query_param(&back, "code").ok_or_else(|| anyhow!("no code in redirect {back}"))?;
    let state =
        query_param(&back, "state").ok_or_else(|| anyhow!("no state in redirect {back}"))?;
    let iss = query_param(&back, "iss");
    log!(
        "got authorization code (iss={})",
        iss.as_deref().unwrap_or("-")
    );

    // rmcp: check state and iss, redeem the code (with the PKCE verifier) for tokens.
    oauth
        .handle_callback_with_issuer(&code, &state, iss.as_deref())
        .await
        .context("rmcp handle_callback (token exchange)")?;
    let (_, token) = oauth
        .get_credentials()
        .await
        .context("rmcp get_credentials")?;
    let token = token.ok_or_else(|| anyhow!("rmcp stored no token after the exchange"))?;
    let token = serde_json::to_value(&token).context("serializing the token response")?;
    log!(
        "got tokens: token_type={} expires_in={} scope={} refresh={}",
        show(&token["token_type"]),
        show(&token["expires_in"]),
        show(&token["scope"]),
        if token.get("refresh_token").is_some_and(|r| !r.is_null()) {
            "yes"
        } else {
            "no"
        }
    );

    oauth
        .into_authorization_manager()
        .ok_or_else(|| anyhow!("rmcp OAuthState is not authorized after the token exchange"))
}

/// The authorized rmcp client: initialize, list tools, call search_company_rag; returns the
/// title of the first result.
async fn call_tools(
    mcp_url: &str,
    auth: AuthClient<reqwest::Client>,
    lifecycle: ClientLifecycleMode,
) -> Result<String> {
    let how = match &lifecycle {
        ClientLifecycleMode::Initialize => "initialize",
        _ => "server/discover",
    };
    let transport = StreamableHttpClientTransport::with_client(
        auth,
        StreamableHttpClientTransportConfig::with_uri(mcp_url),
    );
    let client = client_config()
        .serve_with_lifecycle(transport, lifecycle)
        .await
        .with_context(|| format!("{how} with the access token"))?;
    let server = client
        .peer_info()
        .ok_or_else(|| anyhow!("no server info after {how}"))?;
    log!(
        "connected ({how}): server {}, protocol {}",
        server
            .server_info
            .as_ref()
            .map(|i| format!("{} {}", i.name, i.version))
            .unwrap_or_else(|| "(unnamed)".into()),
        server.protocol_version
    );

    let tools = client.peer().list_all_tools().await.context("tools/list")?;
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    log!("tools: {}", names.join(", "));
    ensure!(
        names.contains(&"search_company_rag"),
        "search_company_rag not listed (got {names:?})"
    );

    let mut args = serde_json::Map::new();
    args.insert("query".into(), "incident response runbook".into());
    let res = client
        .call_tool(CallToolRequestParams::new("search_company_rag").with_arguments(args))
        .await
        .context("tools/call search_company_rag")?;
    ensure!(
        res.is_error != Some(true),
        "search_company_rag returned an error: {:?}",
        res.content
    );
    let text: String = res
        .content
        .iter()
        .filter_map(|c| c.as_text())
        .map(|t| t.text.as_str())
        .collect();
    ensure!(
        !text.trim().is_empty(),
        "search_company_rag returned no text content: {res:?}"
    );
    let results = res
        .structured_content
        .as_ref()
        .and_then(|s| s.get("results"))
        .and_then(|r| r.as_array())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| anyhow!("no results in structuredContent: {res:?}"))?;
    let title = |r: &serde_json::Value| r["title"].as_str().unwrap_or_default().to_owned();
    let first = title(&results[0]);
    log!("first result: {first} <{}>", show(&results[0]["url"]));
    ensure!(
        first == "Incident Response Runbook",
        "expected \"Incident Response Runbook\" first, got {:?}",
        results.iter().map(title).collect::<Vec<_>>()
    );

    client.cancel().await.context("closing the MCP session")?;
    Ok(first)
}

/// A JSON value as a person reads it: strings without quotes, absent as `-`.
fn show(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// A tiny browser: cookie jar, manual redirects, HTML forms.

struct Form {
    action: Url,
    method: String,
    fields: Vec<(String, String)>,
    buttons: Vec<(String, String)>,
}

impl Form {
    fn has_field(&self, name: &str) -> bool {
        self.fields.iter().any(|(n, _)| n == name)
    }
    fn is_login(&self) -> bool {
        self.has_field("username") && self.has_field("password")
    }
    fn is_consent(&self) -> bool {
        self.buttons
            .iter()
            .any(|(n, v)| n == "decision" && v == "approve")
    }
}

fn selector(s: &str) -> Selector {
    Selector::parse(s).expect("static selector")
}

/// Every `<form>` on the page: its action, method and named inputs / selects / buttons.
fn parse_forms(doc: &Html, page: &Url) -> Result<Vec<Form>> {
    let (forms, inputs, selects, options, buttons) = (
        selector("form"),
        selector("input[name]"),
        selector("select[name]"),
        selector("option"),
        selector("button[name]"),
    );
    let attr = |e: &ElementRef, name: &str| e.value().attr(name).map(str::to_owned);
    doc.select(&forms)
        .map(|form| {
            let mut fields: Vec<(String, String)> = form
                .select(&inputs)
                .map(|i| {
                    (
                        attr(&i, "name").unwrap_or_default(),
                        attr(&i, "value").unwrap_or_default(),
                    )
                })
                .collect();
            for s in form.select(&selects) {
                let opts: Vec<ElementRef> = s.select(&options).collect();
                let chosen = opts
                    .iter()
                    .find(|o| o.value().attr("selected").is_some())
                    .or(opts.first());
                if let Some(o) = chosen {
                    let value = attr(o, "value").unwrap_or_else(|| o.text().collect());
                    fields.push((attr(&s, "name").unwrap_or_default(), value));
                }
            }
            let buttons = form
                .select(&buttons)
                .map(|b| {
                    (
                        attr(&b, "name").unwrap_or_default(),
                        attr(&b, "value").unwrap_or_default(),
                    )
                })
                .collect();
            let action = match form.value().attr("action") {
                Some(a) => page
                    .join(a)
                    .with_context(|| format!("form action {a:?} on {page}"))?,
                None => page.clone(),
            };
            Ok(Form {
                action,
                method: attr(&form, "method")
                    .unwrap_or_else(|| "get".into())
                    .to_ascii_lowercase(),
                fields,
                buttons,
            })
        })
        .collect()
}

/// What a person would read on the page: the error paragraph if there is one, else the text.
fn page_text(doc: &Html) -> String {
    let collapse = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(err) = doc.select(&selector("p.error")).next() {
        return collapse(err.text().collect());
    }
    let body = doc
        .select(&selector("body"))
        .next()
        .unwrap_or_else(|| doc.root_element());
    collapse(body.text().collect()).chars().take(400).collect()
}

struct Browser {
    http: reqwest::Client,
    username: String,
    password: String,
}

impl Browser {
    fn new(username: &str, password: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the browser's HTTP client")?;
        Ok(Self {
            http,
            username: username.into(),
            password: password.into(),
        })
    }

    /// Follow the authorization URL through login and consent; return the redirect_uri URL.
    async fn authorize(&self, start: Url) -> Result<Url> {
        let (mut url, mut method, mut body) = (start, Method::GET, None::<String>);
        let (mut seen_login, mut seen_consent) = (0, 0);
        for _ in 0..20 {
            log!(
                "{method} {}{}",
                url.origin().ascii_serialization(),
                url.path()
            );
            let mut req = self.http.request(method.clone(), url.clone());
            if let Some(b) = &body {
                req = req
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(ORIGIN, url.origin().ascii_serialization())
                    .body(b.clone());
            }
            let resp = req
                .send()
                .await
                .with_context(|| format!("{method} {url}"))?;
            let status = resp.status();
            if status.is_redirection() {
                let loc = resp
                    .headers()
                    .get(LOCATION)
                    .ok_or_else(|| anyhow!("{status} from {} without Location", url.path()))?
                    .to_str()
                    .context("non-ASCII Location header")?;
                let next = url.join(loc).with_context(|| format!("Location {loc:?}"))?;
                if next.as_str().starts_with(REDIRECT_URI) {
                    return Ok(next);
                }
                // 303 (and 301/302 after a POST) turn into GET; 307/308 would repeat the request.
                if !matches!(
                    status,
                    StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
                ) {
                    method = Method::GET;
                    body = None;
                }
                url = next;
                continue;
            }
            let page = resp.text().await.context("reading the page")?;
            let doc = Html::parse_document(&page);
            if status != StatusCode::OK {
                bail!("{method} {} -> {status}: {}", url.path(), page_text(&doc));
            }
            let forms: Vec<Form> = parse_forms(&doc, &url)?
                .into_iter()
                .filter(|f| f.method == "post")
                .collect();
            let form = forms
                .iter()
                .find(|f| f.is_login())
                .or_else(|| forms.iter().find(|f| f.is_consent()))
                .ok_or_else(|| {
                    anyhow!(
                        "page {} has neither a login nor a consent form: {}",
                        url.path(),
                        page_text(&doc)
                    )
                })?;
            let mut data: Vec<(String, String)> = Vec::new();
            if form.is_login() {
                seen_login += 1;
                if seen_login > 1 {
                    bail!("login form shown again: {}", page_text(&doc));
                }
                for (n, v) in &form.fields {
                    let v = match n.as_str() {
                        "username" => &self.username,
                        "password" => &self.password,
                        _ => v,
                    };
                    data.push((n.clone(), v.clone()));
                }
                log!("submitting login form");
            } else {
                seen_consent += 1;
                if seen_consent > 1 {
                    bail!("consent form shown again: {}", page_text(&doc));
                }
                data.extend(form.fields.iter().cloned());
                data.push(("decision".into(), "approve".into()));
                log!("approving consent form");
            }
            body = Some(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&data)
                    .finish(),
            );
            url = form.action.clone();
            method = Method::POST;
        }
        bail!("too many redirects / pages")
    }
}
