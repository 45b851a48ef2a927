//! Loading the demo dataset (`DEMO.md`) into a fresh database, exactly once.

use yibao_engine::{Submission, demo};
use yibao_store::Store;

/// The `meta` key marking which dataset a database holds.
const DATASET_KEY: &str = "dataset";
const DEMO: &str = "demo";

/// What [`ensure`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoState {
    /// The database was empty; the demo is now loaded.
    Loaded,
    /// The database already held the demo; nothing was changed.
    AlreadyThere,
}

/// Loads the demo into an empty database, accepts a database that holds it, and refuses any
/// other database (so `--demo` never mixes demo data into real data).
///
/// # Errors
/// A sentence saying why, for the operator.
pub async fn ensure(store: &Store) -> Result<DemoState, String> {
    let (marker, empty) = store
        .read(|r| Ok((r.meta(DATASET_KEY)?, r.is_empty()?)))
        .await
        .map_err(|error| format!("cannot read the database: {error}"))?;
    match (marker.as_deref(), empty) {
        (Some(DEMO), _) => Ok(DemoState::AlreadyThere),
        (_, true) => {
            for command in demo::commands() {
                store
                    .submit(Submission { envelope: None, command })
                    .await
                    .map_err(|error| format!("cannot load the demo: {}", error.en))?;
            }
            store.set_meta(DATASET_KEY, DEMO).await.map_err(|error| format!("cannot mark the demo: {error}"))?;
            Ok(DemoState::Loaded)
        }
        (other, false) => Err(format!(
            "{} holds other data ({}); --demo loads only into an empty database or one that holds the demo",
            store.location(),
            other.map_or_else(|| "no dataset marker".to_string(), |marker| format!("dataset {marker:?}"))
        )),
    }
}
