//! Liveness (`/healthz`) and readiness (`/readyz`).
//!
//! Readiness asks three things, with at most two small queries, and keeps the answer for one
//! second so a load balancer polling every second (or a hundred of them) costs almost nothing:
//! the database answers (within [`DB_TIMEOUT`]), every migration this build embeds is applied,
//! and every workspace with stored knowledge has a live search index. The body names what is
//! not ready; it never carries an error message from the database (which could name hosts).
use crate::AppState;
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How long a readiness answer is reused.
const CACHE_FOR: Duration = Duration::from_secs(1);
/// How long the database may take to answer before it counts as unreachable.
pub const DB_TIMEOUT: Duration = Duration::from_secs(2);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Check {
    fn ok() -> Self {
        Self {
            ok: true,
            detail: None,
        }
    }
    fn failed(detail: impl Into<String>) -> Self {
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

/// The last answer, shared by concurrent probes.
#[derive(Default)]
pub struct ReadinessCache(tokio::sync::Mutex<Option<(Instant, Readiness)>>);

impl ReadinessCache {
    pub async fn get(&self, state: &AppState) -> Readiness {
        let mut guard = self.0.lock().await;
        if let Some((at, r)) = guard.as_ref()
            && at.elapsed() < CACHE_FOR
        {
            return r.clone();
        }
        let r = check(state).await;
        *guard = Some((Instant::now(), r.clone()));
        r
    }
}

async fn check(state: &AppState) -> Readiness {
    let applied = tokio::time::timeout(
        DB_TIMEOUT,
        sqlx::query_scalar::<_, i64>("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_all(state.store.pool()),
    )
    .await;
    let (database, migrations) = match applied {
        Err(_) => (
            Check::failed("the database did not answer in time"),
            Check::failed("unknown: database unreachable"),
        ),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database check failed");
            (
                Check::failed("the database is unreachable"),
                Check::failed("unknown: database unreachable"),
            )
        }
        Ok(Ok(versions)) => {
            let applied: BTreeSet<i64> = versions.into_iter().collect();
            let missing: Vec<String> = MIGRATOR
                .iter()
                .filter(|m| m.migration_type.is_up_migration())
                .filter(|m| !applied.contains(&m.version))
                .map(|m| m.version.to_string())
                .collect();
            let migrations = if missing.is_empty() {
                Check::ok()
            } else {
                Check::failed(format!("not applied: {}", missing.join(", ")))
            };
            (Check::ok(), migrations)
        }
    };
    let knowledge = if !database.ok {
        Check::failed("unknown: database unreachable")
    } else {
        match tokio::time::timeout(DB_TIMEOUT, state.knowledge.unloaded_workspaces()).await {
            Ok(Ok(missing)) if missing.is_empty() => Check::ok(),
            Ok(Ok(missing)) => Check::failed(format!(
                "search index not loaded for: {}",
                missing.join(", ")
            )),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: knowledge check failed");
                Check::failed("could not read the knowledge versions")
            }
            Err(_) => Check::failed("the database did not answer in time"),
        }
    };
    let mut not_ready = Vec::new();
    for (name, c) in [
        ("database", &database),
        ("migrations", &migrations),
        ("knowledge", &knowledge),
    ] {
        if !c.ok {
            not_ready.push(name);
        }
    }
    Readiness {
        status: if not_ready.is_empty() {
            "ready"
        } else {
            "not_ready"
        },
        not_ready,
        checks: Checks {
            database,
            migrations,
            knowledge,
        },
    }
}
