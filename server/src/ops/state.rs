//! Per-process operations state: the last readiness answer and the metrics handle. A leaf of the
//! module graph (like `mcp::state` and `oauth::state`), so `AppState` can hold it.
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use std::sync::OnceLock;

#[derive(Default)]
pub struct OpsState {
    /// The last answer and the second (Unix time, from the clock) it was computed in.
    readiness: tokio::sync::Mutex<Option<(i64, Readiness)>>,
    /// The metrics handle and whether the main listener serves `/metrics`.
    metrics: OnceLock<(PrometheusHandle, bool)>,
}

impl OpsState {
    /// Serves metrics from `handle`: on the main listener when `on_main`, else only on the
    /// `--metrics-bind` listener.
    pub fn enable_metrics(&self, handle: PrometheusHandle, on_main: bool) {
        let _ = self.metrics.set((handle, on_main));
    }

    /// The handle, if metrics are on.
    pub fn metrics_handle(&self) -> Option<&PrometheusHandle> {
        self.metrics.get().map(|(h, _)| h)
    }

    /// The handle, if the main listener serves `/metrics`.
    pub fn main_listener_metrics(&self) -> Option<&PrometheusHandle> {
        self.metrics.get().filter(|(_, main)| *main).map(|(h, _)| h)
    }

    /// The answer computed in the current second `now`, else a fresh one from `check`: probes
    /// cost at most one check per second. Concurrent probes wait for one check instead of
    /// running their own.
    pub async fn readiness<F>(&self, now: i64, check: F) -> Readiness
    where
        F: Future<Output = Readiness>,
    {
        let mut guard = self.readiness.lock().await;
        if let Some((at, r)) = guard.as_ref()
            && *at == now
        {
            return r.clone();
        }
        let r = check.await;
        *guard = Some((now, r.clone()));
        r
    }
}

/// One readiness check.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Check {
    pub fn ok() -> Self {
        Self {
            ok: true,
            detail: None,
        }
    }

    pub fn failed(detail: impl Into<String>) -> Self {
        Self {
            ok: false,
            detail: Some(detail.into()),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Checks {
    pub database: Check,
    pub migrations: Check,
    pub knowledge: Check,
}

/// The `/readyz` body.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// Names of the failed checks.
    pub not_ready: Vec<&'static str>,
    pub checks: Checks,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.not_ready.is_empty()
    }
}
