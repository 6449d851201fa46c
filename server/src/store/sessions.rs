//! MCP sessions shared by every replica (see `mcp::session` for the cache in front of them).
//!
//! A session row is keyed by the SHA-256 of its id. Ending a session (DELETE, or the per-user
//! cap) deletes its row and appends its hash to `mcp_session_ends` under a sequence number bumped
//! in the same transaction, so other replicas read the ends in commit order and drop those
//! sessions from their caches.
use super::db::{Store, notify};
use sqlx::Row;

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id_hash: String,
    pub workspace: String,
    pub user_id: String,
    pub version: String,
    pub created_at: i64,
    pub ordinal: i64,
    pub last_seen: i64,
    pub log_level: i64,
    pub initialized: bool,
}

/// The `pg_notify` topic of session ends.
pub const SESSIONS_TOPIC: &str = "sessions";

/// Appends end entries for `ended` inside the caller's transaction: takes that many sequence
/// numbers at once (the row lock orders concurrent enders, so entries appear in `seq` order).
async fn log_ends(
    conn: &mut sqlx::AnyConnection,
    ended: &[String],
    now: i64,
) -> Result<(), sqlx::Error> {
    if ended.is_empty() {
        return Ok(());
    }
    let n = ended.len() as i64;
    let last: i64 =
        sqlx::query("UPDATE mcp_session_end_seq SET seq = seq + $1 WHERE id = 1 RETURNING seq")
            .bind(n)
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
    for (i, hash) in ended.iter().enumerate() {
        sqlx::query("INSERT INTO mcp_session_ends (seq, id_hash, ended_at) VALUES ($1, $2, $3)")
            .bind(last - n + 1 + i as i64)
            .bind(hash)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

impl Store {
    /// Stores a new session and ends the user's oldest ones beyond `cap`, atomically. Returns
    /// the hashes of the sessions it ended.
    pub async fn insert_session(
        &self,
        row: &SessionRow,
        cap: usize,
    ) -> Result<Vec<String>, sqlx::Error> {
        // Relaxed, like every ordinary write (`Durability`): a power loss that takes the last
        // moments of sessions only makes those clients initialize again (404 → new session, as
        // the transport requires).
        let mut tx = self.begin_write().await?;
        // One user's creations take turns (a no-op update locks the user's row on PostgreSQL;
        // SQLite's writers already take turns): two trimming the same rows at once could
        // deadlock or let the user exceed the cap.
        sqlx::query("UPDATE users SET created_at = created_at WHERE id = $1")
            .bind(&row.user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO mcp_sessions (id_hash, workspace, user_id, version, created_at, ordinal, \
             last_seen, log_level, initialized) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&row.id_hash)
        .bind(&row.workspace)
        .bind(&row.user_id)
        .bind(&row.version)
        .bind(row.created_at)
        .bind(row.ordinal)
        .bind(row.last_seen)
        .bind(row.log_level)
        .bind(i64::from(row.initialized))
        .execute(&mut *tx)
        .await?;
        // Newest first: everything after the first `cap` goes (the portable spelling of "no
        // limit" is a large one). A user holds at most `cap` + 1 rows here, so this reads a
        // handful of index entries.
        let ended: Vec<String> = sqlx::query(
            "DELETE FROM mcp_sessions WHERE id_hash IN (SELECT id_hash FROM mcp_sessions \
             WHERE user_id = $1 ORDER BY created_at DESC, ordinal DESC, id_hash DESC \
             LIMIT 1000000000 OFFSET $2) RETURNING id_hash",
        )
        .bind(&row.user_id)
        .bind(i64::try_from(cap).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
        log_ends(&mut tx, &ended, row.created_at).await?;
        if !ended.is_empty() {
            notify(&mut tx, SESSIONS_TOPIC).await?;
        }
        tx.commit().await?;
        Ok(ended)
    }

    pub async fn session_by_hash(&self, id_hash: &str) -> Result<Option<SessionRow>, sqlx::Error> {
        let query = sqlx::query(
            "SELECT id_hash, workspace, user_id, version, created_at, ordinal, last_seen, \
             log_level, initialized FROM mcp_sessions WHERE id_hash = $1",
        )
        .bind(id_hash);
        let Some(r) = self.read_optional(query).await? else {
            return Ok(None);
        };
        Ok(Some(SessionRow {
            id_hash: r.try_get(0)?,
            workspace: r.try_get(1)?,
            user_id: r.try_get(2)?,
            version: r.try_get(3)?,
            created_at: r.try_get(4)?,
            ordinal: r.try_get(5)?,
            last_seen: r.try_get(6)?,
            log_level: r.try_get(7)?,
            initialized: r.try_get::<i64, _>(8)? != 0,
        }))
    }

    /// Ends a session: deletes its row and logs the end for other replicas. Returns whether it
    /// existed.
    pub async fn end_session(&self, id_hash: &str, now: i64) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM mcp_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n > 0 {
            log_ends(&mut tx, &[id_hash.to_owned()], now).await?;
            notify(&mut tx, SESSIONS_TOPIC).await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Records use of a session (its idle timer), never moving it backwards.
    pub async fn touch_session(&self, id_hash: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE mcp_sessions SET last_seen = $2 WHERE id_hash = $1 AND last_seen < $2")
            .bind(id_hash)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Stores a session's `logging/setLevel` value.
    pub async fn set_session_log_level(
        &self,
        id_hash: &str,
        level: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE mcp_sessions SET log_level = $2 WHERE id_hash = $1")
            .bind(id_hash)
            .bind(level)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Marks a session initialized (`notifications/initialized`).
    pub async fn mark_session_initialized(&self, id_hash: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE mcp_sessions SET initialized = 1 WHERE id_hash = $1")
            .bind(id_hash)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// The newest end entry's sequence number (0 when none): where a new replica starts reading.
    pub async fn last_session_end(&self) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT seq FROM mcp_session_end_seq WHERE id = 1")
            .fetch_one(self.pool())
            .await?
            .try_get(0)
    }

    /// End entries after `seq`, oldest first, at most `limit`.
    pub async fn session_ends_after(
        &self,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String)>, sqlx::Error> {
        sqlx::query(
            "SELECT seq, id_hash FROM mcp_session_ends WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(seq)
        .bind(limit)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
    }

    /// Deletes sessions idle since before `idle_before` and end entries older than
    /// `ends_before`. Returns the number of sessions removed.
    pub async fn prune_sessions(
        &self,
        idle_before: i64,
        ends_before: i64,
    ) -> Result<u64, sqlx::Error> {
        let n = sqlx::query("DELETE FROM mcp_sessions WHERE last_seen < $1")
            .bind(idle_before)
            .execute(self.writer())
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM mcp_session_ends WHERE ended_at < $1")
            .bind(ends_before)
            .execute(self.writer())
            .await?;
        Ok(n)
    }

    /// Live sessions in the database (all replicas).
    pub async fn session_count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT COUNT(*) FROM mcp_sessions")
            .fetch_one(self.pool())
            .await?
            .try_get(0)
    }
}
