//! Reader connections kept checked out of their pool, for the hot paths' point reads.
//!
//! sqlx returns a connection to its pool through a task of its own that first pings it: on
//! SQLite a round trip to the connection's worker thread, on PostgreSQL one to the server. A
//! point read (a client, a code, a refresh token) therefore cost two more hand-offs, a spawned
//! task and more thread wake-ups; under load on two cores those wake-ups queued behind each
//! other (the SQLite code grant's writer thread spent 28 % of its time runnable but not
//! running), and on PostgreSQL every ping woke a backend. A lease goes back to its set when its
//! read has completed, with no ping and no task.
//!
//! What the ping was for is kept:
//! - a read that failed, or was cancelled midway (the request went away), never returns its
//!   connection: the connection is dropped (closed) and the next lease opens a replacement from
//!   the set's own pool, so a half-read answer or a broken socket is never reused;
//! - on PostgreSQL a connection that sat idle for [`PING_AFTER_IDLE`] is pinged before use,
//!   and replaced if that fails (the server restarted, a proxy's idle timeout closed it).
//!
//! The reads done on a lease are single autocommit statements: there is no transaction to
//! roll back.
use sqlx::AnyConnection;
use sqlx::Connection as _;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};

/// How many connections the set holds (each is a worker thread on SQLite, a backend on
/// PostgreSQL; the reads are short).
pub(super) const LEASED: u32 = 4;

/// On PostgreSQL, a leased or pooled connection idle at least this long is pinged before use.
/// Under load connections are reused within milliseconds and skip it; after a database
/// restart only requests within this window of it can meet a dead connection (the same
/// window as HikariCP's `aliveBypassWindowMs`).
pub(super) const PING_AFTER_IDLE: Duration = Duration::from_millis(500);

/// The set: its idle connections, one permit per connection it may hold, and the pool its
/// connections (and their replacements) come from.
pub(crate) struct Leases {
    idle: std::sync::Mutex<Vec<Idle>>,
    permits: Semaphore,
    pool: sqlx::AnyPool,
    /// `Some` on PostgreSQL (see module docs).
    ping_after_idle: Option<Duration>,
    /// Connections opened from `pool` so far (the first ones and every replacement).
    opened: std::sync::atomic::AtomicUsize,
}

struct Idle {
    conn: AnyConnection,
    since: Instant,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases")
            .field("free", &self.permits.available_permits())
            .finish()
    }
}

impl Leases {
    /// A set of up to `n` connections from `pool`, opened when first needed. Each is detached
    /// from the pool (so dropping one closes it without a task, even outside a runtime, and
    /// the pool may open its replacement).
    pub(super) fn new(pool: sqlx::AnyPool, n: u32, ping_after_idle: Option<Duration>) -> Self {
        Self {
            idle: std::sync::Mutex::new(Vec::with_capacity(n as usize)),
            permits: Semaphore::new(n as usize),
            pool,
            ping_after_idle,
            opened: Default::default(),
        }
    }

    async fn open(&self) -> Result<AnyConnection, sqlx::Error> {
        let conn = self.pool.acquire().await?.detach();
        self.opened
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(conn)
    }

    pub(super) async fn lease(&self) -> Result<Reader<'_>, sqlx::Error> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(Idle { mut conn, since })
                if self
                    .ping_after_idle
                    .is_some_and(|after| since.elapsed() >= after) =>
            {
                match conn.ping().await {
                    Ok(()) => conn,
                    Err(e) => {
                        tracing::info!(error = %e, "replacing a leased connection that failed its ping");
                        drop(conn);
                        self.open().await?
                    }
                }
            }
            Some(i) => i.conn,
            None => self.open().await?,
        };
        Ok(Reader {
            conn: Some(conn),
            home: self,
            completed: false,
            _permit: permit,
        })
    }
}

/// A leased connection (see module docs).
pub(crate) struct Reader<'a> {
    conn: Option<AnyConnection>,
    home: &'a Leases,
    /// Set by [`completed`](Self::completed): only then does the connection go back.
    completed: bool,
    /// Released after `drop` has put the connection back.
    _permit: SemaphorePermit<'a>,
}

