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
//!   of one query by number), so the write lock is held for SQLite's work only. Every statement
//!   sees the effects of those before it.
//! * **PostgreSQL**: its extended protocol takes one statement per query, so the batch is one
//!   statement of data-modifying `WITH` clauses (`s0 AS (… RETURNING 1), …, SELECT (SELECT
//!   COUNT(*) FROM s0), …`), run in autocommit: one round trip, and a grant's row locks are
//!   held for that statement only. Its clauses share one snapshot and do not see each other's
//!   writes; a later statement sees an earlier one's rows only through what that one returns.
//!   Every clause runs to completion whether or not anything reads it, so only the statements
//!   whose counts the caller asked for ([`WriteBatch::count`]) are counted: each count is an
//!   aggregate over a scan of its clause that PostgreSQL sets up on every execution (ten of them
//!   were a tenth of its CPU time per code redemption).
//!
//! Statements that must only take effect if an earlier one did (a conditional `UPDATE` that
//! decides a race), or that act on the rows an earlier one touched, say so with a [`Ref`]: the
//! same condition written twice, once over the tables (SQLite: "the row the winner wrote",
//! which only the earlier statement can have written) and once over the earlier statement's
//! `RETURNING` rows (PostgreSQL). A batch never branches on an intermediate result.
//! [`Store::run_batch`] returns the affected-row counts of the statements marked with
//! [`WriteBatch::count`], read through the [`Counted`] handles that marked them.
//!
//! Rules for a batch's statements: a statement reads what an earlier one wrote only through a
//! [`Ref`], and no two statements write the same row (PostgreSQL refuses, or keeps one of the
//! two, when one statement's clauses update a row twice).
//!
//! Each piece of SQL is written with its own `$1…$n`; the batch renumbers them. SQL text must
//! not contain `$` other than in placeholders (every statement here is a literal of this
//! crate).
use super::db::{Backend, Store};
use super::group::{OwnedArg, renumber};
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

/// What an earlier statement of the batch did, as a later statement's SQL fragment (a
/// condition or an expression). Made by [`WriteBatch::refer`].
#[derive(Debug, Clone)]
pub(crate) struct Ref<'a> {
    /// Over the tables, with its own `$1…$k` bound to `args` (SQLite).
    sqlite: &'static str,
    args: Vec<Arg<'a>>,
    /// Over the earlier statement's `RETURNING` rows, `{}` standing for them (PostgreSQL).
    postgres: &'static str,
    source: usize,
}

/// A piece of a statement: SQL with its own `$1…$n`, or a [`Ref`].
#[derive(Debug, Clone)]
pub(crate) enum Part<'a> {
    Sql(String, Vec<Arg<'a>>),
    Ref(Ref<'a>),
}

impl<'a> Part<'a> {
    pub fn sql(sql: impl Into<String>, args: Vec<Arg<'a>>) -> Self {
        Part::Sql(sql.into(), args)
    }
}

type AnyQuery<'q> = Query<'q, Any, sqlx::any::AnyArguments>;

fn bind<'q>(q: AnyQuery<'q>, a: Arg<'q>) -> AnyQuery<'q> {
    match a {
        Arg::Text(v) => q.bind(v),
        Arg::OptText(v) => q.bind(v),
        Arg::Int(v) => q.bind(v),
    }
}

#[derive(Debug)]
struct Statement<'a> {
    parts: Vec<Part<'a>>,
    /// What the statement returns on PostgreSQL (`1` unless a [`Ref`] reads a column).
    returning: &'static str,
    /// Whether [`Store::run_batch`] reports its affected-row count ([`WriteBatch::count`]).
    counted: bool,
}

/// A statement whose affected-row count [`Store::run_batch`] reports: index [`Counts`] with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counted(usize);

/// The affected-row counts of a batch's [`Counted`] statements.
#[derive(Debug)]
pub(crate) struct Counts(Vec<u64>);

