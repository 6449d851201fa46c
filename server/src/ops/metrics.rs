//! Prometheus metrics (`metrics` facade, `metrics-exporter-prometheus` recorder).
//!
//! Counters are recorded at outcome seams: the HTTP edge middleware ([`HttpLabels`]), the OAuth HTTP
//! adapter (token, registration, revocation, introspection outcomes), the audit recorder
//! (approvals, denials, replay detections), the sign-in handler, MCP dispatch, the bearer cache.
//! Gauges that describe state (sessions, database pool, indexes) are read when `/metrics` is
//! scraped. Labels carry only bounded, non-secret values: route templates, methods, status
//! codes, OAuth error codes, grant types, tool names from our own list, workspace slugs. Never a
//! token, a user name, a client id or a client name.
//!
//! Without [`install`] (`--metrics off`) every recording function returns at once.
use crate::limits::FastHash;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, OnceLock, RwLock};
use std::time::Duration;

pub const HTTP_REQUESTS: &str = "gigamcp_http_requests_total";
pub const HTTP_DURATION: &str = "gigamcp_http_request_duration_seconds";
pub const OAUTH_REGISTRATIONS: &str = "gigamcp_oauth_registrations_total";
pub const OAUTH_AUTHORIZATIONS: &str = "gigamcp_oauth_authorizations_total";
pub const OAUTH_TOKEN_REQUESTS: &str = "gigamcp_oauth_token_requests_total";
pub const OAUTH_REPLAYS: &str = "gigamcp_oauth_replay_detections_total";
pub const OAUTH_REVOCATIONS: &str = "gigamcp_oauth_revocations_total";
pub const OAUTH_INTROSPECTIONS: &str = "gigamcp_oauth_introspections_total";
pub const LOGIN_ATTEMPTS: &str = "gigamcp_login_attempts_total";
pub const MCP_REQUESTS: &str = "gigamcp_mcp_requests_total";
pub const MCP_DURATION: &str = "gigamcp_mcp_request_duration_seconds";
pub const MCP_SESSIONS: &str = "gigamcp_mcp_sessions";
pub const MCP_SSE_STREAMS: &str = "gigamcp_mcp_sse_streams";
pub const BEARER_CACHE: &str = "gigamcp_bearer_cache_lookups_total";
pub const BEARER_CACHE_ENTRIES: &str = "gigamcp_bearer_cache_entries";
pub const DB_POOL: &str = "gigamcp_db_pool_connections";
pub const DB_POOL_MAX: &str = "gigamcp_db_pool_max_connections";
pub const KNOWLEDGE_DOCUMENTS: &str = "gigamcp_knowledge_documents";
pub const KNOWLEDGE_PASSAGES: &str = "gigamcp_knowledge_passages";
pub const BUILD_INFO: &str = "gigamcp_build_info";
pub const RUNTIME_WORKERS: &str = "gigamcp_runtime_worker_threads";

/// Latency buckets (seconds) for every `*_seconds` histogram: 250 µs … 10 s.
const BUCKETS: [f64; 15] = [
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static ENABLED: AtomicBool = AtomicBool::new(false);
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The async runtime's worker threads (`serve --worker-threads`); 0 outside a runtime.
pub fn worker_threads() -> usize {
    tokio::runtime::Handle::try_current().map_or(0, |h| h.metrics().num_workers())
}

/// Installs the process-wide recorder (once; later calls return the same handle) and starts its
/// upkeep thread.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|e| anyhow::anyhow!("installing the metrics recorder: {e}"))?;
    let handle = HANDLE.get_or_init(|| handle).clone();
    describe();
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    gauge!(RUNTIME_WORKERS).set(worker_threads() as f64);
    ENABLED.store(true, Ordering::Relaxed);
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        })?;
    Ok(handle)
}

fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests by route template, method and status."
    );
    describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "HTTP request latency until the response head, by route template, method and status."
    );
    describe_counter!(
        OAUTH_REGISTRATIONS,
        "Dynamic client registrations (RFC 7591) by outcome: created or the OAuth error code."
    );
    describe_counter!(
        OAUTH_AUTHORIZATIONS,
        "Authorization decisions: approved (including remembered consent) or denied."
    );
    describe_counter!(
        OAUTH_TOKEN_REQUESTS,
        "Token endpoint requests by grant type and outcome: issued or the OAuth error code."
    );
    describe_counter!(
        OAUTH_REPLAYS,
        "Replays that revoked a grant: a used authorization code or a rotated refresh token presented again."
    );
    describe_counter!(
        OAUTH_REVOCATIONS,
        "Revocation requests (RFC 7009) by outcome."
    );
    describe_counter!(
        OAUTH_INTROSPECTIONS,
        "Introspection requests (RFC 7662) by outcome: active, inactive or the OAuth error code."
    );
    describe_counter!(
        LOGIN_ATTEMPTS,
        "Sign-in attempts by outcome: success, failed or throttled."
    );
    describe_counter!(
        MCP_REQUESTS,
        "MCP JSON-RPC requests by method, tool and outcome (ok, error, tool_error)."
    );
    describe_histogram!(
        MCP_DURATION,
        metrics::Unit::Seconds,
        "MCP request handling time by method and tool."
    );
    describe_gauge!(
        MCP_SESSIONS,
        "MCP sessions (legacy revisions) cached by this replica; all replicas share them in the database."
    );
    describe_gauge!(
        MCP_SSE_STREAMS,
        "Open SSE response streams by kind (get, post)."
    );
    describe_counter!(
        BEARER_CACHE,
        "Bearer token validation cache lookups: hit or miss."
    );
    describe_gauge!(
        BEARER_CACHE_ENTRIES,
        "Validated tokens in the bearer cache."
    );
    describe_gauge!(
        DB_POOL,
        "Database pool connections by state (in_use, idle)."
    );
    describe_gauge!(DB_POOL_MAX, "Largest size of the database pool.");
    describe_gauge!(
        KNOWLEDGE_DOCUMENTS,
        "Documents in a workspace's live search index."
    );
    describe_gauge!(
        KNOWLEDGE_PASSAGES,
        "Passages in a workspace's live search index."
    );
    describe_gauge!(BUILD_INFO, "Always 1; the version label names the build.");
    describe_gauge!(
        RUNTIME_WORKERS,
        "Threads of the async runtime that run requests (serve --worker-threads)."
    );
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// A route template as a label: `/t/{slug}/mcp` becomes `/t/:slug/mcp`. Braces are legal in a
/// label value, but line-oriented parsers of the text format stop at the first `}`.
pub fn route_label(template: &str) -> String {
    template.replace('{', ":").replace('}', "")
}

/// A counter and a latency histogram with the same labels.
type Handles = (metrics::Counter, metrics::Histogram);

