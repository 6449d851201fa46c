//! Shared rate counters: the one source of truth for every limit that must hold across replicas
//! (sign-in throttles, the registration limit, Client ID Metadata Document fetches).
//!
//! Each subject has a fixed window that starts with its first hit. [`Store::reserve`] takes a hit
//! with a single conditional upsert (`… ON CONFLICT DO UPDATE … WHERE hits < limit RETURNING`),
//! so N concurrent requests on any number of replicas get at most `limit` reservations: PostgreSQL
//! locks the row, SQLite serialises writers. A reservation can be handed back ([`Store::release`])
//! when the attempt it paid for succeeded or never ran.
use super::Store;
use sqlx::Row;

/// The answer to a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Reserved; `hits` counts this one.
    Granted { hits: i64 },
    /// Over the limit until `retry_after` seconds from now.
    Refused { retry_after: i64, refused: i64 },
}

/// A counter as shown to operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterRecord {
    pub subject: String,
    pub window_start: i64,
    pub hits: i64,
    pub refused: i64,
}

/// Reserves on an open executor (pool or transaction).
async fn reserve_on<'e, E>(
    ex: E,
    subject: &str,
    now: i64,
    window: i64,
    limit: i64,
) -> Result<Option<i64>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    // The SET expressions read the row as it was before this statement; a window that has run
    // out starts again with this hit.
    let row = sqlx::query(
        "INSERT INTO rate_counters (subject, window_start, hits, refused, updated_at) \
         VALUES ($1, $2, 1, 0, $2) \
         ON CONFLICT (subject) DO UPDATE SET \
           hits = CASE WHEN rate_counters.window_start <= $3 THEN 1 ELSE rate_counters.hits + 1 END, \
           refused = CASE WHEN rate_counters.window_start <= $3 THEN 0 ELSE rate_counters.refused END, \
           window_start = CASE WHEN rate_counters.window_start <= $3 THEN $2 ELSE rate_counters.window_start END, \
           updated_at = $2 \
         WHERE rate_counters.window_start <= $3 OR rate_counters.hits < $4 \
         RETURNING hits",
    )
    .bind(subject)
    .bind(now)
    .bind(now - window)
    .bind(limit)
    .fetch_optional(ex)
    .await?;
    row.map(|r| r.try_get::<i64, _>(0)).transpose()
}

impl Store {
    /// Takes one hit of `subject` if it has fewer than `limit` in its current `window` seconds.
    pub async fn reserve(
        &self,
        subject: &str,
        now: i64,
        window: i64,
        limit: i64,
    ) -> Result<Reservation, sqlx::Error> {
        match reserve_on(self.writer(), subject, now, window, limit).await? {
            Some(hits) => Ok(Reservation::Granted { hits }),
            None => self.refuse(subject, now, window).await,
        }
    }

    /// Reserves a hit on every `(subject, window, limit)` at once, in one transaction taken in the
    /// given order (the same order everywhere, so PostgreSQL row locks cannot deadlock): either all
    /// are granted (the hit counts of each, in order) or none is taken and the first refusal is
    /// returned with its index.
    pub async fn reserve_all(
        &self,
        subjects: &[(&str, i64, i64)],
        now: i64,
    ) -> Result<Result<Vec<i64>, (usize, Reservation)>, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        let mut hits = Vec::with_capacity(subjects.len());
        for (i, (subject, window, limit)) in subjects.iter().enumerate() {
            match reserve_on(&mut *tx, subject, now, *window, *limit).await? {
                Some(h) => hits.push(h),
                None => {
                    tx.rollback().await?;
                    let refusal = self.refuse(subject, now, *window).await?;
                    return Ok(Err((i, refusal)));
                }
            }
        }
        tx.commit().await?;
        Ok(Ok(hits))
    }

    /// Counts a refused hit and says when the window ends.
    async fn refuse(
        &self,
        subject: &str,
        now: i64,
        window: i64,
    ) -> Result<Reservation, sqlx::Error> {
        let row = sqlx::query(
            "UPDATE rate_counters SET refused = refused + 1, updated_at = $2 WHERE subject = $1 \
             RETURNING window_start, refused",
        )
        .bind(subject)
        .bind(now)
        .fetch_optional(self.writer())
        .await?;
        let (start, refused) = match row {
            Some(r) => (r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?),
            None => (now, 1),
        };
        Ok(Reservation::Refused {
            retry_after: (start + window - now).max(1),
            refused,
        })
    }

    /// Hands back one reservation of `subject` (the attempt succeeded or never ran).
    pub async fn release(&self, subject: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE rate_counters SET hits = hits - 1 WHERE subject = $1 AND hits > 0")
            .bind(subject)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Forgets `subject` entirely.
    pub async fn reset_counter(&self, subject: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM rate_counters WHERE subject = $1")
            .bind(subject)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Counters whose subject starts with `prefix`, newest first (at most `limit`).
    pub async fn counters(
        &self,
        prefix: &str,
        limit: i64,
    ) -> Result<Vec<CounterRecord>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT subject, window_start, hits, refused FROM rate_counters \
             WHERE substr(subject, 1, CAST($2 AS INTEGER)) = $1 ORDER BY updated_at DESC LIMIT $3",
        )
        .bind(prefix)
        .bind(prefix.chars().count() as i64)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CounterRecord {
                    subject: r.try_get(0)?,
                    window_start: r.try_get(1)?,
                    hits: r.try_get(2)?,
                    refused: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Deletes the counters whose subject starts with `prefix`; returns how many.
    pub async fn clear_counters(&self, prefix: &str) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query(
            "DELETE FROM rate_counters WHERE substr(subject, 1, CAST($2 AS INTEGER)) = $1",
        )
        .bind(prefix)
        .bind(prefix.chars().count() as i64)
        .execute(self.writer())
        .await?
        .rows_affected())
    }

    /// Drops counters untouched since `before` (their windows have long ended).
    pub async fn prune_counters(&self, before: i64) -> Result<u64, sqlx::Error> {
        Ok(
            sqlx::query("DELETE FROM rate_counters WHERE updated_at < $1")
                .bind(before)
                .execute(self.writer())
                .await?
                .rows_affected(),
        )
    }
}