impl Counts {
    /// `values`, the counts of the statements `counted` (in that order), placed at those
    /// statements' indices among `statements`.
    fn placed(statements: usize, counted: &[usize], values: impl IntoIterator<Item = u64>) -> Self {
        let mut all = vec![0; statements];
        for (&i, v) in counted.iter().zip(values) {
            if let Some(slot) = all.get_mut(i) {
                *slot = v;
            }
        }
        Counts(all)
    }
}

impl std::ops::Index<Counted> for Counts {
    type Output = u64;

    fn index(&self, c: Counted) -> &u64 {
        self.0.get(c.0).unwrap_or(&0)
    }
}

/// The statements of one write transaction (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct WriteBatch<'a> {
    statements: Vec<Statement<'a>>,
}

impl<'a> WriteBatch<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a statement with its own `$1…$n`; returns its index in [`Store::run_batch`]'s
    /// result.
    pub fn push(&mut self, sql: impl Into<String>, args: Vec<Arg<'a>>) -> usize {
        self.push_parts(vec![Part::sql(sql, args)])
    }

    /// Appends `sql` (which ends where a condition goes: `… WHERE ` or `… AND `) completed by
    /// the condition `cond`.
    pub fn push_if(&mut self, sql: &str, args: Vec<Arg<'a>>, cond: &Ref<'a>) -> usize {
        self.push_parts(vec![Part::sql(sql, args), Part::Ref(cond.clone())])
    }

    /// Appends the statement made of `parts`, in order.
    pub fn push_parts(&mut self, parts: Vec<Part<'a>>) -> usize {
        self.statements.push(Statement {
            parts,
            returning: "1",
            counted: false,
        });
        self.statements.len() - 1
    }

    /// Has [`Store::run_batch`] report statement `index`'s affected-row count.
    pub fn count(&mut self, index: usize) -> Counted {
        self.statements[index].counted = true;
        Counted(index)
    }

    /// A fragment for later statements about statement `source` (see [`Ref`]): `sqlite` over
    /// the tables with `args`, `postgres` over `source`'s rows (`{}`). A `postgres` fragment
    /// that reads a column needs `source` to return it ([`Self::returning`]).
    pub fn refer(
        &self,
        source: usize,
        sqlite: &'static str,
        args: Vec<Arg<'a>>,
        postgres: &'static str,
    ) -> Ref<'a> {
        debug_assert!(
            source < self.statements.len(),
            "a Ref names an earlier statement"
        );
        Ref {
            sqlite,
            args,
            postgres,
            source,
        }
    }

    /// Has statement `index` return `columns` on PostgreSQL (for a [`Ref`] that reads them).
    pub fn returning(&mut self, index: usize, columns: &'static str) {
        self.statements[index].returning = columns;
    }

    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// The SQLite form: the statements, each ending in `;\n`, placeholders renumbered across
    /// them from `$1`, and the values in order (the transaction around it is the group's,
    /// [`GroupCommit`](super::group::GroupCommit)).
    fn sqlite(self) -> (String, Vec<Arg<'a>>) {
        let (mut sql, mut args) = (String::new(), Vec::new());
        for s in self.statements {
            for part in s.parts {
                let (text, a) = match part {
                    Part::Sql(text, a) => (std::borrow::Cow::Owned(text), a),
                    Part::Ref(r) => (std::borrow::Cow::Borrowed(r.sqlite), r.args),
                };
                renumber(&text, args.len(), &mut sql);
                args.extend(a);
            }
            sql.push_str(";\n");
        }
        (sql, args)
    }

    /// The PostgreSQL form: one statement, its values, and the statements whose counts its row
    /// holds, in order. A batch of one statement is that statement (its count is the command's);
    /// a larger one is `WITH s0 AS (… RETURNING 1), … SELECT (SELECT COUNT(*) FROM s0), …` over
    /// the counted statements only (`SELECT 1` when none is; a `SELECT` clause is counted as it
    /// is).
    fn postgres(self) -> (String, Vec<Arg<'a>>, Vec<usize>) {
        let single = self.statements.len() == 1;
        let counted: Vec<usize> = if single {
            vec![0]
        } else {
            self.statements
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.counted.then_some(i))
                .collect()
        };
        let (mut sql, mut args) = (String::new(), Vec::new());
        if !single {
            sql.push_str("WITH ");
        }
        for (i, s) in self.statements.into_iter().enumerate() {
            if !single {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("s{i} AS ("));
            }
            let mut select = None;
            for part in s.parts {
                match part {
                    Part::Sql(text, a) => {
                        select.get_or_insert(text.starts_with("SELECT"));
                        renumber(&text, args.len(), &mut sql);
                        args.extend(a);
                    }
                    Part::Ref(r) => {
                        debug_assert!(r.source < i, "a Ref names an earlier statement");
                        sql.push_str(&r.postgres.replace("{}", &format!("s{}", r.source)));
                    }
                }
            }
            if !single {
                if select != Some(true) {
                    sql.push_str(" RETURNING ");
                    sql.push_str(s.returning);
                }
                sql.push(')');
            }
        }
        if !single {
            let counts: Vec<String> = counted
                .iter()
                .map(|i| format!("(SELECT COUNT(*) FROM s{i})"))
                .collect();
            if counts.is_empty() {
                sql.push_str(" SELECT 1");
            } else {
                sql.push_str(&format!(" SELECT {}", counts.join(", ")));
            }
        }
        (sql, args, counted)
    }
}

