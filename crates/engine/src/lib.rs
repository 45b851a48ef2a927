//! The application core of yibao: the records it keeps and the commands that change them.
//!
//! Commands run against a [`WorkingSet`]: the rows a batch needs, loaded from the store through
//! the [`Loader`] trait and changed in memory. The store's single writer runs a whole batch of
//! commands on one working set, writes its [`ChangeSet`] in one transaction and only then
//! answers. A refused command is rolled back to its savepoint and leaves no trace; a message
//! id seen before replays its stored response. Nothing here does IO: the same commands run
//! against an in-memory loader in tests and benchmarks.

mod catalogue;
pub mod codec;
pub mod commands;
pub mod demo;
mod error;
pub mod generate;
pub mod memory;
pub mod record;
pub mod records;
pub mod row;
mod table;
mod working_set;

pub use catalogue::Catalogue;
pub use commands::{Command, Context, Envelope, Outcome, Reply, Submission, run};
pub use error::{EngineError, ErrorKind, Refusal, StoreFailure};
pub use record::Record;
pub use working_set::{
    ChangeSet, Keys, Loader, RECORD_TABLES, Savepoint, WorkingSet, card_transactions, load, load_by,
    person_registrations, visit_settlements,
};
