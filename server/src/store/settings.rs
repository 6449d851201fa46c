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

    pub async fn set_setting(&self, name: &str, value: &str) -> Result<(), sqlx::Error> {
        let n = sqlx::query("UPDATE settings SET value = $2 WHERE name = $1")
            .bind(name)
            .bind(value)
            .execute(self.pool())
            .await?
            .rows_affected();
        if n == 0 {
            sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2)")
                .bind(name)
                .bind(value)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }
}
