//! Contributions (R2): an employer's monthly declaration for its employees, a flexible
//! employee's or a resident's own payment, and a person's contribution history.

use std::sync::Arc;

use super::error::Path;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use yibao_domain::{Money, Month, PersonNo};
use yibao_engine::Outcome;
use yibao_engine::commands::{CONTRIBUTION_BATCH_MAX, ContributionPeriod, PayContributions, contribution_id};
use yibao_ledger::{AccountKey, Side, TransferId};

use super::caller::Caller;
use super::common::{audit_read, body, load_person, ok, parse, unexpected};
use super::error::ApiError;
use super::wire;
use crate::state::AppState;

pub fn routes(router: axum::Router<Arc<AppState>>) -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    router.route("/api/v1/contributions", post(pay)).route("/api/v1/persons/{psn_no}/contributions", get(history))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentRequest {
    /// The paying employer (in-service employees); absent when persons pay their own.
    employer: Option<String>,
    /// `YYYY-MM` for employees, or
    month: Option<String>,
    /// the insurance year for residents.
    year: Option<u16>,
    persons: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    psn_no: String,
    /// The month's contribution base, yuan; the registered base when absent.
    base: Option<String>,
}

/// Records contributions and moves them into the pooled fund (operator); once per person and
/// period, all or nothing.
async fn pay(State(state): State<Arc<AppState>>, caller: Caller, bytes: Bytes) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: PaymentRequest = body(&bytes)?;
    let period = match (&request.month, request.year) {
        (Some(month), None) => ContributionPeriod::Month(parse::<Month>("month", month)?),
        (None, Some(year)) => ContributionPeriod::Year(year),
        _ => {
            return Err(ApiError::invalid(
                "give either month (employees) or year (residents)",
                "须填写月份month（职工）或年度year（居民）之一",
            ));
        }
    };
    if request.persons.is_empty() || request.persons.len() > CONTRIBUTION_BATCH_MAX {
        return Err(ApiError::invalid(
            format!("persons: 1 to {CONTRIBUTION_BATCH_MAX} entries"),
            format!("persons须包含1至{CONTRIBUTION_BATCH_MAX}人"),
        ));
    }
    let mut entries = Vec::with_capacity(request.persons.len());
    for entry in &request.persons {
        let psn_no: PersonNo = parse("psn_no", &entry.psn_no)?;
        let base = match &entry.base {
            Some(base) => Some(parse::<Money>("base", base)?),
            None => None,
        };
        entries.push((psn_no, base));
    }
    let command = PayContributions { employer: request.employer, period, entries, actor: caller.actor() };
    let Outcome::Contributions(summary) = state.store.execute(command).await? else {
        return Err(unexpected());
    };
    Ok(ok(json!({
        "period": period.to_string(),
        "paid": summary.paid.iter().map(|line| json!({
            "psn_no": line.psn_no.as_str(),
            "base": line.base.map(wire::yuan),
            "pooled": wire::yuan(line.pooled),
            "employee": wire::yuan(line.employee),
        })).collect::<Vec<_>>(),
        "already_paid": summary.already.iter().map(PersonNo::as_str).collect::<Vec<_>>(),
        "arrears_credited": summary.arrears_credited.iter().map(|(psn_no, month, amount)| json!({
            "psn_no": psn_no.as_str(),
            "month": month.to_string(),
            "amount": wire::yuan(*amount),
        })).collect::<Vec<_>>(),
        "total": wire::yuan(summary.total),
    })))
}

/// The years whose contributions a history lists: the five before this one, this one, the next.
const HISTORY_YEARS_BEFORE: u16 = 5;

/// A person's contributions, oldest first: the person or an operator (the declared base is the
/// person's wage; institutions have no business with it).
async fn history(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
) -> Result<Response, ApiError> {
    if matches!(caller, Caller::Institution(_)) {
        return Err(ApiError::forbidden("institutions may not read contributions"));
    }
    caller.may_read_person(&psn_no)?;
    let person = load_person(&state, &psn_no).await?;
    let this_year = state.store.now().date().year();
    let mut ids: Vec<TransferId> = Vec::new();
    for year in this_year - HISTORY_YEARS_BEFORE..=this_year + 1 {
        ids.push(contribution_id(&person.psn_no, ContributionPeriod::Year(year)));
        for month in 1..=12 {
            let month = Month::new(year, month).expect("a valid month");
            ids.push(contribution_id(&person.psn_no, ContributionPeriod::Month(month)));
        }
    }
    let mut transfers = state.store.read(move |r| r.loader().transfers(&ids)).await?;
    transfers.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    if !matches!(&caller, Caller::Person { .. }) {
        audit_read(&state, &caller, "read-contributions", &psn_no, "").await?;
    }
    let rows: Vec<_> = transfers
        .iter()
        .map(|transfer| {
            let credited = |wanted: fn(&AccountKey) -> bool| {
                transfer
                    .postings
                    .iter()
                    .filter(|p| p.side == Side::Credit && wanted(&p.account))
                    .fold(Money::ZERO, |sum, p| sum + p.amount)
            };
            let pooled = credited(|key| matches!(key, AccountKey::PoolFund(..)));
            let employee = credited(|key| matches!(key, AccountKey::ContributionIncome(..)));
            json!({
                "period": transfer.id.as_str().rsplit('/').next().unwrap_or_default(),
                "paid_at": transfer.at.to_string(),
                "reference": transfer.reference,
                "pooled": wire::yuan(pooled),
                "employee": wire::yuan(employee),
                "total": wire::yuan(pooled + employee),
            })
        })
        .collect();
    Ok(ok(json!({"psn_no": psn_no, "contributions": rows})))
}