impl std::ops::Deref for Reader<'_> {
    type Target = AnyConnection;
    fn deref(&self) -> &Self::Target {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl std::ops::DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.conn.as_mut().expect("present until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        // The connection goes back before the permit (a field, dropped after this) frees its
        // place. One whose read did not complete is dropped, which closes it; the permit
        // then lets the next lease open a replacement.
        if let Some(conn) = self.conn.take()
            && self.completed
        {
            self.home
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Idle {
                    conn,
                    since: Instant::now(),
                });
        }
    }
}

impl Reader<'_> {
    /// The read on this connection has completed and was answered in full: the connection
    /// may be used again.
    pub(super) fn completed(&mut self) {
        self.completed = true;
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Store;
    use std::sync::atomic::Ordering;

    fn idle(store: &Store) -> usize {
        store.leases.idle.lock().unwrap().len()
    }

    fn opened(store: &Store) -> usize {
        store.leases.opened.load(Ordering::Relaxed)
    }

    /// Holds `n` leases at once (so each needs a connection of its own), then gives them
    /// back as completed reads would.
    async fn hold_all(store: &Store, n: usize) {
        let mut held = Vec::with_capacity(n);
        for _ in 0..n {
            let lease = store.leases.lease();
            let reader = tokio::time::timeout(std::time::Duration::from_secs(10), lease)
                .await
                .expect("a lease waited 10 s: a permit was never given back")
                .unwrap();
            held.push(reader);
        }
        for mut reader in held {
            reader.completed();
        }
    }

    /// More concurrent reads than leased connections: each waits for a free one, all answer,
    /// and no connection is opened beyond the set's size. A read that failed or was cancelled
    /// midway does not give its connection back; the next lease opens a replacement.
    #[tokio::test]
    async fn reads_share_the_leased_connections_and_broken_ones_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&Store::sqlite_url_for(dir.path()))
            .await
            .unwrap();
        let reads = (0..40).map(|i| {
            let store = store.clone();
            async move {
                let row = store
                    .read_optional(sqlx::query("SELECT $1 + 1").bind(i as i64))
                    .await
                    .unwrap()
                    .unwrap();
                sqlx::Row::get::<i64, _>(&row, 0)
            }
        });
        let got = futures::future::join_all(reads).await;
        assert_eq!(got, (1..=40).collect::<Vec<i64>>());
        // How many the reads needed depends on how fast the first ones answered (CI has seen
        // one); never more than the set's size.
        assert!((1..=super::LEASED as usize).contains(&opened(&store)));
        assert_eq!(idle(&store), opened(&store));
        // Every connection in use at once: the set opens up to its size, and no further.
        hold_all(&store, super::LEASED as usize).await;
        assert_eq!(opened(&store), super::LEASED as usize);
        assert_eq!(idle(&store), super::LEASED as usize);

        // A failed read: its connection is closed, not returned.
        let err = store
            .read_optional(sqlx::query("SELECT x FROM no_such_table"))
            .await;
        assert!(err.is_err());
        assert_eq!(idle(&store), super::LEASED as usize - 1);

        // Reads dropped while they wait for their answer (polled once: the lease is taken and
        // the query sent, then the request goes away).
        use futures::FutureExt as _;
        for left in (0..super::LEASED as usize - 1).rev() {
            let read = store.read_optional(sqlx::query(
                "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n \
                 WHERE x < 5000000) SELECT COUNT(*) FROM n",
            ));
            assert!(
                read.now_or_never().is_none(),
                "the long read answered at once"
            );
            assert_eq!(
                idle(&store),
                left,
                "a cancelled read gave its connection back"
            );
        }
        assert_eq!(
            store.leases.permits.available_permits(),
            super::LEASED as usize
        );
        // Replacements: a read answers, and the set again holds its size's worth at once,
        // each closed connection replaced by one new one.
        assert!(
            store
                .read_optional(sqlx::query("SELECT 1"))
                .await
                .unwrap()
                .is_some()
        );
        hold_all(&store, super::LEASED as usize).await;
        assert_eq!(opened(&store), 2 * super::LEASED as usize);
        assert_eq!(idle(&store), super::LEASED as usize);
    }
}
