//! Payouts out of personal accounts (R2): proposed by an operator, reviewed by another with the
//! reviewer role (four eyes); the review queue and the bank's payment file.

use std::sync::Arc;

use super::error::{Path, Query};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use yibao_domain::{Money, PersonNo};
use yibao_engine::Outcome;
use yibao_engine::commands::{ProposePayout, ReviewPayout};
use yibao_engine::records::{Payee, Payout, PayoutKind, PayoutState};

use super::caller::{Caller, REVIEWER};
use super::common::{QueueRead, body, created, ok, own_records, parse, queue, unexpected};
use super::error::ApiError;
use super::wire;
use crate::state::AppState;

pub fn routes(router: axum::Router<Arc<AppState>>) -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    router
        .route("/api/v1/persons/{psn_no}/payouts", get(of_person).post(propose))
        .route("/api/v1/payouts", get(list))
        .route("/api/v1/payouts/{id}/review", post(review))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PayeeWire {
    name: String,
    bank: String,
    account: String,
    reference: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProposalRequest {
    kind: String,
    /// premium only, yuan.
    amount: Option<String>,
    payee: PayeeWire,
    reason: String,
}

/// A payout on the wire.
pub(crate) fn payout_json(payout: &Payout) -> Value {
    let (by, at, why) = match &payout.state {
        PayoutState::Proposed => (None, None, None),
        PayoutState::Approved { by, at } => (Some(by.as_str()), Some(at.to_string()), None),
        PayoutState::Rejected { by, at, reason } => (Some(by.as_str()), Some(at.to_string()), Some(reason.as_str())),
    };
    json!({
        "id": payout.id,
        "psn_no": payout.psn_no.as_str(),
        "kind": payout.kind.code(),
        "kind_zh": payout.kind.name_zh(),
        "amount": wire::yuan(payout.amount),
        "payee": {
            "name": payout.payee.name,
            "bank": payout.payee.bank,
            "account": payout.payee.account,
            "reference": payout.payee.reference,
        },
        "reason": payout.reason,
        "proposed_by": payout.proposed_by,
        "proposed_at": payout.proposed_at.to_string(),
        "state": payout.state.code(),
        "reviewed_by": by,
        "reviewed_at": at,
        "review_reason": why,
    })
}

/// Proposes a payout (operator): 201 with it, awaiting a reviewer.
async fn propose(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let psn_no: PersonNo = parse("psn_no", &psn_no)?;
    let request: ProposalRequest = body(&bytes)?;
    let kind = PayoutKind::parse(&request.kind).ok_or_else(|| {
        ApiError::invalid(
            format!("kind {:?} is not one of inheritance, emigration, transfer-out, premium", request.kind),
            "支取类型须为inheritance、emigration、transfer-out或premium",
        )
    })?;
    let amount = match &request.amount {
        Some(text) => Some(parse::<Money>("amount", text)?),
        None => None,
    };
    let payee = Payee {
        name: request.payee.name,
        bank: request.payee.bank,
        account: request.payee.account,
        reference: request.payee.reference,
    };
    let command = ProposePayout { psn_no, kind, amount, payee, reason: request.reason, actor: caller.actor() };
    match state.store.execute(command).await? {
        Outcome::Payout(payout) => Ok(created(payout_json(&payout))),
        _ => Err(unexpected()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewRequest {
    /// `approve` or `reject`.
    decision: String,
    reason: String,
}

/// Approves or rejects a proposed payout: an operator with the reviewer role who did not propose
/// it. Approving again answers the approved payout (paid once).
async fn review(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let (_, roles) = caller.operator()?;
    if !roles.iter().any(|role| role == REVIEWER) {
        return Err(ApiError::forbidden("only an operator with the reviewer role reviews payouts"));
    }
    let request: ReviewRequest = body(&bytes)?;
    let approve = match request.decision.as_str() {
        "approve" => true,
        "reject" => false,
        other => {
            return Err(ApiError::invalid(
                format!("decision {other:?} is neither approve nor reject"),
                "审核结论须为approve或reject",
            ));
        }
    };
    if id.is_empty() || id.len() > 40 {
        return Err(ApiError::invalid("a payout id has 1 to 40 characters", "支取申请编号须为1至40个字符"));
    }
    let command = ReviewPayout { id, approve, reason: request.reason, actor: caller.actor() };
    match state.store.execute(command).await? {
        Outcome::Payout(payout) => Ok(ok(payout_json(&payout))),
        _ => Err(unexpected()),
    }
}

/// A person's payouts: the person or an operator (audited).
async fn of_person(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
) -> Result<Response, ApiError> {
    let person = own_records(&state, &caller, &psn_no, "read-payouts", "payouts").await?;
    let number = person.psn_no.clone();
    let payouts = state.store.read(move |r| r.payouts_of(&number)).await?;
    Ok(ok(json!({"psn_no": psn_no, "payouts": payouts.iter().map(payout_json).collect::<Vec<_>>()})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    format: Option<String>,
    limit: Option<u64>,
}

/// Payouts in a state, oldest first (operator): `proposed` is the review queue, `approved` the
/// bank's payment file (`format=csv`: one line a payout).
async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    // The format is checked before anything is read or audited.
    let as_csv = super::common::wants(query.format.as_deref(), "csv")?;
    let allowed = ["proposed", "approved", "rejected"];
    let read: QueueRead<Payout> = |r, state, limit| r.payouts_in(state, limit);
    let (wanted, payouts) = queue(&state, &caller, query.state, query.limit, &allowed, "list-payouts", read).await?;
    match as_csv {
        false => Ok(ok(json!({"state": wanted, "payouts": payouts.iter().map(payout_json).collect::<Vec<_>>()}))),
        true => {
            // As the clearing statements: a byte-order mark (spreadsheets read UTF-8) and CRLF.
            let mut csv = String::from(
                "\u{feff}id,psn_no,kind,amount,payee_name,payee_bank,payee_account,reference,reviewed_at\r\n",
            );
            for payout in &payouts {
                let at = match &payout.state {
                    PayoutState::Approved { at, .. } | PayoutState::Rejected { at, .. } => at.to_string(),
                    PayoutState::Proposed => String::new(),
                };
                let fields = [
                    payout.id.clone(),
                    payout.psn_no.to_string(),
                    payout.kind.code().to_string(),
                    payout.amount.to_string(),
                    payout.payee.name.clone(),
                    payout.payee.bank.clone(),
                    payout.payee.account.clone(),
                    payout.payee.reference.clone().unwrap_or_default(),
                    at,
                ];
                let line: Vec<String> = fields.iter().map(|field| csv_field(field)).collect();
                csv.push_str(&line.join(","));
                csv.push_str("\r\n");
            }
            Ok(([(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response())
        }
    }
}

/// A CSV field, quoted where it must be, and never read as a formula by a spreadsheet.
pub(super) fn csv_field(text: &str) -> String {
    let text = match text.starts_with(['=', '+', '-', '@']) {
        true => format!("'{text}"),
        false => text.to_string(),
    };
    match text.contains([',', '"', '\n', '\r']) {
        true => format!("\"{}\"", text.replace('"', "\"\"")),
        false => text,
    }
}
