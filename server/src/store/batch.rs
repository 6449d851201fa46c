//! A write transaction sent to the database as one command.
//!
//! The token endpoint's writes are a handful of statements under the database's write lock
//! (SQLite has one writer). Sent one by one, every statement is a round trip from the request's
//! task to the connection's worker thread and back, and the lock is held while the task waits
//! for its next turn on a busy runtime: that wait, not SQLite's work, bounded the grants at
//! 650–900/s. A [`WriteBatch`] is the same transaction as one command:
//!
//! * **SQLite**: `BEGIN IMMEDIATE; s1; s2; …; COMMIT` is one multi-statement query; the
//!   connection's worker thread runs all of it in one go (sqlx binds `$n` across the statements
//!   of one query by number), so the write lock is held for SQLite's work only.
//! * **PostgreSQL**: its extended protocol takes one statement per query, so the batch is cut
//!   into *stages* ([`WriteBatch::then`]): the statements of one stage become one statement
//!   (data-modifying `WITH` clauses, each `RETURNING 1` so its rows can be counted), which sees
//!   every earlier stage but not its siblings. A batch of one stage is one autocommit statement;
//!   more run inside a transaction, one round trip per stage. A grant's row locks are held for
//!   a few round trips instead of one per statement.
//!
//! Statements that must only take effect if an earlier one did (a conditional `UPDATE` that
//! decides a race) carry that condition themselves, as a `WHERE EXISTS (…)` on the row the
//! winner wrote: a batch never branches on an intermediate result. [`Store::run_batch`] returns
//! each statement's affected-row count, in order.
//!
//! Each statement is written with its own `$1…$n`; the batch renumbers them. SQL text must not
//! contain `$` other than in placeholders (every statement here is a literal of this crate).
use super::db::{Backend, Store};
use sqlx::Executor;
use sqlx::any::Any;
use sqlx::query::Query;

/// One bound value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(v)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(v)
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::OptText(v)
    }
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}

/// A condition that later statements of a batch repeat: "the earlier statement took effect".
#[derive(Debug, Clone)]
pub(crate) struct Guard<'a> {
    pub sql: &'static str,
    pub args: Vec<Arg<'a>>,
}

type AnyQuery<'q> = Query<'q, Any, sqlx::any::AnyArguments>;

fn bind<'q>(q: AnyQuery<'q>, a: Arg<'q>) -> AnyQuery<'q> {
    match a {
        Arg::Text(v) => q.bind(v),
        Arg::OptText(v) => q.bind(v),
        Arg::Int(v) => q.bind(v),
    }
}

/// The statements of one write transaction (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct WriteBatch<'a> {
    /// (SQL, values, stage)
    statements: Vec<(String, Vec<Arg<'a>>, usize)>,
    stage: usize,
}

