//! A record the store keeps one row of: its table (columns by name, key, indexes), its key, and
//! how it becomes a row and back, all in one `impl Record` (see [`crate::codec`]). The working
//! set's table list names the record type once; the loader, the change set, the undo log, the
//! store's writes and DDL, and the in-memory twin all work from this trait.

use crate::error::StoreFailure;
use crate::row::{TableDef, Value};

/// A record kept as one row of its own table.
pub trait Record: Clone + std::fmt::Debug + Send + 'static {
    /// What identifies a record: the table's key columns.
    type Key: Clone + Ord + std::hash::Hash + std::fmt::Debug;
    /// The table: its columns by name (the DDL and the codec), key and indexes.
    const TABLE: &'static TableDef;
    /// The column a load by key selects on: the key's column, or the first column of a
    /// composite key (the rows found are then narrowed to the keys asked for).
    const LOAD_BY: &'static str;

    fn key(&self) -> Self::Key;
    /// The value of [`Record::LOAD_BY`] for a key.
    fn load_key(key: &Self::Key) -> String;
    /// The row, in the table's column order (written with [`crate::row::named`]).
    fn encode(&self) -> Vec<Value>;
    /// The record from a row in the table's column order (read with [`crate::row::Columns`]).
    ///
    /// # Errors
    /// When a value does not fit its column.
    fn decode(row: &[Value]) -> Result<Self, StoreFailure>;
}
