//! The single writer: a thread that takes queued submissions in batches, runs each batch on
//! one working set inside one transaction, commits once, and only then answers. Concurrent
//! requests thus share a commit (group commit) and never race on a balance.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use yibao_engine::records::CatalogueEntry;
use yibao_engine::{Context, EngineError, ErrorKind, Keys, Reply, StoreFailure, Submission, WorkingSet, run};

use crate::conn::{Conn, Db};
use crate::schema;
use crate::shared::Shared;
use crate::value::Value;

/// The most submissions committed together.
pub const BATCH_MAX: usize = 1024;

pub(crate) enum Job {
    Submit {
        submission: Submission,
        reply: oneshot::Sender<Result<Reply, EngineError>>,
    },
    /// Sets a `meta` entry (the dataset marker).
    Meta {
        key: String,
        value: String,
        reply: oneshot::Sender<Result<(), StoreFailure>>,
    },
    /// Stops the writer after the jobs before it and closes its connection, then answers.
    Close {
        reply: oneshot::Sender<()>,
    },
}

pub(crate) fn spawn(conn: Box<dyn Conn>, shared: Arc<Shared>, queue: usize) -> Result<mpsc::Sender<Job>, StoreFailure> {
    let (sender, receiver) = mpsc::channel(queue);
    std::thread::Builder::new()
        .name("yibao-writer".into())
        .spawn(move || run_writer(conn, receiver, &shared))
        .map_err(|error| StoreFailure(format!("cannot start the writer thread: {error}")))?;
    Ok(sender)
}

fn run_writer(mut conn: Box<dyn Conn>, mut jobs: mpsc::Receiver<Job>, shared: &Shared) {
    let mut closing = Vec::new();
    while let Some(first) = jobs.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH_MAX {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut submissions = Vec::with_capacity(batch.len());
        for job in batch {
            match job {
                Job::Submit { submission, reply } => submissions.push((submission, reply)),
                Job::Meta { key, value, reply } => {
                    let _ = reply.send(set_meta(&mut *conn, &key, &value));
                }
                Job::Close { reply } => closing.push(reply),
            }
        }
        if !submissions.is_empty() {
            process(&mut *conn, shared, submissions);
        }
        if !closing.is_empty() {
            break;
        }
    }
    drop(conn);
    for reply in closing {
        let _ = reply.send(());
    }
    tracing::info!("writer stopped");
}

fn set_meta(conn: &mut dyn Conn, key: &str, value: &str) -> Result<(), StoreFailure> {
    conn.begin_write()?;
    let result = conn.upsert(&schema::META, vec![vec![Value::Text(key.into()), Value::Text(value.into())]]);
    finish(conn, result)
}

fn finish<T>(conn: &mut dyn Conn, result: Result<T, StoreFailure>) -> Result<T, StoreFailure> {
    match result {
        Ok(value) => match conn.batch("COMMIT") {
            Ok(()) => Ok(value),
            Err(error) => {
                let _ = conn.batch("ROLLBACK");
                Err(error)
            }
        },
        Err(error) => {
            let _ = conn.batch("ROLLBACK");
            Err(error)
        }
    }
}

type Pending = (Submission, oneshot::Sender<Result<Reply, EngineError>>);

fn process(conn: &mut dyn Conn, shared: &Shared, pending: Vec<Pending>) {
    let started = Instant::now();
    let submissions: Vec<&Submission> = pending.iter().map(|(submission, _)| submission).collect();
    match attempt(conn, shared, &submissions) {
        Ok((results, catalogue)) => {
            shared.metrics.record_batch(results.len(), started.elapsed());
            if !catalogue.is_empty() {
                shared.add_to_catalogue(catalogue);
            }
            for ((_, reply), result) in pending.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        }
        Err(failure) if pending.len() > 1 => {
            // One bad submission must not sink the others: run each on its own.
            tracing::warn!(%failure, size = pending.len(), "batch failed; retrying its submissions one by one");
            for one in pending {
                process(conn, shared, vec![one]);
            }
        }
        Err(failure) => {
            shared.metrics.record_failure();
            tracing::error!(%failure, "write failed");
            for (_, reply) in pending {
                let _ = reply.send(Err(EngineError::unavailable(&failure)));
            }
        }
    }
}

type Results = (Vec<Result<Reply, EngineError>>, Vec<CatalogueEntry>);

fn attempt(conn: &mut dyn Conn, shared: &Shared, submissions: &[&Submission]) -> Result<Results, StoreFailure> {
    let catalogue = shared.catalogue();
    let ctx = Context { now: shared.now(), policies: &shared.policies, catalogue: &catalogue };
    conn.begin_write()?;
    let result = (|| {
        let mut db = Db { conn: &mut *conn };
        let (results, changes) = {
            let mut ws = WorkingSet::new(&mut db);
            let mut keys = Keys::default();
            for submission in submissions {
                keys.merge(submission.keys());
            }
            ws.prefetch(&keys).map_err(|error| StoreFailure(error.en))?;
            let results: Vec<_> = submissions.iter().map(|submission| run(&mut ws, &ctx, submission)).collect();
            if let Some(Err(error)) = results.iter().find(|r| matches!(r, Err(e) if e.kind == ErrorKind::Unavailable)) {
                return Err(StoreFailure(error.en.clone()));
            }
            (results, ws.changes())
        };
        let catalogue = changes.catalogue.clone();
        if !changes.is_empty() {
            db.write(changes)?;
        }
        Ok((results, catalogue))
    })();
    finish(conn, result)
}
