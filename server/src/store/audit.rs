//! The audit log: sign-ins, grants, token issue and refresh, revocations. Never holds secrets.
use super::db::Store;
use sqlx::Row;

/// One audit entry. Build with struct-update syntax from `AuditEntry::new(event, detail)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: i64,
    pub event: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub workspace_slug: Option<String>,
    pub client_id: Option<String>,
    pub grant_id: Option<String>,
    pub ip: Option<String>,
    pub detail: String,
}

impl AuditEntry {
    pub fn new(event: &str, detail: impl Into<String>) -> Self {
        Self {
            event: event.into(),
            detail: detail.into(),
            ..Self::default()
        }
    }

    /// Every field within its size limit ([`crate::limits`]).
    pub fn clipped(self) -> Self {
        use crate::limits::{MAX_AUDIT_DETAIL, MAX_LOGGED_FIELD, MAX_URI, MAX_USERNAME, clip};
        let opt = |v: Option<String>, max: usize| v.map(|s| clip(&s, max));
        Self {
            at: self.at,
            event: clip(&self.event, MAX_LOGGED_FIELD),
            user_id: opt(self.user_id, MAX_LOGGED_FIELD),
            username: opt(self.username, MAX_USERNAME),
            workspace_slug: opt(self.workspace_slug, MAX_LOGGED_FIELD),
            client_id: opt(self.client_id, MAX_URI),
            grant_id: opt(self.grant_id, MAX_LOGGED_FIELD),
            ip: opt(self.ip, MAX_LOGGED_FIELD),
            detail: clip(&self.detail, MAX_AUDIT_DETAIL),
        }
    }
}

fn entry_from_row(r: &sqlx::any::AnyRow) -> Result<AuditEntry, sqlx::Error> {
    Ok(AuditEntry {
        at: r.try_get(0)?,
        event: r.try_get(1)?,
        user_id: r.try_get(2)?,
        username: r.try_get(3)?,
        workspace_slug: r.try_get(4)?,
        client_id: r.try_get(5)?,
        grant_id: r.try_get(6)?,
        ip: r.try_get(7)?,
        detail: r.try_get(8)?,
    })
}

/// A new entry's id: the second it happened, then a random suffix (so entries sort by second;
/// within one second their order is not kept).
pub(crate) fn audit_id(at: i64) -> String {
    format!("{:012}-{}", at.max(0), crate::secrets::new_id())
}

/// The start of an audit row's `INSERT … SELECT` in a [`super::batch::WriteBatch`]: `$1…$9`
/// are [`batch_args`] without the detail, which the caller's SQL appends (`$10`, or an
/// expression of it), followed by its condition.
pub(crate) const INSERT_SELECT: &str = "INSERT INTO audit_log (id, at, event, user_id, username, \
     workspace_slug, client_id, grant_id, ip, detail) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, ";

/// The values of an audit row for [`INSERT_SELECT`] (`e` clipped already), detail last (`$10`).
pub(crate) fn batch_args<'a>(e: &'a AuditEntry, id: &'a str) -> Vec<super::batch::Arg<'a>> {
    use super::batch::Arg;
    vec![
        Arg::Text(id),
        Arg::Int(e.at),
        Arg::Text(&e.event),
        e.user_id.as_deref().into(),
        e.username.as_deref().into(),
        e.workspace_slug.as_deref().into(),
        e.client_id.as_deref().into(),
        e.grant_id.as_deref().into(),
        e.ip.as_deref().into(),
        Arg::Text(&e.detail),
    ]
}

const COLUMNS: &str =
    "at, event, user_id, username, workspace_slug, client_id, grant_id, ip, detail";

impl Store {
    /// Deletes entries older than `before`; returns how many (audit-log retention).
    pub async fn prune_audit(&self, before: i64) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query("DELETE FROM audit_log WHERE at < $1")
            .bind(before)
            .execute(self.writer())
            .await?
            .rows_affected())
    }

    /// Stores an entry, clipped to the field limits.
    pub async fn record_audit(&self, e: &AuditEntry) -> Result<(), sqlx::Error> {
        let e = &e.clone().clipped();
        sqlx::query(
            "INSERT INTO audit_log (id, at, event, user_id, username, workspace_slug, client_id, grant_id, ip, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(audit_id(e.at))
        .bind(e.at)
        .bind(&e.event)
        .bind(e.user_id.as_deref())
        .bind(e.username.as_deref())
        .bind(e.workspace_slug.as_deref())
        .bind(e.client_id.as_deref())
        .bind(e.grant_id.as_deref())
        .bind(e.ip.as_deref())
        .bind(&e.detail)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Newest first.
    pub async fn audit_of_workspace(
        &self,
        slug: &str,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, sqlx::Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log WHERE workspace_slug = $1 ORDER BY at DESC, id DESC LIMIT $2"
        );
        // Audited: constant column list; values are bound.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(slug)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Newest first.
    pub async fn audit_of_user(
        &self,
        user_id: &str,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, sqlx::Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log WHERE user_id = $1 ORDER BY at DESC, id DESC LIMIT $2"
        );
        // Audited: constant column list; values are bound.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Every event, newest first (for tests and operators).
    pub async fn audit_all(&self, limit: i64) -> Result<Vec<AuditEntry>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM audit_log ORDER BY at DESC, id DESC LIMIT $1");
        // Audited: constant column list; values are bound.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(entry_from_row).collect()
    }
}
