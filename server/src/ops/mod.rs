//! Operating the server: liveness and readiness ([`health`]) and Prometheus metrics
//! ([`metrics`]). None of these endpoints needs authentication or shows a secret.
//!
//! - `GET /healthz`: 200 whenever the process serves HTTP.
//! - `GET /readyz`: 200 when the database answers, its migrations are applied and every
//!   workspace's index is loaded; else 503 naming what is not ready. Cached for one second.
//! - `GET /metrics`: Prometheus text, on the main listener unless `--metrics-bind` moves it to a
//!   listener of its own ([`routes::metrics_router`]), or 404 with `--metrics off`.
//!
//! [`state`] is a leaf (held by `AppState`); [`metrics`] records without knowing `AppState`, so
//! every part of the server can call it; [`routes`] is the HTTP side.
pub mod health;
pub mod metrics;
pub mod routes;
pub mod state;
