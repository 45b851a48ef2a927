//! Settlement: 2206/2207 and 2303/2304 over the national interface, `POST
//! /api/v1/visits/{id}/settlement` and the counter's bill all settle through [`settle`], the
//! one place an edge's bill becomes a [`Settle`]. The emergency care folded into an admission is
//! found by the command itself, from the policy's own window, so every edge prices an
//! inpatient bill the same way.

use yibao_engine::commands::Settle;
pub use yibao_engine::commands::{SettleRequest, Treated};
use yibao_engine::{EngineError, Reply};
use yibao_store::Store;

use crate::run::{Run, run};

/// Settles (or, previewed, prices) a bill.
///
/// # Errors
/// The engine's refusal, or the store's failure.
pub async fn settle(store: &Store, request: SettleRequest, treated: Treated, how: Run) -> Result<Reply, EngineError> {
    let command = Settle::new(request, how.key(), treated);
    run(store, Box::new(command), how).await
}
