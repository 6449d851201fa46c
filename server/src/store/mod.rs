//! Persistence: one portable SQL schema on SQLite (embedded default) or PostgreSQL.
//!
//! All queries go through [`sqlx::AnyPool`] with `$n` placeholders and portable types (TEXT,
//! BIGINT), so the same statements run on both backends. One module per aggregate.
pub mod audit;
pub mod counters;
pub mod oauth;
pub mod settings;
pub mod tokens;
pub mod users;
pub mod workspaces;

use anyhow::Context;
use sqlx::AnyPool;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use std::path::Path;

pub use tokens::{GrantRecord, TokenRecord};
pub use users::UserRecord;
pub use workspaces::{Membership, WorkspaceRecord};

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Store {
    /// Connects and applies migrations. `url` is `sqlite://…` or `postgres://…`.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            anyhow::bail!("unsupported database URL (use sqlite:// or postgres://)");
        };
        let max = if backend == Backend::Sqlite { 8 } else { 16 };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .connect(url)
            .await
            .with_context(|| format!("connecting to {}", redact_url(url)))?;
        let store = Self { pool, backend };
        if backend == Backend::Sqlite {
            // WAL lets admin commands write while the server reads; wait instead of failing on locks.
            for pragma in [
                "PRAGMA journal_mode=WAL",
                "PRAGMA busy_timeout=5000",
                "PRAGMA foreign_keys=ON",
            ] {
                sqlx::query(pragma).execute(&store.pool).await?;
            }
        }
        sqlx::migrate!("./migrations")
            .run(&store.pool)
            .await
            .context("applying migrations")?;
        Ok(store)
    }

    /// The default embedded database inside `data_dir`.
    pub fn sqlite_url_for(data_dir: &Path) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("gigamcp.db").display()
        )
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }
}

/// Workspace slugs: 2–40 chars of `[a-z0-9-]`, starting with a letter, no trailing hyphen.
pub fn valid_slug(slug: &str) -> bool {
    let b = slug.as_bytes();
    (2..=40).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1] != b'-'
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// Usernames: 1–64 chars of `[A-Za-z0-9._-]`.
pub fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Space-separated scope string → sorted, de-duplicated list.
pub fn parse_scopes(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.split_ascii_whitespace().map(str::to_owned).collect();
    v.sort();
    v.dedup();
    v
}

pub fn join_scopes(scopes: &[String]) -> String {
    scopes.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_usernames() {
        for ok in ["acme", "globex", "a1", "my-team-2"] {
            assert!(valid_slug(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "Acme",
            "1abc",
            "ab-",
            "a_b",
            "a/b",
            "x".repeat(41).as_str(),
        ] {
            assert!(!valid_slug(bad), "{bad}");
        }
        assert!(valid_username("alice.smith-2"));
        assert!(!valid_username("al ice"));
        assert!(!valid_username(""));
    }

    #[test]
    fn scopes_normalise() {
        assert_eq!(
            parse_scopes(" mcp:tools  mcp:read mcp:read "),
            vec!["mcp:read", "mcp:tools"]
        );
    }
}
