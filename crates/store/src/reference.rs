//! Reference measurements printed beside yibao's own (BENCHMARKS.md): the raw ceiling of
//! durable batched inserts with rusqlite on the same disk, on a connection configured exactly as
//! the store's writer (WAL, `synchronous=FULL`), one writer as in the store.

use std::path::Path;
use std::time::{Duration, Instant};

use yibao_engine::StoreFailure;

use crate::sqlite::{SqliteConn, Synchronous};

/// What the reference run did.
#[derive(Debug, Clone, Copy)]
pub struct InsertCeiling {
    pub rows: u64,
    pub commits: u64,
    pub elapsed: Duration,
}

/// Inserts rows of about 200 bytes (a unique text key, a person number, an amount, a payload)
/// into a fresh table of a fresh file at `path`, `rows_per_commit` to a transaction, for
/// `seconds`; every commit durable.
///
/// # Errors
/// When the file cannot be created or written.
pub fn sqlite_batched_inserts(
    path: &Path,
    rows_per_commit: usize,
    seconds: u64,
) -> Result<InsertCeiling, StoreFailure> {
    let failure = |error: rusqlite::Error| StoreFailure(format!("sqlite: {error}"));
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", path.display());
        if Path::new(&file).exists() {
            std::fs::remove_file(&file).map_err(|error| StoreFailure(format!("cannot remove {file}: {error}")))?;
        }
    }
    let conn = SqliteConn::open(path, Synchronous::Full, false)?;
    let conn = conn.connection();
    conn.execute_batch(
        "CREATE TABLE rows (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, psn_no TEXT NOT NULL, \
         amount_fen INTEGER NOT NULL, payload BLOB NOT NULL)",
    )
    .map_err(failure)?;
    let payload = vec![0x5a_u8; 140];
    let started = Instant::now();
    let (mut rows, mut commits) = (0u64, 0u64);
    while started.elapsed() < Duration::from_secs(seconds) {
        conn.execute_batch("BEGIN IMMEDIATE").map_err(failure)?;
        {
            let mut insert = conn
                .prepare_cached("INSERT INTO rows (key, psn_no, amount_fen, payload) VALUES (?1, ?2, ?3, ?4)")
                .map_err(failure)?;
            for _ in 0..rows_per_commit {
                rows += 1;
                let key = format!("reference/{rows:012}");
                let psn_no = format!("33010000{:08}", rows % 1_000_000);
                let amount = i64::try_from(rows % 100_000).unwrap_or(0);
                insert.execute(rusqlite::params![key, psn_no, amount, payload]).map_err(failure)?;
            }
        }
        conn.execute_batch("COMMIT").map_err(failure)?;
        commits += 1;
    }
    Ok(InsertCeiling { rows, commits, elapsed: started.elapsed() })
}
