//! `/healthz`, `/readyz` and `/metrics` (the main listener's, and the `--metrics-bind` router).
use super::{health, metrics};
use crate::error::{AppError, OAuthError, no_store};
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;

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

async fn healthz() -> Response {
    no_store(axum::Json(serde_json::json!({ "status": "ok" })).into_response())
}

async fn readyz(State(state): State<AppState>) -> Response {
    let r = health::readiness(&state).await;
    let status = if r.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    no_store((status, axum::Json(r)).into_response())
}

async fn main_metrics(State(state): State<AppState>) -> Response {
    match state.ops.main_listener_metrics() {
        Some(handle) => scrape(&state, handle),
        None => not_served(),
    }
}

async fn any_metrics(State(state): State<AppState>) -> Response {
    match state.ops.metrics_handle() {
        Some(handle) => scrape(&state, handle),
        None => not_served(),
    }
}

/// Samples the state gauges, then renders.
fn scrape(state: &AppState, handle: &PrometheusHandle) -> Response {
    let pool = state.store.pool();
    let indexes: Vec<(String, usize, usize)> = state
        .knowledge
        .loaded_indexes()
        .into_iter()
        .map(|(ws, s)| (ws, s.documents, s.chunks))
        .collect();
    metrics::sample(&metrics::StateSample {
        sessions: state.mcp.sessions.cached_len() as usize,
        bearer_cache_entries: state.tokens.cached_len(),
        pool_size: pool.size(),
        pool_idle: pool.num_idle(),
        pool_max: pool.options().get_max_connections(),
        indexes: &indexes,
    });
    metrics::render(handle)
}

/// 404 for `/metrics` where it is not served (`--metrics off`, or moved to `--metrics-bind`).
fn not_served() -> Response {
    AppError::from(OAuthError::not_found(
        "metrics are not served on this listener",
    ))
    .into_response()
}
