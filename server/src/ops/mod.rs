//! Operating the server: liveness and readiness ([`health`]) and Prometheus metrics
//! ([`metrics`]). None of these endpoints needs authentication or shows a secret.
//!
//! - `GET /healthz`: 200 whenever the process serves HTTP.
//! - `GET /readyz`: 200 when the database answers, its migrations are applied and every
//!   workspace's index is loaded; else 503 naming what is not ready. Cached for one second.
//! - `GET /metrics`: Prometheus text, on the main listener unless `--metrics-bind` moves it to a
//!   listener of its own (see [`metrics_router`]), or 404 with `--metrics off`.
pub mod health;
pub mod metrics;

use crate::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::OnceLock;

/// Per-process operations state.
#[derive(Default)]
pub struct OpsState {
    pub readiness: health::ReadinessCache,
    /// The metrics handle and whether the main listener serves `/metrics`.
    metrics: OnceLock<(PrometheusHandle, bool)>,
}

impl OpsState {
    /// Serves metrics from `handle`: on the main listener when `on_main`, else only through
    /// [`metrics_router`].
    pub fn enable_metrics(&self, handle: PrometheusHandle, on_main: bool) {
        let _ = self.metrics.set((handle, on_main));
    }

    pub fn metrics_handle(&self) -> Option<&PrometheusHandle> {
        self.metrics.get().map(|(h, _)| h)
    }
}

pub const HEALTH_PATH: &str = "/healthz";
pub const READY_PATH: &str = "/readyz";
pub const METRICS_PATH: &str = "/metrics";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(HEALTH_PATH, get(healthz))
        .route(READY_PATH, get(readyz))
        .route(METRICS_PATH, get(main_metrics))
}

/// The router of `--metrics-bind`: `/metrics` only.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route(METRICS_PATH, get(any_metrics))
        .with_state(state)
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn healthz() -> Response {
    no_store(axum::Json(serde_json::json!({ "status": "ok" })).into_response())
}

async fn readyz(State(state): State<AppState>) -> Response {
    let r = state.ops.readiness.get(&state).await;
    let status = if r.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    no_store((status, axum::Json(r)).into_response())
}

async fn main_metrics(State(state): State<AppState>) -> Response {
    match state.ops.metrics.get() {
        Some((handle, true)) => metrics::render(&state, handle),
        _ => metrics::not_served(),
    }
}

async fn any_metrics(State(state): State<AppState>) -> Response {
    match state.ops.metrics_handle() {
        Some(handle) => metrics::render(&state, handle),
        None => metrics::not_served(),
    }
}
