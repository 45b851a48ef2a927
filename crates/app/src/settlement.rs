//! Settlement: 2206/2207 and 2303/2304 over the national interface, `POST
//! /api/v1/visits/{id}/settlement` and the counter's bill all settle through [`settle`], the
//! one place an edge's bill becomes a [`Settle`]. The emergency care folded into an admission is
//! found by the command itself, from the policy's own window, so every edge prices an
//! inpatient bill the same way. A pharmacy's purchase is built by [`purchase`] and a
//! cancellation by [`cancel`], each once, with the message id it runs under.

use yibao_domain::{InstitutionCode, MdtrtId, MsgId, PersonNo, SetlId};
use yibao_engine::commands::{CancelSettlement, Purchase, Settle};
pub use yibao_engine::commands::{PurchaseRequest, SettleRequest, Treated};
use yibao_engine::records::VisitKind;
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

/// A pharmacy's purchase (2101/2102, REST, the counter), recorded under `msgid`: the message id
/// it runs under (a preview's is never stored).
pub fn purchase(request: PurchaseRequest, msgid: MsgId) -> Purchase {
    Purchase::new(request, msgid)
}

/// Which settlement an action is about, and who asks: the institution that made it and the
/// person. The command checks both.
#[derive(Debug, Clone)]
pub struct SettlementRef {
    pub institution: InstitutionCode,
    pub psn_no: PersonNo,
    pub setl_id: SetlId,
}

/// Cancels a settlement (2208, 2305, 2103, REST, the counter, a peer's request), recorded
/// under `msgid`. `visit` and `kind`, when the caller names them (the national interface does),
/// must be the settlement's.
pub fn cancel(
    settlement: SettlementRef,
    visit: Option<MdtrtId>,
    kind: Option<VisitKind>,
    msgid: MsgId,
) -> CancelSettlement {
    let SettlementRef { institution, psn_no, setl_id } = settlement;
    CancelSettlement { institution, psn_no, setl_id, mdtrt_id: visit, kind, msgid }
}
