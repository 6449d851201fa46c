//! SQLite's group commit for write batches (`store::batch`).
use sqlx::AnyPool;
use sqlx::Executor;
use sqlx::any::Any;
use sqlx::query::Query;
use std::sync::Arc;

type AnyQuery<'q> = Query<'q, Any, sqlx::any::AnyArguments>;

/// Appends `sql` to `out` with every `$n` shifted to `$(n + offset)`.
pub(crate) fn renumber(sql: &str, offset: usize, out: &mut String) {
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

/// At most this many batches per transaction (SQLite binds at most 32,766 values per
/// statement; a grant's batch binds about 60).
const GROUP_MAX: usize = 64;

/// SQLite's group commit. The writer is one connection and one lock, so the batches that queue
/// while a transaction runs wait anyway; the next transaction runs all of them, as one
/// command, `BEGIN IMMEDIATE; …; COMMIT`. A batch sees the batches before it in its group as it
/// would have after their commits, and is answered only once its group committed. Under load
/// this spreads each transaction's fixed costs (taking the lock, the hand-offs to and from the
/// connection's worker thread, the log's page writes) over the group; alone, a batch is a group
/// of one. The transactions run in a task of their own, so a request that goes away never
/// cuts one short.
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    state: std::sync::Mutex<GroupState>,
    /// Transactions begun (the batches' count over this is the grouping).
    transactions: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Default)]
struct GroupState {
    queue: Vec<Pending>,
    /// A task is draining `queue`.
    running: bool,
}

/// A batch waiting for its group: its statements (from `$1`) and values, owned, and where its
/// counts go.
#[derive(Debug)]
struct Pending {
    sql: String,
    args: Vec<OwnedArg>,
    statements: usize,
    done: tokio::sync::oneshot::Sender<Result<Vec<u64>, sqlx::Error>>,
}

/// A bound value, owned (it waits in a queue).
#[derive(Debug)]
pub(crate) enum OwnedArg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

impl OwnedArg {
    fn bind<'q>(&'q self, q: AnyQuery<'q>) -> AnyQuery<'q> {
        match self {
            OwnedArg::Text(v) => q.bind(v.as_str()),
            OwnedArg::OptText(v) => q.bind(v.as_deref()),
            OwnedArg::Int(v) => q.bind(*v),
        }
    }
}

/// Answers every batch of a failed group with `e`.
fn fail_all(group: Vec<Pending>, e: &sqlx::Error) {
    for p in group {
        let _ = p.done.send(Err(sqlx::Error::Protocol(format!(
            "write group failed: {e}"
        ))));
    }
}

/// Ends a group's open transaction after a failure; a connection that cannot roll back is
/// closed rather than returned to the pool mid-transaction.
async fn rollback(conn: &mut sqlx::pool::PoolConnection<Any>) {
    if let Err(e) = sqlx::query("ROLLBACK").execute(&mut **conn).await {
        // "no transaction is active": BEGIN itself failed (e.g. busy), nothing is open.
        let idle = e.to_string().contains("no transaction is active");
        if !idle {
            tracing::warn!(error = %e, "rolling back a write group; closing its connection");
            conn.close_on_drop();
        }
    }
}

impl GroupCommit {
    /// Transactions begun so far (retries after a failed batch included).
    #[cfg(test)]
    pub(crate) fn transactions(&self) -> u64 {
        self.transactions.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Queues a batch (its statements numbered from `$1`, `statements` of them) for `writer`'s
    /// next transaction; returns each statement's affected-row count once its group committed.
    pub(crate) async fn submit(
        self: &Arc<Self>,
        writer: &AnyPool,
        sql: String,
        args: Vec<OwnedArg>,
        statements: usize,
    ) -> Result<Vec<u64>, sqlx::Error> {
        let (done, result) = tokio::sync::oneshot::channel();
        let pending = Pending {
            sql,
            args,
            statements,
            done,
        };
        let start = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.queue.push(pending);
            !std::mem::replace(&mut state.running, true)
        };
        if start {
            tokio::spawn(self.clone().drain(writer.clone()));
        }
        result.await.unwrap_or_else(|_| {
            Err(sqlx::Error::Protocol(
                "the write group ended without an answer".into(),
            ))
        })
    }

    /// The group-commit task: runs the queued batches, as many as arrived, in one transaction
    /// each round, until the queue is empty.
    async fn drain(self: Arc<Self>, writer: AnyPool) {
        loop {
            let group: Vec<Pending> = {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if state.queue.is_empty() {
                    state.running = false;
                    return;
                }
                let n = state.queue.len().min(GROUP_MAX);
                state.queue.drain(..n).collect()
            };
            self.run_group(&writer, group).await;
        }
    }

    /// Runs `group` as one transaction and answers each batch. A batch whose statement fails
    /// gets that error and the others run again without it, so one batch's failure never
    /// undoes or fails another's.
    async fn run_group(&self, writer: &AnyPool, mut group: Vec<Pending>) {
        use futures::TryStreamExt;
        let mut conn = match writer.acquire().await {
            Ok(c) => c,
            Err(e) => return fail_all(group, &e),
        };
        while !group.is_empty() {
            let total: usize = group.iter().map(|p| p.statements).sum();
            let mut sql = String::from("BEGIN IMMEDIATE;\n");
            let mut offset = 0;
            for p in &group {
                renumber(&p.sql, offset, &mut sql);
                offset += p.args.len();
            }
            sql.push_str("COMMIT");
            self.transactions
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // Audited: statement texts are literals of this crate; values are bound.
            let query = group
                .iter()
                .flat_map(|p| p.args.iter())
                .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |q, a| a.bind(q));
            let mut counts = Vec::with_capacity(total + 2);
            let outcome: Result<(), sqlx::Error> = async {
                let mut results = (&mut *conn).fetch_many(query);
                while let Some(step) = results.try_next().await? {
                    if let sqlx::Either::Left(done) = step {
                        counts.push(done.rows_affected());
                    }
                }
                Ok(())
            }
            .await;
            match outcome {
                // BEGIN's and COMMIT's counts around the statements'.
                Ok(()) if counts.len() == total + 2 => {
                    let mut at = 1;
                    for p in group {
                        let _ = p.done.send(Ok(counts[at..at + p.statements].to_vec()));
                        at += p.statements;
                    }
                    return;
                }
                Ok(()) => {
                    rollback(&mut conn).await;
                    let e = sqlx::Error::Protocol(format!(
                        "a write group of {total} statements reported {} results",
                        counts.len()
                    ));
                    return fail_all(group, &e);
                }
                Err(e) => {
                    // The failing statement is the one after the last result (BEGIN's first).
                    rollback(&mut conn).await;
                    let Some(culprit) = counts.len().checked_sub(1).and_then(|failed| {
                        let mut end = 0;
                        group.iter().position(|p| {
                            end += p.statements;
                            failed < end
                        })
                    }) else {
                        // BEGIN or COMMIT: the whole group.
                        return fail_all(group, &e);
                    };
                    let _ = group.remove(culprit).done.send(Err(e));
                }
            }
        }
    }
}
