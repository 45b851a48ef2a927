//! How a command runs: previewed or committed.

use yibao_domain::MsgId;
use yibao_engine::{Command, EngineError, Envelope, Reply, Submission};
use yibao_store::Store;

/// How a command runs: previewed on a snapshot (nothing stored: a pre-settlement), or
/// committed under its idempotency envelope (a repeat replays the stored answer).
#[derive(Debug)]
pub enum Run {
    Preview,
    Commit(Envelope),
}

impl Run {
    /// The message id the command records its effects under (a preview's is never stored).
    pub fn key(&self) -> MsgId {
        match self {
            Run::Preview => "preview".parse().expect("a valid message id"),
            Run::Commit(envelope) => envelope.msgid.clone(),
        }
    }
}

/// Runs a command as `run` says.
///
/// # Errors
/// The command's refusal, or the store's failure (as unavailable).
pub async fn run(store: &Store, command: Box<dyn Command>, run: Run) -> Result<Reply, EngineError> {
    match run {
        Run::Preview => store.dry_run(Submission { envelope: None, command }).await,
        Run::Commit(envelope) => store.submit(Submission { envelope: Some(envelope), command }).await,
    }
}