/// Runs the PostgreSQL form of a batch of `statements`; returns the counts of `counted`.
async fn run_postgres<'c, E: sqlx::Executor<'c, Database = Any>>(
    executor: E,
    statements: usize,
    (sql, args, counted): (String, Vec<Arg<'_>>, Vec<usize>),
) -> Result<Counts, sqlx::Error> {
    let with = sql.starts_with("WITH ");
    // Audited: statement texts are literals of this crate; values are bound.
    let q = args
        .into_iter()
        .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), bind);
    if !with {
        let n = q.execute(executor).await?.rows_affected();
        return Ok(Counts::placed(statements, &counted, [n]));
    }
    let row = q.fetch_one(executor).await?;
    let values = (0..counted.len())
        .map(|i| Ok(sqlx::Row::try_get::<i64, _>(&row, i)?.max(0) as u64))
        .collect::<Result<Vec<u64>, sqlx::Error>>()?;
    Ok(Counts::placed(statements, &counted, values))
}

impl Store {
    /// Runs `batch` as one transaction (see the module docs) and returns the affected-row
    /// counts of its [`Counted`] statements. On an error nothing of it is committed.
    pub(crate) async fn run_batch(&self, batch: WriteBatch<'_>) -> Result<Counts, sqlx::Error> {
        match self.backend() {
            Backend::Sqlite => Ok(Counts(self.run_batch_sqlite(batch).await?)),
            Backend::Postgres => {
                let statements = batch.len();
                run_postgres(self.writer(), statements, batch.postgres()).await
            }
        }
    }

