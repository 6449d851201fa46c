//! Recording HTTP client: every exchange with the target is kept, redacted, as evidence.
//!
//! Two clients share one log: `api` (no cookies, so a login session can never confound a bearer
//! test) and `browser` (cookie jar, used only by the form login driver). Neither follows
//! redirects: every 3xx is evidence to grade, and the final redirect to a client's callback must
//! never be followed.

use crate::redact::Redactor;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One recorded request/response pair (already redacted).
#[derive(Clone, Debug, Serialize)]
pub struct Exchange {
    pub seq: usize,
    /// What the harness was doing, e.g. `discovery: unauthenticated probe`.
    pub step: String,
    pub method: String,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub elapsed_ms: u128,
}

/// Request body.
#[derive(Clone, Debug)]
pub enum Body {
    None,
    Json(serde_json::Value),
    Form(Vec<(String, String)>),
    /// Sent verbatim; `Content-Type` only if the request's headers name one (fuzzing).
    Raw(String),
}

/// A request to send.
#[derive(Clone, Debug)]
pub struct Req {
    pub step: String,
    pub method: reqwest::Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// Use the cookie-keeping browser client.
    pub browser: bool,
}

impl Req {
    pub fn new(step: impl Into<String>, method: reqwest::Method, url: impl Into<String>) -> Req {
        Req {
            step: step.into(),
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Body::None,
            browser: false,
        }
    }
    pub fn get(step: impl Into<String>, url: impl Into<String>) -> Req {
        Req::new(step, reqwest::Method::GET, url)
    }
    pub fn post(step: impl Into<String>, url: impl Into<String>) -> Req {
        Req::new(step, reqwest::Method::POST, url)
    }
    pub fn header(mut self, k: impl Into<String>, v: impl Into<String>) -> Req {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn json(mut self, v: serde_json::Value) -> Req {
        self.body = Body::Json(v);
        self
    }
    pub fn form(mut self, f: Vec<(String, String)>) -> Req {
        self.body = Body::Form(f);
        self
    }
    pub fn browser(mut self) -> Req {
        self.browser = true;
        self
    }
}

/// A received response (not redacted: the harness needs the real values).
#[derive(Clone, Debug)]
pub struct Resp {
    pub status: u16,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Index into the exchange log.
    pub id: usize,
    pub elapsed: Duration,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        let n = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.as_str())
    }
    pub fn headers_all(&self, name: &str) -> Vec<&str> {
        let n = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(k, _)| *k == n)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn content_type(&self) -> String {
        self.header("content-type")
            .unwrap_or("")
            .to_ascii_lowercase()
    }
    /// `application/json` or any `+json` media type.
    pub fn is_json_type(&self) -> bool {
        let ct = self.content_type();
        let essence = ct.split(';').next().unwrap_or("").trim();
        essence == "application/json" || essence.ends_with("+json")
    }
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
    /// Looks like an HTML page (by content type or by sniffing).
    pub fn is_html(&self) -> bool {
        let ct = self.content_type();
        if ct.contains("html") {
            return true;
        }
        let head = self
            .body
            .trim_start()
            .get(..15)
            .unwrap_or(self.body.trim_start())
            .to_ascii_lowercase();
        head.starts_with("<!doctype html") || head.starts_with("<html")
    }
    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status) && self.header("location").is_some()
    }
}

/// Transport-level failure (connection refused, timeout, TLS…).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// A 429 the client waited out before sending the request again.
#[derive(Clone, Debug, Serialize)]
pub struct RateLimitWait {
    /// The exchange that was answered 429.
    pub exchange: usize,
    pub url: String,
    pub waited_secs: u64,
}

/// Longest `Retry-After` the client waits out; a longer one is answered as it came.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Retries of one request after 429s.
const MAX_RETRIES: usize = 3;
/// All 429 waits of one run together.
const RATE_LIMIT_BUDGET: Duration = Duration::from_secs(300);

