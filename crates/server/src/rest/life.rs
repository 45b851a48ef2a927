//! A person's insured life after enrolment (R3): life events recorded by an operator, listed
//! for the operator and the person.

use std::sync::Arc;

use super::error::{Path, Query};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use yibao_domain::{Date, Money, PersonNo};
use yibao_engine::Outcome;
use yibao_engine::commands::{ContributionPeriod, LifeChange, RecordLifeEvent, RecordTransferIn, contribution_id};
use yibao_engine::records::{LifeEvent, LifeEventKind, PayoutKind, PersonState};

use super::caller::Caller;
use super::common::{body, created, ok, own_records, parse, unexpected};
use super::error::ApiError;
use super::wire;
use crate::state::AppState;

pub fn routes(router: axum::Router<Arc<AppState>>) -> axum::Router<Arc<AppState>> {
    use axum::routing::get;
    router
        .route("/api/v1/persons/{psn_no}/life-events", get(list).post(record))
        .route("/api/v1/persons/{psn_no}/transfer-certificate", get(certificate))
        .route("/api/v1/persons/{psn_no}/transfer-in", axum::routing::post(transfer_in))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventRequest {
    /// One of [`LifeEventKind`]'s codes.
    kind: String,
    /// `YYYY-MM-DD`, today or earlier.
    effective: String,
    reason: String,
    /// employer-change: the new employer's code.
    employer: Option<String>,
    /// base-change: the new monthly base, yuan.
    base: Option<String>,
    /// transfer-out: the region the person moves to.
    region: Option<String>,
}

fn state_json(state: &PersonState) -> Value {
    json!({
        "psn_type": state.person_type.code(),
        "employer": state.employer,
        "contribution_base": state.contribution_base.map(wire::yuan),
        "status": state.status.code(),
    })
}

/// A life event on the wire.
pub(crate) fn event_json(event: &LifeEvent) -> Value {
    json!({
        "psn_no": event.psn_no.as_str(),
        "seq": event.seq,
        "kind": event.kind.code(),
        "kind_zh": event.kind.name_zh(),
        "effective": event.effective.to_string(),
        "recorded_at": event.recorded_at.to_string(),
        "actor": event.actor,
        "reason": event.reason,
        "before": state_json(&event.before),
        "after": state_json(&event.after),
        "region": event.region.as_ref().map(|region| region.as_str()),
    })
}

fn only(field: &'static str, value: Option<&String>, kind: LifeEventKind) -> Result<String, ApiError> {
    value.cloned().ok_or_else(|| {
        ApiError::invalid(format!("{} needs {field}", kind.code()), format!("{}须填写{field}", kind.name_zh()))
    })
}

/// Records a life event (operator): 201 with the event; the same event again answers it again.
async fn record(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let psn_no: PersonNo = parse("psn_no", &psn_no)?;
    let request: EventRequest = body(&bytes)?;
    let kind = LifeEventKind::parse(&request.kind).ok_or_else(|| {
        let codes: Vec<&str> = LifeEventKind::ALL.iter().map(|kind| kind.code()).collect();
        ApiError::invalid(
            format!("kind {:?} is not one of {}", request.kind, codes.join(", ")),
            format!("变更类型须为{}之一", codes.join("、")),
        )
    })?;
    let extras = [("employer", &request.employer), ("base", &request.base), ("region", &request.region)];
    let wanted = match kind {
        LifeEventKind::EmployerChange => Some("employer"),
        LifeEventKind::BaseChange => Some("base"),
        LifeEventKind::TransferOut => Some("region"),
        _ => None,
    };
    if let Some((field, _)) = extras.iter().find(|(field, value)| value.is_some() && Some(*field) != wanted) {
        return Err(ApiError::invalid(
            format!("{field} does not belong to a {} event", kind.code()),
            format!("{}不需要{field}", kind.name_zh()),
        ));
    }
    let change = match kind {
        LifeEventKind::EmployerChange => {
            let code = only("employer", request.employer.as_ref(), kind)?;
            if code.is_empty() || code.chars().count() > 40 {
                return Err(ApiError::invalid("employer must have 1 to 40 characters", "单位编号须为1至40个字符"));
            }
            LifeChange::Employer(code)
        }
        LifeEventKind::BaseChange => {
            LifeChange::Base(parse::<Money>("base", &only("base", request.base.as_ref(), kind)?)?)
        }
        LifeEventKind::Retirement => LifeChange::Retirement,
        LifeEventKind::Suspension => LifeChange::Suspension,
        LifeEventKind::Resumption => LifeChange::Resumption,
        LifeEventKind::Death => LifeChange::Death,
        LifeEventKind::Emigration => LifeChange::Emigration,
        LifeEventKind::TransferOut => {
            LifeChange::TransferOut(parse("region", &only("region", request.region.as_ref(), kind)?)?)
        }
        LifeEventKind::TransferIn => {
            return Err(ApiError::invalid(
                "a transfer in carries the other region's certificate: POST …/transfer-in",
                "医保关系转入请凭转移凭证办理：POST …/transfer-in",
            ));
        }
    };
    let effective: Date = parse("effective", &request.effective)?;
    let command = RecordLifeEvent { psn_no, change, effective, reason: request.reason, actor: caller.actor() };
    match state.store.execute(command).await? {
        Outcome::LifeEvent(event) => Ok(created(event_json(&event))),
        _ => Err(unexpected()),
    }
}

/// A person's life events, in order: the person or an operator (audited).
async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
) -> Result<Response, ApiError> {
    let person = own_records(&state, &caller, &psn_no, "read-life-events", "life events").await?;
    let number = person.psn_no.clone();
    let events = state.store.read(move |r| r.life_events(&number)).await?;
    Ok(ok(json!({
        "psn_no": psn_no,
        "status": person.status.code(),
        "psn_type": person.person_type.code(),
        "events": events.iter().map(event_json).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificateQuery {
    format: Option<String>,
}

/// The transfer certificate (参保凭证 for 关系转移接续) of a person whose insurance moved out
/// of the region: who, from where to where, since and until when, the months (and resident
/// years) of contributions paid here, and the account balance that moves with them. JSON for
/// the receiving region's system, or a PDF to print. The person or an operator (audited).
async fn certificate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
    Query(query): Query<CertificateQuery>,
) -> Result<Response, ApiError> {
    let pdf = super::common::wants(query.format.as_deref(), "pdf")?;
    let person = own_records(&state, &caller, &psn_no, "read-transfer-certificate", "transfer certificate").await?;
    let number = person.psn_no.clone();
    let events = state.store.read(move |r| r.life_events(&number)).await?;
    let Some(transfer) = events.iter().rev().find(|event| event.kind == LifeEventKind::TransferOut).cloned() else {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "refused",
            format!("person {psn_no} has no transfer out recorded"),
            "该参保人未办理医保关系转出",
        ));
    };
    // Every month (and resident year) from enrolment to the transfer, looked up at once.
    let mut ids = Vec::new();
    let mut month = person.insured_since.year_month();
    let last = transfer.effective.year_month();
    while month <= last && ids.len() < 1_200 {
        ids.push(contribution_id(&person.psn_no, ContributionPeriod::Month(month)));
        month = month.next();
    }
    for year in person.insured_since.year()..=transfer.effective.year() {
        ids.push(contribution_id(&person.psn_no, ContributionPeriod::Year(year)));
    }
    let number = person.psn_no.clone();
    let (paid, payouts, balances, regions) = state
        .store
        .read(move |r| {
            let paid = r.loader().transfers(&ids)?;
            Ok((paid, r.payouts_of(&number)?, r.balances(&number)?, r.regions()?))
        })
        .await?;
    let mut months: Vec<String> = Vec::new();
    let mut years: Vec<String> = Vec::new();
    for row in &paid {
        let period = row.id.as_str().rsplit('/').next().unwrap_or_default().to_string();
        match period.len() {
            4 => years.push(period),
            _ => months.push(period),
        }
    }
    months.sort();
    years.sort();
    let moved = payouts.iter().rev().find(|payout| payout.kind == PayoutKind::TransferOut);
    let region_name = |admdvs: &str| regions.iter().find(|r| r.admdvs.as_str() == admdvs).map(|r| r.name.clone());
    let from = person.admdvs.as_str();
    let to = transfer.region.as_ref().map(|region| region.to_string()).unwrap_or_default();
    let document = json!({
        "format": "yibao-transfer-certificate/1",
        "certificate_no": format!("ZY{}{:03}", person.psn_no, transfer.seq),
        "person": {
            "psn_no": person.psn_no.as_str(),
            "name": person.name,
            "id_number": person.id_number.to_string(),
            "insutype": person.insurance.code(),
            "psn_type": person.person_type.code(),
        },
        "from_region": {"admdvs": from, "name": region_name(from)},
        "to_region": {"admdvs": to, "name": region_name(&to)},
        "insured_since": person.insured_since.to_string(),
        "transferred_on": transfer.effective.to_string(),
        "contribution_months": months.len(),
        "contribution_years_and_months": [months.len() / 12, months.len() % 12],
        "months_paid": months,
        "resident_years_paid": years,
        "account": {
            "balance_now": wire::yuan(balances.0 + balances.1),
            "moved": moved.map(|payout| json!({"payout": payout.id, "amount": wire::yuan(payout.amount), "state": payout.state.code()})),
        },
        "issued_at": state.store.now().to_string(),
    });
    if !pdf {
        return Ok(ok(document));
    }
    use crate::kit::pdf::{self, Text};
    let line = |y: u32, text: String| Text::new(60, y, 11, text);
    let moved_text = match moved {
        Some(payout) => format!("{}元（支取申请{}，{}）", payout.amount, payout.id, payout.state.code()),
        None => format!("尚未转出（当前余额{}元）", balances.0 + balances.1),
    };
    let page = vec![
        Text::new(170, 780, 18, "基本医疗保险参保凭证（关系转移）"),
        line(740, format!("凭证编号：{}", document["certificate_no"].as_str().unwrap_or_default())),
        line(716, format!("姓名：{}    人员编号：{}    证件号码：{}", person.name, person.psn_no, person.id_number)),
        line(692, format!("险种：{}    人员类别：{}", person.insurance.code(), person.person_type.name_zh())),
        line(
            668,
            format!(
                "转出地：{}（{from}）    转入地：{}（{to}）",
                region_name(from).unwrap_or_default(),
                region_name(&to).unwrap_or_default()
            ),
        ),
        line(644, format!("参保日期：{}    转出日期：{}", person.insured_since, transfer.effective)),
        line(620, format!("本地累计缴费：{}个月（{}年{}个月）", months.len(), months.len() / 12, months.len() % 12)),
        line(596, format!("个人账户转移金额：{moved_text}")),
        line(560, format!("出具时间：{}", state.store.now())),
    ];
    let file = pdf::render(&[page], &format!("参保凭证 {}", person.psn_no));
    Ok((
        axum::http::StatusCode::OK,
        [
            (axum::http::header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("inline; filename=\"transfer-certificate-{}.pdf\"", person.psn_no),
            ),
        ],
        file,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferInRequest {
    from_region: String,
    certificate_no: String,
    months_paid: u16,
    /// The balance that came with the person, yuan.
    balance: String,
    effective: String,
    reason: String,
}

/// Records a person's arrival from another region with its certificate (operator): 201 with the
/// life event; the same certificate again answers it.
async fn transfer_in(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: TransferInRequest = body(&bytes)?;
    let command = RecordTransferIn {
        psn_no: parse("psn_no", &psn_no)?,
        from: parse("from_region", &request.from_region)?,
        certificate_no: request.certificate_no,
        months_paid: request.months_paid,
        balance: parse::<Money>("balance", &request.balance)?,
        effective: parse("effective", &request.effective)?,
        reason: request.reason,
        actor: caller.actor(),
    };
    match state.store.execute(command).await? {
        Outcome::LifeEvent(event) => Ok(created(event_json(&event))),
        _ => Err(unexpected()),
    }
}