    /// SQLite: queues the batch for the writer and waits for its group's commit (see
    /// [`GroupCommit`](super::group::GroupCommit)).
    async fn run_batch_sqlite(&self, batch: WriteBatch<'_>) -> Result<Vec<u64>, sqlx::Error> {
        let statements = batch.len();
        let (sql, args) = batch.sqlite();
        let args = args
            .into_iter()
            .map(|a| match a {
                Arg::Text(v) => OwnedArg::Text(v.to_owned()),
                Arg::OptText(v) => OwnedArg::OptText(v.map(str::to_owned)),
                Arg::Int(v) => OwnedArg::Int(v),
            })
            .collect();
        self.group
            .submit(self.writer(), sql, args, statements)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch whose later statements read earlier ones: a condition, a set of rows (which
    /// needs its source to return `id`), and both inside one statement.
    fn sample() -> WriteBatch<'static> {
        let mut b = WriteBatch::new();
        let won = b.push(
            "UPDATE t SET a = $2 WHERE k = $1",
            vec![Arg::Int(1), Arg::Int(2)],
        );
        let did = b.refer(
            won,
            "EXISTS (SELECT 1 FROM t WHERE k = $1 AND a = $2)",
            vec![Arg::Int(1), Arg::Int(2)],
            "EXISTS (SELECT 1 FROM {})",
        );
        let gone = b.push_if(
            "DELETE FROM u WHERE n = $1 AND ",
            vec![Arg::Text("a")],
            &did,
        );
        b.returning(gone, "id");
        let gone_ids = b.refer(
            gone,
            "id IN (SELECT id FROM u_log WHERE by = $1)",
            vec![Arg::Int(1)],
            "id IN (SELECT id FROM {})",
        );
        b.push_if(
            "DELETE FROM v WHERE n = $10 AND ",
            vec![Arg::Int(0); 10],
            &gone_ids,
        );
        let i = b.push_parts(vec![
            Part::sql("SELECT f($1, ", vec![Arg::OptText(None)]),
            Part::Ref(gone_ids.clone()),
            Part::sql(") WHERE ", vec![]),
            Part::Ref(did),
        ]);
        assert_eq!(i, 3);
        // Counted: the first and the last; the two deletes only run.
        assert_eq!((b.count(won), b.count(i)), (Counted(0), Counted(3)));
        b
    }

    #[test]
    fn sqlite_renumbers_every_piece_and_reads_earlier_statements_from_the_tables() {
        let (sqlite, args) = sample().sqlite();
        assert_eq!(
            sqlite,
            "UPDATE t SET a = $2 WHERE k = $1;\n\
             DELETE FROM u WHERE n = $3 AND EXISTS (SELECT 1 FROM t WHERE k = $4 AND a = $5);\n\
             DELETE FROM v WHERE n = $15 AND id IN (SELECT id FROM u_log WHERE by = $16);\n\
             SELECT f($17, id IN (SELECT id FROM u_log WHERE by = $18)) WHERE \
             EXISTS (SELECT 1 FROM t WHERE k = $19 AND a = $20);\n"
        );
        assert_eq!(args.len(), 20);
    }

    #[test]
    fn postgres_is_one_statement_whose_clauses_read_earlier_ones_through_returning() {
        let (sql, args, counted) = sample().postgres();
        assert_eq!(
            sql,
            "WITH s0 AS (UPDATE t SET a = $2 WHERE k = $1 RETURNING 1), \
             s1 AS (DELETE FROM u WHERE n = $3 AND EXISTS (SELECT 1 FROM s0) RETURNING id), \
             s2 AS (DELETE FROM v WHERE n = $13 AND id IN (SELECT id FROM s1) RETURNING 1), \
             s3 AS (SELECT f($14, id IN (SELECT id FROM s1)) WHERE EXISTS (SELECT 1 FROM s0)) \
             SELECT (SELECT COUNT(*) FROM s0), (SELECT COUNT(*) FROM s3)"
        );
        assert_eq!(args.len(), 14);
        assert_eq!(counted, vec![0, 3]);
        // One statement is sent as it is; its count is the command's.
        let mut one = WriteBatch::new();
        one.push("INSERT INTO t (k) VALUES ($1)", vec![Arg::Int(1)]);
        let (sql, _, counted) = one.postgres();
        assert_eq!(
            (sql.as_str(), counted),
            ("INSERT INTO t (k) VALUES ($1)", vec![0])
        );
        // Nothing counted: the clauses still run, the row holds nothing of theirs.
        let mut quiet = WriteBatch::new();
        quiet.push("INSERT INTO t (k) VALUES ($1)", vec![Arg::Int(1)]);
        quiet.push("INSERT INTO u (k) VALUES ($1)", vec![Arg::Int(2)]);
        let (sql, _, counted) = quiet.postgres();
        assert!(sql.ends_with(" RETURNING 1) SELECT 1"), "{sql}");
        assert!(counted.is_empty());
    }

    /// A PostgreSQL row holds the counted statements' counts in order; each lands at its
    /// statement's index, and reading an uncounted one (which the types prevent) gives 0.
    #[test]
    fn counts_land_at_their_statements() {
        let c = Counts::placed(4, &[1, 3], [7, 9]);
        assert_eq!((c[Counted(1)], c[Counted(3)]), (7, 9));
        assert_eq!((c[Counted(0)], c[Counted(2)], c[Counted(8)]), (0, 0, 0));
    }

    /// Many batches at once on a real SQLite database: they share transactions, each gets its
    /// own counts, a later batch sees an earlier one's writes (the race is decided once), and
    /// one that fails (a duplicate key) fails alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_batches_commit_in_groups_and_a_failure_stays_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&Store::sqlite_url_for(dir.path()))
            .await
            .unwrap();
        sqlx::query("CREATE TABLE g (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            .execute(store.writer())
            .await
            .unwrap();
        sqlx::query("CREATE TABLE claim (id INTEGER PRIMARY KEY, by INTEGER)")
            .execute(store.writer())
            .await
            .unwrap();
        sqlx::query("INSERT INTO claim (id, by) VALUES (1, NULL)")
            .execute(store.writer())
            .await
            .unwrap();
        let run = |i: i64| {
            let store = store.clone();
            async move {
                let v = format!("v{i}");
                let mut b = WriteBatch::new();
                // Every batch races for the one claim; the loser's insert must not happen.
                let won = b.push(
                    "UPDATE claim SET by = $1 WHERE id = 1 AND by IS NULL",
                    vec![Arg::Int(i)],
                );
                let claim = b.count(won);
                let claimed = b.refer(
                    won,
                    "EXISTS (SELECT 1 FROM claim WHERE id = 1 AND by = $1)",
                    vec![Arg::Int(i)],
                    "EXISTS (SELECT 1 FROM {})",
                );
                let follow = b.push_if(
                    "INSERT INTO g (k, v) SELECT 1000, $1 WHERE ",
                    vec![Arg::Text(&v)],
                    &claimed,
                );
                let follow = b.count(follow);
                // Batch 7 collides with batch 3's key.
                let k = if i == 7 { 3 } else { i };
                let own = b.push(
                    "INSERT INTO g (k, v) VALUES ($1, $2)",
                    vec![Arg::Int(k), Arg::Text(&v)],
                );
                let own = b.count(own);
                let counts = store.run_batch(b).await?;
                Ok::<_, sqlx::Error>((counts[claim], counts[follow], counts[own]))
            }
        };
        let results = futures::future::join_all((0..40).map(run)).await;
        let mut winners = 0;
        for (i, r) in results.iter().enumerate() {
            if i == 7 {
                assert!(r.is_err(), "batch 7 reused a key: {r:?}");
                continue;
            }
            let (claim, follow, own) = *r.as_ref().unwrap();
            assert_eq!(claim, follow, "the insert follows the claim");
            assert_eq!(own, 1);
            winners += claim;
        }
        assert_eq!(winners, 1);
        let transactions = store.group.transactions();
        assert!(
            transactions < 40,
            "40 batches, {transactions} transactions: none shared one"
        );
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT k, v FROM g ORDER BY k")
            .fetch_all(store.pool())
            .await
            .unwrap();
        // 39 own rows and the claim winner's; batch 3's row is its own, 7 wrote nothing.
        assert_eq!(rows.len(), 40);
        assert!(rows.iter().any(|(k, v)| *k == 3 && v == "v3"));
        assert!(!rows.iter().any(|(_, v)| v == "v7"));
        let by: Option<i64> = sqlx::query_scalar("SELECT by FROM claim WHERE id = 1")
            .fetch_one(store.pool())
            .await
            .unwrap();
        let winner = by.unwrap();
        assert_ne!(winner, 7, "the failed batch's claim was rolled back");
        assert!(rows.contains(&(1000, format!("v{winner}"))));
    }
}
