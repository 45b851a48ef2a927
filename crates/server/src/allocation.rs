//! Runs over every insured person, in batches of [`ALLOCATION_BATCH_MAX`], reporting progress:
//! the monthly allocation and the year end. Each batch is one transaction; each person's
//! transfer is keyed by person and month (or year), so a run that is retried or killed halfway
//! and run again credits nobody twice. Pages by person number (keyset), so every batch costs
//! the same however far the run has gone.

use yibao_domain::{Month, PersonNo};
use yibao_engine::commands::{ALLOCATION_BATCH_MAX, AllocateMonth, AllocationSummary, CloseYear};
use yibao_engine::{Command, EngineError, Outcome};
use yibao_store::Store;

/// Allocates `month` to every person; `progress(done, total)` after each batch.
///
/// # Errors
/// A store failure or a refused batch (nothing of that batch is written; earlier batches stay,
/// and running again continues where it stopped).
pub async fn allocate(
    store: &Store,
    month: Month,
    actor: &str,
    progress: impl FnMut(u64, u64),
) -> Result<AllocationSummary, EngineError> {
    over_everyone(store, |persons| AllocateMonth { month, persons, actor: actor.to_string() }, progress).await
}

/// Rolls every person's current-year account of `year` into the prior-years account.
///
/// # Errors
/// As [`allocate`].
pub async fn close_year(
    store: &Store,
    year: u16,
    actor: &str,
    progress: impl FnMut(u64, u64),
) -> Result<AllocationSummary, EngineError> {
    over_everyone(store, |persons| CloseYear { year, persons, actor: actor.to_string() }, progress).await
}

/// Batches between refreshes of the planner's statistics.
const STATISTICS_EVERY: u64 = 100;

async fn over_everyone<C: Command + 'static>(
    store: &Store,
    batch: impl Fn(Vec<PersonNo>) -> C,
    mut progress: impl FnMut(u64, u64),
) -> Result<AllocationSummary, EngineError> {
    let size = ALLOCATION_BATCH_MAX as u64;
    let total = store.read(|r| r.person_count()).await?;
    let mut summary = AllocationSummary::default();
    let mut done = 0;
    let mut after: Option<PersonNo> = None;
    loop {
        let from = after.clone();
        let persons = store.read(move |r| r.person_numbers_after(from.as_ref(), size)).await?;
        let Some(last) = persons.last().cloned() else {
            break;
        };
        let count = persons.len() as u64;
        match store.execute(batch(persons)).await? {
            Outcome::Allocation(outcome) => summary = summary.plus(outcome),
            _ => return Err(EngineError::internal("unexpected outcome of a run over every person")),
        }
        done += count;
        progress(done, total.max(done));
        if done % (STATISTICS_EVERY * size) == 0 {
            // Each run adds a transfer a person: keep the planner's statistics in step (some
            // PostgreSQL servers run without autovacuum).
            store.refresh_statistics().await?;
        }
        after = Some(last);
        if count < size {
            break;
        }
    }
    Ok(summary)
}