/// Label sets of the per-request metrics seen so far, with their registered handles: a request
/// records through a read-locked lookup instead of building, hashing and registering its label
/// set again (which cost 10 % of a cached `fetch`), and records under the read lock (no clone of
/// the handles' reference counts). Bounded by the label cardinality (routes × methods × statuses;
/// methods × tools × outcomes); beyond [`MAX_HANDLE_SETS`] the macros are used directly. Keyed
/// by the server's own route templates and names only, so hashed with foldhash.
static HTTP_HANDLES: LazyLock<RwLock<HttpHandles>> = LazyLock::new(Default::default);
static MCP_HANDLES: LazyLock<RwLock<McpHandles>> = LazyLock::new(Default::default);
/// Route template → (method, status) → handles.
type HttpHandles = HashMap<String, Vec<((&'static str, u16), Handles)>, FastHash>;
/// (method, tool, outcome) → handles.
type McpHandles = HashMap<(&'static str, &'static str, &'static str), Handles, FastHash>;
const MAX_HANDLE_SETS: usize = 1024;

/// One counter increment and one latency observation.
fn observe((count, latency): &Handles, took: Duration) {
    count.increment(1);
    latency.record(took.as_secs_f64());
}

/// Records one HTTP request under its label set's handles.
fn http_observe(template: &str, method: &'static str, status: u16, took: Duration) {
    let key = (method, status);
    if let Ok(m) = HTTP_HANDLES.read()
        && let Some((_, h)) = m
            .get(template)
            .and_then(|v| v.iter().find(|(k, _)| *k == key))
    {
        return observe(h, took);
    }
    let labels = [
        ("method", method.to_owned()),
        ("route", route_label(template)),
        ("status", status.to_string()),
    ];
    let h = (
        counter!(HTTP_REQUESTS, &labels),
        histogram!(HTTP_DURATION, &labels),
    );
    observe(&h, took);
    if let Ok(mut m) = HTTP_HANDLES.write()
        && m.values().map(Vec::len).sum::<usize>() < MAX_HANDLE_SETS
    {
        let sets = m.entry(template.to_owned()).or_default();
        if !sets.iter().any(|(k, _)| *k == key) {
            sets.push((key, h));
        }
    }
}

/// The labels of one HTTP request, taken by the edge middleware before the request runs (inside
/// the router, so the matched route template is known) and recorded with the response's status
/// and the latency the middleware measured. `None` when metrics are off. Unmatched paths share
/// the route label `unmatched`.
pub struct HttpLabels {
    template: Option<MatchedPath>,
    method: &'static str,
}

impl HttpLabels {
    pub fn of(req: &Request) -> Option<Self> {
        enabled().then(|| Self {
            template: req.extensions().get::<MatchedPath>().cloned(),
            method: method_label(req.method()),
        })
    }

    /// One counter increment and one latency observation.
    pub fn record(self, status: u16, took: Duration) {
        let route = self.template.as_ref().map_or("unmatched", |p| p.as_str());
        http_observe(route, self.method, status, took);
    }
}

/// The Prometheus text exposition of everything recorded so far.
pub fn render(handle: &PrometheusHandle) -> Response {
    let mut resp = handle.render().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Sets the gauges that describe state, just before a scrape.
pub struct StateSample<'a> {
    pub sessions: usize,
    pub bearer_cache_entries: usize,
    pub pool_size: u32,
    pub pool_idle: usize,
    pub pool_max: u32,
    /// Workspace slug, documents, passages of each live index.
    pub indexes: &'a [(String, usize, usize)],
}

pub fn sample(s: &StateSample<'_>) {
    if !enabled() {
        return;
    }
    gauge!(MCP_SESSIONS).set(s.sessions as f64);
    gauge!(BEARER_CACHE_ENTRIES).set(s.bearer_cache_entries as f64);
    let idle = s.pool_idle as f64;
    gauge!(DB_POOL, "state" => "idle").set(idle);
    gauge!(DB_POOL, "state" => "in_use").set((f64::from(s.pool_size) - idle).max(0.0));
    gauge!(DB_POOL_MAX).set(f64::from(s.pool_max));
    for (workspace, documents, passages) in s.indexes {
        gauge!(KNOWLEDGE_DOCUMENTS, "workspace" => workspace.clone()).set(*documents as f64);
        gauge!(KNOWLEDGE_PASSAGES, "workspace" => workspace.clone()).set(*passages as f64);
    }
}

// ---- outcome seams ----

/// An OAuth endpoint outcome label: the RFC error code, or `ok_label` on success.
fn outcome<T>(
    result: &Result<T, crate::error::OAuthError>,
    ok_label: &'static str,
) -> &'static str {
    match result {
        Ok(_) => ok_label,
        Err(e) => e.code,
    }
}

pub fn registration<T>(result: &Result<T, crate::error::OAuthError>) {
    if enabled() {
        counter!(OAUTH_REGISTRATIONS, "outcome" => outcome(result, "created")).increment(1);
    }
}

/// `grant_type` as sent, folded onto the grant types this server knows.
pub fn grant_type_label(grant_type: Option<&str>) -> &'static str {
    match grant_type {
        Some("authorization_code") => "authorization_code",
        Some("refresh_token") => "refresh_token",
        Some(_) => "other",
        None => "missing",
    }
}

pub fn token_request<T>(grant_type: &'static str, result: &Result<T, crate::error::OAuthError>) {
    if enabled() {
        counter!(OAUTH_TOKEN_REQUESTS, "grant_type" => grant_type, "outcome" => outcome(result, "issued"))
            .increment(1);
    }
}

pub fn revocation<T>(result: &Result<T, crate::error::OAuthError>) {
    if enabled() {
        counter!(OAUTH_REVOCATIONS, "outcome" => outcome(result, "ok")).increment(1);
    }
}

pub fn introspection(result: &Result<serde_json::Value, crate::error::OAuthError>) {
    if enabled() {
        let label = match result {
            Ok(doc) if doc["active"] == serde_json::Value::Bool(true) => "active",
            Ok(_) => "inactive",
            Err(e) => e.code,
        };
        counter!(OAUTH_INTROSPECTIONS, "outcome" => label).increment(1);
    }
}

/// Audit events that are also metrics (the audit recorder is the one place every approval,
/// denial and replay detection passes).
pub fn audit_event(event: &str) {
    if !enabled() {
        return;
    }
    match event {
        "authorization_approved" => {
            counter!(OAUTH_AUTHORIZATIONS, "decision" => "approved").increment(1)
        }
        "authorization_denied" => {
            counter!(OAUTH_AUTHORIZATIONS, "decision" => "denied").increment(1)
        }
        "refresh_replay_revoked" => counter!(OAUTH_REPLAYS, "kind" => "refresh_token").increment(1),
        "code_replay_revoked" => {
            counter!(OAUTH_REPLAYS, "kind" => "authorization_code").increment(1)
        }
        _ => {}
    }
}

/// `success`, `failed` or `throttled`.
pub fn login_attempt(outcome: &'static str) {
    if enabled() {
        counter!(LOGIN_ATTEMPTS, "outcome" => outcome).increment(1);
    }
}

pub fn bearer_cache(hit: bool) {
    // Registered once: every MCP request counts here.
    static HANDLES: OnceLock<(metrics::Counter, metrics::Counter)> = OnceLock::new();
    if enabled() {
        let (hits, misses) = HANDLES.get_or_init(|| {
            (
                counter!(BEARER_CACHE, "result" => "hit"),
                counter!(BEARER_CACHE, "result" => "miss"),
            )
        });
        if hit { hits } else { misses }.increment(1);
    }
}

/// One MCP request: `method` and `tool` must come from our own lists (never client text).
pub fn mcp_request(
    method: &'static str,
    tool: &'static str,
    outcome: &'static str,
    took: Duration,
) {
    if !enabled() {
        return;
    }
    let key = (method, tool, outcome);
    if let Ok(m) = MCP_HANDLES.read()
        && let Some(h) = m.get(&key)
    {
        return observe(h, took);
    }
    let h = (
        counter!(MCP_REQUESTS, "method" => method, "tool" => tool, "outcome" => outcome),
        histogram!(MCP_DURATION, "method" => method, "tool" => tool),
    );
    observe(&h, took);
    if let Ok(mut m) = MCP_HANDLES.write()
        && m.len() < MAX_HANDLE_SETS
    {
        m.insert(key, h);
    }
}

/// Counts an open SSE stream until dropped.
pub struct SseStream(Option<&'static str>);

impl SseStream {
    pub fn open(kind: &'static str) -> Self {
        if !enabled() {
            return Self(None);
        }
        gauge!(MCP_SSE_STREAMS, "kind" => kind).increment(1.0);
        Self(Some(kind))
    }
}

impl Drop for SseStream {
    fn drop(&mut self) {
        if let Some(kind) = self.0 {
            gauge!(MCP_SSE_STREAMS, "kind" => kind).decrement(1.0);
        }
    }
}
