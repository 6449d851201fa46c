//! SQLite reader connections kept checked out of their pool, for the hot paths' point reads.
//!
//! sqlx returns a connection to its pool through a task of its own that first pings it: on
//! SQLite a round trip to the connection's worker thread. A point read (a client, a code, a
//! refresh token) therefore cost two hand-offs to a worker thread and back, a spawned task and
//! two more thread wake-ups; under load on two cores those wake-ups queued behind each other
//! (the code grant's writer thread spent 28 % of its time runnable but not running). A lease
//! goes back to its set when dropped, with no ping and no task. That is safe here: a SQLite
//! connection is a file handle in this process that cannot hang up, the reads done on a lease
//! are single autocommit statements (no transaction to roll back), and a read cancelled midway
//! (the request went away) leaves nothing behind: the connection's worker finishes or drops it
//! before it runs the next command it is sent.
use sqlx::AnyConnection;
use tokio::sync::{Semaphore, SemaphorePermit};

/// How many connections the set holds (each is a worker thread; the reads are short).
pub(super) const LEASED: u32 = 4;

/// The set: its free connections, and one permit per free connection.
pub(crate) struct Leases {
    free: std::sync::Mutex<Vec<AnyConnection>>,
    permits: Semaphore,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases")
            .field("free", &self.permits.available_permits())
            .finish()
    }
}

impl Leases {
    /// Takes `n` connections out of `pool` for good (`leak`: the pool forgets them, so
    /// dropping the set closes them without a task, even outside a runtime).
    pub(super) async fn take(pool: &sqlx::AnyPool, n: u32) -> Result<Self, sqlx::Error> {
        let mut free = Vec::with_capacity(n as usize);
        for _ in 0..n {
            free.push(pool.acquire().await?.leak());
        }
        Ok(Self {
            free: std::sync::Mutex::new(free),
            permits: Semaphore::new(n as usize),
        })
    }

    pub(super) async fn lease(&self) -> Result<Reader<'_>, sqlx::Error> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let conn = self
            .free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .ok_or(sqlx::Error::PoolTimedOut)?;
        Ok(Reader {
            conn: Some(Conn::Leased(conn)),
            home: Some((self, permit)),
        })
    }
}

/// A connection for reads: leased from a [`Leases`] set, or checked out of a pool.
pub(crate) struct Reader<'a> {
    conn: Option<Conn>,
    home: Option<(&'a Leases, SemaphorePermit<'a>)>,
}

enum Conn {
    Leased(AnyConnection),
    Pooled(sqlx::pool::PoolConnection<sqlx::any::Any>),
}

impl std::ops::Deref for Reader<'_> {
    type Target = AnyConnection;
    fn deref(&self) -> &Self::Target {
        match self.conn.as_ref().expect("present until dropped") {
            Conn::Leased(c) => c,
            Conn::Pooled(c) => c,
        }
    }
}

impl std::ops::DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self.conn.as_mut().expect("present until dropped") {
            Conn::Leased(c) => c,
            Conn::Pooled(c) => c,
        }
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        // The connection goes back before the permit (a field, dropped after this) frees its
        // place, so a permit always finds a connection.
        if let (Some((home, _)), Some(Conn::Leased(conn))) = (&self.home, self.conn.take()) {
            home.free
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(conn);
        }
    }
}

impl Reader<'_> {
    /// A connection checked out of a pool (returned to it, with sqlx's ping, when dropped).
    pub(super) fn pooled(conn: sqlx::pool::PoolConnection<sqlx::any::Any>) -> Self {
        Reader {
            conn: Some(Conn::Pooled(conn)),
            home: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Store;

    /// More concurrent reads than leased connections: each waits for a free one, all
    /// answer, and the set is whole afterwards, cancelled reads included.
    #[tokio::test]
    async fn reads_share_the_leased_connections_and_return_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&Store::sqlite_url_for(dir.path()))
            .await
            .unwrap();
        let leases = store.leases.as_ref().expect("SQLite leases readers");
        let reads = (0..40).map(|i| {
            let store = store.clone();
            async move {
                let mut c = store.reader().await.unwrap();
                let v: i64 = sqlx::query_scalar("SELECT $1 + 1")
                    .bind(i as i64)
                    .fetch_one(&mut *c)
                    .await
                    .unwrap();
                v
            }
        });
        let got = futures::future::join_all(reads).await;
        assert_eq!(got, (1..=40).collect::<Vec<i64>>());
        // A read dropped while it waits for its answer gives its connection back.
        for _ in 0..10 {
            let store = store.clone();
            let t = tokio::spawn(async move {
                let mut c = store.reader().await.unwrap();
                let _ = sqlx::query("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 200000) SELECT COUNT(*) FROM n")
                    .fetch_one(&mut *c)
                    .await;
            });
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            t.abort();
            let _ = t.await;
        }
        assert_eq!(leases.permits.available_permits(), super::LEASED as usize);
        assert_eq!(leases.free.lock().unwrap().len(), super::LEASED as usize);
        let mut c = store.reader().await.unwrap();
        let one: i64 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut *c)
            .await
            .unwrap();
        assert_eq!(one, 1);
    }
}
