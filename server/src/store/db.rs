//! The connection pool and its backend (SQLite or PostgreSQL), with migrations applied.
use anyhow::Context;
use sqlx::AnyPool;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use std::path::Path;

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    /// Where writes go. SQLite: one connection of its own, so the process's writers queue on
    /// the pool (async, in order) instead of colliding on the database lock and sleeping in
    /// SQLite's busy handler (which cost the token endpoint 10–100 ms per collision); readers
    /// keep `pool` (WAL: they never wait for the writer). PostgreSQL: the same pool.
    writer: AnyPool,
    /// Where security writes go (revocations, sign-outs, password changes): see [`Durability`].
    /// SQLite: one connection of its own with `synchronous=FULL`. PostgreSQL: the same pool.
    durable: AnyPool,
    backend: Backend,
    /// PostgreSQL only: the URL the change listener (`LISTEN gigamcp`) connects with.
    listen_url: Option<SecretUrl>,
    /// SQLite: write batches queued for the writer's next transaction (`store::batch`).
    pub(super) group: std::sync::Arc<super::group::GroupCommit>,
    /// Reader connections kept checked out, for the hot paths' point reads
    /// ([`Store::read_optional`]).
    pub(super) leases: std::sync::Arc<super::lease::Leases>,
    /// PostgreSQL: the `auth` signal superseding code redemptions raise after their commit
    /// (`store::signal`).
    pub(super) auth_signal: std::sync::Arc<super::signal::Signal>,
}

/// A database URL that may carry a password: never printed.
#[derive(Clone)]
struct SecretUrl(std::sync::Arc<str>);

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

/// The PostgreSQL channel every change signal goes to; the payload names what changed
/// (`auth`, `sessions`, `knowledge`).
pub const NOTIFY_CHANNEL: &str = "gigamcp";

/// Signals `topic` to every replica listening (PostgreSQL `pg_notify`, delivered when the
/// caller's transaction commits; nothing on SQLite, whose readers poll). A wake-up only: the
/// receivers re-read the state the signal is about, so a lost signal costs latency, not
/// correctness.
pub(crate) async fn notify(conn: &mut sqlx::AnyConnection, topic: &str) -> Result<(), sqlx::Error> {
    if conn.backend_name() == "PostgreSQL" {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(NOTIFY_CHANNEL)
            .bind(topic)
            .execute(conn)
            .await?;
    }
    Ok(())
}

impl Store {
    /// [`notify`] after the caller's commit, on a task, coalesced through `signal`
    /// (`store::signal`); nothing on SQLite. Returns at once.
    pub(crate) fn notify_after_commit(
        &self,
        signal: &std::sync::Arc<super::signal::Signal>,
        topic: &'static str,
    ) {
        if self.backend != Backend::Postgres {
            return;
        }
        let pool = self.pool.clone();
        signal.raise(move || {
            let pool = pool.clone();
            async move { notify(&mut *pool.acquire().await?, topic).await }
        });
    }
}

/// How long a commit waits for the disk.
///
/// Every commit is atomic and survives the process crashing. `Relaxed` commits (the default:
/// registrations, codes, token grants, sessions, ingests) return once the change is in the
/// write-ahead log; the last moments of them may roll back if the machine loses power or the
/// kernel crashes (SQLite WAL `synchronous=NORMAL`, PostgreSQL `synchronous_commit=off`), which
/// costs a client a new authorization, never a corrupt database. `Full` commits (everything that
/// takes access away: revocations, membership removals, sign-outs, password changes) return only
/// once the log is on disk (`synchronous=FULL` / `synchronous_commit=on`), and flush every relaxed
/// commit before them with it: a revocation the user saw succeed is never undone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    Relaxed,
    Full,
}

impl Durability {
    fn sqlite_pragma(self) -> &'static str {
        match self {
            Durability::Relaxed => "PRAGMA synchronous=NORMAL",
            Durability::Full => "PRAGMA synchronous=FULL",
        }
    }
}

