//! Storage: the one place that speaks SQL.
//!
//! [`Store`] opens SQLite (a file path, the embedded default) or PostgreSQL (a
//! `postgres://` URL), migrates the schema, and offers three things: [`Store::submit`] runs a
//! command through the single writer (batched, one commit per batch); [`Store::dry_run`] runs
//! a command on a read-only snapshot and throws its changes away (pre-settlement);
//! [`Store::read`] runs queries on a pooled read connection. Everything above this crate sees
//! records and commands, never SQL.

mod conn;
pub mod exchange;
mod postgres;
mod queries;
pub mod reference;
mod schema;
mod shared;
mod sqlite;
mod value;
mod writer;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use yibao_domain::DateTime;
use yibao_engine::{
    Catalogue, Command, Context, EngineError, Outcome, Reply, StoreFailure, Submission, WorkingSet, run,
};
use yibao_policy::PolicySet;

pub use queries::{Page, PersonLookup, Reader, RegistrationTable, SettlementFilter, Statement, StatementEntry, Totals};
pub use schema::Dialect;
pub use shared::{Clock, Metrics, MetricsSnapshot, system_clock};
pub use sqlite::Synchronous;

use conn::{Conn, Db};
use shared::Shared;
use writer::Job;

/// How to open a store.
#[derive(Clone)]
pub struct Options {
    pub policies: Arc<PolicySet>,
    pub clock: Clock,
    pub synchronous: Synchronous,
    /// Read connections kept open.
    pub readers: usize,
    /// Submissions that may wait for the writer before callers wait to enqueue.
    pub queue: usize,
    /// PostgreSQL: how long opening waits for another writer's lock to be released (a server
    /// killed a moment ago holds it until PostgreSQL notices its connection is gone).
    pub writer_lock_wait: Duration,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options").field("synchronous", &self.synchronous).field("readers", &self.readers).finish()
    }
}

impl Options {
    pub fn new(policies: Arc<PolicySet>) -> Options {
        Options {
            policies,
            clock: system_clock(),
            synchronous: Synchronous::Full,
            readers: 8,
            queue: 16_384,
            writer_lock_wait: Duration::from_secs(15),
        }
    }
}

type Factory = Box<dyn Fn() -> Result<Box<dyn Conn>, StoreFailure> + Send + Sync>;

/// Idle read connections, and how to open another.
/// The read connections: at most `keep` at once (a read waits for a permit rather than opening
/// one more connection, which on SQLite would parse the schema anew and be dropped after).
struct Pool {
    idle: Mutex<Vec<Box<dyn Conn>>>,
    open: Factory,
    keep: usize,
    permits: Arc<tokio::sync::Semaphore>,
}

impl Pool {
    fn new(open: Factory, keep: usize) -> Pool {
        let keep = keep.max(1);
        Pool { idle: Mutex::new(Vec::new()), open, keep, permits: Arc::new(tokio::sync::Semaphore::new(keep)) }
    }

    /// Waits for a turn on a read connection (held until the permit drops).
    async fn turn(&self) -> Result<tokio::sync::OwnedSemaphorePermit, StoreFailure> {
        self.permits.clone().acquire_owned().await.map_err(|_| StoreFailure("the store is closed".into()))
    }

    fn take(&self) -> Result<Box<dyn Conn>, StoreFailure> {
        let idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => (self.open)(),
        }
    }

    fn give_back(&self, conn: Box<dyn Conn>) {
        let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < self.keep {
            idle.push(conn);
        }
    }
}

struct Inner {
    dialect: Dialect,
    location: String,
    writer: mpsc::Sender<Job>,
    readers: Pool,
    shared: Arc<Shared>,
}

/// How often PostgreSQL's planner statistics are refreshed (see [`Store::refresh_statistics`]).
pub const STATISTICS_SECONDS: u64 = 30;

/// The store. Cheap to clone; every clone shares the writer and the read pool.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dialect", &self.inner.dialect).field("location", &self.inner.location).finish()
    }
}

fn stopped() -> EngineError {
    EngineError::unavailable("the writer has stopped")
}