/// `Retry-After` as delta-seconds (RFC 9110 §10.2.3); an HTTP-date is not waited for.
pub fn retry_after(r: &Resp) -> Option<Duration> {
    r.header("retry-after")?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The recording client.
#[derive(Clone)]
pub struct Http {
    api: reqwest::Client,
    browser: reqwest::Client,
    log: Arc<Mutex<Vec<Exchange>>>,
    waits: Arc<Mutex<Vec<RateLimitWait>>>,
    pub redactor: Arc<Redactor>,
    extra_headers: Vec<(String, String)>,
    user_agent: String,
}

impl Http {
    pub fn new(
        user_agent: &str,
        extra_headers: Vec<(String, String)>,
        timeout: Duration,
    ) -> anyhow::Result<Http> {
        Self::with_roots(user_agent, extra_headers, timeout, &[])
    }

    /// Like [`Http::new`], also trusting the root certificates in the PEM files `ca_certs`.
    pub fn with_roots(
        user_agent: &str,
        extra_headers: Vec<(String, String)>,
        timeout: Duration,
        ca_certs: &[std::path::PathBuf],
    ) -> anyhow::Result<Http> {
        let mut roots = Vec::new();
        for path in ca_certs {
            let pem = std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("--ca-cert {}: {e}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| anyhow::anyhow!("--ca-cert {}: {e}", path.display()))?;
            if certs.is_empty() {
                anyhow::bail!("--ca-cert {}: no PEM certificate in it", path.display());
            }
            roots.extend(certs);
        }
        let build = |cookies: bool| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(cookies)
                .timeout(timeout)
                .tls_certs_merge(roots.iter().cloned())
                .build()
        };
        Ok(Http {
            api: build(false)?,
            browser: build(true)?,
            log: Arc::new(Mutex::new(Vec::new())),
            waits: Arc::new(Mutex::new(Vec::new())),
            redactor: Arc::new(Redactor::default()),
            extra_headers,
            user_agent: user_agent.to_string(),
        })
    }

    /// Registers a secret so it is masked in all evidence.
    pub fn secret(&self, s: &str) {
        self.redactor.learn(s);
    }

    /// Snapshot of the redacted exchange log.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.log.lock().expect("log lock").clone()
    }

    /// Records an exchange made outside this client (the browser login driver's navigations),
    /// redacting it like any other; returns its index in the log.
    pub fn record(&self, mut ex: Exchange) -> usize {
        let red = &self.redactor;
        let ct = |h: &[(String, String)]| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| v.clone())
        };
        let req_ct = ct(&ex.request_headers);
        let resp_ct = ct(&ex.response_headers);
        ex.url = red.url(&ex.url);
        ex.request_headers = ex
            .request_headers
            .iter()
            .map(|(k, v)| (k.clone(), red.header(k, v)))
            .collect();
        ex.request_body = ex.request_body.map(|b| red.body(req_ct.as_deref(), &b));
        ex.response_headers = ex
            .response_headers
            .iter()
            .map(|(k, v)| (k.clone(), red.header(k, v)))
            .collect();
        ex.response_body = ex.response_body.map(|b| red.body(resp_ct.as_deref(), &b));
        ex.error = ex.error.map(|e| red.text(&e));
        let mut log = self.log.lock().expect("log lock");
        ex.seq = log.len();
        log.push(ex);
        log.len() - 1
    }

    /// 429s waited out so far.
    pub fn rate_limit_waits(&self) -> Vec<RateLimitWait> {
        self.waits.lock().expect("waits lock").clone()
    }

    /// Sends a request and records it. A 429 whose `Retry-After` is at most
    /// [`MAX_RETRY_AFTER`] is waited out and the request sent again (at most 3 times, at most
    /// 300 s of waiting per run); every attempt stays in the evidence.
    pub async fn send(&self, req: Req) -> Result<Resp, TransportError> {
        let mut attempt = 0;
        loop {
            let r = self.send_once(req.clone()).await?;
            if r.status != 429 || attempt >= MAX_RETRIES {
                return Ok(r);
            }
            let Some(wait) = retry_after(&r).filter(|w| *w <= MAX_RETRY_AFTER) else {
                return Ok(r);
            };
            {
                let mut waits = self.waits.lock().expect("waits lock");
                let spent: u64 = waits.iter().map(|w| w.waited_secs).sum();
                if Duration::from_secs(spent) + wait > RATE_LIMIT_BUDGET {
                    return Ok(r);
                }
                waits.push(RateLimitWait {
                    exchange: r.id,
                    url: self.redactor.url(&req.url),
                    waited_secs: wait.as_secs(),
                });
            }
            eprintln!(
                "rate limited (429) at {}: waiting {} s as Retry-After asks",
                self.redactor.url(&req.url),
                wait.as_secs()
            );
            // One second more than asked: a sliding window counts whole seconds.
            tokio::time::sleep(wait + Duration::from_secs(1)).await;
            attempt += 1;
        }
    }

    async fn send_once(&self, req: Req) -> Result<Resp, TransportError> {
        let client = if req.browser {
            &self.browser
        } else {
            &self.api
        };
        let (sent_headers, body) = self.outgoing(&req);
        let mut rb = client.request(req.method.clone(), &req.url);
        if let Some((text, _)) = &body {
            rb = rb.body(text.clone());
        }
        for (k, v) in &sent_headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        let started = Instant::now();
        let result = rb.send().await;
        let red = &self.redactor;
        let mut ex = Exchange {
            seq: 0,
            step: req.step.clone(),
            method: req.method.to_string(),
            url: red.url(&req.url),
            request_headers: sent_headers
                .iter()
                .map(|(k, v)| (k.clone(), red.header(k, v)))
                .collect(),
            request_body: body.as_ref().map(|(b, ct)| red.body(ct.as_deref(), b)),
            status: None,
            response_headers: Vec::new(),
            response_body: None,
            error: None,
            elapsed_ms: 0,
        };
        let out = match result {
            Ok(resp) => Ok(self.received(resp, &mut ex, started).await),
            Err(e) => {
                ex.error = Some(describe_reqwest_error(&e));
                ex.elapsed_ms = started.elapsed().as_millis();
                Err(TransportError(format!(
                    "{} {}: {}",
                    req.method,
                    req.url,
                    describe_reqwest_error(&e)
                )))
            }
        };
        let mut log = self.log.lock().expect("log lock");
        ex.seq = log.len();
        let id = ex.seq;
        log.push(ex);
        out.map(|mut r| {
            r.id = id;
            r
        })
    }

    /// The headers sent with `req` (user agent and extra headers unless overridden, then the
    /// request's own) and its body with the body's content type.
    #[allow(clippy::type_complexity)]
    fn outgoing(&self, req: &Req) -> (Vec<(String, String)>, Option<(String, Option<String>)>) {
        let mut sent_headers: Vec<(String, String)> = Vec::new();
        let has = |name: &str| {
            req.headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(name))
        };
        if !has("user-agent") {
            sent_headers.push(("user-agent".into(), self.user_agent.clone()));
        }
        for (k, v) in &self.extra_headers {
            if !has(k) {
                sent_headers.push((k.clone(), v.clone()));
            }
        }
        sent_headers.extend(req.headers.iter().cloned());
        let body = match &req.body {
            Body::None => None,
            Body::Json(v) => {
                if !has("content-type") {
                    sent_headers.push(("content-type".into(), "application/json".into()));
                }
                Some((v.to_string(), Some("application/json".to_string())))
            }
            Body::Raw(s) => {
                let ct = req
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                    .map(|(_, v)| v.clone());
                Some((s.clone(), ct))
            }
            Body::Form(f) => {
                sent_headers.push((
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ));
                Some((
                    form_encode(f),
                    Some("application/x-www-form-urlencoded".to_string()),
                ))
            }
        };
        (sent_headers, body)
    }

    /// Reads a response and records it (redacted) in `ex`.
    async fn received(&self, resp: reqwest::Response, ex: &mut Exchange, started: Instant) -> Resp {
        let red = &self.redactor;
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = match resp.bytes().await {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                ex.error = Some(format!("reading body: {e}"));
                String::new()
            }
        };
        let elapsed = started.elapsed();
        let ct = headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| v.clone());
        ex.status = Some(status);
        ex.response_headers = headers
            .iter()
            .map(|(k, v)| (k.clone(), red.header(k, v)))
            .collect();
        ex.response_body = Some(red.body(ct.as_deref(), &truncate(&body, 64 * 1024)));
        ex.elapsed_ms = elapsed.as_millis();
        Resp {
            status,
            headers,
            body,
            id: 0,
            elapsed,
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[truncated {} bytes]", &s[..end], s.len() - end)
}

fn describe_reqwest_error(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// `application/x-www-form-urlencoded` serialisation.
pub fn form_encode(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish()
}