/// See [`Store::spawn_checkpointer`].
const WAL_RESET_PAGES: i64 = 2_048;

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
        // PostgreSQL: 16 connections per process, `lease::LEASED` of them leased.
        let max = if backend == Backend::Sqlite {
            8
        } else {
            16 - super::lease::LEASED
        };
        let connect = |max: u32, durability: Durability| async move {
            Self::pool_options(backend, max, durability)
                .connect(url)
                .await
                .with_context(|| format!("connecting to {}", redact_url(url)))
        };
        let pool = connect(max, Durability::Relaxed).await?;
        let (writer, durable) = match backend {
            Backend::Sqlite => (
                connect(1, Durability::Relaxed).await?,
                connect(1, Durability::Full).await?,
            ),
            Backend::Postgres => (pool.clone(), pool.clone()),
        };
        let listen_url = (backend == Backend::Postgres).then(|| SecretUrl(url.into()));
        let ping_after_idle =
            (backend == Backend::Postgres).then_some(super::lease::PING_AFTER_IDLE);
        let leases = std::sync::Arc::new(super::lease::Leases::new(
            connect(super::lease::LEASED, Durability::Relaxed).await?,
            super::lease::LEASED,
            ping_after_idle,
        ));
        let store = Self {
            pool,
            writer,
            durable,
            backend,
            listen_url,
            group: Default::default(),
            leases,
            auth_signal: Default::default(),
        };
        // Several processes may start at once on one database. On PostgreSQL sqlx's migrator
        // holds a session advisory lock (`pg_advisory_lock`) while it applies migrations; on
        // SQLite its lock is a no-op, so an exclusive file lock next to the database serialises
        // the migrators (the second one finds every migration applied).
        let _guard = match (backend, sqlite_lock_path(url)) {
            (Backend::Sqlite, Some(path)) => Some(crate::fsperm::lock_exclusive(path).await?),
            _ => None,
        };
        sqlx::migrate!("./migrations")
            .run(&store.writer)
            .await
            .context("applying migrations")?;
        Ok(store)
    }

    fn pool_options(backend: Backend, max: u32, durability: Durability) -> AnyPoolOptions {
        let options = AnyPoolOptions::new().max_connections(max);
        match backend {
            // Per connection (a PRAGMA on the pool reaches one connection only): wait up to 5 s
            // for another writer (a second process, an admin command) instead of failing with
            // `database is locked`; the timeout goes first so that switching to WAL waits too.
            // No ping before each checkout: a SQLite connection is a file handle in this
            // process that cannot hang up, and the ping is a round trip to the connection's
            // worker thread that every query and transaction paid (with the writer held).
            Backend::Sqlite => {
                options
                    .test_before_acquire(false)
                    .after_connect(move |conn, _meta| {
                        Box::pin(async move {
                            for pragma in [
                                "PRAGMA busy_timeout=5000",
                                "PRAGMA journal_mode=WAL",
                                "PRAGMA foreign_keys=ON",
                                durability.sqlite_pragma(),
                            ] {
                                sqlx::query(pragma).execute(&mut *conn).await?;
                            }
                            Ok(())
                        })
                    })
            }
            // Relaxed by default; a `Full` transaction turns it back on for itself
            // ([`Store::begin_durable_write`]).
            // sqlx pings every connection when it goes back to the pool. One that has sat idle
            // since for less than `lease::PING_AFTER_IDLE` is handed out without a second ping
            // (a round trip per query otherwise); one idle longer is pinged first, so a
            // connection dropped meanwhile (a restarted server, a proxy's idle timeout) is
            // replaced instead of failing the request.
            Backend::Postgres => options
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for >= super::lease::PING_AFTER_IDLE {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        sqlx::query("SET synchronous_commit TO off")
                            .execute(&mut *conn)
                            .await?;
                        Ok(())
                    })
                }),
        }
    }

    /// The default embedded database inside `data_dir`.
    pub fn sqlite_url_for(data_dir: &Path) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("gigamcp.db").display()
        )
    }

    /// The pool for reads (and, on PostgreSQL, everything).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A point read on a hot path: at most one row, on a leased connection (`store::lease`),
    /// which goes back to its set only once the row was read in full.
    pub(crate) async fn read_optional<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> Result<Option<sqlx::any::AnyRow>, sqlx::Error> {
        let mut reader = self.leases.lease().await?;
        let row = query.fetch_optional(&mut *reader).await?;
        reader.completed();
        Ok(row)
    }

    /// The pool for writes outside [`begin_write`](Self::begin_write) (autocommit statements).
    pub fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so it waits out another process's writer (`busy_timeout`) instead of
    /// failing with `database is locked` when a deferred read transaction tries to upgrade.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.writer.begin().await,
        }
    }

    /// Begins a write transaction whose commit is [`Durability::Full`]: it returns only once the
    /// log is on disk, with every commit before it.
    pub async fn begin_durable_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.durable.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => {
                let mut tx = self.durable.begin().await?;
                sqlx::query("SET LOCAL synchronous_commit TO on")
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }

    /// The durability this store's connections commit with: (ordinary writes, security writes),
    /// as the database reports it (SQLite `PRAGMA synchronous`, PostgreSQL
    /// `synchronous_commit`).
    pub async fn durability_settings(&self) -> Result<(String, String), sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let read = |pool: AnyPool| async move {
                    let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
                        .fetch_one(&pool)
                        .await?;
                    Ok::<_, sqlx::Error>(
                        match level {
                            0 => "OFF",
                            1 => "NORMAL",
                            2 => "FULL",
                            _ => "EXTRA",
                        }
                        .to_owned(),
                    )
                };
                Ok((
                    read(self.writer.clone()).await?,
                    read(self.durable.clone()).await?,
                ))
            }
            Backend::Postgres => {
                let show = "SELECT current_setting('synchronous_commit')";
                let relaxed: String = sqlx::query_scalar(show).fetch_one(&self.writer).await?;
                let mut tx = self.begin_durable_write().await?;
                let full: String = sqlx::query_scalar(show).fetch_one(&mut *tx).await?;
                tx.rollback().await?;
                Ok((relaxed, full))
            }
        }
    }

    /// SQLite: moves WAL checkpoints off the writer. By default SQLite checkpoints inside the
    /// commit that fills the log past 1,000 pages, and with it two `fsync`s (the log, then the
    /// database file): the writer, and every request queued behind it, waited 10–40 ms about
    /// once every hundred token grants. Here the writers never checkpoint
    /// (`wal_autocheckpoint=0`); a task does, every 200 ms, on a reader connection
    /// (`PASSIVE`: it copies what it can without taking the write lock). A log past
    /// [`WAL_RESET_PAGES`] pages (readers kept the copied pages from being reused) is reset on the
    /// writer (`RESTART`, which waits for readers) so it cannot grow without bound. A no-op on
    /// PostgreSQL. Call once per process (`serve`); short-lived commands keep SQLite's default.
    pub async fn spawn_checkpointer(&self) -> Result<(), sqlx::Error> {
        if self.backend != Backend::Sqlite {
            return Ok(());
        }
        for pool in [&self.writer, &self.durable] {
            sqlx::query("PRAGMA wal_autocheckpoint=0")
                .execute(pool)
                .await?;
        }
        let store = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match store.checkpoint().await {
                    Ok(()) => {}
                    Err(sqlx::Error::PoolClosed) => return,
                    Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
                }
            }
        });
        Ok(())
    }

    /// One pass of [`spawn_checkpointer`](Self::spawn_checkpointer)'s task.
    async fn checkpoint(&self) -> Result<(), sqlx::Error> {
        // (busy, pages in the log, pages copied to the database)
        let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&self.pool)
            .await?;
        let log: i64 = sqlx::Row::try_get(&row, 1)?;
        if log > WAL_RESET_PAGES {
            sqlx::query("PRAGMA wal_checkpoint(RESTART)")
                .execute(&self.writer)
                .await?;
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// PostgreSQL: a dedicated connection listening on [`NOTIFY_CHANNEL`] (not from the pool:
    /// a listening connection stays checked out). `None` on SQLite.
    pub async fn listener(&self) -> Option<Result<sqlx::postgres::PgListener, sqlx::Error>> {
        let url = self.listen_url.as_ref()?;
        Some(
            async {
                let mut l = sqlx::postgres::PgListener::connect(&url.0).await?;
                l.listen(NOTIFY_CHANNEL).await?;
                Ok(l)
            }
            .await,
        )
    }

    /// Versions of the migrations this build embeds that the database has not applied
    /// (readiness). One small query; an error means the database did not answer.
    pub async fn pending_migrations(&self) -> Result<Vec<i64>, sqlx::Error> {
        let applied: std::collections::BTreeSet<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .collect();
        Ok(sqlx::migrate!("./migrations")
            .iter()
            .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
            .map(|m| m.version)
            .collect())
    }
}

/// The lock file of an on-disk SQLite database (`None` for in-memory databases).
fn sqlite_lock_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| format!("{path}.migrate-lock").into())
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