impl<'a> WriteBatch<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a statement with its own `$1…$n`; returns its index in [`Store::run_batch`]'s
    /// result.
    pub fn push(&mut self, sql: impl Into<String>, args: Vec<Arg<'a>>) -> usize {
        self.statements.push((sql.into(), args, self.stage));
        self.statements.len() - 1
    }

    /// Starts a new stage: the statements pushed after this see the effects of those before.
    /// Statements of one stage must not depend on each other or touch the same rows (on
    /// PostgreSQL they are one statement; on SQLite every statement sees the ones before it).
    pub fn then(&mut self) {
        self.stage += 1;
    }

    /// Appends `sql` (which ends where a condition goes: `… WHERE ` or `… AND `) completed by
    /// `guard`, a condition with its own `$1…$k` bound to `guard_args`.
    pub fn push_if(&mut self, sql: &str, args: Vec<Arg<'a>>, guard: &Guard<'a>) -> usize {
        let mut text = sql.to_owned();
        renumber(guard.sql, args.len(), &mut text);
        let mut args = args;
        args.extend_from_slice(&guard.args);
        self.push(text, args)
    }

    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// The SQLite form: one transaction, placeholders renumbered across the statements.
    fn sqlite_sql(&self) -> String {
        let mut sql = String::from("BEGIN IMMEDIATE;\n");
        let mut offset = 0;
        for (s, args, _) in &self.statements {
            renumber(s, offset, &mut sql);
            sql.push_str(";\n");
            offset += args.len();
        }
        sql.push_str("COMMIT");
        sql
    }

    /// The PostgreSQL form: one statement per stage with its values. A stage of one statement
    /// is that statement; a larger one is `WITH s0 AS (… RETURNING 1), … SELECT (SELECT
    /// COUNT(*) FROM s0), …` (a `SELECT` clause is counted as it is).
    fn postgres_stages(&self) -> Vec<(String, Vec<Arg<'a>>)> {
        let mut out: Vec<(String, Vec<Arg<'a>>)> = Vec::new();
        for members in self.statements.chunk_by(|a, b| a.2 == b.2) {
            if let [(sql, args, _)] = members {
                out.push((sql.clone(), args.clone()));
                continue;
            }
            let (mut sql, mut args) = (String::from("WITH "), Vec::new());
            for (n, (s, a, _)) in members.iter().enumerate() {
                if n > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("s{n} AS ("));
                renumber(s, args.len(), &mut sql);
                if !s.starts_with("SELECT") {
                    sql.push_str(" RETURNING 1");
                }
                sql.push(')');
                args.extend_from_slice(a);
            }
            let counts: Vec<String> = (0..members.len())
                .map(|n| format!("(SELECT COUNT(*) FROM s{n})"))
                .collect();
            sql.push_str(&format!(" SELECT {}", counts.join(", ")));
            out.push((sql, args));
        }
        out
    }
}

/// Runs one PostgreSQL stage; returns its statements' affected-row counts.
async fn run_stage<'c, E: sqlx::Executor<'c, Database = Any>>(
    executor: E,
    sql: &str,
    args: &[Arg<'_>],
) -> Result<Vec<u64>, sqlx::Error> {
    // Audited: statement texts are literals of this crate; values are bound.
    let q = args
        .iter()
        .copied()
        .fold(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())), bind);
    if !sql.starts_with("WITH ") {
        return Ok(vec![q.execute(executor).await?.rows_affected()]);
    }
    let row = q.fetch_one(executor).await?;
    (0..sqlx::Row::len(&row))
        .map(|i| Ok(sqlx::Row::try_get::<i64, _>(&row, i)?.max(0) as u64))
        .collect()
}

/// Appends `sql` to `out` with every `$n` shifted to `$(n + offset)`.
fn renumber(sql: &str, offset: usize, out: &mut String) {
    let mut rest = sql;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
}

impl Store {
    /// Runs `batch` as one transaction (see the module docs) and returns each statement's
    /// affected-row count. On an error nothing of it is committed.
    pub(crate) async fn run_batch(&self, batch: WriteBatch<'_>) -> Result<Vec<u64>, sqlx::Error> {
        match self.backend() {
            Backend::Sqlite => self.run_batch_sqlite(batch).await,
            Backend::Postgres => {
                let stages = batch.postgres_stages();
                if let [(sql, args)] = stages.as_slice() {
                    return run_stage(self.writer(), sql, args).await;
                }
                let mut tx = self.begin_write().await?;
                let mut counts = Vec::with_capacity(batch.len());
                for (sql, args) in &stages {
                    counts.extend(run_stage(&mut *tx, sql, args).await?);
                }
                tx.commit().await?;
                Ok(counts)
            }
        }
    }

