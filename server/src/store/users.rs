//! Users. Passwords are argon2id hashes; see `auth::password`.
use super::db::Store;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub created_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("invalid username {0:?}: use 1-64 characters A-Z, a-z, 0-9, '.', '_' or '-'")]
    InvalidUsername(String),
    #[error("user {0:?} already exists")]
    Duplicate(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn user_from_row(r: &sqlx::any::AnyRow) -> Result<UserRecord, sqlx::Error> {
    Ok(UserRecord {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        password_hash: r.try_get("password_hash")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    pub async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<UserRecord, UserError> {
        if !crate::names::valid_username(username) {
            return Err(UserError::InvalidUsername(username.into()));
        }
        if self.user_by_username(username).await?.is_some() {
            return Err(UserError::Duplicate(username.into()));
        }
        let id = format!("u_{}", crate::secrets::new_id());
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(username)
        .bind(password_hash)
        .bind(now)
        .execute(self.writer())
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                UserError::Duplicate(username.into())
            }
            _ => UserError::Db(e),
        })?;
        Ok(UserRecord {
            id,
            username: username.into(),
            password_hash: password_hash.into(),
            created_at: now,
        })
    }

    pub async fn user_by_username(
        &self,
        username: &str,
    ) -> Result<Option<UserRecord>, sqlx::Error> {
        sqlx::query("SELECT id, username, password_hash, created_at FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(self.pool())
            .await?
            .map(|r| user_from_row(&r))
            .transpose()
    }

    pub async fn user(&self, id: &str) -> Result<Option<UserRecord>, sqlx::Error> {
        sqlx::query("SELECT id, username, password_hash, created_at FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .map(|r| user_from_row(&r))
            .transpose()
    }

    pub async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_durable_write().await?;
        sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(user_id)
            .bind(password_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
}