impl Store {
    /// Opens `location`: a `postgres://` or `postgresql://` URL, or a SQLite file path (its
    /// directory is created). Migrates the schema and loads the catalogue.
    ///
    /// # Errors
    /// When the database cannot be opened, migrated, or (PostgreSQL) another writer holds it.
    pub async fn open(location: &str, options: Options) -> Result<Store, StoreFailure> {
        let location = location.to_string();
        let is_postgres = location.starts_with("postgres://") || location.starts_with("postgresql://");
        let handle = tokio::runtime::Handle::current();
        let synchronous = options.synchronous;
        let lock_wait = options.writer_lock_wait;
        let (writer_conn, factory, dialect): (Box<dyn Conn>, Factory, Dialect) = if is_postgres {
            let url = location.clone();
            let opened = tokio::task::spawn_blocking({
                let handle = handle.clone();
                move || -> Result<Box<dyn Conn>, StoreFailure> {
                    let mut conn = postgres::PgConn::connect(&url, handle)?;
                    conn.lock_writer(lock_wait)?;
                    Ok(Box::new(conn))
                }
            })
            .await
            .map_err(|error| StoreFailure(format!("cannot open the store: {error}")))??;
            let url = location.clone();
            let factory: Factory =
                Box::new(move || Ok(Box::new(postgres::PgConn::connect(&url, handle.clone())?) as Box<dyn Conn>));
            (opened, factory, Dialect::Postgres)
        } else {
            let path = PathBuf::from(&location);
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|error| StoreFailure(format!("cannot create {}: {error}", parent.display())))?;
            }
            let writer_path = path.clone();
            let opened = tokio::task::spawn_blocking(move || -> Result<Box<dyn Conn>, StoreFailure> {
                Ok(Box::new(sqlite::SqliteConn::open(&writer_path, synchronous, false)?))
            })
            .await
            .map_err(|error| StoreFailure(format!("cannot open the store: {error}")))??;
            let factory: Factory =
                Box::new(move || Ok(Box::new(sqlite::SqliteConn::open(&path, synchronous, true)?) as Box<dyn Conn>));
            (opened, factory, Dialect::Sqlite)
        };
        let (writer_conn, entries) = tokio::task::spawn_blocking(move || {
            let mut conn = writer_conn;
            conn::migrate(&mut *conn)?;
            let entries = Reader::new(&mut *conn).catalogue_entries()?;
            Ok::<_, StoreFailure>((conn, entries))
        })
        .await
        .map_err(|error| StoreFailure(format!("cannot open the store: {error}")))??;
        let shared = Arc::new(Shared {
            policies: options.policies.clone(),
            catalogue: RwLock::new(Arc::new(Catalogue::new(entries))),
            clock: options.clock.clone(),
            metrics: Metrics::default(),
        });
        let writer = writer::spawn(writer_conn, shared.clone(), options.queue)?;
        let store = Store {
            inner: Arc::new(Inner {
                dialect,
                location: redact(&location),
                writer,
                readers: Pool::new(factory, options.readers),
                shared,
            }),
        };
        if dialect == Dialect::Postgres {
            // Statistics upkeep for as long as the store lives.
            let weak = Arc::downgrade(&store.inner);
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(STATISTICS_SECONDS));
                every.tick().await;
                loop {
                    every.tick().await;
                    let Some(inner) = weak.upgrade() else { break };
                    if let Err(failure) = (Store { inner }).refresh_statistics().await {
                        tracing::warn!(%failure, "refreshing the planner's statistics failed");
                    }
                }
            });
        }
        Ok(store)
    }

    pub fn dialect(&self) -> Dialect {
        self.inner.dialect
    }

    /// Closes the database: the writer finishes what was submitted before, closes its
    /// connection (releasing PostgreSQL's writer lock) and stops; idle read connections close.
    /// Another process may open the database once this returns. Writes through any clone of
    /// this store fail from then on (as unavailable).
    pub async fn close(self) {
        let (reply, closed) = oneshot::channel();
        if self.inner.writer.send(writer::Job::Close { reply }).await.is_ok() {
            let _ = closed.await;
        }
        self.inner.readers.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }

    /// Where the data lives (a PostgreSQL URL without its password).
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    pub fn now(&self) -> DateTime {
        self.inner.shared.now()
    }

    pub fn policies(&self) -> &PolicySet {
        &self.inner.shared.policies
    }

    pub fn catalogue(&self) -> Arc<Catalogue> {
        self.inner.shared.catalogue()
    }

    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.shared.metrics.snapshot()
    }

    /// Runs a submission through the writer; answers after its batch committed.
    ///
    /// # Errors
    /// The command's refusal, or [`yibao_engine::ErrorKind::Unavailable`] when the store failed
    /// (nothing was changed then).
    pub async fn submit(&self, submission: Submission) -> Result<Reply, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.inner.writer.send(Job::Submit { submission, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Runs a command (without a message envelope) through the writer.
    ///
    /// # Errors
    /// As [`Store::submit`].
    pub async fn execute(&self, command: impl Command + 'static) -> Result<Outcome, EngineError> {
        match self.submit(Submission::plain(command)).await? {
            Reply::Done { outcome, .. } => Ok(outcome),
            Reply::Replayed(_) => Err(EngineError::internal("a plain command was replayed")),
        }
    }

    /// Runs a submission on a read-only snapshot and discards what it changed: what it would
    /// do, now. Pre-settlement is a dry run of settlement.
    ///
    /// # Errors
    /// The command's refusal, or a store failure.
    pub async fn dry_run(&self, submission: Submission) -> Result<Reply, EngineError> {
        self.on_reader(EngineError::internal, move |inner, conn| {
            let catalogue = inner.shared.catalogue();
            let ctx = Context { now: inner.shared.now(), policies: &inner.shared.policies, catalogue: &catalogue };
            in_snapshot(conn, |conn| {
                let mut db = Db { conn };
                let mut ws = WorkingSet::new(&mut db);
                ws.prefetch(&submission.keys()).and_then(|()| run(&mut ws, &ctx, &submission))
            })
        })
        .await
    }

    /// Runs queries on a pooled read connection, inside one read-only snapshot.
    ///
    /// # Errors
    /// What `f` returns, or a store failure.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreFailure>
    where
        T: Send + 'static,
        F: FnOnce(&mut Reader<'_>) -> Result<T, StoreFailure> + Send + 'static,
    {
        let failed = |error| StoreFailure(format!("read task failed: {error}"));
        self.on_reader(failed, move |_, conn| in_snapshot(conn, |conn| f(&mut Reader::new(conn)))).await
    }

    /// Refreshes PostgreSQL's planner statistics (`ANALYZE`, on a read connection beside the
    /// writer, which goes on writing): after a bulk load, and every [`STATISTICS_SECONDS`] on
    /// its own, for servers that run without autovacuum (whose plans otherwise stay those of an
    /// empty database). SQLite plans these queries well without.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn refresh_statistics(&self) -> Result<(), StoreFailure> {
        if self.inner.dialect != Dialect::Postgres {
            return Ok(());
        }
        let failed = |error| StoreFailure(format!("statistics task failed: {error}"));
        self.on_reader(failed, |_, conn| {
            let result = conn.batch("ANALYZE");
            let sound = result.is_ok();
            (result, sound)
        })
        .await
    }

    /// Runs `work` on a pooled read connection on a blocking thread, once a read turn is free
    /// (at most `readers` at once). `work` says whether the connection is still sound; only then
    /// does it go back to the pool. `failed` names a task that did not finish.
    async fn on_reader<T, E>(
        &self,
        failed: fn(tokio::task::JoinError) -> E,
        work: impl FnOnce(&Inner, &mut dyn Conn) -> (Result<T, E>, bool) + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreFailure> + Send + 'static,
    {
        let inner = self.inner.clone();
        let turn = inner.readers.turn().await?;
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let mut conn = inner.readers.take()?;
            let (result, sound) = work(&inner, &mut *conn);
            if sound {
                inner.readers.give_back(conn);
            }
            result
        })
        .await
        .map_err(failed)?
    }

    /// Sets a `meta` entry through the writer.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreFailure> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Meta { key: key.into(), value: value.into(), reply };
        self.inner.writer.send(job).await.map_err(|_| StoreFailure("the writer has stopped".into()))?;
        answer.await.map_err(|_| StoreFailure("the writer has stopped".into()))?
    }
}

/// Runs `f` inside a read-only snapshot of `conn` and ends it; the connection is sound again
/// when the snapshot ended cleanly.
fn in_snapshot<T, E: From<StoreFailure>>(
    conn: &mut dyn Conn,
    f: impl FnOnce(&mut dyn Conn) -> Result<T, E>,
) -> (Result<T, E>, bool) {
    if let Err(failure) = conn.begin_read() {
        return (Err(failure.into()), false);
    }
    let result = f(conn);
    let sound = conn.batch("ROLLBACK").is_ok();
    (result, sound)
}

/// A PostgreSQL URL without its password, for logs.
fn redact(location: &str) -> String {
    match (location.find("://"), location.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &location[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => {
                    format!("{}{user}:***{}", &location[..scheme + 3], &location[at..])
                }
                None => location.to_string(),
            }
        }
        _ => location.to_string(),
    }
}
