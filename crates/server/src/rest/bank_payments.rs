//! The custody bank's payment file and its answer (R5): what is due — approved payouts and
//! reimbursements the bank has not yet paid, by bank, as JSON or the CSV file the bank takes —
//! and the lines the bank executed, recorded once, which empty the bank's payable.

use std::sync::Arc;

use super::error::Query;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use yibao_domain::{BankCode, Date, Money, PersonNo};
use yibao_engine::Outcome;
use yibao_engine::commands::{BANK_PAYMENT_LINES_MAX, ConfirmBankPayments, PaidLine, payout_id, reimbursement_id};
use yibao_engine::records::Payee;
use yibao_ledger::{AccountKey, Side};

use super::caller::Caller;
use super::common::{audit_read, body, ok, parse, unexpected};
use super::error::ApiError;
use super::wire;
use crate::state::AppState;

pub fn routes(router: axum::Router<Arc<AppState>>) -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    router.route("/api/v1/bank-payments", post(confirm)).route("/api/v1/bank-payments/due", get(due))
}

/// The most lines of a payment file: what the bank takes at once.
const DUE_MAX: u64 = BANK_PAYMENT_LINES_MAX as u64;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DueQuery {
    bank: String,
    format: Option<String>,
}

/// One line due.
struct Due {
    id: String,
    kind: &'static str,
    psn_no: PersonNo,
    amount: Money,
    payee: Payee,
    approved_at: String,
}

/// What a bank is to pay (operator): approved payouts and reimbursements whose payable is at
/// that bank and that it has not paid, oldest first; `format=csv` is the payment file.
async fn due(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<DueQuery>,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let as_csv = super::common::wants(query.format.as_deref(), "csv")?;
    let bank: BankCode = parse("bank", &query.bank)?;
    let wanted = bank.clone();
    let lines = state
        .store
        .read(move |r| {
            let (payouts, bills) = r.bank_payments_due(&wanted, DUE_MAX)?;
            let mut due: Vec<(Due, yibao_ledger::TransferId)> = Vec::new();
            for payout in payouts {
                let at = match &payout.state {
                    yibao_engine::records::PayoutState::Approved { at, .. } => at.to_string(),
                    _ => String::new(),
                };
                let approval = payout_id(&payout.id);
                let line = Due {
                    id: payout.id,
                    kind: "payout",
                    psn_no: payout.psn_no,
                    amount: Money::ZERO,
                    payee: payout.payee,
                    approved_at: at,
                };
                due.push((line, approval));
            }
            for bill in bills {
                let at = match &bill.state {
                    yibao_engine::records::ReimbursementState::Approved { at, .. } => at.to_string(),
                    _ => String::new(),
                };
                let approval = reimbursement_id(&bill.id);
                let line = Due {
                    id: bill.id,
                    kind: "reimbursement",
                    psn_no: bill.psn_no,
                    amount: Money::ZERO,
                    payee: bill.payee,
                    approved_at: at,
                };
                due.push((line, approval));
            }
            // What each approval put in the bank's payable.
            let ids: Vec<yibao_ledger::TransferId> = due.iter().map(|(_, approval)| approval.clone()).collect();
            let transfers = r.loader().transfers(&ids)?;
            let mut lines: Vec<Due> = due
                .into_iter()
                .map(|(mut line, approval)| {
                    line.amount = transfers
                        .iter()
                        .filter(|t| t.id == approval)
                        .flat_map(|t| t.postings.iter())
                        .filter(|p| {
                            p.side == Side::Credit && matches!(&p.account, AccountKey::BankPayable(b) if *b == wanted)
                        })
                        .map(|p| p.amount)
                        .sum();
                    line
                })
                .collect();
            lines.sort_by(|a, b| a.approved_at.cmp(&b.approved_at).then_with(|| a.id.cmp(&b.id)));
            Ok(lines)
        })
        .await?;
    audit_read(&state, &caller, "bank-payments-due", bank.as_str(), "").await?;
    let total: Money = lines.iter().map(|line| line.amount).sum();
    if as_csv {
        // As the other files: a byte-order mark (spreadsheets read UTF-8) and CRLF.
        let mut csv =
            String::from("\u{feff}id,kind,psn_no,amount,payee_name,payee_bank,payee_account,reference,approved_at\r\n");
        for line in &lines {
            let fields = [
                line.id.clone(),
                line.kind.to_string(),
                line.psn_no.to_string(),
                line.amount.to_string(),
                line.payee.name.clone(),
                line.payee.bank.clone(),
                line.payee.account.clone(),
                line.payee.reference.clone().unwrap_or_default(),
                line.approved_at.clone(),
            ];
            let fields: Vec<String> = fields.iter().map(|field| super::payouts::csv_field(field)).collect();
            csv.push_str(&fields.join(","));
            csv.push_str("\r\n");
        }
        return Ok(([(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response());
    }
    let rows: Vec<Value> = lines
        .iter()
        .map(|line| {
            json!({
                "id": line.id, "kind": line.kind, "psn_no": line.psn_no.as_str(), "amount": wire::yuan(line.amount),
                "payee": {"name": line.payee.name, "bank": line.payee.bank, "account": line.payee.account, "reference": line.payee.reference},
                "approved_at": line.approved_at,
            })
        })
        .collect();
    Ok(ok(json!({"bank": bank.as_str(), "count": rows.len(), "total": wire::yuan(total), "lines": rows})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineWire {
    id: String,
    amount: String,
    bank_ref: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Confirmation {
    bank: String,
    paid_on: String,
    lines: Vec<LineWire>,
}

/// The lines the bank executed (an operator with the reviewer role: it moves money): each
/// recorded once, the payable emptied. Any line that does not match what is due refuses the
/// whole file.
async fn confirm(State(state): State<Arc<AppState>>, caller: Caller, bytes: Bytes) -> Result<Response, ApiError> {
    let (_, roles) = caller.operator()?;
    if !roles.iter().any(|role| role == super::caller::REVIEWER) {
        return Err(ApiError::forbidden("only an operator with the reviewer role records the bank's payments"));
    }
    let request: Confirmation = body(&bytes)?;
    if request.lines.is_empty() || request.lines.len() > BANK_PAYMENT_LINES_MAX {
        return Err(ApiError::invalid(
            format!("lines: 1 to {BANK_PAYMENT_LINES_MAX}"),
            format!("一次确认1至{BANK_PAYMENT_LINES_MAX}笔"),
        ));
    }
    let mut lines = Vec::with_capacity(request.lines.len());
    for line in &request.lines {
        lines.push(PaidLine {
            id: super::wire::code("id", &line.id)?,
            amount: parse::<Money>("amount", &line.amount)?,
            bank_ref: line.bank_ref.clone(),
        });
    }
    let paid_on: Date = parse("paid_on", &request.paid_on)?;
    let command = ConfirmBankPayments { bank: parse("bank", &request.bank)?, paid_on, lines, actor: caller.actor() };
    match state.store.execute(command).await? {
        Outcome::BankPayments(summary) => Ok(ok(json!({
            "paid": summary.paid.iter().map(|p| json!({
                "id": p.id, "psn_no": p.psn_no.as_str(), "bank": p.bank.as_str(), "amount": wire::yuan(p.amount),
                "bank_ref": p.bank_ref, "paid_on": p.paid_on.to_string(),
            })).collect::<Vec<_>>(),
            "already": summary.already,
            "amount": wire::yuan(summary.amount),
        }))),
        _ => Err(unexpected()),
    }
}
