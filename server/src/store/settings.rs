//! Small key/value settings shared by `serve` and the admin commands.
use super::db::Store;
use sqlx::Row;

pub const PUBLIC_URL: &str = "public_url";

impl Store {
    pub async fn setting(&self, name: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?
            .map(|r| r.try_get(0))
            .transpose()
    }

    /// One statement, so concurrent writers (replicas starting together) cannot collide.
    pub async fn set_setting(&self, name: &str, value: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(self.writer())
        .await?;
        Ok(())
    }
}
