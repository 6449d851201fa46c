//! Workspaces and memberships.
use super::db::Store;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceRecord {
    pub slug: String,
    pub name: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub workspace_slug: String,
    pub workspace_name: String,
    pub user_id: String,
    pub role: String,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error(
        "invalid workspace slug {0:?}: use 2-40 characters a-z, 0-9 and '-', starting with a letter"
    )]
    InvalidSlug(String),
    #[error("workspace {0:?} already exists")]
    Duplicate(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl Store {
    pub async fn create_workspace(
        &self,
        slug: &str,
        name: &str,
        now: i64,
    ) -> Result<WorkspaceRecord, WorkspaceError> {
        if !crate::names::valid_slug(slug) {
            return Err(WorkspaceError::InvalidSlug(slug.into()));
        }
        if self.workspace(slug).await?.is_some() {
            return Err(WorkspaceError::Duplicate(slug.into()));
        }
        sqlx::query("INSERT INTO workspaces (slug, name, created_at) VALUES ($1, $2, $3)")
            .bind(slug)
            .bind(name)
            .bind(now)
            .execute(self.writer())
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => {
                    WorkspaceError::Duplicate(slug.into())
                }
                _ => WorkspaceError::Db(e),
            })?;
        Ok(WorkspaceRecord {
            slug: slug.into(),
            name: name.into(),
            created_at: now,
        })
    }

    pub async fn workspace(&self, slug: &str) -> Result<Option<WorkspaceRecord>, sqlx::Error> {
        let row = sqlx::query("SELECT slug, name, created_at FROM workspaces WHERE slug = $1")
            .bind(slug)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok(WorkspaceRecord {
                slug: r.try_get("slug")?,
                name: r.try_get("name")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    pub async fn list_workspaces(&self) -> Result<Vec<WorkspaceRecord>, sqlx::Error> {
        let rows = sqlx::query("SELECT slug, name, created_at FROM workspaces ORDER BY slug")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(WorkspaceRecord {
                    slug: r.try_get("slug")?,
                    name: r.try_get("name")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Adds or updates a membership (idempotent).
    pub async fn add_member(
        &self,
        slug: &str,
        user_id: &str,
        role: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        // One statement: concurrent adds (replicas seeding together) cannot collide.
        sqlx::query(
            "INSERT INTO memberships (workspace_slug, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (workspace_slug, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(slug)
        .bind(user_id)
        .bind(role)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Removes a membership and revokes the user's grants on that workspace, in one transaction.
    /// Returns whether a membership existed.
    pub async fn remove_member(
        &self,
        slug: &str,
        user_id: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_durable_write().await?;
        let n = sqlx::query("DELETE FROM memberships WHERE workspace_slug = $1 AND user_id = $2")
            .bind(slug)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("UPDATE grants SET revoked_at = $3 WHERE workspace_slug = $1 AND user_id = $2 AND revoked_at IS NULL")
            .bind(slug)
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        super::tokens::bump_auth_epoch(&mut tx).await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    pub async fn membership(
        &self,
        slug: &str,
        user_id: &str,
    ) -> Result<Option<Membership>, sqlx::Error> {
        let row = self.read_optional(sqlx::query(
            "SELECT m.workspace_slug, w.name, m.user_id, m.role FROM memberships m \
             JOIN workspaces w ON w.slug = m.workspace_slug WHERE m.workspace_slug = $1 AND m.user_id = $2",
        )
        .bind(slug)
        .bind(user_id)
        )
        .await?;
        row.map(|r| membership_from_row(&r)).transpose()
    }

    /// The user's workspaces, by slug.
    pub async fn memberships_of(&self, user_id: &str) -> Result<Vec<Membership>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT m.workspace_slug, w.name, m.user_id, m.role FROM memberships m \
             JOIN workspaces w ON w.slug = m.workspace_slug WHERE m.user_id = $1 ORDER BY m.workspace_slug",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(membership_from_row).collect()
    }
}

fn membership_from_row(r: &sqlx::any::AnyRow) -> Result<Membership, sqlx::Error> {
    Ok(Membership {
        workspace_slug: r.try_get(0)?,
        workspace_name: r.try_get(1)?,
        user_id: r.try_get(2)?,
        role: r.try_get(3)?,
    })
}
