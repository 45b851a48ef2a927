//! Disputes (R2): a person flags an entry of their account statement; an operator resolves it.

use std::sync::Arc;

use super::error::{Path, Query};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use yibao_domain::PersonNo;
use yibao_engine::Outcome;
use yibao_engine::commands::{RaiseDispute, ResolveDispute};
use yibao_engine::records::{Dispute, DisputeState};
use yibao_ledger::TransferId;

use super::caller::{Caller, REVIEWER};
use super::common::{QueueRead, body, created, ok, own_records, parse, queue, unexpected};
use super::error::ApiError;
use super::wire;
use crate::state::AppState;

pub fn routes(router: axum::Router<Arc<AppState>>) -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    router
        .route("/api/v1/persons/{psn_no}/disputes", get(of_person).post(raise))
        .route("/api/v1/disputes", get(list))
        .route("/api/v1/disputes/{id}/resolve", post(resolve))
}

pub(crate) fn dispute_json(dispute: &Dispute) -> Value {
    let (by, at, why, reversal) = match &dispute.state {
        DisputeState::Open => (None, None, None, None),
        DisputeState::Reversed { by, at, reason, reversal } => {
            (Some(by.as_str()), Some(at.to_string()), Some(reason.as_str()), Some(reversal.as_str()))
        }
        DisputeState::Rejected { by, at, reason } => {
            (Some(by.as_str()), Some(at.to_string()), Some(reason.as_str()), None)
        }
    };
    json!({
        "id": dispute.id,
        "psn_no": dispute.psn_no.as_str(),
        "transfer": dispute.transfer,
        "amount": wire::yuan(dispute.amount),
        "reason": dispute.reason,
        "raised_by": dispute.raised_by,
        "raised_at": dispute.raised_at.to_string(),
        "state": dispute.state.code(),
        "resolved_by": by,
        "resolved_at": at,
        "resolution": why,
        "reversal": reversal,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RaiseRequest {
    /// The statement entry's `transfer`.
    transfer: String,
    reason: String,
}

/// Disputes an entry of the account statement: the holder (or an operator for them).
async fn raise(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    match &caller {
        Caller::Operator { .. } => {}
        Caller::Person { .. } => caller.may_read_person(&psn_no)?,
        Caller::Institution(_) => {
            return Err(ApiError::forbidden("a dispute is raised by the account holder or the agency"));
        }
        Caller::Anonymous => {
            caller.operator()?;
        }
    }
    let psn_no: PersonNo = parse("psn_no", &psn_no)?;
    let request: RaiseRequest = body(&bytes)?;
    if request.transfer.is_empty() || request.transfer.len() > 120 {
        return Err(ApiError::invalid("transfer must have 1 to 120 characters", "交易编号须为1至120个字符"));
    }
    let command = RaiseDispute {
        psn_no,
        transfer: TransferId::new(request.transfer),
        reason: request.reason,
        actor: caller.actor(),
    };
    match state.store.execute(command).await? {
        Outcome::Dispute(dispute) => Ok(created(dispute_json(&dispute))),
        _ => Err(unexpected()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveRequest {
    /// `reverse` (upheld: a settlement is cancelled) or `reject`.
    decision: String,
    reason: String,
}

/// Resolves a dispute: an operator with the reviewer role who did not raise it (a reversal
/// gives money back).
async fn resolve(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let (_, roles) = caller.operator()?;
    if !roles.iter().any(|role| role == REVIEWER) {
        return Err(ApiError::forbidden("only an operator with the reviewer role resolves disputes"));
    }
    if id.is_empty() || id.len() > 40 {
        return Err(ApiError::invalid("a dispute id has 1 to 40 characters", "异议编号须为1至40个字符"));
    }
    let request: ResolveRequest = body(&bytes)?;
    let reverse = match request.decision.as_str() {
        "reverse" => true,
        "reject" => false,
        other => {
            return Err(ApiError::invalid(
                format!("decision {other:?} is neither reverse nor reject"),
                "处理结论须为reverse或reject",
            ));
        }
    };
    let command = ResolveDispute { id, reverse, reason: request.reason, actor: caller.actor() };
    match state.store.execute(command).await? {
        Outcome::Dispute(dispute) => Ok(ok(dispute_json(&dispute))),
        _ => Err(unexpected()),
    }
}

/// A person's disputes: the person or an operator (audited).
async fn of_person(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
) -> Result<Response, ApiError> {
    let person = own_records(&state, &caller, &psn_no, "read-disputes", "disputes").await?;
    let number = person.psn_no.clone();
    let disputes = state.store.read(move |r| r.disputes_of(&number)).await?;
    Ok(ok(json!({"psn_no": psn_no, "disputes": disputes.iter().map(dispute_json).collect::<Vec<_>>()})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    limit: Option<u64>,
}

/// Disputes in a state, oldest first (operator): `open` is the queue.
async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let allowed = ["open", "reversed", "rejected"];
    let read: QueueRead<Dispute> = |r, state, limit| r.disputes_in(state, limit);
    let (wanted, disputes) = queue(&state, &caller, query.state, query.limit, &allowed, "list-disputes", read).await?;
    Ok(ok(json!({"state": wanted, "disputes": disputes.iter().map(dispute_json).collect::<Vec<_>>()})))
}
