//! Writes audit entries without ever failing the request that caused them (a lost audit row is
//! logged, not turned into a 500). Entries never contain secrets, and every field is clipped
//! (`limits`) before it is logged or stored, whoever supplied it.
use super::context::Ctx;
use crate::store::audit::AuditEntry;

pub async fn record(ctx: &Ctx<'_>, entry: AuditEntry) {
    let entry = prepare(ctx, entry);
    announce(&entry);
    if let Err(e) = ctx.store.record_audit(&entry).await {
        tracing::warn!(error = %e, "writing audit entry");
    }
}

/// The entry as it is stored: clipped, stamped with the request's time and client address. For
/// an entry written in the same transaction as what it records (the token grants); call
/// [`announce`] once that transaction committed.
pub fn prepare(ctx: &Ctx<'_>, entry: AuditEntry) -> AuditEntry {
    let mut entry = entry.clipped();
    entry.at = ctx.now;
    if entry.ip.is_none() {
        entry.ip = ctx
            .ip
            .as_deref()
            .map(|ip| crate::limits::clip(ip, crate::limits::MAX_LOGGED_FIELD));
    }
    entry
}

/// The entry's metric and log line.
pub fn announce(entry: &AuditEntry) {
    crate::ops::metrics::audit_event(&entry.event);
    tracing::info!(event = %entry.event, user = ?entry.username, workspace = ?entry.workspace_slug,
        client = ?entry.client_id, grant = ?entry.grant_id, detail = %entry.detail, "audit");
}

/// How long shared rate counters are kept after their last hit (their windows are minutes long).
pub const COUNTER_RETENTION: i64 = 24 * 3600;

/// How long an authorization code is kept after it expired: a late replay is still recognised
/// and still revokes what the code produced.
pub const CODE_RETENTION: i64 = 24 * 3600;

/// What one retention pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub audit_rows: u64,
    pub counters: u64,
    pub codes: u64,
    pub devices: u64,
}

/// One retention pass: audit entries older than `audit_retention_days` (0 keeps them forever),
/// rate counters idle for a day, authorization codes expired for a day, device cookies expired.
pub async fn prune(
    store: &crate::store::Store,
    config: &crate::config::Config,
    now: i64,
) -> Result<Pruned, sqlx::Error> {
    let audit_rows = if config.audit_retention_days > 0 {
        store
            .prune_audit(now - config.audit_retention_days * 86_400)
            .await?
    } else {
        0
    };
    Ok(Pruned {
        audit_rows,
        counters: store.prune_counters(now - COUNTER_RETENTION).await?,
        codes: store.prune_auth_codes(now - CODE_RETENTION).await?,
        devices: store.prune_trusted_devices(now).await?,
    })
}

/// Runs [`prune`] at start-up and then every `retention_interval_secs`, in the background.
pub fn spawn_pruner(state: crate::state::AppState) {
    tokio::spawn(async move {
        let every = std::time::Duration::from_secs(state.config.retention_interval_secs.max(1));
        loop {
            match prune(&state.store, &state.config, state.clock.now()).await {
                Ok(p) if p != Pruned::default() => tracing::info!(
                    audit_rows = p.audit_rows,
                    counters = p.counters,
                    codes = p.codes,
                    devices = p.devices,
                    "retention: pruned"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "retention: pruning failed"),
            }
            tokio::time::sleep(every).await;
        }
    });
}
