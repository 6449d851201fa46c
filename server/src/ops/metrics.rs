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
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
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
                // Tallies reach the recorder at least this often, so they never pile up
                // between scrapes (`Histogram::record_many` is one push per value).
                flush();
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

/// What one thread recorded under one label set since the last [`flush`]: the requests, and per
/// latency bucket (the exporter's own [`BUCKETS`], plus one past the last) how many fell in it
/// and their sum.
struct Tally {
    handles: Handles,
    count: u64,
    buckets: [(u64, f64); BUCKETS.len() + 1],
}

impl Tally {
    fn new(handles: Handles) -> Self {
        Tally {
            handles,
            count: 0,
            buckets: [(0, 0.0); BUCKETS.len() + 1],
        }
    }

    fn add(&mut self, took: Duration) {
        let secs = took.as_secs_f64();
        // Prometheus buckets are upper-inclusive (`le`).
        let i = BUCKETS.partition_point(|&le| le < secs);
        self.count += 1;
        self.buckets[i].0 += 1;
        self.buckets[i].1 += secs;
    }

    /// Hands the tally to the recorder and starts again. Each bucket's latencies are recorded
    /// as their mean, as many times as there were: the mean of values in a bucket lies in that
    /// bucket, so the exported bucket counts, count and sum are those of the values themselves.
    fn drain(&mut self) {
        if self.count == 0 {
            return;
        }
        self.handles.0.increment(self.count);
        for (i, (n, sum)) in self.buckets.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let lower = if i == 0 {
                0.0
            } else {
                BUCKETS[i - 1].next_up()
            };
            let upper = BUCKETS.get(i).copied().unwrap_or(f64::MAX);
            let mean = (sum / *n as f64).clamp(lower, upper);
            self.handles.1.record_many(mean, *n as usize);
        }
        self.count = 0;
        self.buckets = [(0, 0.0); BUCKETS.len() + 1];
    }
}

