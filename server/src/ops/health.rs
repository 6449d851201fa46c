//! Liveness (`/healthz`) and readiness (`/readyz`).
//!
//! Readiness asks three things, with at most two small queries, and keeps the answer for one
//! second so a load balancer polling every second (or a hundred of them) costs almost nothing:
//! the database answers (within [`DB_TIMEOUT`]), every migration this build embeds is applied,
//! and every workspace with stored knowledge has a live search index. The body names what is
//! not ready; it never carries an error message from the database (which could name hosts).
use super::state::{Check, Checks, Readiness};
use crate::state::AppState;
use std::time::Duration;

/// How long the database may take to answer before it counts as unreachable.
pub const DB_TIMEOUT: Duration = Duration::from_secs(2);

/// The readiness of this process (cached for one second in [`super::state::OpsState`]).
pub async fn readiness(state: &AppState) -> Readiness {
    state.ops.readiness(state.clock.now(), check(state)).await
}

async fn check(state: &AppState) -> Readiness {
    let applied = tokio::time::timeout(DB_TIMEOUT, state.store.pending_migrations()).await;
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
        Ok(Ok(missing)) if missing.is_empty() => (Check::ok(), Check::ok()),
        Ok(Ok(missing)) => {
            let versions: Vec<String> = missing.iter().map(i64::to_string).collect();
            (
                Check::ok(),
                Check::failed(format!("not applied: {}", versions.join(", "))),
            )
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