    async fn run_batch_sqlite(&self, batch: WriteBatch<'_>) -> Result<Vec<u64>, sqlx::Error> {
        use futures::TryStreamExt;
        let n = batch.len();
        let sql = batch.sqlite_sql();
        let mut conn = self.writer().acquire().await?;
        // Audited: statement texts are literals of this crate; values are bound.
        let query = batch
            .statements
            .into_iter()
            .flat_map(|(_, args, _)| args)
            .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), bind);
        let result: Result<Vec<u64>, sqlx::Error> = async {
            let mut counts = Vec::with_capacity(n + 2);
            let mut results = conn.fetch_many(query);
            while let Some(step) = results.try_next().await? {
                if let sqlx::Either::Left(done) = step {
                    counts.push(done.rows_affected());
                }
            }
            Ok(counts)
        }
        .await;
        match result {
            // BEGIN's and COMMIT's counts around the statements'.
            Ok(counts) if counts.len() == n + 2 => Ok(counts[1..=n].to_vec()),
            Ok(counts) => {
                rollback(&mut conn).await;
                Err(sqlx::Error::Protocol(format!(
                    "a write batch of {n} statements reported {} results",
                    counts.len()
                )))
            }
            Err(e) => {
                // A statement failed: the rest (COMMIT included) did not run.
                rollback(&mut conn).await;
                Err(e)
            }
        }
    }
}

/// Ends a batch's open transaction after a failure; a connection that cannot roll back is
/// closed rather than returned to the pool mid-transaction.
async fn rollback(conn: &mut sqlx::pool::PoolConnection<Any>) {
    if let Err(e) = sqlx::query("ROLLBACK").execute(&mut **conn).await {
        // "no transaction is active": BEGIN itself failed (e.g. busy), nothing is open.
        let idle = e.to_string().contains("no transaction is active");
        if !idle {
            tracing::warn!(error = %e, "rolling back a write batch; closing its connection");
            conn.close_on_drop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_renumbered_per_statement() {
        let mut b = WriteBatch::new();
        b.push(
            "UPDATE t SET a = $2 WHERE k = $1",
            vec![Arg::Int(1), Arg::Int(2)],
        );
        b.push(
            "INSERT INTO u (x, y, z) SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM t WHERE k = $1)",
            vec![Arg::Text("a"), Arg::OptText(None), Arg::Int(3)],
        );
        b.push("DELETE FROM v WHERE n = $10", vec![Arg::Int(0); 10]);
        let g = Guard {
            sql: "EXISTS (SELECT 1 FROM t WHERE k = $1 AND j = $2)",
            args: vec![Arg::Int(7), Arg::Int(8)],
        };
        let i = b.push_if("UPDATE w SET c = $1 WHERE ", vec![Arg::Int(9)], &g);
        assert_eq!(i, 3);
        assert_eq!(b.statements[3].1.len(), 3);
        b.then();
        b.push("SELECT f($1)", vec![Arg::Int(5)]);
        assert_eq!(
            b.sqlite_sql(),
            "BEGIN IMMEDIATE;\nUPDATE t SET a = $2 WHERE k = $1;\n\
             INSERT INTO u (x, y, z) SELECT $3, $4, $5 WHERE EXISTS (SELECT 1 FROM t WHERE k = $3);\n\
             DELETE FROM v WHERE n = $15;\n\
             UPDATE w SET c = $16 WHERE EXISTS (SELECT 1 FROM t WHERE k = $17 AND j = $18);\n\
             SELECT f($19);\nCOMMIT"
        );
        // PostgreSQL: the first four are one stage (one statement), the last its own.
        let stages = b.postgres_stages();
        assert_eq!(stages.len(), 2);
        assert_eq!(
            stages[0].0,
            "WITH s0 AS (UPDATE t SET a = $2 WHERE k = $1 RETURNING 1), \
             s1 AS (INSERT INTO u (x, y, z) SELECT $3, $4, $5 WHERE EXISTS (SELECT 1 FROM t WHERE k = $3) RETURNING 1), \
             s2 AS (DELETE FROM v WHERE n = $15 RETURNING 1), \
             s3 AS (UPDATE w SET c = $16 WHERE EXISTS (SELECT 1 FROM t WHERE k = $17 AND j = $18) RETURNING 1) \
             SELECT (SELECT COUNT(*) FROM s0), (SELECT COUNT(*) FROM s1), (SELECT COUNT(*) FROM s2), (SELECT COUNT(*) FROM s3)"
        );
        assert_eq!(stages[0].1.len(), 18);
        assert_eq!(
            (stages[1].0.as_str(), stages[1].1.len()),
            ("SELECT f($1)", 1)
        );
    }
}