/// One thread's tallies of the per-request metrics (HTTP requests, MCP requests, bearer-cache
/// lookups). A request adds to its own thread's shard, behind a lock no other thread takes
/// except [`flush`] (every few seconds and before a scrape), so recording moves no cache line
/// between cores: the recorder's own handles, shared by every thread, cost two to four atomic
/// read-modify-writes of shared lines per counter or histogram, five handles per MCP request,
/// 4–5 % of an authenticated `ping`'s throughput. Label sets are the server's own route
/// templates and names only (bounded by routes × methods × statuses, methods × tools ×
/// outcomes), so hashed with foldhash; beyond [`MAX_HANDLE_SETS`] per thread the macros are
/// used directly.
#[derive(Default)]
struct Shard {
    /// Route template → (method, status) → tally.
    http: HashMap<String, Vec<(HttpKey, Tally)>, FastHash>,
    /// (method, tool, outcome) → tally.
    mcp: HashMap<(&'static str, &'static str, &'static str), Tally, FastHash>,
    /// Bearer-cache hits and misses.
    bearer: [u64; 2],
    /// Label sets in `http` and `mcp`.
    sets: usize,
}

/// An HTTP request's method and status.
type HttpKey = (&'static str, u16);

const MAX_HANDLE_SETS: usize = 1024;

/// Every thread's shard, for [`flush`].
static SHARDS: Mutex<Vec<Arc<Mutex<Shard>>>> = Mutex::new(Vec::new());

thread_local! {
    static SHARD: Arc<Mutex<Shard>> = {
        let shard = Arc::new(Mutex::new(Shard::default()));
        SHARDS.lock().unwrap_or_else(PoisonError::into_inner).push(shard.clone());
        shard
    };
}

/// Runs `f` on this thread's shard.
fn with_shard<T>(f: impl FnOnce(&mut Shard) -> T) -> T {
    SHARD.with(|s| f(&mut s.lock().unwrap_or_else(PoisonError::into_inner)))
}

/// Hands every thread's tallies to the recorder; a shard whose thread has ended is dropped once
/// drained.
pub fn flush() {
    static BEARER: OnceLock<[metrics::Counter; 2]> = OnceLock::new();
    if !enabled() {
        return;
    }
    let bearer = BEARER.get_or_init(|| {
        [
            counter!(BEARER_CACHE, "result" => "hit"),
            counter!(BEARER_CACHE, "result" => "miss"),
        ]
    });
    let mut shards = SHARDS.lock().unwrap_or_else(PoisonError::into_inner);
    for shard in shards.iter() {
        let mut s = shard.lock().unwrap_or_else(PoisonError::into_inner);
        s.http.values_mut().flatten().for_each(|(_, t)| t.drain());
        s.mcp.values_mut().for_each(Tally::drain);
        for (counter, n) in bearer.iter().zip(&mut s.bearer) {
            counter.increment(std::mem::take(n));
        }
    }
    shards.retain(|s| Arc::strong_count(s) > 1);
}

/// Records one HTTP request in this thread's shard.
fn http_observe(template: &str, method: &'static str, status: u16, took: Duration) {
    let key = (method, status);
    with_shard(|s| {
        if let Some((_, t)) = s
            .http
            .get_mut(template)
            .and_then(|v| v.iter_mut().find(|(k, _)| *k == key))
        {
            return t.add(took);
        }
        let labels = [
            ("method", method.to_owned()),
            ("route", route_label(template)),
            ("status", status.to_string()),
        ];
        let mut t = Tally::new((
            counter!(HTTP_REQUESTS, &labels),
            histogram!(HTTP_DURATION, &labels),
        ));
        t.add(took);
        if s.sets < MAX_HANDLE_SETS {
            s.sets += 1;
            s.http
                .entry(template.to_owned())
                .or_default()
                .push((key, t));
        } else {
            t.drain();
        }
    })
}

/// The labels of one HTTP request, taken by the edge middleware before the request runs (inside
/// the router, so the matched route template is known) and recorded with the response's status
/// and the latency the middleware measured. `None` when metrics are off. Unmatched paths share
/// the route label `unmatched`.
pub struct HttpLabels {
    template: Template,
    method: &'static str,
}

enum Template {
    Matched(MatchedPath),
    Known(&'static str),
    Unmatched,
}

impl HttpLabels {
    /// Inside the router: the matched route's template.
    pub fn of(req: &Request) -> Option<Self> {
        enabled().then(|| Self {
            template: req
                .extensions()
                .get::<MatchedPath>()
                .cloned()
                .map_or(Template::Unmatched, Template::Matched),
            method: method_label(req.method()),
        })
    }

    /// Outside the router (the MCP lane, `edge.rs`): the template of the route it stands for.
    pub fn route(template: &'static str, method: &Method) -> Option<Self> {
        enabled().then(|| Self {
            template: Template::Known(template),
            method: method_label(method),
        })
    }

    /// One counter increment and one latency observation.
    pub fn record(self, status: u16, took: Duration) {
        let route = match &self.template {
            Template::Matched(p) => p.as_str(),
            Template::Known(t) => t,
            Template::Unmatched => "unmatched",
        };
        http_observe(route, self.method, status, took);
    }
}

/// The Prometheus text exposition of everything recorded so far.
pub fn render(handle: &PrometheusHandle) -> Response {
    flush();
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
    if enabled() {
        with_shard(|s| s.bearer[usize::from(!hit)] += 1);
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
    with_shard(|s| {
        if let Some(t) = s.mcp.get_mut(&key) {
            return t.add(took);
        }
        let mut t = Tally::new((
            counter!(MCP_REQUESTS, "method" => method, "tool" => tool, "outcome" => outcome),
            histogram!(MCP_DURATION, "method" => method, "tool" => tool),
        ));
        t.add(took);
        if s.sets < MAX_HANDLE_SETS {
            s.sets += 1;
            s.mcp.insert(key, t);
        } else {
            t.drain();
        }
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The `name{…}` lines of a text exposition, with `_sum` parsed, for comparison.
    fn series(text: &str, name: &str) -> (Vec<String>, f64) {
        let mut lines = Vec::new();
        let mut sum = f64::NAN;
        for line in text.lines().filter(|l| l.starts_with(name)) {
            match line.strip_prefix(&format!("{name}_sum")) {
                Some(rest) => sum = rest.rsplit(' ').next().unwrap().parse().unwrap(),
                None => lines.push(line.replace(name, "")),
            }
        }
        (lines, sum)
    }

    /// A tally drained into a histogram exports the same buckets, count and sum as the same
    /// latencies recorded one by one: values on a bucket's bound, inside one, past the last.
    #[test]
    fn a_drained_tally_exports_what_recording_each_value_would() {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
            .unwrap()
            .build_recorder();
        let (tallied, each) = metrics::with_local_recorder(&recorder, || {
            (
                (
                    counter!("tallied_total"),
                    histogram!("tallied_duration_seconds"),
                ),
                histogram!("each_duration_seconds"),
            )
        });
        let took: Vec<Duration> = [
            100_000,
            250_000,
            250_000,
            250_001,
            3_000_000,
            3_000_000,
            7_300_000,
            25_000_000,
            20_000_000_000,
            9_999_999_999,
        ]
        .into_iter()
        .map(Duration::from_nanos)
        .collect();
        let mut t = Tally::new(tallied);
        for (round, d) in took.iter().enumerate() {
            t.add(*d);
            each.record(d.as_secs_f64());
            // Drained twice: a later drain adds to what an earlier one handed over.
            if round == 4 {
                t.drain();
            }
        }
        t.drain();
        assert_eq!(t.count, 0);
        let text = recorder.handle().render();
        let (tallied_lines, tallied_sum) = series(&text, "tallied_duration_seconds");
        let (each_lines, each_sum) = series(&text, "each_duration_seconds");
        assert_eq!(tallied_lines.len(), BUCKETS.len() + 2, "{text}");
        assert_eq!(tallied_lines, each_lines, "{text}");
        assert!(
            (tallied_sum - each_sum).abs() < 1e-9,
            "{tallied_sum} vs {each_sum}"
        );
        assert!(text.contains("tallied_total 10"), "{text}");
    }
}
