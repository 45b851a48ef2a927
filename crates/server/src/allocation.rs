//! Runs the monthly allocation over every insured person, in batches of
//! [`ALLOCATION_BATCH_MAX`], reporting progress. Each batch is one transaction; each person's
//! credit is keyed by person and month, so a run that is retried or killed halfway and run
//! again credits nobody twice.

use yibao_domain::Month;
use yibao_engine::commands::{ALLOCATION_BATCH_MAX, AllocateMonth, AllocationSummary};
use yibao_engine::{EngineError, Outcome};
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
    mut progress: impl FnMut(u64, u64),
) -> Result<AllocationSummary, EngineError> {
    let size = ALLOCATION_BATCH_MAX as u64;
    let mut summary = AllocationSummary::default();
    let mut offset = 0;
    loop {
        let page = store.read(move |r| r.persons(None, offset, size)).await?;
        if page.rows.is_empty() {
            break;
        }
        let count = page.rows.len() as u64;
        let command = AllocateMonth {
            month,
            persons: page.rows.into_iter().map(|person| person.psn_no).collect(),
            actor: actor.to_string(),
        };
        match store.execute(command).await? {
            Outcome::Allocation(batch) => summary = summary.plus(batch),
            _ => return Err(EngineError::internal("unexpected outcome of an allocation")),
        }
        offset += count;
        progress(offset, page.total.max(offset));
        if count < size {
            break;
        }
    }
    Ok(summary)
}
