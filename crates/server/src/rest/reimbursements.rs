//! Manual reimbursement (零星报销, R6): a bill paid in cash, submitted at the agency, priced as a
//! real-time settlement, reviewed by a second operator, paid to the person's bank account.

use std::sync::Arc;

use super::error::{Path, Query};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use yibao_domain::{Date, Money, PersonNo, Quantity, UnitPrice};
use yibao_engine::Outcome;
use yibao_engine::commands::{
    ProviderRef, REIMBURSEMENT_LINES_MAX, ResubmitReimbursement, ReviewDecision, ReviewReimbursement,
    SubmitReimbursement,
};
use yibao_engine::records::{Payee, Reimbursement, ReimbursementCause, ReimbursementState};

use super::caller::{Caller, REVIEWER};
use super::common::{QueueRead, audit_read, body, created, ok, own_records, parse, queue, unexpected};
use super::error::ApiError;
use super::wire;
use crate::state::AppState;

pub fn routes(router: axum::Router<Arc<AppState>>) -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    router
        .route("/api/v1/reimbursements", get(list).post(submit))
        .route("/api/v1/reimbursements/{id}", get(one))
        .route("/api/v1/reimbursements/{id}/review", post(review))
        .route("/api/v1/reimbursements/{id}/resubmit", post(resubmit))
        .route("/api/v1/persons/{psn_no}/reimbursements", get(of_person))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderWire {
    /// A designated institution's code, or
    code: Option<String>,
    /// another institution's name, level (absent for a pharmacy) and region.
    name: Option<String>,
    level: Option<String>,
    admdvs: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineWire {
    code: String,
    price: String,
    quantity: String,
    amount: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PayeeWire {
    name: String,
    bank: String,
    account: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmissionRequest {
    psn_no: String,
    institution: ProviderWire,
    med_type: String,
    begin: String,
    end: String,
    cause: String,
    lines: Vec<LineWire>,
    use_account: Option<bool>,
    payee: PayeeWire,
    note: String,
}

fn state_parts(state: &ReimbursementState) -> (Option<&str>, Option<String>, Option<&str>) {
    match state {
        ReimbursementState::Submitted => (None, None, None),
        ReimbursementState::Approved { by, at } => (Some(by), Some(at.to_string()), None),
        ReimbursementState::Rejected { by, at, reason } | ReimbursementState::DocumentsRequested { by, at, reason } => {
            (Some(by), Some(at.to_string()), Some(reason))
        }
    }
}

/// A reimbursement on the wire: the bill, its priced amounts and their explanation, its state.
pub(crate) fn reimbursement_json(bill: &Reimbursement) -> Value {
    let (by, at, why) = state_parts(&bill.state);
    json!({
        "id": bill.id,
        "psn_no": bill.psn_no.as_str(),
        "institution": {
            "code": bill.provider.code.as_ref().map(|code| code.as_str()),
            "name": bill.provider.name,
            "level": bill.provider.level.map(|level| level.code()),
            "admdvs": bill.provider.admdvs.as_str(),
        },
        "med_type": bill.med_type.to_string(),
        "begin": bill.begin.to_string(),
        "end": bill.end.to_string(),
        "cause": bill.cause.code(),
        "cause_zh": bill.cause.name_zh(),
        "lines": bill.lines.iter().map(|line| json!({
            "code": line.code, "name": line.name, "price": line.price.to_string(),
            "quantity": line.quantity.to_string(), "amount": wire::yuan(line.amount),
        })).collect::<Vec<_>>(),
        "use_account": bill.use_account,
        "amounts": wire::amounts(&bill.amounts),
        "explanation": wire::explanation(&bill.steps),
        "paid": wire::yuan(match bill.state {
            ReimbursementState::Approved { .. } => bill.amounts.insurer_part(),
            _ => Money::ZERO,
        }),
        "payee": {"name": bill.payee.name, "bank": bill.payee.bank, "account": bill.payee.account},
        "note": bill.note,
        "submitted_by": bill.submitted_by,
        "submitted_at": bill.submitted_at.to_string(),
        "state": bill.state.code(),
        "reviewed_by": by,
        "reviewed_at": at,
        "review_reason": why,
    })
}

fn provider(wire: ProviderWire) -> Result<ProviderRef, ApiError> {
    match (wire.code, wire.name, wire.admdvs) {
        (Some(code), None, None) if wire.level.is_none() => {
            Ok(ProviderRef::Designated(parse("institution.code", &code)?))
        }
        (None, Some(name), Some(admdvs)) => Ok(ProviderRef::Other {
            name,
            level: match &wire.level {
                Some(level) => Some(parse("institution.level", level)?),
                None => None,
            },
            admdvs: parse("institution.admdvs", &admdvs)?,
        }),
        _ => Err(ApiError::invalid(
            "institution is either {code} (a designated institution) or {name, level, admdvs} (another)",
            "就诊机构须为定点机构编码，或非定点机构的名称、等级和所在区划",
        )),
    }
}

/// Submits a bill (operator): 201 with it priced, awaiting a reviewer.
async fn submit(State(state): State<Arc<AppState>>, caller: Caller, bytes: Bytes) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: SubmissionRequest = body(&bytes)?;
    if request.lines.is_empty() || request.lines.len() > REIMBURSEMENT_LINES_MAX {
        return Err(ApiError::invalid(
            format!("a bill has 1 to {REIMBURSEMENT_LINES_MAX} lines"),
            format!("费用明细须为1至{REIMBURSEMENT_LINES_MAX}条"),
        ));
    }
    let mut lines = Vec::with_capacity(request.lines.len());
    for line in &request.lines {
        lines.push((
            line.code.clone(),
            parse::<UnitPrice>("lines.price", &line.price)?,
            parse::<Quantity>("lines.quantity", &line.quantity)?,
            parse::<Money>("lines.amount", &line.amount)?,
        ));
    }
    let cause = ReimbursementCause::parse(&request.cause).ok_or_else(|| {
        let codes: Vec<&str> = ReimbursementCause::ALL.iter().map(|cause| cause.code()).collect();
        ApiError::invalid(
            format!("cause {:?} is not one of {}", request.cause, codes.join(", ")),
            format!("未能联网结算的原因须为{}之一", codes.join("、")),
        )
    })?;
    let command = SubmitReimbursement {
        psn_no: parse::<PersonNo>("psn_no", &request.psn_no)?,
        provider: provider(request.institution)?,
        med_type: parse("med_type", &request.med_type)?,
        begin: parse::<Date>("begin", &request.begin)?,
        end: parse::<Date>("end", &request.end)?,
        cause,
        lines,
        use_account: request.use_account.unwrap_or(false),
        payee: Payee {
            name: request.payee.name,
            bank: request.payee.bank,
            account: request.payee.account,
            reference: None,
        },
        note: request.note,
        actor: caller.actor(),
    };
    match state.store.execute(command).await? {
        Outcome::Reimbursement(bill) => Ok(created(reimbursement_json(&bill))),
        _ => Err(unexpected()),
    }
}

fn checked_id(id: &str) -> Result<(), ApiError> {
    match !id.is_empty() && id.len() <= 40 {
        true => Ok(()),
        false => Err(ApiError::invalid("a reimbursement id has 1 to 40 characters", "报销申请编号须为1至40个字符")),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewRequest {
    /// `approve`, `reject` or `request-documents`.
    decision: String,
    reason: String,
}

/// Reviews a submitted bill: an operator with the reviewer role who did not submit it.
async fn review(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let (_, roles) = caller.operator()?;
    if !roles.iter().any(|role| role == REVIEWER) {
        return Err(ApiError::forbidden("only an operator with the reviewer role reviews reimbursements"));
    }
    checked_id(&id)?;
    let request: ReviewRequest = body(&bytes)?;
    let decision = match request.decision.as_str() {
        "approve" => ReviewDecision::Approve,
        "reject" => ReviewDecision::Reject,
        "request-documents" => ReviewDecision::RequestDocuments,
        other => {
            return Err(ApiError::invalid(
                format!("decision {other:?} is not approve, reject or request-documents"),
                "审核结论须为approve、reject或request-documents",
            ));
        }
    };
    let command = ReviewReimbursement { id, decision, reason: request.reason, actor: caller.actor() };
    match state.store.execute(command).await? {
        Outcome::Reimbursement(bill) => Ok(ok(reimbursement_json(&bill))),
        _ => Err(unexpected()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResubmitRequest {
    note: String,
}

/// Sends a bill back for review once the documents asked for are in (operator).
async fn resubmit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    checked_id(&id)?;
    let request: ResubmitRequest = body(&bytes)?;
    let command = ResubmitReimbursement { id, note: request.note, actor: caller.actor() };
    match state.store.execute(command).await? {
        Outcome::Reimbursement(bill) => Ok(ok(reimbursement_json(&bill))),
        _ => Err(unexpected()),
    }
}

/// One reimbursement: an operator, or the person it pays.
async fn one(State(state): State<Arc<AppState>>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    // Who asks, before anything is read: nobody 401, an institution 403.
    let own = match &caller {
        Caller::Operator { .. } => None,
        Caller::Person { psn_no, change_password_only: false, .. } => Some(psn_no.clone()),
        _ => {
            caller.operator()?;
            None
        }
    };
    checked_id(&id)?;
    let lookup = id.clone();
    let bill = state.store.read(move |r| r.reimbursement(&lookup)).await?;
    let not_found = || ApiError::not_found(format!("no reimbursement {id}"));
    let bill = bill.ok_or_else(not_found)?;
    match own {
        None => audit_read(&state, &caller, "read-reimbursement", bill.psn_no.as_str(), &bill.id).await?,
        // A person sees only their own; another's is "not found", as if it did not exist.
        Some(psn_no) if psn_no == bill.psn_no.as_str() => {}
        Some(_) => return Err(not_found()),
    }
    Ok(ok(reimbursement_json(&bill)))
}

/// A person's reimbursements: the person or an operator (audited).
async fn of_person(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
) -> Result<Response, ApiError> {
    let person = own_records(&state, &caller, &psn_no, "read-reimbursements", "reimbursements").await?;
    let number = person.psn_no.clone();
    let bills = state.store.read(move |r| r.reimbursements_of(&number)).await?;
    Ok(ok(json!({"psn_no": psn_no, "reimbursements": bills.iter().map(reimbursement_json).collect::<Vec<_>>()})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    limit: Option<u64>,
}

/// Reimbursements in a state, oldest first (operator): `submitted` is the review queue.
async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let allowed = ["submitted", "documents-requested", "approved", "rejected"];
    let read: QueueRead<Reimbursement> = |r, state, limit| r.reimbursements_in(state, limit);
    let (wanted, bills) =
        queue(&state, &caller, query.state, query.limit, &allowed, "list-reimbursements", read).await?;
    Ok(ok(json!({"state": wanted, "reimbursements": bills.iter().map(reimbursement_json).collect::<Vec<_>>()})))
}
