//! Grants and the tokens minted under them. Tokens are stored only as SHA-256 hashes.
//!
//! Revoking anything bumps `auth_epoch`, which other processes sharing the database poll to drop
//! their bearer-validation caches (see `auth::bearer`).
use super::db::Store;
use crate::secrets::{self, ACCESS_TOKEN_PREFIX};
use sqlx::Row;

/// Bumps `auth_epoch` inside the caller's transaction: every revocation and membership removal
/// calls this, so other processes drop their bearer-validation caches (see `auth::bearer`).
pub(crate) async fn bump_auth_epoch(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    super::db::notify(conn, AUTH_TOPIC).await
}

/// The `pg_notify` topic of revocations and membership changes.
pub const AUTH_TOPIC: &str = "auth";

/// What a stored access token resolves to (one row joined across token, grant, user, membership).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub username: String,
    pub workspace_slug: String,
    pub resource: String,
    pub scopes: Vec<String>,
    pub expires_at: i64,
    pub token_revoked: bool,
    pub grant_revoked: bool,
    /// Whether the user is still a member of the grant's workspace.
    pub is_member: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: String,
    pub client_id: String,
    pub client_name: String,
    pub client_kind: String,
    pub user_id: String,
    pub username: String,
    pub workspace_slug: String,
    pub resource: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A freshly minted access token: the plaintext leaves the server once, in the response.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_at: i64,
}

impl Store {
    pub async fn create_grant(
        &self,
        client_id: &str,
        user_id: &str,
        workspace_slug: &str,
        resource: &str,
        scopes: &[String],
        now: i64,
    ) -> Result<String, sqlx::Error> {
        let id = format!("g_{}", secrets::new_id());
        sqlx::query(
            "INSERT INTO grants (id, client_id, user_id, workspace_slug, resource, scopes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(client_id)
        .bind(user_id)
        .bind(workspace_slug)
        .bind(resource)
        .bind(crate::names::join_scopes(scopes))
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(id)
    }

    /// Mints an access token under `grant_id`.
    pub async fn issue_access_token(
        &self,
        grant_id: &str,
        scopes: &[String],
        now: i64,
        ttl: i64,
    ) -> Result<IssuedToken, sqlx::Error> {
        let token = secrets::new_secret(ACCESS_TOKEN_PREFIX);
        let expires_at = now + ttl;
        sqlx::query(
            "INSERT INTO access_tokens (token_hash, grant_id, scopes, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(secrets::hash_secret(&token))
        .bind(grant_id)
        .bind(crate::names::join_scopes(scopes))
        .bind(now)
        .bind(expires_at)
        .execute(self.writer())
        .await?;
        Ok(IssuedToken { token, expires_at })
    }

    /// Resolves an access token by the SHA-256 of its plaintext: one query.
    pub async fn access_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<TokenRecord>, sqlx::Error> {
        let row = self.read_optional(sqlx::query(
            "SELECT t.grant_id, g.client_id, g.user_id, u.username, g.workspace_slug, g.resource, t.scopes, \
                    t.expires_at, t.revoked_at, g.revoked_at, \
                    (SELECT COUNT(*) FROM memberships m WHERE m.workspace_slug = g.workspace_slug AND m.user_id = g.user_id) \
             FROM access_tokens t JOIN grants g ON g.id = t.grant_id JOIN users u ON u.id = g.user_id \
             WHERE t.token_hash = $1",
        )
        .bind(token_hash)
        )
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(TokenRecord {
            grant_id: r.try_get(0)?,
            client_id: r.try_get(1)?,
            user_id: r.try_get(2)?,
            username: r.try_get(3)?,
            workspace_slug: r.try_get(4)?,
            resource: r.try_get(5)?,
            scopes: crate::names::parse_scopes(&r.try_get::<String, _>(6)?),
            expires_at: r.try_get(7)?,
            token_revoked: r.try_get::<Option<i64>, _>(8)?.is_some(),
            grant_revoked: r.try_get::<Option<i64>, _>(9)?.is_some(),
            is_member: r.try_get::<i64, _>(10)? > 0,
        }))
    }

    /// Revokes a grant with all its access and refresh tokens, atomically. Returns whether a live
    /// grant was revoked.
    pub async fn revoke_grant(&self, grant_id: &str, now: i64) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_durable_write().await?;
        let n =
            sqlx::query("UPDATE grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(grant_id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        sqlx::query(
            "UPDATE access_tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL",
        )
        .bind(grant_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL",
        )
        .bind(grant_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        bump_auth_epoch(&mut tx).await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    /// The revocation epoch (see module docs).
    pub async fn auth_epoch(&self) -> Result<i64, sqlx::Error> {
        // The sum of the epoch's rows (migration 0042): it moves whenever any row does.
        sqlx::query("SELECT CAST(COALESCE(SUM(epoch), 0) AS BIGINT) FROM auth_epoch")
            .fetch_one(self.pool())
            .await?
            .try_get(0)
    }

    /// Records use of a grant (for Connected apps' "last used").
    pub async fn touch_grant(&self, grant_id: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE grants SET last_used_at = $2 WHERE id = $1")
            .bind(grant_id)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    pub async fn grant(&self, grant_id: &str) -> Result<Option<GrantRecord>, sqlx::Error> {
        let rows = self.grants_where("g.id = $1", grant_id).await?;
        Ok(rows.into_iter().next())
    }

    /// Live grants of a user, newest first.
    pub async fn grants_of_user(&self, user_id: &str) -> Result<Vec<GrantRecord>, sqlx::Error> {
        self.grants_where("g.user_id = $1 AND g.revoked_at IS NULL", user_id)
            .await
    }

    /// Live grants on a workspace (for its admins), newest first.
    pub async fn grants_of_workspace(&self, slug: &str) -> Result<Vec<GrantRecord>, sqlx::Error> {
        self.grants_where("g.workspace_slug = $1 AND g.revoked_at IS NULL", slug)
            .await
    }

    async fn grants_where(&self, cond: &str, arg: &str) -> Result<Vec<GrantRecord>, sqlx::Error> {
        let sql = format!(
            "SELECT g.id, g.client_id, c.client_name, c.kind, g.user_id, u.username, g.workspace_slug, g.resource, \
                    g.scopes, g.created_at, g.last_used_at, g.revoked_at \
             FROM grants g JOIN oauth_clients c ON c.client_id = g.client_id JOIN users u ON u.id = g.user_id \
             WHERE {cond} ORDER BY g.created_at DESC, g.id"
        );
        // Audited: `cond` is one of three literals chosen by this module; the value is bound.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(arg)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(GrantRecord {
                    id: r.try_get(0)?,
                    client_id: r.try_get(1)?,
                    client_name: r.try_get(2)?,
                    client_kind: r.try_get(3)?,
                    user_id: r.try_get(4)?,
                    username: r.try_get(5)?,
                    workspace_slug: r.try_get(6)?,
                    resource: r.try_get(7)?,
                    scopes: crate::names::parse_scopes(&r.try_get::<String, _>(8)?),
                    created_at: r.try_get(9)?,
                    last_used_at: r.try_get(10)?,
                    revoked_at: r.try_get(11)?,
                })
            })
            .collect()
    }
}
