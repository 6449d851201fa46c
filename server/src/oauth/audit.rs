//! Writes audit entries without ever failing the request that caused them (a lost audit row is
//! logged, not turned into a 500). Entries never contain secrets.
use super::context::Ctx;
use crate::store::audit::AuditEntry;

pub async fn record(ctx: &Ctx<'_>, mut entry: AuditEntry) {
    entry.at = ctx.now;
    crate::ops::metrics::audit_event(&entry.event);
    if entry.ip.is_none() {
        entry.ip = ctx.ip.clone();
    }
    tracing::info!(event = %entry.event, user = ?entry.username, workspace = ?entry.workspace_slug,
        client = ?entry.client_id, grant = ?entry.grant_id, detail = %entry.detail, "audit");
    if let Err(e) = ctx.store.record_audit(&entry).await {
        tracing::warn!(error = %e, "writing audit entry");
    }
}
